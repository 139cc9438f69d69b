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

use orchestrate_airflow::{Component, Ref, Wiring};
use orchestrate_core::{Phase, ReporterExt};
use orchestrate_ecs::{ServiceDesired, ServiceNetwork, StrategyItem};
use serde_json::Value;

use crate::error::EngineError;
use crate::storage::StorageOutputs;
use crate::{Engine, ResourceStatus};

mod plan;
pub use plan::{NEW_REVISION, plan};

/// Added to a component's health-check grace period to make its rollout deadline.
pub const ROLLOUT_MARGIN: Duration = Duration::from_secs(15 * 60);
/// Deadline of the migration task (image pull, `airflow db migrate`, admin user).
pub const MIGRATION_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Deadline of the ALB becoming active (AWS takes 2-5 minutes).
pub const ALB_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Lines of the migration's log shown when it fails.
pub const LOG_TAIL_LINES: i32 = 30;

/// The long-running components of each phase.
pub fn components_of(phase: Phase) -> &'static [Component] {
    match phase {
        Phase::Storage => &[],
        Phase::ApiServer => &[Component::ApiServer],
        Phase::Scheduler => &[Component::Scheduler, Component::DagProcessor],
        Phase::Triggerer => &[Component::Triggerer],
        Phase::Worker => &[Component::Worker],
    }
}

/// The wiring of a deployment whose phase 1 exists.
pub fn wiring(engine: &Engine, storage: &StorageOutputs, alb_dns: Option<&str>) -> Wiring {
    let spec = &engine.spec;
    let mut wiring = Wiring::pending(spec).with_account(spec, &storage.account_id);
    if spec.image.repository.is_empty() {
        wiring.airflow_image = Ref::known(format!(
            "{}:{}",
            storage.registry.airflow_repository_uri, spec.image.tag
        ));
    }
    if spec.git_sync.image.is_empty() {
        wiring.git_sync_image = Ref::known(format!(
            "{}:{}",
            storage.registry.git_sync_repository_uri, spec.git_sync.image_tag
        ));
    }
    wiring.execution_role_arn = Ref::known(&storage.iam.execution_role_arn);
    wiring.task_role_arn = Ref::known(&storage.iam.task_role_arn);
    wiring.log_group = storage.logs.log_group_name.clone();
    wiring.task_log_group_arn = Ref::known(&storage.logs.task_log_group_arn);
    wiring.namespace = storage.namespace.namespace_name.clone();
    let secrets = &mut wiring.secrets;
    for key in orchestrate_airflow::SecretKey::ALL {
        if let Some(arn) = storage.secret_arns.get(key.key()) {
            let slot = match key {
                orchestrate_airflow::SecretKey::SqlAlchemyConn => &mut secrets.sql_alchemy_conn,
                orchestrate_airflow::SecretKey::ResultBackend => &mut secrets.result_backend,
                orchestrate_airflow::SecretKey::BrokerUrl => &mut secrets.broker_url,
                orchestrate_airflow::SecretKey::FernetKey => &mut secrets.fernet_key,
                orchestrate_airflow::SecretKey::JwtSecret => &mut secrets.jwt_secret,
                orchestrate_airflow::SecretKey::ApiSecretKey => &mut secrets.api_secret_key,
                orchestrate_airflow::SecretKey::AdminPassword => &mut secrets.admin_password,
            };
            *slot = Ref::known(arn);
        }
    }
    wiring.alb_dns = alb_dns.map(str::to_string);
    wiring
}

/// The RegisterTaskDefinition request of `component`, with the deployment's tags.
pub fn rendered(engine: &Engine, wiring: &Wiring, component: Component) -> (Value, bool) {
    let definition = orchestrate_airflow::task_definition(&engine.spec, wiring, component);
    let pending = orchestrate_airflow::has_placeholders(&definition);
    let tags = engine.cx.tags(
        &format!("ecs/{}", component.name()),
        component.phase(),
        &definition.family,
    );
    let json =
        orchestrate_ecs::taskdef::with_tags(&orchestrate_airflow::to_json(&definition), &tags);
    (json, pending)
}

pub(super) fn ecs_step(
    what: impl Into<String>,
) -> impl FnOnce(orchestrate_ecs::Error) -> EngineError {
    let what = what.into();
    move |e| EngineError::ecs(what, e)
}

pub(super) fn step<E: std::error::Error + orchestrate_core::Classify + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> EngineError {
    move |e| EngineError::step(what, e)
}

/// Registers `component`'s task definition unless the active revision equals it.
async fn register(
    engine: &Engine,
    wiring: &Wiring,
    component: Component,
) -> Result<orchestrate_ecs::Registered, EngineError> {
    let (json, pending) = rendered(engine, wiring, component);
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

/// The service of `component` as the spec wants it (without phase-2 attachments).
fn service_desired(
    engine: &Engine,
    storage: &StorageOutputs,
    component: Component,
    task_definition_arn: &str,
) -> ServiceDesired {
    let spec = &engine.spec;
    let settings = component.spec(spec);
    let groups = &storage.network.security_groups;
    let security_group = if component == Component::ApiServer {
        groups.api_server.clone()
    } else {
        groups.components.clone()
    };
    let network = ServiceNetwork {
        subnets: storage.network.private_subnet_ids.clone(),
        security_groups: vec![security_group],
        assign_public_ip: false,
    };
    let mut count = i32::try_from(settings.count).unwrap_or(i32::MAX);
    if component == Component::Worker {
        let scaling = &spec.components.worker.autoscaling;
        count = count.clamp(
            i32::try_from(scaling.min).unwrap_or(1),
            i32::try_from(scaling.max).unwrap_or(i32::MAX),
        );
    }
    let mut desired = ServiceDesired::new(
        &engine.cx,
        component.name(),
        component.phase(),
        task_definition_arn,
        count,
        network,
    )
    .with_grace_seconds(i32::try_from(settings.health_check_grace_seconds).unwrap_or(i32::MAX));
    if component == Component::Worker {
        desired = desired.autoscaled();
        let worker = &spec.components.worker;
        if worker.spot {
            desired = desired.with_capacity_provider_strategy(worker_strategy(
                i32::try_from(worker.on_demand_base).unwrap_or(0),
            ));
        }
    }
    desired
}

/// Workers on Fargate Spot above an on-demand base.
pub fn worker_strategy(on_demand_base: i32) -> Vec<StrategyItem> {
    vec![
        StrategyItem::new("FARGATE", on_demand_base, 0),
        StrategyItem::new("FARGATE_SPOT", 0, 1),
    ]
}

/// The rollout deadline of `component`: grace period + margin (scaled inside the wait).
fn rollout_deadline(engine: &Engine, component: Component) -> Duration {
    Duration::from_secs(u64::from(
        component.spec(&engine.spec).health_check_grace_seconds,
    )) + ROLLOUT_MARGIN
}

/// Ensures the service and waits for its rollout of `task_definition_arn`.
async fn deploy(
    engine: &Engine,
    desired: &ServiceDesired,
    component: Component,
) -> Result<(), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    orchestrate_ecs::service::ensure(&aws.ecs, cx, desired)
        .await
        .map_err(ecs_step(format!("converge service {}", desired.name)))?;
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
    let task = orchestrate_ecs::OneOffTask {
        cluster: cluster.clone(),
        task_definition_arn: task_definition_arn.to_string(),
        subnets: storage.network.private_subnet_ids.clone(),
        security_groups: vec![storage.network.security_groups.components.clone()],
        container_name: component.container_name().to_string(),
        command_override: None,
        client_token: None,
        tags: cx.tags(
            "ecs/migration",
            Phase::ApiServer,
            &cx.names.service("migration"),
        ),
    };
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

/// Converges phases 2..=up_to on top of `storage`, recording outputs in `out`.
pub async fn converge(
    engine: &Engine,
    storage: &StorageOutputs,
    up_to: Phase,
    out: &mut BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let (aws, cx, spec) = (&engine.aws, &engine.cx, &engine.spec);
    let network = &storage.network;
    let cluster_desired = orchestrate_ecs::ClusterDesired::new(cx);
    let lb_desired = orchestrate_loadbalancer::LoadBalancerDesired::from_spec(
        spec,
        &network.public_subnet_ids,
        &network.security_groups.alb,
        &network.vpc_id,
    );
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
    let wiring = wiring(engine, storage, Some(&lb.dns_name));

    // Phase 2: migration first, then the api-server.
    let (migration_td, api_td, api_observed) = tokio::try_join!(
        register(engine, &wiring, Component::Migration),
        register(engine, &wiring, Component::ApiServer),
        async {
            orchestrate_ecs::service::find(&aws.ecs, &cluster.name, &cx.names.service("api-server"))
                .await
                .map_err(ecs_step("read the api-server service"))
        },
    )?;
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
        orchestrate_discovery::ensure_service(
            &aws.discovery,
            cx,
            &storage.namespace.namespace_id,
            orchestrate_discovery::API_SERVER_SERVICE,
        )
        .await
        .map_err(step("converge the api-server Cloud Map service"))
    };
    let ((), (), registry) = tokio::try_join!(migration, alb_wait, registry)?;
    let api = service_desired(engine, storage, Component::ApiServer, &api_td.arn)
        .with_load_balancer(orchestrate_ecs::LoadBalancerAttachment {
            target_group_arn: lb.target_group_arn.clone(),
            container_name: Component::ApiServer.container_name().to_string(),
            container_port: i32::from(orchestrate_airflow::component::API_SERVER_PORT),
        })
        .with_service_registry(&registry.arn);
    deploy(engine, &api, Component::ApiServer).await?;
    out.insert("airflow url".into(), lb.url.clone());

    // Phases 3-5.
    for phase in [Phase::Scheduler, Phase::Triggerer, Phase::Worker] {
        if phase > up_to {
            break;
        }
        let components = components_of(phase);
        let registered =
            futures::future::try_join_all(components.iter().map(|c| register(engine, &wiring, *c)))
                .await?;
        let deployments = components.iter().zip(&registered).map(|(component, td)| {
            let desired = service_desired(engine, storage, *component, &td.arn);
            async move { deploy(engine, &desired, *component).await }
        });
        futures::future::try_join_all(deployments).await?;
        if phase == Phase::Worker {
            let desired = worker_scaling(engine);
            orchestrate_ecs::autoscaling::ensure(&aws.autoscaling, cx, &desired)
                .await
                .map_err(ecs_step("converge the worker's autoscaling"))?;
        }
    }
    Ok(())
}

/// Every service of phases 2-5 with its rollout state (one batched DescribeServices).
pub async fn status(engine: &Engine) -> Result<Vec<ResourceStatus>, EngineError> {
    let cx = &engine.cx;
    let components: Vec<Component> = Component::ALL
        .iter()
        .copied()
        .filter(|c| c.is_service())
        .collect();
    let names: Vec<String> = components
        .iter()
        .map(|c| cx.names.service(c.name()))
        .collect();
    let services = orchestrate_ecs::describe_services(&engine.aws.ecs, &cx.names.cluster(), &names)
        .await
        .map_err(ecs_step("read the ECS services"))?;
    Ok(components
        .iter()
        .zip(services)
        .map(|(component, s)| {
            let state = if s.status == "MISSING" || s.status == "INACTIVE" {
                "absent".to_string()
            } else {
                format!(
                    "{} {}/{} running{}; {}",
                    s.status.to_lowercase(),
                    s.running_count,
                    s.desired_count,
                    s.task_definition
                        .as_deref()
                        .map(|td| format!(" {}", orchestrate_ecs::revision_label(td)))
                        .unwrap_or_default(),
                    s.deployments_line()
                )
            };
            ResourceStatus {
                phase: component.phase().number(),
                kind: orchestrate_ecs::service::KIND.into(),
                name: s.name,
                state,
            }
        })
        .collect())
}

/// The worker's autoscaling as the spec wants it.
pub(super) fn worker_scaling(engine: &Engine) -> orchestrate_ecs::AutoscalingDesired {
    let scaling = &engine.spec.components.worker.autoscaling;
    orchestrate_ecs::AutoscalingDesired::new(
        &engine.cx,
        &engine.cx.names.service(Component::Worker.name()),
        i32::try_from(scaling.min).unwrap_or(1),
        i32::try_from(scaling.max).unwrap_or(i32::MAX),
        f64::from(scaling.cpu_target),
        f64::from(scaling.memory_target),
    )
}
