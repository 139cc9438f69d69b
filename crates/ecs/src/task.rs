//! One-off tasks (the `airflow db migrate` migration): run, wait until stopped, report how
//! each container ended.

use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration,
    PropagateTags, TaskOverride,
};
use orchestrate_aws::{aws_error, retry_eventual};
use orchestrate_core::{Context, ProbeRetries, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::rollout::ContainerExit;
use crate::util::{EVENTUAL_ATTEMPTS, Eventual, ROLE_NOT_READY, UNKNOWN, arn_tail, ecs_tags};

/// Resource kind shown in progress.
pub const KIND: &str = "ecs/task";

/// `startedBy` of every one-off migration task.
pub const STARTED_BY: &str = "orchestrate-migration";

/// `startedBy` of the one-off tasks of `orchestrate airflow -- <args>`.
pub const STARTED_BY_CLI: &str = "orchestrate-airflow-cli";

/// A one-off task to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffTask {
    /// Cluster name.
    pub cluster: String,
    /// Task definition ARN (with revision).
    pub task_definition_arn: String,
    /// Private subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// The container whose command is overridden and whose exit code decides.
    pub container_name: String,
    /// Replaces the container's command when set.
    pub command_override: Option<Vec<String>>,
    /// `startedBy` of the task ([`STARTED_BY`] for the migration, [`STARTED_BY_CLI`] for
    /// `orchestrate airflow`).
    pub started_by: &'static str,
    /// RunTask idempotency token (up to 64 characters): a retried RunTask with the same
    /// token returns the first task instead of starting a second.
    pub client_token: Option<String>,
    /// Tags of the task.
    pub tags: Tags,
}

/// How a one-off task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// Task ARN.
    pub task_arn: String,
    /// Task id (the last segment of the ARN; the log stream's last segment).
    pub task_id: String,
    /// Exit code of the deciding container (absent when it never started).
    pub exit_code: Option<i32>,
    /// ECS's stop reason.
    pub stopped_reason: Option<String>,
    /// ECS's stop code (`EssentialContainerExited`, `TaskFailedToStart`, ...).
    pub stop_code: Option<String>,
    /// Every container's exit.
    pub containers: Vec<ContainerExit>,
}

impl TaskOutcome {
    /// True when the deciding container exited 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// CloudWatch log stream of a container of a task under the awslogs driver:
/// `<prefix>/<container>/<task-id>` (`task` may be an ARN or an id).
pub fn log_stream_name(prefix: &str, container: &str, task: &str) -> String {
    format!("{prefix}/{container}/{}", arn_tail(task))
}

/// Starts the task on Fargate in the private subnets without a public IP, `startedBy`
/// `task.started_by`, tags propagated from the task definition plus `task.tags`. Retries while
/// ECS cannot assume the task's roles yet. Returns the task ARN.
///
/// # Errors
/// [`Error::RunTask`], or [`Error::RunTaskRejected`] when ECS answers with failures and no
/// task (capacity, an unknown task definition).
pub async fn run_task(client: &Client, cx: &Context, task: &OneOffTask) -> Result<String> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(task.subnets.clone()))
        .set_security_groups(Some(task.security_groups.clone()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| Error::RunTaskRejected {
            task_definition: task.task_definition_arn.clone(),
            reasons: e.to_string(),
        })?;
    let mut call = client
        .run_task()
        .cluster(&task.cluster)
        .task_definition(&task.task_definition_arn)
        .launch_type(LaunchType::Fargate)
        .count(1)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .started_by(task.started_by)
        .propagate_tags(PropagateTags::TaskDefinition)
        .set_tags(Some(ecs_tags(&task.tags)))
        .set_client_token(task.client_token.clone());
    if let Some(command) = &task.command_override {
        call = call.overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name(&task.container_name)
                        .set_command(Some(command.clone()))
                        .build(),
                )
                .build(),
        );
    }
    cx.reporter.applying(KIND, &task.task_definition_arn, "run");
    let out = retry_eventual(cx.timing, &[ROLE_NOT_READY], EVENTUAL_ATTEMPTS, || {
        let call = call.clone();
        async move { call.send().await.map_err(Eventual) }
    })
    .await
    .map_err(|e| Error::RunTask(aws_error("run task", &task.task_definition_arn, e.0)))?;
    if let Some(arn) = out.tasks().iter().find_map(|t| t.task_arn()) {
        return Ok(arn.to_string());
    }
    let reasons = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.arn().unwrap_or("-"),
                f.reason().unwrap_or("(no reason)"),
                f.detail().map_or_else(String::new, |d| format!(" ({d})"))
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::RunTaskRejected {
        task_definition: task.task_definition_arn.clone(),
        reasons: if reasons.is_empty() {
            "no task was started and no failure was given".into()
        } else {
            reasons
        },
    })
}

/// Waits until the task is STOPPED (PROVISIONING, PENDING, ACTIVATING, RUNNING,
/// DEACTIVATING, STOPPING are pending; each new status is reported), for at most `deadline`
/// (scaled), and returns how it ended; `container_name`'s exit code decides
/// [`TaskOutcome::exit_code`]. A task not yet visible right after RunTask counts as pending.
///
/// # Errors
/// [`Error::DescribeTasks`] (also for a stopped task with a container without a name), or
/// [`Error::TaskTimedOut`] (exit 4) with the last status.
pub async fn wait_task_stopped(
    client: &Client,
    cx: &Context,
    cluster: &str,
    task_arn: &str,
    container_name: &str,
    deadline: Duration,
) -> Result<TaskOutcome> {
    let poller = cx.timing.poller(deadline);
    let started = Instant::now();
    let mut interval = poller.initial;
    let mut last_state = String::from("(not yet observed)");
    let task_id = arn_tail(task_arn).to_string();
    let mut retries = ProbeRetries::default();
    loop {
        let described = client
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| Error::DescribeTasks(aws_error("describe task", &task_id, e)));
        // A throttled, 5xx or lost describe is ridden out at the next poll (same deadline).
        let out = match described {
            Ok(out) => Some(out),
            Err(e) => {
                retries.absorb(&task_id, e)?;
                None
            }
        };
        let state = match out
            .as_ref()
            .map(|out| out.tasks().iter().find(|t| t.task_arn() == Some(task_arn)))
        {
            None => last_state.clone(),
            Some(None) => "not yet visible".to_string(),
            Some(Some(t)) if t.last_status() == Some("STOPPED") => {
                let containers = ContainerExit::from_task(t, "describe task", &task_id)
                    .map_err(Error::DescribeTasks)?;
                let exit_code = containers
                    .iter()
                    .find(|c| c.name == container_name)
                    .and_then(|c| c.exit_code);
                cx.reporter.ready(KIND, &task_id);
                return Ok(TaskOutcome {
                    task_arn: task_arn.to_string(),
                    task_id,
                    exit_code,
                    stopped_reason: t.stopped_reason().map(str::to_string),
                    stop_code: t.stop_code().map(|c| c.as_str().to_string()),
                    containers,
                });
            }
            Some(Some(t)) => t.last_status().unwrap_or(UNKNOWN).to_string(),
        };
        if state != last_state {
            cx.reporter.waiting(KIND, &task_id, &state);
            last_state = state;
        }
        let elapsed = started.elapsed();
        if elapsed >= poller.deadline {
            return Err(Error::TaskTimedOut {
                task: task_arn.to_string(),
                waited: elapsed,
                last_state: retries.annotate(last_state),
            });
        }
        tokio::time::sleep(interval.min(poller.deadline - elapsed)).await;
        interval = interval.mul_f64(1.5).min(poller.max_interval);
    }
}
