//! `orchestrate doctor`: reads the evidence of every component (stopped tasks, service
//! events, rollout states, the api-server's target health, the tail of each task's log
//! streams) and matches it against the [`super::catalog::CATALOG`] of failure signatures.
//!
//! Read-only. The evidence is quoted as AWS and the containers wrote it; the CLI redacts
//! secret values before printing.
//!
//! # Only the current deployment and the recent past
//! A failure that a later deployment fixed is not reported again. Per service, a [`Window`]
//! decides which stopped tasks and events count: while its PRIMARY deployment has run with no
//! failure event since it was created, only that deployment's own stopped tasks and the
//! events since its creation; when a failure came at or after its creation (a rollout that is
//! failing, or a circuit-breaker rollback, whose new PRIMARY is created as the failure is
//! reported), everything from [`RECENT`] before the newest failure event on. Rollout states
//! (only listed deployments), the log tails of the running (or newest) tasks and the target
//! health are current by nature. Of the migration, only the newest migration task counts.

use std::collections::BTreeMap;

use std::time::Duration;

use aws_smithy_types::DateTime;
use orchestrate_airflow::Component;
use orchestrate_core::Timing;
use orchestrate_ecs::operate::TaskSummary;
use orchestrate_ecs::rollout::{DeploymentSummary, EventSummary};
use serde::Serialize;

use super::catalog::{CATALOG, Source};
use super::logs::{choose_tasks, sources_of};
use crate::Engine;
use crate::error::{EngineError, ecs_step, step};

/// Lines read from the end of each log stream.
pub const LOG_TAIL_LINES: i32 = 50;
/// Evidence quoted per finding.
pub const QUOTES_PER_FINDING: usize = 3;

/// How far before a service's newest failure event its evidence reaches (scaled by
/// [`Timing`]).
pub const RECENT: Duration = Duration::from_secs(3600);
/// A failure event this close before the PRIMARY deployment's creation belongs to it (ECS
/// creates a circuit-breaker rollback's deployment as it reports the failure).
pub const ROLLBACK_SLACK: Duration = Duration::from_secs(120);

/// Which of a service's stopped tasks and events are evidence (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// Nothing tells when the current deployment began: everything ECS still lists.
    All,
    /// The PRIMARY deployment has run with no failure since it was created.
    Current {
        /// Its id (the `startedBy` of its tasks).
        deployment: String,
        /// Its creation, epoch seconds.
        since: f64,
    },
    /// A failure at or after the PRIMARY's creation: everything from [`RECENT`] before the
    /// newest failure event.
    Failure {
        /// Epoch seconds.
        since: f64,
    },
}

fn seconds(t: Option<&DateTime>) -> Option<f64> {
    t.map(DateTime::as_secs_f64)
}

impl Window {
    /// The window of a service with these deployments and events (pure).
    pub fn of(deployments: &[DeploymentSummary], events: &[EventSummary], timing: Timing) -> Self {
        let Some((primary, created)) = deployments
            .iter()
            .find(|d| d.is_primary())
            .and_then(|d| Some((d, seconds(d.created_at.as_ref())?)))
        else {
            return Window::All;
        };
        let slack = timing.scaled(ROLLBACK_SLACK).as_secs_f64();
        let newest_failure = events
            .iter()
            .filter(|e| e.is_failure())
            .filter_map(|e| seconds(e.created_at.as_ref()))
            .fold(None, |newest: Option<f64>, t| {
                Some(newest.map_or(t, |n| n.max(t)))
            });
        match newest_failure {
            Some(failure) if failure >= created - slack => Window::Failure {
                since: (failure - timing.scaled(RECENT).as_secs_f64()).min(created),
            },
            _ => Window::Current {
                deployment: primary.id.clone(),
                since: created,
            },
        }
    }

    fn since(&self) -> Option<f64> {
        match self {
            Window::All => None,
            Window::Current { since, .. } | Window::Failure { since } => Some(*since),
        }
    }

    /// True when `event` is evidence (an event without a time is).
    pub fn keeps_event(&self, event: &EventSummary) -> bool {
        match (self.since(), seconds(event.created_at.as_ref())) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        }
    }

    /// True when stopped `task` is evidence: in [`Window::Current`], a task of the PRIMARY
    /// deployment (or, with no `startedBy`, one that stopped since it was created); otherwise
    /// one that stopped (or, with no stop time, was created) in the window.
    pub fn keeps_task(&self, task: &TaskSummary) -> bool {
        let at = seconds(task.stopped_at.as_ref().or(task.created_at.as_ref()));
        match self {
            Window::All => true,
            Window::Current { deployment, since } => match &task.started_by {
                Some(by) => by == deployment,
                None => at.is_none_or(|at| at >= *since),
            },
            Window::Failure { since } => at.is_none_or(|at| at >= *since),
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Where it comes from.
    pub source: Source,
    /// The component it belongs to.
    pub component: Component,
    /// Which task, event or stream (`task 1a2b…`, `stream worker/worker/…`).
    pub origin: String,
    /// The text matched and quoted.
    pub text: String,
}

/// A matched signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The signature's id.
    pub id: String,
    /// The component.
    pub component: String,
    /// Quoted evidence, `<source> <origin>: <text>`.
    pub evidence: Vec<String>,
    /// What it means.
    pub meaning: String,
    /// What to do.
    pub fix: String,
}

/// The findings of `evidence`, one per (signature, component), in catalog order then
/// component order. Each piece of evidence counts for the first signature it matches.
pub fn diagnose(deployment: &str, evidence: &[Evidence]) -> Vec<Finding> {
    let mut found: BTreeMap<(usize, Component), Vec<&Evidence>> = BTreeMap::new();
    for item in evidence {
        // Every signature the evidence shows (an exit 137 of an OOM and a rollback event are
        // different evidence; one stopped task can show a pull failure and a secret failure).
        for (index, signature) in CATALOG.iter().enumerate() {
            if signature.matches(item.source, &item.text) {
                found.entry((index, item.component)).or_default().push(item);
            }
        }
    }
    found
        .into_iter()
        .map(|((index, component), items)| {
            let signature = &CATALOG[index];
            let fill = |text: &str| {
                text.replace("{component}", component.name())
                    .replace("{name}", deployment)
            };
            let mut quotes: Vec<String> = Vec::new();
            for item in items {
                let quote = format!("{} {}: \"{}\"", item.source.label(), item.origin, item.text);
                if !quotes.contains(&quote) {
                    quotes.push(quote);
                }
            }
            quotes.truncate(QUOTES_PER_FINDING);
            Finding {
                id: signature.id.to_string(),
                component: component.name().to_string(),
                evidence: quotes,
                meaning: fill(signature.meaning),
                fix: fill(signature.fix),
            }
        })
        .collect()
}

/// The text of a stopped task as evidence: stop reason, stop code, each container's end.
pub fn stopped_task_text(task: &orchestrate_ecs::operate::TaskSummary) -> String {
    let mut text = format!(
        "stopped: {}",
        task.stopped_reason
            .as_deref()
            .unwrap_or("(no reason given)")
    );
    if let Some(code) = &task.stop_code {
        text.push_str(&format!(" ({code})"));
    }
    for container in &task.containers {
        text.push_str(&format!("; container {}", container.name));
        if let Some(code) = container.exit_code {
            text.push_str(&format!(" exit code {code}"));
        }
        if let Some(reason) = &container.reason {
            text.push_str(&format!(": {reason}"));
        }
    }
    text
}

impl Engine {
    /// Every piece of evidence `doctor` reads (read-only).
    ///
    /// # Errors
    /// The first read that fails.
    pub async fn doctor_evidence(&self) -> Result<Vec<Evidence>, EngineError> {
        let (aws, cx) = (&self.aws, &self.cx);
        let cluster = cx.names.cluster();
        let group = cx.names.log_group();
        let mut evidence = Vec::new();
        for component in Component::ALL {
            let name = cx.names.service(component.name());
            let mut window = Window::All;
            if component.is_service()
                && let Some(service) = orchestrate_ecs::service::find(&aws.ecs, &cluster, &name)
                    .await
                    .map_err(ecs_step(format!("read service {name}")))?
            {
                window = Window::of(&service.deployments, &service.events, cx.timing);
                for deployment in &service.deployments {
                    if let Some(state) = &deployment.rollout_state {
                        evidence.push(Evidence {
                            source: Source::Rollout,
                            component,
                            origin: format!("{} of {}", deployment.id, name),
                            text: format!(
                                "deployment {} of {}: rolloutState {state}{}",
                                deployment.id,
                                orchestrate_ecs::revision_label(&deployment.task_definition),
                                deployment
                                    .rollout_state_reason
                                    .as_deref()
                                    .map(|r| format!(": {r}"))
                                    .unwrap_or_default()
                            ),
                        });
                    }
                }
                for event in service.events.iter().filter(|e| window.keeps_event(e)) {
                    evidence.push(Evidence {
                        source: Source::ServiceEvent,
                        component,
                        origin: format!("of {name}"),
                        text: event.message.clone(),
                    });
                }
            }
            let tasks = self.component_tasks(component, true).await?;
            // The migration's story is its newest task; a service's, its window's.
            let newest_only = !component.is_service();
            for task in tasks
                .iter()
                .take(if newest_only { 1 } else { tasks.len() })
                .filter(|t| !t.is_running() && window.keeps_task(t))
            {
                evidence.push(Evidence {
                    source: Source::StoppedTask,
                    component,
                    origin: format!("{} ({})", task.task_id, task.task_definition),
                    text: stopped_task_text(task),
                });
            }
            for source in sources_of(component, &choose_tasks(component, tasks, None)) {
                let lines =
                    orchestrate_logs::tail(&aws.logs, &group, &source.stream, LOG_TAIL_LINES)
                        .await
                        .map_err(step("read a log stream"))?;
                for line in lines {
                    evidence.push(Evidence {
                        source: Source::Log,
                        component,
                        origin: source.stream.clone(),
                        text: line,
                    });
                }
            }
        }
        if let Some(target_group) =
            orchestrate_loadbalancer::target_group::find(&aws.elbv2, &cx.names.target_group())
                .await
                .map_err(step("read the target group"))?
        {
            let targets = orchestrate_loadbalancer::target_health(&aws.elbv2, &target_group.arn)
                .await
                .map_err(step("read the api-server's target health"))?;
            for target in targets {
                evidence.push(Evidence {
                    source: Source::TargetHealth,
                    component: Component::ApiServer,
                    origin: format!(
                        "{}:{}",
                        target.id,
                        target.port.map_or_else(String::new, |p| p.to_string())
                    ),
                    text: format!(
                        "{}{}{}",
                        target.state,
                        target.reason.map(|r| format!(": {r}")).unwrap_or_default(),
                        target
                            .description
                            .map(|d| format!(" ({d})"))
                            .unwrap_or_default()
                    ),
                });
            }
        }
        Ok(evidence)
    }

    /// The findings of `doctor` (read-only).
    ///
    /// # Errors
    /// See [`Engine::doctor_evidence`].
    pub async fn doctor(&self) -> Result<Vec<Finding>, EngineError> {
        let evidence = self.doctor_evidence().await?;
        Ok(diagnose(&self.spec.deployment.name, &evidence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(source: Source, component: Component, text: &str) -> Evidence {
        Evidence {
            source,
            component,
            origin: "x".into(),
            text: text.into(),
        }
    }

    #[test]
    fn one_finding_per_signature_and_component_with_the_fix_filled_in() {
        let found = diagnose(
            "demo",
            &[
                evidence(Source::Log, Component::Worker, "OOMKilled"),
                evidence(Source::Log, Component::Worker, "OOMKilled"),
                evidence(Source::StoppedTask, Component::Worker, "OutOfMemoryError"),
                evidence(Source::Log, Component::Scheduler, "INFO all good"),
            ],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, "oom");
        assert_eq!(found[0].component, "worker");
        assert_eq!(found[0].evidence.len(), 2, "duplicates quoted once");
        assert!(
            found[0].fix.contains("[components.worker].memory"),
            "{}",
            found[0].fix
        );
    }

    #[test]
    fn no_evidence_no_finding() {
        assert!(diagnose("demo", &[]).is_empty());
    }

    const T: f64 = 1_800_000_000.0;
    const TIMING: Timing = Timing { scale: 1.0 };

    fn deployment(id: &str, status: &str, created: f64) -> DeploymentSummary {
        DeploymentSummary {
            id: id.into(),
            status: Some(status.into()),
            task_definition: "demo-worker:2".into(),
            desired_count: 1,
            running_count: 1,
            pending_count: 0,
            failed_tasks: 0,
            rollout_state: Some("COMPLETED".into()),
            rollout_state_reason: None,
            created_at: Some(DateTime::from_secs_f64(created)),
        }
    }

    fn event(at: f64, message: &str) -> EventSummary {
        EventSummary {
            id: "e".into(),
            created_at: Some(DateTime::from_secs_f64(at)),
            message: message.into(),
        }
    }

    fn stopped(started_by: &str, at: f64) -> TaskSummary {
        TaskSummary {
            task_arn: "arn:aws:ecs:eu-west-1:1:task/demo/abc".into(),
            task_id: "abc".into(),
            task_definition: "demo-worker:1".into(),
            last_status: "STOPPED".into(),
            created_at: Some(DateTime::from_secs_f64(at - 60.0)),
            stopped_at: Some(DateTime::from_secs_f64(at)),
            stopped_reason: Some("Essential container in task exited".into()),
            stop_code: None,
            containers: Vec::new(),
            enable_execute_command: true,
            started_by: Some(started_by.into()),
        }
    }

    #[test]
    fn a_failure_a_later_deployment_recovered_from_is_history() {
        let deployments = [deployment("ecs-svc/2", "PRIMARY", T)];
        let old_failure = event(
            T - 1800.0,
            "(service demo-worker) (deployment ecs-svc/1) deployment failed: tasks failed to start.",
        );
        let steady = event(
            T + 300.0,
            "(service demo-worker) has reached a steady state.",
        );
        let window = Window::of(&deployments, &[steady.clone(), old_failure.clone()], TIMING);
        assert_eq!(
            window,
            Window::Current {
                deployment: "ecs-svc/2".into(),
                since: T
            }
        );
        assert!(!window.keeps_event(&old_failure));
        assert!(window.keeps_event(&steady));
        // An OOM-killed task of the old deployment, even one that stopped after the new one
        // began replacing it, is not evidence; one of the current deployment is.
        assert!(!window.keeps_task(&stopped("ecs-svc/1", T + 30.0)));
        assert!(window.keeps_task(&stopped("ecs-svc/2", T + 400.0)));
    }

    #[test]
    fn a_rollback_keeps_the_evidence_of_the_failed_rollout() {
        // The circuit breaker rolled back: the failure is reported as the PRIMARY is created.
        let deployments = [deployment("ecs-svc/3", "PRIMARY", T)];
        let events = [
            event(
                T,
                "(service demo-worker) rolling back to deployment ecs-svc/3.",
            ),
            event(
                T - 1.0,
                "(service demo-worker) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
            ),
        ];
        let window = Window::of(&deployments, &events, TIMING);
        assert_eq!(window, Window::Failure { since: T - 3600.0 });
        assert!(window.keeps_event(&events[1]));
        assert!(window.keeps_task(&stopped("ecs-svc/2", T - 600.0)));
        assert!(
            !window.keeps_task(&stopped("ecs-svc/1", T - 7200.0)),
            "more than an hour before the failure"
        );
    }

    #[test]
    fn a_failing_rollout_keeps_its_tasks_and_without_a_primary_everything_counts() {
        let deployments = [
            deployment("ecs-svc/2", "PRIMARY", T),
            deployment("ecs-svc/1", "ACTIVE", T - 86_400.0),
        ];
        let events = [event(
            T + 120.0,
            "(service demo-worker) (task abc) failed container health checks.",
        )];
        let window = Window::of(&deployments, &events, TIMING);
        assert_eq!(
            window,
            Window::Failure {
                since: T + 120.0 - 3600.0
            }
        );
        assert!(window.keeps_task(&stopped("ecs-svc/2", T + 100.0)));
        assert_eq!(Window::of(&[], &events, TIMING), Window::All);
        assert!(Window::All.keeps_task(&stopped("ecs-svc/0", 0.0)));
    }
}
