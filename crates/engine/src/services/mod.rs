//! Phases 2-5, the Airflow services: cluster, task definitions, the migration task, the ALB,
//! Cloud Map, the ECS services and their rollouts, the worker's autoscaling.
//!
//! Order (each phase starts when the previous one is ready):
//! - before phase 2: the cluster and the load balancer (ALB, target group, listeners) converge
//!   concurrently; the ALB's DNS name is part of every task definition
//!   (`AIRFLOW__API__BASE_URL`), so the definitions are rendered after it.
//! - phase 2: the migration and api-server task definitions are registered (only when they
//!   differ from the active revision); the migration task runs, and is waited to STOPPED,
//!   when either definition was registered now or the api-server service does not run the
//!   api-server revision yet — concurrently with the ALB becoming active and the Cloud Map
//!   service. A non-zero exit stops here, before the api-server service is touched. Then the
//!   api-server service and its rollout.
//! - phases 3, 4, 5: the phase's task definitions, services and rollouts concurrently
//!   (scheduler + dag-processor; triggerer; worker, then its autoscaling).
//!
//! A rollout succeeds only as [`orchestrate_ecs::wait_rollout`] judges it (PRIMARY runs the
//! revision of this run, COMPLETED, running == desired, the only deployment); its deadline is
//! the component's health-check grace period plus [`ROLLOUT_MARGIN`].

use std::collections::BTreeMap;
use std::time::Duration;

use orchestrate_airflow::{Component, Wiring};
use orchestrate_core::{Phase, ReporterExt};
use orchestrate_ecs::ServiceDesired;

use crate::Engine;
use crate::error::{EngineError, ecs_step, step};
use crate::graph::{Graph, components_of};
use crate::storage::StorageOutputs;

mod plan;
pub use plan::{plan, version_skew};

/// Added to a component's health-check grace period to make its rollout deadline.
pub const ROLLOUT_MARGIN: Duration = Duration::from_secs(15 * 60);
/// Deadline of the migration task (image pull, `airflow db migrate`, admin user).
pub const MIGRATION_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Deadline of the ALB becoming active (AWS takes 2-5 minutes).
pub const ALB_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Lines of the migration's log shown when it fails.
pub const LOG_TAIL_LINES: i32 = 30;

/// Registers `component`'s task definition unless the active revision equals it.
async fn register(
    engine: &Engine,
    graph: &Graph<'_>,
    wiring: &Wiring,
    component: Component,
) -> Result<orchestrate_ecs::Registered, EngineError> {
    let (json, pending) = graph.task_definition(wiring, component);
    if pending {
        return Err(EngineError::Other(format!(
            "the {} task definition still has placeholders after phase 1; this is a bug",
            component.name()
        )));
    }
    orchestrate_ecs::register_if_changed(&engine.aws.ecs, &engine.cx, &json)
        .await
        .map_err(ecs_step(format!(
            "register the {} task definition",
            component.name()
        )))
}

/// The rollout deadline of `component`: grace period + margin (scaled inside the wait).
pub(crate) fn rollout_deadline(engine: &Engine, component: Component) -> Duration {
    Duration::from_secs(u64::from(
        component.spec(&engine.spec).health_check_grace_seconds,
    )) + ROLLOUT_MARGIN
}

/// Ensures the service from `observed` (read earlier in this run, see
/// [`crate::economy`]) and waits for its rollout of `task_definition_arn`; when nothing was
/// sent and the observation already shows that rollout done, without another read.
async fn deploy(
    engine: &Engine,
    desired: &ServiceDesired,
    component: Component,
    observed: Option<orchestrate_ecs::ServiceObserved>,
) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let done = observed
        .as_ref()
        .is_some_and(|o| orchestrate_ecs::is_rolled_out(o, &desired.task_definition_arn));
    let outputs = orchestrate_ecs::service::ensure_observed(&aws.ecs, cx, desired, observed)
        .await
        .map_err(ecs_step(format!("converge service {}", desired.name)))?;
    if done && !outputs.created && !outputs.updated {
        cx.reporter
            .ready(orchestrate_ecs::service::KIND, &desired.name);
        return Ok(());
    }
    orchestrate_ecs::wait_rollout(
        &aws.ecs,
        cx,
        &desired.cluster,
        &desired.name,
        &desired.task_definition_arn,
        rollout_deadline(engine, component),
        |_| {},
    )
    .await
    .map_err(ecs_step(format!("roll out service {}", desired.name)))?;
    cx.reporter
        .ready(orchestrate_ecs::service::KIND, &desired.name);
    Ok(())
}

/// A one-off task of the migration's kind: `task_definition_arn` (a revision of the migration
/// family) in the private subnets with the components' security group, the Airflow container's
/// command replaced by `command` when given. The one place a one-off task is shaped: the
/// migration that gates phase 2 and `orchestrate airflow -- <args>` both run through it.
pub(crate) fn one_off_task(
    engine: &Engine,
    network: &orchestrate_network::NetworkOutputs,
    task_definition_arn: &str,
    command: Option<Vec<String>>,
    started_by: &'static str,
) -> orchestrate_ecs::OneOffTask {
    let cx = &engine.cx;
    let component = Component::Migration;
    orchestrate_ecs::OneOffTask {
        cluster: cx.names.cluster(),
        task_definition_arn: task_definition_arn.to_string(),
        subnets: network.private_subnet_ids.clone(),
        security_groups: vec![network.security_groups.components.clone()],
        container_name: component.container_name().to_string(),
        command_override: command,
        started_by,
        client_token: None,
        tags: cx.tags(
            "ecs/migration",
            Phase::ApiServer,
            &cx.names.service(component.name()),
        ),
    }
}

/// Runs the migration task and waits for it; a non-zero exit is a failure with its reasons
/// and the tail of its log.
async fn migrate(
    engine: &Engine,
    storage: &StorageOutputs,
    task_definition_arn: &str,
) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let component = Component::Migration;
    let cluster = cx.names.cluster();
    let task = one_off_task(
        engine,
        &storage.network,
        task_definition_arn,
        None,
        orchestrate_ecs::task::STARTED_BY,
    );
    let task_arn = orchestrate_ecs::run_task(&aws.ecs, cx, &task)
        .await
        .map_err(ecs_step("run the migration task"))?;
    let outcome = orchestrate_ecs::wait_task_stopped(
        &aws.ecs,
        cx,
        &cluster,
        &task_arn,
        component.container_name(),
        MIGRATION_DEADLINE,
    )
    .await
    .map_err(ecs_step("wait for the migration task"))?;
    if outcome.succeeded() {
        cx.reporter.note(
            orchestrate_ecs::task::KIND,
            format!("migration task {} exited 0", outcome.task_id),
        );
        return Ok(());
    }
    let mut reason = format!(
        "exit code {}",
        outcome.exit_code.map_or_else(
            || "(none: the container never ran)".to_string(),
            |c| c.to_string()
        )
    );
    if let Some(stopped) = &outcome.stopped_reason {
        reason.push_str(&format!("\n  stopped reason: {stopped}"));
    }
    if let Some(code) = &outcome.stop_code {
        reason.push_str(&format!("\n  stop code: {code}"));
    }
    for container in &outcome.containers {
        if let Some(why) = &container.reason {
            reason.push_str(&format!("\n  container {}: {why}", container.name));
        }
    }
    // The awslogs stream prefix the airflow crate renders is the component's name.
    let stream = orchestrate_ecs::log_stream_name(
        component.name(),
        component.container_name(),
        &outcome.task_id,
    );
    match orchestrate_logs::tail(
        &aws.logs,
        &storage.logs.log_group_name,
        &stream,
        LOG_TAIL_LINES,
    )
    .await
    {
        Ok(lines) if lines.is_empty() => reason.push_str(&format!(
            "\n  log {}:{stream}: (no lines)",
            storage.logs.log_group_name
        )),
        Ok(lines) => {
            reason.push_str(&format!(
                "\n  last {} log lines of {}:{stream}:",
                lines.len(),
                storage.logs.log_group_name
            ));
            for line in lines {
                reason.push_str(&format!("\n    {line}"));
            }
        }
        Err(e) => reason.push_str(&format!("\n  (could not read the log: {e})")),
    }
    Err(EngineError::Failed {
        what: format!(
            "the migration task {} ({})",
            outcome.task_id,
            orchestrate_ecs::revision_label(task_definition_arn)
        ),
        reason,
    })
}

/// The output key of the Airflow URL (the ALB).
pub const AIRFLOW_URL: &str = "airflow url";

/// Converges phases 2..=up_to on top of `storage`, recording outputs in `out`.
pub async fn converge(
    engine: &Engine,
    graph: &Graph<'_>,
    storage: &StorageOutputs,
    up_to: Phase,
    out: &mut BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let mut known = storage.known();
    let cluster_desired = graph.cluster();
    let lb_desired = graph.load_balancer(&known);
    let (cluster, lb) = tokio::try_join!(
        async {
            orchestrate_ecs::cluster::ensure(&aws.ecs, cx, &cluster_desired)
                .await
                .map_err(ecs_step("converge the ECS cluster"))
        },
        async {
            orchestrate_loadbalancer::ensure_load_balancer(&aws.elbv2, cx, &lb_desired)
                .await
                .map_err(step("converge the load balancer"))
        },
    )?;
    out.insert("cluster".into(), cluster.name.clone());
    known.alb_dns = Some(lb.dns_name.clone());
    known.target_group_arn = Some(lb.target_group_arn.clone());
    let wiring = graph.wiring(&known);

    // Phase 2: migration first, then the api-server. Every service of the deployment is
    // read here, in one DescribeServices, and each is ensured from that observation.
    let (migration_td, api_td, mut observed) = tokio::try_join!(
        register(engine, graph, &wiring, Component::Migration),
        register(engine, graph, &wiring, Component::ApiServer),
        crate::economy::services(engine, &cluster.name),
    )?;
    let api_observed = observed.remove(&cx.names.service(Component::ApiServer.name()));
    let api_current = api_observed
        .as_ref()
        .is_some_and(|o| o.status == "ACTIVE" && o.task_definition == api_td.arn);
    let needs_migration = migration_td.registered || api_td.registered || !api_current;
    let alb_wait = async {
        cx.timing
            .poller(ALB_DEADLINE)
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
        Ok::<(), EngineError>(())
    };
    let migration = async {
        if needs_migration {
            migrate(engine, storage, &migration_td.arn).await
        } else {
            cx.reporter.note(
                orchestrate_ecs::task::KIND,
                "migration skipped: the api-server already runs the current revision",
            );
            Ok(())
        }
    };
    let registry = async {
        let desired = graph.discovery_service(&known).ok_or_else(|| {
            EngineError::Other("the Cloud Map namespace is unknown after phase 1; a bug".into())
        })?;
        orchestrate_discovery::ensure_service(
            &aws.discovery,
            cx,
            &desired.namespace_id,
            &desired.name,
        )
        .await
        .map_err(step("converge the api-server Cloud Map service"))
    };
    let ((), (), registry) = tokio::try_join!(migration, alb_wait, registry)?;
    known.discovery_service_arn = Some(registry.arn.clone());
    let api = graph.service(&known, Component::ApiServer, &api_td.arn);
    deploy(engine, &api, Component::ApiServer, api_observed).await?;
    out.insert(AIRFLOW_URL.into(), lb.url.clone());

    // Phases 3-5.
    for phase in [Phase::Scheduler, Phase::Triggerer, Phase::Worker] {
        if phase > up_to {
            break;
        }
        let components = components_of(phase);
        let registered = futures::future::try_join_all(
            components
                .iter()
                .map(|c| register(engine, graph, &wiring, *c)),
        )
        .await?;
        let deployments = components.iter().zip(&registered).map(|(component, td)| {
            let desired = graph.service(&known, *component, &td.arn);
            let observed = observed.remove(&desired.name);
            async move { deploy(engine, &desired, *component, observed).await }
        });
        futures::future::try_join_all(deployments).await?;
        if phase == Phase::Worker {
            let desired = graph.worker_scaling();
            orchestrate_ecs::autoscaling::ensure(&aws.autoscaling, cx, &desired)
                .await
                .map_err(ecs_step("converge the worker's autoscaling"))?;
        }
    }
    Ok(())
}
