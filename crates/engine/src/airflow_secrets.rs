//! `orchestrate connections|variables set|list|delete`: Airflow's connections and variables
//! in Secrets Manager, under the prefixes the secrets backend reads
//! ([`orchestrate_secrets::airflow`]).
//!
//! # Guarantees
//! - The value is a [`Sensitive`] from the moment the CLI read it; nothing here formats it.
//! - An id is checked ([`orchestrate_core::access::is_airflow_secret_id`]) before any AWS
//!   call, and a connection's value must look like a connection (a URI `scheme://…` or a JSON
//!   object) — the message says which, never what the value was.
//! - No lease: these commands touch only their own secret, which `up` never writes.

use orchestrate_core::access::{CONNECTIONS, VARIABLES, is_airflow_secret_id};
use orchestrate_core::{ReporterExt, Sensitive};
use orchestrate_secrets::airflow::{self as store, Written};

use crate::Engine;
use crate::error::EngineError;

/// Which kind of Airflow secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// An Airflow connection (`conn_id`).
    Connection,
    /// An Airflow variable (`key`).
    Variable,
}

impl SecretKind {
    /// The prefix segment: `connections` or `variables`.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Connection => CONNECTIONS,
            SecretKind::Variable => VARIABLES,
        }
    }

    /// `connection` or `variable`.
    pub fn noun(self) -> &'static str {
        match self {
            SecretKind::Connection => "connection",
            SecretKind::Variable => "variable",
        }
    }
}

/// What `set` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// The secret's name.
    pub secret: String,
    /// `created`, `updated` or `unchanged`.
    pub action: &'static str,
}

/// Refuses an id that cannot name a secret under the prefix.
///
/// # Errors
/// [`EngineError::Usage`].
pub fn check_id(kind: SecretKind, id: &str) -> Result<(), EngineError> {
    if is_airflow_secret_id(id) {
        return Ok(());
    }
    // The id is not shown: a value typed where the id belongs must not be echoed.
    Err(EngineError::Usage(format!(
        "the {} id is not usable (it is not shown, in case it is a value): use 1 to 250 \
         letters, digits and _ . @ + = -, starting with a letter, digit or _ (no /)",
        kind.noun()
    )))
}

/// Refuses a value that cannot be what it claims: empty, or (for a connection) neither a
/// URI nor a JSON object. The message never contains the value.
///
/// # Errors
/// [`EngineError::Usage`].
pub fn check_value(kind: SecretKind, value: &Sensitive) -> Result<(), EngineError> {
    let text = value.expose();
    if text.is_empty() {
        return Err(EngineError::Usage(format!(
            "the {} value is empty: write it on stdin (or in the --file)",
            kind.noun()
        )));
    }
    if kind == SecretKind::Connection {
        let trimmed = text.trim_start();
        let is_json = trimmed.starts_with('{')
            && serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object());
        let is_uri = text.split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'))
        }) && !text.contains(char::is_whitespace);
        if !is_json && !is_uri {
            return Err(EngineError::Usage(
                "the connection value is neither a connection URI (scheme://user:password@host:port/schema?extra=…) \
                 nor a JSON object ({\"conn_type\": …}); the value is not shown"
                    .into(),
            ));
        }
    }
    Ok(())
}

impl Engine {
    /// Writes `value` as connection or variable `id` (created, or rewritten only when it
    /// differs).
    ///
    /// # Errors
    /// [`EngineError::Usage`] for a bad id or value; a failed AWS call.
    pub async fn airflow_secret_set(
        &self,
        kind: SecretKind,
        id: &str,
        value: &Sensitive,
    ) -> Result<SetReport, EngineError> {
        check_id(kind, id)?;
        check_value(kind, value)?;
        if !self.spec.airflow.secrets_backend {
            self.cx.reporter.note(
                kind.prefix(),
                "[airflow] secrets_backend is off: Airflow will not read this until it is on",
            );
        }
        let (secret, written): (String, Written) =
            store::set(&self.aws.secrets, &self.cx, kind.prefix(), id, value)
                .await
                .map_err(|e| EngineError::step(format!("write {} {id}", kind.noun()), e))?;
        Ok(SetReport {
            secret,
            action: written.as_str(),
        })
    }

    /// The ids stored for the deployment, sorted.
    ///
    /// # Errors
    /// A failed AWS call.
    pub async fn airflow_secret_list(&self, kind: SecretKind) -> Result<Vec<String>, EngineError> {
        store::list(&self.aws.secrets, &self.cx, kind.prefix())
            .await
            .map_err(|e| EngineError::step(format!("list {}", kind.prefix()), e))
    }

    /// Schedules the deletion of `id` (recovery window unless `force`). Returns the secret's
    /// name and whether it existed.
    ///
    /// # Errors
    /// [`EngineError::Usage`] for a bad id; a failed AWS call.
    pub async fn airflow_secret_delete(
        &self,
        kind: SecretKind,
        id: &str,
        force: bool,
    ) -> Result<(String, bool), EngineError> {
        check_id(kind, id)?;
        let existed = store::delete(&self.aws.secrets, &self.cx, kind.prefix(), id, force)
            .await
            .map_err(|e| EngineError::step(format!("delete {} {id}", kind.noun()), e))?;
        Ok((store::secret_name(&self.cx, kind.prefix(), id), existed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_values_are_checked_without_showing_the_value() {
        assert!(check_id(SecretKind::Connection, "my_db").is_ok());
        for bad in ["", "a/b", "x y", "-x", "postgresql://u:pw@h/x"] {
            let err = check_id(SecretKind::Connection, bad)
                .expect_err(bad)
                .to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        for good in [
            "postgresql://u:p%40ss@db.example.com:5432/x",
            "aws://",
            r#"{"conn_type": "http", "host": "example.com"}"#,
        ] {
            assert!(
                check_value(SecretKind::Connection, &Sensitive::new(good)).is_ok(),
                "{good}"
            );
        }
        for bad in ["hunter2-not-a-uri", "[1, 2]", "", "post gres://x"] {
            let err = check_value(SecretKind::Connection, &Sensitive::new(bad))
                .expect_err(bad)
                .to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        assert!(check_value(SecretKind::Variable, &Sensitive::new("any text at all")).is_ok());
        assert!(check_value(SecretKind::Variable, &Sensitive::new("")).is_err());
    }
}
