//! `orchestrate connections set | list | delete`: Airflow connections for the secrets backend.
//!
//! The value comes from stdin or `--file`, never from argv (a value given there is refused
//! without being echoed), and is wrapped in a [`Sensitive`] as soon as it is read, so every
//! later output — progress, `-v` logs, errors, JSON — has it redacted.

use std::io::{IsTerminal, Read};

use orchestrate_core::Sensitive;
use orchestrate_engine::airflow_secrets::SecretKind;
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::{engine_for, load_valid_spec};
use crate::args::{AirflowSecretCommand, AirflowSecretSetArgs, GlobalArgs, OutputFormat};
use crate::output::outln;

/// Runs `connections <command>`.
pub async fn run(global: &GlobalArgs, command: &AirflowSecretCommand) -> Result<u8, EngineError> {
    run_kind(global, SecretKind::Connection, command).await
}

/// Largest value read (Secrets Manager stores at most 64 KiB per secret).
const MAX_VALUE_BYTES: u64 = 65_536;

/// Reads the value: the file, else stdin (refused when stdin is a terminal, where it would
/// be echoed). One trailing newline is dropped.
fn read_value(kind: SecretKind, args: &AirflowSecretSetArgs) -> Result<Sensitive, EngineError> {
    if !args.refused_value.is_empty() {
        return Err(EngineError::Usage(format!(
            "a {} value on the command line is refused (it would stay in the shell history and \
             show in `ps`); the argument is not shown. Pipe it in (`... | orchestrate {}s set {}`) \
             or use --file",
            kind.noun(),
            kind.noun(),
            args.id
        )));
    }
    let mut bytes = Vec::new();
    let read = match &args.file {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(MAX_VALUE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| format!("failed to read {}: {e}", path.display())),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(EngineError::Usage(format!(
                    "reading the {} value from a terminal would echo it: pipe it in \
                     (`orchestrate {}s set {} < FILE`) or use --file",
                    kind.noun(),
                    kind.noun(),
                    args.id
                )));
            }
            stdin
                .lock()
                .take(MAX_VALUE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("failed to read stdin: {e}"))
        }
    };
    read.map_err(EngineError::Usage)?;
    if bytes.len() as u64 > MAX_VALUE_BYTES {
        return Err(EngineError::Usage(format!(
            "the {} value is larger than {MAX_VALUE_BYTES} bytes (Secrets Manager's limit)",
            kind.noun()
        )));
    }
    let Ok(mut text) = String::from_utf8(bytes) else {
        return Err(EngineError::Usage(format!(
            "the {} value is not UTF-8 text",
            kind.noun()
        )));
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Sensitive::new(text))
}

/// Runs `<kind>s <command>`.
pub async fn run_kind(
    global: &GlobalArgs,
    kind: SecretKind,
    command: &AirflowSecretCommand,
) -> Result<u8, EngineError> {
    // Read and check before anything else: a refused value stops the command before any AWS
    // call, and the value is registered for redaction before any output.
    let value = match command {
        AirflowSecretCommand::Set(args) => {
            orchestrate_engine::airflow_secrets::check_id(kind, &args.id)?;
            let value = read_value(kind, args)?;
            orchestrate_engine::airflow_secrets::check_value(kind, &value)?;
            Some(value)
        }
        _ => None,
    };
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let noun = kind.noun();
    match (command, value) {
        (AirflowSecretCommand::Set(args), Some(value)) => {
            let report = engine.airflow_secret_set(kind, &args.id, &value).await;
            progress.finish();
            let report = report?;
            match global.output {
                OutputFormat::Json => {
                    crate::document::print(&crate::document::success(serde_json::json!({
                        "kind": noun,
                        "id": args.id,
                        "secret": report.secret,
                        "action": report.action,
                    })))
                }
                OutputFormat::Text => {
                    outln!("{noun} {}: {} ({})", args.id, report.action, report.secret);
                }
            }
        }
        (AirflowSecretCommand::List, _) => {
            let ids = engine.airflow_secret_list(kind).await;
            progress.finish();
            let ids = ids?;
            match global.output {
                OutputFormat::Json => crate::document::print(&crate::document::success(
                    serde_json::json!({ "kind": noun, "ids": ids }),
                )),
                OutputFormat::Text => {
                    for id in &ids {
                        outln!("{id}");
                    }
                }
            }
        }
        (AirflowSecretCommand::Delete(args), _) => {
            let deleted = engine
                .airflow_secret_delete(kind, &args.id, args.force)
                .await;
            progress.finish();
            let (secret, existed) = deleted?;
            match global.output {
                OutputFormat::Json => {
                    crate::document::print(&crate::document::success(serde_json::json!({
                        "kind": noun,
                        "id": args.id,
                        "secret": secret,
                        "deleted": existed,
                    })))
                }
                OutputFormat::Text if !existed => {
                    outln!("{noun} {}: no such {noun} ({secret})", args.id);
                }
                OutputFormat::Text if args.force => {
                    outln!("{noun} {}: deleted ({secret})", args.id);
                }
                OutputFormat::Text => outln!(
                    "{noun} {}: scheduled for deletion, recoverable for 30 days \
                     (aws secretsmanager restore-secret --secret-id {secret})",
                    args.id
                ),
            }
        }
        (AirflowSecretCommand::Set(_), None) => {
            return Err(EngineError::Other("internal: no value was read".into()));
        }
    }
    Ok(EXIT_OK)
}
