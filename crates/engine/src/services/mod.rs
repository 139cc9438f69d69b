//! Phases 2-5, the Airflow services: cluster, task definitions, the migration task, the ALB,
//! Cloud Map, the ECS services and their rollouts, the worker's autoscaling.
//!
//! Order (each phase starts when the previous one is ready):
//! - while phase 1 waits on RDS and Valkey ([`early`]): the images are copied and
//!   preflighted, then the cluster, the load balancer (ALB, target group, listeners; the ALB
//!   waited active) and the api-server's Cloud Map service converge concurrently; the ALB's
//!   DNS name is part of every task definition (`AIRFLOW__API__BASE_URL`).
//!   With `load_balancer.domain` and `hosted_zone_id` (and no `certificate_arn`), the ACM
//!   certificate is requested once the ALB exists, validated through Route 53 and waited
//!   until issued (in the shadow of RDS as well); then the listeners (HTTPS with that
//!   certificate, HTTP redirecting), then the alias record `domain` → the ALB.
//! - phase 2: the migration and api-server task definitions are registered (only when they
//!   differ from the active revision); the migration task runs, and is waited to STOPPED,
//!   when either definition was registered now or the api-server service does not run the
//!   api-server revision yet. A non-zero exit stops here, before the api-server service is
//!   touched. Then the api-server service and its rollout.
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
use crate::error::{EngineError, ecs_step};
use crate::graph::{Graph, components_of};
use crate::storage::StorageOutputs;

pub mod early;
mod plan;
pub use early::Early;
pub use plan::{plan, version_skew};

/// Added to a component's health-check grace period to make its rollout deadline.
pub const ROLLOUT_MARGIN: Duration = Duration::from_secs(15 * 60);
/// Deadline of the migration task (image pull, `airflow db migrate`, admin user).
pub const MIGRATION_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Deadline of the ALB becoming active (AWS takes 2-5 minutes).
pub const ALB_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Lines of the migration's log shown when it fails.
pub const LOG_TAIL_LINES: i32 = 30;

/// A registered (or adopted) task definition and the digest of its rendering.
struct TaskDefinition {
    registered: orchestrate_ecs::Registered,
    digest: String,
}

/// Registers `component`'s task definition unless the active revision equals it.
///
/// `recorded_by` is the service whose tags may record this rendering (see
/// [`orchestrate_ecs::TAG_TASK_DEFINITION`]; the migration's on the api-server's service,
/// [`orchestrate_ecs::TAG_MIGRATION`]): when the tag's digest is this rendering's (and, for a
/// service, the service runs the recorded revision), that revision is used without a read.
async fn register(
    engine: &Engine,
    graph: &Graph<'_>,
    wiring: &Wiring,
    component: Component,
    recorded_by: Option<&orchestrate_ecs::ServiceObserved>,
) -> Result<TaskDefinition, EngineError> {
    let step = || format!("register the {} task definition", component.name());
    let (json, pending) = graph.task_definition(wiring, component);
    if pending {
        return Err(EngineError::Other(format!(
            "the {} task definition still has placeholders after phase 1; this is a bug",
            component.name()
        )));
    }
    let digest = orchestrate_ecs::digest(&json).map_err(ecs_step(step()))?;
    let key = if component == Component::Migration {
        orchestrate_ecs::TAG_MIGRATION
    } else {
        orchestrate_ecs::TAG_TASK_DEFINITION
    };
    let recorded = recorded_by.and_then(|o| {
        let known = orchestrate_ecs::recorded_for(o.tags.get(key).map(String::as_str), &digest)?;
        let runs_it = o.is_active() && o.task_definition == known.arn;
        (component == Component::Migration || runs_it).then_some(known)
    });
    let registered = match recorded {
        Some(known) => {
            engine.cx.reporter.ready(
                orchestrate_ecs::taskdef::KIND,
                orchestrate_ecs::revision_label(&known.arn),
            );
            known
        }
        None => orchestrate_ecs::register_if_changed(&engine.aws.ecs, &engine.cx, &json)
            .await
            .map_err(ecs_step(step()))?,
    };
    Ok(TaskDefinition { registered, digest })
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
///
/// Once the rollout is done, `stamps` are recorded on the service
/// ([`orchestrate_ecs::service::record_tags`]: no call when its tags already hold them).
async fn deploy(
    engine: &Engine,
    desired: &ServiceDesired,
    component: Component,
    observed: Option<orchestrate_ecs::ServiceObserved>,
    stamps: &[(&str, String)],
) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let done = observed
        .as_ref()
        .is_some_and(|o| orchestrate_ecs::is_rolled_out(o, &desired.task_definition_arn));
    let tags = observed.as_ref().map(|o| o.tags.clone());
    let outputs = orchestrate_ecs::service::ensure_observed(&aws.ecs, cx, desired, observed)
        .await
        .map_err(ecs_step(format!("converge service {}", desired.name)))?;
    let record = || async {
        orchestrate_ecs::service::record_tags(&aws.ecs, &outputs.arn, tags.as_ref(), stamps)
            .await
            .map_err(ecs_step(format!(
                "record the revision of service {}",
                desired.name
            )))
    };
    if done && !outputs.created && !outputs.updated {
        record().await?;
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
    record().await?;
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

/// Converges phases 2..=up_to on top of `storage` and of what [`early::converge`] built
/// while phase 1 waited (cluster, load balancer — active —, Cloud Map service), recording
/// outputs in `out`. Each step holds a permit of the engine's [`crate::concurrency::Limit`].
pub(crate) async fn converge(
    engine: &Engine,
    graph: &Graph<'_>,
    storage: &StorageOutputs,
    early: &Early,
    up_to: Phase,
    out: &mut BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let (aws, cx, limit) = (&engine.aws, &engine.cx, &engine.limit);
    let mut known = storage.known();
    let (cluster, lb) = (&early.cluster, &early.load_balancer);
    out.insert("cluster".into(), cluster.name.clone());
    known.alb_dns = Some(lb.dns_name.clone());
    known.alb_arn = Some(lb.load_balancer_arn.clone());
    known.alb_zone_id = Some(lb.hosted_zone_id.clone());
    known.target_group_arn = Some(lb.target_group_arn.clone());
    let wiring = graph.wiring(&known);

    // Phase 2: migration first, then the api-server. Every service of the deployment is
    // read here, in one DescribeServices, and each is ensured from that observation; a
    // service's tags may spare its task definition's read (see `register`).
    let mut observed = limit
        .run(crate::economy::services(engine, &cluster.name))
        .await?;
    let api_observed = observed.remove(&cx.names.service(Component::ApiServer.name()));
    let (migration_td, api_td) = tokio::try_join!(
        limit.run(register(
            engine,
            graph,
            &wiring,
            Component::Migration,
            api_observed.as_ref(),
        )),
        limit.run(register(
            engine,
            graph,
            &wiring,
            Component::ApiServer,
            api_observed.as_ref(),
        )),
    )?;
    let stamps = [
        (
            orchestrate_ecs::TAG_TASK_DEFINITION,
            orchestrate_ecs::stamp(&api_td.registered.arn, &api_td.digest),
        ),
        (
            orchestrate_ecs::TAG_MIGRATION,
            orchestrate_ecs::stamp(&migration_td.registered.arn, &migration_td.digest),
        ),
    ];
    let (migration_td, api_td) = (migration_td.registered, api_td.registered);
    let api_current = api_observed
        .as_ref()
        .is_some_and(|o| o.is_active() && o.task_definition == api_td.arn);
    let needs_migration = migration_td.registered || api_td.registered || !api_current;
    let migration = async {
        if needs_migration {
            limit.run(migrate(engine, storage, &migration_td.arn)).await
        } else {
            cx.reporter.note(
                orchestrate_ecs::task::KIND,
                "migration skipped: the api-server already runs the current revision",
            );
            Ok(())
        }
    };
    // Every alarm of the phases up to `up_to`, before the api-server service names its
    // deployment alarm.
    let alarms = limit.run(crate::alarms::converge(engine, graph, &known, up_to));
    tokio::try_join!(migration, alarms)?;
    known.discovery_service_arn = Some(early.registry.arn.clone());
    let api = graph.service(&known, Component::ApiServer, &api_td.arn);
    limit
        .run(deploy(
            engine,
            &api,
            Component::ApiServer,
            api_observed,
            &stamps,
        ))
        .await?;
    out.insert(AIRFLOW_URL.into(), lb.url.clone());

    // Phases 3-5.
    for phase in [Phase::Scheduler, Phase::Triggerer, Phase::Worker] {
        if phase > up_to {
            break;
        }
        let components = components_of(phase);
        let seen: Vec<Option<orchestrate_ecs::ServiceObserved>> = components
            .iter()
            .map(|c| observed.remove(&cx.names.service(c.name())))
            .collect();
        let registered = futures::future::try_join_all(
            components
                .iter()
                .zip(&seen)
                .map(|(c, o)| limit.run(register(engine, graph, &wiring, *c, o.as_ref()))),
        )
        .await?;
        let deployments =
            components
                .iter()
                .zip(registered)
                .zip(seen)
                .map(|((component, td), observed)| {
                    let desired = graph.service(&known, *component, &td.registered.arn);
                    let stamps = [(
                        orchestrate_ecs::TAG_TASK_DEFINITION,
                        orchestrate_ecs::stamp(&td.registered.arn, &td.digest),
                    )];
                    async move {
                        limit
                            .run(deploy(engine, &desired, *component, observed, &stamps))
                            .await
                    }
                });
        futures::future::try_join_all(deployments).await?;
        if phase == Phase::Worker {
            let desired = graph.worker_scaling();
            limit
                .run(orchestrate_ecs::autoscaling::ensure(
                    &aws.autoscaling,
                    cx,
                    &desired,
                ))
                .await
                .map_err(ecs_step("converge the worker's autoscaling"))?;
        }
    }
    Ok(())
}
