//! Security groups, least privilege, found by VPC + group name (`<name>-alb`,
//! `<name>-api-server`, `<name>-components`, `<name>-database`, `<name>-cache`).
//!
//! | group | ingress | egress |
//! |---|---|---|
//! | alb | TCP 80, 443 from each `load_balancer.ingress_cidrs` | all |
//! | api-server | TCP 8080 from alb and components (UI, Execution API) | all |
//! | components | TCP 8793-8794 from api-server (live task logs of workers/triggerers) | all |
//! | database | TCP 5432 from api-server and components | none |
//! | cache | TCP 6379 from api-server and components | none |
//!
//! "all" egress is the VPC default (`-1` to `0.0.0.0/0`): tasks pull images, reach git and
//! AWS APIs through the NAT gateway. Rules are reconciled exactly: missing ones authorized,
//! extra ones revoked, no call when equal. Rule descriptions are set on authorize but never
//! compared.

mod desired;
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, ResourceType, SecurityGroup};
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, ReporterExt};

pub use desired::{IngressSpec, SecurityGroupDesired, SecurityGroupIds, SgRole, Source};
pub use rules::{Peer, Rule, allow_all, flatten, permission};

use crate::error::{Error, Result};
use crate::util::{Owner, delete_patiently, filter, owned, required, tag_spec};
use crate::{COMPONENT_SECURITY_GROUP, KIND_SECURITY_GROUP};
use rules::{delta, rule_fields};

/// Attempts for calls that may see a just-created group as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// A group as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupObserved {
    /// Its id.
    pub group_id: String,
    /// Its name.
    pub name: String,
    /// Ingress rules.
    pub ingress: BTreeSet<Rule>,
    /// Egress rules.
    pub egress: BTreeSet<Rule>,
}

pub(crate) fn observe(g: &SecurityGroup) -> Option<SecurityGroupObserved> {
    Some(SecurityGroupObserved {
        group_id: g.group_id()?.to_string(),
        name: g.group_name()?.to_string(),
        ingress: flatten(g.ip_permissions()),
        egress: flatten(g.ip_permissions_egress()),
    })
}

/// Finds the group `name` in `vpc_id` (group names are unique per VPC).
///
/// # Errors
/// [`Error::DescribeSecurityGroup`].
pub async fn find(
    client: &Client,
    vpc_id: &str,
    name: &str,
) -> Result<Option<SecurityGroupObserved>> {
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(|e| Error::DescribeSecurityGroup(aws_error("describe security group", name, e)))?;
    Ok(out
        .security_groups()
        .iter()
        .filter(|g| g.group_name() == Some(name))
        .find_map(observe))
}

/// What `up` would do to the group (pure). `ids`: the groups that exist already.
pub fn diff(
    desired: &SecurityGroupDesired,
    observed: Option<&SecurityGroupObserved>,
    ids: &BTreeMap<SgRole, String>,
    owner: &Owner,
) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let (ia, ir) = delta(&desired.ingress_rules(ids, owner), &o.ingress);
            let (ea, er) = delta(&desired.egress_rules(), &o.egress);
            let fields: Vec<FieldChange> = [
                rule_fields("ingress", &ia, &ir),
                rule_fields("egress", &ea, &er),
            ]
            .into_iter()
            .flatten()
            .collect();
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND_SECURITY_GROUP, &desired.name, action)
}

/// Finds or creates the group (no rules yet). A freshly created group is observed with the
/// VPC defaults: no ingress, egress `-1` to `0.0.0.0/0`.
async fn find_or_create(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    vpc_id: &str,
) -> Result<SecurityGroupObserved> {
    if let Some(found) = find(client, vpc_id, &desired.name).await? {
        return Ok(found);
    }
    cx.reporter
        .applying(KIND_SECURITY_GROUP, &desired.name, "create");
    let created = retry_eventual(
        cx.timing,
        &["InvalidVpcID.NotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .create_security_group()
                .group_name(&desired.name)
                .description(&desired.description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &desired.tags))
                .send()
        },
    )
    .await;
    match created {
        Ok(out) => Ok(SecurityGroupObserved {
            group_id: required(out.group_id(), "created security group", "GroupId")?,
            name: desired.name.clone(),
            ingress: BTreeSet::new(),
            egress: BTreeSet::from([allow_all()]),
        }),
        // Created by an attempt whose response was lost: adopt it.
        Err(e) if error_code(&e) == Some("InvalidGroup.Duplicate") => {
            match find(client, vpc_id, &desired.name).await? {
                Some(found) => Ok(found),
                None => Err(Error::CreateSecurityGroup(aws_error(
                    "create security group",
                    &desired.name,
                    e,
                ))),
            }
        }
        Err(e) => Err(Error::CreateSecurityGroup(aws_error(
            "create security group",
            &desired.name,
            e,
        ))),
    }
}

/// Authorizes missing and revokes extra rules of one group. No call when equal.
async fn reconcile(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    observed: &SecurityGroupObserved,
    ids: &BTreeMap<SgRole, String>,
    owner: &Owner,
) -> Result<()> {
    let want_in = desired.ingress_rules(ids, owner);
    let want_out = desired.egress_rules();
    let (ia, ir) = delta(&want_in, &observed.ingress);
    let (ea, er) = delta(&want_out, &observed.egress);
    if ia.is_empty() && ir.is_empty() && ea.is_empty() && er.is_empty() {
        return Ok(());
    }
    cx.reporter
        .applying(KIND_SECURITY_GROUP, &desired.name, "update");
    let group = observed.group_id.as_str();
    macro_rules! fail {
        ($what:expr, $e:expr) => {
            Error::UpdateSecurityGroupRules(aws_error($what, &desired.name, $e))
        };
    }
    let perms = |rules: &[Rule], descriptions: &BTreeMap<Rule, String>| -> Vec<IpPermission> {
        rules
            .iter()
            .map(|r| permission(r, descriptions.get(r).map(String::as_str)))
            .collect()
    };
    let none = BTreeMap::new();
    let eventual = ["InvalidGroup.NotFound"];
    if !ir.is_empty() {
        match client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(perms(&ir, &none)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.NotFound") => {}
            Err(e) => return Err(fail!("revoke ingress rules of security group", e)),
        }
    }
    if !er.is_empty() {
        match client
            .revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(Some(perms(&er, &none)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.NotFound") => {}
            Err(e) => return Err(fail!("revoke egress rules of security group", e)),
        }
    }
    if !ia.is_empty() {
        let p = perms(&ia, &want_in);
        let r = retry_eventual(cx.timing, &eventual, EVENTUAL_ATTEMPTS, || {
            client
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(p.clone()))
                .send()
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.Duplicate") => {}
            Err(e) => return Err(fail!("authorize ingress rules of security group", e)),
        }
    }
    if !ea.is_empty() {
        let p = perms(&ea, &want_out);
        let r = retry_eventual(cx.timing, &eventual, EVENTUAL_ATTEMPTS, || {
            client
                .authorize_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(p.clone()))
                .send()
        })
        .await;
        match r {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("InvalidPermission.Duplicate") => {}
            Err(e) => return Err(fail!("authorize egress rules of security group", e)),
        }
    }
    Ok(())
}

/// Creates or adopts every group in `vpc_id`, then reconciles every group's rules (rules
/// reference each other's ids, so all groups exist first). No mutating call when all match.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure_all(
    client: &Client,
    cx: &Context,
    desired: &[SecurityGroupDesired],
    vpc_id: &str,
) -> Result<SecurityGroupIds> {
    let owner = Owner::from_context(cx);
    // The groups are independent of each other until their rules reference them: all are
    // found or created at once, then all rules reconciled at once.
    let observed = futures::future::try_join_all(
        desired
            .iter()
            .map(|d| find_or_create(client, cx, d, vpc_id)),
    )
    .await?;
    let ids: BTreeMap<SgRole, String> = desired
        .iter()
        .zip(&observed)
        .map(|(d, o)| (d.role, o.group_id.clone()))
        .collect();
    futures::future::try_join_all(
        desired
            .iter()
            .zip(&observed)
            .map(|(d, o)| reconcile(client, cx, d, o, &ids, &owner)),
    )
    .await?;
    SecurityGroupIds::from_map(&ids)
}

/// Creates or adopts one group and reconciles its rules; `ids` must hold every group its
/// rules reference.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &SecurityGroupDesired,
    vpc_id: &str,
    ids: &BTreeMap<SgRole, String>,
) -> Result<String> {
    let o = find_or_create(client, cx, desired, vpc_id).await?;
    let mut ids = ids.clone();
    ids.insert(desired.role, o.group_id.clone());
    reconcile(client, cx, desired, &o, &ids, &Owner::from_context(cx)).await?;
    Ok(o.group_id)
}

/// Deletes every group of this deployment in `vpc_id`: first revokes every rule that
/// references another group (groups that reference each other cannot be deleted otherwise),
/// then deletes each, retrying `DependencyViolation` while network interfaces of deleted
/// tasks, databases and load balancers linger. None is success.
///
/// # Errors
/// [`Error::DescribeSecurityGroup`], [`Error::UpdateSecurityGroupRules`],
/// [`Error::DeleteSecurityGroup`], [`Error::Wait`].
pub async fn delete_all(client: &Client, cx: &Context, vpc_id: &str) -> Result<()> {
    let mut filters = owned(cx, COMPONENT_SECURITY_GROUP);
    filters.push(filter("vpc-id", vpc_id));
    let out = client
        .describe_security_groups()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeSecurityGroup(aws_error("describe security groups of", vpc_id, e))
        })?;
    let raw: Vec<&SecurityGroup> = out
        .security_groups()
        .iter()
        .filter(|g| g.group_name() != Some("default"))
        .collect();
    let groups: Vec<SecurityGroupObserved> = raw.iter().filter_map(|g| observe(g)).collect();
    for (g, sdk) in groups
        .iter()
        .zip(raw.iter().filter(|g| observe(g).is_some()))
    {
        // Revoke each group-referencing rule exactly as described (pairs with their
        // descriptions): AWS matches on protocol, ports and group, and emulators that also
        // compare the description then find the same rule.
        let refs: Vec<IpPermission> = sdk
            .ip_permissions()
            .iter()
            .filter(|p| !p.user_id_group_pairs().is_empty())
            .map(|p| {
                IpPermission::builder()
                    .set_ip_protocol(p.ip_protocol().map(str::to_string))
                    .set_from_port(p.from_port())
                    .set_to_port(p.to_port())
                    .set_user_id_group_pairs(Some(p.user_id_group_pairs().to_vec()))
                    .build()
            })
            .collect();
        if refs.is_empty() {
            continue;
        }
        match client
            .revoke_security_group_ingress()
            .group_id(&g.group_id)
            .set_ip_permissions(Some(refs))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
                ) => {}
            Err(e) => {
                return Err(Error::UpdateSecurityGroupRules(aws_error(
                    "revoke cross-group rules of security group",
                    &g.name,
                    e,
                )));
            }
        }
    }
    for g in &groups {
        cx.reporter.applying(KIND_SECURITY_GROUP, &g.name, "delete");
        delete_patiently(cx, KIND_SECURITY_GROUP, &g.name, || async {
            client
                .delete_security_group()
                .group_id(&g.group_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    Error::DeleteSecurityGroup(aws_error("delete security group", &g.name, e))
                })
        })
        .await?;
    }
    Ok(())
}
