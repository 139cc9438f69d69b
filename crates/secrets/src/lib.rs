//! orchestrate-secrets: the deployment's Secrets Manager secrets.
//!
//! Owns every secret named `orchestrate/<name>/<key>` ([`orchestrate_core::Names::secret`]),
//! each created with its tags (`orchestrate:component` = `secrets/<key>`) in CreateSecret and
//! encrypted with the account's default Secrets Manager key:
//! - generated once, never regenerated ([`generated`]): `db-credentials`
//!   (`{"username", "password"}`, password letters and digits only), `fernet-key`,
//!   `jwt-secret`, `api-secret-key`, `admin-password`. Changing the Fernet key would make every
//!   stored Airflow connection unreadable, and the JWT secret must stay byte-identical across
//!   components: a re-run reads, never rewrites.
//! - derived from phase-1 outputs ([`derived`]): `sql-alchemy-conn`, `result-backend`,
//!   `broker-url`, rewritten only when the value they should hold changes (a new database
//!   endpoint).
//!
//! - the deployment's [`lease`] (`orchestrate/<name>/lease`): who is changing it now; no
//!   secret value, never deleted by [`delete_all`] (its holder deletes it last).
//!
//! - Airflow's connections and variables for the secrets backend ([`airflow`]):
//!   `orchestrate/<name>/connections/<id>` and `orchestrate/<name>/variables/<key>`, written
//!   by `orchestrate connections|variables set`, read by the task role only.
//!
//! Containers receive secrets through ECS `secrets[].valueFrom` with the ARNs returned here;
//! the execution role may read exactly the generated and derived secrets, by name.
//!
//! # Guarantees
//! - Found by exact name with DescribeSecret; `ResourceNotFoundException` is `None`. `up`
//!   reads them all first in two calls ([`Snapshot`]: ListSecrets + BatchGetSecretValue) and
//!   falls back to DescribeSecret only for a name the snapshot does not list.
//! - No secret value appears in an error, a log line, a `Debug` output or a [`Change`]:
//!   values are [`Sensitive`]; AWS messages pass through the redactor; plans show
//!   [`orchestrate_core::change::SENSITIVE`].
//! - [`ensure_generated`] makes no mutating call when every generated secret exists; it reads
//!   every existing value (GetSecretValue), so each is registered for redaction as soon as the
//!   run starts, whichever run created it; only `db-credentials` leaves the crate.
//! - Every value read or written is a [`Sensitive`], registered with the process-wide redactor
//!   the moment it is wrapped.
//!   [`ensure_derived`] writes (PutSecretValue) only when the stored value differs.
//! - A secret scheduled for deletion (`DeletedDate` set, e.g. after `teardown all` without
//!   force) is restored with RestoreSecret, keeping its value; it is never recreated.
//! - Lost responses: the SDK sets one `ClientRequestToken` per CreateSecret / PutSecretValue
//!   call and reuses it on its retries, so a retried request is idempotent. A create that
//!   nonetheless meets `ResourceExistsException` adopts the existing secret and its value;
//!   it never overwrites it. (A deterministic token of our own would add nothing: a token only
//!   deduplicates requests with the same value, and a generated value differs per run.)
//! - [`delete_all`] deletes every secret named `orchestrate/<name>/…` that carries this
//!   deployment's tag, with a 30-day recovery window unless forced; absent is success.
//!
//! # Waits
//! None on the happy path. After an adopted "already exists", DescribeSecret is polled until
//! the secret is visible, at most 20 s scaled by [`orchestrate_core::Timing`].
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. Nothing is retried beyond the SDK's own policy. After a
//! forced delete AWS may need a moment before the name can be reused; CreateSecret then fails
//! with `InvalidRequestException`, which is reported, not retried.

pub mod airflow;
pub mod derived;
mod error;
pub mod generated;
pub mod lease;
pub mod secret;
pub mod snapshot;

pub use aws_sdk_secretsmanager::Client;
pub use derived::{
    BROKER_URL, DERIVED_KEYS, RESULT_BACKEND, SQL_ALCHEMY_CONN, ensure_derived, ensure_derived_with,
};
pub use error::{Error, Result};
pub use generated::{
    ADMIN_PASSWORD, API_SECRET_KEY, DB_CREDENTIALS, FERNET_KEY, GENERATED_KEYS, GeneratedDesired,
    GeneratedSecrets, JWT_SECRET, ensure_generated, ensure_generated_with, read_db_credentials,
};
pub use secret::{SecretObserved, diff_derived, diff_generated};
pub use snapshot::{Snapshot, Stored};

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry};
use orchestrate_aws::aws_error;
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Change, Context, Readiness, ReporterExt, Sensitive};

/// The plan for every generated secret and for the derived secrets in `derived`, each given
/// with the value it should hold when known (`None` before the phase-1 outputs exist).
/// Reads (DescribeSecret; GetSecretValue for every live generated secret, so that its value is
/// registered for redaction before anything the plan prints, and for a derived secret whose
/// desired value is known), never writes. Kind `secretsmanager/secret`; values are never
/// shown.
///
/// # Errors
/// [`Error::Describe`], [`Error::GetValue`].
pub async fn plan_secrets(
    client: &Client,
    cx: &Context,
    derived: &[(&str, Option<&Sensitive>)],
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    for key in GENERATED_KEYS {
        let name = cx.names.secret(key);
        let observed = secret::find(client, &name).await?;
        if observed.as_ref().is_some_and(|o| !o.scheduled_for_deletion) {
            // Registered for redaction; the value itself is not needed.
            secret::get_value(client, &name).await?;
        }
        changes.push(diff_generated(&name, observed.as_ref()));
    }
    for (key, desired) in derived {
        let name = cx.names.secret(key);
        let observed = secret::find(client, &name).await?;
        let stored = match (&observed, desired) {
            (Some(o), Some(_)) if !o.scheduled_for_deletion => {
                Some(secret::get_value(client, &name).await?)
            }
            _ => None,
        };
        changes.push(diff_derived(
            &name,
            observed.as_ref(),
            stored.as_ref(),
            *desired,
        ));
    }
    Ok(changes)
}

/// Ready when every generated secret exists and is not scheduled for deletion.
///
/// # Errors
/// [`Error::Describe`].
pub async fn ready(client: &Client, cx: &Context) -> Result<Readiness> {
    for key in GENERATED_KEYS {
        let name = cx.names.secret(key);
        match secret::find(client, &name).await? {
            None => return Ok(Readiness::pending(format!("{name} absent"))),
            Some(o) if o.scheduled_for_deletion => {
                return Ok(Readiness::pending(format!("{name} scheduled for deletion")));
            }
            Some(_) => {}
        }
    }
    Ok(Readiness::Ready)
}

/// Every entry ListSecrets returns for `filters`, all pages (`include_planned`: secrets
/// scheduled for deletion too). A failure is [`Error::List`] naming `action` and `subject`.
pub(crate) async fn list_entries(
    client: &Client,
    filters: Vec<Filter>,
    include_planned: bool,
    action: &str,
    subject: &str,
) -> Result<Vec<SecretListEntry>> {
    let mut entries = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_secrets()
            .set_filters(Some(filters.clone()))
            .include_planned_deletion(include_planned)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::List(aws_error(action, subject, e)))?;
        entries.extend(out.secret_list().iter().cloned());
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(entries)
}

/// The ListSecrets filter of the names that start with `prefix` (AWS matches it without case:
/// check the names exactly).
pub(crate) fn name_prefix_filter(prefix: &str) -> Filter {
    Filter::builder()
        .key(FilterNameStringType::Name)
        .values(prefix)
        .build()
}

/// The ListSecrets filters for secrets tagged with this deployment (tag key and value; the
/// answer still needs [`is_ours`], as AWS matches key and value independently).
pub(crate) fn deployment_filters(cx: &Context) -> Vec<Filter> {
    vec![
        Filter::builder()
            .key(FilterNameStringType::TagKey)
            .values(TAG_DEPLOYMENT)
            .build(),
        Filter::builder()
            .key(FilterNameStringType::TagValue)
            .values(cx.names.deployment())
            .build(),
    ]
}

/// True when `entry` carries this deployment's `orchestrate:deployment` tag.
pub(crate) fn is_ours(entry: &SecretListEntry, cx: &Context) -> bool {
    entry
        .tags()
        .iter()
        .any(|t| t.key() == Some(TAG_DEPLOYMENT) && t.value() == Some(cx.names.deployment()))
}

/// Every secret of the deployment and whether it is usable, in one tag-filtered ListSecrets
/// (secrets scheduled for deletion included). Never reads a value.
///
/// # Errors
/// [`Error::List`].
pub async fn status(client: &Client, cx: &Context) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::{Phase, StatusRow};
    let entries = list_entries(
        client,
        deployment_filters(cx),
        true,
        "list secrets of",
        cx.names.deployment(),
    )
    .await?;
    let found: std::collections::BTreeMap<String, bool> = entries
        .iter()
        .filter(|entry| is_ours(entry, cx))
        .filter_map(|entry| {
            entry
                .name()
                .map(|name| (name.to_string(), entry.deleted_date().is_some()))
        })
        .collect();
    let keys = GENERATED_KEYS.iter().chain(DERIVED_KEYS.iter());
    Ok(keys
        .map(|key| {
            let name = cx.names.secret(key);
            match found.get(&name) {
                None => StatusRow::absent(Phase::Storage, secret::KIND, &name),
                Some(true) => StatusRow::new(
                    Phase::Storage,
                    secret::KIND,
                    &name,
                    "scheduled for deletion",
                    false,
                ),
                Some(false) => StatusRow::new(Phase::Storage, secret::KIND, &name, "ok", true),
            }
        })
        .collect())
}

/// Deletes every secret of the deployment: those ListSecrets returns under the name prefix
/// `orchestrate/<name>/` that also carry `orchestrate:deployment=<name>`. With `force`, at
/// once and including secrets already scheduled for deletion; otherwise with a 30-day
/// recovery window (a later `up` restores them, values intact). Returns how many were
/// deleted.
///
/// # Errors
/// [`Error::List`], [`Error::Delete`].
pub async fn delete_all(client: &Client, cx: &Context, force: bool) -> Result<usize> {
    let prefix = cx.names.secret_prefix();
    // The lease is released (deleted) by the run holding it, after everything else.
    let lease = cx.names.secret(lease::LEASE_KEY);
    let entries = list_entries(
        client,
        vec![name_prefix_filter(&prefix)],
        force,
        "list secrets",
        &prefix,
    )
    .await?;
    let mut ids = Vec::new();
    for entry in &entries {
        let (Some(name), Some(arn)) = (entry.name(), entry.arn()) else {
            continue;
        };
        // The name filter is a case-insensitive prefix match: check exactly.
        if !name.starts_with(&prefix) || name == lease {
            continue;
        }
        if is_ours(entry, cx) {
            ids.push(arn.to_string());
        } else {
            cx.reporter.note(
                secret::KIND,
                format!("{name} lacks the {TAG_DEPLOYMENT} tag of this deployment; left alone"),
            );
        }
    }
    for id in &ids {
        secret::delete(client, cx, id, force).await?;
    }
    Ok(ids.len())
}

#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod tests;
