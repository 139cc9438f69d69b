//! What a rollout wait reports: deployments, events, stopped tasks, and the failure and
//! timeout verdicts with their evidence.

use std::fmt;
use std::time::Duration;

use aws_sdk_ecs::types::{Deployment, ServiceEvent, Task};
use aws_smithy_types::DateTime;
use orchestrate_aws::{AwsError, required};

use crate::util::{UNKNOWN, arn_tail, revision_label};

/// One deployment of a service, as `status` and failures show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSummary {
    /// Deployment id (`ecs-svc/...`).
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`; `None` when AWS's answer has none (shown as
    /// [`UNKNOWN`], never taken for PRIMARY).
    pub status: Option<String>,
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
    /// Reads a deployment of `service` described by `action`.
    ///
    /// # Errors
    /// [`AwsError::missing`] when the deployment has no id or no task definition.
    pub fn from_sdk(d: &Deployment, action: &str, service: &str) -> Result<Self, AwsError> {
        Ok(Self {
            id: required(d.id(), action, service, "deployments[].id")?.to_string(),
            status: d.status().map(str::to_string),
            task_definition: required(
                d.task_definition(),
                action,
                service,
                "deployments[].taskDefinition",
            )?
            .to_string(),
            desired_count: d.desired_count(),
            running_count: d.running_count(),
            pending_count: d.pending_count(),
            failed_tasks: d.failed_tasks(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_string()),
            rollout_state_reason: d.rollout_state_reason().map(str::to_string),
            created_at: d.created_at().copied(),
        })
    }

    /// True for the PRIMARY deployment.
    pub fn is_primary(&self) -> bool {
        self.status.as_deref() == Some("PRIMARY")
    }
}

impl fmt::Display for DeploymentSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}/{} running",
            self.status.as_deref().unwrap_or(UNKNOWN),
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
    /// Reads a described event; `None` (logged at debug) for one without an id or a
    /// message: it could be neither told apart from the others nor shown.
    pub fn from_sdk(e: &ServiceEvent) -> Option<Self> {
        let (Some(id), Some(message)) = (e.id(), e.message()) else {
            tracing::debug!(
                id = e.id(),
                "skipping a service event without an id or a message"
            );
            return None;
        };
        Some(Self {
            id: id.to_string(),
            created_at: e.created_at().copied(),
            message: message.to_string(),
        })
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
    /// Each container of `task` (described by `action` for `resource`).
    ///
    /// # Errors
    /// [`AwsError::missing`] when a container has no name.
    pub(crate) fn from_task(
        task: &Task,
        action: &str,
        resource: &str,
    ) -> Result<Vec<Self>, AwsError> {
        task.containers()
            .iter()
            .map(|c| {
                Ok(ContainerExit {
                    name: required(c.name(), action, resource, "containers[].name")?.to_string(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_string),
                })
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
    /// A stopped task of `service` described by `action`.
    ///
    /// # Errors
    /// [`AwsError::missing`] when the task has no ARN, no task definition ARN, or a
    /// container without a name.
    pub(crate) fn from_sdk(t: &Task, action: &str, service: &str) -> Result<Self, AwsError> {
        Ok(Self {
            task_id: arn_tail(required(t.task_arn(), action, service, "tasks[].taskArn")?)
                .to_string(),
            task_definition: revision_label(required(
                t.task_definition_arn(),
                action,
                service,
                "tasks[].taskDefinitionArn",
            )?)
            .to_string(),
            stopped_at: t.stopped_at().copied(),
            stopped_reason: t.stopped_reason().map(str::to_string),
            stop_code: t.stop_code().map(|c| c.as_str().to_string()),
            containers: ContainerExit::from_task(t, action, service)?,
        })
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
