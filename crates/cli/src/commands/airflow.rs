//! `orchestrate airflow -- <args>`: the Airflow CLI as a one-off Fargate task.

use orchestrate_core::sensitive::redact;
use orchestrate_engine::error::EngineError;

use super::logs::take_line;
use super::{engine_for, load_valid_spec};
use crate::args::{AirflowArgs, GlobalArgs, OutputFormat};
use crate::output::errln;

/// Runs the task, streams its log to stdout, and exits with its exit code.
pub async fn run(global: &GlobalArgs, args: &AirflowArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    engine.arm_redaction().await;
    let mut lines = Vec::new();
    let outcome = engine
        .airflow(&args.args, |line| {
            take_line(global.output, &mut lines, line)
        })
        .await;
    progress.finish();
    let outcome = outcome?;
    let Some(code) = outcome.exit_code else {
        let mut reason = outcome
            .stopped_reason
            .clone()
            .unwrap_or_else(|| "(no reason given)".into());
        for container in &outcome.containers {
            if let Some(why) = &container.reason {
                reason.push_str(&format!("; container {}: {why}", container.name));
            }
        }
        return Err(EngineError::Failed {
            what: format!("the airflow task {}", outcome.task_id),
            reason: format!("it never ran its command: {}", redact(&reason)),
        });
    };
    let summary = format!(
        "airflow {} (task {}) exited {code}",
        args.args.join(" "),
        outcome.task_id
    );
    errln!("{summary}");
    // Exit codes are 0..=255; anything else (a signal) reads as a failure.
    let exit = u8::try_from(code).unwrap_or(1);
    if global.output == OutputFormat::Json {
        let body = serde_json::json!({
            "args": args.args,
            "task_id": outcome.task_id,
            "task_exit_code": code,
            "lines": lines,
        });
        crate::document::print(&if exit == 0 {
            crate::document::success(body)
        } else {
            crate::document::failure(
                body,
                &crate::document::Failure {
                    kind: orchestrate_core::ErrorKind::Failed,
                    exit_code: exit,
                    message: &summary,
                    hint: None,
                },
            )
        });
    }
    Ok(exit)
}
