//! Phase 2's long poles, started while phase 1 still waits on its own.
//!
//! None of the cluster, the load balancer (ALB, target group, the domain's certificate and
//! records, listeners) or the api-server's
//! Cloud Map service needs RDS or Valkey: the cluster needs nothing, the load balancer the
//! network, the Cloud Map service the namespace. `up --phase N` (N ≥ 2) therefore converges
//! them as soon as phase 1 hands out those inputs ([`crate::storage::Hooks`]), and waits for
//! the ALB to become active (AWS: minutes) in the shadow of RDS and Valkey.
//!
//! # Guarantees
//! - Nothing of phase 2 is created before the images are copied and preflighted
//!   ([`crate::images::converge`]), exactly as when phase 2 started after phase 1: the
//!   images need only the ECR repositories and the account, known after phase 1's first wave.
//! - Their readiness still gates phase 2: `up` joins this branch with phase 1 before any task
//!   definition is registered, so the phase order the user sees is unchanged.
//! - Each step holds a permit of the engine's [`crate::concurrency::Limit`].
//! - The same `ensure` calls as before: a crash anywhere leaves what a crash in phase 2 left,
//!   and the next run adopts it.

use orchestrate_core::{Phase, ReporterExt};
use tokio::sync::oneshot;

use crate::Engine;
use crate::error::{EngineError, ecs_step, step};
use crate::graph::{Graph, Known};
use crate::storage::Foundations;

/// What the early branch built.
#[derive(Debug, Clone)]
pub struct Early {
    /// The ECS cluster.
    pub cluster: orchestrate_ecs::ClusterOutputs,
    /// The ALB (active), target group and listeners.
    pub load_balancer: orchestrate_loadbalancer::LoadBalancerOutputs,
    /// The api-server's Cloud Map service.
    pub registry: orchestrate_discovery::ServiceOutputs,
}

/// Converges the early resources of phases 2..=`up_to` as their inputs arrive from phase 1.
///
/// # Errors
/// A failed step; [`EngineError::Other`] when phase 1 stopped before handing out an input
/// (then phase 1's own error is what `up` reports).
pub(crate) async fn converge(
    engine: &Engine,
    graph: &Graph<'_>,
    account_id: &str,
    up_to: Phase,
    foundations: oneshot::Receiver<Foundations>,
    namespace: oneshot::Receiver<orchestrate_discovery::NamespaceOutputs>,
) -> Result<Early, EngineError> {
    let (aws, cx, limit) = (&engine.aws, &engine.cx, &engine.limit);
    let stopped = |what: &str| {
        EngineError::Other(format!(
            "phase 1 stopped before the {what} existed; its error says why"
        ))
    };
    let foundations = foundations.await.map_err(|_| stopped("network"))?;
    let known = Known {
        account_id: Some(account_id.to_string()),
        network: Some(foundations.network.clone()),
        repository_uris: Some((
            foundations.registry.airflow_repository_uri.clone(),
            foundations.registry.git_sync_repository_uri.clone(),
        )),
        ..Known::default()
    };
    // Before phase 2 creates anything: copy missing tags, then preflight.
    let deployment = crate::images::needs(graph, &known, Phase::Worker);
    let needs = crate::images::needs(graph, &known, up_to);
    limit
        .run(crate::images::converge(engine, &deployment, &needs))
        .await?;

    let cluster_desired = graph.cluster();
    let lb_desired = graph.load_balancer(&known);
    let cluster = async {
        limit
            .run(orchestrate_ecs::cluster::ensure(
                &aws.ecs,
                cx,
                &cluster_desired,
            ))
            .await
            .map_err(ecs_step("converge the ECS cluster"))
    };
    let load_balancer = async {
        let base = limit
            .run(orchestrate_loadbalancer::ensure_base(
                &aws.elbv2,
                cx,
                &lb_desired,
            ))
            .await
            .map_err(step("converge the load balancer"))?;
        // The listeners, after the certificate orchestrate requests for the domain is issued
        // (the long pole of a first HTTPS run), then the alias — while the ALB provisions.
        let https = async {
            let mut known = known.clone();
            known.alb_dns = Some(base.alb.dns_name.clone());
            known.alb_arn = Some(base.alb.arn.clone());
            known.alb_zone_id = Some(base.alb.hosted_zone_id.clone());
            if let Some(desired) = graph.certificate(&known) {
                let certificate = limit
                    .run(orchestrate_domain::certificate::ensure(
                        &aws.acm,
                        &aws.route53,
                        cx,
                        &desired,
                    ))
                    .await
                    .map_err(step("converge the domain's certificate"))?;
                known.certificate_arn = Some(certificate.arn);
            }
            let lb = limit
                .run(orchestrate_loadbalancer::ensure_listeners(
                    &aws.elbv2,
                    cx,
                    &graph.load_balancer(&known),
                    &base,
                ))
                .await
                .map_err(step("converge the listeners"))?;
            if let Some(alias) = graph.alias_record(&known) {
                limit
                    .run(orchestrate_domain::record::ensure_alias(
                        &aws.route53,
                        cx,
                        &alias,
                    ))
                    .await
                    .map_err(step("converge the domain's alias record"))?;
            }
            Ok::<_, EngineError>(lb)
        };
        // The ensure's read already saw it active (a converged run): no poll.
        let active = base.alb.active;
        let wait = async {
            if active {
                cx.reporter.ready(
                    orchestrate_loadbalancer::alb::KIND,
                    &cx.names.load_balancer(),
                );
                Ok(())
            } else {
                limit.run(wait_alb(engine)).await
            }
        };
        let ((), lb) = tokio::try_join!(wait, https)?;
        Ok::<_, EngineError>(lb)
    };
    let registry = async {
        let namespace = namespace
            .await
            .map_err(|_| stopped("Cloud Map namespace"))?;
        let known = Known {
            namespace: Some(namespace),
            ..Known::default()
        };
        let desired = graph.discovery_service(&known).ok_or_else(|| {
            EngineError::Other("the Cloud Map namespace is unknown; a bug".into())
        })?;
        limit
            .run(orchestrate_discovery::ensure_service(
                &aws.discovery,
                cx,
                &desired.namespace_id,
                &desired.name,
            ))
            .await
            .map_err(step("converge the api-server Cloud Map service"))
    };
    let (cluster, load_balancer, registry) = tokio::try_join!(cluster, load_balancer, registry)?;
    Ok(Early {
        cluster,
        load_balancer,
        registry,
    })
}

/// Waits for the ALB to become active.
async fn wait_alb(engine: &Engine) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    cx.timing
        .poller(super::ALB_DEADLINE)
        .wait(
            "load balancer to become active",
            || orchestrate_loadbalancer::ready(&aws.elbv2, cx),
            |state| {
                cx.reporter.waiting(
                    orchestrate_loadbalancer::alb::KIND,
                    &cx.names.load_balancer(),
                    state,
                )
            },
        )
        .await?;
    cx.reporter.ready(
        orchestrate_loadbalancer::alb::KIND,
        &cx.names.load_balancer(),
    );
    Ok(())
}
