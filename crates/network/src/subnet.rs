//! Subnets: one public and one private per AZ, found by VPC + CIDR.
//!
//! `MapPublicIpOnLaunch` is off for every subnet, public ones included: only the ALB and the
//! NAT gateways live in the public subnets and neither needs it.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{Owner, az_suffix, delete_patiently, filter, name_tag, required, tag_spec};
use crate::{COMPONENT_SUBNET, KIND_SUBNET};

/// Attempts for calls that may see a just-created VPC or subnet as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// What one subnet should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetDesired {
    /// `<name>-public-<az-suffix>` / `<name>-private-<az-suffix>`.
    pub name: String,
    /// IPv4 CIDR block (from the subnet plan).
    pub cidr: String,
    /// Availability zone.
    pub az: String,
    /// Public (routes to the internet gateway) or private (routes to a NAT gateway).
    pub public: bool,
    /// Tags given to CreateSubnet.
    pub tags: Tags,
}

impl SubnetDesired {
    /// The public or private subnet of `az` with `cidr` (pure).
    pub fn new(owner: &Owner, public: bool, az: &str, cidr: &str) -> Self {
        let tier = if public { "public" } else { "private" };
        let name = owner.names.prefixed(&format!("{tier}-{}", az_suffix(az)));
        Self {
            tags: owner.tags(COMPONENT_SUBNET, &name),
            name,
            cidr: cidr.to_string(),
            az: az.to_string(),
            public,
        }
    }
}

/// A subnet as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetObserved {
    /// Subnet id.
    pub subnet_id: String,
    /// CIDR block.
    pub cidr: String,
    /// Availability zone.
    pub az: String,
    /// `MapPublicIpOnLaunch`.
    pub map_public_ip_on_launch: bool,
    /// `pending` / `available`, when EC2 reports it.
    pub state: Option<String>,
    /// The `Name` tag.
    pub name: Option<String>,
}

/// Finds the subnet of `vpc_id` with `cidr` (CIDRs are unique within a VPC).
///
/// # Errors
/// [`Error::DescribeSubnet`] when the call fails.
pub async fn find(client: &Client, vpc_id: &str, cidr: &str) -> Result<Option<SubnetObserved>> {
    let out = client
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("cidr-block", cidr))
        .send()
        .await
        .map_err(|e| Error::DescribeSubnet(aws_error("describe subnet", cidr, e)))?;
    Ok(out
        .subnets()
        .iter()
        .find(|s| s.cidr_block() == Some(cidr))
        .and_then(observe))
}

/// The subnet as [`find`] reports it (pure; `None` without an id, CIDR or zone).
pub(crate) fn observe(s: &aws_sdk_ec2::types::Subnet) -> Option<SubnetObserved> {
    Some(SubnetObserved {
        subnet_id: s.subnet_id()?.to_string(),
        cidr: s.cidr_block()?.to_string(),
        az: s.availability_zone()?.to_string(),
        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
        state: s.state().map(|v| v.as_str().to_string()),
        name: name_tag(s.tags()),
    })
}

/// What `up` would do to the subnet (pure).
pub fn diff(desired: &SubnetDesired, observed: Option<&SubnetObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let mut fields = Vec::new();
            if o.az != desired.az {
                fields.push(FieldChange::new(
                    "AvailabilityZone (cannot change in place)",
                    Some(o.az.clone()),
                    Some(desired.az.clone()),
                ));
            }
            if o.map_public_ip_on_launch {
                fields.push(FieldChange::new(
                    "MapPublicIpOnLaunch",
                    Some("true".to_string()),
                    Some("false".to_string()),
                ));
            }
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND_SUBNET, &desired.name, action)
}

/// Creates or adopts the subnet in `vpc_id`; turns `MapPublicIpOnLaunch` off if it is on.
/// Returns the subnet id. No mutating call when it exists as desired.
///
/// A CreateSubnet retried after a lost response fails with `InvalidSubnet.Conflict` (the CIDR
/// is taken, by our own subnet): the subnet is then found again and adopted.
///
/// # Errors
/// [`Error::Conflict`] when the CIDR is taken in another AZ; AWS failures per step.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &SubnetDesired,
    vpc_id: &str,
) -> Result<String> {
    let observed = match find(client, vpc_id, &desired.cidr).await? {
        Some(o) => o,
        None => {
            cx.reporter.applying(KIND_SUBNET, &desired.name, "create");
            let created = retry_eventual(
                cx.timing,
                &["InvalidVpcID.NotFound"],
                EVENTUAL_ATTEMPTS,
                || {
                    client
                        .create_subnet()
                        .vpc_id(vpc_id)
                        .cidr_block(&desired.cidr)
                        .availability_zone(&desired.az)
                        .tag_specifications(tag_spec(ResourceType::Subnet, &desired.tags))
                        .send()
                },
            )
            .await;
            match created {
                Ok(out) => {
                    // New subnets of a non-default VPC have MapPublicIpOnLaunch off.
                    return required(
                        out.subnet().and_then(|s| s.subnet_id()),
                        "created subnet",
                        "SubnetId",
                    );
                }
                Err(e) if error_code(&e) == Some("InvalidSubnet.Conflict") => {
                    match refind(client, cx, vpc_id, &desired.cidr).await? {
                        Some(o) => {
                            cx.reporter.applying(KIND_SUBNET, &desired.name, "adopt");
                            o
                        }
                        None => {
                            return Err(Error::CreateSubnet(aws_error(
                                "create subnet",
                                &desired.name,
                                e,
                            )));
                        }
                    }
                }
                Err(e) => {
                    return Err(Error::CreateSubnet(aws_error(
                        "create subnet",
                        &desired.name,
                        e,
                    )));
                }
            }
        }
    };
    if observed.az != desired.az {
        return Err(Error::Conflict {
            kind: KIND_SUBNET.into(),
            name: desired.name.clone(),
            message: format!(
                "subnet {} holds {} in {} but the pinned zone is {}; a subnet cannot move: \
                 restore the lock file's zones or tear the deployment down first",
                observed.subnet_id, desired.cidr, observed.az, desired.az
            ),
        });
    }
    if observed.map_public_ip_on_launch {
        cx.reporter.applying(KIND_SUBNET, &desired.name, "update");
        client
            .modify_subnet_attribute()
            .subnet_id(&observed.subnet_id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(|e| {
                Error::UpdateSubnet(aws_error(
                    "turn MapPublicIpOnLaunch off on subnet",
                    &desired.name,
                    e,
                ))
            })?;
    }
    Ok(observed.subnet_id)
}

/// What became of the duplicates [`remove_duplicates`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Deleted: nothing used them.
    pub deleted: Vec<String>,
    /// Left in place: network interfaces still use them (reported with the fix).
    pub in_use: Vec<String>,
}

/// Deletes every other subnet of this deployment in `vpc_id` that carries the `Name` of a
/// kept one (`kept`: name -> subnet id) — left by two runs at once or by a lost response —
/// when no network interface is in it. One that is in use is left alone and reported with
/// both ids and the command that removes it once it is empty; it never fails the run.
/// One DescribeSubnets, plus one DescribeNetworkInterfaces per duplicate.
///
/// # Errors
/// [`Error::DescribeSubnet`], [`Error::DescribeNetworkInterface`], [`Error::DeleteSubnet`].
pub async fn remove_duplicates(
    client: &Client,
    cx: &Context,
    vpc_id: &str,
    kept: &[(String, String)],
) -> Result<Duplicates> {
    let out = client
        .describe_subnets()
        .set_filters(Some(
            [
                vec![filter("vpc-id", vpc_id)],
                crate::util::owned(cx, COMPONENT_SUBNET),
            ]
            .concat(),
        ))
        .send()
        .await
        .map_err(|e| Error::DescribeSubnet(aws_error("describe subnets of", vpc_id, e)))?;
    let mut extras: Vec<(String, String, String)> = Vec::new();
    for s in out.subnets() {
        if s.vpc_id() != Some(vpc_id)
            || !crate::util::owned_by(s.tags(), cx, COMPONENT_SUBNET, None)
        {
            continue;
        }
        let (Some(id), Some(name)) = (s.subnet_id(), name_tag(s.tags())) else {
            continue;
        };
        if let Some((_, keep)) = kept.iter().find(|(n, k)| *n == name && k != id) {
            extras.push((id.to_string(), name, keep.clone()));
        }
    }
    extras.sort();
    let mut result = Duplicates::default();
    for (id, name, keep) in extras {
        let interfaces = client
            .describe_network_interfaces()
            .filters(filter("subnet-id", &id))
            .send()
            .await
            .map_err(|e| {
                Error::DescribeNetworkInterface(aws_error(
                    "describe network interfaces in subnet",
                    &id,
                    e,
                ))
            })?;
        let used = interfaces.network_interfaces().len();
        if used > 0 {
            cx.reporter.note(
                KIND_SUBNET,
                format!(
                    "subnet {id} duplicates {name} ({keep}) but {used} network interface(s) \
                     are in it; left alone: once they are gone, the next `up` deletes it \
                     (or: aws ec2 delete-subnet --subnet-id {id})"
                ),
            );
            result.in_use.push(id);
            continue;
        }
        cx.reporter.note(
            KIND_SUBNET,
            format!("deleting duplicate subnet {id} of {name} (nothing uses it); keeping {keep}"),
        );
        delete(client, cx, &id).await?;
        result.deleted.push(id);
    }
    Ok(result)
}

/// Finds a subnet that AWS says exists but may not list yet (eventual consistency).
async fn refind(
    client: &Client,
    cx: &Context,
    vpc_id: &str,
    cidr: &str,
) -> Result<Option<SubnetObserved>> {
    let mut pause = cx
        .timing
        .scaled(Duration::from_secs(1))
        .max(Duration::from_millis(5));
    let mut retries = orchestrate_core::ProbeRetries::default();
    for _ in 0..EVENTUAL_ATTEMPTS {
        // A throttled, 5xx or lost describe counts as "not listed yet", like in every wait.
        match find(client, vpc_id, cidr).await {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) => {}
            Err(e) => retries.absorb(cidr, e)?,
        }
        tokio::time::sleep(pause).await;
        pause = pause.mul_f64(1.5);
    }
    Ok(None)
}

/// `Ready` once the subnet is `available`.
///
/// # Errors
/// [`Error::DescribeSubnet`] when the describe call fails.
pub async fn ready(client: &Client, _cx: &Context, subnet_id: &str) -> Result<Readiness> {
    match client.describe_subnets().subnet_ids(subnet_id).send().await {
        Ok(out) => Ok(match out.subnets().first().and_then(|s| s.state()) {
            Some(s) if s.as_str() == "available" => Readiness::Ready,
            Some(s) => Readiness::pending(s.as_str()),
            None => Readiness::pending("not yet visible"),
        }),
        Err(e) if error_code(&e) == Some("InvalidSubnetID.NotFound") => {
            Ok(Readiness::pending("not yet visible"))
        }
        Err(e) => Err(Error::DescribeSubnet(aws_error(
            "describe subnet",
            subnet_id,
            e,
        ))),
    }
}

/// Deletes the subnet; gone or never created is success. Retries `DependencyViolation`
/// (network interfaces of deleted tasks, databases and load balancers linger).
///
/// # Errors
/// [`Error::DeleteSubnet`] or [`Error::Wait`].
pub async fn delete(client: &Client, cx: &Context, subnet_id: &str) -> Result<()> {
    cx.reporter.applying(KIND_SUBNET, subnet_id, "delete");
    delete_patiently(cx, KIND_SUBNET, subnet_id, || async {
        client
            .delete_subnet()
            .subnet_id(subnet_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::DeleteSubnet(aws_error("delete subnet", subnet_id, e)))
    })
    .await
}
