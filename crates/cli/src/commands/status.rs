//! `orchestrate status`: every resource of the deployment and its state.

use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat};
use crate::output::outln;

/// Prints one line per resource with its state.
pub async fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let status = engine.status().await;
    progress.finish();
    let status = status?;
    match global.output {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        ),
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
        }
    }
    Ok(EXIT_OK)
}
