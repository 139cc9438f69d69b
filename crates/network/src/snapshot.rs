//! The whole network read in one call per resource type, and the fast path of
//! [`crate::ensure_network`] built on it.
//!
//! [`Snapshot::read`] makes nine read calls in two rounds, whatever the number of zones:
//! DescribeVpcs, DescribeInternetGateways, DescribeNatGateways, DescribeAddresses and
//! DescribeRouteTables by the deployment's tag; then, with the VPC's id, DescribeSubnets and
//! DescribeSecurityGroups by `vpc-id` (so that subnets are matched by CIDR and groups by name,
//! as their `find` does) and the two DescribeVpcAttribute calls (EC2 answers one attribute
//! per call). The `find` of every module selects from these lists in memory with the same
//! rules it applies to its own describe's answer.
//!
//! [`Snapshot::converged`] is the fast path: when every resource is found exactly once and
//! its `diff` is "no change" — the same diffs `plan` shows — the network's outputs come
//! straight from the snapshot and `ensure_network` makes no other call. Anything else (a
//! resource missing, drifted, duplicated, untagged, a NAT gateway failed or elsewhere) is
//! `None`, and `ensure_network` walks its resources one by one as before. So the snapshot
//! can only save calls; it never decides a change.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Address, Filter, InternetGateway, NatGateway, RouteTable, SecurityGroup, Subnet, Vpc,
    VpcAttributeName,
};
use orchestrate_aws::aws_error;
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Change, Context};

use crate::elastic_ip::ElasticIpObserved;
use crate::error::{Error, Result};
use crate::internet_gateway::InternetGatewayObserved;
use crate::nat::NatGatewayObserved;
use crate::route_table::RouteTarget;
use crate::util::{filter, name_tag, owned_by};
use crate::vpc::VpcObserved;
use crate::{
    COMPONENT_ELASTIC_IP, COMPONENT_INTERNET_GATEWAY, COMPONENT_NAT_GATEWAY, COMPONENT_ROUTE_TABLE,
    COMPONENT_VPC, NetworkDesired, NetworkOutputs, SecurityGroupIds,
};

/// NAT gateway states `find` considers (a `deleted`/`deleting` one is gone).
const LIVE_NAT_STATES: [&str; 3] = ["pending", "available", "failed"];

/// Every EC2 resource of the deployment as one moment's lists (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    vpcs: Vec<Vpc>,
    internet_gateways: Vec<InternetGateway>,
    nat_gateways: Vec<NatGateway>,
    addresses: Vec<Address>,
    route_tables: Vec<RouteTable>,
    subnets: Vec<Subnet>,
    security_groups: Vec<SecurityGroup>,
    /// `enableDnsSupport`, `enableDnsHostnames` of the one VPC (read only when there is one).
    dns: Option<(bool, bool)>,
}

/// The deployment's tag as a Describe* filter.
fn deployment(cx: &Context) -> Filter {
    filter(&format!("tag:{TAG_DEPLOYMENT}"), cx.names.deployment())
}

impl Snapshot {
    /// Reads the deployment's network: nine calls in two rounds (module docs); only the
    /// first round's five when it has no VPC (or, left by a lost response, several).
    ///
    /// # Errors
    /// The describe call that failed, as its module's `find` reports it.
    pub async fn read(client: &Client, cx: &Context) -> Result<Self> {
        let who = cx.names.deployment();
        let (vpcs, internet_gateways, nat_gateways, addresses, route_tables) = tokio::try_join!(
            async {
                client
                    .describe_vpcs()
                    .filters(deployment(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| Error::DescribeVpc(aws_error("describe VPCs", who, e)))
            },
            async {
                client
                    .describe_internet_gateways()
                    .filters(deployment(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        Error::DescribeInternetGateway(aws_error(
                            "describe internet gateways",
                            who,
                            e,
                        ))
                    })
            },
            async {
                client
                    .describe_nat_gateways()
                    .filter(deployment(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        Error::DescribeNatGateway(aws_error("describe NAT gateways", who, e))
                    })
            },
            async {
                // DescribeAddresses is not paginated.
                let out = client
                    .describe_addresses()
                    .filters(deployment(cx))
                    .send()
                    .await
                    .map_err(|e| {
                        Error::DescribeAddress(aws_error("describe Elastic IPs", who, e))
                    })?;
                Ok::<_, Error>(out.addresses().to_vec())
            },
            async {
                client
                    .describe_route_tables()
                    .filters(deployment(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        Error::DescribeRouteTable(aws_error("describe route tables", who, e))
                    })
            },
        )?;
        let mut snapshot = Self {
            vpcs,
            internet_gateways,
            nat_gateways,
            addresses,
            route_tables,
            ..Self::default()
        };
        let owned_vpcs: Vec<String> = snapshot
            .vpcs
            .iter()
            .filter(|v| owned_by(v.tags(), cx, COMPONENT_VPC, None))
            .filter_map(|v| v.vpc_id().map(str::to_string))
            .collect();
        let [vpc_id] = owned_vpcs.as_slice() else {
            return Ok(snapshot);
        };
        let (subnets, security_groups, dns_support, dns_hostnames) = tokio::try_join!(
            async {
                client
                    .describe_subnets()
                    .filters(filter("vpc-id", vpc_id))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| Error::DescribeSubnet(aws_error("describe subnets of", vpc_id, e)))
            },
            async {
                client
                    .describe_security_groups()
                    .filters(filter("vpc-id", vpc_id))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        Error::DescribeSecurityGroup(aws_error(
                            "describe security groups of",
                            vpc_id,
                            e,
                        ))
                    })
            },
            crate::vpc::attribute(client, vpc_id, VpcAttributeName::EnableDnsSupport),
            crate::vpc::attribute(client, vpc_id, VpcAttributeName::EnableDnsHostnames),
        )?;
        snapshot.subnets = subnets;
        snapshot.security_groups = security_groups;
        snapshot.dns = Some((dns_support, dns_hostnames));
        Ok(snapshot)
    }

    /// Whether the deployment's VPC is in the snapshot, and its NAT gateways that are
    /// pending or available (for [`crate::account::usage_seen`]).
    pub(crate) fn own_usage(&self, cx: &Context) -> (bool, Vec<crate::account::NatInUse>) {
        let own_vpc = self
            .vpcs
            .iter()
            .any(|v| owned_by(v.tags(), cx, COMPONENT_VPC, None));
        let nats = self
            .nat_gateways
            .iter()
            .filter(|n| {
                n.state()
                    .is_some_and(|s| matches!(s.as_str(), "pending" | "available"))
            })
            .filter(|n| owned_by(n.tags(), cx, COMPONENT_NAT_GATEWAY, None))
            .filter_map(|n| {
                Some(crate::account::NatInUse {
                    id: n.nat_gateway_id()?.to_string(),
                    subnet_id: n.subnet_id().map(str::to_string),
                    own_name: name_tag(n.tags()),
                })
            })
            .collect();
        (own_vpc, nats)
    }

    /// The network's outputs when everything in `desired` exists exactly once and its diff
    /// is "no change" (pure). `None` means "walk the resources": see the module docs.
    pub fn converged(&self, cx: &Context, desired: &NetworkDesired) -> Option<NetworkOutputs> {
        let found = self.find_all(cx, desired)?;
        let changes = found.changes(desired);
        if changes.iter().any(Change::is_mutation) {
            return None;
        }
        Some(found.outputs)
    }

    /// Every resource of `desired` found exactly once (else `None`).
    fn find_all(&self, cx: &Context, desired: &NetworkDesired) -> Option<Found> {
        let (dns_support, dns_hostnames) = self.dns?;
        let [vpc] = self.owned(&self.vpcs, |v| v.tags(), cx, COMPONENT_VPC, None)[..] else {
            return None;
        };
        let vpc_id = vpc.vpc_id()?.to_string();
        let vpc = VpcObserved {
            vpc_id: vpc_id.clone(),
            cidr: vpc.cidr_block()?.to_string(),
            state: vpc.state()?.as_str().to_string(),
            dns_support,
            dns_hostnames,
            empty_duplicates: Vec::new(),
            busy_duplicates: Vec::new(),
        };

        // Subnets: by VPC + CIDR, as subnet::find; no other subnet of ours may carry the
        // name of a kept one (subnet::remove_duplicates would act).
        let subnet = |cidr: &str| {
            let mut matching = self
                .subnets
                .iter()
                .filter(|s| s.vpc_id() == Some(vpc_id.as_str()) && s.cidr_block() == Some(cidr));
            let one = matching.next()?;
            matching.next().is_none().then_some(one)
        };
        let mut public = Vec::new();
        for s in &desired.public_subnets {
            public.push(crate::subnet::observe(subnet(&s.cidr)?)?);
        }
        let mut private = Vec::new();
        for s in &desired.private_subnets {
            private.push(crate::subnet::observe(subnet(&s.cidr)?)?);
        }
        let kept: BTreeMap<String, String> = desired
            .public_subnets
            .iter()
            .zip(&public)
            .chain(desired.private_subnets.iter().zip(&private))
            .map(|(d, o)| (d.name.clone(), o.subnet_id.clone()))
            .collect();
        let duplicate_subnet = self.subnets.iter().any(|s| {
            owned_by(s.tags(), cx, crate::COMPONENT_SUBNET, None)
                && name_tag(s.tags()).is_some_and(|name| {
                    kept.get(&name)
                        .is_some_and(|id| s.subnet_id() != Some(id.as_str()))
                })
        });
        if duplicate_subnet {
            return None;
        }

        // The internet gateway: exactly one of ours.
        let [igw] = self.owned(
            &self.internet_gateways,
            |g| g.tags(),
            cx,
            COMPONENT_INTERNET_GATEWAY,
            None,
        )[..] else {
            return None;
        };
        let igw = InternetGatewayObserved {
            internet_gateway_id: igw.internet_gateway_id()?.to_string(),
            attached_vpcs: igw
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect(),
            duplicates: Vec::new(),
        };

        // NAT gateways and their addresses: one live gateway per name, in its public subnet,
        // holding the one address of that name.
        let mut nats = Vec::new();
        for n in &desired.nat_gateways {
            let live: Vec<&NatGateway> = self
                .owned(
                    &self.nat_gateways,
                    |g| g.tags(),
                    cx,
                    COMPONENT_NAT_GATEWAY,
                    Some(&n.name),
                )
                .into_iter()
                .filter(|g| {
                    g.state()
                        .is_some_and(|s| LIVE_NAT_STATES.contains(&s.as_str()))
                })
                .collect();
            let [gateway] = live[..] else {
                return None;
            };
            let nat = NatGatewayObserved {
                nat_gateway_id: gateway.nat_gateway_id()?.to_string(),
                state: gateway.state()?.as_str().to_string(),
                subnet_id: gateway.subnet_id()?.to_string(),
                allocation_ids: gateway
                    .nat_gateway_addresses()
                    .iter()
                    .filter_map(|a| a.allocation_id().map(str::to_string))
                    .collect(),
                failure_message: gateway.failure_message().map(str::to_string),
            };
            let [address] = self.owned(
                &self.addresses,
                |a| a.tags(),
                cx,
                COMPONENT_ELASTIC_IP,
                Some(&n.elastic_ip.name),
            )[..] else {
                return None;
            };
            let eip = ElasticIpObserved {
                allocation_id: address.allocation_id()?.to_string(),
                public_ip: address.public_ip().map(str::to_string),
                association_id: address.association_id().map(str::to_string),
                surplus: Vec::new(),
            };
            if !nat.allocation_ids.contains(&eip.allocation_id) {
                return None;
            }
            nats.push((nat, eip));
        }

        // Route tables: by name in the VPC; one kept (with associations if any), the rest
        // must not exist.
        let table = |name: &str| {
            let found: Vec<&RouteTable> = self
                .owned(
                    &self.route_tables,
                    |t| t.tags(),
                    cx,
                    COMPONENT_ROUTE_TABLE,
                    Some(name),
                )
                .into_iter()
                .filter(|t| t.vpc_id() == Some(vpc_id.as_str()))
                .collect();
            let [one] = found[..] else {
                return None;
            };
            crate::route_table::observe(one)
        };
        let public_table = table(&desired.public_route_table.name)?;
        let mut private_tables = Vec::new();
        for p in &desired.private_route_tables {
            private_tables.push(table(&p.table.name)?);
        }

        // Security groups: by name in the VPC, as security_group::find.
        let mut groups = Vec::new();
        let mut ids = BTreeMap::new();
        for g in &desired.security_groups {
            let found = self.security_groups.iter().find(|sg| {
                sg.vpc_id() == Some(vpc_id.as_str()) && sg.group_name() == Some(g.name.as_str())
            })?;
            let observed = crate::security_group::observe(found)?;
            ids.insert(g.role, observed.group_id.clone());
            groups.push(observed);
        }

        let outputs = NetworkOutputs {
            vpc_id: vpc_id.clone(),
            azs: desired.azs.clone(),
            public_subnet_ids: public.iter().map(|s| s.subnet_id.clone()).collect(),
            private_subnet_ids: private.iter().map(|s| s.subnet_id.clone()).collect(),
            nat_gateway_ids: nats.iter().map(|(n, _)| n.nat_gateway_id.clone()).collect(),
            nat_gateways_available: nats.iter().all(|(n, _)| n.state == "available"),
            security_groups: SecurityGroupIds::from_map(&ids).ok()?,
        };
        Some(Found {
            vpc,
            public,
            private,
            igw,
            nats,
            public_table,
            private_tables,
            groups,
            ids,
            outputs,
        })
    }

    /// The items of `items` tagged as this deployment's `component` (and `Name` = `name`).
    fn owned<'a, T>(
        &self,
        items: &'a [T],
        tags: impl Fn(&T) -> &[aws_sdk_ec2::types::Tag],
        cx: &Context,
        component: &str,
        name: Option<&str>,
    ) -> Vec<&'a T> {
        items
            .iter()
            .filter(|item| owned_by(tags(item), cx, component, name))
            .collect()
    }
}

/// Every resource of the network as the snapshot found it.
struct Found {
    vpc: VpcObserved,
    public: Vec<crate::subnet::SubnetObserved>,
    private: Vec<crate::subnet::SubnetObserved>,
    igw: InternetGatewayObserved,
    nats: Vec<(NatGatewayObserved, ElasticIpObserved)>,
    public_table: crate::route_table::RouteTableObserved,
    private_tables: Vec<crate::route_table::RouteTableObserved>,
    groups: Vec<crate::security_group::SecurityGroupObserved>,
    ids: BTreeMap<crate::SgRole, String>,
    outputs: NetworkOutputs,
}

impl Found {
    /// The diff of every resource, as `plan_network` computes it.
    fn changes(&self, desired: &NetworkDesired) -> Vec<Change> {
        let mut changes = crate::vpc::diff(&desired.vpc, Some(&self.vpc));
        for (d, o) in desired.public_subnets.iter().zip(&self.public) {
            changes.push(crate::subnet::diff(d, Some(o)));
        }
        for (d, o) in desired.private_subnets.iter().zip(&self.private) {
            changes.push(crate::subnet::diff(d, Some(o)));
        }
        changes.extend(crate::internet_gateway::diff(
            &desired.internet_gateway,
            Some(&self.igw),
            Some(&self.vpc.vpc_id),
        ));
        for (d, (nat, eip)) in desired.nat_gateways.iter().zip(&self.nats) {
            changes.extend(crate::elastic_ip::diff(&d.elastic_ip, Some(eip)));
            let subnet = self
                .outputs
                .public_subnet_ids
                .get(desired.nat_subnet(d))
                .map(String::as_str);
            changes.push(crate::nat::diff(d, Some(nat), subnet));
        }
        changes.extend(crate::route_table::diff(
            &desired.public_route_table,
            Some(&self.public_table),
            Some(&RouteTarget::InternetGateway(
                self.igw.internet_gateway_id.clone(),
            )),
            &self.outputs.public_subnet_ids,
        ));
        for (p, observed) in desired
            .private_route_tables
            .iter()
            .zip(&self.private_tables)
        {
            let target = self
                .outputs
                .nat_gateway_ids
                .get(p.nat)
                .cloned()
                .map(RouteTarget::NatGateway);
            let subnets: Vec<String> = p
                .subnets
                .iter()
                .filter_map(|i| self.outputs.private_subnet_ids.get(*i).cloned())
                .collect();
            changes.extend(crate::route_table::diff(
                &p.table,
                Some(observed),
                target.as_ref(),
                &subnets,
            ));
        }
        for (g, o) in desired.security_groups.iter().zip(&self.groups) {
            changes.push(crate::security_group::diff(
                g,
                Some(o),
                &self.ids,
                &desired.owner,
            ));
        }
        changes
    }
}
