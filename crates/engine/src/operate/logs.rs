//! `orchestrate logs <component>`: the CloudWatch streams of a component's tasks, interleaved
//! by time; with `follow`, polled until the caller's stop signal.
//!
//! Which tasks: the one named by `--task` (an id or its prefix); else every running task of
//! the component; else its most recently stopped one. For `migration`, the last migration
//! task. Each task's streams are `<component>/<container>/<task-id>` in the deployment's
//! container log group (the `awslogs` options the airflow crate renders).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orchestrate_airflow::Component;
use orchestrate_ecs::operate::TaskSummary;
use orchestrate_logs::{Cursor, LogEvent};

use crate::Engine;
use crate::error::{EngineError, step};

/// Poll interval of `--follow` against AWS (FilterLogEvents allows a few calls per second per
/// account and region, shared with everything else that reads logs); scaled by the time scale.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);
/// The tasks are listed again every this many polls (a new deployment's tasks appear).
pub const RELIST_EVERY: u32 = 5;

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    /// The component.
    pub component: Component,
    /// One task (an id or a prefix of it) instead of the running ones.
    pub task: Option<String>,
    /// Only events newer than this.
    pub since: Option<Duration>,
    /// Keep polling for new events until stopped.
    pub follow: bool,
}

/// One stream of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The task id.
    pub task_id: String,
    /// The container.
    pub container: String,
    /// The stream name.
    pub stream: String,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The task id.
    pub task_id: String,
    /// The container.
    pub container: String,
    /// The message (not yet redacted: the printer redacts).
    pub message: String,
}

/// The streams of `tasks` for `component` (each container the task reports, else the
/// Airflow container).
pub fn sources_of(component: Component, tasks: &[TaskSummary]) -> Vec<LogSource> {
    let mut sources = Vec::new();
    for task in tasks {
        let mut containers: Vec<String> = task.containers.iter().map(|c| c.name.clone()).collect();
        if containers.is_empty() {
            containers.push(component.container_name().to_string());
        }
        for container in containers {
            sources.push(LogSource {
                stream: orchestrate_ecs::log_stream_name(
                    component.name(),
                    &container,
                    &task.task_id,
                ),
                task_id: task.task_id.clone(),
                container,
            });
        }
    }
    sources
}

/// The tasks to show: `wanted` (id or prefix), else the running ones, else the newest stopped
/// one (always only the newest for the migration).
pub fn choose_tasks(
    component: Component,
    tasks: Vec<TaskSummary>,
    wanted: Option<&str>,
) -> Vec<TaskSummary> {
    if let Some(wanted) = wanted {
        return tasks
            .into_iter()
            .filter(|t| t.task_id.starts_with(wanted) || t.task_arn == wanted)
            .take(1)
            .collect();
    }
    if !component.is_service() {
        return tasks.into_iter().take(1).collect();
    }
    let running: Vec<TaskSummary> = tasks.iter().filter(|t| t.is_running()).cloned().collect();
    if running.is_empty() {
        tasks.into_iter().take(1).collect()
    } else {
        running
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Engine {
    /// The log streams `request` names.
    ///
    /// # Errors
    /// A failed ECS read; [`EngineError::Usage`] when `--task` names no task of the component.
    pub async fn log_sources(&self, request: &LogsRequest) -> Result<Vec<LogSource>, EngineError> {
        let tasks = self.component_tasks(request.component, true).await?;
        let chosen = choose_tasks(request.component, tasks, request.task.as_deref());
        if chosen.is_empty()
            && let Some(task) = &request.task
        {
            // Older than ECS remembers: its streams may still be in CloudWatch.
            let id = orchestrate_ecs::arn_tail(task).to_string();
            return Ok(vec![LogSource {
                stream: orchestrate_ecs::log_stream_name(
                    request.component.name(),
                    request.component.container_name(),
                    &id,
                ),
                task_id: id,
                container: request.component.container_name().to_string(),
            }]);
        }
        Ok(sources_of(request.component, &chosen))
    }

    /// Prints (through `print`) the events of `request`'s streams, oldest first; with
    /// `follow`, keeps polling every [`FOLLOW_INTERVAL`] (scaled) until `stop` completes.
    /// Returns how many lines were printed.
    ///
    /// # Errors
    /// A failed ECS or CloudWatch Logs read (in follow mode, a throttled or failed poll is
    /// retried at the next one instead).
    pub async fn logs(
        &self,
        request: &LogsRequest,
        mut print: impl FnMut(&LogLine),
        stop: impl Future<Output = ()>,
    ) -> Result<usize, EngineError> {
        let group = self.cx.names.log_group();
        let start = request
            .since
            .map(|since| now_ms() - i64::try_from(since.as_millis()).unwrap_or(i64::MAX / 2));
        let mut cursor = Cursor::starting_at(start);
        let mut sources = self.log_sources(request).await?;
        let mut printed = 0;
        printed += self
            .poll_logs(&group, &sources, &mut cursor, &mut print, false)
            .await?;
        if !request.follow {
            return Ok(printed);
        }
        let interval = self
            .cx
            .timing
            .scaled(FOLLOW_INTERVAL)
            .max(Duration::from_millis(50));
        tokio::pin!(stop);
        let mut polls: u32 = 0;
        loop {
            tokio::select! {
                () = &mut stop => return Ok(printed),
                () = tokio::time::sleep(interval) => {}
            }
            polls += 1;
            if polls.is_multiple_of(RELIST_EVERY) && request.task.is_none() {
                match self.log_sources(request).await {
                    Ok(found) if !found.is_empty() => sources = found,
                    Ok(_) => {}
                    Err(e) => tracing::debug!("listing the tasks again failed: {e}"),
                }
            }
            printed += self
                .poll_logs(&group, &sources, &mut cursor, &mut print, true)
                .await?;
        }
    }

    pub(super) async fn poll_logs(
        &self,
        group: &str,
        sources: &[LogSource],
        cursor: &mut Cursor,
        print: &mut impl FnMut(&LogLine),
        tolerant: bool,
    ) -> Result<usize, EngineError> {
        if sources.is_empty() {
            return Ok(0);
        }
        let streams: Vec<String> = sources.iter().map(|s| s.stream.clone()).collect();
        let events: Vec<LogEvent> =
            match orchestrate_logs::read_streams(&self.aws.logs, group, &streams, cursor.since_ms)
                .await
            {
                Ok(events) => events,
                Err(e) if tolerant => {
                    tracing::debug!("log poll failed, retried at the next one: {e}");
                    return Ok(0);
                }
                Err(e) => return Err(step("read the log streams")(e)),
            };
        let fresh = cursor.fresh(events);
        for event in &fresh {
            let source = sources.iter().find(|s| s.stream == event.stream);
            print(&LogLine {
                timestamp: event.timestamp,
                task_id: source.map_or_else(
                    || orchestrate_ecs::arn_tail(&event.stream).to_string(),
                    |s| s.task_id.clone(),
                ),
                container: source.map_or_else(String::new, |s| s.container.clone()),
                message: event.message.clone(),
            });
        }
        Ok(fresh.len())
    }
}
