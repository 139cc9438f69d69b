//! One Secrets Manager secret: find, create, restore, read, write, delete, diff.
//!
//! These are the primitives [`crate::generated`] and [`crate::derived`] are built from. Values
//! travel only as [`Sensitive`]; the SDK's own `Debug` of requests and responses redacts
//! `SecretString` as well.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange, SENSITIVE};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Sensitive, WaitError};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "secretsmanager/secret";

/// Days a deleted secret stays recoverable when deletion is not forced (AWS's default).
pub const RECOVERY_WINDOW_DAYS: i64 = 30;

/// How long a secret that "already exists" may stay invisible to DescribeSecret.
const VISIBLE_WITHIN: Duration = Duration::from_secs(20);

/// What AWS reports about an existing secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretObserved {
    /// Secret name.
    pub name: String,
    /// Secret ARN (with Secrets Manager's random six-character suffix).
    pub arn: String,
    /// True when it is scheduled for deletion (`DeletedDate` set): restorable, not usable.
    pub scheduled_for_deletion: bool,
}

/// The tags of the secret `key` (`orchestrate:component` = `secrets/<key>`).
pub fn tags(cx: &Context, key: &str, name: &str) -> Vec<Tag> {
    cx.tags(&format!("secrets/{key}"), Phase::Storage, name)
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Finds the secret by exact name (DescribeSecret). `Ok(None)` on `ResourceNotFoundException`.
///
/// A name ending in a hyphen and six characters (`…/jwt-secret`) can also be read by Secrets
/// Manager as a partial ARN; the answer is accepted only when its `Name` is exactly `name`.
///
/// # Errors
/// [`Error::Describe`], [`Error::Incomplete`].
pub async fn find(client: &Client, name: &str) -> Result<Option<SecretObserved>> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(out) if out.name() == Some(name) => Ok(Some(SecretObserved {
            name: name.to_string(),
            arn: out
                .arn()
                .ok_or_else(|| Error::Incomplete {
                    name: name.to_string(),
                    field: "ARN",
                })?
                .to_string(),
            scheduled_for_deletion: out.deleted_date().is_some(),
        })),
        Ok(_) => Ok(None),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Describe(aws_error("describe secret", name, e))),
    }
}

/// What a create call ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// This call created the secret with the given value; its ARN.
    Created(String),
    /// The secret already existed (a lost response of an earlier create, or a concurrent
    /// run): it was *not* written; its value is whatever AWS holds.
    Adopted(SecretObserved),
}

/// Creates secret `name` of `key` with `value` and its tags. `ResourceExistsException` is
/// adopted, never overwritten.
///
/// Idempotency: the SDK fills `ClientRequestToken` once per call and its retries reuse it, so
/// a retry after a lost response is answered with the original version, not a second one.
/// A later retry by us (a new token) gets `ResourceExistsException`, which is adopted here.
///
/// # Errors
/// [`Error::Create`], [`Error::Describe`], [`Error::NotVisible`].
pub async fn create(
    client: &Client,
    cx: &Context,
    key: &str,
    name: &str,
    value: &Sensitive,
) -> Result<Created> {
    cx.reporter.applying(KIND, name, "create");
    let result = client
        .create_secret()
        .name(name)
        .description(format!("orchestrate {}: {key}", cx.names.deployment()))
        .secret_string(value.expose())
        .set_tags(Some(tags(cx, key, name)))
        .send()
        .await;
    match result {
        Ok(out) => out
            .arn()
            .map(|arn| Created::Created(arn.to_string()))
            .ok_or_else(|| Error::Incomplete {
                name: name.to_string(),
                field: "ARN",
            }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            cx.reporter.note(
                KIND,
                format!("{name} already exists; adopting it, value untouched"),
            );
            Ok(Created::Adopted(wait_visible(client, cx, name).await?))
        }
        Err(e) => Err(Error::Create(aws_error("create secret", name, e))),
    }
}

/// Polls DescribeSecret until the secret is visible (eventual consistency).
async fn wait_visible(client: &Client, cx: &Context, name: &str) -> Result<SecretObserved> {
    let found = std::cell::RefCell::new(None);
    let slot = &found;
    let not_visible = |source| Error::NotVisible {
        name: name.to_string(),
        source: Box::new(source),
    };
    cx.timing
        .poller(VISIBLE_WITHIN)
        .wait(
            name,
            move || async move {
                Ok(match find(client, name).await? {
                    Some(observed) => {
                        *slot.borrow_mut() = Some(observed);
                        Readiness::Ready
                    }
                    None => Readiness::pending("not visible yet"),
                })
            },
            |state| cx.reporter.waiting(KIND, name, state),
        )
        .await
        .map_err(not_visible)?;
    found.into_inner().ok_or_else(|| {
        not_visible(WaitError::Failed {
            what: name.to_string(),
            reason: "the wait ended without observing the secret".into(),
        })
    })
}

/// Cancels the scheduled deletion of `name` (RestoreSecret): the secret and its value come
/// back as they were.
///
/// # Errors
/// [`Error::Restore`].
pub async fn restore(client: &Client, cx: &Context, name: &str) -> Result<()> {
    cx.reporter.applying(KIND, name, "restore");
    client
        .restore_secret()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| Error::Restore(aws_error("restore secret", name, e)))?;
    Ok(())
}

/// The current value of `name` (GetSecretValue, `AWSCURRENT`).
///
/// # Errors
/// [`Error::GetValue`], or [`Error::Malformed`] when it has no string value.
pub async fn get_value(client: &Client, name: &str) -> Result<Sensitive> {
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| Error::GetValue(aws_error("read secret", name, e)))?;
    out.secret_string()
        .map(Sensitive::new)
        .ok_or_else(|| Error::Malformed {
            name: name.to_string(),
            problem: "it holds no string value",
        })
}

/// Writes a new current version of `name` (PutSecretValue; the SDK's idempotency token makes
/// its own retries safe).
///
/// # Errors
/// [`Error::PutValue`].
pub async fn put_value(client: &Client, cx: &Context, name: &str, value: &Sensitive) -> Result<()> {
    cx.reporter.applying(KIND, name, "update");
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await
        .map_err(|e| Error::PutValue(aws_error("write secret", name, e)))?;
    Ok(())
}

/// Deletes `id` (name or ARN): with `force` at once, else with a
/// [`RECOVERY_WINDOW_DAYS`]-day recovery window. Already gone is success.
///
/// # Errors
/// [`Error::Delete`].
pub async fn delete(client: &Client, cx: &Context, id: &str, force: bool) -> Result<()> {
    cx.reporter.applying(KIND, id, "delete");
    let request = client.delete_secret().secret_id(id);
    let request = if force {
        request.force_delete_without_recovery(true)
    } else {
        request.recovery_window_in_days(RECOVERY_WINDOW_DAYS)
    };
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::Delete(aws_error("delete secret", id, e))),
    }
}

/// The field a plan shows for a secret scheduled for deletion (restored by `up`; as deleted
/// as a teardown leaves it).
pub const PENDING_DELETION_FIELD: &str = "DeletedDate";

fn restore_field() -> FieldChange {
    FieldChange::new(
        PENDING_DELETION_FIELD,
        Some("scheduled for deletion".into()),
        Some("restored".into()),
    )
}

/// Plan of a generated secret (pure): created when absent, restored when scheduled for
/// deletion, otherwise left alone (generated values are never rewritten).
pub fn diff_generated(name: &str, observed: Option<&SecretObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) if o.scheduled_for_deletion => Action::Update {
            fields: vec![restore_field()],
        },
        Some(_) => Action::NoChange,
    };
    Change::new(Phase::Storage, KIND, name, action)
}

/// Plan of a derived secret (pure). `stored` is its current value (when it exists and was
/// read), `desired` the value phase-1 outputs give (`None`: not known before those outputs
/// exist). Values are never shown, only that the value changes.
pub fn diff_derived(
    name: &str,
    observed: Option<&SecretObserved>,
    stored: Option<&Sensitive>,
    desired: Option<&Sensitive>,
) -> Change {
    let Some(observed) = observed else {
        return Change::new(Phase::Storage, KIND, name, Action::Create);
    };
    let mut fields = Vec::new();
    if observed.scheduled_for_deletion {
        fields.push(restore_field());
    }
    match desired {
        None => fields.push(FieldChange::new(
            "SecretString",
            Some(SENSITIVE.into()),
            Some("(known after phase 1)".into()),
        )),
        Some(desired) if stored != Some(desired) => {
            fields.push(FieldChange::sensitive("SecretString"));
        }
        Some(_) => {}
    }
    let action = if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    };
    Change::new(Phase::Storage, KIND, name, action)
}
