//! Airflow connections and variables kept for the secrets backend: one secret per id under
//! `orchestrate/<name>/connections/` or `orchestrate/<name>/variables/`
//! ([`orchestrate_core::Names::airflow_secrets_prefix`]), written by `orchestrate connections
//! set` / `variables set`.
//!
//! # Guarantees
//! - The value travels only as [`Sensitive`]; it is never in a message, an error or a
//!   [`Written`].
//! - [`set`] creates the secret with its tags (`orchestrate:component` =
//!   `secrets/connections` or `secrets/variables`) in CreateSecret, restores one scheduled for
//!   deletion, and writes (PutSecretValue) only when the stored value differs: a second `set`
//!   of the same value makes no mutating call.
//! - [`list`] returns ids only (ListSecrets; no value is read).
//! - [`delete`] schedules the deletion with the usual recovery window; absent is success.
//!   `teardown all` deletes them with the deployment's other secrets ([`crate::delete_all`]:
//!   they carry the deployment's tag).

use orchestrate_core::{Context, Sensitive};

use crate::Client;
use crate::error::Result;
use crate::secret::{self, Created};

/// What [`set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The secret did not exist: created with the value.
    Created,
    /// It held another value (or was scheduled for deletion): the value was written.
    Updated,
    /// It already held this value: nothing written.
    Unchanged,
}

impl Written {
    /// `created`, `updated` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Written::Created => "created",
            Written::Updated => "updated",
            Written::Unchanged => "unchanged",
        }
    }
}

/// The secret name of `id` of `kind` (`connections` or `variables`).
pub fn secret_name(cx: &Context, kind: &str, id: &str) -> String {
    format!("{}/{id}", cx.names.airflow_secrets_prefix(kind))
}

/// Writes `value` as `id` of `kind` (see the module's guarantees). Returns the secret's name
/// and what was done.
///
/// # Errors
/// [`Error::Describe`](crate::Error::Describe), [`Error::Create`](crate::Error::Create), [`Error::Restore`](crate::Error::Restore), [`Error::GetValue`](crate::Error::GetValue),
/// [`Error::PutValue`](crate::Error::PutValue).
pub async fn set(
    client: &Client,
    cx: &Context,
    kind: &str,
    id: &str,
    value: &Sensitive,
) -> Result<(String, Written)> {
    let name = secret_name(cx, kind, id);
    let observed = secret::find(client, &name).await?;
    let restored = match &observed {
        None => match secret::create(client, cx, kind, &name, value).await? {
            Created::Created(_) => return Ok((name, Written::Created)),
            // Created concurrently (or a lost response): compare like an existing one.
            Created::Adopted(_) => false,
        },
        Some(o) if o.scheduled_for_deletion => {
            secret::restore(client, cx, &name).await?;
            true
        }
        Some(_) => false,
    };
    let stored = secret::get_value(client, &name).await?;
    if !restored && stored.expose() == value.expose() {
        return Ok((name, Written::Unchanged));
    }
    if stored.expose() != value.expose() {
        secret::put_value(client, cx, &name, value).await?;
    }
    Ok((name, Written::Updated))
}

/// The ids of `kind` stored for the deployment (not those scheduled for deletion), sorted.
/// Only secrets that carry the deployment's tag count.
///
/// # Errors
/// [`Error::List`](crate::Error::List).
pub async fn list(client: &Client, cx: &Context, kind: &str) -> Result<Vec<String>> {
    let prefix = format!("{}/", cx.names.airflow_secrets_prefix(kind));
    let entries = crate::list_entries(
        client,
        vec![crate::name_prefix_filter(&prefix)],
        false,
        "list secrets",
        &prefix,
    )
    .await?;
    let mut ids = Vec::new();
    for entry in &entries {
        let Some(id) = entry.name().and_then(|n| n.strip_prefix(&prefix)) else {
            continue; // the name filter matches prefixes without case
        };
        if crate::is_ours(entry, cx) && entry.deleted_date().is_none() && !id.contains('/') {
            ids.push(id.to_string());
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Schedules the deletion of `id` of `kind` (recovery window of
/// [`secret::RECOVERY_WINDOW_DAYS`] days; `force`: at once). Returns false when there was no
/// such secret.
///
/// # Errors
/// [`Error::Describe`](crate::Error::Describe), [`Error::Delete`](crate::Error::Delete).
pub async fn delete(
    client: &Client,
    cx: &Context,
    kind: &str,
    id: &str,
    force: bool,
) -> Result<bool> {
    let name = secret_name(cx, kind, id);
    match secret::find(client, &name).await? {
        Some(o) if !o.scheduled_for_deletion || force => {
            secret::delete(client, cx, &o.arn, force).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
