//! Task definitions: the rendered RegisterTaskDefinition request (JSON) against the family's
//! active revision; a new revision only when they differ.
//!
//! The request arrives as `serde_json::Value` in ECS's own camelCase shape (what the airflow
//! crate renders and `orchestrate render task-definitions` prints). [`parse`] turns it into
//! SDK types, rejecting unknown keys; [`to_json`] turns a described revision back into the same
//! shape; [`normalize`] makes the two comparable.
//!
//! A task definition revision is immutable, so "update" means "register a new revision"; old
//! revisions are left ACTIVE (a rollback target) until [`deregister_family`] at teardown.
//! RegisterTaskDefinition takes no idempotency token: when its response is lost and the SDK
//! retries, the twin revision the first attempt registered is deregistered by
//! [`register_if_changed`] in the same run.

mod convert;
mod json;

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{TaskDefinitionFamilyStatus, TaskDefinitionField, TaskDefinitionStatus};
use orchestrate_aws::{AwsError, aws_error, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::sensitive::redact;
use orchestrate_core::{Context, Phase, ReporterExt, Tags};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::util::{EVENTUAL_ATTEMPTS, Eventual, ROLE_NOT_READY, revision_label};

pub use convert::{TaskDefinitionRequest, parse, to_json};
pub use json::normalize;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "ecs/task-definition";

/// The result of [`register_if_changed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Full ARN of the revision the service should run.
    pub arn: String,
    /// Its revision number.
    pub revision: i32,
    /// True when this call registered it; false when the active revision already matched.
    pub registered: bool,
}

/// The active (latest ACTIVE) revision of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRevision {
    /// Full ARN.
    pub arn: String,
    /// Revision number.
    pub revision: i32,
    /// The revision as request JSON (see [`to_json`]), not yet normalised.
    pub json: Value,
}

/// `rendered` with `tags` set to `tags` (the airflow crate renders no tags; the engine adds
/// `cx.tags(..)` here).
pub fn with_tags(rendered: &Value, tags: &Tags) -> Value {
    let mut value = rendered.clone();
    if let Value::Object(map) = &mut value {
        map.insert(
            "tags".into(),
            Value::Array(
                tags.iter()
                    .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
                    .collect(),
            ),
        );
    }
    value
}

/// The family's active revision, with its tags. `Ok(None)` when the family has none.
///
/// # Errors
/// [`Error::DescribeTaskDefinition`] for any error but ECS's "Unable to describe task
/// definition" (a `ClientException`, ECS's not-found for this call), and for an answer that
/// lacks the revision's ARN or a field [`to_json`] needs
/// ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find_active(client: &Client, family: &str) -> Result<Option<ActiveRevision>> {
    let out = match client
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_missing_family(&e) => return Ok(None),
        Err(e) => {
            return Err(Error::DescribeTaskDefinition(aws_error(
                "describe task definition",
                family,
                e,
            )));
        }
    };
    let Some(td) = out.task_definition() else {
        return Ok(None);
    };
    if td.status() == Some(&TaskDefinitionStatus::Inactive) {
        return Ok(None);
    }
    const ACTION: &str = "describe task definition";
    let (arn, revision) = arn_and_revision(td, ACTION, family, Error::DescribeTaskDefinition)?;
    let json = to_json(td, out.tags())
        .map_err(|field| Error::DescribeTaskDefinition(AwsError::missing(ACTION, family, field)))?;
    Ok(Some(ActiveRevision {
        arn,
        revision,
        json,
    }))
}

/// The ARN and revision number of a revision described (or registered) by `action`; `failed`
/// wraps an incomplete answer. The SDK reads an absent `revision` as 0, which no revision
/// has: then the ARN's `:<revision>` tells it.
fn arn_and_revision(
    td: &aws_sdk_ecs::types::TaskDefinition,
    action: &str,
    family: &str,
    failed: fn(AwsError) -> Error,
) -> Result<(String, i32)> {
    let arn = required(
        td.task_definition_arn(),
        action,
        family,
        "taskDefinitionArn",
    )
    .map_err(failed)?;
    let revision = match td.revision() {
        0 => crate::operate::revision_number(arn)
            .ok_or_else(|| failed(AwsError::missing(action, family, "revision")))?,
        n => n,
    };
    Ok((arn.to_string(), revision))
}

fn is_missing_family<R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError,
        R,
    >,
) -> bool {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    e.as_service_error().is_some_and(|s| {
        let message = s.message().map(str::to_ascii_lowercase);
        s.is_client_exception()
            && message.is_some_and(|m| {
                m.contains("unable to describe task definition")
                    || m.contains("does not exist")
                    || m.contains("not found")
            })
    })
}

/// Tag on a service naming the task definition it was rolled out with and the digest of the
/// rendered definition it was registered (or adopted) for: `<task definition ARN> <digest>`
/// ([`stamp`]). A later run whose rendered definition has the same digest, on a service still
/// running that ARN, needs no DescribeTaskDefinition ([`recorded_for`]).
pub const TAG_TASK_DEFINITION: &str = "orchestrate:task-definition";
/// Tag on the api-server's service: the migration's task definition that ran (or was
/// current) before the api-server's last rollout, in the same form.
pub const TAG_MIGRATION: &str = "orchestrate:migration";

/// SHA-256 (hex) of `rendered` after [`normalize`]: two renderings with the same digest
/// register the same task definition.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`].
pub fn digest(rendered: &Value) -> Result<String> {
    use sha2::{Digest, Sha256};
    let normalized = normalize(rendered)?;
    let bytes = serde_json::to_vec(&normalized).map_err(|e| Error::InvalidTaskDefinition {
        family: "(unknown)".into(),
        message: e.to_string(),
    })?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The tag value recording that `arn` serves the rendering of `digest`.
pub fn stamp(arn: &str, digest: &str) -> String {
    format!("{arn} {digest}")
}

/// The task definition a [`stamp`] records for `digest`, as [`Registered`] (`registered`
/// false): when the tag's digest is `digest` and its ARN names a revision; else `None` (no
/// tag, another rendering, or a value orchestrate did not write).
pub fn recorded_for(tag: Option<&str>, digest: &str) -> Option<Registered> {
    let (arn, recorded) = tag?.split_once(' ')?;
    if recorded != digest || !arn.contains(":task-definition/") {
        return None;
    }
    let revision = arn.rsplit(':').next()?.parse().ok()?;
    Some(Registered {
        arn: arn.to_string(),
        revision,
        registered: false,
    })
}

/// Registers `rendered` as a new revision unless the family's active revision already equals
/// it after [`normalize`]. Retries RegisterTaskDefinition while ECS says a role is not valid
/// yet (IAM propagation of a role created moments ago), within a bounded budget.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`], [`Error::DescribeTaskDefinition`],
/// [`Error::RegisterTaskDefinition`].
pub async fn register_if_changed(
    client: &Client,
    cx: &Context,
    rendered: &Value,
) -> Result<Registered> {
    let request = parse(rendered)?;
    let desired = normalize(rendered)?;
    let family = request.family().to_string();
    let found = find_active(client, &family).await?;
    let floor = found.as_ref().map_or(0, |a| a.revision);
    if let Some(active) = found {
        if normalize(&active.json).ok().as_ref() == Some(&desired) {
            cx.reporter.ready(KIND, revision_label(&active.arn));
            return Ok(Registered {
                arn: active.arn,
                revision: active.revision,
                registered: false,
            });
        }
        let fields = field_changes(&desired, &normalize(&active.json).unwrap_or(Value::Null));
        tracing::debug!(family, changed = ?fields.iter().map(|f| &f.field).collect::<Vec<_>>(), "task definition differs from the active revision");
    }
    cx.reporter.applying(KIND, &family, "register");
    let call = request.register(client);
    let out = retry_eventual(cx.timing, &[ROLE_NOT_READY], EVENTUAL_ATTEMPTS, || {
        let call = call.clone();
        async move { call.send().await.map_err(Eventual) }
    })
    .await
    .map_err(|e| {
        Error::RegisterTaskDefinition(aws_error("register task definition", &family, e.0))
    })?;
    const ACTION: &str = "register task definition";
    let td = required(out.task_definition(), ACTION, &family, "taskDefinition")
        .map_err(Error::RegisterTaskDefinition)?;
    let (arn, revision) = arn_and_revision(td, ACTION, &family, Error::RegisterTaskDefinition)?;
    deregister_lost_twins(client, cx, &family, &desired, floor, revision).await?;
    cx.reporter.ready(KIND, revision_label(&arn));
    Ok(Registered {
        arn,
        revision,
        registered: true,
    })
}

/// Deregisters the revisions of `family` between `floor` (the active revision seen before
/// registering, 0 for none) and `registered` that are ACTIVE and equal to `desired`: twins
/// left by a RegisterTaskDefinition whose response was lost and which the SDK retried (the
/// call takes no idempotency token). Walks down from `registered - 1` and stops at the first
/// revision that is absent, inactive or different, so a normal registration costs at most one
/// DescribeTaskDefinition and leaves every rollback target alone.
async fn deregister_lost_twins(
    client: &Client,
    cx: &Context,
    family: &str,
    desired: &Value,
    floor: i32,
    registered: i32,
) -> Result<()> {
    for revision in ((floor + 1)..registered).rev() {
        let label = format!("{family}:{revision}");
        let Some(twin) = find_active(client, &label).await? else {
            break;
        };
        if twin.revision != revision || normalize(&twin.json).ok().as_ref() != Some(desired) {
            break;
        }
        cx.reporter.note(
            KIND,
            format!(
                "{label} is identical to {family}:{registered} (a lost RegisterTaskDefinition \
                 response, retried); deregistering the twin"
            ),
        );
        match client
            .deregister_task_definition()
            .task_definition(&twin.arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => {
                return Err(Error::DeregisterTaskDefinition(aws_error(
                    "deregister task definition",
                    &twin.arn,
                    e,
                )));
            }
        }
    }
    Ok(())
}

/// What [`register_if_changed`] would do (pure): create for a new family, an update (a new
/// revision) with one [`FieldChange`] per differing field, or no change.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`].
pub fn diff(phase: Phase, rendered: &Value, active: Option<&ActiveRevision>) -> Result<Change> {
    let desired = normalize(rendered)?;
    let family = parse(rendered)?.family().to_string();
    let action = match active {
        None => Action::Create,
        Some(active) => {
            let observed = normalize(&active.json).unwrap_or(Value::Null);
            let fields = field_changes(&desired, &observed);
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Ok(Change::new(phase, KIND, &family, action))
}

/// The plan for one rendered task definition.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`], [`Error::DescribeTaskDefinition`].
pub async fn plan_task_definition(
    client: &Client,
    phase: Phase,
    rendered: &Value,
) -> Result<Change> {
    let family = parse(rendered)?.family().to_string();
    let active = find_active(client, &family).await?;
    diff(phase, rendered, active.as_ref())
}

/// Deregisters every ACTIVE revision of `family` (teardown). Returns how many.
///
/// # Errors
/// [`Error::ListTaskDefinitions`], [`Error::DeregisterTaskDefinition`].
pub async fn deregister_family(client: &Client, cx: &Context, family: &str) -> Result<usize> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                Error::ListTaskDefinitions(aws_error("list task definitions", family, e))
            })?;
        // familyPrefix is a prefix: `demo-worker` also lists `demo-worker2`.
        arns.extend(
            out.task_definition_arns()
                .iter()
                .filter(|arn| revision_label(arn).rsplit_once(':').map(|(f, _)| f) == Some(family))
                .cloned(),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    for arn in &arns {
        cx.reporter.applying(KIND, revision_label(arn), "delete");
        match client
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => {
                return Err(Error::DeregisterTaskDefinition(aws_error(
                    "deregister task definition",
                    arn,
                    e,
                )));
            }
        }
    }
    Ok(arns.len())
}

fn is_gone<R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionError,
        R,
    >,
) -> bool {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    e.as_service_error().is_some_and(|s| {
        let message = s.message().map(str::to_ascii_lowercase);
        s.is_client_exception()
            && message.is_some_and(|m| m.contains("inactive") || m.contains("does not exist"))
    })
}

/// Task definition families starting with `prefix` that have an ACTIVE revision (for
/// `status` and teardown).
///
/// # Errors
/// [`Error::ListTaskDefinitions`].
pub async fn active_families(client: &Client, prefix: &str) -> Result<Vec<String>> {
    let mut families = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_task_definition_families()
            .family_prefix(prefix)
            .status(TaskDefinitionFamilyStatus::Active)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                Error::ListTaskDefinitions(aws_error("list task definition families", prefix, e))
            })?;
        families.extend(out.families().iter().cloned());
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(families),
        }
    }
}

/// One [`FieldChange`] per differing field of two normalised task definitions: top-level keys
/// by name, containers as `containerDefinitions[<name>].<key>`, environment and secrets per
/// variable (`...environment.<NAME>`). Values are shown as JSON with registered secrets
/// redacted and long values shortened.
pub fn field_changes(desired: &Value, observed: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    let d = desired.as_object().unwrap_or(&empty);
    let o = observed.as_object().unwrap_or(&empty);
    for key in union(d, o) {
        if key == "containerDefinitions" {
            container_changes(d.get(key), o.get(key), &mut out);
        } else {
            push_if_differs(&mut out, key.to_string(), o.get(key), d.get(key));
        }
    }
    out
}

fn union<'a>(
    a: &'a serde_json::Map<String, Value>,
    b: &'a serde_json::Map<String, Value>,
) -> Vec<&'a str> {
    let mut keys: Vec<&str> = a.keys().chain(b.keys()).map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn by_name(list: Option<&Value>, key: &str) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                // Both sides went through the mirror, which requires the key; an item without
                // it is shown under `?`, never under an empty name.
                .map(|item| {
                    let name = item.get(key).and_then(Value::as_str).unwrap_or("?");
                    (name.to_string(), item.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn container_changes(
    desired: Option<&Value>,
    observed: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    let d = by_name(desired, "name");
    let o = by_name(observed, "name");
    let mut names: Vec<&String> = d.keys().chain(o.keys()).collect();
    names.sort_unstable();
    names.dedup();
    let empty = serde_json::Map::new();
    for name in names {
        let prefix = format!("containerDefinitions[{name}]");
        match (d.get(name), o.get(name)) {
            (Some(_), None) => out.push(FieldChange::new(&prefix, None, Some("(added)".into()))),
            (None, Some(_)) => out.push(FieldChange::new(
                &prefix,
                Some("(present)".into()),
                Some("(removed)".into()),
            )),
            (Some(dc), Some(oc)) => {
                let dm = dc.as_object().unwrap_or(&empty);
                let om = oc.as_object().unwrap_or(&empty);
                for key in union(dm, om) {
                    let field = format!("{prefix}.{key}");
                    if key == "environment" || key == "secrets" {
                        let inner = if key == "environment" {
                            "value"
                        } else {
                            "valueFrom"
                        };
                        let dv = by_name(dm.get(key), "name");
                        let ov = by_name(om.get(key), "name");
                        let mut vars: Vec<&String> = dv.keys().chain(ov.keys()).collect();
                        vars.sort_unstable();
                        vars.dedup();
                        for var in vars {
                            push_if_differs(
                                out,
                                format!("{field}.{var}"),
                                ov.get(var).map(|v| v.get(inner).unwrap_or(&Value::Null)),
                                dv.get(var).map(|v| v.get(inner).unwrap_or(&Value::Null)),
                            );
                        }
                    } else {
                        push_if_differs(out, field, om.get(key), dm.get(key));
                    }
                }
            }
            (None, None) => {}
        }
    }
}

fn push_if_differs(
    out: &mut Vec<FieldChange>,
    field: String,
    from: Option<&Value>,
    to: Option<&Value>,
) {
    if from != to {
        out.push(FieldChange::new(&field, from.map(show), to.map(show)));
    }
}

/// A value for a plan line: strings bare, the rest as compact JSON; redacted; at most 160
/// characters.
fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = redact(&text);
    if text.chars().count() > 160 {
        let short: String = text.chars().take(157).collect();
        format!("{short}...")
    } else {
        text
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/demo-worker:7";

    #[test]
    fn a_stamp_is_recognised_only_for_its_own_digest() {
        let tag = stamp(ARN, "abc123");
        let known = recorded_for(Some(&tag), "abc123").expect("recorded");
        assert_eq!(known.arn, ARN);
        assert_eq!(known.revision, 7);
        assert!(!known.registered);
        // Another rendering, no tag, or a value orchestrate did not write: read the family.
        assert_eq!(recorded_for(Some(&tag), "def456"), None);
        assert_eq!(recorded_for(None, "abc123"), None);
        assert_eq!(recorded_for(Some("abc123"), "abc123"), None);
        assert_eq!(recorded_for(Some("not-an-arn abc123"), "abc123"), None);
    }
}
