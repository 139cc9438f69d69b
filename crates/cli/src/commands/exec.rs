//! `orchestrate exec <component> [-- cmd]`: a shell in a running task through ECS Exec,
//! carried by AWS's Session Manager plugin.

use std::path::PathBuf;

use orchestrate_engine::error::{EXIT_OTHER, EngineError};

use super::logs::component;
use super::{engine_for, load_valid_spec};
use crate::args::{ExecArgs, GlobalArgs, OutputFormat};
use crate::output::errln;

/// The plugin's executable name.
pub const PLUGIN: &str = "session-manager-plugin";

/// Where the plugin is installed, searching PATH.
pub fn find_plugin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(PLUGIN))
        .find(|candidate| candidate.is_file())
}

/// Opens the session and hands the terminal to the plugin; exits with its exit code.
pub async fn run(global: &GlobalArgs, args: &ExecArgs) -> Result<u8, EngineError> {
    let Some(plugin) = find_plugin() else {
        let message = format!(
            "`orchestrate exec` needs AWS's Session Manager plugin ({PLUGIN}), which is not on \
             PATH"
        );
        let hint = "install it from \
             https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html \
             (Debian/Ubuntu: the session-manager-plugin .deb; macOS: `brew install --cask \
             session-manager-plugin`), then run this again";
        errln!("error: {message}.\nhint: {hint}");
        if global.output == OutputFormat::Json {
            crate::document::print(&crate::document::failure(
                serde_json::Value::Null,
                &crate::document::Failure {
                    kind: orchestrate_core::ErrorKind::Io,
                    exit_code: EXIT_OTHER,
                    message: &message,
                    hint: Some(hint),
                },
            ));
        }
        return Ok(EXIT_OTHER);
    };
    let loaded = load_valid_spec(global, false)?;
    let component = component(args.component)?;
    let command = if args.command.is_empty() {
        "/bin/bash".to_string()
    } else {
        args.command.join(" ")
    };
    let (engine, progress) = engine_for(global, &loaded).await?;
    let target = engine.exec_session(component, &command).await;
    progress.finish();
    let target = target?;
    errln!(
        "exec in task {} container {}: {command}",
        target.task_id,
        target.container
    );
    let session = serde_json::json!({
        "SessionId": target.session.session_id,
        "StreamUrl": target.session.stream_url,
        "TokenValue": target.session.token.expose(),
    });
    let parameters = serde_json::json!({ "Target": target.session.target });
    let endpoint = global
        .endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://ssm.{}.amazonaws.com", target.region));
    let status = tokio::process::Command::new(&plugin)
        .arg(session.to_string())
        .arg(&target.region)
        .arg("StartSession")
        // The plugin's profile argument: empty means the default chain (as the AWS CLI passes).
        .arg(global.profile.as_deref().unwrap_or(""))
        .arg(parameters.to_string())
        .arg(endpoint)
        .status()
        .await
        .map_err(|e| EngineError::Other(format!("failed to start {}: {e}", plugin.display())))?;
    let exit = status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(EXIT_OTHER);
    if global.output == OutputFormat::Json {
        let body = serde_json::json!({
            "task_id": target.task_id,
            "container": target.container,
            "command": command,
            "session_exit_code": status.code(),
        });
        let message = format!("the session ended with exit code {exit}");
        crate::document::print(&if exit == 0 {
            crate::document::success(body)
        } else {
            crate::document::failure(
                body,
                &crate::document::Failure {
                    kind: orchestrate_core::ErrorKind::Failed,
                    exit_code: exit,
                    message: &message,
                    hint: None,
                },
            )
        });
    }
    Ok(exit)
}
