//! `orchestrate variables set | list | delete`: Airflow variables for the secrets backend
//! (the same code as `connections`, another prefix; see [`super::connections`]).

use orchestrate_engine::airflow_secrets::SecretKind;
use orchestrate_engine::error::EngineError;

use crate::args::{AirflowSecretCommand, GlobalArgs};

/// Runs `variables <command>`.
pub async fn run(global: &GlobalArgs, command: &AirflowSecretCommand) -> Result<u8, EngineError> {
    super::connections::run_kind(global, SecretKind::Variable, command).await
}
