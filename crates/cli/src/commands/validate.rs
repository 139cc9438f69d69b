//! `orchestrate validate`: the spec checked offline, every rule, no AWS call.

use orchestrate_core::spec::load;
use orchestrate_core::validate::{Severity, validate};
use orchestrate_engine::error::{EXIT_INVALID, EXIT_OK, EngineError};

use crate::args::{GlobalArgs, OutputFormat};
use crate::output::outln;

/// Runs the rules and prints every finding with its place. Never builds an AWS client.
pub fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load::load(&global.config)?;
    let findings = validate(&loaded.spec);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    match global.output {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "rule": f.rule, "severity": f.severity, "path": f.path,
                        "origin": loaded.origin(&f.path).to_string(), "message": f.message, "fix": f.fix,
                    })
                })
                .collect();
            let body = serde_json::json!({"valid": errors == 0, "errors": errors, "warnings": warnings, "findings": items});
            let message = format!("the spec has {errors} error(s)");
            let failure = crate::document::Failure {
                kind: orchestrate_core::ErrorKind::Invalid,
                exit_code: EXIT_INVALID,
                message: &message,
                hint: None,
            };
            crate::document::print(&crate::document::outcome(
                body,
                (errors > 0).then_some(&failure),
            ));
        }
        OutputFormat::Text => {
            for finding in &findings {
                outln!("{}: {finding}", loaded.origin(&finding.path));
            }
            if errors == 0 {
                outln!("{}: valid ({warnings} warning(s))", global.config.display());
            } else {
                outln!(
                    "{}: {errors} error(s), {warnings} warning(s)",
                    global.config.display()
                );
            }
        }
    }
    Ok(if errors == 0 { EXIT_OK } else { EXIT_INVALID })
}
