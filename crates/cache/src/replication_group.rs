//! The Valkey replication group: desired shape, find, diff and the in-place convergence.
//!
//! Waiting (ready, available, gone) and deletion live in [`crate::lifecycle`].

use std::collections::BTreeSet;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{ReplicationGroup, TransitEncryptionMode};
use orchestrate_aws::{
    AwsError, aws_error, error_code, is_not_found_code, required, retry_eventual,
};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::spec::CacheSpec;
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::lifecycle::{self, STATUS_AVAILABLE, STATUS_DELETING};
use crate::subnet_group::sdk_tags;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "elasticache/replication-group";

/// Component tag of the replication group.
pub const COMPONENT: &str = "cache/replication-group";

/// The only engine this crate creates.
pub const ENGINE: &str = "valkey";

/// The port every replication group listens on.
pub const PORT: i32 = 6379;

/// What the replication group should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationGroupDesired {
    /// `<name>-broker`.
    pub id: String,
    /// Description (never compared).
    pub description: String,
    /// Valkey version, e.g. `8.0`.
    pub engine_version: String,
    /// e.g. `cache.t4g.micro`.
    pub node_type: String,
    /// Read replicas besides the primary.
    pub replicas: u8,
    /// TLS in transit (`TransitEncryptionMode` `required`).
    pub tls: bool,
    /// The cache security group (the only one the nodes get).
    pub security_group_id: String,
    /// The cache subnet group the nodes are placed in.
    pub subnet_group_name: String,
    /// Tags sent with CreateReplicationGroup.
    pub tags: Tags,
}

impl ReplicationGroupDesired {
    /// The replication group from the `[cache]` spec and the typed inputs (pure).
    pub fn new(
        id: &str,
        deployment: &str,
        spec: &CacheSpec,
        subnet_group_name: &str,
        security_group_id: &str,
        tags: Tags,
    ) -> Self {
        Self {
            id: id.to_string(),
            description: format!("orchestrate {deployment}: Celery broker"),
            engine_version: spec.engine_version.clone(),
            node_type: spec.node_type.clone(),
            replicas: spec.replicas,
            tls: spec.tls,
            security_group_id: security_group_id.to_string(),
            subnet_group_name: subnet_group_name.to_string(),
            tags,
        }
    }

    /// `NumCacheClusters`: the primary plus the replicas.
    pub fn num_cache_clusters(&self) -> i32 {
        1 + i32::from(self.replicas)
    }

    /// Automatic failover and Multi-AZ need at least one replica.
    pub fn failover(&self) -> bool {
        self.replicas >= 1
    }
}

/// What AWS reports about the replication group (and its first member cluster, which carries
/// the engine version and security groups). Pending node type / version changes count as
/// applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationGroupObserved {
    /// Id.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// `creating`, `available`, `modifying`, `deleting`, `create-failed`, `snapshotting`.
    pub status: String,
    /// Node type.
    pub node_type: String,
    /// Engine (`valkey`, `redis`), when reported.
    pub engine: Option<String>,
    /// Engine version of the member clusters, when a member could be described.
    pub engine_version: Option<String>,
    /// Security groups of the member clusters, when a member could be described.
    pub security_group_ids: Option<BTreeSet<String>>,
    /// TLS in transit.
    pub tls: bool,
    /// Encryption at rest.
    pub at_rest: bool,
    /// Member clusters (primary + replicas).
    pub num_cache_clusters: usize,
    /// The primary endpoint host (or the configuration endpoint's), once reported.
    pub host: Option<String>,
    /// Its port.
    pub port: Option<i32>,
}

/// The group as AWS describes it.
///
/// # Errors
/// [`Error::DescribeReplicationGroup`] ([`AwsError::missing`]) when the description lacks its
/// id, ARN, status or node type.
fn from_group(group: &ReplicationGroup) -> Result<ReplicationGroupObserved> {
    const ACTION: &str = "describe replication group";
    let id = required(
        group.replication_group_id(),
        ACTION,
        "(unnamed)",
        "ReplicationGroupId",
    )
    .map_err(Error::DescribeReplicationGroup)?;
    let need = |value: Option<&str>, field: &str| {
        required(value, ACTION, id, field)
            .map(str::to_string)
            .map_err(Error::DescribeReplicationGroup)
    };
    let primary = group
        .node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .filter(|e| e.address().is_some_and(|a| !a.is_empty()))
        .or(group.configuration_endpoint());
    Ok(ReplicationGroupObserved {
        id: id.to_string(),
        arn: need(group.arn(), "ARN")?,
        status: need(group.status(), "Status")?,
        node_type: need(group.cache_node_type(), "CacheNodeType")?,
        engine: group.engine().map(str::to_string),
        engine_version: None,
        security_group_ids: None,
        tls: group.transit_encryption_enabled().unwrap_or(false),
        at_rest: group.at_rest_encryption_enabled().unwrap_or(false),
        num_cache_clusters: group.member_clusters().len(),
        host: primary
            .and_then(|e| e.address())
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        port: primary.and_then(|e| e.port()),
    })
}

/// The group's status word (`available`, `creating`, ...) from one DescribeReplicationGroups
/// call, `None` when it does not exist; what `status` shows. [`find`] reads more.
///
/// # Errors
/// [`Error::DescribeReplicationGroup`].
pub async fn state(client: &Client, id: &str) -> Result<Option<String>> {
    let out = match client
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(None),
        Err(e) => {
            return Err(Error::DescribeReplicationGroup(aws_error(
                "describe replication group",
                id,
                e,
            )));
        }
    };
    Ok(out
        .replication_groups()
        .iter()
        .find(|g| g.replication_group_id() == Some(id))
        .map(|g| g.status().unwrap_or("unknown").to_string()))
}

/// The replication group `id`; `Ok(None)` when it does not exist
/// (`ReplicationGroupNotFoundFault`). Its first member cluster is described too, for the
/// engine version and the security groups (a member not visible yet leaves them `None`).
///
/// # Errors
/// [`Error::DescribeReplicationGroup`].
pub async fn find(client: &Client, id: &str) -> Result<Option<ReplicationGroupObserved>> {
    let out = match client
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(None),
        Err(e) => {
            return Err(Error::DescribeReplicationGroup(aws_error(
                "describe replication group",
                id,
                e,
            )));
        }
    };
    let Some(group) = out
        .replication_groups()
        .iter()
        .find(|g| g.replication_group_id() == Some(id))
    else {
        return Ok(None);
    };
    let mut observed = from_group(group)?;
    if let Some(member) = group.member_clusters().first() {
        match client
            .describe_cache_clusters()
            .cache_cluster_id(member)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(cluster) = out.cache_clusters().first() {
                    let pending = cluster.pending_modified_values();
                    observed.engine_version = pending
                        .and_then(|p| p.engine_version())
                        .or(cluster.engine_version())
                        .map(str::to_string);
                    if let Some(node_type) = pending.and_then(|p| p.cache_node_type()) {
                        observed.node_type = node_type.to_string();
                    }
                    observed.security_group_ids = Some(
                        cluster
                            .security_groups()
                            .iter()
                            .filter(|m| m.status() != Some("removing"))
                            .filter_map(|m| m.security_group_id().map(str::to_string))
                            .collect(),
                    );
                    if observed.engine.is_none() {
                        observed.engine = cluster.engine().map(str::to_string);
                    }
                }
            }
            Err(e) if error_code(&e).is_some_and(is_not_found_code) => {}
            Err(e) => {
                return Err(Error::DescribeReplicationGroup(aws_error(
                    "describe cache cluster of replication group",
                    id,
                    e,
                )));
            }
        }
    }
    Ok(Some(observed))
}

/// Dotted numeric version, compared component by component.
fn version_parts(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// True when `desired` is newer than `observed` (`8.0` is not newer than `8.0.1`).
pub fn is_upgrade(observed: &str, desired: &str) -> bool {
    match (version_parts(observed), version_parts(desired)) {
        (Some(o), Some(d)) => d > o,
        _ => observed != desired,
    }
}

/// What differs, split into what ModifyReplicationGroup can change and what it cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modification {
    /// New `CacheNodeType`.
    pub node_type: Option<String>,
    /// New `Engine` (`valkey`, from `redis`).
    pub engine: Option<String>,
    /// New `EngineVersion` (newer only).
    pub engine_version: Option<String>,
    /// New `SecurityGroupIds`.
    pub security_group_ids: Option<Vec<String>>,
    /// Fields that cannot change in place (TLS, at-rest encryption, port, replica count).
    pub replacement: Vec<FieldChange>,
    /// Every differing field, for `plan`.
    pub fields: Vec<FieldChange>,
}

impl Modification {
    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// What differs between the spec and the replication group (pure).
pub fn drift(
    desired: &ReplicationGroupDesired,
    observed: &ReplicationGroupObserved,
) -> Modification {
    let mut m = Modification::default();
    if desired.node_type != observed.node_type {
        m.fields.push(FieldChange::new(
            "CacheNodeType",
            Some(observed.node_type.clone()),
            Some(desired.node_type.clone()),
        ));
        m.node_type = Some(desired.node_type.clone());
    }
    if let Some(engine) = observed.engine.as_deref().filter(|e| *e != ENGINE) {
        m.fields.push(FieldChange::new(
            "Engine",
            Some(engine.to_string()),
            Some(ENGINE.to_string()),
        ));
        m.engine = Some(ENGINE.into());
        m.engine_version = Some(desired.engine_version.clone());
    }
    if let Some(version) = &observed.engine_version
        && is_upgrade(version, &desired.engine_version)
    {
        m.fields.push(FieldChange::new(
            "EngineVersion",
            Some(version.clone()),
            Some(desired.engine_version.clone()),
        ));
        m.engine_version = Some(desired.engine_version.clone());
    }
    if let Some(groups) = &observed.security_group_ids {
        let wanted = BTreeSet::from([desired.security_group_id.clone()]);
        if *groups != wanted {
            let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
            m.fields.push(FieldChange::new(
                "SecurityGroupIds",
                Some(join(groups)),
                Some(join(&wanted)),
            ));
            m.security_group_ids = Some(wanted.into_iter().collect());
        }
    }
    let mut replace = |field: &str, from: String, to: String| {
        m.fields.push(FieldChange::new(
            field,
            Some(from.clone()),
            Some(format!("{to} (requires replacement)")),
        ));
        m.replacement
            .push(FieldChange::new(field, Some(from), Some(to)));
    };
    if observed.tls != desired.tls {
        replace(
            "TransitEncryptionEnabled",
            observed.tls.to_string(),
            desired.tls.to_string(),
        );
    }
    if !observed.at_rest {
        replace("AtRestEncryptionEnabled", "false".into(), "true".into());
    }
    if let Some(port) = observed.port.filter(|p| *p != PORT) {
        replace("Port", port.to_string(), PORT.to_string());
    }
    let wanted_clusters = usize::try_from(desired.num_cache_clusters()).unwrap_or(1);
    if observed.num_cache_clusters != 0 && observed.num_cache_clusters != wanted_clusters {
        replace(
            "NumCacheClusters",
            observed.num_cache_clusters.to_string(),
            wanted_clusters.to_string(),
        );
    }
    m
}

/// What `ensure` would do (pure).
pub fn diff(
    desired: &ReplicationGroupDesired,
    observed: Option<&ReplicationGroupObserved>,
) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let m = drift(desired, observed);
            if m.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields: m.fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND, &desired.id, action)
}

/// Creates the replication group when absent, or modifies only its drifted fields, without
/// waiting for it to become available (see [`lifecycle::wait_available`]).
///
/// A group found in a transitional state with drift is first waited on (ModifyReplicationGroup
/// is refused while it is not `available`). A node type change and an engine change are sent
/// as two requests, one after the other (ElastiCache refuses both in one).
///
/// # Errors
/// [`Error::BeingDeleted`], [`Error::ReplacementNeeded`] (before any mutating call),
/// [`Error::CreateReplicationGroup`], [`Error::ModifyReplicationGroup`],
/// [`Error::DescribeReplicationGroup`], [`Error::NotAvailable`].
pub async fn converge(
    client: &Client,
    cx: &Context,
    desired: &ReplicationGroupDesired,
) -> Result<()> {
    converge_observed(client, cx, desired).await.map(drop)
}

/// [`converge`], returning the replication group as it was first read when nothing had to
/// change (so that a caller can take an `available` group's endpoint from it without
/// describing it again); `None` when it was created, modified or waited on.
///
/// # Errors
/// As [`converge`].
pub async fn converge_observed(
    client: &Client,
    cx: &Context,
    desired: &ReplicationGroupDesired,
) -> Result<Option<ReplicationGroupObserved>> {
    converge_observed_seen(client, cx, desired, None).await
}

/// [`converge_observed`], starting from `seen` ([`find`]'s result, read by the caller who
/// knows nothing changed the group since) instead of reading it.
///
/// # Errors
/// As [`converge_observed`].
pub async fn converge_observed_seen(
    client: &Client,
    cx: &Context,
    desired: &ReplicationGroupDesired,
    seen: Option<Option<ReplicationGroupObserved>>,
) -> Result<Option<ReplicationGroupObserved>> {
    let id = desired.id.as_str();
    let mut changed = false;
    let found = match seen {
        Some(found) => found,
        None => find(client, id).await?,
    };
    let mut observed = match found {
        Some(observed) => observed,
        None => match create(client, cx, desired).await? {
            Created::New => return Ok(None),
            Created::Existing => find_after_create(client, cx, id).await?,
        },
    };
    if observed.status == STATUS_DELETING {
        return Err(Error::BeingDeleted { name: id.into() });
    }
    loop {
        let m = drift(desired, &observed);
        if !m.replacement.is_empty() {
            let fields = m
                .replacement
                .iter()
                .map(|f| {
                    format!(
                        "{} ({} -> {})",
                        f.field,
                        f.from.as_deref().unwrap_or("none"),
                        f.to.as_deref().unwrap_or("none")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::ReplacementNeeded {
                name: id.into(),
                fields,
            });
        }
        if m.is_empty() {
            return Ok((!changed).then_some(observed));
        }
        if observed.status != STATUS_AVAILABLE {
            cx.reporter.note(
                KIND,
                format!(
                    "{id} is {}; waiting for it to be available before modifying it",
                    observed.status
                ),
            );
            lifecycle::wait_available(client, cx, id).await?;
            observed = find_after_create(client, cx, id).await?;
            changed = true;
            continue;
        }
        let engine_change = m.engine.is_some() || m.engine_version.is_some();
        // Engine first; the node type follows in a second request once that one is applied.
        let node_type = if engine_change {
            None
        } else {
            m.node_type.clone()
        };
        modify(client, cx, id, &m, node_type).await?;
        changed = true;
        if !(engine_change && m.node_type.is_some()) {
            return Ok(None);
        }
        lifecycle::wait_available(client, cx, id).await?;
        observed = find_after_create(client, cx, id).await?;
    }
}

enum Created {
    New,
    Existing,
}

async fn create(
    client: &Client,
    cx: &Context,
    desired: &ReplicationGroupDesired,
) -> Result<Created> {
    let id = desired.id.as_str();
    cx.reporter.applying(KIND, id, "create");
    let failover = desired.failover();
    let result = client
        .create_replication_group()
        .replication_group_id(id)
        .replication_group_description(&desired.description)
        .engine(ENGINE)
        .engine_version(&desired.engine_version)
        .cache_node_type(&desired.node_type)
        .num_cache_clusters(desired.num_cache_clusters())
        .automatic_failover_enabled(failover)
        .multi_az_enabled(failover)
        .transit_encryption_enabled(desired.tls)
        .set_transit_encryption_mode(desired.tls.then_some(TransitEncryptionMode::Required))
        .at_rest_encryption_enabled(true)
        .security_group_ids(&desired.security_group_id)
        .cache_subnet_group_name(&desired.subnet_group_name)
        .port(PORT)
        .auto_minor_version_upgrade(true)
        .set_tags(Some(sdk_tags(&desired.tags)))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Created::New),
        // A retried create whose first response was lost, or a concurrent run: adopt it.
        Err(e) if error_code(&e) == Some("ReplicationGroupAlreadyExists") => {
            cx.reporter
                .note(KIND, format!("{id} already exists; adopting it"));
            Ok(Created::Existing)
        }
        Err(e) => Err(Error::CreateReplicationGroup(aws_error(
            "create replication group",
            id,
            e,
        ))),
    }
}

/// Describes a group AWS says exists, tolerating a short not-found (eventual consistency).
async fn find_after_create(
    client: &Client,
    cx: &Context,
    id: &str,
) -> Result<ReplicationGroupObserved> {
    retry_eventual(cx.timing, &["ReplicationGroupNotFoundFault"], 6, || async {
        find(client, id).await?.ok_or_else(|| {
            Error::DescribeReplicationGroup(AwsError::new(
                "describe replication group",
                id,
                "ReplicationGroupNotFoundFault",
                "AWS says it exists, but it is not visible yet",
            ))
        })
    })
    .await
}

async fn modify(
    client: &Client,
    cx: &Context,
    id: &str,
    m: &Modification,
    node_type: Option<String>,
) -> Result<()> {
    cx.reporter.applying(KIND, id, "update");
    tracing::debug!(group = id, fields = ?m.fields, "modifying replication group");
    client
        .modify_replication_group()
        .replication_group_id(id)
        .apply_immediately(true)
        .set_cache_node_type(node_type)
        .set_engine(m.engine.clone())
        .set_engine_version(m.engine_version.clone())
        .set_security_group_ids(m.security_group_ids.clone())
        .send()
        .await
        .map_err(|e| Error::ModifyReplicationGroup(aws_error("modify replication group", id, e)))?;
    Ok(())
}
