//! Secrets whose value is derived from phase-1 outputs (connection URLs): rewritten only when
//! the value they should hold differs from the one they hold.

use aws_sdk_secretsmanager::Client;
use orchestrate_core::{Context, ReporterExt, Sensitive};

use crate::error::Result;
use crate::secret::{self, Created, KIND};
use crate::snapshot::Stored;

/// `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` ([`orchestrate_core::sensitive::sqlalchemy_url`]).
pub const SQL_ALCHEMY_CONN: &str = "sql-alchemy-conn";
/// `AIRFLOW__CELERY__RESULT_BACKEND` ([`orchestrate_core::sensitive::result_backend_url`]).
pub const RESULT_BACKEND: &str = "result-backend";
/// `AIRFLOW__CELERY__BROKER_URL` ([`orchestrate_core::sensitive::broker_url`]).
pub const BROKER_URL: &str = "broker-url";

/// Every derived key, in a stable order.
pub const DERIVED_KEYS: [&str; 3] = [SQL_ALCHEMY_CONN, RESULT_BACKEND, BROKER_URL];

/// Ensures the derived secret `key` holds `value`: creates it (with tags) when absent,
/// restores it when scheduled for deletion, and writes a new version only when the stored
/// value differs. Zero mutating calls when it already holds `value` (one DescribeSecret and
/// one GetSecretValue). Returns its ARN.
///
/// # Errors
/// [`crate::Error::Describe`], [`crate::Error::Create`], [`crate::Error::Restore`],
/// [`crate::Error::GetValue`], [`crate::Error::PutValue`], [`crate::Error::NotVisible`].
pub async fn ensure_derived(
    client: &Client,
    cx: &Context,
    key: &str,
    value: &Sensitive,
) -> Result<String> {
    ensure_derived_with(client, cx, key, value, None).await
}

/// [`ensure_derived`] starting from `known`, the secret as a
/// [`Snapshot`](crate::snapshot::Snapshot) listed it: no DescribeSecret, and the stored value
/// compared is the snapshot's (read earlier in the same run, under the run's lease) instead of
/// a GetSecretValue. Zero calls when it already holds `value`. `None` behaves as
/// [`ensure_derived`].
///
/// # Errors
/// As [`ensure_derived`].
pub async fn ensure_derived_with(
    client: &Client,
    cx: &Context,
    key: &str,
    value: &Sensitive,
    known: Option<&Stored>,
) -> Result<String> {
    let name = cx.names.secret(key);
    let found = match known {
        Some(stored) => Some(stored.observed.clone()),
        None => secret::find(client, &name).await?,
    };
    let observed = match found {
        Some(observed) => observed,
        None => match secret::create(client, cx, key, &name, value).await? {
            Created::Created(arn) => {
                cx.reporter.ready(KIND, &name);
                return Ok(arn);
            }
            // Created by a lost response or a concurrent run, possibly with another value:
            // compared below like any existing secret.
            Created::Adopted(observed) => observed,
        },
    };
    if observed.scheduled_for_deletion {
        secret::restore(client, cx, &name).await?;
    }
    let stored = match known.and_then(|s| s.value.clone()) {
        Some(stored) if !observed.scheduled_for_deletion => stored,
        _ => secret::get_value(client, &name).await?,
    };
    if stored != *value {
        secret::put_value(client, cx, &name, value).await?;
    }
    cx.reporter.ready(KIND, &name);
    Ok(observed.arn)
}
