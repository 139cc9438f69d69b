//! orchestrate-logs: the deployment's CloudWatch Logs log groups.
//!
//! Owns two log groups per deployment:
//! - `/orchestrate/<name>` ([`orchestrate_core::Names::log_group`]): container stdout/stderr,
//!   written by ECS's `awslogs` driver (the execution role's permission);
//! - `/orchestrate/<name>/tasks`: Airflow task logs, written and read by Airflow's remote
//!   logging to CloudWatch (the task role's permission), so that the UI shows the log of a task
//!   whose Spot worker is gone.
//!
//! Each is created with its tags in CreateLogGroup (`orchestrate:component` = `logs/containers`
//! or `logs/tasks`) and with the spec's `logs.retention_days`.
//!
//! Reads (no change): [`tail`] (the last lines of one stream) and [`read_streams`] (several
//! streams interleaved by time, with a [`Cursor`] for `--follow`).
//!
//! # Guarantees
//! - Found by exact name: DescribeLogGroups with the name as `logGroupNamePrefix`, then an
//!   exact match (the container group's name is a prefix of the task group's).
//! - [`ensure`] makes no mutating call when both groups exist with the desired retention;
//!   PutRetentionPolicy is called only when the retention differs. Tags are not re-applied to
//!   an adopted group.
//! - A CreateLogGroup whose response was lost and is retried fails with
//!   `ResourceAlreadyExistsException`: the group is adopted, never an error.
//! - [`delete`] is idempotent: `ResourceNotFoundException` is success.
//!
//! # Waits
//! After creating a group, [`ensure`] polls DescribeLogGroups until the group is listed
//! (eventual consistency), for at most 20 s scaled by [`orchestrate_core::Timing`].
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. This crate retries no AWS error itself: throttling and 5xx
//! are the SDK's retry policy's job.

mod error;
pub mod events;
pub mod log_group;
mod tail;

pub use aws_sdk_cloudwatchlogs::Client;
pub use error::{Error, Result};
pub use events::{Cursor, LogEvent, read_streams};
pub use log_group::{LogGroupDesired, LogGroupObserved, strip_wildcard, with_wildcard};
pub use tail::tail;

use orchestrate_core::{Change, Context, Readiness, Spec};

/// Component tag of the container log group.
pub const COMPONENT_CONTAINERS: &str = "logs/containers";
/// Component tag of the task log group.
pub const COMPONENT_TASKS: &str = "logs/tasks";

/// Name of the task log group of a deployment: `<log_group>/tasks`.
pub fn task_log_group_name(cx: &Context) -> String {
    format!("{}/tasks", cx.names.log_group())
}

/// Both log groups of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsDesired {
    /// Container logs (awslogs driver).
    pub containers: LogGroupDesired,
    /// Airflow task logs (remote logging).
    pub tasks: LogGroupDesired,
}

impl LogsDesired {
    /// Both groups from the spec (pure).
    pub fn new(cx: &Context, spec: &Spec) -> Self {
        Self::with_retention(cx, spec.logs.retention_days)
    }

    /// Both groups with an explicit retention (pure).
    pub fn with_retention(cx: &Context, retention_days: i32) -> Self {
        Self {
            containers: LogGroupDesired::new(
                cx,
                &cx.names.log_group(),
                COMPONENT_CONTAINERS,
                retention_days,
            ),
            tasks: LogGroupDesired::new(
                cx,
                &task_log_group_name(cx),
                COMPONENT_TASKS,
                retention_days,
            ),
        }
    }

    fn groups(&self) -> [&LogGroupDesired; 2] {
        [&self.containers, &self.tasks]
    }
}

/// The ARN of log group `name`, without `:*` (deterministic: `plan` needs no created group).
pub fn log_group_arn(region: &str, account_id: &str, name: &str) -> String {
    orchestrate_aws::arn("logs", region, account_id, &format!("log-group:{name}"))
}

/// What later phases need of the log groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsOutputs {
    /// Container log group name (the `awslogs-group` option).
    pub log_group_name: String,
    /// Container log group ARN, without `:*`.
    pub log_group_arn: String,
    /// Task log group name (Airflow's remote base log folder `cloudwatch://<arn>`).
    pub task_log_group_name: String,
    /// Task log group ARN, without `:*`.
    pub task_log_group_arn: String,
}

impl LogsOutputs {
    /// The container log group ARN with `:*` (IAM resource covering its streams).
    pub fn log_group_arn_wildcard(&self) -> String {
        with_wildcard(&self.log_group_arn)
    }

    /// The task log group ARN with `:*` (IAM resource covering its streams).
    pub fn task_log_group_arn_wildcard(&self) -> String {
        with_wildcard(&self.task_log_group_arn)
    }
}

/// What both groups look like now (`None` for an absent one), in the order containers, tasks.
///
/// # Errors
/// [`Error::Describe`].
pub async fn find(client: &Client, desired: &LogsDesired) -> Result<[Option<LogGroupObserved>; 2]> {
    let (containers, tasks) = tokio::try_join!(
        log_group::find(client, &desired.containers.name),
        log_group::find(client, &desired.tasks.name),
    )?;
    Ok([containers, tasks])
}

/// The plan for both groups (kind `logs/log-group`).
///
/// # Errors
/// [`Error::Describe`].
pub async fn plan_logs(client: &Client, desired: &LogsDesired) -> Result<Vec<Change>> {
    let observed = find(client, desired).await?;
    Ok(diff(desired, &observed))
}

/// Pure diff of both groups against what [`find`] returned.
pub fn diff(desired: &LogsDesired, observed: &[Option<LogGroupObserved>; 2]) -> Vec<Change> {
    desired
        .groups()
        .into_iter()
        .zip(observed)
        .map(|(d, o)| log_group::diff(d, o.as_ref()))
        .collect()
}

/// Converges both groups (concurrently) and returns their names and ARNs.
///
/// # Errors
/// See [`log_group::ensure`].
pub async fn ensure(client: &Client, cx: &Context, desired: &LogsDesired) -> Result<LogsOutputs> {
    // Both groups in one read when the container group's name is a prefix of the task
    // group's (as the deployment's names are).
    let (c, t) = (&desired.containers.name, &desired.tasks.name);
    let [containers, tasks] = if t.starts_with(c.as_str()) {
        log_group::find_under(client, c, [c.as_str(), t.as_str()]).await?
    } else {
        let (c, t) = tokio::try_join!(log_group::find(client, c), log_group::find(client, t))?;
        [c, t]
    };
    let (containers, tasks) = tokio::try_join!(
        log_group::ensure_found(client, cx, &desired.containers, containers),
        log_group::ensure_found(client, cx, &desired.tasks, tasks),
    )?;
    Ok(LogsOutputs {
        log_group_name: containers.name,
        log_group_arn: containers.arn,
        task_log_group_name: tasks.name,
        task_log_group_arn: tasks.arn,
    })
}

/// Ready when both groups are listed.
///
/// # Errors
/// [`Error::Describe`].
pub async fn ready(client: &Client, desired: &LogsDesired) -> Result<Readiness> {
    for group in desired.groups() {
        let state = log_group::ready(client, &group.name).await?;
        if state != Readiness::Ready {
            return Ok(state);
        }
    }
    Ok(Readiness::Ready)
}

/// Both log groups and whether they exist, in one DescribeLogGroups by name prefix.
///
/// # Errors
/// [`Error::Describe`].
pub async fn status(client: &Client, cx: &Context) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::{Phase, StatusRow};
    let containers = cx.names.log_group();
    let tasks = task_log_group_name(cx);
    let out = client
        .describe_log_groups()
        .log_group_name_prefix(&containers)
        .send()
        .await
        .map_err(|e| {
            Error::Describe(orchestrate_aws::aws_error(
                "describe log groups",
                &containers,
                e,
            ))
        })?;
    let names: Vec<&str> = out
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .collect();
    Ok([containers.as_str(), tasks.as_str()]
        .iter()
        .map(|name| {
            if names.contains(name) {
                StatusRow::new(Phase::Storage, log_group::KIND, name, "ok", true)
            } else {
                StatusRow::absent(Phase::Storage, log_group::KIND, name)
            }
        })
        .collect())
}

/// Deletes both groups (and their events); absent groups are success.
///
/// # Errors
/// [`Error::Delete`].
pub async fn delete(client: &Client, cx: &Context) -> Result<()> {
    log_group::delete(client, cx, &task_log_group_name(cx)).await?;
    log_group::delete(client, cx, &cx.names.log_group()).await
}

#[cfg(test)]
mod tests;
