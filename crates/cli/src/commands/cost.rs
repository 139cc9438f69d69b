//! `orchestrate cost`: the monthly estimate of the spec, per resource, beside MWAA.
//!
//! Offline (no AWS call) and priced in the spec's region (`deployment.region`; `--region`
//! prices another). The table and its assumptions are printed with the figures so nobody
//! mistakes an estimate for a bill.

use orchestrate_cost::Estimate;
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::load_valid_spec;
use crate::args::{GlobalArgs, OutputFormat};
use crate::output::outln;

/// Prints the estimate as a table, or as one JSON document with `--output json`.
pub fn run(global: &GlobalArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let region = global
        .region
        .clone()
        .unwrap_or_else(|| loaded.spec.deployment.region.clone());
    let estimate = orchestrate_engine::cost::estimate(&loaded.spec, &region)?;
    match global.output {
        OutputFormat::Json => {
            crate::document::print(&crate::document::success(crate::document::body(&estimate)));
        }
        OutputFormat::Text => {
            let text = table(&loaded.spec.deployment.name, &estimate);
            outln!("{}", text.trim_end());
        }
    }
    Ok(EXIT_OK)
}

/// The estimate as text: one line per resource, the total, MWAA, the assumptions.
pub fn table(name: &str, e: &Estimate) -> String {
    let width = e
        .items
        .iter()
        .chain(&e.mwaa)
        .map(|l| l.resource.len())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "{name}: estimated monthly cost in {} (USD, list prices as of {})\n\n",
        e.region, e.prices_as_of
    );
    for l in &e.items {
        out.push_str(&format!(
            "  {:<width$}  {:>9.2}  {}\n",
            l.resource, l.monthly_usd, l.detail
        ));
    }
    out.push_str(&format!("  {:<width$}  {:>9.2}\n\n", "total", e.total_usd));
    out.push_str(&format!(
        "Comparable MWAA environment ({}):\n",
        e.mwaa_class
    ));
    for l in &e.mwaa {
        out.push_str(&format!(
            "  {:<width$}  {:>9.2}  {}\n",
            l.resource, l.monthly_usd, l.detail
        ));
    }
    out.push_str(&format!(
        "  {:<width$}  {:>9.2}\n\n",
        "total", e.mwaa_total_usd
    ));
    out.push_str("Assumptions:\n");
    for a in &e.assumptions {
        out.push_str(&format!("  - {a}\n"));
    }
    out.push_str("Prices: docs/cost.md; sources:\n");
    for s in &e.sources {
        out.push_str(&format!("  {s}\n"));
    }
    out
}
