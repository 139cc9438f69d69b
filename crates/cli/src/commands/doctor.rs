//! `orchestrate doctor`: known failure signatures -> evidence -> fix.

use orchestrate_core::sensitive::redact;
use orchestrate_engine::error::{EXIT_DEPLOY_FAILED, EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat};
use crate::output::outln;

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
        OutputFormat::Json => {
            let body = serde_json::json!({
                "deployment": name,
                "healthy": findings.is_empty(),
                "findings": crate::document::body(&findings),
            });
            let message = format!("{} known failure signature(s) found", findings.len());
            let failure = crate::document::Failure {
                kind: orchestrate_core::ErrorKind::Failed,
                exit_code: EXIT_DEPLOY_FAILED,
                message: &message,
                hint: None,
            };
            crate::document::print(&crate::document::outcome(
                body,
                (!findings.is_empty()).then_some(&failure),
            ));
        }
        OutputFormat::Text if findings.is_empty() => {
            outln!("{name}: healthy, no known failure signature found");
        }
        OutputFormat::Text => {
            outln!("{name}: {} finding(s)", findings.len());
            for finding in &findings {
                outln!("");
                outln!("[{}] {}", finding.id, finding.component);
                for quote in &finding.evidence {
                    outln!("  evidence: {}", redact(quote));
                }
                outln!("  meaning:  {}", finding.meaning);
                outln!("  fix:      {}", finding.fix);
            }
        }
    }
    Ok(if findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_DEPLOY_FAILED
    })
}
