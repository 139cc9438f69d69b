//! NAT gateways: one in the first public subnet (`nat = "single"`) or one per AZ
//! (`nat = "per-az"`), each with its own tagged Elastic IP, found by tags (deployment,
//! component `network/nat-gateway`, `Name` = `<name>-nat-<az-suffix>`).
//!
//! CreateNatGateway is idempotent by client token on AWS. The token is derived from the
//! deployment, the AZ and the Elastic IP's allocation id: a retry after a lost response (same
//! address, reused by [`crate::elastic_ip::ensure`]) returns the same gateway, while a
//! deployment torn down and created again (new address) gets a new gateway rather than the
//! deleted one the old token still names.
//!
//! [`ensure`] does not wait: [`ready`] is polled by the engine (available: ready; failed:
//! failed with AWS's FailureMessage).

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType};
use orchestrate_aws::{aws_error, error_code, retry_eventual};
use orchestrate_core::{
    Action, Change, Context, FieldChange, Phase, Readiness, ReporterExt, Tags, WaitError,
};

use crate::elastic_ip::ElasticIpDesired;
use crate::error::{Error, Result};
use crate::util::{Owner, az_suffix, owned, owned_by, owned_named, required, tag_spec};
use crate::{COMPONENT_NAT_GATEWAY, KIND_NAT_GATEWAY};

/// How long a NAT gateway may take to disappear after DeleteNatGateway.
pub const DELETE_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long a NAT gateway may take to become available (typically 1-3 minutes).
pub const READY_WAIT: Duration = Duration::from_secs(15 * 60);
/// How long AWS usually takes to make a NAT gateway available: the wait polls fast around it.
pub const TYPICAL_CREATE: Duration = Duration::from_secs(2 * 60);

/// Attempts for calls that may see a just-created subnet or address as missing.
const EVENTUAL_ATTEMPTS: u32 = 8;

/// What one NAT gateway should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGatewayDesired {
    /// `<name>-nat-<az-suffix>`.
    pub name: String,
    /// The AZ whose public subnet holds it.
    pub az: String,
    /// The deployment name (part of the client token).
    pub deployment: String,
    /// Tags given to CreateNatGateway.
    pub tags: Tags,
    /// Its Elastic IP.
    pub elastic_ip: ElasticIpDesired,
}

impl NatGatewayDesired {
    /// The NAT gateway of `az` (pure).
    pub fn new(owner: &Owner, az: &str) -> Self {
        let name = owner.names.prefixed(&format!("nat-{}", az_suffix(az)));
        Self {
            tags: owner.tags(COMPONENT_NAT_GATEWAY, &name),
            elastic_ip: ElasticIpDesired::new(owner, &name),
            deployment: owner.names.deployment().to_string(),
            az: az.to_string(),
            name,
        }
    }

    /// The CreateNatGateway client token for the address `allocation_id` (at most 64 chars).
    pub fn client_token(&self, allocation_id: &str) -> String {
        let mut token = format!(
            "{}-{}-{allocation_id}",
            self.deployment,
            az_suffix(&self.az)
        );
        token.truncate(64);
        token
    }
}

/// A NAT gateway as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGatewayObserved {
    /// Its id.
    pub nat_gateway_id: String,
    /// `pending`, `available` or `failed`.
    pub state: String,
    /// The subnet it is in.
    pub subnet_id: String,
    /// Allocation ids of its addresses.
    pub allocation_ids: Vec<String>,
    /// AWS's reason when `failed`.
    pub failure_message: Option<String>,
}

fn states(values: &[&str]) -> Filter {
    let mut filter = Filter::builder().name("state");
    for v in values {
        filter = filter.values(*v);
    }
    filter.build()
}

async fn list(
    client: &Client,
    cx: &Context,
    name: Option<&str>,
    live: &[&str],
) -> Result<Vec<NatGatewayObserved>> {
    let mut filters = match name {
        Some(name) => owned_named(cx, COMPONENT_NAT_GATEWAY, name),
        None => owned(cx, COMPONENT_NAT_GATEWAY),
    };
    filters.push(states(live));
    let out = client
        .describe_nat_gateways()
        .set_filter(Some(filters))
        .send()
        .await
        .map_err(|e| {
            Error::DescribeNatGateway(aws_error(
                "describe NAT gateways",
                name.unwrap_or(cx.names.deployment()),
                e,
            ))
        })?;
    let mut found: Vec<NatGatewayObserved> = out
        .nat_gateways()
        .iter()
        .filter(|n| {
            // Re-check the filters: a lenient endpoint must not widen them.
            n.state().is_none_or(|s| live.contains(&s.as_str()))
                && owned_by(n.tags(), cx, COMPONENT_NAT_GATEWAY, name)
        })
        .filter_map(|n| {
            Some(NatGatewayObserved {
                nat_gateway_id: n.nat_gateway_id()?.to_string(),
                state: n.state()?.as_str().to_string(),
                subnet_id: n.subnet_id()?.to_string(),
                allocation_ids: n
                    .nat_gateway_addresses()
                    .iter()
                    .filter_map(|a| a.allocation_id().map(str::to_string))
                    .collect(),
                failure_message: n.failure_message().map(str::to_string),
            })
        })
        .collect();
    // Prefer available, then pending, then failed; then the lowest id.
    let rank = |s: &str| match s {
        "available" => 0,
        "pending" => 1,
        _ => 2,
    };
    found.sort_by(|a, b| {
        (rank(&a.state), &a.nat_gateway_id).cmp(&(rank(&b.state), &b.nat_gateway_id))
    });
    Ok(found)
}

/// Finds the NAT gateway named `name` that is pending, available or failed (read-only).
///
/// # Errors
/// [`Error::DescribeNatGateway`].
pub async fn find(client: &Client, cx: &Context, name: &str) -> Result<Option<NatGatewayObserved>> {
    Ok(
        list(client, cx, Some(name), &["pending", "available", "failed"])
            .await?
            .into_iter()
            .next(),
    )
}

/// What `up` would do to the NAT gateway (pure). `subnet_id`: its public subnet, if it exists.
pub fn diff(
    desired: &NatGatewayDesired,
    observed: Option<&NatGatewayObserved>,
    subnet_id: Option<&str>,
) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) if o.state == "failed" => Action::Update {
            fields: vec![FieldChange::new(
                "State (replaced)",
                Some(format!(
                    "failed: {}",
                    o.failure_message.as_deref().unwrap_or("no reason given")
                )),
                Some("available".to_string()),
            )],
        },
        Some(o) if subnet_id.is_some_and(|s| s != o.subnet_id) => Action::Update {
            fields: vec![FieldChange::new(
                "SubnetId (cannot change in place)",
                Some(o.subnet_id.clone()),
                subnet_id.map(str::to_string),
            )],
        },
        Some(_) => Action::NoChange,
    };
    Change::new(Phase::Storage, KIND_NAT_GATEWAY, &desired.name, action)
}

/// Which of the gateways named alike to keep, and the rest (pure). Kept: one in `subnet_id`
/// (the desired public subnet), preferring one a route uses, then available over pending,
/// then the lowest id. `found` holds no failed gateway.
pub fn choose(
    found: Vec<NatGatewayObserved>,
    subnet_id: &str,
    routed: &BTreeSet<String>,
) -> (Option<NatGatewayObserved>, Vec<NatGatewayObserved>) {
    let rank = |n: &NatGatewayObserved| {
        (
            n.subnet_id != subnet_id,
            !routed.contains(&n.nat_gateway_id),
            n.state != "available",
            n.nat_gateway_id.clone(),
        )
    };
    let mut found = found;
    found.sort_by_key(rank);
    let mut rest = found.into_iter();
    match rest.next() {
        Some(first) if first.subnet_id == subnet_id => (Some(first), rest.collect()),
        Some(first) => (None, std::iter::once(first).chain(rest).collect()),
        None => (None, Vec::new()),
    }
}

/// Ids among `ids` that a route of any route table sends traffic to.
async fn routed(client: &Client, ids: &[String]) -> Result<BTreeSet<String>> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut filter = Filter::builder().name("route.nat-gateway-id");
    for id in ids {
        filter = filter.values(id);
    }
    let out = client
        .describe_route_tables()
        .filters(filter.build())
        .send()
        .await
        .map_err(|e| {
            Error::DescribeRouteTable(aws_error("describe routes to NAT gateways", "", e))
        })?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.routes())
        .filter_map(|r| r.nat_gateway_id())
        .filter(|id| ids.iter().any(|i| i == id))
        .map(str::to_string)
        .collect())
}

/// Creates or adopts the NAT gateway (and its Elastic IP) in `public_subnet_id`; returns its
/// id without waiting for it to become available. A `failed` gateway is deleted with its
/// address and replaced. No mutating call when exactly one exists there (pending or
/// available).
///
/// # Duplicates
/// Two runs at once, or a gateway left in a subnet the deployment no longer uses, can leave
/// several gateways with this name. One in `public_subnet_id` is kept ([`choose`]); every
/// other one that no route uses is deleted (waited until `deleted`) with its address, and
/// reported. One that a route still uses is left running and reported with the command that
/// removes it: the route tables converge to the kept gateway right after, so the next `up`
/// deletes it. A gateway in another subnet never stops the run.
///
/// # Errors
/// AWS failures per step.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &NatGatewayDesired,
    public_subnet_id: &str,
) -> Result<String> {
    let found = list(
        client,
        cx,
        Some(&desired.name),
        &["pending", "available", "failed"],
    )
    .await?;
    let (failed, live): (Vec<_>, Vec<_>) = found.into_iter().partition(|o| o.state == "failed");
    for failed in &failed {
        cx.reporter.note(
            KIND_NAT_GATEWAY,
            format!(
                "NAT gateway {} failed ({}); replacing it",
                failed.nat_gateway_id,
                failed
                    .failure_message
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        );
        delete(client, cx, &failed.nat_gateway_id).await?;
        for allocation_id in &failed.allocation_ids {
            crate::elastic_ip::delete(client, cx, allocation_id).await?;
        }
    }
    let routes = if live.len() > 1 || live.iter().any(|o| o.subnet_id != public_subnet_id) {
        let ids: Vec<String> = live.iter().map(|o| o.nat_gateway_id.clone()).collect();
        routed(client, &ids).await?
    } else {
        BTreeSet::new()
    };
    let (keep, surplus) = choose(live, public_subnet_id, &routes);
    let kept = keep.as_ref().map_or_else(
        || format!("a new one in {public_subnet_id}"),
        |k| k.nat_gateway_id.clone(),
    );
    // Addresses of gateways left running: not ours to reuse.
    let mut in_use = Vec::new();
    for extra in &surplus {
        if routes.contains(&extra.nat_gateway_id) {
            cx.reporter.note(
                KIND_NAT_GATEWAY,
                format!(
                    "NAT gateway {} (subnet {}) duplicates {} ({kept}) but a route still uses \
                     it; the route tables now move to {kept}, and the next `up` deletes it \
                     (or: aws ec2 delete-nat-gateway --nat-gateway-id {})",
                    extra.nat_gateway_id, extra.subnet_id, desired.name, extra.nat_gateway_id
                ),
            );
            in_use.extend(extra.allocation_ids.iter().cloned());
            continue;
        }
        cx.reporter.note(
            KIND_NAT_GATEWAY,
            format!(
                "deleting duplicate NAT gateway {} of {} (subnet {}; no route uses it); \
                 keeping {kept}",
                extra.nat_gateway_id, desired.name, extra.subnet_id
            ),
        );
        delete(client, cx, &extra.nat_gateway_id).await?;
        for allocation_id in &extra.allocation_ids {
            crate::elastic_ip::delete(client, cx, allocation_id).await?;
        }
    }
    let prefer = keep
        .as_ref()
        .and_then(|o| o.allocation_ids.first().map(String::as_str));
    let allocation_id =
        crate::elastic_ip::ensure_avoiding(client, cx, &desired.elastic_ip, prefer, &in_use)
            .await?;
    if let Some(observed) = keep {
        return Ok(observed.nat_gateway_id);
    }
    cx.reporter
        .applying(KIND_NAT_GATEWAY, &desired.name, "create");
    let token = desired.client_token(&allocation_id);
    let out = retry_eventual(
        cx.timing,
        &["InvalidSubnetID.NotFound", "InvalidAllocationID.NotFound"],
        EVENTUAL_ATTEMPTS,
        || {
            client
                .create_nat_gateway()
                .subnet_id(public_subnet_id)
                .allocation_id(&allocation_id)
                .client_token(&token)
                .tag_specifications(tag_spec(ResourceType::Natgateway, &desired.tags))
                .send()
        },
    )
    .await
    .map_err(|e| Error::CreateNatGateway(aws_error("create NAT gateway", &desired.name, e)))?;
    required(
        out.nat_gateway().and_then(|n| n.nat_gateway_id()),
        "created NAT gateway",
        "NatGatewayId",
    )
}

/// `Ready` when `available`; `Pending` with the state until then; `Failed` on `failed` with
/// AWS's FailureMessage (or when it is being deleted).
///
/// # Errors
/// [`Error::DescribeNatGateway`].
pub async fn ready(client: &Client, _cx: &Context, nat_gateway_id: &str) -> Result<Readiness> {
    let out = match client
        .describe_nat_gateways()
        .nat_gateway_ids(nat_gateway_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e) == Some("NatGatewayNotFound") => {
            return Ok(Readiness::pending("not yet visible"));
        }
        Err(e) => {
            return Err(Error::DescribeNatGateway(aws_error(
                "describe NAT gateway",
                nat_gateway_id,
                e,
            )));
        }
    };
    let Some(nat) = out.nat_gateways().first() else {
        return Ok(Readiness::pending("not yet visible"));
    };
    let state = nat.state().map(|s| s.as_str()).unwrap_or("unknown");
    Ok(match state {
        "available" => Readiness::Ready,
        "failed" => Readiness::Failed {
            reason: nat
                .failure_message()
                .map_or_else(|| "NAT gateway failed".to_string(), str::to_string),
        },
        "deleting" | "deleted" => Readiness::Failed {
            reason: format!("NAT gateway {nat_gateway_id} is {state}"),
        },
        other => Readiness::pending(other),
    })
}

/// Waits until the NAT gateway is available, for at most [`READY_WAIT`] (scaled).
///
/// # Errors
/// [`Error::Wait`] on timeout or failure.
pub async fn wait_ready(client: &Client, cx: &Context, nat_gateway_id: &str) -> Result<()> {
    let what = format!("NAT gateway {nat_gateway_id}");
    cx.timing
        .poller_expecting(READY_WAIT, TYPICAL_CREATE)
        .wait(
            &what,
            || ready(client, cx, nat_gateway_id),
            |s| cx.reporter.waiting(KIND_NAT_GATEWAY, nat_gateway_id, s),
        )
        .await
        .map_err(|source| Error::Wait {
            what,
            source: Box::new(source),
        })?;
    cx.reporter.ready(KIND_NAT_GATEWAY, nat_gateway_id);
    Ok(())
}

/// Deletes the NAT gateway and waits until it is `deleted` (its address is released only
/// then), for at most [`DELETE_WAIT`] (scaled). Gone or never created is success.
///
/// # Errors
/// [`Error::DeleteNatGateway`], [`Error::Wait`].
pub async fn delete(client: &Client, cx: &Context, nat_gateway_id: &str) -> Result<()> {
    cx.reporter
        .applying(KIND_NAT_GATEWAY, nat_gateway_id, "delete");
    match client
        .delete_nat_gateway()
        .nat_gateway_id(nat_gateway_id)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("NatGatewayNotFound") => return Ok(()),
        Err(e) => {
            return Err(Error::DeleteNatGateway(aws_error(
                "delete NAT gateway",
                nat_gateway_id,
                e,
            )));
        }
    }
    let what = format!("NAT gateway {nat_gateway_id} to be deleted");
    let result = cx
        .timing
        .poller(DELETE_WAIT)
        .wait(
            &what,
            || async {
                match client
                    .describe_nat_gateways()
                    .nat_gateway_ids(nat_gateway_id)
                    .send()
                    .await
                {
                    Ok(out) => Ok(match out.nat_gateways().first().and_then(|n| n.state()) {
                        None => Readiness::Ready,
                        Some(s) if s.as_str() == "deleted" => Readiness::Ready,
                        Some(s) => Readiness::pending(s.as_str()),
                    }),
                    Err(e) if error_code(&e) == Some("NatGatewayNotFound") => Ok(Readiness::Ready),
                    Err(e) => Err(Error::DescribeNatGateway(aws_error(
                        "describe NAT gateway",
                        nat_gateway_id,
                        e,
                    ))),
                }
            },
            |s| cx.reporter.waiting(KIND_NAT_GATEWAY, nat_gateway_id, s),
        )
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(WaitError::Probe { source, .. }) => Err(source),
        Err(source) => Err(Error::Wait {
            what,
            source: Box::new(source),
        }),
    }
}

/// Deletes every NAT gateway of this deployment that is not yet deleted, waiting for each.
///
/// # Errors
/// As [`delete`].
pub async fn delete_all(client: &Client, cx: &Context) -> Result<Vec<String>> {
    let found = list(
        client,
        cx,
        None,
        &["pending", "available", "failed", "deleting"],
    )
    .await?;
    let mut deleted = Vec::new();
    for nat in found {
        delete(client, cx, &nat.nat_gateway_id).await?;
        deleted.push(nat.nat_gateway_id);
    }
    Ok(deleted)
}
