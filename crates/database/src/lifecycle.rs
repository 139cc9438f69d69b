//! Waiting on the DB instance (ready, available, gone) and deleting it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_rds::Client;
use orchestrate_aws::{aws_error, error_code, is_not_found_code};
use orchestrate_core::sensitive::DbEndpoint;
use orchestrate_core::{Context, Readiness, ReporterExt};

use crate::DatabaseOutputs;
use crate::error::{Error, Result};
use crate::instance::{self, InstanceObserved, KIND};

/// `DBInstanceStatus` of a usable instance.
pub const STATUS_AVAILABLE: &str = "available";
/// `DBInstanceStatus` of an instance on its way out.
pub const STATUS_DELETING: &str = "deleting";

/// How long an instance may take to become available (creation of a Multi-AZ instance with
/// its first backup takes 15-30 minutes).
pub const AVAILABLE_WITHIN: Duration = Duration::from_secs(40 * 60);
/// How long deletion (with the final snapshot) may take.
pub const DELETED_WITHIN: Duration = Duration::from_secs(40 * 60);
/// How long a just-created instance may be invisible to DescribeDBInstances.
pub const VISIBLE_WITHIN: Duration = Duration::from_secs(60);
/// How long AWS usually takes to create the instance: the wait polls fast around it.
pub const TYPICAL_CREATE: Duration = Duration::from_secs(6 * 60);

/// PostgreSQL's port when AWS reports none.
const DEFAULT_PORT: u16 = 5432;

/// What a `DBInstanceStatus` means for a wait on availability.
pub fn classify(status: &str) -> Readiness {
    let hint = match status {
        STATUS_AVAILABLE => return Readiness::Ready,
        "failed" => {
            "RDS could not create or recover the instance; see its events in the RDS console"
        }
        "incompatible-parameters" => {
            "the DB parameter group holds values the instance class or engine cannot use"
        }
        "incompatible-network" => {
            "the subnet group or security group no longer allows the instance (deleted subnet? \
             no free IP addresses?)"
        }
        "incompatible-option-group" => "the option group does not fit the engine version",
        "incompatible-restore" | "restore-error" => "the restore could not complete",
        "storage-full" => "storage is exhausted; raise database.allocated_storage_gb",
        "inaccessible-encryption-credentials"
        | "inaccessible-encryption-credentials-recoverable" => {
            "the KMS key of the storage encryption is disabled or not accessible"
        }
        _ => return Readiness::pending(status),
    };
    Readiness::Failed {
        reason: format!("status {status}: {hint}"),
    }
}

/// Readiness of the instance `identifier` now (`Pending("not found")` when absent).
///
/// # Errors
/// [`Error::DescribeInstance`].
pub async fn ready(client: &Client, identifier: &str) -> Result<Readiness> {
    Ok(match instance::find(client, identifier).await? {
        Some(observed) if observed.status == STATUS_DELETING => Readiness::Failed {
            reason: "the instance is being deleted".into(),
        },
        Some(observed) => classify(&observed.status),
        None => Readiness::pending("not found"),
    })
}

/// The outputs of an available instance.
///
/// # Errors
/// [`Error::NoEndpoint`] when AWS reports no endpoint address.
pub fn outputs(observed: &InstanceObserved) -> Result<DatabaseOutputs> {
    let host = observed.host.clone().ok_or_else(|| Error::NoEndpoint {
        name: observed.identifier.clone(),
    })?;
    Ok(DatabaseOutputs {
        endpoint: DbEndpoint {
            host,
            port: observed
                .port
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(DEFAULT_PORT),
            // Without DBName, RDS creates only the default `postgres` database.
            database: observed
                .db_name
                .clone()
                .unwrap_or_else(|| "postgres".into()),
        },
        arn: observed.arn.clone(),
        identifier: observed.identifier.clone(),
    })
}

/// Polls DescribeDBInstances until the instance is `available` (40 minutes, scaled by
/// [`orchestrate_core::Timing`]), reporting each new state, and returns its outputs.
///
/// Not found is tolerated for the first minute (eventual consistency after create); after
/// that, and for `deleting` or a failed state, the wait fails.
///
/// # Errors
/// [`Error::NotAvailable`] (failed state with a hint, timeout with the last state, or a
/// failing describe), [`Error::NoEndpoint`].
pub async fn wait_available(
    client: &Client,
    cx: &Context,
    identifier: &str,
) -> Result<DatabaseOutputs> {
    let start = Instant::now();
    let visible_within = cx.timing.scaled(VISIBLE_WITHIN);
    let last: Mutex<Option<InstanceObserved>> = Mutex::new(None);
    let last_ref = &last;
    cx.timing
        .poller_expecting(AVAILABLE_WITHIN, TYPICAL_CREATE)
        .wait(
            identifier,
            move || async move {
                let observed = instance::find(client, identifier).await?;
                let readiness = match &observed {
                    None if start.elapsed() < visible_within => {
                        Readiness::pending("not visible yet")
                    }
                    None => Readiness::Failed {
                        reason: "the instance does not exist".into(),
                    },
                    Some(o) if o.status == STATUS_DELETING => Readiness::Failed {
                        reason: "the instance is being deleted".into(),
                    },
                    Some(o) => classify(&o.status),
                };
                if let Ok(mut slot) = last_ref.lock() {
                    *slot = observed;
                }
                Ok(readiness)
            },
            |state| cx.reporter.waiting(KIND, identifier, state),
        )
        .await
        .map_err(|source| Error::NotAvailable {
            name: identifier.to_string(),
            source: Box::new(source),
        })?;
    let observed = last
        .into_inner()
        .ok()
        .flatten()
        .ok_or_else(|| Error::NoEndpoint {
            name: identifier.to_string(),
        })?;
    cx.reporter.ready(KIND, identifier);
    outputs(&observed)
}

/// Waits until the instance is in a state that accepts ModifyDBInstance / DeleteDBInstance
/// (`available` or a failed state), or gone / being deleted.
async fn wait_settled(client: &Client, cx: &Context, identifier: &str) -> Result<()> {
    cx.timing
        .poller(AVAILABLE_WITHIN)
        .wait(
            identifier,
            || async {
                Ok(match instance::find(client, identifier).await? {
                    None => Readiness::Ready,
                    Some(o) if o.status == STATUS_DELETING => Readiness::Ready,
                    Some(o) => match classify(&o.status) {
                        Readiness::Pending { state } => Readiness::Pending { state },
                        _ => Readiness::Ready,
                    },
                })
            },
            |state| cx.reporter.waiting(KIND, identifier, state),
        )
        .await
        .map_err(|source| Error::NotAvailable {
            name: identifier.to_string(),
            source: Box::new(source),
        })
}

/// Polls until DescribeDBInstances says `DBInstanceNotFound` (40 minutes, scaled).
async fn wait_gone(client: &Client, cx: &Context, identifier: &str) -> Result<()> {
    cx.timing
        .poller(DELETED_WITHIN)
        .wait(
            identifier,
            || async {
                Ok(match instance::find(client, identifier).await? {
                    None => Readiness::Ready,
                    Some(o) => Readiness::pending(o.status),
                })
            },
            |state| cx.reporter.waiting(KIND, identifier, state),
        )
        .await
        .map_err(|source| Error::NotDeleted {
            name: identifier.to_string(),
            source: Box::new(source),
        })
}

/// Deletes the instance: waits for a transitional state to settle, turns deletion protection
/// off when on, calls DeleteDBInstance with `final_snapshot` as FinalDBSnapshotIdentifier (or
/// SkipFinalSnapshot without one), and waits until it is gone. Absent is success; an instance
/// already `deleting` is only waited on.
///
/// # Errors
/// [`Error::DescribeInstance`], [`Error::ModifyInstance`], [`Error::DeleteInstance`] (e.g.
/// `DBSnapshotAlreadyExists` for a reused snapshot name), [`Error::NotDeleted`].
pub async fn delete_instance(
    client: &Client,
    cx: &Context,
    identifier: &str,
    final_snapshot: Option<&str>,
) -> Result<()> {
    let Some(mut observed) = instance::find(client, identifier).await? else {
        return Ok(());
    };
    if observed.status != STATUS_DELETING
        && matches!(classify(&observed.status), Readiness::Pending { .. })
    {
        wait_settled(client, cx, identifier).await?;
        match instance::find(client, identifier).await? {
            Some(o) => observed = o,
            None => return Ok(()),
        }
    }
    if observed.status != STATUS_DELETING {
        if observed.deletion_protection {
            cx.reporter.note(
                KIND,
                format!("turning off deletion protection of {identifier} to delete it"),
            );
            client
                .modify_db_instance()
                .db_instance_identifier(identifier)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| {
                    Error::ModifyInstance(aws_error(
                        "turn off deletion protection of DB instance",
                        identifier,
                        e,
                    ))
                })?;
        }
        cx.reporter.applying(KIND, identifier, "delete");
        let request = client
            .delete_db_instance()
            .db_instance_identifier(identifier);
        let request = match final_snapshot {
            Some(snapshot) => request
                .final_db_snapshot_identifier(snapshot)
                .skip_final_snapshot(false),
            None => request.skip_final_snapshot(true),
        };
        match request.send().await {
            Ok(_) => {}
            Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(()),
            // Someone else started deleting it meanwhile: waiting is all that is left.
            Err(e)
                if error_code(&e) == Some("InvalidDBInstanceState")
                    && instance::find(client, identifier)
                        .await?
                        .is_none_or(|o| o.status == STATUS_DELETING) => {}
            Err(e) => {
                return Err(Error::DeleteInstance(aws_error(
                    "delete DB instance",
                    identifier,
                    e,
                )));
            }
        }
    }
    wait_gone(client, cx, identifier).await
}
