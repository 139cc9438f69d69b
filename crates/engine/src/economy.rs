//! API-call economy of `up`: each resource read once per run, in as few calls as AWS allows,
//! and the observation passed forward instead of found again.
//!
//! A converged `up` of a full deployment is budgeted at 42 calls (the target: 40),
//! the lease's own included (pinned by `tests/budgets.rs` on the emulator's call
//! accounting; `status` at 19). Where the reads come from:
//!
//! - `verify` (before the lease) reads only what decides this run (see [`crate::verify`]);
//!   its reads of the network snapshot, the RDS instance and the Valkey replication group
//!   are the run's when the lease is taken from the version read before `verify`
//!   ([`crate::early`]).
//! - EC2: [`orchestrate_network::snapshot`] — one describe per resource type (VPCs, internet
//!   gateways, NAT gateways, addresses, route tables by the deployment's tag; subnets and
//!   security groups by VPC) and the VPC's two DNS attributes. A converged network is decided
//!   from these lists by the same diffs `plan` shows; anything else walks the resources.
//! - Secrets Manager: [`orchestrate_secrets::Snapshot`] — one tag-filtered ListSecrets and
//!   one BatchGetSecretValue of the generated and derived secrets. The generated values are
//!   read to register them for redaction; the derived ones (connection URLs) are compared
//!   with the values they should hold from the same read, so they are written only when they
//!   differ and never read a second time.
//! - ECS services: every service of the deployment in one DescribeServices (10 per call)
//!   when phase 2 starts, beside the task definitions' reads: the api-server's observation
//!   decides whether the migration runs, and each service is ensured from its observation
//!   ([`orchestrate_ecs::service::ensure_observed`]). When nothing was sent and the
//!   observation already shows the rollout of this run's revision done
//!   ([`orchestrate_ecs::is_rolled_out`]), the service is not described again to wait. A
//!   service that is changed is waited on with fresh reads, as before. The services' tags
//!   ([`orchestrate_ecs::TAG_TASK_DEFINITION`], [`orchestrate_ecs::TAG_MIGRATION`]) record
//!   the digest of the rendering each runs, so an unchanged task definition is not read. The observation of a
//!   later phase's service is older than the phase (the earlier phases' waits lie between):
//!   it only decides what to send — with the run's lease held, nothing but ECS itself changes
//!   a service meanwhile, and ECS never changes the settings compared — and "already rolled
//!   out" is then the state before this run changed anything, which is what a wait on a
//!   service this run did not touch would confirm.
//!
//! Every fast path falls back to the resource's own `find` when the batched read does not
//! settle it (absent, duplicated, drifted): batching may save calls, never decide a change.

use std::collections::BTreeMap;

use orchestrate_airflow::Component;
use orchestrate_ecs::ServiceObserved;

use crate::Engine;
use crate::error::{EngineError, ecs_step};

/// Every service of the deployment in `cluster` that exists, by service name, in one
/// DescribeServices per 10.
pub(crate) async fn services(
    engine: &Engine,
    cluster: &str,
) -> Result<BTreeMap<String, ServiceObserved>, EngineError> {
    let names: Vec<String> = Component::ALL
        .iter()
        .filter(|c| c.is_service())
        .map(|c| engine.cx.names.service(c.name()))
        .collect();
    orchestrate_ecs::service::find_many(&engine.aws.ecs, cluster, &names)
        .await
        .map_err(ecs_step("read the services"))
}
