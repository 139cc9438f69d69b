//! Elastic IPs of the NAT gateways: one per NAT gateway, found by tags (deployment, component
//! `network/elastic-ip`, `Name` = the NAT gateway's name).
//!
//! AllocateAddress takes no client token: after a crash or a lost response a tagged,
//! unassociated address may exist. It is reused, never allocated again; surplus unassociated
//! addresses with the same name are released by [`ensure`] and reported.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use orchestrate_aws::{aws_error, error_code};
use orchestrate_core::{Action, Change, Context, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{Owner, delete_patiently, owned, owned_by, owned_named, required, tag_spec};
use crate::{COMPONENT_ELASTIC_IP, KIND_ELASTIC_IP};

/// What one NAT gateway's address should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticIpDesired {
    /// `<name>-nat-<az-suffix>` (the NAT gateway's name).
    pub name: String,
    /// Tags given to AllocateAddress.
    pub tags: Tags,
}

impl ElasticIpDesired {
    /// The address of the NAT gateway named `nat_name` (pure).
    pub fn new(owner: &Owner, nat_name: &str) -> Self {
        Self {
            tags: owner.tags(COMPONENT_ELASTIC_IP, nat_name),
            name: nat_name.to_string(),
        }
    }
}

/// One address as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticIpObserved {
    /// Allocation id of the address kept.
    pub allocation_id: String,
    /// Its public IP.
    pub public_ip: Option<String>,
    /// Its association (a NAT gateway's network interface), if any.
    pub association_id: Option<String>,
    /// Other unassociated tagged addresses with the same name (to release).
    pub surplus: Vec<String>,
}

/// (allocation id, public ip, association id) of this deployment's addresses.
async fn list(
    client: &Client,
    cx: &Context,
    name: Option<&str>,
) -> Result<Vec<(String, Option<String>, Option<String>)>> {
    let filters = match name {
        Some(name) => owned_named(cx, COMPONENT_ELASTIC_IP, name),
        None => owned(cx, COMPONENT_ELASTIC_IP),
    };
    let out = client
        .describe_addresses()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeAddress(aws_error(
                "describe Elastic IPs",
                name.unwrap_or(cx.names.deployment()),
                e,
            ))
        })?;
    let mut found: Vec<_> = out
        .addresses()
        .iter()
        .filter(|a| owned_by(a.tags(), cx, COMPONENT_ELASTIC_IP, name))
        .filter_map(|a| {
            Some((
                a.allocation_id()?.to_string(),
                a.public_ip().map(str::to_string),
                a.association_id().map(str::to_string),
            ))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Finds the address named `name`. `prefer`: the allocation id an existing NAT gateway uses,
/// kept whatever its association shows (a pending NAT gateway's association may lag).
///
/// # Errors
/// [`Error::DescribeAddress`].
pub async fn find(
    client: &Client,
    cx: &Context,
    name: &str,
    prefer: Option<&str>,
) -> Result<Option<ElasticIpObserved>> {
    find_avoiding(client, cx, name, prefer, &[]).await
}

/// As [`find`], leaving out the addresses in `avoid` (held by gateways left running).
async fn find_avoiding(
    client: &Client,
    cx: &Context,
    name: &str,
    prefer: Option<&str>,
    avoid: &[String],
) -> Result<Option<ElasticIpObserved>> {
    let mut found = list(client, cx, Some(name)).await?;
    found.retain(|(id, _, _)| !avoid.contains(id));
    let keep = found
        .iter()
        .position(|(id, _, _)| Some(id.as_str()) == prefer)
        .or_else(|| found.iter().position(|(_, _, assoc)| assoc.is_some()))
        .unwrap_or(0);
    let Some((allocation_id, public_ip, association_id)) = found.get(keep).cloned() else {
        return Ok(None);
    };
    let surplus = found
        .iter()
        .enumerate()
        .filter(|(i, (_, _, assoc))| *i != keep && assoc.is_none())
        .map(|(_, (id, _, _))| id.clone())
        .collect();
    Ok(Some(ElasticIpObserved {
        allocation_id,
        public_ip,
        association_id,
        surplus,
    }))
}

/// What `up` would do to the address (pure).
pub fn diff(desired: &ElasticIpDesired, observed: Option<&ElasticIpObserved>) -> Vec<Change> {
    let Some(observed) = observed else {
        return vec![Change::new(
            Phase::Storage,
            KIND_ELASTIC_IP,
            &desired.name,
            Action::Create,
        )];
    };
    let mut changes = vec![Change::new(
        Phase::Storage,
        KIND_ELASTIC_IP,
        &desired.name,
        Action::NoChange,
    )];
    for id in &observed.surplus {
        changes.push(Change::new(
            Phase::Storage,
            KIND_ELASTIC_IP,
            id,
            Action::Delete,
        ));
    }
    changes
}

/// Reuses or allocates the address; releases surplus unassociated duplicates. Returns the
/// allocation id. No mutating call when exactly one exists.
///
/// # Errors
/// [`Error::AllocateAddress`], [`Error::ReleaseAddress`], [`Error::DescribeAddress`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &ElasticIpDesired,
    prefer: Option<&str>,
) -> Result<String> {
    ensure_avoiding(client, cx, desired, prefer, &[]).await
}

/// As [`ensure`], never choosing (nor releasing) an address in `avoid`: those of duplicate
/// NAT gateways a route still uses, which keep their address until they are deleted.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_avoiding(
    client: &Client,
    cx: &Context,
    desired: &ElasticIpDesired,
    prefer: Option<&str>,
    avoid: &[String],
) -> Result<String> {
    if let Some(observed) = find_avoiding(client, cx, &desired.name, prefer, avoid).await? {
        return keep_one(client, cx, desired, observed).await;
    }
    cx.reporter
        .applying(KIND_ELASTIC_IP, &desired.name, "create");
    let out = client
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_spec(ResourceType::ElasticIp, &desired.tags))
        .send()
        .await
        .map_err(|e| Error::AllocateAddress(aws_error("allocate Elastic IP", &desired.name, e)))?;
    let allocated = required(out.allocation_id(), "allocated Elastic IP", "AllocationId")?;
    // AllocateAddress takes no client token: when its response was lost and the SDK retried,
    // the first attempt's address exists too. Look again, keep the one just allocated.
    match find_avoiding(client, cx, &desired.name, Some(&allocated), avoid).await? {
        Some(observed) => keep_one(client, cx, desired, observed).await,
        None => Ok(allocated),
    }
}

/// Releases the surplus addresses `observed` lists and returns the one kept.
async fn keep_one(
    client: &Client,
    cx: &Context,
    desired: &ElasticIpDesired,
    observed: ElasticIpObserved,
) -> Result<String> {
    for id in &observed.surplus {
        cx.reporter.note(
            KIND_ELASTIC_IP,
            format!(
                "releasing surplus Elastic IP {id} of {} (allocated by an interrupted run or a lost response); keeping {}",
                desired.name, observed.allocation_id
            ),
        );
        delete(client, cx, id).await?;
    }
    Ok(observed.allocation_id)
}

/// An address is usable as soon as it is allocated.
///
/// # Errors
/// None today; the signature matches the other resources.
pub async fn ready(_client: &Client, _cx: &Context, _allocation_id: &str) -> Result<Readiness> {
    Ok(Readiness::Ready)
}

/// Releases the address; already released is success. Retries `InvalidIPAddress.InUse`
/// (a NAT gateway being deleted still holds it).
///
/// # Errors
/// [`Error::ReleaseAddress`] or [`Error::Wait`].
pub async fn delete(client: &Client, cx: &Context, allocation_id: &str) -> Result<()> {
    cx.reporter
        .applying(KIND_ELASTIC_IP, allocation_id, "delete");
    delete_patiently(cx, KIND_ELASTIC_IP, allocation_id, || async {
        match client
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("InvalidAllocationID.NotFound") => Ok(()),
            Err(e) => Err(Error::ReleaseAddress(aws_error(
                "release Elastic IP",
                allocation_id,
                e,
            ))),
        }
    })
    .await
}

/// Releases every address of this deployment (after the NAT gateways are deleted).
///
/// # Errors
/// As [`delete`].
pub async fn delete_all(client: &Client, cx: &Context) -> Result<()> {
    for (id, _, _) in list(client, cx, None).await? {
        delete(client, cx, &id).await?;
    }
    Ok(())
}
