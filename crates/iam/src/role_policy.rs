//! One inline role policy: find, diff, ensure, delete.

use aws_sdk_iam::Client;
use orchestrate_aws::{aws_error, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::policy;
use crate::role::show_stored;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "iam/role-policy";

/// PutRolePolicy right after CreateRole can still see `NoSuchEntity` on a replica that has not
/// heard of the role: retried a few times, nothing else is.
const PUT_ATTEMPTS: u32 = 5;

/// The name shown for `policy` of `role` in plans: `<role>/<policy>`.
pub fn display_name(role: &str, policy: &str) -> String {
    format!("{role}/{policy}")
}

/// The stored document of inline policy `policy` of `role` (URL-encoded JSON, as IAM returns
/// it). `Ok(None)` when the role or the policy does not exist.
///
/// # Errors
/// [`Error::GetPolicy`].
pub async fn find(client: &Client, role: &str, policy: &str) -> Result<Option<String>> {
    match client
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.policy_document().to_string())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::GetPolicy(aws_error(
            "get inline policy of role",
            &display_name(role, policy),
            e,
        ))),
    }
}

/// What `ensure` would do (pure). `stored` is what [`find`] returned.
pub fn diff(role: &str, policy_name: &str, desired: &Value, stored: Option<&str>) -> Change {
    let action = match stored {
        None => Action::Create,
        Some(stored) if policy::same_policy(Some(stored), desired) => Action::NoChange,
        Some(stored) => Action::Update {
            fields: vec![FieldChange::new(
                "PolicyDocument",
                show_stored(Some(stored)),
                Some(desired.to_string()),
            )],
        },
    };
    Change::new(
        Phase::Storage,
        KIND,
        &display_name(role, policy_name),
        action,
    )
}

/// Puts the inline policy only when the stored one is absent or means something else.
/// Returns true when it wrote.
///
/// # Errors
/// [`Error::GetPolicy`], [`Error::PutPolicy`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    role: &str,
    policy_name: &str,
    desired: &Value,
) -> Result<bool> {
    let stored = find(client, role, policy_name).await?;
    if policy::same_policy(stored.as_deref(), desired) {
        return Ok(false);
    }
    let shown = display_name(role, policy_name);
    cx.reporter.applying(
        KIND,
        &shown,
        if stored.is_some() { "update" } else { "create" },
    );
    let document = desired.to_string();
    retry_eventual(cx.timing, &["NoSuchEntity"], PUT_ATTEMPTS, || {
        client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(&document)
            .send()
    })
    .await
    .map_err(|e| Error::PutPolicy(aws_error("put inline policy of role", &shown, e)))?;
    Ok(true)
}

/// Deletes the inline policy; absent (or role absent) is success.
///
/// # Errors
/// [`Error::RemovePolicy`].
pub async fn delete(client: &Client, cx: &Context, role: &str, policy_name: &str) -> Result<()> {
    let shown = display_name(role, policy_name);
    cx.reporter.applying(KIND, &shown, "delete");
    match client
        .delete_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::RemovePolicy(aws_error(
            "delete inline policy of role",
            &shown,
            e,
        ))),
    }
}
