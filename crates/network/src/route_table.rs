//! Route tables: one public (`0.0.0.0/0` -> internet gateway, associated with every public
//! subnet) and one private per NAT gateway (`0.0.0.0/0` -> that NAT gateway, associated with
//! the private subnets of the AZs it serves). Found by tags (deployment, component
//! `network/route-table`, `Name`) within the VPC.
//!
//! CreateRouteTable takes no client token; a lost response leaves an untagged-by-use
//! duplicate with no associations, which [`ensure`] deletes (lowest id with associations
//! is kept) and reports.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::ResourceType;
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{Action, Change, Context, FieldChange, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{
    Owner, delete_patiently, filter, owned, owned_by, owned_named, required, tag_spec,
};
use crate::{COMPONENT_ROUTE_TABLE, KIND_ROUTE_TABLE};

/// The default route every table carries.
pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Attempts for calls that may see a just-created table, gateway or subnet as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// Where the default route points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteTarget {
    /// An internet gateway id.
    InternetGateway(String),
    /// A NAT gateway id.
    NatGateway(String),
}

impl RouteTarget {
    fn id(&self) -> &str {
        match self {
            RouteTarget::InternetGateway(id) | RouteTarget::NatGateway(id) => id,
        }
    }
}

/// What one route table should be (its target and subnets are passed to [`ensure`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableDesired {
    /// `<name>-public`, `<name>-private` (single NAT) or `<name>-private-<az-suffix>`.
    pub name: String,
    /// Tags given to CreateRouteTable.
    pub tags: Tags,
}

impl RouteTableDesired {
    /// The table named `<name>-<suffix>` (pure).
    pub fn new(owner: &Owner, suffix: &str) -> Self {
        let name = owner.names.prefixed(suffix);
        Self {
            tags: owner.tags(COMPONENT_ROUTE_TABLE, &name),
            name,
        }
    }

    /// The CreateRouteTable client token in `vpc_id` (at most 64 characters): the VPC id and
    /// an FNV-1a hash of the table's name. The same in every run, so a create retried after a
    /// lost response or a crash returns the first table; a new VPC (after a teardown) gives a
    /// new token, so EC2 never answers with a deleted table.
    pub fn client_token(&self, vpc_id: &str) -> String {
        let hash = self.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut token = format!("{vpc_id}-rt-{hash:016x}");
        token.truncate(64);
        token
    }
}

/// A route table as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableObserved {
    /// Its id.
    pub route_table_id: String,
    /// Target of its `0.0.0.0/0` route.
    pub default_route: Option<RouteTarget>,
    /// Whether that route is a `blackhole` (its target was deleted).
    pub blackhole: bool,
    /// (association id, subnet id) of its subnet associations.
    pub associations: Vec<(String, String)>,
    /// Other tables with the same name and no associations (lost-response duplicates).
    pub duplicates: Vec<String>,
}

pub(crate) fn observe(t: &aws_sdk_ec2::types::RouteTable) -> Option<RouteTableObserved> {
    let route = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE));
    let default_route = route.and_then(|r| {
        if let Some(nat) = r.nat_gateway_id() {
            Some(RouteTarget::NatGateway(nat.to_string()))
        } else {
            r.gateway_id()
                .map(|g| RouteTarget::InternetGateway(g.to_string()))
        }
    });
    Some(RouteTableObserved {
        route_table_id: t.route_table_id()?.to_string(),
        default_route,
        blackhole: route
            .and_then(|r| r.state())
            .is_some_and(|s| s.as_str() == "blackhole"),
        associations: t
            .associations()
            .iter()
            .filter(|a| !a.main().unwrap_or(false))
            .filter_map(|a| {
                Some((
                    a.route_table_association_id()?.to_string(),
                    a.subnet_id()?.to_string(),
                ))
            })
            .collect(),
        duplicates: Vec::new(),
    })
}

/// Finds the table named `name` in `vpc_id` (read-only).
///
/// # Errors
/// [`Error::DescribeRouteTable`].
pub async fn find(
    client: &Client,
    cx: &Context,
    name: &str,
    vpc_id: &str,
) -> Result<Option<RouteTableObserved>> {
    let mut filters = owned_named(cx, COMPONENT_ROUTE_TABLE, name);
    filters.push(filter("vpc-id", vpc_id));
    let out = client
        .describe_route_tables()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| Error::DescribeRouteTable(aws_error("describe route tables", name, e)))?;
    let mut found: Vec<RouteTableObserved> = out
        .route_tables()
        .iter()
        .filter(|t| owned_by(t.tags(), cx, COMPONENT_ROUTE_TABLE, Some(name)))
        .filter_map(observe)
        .collect();
    found.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
    let keep = found
        .iter()
        .position(|t| !t.associations.is_empty())
        .unwrap_or(0);
    if keep >= found.len() {
        return Ok(None);
    }
    let mut kept = found.remove(keep);
    kept.duplicates = found
        .into_iter()
        .filter(|t| t.associations.is_empty())
        .map(|t| t.route_table_id)
        .collect();
    Ok(Some(kept))
}

/// What `up` would do to the table (pure). `target` and `subnet_ids` are `None` / partial
/// when those resources do not exist yet.
pub fn diff(
    desired: &RouteTableDesired,
    observed: Option<&RouteTableObserved>,
    target: Option<&RouteTarget>,
    subnet_ids: &[String],
) -> Vec<Change> {
    let Some(observed) = observed else {
        return vec![Change::new(
            Phase::Storage,
            KIND_ROUTE_TABLE,
            &desired.name,
            Action::Create,
        )];
    };
    let mut fields = Vec::new();
    if target.is_none() || observed.default_route.as_ref() != target || observed.blackhole {
        fields.push(FieldChange::new(
            DEFAULT_ROUTE,
            observed.default_route.as_ref().map(|t| t.id().to_string()),
            Some(target.map_or("(new gateway)", RouteTarget::id).to_string()),
        ));
    }
    let associated: Vec<&str> = observed
        .associations
        .iter()
        .map(|(_, s)| s.as_str())
        .collect();
    let mut want: Vec<&str> = subnet_ids.iter().map(String::as_str).collect();
    want.sort();
    let mut have = associated.clone();
    have.sort();
    if want != have {
        fields.push(FieldChange::new(
            "Associations",
            Some(have.join(",")),
            Some(want.join(",")),
        ));
    }
    let action = if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    };
    let mut changes = vec![Change::new(
        Phase::Storage,
        KIND_ROUTE_TABLE,
        &desired.name,
        action,
    )];
    for dup in &observed.duplicates {
        changes.push(Change::new(
            Phase::Storage,
            KIND_ROUTE_TABLE,
            dup,
            Action::Delete,
        ));
    }
    changes
}

/// Creates or adopts the table in `vpc_id`, points `0.0.0.0/0` at `target` and associates
/// exactly `subnet_ids` (moving a subnet from another table with
/// ReplaceRouteTableAssociation). Returns the table id. No mutating call when it matches.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &RouteTableDesired,
    vpc_id: &str,
    target: &RouteTarget,
    subnet_ids: &[String],
) -> Result<String> {
    let observed = match find(client, cx, &desired.name, vpc_id).await? {
        Some(o) => {
            for dup in &o.duplicates {
                cx.reporter.note(
                    KIND_ROUTE_TABLE,
                    format!(
                        "deleting duplicate route table {dup} of {} (a lost create response); keeping {}",
                        desired.name, o.route_table_id
                    ),
                );
                delete(client, cx, dup).await?;
            }
            o
        }
        None => {
            cx.reporter
                .applying(KIND_ROUTE_TABLE, &desired.name, "create");
            let out = retry_eventual(
                cx.timing,
                &["InvalidVpcID.NotFound"],
                EVENTUAL_ATTEMPTS,
                || {
                    client
                        .create_route_table()
                        .vpc_id(vpc_id)
                        .client_token(desired.client_token(vpc_id))
                        .tag_specifications(tag_spec(ResourceType::RouteTable, &desired.tags))
                        .send()
                },
            )
            .await
            .map_err(|e| {
                Error::CreateRouteTable(aws_error("create route table", &desired.name, e))
            })?;
            let id = required(
                out.route_table().and_then(|t| t.route_table_id()),
                "created route table",
                "RouteTableId",
            )?;
            RouteTableObserved {
                route_table_id: id,
                default_route: None,
                blackhole: false,
                associations: Vec::new(),
                duplicates: Vec::new(),
            }
        }
    };
    let table = observed.route_table_id.as_str();
    let eventual = [
        "InvalidRouteTableID.NotFound",
        "InvalidGatewayID.NotFound",
        "InvalidNatGatewayID.NotFound",
        "InvalidSubnetID.NotFound",
    ];
    let wrong_route = observed.default_route.as_ref() != Some(target) || observed.blackhole;
    if wrong_route {
        cx.reporter
            .applying(KIND_ROUTE_TABLE, &desired.name, "update");
        let replace = observed.default_route.is_some();
        let result = retry_eventual(cx.timing, &eventual, EVENTUAL_ATTEMPTS, || async {
            if replace {
                let req = client
                    .replace_route()
                    .route_table_id(table)
                    .destination_cidr_block(DEFAULT_ROUTE);
                match target {
                    RouteTarget::InternetGateway(id) => req.gateway_id(id),
                    RouteTarget::NatGateway(id) => req.nat_gateway_id(id),
                }
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("replace default route of", &desired.name, e))
            } else {
                let req = client
                    .create_route()
                    .route_table_id(table)
                    .destination_cidr_block(DEFAULT_ROUTE);
                match target {
                    RouteTarget::InternetGateway(id) => req.gateway_id(id),
                    RouteTarget::NatGateway(id) => req.nat_gateway_id(id),
                }
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("create default route of", &desired.name, e))
            }
        })
        .await;
        match result {
            Ok(()) => {}
            // Created by an attempt whose response was lost; correct on the next run's check.
            Err(e) if e.code == "RouteAlreadyExists" => {}
            Err(e) => return Err(Error::UpdateRouteTable(e)),
        }
    }
    // Associations: drop the ones not wanted, add the missing ones.
    for (association_id, subnet_id) in &observed.associations {
        if !subnet_ids.contains(subnet_id) {
            cx.reporter
                .applying(KIND_ROUTE_TABLE, &desired.name, "update");
            client
                .disassociate_route_table()
                .association_id(association_id)
                .send()
                .await
                .map_err(|e| {
                    Error::UpdateRouteTable(aws_error("disassociate subnet from", &desired.name, e))
                })?;
        }
    }
    for subnet_id in subnet_ids {
        if observed.associations.iter().any(|(_, s)| s == subnet_id) {
            continue;
        }
        cx.reporter
            .applying(KIND_ROUTE_TABLE, &desired.name, "update");
        associate(client, cx, &desired.name, table, subnet_id, &eventual).await?;
    }
    Ok(observed.route_table_id)
}

/// Associates `subnet_id` with `table`, replacing its association with another table.
async fn associate(
    client: &Client,
    cx: &Context,
    name: &str,
    table: &str,
    subnet_id: &str,
    eventual: &[&str],
) -> Result<()> {
    let result = retry_eventual(cx.timing, eventual, EVENTUAL_ATTEMPTS, || {
        client
            .associate_route_table()
            .route_table_id(table)
            .subnet_id(subnet_id)
            .send()
    })
    .await;
    match result {
        Ok(_) => return Ok(()),
        Err(e) if error_code(&e) == Some("Resource.AlreadyAssociated") => {}
        Err(e) => {
            return Err(Error::UpdateRouteTable(aws_error(
                "associate subnet with",
                name,
                e,
            )));
        }
    }
    // The subnet is explicitly associated with another table: move it.
    let out = client
        .describe_route_tables()
        .filters(filter("association.subnet-id", subnet_id))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeRouteTable(aws_error("describe route table of subnet", subnet_id, e))
        })?;
    let current = out
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .find(|a| a.subnet_id() == Some(subnet_id))
        .and_then(|a| Some((a.route_table_id()?, a.route_table_association_id()?)));
    match current {
        Some((current_table, _)) if current_table == table => Ok(()),
        Some((_, association_id)) => {
            client
                .replace_route_table_association()
                .association_id(association_id)
                .route_table_id(table)
                .send()
                .await
                .map_err(|e| {
                    Error::UpdateRouteTable(aws_error("move subnet association to", name, e))
                })?;
            Ok(())
        }
        None => Err(Error::Conflict {
            kind: KIND_ROUTE_TABLE.into(),
            name: name.to_string(),
            message: format!(
                "AWS says subnet {subnet_id} is already associated, but no route table lists it"
            ),
        }),
    }
}

/// Deletes the table after removing its subnet associations; gone is success.
///
/// # Errors
/// [`Error::DeleteRouteTable`], [`Error::UpdateRouteTable`], [`Error::Wait`].
pub async fn delete(client: &Client, cx: &Context, route_table_id: &str) -> Result<()> {
    cx.reporter
        .applying(KIND_ROUTE_TABLE, route_table_id, "delete");
    let out = match client
        .describe_route_tables()
        .route_table_ids(route_table_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e) == Some("InvalidRouteTableID.NotFound") => return Ok(()),
        Err(e) => {
            return Err(Error::DescribeRouteTable(aws_error(
                "describe route table",
                route_table_id,
                e,
            )));
        }
    };
    for table in out.route_tables() {
        for a in table.associations() {
            if a.main().unwrap_or(false) {
                continue;
            }
            if let Some(association_id) = a.route_table_association_id() {
                match client
                    .disassociate_route_table()
                    .association_id(association_id)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if error_code(&e) == Some("InvalidAssociationID.NotFound") => {}
                    Err(e) => {
                        return Err(Error::UpdateRouteTable(aws_error(
                            "disassociate subnet from",
                            route_table_id,
                            e,
                        )));
                    }
                }
            }
        }
    }
    delete_patiently(cx, KIND_ROUTE_TABLE, route_table_id, || async {
        client
            .delete_route_table()
            .route_table_id(route_table_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                Error::DeleteRouteTable(aws_error("delete route table", route_table_id, e))
            })
    })
    .await
}

/// Deletes every route table of this deployment (any VPC).
///
/// # Errors
/// As [`delete`].
pub async fn delete_all(client: &Client, cx: &Context) -> Result<()> {
    let out = client
        .describe_route_tables()
        .set_filters(Some(owned(cx, COMPONENT_ROUTE_TABLE)))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeRouteTable(aws_error("describe route tables", cx.names.deployment(), e))
        })?;
    let mut ids: Vec<String> = out
        .route_tables()
        .iter()
        .filter_map(|t| t.route_table_id().map(str::to_string))
        .collect();
    ids.sort();
    for id in ids {
        delete(client, cx, &id).await?;
    }
    Ok(())
}
