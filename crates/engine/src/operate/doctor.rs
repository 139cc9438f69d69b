//! `orchestrate doctor`: reads the evidence of every component (stopped tasks, service
//! events, rollout states, the api-server's target health, the tail of each task's log
//! streams) and matches it against the [`super::catalog::CATALOG`] of failure signatures.
//!
//! Read-only. The evidence is quoted as AWS and the containers wrote it; the CLI redacts
//! secret values before printing.

use std::collections::BTreeMap;

use orchestrate_airflow::Component;
use serde::Serialize;

use super::catalog::{CATALOG, Source};
use super::logs::{choose_tasks, sources_of};
use crate::Engine;
use crate::error::{EngineError, ecs_step, step};

/// Lines read from the end of each log stream.
pub const LOG_TAIL_LINES: i32 = 50;
/// Evidence quoted per finding.
pub const QUOTES_PER_FINDING: usize = 3;

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
            if component.is_service()
                && let Some(service) = orchestrate_ecs::service::find(&aws.ecs, &cluster, &name)
                    .await
                    .map_err(ecs_step(format!("read service {name}")))?
            {
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
                for event in &service.events {
                    evidence.push(Evidence {
                        source: Source::ServiceEvent,
                        component,
                        origin: format!("of {name}"),
                        text: event.message.clone(),
                    });
                }
            }
            let tasks = self.component_tasks(component, true).await?;
            for task in tasks.iter().filter(|t| !t.is_running()) {
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
}
