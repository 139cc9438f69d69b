//! `orchestrate doctor`: known failure signatures -> evidence -> fix.

use orchestrate_core::sensitive::redact;
use orchestrate_engine::error::{EXIT_DEPLOY_FAILED, EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat};

/// Prints one line when healthy (exit 0), else every finding (exit 3).
pub async fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    engine.arm_redaction().await;
    let findings = engine.doctor().await;
    progress.finish();
    let findings = findings?;
    let name = &loaded.spec.deployment.name;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            redact(
                &serde_json::to_string_pretty(&serde_json::json!({ "findings": findings }))
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            )
        ),
        OutputFormat::Text if findings.is_empty() => {
            println!("{name}: healthy, no known failure signature found");
        }
        OutputFormat::Text => {
            println!("{name}: {} finding(s)", findings.len());
            for finding in &findings {
                println!();
                println!("[{}] {}", finding.id, finding.component);
                for quote in &finding.evidence {
                    println!("  evidence: {}", redact(quote));
                }
                println!("  meaning:  {}", finding.meaning);
                println!("  fix:      {}", finding.fix);
            }
        }
    }
    Ok(if findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_DEPLOY_FAILED
    })
}
