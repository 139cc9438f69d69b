//! One IAM role assumed by ECS tasks: desired shape, find, diff, ensure, ready, delete.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Tags, WaitError};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::policy;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "iam/role";

/// Path of every role this tool creates.
pub const PATH: &str = "/orchestrate/";

/// How long a created role may stay invisible to GetRole (IAM is eventually consistent).
const VISIBLE_WITHIN: Duration = Duration::from_secs(20);

/// What one role should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDesired {
    /// Role name (`<deployment>-ecs-execution-<region>`, `<deployment>-ecs-task-<region>`).
    pub name: String,
    /// Human description sent with CreateRole.
    pub description: String,
    /// Trust (assume-role) policy document.
    pub trust: Value,
    /// Name of the role's one inline policy.
    pub policy_name: String,
    /// The inline policy document.
    pub policy: Value,
    /// Tags sent with CreateRole.
    pub tags: Tags,
    /// The spec's own grants (the task role only): `None` leaves the role's other inline
    /// policies and its managed policies alone.
    pub extra: Option<Grants>,
}

/// The spec's grants on a role beside orchestrate's own inline policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grants {
    /// The second inline policy, [`crate::USER_POLICY`]; `None`: it must not exist.
    pub user_policy: Option<Value>,
    /// The managed policies attached to the role: the complete set (others are detached).
    pub managed_policy_arns: Vec<String>,
}

/// What AWS reports about an existing role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleObserved {
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// Role path.
    pub path: String,
    /// The trust policy as stored (URL-encoded JSON).
    pub trust_document: Option<String>,
}

/// Finds the role by name (GetRole). `Ok(None)` on `NoSuchEntity`.
///
/// # Errors
/// [`Error::GetRole`].
pub async fn find(client: &Client, name: &str) -> Result<Option<RoleObserved>> {
    match client.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(observe)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::GetRole(aws_error("get role", name, e))),
    }
}

/// Every role under [`PATH`] (all deployments' and regions'), by name: one ListRoles call of
/// up to 1,000 roles per page. ListRoles returns each role's name, ARN, path and trust policy,
/// everything [`RoleObserved`] holds, so two roles cost one call instead of two GetRole. A
/// role of the same name elsewhere (another path) is not listed; [`ensure`]'s create then
/// answers `EntityAlreadyExists` and the role is adopted.
///
/// # Errors
/// [`Error::GetRole`].
pub async fn list(client: &Client) -> Result<BTreeMap<String, RoleObserved>> {
    let roles: Vec<aws_sdk_iam::types::Role> = client
        .list_roles()
        .path_prefix(PATH)
        .max_items(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::GetRole(aws_error("list roles under", PATH, e)))?;
    Ok(roles
        .iter()
        .map(|role| (role.role_name().to_string(), observe(role)))
        .collect())
}

fn observe(role: &aws_sdk_iam::types::Role) -> RoleObserved {
    RoleObserved {
        name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        path: role.path().to_string(),
        trust_document: role.assume_role_policy_document().map(str::to_string),
    }
}

/// True when the stored trust policy means what `desired` says.
fn trust_matches(desired: &RoleDesired, observed: &RoleObserved) -> bool {
    policy::same_policy(observed.trust_document.as_deref(), &desired.trust)
}

/// Shows a stored document compactly (decoded), or `(unreadable)`.
pub(crate) fn show_stored(stored: Option<&str>) -> Option<String> {
    stored.map(|s| policy::decode(s).map_or_else(|| "(unreadable)".to_string(), |v| v.to_string()))
}

/// What `ensure` would do to the role itself (pure; its inline policy is a separate change).
pub fn diff(desired: &RoleDesired, observed: Option<&RoleObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) if trust_matches(desired, observed) => Action::NoChange,
        Some(observed) => Action::Update {
            fields: vec![FieldChange::new(
                "AssumeRolePolicyDocument",
                show_stored(observed.trust_document.as_deref()),
                Some(desired.trust.to_string()),
            )],
        },
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

fn request_error(what: &'static str, role: &str, err: &dyn std::fmt::Display) -> Error {
    Error::Request {
        what,
        role: role.to_string(),
        message: err.to_string(),
    }
}

/// Creates the role (path `/orchestrate/`, trust policy and tags in CreateRole) when `found`
/// is `None` (as [`find`] or [`list`] saw it), adopts it when present, and rewrites the trust
/// policy only when it means something else. After a create, waits until GetRole returns the
/// role. Returns the role and whether this call created it.
///
/// # Errors
/// [`Error::GetRole`], [`Error::CreateRole`], [`Error::UpdateTrust`], [`Error::Request`],
/// [`Error::NotVisible`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &RoleDesired,
    found: Option<RoleObserved>,
) -> Result<(RoleObserved, bool)> {
    let (observed, created) = match found {
        Some(observed) => (observed, false),
        None => create(client, cx, desired).await?,
    };
    if observed.path != PATH {
        cx.reporter.note(
            KIND,
            format!(
                "{} has path {} (not {PATH}); a role's path cannot change, adopted as is",
                desired.name, observed.path
            ),
        );
    }
    if !trust_matches(desired, &observed) {
        cx.reporter.applying(KIND, &desired.name, "update");
        client
            .update_assume_role_policy()
            .role_name(&desired.name)
            .policy_document(desired.trust.to_string())
            .send()
            .await
            .map_err(|e| {
                Error::UpdateTrust(aws_error("update trust policy of role", &desired.name, e))
            })?;
    }
    Ok((observed, created))
}

async fn create(
    client: &Client,
    cx: &Context,
    desired: &RoleDesired,
) -> Result<(RoleObserved, bool)> {
    cx.reporter.applying(KIND, &desired.name, "create");
    let tags = desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| request_error("CreateRole", &desired.name, &e))?;
    let result = client
        .create_role()
        .role_name(&desired.name)
        .path(PATH)
        .description(&desired.description)
        .assume_role_policy_document(desired.trust.to_string())
        .set_tags(Some(tags))
        .send()
        .await;
    let created = match result {
        Ok(_) => true,
        // A retried create whose first response was lost: the role is ours, adopt it (its
        // trust policy is compared and corrected like any adopted role's).
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            cx.reporter.note(
                KIND,
                format!("{} already exists; adopting it", desired.name),
            );
            false
        }
        Err(e) => {
            return Err(Error::CreateRole(aws_error(
                "create role",
                &desired.name,
                e,
            )));
        }
    };
    let observed = wait_visible(client, cx, &desired.name).await?;
    Ok((observed, created))
}

/// Polls GetRole until the role is returned (IAM eventual consistency after CreateRole).
async fn wait_visible(client: &Client, cx: &Context, name: &str) -> Result<RoleObserved> {
    let found = std::cell::RefCell::new(None);
    let slot = &found;
    let not_visible = |source| Error::NotVisible {
        role: name.to_string(),
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
            reason: "the wait ended without observing the role".into(),
        })
    })
}

/// Ready when GetRole returns the role. (That ECS can *assume* it may take a few more
/// seconds; the ECS crate retries on that, see the crate documentation.)
///
/// # Errors
/// [`Error::GetRole`].
pub async fn ready(client: &Client, name: &str) -> Result<Readiness> {
    Ok(match find(client, name).await? {
        Some(_) => Readiness::Ready,
        None => Readiness::pending("not visible yet"),
    })
}

/// Deletes the role: first every inline policy, then every attached managed policy (IAM
/// refuses to delete a role that has either), then the role. `NoSuchEntity` at any step is
/// success.
///
/// # Errors
/// [`Error::ListPolicies`], [`Error::RemovePolicy`], [`Error::DeleteRole`].
pub async fn delete(client: &Client, cx: &Context, name: &str) -> Result<()> {
    let Some(inline) = list_inline(client, name).await? else {
        return Ok(()); // never created, or already gone
    };
    cx.reporter.applying(KIND, name, "delete");
    for policy_name in inline {
        crate::role_policy::delete(client, cx, name, &policy_name).await?;
    }
    for policy_arn in list_attached(client, name).await? {
        match client
            .detach_role_policy()
            .role_name(name)
            .policy_arn(&policy_arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => {
                return Err(Error::RemovePolicy(aws_error(
                    "detach policy from role",
                    name,
                    e,
                )));
            }
        }
    }
    match client.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::DeleteRole(aws_error("delete role", name, e))),
    }
}

/// Names of the role's inline policies; `None` when the role does not exist.
async fn list_inline(client: &Client, role: &str) -> Result<Option<Vec<String>>> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = match client
            .list_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(Error::ListPolicies(aws_error(
                    "list inline policies of role",
                    role,
                    e,
                )));
            }
        };
        names.extend(out.policy_names().iter().cloned());
        match out.marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(Some(names)),
        }
    }
}

/// ARNs of the managed policies attached to the role (none when it does not exist).
pub async fn list_attached(client: &Client, role: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = match client
            .list_attached_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                return Ok(arns);
            }
            Err(e) => {
                return Err(Error::ListPolicies(aws_error(
                    "list attached policies of role",
                    role,
                    e,
                )));
            }
        };
        arns.extend(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string)),
        );
        match out.marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(arns),
        }
    }
}
