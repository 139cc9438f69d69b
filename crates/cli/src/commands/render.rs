//! `orchestrate render task-definitions`: the exact RegisterTaskDefinition requests.
//!
//! Rendered offline from the spec: values that only AWS knows (ARNs, the account id, the ECR
//! URI) appear as clearly marked `<pending: ...>` placeholders. Secrets appear only as
//! `valueFrom` references, never as values.

use orchestrate_airflow::{Wiring, render_all, to_json};
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::load_valid_spec;
use crate::args::{GlobalArgs, OutputFormat, RenderArgs, RenderWhat};

/// Prints every component's task definition as AWS API JSON.
pub fn run(global: &GlobalArgs, args: &RenderArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    match args.what {
        RenderWhat::TaskDefinitions => {
            let wiring = Wiring::pending(&loaded.spec);
            let definitions: Vec<serde_json::Value> = render_all(&loaded.spec, &wiring)
                .iter()
                .map(to_json)
                .collect();
            let text = match global.output {
                OutputFormat::Json => serde_json::to_string(&definitions),
                OutputFormat::Text => serde_json::to_string_pretty(&definitions),
            }
            .map_err(|e| {
                EngineError::Other(format!("failed to serialise task definitions: {e}"))
            })?;
            println!("{text}");
        }
    }
    Ok(EXIT_OK)
}
