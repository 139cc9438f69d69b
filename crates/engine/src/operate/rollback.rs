//! `orchestrate rollback [--phase N | <component>]`: every chosen service back to the
//! task-definition revision before the one it runs, gated like `up`.
//!
//! Order: every target is worked out first (read-only: the service, the revision before its
//! current one, both revisions' Airflow versions); a rollback across an Airflow version is
//! refused before anything changes. Then phase by phase (2 → 5), each phase's services are
//! pointed at their previous revision concurrently and waited on with the same rollout gate
//! and deadline as `up` ([`orchestrate_ecs::wait_rollout`]): a rollback the circuit breaker
//! fails is exit 3, a rollout past its deadline exit 4, and later phases are not touched.

use orchestrate_airflow::Component;
use orchestrate_core::{Phase, ReporterExt};
use serde::Serialize;

use crate::Engine;
use crate::error::{EngineError, ecs_step};
use crate::graph::{AIRFLOW_VERSION_TAG, components_of};
use crate::services::rollout_deadline;

/// Which services to roll back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackScope {
    /// Every service of the deployment.
    All,
    /// The services of one phase (2..=5).
    Phase(Phase),
    /// One component's service.
    Component(Component),
}

impl RollbackScope {
    /// The components whose services this scope names, in phase order.
    pub fn components(self) -> Vec<Component> {
        match self {
            RollbackScope::All => [
                Phase::ApiServer,
                Phase::Scheduler,
                Phase::Triggerer,
                Phase::Worker,
            ]
            .iter()
            .flat_map(|p| components_of(*p).iter().copied())
            .collect(),
            RollbackScope::Phase(phase) => components_of(phase).to_vec(),
            RollbackScope::Component(c) => vec![c],
        }
    }
}

/// One service moved back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolledBack {
    /// The service.
    pub service: String,
    /// `family:revision` it ran.
    pub from: String,
    /// `family:revision` it runs now.
    pub to: String,
    /// The revision's ARN it runs now.
    #[serde(skip)]
    pub to_arn: String,
    /// Said about it (an Airflow version not recorded on a revision, ...).
    pub notes: Vec<String>,
    #[serde(skip)]
    component: Component,
}

/// The Airflow versions of two revisions, when both are recorded: refuse when they differ.
pub fn version_verdict(
    service: &str,
    from: (&str, Option<&str>),
    to: (&str, Option<&str>),
) -> Result<Option<String>, EngineError> {
    match (from.1, to.1) {
        (Some(a), Some(b)) if a != b => Err(EngineError::Usage(format!(
            "refusing to roll {service} back from {} (Airflow {a}) to {} (Airflow {b}): `up` ran \
             the database migration of Airflow {a} before deploying it, and migrations are not \
             reversed, so Airflow {b} would start against a schema it does not know. Roll \
             forward instead (fix the spec and run `orchestrate up`), or restore the RDS \
             snapshot taken before the upgrade and then roll back",
            from.0, to.0
        ))),
        (Some(_), Some(_)) => Ok(None),
        _ => Ok(Some(format!(
            "the Airflow version of {} or {} is not recorded (registered before orchestrate \
             tagged revisions with it): make sure no Airflow upgrade happened in between",
            from.0, to.0
        ))),
    }
}

impl Engine {
    /// Works out what [`Engine::rollback`] would do (read-only).
    ///
    /// # Errors
    /// [`EngineError::Usage`] for a service that does not exist or has no earlier ACTIVE
    /// revision, or a rollback across an Airflow version; failed ECS reads.
    pub async fn rollback_plan(
        &self,
        scope: RollbackScope,
    ) -> Result<Vec<RolledBack>, EngineError> {
        let (aws, cx) = (&self.aws, &self.cx);
        let cluster = cx.names.cluster();
        let mut plan = Vec::new();
        for component in scope.components() {
            let name = cx.names.service(component.name());
            let Some(service) = orchestrate_ecs::service::find(&aws.ecs, &cluster, &name)
                .await
                .map_err(ecs_step(format!("read service {name}")))?
            else {
                if matches!(scope, RollbackScope::Component(_)) {
                    return Err(EngineError::Usage(format!(
                        "service {name} does not exist: nothing to roll back"
                    )));
                }
                continue;
            };
            let current = service.task_definition.clone();
            let revision = orchestrate_ecs::operate::revision_number(&current).unwrap_or(0);
            let Some(previous) =
                orchestrate_ecs::operate::previous_revision(&aws.ecs, &name, revision)
                    .await
                    .map_err(ecs_step(format!("list the revisions of {name}")))?
            else {
                return Err(EngineError::Usage(format!(
                    "{name} runs {}, and its family has no earlier ACTIVE revision to roll back to",
                    orchestrate_ecs::revision_label(&current)
                )));
            };
            let (from_tags, to_tags) = tokio::try_join!(
                async {
                    orchestrate_ecs::operate::task_definition_tags(&aws.ecs, &current)
                        .await
                        .map_err(ecs_step(format!("read {current}")))
                },
                async {
                    orchestrate_ecs::operate::task_definition_tags(&aws.ecs, &previous)
                        .await
                        .map_err(ecs_step(format!("read {previous}")))
                },
            )?;
            let from = orchestrate_ecs::revision_label(&current).to_string();
            let to = orchestrate_ecs::revision_label(&previous).to_string();
            let note = version_verdict(
                &name,
                (
                    &from,
                    from_tags.get(AIRFLOW_VERSION_TAG).map(String::as_str),
                ),
                (&to, to_tags.get(AIRFLOW_VERSION_TAG).map(String::as_str)),
            )?;
            plan.push(RolledBack {
                service: name,
                from,
                to,
                to_arn: previous,
                notes: note.into_iter().collect(),
                component,
            });
        }
        if plan.is_empty() {
            return Err(EngineError::Usage(
                "no service of the deployment exists: nothing to roll back".into(),
            ));
        }
        Ok(plan)
    }

    /// Rolls the services of `scope` back to their previous revisions, phase by phase, each
    /// phase waited on like `up`. Returns what moved.
    ///
    /// # Errors
    /// See [`Engine::rollback_plan`]; a rollout the circuit breaker fails (exit 3) or that
    /// passes its deadline (exit 4).
    pub async fn rollback(
        &self,
        scope: RollbackScope,
        lease: &crate::LeaseRequest,
    ) -> Result<Vec<RolledBack>, EngineError> {
        let plan = self.rollback_plan(scope).await?;
        // The read-only plan refuses first; the lease is held from before the first
        // UpdateService to the end, as `up` and `teardown` hold it.
        crate::lease::hold(self, lease, crate::lease::Release::Keep, self.roll(plan)).await
    }

    /// Points each service of `plan` at its target revision, phase by phase, each phase
    /// waited on like `up`.
    async fn roll(&self, plan: Vec<RolledBack>) -> Result<Vec<RolledBack>, EngineError> {
        let (aws, cx) = (&self.aws, &self.cx);
        let cluster = cx.names.cluster();
        for phase in [
            Phase::ApiServer,
            Phase::Scheduler,
            Phase::Triggerer,
            Phase::Worker,
        ] {
            let moves = plan
                .iter()
                .filter(|m| m.component.phase() == phase)
                .map(|m| {
                    let cluster = cluster.clone();
                    async move {
                        for note in &m.notes {
                            cx.reporter
                                .note(orchestrate_ecs::service::KIND, note.clone());
                        }
                        orchestrate_ecs::operate::point_service_at(
                            &aws.ecs, cx, &cluster, &m.service, &m.to_arn,
                        )
                        .await
                        .map_err(ecs_step(format!("roll back service {}", m.service)))?;
                        orchestrate_ecs::wait_rollout(
                            &aws.ecs,
                            cx,
                            &cluster,
                            &m.service,
                            &m.to_arn,
                            rollout_deadline(self, m.component),
                            |_| {},
                        )
                        .await
                        .map_err(ecs_step(format!(
                            "roll back service {} from {} to {}",
                            m.service, m.from, m.to
                        )))?;
                        cx.reporter
                            .ready(orchestrate_ecs::service::KIND, &m.service);
                        Ok::<(), EngineError>(())
                    }
                });
            futures::future::try_join_all(moves).await?;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_across_an_airflow_version_is_refused_with_the_reason() {
        let err = version_verdict(
            "demo-scheduler",
            ("demo-scheduler:4", Some("3.3.2")),
            ("demo-scheduler:3", Some("3.1.0")),
        )
        .expect_err("refused");
        assert_eq!(err.exit_code(), crate::error::EXIT_INVALID);
        let text = err.to_string();
        assert!(text.contains("migrations are not reversed"), "{text}");
        assert!(
            text.contains("Airflow 3.3.2") && text.contains("Airflow 3.1.0"),
            "{text}"
        );
    }

    #[test]
    fn the_same_airflow_version_rolls_back_and_an_unknown_one_is_noted() {
        assert_eq!(
            version_verdict("s", ("s:2", Some("3.3.2")), ("s:1", Some("3.3.2"))).ok(),
            Some(None)
        );
        let note = version_verdict("s", ("s:2", Some("3.3.2")), ("s:1", None))
            .expect("allowed")
            .expect("noted");
        assert!(note.contains("not recorded"), "{note}");
    }

    #[test]
    fn every_service_in_phase_order() {
        assert_eq!(
            RollbackScope::All.components(),
            vec![
                Component::ApiServer,
                Component::Scheduler,
                Component::DagProcessor,
                Component::Triggerer,
                Component::Worker
            ]
        );
        assert_eq!(
            RollbackScope::Phase(Phase::Scheduler).components(),
            vec![Component::Scheduler, Component::DagProcessor]
        );
    }
}
