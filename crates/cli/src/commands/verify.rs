//! `orchestrate verify`: the account checks `plan` and `up` run first, on their own.
//!
//! Prints every check with its verdict (passed, FAILED, warning, not checkable) and, for a
//! failure or a warning, the fix. Exit 0 when nothing failed, 2 otherwise.

use orchestrate_engine::error::{EXIT_INVALID, EXIT_OK, EngineError};
use orchestrate_engine::verify::Verdict;

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat};
use crate::output::{errln, outln};

/// Runs every check and prints the report.
pub async fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let report = engine.verify().await;
    progress.finish();
    let report = report?;
    let name = &loaded.spec.deployment.name;
    let failures = report.failures().len();
    let warnings = report.warnings().len();
    let checked = report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::NotChecked)
        .count();
    match global.output {
        OutputFormat::Json => {
            let body = serde_json::json!({
                "deployment": name,
                "region": report.region,
                "passed": report.passed(),
                "findings": crate::document::body(&report.findings),
            });
            let message = format!("verify: {failures} check(s) of the account failed");
            let failure = crate::document::Failure {
                kind: orchestrate_core::ErrorKind::Invalid,
                exit_code: EXIT_INVALID,
                message: &message,
                hint: None,
            };
            crate::document::print(&crate::document::outcome(
                body,
                (!report.passed()).then_some(&failure),
            ));
        }
        OutputFormat::Text => {
            outln!("{name} in {}:", report.region);
            for finding in &report.findings {
                let mark = match finding.verdict {
                    Verdict::Passed => "ok     ",
                    Verdict::Failed => "FAILED ",
                    Verdict::Warning => "warning",
                    Verdict::NotChecked => "n/a    ",
                };
                outln!("  {mark} {}: {}", finding.check.id(), finding.message);
                if let Some(fix) = &finding.fix
                    && finding.verdict != Verdict::Passed
                {
                    outln!("          fix: {fix}");
                }
            }
            if failures == 0 {
                outln!(
                    "Verified: {checked} check(s), {warnings} warning(s); nothing in the account \
                     stops `up`."
                );
            } else {
                errln!(
                    "error: verify: {failures} check(s) of the account failed; `up` would change \
                     nothing until they are fixed"
                );
            }
        }
    }
    Ok(if failures == 0 { EXIT_OK } else { EXIT_INVALID })
}
