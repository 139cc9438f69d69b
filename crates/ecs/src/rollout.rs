//! Waiting for a service rollout, and telling a completed rollout from a rolled-back one.
//!
//! Success means all of: the PRIMARY deployment runs the expected task definition, its
//! `rolloutState` is `COMPLETED`, `runningCount == desiredCount`, and it is the only
//! deployment. A service that is "stable" after the circuit breaker rolled it back to an older
//! revision is a failure, never a success.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Deployment, DesiredStatus, ServiceEvent, Task};
use aws_smithy_types::DateTime;
use orchestrate_aws::aws_error;
use orchestrate_core::{Context, ReporterExt};

use crate::error::{Error, Result};
use crate::service::{KIND, ServiceObserved, find};
use crate::util::{arn_tail, revision_label};

/// At most this many stopped tasks are described in a failure.
const STOPPED_TASKS: usize = 5;

/// How far before the wait began an event may be stamped and still count as this rollout's
/// when the expected deployment is not (or no longer) listed (clock skew, the UpdateService
/// call just before the wait).
const EVENT_SKEW: Duration = Duration::from_secs(120);

/// One deployment of a service, as `status` and failures show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSummary {
    /// Deployment id (`ecs-svc/...`).
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Task definition ARN.
    pub task_definition: String,
    /// Desired tasks.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// Pending tasks.
    pub pending_count: i32,
    /// Tasks that failed to start or became unhealthy.
    pub failed_tasks: i32,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` (absent without the circuit breaker).
    pub rollout_state: Option<String>,
    /// ECS's reason for the state.
    pub rollout_state_reason: Option<String>,
    /// When the deployment was created.
    pub created_at: Option<DateTime>,
}

impl DeploymentSummary {
    /// Reads a described deployment.
    pub fn from_sdk(d: &Deployment) -> Self {
        Self {
            id: d.id().unwrap_or_default().to_string(),
            status: d.status().unwrap_or_default().to_string(),
            task_definition: d.task_definition().unwrap_or_default().to_string(),
            desired_count: d.desired_count(),
            running_count: d.running_count(),
            pending_count: d.pending_count(),
            failed_tasks: d.failed_tasks(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_string()),
            rollout_state_reason: d.rollout_state_reason().map(str::to_string),
            created_at: d.created_at().copied(),
        }
    }

    fn is_primary(&self) -> bool {
        self.status == "PRIMARY"
    }
}

impl fmt::Display for DeploymentSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}/{} running",
            self.status,
            revision_label(&self.task_definition),
            self.rollout_state.as_deref().unwrap_or("-"),
            self.running_count,
            self.desired_count
        )?;
        if self.pending_count > 0 {
            write!(f, ", {} pending", self.pending_count)?;
        }
        if self.failed_tasks > 0 {
            write!(f, ", {} failed", self.failed_tasks)?;
        }
        Ok(())
    }
}

/// The deployments in one line: `PRIMARY demo-api-server:7 IN_PROGRESS 1/2 running; ...`.
pub fn summarize(deployments: &[DeploymentSummary]) -> String {
    if deployments.is_empty() {
        return "no deployment".into();
    }
    deployments
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One service event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// Event id.
    pub id: String,
    /// When ECS recorded it.
    pub created_at: Option<DateTime>,
    /// ECS's message, e.g. `(service x) has reached a steady state.`
    pub message: String,
}

impl EventSummary {
    /// Reads a described event.
    pub fn from_sdk(e: &ServiceEvent) -> Self {
        Self {
            id: e.id().unwrap_or_default().to_string(),
            created_at: e.created_at().copied(),
            message: e.message().unwrap_or_default().to_string(),
        }
    }

    /// True when the event tells of a failed deployment or a rollback.
    pub fn is_failure(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        [
            "circuit breaker",
            "rolling back",
            "rolled back",
            "deployment failed",
            "failed",
        ]
        .iter()
        .any(|w| m.contains(w))
    }
}

impl fmt::Display for EventSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.created_at {
            Some(at) => write!(f, "{at} {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// How one container of a stopped task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExit {
    /// Container name.
    pub name: String,
    /// Exit code (absent when it never started).
    pub exit_code: Option<i32>,
    /// ECS's reason (`OutOfMemoryError: Container killed due to memory usage`, ...).
    pub reason: Option<String>,
}

impl ContainerExit {
    pub(crate) fn from_task(task: &Task) -> Vec<Self> {
        task.containers()
            .iter()
            .map(|c| ContainerExit {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
            })
            .collect()
    }
}

impl fmt::Display for ContainerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "container {}: ", self.name)?;
        match self.exit_code {
            Some(code) => write!(f, "exit {code}")?,
            None => f.write_str("no exit code")?,
        }
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// A stopped task of the service and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    /// Task id.
    pub task_id: String,
    /// `family:revision` it ran.
    pub task_definition: String,
    /// When it stopped.
    pub stopped_at: Option<DateTime>,
    /// ECS's stop reason (`Essential container in task exited`, `Task failed ELB health
    /// checks in ...`).
    pub stopped_reason: Option<String>,
    /// `EssentialContainerExited`, `TaskFailedToStart`, ...
    pub stop_code: Option<String>,
    /// Each container's exit.
    pub containers: Vec<ContainerExit>,
}

impl StoppedTask {
    fn from_sdk(t: &Task) -> Self {
        Self {
            task_id: arn_tail(t.task_arn().unwrap_or_default()).to_string(),
            task_definition: revision_label(t.task_definition_arn().unwrap_or_default())
                .to_string(),
            stopped_at: t.stopped_at().copied(),
            stopped_reason: t.stopped_reason().map(str::to_string),
            stop_code: t.stop_code().map(|c| c.as_str().to_string()),
            containers: ContainerExit::from_task(t),
        }
    }
}

impl fmt::Display for StoppedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {} ({})", self.task_id, self.task_definition)?;
        if let Some(at) = &self.stopped_at {
            write!(f, " stopped {at}")?;
        }
        write!(
            f,
            ": {}",
            self.stopped_reason
                .as_deref()
                .unwrap_or("(no reason given)")
        )?;
        if let Some(code) = &self.stop_code {
            write!(f, " [{code}]")?;
        }
        for c in &self.containers {
            write!(f, "\n      {c}")?;
        }
        Ok(())
    }
}

/// A failed or rolled-back deployment, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFailure {
    /// Service name.
    pub service: String,
    /// `family:revision` this run deployed.
    pub expected_revision: String,
    /// `family:revision` the PRIMARY deployment runs now (the rolled-back one), if known.
    pub running_revision: Option<String>,
    /// What was decided, in one sentence.
    pub reason: String,
    /// Every service event since the rollout began, oldest first.
    pub events: Vec<EventSummary>,
    /// Up to five stopped tasks, this revision's first, newest first.
    pub stopped_tasks: Vec<StoppedTask>,
    /// The deployments as last seen.
    pub deployments: Vec<DeploymentSummary>,
    /// Evidence that could not be gathered (a failed ListTasks, ...).
    pub notes: Vec<String>,
}

fn write_evidence(
    f: &mut fmt::Formatter<'_>,
    events: &[EventSummary],
    tasks: &[StoppedTask],
    notes: &[String],
) -> fmt::Result {
    if !events.is_empty() {
        f.write_str("\n  service events:")?;
        for e in events {
            write!(f, "\n    {e}")?;
        }
    }
    if !tasks.is_empty() {
        f.write_str("\n  stopped tasks (newest first):")?;
        for t in tasks {
            write!(f, "\n    {t}")?;
        }
    }
    for n in notes {
        write!(f, "\n  note: {n}")?;
    }
    Ok(())
}

impl fmt::Display for RolloutFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deployment of service {} failed: {}\n  expected revision: {}\n  running revision:  {}",
            self.service,
            self.reason,
            self.expected_revision,
            self.running_revision.as_deref().unwrap_or("(unknown)"),
        )?;
        if self.running_revision.as_deref() != Some(self.expected_revision.as_str()) {
            f.write_str(" (left running)")?;
        }
        write!(f, "\n  deployments: {}", summarize(&self.deployments))?;
        write_evidence(f, &self.events, &self.stopped_tasks, &self.notes)
    }
}

/// A rollout that did not finish before its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutTimeout {
    /// Service name.
    pub service: String,
    /// `family:revision` this run deployed.
    pub expected_revision: String,
    /// How long the wait lasted.
    pub waited: Duration,
    /// The deployments as last seen, in one line.
    pub last_state: String,
    /// Every service event since the rollout began, oldest first.
    pub events: Vec<EventSummary>,
    /// Up to five stopped tasks (tasks that failed health checks before the breaker tripped).
    pub stopped_tasks: Vec<StoppedTask>,
    /// Evidence that could not be gathered.
    pub notes: Vec<String>,
}

impl fmt::Display for RolloutTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for service {} to run {}; last state: {}",
            self.waited, self.service, self.expected_revision, self.last_state
        )?;
        write_evidence(f, &self.events, &self.stopped_tasks, &self.notes)
    }
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
            (preferred, StoppedTask::from_sdk(t))
        })
        .collect();
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

/// Waits until `service` runs `expected_task_definition` as its only, COMPLETED, fully running
/// deployment, for at most `deadline` (scaled by `cx.timing`), polling DescribeServices with
/// backoff. Every new service event (by id, oldest first) goes to `on_event` and to
/// `cx.reporter` as a note; each new deployment state goes to `cx.reporter` as `waiting`.
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
    let started = Instant::now();
    let wall_start = DateTime::from(SystemTime::now() - EVENT_SKEW);
    let mut interval = poller.initial;
    let mut judge = Judge::default();
    let mut anchor: Option<DateTime> = None;
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut events: Vec<EventSummary> = Vec::new();
    let mut last_state = String::from("(not yet observed)");
    let mut last_deployments = Vec::new();
    let mut ever_listed = false;
    loop {
        match find(client, cluster, service).await? {
            None if ever_listed => {
                return Err(Error::ServiceMissing {
                    cluster: cluster.into(),
                    service: service.into(),
                });
            }
            None => {
                if last_state != "not yet listed" {
                    last_state = "not yet listed".into();
                    cx.reporter.waiting(KIND, service, &last_state);
                }
            }
            Some(o) => {
                let since = *anchor.get_or_insert_with(|| {
                    o.deployments
                        .iter()
                        .filter(|d| d.task_definition == expected_task_definition)
                        .filter_map(|d| d.created_at)
                        .min()
                        .map_or(wall_start, |at| at.min(wall_start))
                });
                let first = !ever_listed;
                ever_listed = true;
                let mut fresh = Vec::new();
                for e in o.events.iter().rev() {
                    let recent = e.created_at.is_none_or(|at| at >= since);
                    if recent && seen_ids.insert(e.id.clone()) {
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
            let last_state = if last_deployments.is_empty() {
                last_state
            } else {
                summarize(&last_deployments)
            };
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
        interval = interval.mul_f64(1.5).min(poller.max_interval);
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
