//! orchestrate-network: the deployment's network in phase 1 (EC2).
//!
//! Owns, per deployment: one VPC (DNS support and DNS hostnames on, as Cloud Map private DNS
//! needs), a public and a private subnet per pinned AZ (carved deterministically from
//! `network.vpc_cidr` by [`subnet_plan`]), an internet gateway, NAT gateway(s) with their
//! Elastic IPs (`network.nat`: one in the first AZ, or one per AZ), a public route table and
//! one private route table per NAT gateway, and five least-privilege security groups
//! ([`security_group`]). Availability zones are resolved by [`resolve_zones`]; the engine pins
//! them in the lock file.
//!
//! With an existing network (`[network] vpc_id` and subnet lists, [`existing`]) it owns only
//! the five security groups, created in the given VPC: the VPC, subnets, gateways and routes
//! are read and checked ([`existing::inspect`], [`existing::check`]) but never created,
//! changed or deleted, and the zones are those of the given subnets.
//!
//! # Guarantees
//! - Every resource is created with its tags in the create call (`orchestrate:deployment`,
//!   `orchestrate:component` = `network/<kind>`, `orchestrate:phase` = 1, `managed-by`, the
//!   user's tags, `Name`).
//! - Found again without local state: the VPC, internet gateway, Elastic IPs, NAT gateways and
//!   route tables by tags (deployment + component, plus `Name` where there are several);
//!   subnets by VPC + CIDR; security groups by VPC + group name.
//! - [`ensure_network`] is idempotent and makes no mutating call when everything matches.
//!   It first reads the whole network in nine calls ([`snapshot`]: one describe per resource
//!   type by tag or VPC, and the VPC's two DNS attributes); when every resource is there once
//!   and its diff is "no change" that is all it calls. Otherwise it converges resource by
//!   resource as below.
//!   Where a create has no client token (VPC, internet gateway, Elastic IP, route table) and a
//!   lost response left a duplicate, the duplicate without dependants is deleted and reported
//!   with `cx.reporter.note`; one with dependants is reported and left alone. NAT gateways are
//!   created with a deterministic client token ([`nat`]).
//! - Duplicates never stop a run: two subnets with one `Name` (the extra has another CIDR) or
//!   several NAT gateways with one `Name` (two runs at once, a gateway in a subnet the
//!   deployment no longer uses) converge to one — the extra is deleted when nothing uses it
//!   (no network interface in the subnet; no route to the gateway), otherwise it is reported
//!   with both ids and the command that removes it, and a later `up` deletes it once unused
//!   ([`subnet::remove_duplicates`], [`nat::ensure`]).
//! - [`plan_network`] is read-only: find + diff for every resource.
//! - [`account`] reads, for `orchestrate verify`, the zones and what the region already holds
//!   of the resources counted against quotas (VPCs, NAT gateways, Elastic IPs); read-only.
//! - [`delete_network`] is idempotent: resources already gone or never created are success.
//!
//! # Waits
//! [`ensure_network`] does not wait for NAT gateways: it returns their ids, and the engine
//! waits on [`nat::ready`] (or [`nat::wait_ready`], up to 15 minutes) concurrently with RDS and
//! Valkey. [`delete_network`] waits for NAT gateways to reach `deleted` (up to 15 minutes
//! each) before releasing their addresses, and retries deletes that fail with
//! `DependencyViolation` / `InvalidIPAddress.InUse` for up to 15 minutes (network interfaces of
//! deleted ECS tasks, databases and load balancers linger). All durations are scaled by
//! [`orchestrate_core::Timing`].
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. Throttling and 5xx are left to the SDK's retry policy. This
//! crate retries only eventual-consistency codes right after a create, with a bounded budget
//! (`InvalidVpcID.NotFound`, `InvalidSubnetID.NotFound`, `InvalidAllocationID.NotFound`,
//! `InvalidInternetGatewayID.NotFound`, `InvalidNatGatewayID.NotFound`,
//! `InvalidGatewayID.NotFound`, `InvalidRouteTableID.NotFound`, `InvalidGroup.NotFound`),
//! because a resource just created may not be visible to the next call yet. Errors that mean
//! "a lost response already did it" (`InvalidSubnet.Conflict`, `InvalidGroup.Duplicate`,
//! `Resource.AlreadyAssociated`, `InvalidPermission.Duplicate`, `RouteAlreadyExists`) are
//! resolved by adopting.

pub mod account;
pub mod elastic_ip;
mod error;
pub mod existing;
pub mod internet_gateway;
pub mod nat;
pub mod route_table;
pub mod security_group;
pub mod snapshot;
pub mod subnet;
pub mod subnet_plan;
mod util;
pub mod vpc;
mod zones;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use futures::future::try_join_all;

pub use aws_sdk_ec2::Client;
use orchestrate_aws::aws_error;
use orchestrate_core::spec::NatMode;
use orchestrate_core::{Change, Context, Spec};

pub use error::{Error, Result};
pub use security_group::{SecurityGroupIds, SgRole};
pub use util::{DEPENDENCY_WAIT, Owner, az_suffix};
pub use zones::{resolve_zones, select_zones};

use internet_gateway::InternetGatewayDesired;
use nat::NatGatewayDesired;
use route_table::{RouteTableDesired, RouteTarget};
use security_group::SecurityGroupDesired;
use subnet::SubnetDesired;
use vpc::VpcDesired;

/// Component tag of the VPC.
pub const COMPONENT_VPC: &str = "network/vpc";
/// Component tag of subnets.
pub const COMPONENT_SUBNET: &str = "network/subnet";
/// Component tag of the internet gateway.
pub const COMPONENT_INTERNET_GATEWAY: &str = "network/internet-gateway";
/// Component tag of NAT gateways.
pub const COMPONENT_NAT_GATEWAY: &str = "network/nat-gateway";
/// Component tag of the NAT gateways' Elastic IPs.
pub const COMPONENT_ELASTIC_IP: &str = "network/elastic-ip";
/// Component tag of route tables.
pub const COMPONENT_ROUTE_TABLE: &str = "network/route-table";
/// Component tag of security groups.
pub const COMPONENT_SECURITY_GROUP: &str = "network/security-group";

/// Change kind of the VPC.
pub const KIND_VPC: &str = "ec2/vpc";
/// Change kind of subnets.
pub const KIND_SUBNET: &str = "ec2/subnet";
/// Change kind of the internet gateway.
pub const KIND_INTERNET_GATEWAY: &str = "ec2/internet-gateway";
/// Change kind of NAT gateways.
pub const KIND_NAT_GATEWAY: &str = "ec2/nat-gateway";
/// Change kind of Elastic IPs.
pub const KIND_ELASTIC_IP: &str = "ec2/elastic-ip";
/// Change kind of route tables.
pub const KIND_ROUTE_TABLE: &str = "ec2/route-table";
/// Change kind of security groups.
pub const KIND_SECURITY_GROUP: &str = "ec2/security-group";
/// Change kind of an existing VPC orchestrate uses but does not manage (never created,
/// changed or deleted; `plan` and `status` show it, `teardown` skips it).
pub const KIND_EXISTING_VPC: &str = "ec2/existing-vpc";
/// Change kind of an existing subnet orchestrate uses but does not manage.
pub const KIND_EXISTING_SUBNET: &str = "ec2/existing-subnet";

/// True for the kinds of resources orchestrate uses but does not manage: no `up` changes
/// them and no `teardown` deletes them.
pub fn is_unmanaged_kind(kind: &str) -> bool {
    kind == KIND_EXISTING_VPC || kind == KIND_EXISTING_SUBNET
}

/// A private route table and what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRouteTable {
    /// The table.
    pub table: RouteTableDesired,
    /// Index into [`NetworkDesired::nat_gateways`] of its default route's target.
    pub nat: usize,
    /// Indexes into [`NetworkDesired::private_subnets`] it is associated with.
    pub subnets: Vec<usize>,
}

/// The whole network of a deployment (pure).
///
/// With an existing network ([`NetworkDesired::existing`] set) the subnet, NAT gateway and
/// private route table lists are empty, and `vpc`, `internet_gateway` and
/// `public_route_table` are never used: only the security groups are orchestrate's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDesired {
    /// Names and user tags.
    pub owner: Owner,
    /// The pinned AZs, in subnet order (an existing network: the zones of its subnets).
    pub azs: Vec<String>,
    /// The existing network the spec names (`[network] vpc_id`), used but not managed.
    pub existing: Option<existing::ExistingDesired>,
    /// The VPC.
    pub vpc: VpcDesired,
    /// One public subnet per AZ.
    pub public_subnets: Vec<SubnetDesired>,
    /// One private subnet per AZ.
    pub private_subnets: Vec<SubnetDesired>,
    /// The internet gateway.
    pub internet_gateway: InternetGatewayDesired,
    /// NAT gateways (one, or one per AZ), each in the public subnet of its AZ.
    pub nat_gateways: Vec<NatGatewayDesired>,
    /// The public route table (all public subnets, default route to the internet gateway).
    pub public_route_table: RouteTableDesired,
    /// Private route tables, one per NAT gateway.
    pub private_route_tables: Vec<PrivateRouteTable>,
    /// The five security groups.
    pub security_groups: Vec<SecurityGroupDesired>,
}

impl NetworkDesired {
    /// The network `spec` asks for in the pinned `azs` (pure).
    ///
    /// # Errors
    /// [`Error::SubnetPlan`] when the CIDR cannot be carved (validation rejects such specs).
    pub fn from_spec(spec: &Spec, azs: Vec<String>) -> Result<Self> {
        let owner = Owner::from_spec(spec);
        let n = &spec.network;
        if let Some(existing) = existing::ExistingDesired::from_spec(spec) {
            let defaults = orchestrate_core::spec::NetworkSpec::default();
            return Ok(Self {
                vpc: VpcDesired::new(&owner, &defaults.vpc_cidr),
                internet_gateway: InternetGatewayDesired::new(&owner),
                public_route_table: RouteTableDesired::new(&owner, "public"),
                security_groups: SecurityGroupDesired::all(
                    &owner,
                    &spec.load_balancer.ingress_cidrs,
                ),
                public_subnets: Vec::new(),
                private_subnets: Vec::new(),
                nat_gateways: Vec::new(),
                private_route_tables: Vec::new(),
                existing: Some(existing),
                azs,
                owner,
            });
        }
        let plan = subnet_plan::plan_subnets(&n.vpc_cidr, n.subnet_prefix, azs.len())?;
        let public_subnets: Vec<SubnetDesired> = azs
            .iter()
            .zip(&plan.public)
            .map(|(az, cidr)| SubnetDesired::new(&owner, true, az, &cidr.to_string()))
            .collect();
        let private_subnets: Vec<SubnetDesired> = azs
            .iter()
            .zip(&plan.private)
            .map(|(az, cidr)| SubnetDesired::new(&owner, false, az, &cidr.to_string()))
            .collect();
        let (nat_gateways, private_route_tables) = match n.nat {
            NatMode::Single => (
                azs.first()
                    .map(|az| vec![NatGatewayDesired::new(&owner, az)])
                    .unwrap_or_default(),
                vec![PrivateRouteTable {
                    table: RouteTableDesired::new(&owner, "private"),
                    nat: 0,
                    subnets: (0..azs.len()).collect(),
                }],
            ),
            NatMode::PerAz => (
                azs.iter()
                    .map(|az| NatGatewayDesired::new(&owner, az))
                    .collect(),
                azs.iter()
                    .enumerate()
                    .map(|(i, az)| PrivateRouteTable {
                        table: RouteTableDesired::new(
                            &owner,
                            &format!("private-{}", az_suffix(az)),
                        ),
                        nat: i,
                        subnets: vec![i],
                    })
                    .collect(),
            ),
        };
        Ok(Self {
            vpc: VpcDesired::new(&owner, &plan.vpc.to_string()),
            internet_gateway: InternetGatewayDesired::new(&owner),
            public_route_table: RouteTableDesired::new(&owner, "public"),
            security_groups: SecurityGroupDesired::all(&owner, &spec.load_balancer.ingress_cidrs),
            public_subnets,
            private_subnets,
            nat_gateways,
            private_route_tables,
            existing: None,
            azs,
            owner,
        })
    }

    /// How many zones the load balancer spans: one public subnet per zone.
    pub fn load_balancer_subnet_count(&self) -> usize {
        match &self.existing {
            Some(e) => e.public_subnet_ids.len(),
            None => self.public_subnets.len(),
        }
    }

    /// Index of the public subnet a NAT gateway lives in.
    fn nat_subnet(&self, nat: &NatGatewayDesired) -> usize {
        self.azs.iter().position(|a| *a == nat.az).unwrap_or(0)
    }
}

/// What the rest of the deployment needs from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOutputs {
    /// The VPC.
    pub vpc_id: String,
    /// The pinned AZs, in subnet order.
    pub azs: Vec<String>,
    /// Public subnets (ALB), in AZ order.
    pub public_subnet_ids: Vec<String>,
    /// Private subnets (tasks, RDS, Valkey), in AZ order.
    pub private_subnet_ids: Vec<String>,
    /// NAT gateways, possibly still `pending`: wait on [`nat::ready`].
    pub nat_gateway_ids: Vec<String>,
    /// True when the read these outputs come from saw every NAT gateway `available` (the
    /// converged fast path of [`ensure_network`]): a caller may skip the wait on them.
    pub nat_gateways_available: bool,
    /// The five security groups.
    pub security_groups: SecurityGroupIds,
}

/// Converges the whole network in dependency order; does not wait for NAT gateways.
///
/// # Errors
/// The first failing step's [`Error`].
pub async fn ensure_network(
    client: &Client,
    cx: &Context,
    desired: &NetworkDesired,
) -> Result<NetworkOutputs> {
    ensure_network_staged(client, cx, desired, None, |_| {}).await
}

/// [`ensure_network`], deciding the fast path from `seen` (a [`snapshot::Snapshot`] the
/// caller read, and knows nothing changed since) instead of reading one, and calling
/// `placed` as soon as the VPC, the subnets and the security groups exist — what the data
/// stores, the namespace and the load balancer need — with `nat_gateway_ids` still empty;
/// then converges the internet gateway, NAT gateways and route tables (whose ids none of
/// them needs) and returns the whole network.
///
/// `placed` is called exactly once on success, before the function returns; a caller that
/// waits on it must not wait past the function's return regardless (the engine does not).
///
/// # Errors
/// The first failing step's [`Error`] (`placed` is not called when the failure comes first).
pub async fn ensure_network_staged(
    client: &Client,
    cx: &Context,
    desired: &NetworkDesired,
    seen: Option<snapshot::Snapshot>,
    placed: impl FnOnce(&NetworkOutputs),
) -> Result<NetworkOutputs> {
    if let Some(given) = &desired.existing {
        // The network was checked before the first mutating call (existing::check); only
        // the security groups are orchestrate's.
        let security_groups =
            security_group::ensure_all(client, cx, &desired.security_groups, &given.vpc_id).await?;
        let outputs = existing_outputs(desired, given, security_groups);
        placed(&outputs);
        return Ok(outputs);
    }
    // Fast path: one read per resource type; a converged network needs nothing else.
    let snapshot = match seen {
        Some(seen) => seen,
        None => snapshot::Snapshot::read(client, cx).await?,
    };
    if let Some(outputs) = snapshot.converged(cx, desired) {
        placed(&outputs);
        return Ok(outputs);
    }
    let vpc_id = vpc::ensure(client, cx, &desired.vpc).await?;
    // Everything below needs only the VPC. The subnets, the security groups and the internet
    // gateway are independent and converge at once (each step's resources at once too); the
    // subnets and groups are handed out before the NAT gateways and route tables.
    let ((public_subnet_ids, private_subnet_ids), security_groups, igw_id) = tokio::try_join!(
        async {
            tokio::try_join!(
                try_join_all(
                    desired
                        .public_subnets
                        .iter()
                        .map(|s| subnet::ensure(client, cx, s, &vpc_id)),
                ),
                try_join_all(
                    desired
                        .private_subnets
                        .iter()
                        .map(|s| subnet::ensure(client, cx, s, &vpc_id)),
                ),
            )
        },
        security_group::ensure_all(client, cx, &desired.security_groups, &vpc_id),
        internet_gateway::ensure(client, cx, &desired.internet_gateway, &vpc_id),
    )?;
    let mut outputs = NetworkOutputs {
        vpc_id,
        azs: desired.azs.clone(),
        public_subnet_ids,
        private_subnet_ids,
        nat_gateway_ids: Vec::new(),
        nat_gateways_available: false,
        security_groups,
    };
    placed(&outputs);
    let NetworkOutputs {
        vpc_id,
        public_subnet_ids,
        private_subnet_ids,
        ..
    } = &outputs;
    let nat_gateway_ids = try_join_all(desired.nat_gateways.iter().map(|n| {
        let subnet_id = public_subnet_ids.get(desired.nat_subnet(n));
        async move {
            let subnet_id = subnet_id.ok_or_else(|| Error::MissingField {
                what: format!("public subnet of {}", n.name),
                field: "SubnetId",
            })?;
            nat::ensure(client, cx, n, subnet_id).await
        }
    }))
    .await?;
    let public_target = RouteTarget::InternetGateway(igw_id);
    let private_tables: Vec<(&RouteTableDesired, RouteTarget, Vec<String>)> = desired
        .private_route_tables
        .iter()
        .filter_map(|p| {
            let nat_id = nat_gateway_ids.get(p.nat)?;
            let subnets: Vec<String> = p
                .subnets
                .iter()
                .filter_map(|i| private_subnet_ids.get(*i).cloned())
                .collect();
            Some((&p.table, RouteTarget::NatGateway(nat_id.clone()), subnets))
        })
        .collect();
    tokio::try_join!(
        route_table::ensure(
            client,
            cx,
            &desired.public_route_table,
            vpc_id,
            &public_target,
            public_subnet_ids,
        ),
        try_join_all(private_tables.iter().map(|(table, target, subnets)| {
            route_table::ensure(client, cx, table, vpc_id, target, subnets)
        })),
    )?;
    // After the NAT gateways (a duplicate gateway's interface keeps its subnet in use) and
    // the route tables (a duplicate subnet's association goes with it).
    let kept: Vec<(String, String)> = desired
        .public_subnets
        .iter()
        .zip(public_subnet_ids)
        .chain(desired.private_subnets.iter().zip(private_subnet_ids))
        .map(|(s, id)| (s.name.clone(), id.clone()))
        .collect();
    subnet::remove_duplicates(client, cx, vpc_id, &kept).await?;
    outputs.nat_gateway_ids = nat_gateway_ids;
    Ok(outputs)
}

/// The outputs of an existing network: its ids as given, in spec order.
fn existing_outputs(
    desired: &NetworkDesired,
    given: &existing::ExistingDesired,
    security_groups: SecurityGroupIds,
) -> NetworkOutputs {
    NetworkOutputs {
        vpc_id: given.vpc_id.clone(),
        azs: desired.azs.clone(),
        public_subnet_ids: given.public_subnet_ids.clone(),
        private_subnet_ids: given.private_subnet_ids.clone(),
        nat_gateway_ids: Vec::new(),
        nat_gateways_available: true,
        security_groups,
    }
}

/// The existing network's security groups as they exist now: `None` unless all five do.
async fn observe_existing(
    client: &Client,
    desired: &NetworkDesired,
    given: &existing::ExistingDesired,
) -> Result<Option<NetworkOutputs>> {
    let mut ids = BTreeMap::new();
    for g in &desired.security_groups {
        match security_group::find(client, &given.vpc_id, &g.name).await? {
            Some(found) => {
                ids.insert(g.role, found.group_id);
            }
            None => return Ok(None),
        }
    }
    Ok(Some(existing_outputs(
        desired,
        given,
        SecurityGroupIds::from_map(&ids)?,
    )))
}

/// What [`ensure_network`] would do in an existing network: the VPC and subnets shown as
/// used but not managed ([`KIND_EXISTING_VPC`], [`KIND_EXISTING_SUBNET`], no-op), and the
/// security groups' find + diff.
async fn plan_existing(
    client: &Client,
    desired: &NetworkDesired,
    given: &existing::ExistingDesired,
) -> Result<Vec<Change>> {
    use orchestrate_core::{Action, Phase};
    let mut changes = vec![Change::new(
        Phase::Storage,
        KIND_EXISTING_VPC,
        &format!("{} (existing, not managed)", given.vpc_id),
        Action::NoChange,
    )];
    for (label, ids) in [
        ("private", &given.private_subnet_ids),
        ("public", &given.public_subnet_ids),
    ] {
        for id in ids {
            changes.push(Change::new(
                Phase::Storage,
                KIND_EXISTING_SUBNET,
                &format!("{id} ({label}, existing, not managed)"),
                Action::NoChange,
            ));
        }
    }
    let mut groups = Vec::new();
    let mut ids = BTreeMap::new();
    for g in &desired.security_groups {
        let found = security_group::find(client, &given.vpc_id, &g.name).await?;
        if let Some(o) = &found {
            ids.insert(g.role, o.group_id.clone());
        }
        groups.push(found);
    }
    for (g, found) in desired.security_groups.iter().zip(&groups) {
        changes.push(security_group::diff(
            g,
            found.as_ref(),
            &ids,
            &desired.owner,
        ));
    }
    Ok(changes)
}

/// The network's ids as they exist now, read-only: `None` unless the VPC, every subnet and
/// every security group exist (NAT gateways may be absent or pending). `plan` uses it to diff
/// the resources that hang off the network without creating anything.
///
/// # Errors
/// A failing describe call.
pub async fn observe_network(
    client: &Client,
    cx: &Context,
    desired: &NetworkDesired,
) -> Result<Option<NetworkOutputs>> {
    if let Some(given) = &desired.existing {
        return observe_existing(client, desired, given).await;
    }
    let Some(vpc) = vpc::find(client, cx).await? else {
        return Ok(None);
    };
    let mut subnet_ids = [Vec::new(), Vec::new()];
    for (list, ids) in [&desired.public_subnets, &desired.private_subnets]
        .into_iter()
        .zip(subnet_ids.iter_mut())
    {
        for s in list {
            match subnet::find(client, &vpc.vpc_id, &s.cidr).await? {
                Some(found) => ids.push(found.subnet_id),
                None => return Ok(None),
            }
        }
    }
    let mut ids = BTreeMap::new();
    for g in &desired.security_groups {
        match security_group::find(client, &vpc.vpc_id, &g.name).await? {
            Some(found) => {
                ids.insert(g.role, found.group_id);
            }
            None => return Ok(None),
        }
    }
    let mut nat_gateway_ids = Vec::new();
    for n in &desired.nat_gateways {
        if let Some(found) = nat::find(client, cx, &n.name).await? {
            nat_gateway_ids.push(found.nat_gateway_id);
        }
    }
    let [public_subnet_ids, private_subnet_ids] = subnet_ids;
    Ok(Some(NetworkOutputs {
        vpc_id: vpc.vpc_id,
        azs: desired.azs.clone(),
        public_subnet_ids,
        private_subnet_ids,
        nat_gateway_ids,
        nat_gateways_available: false,
        security_groups: SecurityGroupIds::from_map(&ids)?,
    }))
}

/// What [`ensure_network`] would do: find + diff for every resource (read-only).
///
/// # Errors
/// A failing describe call.
pub async fn plan_network(
    client: &Client,
    cx: &Context,
    desired: &NetworkDesired,
) -> Result<Vec<Change>> {
    if let Some(given) = &desired.existing {
        return plan_existing(client, desired, given).await;
    }
    let owner = &desired.owner;
    let observed_vpc = vpc::find(client, cx).await?;
    let mut changes = vpc::diff(&desired.vpc, observed_vpc.as_ref());
    let vpc_id = observed_vpc.as_ref().map(|v| v.vpc_id.clone());

    let mut public_ids: Vec<Option<String>> = vec![None; desired.public_subnets.len()];
    let mut private_ids: Vec<Option<String>> = vec![None; desired.private_subnets.len()];
    for (list, ids) in [
        (&desired.public_subnets, &mut public_ids),
        (&desired.private_subnets, &mut private_ids),
    ] {
        for (s, id) in list.iter().zip(ids.iter_mut()) {
            let found = match &vpc_id {
                Some(v) => subnet::find(client, v, &s.cidr).await?,
                None => None,
            };
            *id = found.as_ref().map(|o| o.subnet_id.clone());
            changes.push(subnet::diff(s, found.as_ref()));
        }
    }

    let igw = internet_gateway::find(client, cx, vpc_id.as_deref()).await?;
    changes.extend(internet_gateway::diff(
        &desired.internet_gateway,
        igw.as_ref(),
        vpc_id.as_deref(),
    ));

    let mut nat_ids = Vec::new();
    for n in &desired.nat_gateways {
        let found = nat::find(client, cx, &n.name).await?;
        let prefer = found
            .as_ref()
            .and_then(|o| o.allocation_ids.first().cloned());
        let eip = elastic_ip::find(client, cx, &n.elastic_ip.name, prefer.as_deref()).await?;
        changes.extend(elastic_ip::diff(&n.elastic_ip, eip.as_ref()));
        let subnet = public_ids.get(desired.nat_subnet(n)).cloned().flatten();
        changes.push(nat::diff(n, found.as_ref(), subnet.as_deref()));
        nat_ids.push(
            found
                .filter(|o| o.state != "failed")
                .map(|o| o.nat_gateway_id),
        );
    }

    let igw_target = igw.map(|g| RouteTarget::InternetGateway(g.internet_gateway_id));
    let existing = |ids: &[Option<String>], which: &[usize]| -> Vec<String> {
        which
            .iter()
            .filter_map(|i| ids.get(*i).cloned().flatten())
            .collect()
    };
    let all_public: Vec<usize> = (0..public_ids.len()).collect();
    let mut tables = vec![(
        &desired.public_route_table,
        igw_target,
        existing(&public_ids, &all_public),
    )];
    for p in &desired.private_route_tables {
        let target = nat_ids
            .get(p.nat)
            .cloned()
            .flatten()
            .map(RouteTarget::NatGateway);
        tables.push((&p.table, target, existing(&private_ids, &p.subnets)));
    }
    for (table, target, subnets) in tables {
        let found = match &vpc_id {
            Some(v) => route_table::find(client, cx, &table.name, v).await?,
            None => None,
        };
        changes.extend(route_table::diff(
            table,
            found.as_ref(),
            target.as_ref(),
            &subnets,
        ));
    }

    let mut groups = Vec::new();
    let mut ids = BTreeMap::new();
    for g in &desired.security_groups {
        let found = match &vpc_id {
            Some(v) => security_group::find(client, v, &g.name).await?,
            None => None,
        };
        if let Some(o) = &found {
            ids.insert(g.role, o.group_id.clone());
        }
        groups.push(found);
    }
    for (g, found) in desired.security_groups.iter().zip(&groups) {
        changes.push(security_group::diff(g, found.as_ref(), &ids, owner));
    }
    Ok(changes)
}

/// Every EC2 resource of the deployment and its state, in two calls: DescribeTags (the
/// `orchestrate:deployment` and `Name` tags, so each resource of this deployment comes with
/// its name; one page holds 1000 tags) and DescribeNatGateways
/// (the one resource with a lifecycle worth showing). Read-only.
///
/// # Errors
/// [`Error::DescribeVpc`] (DescribeTags), [`Error::DescribeNatGateway`].
pub async fn status(client: &Client, cx: &Context) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::names::TAG_DEPLOYMENT;
    use orchestrate_core::{Phase, StatusRow};
    let mut by_id: BTreeMap<String, (String, Option<String>, bool)> = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("key")
                    .values(TAG_DEPLOYMENT)
                    .values("Name")
                    .build(),
            )
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                Error::DescribeVpc(aws_error("describe tags of", cx.names.deployment(), e))
            })?;
        for tag in out.tags() {
            let (Some(id), Some(kind)) = (tag.resource_id(), tag.resource_type()) else {
                continue;
            };
            let entry = by_id
                .entry(id.to_string())
                .or_insert_with(|| (kind.as_str().to_string(), None, false));
            match tag.key() {
                Some(TAG_DEPLOYMENT) => entry.2 |= tag.value() == Some(cx.names.deployment()),
                Some("Name") => entry.1 = tag.value().map(str::to_string),
                _ => {}
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let nat_states: BTreeMap<String, String> = client
        .describe_nat_gateways()
        .filter(util::filter(
            &format!("tag:{TAG_DEPLOYMENT}"),
            cx.names.deployment(),
        ))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeNatGateway(aws_error(
                "describe NAT gateways of",
                cx.names.deployment(),
                e,
            ))
        })?
        .nat_gateways()
        .iter()
        .filter_map(|n| {
            Some((
                n.nat_gateway_id()?.to_string(),
                n.state().map_or("unknown", |s| s.as_str()).to_string(),
            ))
        })
        .collect();
    let mut rows = Vec::new();
    for (id, (resource_type, name, mine)) in by_id {
        if !mine {
            continue;
        }
        let kind = match resource_type.as_str() {
            "vpc" => KIND_VPC,
            "subnet" => KIND_SUBNET,
            "internet-gateway" => KIND_INTERNET_GATEWAY,
            "natgateway" | "nat-gateway" => KIND_NAT_GATEWAY,
            "elastic-ip" | "vpc-elastic-ip" => KIND_ELASTIC_IP,
            "route-table" => KIND_ROUTE_TABLE,
            "security-group" => KIND_SECURITY_GROUP,
            _ => continue,
        };
        let label = name.unwrap_or_else(|| id.clone());
        let row = if kind == KIND_NAT_GATEWAY {
            match nat_states.get(&id) {
                Some(state) if state == "deleted" => continue,
                Some(state) => StatusRow::new(
                    Phase::Storage,
                    kind,
                    &label,
                    state.as_str(),
                    state == "available",
                ),
                None => StatusRow::new(Phase::Storage, kind, &label, "unknown", false),
            }
        } else {
            StatusRow::new(Phase::Storage, kind, &label, "ok", true)
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| (kind_rank(&a.kind), &a.name).cmp(&(kind_rank(&b.kind), &b.name)));
    Ok(rows)
}

fn kind_rank(kind: &str) -> usize {
    [
        KIND_VPC,
        KIND_SUBNET,
        KIND_INTERNET_GATEWAY,
        KIND_ELASTIC_IP,
        KIND_NAT_GATEWAY,
        KIND_ROUTE_TABLE,
        KIND_SECURITY_GROUP,
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

/// Deletes the whole network in reverse order: NAT gateways (waiting until deleted), Elastic
/// IPs, route tables, internet gateway (detach, delete), subnets, security groups (cross
/// references revoked first), VPC. Idempotent: run it any number of times.
///
/// # Errors
/// The first failing step's [`Error`].
pub async fn delete_network(client: &Client, cx: &Context) -> Result<()> {
    delete_network_in(client, cx, None).await
}

/// [`delete_network`], and with `existing_vpc` (a network orchestrate was given) also the
/// deployment's security groups in that VPC. Everything is found by the deployment's tags,
/// so the given VPC, its subnets, gateways and routes are never touched.
///
/// # Errors
/// The first failing step's [`Error`].
pub async fn delete_network_in(
    client: &Client,
    cx: &Context,
    existing_vpc: Option<&str>,
) -> Result<()> {
    if let Some(vpc_id) = existing_vpc {
        security_group::delete_all(client, cx, vpc_id).await?;
    }
    let vpc_ids = vpc::list_ids(client, cx).await?;
    nat::delete_all(client, cx).await?;
    elastic_ip::delete_all(client, cx).await?;
    route_table::delete_all(client, cx).await?;
    internet_gateway::delete(client, cx).await?;
    for vpc_id in &vpc_ids {
        let out = client
            .describe_subnets()
            .set_filters(Some({
                let mut f = util::owned(cx, COMPONENT_SUBNET);
                f.push(util::filter("vpc-id", vpc_id));
                f
            }))
            .send()
            .await
            .map_err(|e| Error::DescribeSubnet(aws_error("describe subnets of", vpc_id, e)))?;
        let mut subnet_ids: Vec<String> = out
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        subnet_ids.sort();
        for id in &subnet_ids {
            subnet::delete(client, cx, id).await?;
        }
        security_group::delete_all(client, cx, vpc_id).await?;
        vpc::delete(client, cx, vpc_id).await?;
    }
    Ok(())
}
