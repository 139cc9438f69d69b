//! `orchestrate airflow -- <args>`: the Airflow CLI as a one-off Fargate task, with the
//! migration task's definition (its active revision) and networking — the same runner as the
//! migration that gates phase 2 ([`crate::services::one_off_task`]) — its log streamed while
//! it runs, and its exit code returned.

use std::time::Duration;

use orchestrate_airflow::Component;
use orchestrate_ecs::TaskOutcome;
use orchestrate_logs::Cursor;

use super::logs::{LogLine, LogSource};
use crate::Engine;
use crate::error::{EngineError, ecs_step};
use crate::observe::{Depth, observe};
use crate::services::{MIGRATION_DEADLINE, one_off_task};

/// Poll interval of the task's log while it runs (scaled by the time scale).
pub const LOG_INTERVAL: Duration = Duration::from_secs(2);

impl Engine {
    /// Runs `airflow <args>` as a one-off task, printing its log lines through `print` as
    /// they arrive, and returns how the task ended.
    ///
    /// # Errors
    /// [`EngineError::Usage`] when phase 1 or the migration task definition (phase 2) does not
    /// exist yet; a failed RunTask or describe; exit 4 past [`MIGRATION_DEADLINE`].
    pub async fn airflow(
        &self,
        args: &[String],
        mut print: impl FnMut(&LogLine),
    ) -> Result<TaskOutcome, EngineError> {
        let (aws, cx) = (&self.aws, &self.cx);
        let zones = self.zones(false).await?;
        let graph = self.graph(&zones);
        let known = observe(self, &graph, Depth::Storage).await?;
        let network = known.network.ok_or_else(|| {
            EngineError::Usage(
                "the deployment's network does not exist: run `orchestrate up` first".into(),
            )
        })?;
        let component = Component::Migration;
        let family = cx.names.service(component.name());
        let definition = orchestrate_ecs::taskdef::find_active(&aws.ecs, &family)
            .await
            .map_err(ecs_step("read the migration task definition"))?
            .ok_or_else(|| {
                EngineError::Usage(format!(
                    "no task definition {family} yet: run `orchestrate up --phase 2` first"
                ))
            })?;
        let task = one_off_task(
            self,
            &network,
            &definition.arn,
            Some(args.to_vec()),
            orchestrate_ecs::task::STARTED_BY_CLI,
        );
        let task_arn = orchestrate_ecs::run_task(&aws.ecs, cx, &task)
            .await
            .map_err(ecs_step("run the airflow task"))?;
        let task_id = orchestrate_ecs::arn_tail(&task_arn).to_string();
        let source = LogSource {
            stream: orchestrate_ecs::log_stream_name(
                component.name(),
                component.container_name(),
                &task_id,
            ),
            container: component.container_name().to_string(),
            task_id,
        };
        let group = cx.names.log_group();
        let sources = [source];
        let mut cursor = Cursor::starting_at(None);
        let cluster = cx.names.cluster();
        let wait = orchestrate_ecs::wait_task_stopped(
            &aws.ecs,
            cx,
            &cluster,
            &task_arn,
            component.container_name(),
            MIGRATION_DEADLINE,
        );
        tokio::pin!(wait);
        let interval = cx
            .timing
            .scaled(LOG_INTERVAL)
            .max(Duration::from_millis(50));
        let outcome = loop {
            tokio::select! {
                outcome = &mut wait => break outcome,
                () = tokio::time::sleep(interval) => {
                    self.poll_logs(&group, &sources, &mut cursor, &mut print, true).await?;
                }
            }
        };
        let outcome = outcome.map_err(ecs_step("wait for the airflow task"))?;
        // Lines CloudWatch received after the last poll.
        self.poll_logs(&group, &sources, &mut cursor, &mut print, true)
            .await?;
        Ok(outcome)
    }
}
