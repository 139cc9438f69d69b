//! Waiting for a service rollout, and telling a completed rollout from a rolled-back one.
//!
//! Success means all of: the PRIMARY deployment runs the expected task definition, its
//! `rolloutState` is `COMPLETED`, `runningCount == desiredCount`, and it is the only
//! deployment. A service that is "stable" after the circuit breaker rolled it back to an older
//! revision is a failure, never a success.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::DesiredStatus;
use aws_smithy_types::DateTime;
use orchestrate_aws::aws_error;
use orchestrate_core::{Context, ProbeRetries, ReporterExt};

use crate::error::{Error, Result};
use crate::service::{KIND, ServiceObserved, find};
use crate::util::revision_label;

mod report;

pub use report::{
    ContainerExit, DeploymentSummary, EventSummary, RolloutFailure, RolloutTimeout, StoppedTask,
    summarize,
};

/// The longest pause between two polls of a rollout (scaled), whatever the poller's backoff:
/// a deployment the circuit breaker fails is noticed at most this long after ECS marks it.
/// Five services polled this often stay far below DescribeServices' throttling budget.
pub const ROLLOUT_MAX_INTERVAL: Duration = Duration::from_secs(5);

/// At most this many stopped tasks are described in a failure.
const STOPPED_TASKS: usize = 5;

/// Only while this run's deployment is not listed (not yet visible, or already gone after a
/// rollback): how far before the wait began an event may be stamped and still count as this
/// run's (local clock skew against AWS's, the UpdateService call just before the wait). Once
/// the deployment is listed, its own `createdAt` is the anchor.
const CLOCK_SKEW: Duration = Duration::from_secs(10);

/// Seconds an event may be stamped before its deployment's `createdAt` (both are AWS's
/// clock; whole-second rounding).
const STAMP_SLACK_SECS: i64 = 2;

/// The deployment id an ECS event names (`(deployment ecs-svc/123)` or `(taskSet
/// ecs-svc/123)`), if any.
fn deployment_named(message: &str) -> Option<&str> {
    ["(deployment ", "taskSet "].iter().find_map(|marker| {
        let start = message.find(marker)? + marker.len();
        let rest = &message[start..];
        let end = rest.find([')', ' ', ','])?;
        Some(&rest[..end])
    })
}

/// True when `event` belongs to this run's deployment: stamped at or after `since`, and not
/// naming another deployment than `ours` (when ours is known).
fn is_ours(event: &EventSummary, since: DateTime, ours: Option<&str>) -> bool {
    let recent = event.created_at.is_none_or(|at| at >= since);
    let other = match (deployment_named(&event.message), ours) {
        (Some(named), Some(ours)) => named != ours,
        _ => false,
    };
    recent && !other
}

/// The last stopped tasks of `service` (ListTasks `serviceName` + `desiredStatus` STOPPED,
/// then DescribeTasks): tasks of `prefer` (a task definition ARN) first, then newest first, at
/// most `limit`.
///
/// # Errors
/// [`Error::ListTasks`], [`Error::DescribeTasks`].
pub async fn stopped_tasks(
    client: &Client,
    cluster: &str,
    service: &str,
    prefer: Option<&str>,
    limit: usize,
) -> Result<Vec<StoppedTask>> {
    let listed = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| Error::ListTasks(aws_error("list stopped tasks of service", service, e)))?;
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeTasks(aws_error("describe stopped tasks of service", service, e))
        })?;
    let mut tasks: Vec<(bool, StoppedTask)> = described
        .tasks()
        .iter()
        .map(|t| {
            let preferred = prefer.is_some_and(|p| t.task_definition_arn() == Some(p));
            StoppedTask::from_sdk(t, "describe stopped tasks of service", service)
                .map(|task| (preferred, task))
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::DescribeTasks)?;
    tasks.sort_by(|(pa, a), (pb, b)| pb.cmp(pa).then_with(|| b.stopped_at.cmp(&a.stopped_at)));
    Ok(tasks.into_iter().map(|(_, t)| t).take(limit).collect())
}

/// What one observation says about the rollout.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Done,
    Pending(String),
    Failed(String),
}

/// Memory between observations.
#[derive(Debug, Default)]
struct Judge {
    /// A deployment of the expected revision has been seen as PRIMARY.
    saw_expected: bool,
    /// Observations in a row where another revision was PRIMARY with no sign of ours.
    foreign_primary: u32,
}

impl Judge {
    fn judge(&mut self, o: &ServiceObserved, expected: &str, events: &[EventSummary]) -> Verdict {
        let deployments = &o.deployments;
        let Some(primary) = deployments
            .iter()
            .find(|d| d.is_primary())
            .or_else(|| deployments.first())
        else {
            return Verdict::Pending("no deployment yet".into());
        };
        if let Some(failed) = deployments.iter().find(|d| {
            (d.task_definition == expected || d.is_primary())
                && d.rollout_state.as_deref() == Some("FAILED")
        }) {
            return Verdict::Failed(format!(
                "deployment {} of {} FAILED: {}",
                failed.id,
                revision_label(&failed.task_definition),
                failed
                    .rollout_state_reason
                    .as_deref()
                    .unwrap_or("(no reason given)")
            ));
        }
        if primary.task_definition == expected {
            self.saw_expected = true;
            self.foreign_primary = 0;
            let done = primary.rollout_state.as_deref() == Some("COMPLETED")
                && primary.running_count == primary.desired_count
                && deployments.len() == 1;
            return if done {
                Verdict::Done
            } else {
                Verdict::Pending(summarize(deployments))
            };
        }
        // Another revision is PRIMARY.
        let ours_superseded = deployments.iter().any(|d| d.task_definition == expected);
        let rollback_told = events.iter().any(EventSummary::is_failure);
        if self.saw_expected || ours_superseded || rollback_told || self.foreign_primary >= 1 {
            let stable =
                primary.rollout_state.as_deref() == Some("COMPLETED") && deployments.len() == 1;
            return Verdict::Failed(format!(
                "the service {} {} instead of {} (the deployment circuit breaker rolled it back)",
                if stable {
                    "is stable on"
                } else {
                    "is rolling back to"
                },
                revision_label(&primary.task_definition),
                revision_label(expected)
            ));
        }
        // Once: UpdateService may not be visible to DescribeServices yet.
        self.foreign_primary += 1;
        Verdict::Pending(format!(
            "PRIMARY runs {}, waiting for {}",
            revision_label(&primary.task_definition),
            revision_label(expected)
        ))
    }
}

/// True when `observed` already shows the rollout of `expected_task_definition` done: the
/// PRIMARY deployment runs it, COMPLETED, all desired tasks running, the only deployment —
/// what [`wait_rollout`]'s first poll would accept at once (pure). A caller that changed
/// nothing since the observation may skip the wait on it.
pub fn is_rolled_out(observed: &ServiceObserved, expected_task_definition: &str) -> bool {
    Judge::default().judge(observed, expected_task_definition, &[]) == Verdict::Done
}

/// Waits until `service` runs `expected_task_definition` as its only, COMPLETED, fully running
/// deployment, for at most `deadline` (scaled by `cx.timing`), polling DescribeServices with
/// backoff. Every new service event of this run's deployment (by id, oldest first) goes to
/// `on_event` and to `cx.reporter` as a note; each new deployment state goes to `cx.reporter`
/// as `waiting`. This run's deployment is the newest one of `expected_task_definition`: events
/// stamped before its `createdAt` (before the wait began, less a few seconds of clock skew,
/// while it is not listed) or naming another deployment are earlier runs' and never shown.
///
/// # Errors
/// - [`Error::RolloutFailed`] (exit 3) when a deployment of the expected revision (or the
///   PRIMARY one) is FAILED, or another revision is PRIMARY after the update (rolling back,
///   or stable after a rollback). It carries the expected and running revisions, the events
///   since the wait began and up to five stopped tasks' reasons. The rolled-back revision is
///   left running.
/// - [`Error::RolloutTimedOut`] (exit 4) at the deadline, with the last deployments seen.
/// - [`Error::DescribeServices`], or [`Error::ServiceMissing`] when a service seen during
///   the wait disappears.
pub async fn wait_rollout(
    client: &Client,
    cx: &Context,
    cluster: &str,
    service: &str,
    expected_task_definition: &str,
    deadline: Duration,
    mut on_event: impl FnMut(&EventSummary),
) -> Result<()> {
    let poller = cx.timing.poller(deadline);
    let max_interval = poller
        .max_interval
        .min(cx.timing.scaled(ROLLOUT_MAX_INTERVAL))
        .max(poller.initial);
    let started = Instant::now();
    let wall_start = DateTime::from(SystemTime::now() - CLOCK_SKEW);
    let mut interval = poller.initial;
    let mut judge = Judge::default();
    let mut anchor: Option<DateTime> = None;
    let mut ours_id: Option<String> = None;
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut events: Vec<EventSummary> = Vec::new();
    let mut last_state = String::from("(not yet observed)");
    let mut last_deployments = Vec::new();
    let mut ever_listed = false;
    let mut retries = ProbeRetries::default();
    loop {
        // A throttled, 5xx or lost describe is ridden out at the next poll (same deadline).
        let seen = match find(client, cluster, service).await {
            Ok(seen) => Some(seen),
            Err(e) => {
                retries.absorb(service, e)?;
                None
            }
        };
        match seen {
            None => {}
            Some(None) if ever_listed => {
                return Err(Error::ServiceMissing {
                    cluster: cluster.into(),
                    service: service.into(),
                });
            }
            Some(None) if last_state != "not yet listed" => {
                last_state = "not yet listed".into();
                cx.reporter.waiting(KIND, service, &last_state);
            }
            Some(None) => {}
            Some(Some(o)) => {
                // This run's deployment: the newest of the expected revision. Its creation
                // is the anchor as soon as it is listed; until then, the wait's start.
                let ours = o
                    .deployments
                    .iter()
                    .filter(|d| d.task_definition == expected_task_definition)
                    .max_by_key(|d| d.created_at);
                if let Some(d) = ours {
                    if let Some(at) = d.created_at {
                        anchor = Some(DateTime::from_secs(at.secs() - STAMP_SLACK_SECS));
                    }
                    ours_id = Some(d.id.clone());
                }
                let since = anchor.unwrap_or(wall_start);
                let first = !ever_listed;
                ever_listed = true;
                let mut fresh = Vec::new();
                for e in o.events.iter().rev() {
                    if is_ours(e, since, ours_id.as_deref()) && seen_ids.insert(e.id.clone()) {
                        fresh.push(e.clone());
                    }
                }
                let all: Vec<EventSummary> = events.iter().chain(&fresh).cloned().collect();
                let verdict = judge.judge(&o, expected_task_definition, &all);
                if first && verdict == Verdict::Done {
                    // Already rolled out before this wait: nothing new to tell.
                    cx.reporter.ready(KIND, service);
                    return Ok(());
                }
                for e in fresh {
                    on_event(&e);
                    cx.reporter.note(KIND, format!("{service}: {}", e.message));
                    events.push(e);
                }
                last_deployments.clone_from(&o.deployments);
                match verdict {
                    Verdict::Done => {
                        cx.reporter.ready(KIND, service);
                        return Ok(());
                    }
                    Verdict::Failed(reason) => {
                        let (stopped, notes) =
                            evidence(client, cluster, service, expected_task_definition).await;
                        let running = o
                            .deployments
                            .iter()
                            .find(|d| d.is_primary())
                            .map(|d| revision_label(&d.task_definition).to_string());
                        return Err(Error::RolloutFailed(Box::new(RolloutFailure {
                            service: service.into(),
                            expected_revision: revision_label(expected_task_definition).into(),
                            running_revision: running,
                            reason,
                            events,
                            stopped_tasks: stopped,
                            deployments: o.deployments,
                            notes,
                        })));
                    }
                    Verdict::Pending(state) => {
                        if state != last_state {
                            cx.reporter.waiting(KIND, service, &state);
                            last_state = state;
                        }
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        if elapsed >= poller.deadline {
            let (stopped, notes) =
                evidence(client, cluster, service, expected_task_definition).await;
            let last_state = retries.annotate(if last_deployments.is_empty() {
                last_state
            } else {
                summarize(&last_deployments)
            });
            return Err(Error::RolloutTimedOut(Box::new(RolloutTimeout {
                service: service.into(),
                expected_revision: revision_label(expected_task_definition).into(),
                waited: elapsed,
                last_state,
                events,
                stopped_tasks: stopped,
                notes,
            })));
        }
        tokio::time::sleep(interval.min(poller.deadline - elapsed)).await;
        interval = interval.mul_f64(1.5).min(max_interval);
    }
}

/// Stopped tasks for a failure report; a failure to list them becomes a note, never hides the
/// verdict.
async fn evidence(
    client: &Client,
    cluster: &str,
    service: &str,
    expected: &str,
) -> (Vec<StoppedTask>, Vec<String>) {
    match stopped_tasks(client, cluster, service, Some(expected), STOPPED_TASKS).await {
        Ok(tasks) => (tasks, Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!("could not read stopped tasks: {e}")],
        ),
    }
}
