//! Images: which images the deployment runs and on which CPU architectures, copying the
//! upstream ones into the deployment's ECR repositories ([`sync`], `orchestrate images sync`),
//! and checking before phase 2 registers anything that each resolves for every architecture
//! its tasks run on ([`preflight`]).
//!
//! # Guarantees
//! - The images and architectures come from the spec the same way the task definitions do:
//!   the Airflow image for the migration task and every component of phases 2..=`up_to`
//!   (each at its own architecture; a Spot worker is x86_64), the git-sync image for the
//!   components that read DAGs when `[git_sync].repo` is set.
//! - An image in one of the deployment's ECR repositories (`[image].repository` /
//!   `[git_sync].image` empty) is reached through GetAuthorizationToken's registry; any other
//!   reference is read anonymously (public registries) and never synced.
//! - [`preflight`] is read-only; [`sync`] only writes to the deployment's ECR repositories.
//! - A missing image or platform is exit 3 ([`EXIT_DEPLOY_FAILED`]); a registry that cannot be
//!   reached is exit 1. No registry password or token is ever part of an error or an event.

use std::collections::BTreeSet;

use orchestrate_airflow::Component;
use orchestrate_core::spec::Architecture;
use orchestrate_core::{Phase, ReporterExt};
use orchestrate_registry::image::oci_architecture;
use orchestrate_registry::{Credentials, EcrLogin, ImageLocation, Requirement, SyncReport};

use crate::Engine;
use crate::error::EngineError;

/// Which of the deployment's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// The Airflow image every component runs.
    Airflow,
    /// The git-sync sidecar.
    GitSync,
}

impl Image {
    /// The ECR repository image name (`airflow`, `git-sync`).
    pub fn name(self) -> &'static str {
        match self {
            Image::Airflow => orchestrate_registry::AIRFLOW,
            Image::GitSync => orchestrate_registry::GIT_SYNC,
        }
    }
}

/// One image the deployment runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Which image.
    pub image: Image,
    /// Every architecture a task using it runs on.
    pub platforms: Vec<Architecture>,
    /// `Some((repository name, tag))` when it lives in the deployment's ECR repository.
    pub ecr: Option<(String, String)>,
    /// The reference as the spec names it when it is not in the deployment's ECR.
    pub external: Option<String>,
    /// The upstream image `sync` copies from (ECR images only).
    pub upstream: Option<String>,
}

/// The images of phases 2..=`up_to` and their architectures (pure; empty for phase 1).
pub fn needs(engine: &Engine, up_to: Phase) -> Vec<Need> {
    let spec = &engine.spec;
    let names = &engine.cx.names;
    let mut components = Vec::new();
    if up_to > Phase::Storage {
        components.push(Component::Migration);
    }
    for phase in [
        Phase::ApiServer,
        Phase::Scheduler,
        Phase::Triggerer,
        Phase::Worker,
    ] {
        if phase <= up_to {
            components.extend_from_slice(crate::graph::components_of(phase));
        }
    }
    if components.is_empty() {
        return Vec::new();
    }
    let platforms = |cs: &mut dyn Iterator<Item = &Component>| -> Vec<Architecture> {
        let set: BTreeSet<&str> = cs.map(|c| c.architecture(spec).ecs_name()).collect();
        [Architecture::Arm64, Architecture::X86_64]
            .into_iter()
            .filter(|a| set.contains(a.ecs_name()))
            .collect()
    };
    let mut out = vec![if spec.image.repository.trim().is_empty() {
        Need {
            image: Image::Airflow,
            platforms: platforms(&mut components.iter()),
            ecr: Some((
                names.repository(Image::Airflow.name()),
                spec.image.tag.clone(),
            )),
            external: None,
            upstream: Some(spec.image.upstream()),
        }
    } else {
        Need {
            image: Image::Airflow,
            platforms: platforms(&mut components.iter()),
            ecr: None,
            external: Some(format!("{}:{}", spec.image.repository, spec.image.tag)),
            upstream: None,
        }
    }];
    if orchestrate_airflow::environment::git_sync_enabled(spec) {
        let mut readers = components.iter().filter(|c| c.reads_dags());
        let platforms = platforms(&mut readers);
        if !platforms.is_empty() {
            out.push(if spec.git_sync.image.trim().is_empty() {
                Need {
                    image: Image::GitSync,
                    platforms,
                    ecr: Some((
                        names.repository(Image::GitSync.name()),
                        spec.git_sync.image_tag.clone(),
                    )),
                    external: None,
                    upstream: Some(spec.git_sync.upstream()),
                }
            } else {
                Need {
                    image: Image::GitSync,
                    platforms,
                    ecr: None,
                    external: Some(format!(
                        "{}:{}",
                        spec.git_sync.image, spec.git_sync.image_tag
                    )),
                    upstream: None,
                }
            });
        }
    }
    out
}

/// A registry failure's exit code follows its kind: a missing image or platform is a failed
/// deploy (3), a registry that cannot be used is 1.
fn registry_error(step: &'static str) -> impl FnOnce(orchestrate_registry::Error) -> EngineError {
    move |e| EngineError::step(step, e)
}

async fn login(engine: &Engine) -> Result<EcrLogin, EngineError> {
    orchestrate_registry::ecr_login(&engine.aws.ecr)
        .await
        .map_err(registry_error("log in to ECR"))
}

fn location(need: &Need, login: Option<&EcrLogin>) -> Result<ImageLocation, EngineError> {
    let parsed = match (&need.ecr, &need.external, login) {
        (Some((repository, tag)), _, Some(login)) => login.image(repository, tag),
        (_, Some(reference), login) => {
            // Another repository of the same ECR registry takes the same login.
            let credentials = match login {
                Some(l) if reference.starts_with(&format!("{}/", l.registry())) => l.credentials(),
                _ => Credentials::Anonymous,
            };
            ImageLocation::parse(reference, credentials)
        }
        _ => {
            return Err(EngineError::Other(format!(
                "the {} image has no reference; this is a bug",
                need.image.name()
            )));
        }
    };
    parsed.map_err(registry_error("read the image reference"))
}

/// Checks that every image of phases 2..=`up_to` resolves in its registry for every
/// architecture its tasks run on. Read-only; call it before registering any task definition.
///
/// # Errors
/// Exit 3 naming each missing image or platform and the fix (`orchestrate images sync`);
/// exit 1 when a registry cannot be asked.
pub async fn preflight(engine: &Engine, up_to: Phase) -> Result<(), EngineError> {
    let needs = needs(engine, up_to);
    if needs.is_empty() {
        return Ok(());
    }
    let login = if needs.iter().any(|n| n.ecr.is_some()) {
        Some(login(engine).await?)
    } else {
        None
    };
    let mut requirements = Vec::new();
    for need in &needs {
        requirements.push(Requirement {
            image: location(need, login.as_ref())?,
            platforms: need.platforms.clone(),
        });
    }
    orchestrate_registry::preflight(&requirements)
        .await
        .map_err(registry_error("check the images (preflight)"))?;
    for r in &requirements {
        let platforms: Vec<&str> = r.platforms.iter().map(|a| oci_architecture(*a)).collect();
        engine.cx.reporter.note(
            orchestrate_registry::image::KIND,
            format!(
                "{} resolves for linux/{}",
                r.image,
                platforms.join(", linux/")
            ),
        );
    }
    Ok(())
}

/// Copies the upstream images of phases 2..=`up_to` into the deployment's ECR repositories
/// (images outside them are left alone). With `only_missing`, an image whose tag already
/// resolves there for every architecture is not compared with its upstream at all (what `up`
/// does: no upstream registry is contacted on a converged deployment).
///
/// # Errors
/// Exit 3 when an upstream tag or platform does not exist; exit 1 when a registry cannot be
/// reached or refuses.
pub async fn sync(
    engine: &Engine,
    up_to: Phase,
    only_missing: bool,
) -> Result<Vec<SyncReport>, EngineError> {
    let needs: Vec<Need> = needs(engine, up_to)
        .into_iter()
        .filter(|n| n.ecr.is_some())
        .collect();
    if needs.is_empty() {
        return Ok(Vec::new());
    }
    let login = login(engine).await?;
    let mut reports = Vec::new();
    for need in &needs {
        let target = location(need, Some(&login))?;
        if only_missing {
            let requirement = Requirement {
                image: target.clone(),
                platforms: need.platforms.clone(),
            };
            match orchestrate_registry::preflight(std::slice::from_ref(&requirement)).await {
                Ok(()) => continue,
                Err(orchestrate_registry::Error::Preflight(_)) => {}
                Err(e) => return Err(registry_error("check the images in ECR")(e)),
            }
        }
        let Some(upstream) = &need.upstream else {
            continue;
        };
        let source = ImageLocation::parse(upstream, Credentials::Anonymous)
            .map_err(registry_error("read the upstream image reference"))?;
        let report = orchestrate_registry::sync(&engine.cx, &source, &target, &need.platforms)
            .await
            .map_err(registry_error("copy the image into ECR"))?;
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use aws_types::SdkConfig;
    use aws_types::region::Region;
    use orchestrate_core::progress::Silent;
    use orchestrate_core::{Context, Spec, Timing};

    use super::*;
    use crate::aws::AwsContext;

    fn engine(spec: Spec) -> Engine {
        let config = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let cx = Context::new(
            "demo",
            Default::default(),
            Arc::new(Silent),
            Timing { scale: 0.001 },
        );
        Engine {
            aws: AwsContext::from_config(config),
            cx,
            spec,
            lock_path: PathBuf::from("x.lock"),
        }
    }

    #[test]
    fn a_missing_image_is_exit_3_and_an_invalid_reference_exit_2() {
        let missing = registry_error("copy")(orchestrate_registry::Error::ImageNotFound {
            image: "docker.io/apache/airflow:9.9.9".into(),
        });
        assert_eq!(missing.exit_code(), 3);
        assert!(
            missing
                .to_string()
                .contains("apache/airflow:9.9.9 does not exist")
        );
        let invalid = registry_error("copy")(orchestrate_registry::Error::InvalidReference {
            image: "x".into(),
            message: "bad".into(),
        });
        assert_eq!(
            invalid.exit_code(),
            2,
            "a spec value that is no image reference"
        );
    }

    #[test]
    fn phase_one_needs_no_image() {
        let spec = Spec::minimal("demo", "us-east-1");
        assert!(needs(&engine(spec), Phase::Storage).is_empty());
    }

    #[test]
    fn graviton_components_and_a_spot_worker_need_both_platforms() {
        let mut spec = Spec::minimal("demo", "us-east-1");
        spec.git_sync.repo = "https://github.com/example-org/dags.git".into();
        let all = needs(&engine(spec.clone()), Phase::Worker);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].image, Image::Airflow);
        assert_eq!(
            all[0].platforms,
            vec![Architecture::Arm64, Architecture::X86_64]
        );
        assert_eq!(
            all[0].ecr,
            Some(("demo/airflow".to_string(), spec.image.tag.clone()))
        );
        assert_eq!(
            all[0].upstream.as_deref(),
            Some(format!("apache/airflow:{}", spec.image.airflow_version).as_str())
        );
        assert_eq!(all[1].image, Image::GitSync);
        assert_eq!(
            all[1].upstream.as_deref(),
            Some("registry.k8s.io/git-sync/git-sync:v4.4.0")
        );

        let api_only = needs(&engine(spec.clone()), Phase::ApiServer);
        assert_eq!(api_only[0].platforms, vec![Architecture::Arm64]);

        spec.image.architecture = Architecture::X86_64;
        let x86 = needs(&engine(spec), Phase::Worker);
        assert_eq!(x86[0].platforms, vec![Architecture::X86_64]);
    }

    #[test]
    fn an_image_of_your_own_is_checked_but_never_synced() {
        let mut spec = Spec::minimal("demo", "us-east-1");
        spec.image.repository = "ghcr.io/acme/airflow".into();
        spec.image.tag = "abc123".into();
        let all = needs(&engine(spec), Phase::Worker);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].ecr, None);
        assert_eq!(all[0].upstream, None);
        assert_eq!(
            all[0].external.as_deref(),
            Some("ghcr.io/acme/airflow:abc123")
        );
    }
}
