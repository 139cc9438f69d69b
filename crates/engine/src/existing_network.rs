//! An existing network (`[network] vpc_id`): checked against the account before anything
//! else, and the source of the deployment's availability zones.
//!
//! # Decisions
//! - The check ([`orchestrate_network::existing::inspect`] + `check`: six read-only calls)
//!   runs at the start of `plan`, `status`, `teardown` and the other commands that build the
//!   graph, and in `up` before the lease is taken, i.e. before the first mutating call. A
//!   network that cannot carry the deployment is exit 2 with every problem named.
//! - Zones: with an existing network the zones are the given subnets' (sorted), never
//!   resolved. The lock file keeps recording the region and the zones the deployment spans:
//!   `up` writes it when absent or when the subnets' zones changed (a note says so); the
//!   subnets, not the lock, are the truth, so a lock that disagrees is not an error (`plan`
//!   never writes). A lock of another region is still refused, as for a created network.

use orchestrate_core::{ReporterExt, lock};
use orchestrate_network::existing::{self, ExistingDesired};

use crate::Engine;
use crate::error::{EngineError, step};

/// Checks the existing network against the account and returns the zones its subnets span;
/// with `write`, records them in the lock file.
///
/// # Errors
/// A failed describe call; [`orchestrate_network::Error::ExistingNetwork`] (exit 2) listing
/// every problem; a lock file of another region (exit 2) or one that cannot be written.
pub(crate) async fn zones(
    engine: &Engine,
    desired: ExistingDesired,
    write: bool,
) -> Result<Vec<String>, EngineError> {
    let lock_path = &engine.lock_path;
    let pinned = lock::read(lock_path)?;
    if let Some(existing) = &pinned
        && existing.region != engine.spec.deployment.region
    {
        return Err(EngineError::Usage(format!(
            "{} pins zones in {}, but the spec's region is {}; delete the lock file only if nothing is deployed yet",
            lock_path.display(),
            existing.region,
            engine.spec.deployment.region
        )));
    }
    let observed = existing::inspect(&engine.aws.ec2, &desired)
        .await
        .map_err(step("read the existing network"))?;
    let verdict =
        existing::check(&desired, &observed).map_err(step("check the existing network"))?;
    if verdict.endpoints_only {
        engine.cx.reporter.note(
            "network",
            format!(
                "private subnets of {} reach AWS through VPC endpoints only (no NAT route): git-sync and anything else outside AWS is unreachable from the tasks",
                desired.vpc_id
            ),
        );
    }
    let zones = verdict.azs;
    let current = pinned.as_ref().map(|l| &l.availability_zones);
    if write && current != Some(&zones) {
        lock::write(
            lock_path,
            &lock::Lock {
                region: engine.spec.deployment.region.clone(),
                availability_zones: zones.clone(),
            },
        )?;
        engine.cx.reporter.note(
            "lock",
            format!(
                "recorded availability zones {} (the zones of the subnets of {}) in {}",
                zones.join(", "),
                desired.vpc_id,
                lock_path.display()
            ),
        );
    }
    Ok(zones)
}
