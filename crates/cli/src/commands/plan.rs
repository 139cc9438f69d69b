//! `orchestrate plan`: what `up` would do, from read-only AWS calls.
//!
//! Lists what would be created, updated or deleted; resources left alone only with `-v`.
//! `--detailed-exitcode`: 0 nothing to change, 2 changes, 1 any error (the error's own code is
//! replaced by 1 in [`super::run`]).

use orchestrate_core::Phase;
use orchestrate_engine::error::{EXIT_INVALID, EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::output::outln;

/// `--detailed-exitcode`: the plan has changes.
pub const CHANGES: u8 = EXIT_INVALID;

/// Prints one line per change (and per unchanged resource with `-v`) and a summary.
pub async fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let up_to = Phase::from_number(args.phase).unwrap_or(Phase::Worker);
    let (engine, progress) = engine_for(global, &loaded).await?;
    let teardown = args.teardown.map(super::teardown::scope);
    let plan = match teardown {
        Some(scope) => engine.plan_teardown(scope).await,
        None => engine.plan(up_to).await,
    };
    let skew = match teardown {
        Some(_) => Ok(Vec::new()),
        None => engine.version_skew(up_to).await,
    };
    progress.finish();
    let plan = plan?;
    let mut notes = super::spec_notes(&loaded.spec);
    notes.extend(skew?);
    match global.output {
        OutputFormat::Json => {
            let (create, update, delete, unchanged) = plan.counts();
            let mut body = crate::document::body(&plan);
            if let Some(map) = body.as_object_mut() {
                let (phase, phase_name) = match teardown {
                    Some(_) => (serde_json::Value::Null, serde_json::Value::Null),
                    None => (up_to.number().into(), up_to.name().into()),
                };
                map.insert("phase".into(), phase);
                map.insert("phase_name".into(), phase_name);
                map.insert("teardown".into(), teardown.map(|scope| scope.name()).into());
                map.insert("converged".into(), plan.is_converged().into());
                map.insert(
                    "counts".into(),
                    serde_json::json!({"create": create, "update": update,
                                       "delete": delete, "unchanged": unchanged}),
                );
                map.insert("notes".into(), notes.clone().into());
            }
            crate::document::print(&crate::document::success(body));
        }
        OutputFormat::Text => {
            let mut current = None;
            for change in &plan.changes {
                if !change.is_mutation() && global.verbose == 0 {
                    continue;
                }
                if current != Some(change.phase) {
                    outln!("{}", change.phase);
                    current = Some(change.phase);
                }
                outln!("  {change}");
            }
            for note in &notes {
                outln!("note: {note}");
            }
            let (create, update, delete, unchanged) = plan.counts();
            if let Some(scope) = teardown {
                if delete == 0 {
                    outln!(
                        "Nothing to delete: the deployment's {} are already gone.",
                        scope.name()
                    );
                } else {
                    outln!("Teardown {}: {delete} to delete.", scope.name());
                }
            } else if plan.is_converged() {
                outln!("No changes: {unchanged} resource(s) up to date through {up_to}.");
            } else {
                outln!(
                    "Plan: {create} to create, {update} to update, {delete} to delete, {unchanged} unchanged{}.",
                    if global.verbose == 0 && unchanged > 0 {
                        " (-v lists them)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(if args.detailed_exitcode && !plan.is_converged() {
        CHANGES
    } else {
        EXIT_OK
    })
}
