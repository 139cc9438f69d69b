//! The spec's grants on the task role: its second inline policy ([`crate::USER_POLICY`], the
//! `[task_role] statements`) and the managed policies attached to it
//! (`[task_role] managed_policy_arns`): find, diff, ensure.
//!
//! The managed-policy list is the complete set: a policy attached to the role that the spec
//! does not list is detached by `ensure` (and shown as a deletion by the plan). The role is
//! orchestrate's, found by its deterministic name; a hand-attached policy would otherwise
//! silently outlive its removal from the spec, and no tag can record which of several
//! attachments orchestrate made (a role has 50 tags, the user may use 45).

use aws_sdk_iam::Client;
use orchestrate_aws::{aws_error, retry_eventual};
use orchestrate_core::change::{Action, Change};
use orchestrate_core::{Context, Phase, ReporterExt};

use crate::error::{Error, Result};
use crate::role::{self, Grants};
use crate::{USER_POLICY, role_policy};

/// Resource kind of one managed-policy attachment in plans and progress.
pub const ATTACHMENT_KIND: &str = "iam/attached-policy";

/// AttachRolePolicy right after CreateRole can see `NoSuchEntity` on a replica that has not
/// heard of the role yet: retried a few times.
const ATTACH_ATTEMPTS: u32 = 5;

/// What AWS holds of the grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantsObserved {
    /// The stored user policy (URL-encoded JSON), if any.
    pub user_policy: Option<String>,
    /// The attached managed policies.
    pub attached: Vec<String>,
}

/// `<role>/<policy ARN>`: the name an attachment is shown under.
pub fn attachment_name(role: &str, arn: &str) -> String {
    format!("{role}/{arn}")
}

/// Reads the grants of `role` (GetRolePolicy, ListAttachedRolePolicies). An absent role has
/// none.
///
/// # Errors
/// [`Error::GetPolicy`], [`Error::ListPolicies`].
pub async fn find(client: &Client, role: &str) -> Result<GrantsObserved> {
    let user_policy = role_policy::find(client, role, USER_POLICY).await?;
    let attached = role::list_attached(client, role).await?;
    Ok(GrantsObserved {
        user_policy,
        attached,
    })
}

/// What `ensure` would do (pure): the user policy created, updated or deleted, and each
/// managed policy attached or detached. Nothing is listed for a user policy that neither
/// exists nor is wanted.
pub fn diff(role: &str, desired: &Grants, observed: &GrantsObserved) -> Vec<Change> {
    let mut changes = Vec::new();
    match (&desired.user_policy, &observed.user_policy) {
        (Some(policy), stored) => changes.push(role_policy::diff(
            role,
            USER_POLICY,
            policy,
            stored.as_deref(),
        )),
        (None, Some(_)) => changes.push(Change::new(
            Phase::Storage,
            role_policy::KIND,
            &role_policy::display_name(role, USER_POLICY),
            Action::Delete,
        )),
        (None, None) => {}
    }
    for arn in &desired.managed_policy_arns {
        let action = if observed.attached.contains(arn) {
            Action::NoChange
        } else {
            Action::Create
        };
        changes.push(Change::new(
            Phase::Storage,
            ATTACHMENT_KIND,
            &attachment_name(role, arn),
            action,
        ));
    }
    for arn in &observed.attached {
        if !desired.managed_policy_arns.contains(arn) {
            changes.push(Change::new(
                Phase::Storage,
                ATTACHMENT_KIND,
                &attachment_name(role, arn),
                Action::Delete,
            ));
        }
    }
    changes
}

/// Converges the grants of `role`: puts the user policy when it differs (deletes it when the
/// spec has no statements), attaches the listed managed policies that are missing and
/// detaches the others. No mutating call when nothing differs. Returns how many calls
/// changed something.
///
/// # Errors
/// [`Error::GetPolicy`], [`Error::PutPolicy`], [`Error::RemovePolicy`],
/// [`Error::ListPolicies`], [`Error::AttachPolicy`].
pub async fn ensure(client: &Client, cx: &Context, role: &str, desired: &Grants) -> Result<usize> {
    let mut changed = 0;
    match &desired.user_policy {
        Some(policy) => {
            if role_policy::ensure(client, cx, role, USER_POLICY, policy).await? {
                changed += 1;
            }
        }
        None => {
            if role_policy::find(client, role, USER_POLICY)
                .await?
                .is_some()
            {
                role_policy::delete(client, cx, role, USER_POLICY).await?;
                changed += 1;
            }
        }
    }
    let attached = role::list_attached(client, role).await?;
    for arn in &desired.managed_policy_arns {
        if attached.contains(arn) {
            continue;
        }
        let shown = attachment_name(role, arn);
        cx.reporter.applying(ATTACHMENT_KIND, &shown, "create");
        retry_eventual(cx.timing, &["NoSuchEntity"], ATTACH_ATTEMPTS, || {
            client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
        })
        .await
        .map_err(|e| Error::AttachPolicy(aws_error("attach managed policy to role", &shown, e)))?;
        changed += 1;
    }
    for arn in &attached {
        if desired.managed_policy_arns.contains(arn) {
            continue;
        }
        let shown = attachment_name(role, arn);
        cx.reporter.applying(ATTACHMENT_KIND, &shown, "delete");
        match client
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => changed += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => {
                return Err(Error::RemovePolicy(aws_error(
                    "detach managed policy from role",
                    &shown,
                    e,
                )));
            }
        }
    }
    Ok(changed)
}
