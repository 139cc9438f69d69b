//! `orchestrate teardown services|all`: delete over the deployment graph, in reverse order.
//!
//! `all` deletes data, so it is a deliberate act: `--yes`, or on a terminal the deployment's
//! name typed back. Without either it is refused with exit 2 before any AWS call.

use std::io::{BufRead, IsTerminal, Write};

use orchestrate_engine::error::{EXIT_OK, EngineError};
use orchestrate_engine::graph::TeardownScope;
use orchestrate_engine::{DataOptions, LeaseRequest, TeardownReport};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat, TeardownArgs, TeardownWhat};
use crate::output::outln;

/// The engine's scope for a command-line choice.
pub fn scope(what: TeardownWhat) -> TeardownScope {
    match what {
        TeardownWhat::Services => TeardownScope::Services,
        TeardownWhat::All => TeardownScope::All,
    }
}

/// Confirms `teardown all`: `--yes`, or the deployment's name typed on a terminal.
fn confirm(name: &str, args: &TeardownArgs) -> Result<(), EngineError> {
    if args.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(EngineError::Usage(format!(
            "`teardown all` deletes deployment {name}'s data (RDS, Valkey, secrets) and needs \
             --yes when not run on a terminal; nothing was deleted"
        )));
    }
    eprint!(
        "This deletes deployment {name} entirely: RDS ({}), Valkey, secrets, network. \
         Type the deployment's name to confirm: ",
        if args.skip_final_snapshot {
            "no final snapshot"
        } else {
            "after a final snapshot"
        }
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| EngineError::Other(format!("failed to read the confirmation: {e}")))?;
    if line.trim() == name {
        Ok(())
    } else {
        Err(EngineError::Usage(format!(
            "the name typed does not match {name}; nothing was deleted"
        )))
    }
}

/// Runs the teardown and prints what was deleted.
pub async fn run(global: &GlobalArgs, args: &TeardownArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let name = loaded.spec.deployment.name.clone();
    let scope = scope(args.what);
    if scope == TeardownScope::All {
        confirm(&name, args)?;
    } else if args.skip_final_snapshot || args.force || args.delete_images {
        return Err(EngineError::Usage(
            "--skip-final-snapshot, --force and --delete-images apply to `teardown all` only; \
             `teardown services` never touches storage"
                .into(),
        ));
    }
    let options = DataOptions {
        skip_final_snapshot: args.skip_final_snapshot,
        force: args.force,
        delete_images: args.delete_images,
    };
    let (engine, progress) = engine_for(global, &loaded).await?;
    let started = std::time::Instant::now();
    let lease = LeaseRequest {
        command: format!("teardown {}", scope.name()),
        break_lock: args.break_lock,
    };
    let report = engine.teardown(scope, options, &lease).await;
    progress.finish();
    let report = report?;
    print(global, &name, &report, started.elapsed());
    Ok(EXIT_OK)
}

fn print(global: &GlobalArgs, name: &str, report: &TeardownReport, took: std::time::Duration) {
    match global.output {
        OutputFormat::Json => {
            crate::document::print(&crate::document::success(crate::document::body(report)));
        }
        OutputFormat::Text => {
            if report.already_gone {
                outln!(
                    "{name}: nothing to delete, the {} are already gone.",
                    report.scope
                );
                return;
            }
            outln!("{name}: teardown {} finished in {took:.1?}.", report.scope);
            for deleted in &report.deleted {
                outln!("  - {deleted}");
            }
            for kept in &report.kept {
                outln!("  kept {kept} (it holds images; --delete-images removes it)");
            }
            if let Some(snapshot) = &report.final_snapshot {
                outln!("  final RDS snapshot: {snapshot}");
            }
            if report.scope == "services" {
                outln!(
                    "Storage (phase 1) is untouched; `orchestrate up` brings the services back."
                );
            }
        }
    }
}
