//! What the account already holds in the region, for `orchestrate verify` (read-only): the
//! availability zones and their states, the VPCs, NAT gateways and Elastic IPs in use, and
//! the Elastic IP limit — and, from the [`NetworkDesired`], what `up` would add.
//!
//! # Guarantees
//! - Read-only: DescribeAvailabilityZones, DescribeVpcs, DescribeNatGateways,
//!   DescribeAddresses, DescribeAccountAttributes and DescribeSubnets only.
//! - [`needs`] counts only what this run would create: a converged deployment needs nothing
//!   new, and an Elastic IP a crashed run allocated (tagged, not yet used by its NAT gateway)
//!   is adopted by `up`, so it is not counted again.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use orchestrate_aws::aws_error;
use orchestrate_core::Context;

use crate::error::{Error, Result};
use crate::util::{name_tag, owned_by};
use crate::{COMPONENT_ELASTIC_IP, COMPONENT_NAT_GATEWAY, COMPONENT_VPC, NetworkDesired};

/// The account attribute holding the Elastic IP limit of the region.
pub const EIP_LIMIT_ATTRIBUTE: &str = "vpc-max-elastic-ips";

/// An availability zone as the account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `us-east-1a`.
    pub name: String,
    /// `available`, `information`, `impaired`, `unavailable`, `constrained`.
    pub state: String,
}

/// The zones of the region the account may use (DescribeAvailabilityZones without filters:
/// every zone enabled for the account, in any state).
///
/// # Errors
/// [`Error::DescribeZones`].
pub async fn zones(client: &Client) -> Result<Vec<Zone>> {
    let out = client
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| Error::DescribeZones(aws_error("describe availability zones", "region", e)))?;
    Ok(out
        .availability_zones()
        .iter()
        .filter_map(|z| {
            Some(Zone {
                name: z.zone_name()?.to_string(),
                state: z
                    .state()
                    .map_or_else(|| "available".to_string(), |s| s.as_str().to_string()),
            })
        })
        .collect())
}

/// A NAT gateway in use (pending or available) in the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatInUse {
    /// Its id.
    pub id: String,
    /// Its subnet (the zone comes from [`subnet_zones`]).
    pub subnet_id: Option<String>,
    /// Its `Name` when it is one of this deployment's NAT gateways.
    pub own_name: Option<String>,
}

/// What the region holds of the resources the deployment counts against quotas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// VPCs in the region (the default VPC included).
    pub vpcs: u32,
    /// This deployment's VPC exists.
    pub own_vpc: bool,
    /// NAT gateways pending or available in the region.
    pub nat_gateways: Vec<NatInUse>,
    /// Elastic IPs allocated in the region.
    pub elastic_ips: u32,
    /// `Name`s of this deployment's Elastic IPs.
    pub own_elastic_ips: Vec<String>,
}

/// Reads the [`Usage`] that decides [`needs`] of `desired`: [`usage`], except that the
/// Elastic IPs are read only when a NAT gateway of `desired` does not exist yet (only a new
/// NAT gateway allocates one; otherwise `elastic_ips` is 0 and `own_elastic_ips` empty).
///
/// # Errors
/// The first failing read.
pub async fn usage_for(client: &Client, cx: &Context, desired: &NetworkDesired) -> Result<Usage> {
    let (vpcs, nat_gateways) = tokio::try_join!(vpc_usage(client, cx), nat_usage(client, cx))?;
    let all_exist = desired.nat_gateways.iter().all(|nat| {
        nat_gateways
            .iter()
            .any(|n| n.own_name.as_deref() == Some(nat.name.as_str()))
    });
    let (elastic_ips, own_elastic_ips) = if all_exist {
        (0, Vec::new())
    } else {
        address_usage(client, cx).await?
    };
    Ok(Usage {
        vpcs: vpcs.0,
        own_vpc: vpcs.1,
        nat_gateways,
        elastic_ips,
        own_elastic_ips,
    })
}

/// [`usage_for`], decided from the deployment's own [`Snapshot`](crate::snapshot::Snapshot)
/// when it shows the deployment's VPC and every NAT gateway of `desired` (pending or
/// available): then the run creates nothing counted against a quota ([`needs`] is empty) and
/// the account-wide lists are not read (the account-wide counts stay 0, unused). Otherwise
/// [`usage_for`].
///
/// # Errors
/// The first failing read.
pub async fn usage_seen(
    client: &Client,
    cx: &Context,
    desired: &NetworkDesired,
    snapshot: &crate::snapshot::Snapshot,
) -> Result<Usage> {
    let (own_vpc, nat_gateways) = snapshot.own_usage(cx);
    let all_exist = desired.nat_gateways.iter().all(|nat| {
        nat_gateways
            .iter()
            .any(|n| n.own_name.as_deref() == Some(nat.name.as_str()))
    });
    if own_vpc && all_exist {
        return Ok(Usage {
            vpcs: 0,
            own_vpc,
            nat_gateways,
            elastic_ips: 0,
            own_elastic_ips: Vec::new(),
        });
    }
    usage_for(client, cx, desired).await
}

/// Reads [`Usage`]: DescribeVpcs, DescribeNatGateways (pending, available) and
/// DescribeAddresses, concurrently.
///
/// # Errors
/// The first failing read.
pub async fn usage(client: &Client, cx: &Context) -> Result<Usage> {
    let ((vpcs, own_vpc), nat_gateways, (elastic_ips, own_elastic_ips)) = tokio::try_join!(
        vpc_usage(client, cx),
        nat_usage(client, cx),
        address_usage(client, cx)
    )?;
    Ok(Usage {
        vpcs,
        own_vpc,
        nat_gateways,
        elastic_ips,
        own_elastic_ips,
    })
}

/// VPCs in the region, and whether this deployment's is one of them.
async fn vpc_usage(client: &Client, cx: &Context) -> Result<(u32, bool)> {
    let vpcs = async {
        let mut count = 0u32;
        let mut own = false;
        let mut pages = client.describe_vpcs().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::DescribeVpc(aws_error("describe VPCs", "region", e)))?;
            for vpc in page.vpcs() {
                count += 1;
                own |= owned_by(vpc.tags(), cx, COMPONENT_VPC, None);
            }
        }
        Ok::<_, Error>((count, own))
    };
    vpcs.await
}

/// NAT gateways pending or available in the region.
async fn nat_usage(client: &Client, cx: &Context) -> Result<Vec<NatInUse>> {
    let nats = async {
        let mut found = Vec::new();
        let mut pages = client
            .describe_nat_gateways()
            .filter(
                aws_sdk_ec2::types::Filter::builder()
                    .name("state")
                    .values("pending")
                    .values("available")
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Error::DescribeNatGateway(aws_error("describe NAT gateways", "region", e))
            })?;
            for nat in page.nat_gateways() {
                // Re-check the filter: a lenient endpoint must not widen it.
                if nat
                    .state()
                    .is_some_and(|s| !matches!(s.as_str(), "pending" | "available"))
                {
                    continue;
                }
                let Some(id) = nat.nat_gateway_id() else {
                    continue;
                };
                found.push(NatInUse {
                    id: id.to_string(),
                    subnet_id: nat.subnet_id().map(str::to_string),
                    own_name: owned_by(nat.tags(), cx, COMPONENT_NAT_GATEWAY, None)
                        .then(|| name_tag(nat.tags()))
                        .flatten(),
                });
            }
        }
        Ok::<_, Error>(found)
    };
    nats.await
}

/// Elastic IPs in the region, and the `Name`s of this deployment's.
async fn address_usage(client: &Client, cx: &Context) -> Result<(u32, Vec<String>)> {
    let addresses = async {
        let out =
            client.describe_addresses().send().await.map_err(|e| {
                Error::DescribeAddress(aws_error("describe Elastic IPs", "region", e))
            })?;
        // Every address counts against `vpc-max-elastic-ips` (EC2-Classic is gone).
        let all = out.addresses();
        let own = all
            .iter()
            .filter(|a| owned_by(a.tags(), cx, COMPONENT_ELASTIC_IP, None))
            .filter_map(|a| name_tag(a.tags()))
            .collect::<Vec<_>>();
        Ok::<_, Error>((u32::try_from(all.len()).unwrap_or(u32::MAX), own))
    };
    addresses.await
}

/// The region's Elastic IP limit for VPCs (DescribeAccountAttributes
/// `vpc-max-elastic-ips`); `None` when the endpoint does not report it.
///
/// # Errors
/// [`Error::DescribeAccountAttributes`].
pub async fn elastic_ip_limit(client: &Client) -> Result<Option<u32>> {
    let out = client
        .describe_account_attributes()
        .attribute_names(aws_sdk_ec2::types::AccountAttributeName::from(
            EIP_LIMIT_ATTRIBUTE,
        ))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeAccountAttributes(aws_error(
                "describe account attributes",
                EIP_LIMIT_ATTRIBUTE,
                e,
            ))
        })?;
    Ok(out
        .account_attributes()
        .iter()
        .find(|a| a.attribute_name() == Some(EIP_LIMIT_ATTRIBUTE))
        .and_then(|a| a.attribute_values().first())
        .and_then(|v| v.attribute_value())
        .and_then(|v| v.parse().ok()))
}

/// The zone of each subnet in `subnet_ids` (DescribeSubnets).
///
/// # Errors
/// [`Error::DescribeSubnet`].
pub async fn subnet_zones(
    client: &Client,
    subnet_ids: &[String],
) -> Result<BTreeMap<String, String>> {
    if subnet_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = client
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map_err(|e| Error::DescribeSubnet(aws_error("describe subnets", "region", e)))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| {
            Some((
                s.subnet_id()?.to_string(),
                s.availability_zone()?.to_string(),
            ))
        })
        .collect())
}

/// What `up` would add to the account's counted resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// VPCs to create (0 or 1).
    pub vpcs: u32,
    /// Elastic IPs to allocate.
    pub elastic_ips: u32,
    /// NAT gateways to create, by zone.
    pub nat_gateways: BTreeMap<String, u32>,
}

impl Needs {
    /// True when `up` would create nothing counted against a quota.
    pub fn is_empty(&self) -> bool {
        self.vpcs == 0 && self.elastic_ips == 0 && self.nat_gateways.is_empty()
    }
}

/// What `up` would create of `desired`, given what the account holds (pure): the VPC when
/// this deployment has none; a NAT gateway for each desired one no gateway of the same name
/// stands for; an Elastic IP for each of those whose tagged address does not exist yet.
pub fn needs(desired: &NetworkDesired, usage: &Usage) -> Needs {
    let mut needs = Needs {
        vpcs: u32::from(!usage.own_vpc),
        ..Needs::default()
    };
    for nat in &desired.nat_gateways {
        let exists = usage
            .nat_gateways
            .iter()
            .any(|n| n.own_name.as_deref() == Some(nat.name.as_str()));
        if exists {
            continue;
        }
        *needs.nat_gateways.entry(nat.az.clone()).or_insert(0) += 1;
        if !usage.own_elastic_ips.contains(&nat.elastic_ip.name) {
            needs.elastic_ips += 1;
        }
    }
    needs
}

#[cfg(test)]
mod tests {
    use orchestrate_core::Spec;
    use orchestrate_core::spec::NatMode;

    use super::*;

    fn desired(nat: NatMode) -> NetworkDesired {
        let mut spec = Spec::minimal("demo", "us-east-1");
        spec.network.nat = nat;
        NetworkDesired::from_spec(&spec, vec!["us-east-1a".into(), "us-east-1b".into()])
            .expect("network")
    }

    #[test]
    fn a_fresh_account_needs_everything_a_converged_deployment_nothing() {
        let d = desired(NatMode::PerAz);
        let fresh = needs(&d, &Usage::default());
        assert_eq!(fresh.vpcs, 1);
        assert_eq!(fresh.elastic_ips, 2);
        assert_eq!(
            fresh.nat_gateways,
            BTreeMap::from([("us-east-1a".to_string(), 1), ("us-east-1b".to_string(), 1)])
        );
        let converged = Usage {
            vpcs: 2,
            own_vpc: true,
            nat_gateways: d
                .nat_gateways
                .iter()
                .map(|n| NatInUse {
                    id: format!("nat-{}", n.az),
                    subnet_id: None,
                    own_name: Some(n.name.clone()),
                })
                .collect(),
            elastic_ips: 2,
            own_elastic_ips: d
                .nat_gateways
                .iter()
                .map(|n| n.elastic_ip.name.clone())
                .collect(),
        };
        assert!(needs(&d, &converged).is_empty());
    }

    #[test]
    fn an_address_left_by_a_crash_is_adopted_not_counted() {
        let d = desired(NatMode::Single);
        let nat = &d.nat_gateways[0];
        let usage = Usage {
            own_vpc: true,
            own_elastic_ips: vec![nat.elastic_ip.name.clone()],
            // Another deployment's gateway with no Name of ours does not count as ours.
            nat_gateways: vec![NatInUse {
                id: "nat-other".into(),
                subnet_id: None,
                own_name: None,
            }],
            ..Usage::default()
        };
        let n = needs(&d, &usage);
        assert_eq!(n.vpcs, 0);
        assert_eq!(n.elastic_ips, 0);
        assert_eq!(n.nat_gateways, BTreeMap::from([(nat.az.clone(), 1)]));
    }
}
