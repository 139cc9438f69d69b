//! An existing network (`[network] vpc_id`, `private_subnet_ids`, `public_subnet_ids`): read,
//! judged, never changed.
//!
//! orchestrate creates no VPC, subnet, gateway or route in a network it is given. It reads
//! what it needs in six read-only calls ([`inspect`]: DescribeVpcs, DescribeSubnets,
//! DescribeRouteTables, DescribeVpcEndpoints, run concurrently, each filtered to the VPC or
//! the listed subnets; then DescribeVpcAttribute twice, for the DNS attributes) and judges it ([`check`], pure) before the first mutating call of
//! `up` and in `plan`:
//! - the VPC exists with DNS support and DNS hostnames on (Cloud Map private DNS and interface
//!   endpoints' private names need both), every listed subnet exists and belongs to it;
//! - each list spans at least two availability zones (the ALB and the RDS and Valkey subnet
//!   groups need two);
//! - every private subnet reaches the internet — an active `0.0.0.0/0` route to a NAT
//!   gateway, an instance (NAT instance) or a transit gateway in its route table (its own
//!   association, else the VPC's main table) — or else the VPC has the endpoints Fargate
//!   tasks need without one ([`REQUIRED_ENDPOINTS`]); the missing ones are named;
//! - for an internet-facing load balancer, every public subnet routes `0.0.0.0/0` to an
//!   internet gateway.
//!
//! Every problem is collected (not only the first) into one [`Error::ExistingNetwork`]
//! (exit 2), each naming the offending resource and the fix.

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{RouteState, VpcAttributeName, VpcEndpointType};
use orchestrate_aws::aws_error;
use orchestrate_core::Spec;
use orchestrate_core::spec::{AlbScheme, ExistingNetworkSpec};

use crate::error::{Error, Result};
use crate::util::filter;

/// The existing network a spec names, and what the deployment needs of it (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingDesired {
    /// The VPC.
    pub vpc_id: String,
    /// Private subnets (tasks, RDS, Valkey), in spec order.
    pub private_subnet_ids: Vec<String>,
    /// Public subnets (the ALB), in spec order.
    pub public_subnet_ids: Vec<String>,
    /// True when the ALB faces the internet (its subnets then need an internet gateway).
    pub internet_facing: bool,
    /// The region, for the VPC endpoint service names.
    pub region: String,
}

impl ExistingDesired {
    /// What `spec` asks of the existing network it names (`None`: orchestrate builds the
    /// network). The one place this is computed: the network's desired state and the
    /// engine's check of the account both take it from here. Public subnets need an internet
    /// gateway only for an internet-facing ALB.
    pub fn from_spec(spec: &Spec) -> Option<Self> {
        let given: ExistingNetworkSpec<'_> = spec.network.existing()?;
        Some(Self {
            vpc_id: given.vpc_id.to_string(),
            private_subnet_ids: given.private_subnet_ids.to_vec(),
            public_subnet_ids: given.public_subnet_ids.to_vec(),
            internet_facing: spec.load_balancer.scheme == AlbScheme::InternetFacing,
            region: spec.deployment.region.clone(),
        })
    }

    fn all_subnet_ids(&self) -> impl Iterator<Item = &String> {
        self.private_subnet_ids
            .iter()
            .chain(&self.public_subnet_ids)
    }
}

/// A VPC endpoint's type, as far as the check cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// An interface endpoint (ENIs in subnets, private DNS).
    Interface,
    /// A gateway endpoint (S3, DynamoDB: a route-table entry).
    Gateway,
    /// Anything else (Gateway Load Balancer endpoints).
    Other,
}

impl EndpointKind {
    fn label(self) -> &'static str {
        match self {
            EndpointKind::Interface => "interface",
            EndpointKind::Gateway => "gateway",
            EndpointKind::Other => "other",
        }
    }
}

/// The endpoints private subnets without a NAT route need: the ECR API and registry (image
/// pulls), S3 as a gateway (ECR image layers), CloudWatch Logs (the awslogs driver), Secrets
/// Manager (secrets injected at start) and SSM messages (ECS Exec). Service-name suffixes
/// after `com.amazonaws.<region>.`.
pub const REQUIRED_ENDPOINTS: &[(&str, EndpointKind)] = &[
    ("ecr.api", EndpointKind::Interface),
    ("ecr.dkr", EndpointKind::Interface),
    ("s3", EndpointKind::Gateway),
    ("logs", EndpointKind::Interface),
    ("secretsmanager", EndpointKind::Interface),
    ("ssmmessages", EndpointKind::Interface),
];

/// A subnet as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetFacts {
    /// Its id.
    pub subnet_id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Its availability zone.
    pub az: String,
}

/// Where an active `0.0.0.0/0` route leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultRoute {
    /// A NAT gateway (`nat-…`).
    NatGateway(String),
    /// An instance (a NAT instance).
    Instance(String),
    /// A transit gateway (egress through a shared network account).
    TransitGateway(String),
    /// An internet gateway (`igw-…`).
    InternetGateway(String),
    /// Anything else (peering, a network interface, a virtual private gateway, ...).
    Other(String),
}

impl DefaultRoute {
    /// True when tasks in a subnet with this default route reach the internet without a
    /// public IP of their own.
    pub fn is_egress(&self) -> bool {
        matches!(
            self,
            DefaultRoute::NatGateway(_)
                | DefaultRoute::Instance(_)
                | DefaultRoute::TransitGateway(_)
        )
    }
}

/// A route table of the VPC as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableFacts {
    /// Its id.
    pub route_table_id: String,
    /// True for the VPC's main route table (it serves subnets without an association).
    pub main: bool,
    /// The subnets explicitly associated with it.
    pub subnet_ids: Vec<String>,
    /// Its active `0.0.0.0/0` route, if any.
    pub default_route: Option<DefaultRoute>,
}

/// A VPC endpoint as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFacts {
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    /// Interface or gateway.
    pub kind: EndpointKind,
    /// True unless it is being deleted, deleted, failed, rejected or expired.
    pub usable: bool,
    /// Route tables a gateway endpoint is attached to.
    pub route_table_ids: Vec<String>,
}

/// What AWS holds of the existing network (read by [`inspect`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingObserved {
    /// True when the VPC exists.
    pub vpc_found: bool,
    /// The VPC's `enableDnsSupport` and `enableDnsHostnames` (read only when it exists).
    pub vpc_dns: Option<(bool, bool)>,
    /// The listed subnets that exist (in any VPC).
    pub subnets: Vec<SubnetFacts>,
    /// Every route table of the VPC.
    pub route_tables: Vec<RouteTableFacts>,
    /// Every VPC endpoint of the VPC.
    pub endpoints: Vec<EndpointFacts>,
}

/// What the network offers the deployment, once [`check`] accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVerdict {
    /// The zones the listed subnets span, sorted.
    pub azs: Vec<String>,
    /// True when some private subnets reach the internet only through VPC endpoints (worth a
    /// note: git-sync and anything else outside AWS is unreachable from there).
    pub endpoints_only: bool,
}

/// Reads the VPC, the listed subnets, the VPC's route tables and endpoints (four read-only
/// calls, concurrently), then the VPC's two DNS attributes (two more, concurrently, when the
/// VPC exists). A missing VPC or subnet is not an error here ([`check`] names it).
///
/// # Errors
/// [`Error::DescribeVpc`], [`Error::DescribeSubnet`], [`Error::DescribeRouteTable`],
/// [`Error::DescribeVpcEndpoint`].
pub async fn inspect(client: &Client, desired: &ExistingDesired) -> Result<ExistingObserved> {
    let vpc_id = desired.vpc_id.as_str();
    let (vpc_found, subnets, route_tables, endpoints) = tokio::try_join!(
        describe_vpc(client, vpc_id),
        describe_subnets(client, desired),
        describe_route_tables(client, vpc_id),
        describe_endpoints(client, vpc_id),
    )?;
    let vpc_dns = if vpc_found {
        Some(tokio::try_join!(
            crate::vpc::attribute(client, vpc_id, VpcAttributeName::EnableDnsSupport),
            crate::vpc::attribute(client, vpc_id, VpcAttributeName::EnableDnsHostnames),
        )?)
    } else {
        None
    };
    Ok(ExistingObserved {
        vpc_found,
        vpc_dns,
        subnets,
        route_tables,
        endpoints,
    })
}

async fn describe_vpc(client: &Client, vpc_id: &str) -> Result<bool> {
    // A filter, not VpcIds: an absent VPC is an empty answer, not an error to interpret.
    let out = client
        .describe_vpcs()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| Error::DescribeVpc(aws_error("describe VPC", vpc_id, e)))?;
    Ok(out.vpcs().iter().any(|v| v.vpc_id() == Some(vpc_id)))
}

async fn describe_subnets(client: &Client, desired: &ExistingDesired) -> Result<Vec<SubnetFacts>> {
    let wanted: BTreeSet<&str> = desired.all_subnet_ids().map(String::as_str).collect();
    let mut ids = aws_sdk_ec2::types::Filter::builder().name("subnet-id");
    for id in &wanted {
        ids = ids.values(*id);
    }
    let ids = ids.build();
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_subnets()
            .filters(ids.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                Error::DescribeSubnet(aws_error("describe subnets of", &desired.vpc_id, e))
            })?;
        for s in out.subnets() {
            let Some(subnet_id) = s.subnet_id() else {
                continue;
            };
            if !wanted.contains(subnet_id) {
                continue;
            }
            let missing = |field| Error::MissingField {
                what: format!("subnet {subnet_id}"),
                field,
            };
            found.push(SubnetFacts {
                subnet_id: subnet_id.to_string(),
                vpc_id: s.vpc_id().ok_or_else(|| missing("VpcId"))?.to_string(),
                az: s
                    .availability_zone()
                    .ok_or_else(|| missing("AvailabilityZone"))?
                    .to_string(),
            });
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

async fn describe_route_tables(client: &Client, vpc_id: &str) -> Result<Vec<RouteTableFacts>> {
    let mut tables = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_route_tables()
            .filters(filter("vpc-id", vpc_id))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                Error::DescribeRouteTable(aws_error("describe route tables of", vpc_id, e))
            })?;
        for t in out.route_tables() {
            if t.vpc_id().is_some_and(|v| v != vpc_id) {
                continue;
            }
            let Some(route_table_id) = t.route_table_id() else {
                continue;
            };
            let default_route = t
                .routes()
                .iter()
                .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .filter(|r| r.state().is_none_or(|s| *s == RouteState::Active))
                .map(|r| {
                    if let Some(id) = r.nat_gateway_id() {
                        DefaultRoute::NatGateway(id.to_string())
                    } else if let Some(id) = r.transit_gateway_id() {
                        DefaultRoute::TransitGateway(id.to_string())
                    } else if let Some(id) = r.instance_id() {
                        DefaultRoute::Instance(id.to_string())
                    } else if let Some(id) = r.gateway_id() {
                        if id.starts_with("igw-") {
                            DefaultRoute::InternetGateway(id.to_string())
                        } else {
                            DefaultRoute::Other(id.to_string())
                        }
                    } else {
                        let other = r
                            .network_interface_id()
                            .or(r.vpc_peering_connection_id())
                            .or(r.local_gateway_id())
                            .unwrap_or("an unknown target");
                        DefaultRoute::Other(other.to_string())
                    }
                })
                .next();
            tables.push(RouteTableFacts {
                route_table_id: route_table_id.to_string(),
                main: t.associations().iter().any(|a| a.main() == Some(true)),
                subnet_ids: t
                    .associations()
                    .iter()
                    .filter_map(|a| a.subnet_id().map(str::to_string))
                    .collect(),
                default_route,
            });
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(tables)
}

async fn describe_endpoints(client: &Client, vpc_id: &str) -> Result<Vec<EndpointFacts>> {
    let mut endpoints = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_vpc_endpoints()
            .filters(filter("vpc-id", vpc_id))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                Error::DescribeVpcEndpoint(aws_error("describe VPC endpoints of", vpc_id, e))
            })?;
        for e in out.vpc_endpoints() {
            if e.vpc_id().is_some_and(|v| v != vpc_id) {
                continue;
            }
            let Some(service_name) = e.service_name() else {
                continue;
            };
            let kind = match e.vpc_endpoint_type() {
                Some(VpcEndpointType::Interface) => EndpointKind::Interface,
                Some(VpcEndpointType::Gateway) => EndpointKind::Gateway,
                _ => EndpointKind::Other,
            };
            let usable = e.state().is_none_or(|s| {
                !matches!(
                    s.as_str().to_ascii_lowercase().as_str(),
                    "deleting" | "deleted" | "failed" | "rejected" | "expired"
                )
            });
            endpoints.push(EndpointFacts {
                service_name: service_name.to_string(),
                kind,
                usable,
                route_table_ids: e.route_table_ids().to_vec(),
            });
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(endpoints)
}

/// Judges the existing network (pure): every problem, each naming the offending resource and
/// the fix, or the zones the subnets span.
///
/// # Errors
/// [`Error::ExistingNetwork`] listing every problem found.
pub fn check(desired: &ExistingDesired, observed: &ExistingObserved) -> Result<ExistingVerdict> {
    let vpc = desired.vpc_id.as_str();
    let mut problems = Vec::new();
    if !observed.vpc_found {
        problems.push(format!(
            "VPC {vpc} does not exist in {} (or these credentials cannot see it); fix: set [network] vpc_id to an existing VPC of this account and region",
            desired.region
        ));
    }
    if let Some((support, hostnames)) = observed.vpc_dns
        && !(support && hostnames)
    {
        let off: Vec<&str> = [
            ("enableDnsSupport", support),
            ("enableDnsHostnames", hostnames),
        ]
        .into_iter()
        .filter_map(|(name, on)| (!on).then_some(name))
        .collect();
        problems.push(format!(
            "VPC {vpc} has {} off: the Cloud Map private DNS names the components find each other by (and interface endpoints' private DNS) do not resolve; fix: turn on both DNS attributes of the VPC (aws ec2 modify-vpc-attribute --vpc-id {vpc} --enable-dns-support / --enable-dns-hostnames)",
            off.join(" and ")
        ));
    }
    let facts = |id: &str| observed.subnets.iter().find(|s| s.subnet_id == id);
    let lists = [
        ("private_subnet_ids", "private", &desired.private_subnet_ids),
        ("public_subnet_ids", "public", &desired.public_subnet_ids),
    ];
    let mut azs = BTreeSet::new();
    for (key, label, list) in lists {
        let mut zones = BTreeSet::new();
        for id in list {
            match facts(id.as_str()) {
                None => problems.push(format!(
                    "{label} subnet {id} does not exist in {}; fix: list an existing subnet of {vpc} in [network] {key}",
                    desired.region
                )),
                Some(s) if s.vpc_id != vpc => problems.push(format!(
                    "{label} subnet {id} belongs to VPC {}, not to {vpc}; fix: list subnets of {vpc} in [network] {key}, or set vpc_id to {}",
                    s.vpc_id, s.vpc_id
                )),
                Some(s) => {
                    zones.insert(s.az.clone());
                    azs.insert(s.az.clone());
                }
            }
        }
        let known = list
            .iter()
            .filter(|id| facts(id.as_str()).is_some_and(|s| s.vpc_id == vpc))
            .count();
        if known == list.len() && zones.len() < 2 {
            problems.push(format!(
                "the {label} subnets {} are all in {}; fix: list {label} subnets in at least two availability zones in [network] {key} (the load balancer and the RDS and Valkey subnet groups need two)",
                list.join(", "),
                zones.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let table_of = |subnet: &str| {
        observed
            .route_tables
            .iter()
            .find(|t| t.subnet_ids.iter().any(|s| s == subnet))
            .or_else(|| observed.route_tables.iter().find(|t| t.main))
    };
    let mut endpoints_only = false;
    for id in &desired.private_subnet_ids {
        if facts(id.as_str()).is_none_or(|s| s.vpc_id != vpc) {
            continue;
        }
        let table = table_of(id.as_str());
        if table
            .and_then(|t| t.default_route.as_ref())
            .is_some_and(DefaultRoute::is_egress)
        {
            continue;
        }
        let missing =
            missing_endpoints(desired, observed, table.map(|t| t.route_table_id.as_str()));
        if missing.is_empty() {
            endpoints_only = true;
            continue;
        }
        let (table_name, route) = match table {
            Some(t) => (
                format!("route table {}", t.route_table_id),
                match &t.default_route {
                    Some(r) => format!("its 0.0.0.0/0 route leads to {}", route_target(r)),
                    None => "it has no 0.0.0.0/0 route".to_string(),
                },
            ),
            None => ("no route table".to_string(), "no route applies".to_string()),
        };
        problems.push(format!(
            "private subnet {id} ({table_name}) cannot reach the internet: {route}, not a NAT gateway, NAT instance or transit gateway; and {vpc} lacks the VPC endpoints Fargate tasks need without one: {}; fix: add a 0.0.0.0/0 route to a NAT gateway to that route table, or create the missing endpoints",
            missing.join(", ")
        ));
    }
    if desired.internet_facing {
        for id in &desired.public_subnet_ids {
            if facts(id.as_str()).is_none_or(|s| s.vpc_id != vpc) {
                continue;
            }
            let table = table_of(id.as_str());
            if let Some(DefaultRoute::InternetGateway(_)) =
                table.and_then(|t| t.default_route.as_ref())
            {
                continue;
            }
            let table_name = table.map_or_else(
                || "no route table".to_string(),
                |t| format!("route table {}", t.route_table_id),
            );
            problems.push(format!(
                "public subnet {id} ({table_name}) has no 0.0.0.0/0 route to an internet gateway, so an internet-facing load balancer there is unreachable; fix: list public subnets whose route table sends 0.0.0.0/0 to an internet gateway in [network] public_subnet_ids"
            ));
        }
    }
    if problems.is_empty() {
        Ok(ExistingVerdict {
            azs: azs.into_iter().collect(),
            endpoints_only,
        })
    } else {
        Err(Error::ExistingNetwork {
            vpc_id: desired.vpc_id.clone(),
            problems,
        })
    }
}

fn route_target(route: &DefaultRoute) -> String {
    match route {
        DefaultRoute::NatGateway(id) => format!("NAT gateway {id}"),
        DefaultRoute::Instance(id) => format!("instance {id}"),
        DefaultRoute::TransitGateway(id) => format!("transit gateway {id}"),
        DefaultRoute::InternetGateway(id) => {
            format!("internet gateway {id} (tasks without a public IP cannot use it)")
        }
        DefaultRoute::Other(id) => id.clone(),
    }
}

/// The required endpoints ([`REQUIRED_ENDPOINTS`]) the VPC lacks for a subnet served by
/// `route_table` (a gateway endpoint must be attached to it), named
/// `com.amazonaws.<region>.<service> (<type>)`. Pure.
pub fn missing_endpoints(
    desired: &ExistingDesired,
    observed: &ExistingObserved,
    route_table: Option<&str>,
) -> Vec<String> {
    REQUIRED_ENDPOINTS
        .iter()
        .filter_map(|(service, kind)| {
            let name = format!("com.amazonaws.{}.{service}", desired.region);
            let present = observed.endpoints.iter().any(|e| {
                e.usable
                    && e.service_name == name
                    && match e.kind {
                        EndpointKind::Interface => true,
                        EndpointKind::Gateway => {
                            route_table.is_some_and(|t| e.route_table_ids.iter().any(|r| r == t))
                        }
                        EndpointKind::Other => false,
                    }
            });
            (!present).then(|| format!("{name} ({})", kind.label()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
