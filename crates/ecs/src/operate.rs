//! Day-2 operations on what `up` built: the tasks of a component (running and recently
//! stopped), the revisions of a family a rollback can go back to, pointing a service at a
//! revision, and ECS Exec sessions.
//!
//! Read-only except [`point_service_at`] (one UpdateService carrying only `taskDefinition`)
//! and [`execute_command`] (ExecuteCommand opens a session; it changes nothing).

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{DesiredStatus, SortOrder, TaskDefinitionStatus};
use aws_smithy_types::DateTime;
use orchestrate_aws::{AwsError, aws_error, required};
use orchestrate_core::sensitive::Sensitive;
use orchestrate_core::{Context, ReporterExt};

use crate::error::{Error, Result};
use crate::rollout::ContainerExit;
use crate::util::{UNKNOWN, arn_tail};

/// Which tasks to list: a service's, or a family's one-off tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSelector<'a> {
    /// Tasks started by the service of this name.
    Service(&'a str),
    /// Tasks of this task-definition family (the migration and `orchestrate airflow` tasks).
    Family(&'a str),
}

/// One task of a component, running or stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSummary {
    /// Task ARN.
    pub task_arn: String,
    /// Task id (the last segment of the ARN; the log stream's last segment).
    pub task_id: String,
    /// `family:revision` it runs.
    pub task_definition: String,
    /// `RUNNING`, `STOPPED`, ..., or [`UNKNOWN`] when AWS's answer has none.
    pub last_status: String,
    /// When it was created.
    pub created_at: Option<DateTime>,
    /// When it stopped.
    pub stopped_at: Option<DateTime>,
    /// ECS's stop reason.
    pub stopped_reason: Option<String>,
    /// ECS's stop code (`EssentialContainerExited`, `TaskFailedToStart`, `SpotInterruption`).
    pub stop_code: Option<String>,
    /// Each container and how it ended (no exit code while it runs).
    pub containers: Vec<ContainerExit>,
    /// ECS Exec enabled on the task.
    pub enable_execute_command: bool,
    /// `startedBy` (the service's deployment id, or a one-off task's marker).
    pub started_by: Option<String>,
}

impl TaskSummary {
    /// A task described by `action` for `label`.
    fn from_sdk(
        t: &aws_sdk_ecs::types::Task,
        action: &str,
        label: &str,
    ) -> std::result::Result<Self, AwsError> {
        let task_arn = required(t.task_arn(), action, label, "tasks[].taskArn")?.to_string();
        let task_definition = required(
            t.task_definition_arn(),
            action,
            label,
            "tasks[].taskDefinitionArn",
        )?;
        Ok(Self {
            task_id: arn_tail(&task_arn).to_string(),
            task_arn,
            task_definition: arn_tail(task_definition).to_string(),
            last_status: t.last_status().unwrap_or(UNKNOWN).to_string(),
            created_at: t.created_at().copied(),
            stopped_at: t.stopped_at().copied(),
            stopped_reason: t.stopped_reason().map(str::to_string),
            stop_code: t.stop_code().map(|c| c.as_str().to_string()),
            containers: ContainerExit::from_task(t, action, label)?,
            enable_execute_command: t.enable_execute_command(),
            started_by: t.started_by().map(str::to_string),
        })
    }

    /// True while the task runs (or is starting).
    pub fn is_running(&self) -> bool {
        self.last_status != "STOPPED"
    }
}

/// The tasks `selector` names in `cluster`: running ones, and with `include_stopped` those
/// ECS still lists as stopped (about an hour), newest first. A missing cluster lists none.
///
/// # Errors
/// [`Error::ListTasks`], [`Error::DescribeTasks`] (also when a task lacks its ARN, its task
/// definition ARN, or a container's name: [`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn list_tasks(
    client: &Client,
    cluster: &str,
    selector: TaskSelector<'_>,
    include_stopped: bool,
) -> Result<Vec<TaskSummary>> {
    let statuses: &[DesiredStatus] = if include_stopped {
        &[DesiredStatus::Running, DesiredStatus::Stopped]
    } else {
        &[DesiredStatus::Running]
    };
    let label = match selector {
        TaskSelector::Service(s) | TaskSelector::Family(s) => s,
    };
    let mut arns: Vec<String> = Vec::new();
    for status in statuses {
        let mut call = client
            .list_tasks()
            .cluster(cluster)
            .desired_status(status.clone());
        call = match selector {
            TaskSelector::Service(name) => call.service_name(name),
            TaskSelector::Family(family) => call.family(family),
        };
        match call.send().await {
            Ok(out) => arns.extend(out.task_arns().iter().take(100).cloned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cluster_not_found_exception()) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(Error::ListTasks(aws_error("list tasks of", label, e))),
        }
    }
    arns.dedup();
    let mut tasks = Vec::new();
    for chunk in arns.chunks(100) {
        let out = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| Error::DescribeTasks(aws_error("describe tasks of", label, e)))?;
        for t in out.tasks() {
            tasks.push(
                TaskSummary::from_sdk(t, "describe tasks of", label)
                    .map_err(Error::DescribeTasks)?,
            );
        }
    }
    tasks.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    Ok(tasks)
}

/// The ACTIVE revision of `family` just before `current_revision` (the newest one below it),
/// as a full ARN; `None` when there is none.
///
/// # Errors
/// [`Error::ListTaskDefinitions`].
pub async fn previous_revision(
    client: &Client,
    family: &str,
    current_revision: i32,
) -> Result<Option<String>> {
    let mut pages = client
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .send();
    let mut best: Option<(i32, String)> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Error::ListTaskDefinitions(aws_error("list task definitions of", family, e))
        })?;
        for arn in page.task_definition_arns() {
            let Some((fam, revision)) = arn_tail(arn).rsplit_once(':') else {
                continue;
            };
            let Ok(revision) = revision.parse::<i32>() else {
                continue;
            };
            if fam == family
                && revision < current_revision
                && best.as_ref().is_none_or(|(b, _)| revision > *b)
            {
                best = Some((revision, arn.clone()));
            }
        }
    }
    Ok(best.map(|(_, arn)| arn))
}

/// The revision number of a task definition ARN or `family:revision` label.
pub fn revision_number(task_definition: &str) -> Option<i32> {
    arn_tail(task_definition).rsplit_once(':')?.1.parse().ok()
}

/// The tags of a task definition revision (DescribeTaskDefinition with tags).
///
/// # Errors
/// [`Error::DescribeTaskDefinition`].
pub async fn task_definition_tags(
    client: &Client,
    task_definition: &str,
) -> Result<std::collections::BTreeMap<String, String>> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            Error::DescribeTaskDefinition(aws_error("describe task definition", task_definition, e))
        })?;
    Ok(crate::util::tag_map(out.tags()))
}

/// Points `service` at `task_definition_arn` (UpdateService with `taskDefinition` only; the
/// deployment configuration, circuit breaker included, stays as `up` set it).
///
/// # Errors
/// [`Error::UpdateService`].
pub async fn point_service_at(
    client: &Client,
    cx: &Context,
    cluster: &str,
    service: &str,
    task_definition_arn: &str,
) -> Result<()> {
    cx.reporter.applying(
        crate::service::KIND,
        service,
        &format!("point at {}", arn_tail(task_definition_arn)),
    );
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition_arn)
        .send()
        .await
        .map_err(|e| Error::UpdateService(aws_error("update service", service, e)))?;
    Ok(())
}

/// An ECS Exec session: what `session-manager-plugin` needs. The token is a credential.
#[derive(Debug)]
pub struct ExecSession {
    /// Session id.
    pub session_id: String,
    /// WebSocket URL of the session.
    pub stream_url: String,
    /// Token of the session (never printed).
    pub token: Sensitive,
    /// SSM target of the session: `ecs:<cluster>_<task-id>_<container runtime id>`.
    pub target: String,
}

/// Opens an ECS Exec session running `command` in `container` of `task` (interactive).
///
/// # Errors
/// [`Error::DescribeTasks`], [`Error::ExecuteCommand`] (also when the session lacks its id,
/// stream URL or token: [`orchestrate_aws::INCOMPLETE_ANSWER`]), [`Error::MissingField`] when
/// the container has no runtime id yet.
pub async fn execute_command(
    client: &Client,
    cluster: &str,
    task: &str,
    container: &str,
    command: &str,
) -> Result<ExecSession> {
    let described = client
        .describe_tasks()
        .cluster(cluster)
        .tasks(task)
        .send()
        .await
        .map_err(|e| Error::DescribeTasks(aws_error("describe task", task, e)))?;
    let runtime_id = described
        .tasks()
        .iter()
        .flat_map(|t| t.containers())
        .find(|c| c.name() == Some(container))
        .and_then(|c| c.runtime_id())
        .ok_or(Error::MissingField {
            what: "DescribeTasks",
            field: "the container's runtimeId",
        })?
        .to_string();
    let out = client
        .execute_command()
        .cluster(cluster)
        .task(task)
        .container(container)
        .interactive(true)
        .command(command)
        .send()
        .await
        .map_err(|e| Error::ExecuteCommand(aws_error("execute command in", task, e)))?;
    let session = out.session().ok_or(Error::MissingField {
        what: "ExecuteCommand",
        field: "session",
    })?;
    let need = |value, field| {
        required(value, "execute command in", task, field).map_err(Error::ExecuteCommand)
    };
    Ok(ExecSession {
        session_id: need(session.session_id(), "session.sessionId")?.to_string(),
        stream_url: need(session.stream_url(), "session.streamUrl")?.to_string(),
        token: Sensitive::new(need(session.token_value(), "session.tokenValue")?),
        target: format!("ecs:{cluster}_{}_{runtime_id}", arn_tail(task)),
    })
}
