//! Images: which images the task definitions of phases 2..=N run and on which CPU
//! architectures ([`needs`], read from the graph's own RegisterTaskDefinition requests),
//! checking before phase 2 registers anything that each resolves for every architecture its
//! tasks run on ([`preflight`], [`plan`]), and copying the upstream ones into the deployment's
//! ECR repositories ([`sync`] for `orchestrate images sync`; [`converge`] for `up`, which
//! copies a missing tag at the start of phase 2 unless `[image] sync = false`).
//!
//! # Guarantees
//! - The images and architectures are exactly those of the graph's task definitions: every
//!   container image of every family of phases 2..=`up_to`, with the
//!   `runtimePlatform.cpuArchitecture` of each task that runs it (a Spot worker is X86_64).
//!   Nothing here decides an image reference. Phase 1 runs no image: for `up_to` = phase 1
//!   [`needs`] is empty and nothing here calls ECR or a registry.
//! - An image in this account's ECR is reached through GetAuthorizationToken's registry (the
//!   emulator points it at its local registry); any other reference is read anonymously and
//!   never copied. Only the deployment's two repositories are copied into, each from its
//!   upstream (`[image] source`, `[git_sync] image_source`).
//! - [`preflight`] and [`plan`] are read-only. [`converge`] copies only a tag that does not
//!   exist: a tag that exists but lacks a platform is a preflight failure, never overwritten.
//! - A missing image or platform is exit 3 ([`crate::error::EXIT_DEPLOY_FAILED`]), naming the
//!   image, the platform and the command that fixes it; a registry that cannot be reached is
//!   exit 1. No registry password or token is part of an error or an event.

use orchestrate_airflow::Component;
use orchestrate_airflow::wiring::ecr_image_uri;
use orchestrate_core::spec::Architecture;
use orchestrate_core::{Action, Change, Phase, ReporterExt};
use orchestrate_registry::image::{ecr_repository_of, oci_architecture};
use orchestrate_registry::{
    Credentials, EcrLogin, ImageLocation, ImageProblem, Requirement, SyncReport,
};
use serde_json::Value;

use crate::Engine;
use crate::error::EngineError;
use crate::graph::{Graph, Known};

/// Kind of a plan line for an image in the deployment's ECR.
pub const KIND: &str = orchestrate_registry::image::KIND;
/// Kind of a plan line for an image in any other registry.
pub const EXTERNAL_KIND: &str = "registry/image";

/// One image the task definitions run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The reference exactly as the task definitions name it.
    pub image: String,
    /// Every architecture a task running it runs on (ARM64 first).
    pub platforms: Vec<Architecture>,
    /// `Some((repository, tag))` when it lives in this account's ECR (region of the spec).
    pub ecr: Option<(String, String)>,
    /// The upstream image copied into it: set for the deployment's own two repositories only.
    pub upstream: Option<String>,
    /// Whether its ECR repository exists (always true outside ECR).
    pub repository_exists: bool,
}

impl Need {
    /// The short name plan lines and messages use: `repository:tag` in ECR, else the reference.
    pub fn name(&self) -> String {
        match &self.ecr {
            Some((repository, tag)) => format!("{repository}:{tag}"),
            None => self.image.clone(),
        }
    }
}

/// `runtimePlatform.cpuArchitecture` of a RegisterTaskDefinition request (Fargate's default,
/// X86_64, when absent).
fn cpu_architecture(request: &Value) -> Architecture {
    match request
        .pointer("/runtimePlatform/cpuArchitecture")
        .and_then(Value::as_str)
    {
        Some(name) if name == Architecture::Arm64.ecs_name() => Architecture::Arm64,
        _ => Architecture::X86_64,
    }
}

/// Every `containerDefinitions[].image` of a RegisterTaskDefinition request.
fn container_images(request: &Value) -> Vec<String> {
    request
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The images the task definitions of phases 2..=`up_to` run, each with the architectures of
/// the tasks running it (pure; empty for phase 1). Images still unknown (a placeholder, no
/// account id) are left out: such a definition is never registered.
pub fn needs(graph: &Graph<'_>, known: &Known, up_to: Phase) -> Vec<Need> {
    let wiring = graph.wiring(known);
    let mut found: Vec<(String, Vec<Architecture>)> = Vec::new();
    for component in Component::ALL.iter().filter(|c| c.phase() <= up_to) {
        let (request, _) = graph.task_definition(&wiring, *component);
        let architecture = cpu_architecture(&request);
        for image in container_images(&request) {
            if image.starts_with(orchestrate_airflow::wiring::PLACEHOLDER_PREFIX) {
                continue;
            }
            match found.iter_mut().find(|(i, _)| *i == image) {
                Some((_, platforms)) if !platforms.contains(&architecture) => {
                    platforms.push(architecture);
                }
                Some(_) => {}
                None => found.push((image, vec![architecture])),
            }
        }
    }
    let names = &graph.cx.names;
    let spec = graph.spec;
    found
        .into_iter()
        .map(|(image, mut platforms)| {
            platforms.sort_by_key(|a| a.ecs_name());
            let ecr = known.account_id.as_deref().and_then(|account| {
                let (repository, tag) = ecr_repository_of(&image)?;
                (ecr_image_uri(account, &graph.region, &repository, &tag) == image)
                    .then_some((repository, tag))
            });
            let upstream = ecr.as_ref().and_then(|(repository, _)| {
                if *repository == names.repository(orchestrate_registry::AIRFLOW) {
                    Some(spec.image.upstream())
                } else if *repository == names.repository(orchestrate_registry::GIT_SYNC) {
                    Some(spec.git_sync.upstream())
                } else {
                    None
                }
            });
            let repository_exists = upstream.is_none() || known.repository_uris.is_some();
            Need {
                image,
                platforms,
                ecr,
                upstream,
                repository_exists,
            }
        })
        .collect()
}

/// A registry failure as an engine error (its kind decides the exit code: a missing image or
/// platform is 3, a registry that cannot be used 1, a reference that does not parse 2).
fn registry_error(step: &'static str) -> impl FnOnce(orchestrate_registry::Error) -> EngineError {
    move |e| EngineError::step(step, e)
}

/// Logs in to ECR when any image lives there.
async fn login_for(engine: &Engine, needs: &[Need]) -> Result<Option<EcrLogin>, EngineError> {
    if needs.iter().all(|n| n.ecr.is_none()) {
        return Ok(None);
    }
    ecr_login(engine).await.map(Some)
}

/// Logs in to ECR (GetAuthorizationToken).
async fn ecr_login(engine: &Engine) -> Result<EcrLogin, EngineError> {
    orchestrate_registry::ecr_login(&engine.aws.ecr)
        .await
        .map_err(registry_error("log in to ECR"))
}

/// Where to read `need` from: the ECR login's registry for an ECR image, else the reference.
fn location(need: &Need, login: Option<&EcrLogin>) -> Result<ImageLocation, EngineError> {
    let parsed = match (&need.ecr, login) {
        (Some((repository, tag)), Some(login)) => login.image(repository, tag),
        _ => ImageLocation::parse(&need.image, Credentials::Anonymous),
    };
    parsed.map_err(registry_error("read the image reference"))
}

/// What stops `image` from pulling for `platforms` (empty: it resolves for each).
async fn check(
    image: &ImageLocation,
    platforms: &[Architecture],
) -> Result<Vec<ImageProblem>, EngineError> {
    let requirement = Requirement {
        image: image.clone(),
        platforms: platforms.to_vec(),
    };
    match orchestrate_registry::preflight(std::slice::from_ref(&requirement)).await {
        Ok(()) => Ok(Vec::new()),
        Err(orchestrate_registry::Error::Preflight(problems)) => Ok(problems),
        Err(e) => Err(registry_error("check the images (preflight)")(e)),
    }
}

/// Only "the tag does not exist" (what a copy from upstream fixes).
fn only_missing_tag(problems: &[ImageProblem]) -> bool {
    !problems.is_empty()
        && problems
            .iter()
            .all(|p| matches!(p, ImageProblem::NotFound { .. }))
}

/// One problem found, on the image a task definition names (`need`) or on its upstream.
struct Found<'a> {
    need: &'a Need,
    problem: ImageProblem,
    /// The problem is the upstream's (the copy `up` or `plan` would make cannot be made).
    upstream: bool,
}

impl Found<'_> {
    fn line(&self, sync: bool) -> String {
        let need = self.need;
        let image = match (&need.upstream, self.upstream) {
            (Some(upstream), true) => upstream.clone(),
            _ => need.name(),
        };
        let what = match &self.problem {
            ImageProblem::NotFound { .. } => format!("{image} does not exist"),
            ImageProblem::PlatformMissing {
                platform, offered, ..
            } => format!(
                "{image} has no {platform} image (it offers: {})",
                if offered.is_empty() {
                    "nothing for linux".to_string()
                } else {
                    offered.join(", ")
                }
            ),
        };
        let fix = match (&self.problem, &need.upstream, self.upstream) {
            (ImageProblem::NotFound { .. }, Some(_), true) => {
                "set [image] source / airflow_version ([git_sync] image_source / image_tag) to an image that exists".to_string()
            }
            (ImageProblem::NotFound { .. }, Some(upstream), false) => {
                let first = if need.repository_exists {
                    ""
                } else {
                    "`orchestrate up --phase 1` (creates the repository), then "
                };
                let copy = format!("{first}`orchestrate images sync` (copies {upstream})");
                if sync {
                    copy
                } else {
                    format!(
                        "{copy}, or push your own build (scripts/build-image.sh); [image] sync = true lets `up` copy it"
                    )
                }
            }
            (ImageProblem::NotFound { .. }, None, _) => {
                "push the image, or point the spec's [image] / [git_sync] keys at one that exists"
                    .to_string()
            }
            (ImageProblem::PlatformMissing { platform, .. }, Some(upstream), false) => format!(
                "`orchestrate images sync` copies every platform the deployment needs from {upstream}; an image you build must be pushed for {platform} too (scripts/build-image.sh builds both); or run those components on an architecture it offers ([image] architecture)"
            ),
            (ImageProblem::PlatformMissing { platform, .. }, _, _) => format!(
                "use an image built for {platform}, or run those components on an architecture it offers ([image] architecture, [components.*] architecture)"
            ),
        };
        format!("{what}\n    fix: {fix}")
    }
}

/// Exit 3 naming every problem and its fix.
fn failure(found: &[Found<'_>], sync: bool) -> EngineError {
    EngineError::Failed {
        what: "the image preflight".into(),
        reason: format!(
            "{} image problem(s); tasks would stop with CannotPullContainerError:\n  - {}",
            found.len(),
            found
                .iter()
                .map(|f| f.line(sync))
                .collect::<Vec<_>>()
                .join("\n  - ")
        ),
    }
}

fn platform_list(platforms: &[Architecture]) -> String {
    platforms
        .iter()
        .map(|a| format!("linux/{}", oci_architecture(*a)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that every image of `needs` resolves in its registry for every architecture its
/// tasks run on. Read-only.
///
/// # Errors
/// Exit 3 naming each missing image or platform and the fix; exit 1 when a registry cannot
/// be asked.
pub async fn preflight(engine: &Engine, needs: &[Need]) -> Result<(), EngineError> {
    let login = login_for(engine, needs).await?;
    preflight_with(engine, needs, login.as_ref()).await
}

/// [`preflight`] with an ECR login this run already holds (one GetAuthorizationToken).
async fn preflight_with(
    engine: &Engine,
    needs: &[Need],
    login: Option<&EcrLogin>,
) -> Result<(), EngineError> {
    let mut found = Vec::new();
    for need in needs {
        let image = location(need, login)?;
        found.extend(
            check(&image, &need.platforms)
                .await?
                .into_iter()
                .map(|problem| Found {
                    need,
                    problem,
                    upstream: false,
                }),
        );
    }
    if !found.is_empty() {
        return Err(failure(&found, engine.spec.image.sync));
    }
    for need in needs {
        engine.cx.reporter.note(
            KIND,
            format!(
                "{} resolves for {}",
                need.name(),
                platform_list(&need.platforms)
            ),
        );
    }
    Ok(())
}

/// What `up` would do about each image, as plan lines (phase 2): `no change` when it
/// resolves, `create` when its tag is missing and `up` would copy it from its upstream (which
/// is checked too). Read-only.
///
/// # Errors
/// Exit 3 when an image (or the upstream a copy would need) is missing or lacks a platform,
/// with the fix; exit 1 when a registry cannot be asked.
pub async fn plan(engine: &Engine, needs: &[Need]) -> Result<Vec<Change>, EngineError> {
    let sync = engine.spec.image.sync;
    let login = login_for(engine, needs).await?;
    let mut changes = Vec::new();
    let mut found = Vec::new();
    for need in needs {
        let kind = if need.ecr.is_some() {
            KIND
        } else {
            EXTERNAL_KIND
        };
        let image = location(need, login.as_ref())?;
        let problems = if need.repository_exists {
            check(&image, &need.platforms).await?
        } else {
            vec![ImageProblem::NotFound {
                image: image.to_string(),
            }]
        };
        if problems.is_empty() {
            changes.push(Change::new(
                Phase::ApiServer,
                kind,
                &need.name(),
                Action::NoChange,
            ));
            continue;
        }
        match (&need.upstream, sync && only_missing_tag(&problems)) {
            (Some(upstream), true) => {
                let source = ImageLocation::parse(upstream, Credentials::Anonymous)
                    .map_err(registry_error("read the upstream image reference"))?;
                let upstream_problems = check(&source, &need.platforms).await?;
                if upstream_problems.is_empty() {
                    changes.push(Change::new(
                        Phase::ApiServer,
                        kind,
                        &format!("{} (copy of {upstream})", need.name()),
                        Action::Create,
                    ));
                }
                found.extend(upstream_problems.into_iter().map(|problem| Found {
                    need,
                    problem,
                    upstream: true,
                }));
            }
            _ => found.extend(problems.into_iter().map(|problem| Found {
                need,
                problem,
                upstream: false,
            })),
        }
    }
    if found.is_empty() {
        Ok(changes)
    } else {
        Err(failure(&found, sync))
    }
}

/// Copies the upstream of every image of `needs` that has one into its ECR repository. With
/// `only_missing`, only a tag that does not exist is copied, and an image that resolves is
/// not compared with its upstream at all (no upstream registry is contacted on a converged
/// deployment).
///
/// # Errors
/// Exit 3 when an upstream tag or platform does not exist; exit 1 when a registry cannot be
/// reached or refuses.
pub async fn sync(
    engine: &Engine,
    needs: &[Need],
    only_missing: bool,
) -> Result<Vec<SyncReport>, EngineError> {
    if needs.iter().all(|n| n.upstream.is_none()) {
        return Ok(Vec::new());
    }
    let login = login_for(engine, needs).await?;
    sync_with(engine, needs, only_missing, login.as_ref()).await
}

/// [`sync`] with an ECR login this run already holds (one GetAuthorizationToken).
async fn sync_with(
    engine: &Engine,
    needs: &[Need],
    only_missing: bool,
    login: Option<&EcrLogin>,
) -> Result<Vec<SyncReport>, EngineError> {
    let copies: Vec<&Need> = needs.iter().filter(|n| n.upstream.is_some()).collect();
    let mut reports = Vec::new();
    for need in copies {
        let Some(upstream) = &need.upstream else {
            continue;
        };
        let target = location(need, login)?;
        if only_missing && !only_missing_tag(&check(&target, &need.platforms).await?) {
            continue;
        }
        let source = ImageLocation::parse(upstream, Credentials::Anonymous)
            .map_err(registry_error("read the upstream image reference"))?;
        let report = orchestrate_registry::sync(&engine.cx, &source, &target, &need.platforms)
            .await
            .map_err(registry_error("copy the image into ECR"))?;
        reports.push(report);
    }
    Ok(reports)
}

/// What `up` runs at the start of phase 2, before anything of phase 2 is created: copies
/// every missing tag from its upstream with every platform the whole deployment needs
/// (`deployment`: all phases, so a later `up` of the Spot workers finds linux/amd64 beside the
/// Graviton components' linux/arm64 — a tag that exists is never rewritten), unless
/// `[image] sync = false`; then [`preflight`] of the phases this run deploys (`needs`).
///
/// # Errors
/// As [`sync`] and [`preflight`].
pub async fn converge(
    engine: &Engine,
    deployment: &[Need],
    needs: &[Need],
) -> Result<(), EngineError> {
    if needs.is_empty() {
        return Ok(());
    }
    // One ECR login serves the copy and the preflight.
    let sync = engine.spec.image.sync && deployment.iter().any(|n| n.upstream.is_some());
    let copied: &[Need] = if sync { deployment } else { &[] };
    let login = if needs.iter().chain(copied).any(|n| n.ecr.is_some()) {
        Some(ecr_login(engine).await?)
    } else {
        None
    };
    if sync {
        for report in sync_with(engine, deployment, true, login.as_ref()).await? {
            engine.cx.reporter.note(
                KIND,
                format!(
                    "copied {} into {}: {} blob(s), {} bytes",
                    report.source, report.target, report.blobs_copied, report.bytes_copied
                ),
            );
        }
    }
    preflight_with(engine, needs, login.as_ref()).await
}

#[cfg(test)]
mod tests {
    use orchestrate_core::progress::Silent;
    use orchestrate_core::{Context, Spec, Timing};
    use std::sync::Arc;

    use super::*;
    use crate::error::{EXIT_DEPLOY_FAILED, EXIT_INVALID};

    const ACCOUNT: &str = "123456789012";

    fn cx() -> Context {
        Context::new(
            "demo",
            Default::default(),
            Arc::new(Silent),
            Timing { scale: 0.001 },
        )
    }

    fn known(repositories: bool) -> Known {
        let uri = |image: &str| format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo/{image}");
        Known {
            account_id: Some(ACCOUNT.into()),
            repository_uris: repositories.then(|| (uri("airflow"), uri("git-sync"))),
            ..Known::default()
        }
    }

    fn needs_of(spec: &Spec, known: &Known, up_to: Phase) -> Vec<Need> {
        let cx = cx();
        let graph = Graph::new(spec, &cx, "us-east-1", &["us-east-1a".into()]);
        needs(&graph, known, up_to)
    }

    fn with_dags() -> Spec {
        let mut spec = Spec::minimal("demo", "us-east-1");
        spec.git_sync.repo = "https://github.com/example-org/dags.git".into();
        spec
    }

    #[test]
    fn phase_one_runs_no_image() {
        assert!(needs_of(&with_dags(), &known(true), Phase::Storage).is_empty());
    }

    #[test]
    fn graviton_components_and_a_spot_worker_need_both_platforms_of_the_task_definitions_images() {
        let spec = with_dags();
        let all = needs_of(&spec, &known(true), Phase::Worker);
        assert_eq!(all.len(), 2, "{all:?}");
        let airflow = &all[0];
        assert_eq!(
            airflow.image,
            format!(
                "{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo/airflow:{}",
                spec.image.tag
            )
        );
        assert_eq!(
            airflow.platforms,
            vec![Architecture::Arm64, Architecture::X86_64]
        );
        assert_eq!(
            airflow.ecr,
            Some(("demo/airflow".to_string(), spec.image.tag.clone()))
        );
        assert_eq!(
            airflow.upstream.as_deref(),
            Some(format!("apache/airflow:{}", spec.image.airflow_version).as_str())
        );
        assert!(airflow.repository_exists);
        assert_eq!(all[1].name(), "demo/git-sync:v4.4.0");
        assert_eq!(
            all[1].upstream.as_deref(),
            Some("registry.k8s.io/git-sync/git-sync:v4.4.0")
        );

        let api_only = needs_of(&spec, &known(true), Phase::ApiServer);
        assert_eq!(api_only[0].platforms, vec![Architecture::Arm64]);

        let mut x86 = spec.clone();
        x86.image.architecture = Architecture::X86_64;
        for need in needs_of(&x86, &known(true), Phase::Worker) {
            assert_eq!(need.platforms, vec![Architecture::X86_64], "{need:?}");
        }
    }

    #[test]
    fn without_git_sync_only_the_airflow_image_is_needed() {
        let spec = Spec::minimal("demo", "us-east-1");
        let all = needs_of(&spec, &known(false), Phase::Worker);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name(), format!("demo/airflow:{}", spec.image.tag));
        assert!(
            !all[0].repository_exists,
            "no repository observed yet (plan on an empty account)"
        );
    }

    #[test]
    fn an_image_of_your_own_is_checked_but_never_copied() {
        let mut spec = Spec::minimal("demo", "us-east-1");
        spec.image.repository = "ghcr.io/acme/airflow".into();
        spec.image.tag = "abc123".into();
        let all = needs_of(&spec, &known(true), Phase::Worker);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].image, "ghcr.io/acme/airflow:abc123");
        assert_eq!(all[0].ecr, None);
        assert_eq!(all[0].upstream, None);
        assert!(all[0].repository_exists);
    }

    #[test]
    fn images_not_known_yet_are_left_out() {
        let spec = with_dags();
        assert!(needs_of(&spec, &Known::default(), Phase::Worker).is_empty());
    }

    #[test]
    fn a_missing_tag_names_the_image_and_the_fixing_command() {
        let need = &needs_of(&with_dags(), &known(false), Phase::Worker)[0];
        let missing = Found {
            need,
            problem: ImageProblem::NotFound {
                image: "127.0.0.1:5000/demo/airflow:3.3.2".into(),
            },
            upstream: false,
        };
        let error = failure(&[missing], false);
        assert_eq!(error.exit_code(), EXIT_DEPLOY_FAILED);
        let text = error.to_string();
        assert!(text.contains("demo/airflow:"), "{text}");
        assert!(text.contains("does not exist"), "{text}");
        assert!(text.contains("`orchestrate up --phase 1`"), "{text}");
        assert!(text.contains("`orchestrate images sync`"), "{text}");
        assert!(text.contains("[image] sync = true"), "{text}");
    }

    #[test]
    fn a_missing_platform_names_it_and_a_missing_upstream_names_the_upstream() {
        let need = &needs_of(&with_dags(), &known(true), Phase::Worker)[0];
        let found = [
            Found {
                need,
                problem: ImageProblem::PlatformMissing {
                    image: "x".into(),
                    platform: "linux/arm64".into(),
                    offered: vec!["amd64".into()],
                },
                upstream: false,
            },
            Found {
                need,
                problem: ImageProblem::NotFound { image: "y".into() },
                upstream: true,
            },
        ];
        let text = failure(&found, true).to_string();
        assert!(
            text.contains("has no linux/arm64 image (it offers: amd64)"),
            "{text}"
        );
        assert!(text.contains("scripts/build-image.sh"), "{text}");
        assert!(text.contains("apache/airflow:"), "{text}");
        assert!(text.contains("[image] source"), "{text}");
    }

    #[test]
    fn an_invalid_reference_is_exit_2() {
        let invalid = registry_error("copy")(orchestrate_registry::Error::InvalidReference {
            image: "x".into(),
            message: "bad".into(),
        });
        assert_eq!(invalid.exit_code(), EXIT_INVALID);
    }
}
