//! The VPC: one per deployment, found by its tags, DNS support and DNS hostnames on.
//!
//! CreateVpc takes no client token, so a response lost after AWS created the VPC, followed by
//! a retry, leaves two tagged VPCs. [`find`] notices every match and picks the one to keep
//! (the one with subnets, else the lowest id); [`ensure`] deletes the empty duplicates and
//! says so through the reporter — right after its own create too, so the run that met the
//! lost response ends with one VPC. A duplicate that has subnets is never deleted: it is reported.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use orchestrate_aws::{aws_error, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{Owner, delete_patiently, filter, owned, owned_by, required, tag_spec};
use crate::{COMPONENT_VPC, KIND_VPC};

/// Attempts for calls that may see a just-created VPC as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// What the VPC should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcDesired {
    /// `<name>-vpc`.
    pub name: String,
    /// IPv4 CIDR block.
    pub cidr: String,
    /// Tags given to CreateVpc.
    pub tags: Tags,
}

impl VpcDesired {
    /// The VPC of `owner` with `cidr` (pure).
    pub fn new(owner: &Owner, cidr: &str) -> Self {
        let name = owner.names.prefixed("vpc");
        Self {
            tags: owner.tags(COMPONENT_VPC, &name),
            name,
            cidr: cidr.to_string(),
        }
    }
}

/// The VPC as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcObserved {
    /// The VPC kept.
    pub vpc_id: String,
    /// Its primary CIDR block.
    pub cidr: String,
    /// `pending` or `available`.
    pub state: String,
    /// `enableDnsSupport`.
    pub dns_support: bool,
    /// `enableDnsHostnames`.
    pub dns_hostnames: bool,
    /// Other tagged VPCs of this deployment without subnets (lost-response duplicates).
    pub empty_duplicates: Vec<String>,
    /// Other tagged VPCs of this deployment that have subnets (never deleted automatically).
    pub busy_duplicates: Vec<String>,
}

/// Every VPC tagged as this deployment's, with its subnet count.
async fn candidates(client: &Client, cx: &Context) -> Result<Vec<(String, String, String)>> {
    let out = client
        .describe_vpcs()
        .set_filters(Some(owned(cx, COMPONENT_VPC)))
        .send()
        .await
        .map_err(|e| Error::DescribeVpc(aws_error("describe VPCs", cx.names.deployment(), e)))?;
    let mut found: Vec<(String, String, String)> = out
        .vpcs()
        .iter()
        .filter(|v| owned_by(v.tags(), cx, COMPONENT_VPC, None))
        .filter_map(|v| {
            Some((
                v.vpc_id()?.to_string(),
                v.cidr_block()?.to_string(),
                v.state()?.as_str().to_string(),
            ))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Ids of every VPC tagged as this deployment's (duplicates included), sorted.
///
/// # Errors
/// [`Error::DescribeVpc`].
pub async fn list_ids(client: &Client, cx: &Context) -> Result<Vec<String>> {
    Ok(candidates(client, cx)
        .await?
        .into_iter()
        .map(|(id, _, _)| id)
        .collect())
}

async fn subnet_count(client: &Client, vpc_id: &str) -> Result<usize> {
    let out = client
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| Error::DescribeSubnet(aws_error("describe subnets of", vpc_id, e)))?;
    Ok(out.subnets().len())
}

pub(crate) async fn attribute(
    client: &Client,
    vpc_id: &str,
    name: VpcAttributeName,
) -> Result<bool> {
    let out = client
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(name.clone())
        .send()
        .await
        .map_err(|e| {
            Error::DescribeVpc(aws_error(
                &format!("describe attribute {} of VPC", name.as_str()),
                vpc_id,
                e,
            ))
        })?;
    let value = match name {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(value
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false))
}

/// Finds the deployment's VPC by its tags (read-only; see the module docs for duplicates).
///
/// # Errors
/// [`Error::DescribeVpc`] / [`Error::DescribeSubnet`] when a describe call fails.
pub async fn find(client: &Client, cx: &Context) -> Result<Option<VpcObserved>> {
    let found = candidates(client, cx).await?;
    let mut counts = Vec::new();
    if found.len() > 1 {
        for (id, _, _) in &found {
            counts.push(subnet_count(client, id).await?);
        }
    }
    // Lowest id with subnets, else lowest id (found is sorted by id).
    let keep_index = counts.iter().position(|c| *c > 0).unwrap_or(0);
    let Some((vpc_id, cidr, state)) = found.get(keep_index).cloned() else {
        return Ok(None);
    };
    let mut empty_duplicates = Vec::new();
    let mut busy_duplicates = Vec::new();
    for (i, ((id, _, _), count)) in found.iter().zip(&counts).enumerate() {
        if i == keep_index {
            continue;
        }
        if *count == 0 {
            empty_duplicates.push(id.clone());
        } else {
            busy_duplicates.push(id.clone());
        }
    }
    let dns_support = attribute(client, &vpc_id, VpcAttributeName::EnableDnsSupport).await?;
    let dns_hostnames = attribute(client, &vpc_id, VpcAttributeName::EnableDnsHostnames).await?;
    Ok(Some(VpcObserved {
        vpc_id,
        cidr,
        state,
        dns_support,
        dns_hostnames,
        empty_duplicates,
        busy_duplicates,
    }))
}

/// What `up` would do to the VPC (pure). Empty duplicates appear as deletions.
pub fn diff(desired: &VpcDesired, observed: Option<&VpcObserved>) -> Vec<Change> {
    let Some(observed) = observed else {
        return vec![Change::new(
            Phase::Storage,
            KIND_VPC,
            &desired.name,
            Action::Create,
        )];
    };
    let mut fields = Vec::new();
    if observed.cidr != desired.cidr {
        fields.push(FieldChange::new(
            "CidrBlock (cannot change in place)",
            Some(observed.cidr.clone()),
            Some(desired.cidr.clone()),
        ));
    }
    for (field, value) in [
        ("EnableDnsSupport", observed.dns_support),
        ("EnableDnsHostnames", observed.dns_hostnames),
    ] {
        if !value {
            fields.push(FieldChange::new(
                field,
                Some("false".to_string()),
                Some("true".to_string()),
            ));
        }
    }
    let action = if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    };
    let mut changes = vec![Change::new(Phase::Storage, KIND_VPC, &desired.name, action)];
    for dup in &observed.empty_duplicates {
        changes.push(Change::new(Phase::Storage, KIND_VPC, dup, Action::Delete));
    }
    changes
}

async fn enable(client: &Client, cx: &Context, vpc_id: &str, name: VpcAttributeName) -> Result<()> {
    let on = AttributeBooleanValue::builder().value(true).build();
    retry_eventual(
        cx.timing,
        &["InvalidVpcID.NotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            let mut req = client.modify_vpc_attribute().vpc_id(vpc_id);
            req = match name {
                VpcAttributeName::EnableDnsHostnames => req.enable_dns_hostnames(on.clone()),
                _ => req.enable_dns_support(on.clone()),
            };
            req.send()
        },
    )
    .await
    .map_err(|e| {
        Error::UpdateVpc(aws_error(
            &format!("enable {} on VPC", name.as_str()),
            vpc_id,
            e,
        ))
    })?;
    Ok(())
}

/// Deletes the empty duplicates [`find`] reported, and reports every duplicate.
async fn remove_duplicates(client: &Client, cx: &Context, observed: &VpcObserved) -> Result<()> {
    for dup in &observed.empty_duplicates {
        cx.reporter.note(
            KIND_VPC,
            format!(
                "found duplicate VPC {dup} (a lost CreateVpc response); keeping {} and deleting the empty duplicate",
                observed.vpc_id
            ),
        );
        delete(client, cx, dup).await?;
    }
    for dup in &observed.busy_duplicates {
        cx.reporter.note(
            KIND_VPC,
            format!(
                "VPC {dup} is also tagged as this deployment's and has subnets; keeping {} and leaving {dup} alone: delete it yourself if it is unused",
                observed.vpc_id
            ),
        );
    }
    Ok(())
}

/// Creates or adopts the VPC, turns DNS support and hostnames on, removes empty duplicates;
/// returns the VPC id. No mutating call when it exists as desired.
///
/// # Errors
/// [`Error::Conflict`] when the existing VPC has another CIDR; AWS failures per step.
pub async fn ensure(client: &Client, cx: &Context, desired: &VpcDesired) -> Result<String> {
    let observed = match find(client, cx).await? {
        Some(observed) => observed,
        None => {
            cx.reporter.applying(KIND_VPC, &desired.name, "create");
            let out = client
                .create_vpc()
                .cidr_block(&desired.cidr)
                .tag_specifications(tag_spec(ResourceType::Vpc, &desired.tags))
                .send()
                .await
                .map_err(|e| Error::CreateVpc(aws_error("create VPC", &desired.name, e)))?;
            let vpc_id = required(out.vpc().and_then(|v| v.vpc_id()), "created VPC", "VpcId")?;
            // CreateVpc takes no client token: when its response was lost and the SDK
            // retried, the first attempt's VPC exists too. Look again and settle it below like
            // any duplicate, in this run (DNS attributes included).
            match find(client, cx).await? {
                Some(observed) => observed,
                None => {
                    // Not visible yet. A new VPC has DNS support on and DNS hostnames off;
                    // Cloud Map needs both.
                    enable(client, cx, &vpc_id, VpcAttributeName::EnableDnsHostnames).await?;
                    return Ok(vpc_id);
                }
            }
        }
    };
    remove_duplicates(client, cx, &observed).await?;
    if observed.cidr != desired.cidr {
        return Err(Error::Conflict {
            kind: KIND_VPC.into(),
            name: desired.name.clone(),
            message: format!(
                "VPC {} has CIDR {} but the spec asks for {}; a VPC's CIDR cannot change: \
                 restore network.vpc_cidr or tear the deployment down first",
                observed.vpc_id, observed.cidr, desired.cidr
            ),
        });
    }
    if !observed.dns_support || !observed.dns_hostnames {
        cx.reporter.applying(KIND_VPC, &desired.name, "update");
    }
    if !observed.dns_support {
        enable(
            client,
            cx,
            &observed.vpc_id,
            VpcAttributeName::EnableDnsSupport,
        )
        .await?;
    }
    if !observed.dns_hostnames {
        enable(
            client,
            cx,
            &observed.vpc_id,
            VpcAttributeName::EnableDnsHostnames,
        )
        .await?;
    }
    Ok(observed.vpc_id)
}

/// `Ready` once the VPC is `available`.
///
/// # Errors
/// [`Error::DescribeVpc`] when the describe call fails.
pub async fn ready(client: &Client, _cx: &Context, vpc_id: &str) -> Result<Readiness> {
    let out = client.describe_vpcs().vpc_ids(vpc_id).send().await;
    let out = match out {
        Ok(out) => out,
        Err(e) if orchestrate_aws::error_code(&e) == Some("InvalidVpcID.NotFound") => {
            return Ok(Readiness::pending("not yet visible"));
        }
        Err(e) => return Err(Error::DescribeVpc(aws_error("describe VPC", vpc_id, e))),
    };
    Ok(match out.vpcs().first().and_then(|v| v.state()) {
        Some(s) if s.as_str() == "available" => Readiness::Ready,
        Some(s) => Readiness::pending(s.as_str()),
        None => Readiness::pending("not yet visible"),
    })
}

/// Deletes the VPC; gone or never created is success. Retries `DependencyViolation` (network
/// interfaces of deleted resources linger) for up to [`crate::util::DEPENDENCY_WAIT`].
///
/// # Errors
/// [`Error::DeleteVpc`] or [`Error::Wait`] when it cannot be deleted.
pub async fn delete(client: &Client, cx: &Context, vpc_id: &str) -> Result<()> {
    cx.reporter.applying(KIND_VPC, vpc_id, "delete");
    delete_patiently(cx, KIND_VPC, vpc_id, || async {
        client
            .delete_vpc()
            .vpc_id(vpc_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::DeleteVpc(aws_error("delete VPC", vpc_id, e)))
    })
    .await
}
