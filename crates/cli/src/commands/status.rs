//! `orchestrate status`: every resource of the deployment and its state, and a verdict.
//!
//! Exit 0 when the deployment is healthy or not deployed at all, 3 when a resource of a
//! deployed phase is absent or cannot serve (see the README's exit-code table).

use orchestrate_core::ErrorKind;
use orchestrate_engine::Health;
use orchestrate_engine::error::{EXIT_OK, EngineError, exit_code_for};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat};
use crate::output::outln;

/// Prints one line per resource with its state, then the verdict.
pub async fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let status = engine.status().await;
    progress.finish();
    let status = status?;
    let health = status.health();
    match global.output {
        OutputFormat::Json => {
            let mut doc = crate::document::body(&status);
            let (verdict, through, problems) = match &health {
                Health::NotDeployed => ("not-deployed", None, Vec::new()),
                Health::Healthy { through } => ("healthy", Some(through.number()), Vec::new()),
                Health::Degraded { through, problems } => {
                    ("degraded", Some(through.number()), problems.clone())
                }
            };
            let message = format!(
                "degraded: {} resource(s) absent or not serving",
                problems.len()
            );
            let degraded = !problems.is_empty();
            if let Some(map) = doc.as_object_mut() {
                map.insert(
                    "deployment".into(),
                    loaded.spec.deployment.name.clone().into(),
                );
                map.insert("region".into(), engine.region().into());
                map.insert("health".into(), verdict.into());
                map.insert("deployed_through".into(), through.into());
                map.insert("problems".into(), problems.into());
            }
            crate::document::print(&if degraded {
                crate::document::failure(
                    doc,
                    &crate::document::Failure {
                        kind: ErrorKind::Failed,
                        exit_code: exit_code_for(ErrorKind::Failed),
                        message: &message,
                        hint: Some("`orchestrate doctor` names known causes"),
                    },
                )
            } else {
                crate::document::success(doc)
            });
        }
        OutputFormat::Text => {
            outln!(
                "deployment {} ({})",
                loaded.spec.deployment.name,
                engine.region()
            );
            let width = status
                .resources
                .iter()
                .map(|r| r.kind.len())
                .max()
                .unwrap_or(0);
            for r in &status.resources {
                outln!("  {:<width$}  {:<40}  {}", r.kind, r.name, r.state);
            }
            match &health {
                Health::NotDeployed => outln!("not deployed: no resource exists"),
                Health::Healthy { through } => outln!("healthy through {through}"),
                Health::Degraded { through, problems } => outln!(
                    "degraded: {} resource(s) of phases 1-{} absent or not serving: {}",
                    problems.len(),
                    through.number(),
                    problems.join("; ")
                ),
            }
        }
    }
    Ok(match health {
        Health::Degraded { .. } => exit_code_for(ErrorKind::Failed),
        Health::NotDeployed | Health::Healthy { .. } => EXIT_OK,
    })
}
