//! `orchestrate exec <component> [-- cmd]`: an ECS Exec session in a running task of the
//! component. The session itself is carried by AWS's Session Manager plugin, which the CLI
//! starts; this module finds the task and opens the session (ExecuteCommand).

use orchestrate_airflow::Component;
use orchestrate_ecs::operate::ExecSession;

use crate::Engine;
use crate::error::{EngineError, ecs_step};

/// Why ECS Exec cannot work with the task role's grants, or `None` when it can (or may: a
/// managed policy someone attached could allow what the inline policy lacks; that case is
/// logged as a warning, not refused).
pub fn missing_exec_permissions(grants: &orchestrate_iam::TaskRoleGrants) -> Option<String> {
    if grants.missing.is_empty() {
        return None;
    }
    let missing = grants.missing.join(", ");
    if !grants.attached.is_empty() {
        tracing::warn!(
            "the inline policy of task role {} lacks {missing}; the managed policies \
             attached to it ({}) may allow them",
            grants.role,
            grants.attached.join(", ")
        );
        return None;
    }
    Some(format!(
        "ECS Exec needs the task role {} to allow {missing} on \"*\", and its policy \
         {} does not: run `orchestrate up --phase 1` to put the policy back, then wait for \
         new tasks (the session agent reads the role when a task starts)",
        grants.role,
        orchestrate_iam::TASK_POLICY
    ))
}

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
    /// [`EngineError::Usage`] when the component has no running task, its task has ECS Exec
    /// off (the migration runs only while `up` waits for it), or the task role's policy does
    /// not allow the `ssmmessages` actions ([`missing_exec_permissions`]; checked before
    /// ExecuteCommand); a failed ExecuteCommand (the agent is not ready).
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
        match orchestrate_iam::task_role_grants(
            &self.aws.iam,
            &self.cx,
            &self.region(),
            &orchestrate_iam::ECS_EXEC_ACTIONS,
        )
        .await
        {
            Ok(grants) => {
                if let Some(problem) = missing_exec_permissions(&grants) {
                    return Err(EngineError::Usage(problem));
                }
            }
            // Reading IAM is a courtesy check: without iam:GetRolePolicy, ExecuteCommand
            // still says what is wrong.
            Err(e) => tracing::warn!("could not check the task role's ECS Exec permissions: {e}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(missing: &[&str], attached: &[&str]) -> orchestrate_iam::TaskRoleGrants {
        orchestrate_iam::TaskRoleGrants {
            role: "demo-ecs-task".into(),
            missing: missing.iter().map(|s| (*s).to_string()).collect(),
            attached: attached.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    #[test]
    fn a_role_lacking_a_channel_action_is_refused_naming_it_and_the_fix() {
        let problem = missing_exec_permissions(&grants(&["ssmmessages:OpenDataChannel"], &[]))
            .expect("refused");
        assert!(problem.contains("demo-ecs-task"), "{problem}");
        assert!(problem.contains("ssmmessages:OpenDataChannel"), "{problem}");
        assert!(problem.contains("orchestrate up --phase 1"), "{problem}");
    }

    #[test]
    fn a_complete_role_or_one_with_attached_policies_goes_ahead() {
        assert_eq!(missing_exec_permissions(&grants(&[], &[])), None);
        assert_eq!(
            missing_exec_permissions(&grants(
                &["ssmmessages:OpenDataChannel"],
                &["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
            )),
            None
        );
    }
}
