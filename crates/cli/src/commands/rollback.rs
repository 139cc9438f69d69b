//! `orchestrate rollback [--phase N | <component>]`: services back to their previous revision.

use orchestrate_core::Phase;
use orchestrate_engine::error::{EXIT_OK, EngineError};
use orchestrate_engine::operate::rollback::RollbackScope;

use super::logs::component;
use super::{engine_for, load_valid_spec};
use crate::args::{ComponentArg, GlobalArgs, OutputFormat, RollbackArgs};
use crate::output::outln;

/// Rolls back, waiting like `up`, and prints each service's from → to.
pub async fn run(global: &GlobalArgs, args: &RollbackArgs) -> Result<u8, EngineError> {
    let scope = match (args.component, args.phase) {
        (Some(ComponentArg::Migration), _) => {
            return Err(EngineError::Usage(
                "the migration is a one-off task, not a service: roll back the api-server \
                 instead"
                    .into(),
            ));
        }
        (Some(arg), _) => RollbackScope::Component(component(arg)?),
        (None, Some(n)) => RollbackScope::Phase(
            Phase::from_number(n).ok_or_else(|| EngineError::Usage(format!("no phase {n}")))?,
        ),
        (None, None) => RollbackScope::All,
    };
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let lease = orchestrate_engine::LeaseRequest {
        command: "rollback".to_string(),
        break_lock: args.break_lock,
    };
    let moved = engine.rollback(scope, &lease).await;
    progress.finish();
    let moved = moved?;
    match global.output {
        OutputFormat::Json => crate::document::print(&crate::document::success(
            serde_json::json!({ "rolled_back": crate::document::body(&moved) }),
        )),
        OutputFormat::Text => {
            for m in &moved {
                outln!("rolled back {}: {} -> {}", m.service, m.from, m.to);
                for note in &m.notes {
                    outln!("  note: {note}");
                }
            }
        }
    }
    Ok(EXIT_OK)
}
