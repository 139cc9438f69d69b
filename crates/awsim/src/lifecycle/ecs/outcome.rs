//! How a task ends: derived from the scenario's failure scripts.

use super::model::{Outcome, SvcKey, TdInfo};
use super::sim::EcsSim;
use crate::clock::Clock;
use crate::registry::Resolution;
use crate::scenario::{FailureKind, Scenario};

/// The outcome of a task whose image would not pull from the scenario's registry, as Fargate
/// reports it; `None` when every ECR image of `td` resolves for its architecture (or no
/// registry is configured). Images outside ECR are not checked (Fargate would pull them from
/// the internet, which the emulator does not have).
pub(super) fn pull_failure(sc: &Scenario, td: &TdInfo) -> Option<Outcome> {
    let port = registry_port(sc.registry.as_deref()?)?;
    let architecture = match td.cpu_architecture.as_str() {
        "ARM64" => "arm64",
        _ => "amd64",
    };
    for (_, image, _) in &td.containers {
        let Some((repository, reference)) = ecr_repository(image) else {
            continue;
        };
        let why = match crate::registry::resolve(port, &repository, &reference, architecture) {
            Ok(Resolution::Found(_)) => continue,
            Ok(Resolution::NotFound) => format!("{image}: not found"),
            Ok(Resolution::PlatformMissing(_)) => {
                format!("{image}: no match for platform in manifest: not found")
            }
            Err(e) => format!("{image}: {e}"),
        };
        let reason = format!(
            "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref {why}"
        );
        return Some(Outcome {
            fails_to_start: true,
            runs_for: None,
            healthy: false,
            stopped_reason: reason.clone(),
            stop_code: "TaskFailedToStart",
            exit_code: None,
            container_reason: Some(reason),
            health_event: false,
        });
    }
    None
}

fn registry_port(url: &str) -> Option<u16> {
    url.trim_end_matches('/').rsplit_once(':')?.1.parse().ok()
}

/// `<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` (or `@sha256:...`) -> (repo, tag or digest).
fn ecr_repository(image: &str) -> Option<(String, String)> {
    let (host, rest) = image.split_once('/')?;
    if !(host.contains(".dkr.ecr.") && host.ends_with(".amazonaws.com")) {
        return None;
    }
    if let Some((repository, digest)) = rest.split_once('@') {
        return Some((repository.to_string(), digest.to_string()));
    }
    Some(match rest.rsplit_once(':') {
        Some((r, t)) => (r.to_string(), t.to_string()),
        None => (rest.to_string(), "latest".to_string()),
    })
}

impl EcsSim {
    pub(super) fn outcome_for_service(&self, sc: &Scenario, key: &SvcKey, td: &TdInfo) -> Outcome {
        if let Some(failure) = pull_failure(sc, td) {
            return failure;
        }
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
