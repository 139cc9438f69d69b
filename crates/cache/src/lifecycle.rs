//! Waiting on the replication group (ready, available, gone) and deleting it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::Client;
use orchestrate_aws::{aws_error, error_code, is_not_found_code};
use orchestrate_core::{Context, Readiness, ReporterExt};

use crate::CacheOutputs;
use crate::error::{Error, Result};
use crate::replication_group::{self, KIND, PORT, ReplicationGroupObserved};

/// Status of a usable replication group.
pub const STATUS_AVAILABLE: &str = "available";
/// Status of a replication group on its way out.
pub const STATUS_DELETING: &str = "deleting";

/// How long a replication group may take to become available.
pub const AVAILABLE_WITHIN: Duration = Duration::from_secs(30 * 60);
/// How long AWS usually takes to create the replication group: the wait polls fast around it.
pub const TYPICAL_CREATE: Duration = Duration::from_secs(8 * 60);
/// How long deletion may take.
pub const DELETED_WITHIN: Duration = Duration::from_secs(30 * 60);
/// How long a just-created group may be invisible to DescribeReplicationGroups.
pub const VISIBLE_WITHIN: Duration = Duration::from_secs(60);

/// What a replication group status means for a wait on availability.
pub fn classify(status: &str) -> Readiness {
    match status {
        STATUS_AVAILABLE => Readiness::Ready,
        "create-failed" => Readiness::Failed {
            reason: "status create-failed: ElastiCache could not create the nodes (node type not \
                     offered in these AZs? subnet without free addresses?); see the \
                     replication group's events"
                .into(),
        },
        STATUS_DELETING => Readiness::Failed {
            reason: "the replication group is being deleted".into(),
        },
        other => Readiness::pending(other),
    }
}

/// Readiness of the replication group `id` now (`Pending("not found")` when absent).
///
/// # Errors
/// [`Error::DescribeReplicationGroup`].
pub async fn ready(client: &Client, id: &str) -> Result<Readiness> {
    Ok(match replication_group::find(client, id).await? {
        Some(observed) => classify(&observed.status),
        None => Readiness::pending("not found"),
    })
}

/// The outputs of an available replication group.
///
/// # Errors
/// [`Error::NoEndpoint`] when AWS reports no endpoint address.
pub fn outputs(observed: &ReplicationGroupObserved) -> Result<CacheOutputs> {
    let host = observed.host.clone().ok_or_else(|| Error::NoEndpoint {
        name: observed.id.clone(),
    })?;
    Ok(CacheOutputs {
        primary_endpoint_host: host,
        port: observed
            .port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(PORT as u16),
        tls: observed.tls,
        arn: observed.arn.clone(),
        id: observed.id.clone(),
    })
}

/// Polls DescribeReplicationGroups until the group is `available` (30 minutes, scaled by
/// [`orchestrate_core::Timing`]), reporting each new state, and returns its outputs.
///
/// Not found is tolerated for the first minute (eventual consistency after create).
///
/// # Errors
/// [`Error::NotAvailable`] (create-failed, deleting, timeout with the last state, failing
/// describe), [`Error::NoEndpoint`].
pub async fn wait_available(client: &Client, cx: &Context, id: &str) -> Result<CacheOutputs> {
    let start = Instant::now();
    let visible_within = cx.timing.scaled(VISIBLE_WITHIN);
    let last: Mutex<Option<ReplicationGroupObserved>> = Mutex::new(None);
    let last_ref = &last;
    cx.timing
        .poller_expecting(AVAILABLE_WITHIN, TYPICAL_CREATE)
        .wait(
            id,
            move || async move {
                let observed = replication_group::find(client, id).await?;
                let readiness = match &observed {
                    None if start.elapsed() < visible_within => {
                        Readiness::pending("not visible yet")
                    }
                    None => Readiness::Failed {
                        reason: "the replication group does not exist".into(),
                    },
                    Some(o) => classify(&o.status),
                };
                if let Ok(mut slot) = last_ref.lock() {
                    *slot = observed;
                }
                Ok(readiness)
            },
            |state| cx.reporter.waiting(KIND, id, state),
        )
        .await
        .map_err(|source| Error::NotAvailable {
            name: id.to_string(),
            source: Box::new(source),
        })?;
    let observed = last
        .into_inner()
        .ok()
        .flatten()
        .ok_or_else(|| Error::NoEndpoint {
            name: id.to_string(),
        })?;
    cx.reporter.ready(KIND, id);
    outputs(&observed)
}

/// Waits until the group accepts DeleteReplicationGroup (not creating / modifying /
/// snapshotting), or is gone / being deleted.
async fn wait_settled(client: &Client, cx: &Context, id: &str) -> Result<()> {
    cx.timing
        .poller(AVAILABLE_WITHIN)
        .wait(
            id,
            || async {
                Ok(match replication_group::find(client, id).await? {
                    None => Readiness::Ready,
                    Some(o) => match classify(&o.status) {
                        Readiness::Pending { state } => Readiness::Pending { state },
                        _ => Readiness::Ready,
                    },
                })
            },
            |state| cx.reporter.waiting(KIND, id, state),
        )
        .await
        .map_err(|source| Error::NotAvailable {
            name: id.to_string(),
            source: Box::new(source),
        })
}

/// Polls until DescribeReplicationGroups says not found (30 minutes, scaled).
async fn wait_gone(client: &Client, cx: &Context, id: &str) -> Result<()> {
    cx.timing
        .poller(DELETED_WITHIN)
        .wait(
            id,
            || async {
                Ok(match replication_group::find(client, id).await? {
                    None => Readiness::Ready,
                    Some(o) => Readiness::pending(o.status),
                })
            },
            |state| cx.reporter.waiting(KIND, id, state),
        )
        .await
        .map_err(|source| Error::NotDeleted {
            name: id.to_string(),
            source: Box::new(source),
        })
}

/// Deletes the replication group (with every member cluster, no final snapshot: the broker
/// holds only transient Celery messages) and waits until it is gone. Absent is success; a
/// group already `deleting` is only waited on; a transitional one is waited on first.
///
/// # Errors
/// [`Error::DescribeReplicationGroup`], [`Error::DeleteReplicationGroup`],
/// [`Error::NotDeleted`].
pub async fn delete_replication_group(client: &Client, cx: &Context, id: &str) -> Result<()> {
    let Some(mut observed) = replication_group::find(client, id).await? else {
        return Ok(());
    };
    if matches!(classify(&observed.status), Readiness::Pending { .. }) {
        wait_settled(client, cx, id).await?;
        match replication_group::find(client, id).await? {
            Some(o) => observed = o,
            None => return Ok(()),
        }
    }
    if observed.status != STATUS_DELETING {
        cx.reporter.applying(KIND, id, "delete");
        match client
            .delete_replication_group()
            .replication_group_id(id)
            .retain_primary_cluster(false)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(()),
            // Someone else started deleting it meanwhile: waiting is all that is left.
            Err(e)
                if error_code(&e) == Some("InvalidReplicationGroupState")
                    && replication_group::find(client, id)
                        .await?
                        .is_none_or(|o| o.status == STATUS_DELETING) => {}
            Err(e) => {
                return Err(Error::DeleteReplicationGroup(aws_error(
                    "delete replication group",
                    id,
                    e,
                )));
            }
        }
    }
    wait_gone(client, cx, id).await
}
