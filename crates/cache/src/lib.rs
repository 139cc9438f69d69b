//! orchestrate-cache: the deployment's ElastiCache Valkey replication group, the Celery broker.
//!
//! Owns two resources:
//! - the cache subnet group `<name>-cache` ([`orchestrate_core::Names::subnet_group`]) over the
//!   private subnets passed in;
//! - the replication group `<name>-broker` ([`orchestrate_core::Names::replication_group`]):
//!   engine `valkey`, `1 + replicas` cache clusters (automatic failover and Multi-AZ only with
//!   at least one replica), TLS in transit per `cache.tls` (mode `required`), encryption at
//!   rest always, only the cache security group passed in, port 6379.
//!
//! Both are found by their deterministic name (DescribeCacheSubnetGroups /
//! DescribeReplicationGroups, plus DescribeCacheClusters of the first member for the engine
//! version and security groups; `*NotFound*` is `Ok(None)`) and created with their tags in the
//! create call (`orchestrate:component` = `cache/subnet-group` / `cache/replication-group`).
//!
//! # Guarantees
//! - [`ensure`] makes no mutating call when nothing differs. Drift of the node type, the
//!   engine version (upgrades only) and the security groups is corrected by
//!   ModifyReplicationGroup with `ApplyImmediately`, carrying only the drifted fields (node type
//!   and engine in two successive requests when both drift).
//! - TLS in transit, encryption at rest, the port and the replica count are not changed in
//!   place: a difference is [`Error::ReplacementNeeded`], returned before any mutating call,
//!   never silently ignored. `plan` marks such fields `(requires replacement)`.
//! - A create whose response was lost is adopted (`ReplicationGroupAlreadyExists`,
//!   `CacheSubnetGroupAlreadyExists`), never duplicated: ids are unique per account and region.
//! - A group found `deleting` is not adopted: [`Error::BeingDeleted`].
//! - [`delete`] is idempotent: "never created" and "already gone" are success.
//! - [`catalog`] reads the Valkey versions ElastiCache offers in the region for
//!   `orchestrate verify`; read-only.
//!
//! # Waits
//! - [`wait_available`] polls until `available`, for at most 30 minutes scaled by
//!   [`orchestrate_core::Timing`], reporting each new state; `create-failed` ends it at once.
//!   Not-found is tolerated for the first minute after create.
//! - [`delete`] waits (30 minutes, scaled) until the group is gone, then deletes the subnet
//!   group.
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`] naming the action, the resource and AWS's error code.
//! Retried here, with a bounded budget: `ReplicationGroupNotFoundFault` /
//! `CacheSubnetGroupNotFoundFault` right after AWS said the resource exists (eventual
//! consistency), and `CacheSubnetGroupInUse` when deleting a subnet group whose nodes are just
//! gone. Throttling and 5xx are the SDK's retry policy's job.

pub mod catalog;
mod error;
pub mod lifecycle;
pub mod replication_group;
pub mod subnet_group;

pub use aws_sdk_elasticache::Client;
pub use error::{Error, Result};
pub use lifecycle::{delete_replication_group, wait_available};
pub use replication_group::{ReplicationGroupDesired, ReplicationGroupObserved};
pub use subnet_group::{SubnetGroupDesired, SubnetGroupObserved};

use orchestrate_core::names::Names;
use orchestrate_core::{Change, Context, Phase, Readiness, ReporterExt, Spec, Tags};

/// The subnet group kind passed to [`Names::subnet_group`].
pub const SUBNET_GROUP_KIND: &str = "cache";

/// Both resources of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDesired {
    /// The cache subnet group.
    pub subnet_group: SubnetGroupDesired,
    /// The replication group.
    pub replication_group: ReplicationGroupDesired,
}

impl CacheDesired {
    /// Both resources from the spec, the private subnet ids and the cache security group
    /// (pure). Names and tags derive from `spec.deployment` exactly as [`Context::tags`] does
    /// for a context built from the same spec.
    pub fn from_spec(spec: &Spec, private_subnet_ids: &[String], security_group_id: &str) -> Self {
        let deployment = spec.deployment.name.as_str();
        let names = Names::new(deployment);
        let tags = |component: &str, name: &str| {
            Tags::new(deployment, component, Phase::Storage, &spec.deployment.tags)
                .with("Name", name)
        };
        let group_name = names.subnet_group(SUBNET_GROUP_KIND);
        let id = names.replication_group();
        Self {
            subnet_group: SubnetGroupDesired::new(
                &group_name,
                deployment,
                private_subnet_ids,
                tags(subnet_group::COMPONENT, &group_name),
            ),
            replication_group: ReplicationGroupDesired::new(
                &id,
                deployment,
                &spec.cache,
                &group_name,
                security_group_id,
                tags(replication_group::COMPONENT, &id),
            ),
        }
    }
}

/// What later phases need of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOutputs {
    /// The primary endpoint's DNS name (`NodeGroups[0].PrimaryEndpoint.Address`, or the
    /// configuration endpoint's).
    pub primary_endpoint_host: String,
    /// Its port.
    pub port: u16,
    /// TLS in transit: the broker URL is `rediss://` when true.
    pub tls: bool,
    /// The replication group ARN.
    pub arn: String,
    /// The replication group id.
    pub id: String,
}

impl CacheOutputs {
    /// The Celery broker URL ([`orchestrate_core::sensitive::broker_url`]).
    pub fn broker_url(&self) -> String {
        orchestrate_core::sensitive::broker_url(&self.primary_endpoint_host, self.port, self.tls)
    }
}

/// What AWS has of the broker now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheObserved {
    /// The subnet group, if it exists.
    pub subnet_group: Option<SubnetGroupObserved>,
    /// The replication group, if it exists.
    pub replication_group: Option<ReplicationGroupObserved>,
}

/// Finds both resources by their deterministic names.
///
/// # Errors
/// [`Error::DescribeSubnetGroup`], [`Error::DescribeReplicationGroup`].
pub async fn find(client: &Client, desired: &CacheDesired) -> Result<CacheObserved> {
    let (subnet_group, replication_group) = tokio::try_join!(
        subnet_group::find(client, &desired.subnet_group.name),
        replication_group::find(client, &desired.replication_group.id),
    )?;
    Ok(CacheObserved {
        subnet_group,
        replication_group,
    })
}

/// The plan for both resources (pure): subnet group, then replication group.
pub fn diff(desired: &CacheDesired, observed: &CacheObserved) -> Vec<Change> {
    vec![
        subnet_group::diff(&desired.subnet_group, observed.subnet_group.as_ref()),
        replication_group::diff(
            &desired.replication_group,
            observed.replication_group.as_ref(),
        ),
    ]
}

/// Converges the subnet group and the replication group, then waits until the group is
/// available (see [`wait_available`]) and returns its endpoint.
///
/// # Errors
/// Any step's [`Error`].
pub async fn ensure(client: &Client, cx: &Context, desired: &CacheDesired) -> Result<CacheOutputs> {
    ensure_seen(client, cx, desired, None).await
}

/// [`ensure`], starting from `seen` — the replication group as the caller read it
/// ([`replication_group::find`]), knowing nothing changed it since — instead of reading it.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_seen(
    client: &Client,
    cx: &Context,
    desired: &CacheDesired,
    seen: Option<Option<ReplicationGroupObserved>>,
) -> Result<CacheOutputs> {
    subnet_group::ensure(client, cx, &desired.subnet_group).await?;
    // Nothing to change and already available: its endpoint is in what was just read.
    if let Some(observed) =
        replication_group::converge_observed_seen(client, cx, &desired.replication_group, seen)
            .await?
        && observed.status == lifecycle::STATUS_AVAILABLE
    {
        cx.reporter
            .ready(replication_group::KIND, &desired.replication_group.id);
        return lifecycle::outputs(&observed);
    }
    wait_available(client, cx, &desired.replication_group.id).await
}

/// Readiness of the replication group `id` (see [`lifecycle::classify`]).
///
/// # Errors
/// [`Error::DescribeReplicationGroup`].
pub async fn ready(client: &Client, id: &str) -> Result<Readiness> {
    lifecycle::ready(client, id).await
}

/// Deletes the deployment's replication group, waits until it is gone, then deletes the
/// subnet group. Idempotent.
///
/// # Errors
/// See [`delete_replication_group`] and [`Error::DeleteSubnetGroup`].
pub async fn delete(client: &Client, cx: &Context) -> Result<()> {
    let id = cx.names.replication_group();
    delete_replication_group(client, cx, &id).await?;
    let group = cx.names.subnet_group(SUBNET_GROUP_KIND);
    subnet_group::delete(client, cx, &group).await?;
    cx.reporter.note(
        replication_group::KIND,
        format!("{id} and {group} are gone"),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
