//! Day-2 operations on a deployment `up` built: `logs`, `airflow -- <args>`, `rollback`,
//! `doctor` and `exec`.
//!
//! Each reads what it needs through the resource crates (the ECS crate's
//! [`orchestrate_ecs::operate`], the logs crate's [`orchestrate_logs::read_streams`]) and the
//! same graph names `up` uses; nothing here computes a desired value. Only `rollback`
//! (UpdateService to an existing revision) and `airflow` (one RunTask) change anything.
//!
//! # Guarantees
//! - No secret value reaches their output: before printing anything read from the
//!   deployment's logs or events, [`Engine::arm_redaction`] reads the deployment's secret
//!   values into the process-wide redactor, and the CLI passes every printed line through
//!   `orchestrate_core::sensitive::redact`.

pub mod airflow;
pub mod catalog;
pub mod doctor;
pub mod exec;
pub mod logs;
pub mod rollback;

use orchestrate_airflow::{Component, SecretKey};
use orchestrate_ecs::operate::{TaskSelector, TaskSummary};

use crate::Engine;
use crate::error::{EngineError, ecs_step};

/// Airflow's long-running components and the migration, by their CLI names.
pub fn component_named(name: &str) -> Option<Component> {
    Component::ALL.into_iter().find(|c| c.name() == name)
}

impl Engine {
    /// The tasks of `component`, newest first: the service's (running, and with
    /// `include_stopped` those ECS still lists as stopped); for the migration, the one-off
    /// migration tasks only (not `orchestrate airflow` tasks of the same definition).
    ///
    /// # Errors
    /// A failed ListTasks / DescribeTasks.
    pub async fn component_tasks(
        &self,
        component: Component,
        include_stopped: bool,
    ) -> Result<Vec<TaskSummary>, EngineError> {
        let name = self.cx.names.service(component.name());
        let selector = if component.is_service() {
            TaskSelector::Service(&name)
        } else {
            TaskSelector::Family(&name)
        };
        let mut tasks = orchestrate_ecs::operate::list_tasks(
            &self.aws.ecs,
            &self.cx.names.cluster(),
            selector,
            include_stopped,
        )
        .await
        .map_err(ecs_step(format!("list the tasks of {}", component.name())))?;
        if !component.is_service() {
            tasks.retain(|t| t.started_by.as_deref() == Some(orchestrate_ecs::task::STARTED_BY));
        }
        Ok(tasks)
    }

    /// Reads the deployment's secret values (and the database password inside the URLs) so
    /// that `redact` hides them in anything printed afterwards. Returns how many were read; a
    /// secret that cannot be read (absent, no permission) is skipped and logged.
    pub async fn arm_redaction(&self) -> usize {
        let mut read = 0;
        for key in SecretKey::ALL {
            let name = self.cx.names.secret(key.key());
            match orchestrate_secrets::secret::get_value(&self.aws.secrets, &name).await {
                Ok(value) => {
                    read += 1;
                    if let Some(password) = url_password(value.expose()) {
                        // Registered for redaction by being wrapped.
                        let _ = orchestrate_core::sensitive::Sensitive::new(password);
                    }
                }
                Err(e) => tracing::debug!("secret {name} not read for redaction: {e}"),
            }
        }
        match orchestrate_secrets::read_db_credentials(&self.aws.secrets, &self.cx).await {
            Ok(Some(_)) => read += 1,
            Ok(None) => {}
            Err(e) => tracing::debug!("database credentials not read for redaction: {e}"),
        }
        read
    }
}

/// The password of `scheme://user:password@host...`, percent-decoded, if there is one.
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let userinfo = rest.split('@').next().filter(|_| rest.contains('@'))?;
    let (_, password) = userinfo.split_once(':')?;
    Some(
        percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned(),
    )
    .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_database_url_is_found_and_decoded() {
        assert_eq!(
            url_password("postgresql+psycopg2://airflow:p%40ss-word1@db:5432/airflow").as_deref(),
            Some("p@ss-word1")
        );
        assert_eq!(url_password("rediss://cache:6379/0"), None);
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn components_are_found_by_their_cli_names() {
        assert_eq!(
            component_named("dag-processor"),
            Some(Component::DagProcessor)
        );
        assert_eq!(component_named("migration"), Some(Component::Migration));
        assert_eq!(component_named("webserver"), None);
    }
}
