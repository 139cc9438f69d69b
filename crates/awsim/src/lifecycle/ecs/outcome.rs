//! How a task ends: derived from the scenario's failure scripts.

use super::model::{Outcome, SvcKey, TdInfo};
use super::sim::EcsSim;
use crate::clock::Clock;
use crate::scenario::{FailureKind, Scenario};

impl EcsSim {
    pub(super) fn outcome_for_service(&self, sc: &Scenario, key: &SvcKey, td: &TdInfo) -> Outcome {
        let d = &sc.durations;
        let rule = sc.ecs_failures.iter().find(|f| {
            f.service.as_ref().is_none_or(|s| *s == key.name)
                && f.family.as_ref().is_none_or(|fam| *fam == td.family)
                && f.revision.is_none_or(|r| r == td.revision)
                && f.image_contains
                    .as_ref()
                    .is_none_or(|sub| td.containers.iter().any(|c| c.1.contains(sub.as_str())))
        });
        let Some(rule) = rule else {
            return Outcome {
                fails_to_start: false,
                runs_for: None,
                healthy: true,
                stopped_reason: "Essential container in task exited".into(),
                stop_code: "EssentialContainerExited",
                exit_code: Some(0),
                container_reason: None,
                health_event: false,
            };
        };
        let mut o = match rule.kind {
            FailureKind::FailToStart => Outcome {
                fails_to_start: true,
                runs_for: None,
                healthy: false,
                stopped_reason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue".into(),
                stop_code: "TaskFailedToStart",
                exit_code: None,
                container_reason: None,
                health_event: false,
            },
            FailureKind::FailHealthCheck => Outcome {
                fails_to_start: false,
                runs_for: Some(Clock::ms(d.health_check_fail)),
                healthy: false,
                stopped_reason: "Task failed container health checks".into(),
                stop_code: "ServiceSchedulerInitiated",
                exit_code: Some(137),
                container_reason: None,
                health_event: true,
            },
            FailureKind::Oom => Outcome {
                fails_to_start: false,
                runs_for: Some(Clock::ms(d.oom_after)),
                healthy: false,
                stopped_reason: "Essential container in task exited".into(),
                stop_code: "EssentialContainerExited",
                exit_code: Some(137),
                container_reason: Some("OutOfMemoryError: Container killed due to memory usage".into()),
                health_event: false,
            },
            FailureKind::Exit => Outcome {
                fails_to_start: false,
                runs_for: Some(Clock::ms(d.oom_after)),
                healthy: false,
                stopped_reason: "Essential container in task exited".into(),
                stop_code: "EssentialContainerExited",
                exit_code: Some(1),
                container_reason: None,
                health_event: false,
            },
        };
        if let Some(r) = &rule.stopped_reason {
            o.stopped_reason = r.clone();
        }
        if let Some(r) = &rule.container_reason {
            o.container_reason = Some(r.clone());
        }
        if let Some(c) = rule.exit_code {
            o.exit_code = Some(c);
        }
        o
    }
}
