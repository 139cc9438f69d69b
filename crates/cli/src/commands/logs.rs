//! `orchestrate logs <component>`: the CloudWatch log of a component's tasks.

use orchestrate_airflow::Component;
use orchestrate_core::sensitive::redact;
use orchestrate_engine::error::{EXIT_OK, EngineError};
use orchestrate_engine::operate::logs::{LogLine, LogsRequest};

use super::{engine_for, load_valid_spec};
use crate::args::{ComponentArg, GlobalArgs, LogsArgs, OutputFormat};
use crate::output::{errln, outln};

/// The engine's component for a command-line one.
pub fn component(arg: ComponentArg) -> Result<Component, EngineError> {
    orchestrate_engine::operate::component_named(arg.name())
        .ok_or_else(|| EngineError::Usage(format!("unknown component {}", arg.name())))
}

/// `2026-01-02T03:04:05.678Z` of milliseconds since the epoch.
pub fn format_timestamp(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// One log line as it appears in a JSON document's `lines` (redacted).
pub fn line_json(line: &LogLine) -> serde_json::Value {
    serde_json::json!({
        "timestamp": format_timestamp(line.timestamp),
        "task": line.task_id,
        "container": line.container,
        "message": redact(&line.message),
    })
}

/// Shows one log line: on stdout as `<time> <task>/<container> <message>` (redacted), or, with
/// `--output json`, kept in `lines` for the command's one JSON document.
pub fn take_line(format: OutputFormat, lines: &mut Vec<serde_json::Value>, line: &LogLine) {
    match format {
        OutputFormat::Json => lines.push(line_json(line)),
        OutputFormat::Text => {
            let task: String = line.task_id.chars().take(8).collect();
            outln!(
                "{} {task}/{} {}",
                format_timestamp(line.timestamp),
                line.container,
                redact(&line.message)
            );
        }
    }
}

/// Prints the log, then with `--follow` new lines until Ctrl-C (exit 0).
pub async fn run(global: &GlobalArgs, args: &LogsArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    engine.arm_redaction().await;
    let request = LogsRequest {
        component: component(args.component)?,
        task: args.task.clone(),
        since: Some(args.since),
        follow: args.follow,
    };
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let mut lines = Vec::new();
    let result = engine
        .logs(
            &request,
            |line| take_line(global.output, &mut lines, line),
            stop,
        )
        .await;
    progress.finish();
    let printed = result?;
    if global.output == OutputFormat::Json {
        crate::document::print(&crate::document::success(serde_json::json!({
            "component": args.component.name(),
            "lines": lines,
        })));
    } else if printed == 0 && !args.follow {
        errln!(
            "no log lines of {} in the last {}s",
            args.component.name(),
            args.since.as_secs()
        );
    }
    Ok(EXIT_OK)
}
