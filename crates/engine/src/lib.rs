//! orchestrate-engine: the phase runner.
//!
//! Owns the AWS context (one `SdkConfig`, one client per service), the order of phases and of
//! the resources inside each phase, which of them converge concurrently, and how their errors
//! map to exit codes. Resource crates never call each other: what one needs from another (a
//! VPC id, a secret ARN) is passed here as a typed output.
//!
//! # Guarantees
//! - `up` converges phases 1..=N in order; a phase starts only when the previous one is ready.
//! - Inside phase 1 the long poles (RDS, Valkey, NAT gateways, the Cloud Map namespace) are
//!   created first and waited on concurrently.
//! - Phases 2-5 ([`services`]): the migration task runs (and must exit 0) before the
//!   api-server service changes, and only when a task definition of phase 2 was registered
//!   or the api-server does not run its revision yet; a phase succeeds only when each of its
//!   services' rollouts is judged complete by `orchestrate_ecs::wait_rollout` (exit 3 on a
//!   failed or rolled-back deployment, exit 4 past the grace period + 15 min deadline).
//! - A converged deployment makes zero mutating calls on a re-run.
//! - `plan` and `status` make read-only calls only.
//! - The availability zones are resolved once and pinned in the lock file beside the spec.

pub mod aws;
pub mod error;
pub mod images;
pub mod services;
mod storage;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use orchestrate_core::spec::load::LoadedSpec;
use orchestrate_core::{Context, Phase, Plan, Reporter, ReporterExt, Spec, Timing, lock};
use serde::Serialize;

use crate::aws::{AwsContext, AwsOptions};
use crate::error::EngineError;

pub use storage::StorageOutputs;

/// What `up` built, for the final summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpReport {
    /// The last phase converged.
    pub phase: u8,
    /// Notable outputs (VPC id, endpoints, ARNs; never a secret value).
    pub outputs: BTreeMap<String, String>,
}

/// One resource as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatus {
    /// Phase it belongs to.
    pub phase: u8,
    /// Kind, e.g. `rds/db-instance`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// State: `ok`, `absent`, `drifted (...)`, or AWS's own state word.
    pub state: String,
}

/// Everything `status` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// One row per resource.
    pub resources: Vec<ResourceStatus>,
}

/// A deployment bound to an AWS account.
pub struct Engine {
    aws: AwsContext,
    cx: Context,
    spec: Spec,
    lock_path: PathBuf,
}

impl Engine {
    /// Loads AWS configuration for `loaded`'s region and builds the context.
    pub async fn new(
        loaded: &LoadedSpec,
        options: &AwsOptions,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Self, EngineError> {
        let spec = loaded.spec.clone();
        let aws = AwsContext::load(options, &spec.deployment.region).await;
        let cx = Context::new(
            &spec.deployment.name,
            spec.deployment.tags.clone(),
            reporter,
            Timing::from_env(),
        );
        Ok(Self {
            aws,
            cx,
            spec,
            lock_path: lock::path_for(&loaded.path),
        })
    }

    /// Builds an engine from parts (tests).
    pub fn from_parts(aws: AwsContext, cx: Context, spec: Spec, lock_path: PathBuf) -> Self {
        Self {
            aws,
            cx,
            spec,
            lock_path,
        }
    }

    /// The region AWS calls go to.
    pub fn region(&self) -> String {
        self.aws.region()
    }

    /// The pinned availability zones: from the lock file, else resolved now and written.
    async fn zones(&self, write: bool) -> Result<Vec<String>, EngineError> {
        let count = usize::from(self.spec.network.az_count);
        if let Some(existing) = lock::read(&self.lock_path)? {
            if existing.region == self.spec.deployment.region
                && existing.availability_zones.len() == count
            {
                return Ok(existing.availability_zones);
            }
            return Err(EngineError::Other(format!(
                "{} pins {} zone(s) in {}, but the spec asks for {} in {}; delete the lock file only if nothing is deployed yet",
                self.lock_path.display(),
                existing.availability_zones.len(),
                existing.region,
                count,
                self.spec.deployment.region
            )));
        }
        let zones = orchestrate_network::resolve_zones(&self.aws.ec2, self.spec.network.az_count)
            .await
            .map_err(|e| EngineError::step("resolve availability zones", e))?;
        if write {
            let pinned = lock::Lock {
                region: self.spec.deployment.region.clone(),
                availability_zones: zones.clone(),
            };
            lock::write(&self.lock_path, &pinned)?;
            self.cx.reporter.note(
                "lock",
                format!(
                    "pinned availability zones {} in {}",
                    zones.join(", "),
                    self.lock_path.display()
                ),
            );
        }
        Ok(zones)
    }

    /// What `up --phase up_to` would do.
    pub async fn plan(&self, up_to: Phase) -> Result<Plan, EngineError> {
        let zones = self.zones(false).await?;
        let mut plan = Plan::default();
        plan.changes.extend(storage::plan(self, &zones).await?);
        if up_to > Phase::Storage {
            let desired = orchestrate_network::NetworkDesired::from_spec(&self.spec, zones)
                .map_err(|e| EngineError::step("plan the network", e))?;
            let network = storage::observe_network(self, &desired).await?;
            plan.changes
                .extend(services::plan(self, network.as_ref(), up_to).await?);
        }
        Ok(plan)
    }

    /// Converges phases 1..=up_to.
    pub async fn up(&self, up_to: Phase) -> Result<UpReport, EngineError> {
        let zones = self.zones(true).await?;
        let storage = storage::converge(self, &zones).await?;
        let mut report = UpReport {
            phase: up_to.number(),
            outputs: BTreeMap::new(),
        };
        storage.summarize(&mut report.outputs);
        if up_to > Phase::Storage {
            services::converge(self, &storage, up_to, &mut report.outputs).await?;
        }
        Ok(report)
    }

    /// Every resource and its state.
    pub async fn status(&self) -> Result<Status, EngineError> {
        let zones = self.zones(false).await?;
        let mut status = storage::status(self, &zones).await?;
        status.resources.extend(services::status(self).await?);
        Ok(status)
    }
}
