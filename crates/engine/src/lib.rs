//! orchestrate-engine: the phase runner.
//!
//! Owns the AWS context (one `SdkConfig`, one client per service), the order of phases and of
//! the resources inside each phase, which of them converge concurrently, and how their errors
//! map to exit codes. Resource crates never call each other: what one needs from another (a
//! VPC id, a secret ARN) is passed here as a typed output.
//!
//! # Guarantees
//! - `up` converges phases 1..=N in order; a phase starts only when the previous one is ready.
//!   Phase 2's long poles that need nothing from RDS or Valkey (cluster, load balancer, Cloud
//!   Map service) converge while phase 1 waits ([`services::early`]); their readiness gates
//!   phase 2. At most [`concurrency::Limit`] resource steps run at once.
//! - Inside phase 1 the long poles (RDS, Valkey, NAT gateways, the Cloud Map namespace) are
//!   created first and waited on concurrently.
//! - Phases 2-5 ([`services`]): the migration task runs (and must exit 0) before the
//!   api-server service changes, and only when a task definition of phase 2 was registered
//!   or the api-server does not run its revision yet; a phase succeeds only when each of its
//!   services' rollouts is judged complete by `orchestrate_ecs::wait_rollout` (exit 3 on a
//!   failed or rolled-back deployment, exit 4 past the grace period + 15 min deadline).
//! - A converged deployment makes zero mutating calls on a re-run, besides its lease's.
//! - `plan` and `status` make read-only calls only, and take no lease.
//! - `up` and `teardown` hold the deployment's [`lease`] from before their first mutating
//!   call to their end: a second run on the same deployment is refused with exit 2.
//! - `status` also reads Airflow's own health endpoint behind the ALB ([`health`]), bounded
//!   by a short timeout.
//! - Day-2 operations ([`operate`]): `logs` and `doctor` are read-only; `rollback` only
//!   points services at revisions that already exist; `airflow` runs one task.
//! - Before phase 2 creates anything (during phase 1's waits), `up` copies missing image
//!   tags into ECR (unless `[image] sync = false`) and checks that every image of every task
//!   definition resolves for the architectures its tasks run on ([`images`]); `plan` shows
//!   the same as lines.
//!   Phase 1 never touches a registry.
//! - The availability zones are resolved once and pinned in the lock file beside the spec.
//! - `plan` and `up` first [`verify`] the account (read-only: engine versions, instance
//!   class, zones, quotas); a failed check is exit 2 before the lease and before anything is
//!   created.

pub mod access;
pub mod airflow_secrets;
pub mod alarms;
pub mod aws;
pub mod concurrency;
pub mod cost;
mod early;
mod economy;
pub mod error;
mod existing_network;
pub mod graph;
pub mod health;
pub mod images;
pub mod lease;
pub mod observe;
pub mod operate;
pub mod resource_phase;
pub mod services;
pub mod status;
mod storage;
pub mod teardown;
pub mod timings;
pub mod verify;

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

pub use lease::LeaseRequest;
pub use orchestrate_registry::SyncReport;
pub use storage::StorageOutputs;
pub use teardown::{DataOptions, TeardownReport};

/// What `up` built, for the final summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpReport {
    /// The last phase converged.
    pub phase: u8,
    /// Notable outputs (VPC id, endpoints, ARNs; never a secret value).
    pub outputs: BTreeMap<String, String>,
    /// How to log in, once the api-server runs (phase 2 and later).
    pub login: Option<Login>,
}

/// How to reach Airflow after `up`: never the password itself, only where it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    /// The Airflow UI / API URL (the ALB).
    pub url: String,
    /// The FAB admin user.
    pub admin_user: String,
    /// The Secrets Manager secret holding the admin password.
    pub password_secret: String,
    /// The region of that secret.
    pub region: String,
}

impl Login {
    /// The AWS CLI command that prints the admin password, with `extra` arguments
    /// (`--profile NAME`, `--endpoint-url URL`) appended.
    pub fn password_command(&self, extra: &[String]) -> String {
        let mut command = format!(
            "aws secretsmanager get-secret-value --secret-id {} --region {} --query SecretString --output text",
            self.password_secret, self.region
        );
        for arg in extra {
            command.push(' ');
            command.push_str(arg);
        }
        command
    }
}

/// Everything `status` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// One row per resource, phase 1 first.
    pub resources: Vec<orchestrate_core::StatusRow>,
    /// Where Airflow answers behind the ALB (`http(s)://<dns>`), while there is an ALB.
    pub airflow_url: Option<String>,
}

/// The verdict of `status` on the whole deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No resource of the deployment exists.
    NotDeployed,
    /// Every resource of phases 1..=`through` exists and can serve; later phases are not
    /// deployed.
    Healthy {
        /// The last phase with a resource.
        through: Phase,
    },
    /// Some resource of phases 1..=`through` is absent or cannot serve.
    Degraded {
        /// The last phase with a resource.
        through: Phase,
        /// `kind name: state` of each such resource.
        problems: Vec<String>,
    },
}

impl Status {
    /// The verdict: not deployed when nothing exists; otherwise, up to the last phase with any
    /// resource, degraded when any resource there is absent or unhealthy, else healthy.
    pub fn health(&self) -> Health {
        let Some(through) = self
            .resources
            .iter()
            .filter(|r| !r.is_absent())
            .map(|r| r.phase)
            .max()
        else {
            return Health::NotDeployed;
        };
        let problems: Vec<String> = self
            .resources
            .iter()
            .filter(|r| r.phase <= through && !r.healthy)
            .map(|r| format!("{} {}: {}", r.kind, r.name, r.state))
            .collect();
        if problems.is_empty() {
            Health::Healthy { through }
        } else {
            Health::Degraded { through, problems }
        }
    }
}

/// A deployment bound to an AWS account.
pub struct Engine {
    aws: AwsContext,
    cx: Context,
    spec: Spec,
    lock_path: PathBuf,
    /// How many resource steps `up` runs at once (`ORCHESTRATE_CONCURRENCY`).
    limit: concurrency::Limit,
    /// What `verify` read before the lease, for `up` to reuse ([`early`]).
    early: early::EarlyReads,
}

/// Refuses, before any AWS call, a run whose regions disagree: `--region` other than the
/// spec's `deployment.region`, or a lock file pinning zones of another region. A deployment
/// lives in one region; converging it elsewhere with the lock's zones would build a second,
/// broken copy.
///
/// # Errors
/// [`EngineError::Usage`] (exit 2) naming the file (or variable) to change.
pub fn check_region(loaded: &LoadedSpec, options: &AwsOptions) -> Result<(), EngineError> {
    let region = &loaded.spec.deployment.region;
    let origin = loaded.origin("deployment.region");
    if let Some(flag) = options.region.as_deref().filter(|r| r != region) {
        return Err(EngineError::Usage(format!(
            "--region {flag} contradicts deployment.region = {region:?} ({origin}); a \
             deployment lives in one region: change deployment.region there (with its lock \
             file) to deploy to {flag}, or drop --region"
        )));
    }
    let lock_path = lock::path_for(&loaded.path);
    if let Some(pinned) = lock::read(&lock_path)?
        && pinned.region != *region
    {
        return Err(EngineError::Usage(format!(
            "{} pins availability zones of {}, but deployment.region = {region:?} ({origin}); \
             change deployment.region back to {}, or delete {} only if nothing of this \
             deployment exists in {}",
            lock_path.display(),
            pinned.region,
            pinned.region,
            lock_path.display(),
            pinned.region
        )));
    }
    Ok(())
}

impl Engine {
    /// Loads AWS configuration for `loaded`'s region and builds the context.
    pub async fn new(
        loaded: &LoadedSpec,
        options: &AwsOptions,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Self, EngineError> {
        let spec = loaded.spec.clone();
        check_region(loaded, options)?;
        let limit = concurrency::Limit::from_env()?;
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
            limit,
            early: early::EarlyReads::default(),
        })
    }

    /// The region AWS calls go to.
    pub fn region(&self) -> String {
        self.aws.region()
    }

    /// The pinned availability zones: from the lock file, else resolved now and written.
    async fn zones(&self, write: bool) -> Result<Vec<String>, EngineError> {
        if let Some(desired) = orchestrate_network::existing::ExistingDesired::from_spec(&self.spec)
        {
            return existing_network::zones(self, desired, write).await;
        }
        let count = usize::from(self.spec.network.az_count);
        if let Some(existing) = lock::read(&self.lock_path)? {
            if existing.region == self.spec.deployment.region
                && existing.availability_zones.len() == count
            {
                return Ok(existing.availability_zones);
            }
            return Err(EngineError::Usage(format!(
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

    /// The zones a teardown (or its plan) works over. An existing network is not judged on
    /// the way out — a teardown must work even after its routes changed —, and its zones only
    /// label outputs: the lock file's, if any.
    async fn teardown_zones(&self) -> Result<Vec<String>, EngineError> {
        match self.spec.network.existing() {
            Some(_) => Ok(lock::read(&self.lock_path)?
                .map(|l| l.availability_zones)
                .unwrap_or_default()),
            None => self.zones(false).await,
        }
    }

    /// The deployment graph over `zones`.
    fn graph(&self, zones: &[String]) -> Graph<'_> {
        Graph::new(&self.spec, &self.cx, &self.aws.region(), zones)
    }

    /// What `up --phase up_to` would do (read-only). Beyond phase 1 the images are checked
    /// first ([`images::plan`]): one that would not pull, and that `up` would not copy, is
    /// exit 3 before anything else is planned.
    ///
    /// The account is verified first ([`Engine::verify_or_refuse`]): a failed check is
    /// [`EngineError::Unverified`] (exit 2).
    pub async fn plan(&self, up_to: Phase) -> Result<Plan, EngineError> {
        self.verify_or_refuse().await?;
        let zones = self.zones(false).await?;
        self.plan_with(up_to, true, &zones).await
    }

    async fn plan_with(
        &self,
        up_to: Phase,
        with_images: bool,
        zones: &[String],
    ) -> Result<Plan, EngineError> {
        let graph = self.graph(zones);
        let depth = if up_to > Phase::Storage {
            Depth::Services
        } else {
            Depth::Storage
        };
        let known = observe(self, &graph, depth).await?;
        let mut plan = Plan::default();
        plan.changes
            .extend(storage::plan(self, &graph, &known).await?);
        plan.changes
            .extend(alarms::plan_topic(self, &graph, &known).await?);
        if up_to > Phase::Storage && with_images {
            let needs = images::needs(&graph, &known, up_to);
            plan.changes.extend(images::plan(self, &needs).await?);
        }
        if up_to > Phase::Storage {
            plan.changes
                .extend(services::plan(self, &graph, &known, up_to).await?);
        }
        Ok(plan)
    }

    /// Notes on services beyond `up_to` that would be left on another Airflow version than
    /// the spec's (read-only; see [`services::version_skew`]).
    ///
    /// # Errors
    /// A failed read.
    pub async fn version_skew(&self, up_to: Phase) -> Result<Vec<String>, EngineError> {
        services::version_skew(self, up_to).await
    }

    /// What `teardown <scope>` would delete (read-only).
    pub async fn plan_teardown(&self, scope: TeardownScope) -> Result<Plan, EngineError> {
        let zones = self.teardown_zones().await?;
        let up = self.plan_with(Phase::Worker, false, &zones).await?;
        Ok(Plan {
            changes: teardown::plan_from(up.changes, scope),
        })
    }

    /// Converges phases 1..=up_to, holding the deployment's lease ([`lease`]) throughout.
    ///
    /// The account is verified first ([`Engine::verify_or_refuse`]), before the lease and any
    /// mutating call: a failed check is [`EngineError::Unverified`] (exit 2) and changes
    /// nothing.
    /// The checks include a given `load_balancer.certificate_arn` (issued, covering the
    /// domain).
    pub async fn up(&self, up_to: Phase, lease: &LeaseRequest) -> Result<UpReport, EngineError> {
        // The lease is read (not written) before `verify`, so that taking it from this very
        // version proves verify's reads still hold ([`early`]). A failed read only costs
        // that reuse: the lease is read again when taken.
        self.early.arm();
        let seen = orchestrate_secrets::lease::peek(&self.aws.secrets, &self.cx)
            .await
            .ok()
            .flatten();
        self.verify_or_refuse().await?;
        // An existing network is checked before the lease, the first mutating call.
        let zones = match self.spec.network.existing() {
            Some(_) => Some(self.zones(true).await?),
            None => None,
        };
        // Boxed: the run's future is too large for the main thread's stack in a debug build.
        Box::pin(lease::hold_seen(
            self,
            lease,
            lease::Release::Keep,
            seen,
            Box::pin(self.converge(up_to, zones)),
        ))
        .await
    }

    async fn converge(
        &self,
        up_to: Phase,
        zones: Option<Vec<String>>,
    ) -> Result<UpReport, EngineError> {
        let zones = match zones {
            Some(zones) => zones,
            None => self.zones(true).await?,
        };
        let graph = self.graph(&zones);
        let account_id = self.aws.account_id().await?;
        let mut report = UpReport {
            phase: up_to.number(),
            outputs: BTreeMap::new(),
            login: None,
        };
        if up_to == Phase::Storage {
            // Boxed, like every phase's future below: too much state for the caller's stack
            // in a debug build.
            let (storage, ()) = tokio::try_join!(
                Box::pin(storage::converge(
                    self,
                    &graph,
                    &account_id,
                    storage::Hooks::default()
                )),
                alarms::converge_topic(self, &graph, &account_id),
            )?;
            storage.summarize(&mut report.outputs);
            return Ok(report);
        }
        // Phase 2's long poles start as soon as phase 1 hands out their inputs. A failure of
        // phase 1 stops both at once; a failure of the early branch lets phase 1 converge
        // first (phase 1 is never left half-done by phases 2-5), then is reported.
        let (foundations_tx, foundations_rx) = tokio::sync::oneshot::channel();
        let (namespace_tx, namespace_rx) = tokio::sync::oneshot::channel();
        let hooks = storage::Hooks {
            foundations: Some(foundations_tx),
            namespace: Some(namespace_tx),
        };
        // Boxed: both futures hold many SDK calls' state, too much for the caller's stack in
        // a debug build.
        // The alarm topic (phase 1) converges beside the rest of phase 1.
        let mut storage = Box::pin(async {
            let (storage, ()) = tokio::try_join!(
                Box::pin(storage::converge(self, &graph, &account_id, hooks)),
                alarms::converge_topic(self, &graph, &account_id),
            )?;
            Ok::<_, EngineError>(storage)
        });
        let mut early = Box::pin(services::early::converge(
            self,
            &graph,
            &account_id,
            up_to,
            foundations_rx,
            namespace_rx,
        ));
        let mut early_done = None;
        let storage = loop {
            tokio::select! {
                biased;
                storage = &mut storage => break storage?,
                result = &mut early, if early_done.is_none() => early_done = Some(result),
            }
        };
        storage.summarize(&mut report.outputs);
        let early = match early_done {
            Some(result) => result?,
            None => early.await?,
        };
        Box::pin(services::converge(
            self,
            &graph,
            &storage,
            &early,
            up_to,
            &mut report.outputs,
        ))
        .await?;
        report.login = report.outputs.get(services::AIRFLOW_URL).map(|url| Login {
            url: url.clone(),
            admin_user: self.spec.airflow.admin_username.clone(),
            password_secret: self
                .cx
                .names
                .secret(orchestrate_airflow::SecretKey::AdminPassword.key()),
            region: self.region(),
        });
        Ok(report)
    }

    /// The images the task definitions of phases 2..=`up_to` run (read-only: what exists is
    /// observed as `plan` does).
    async fn image_needs(&self, up_to: Phase) -> Result<Vec<images::Need>, EngineError> {
        let zones = self.zones(false).await?;
        let graph = self.graph(&zones);
        let known = observe(self, &graph, Depth::Services).await?;
        Ok(images::needs(&graph, &known, up_to))
    }

    /// `orchestrate images sync`: copies the upstream images of phases 2..=`up_to` into the
    /// deployment's ECR repositories (a tag already at the upstream digest is left alone).
    pub async fn images_sync(&self, up_to: Phase) -> Result<Vec<SyncReport>, EngineError> {
        let needs = self.image_needs(up_to).await?;
        images::sync(self, &needs, false).await
    }

    /// `orchestrate images check`: the preflight `up` runs before phase 2 (read-only).
    pub async fn images_check(&self, up_to: Phase) -> Result<(), EngineError> {
        let needs = self.image_needs(up_to).await?;
        images::preflight(self, &needs).await
    }

    /// Deletes the deployment's services (`Services`) or everything (`All`), in reverse
    /// dependency order, holding the deployment's lease ([`lease`]) throughout; `All` deletes
    /// the lease secret last. An absent deployment is reported as already gone.
    pub async fn teardown(
        &self,
        scope: TeardownScope,
        options: DataOptions,
        lease: &LeaseRequest,
    ) -> Result<TeardownReport, EngineError> {
        let release = match scope {
            TeardownScope::All => lease::Release::Delete,
            TeardownScope::Services => lease::Release::Keep,
        };
        lease::hold(self, lease, release, self.delete(scope, options)).await
    }

    async fn delete(
        &self,
        scope: TeardownScope,
        options: DataOptions,
    ) -> Result<TeardownReport, EngineError> {
        let zones = self.teardown_zones().await?;
        let graph = self.graph(&zones);
        let known = observe(self, &graph, Depth::Services).await?;
        let mut up_plan = storage::plan(self, &graph, &known).await?;
        up_plan.extend(alarms::plan_topic(self, &graph, &known).await?);
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
            // The spec decides the scheme and host (`https://<domain>` with a domain).
            airflow_url: dns_name.map(|dns| {
                orchestrate_loadbalancer::LoadBalancerDesired::from_spec(&self.spec, &[], "", "")
                    .url(&dns)
            }),
        })
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;
    use orchestrate_core::StatusRow;

    fn status(rows: Vec<StatusRow>) -> Status {
        Status {
            resources: rows,
            airflow_url: None,
        }
    }

    #[test]
    fn health_is_decided_up_to_the_last_phase_with_a_resource() {
        let absent = |phase| StatusRow::absent(phase, "k", "n");
        let ok = |phase| StatusRow::new(phase, "k", "n", "ok", true);
        let sick = |phase| StatusRow::new(phase, "k", "n", "ACTIVE 0/1", false);
        assert_eq!(
            status(vec![absent(Phase::Storage), absent(Phase::Worker)]).health(),
            Health::NotDeployed
        );
        assert_eq!(
            status(vec![ok(Phase::Storage), absent(Phase::ApiServer)]).health(),
            Health::Healthy {
                through: Phase::Storage
            }
        );
        assert!(matches!(
            status(vec![absent(Phase::Storage), ok(Phase::ApiServer)]).health(),
            Health::Degraded { through: Phase::ApiServer, ref problems } if problems == &["k n: absent"]
        ));
        assert!(matches!(
            status(vec![ok(Phase::Storage), sick(Phase::ApiServer)]).health(),
            Health::Degraded {
                through: Phase::ApiServer,
                ..
            }
        ));
    }
}
