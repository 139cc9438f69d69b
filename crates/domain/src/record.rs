//! Route 53 records: the certificate's DNS-validation CNAMEs and the alias `A` record of the
//! domain to the ALB.
//!
//! Route 53 records carry no tags, so ownership is decided by content: a validation CNAME is
//! the one ACM named for a certificate of ours; the alias is ours when it points at this
//! deployment's ALB (its DNS name starts with the ALB's name, `internal-` first for an
//! internal ALB). A record at the domain that is anything else is never overwritten or
//! deleted ([`Error::RecordConflict`]).

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget as SdkAliasTarget, Change as SdkChange, ChangeAction, ChangeBatch, ResourceRecord,
    ResourceRecordSet, RrType,
};
use orchestrate_aws::{aws_error, is_not_found_code};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt};

use crate::error::{Error, Result};

/// Kind of the alias record in plans and progress.
pub const ALIAS_KIND: &str = "route53/alias-record";
/// Kind of a validation record in plans and progress.
pub const VALIDATION_KIND: &str = "route53/validation-record";
/// TTL of the validation CNAMEs (ACM's own suggestion is 300 s).
pub const VALIDATION_TTL: i64 = 300;
/// Shown as the alias target before the ALB exists.
pub const NEW_ALB: &str = "(load balancer to be created)";

/// Where an alias record points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// The ALB's DNS name.
    pub dns_name: String,
    /// The ALB's canonical hosted zone id (of its region's ELB zone, not the user's zone).
    pub hosted_zone_id: String,
}

/// The alias `A` record `domain` → the ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasDesired {
    /// The user's hosted zone.
    pub zone_id: String,
    /// The domain.
    pub name: String,
    /// The ALB's name (what makes an existing alias ours).
    pub load_balancer_name: String,
    /// The ALB, once it exists.
    pub target: Option<AliasTarget>,
}

/// One record set as Route 53 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordObserved {
    /// Name, lowercase, without the trailing dot.
    pub name: String,
    /// `A`, `CNAME`, ...
    pub record_type: String,
    /// TTL (absent for aliases).
    pub ttl: Option<i64>,
    /// Values (empty for aliases).
    pub values: Vec<String>,
    /// The alias target, for alias records (as Route 53 spells it).
    pub alias: Option<AliasTarget>,
    /// The alias's `EvaluateTargetHealth` (a DELETE must repeat it).
    pub evaluate_target_health: bool,
}

impl RecordObserved {
    fn show(&self) -> String {
        match &self.alias {
            Some(a) => format!("an {} alias to {}", self.record_type, a.dns_name),
            None => format!("a {} record {}", self.record_type, self.values.join(",")),
        }
    }
}

/// A DNS name as compared here: lowercase, no trailing dot, no `dualstack.` prefix (Route 53
/// and the console add it to ELB alias targets).
pub fn normalize(name: &str) -> String {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    lower
        .strip_prefix("dualstack.")
        .map_or(lower.clone(), str::to_string)
}

/// True when `dns_name` is the DNS name of the load balancer called `load_balancer_name`
/// (`<name>-<id>.<region>.elb.amazonaws.com`, `internal-<name>-<id>...` when internal).
pub fn is_alb_of(dns_name: &str, load_balancer_name: &str) -> bool {
    let dns = normalize(dns_name);
    let prefix = format!("{}-", load_balancer_name.to_ascii_lowercase());
    dns.starts_with(&prefix) || dns.starts_with(&format!("internal-{prefix}"))
}

/// Every record set named `name` in `zone` (one ListResourceRecordSets).
///
/// # Errors
/// [`Error::ListRecords`]; a missing zone is an error (`NoSuchHostedZone`), not `None`.
pub async fn find_all(client: &Client, zone: &str, name: &str) -> Result<Vec<RecordObserved>> {
    let want = normalize(name);
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(&want)
        .max_items(20)
        .send()
        .await
        .map_err(|e| Error::ListRecords(aws_error("list resource record sets", zone, e)))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| normalize(r.name()) == want)
        .map(|r| RecordObserved {
            name: want.clone(),
            record_type: r.r#type().as_str().to_string(),
            ttl: r.ttl(),
            values: r
                .resource_records()
                .iter()
                .map(|v| v.value().to_string())
                .collect(),
            alias: r.alias_target().map(|a| AliasTarget {
                dns_name: a.dns_name().to_string(),
                hosted_zone_id: a.hosted_zone_id().to_string(),
            }),
            evaluate_target_health: r
                .alias_target()
                .is_some_and(SdkAliasTarget::evaluate_target_health),
        })
        .collect())
}

/// The record set `name` of type `record_type` in `zone`, if any.
///
/// # Errors
/// [`Error::ListRecords`].
pub async fn find(
    client: &Client,
    zone: &str,
    name: &str,
    record_type: &str,
) -> Result<Option<RecordObserved>> {
    Ok(find_all(client, zone, name)
        .await?
        .into_iter()
        .find(|r| r.record_type == record_type))
}

fn build_err(what: &'static str) -> impl Fn(aws_sdk_route53::error::BuildError) -> Error {
    move |e| Error::BuildRequest {
        what,
        message: e.to_string(),
    }
}

fn cname_set(name: &str, value: &str) -> Result<ResourceRecordSet> {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(VALIDATION_TTL)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(build_err("validation record"))?,
        )
        .build()
        .map_err(build_err("validation record"))
}

fn alias_set(name: &str, target: &AliasTarget, evaluate: bool) -> Result<ResourceRecordSet> {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            SdkAliasTarget::builder()
                .dns_name(&target.dns_name)
                .hosted_zone_id(&target.hosted_zone_id)
                .evaluate_target_health(evaluate)
                .build()
                .map_err(build_err("alias record"))?,
        )
        .build()
        .map_err(build_err("alias record"))
}

/// Sends one change. `InvalidChangeBatch` on a DELETE of a record that is already gone is
/// success.
async fn change(
    client: &Client,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    comment: &str,
) -> Result<()> {
    let name = set.name().to_string();
    let deleting = action == ChangeAction::Delete;
    let batch = ChangeBatch::builder()
        .comment(comment)
        .changes(
            SdkChange::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(build_err("change batch"))?,
        )
        .build()
        .map_err(build_err("change batch"))?;
    match client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if deleting
                && orchestrate_aws::error_code(&e)
                    .is_some_and(|c| c == "InvalidChangeBatch" || is_not_found_code(c)) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::ChangeRecords(aws_error(
            "change resource record sets",
            &name,
            e,
        ))),
    }
}

/// Pure diff of the validation CNAME `name` → `value`.
pub fn diff_cname(name: &str, value: &str, observed: Option<&RecordObserved>) -> Change {
    let shown = normalize(name);
    let action = match observed {
        None => Action::Create,
        Some(o)
            if o.alias.is_none()
                && o.values.iter().map(|v| normalize(v)).eq([normalize(value)]) =>
        {
            Action::NoChange
        }
        Some(o) => Action::Update {
            fields: vec![FieldChange::new(
                "Value",
                Some(o.values.join(",")),
                Some(value.to_string()),
            )],
        },
    };
    Change::new(Phase::ApiServer, VALIDATION_KIND, &shown, action)
}

/// Writes the validation CNAME `name` → `value` unless it is already there (UPSERT; no
/// mutating call when it is). Returns whether a change was sent.
///
/// # Errors
/// [`Error::ListRecords`], [`Error::ChangeRecords`].
pub async fn ensure_cname(
    client: &Client,
    cx: &Context,
    zone: &str,
    name: &str,
    value: &str,
) -> Result<bool> {
    let observed = find(client, zone, name, "CNAME").await?;
    if diff_cname(name, value, observed.as_ref()).action == Action::NoChange {
        return Ok(false);
    }
    cx.reporter
        .applying(VALIDATION_KIND, &normalize(name), "upsert");
    change(
        client,
        zone,
        ChangeAction::Upsert,
        cname_set(name, value)?,
        &format!("orchestrate {}: ACM validation", cx.names.deployment()),
    )
    .await?;
    Ok(true)
}

/// Deletes the validation CNAME `name` if it still holds `value`. Idempotent.
///
/// # Errors
/// [`Error::ListRecords`], [`Error::ChangeRecords`].
pub async fn delete_cname(
    client: &Client,
    cx: &Context,
    zone: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let Some(observed) = find(client, zone, name, "CNAME").await? else {
        return Ok(());
    };
    if diff_cname(name, value, Some(&observed)).action != Action::NoChange {
        // Someone changed it: not the record ACM gave us any more; leave it.
        return Ok(());
    }
    cx.reporter
        .applying(VALIDATION_KIND, &normalize(name), "delete");
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .set_ttl(observed.ttl)
        .set_resource_records(Some(
            observed
                .values
                .iter()
                .map(|v| {
                    ResourceRecord::builder()
                        .value(v)
                        .build()
                        .map_err(build_err("validation record"))
                })
                .collect::<Result<Vec<_>>>()?,
        ))
        .build()
        .map_err(build_err("validation record"))?;
    change(
        client,
        zone,
        ChangeAction::Delete,
        set,
        &format!("orchestrate {}: teardown", cx.names.deployment()),
    )
    .await
}

/// The alias's observed state, split by ownership.
fn alias_verdict(
    desired: &AliasDesired,
    records: &[RecordObserved],
) -> Result<Option<RecordObserved>> {
    // A CNAME at the name excludes any other record there; an A record that is not an alias to
    // our ALB is someone else's.
    if let Some(other) = records.iter().find(|r| {
        r.record_type == "CNAME"
            || (r.record_type == "A"
                && !r
                    .alias
                    .as_ref()
                    .is_some_and(|a| is_alb_of(&a.dns_name, &desired.load_balancer_name)))
    }) {
        return Err(Error::RecordConflict {
            name: desired.name.clone(),
            zone: desired.zone_id.clone(),
            existing: other.show(),
        });
    }
    Ok(records.iter().find(|r| r.record_type == "A").cloned())
}

/// Pure diff of the alias. A record of someone else's at the name shows as an update that
/// [`ensure_alias`] will refuse.
pub fn diff_alias(desired: &AliasDesired, records: &[RecordObserved]) -> Change {
    let want = desired
        .target
        .as_ref()
        .map_or_else(|| NEW_ALB.to_string(), |t| normalize(&t.dns_name));
    let action = match alias_verdict(desired, records) {
        Ok(None) => Action::Create,
        Ok(Some(have)) => match (&have.alias, &desired.target) {
            (Some(a), Some(t))
                if normalize(&a.dns_name) == normalize(&t.dns_name)
                    && a.hosted_zone_id == t.hosted_zone_id =>
            {
                Action::NoChange
            }
            (a, _) => Action::Update {
                fields: vec![FieldChange::new(
                    "AliasTarget",
                    a.as_ref().map(|a| a.dns_name.clone()),
                    Some(want),
                )],
            },
        },
        Err(Error::RecordConflict { existing, .. }) => Action::Update {
            fields: vec![FieldChange::new(
                "AliasTarget (refused: not orchestrate's record)",
                Some(existing),
                Some(want),
            )],
        },
        Err(_) => Action::Create,
    };
    Change::new(Phase::ApiServer, ALIAS_KIND, &desired.name, action)
}

/// Writes the alias `A` record unless it already points at the ALB (no mutating call then).
///
/// # Errors
/// [`Error::RecordConflict`] (exit 3) when the name holds a record orchestrate did not write;
/// [`Error::MissingField`] when the ALB is not known; [`Error::ListRecords`],
/// [`Error::ChangeRecords`].
pub async fn ensure_alias(client: &Client, cx: &Context, desired: &AliasDesired) -> Result<()> {
    let target = desired.target.as_ref().ok_or_else(|| Error::MissingField {
        what: format!(
            "the load balancer {} for the alias",
            desired.load_balancer_name
        ),
        field: "DNSName",
    })?;
    let records = find_all(client, &desired.zone_id, &desired.name).await?;
    alias_verdict(desired, &records)?;
    if diff_alias(desired, &records).action == Action::NoChange {
        return Ok(());
    }
    cx.reporter.applying(ALIAS_KIND, &desired.name, "upsert");
    change(
        client,
        &desired.zone_id,
        ChangeAction::Upsert,
        alias_set(&desired.name, target, false)?,
        &format!("orchestrate {}: alias to the ALB", cx.names.deployment()),
    )
    .await
}

/// Deletes the alias if it points at this deployment's ALB (whatever its current DNS name);
/// anything else at the name is left alone. Idempotent.
///
/// # Errors
/// [`Error::ListRecords`], [`Error::ChangeRecords`].
pub async fn delete_alias(
    client: &Client,
    cx: &Context,
    zone: &str,
    name: &str,
    load_balancer_name: &str,
) -> Result<()> {
    let Some(observed) = find(client, zone, name, "A").await? else {
        return Ok(());
    };
    let Some(target) = observed
        .alias
        .as_ref()
        .filter(|a| is_alb_of(&a.dns_name, load_balancer_name))
    else {
        return Ok(());
    };
    cx.reporter.applying(ALIAS_KIND, name, "delete");
    change(
        client,
        zone,
        ChangeAction::Delete,
        alias_set(name, target, observed.evaluate_target_health)?,
        &format!("orchestrate {}: teardown", cx.names.deployment()),
    )
    .await
}
