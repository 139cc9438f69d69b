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
//! - `plan` and `status` make read-only calls only; `status` also reads Airflow's own health
//!   endpoint behind the ALB ([`health`]), bounded by a short timeout.
//! - Day-2 operations ([`operate`]): `logs` and `doctor` are read-only; `rollback` only
//!   points services at revisions that already exist; `airflow` runs one task.
//! - The availability zones are resolved once and pinned in the lock file beside the spec.

pub mod aws;
pub mod cost;
pub mod error;
pub mod graph;
pub mod health;
pub mod images;
pub mod observe;
pub mod operate;
pub mod services;
pub mod status;
mod storage;
pub mod teardown;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use orchestrate_core::spec::load::LoadedSpec;
use orchestrate_core::{Context, Phase, Plan, Reporter, ReporterExt, Spec, Timing, lock};
use serde::Serialize;

use crate::aws::{AwsContext, AwsOptions};
use crate::error::EngineError;
use crate::graph::{Graph, TeardownScope};
use crate::observe::{Depth, observe};

pub use storage::StorageOutputs;
pub use teardown::{DataOptions, TeardownReport};

/// What `up` built, for the final summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpReport {
    /// The last phase converged.
    pub phase: u8,
    /// Notable outputs (VPC id, endpoints, ARNs; never a secret value).
    pub outputs: BTreeMap<String, String>,
}

/// Everything `status` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// One row per resource, phase 1 first.
    pub resources: Vec<orchestrate_core::StatusRow>,
    /// Where Airflow answers behind the ALB (`http(s)://<dns>`), while there is an ALB.
    pub airflow_url: Option<String>,
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
        let aws = AwsContext::load(options, &spec.deployment.region).await?;
        // The first AWS call of every run: no credentials, rejected credentials or an
        // unreachable endpoint fail here, with one clear error, before anything else.
        aws.account_id().await?;
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

    /// The deployment graph over `zones`.
    fn graph(&self, zones: &[String]) -> Graph<'_> {
        Graph::new(&self.spec, &self.cx, &self.aws.region(), zones)
    }

    /// What `up --phase up_to` would do (read-only).
    pub async fn plan(&self, up_to: Phase) -> Result<Plan, EngineError> {
        let zones = self.zones(false).await?;
        let graph = self.graph(&zones);
        let depth = if up_to > Phase::Storage {
            Depth::Services
        } else {
            Depth::Storage
        };
        let known = observe(self, &graph, depth).await?;
        let mut plan = Plan::default();
        plan.changes
            .extend(storage::plan(self, &graph, &known).await?);
        if up_to > Phase::Storage {
            plan.changes
                .extend(services::plan(self, &graph, &known, up_to).await?);
        }
        Ok(plan)
    }

    /// What `teardown <scope>` would delete (read-only).
    pub async fn plan_teardown(&self, scope: TeardownScope) -> Result<Plan, EngineError> {
        let up = self.plan(Phase::Worker).await?;
        Ok(Plan {
            changes: teardown::plan_from(up.changes, scope),
        })
    }

    /// Converges phases 1..=up_to.
    pub async fn up(&self, up_to: Phase) -> Result<UpReport, EngineError> {
        let zones = self.zones(true).await?;
        let graph = self.graph(&zones);
        let account_id = self.aws.account_id().await?;
        let storage = storage::converge(self, &graph, &account_id).await?;
        let mut report = UpReport {
            phase: up_to.number(),
            outputs: BTreeMap::new(),
        };
        storage.summarize(&mut report.outputs);
        if up_to > Phase::Storage {
            services::converge(self, &graph, &storage, up_to, &mut report.outputs).await?;
        }
        Ok(report)
    }

    /// Deletes the deployment's services (`Services`) or everything (`All`), in reverse
    /// dependency order. An absent deployment is reported as already gone.
    pub async fn teardown(
        &self,
        scope: TeardownScope,
        options: DataOptions,
    ) -> Result<TeardownReport, EngineError> {
        let zones = self.zones(false).await?;
        let graph = self.graph(&zones);
        let known = observe(self, &graph, Depth::Services).await?;
        let mut up_plan = storage::plan(self, &graph, &known).await?;
        up_plan.extend(services::plan(self, &graph, &known, Phase::Worker).await?);
        let doomed = teardown::plan_from(up_plan, scope);
        if doomed.is_empty() {
            return Ok(TeardownReport {
                scope: scope.name().to_string(),
                already_gone: true,
                ..TeardownReport::default()
            });
        }
        let mut report = teardown::run(self, &graph, &known, scope, options, &doomed).await?;
        let mut deleted: Vec<String> = doomed
            .iter()
            .map(|c| format!("{} {}", c.kind, c.name))
            .filter(|d| !report.kept.contains(d))
            .collect();
        deleted.retain(|d| !d.starts_with("ecs/task-definition"));
        deleted.append(&mut report.deleted);
        report.deleted = deleted;
        Ok(report)
    }

    /// Every resource of the graph and AWS's own word on its state (read-only, batched).
    pub async fn status(&self) -> Result<Status, EngineError> {
        let (resources, dns_name) = status::status(self).await?;
        Ok(Status {
            resources,
            airflow_url: dns_name.map(|dns| {
                orchestrate_loadbalancer::url(
                    &dns,
                    self.spec.load_balancer.certificate_arn.is_some(),
                )
            }),
        })
    }
}
