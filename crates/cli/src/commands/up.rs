//! `orchestrate up`: converge phases 1..N.
//!
//! Prints one summary line (what changed, how long), the outputs with `-v`, and after phase 2
//! or later how to log in: the Airflow URL, the admin user and the AWS CLI command that reads
//! the admin password — never the password itself.

use orchestrate_core::Phase;
use orchestrate_engine::LeaseRequest;
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat, UpArgs};
use crate::output::outln;

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
    // A phase-limited `up` that moved the Airflow version: say which later services did not.
    if up_to < Phase::Worker {
        for note in engine.version_skew(up_to).await? {
            crate::output::errln!("warning: {note}");
        }
    }
    let extra = cli_arguments(global);
    match global.output {
        OutputFormat::Json => {
            let mut doc = crate::document::body(&report);
            if let Some(map) = doc.as_object_mut() {
                map.insert("phase_name".into(), up_to.name().into());
                map.insert("changed".into(), progress.applied().into());
                map.insert(
                    "admin_password_command".into(),
                    report
                        .login
                        .as_ref()
                        .map(|login| login.password_command(&extra))
                        .into(),
                );
            }
            crate::document::print(&crate::document::success(doc));
        }
        OutputFormat::Text => {
            let applied = progress.applied();
            outln!(
                "{} converged through {up_to} in {:.1?}: {}.",
                loaded.spec.deployment.name,
                started.elapsed(),
                match applied {
                    0 => "nothing changed".to_string(),
                    n => format!("{n} resource(s) created, updated or adopted"),
                }
            );
            if global.verbose > 0 {
                for (key, value) in &report.outputs {
                    outln!("  {key}: {value}");
                }
            }
            if let Some(login) = &report.login {
                outln!("Airflow:  {}", login.url);
                outln!("user:     {}", login.admin_user);
                outln!("password: {}", login.password_command(&extra));
            }
        }
    }
    Ok(EXIT_OK)
}

/// The AWS CLI arguments that reach the same account and endpoint as this run.
fn cli_arguments(global: &GlobalArgs) -> Vec<String> {
    let mut extra = Vec::new();
    if let Some(profile) = &global.profile {
        extra.push(format!("--profile {profile}"));
    }
    if let Some(endpoint) = &global.endpoint_url {
        extra.push(format!("--endpoint-url {endpoint}"));
    }
    extra
}
