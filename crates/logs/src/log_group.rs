//! One CloudWatch Logs log group: desired shape, find, diff, ensure, ready, delete.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use orchestrate_aws::{AwsError, aws_error};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "logs/log-group";

/// How long a freshly created log group may stay invisible to DescribeLogGroups.
const VISIBLE_WITHIN: Duration = Duration::from_secs(20);

/// What one log group should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupDesired {
    /// Log group name.
    pub name: String,
    /// Retention in days (a value CloudWatch accepts; `validate` checks it).
    pub retention_days: i32,
    /// Tags sent with CreateLogGroup.
    pub tags: Tags,
}

impl LogGroupDesired {
    /// A log group `name` of `component` (e.g. `logs/containers`) keeping events `retention_days`.
    pub fn new(cx: &Context, name: &str, component: &str, retention_days: i32) -> Self {
        Self {
            name: name.to_string(),
            retention_days,
            tags: cx.tags(component, Phase::Storage, name),
        }
    }
}

/// What AWS reports about an existing log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupObserved {
    /// Log group name.
    pub name: String,
    /// Its ARN, without the trailing `:*`.
    pub arn: String,
    /// Retention in days; `None` means "never expire".
    pub retention_days: Option<i32>,
}

/// `arn` without the `:*` that DescribeLogGroups' legacy `arn` field carries.
pub fn strip_wildcard(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

/// `arn` with the `:*` suffix IAM policies use to cover the group's streams.
pub fn with_wildcard(arn: &str) -> String {
    format!("{}:*", strip_wildcard(arn))
}

/// Finds the log group named exactly `name` (DescribeLogGroups with the name as prefix, then
/// an exact match, following pagination). `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::Describe`] when DescribeLogGroups fails.
pub async fn find(client: &Client, name: &str) -> Result<Option<LogGroupObserved>> {
    let [found] = find_under(client, name, [name]).await?;
    Ok(found)
}

/// Finds each of `names` exactly among the groups listed under `prefix` (one
/// DescribeLogGroups by name prefix, following pagination; every name must start with
/// `prefix`). `None` for a name that does not exist.
///
/// # Errors
/// [`Error::Describe`] when DescribeLogGroups fails or lists one of `names` without its ARN.
pub async fn find_under<const N: usize>(
    client: &Client,
    prefix: &str,
    names: [&str; N],
) -> Result<[Option<LogGroupObserved>; N]> {
    let mut found: [Option<LogGroupObserved>; N] = std::array::from_fn(|_| None);
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Describe(aws_error("describe log group", prefix, e)))?;
        for group in out.log_groups() {
            let Some(i) = names
                .iter()
                .position(|n| group.log_group_name() == Some(*n))
            else {
                continue;
            };
            // Its ARN goes into the execution role's policy: never an empty one.
            let arn = group
                .log_group_arn()
                .or(group.arn())
                .map(|a| strip_wildcard(a).to_string())
                .ok_or_else(|| {
                    Error::Describe(AwsError::missing("describe log group", names[i], "arn"))
                })?;
            found[i] = Some(LogGroupObserved {
                name: names[i].to_string(),
                arn,
                retention_days: group.retention_in_days(),
            });
        }
        if found.iter().all(Option::is_some) {
            return Ok(found);
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(found),
        }
    }
}

/// What `ensure` would do (pure).
pub fn diff(desired: &LogGroupDesired, observed: Option<&LogGroupObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let fields = retention_change(desired, observed)
                .into_iter()
                .collect::<Vec<_>>();
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

fn retention_change(desired: &LogGroupDesired, observed: &LogGroupObserved) -> Option<FieldChange> {
    (observed.retention_days != Some(desired.retention_days)).then(|| {
        FieldChange::new(
            "retentionInDays",
            Some(
                observed
                    .retention_days
                    .map_or_else(|| "never expire".to_string(), |d| d.to_string()),
            ),
            Some(desired.retention_days.to_string()),
        )
    })
}

/// Creates the log group with its tags when absent (adopting one a lost response already
/// created), then sets the retention only when it differs. Returns what AWS now has.
///
/// # Errors
/// [`Error::Create`], [`Error::PutRetention`], [`Error::Describe`], or [`Error::NotVisible`]
/// when a created group stays invisible past the (scaled) 20 s bound.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &LogGroupDesired,
) -> Result<LogGroupObserved> {
    let observed = find(client, &desired.name).await?;
    ensure_found(client, cx, desired, observed).await
}

/// [`ensure`] from `found`, what a [`find`] (or [`find_under`]) of this run saw.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_found(
    client: &Client,
    cx: &Context,
    desired: &LogGroupDesired,
    found: Option<LogGroupObserved>,
) -> Result<LogGroupObserved> {
    let observed = match found {
        Some(observed) => observed,
        None => {
            cx.reporter.applying(KIND, &desired.name, "create");
            let mut create = client.create_log_group().log_group_name(&desired.name);
            for (k, v) in desired.tags.iter() {
                create = create.tags(k, v);
            }
            match create.send().await {
                Ok(_) => {}
                // A retried create whose first response was lost: the group is ours, adopt it.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_already_exists_exception()) =>
                {
                    cx.reporter.note(
                        KIND,
                        format!("{} already exists; adopting it", desired.name),
                    );
                }
                Err(e) => {
                    return Err(Error::Create(aws_error(
                        "create log group",
                        &desired.name,
                        e,
                    )));
                }
            }
            wait_visible(client, cx, &desired.name).await?
        }
    };
    if let Some(change) = retention_change(desired, &observed) {
        cx.reporter.applying(KIND, &desired.name, "update");
        tracing::debug!(group = %desired.name, from = ?change.from, to = ?change.to, "setting retention");
        client
            .put_retention_policy()
            .log_group_name(&desired.name)
            .retention_in_days(desired.retention_days)
            .send()
            .await
            .map_err(|e| {
                Error::PutRetention(aws_error("set retention of log group", &desired.name, e))
            })?;
        cx.reporter.ready(KIND, &desired.name);
        return Ok(LogGroupObserved {
            retention_days: Some(desired.retention_days),
            ..observed
        });
    }
    cx.reporter.ready(KIND, &desired.name);
    Ok(observed)
}

/// Polls DescribeLogGroups until the group is listed (eventual consistency right after create).
async fn wait_visible(client: &Client, cx: &Context, name: &str) -> Result<LogGroupObserved> {
    let found = std::cell::RefCell::new(None);
    let slot = &found;
    cx.timing
        .poller(VISIBLE_WITHIN)
        .wait(
            name,
            move || async move {
                Ok(match find(client, name).await? {
                    Some(observed) => {
                        *slot.borrow_mut() = Some(observed);
                        Readiness::Ready
                    }
                    None => Readiness::pending("not visible yet"),
                })
            },
            |state| cx.reporter.waiting(KIND, name, state),
        )
        .await
        .map_err(|source| Error::NotVisible {
            name: name.to_string(),
            source: Box::new(source),
        })?;
    found.into_inner().ok_or_else(|| Error::NotVisible {
        name: name.to_string(),
        source: Box::new(orchestrate_core::WaitError::Failed {
            what: name.to_string(),
            reason: "the wait ended without observing the group".into(),
        }),
    })
}

/// Ready as soon as DescribeLogGroups lists it; pending (`not visible yet`) before.
///
/// # Errors
/// [`Error::Describe`] when DescribeLogGroups fails.
pub async fn ready(client: &Client, name: &str) -> Result<Readiness> {
    Ok(match find(client, name).await? {
        Some(_) => Readiness::Ready,
        None => Readiness::pending("not visible yet"),
    })
}

/// Deletes the log group and every event in it; a group that is already gone is success.
///
/// # Errors
/// [`Error::Delete`] for any other failure.
pub async fn delete(client: &Client, cx: &Context, name: &str) -> Result<()> {
    cx.reporter.applying(KIND, name, "delete");
    match client.delete_log_group().log_group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::Delete(aws_error("delete log group", name, e))),
    }
}
