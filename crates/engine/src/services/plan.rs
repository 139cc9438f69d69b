//! `plan` for phases 2-5: the same task definitions, services and load balancer `up` would
//! converge, compared with what exists, from read-only calls only.

use orchestrate_airflow::{Component, Ref, Wiring};
use orchestrate_core::Phase;
use orchestrate_ecs::{ServiceDesired, ServiceNetwork};

use super::{ecs_step, rendered, step, worker_scaling, worker_strategy};
use crate::Engine;
use crate::error::EngineError;

/// Stands for the ARN of a task definition revision `up` would register.
pub const NEW_REVISION: &str = "(new revision)";

/// What `plan` can learn of phase 1 without changing anything: each value is known when the
/// resource exists, a placeholder otherwise.
async fn observed_wiring(
    engine: &Engine,
    account_id: &str,
    alb_dns: Option<&str>,
) -> Result<Wiring, EngineError> {
    let (aws, cx, spec) = (&engine.aws, &engine.cx, &engine.spec);
    let mut wiring = Wiring::pending(spec).with_account(spec, account_id);
    for (slot, name) in [
        (
            &mut wiring.execution_role_arn,
            cx.names.role("ecs-execution"),
        ),
        (&mut wiring.task_role_arn, cx.names.role("ecs-task")),
    ] {
        match aws.iam.get_role().role_name(&name).send().await {
            Ok(out) => {
                if let Some(role) = out.role() {
                    *slot = Ref::known(role.arn());
                }
            }
            Err(e)
                if orchestrate_aws::error_code(&e)
                    .is_some_and(orchestrate_aws::is_not_found_code) => {}
            Err(e) => return Err(orchestrate_aws::aws_error("get role", &name, e).into()),
        }
    }
    let task_group = orchestrate_logs::task_log_group_name(cx);
    if let Some(group) = orchestrate_logs::log_group::find(&aws.logs, &task_group)
        .await
        .map_err(step("read the task log group"))?
    {
        wiring.task_log_group_arn = Ref::known(group.arn);
    }
    let secrets = &mut wiring.secrets;
    for key in orchestrate_airflow::SecretKey::ALL {
        let name = cx.names.secret(key.key());
        let Some(found) = orchestrate_secrets::secret::find(&aws.secrets, &name)
            .await
            .map_err(step("read the secrets"))?
        else {
            continue;
        };
        let slot = match key {
            orchestrate_airflow::SecretKey::SqlAlchemyConn => &mut secrets.sql_alchemy_conn,
            orchestrate_airflow::SecretKey::ResultBackend => &mut secrets.result_backend,
            orchestrate_airflow::SecretKey::BrokerUrl => &mut secrets.broker_url,
            orchestrate_airflow::SecretKey::FernetKey => &mut secrets.fernet_key,
            orchestrate_airflow::SecretKey::JwtSecret => &mut secrets.jwt_secret,
            orchestrate_airflow::SecretKey::ApiSecretKey => &mut secrets.api_secret_key,
            orchestrate_airflow::SecretKey::AdminPassword => &mut secrets.admin_password,
        };
        *slot = Ref::known(found.arn);
    }
    wiring.alb_dns = alb_dns.map(str::to_string);
    Ok(wiring)
}

/// What `up --phase up_to` would change in phases 2..=up_to (read-only): the cluster, the
/// load balancer, each task definition (per field), the Cloud Map service, each ECS service
/// (a revision not registered yet shows as [`NEW_REVISION`]) and the worker's autoscaling.
pub async fn plan(
    engine: &Engine,
    network: Option<&orchestrate_network::NetworkOutputs>,
    up_to: Phase,
) -> Result<Vec<orchestrate_core::Change>, EngineError> {
    let (aws, cx, spec) = (&engine.aws, &engine.cx, &engine.spec);
    let account_id = aws.account_id().await?;
    let empty = orchestrate_network::NetworkOutputs {
        vpc_id: String::new(),
        azs: Vec::new(),
        public_subnet_ids: Vec::new(),
        private_subnet_ids: Vec::new(),
        nat_gateway_ids: Vec::new(),
        security_groups: orchestrate_network::SecurityGroupIds::default(),
    };
    let network = network.unwrap_or(&empty);
    let mut changes = Vec::new();
    let cluster_desired = orchestrate_ecs::ClusterDesired::new(cx);
    let lb_desired = orchestrate_loadbalancer::LoadBalancerDesired::from_spec(
        spec,
        &network.public_subnet_ids,
        &network.security_groups.alb,
        &network.vpc_id,
    );
    let namespace_desired =
        orchestrate_discovery::NamespaceDesired::from_spec(spec, &network.vpc_id);
    let (cluster, lb, alb, target_group, namespace) = tokio::try_join!(
        async {
            orchestrate_ecs::cluster::plan_cluster(&aws.ecs, &cluster_desired)
                .await
                .map_err(ecs_step("plan the ECS cluster"))
        },
        async {
            orchestrate_loadbalancer::plan_load_balancer(&aws.elbv2, cx, &lb_desired)
                .await
                .map_err(step("plan the load balancer"))
        },
        async {
            orchestrate_loadbalancer::alb::find(&aws.elbv2, &cx.names.load_balancer())
                .await
                .map_err(step("read the load balancer"))
        },
        async {
            orchestrate_loadbalancer::target_group::find(&aws.elbv2, &cx.names.target_group())
                .await
                .map_err(step("read the target group"))
        },
        async {
            orchestrate_discovery::find(&aws.discovery, &namespace_desired)
                .await
                .map_err(step("read the Cloud Map namespace"))
        },
    )?;
    changes.push(cluster);
    changes.extend(lb);
    let wiring = observed_wiring(
        engine,
        &account_id,
        alb.as_ref().map(|a| a.dns_name.as_str()),
    )
    .await?;
    let storage_like = |component: Component, arn: &str| {
        let groups = &network.security_groups;
        let security_group = if component == Component::ApiServer {
            groups.api_server.clone()
        } else {
            groups.components.clone()
        };
        (
            ServiceNetwork {
                subnets: network.private_subnet_ids.clone(),
                security_groups: vec![security_group],
                assign_public_ip: false,
            },
            arn.to_string(),
        )
    };
    let registry = match &namespace {
        Some(ns) => {
            let desired = orchestrate_discovery::ServiceDesired::new(
                cx,
                &ns.namespace_id,
                orchestrate_discovery::API_SERVER_SERVICE,
            );
            let observed = orchestrate_discovery::service::find(
                &aws.discovery,
                &ns.namespace_id,
                orchestrate_discovery::API_SERVER_SERVICE,
            )
            .await
            .map_err(step("read the api-server Cloud Map service"))?;
            changes.push(orchestrate_discovery::service::diff(
                &desired,
                observed.as_ref(),
            ));
            observed.map(|o| o.arn)
        }
        None => {
            changes.push(orchestrate_core::Change::new(
                Phase::ApiServer,
                orchestrate_discovery::service::KIND,
                orchestrate_discovery::API_SERVER_SERVICE,
                orchestrate_core::Action::Create,
            ));
            None
        }
    };
    let components: Vec<Component> = Component::ALL
        .iter()
        .copied()
        .filter(|c| c.phase() <= up_to)
        .collect();
    for component in components {
        let (json, _) = rendered(engine, &wiring, component);
        let family = cx.names.service(component.name());
        let active = orchestrate_ecs::taskdef::find_active(&aws.ecs, &family)
            .await
            .map_err(ecs_step(format!(
                "read the {} task definition",
                component.name()
            )))?;
        let change =
            orchestrate_ecs::taskdef::diff(component.phase(), &json, active.as_ref()).map_err(
                ecs_step(format!("plan the {} task definition", component.name())),
            )?;
        let arn = match (&change.action, &active) {
            (orchestrate_core::Action::NoChange, Some(active)) => active.arn.clone(),
            _ => NEW_REVISION.to_string(),
        };
        changes.push(change);
        if !component.is_service() {
            continue;
        }
        let (network, arn) = storage_like(component, &arn);
        let settings = component.spec(spec);
        let mut desired = ServiceDesired::new(
            cx,
            component.name(),
            component.phase(),
            &arn,
            i32::try_from(settings.count).unwrap_or(i32::MAX),
            network,
        )
        .with_grace_seconds(i32::try_from(settings.health_check_grace_seconds).unwrap_or(i32::MAX));
        if component == Component::ApiServer {
            desired = desired.with_load_balancer(orchestrate_ecs::LoadBalancerAttachment {
                target_group_arn: target_group.as_ref().map_or_else(
                    || "(target group to be created)".to_string(),
                    |t| t.arn.clone(),
                ),
                container_name: component.container_name().to_string(),
                container_port: i32::from(orchestrate_airflow::component::API_SERVER_PORT),
            });
            desired = desired.with_service_registry(
                registry
                    .as_deref()
                    .unwrap_or("(Cloud Map service to be created)"),
            );
        }
        if component == Component::Worker {
            let worker = &spec.components.worker;
            desired = desired.autoscaled();
            if worker.spot {
                desired = desired.with_capacity_provider_strategy(worker_strategy(
                    i32::try_from(worker.on_demand_base).unwrap_or(0),
                ));
            }
        }
        changes.push(
            orchestrate_ecs::service::plan_service(&aws.ecs, &desired)
                .await
                .map_err(ecs_step(format!("plan service {}", desired.name)))?,
        );
        if component == Component::Worker {
            let scaling = &worker_scaling(engine);
            changes.extend(
                orchestrate_ecs::autoscaling::plan_autoscaling(&aws.autoscaling, scaling)
                    .await
                    .map_err(ecs_step("plan the worker's autoscaling"))?,
            );
        }
    }
    Ok(changes)
}
