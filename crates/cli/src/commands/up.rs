//! `orchestrate up`: converge phases 1..N.

use orchestrate_core::Phase;
use orchestrate_engine::LeaseRequest;
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat, UpArgs};

/// Converges, streaming progress to stderr, and prints what was built.
pub async fn run(global: &GlobalArgs, args: &UpArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, true)?;
    let up_to = Phase::from_number(args.phase).unwrap_or(Phase::Worker);
    let (engine, progress) = engine_for(global, &loaded).await?;
    let started = std::time::Instant::now();
    let lease = LeaseRequest {
        command: format!("up --phase {}", up_to.number()),
        break_lock: args.break_lock,
    };
    let report = engine.up(up_to, &lease).await;
    progress.finish();
    let report = report?;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        OutputFormat::Text => {
            println!(
                "{} converged through {up_to} in {:.1?}.",
                loaded.spec.deployment.name,
                started.elapsed()
            );
            for (key, value) in &report.outputs {
                println!("  {key}: {value}");
            }
        }
    }
    Ok(EXIT_OK)
}
