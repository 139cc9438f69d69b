//! `orchestrate exec <component> [-- cmd]`: an ECS Exec session in a running task of the
//! component. The session itself is carried by AWS's Session Manager plugin, which the CLI
//! starts; this module finds the task and opens the session (ExecuteCommand).

use orchestrate_airflow::Component;
use orchestrate_ecs::operate::ExecSession;

use crate::Engine;
use crate::error::{EngineError, ecs_step};

/// What the plugin needs besides the session.
#[derive(Debug)]
pub struct ExecTarget {
    /// The task id.
    pub task_id: String,
    /// The container.
    pub container: String,
    /// The session (its token is a credential).
    pub session: ExecSession,
    /// The region of the ECS endpoint.
    pub region: String,
}

impl Engine {
    /// Opens an ECS Exec session running `command` in the Airflow container of the newest
    /// running task of `component`.
    ///
    /// # Errors
    /// [`EngineError::Usage`] when the component has no running task or its task has ECS Exec
    /// off (the migration runs only while `up` waits for it); a failed ExecuteCommand (the
    /// task role lacks the `ssmmessages` actions, the agent is not ready).
    pub async fn exec_session(
        &self,
        component: Component,
        command: &str,
    ) -> Result<ExecTarget, EngineError> {
        let tasks = self.component_tasks(component, false).await?;
        let Some(task) = tasks.into_iter().find(|t| t.last_status == "RUNNING") else {
            return Err(EngineError::Usage(format!(
                "{} has no running task to open a shell in (`orchestrate status` shows its \
                 services)",
                component.name()
            )));
        };
        if !task.enable_execute_command {
            return Err(EngineError::Usage(format!(
                "task {} of {} runs with ECS Exec off: run `orchestrate up` (services are \
                 created with enableExecuteCommand) and wait for new tasks",
                task.task_id,
                component.name()
            )));
        }
        let container = component.container_name().to_string();
        let session = orchestrate_ecs::operate::execute_command(
            &self.aws.ecs,
            &self.cx.names.cluster(),
            &task.task_arn,
            &container,
            command,
        )
        .await
        .map_err(ecs_step(format!(
            "open an ECS Exec session in {}",
            task.task_id
        )))?;
        Ok(ExecTarget {
            task_id: task.task_id,
            container,
            session,
            region: self.region(),
        })
    }
}
