//! `orchestrate images sync | check`: the deployment's images in ECR.

use orchestrate_core::Phase;
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, ImagesCommand, OutputFormat};
use crate::output::outln;

/// Copies the upstream images into ECR (`sync`) or checks them (`check`), then prints what
/// happened per image.
pub async fn run(global: &GlobalArgs, command: &ImagesCommand) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    match command {
        ImagesCommand::Sync(args) => {
            let up_to = Phase::from_number(args.phase).unwrap_or(Phase::Worker);
            let reports = engine.images_sync(up_to).await;
            progress.finish();
            let reports = reports?;
            match global.output {
                OutputFormat::Json => {
                    let rows: Vec<serde_json::Value> = reports
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "source": r.source,
                                "target": r.target,
                                "digest": r.digest,
                                "up_to_date": r.up_to_date,
                                "manifests": r.manifests,
                                "blobs_copied": r.blobs_copied,
                                "blobs_skipped": r.blobs_skipped,
                                "bytes_copied": r.bytes_copied,
                            })
                        })
                        .collect();
                    crate::document::print(&crate::document::success(serde_json::json!({
                        "phase": up_to.number(),
                        "phase_name": up_to.name(),
                        "images": rows,
                    })));
                }
                OutputFormat::Text => {
                    if reports.is_empty() {
                        outln!("No image to copy: every image is your own (see docs/images.md).");
                    }
                    for r in &reports {
                        if r.up_to_date {
                            outln!("{} is up to date ({})", r.target, r.digest);
                        } else {
                            outln!(
                                "{} -> {}: {} blob(s) copied ({} bytes), {} already there, {} platform manifest(s); digest {}",
                                r.source,
                                r.target,
                                r.blobs_copied,
                                r.bytes_copied,
                                r.blobs_skipped,
                                r.manifests,
                                r.digest
                            );
                        }
                    }
                }
            }
        }
        ImagesCommand::Check(args) => {
            let up_to = Phase::from_number(args.phase).unwrap_or(Phase::Worker);
            let checked = engine.images_check(up_to).await;
            progress.finish();
            checked?;
            if global.output == OutputFormat::Text {
                outln!("Every image resolves for every architecture through {up_to}.");
            } else {
                crate::document::print(&crate::document::success(serde_json::json!({
                    "phase": up_to.number(),
                    "phase_name": up_to.name(),
                    "resolved": true,
                })));
            }
        }
    }
    Ok(EXIT_OK)
}
