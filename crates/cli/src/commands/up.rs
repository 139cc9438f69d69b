//! `orchestrate up`: converge phases 1..N.
//!
//! Prints one summary line (what changed, how long), the outputs with `-v`, and after phase 2
//! or later how to log in: the Airflow URL, the admin user and the AWS CLI command that reads
//! the admin password — never the password itself. With `--timings[=PATH]` it writes the
//! run's Gantt chart (`orchestrate_engine::timings`) and prints the five longest bars; the
//! chart is written for a failed run too.

use std::sync::Arc;

use orchestrate_core::{ErrorKind, Names, Phase};
use orchestrate_engine::LeaseRequest;
use orchestrate_engine::error::{EXIT_OK, EngineError};
use orchestrate_engine::timings::{Bar, Chart, Timeline, seconds};

use super::{engine_reporting_to, load_valid_spec, progress_for};
use crate::args::{GlobalArgs, OutputFormat, UpArgs};
use crate::output::outln;

/// Converges, streaming progress to stderr, and prints what was built.
pub async fn run(global: &GlobalArgs, args: &UpArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, true)?;
    let up_to = Phase::from_number(args.phase).unwrap_or(Phase::Worker);
    // Every run records its timeline; `--timings` writes it out.
    let progress = progress_for(global, &loaded);
    let timeline = Arc::new(Timeline::new(progress.clone()));
    let engine = engine_reporting_to(global, &loaded, timeline.clone()).await?;
    let started = std::time::Instant::now();
    let lease = LeaseRequest {
        command: format!("up --phase {}", up_to.number()),
        break_lock: args.break_lock,
    };
    let report = engine.up(up_to, &lease).await;
    progress.finish();
    let timings = match &args.timings {
        Some(path) => {
            let chart = timeline.chart(&Names::new(&loaded.spec.deployment.name));
            let title = format!(
                "orchestrate up --phase {} of {}",
                up_to.number(),
                loaded.spec.deployment.name
            );
            std::fs::write(path, chart.html(&title)).map_err(|e| EngineError::Step {
                step: format!("write the timings to {}", path.display()),
                source: Box::new(e),
                kind: ErrorKind::Io,
            })?;
            if report.is_err() {
                crate::output::errln!("timings of the failed run: {}", path.display());
            }
            Some((path, chart))
        }
        None => None,
    };
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
                if let Some((path, chart)) = &timings {
                    map.insert("timings".into(), timings_json(path, chart));
                }
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
            if let Some((path, chart)) = &timings {
                outln!(
                    "timings:  {} ({} resources in {}, critical path {})",
                    path.display(),
                    chart.bars.len(),
                    seconds(chart.total),
                    seconds(chart.critical_total())
                );
                outln!("longest:");
                for bar in chart.longest(LONGEST) {
                    outln!("  {}", longest_line(bar));
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// How many of the longest bars `--timings` prints.
const LONGEST: usize = 5;

/// One of the longest bars: `6.02 s  phase 1  rds/db-instance demo-metadata (critical path)`.
fn longest_line(bar: &Bar) -> String {
    format!(
        "{:>9}  {:<8} {}{}",
        seconds(bar.duration()),
        bar.phase
            .map_or_else(|| "-".to_string(), |p| format!("phase {}", p.number())),
        bar.label(),
        if bar.critical { " (critical path)" } else { "" }
    )
}

/// The `timings` member of `up`'s JSON document.
fn timings_json(path: &std::path::Path, chart: &Chart) -> serde_json::Value {
    serde_json::json!({
        "path": path.display().to_string(),
        "resources": chart.bars.len(),
        "total_seconds": chart.total.as_secs_f64(),
        "critical_path_seconds": chart.critical_total().as_secs_f64(),
        "longest": chart.longest(LONGEST).iter().map(|bar| serde_json::json!({
            "resource": bar.label(),
            "phase": bar.phase.map(|p| p.number()),
            "seconds": bar.duration().as_secs_f64(),
            "waited_seconds": bar.wait.map(|w| bar.end.saturating_sub(w).as_secs_f64()),
            "critical": bar.critical,
        })).collect::<Vec<_>>(),
    })
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
