//! Converging a service: what differs, the plan, create, and an UpdateService carrying only
//! the drifted fields.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentAlarms as SdkDeploymentAlarms,
    DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, PropagateTags, ServiceRegistry,
};
use orchestrate_aws::{aws_error, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, ReporterExt};

use super::{
    CircuitBreaker, DRAINED_WITHIN, DeploymentAlarms, KIND, LoadBalancerAttachment,
    RegistryAttachment, ServiceDesired, ServiceNetwork, ServiceObserved, ServiceOutputs, find,
    wait_deleted,
};
use crate::cluster::{StrategyItem, show_strategy, sorted};
use crate::error::{Error, Result};
use crate::util::{
    EVENTUAL_ATTEMPTS, Eventual, ROLE_NOT_READY, TARGET_GROUP_NOT_READY, ecs_tags, revision_label,
    stable_token,
};

/// Which UpdateService fields differ, with their plan lines.
#[derive(Debug, Default)]
struct Drift {
    task_definition: bool,
    desired_count: bool,
    grace: bool,
    network: bool,
    strategy: bool,
    deployment: bool,
    /// The service has deployment alarms the desired state drops.
    clear_alarms: bool,
    load_balancers: bool,
    registries: bool,
    exec: bool,
    propagate: bool,
    fields: Vec<FieldChange>,
}

fn sorted_strings(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn show_network(n: &ServiceNetwork) -> String {
    format!(
        "subnets [{}], security groups [{}], public IP {}",
        sorted_strings(&n.subnets).join(", "),
        sorted_strings(&n.security_groups).join(", "),
        if n.assign_public_ip { "on" } else { "off" }
    )
}

fn drift(desired: &ServiceDesired, o: &ServiceObserved) -> Drift {
    let mut fields = Vec::new();
    let mut push = |name: &str, from: String, to: String| {
        fields.push(FieldChange::new(name, Some(from), Some(to)));
    };
    let task_definition = o.task_definition != desired.task_definition_arn;
    if task_definition {
        push(
            "taskDefinition",
            revision_label(&o.task_definition).to_string(),
            revision_label(&desired.task_definition_arn).to_string(),
        );
    }
    let desired_count = desired.manage_desired_count && o.desired_count != desired.desired_count;
    if desired_count {
        push(
            "desiredCount",
            o.desired_count.to_string(),
            desired.desired_count.to_string(),
        );
    }
    let observed_grace = o.health_check_grace_seconds.unwrap_or(0);
    let grace = desired
        .health_check_grace_seconds
        .is_some_and(|g| g != observed_grace);
    if grace {
        push(
            "healthCheckGracePeriodSeconds",
            observed_grace.to_string(),
            desired.health_check_grace_seconds.unwrap_or(0).to_string(),
        );
    }
    let network = sorted_strings(&o.network.subnets) != sorted_strings(&desired.network.subnets)
        || sorted_strings(&o.network.security_groups)
            != sorted_strings(&desired.network.security_groups)
        || o.network.assign_public_ip != desired.network.assign_public_ip;
    if network {
        push(
            "networkConfiguration",
            show_network(&o.network),
            show_network(&desired.network),
        );
    }
    let strategy =
        sorted(&o.capacity_provider_strategy) != sorted(&desired.capacity_provider_strategy);
    if strategy {
        push(
            "capacityProviderStrategy",
            show_strategy(&o.capacity_provider_strategy),
            show_strategy(&desired.capacity_provider_strategy),
        );
    }
    let deployment = o.circuit_breaker != Some(desired.circuit_breaker)
        || o.minimum_healthy_percent != Some(desired.minimum_healthy_percent)
        || o.maximum_percent != Some(desired.maximum_percent);
    if deployment {
        let show = |cb: Option<CircuitBreaker>, min: Option<i32>, max: Option<i32>| {
            format!(
                "circuit breaker {}, rollback {}, min {}%, max {}%",
                cb.is_some_and(|c| c.enable),
                cb.is_some_and(|c| c.rollback),
                min.map_or("-".into(), |v| v.to_string()),
                max.map_or("-".into(), |v| v.to_string()),
            )
        };
        push(
            "deploymentConfiguration",
            show(
                o.circuit_breaker,
                o.minimum_healthy_percent,
                o.maximum_percent,
            ),
            show(
                Some(desired.circuit_breaker),
                Some(desired.minimum_healthy_percent),
                Some(desired.maximum_percent),
            ),
        );
    }
    let alarms = o.deployment_alarms != desired.deployment_alarms;
    if alarms {
        let show = |a: Option<&DeploymentAlarms>| {
            a.map_or_else(
                || "none".to_string(),
                |a| {
                    format!(
                        "[{}], enable {}, rollback {}",
                        a.alarm_names.join(", "),
                        a.enable,
                        a.rollback
                    )
                },
            )
        };
        push(
            "deploymentConfiguration.alarms",
            show(o.deployment_alarms.as_ref()),
            show(desired.deployment_alarms.as_ref()),
        );
    }
    let want_lbs: Vec<_> = desired.load_balancer.iter().cloned().collect();
    let mut have_lbs = o.load_balancers.clone();
    have_lbs.sort();
    let load_balancers = have_lbs != want_lbs;
    if load_balancers {
        let show = |v: &[LoadBalancerAttachment]| {
            v.iter()
                .map(|l| {
                    format!(
                        "{} -> {}:{}",
                        l.target_group_arn, l.container_name, l.container_port
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        push("loadBalancers", show(&have_lbs), show(&want_lbs));
    }
    let want_regs: Vec<_> = desired.service_registry.iter().cloned().collect();
    let mut have_regs = o.service_registries.clone();
    have_regs.sort();
    let registries = have_regs != want_regs;
    if registries {
        let show = |v: &[RegistryAttachment]| {
            v.iter()
                .map(|r| r.registry_arn.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        push("serviceRegistries", show(&have_regs), show(&want_regs));
    }
    let exec = o.enable_execute_command != desired.enable_execute_command;
    if exec {
        push(
            "enableExecuteCommand",
            o.enable_execute_command.to_string(),
            desired.enable_execute_command.to_string(),
        );
    }
    let propagate = o.propagate_tags.as_deref() != Some("SERVICE");
    if propagate {
        push(
            "propagateTags",
            o.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
            "SERVICE".into(),
        );
    }
    Drift {
        task_definition,
        desired_count,
        grace,
        network,
        strategy,
        deployment: deployment || alarms,
        clear_alarms: alarms && desired.deployment_alarms.is_none(),
        load_balancers,
        registries,
        exec,
        propagate,
        fields,
    }
}

/// What [`ensure`] would do (pure).
pub fn diff(desired: &ServiceDesired, observed: Option<&ServiceObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let fields = drift(desired, o).fields;
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(desired.phase, KIND, &desired.name, action)
}

/// The plan for a service.
///
/// # Errors
/// [`Error::DescribeServices`].
pub async fn plan_service(client: &Client, desired: &ServiceDesired) -> Result<Change> {
    let observed = find(client, &desired.cluster, &desired.name).await?;
    Ok(diff(desired, observed.as_ref()))
}

fn network_sdk(n: &ServiceNetwork) -> Option<NetworkConfiguration> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(n.subnets.clone()))
        .set_security_groups(Some(n.security_groups.clone()))
        .assign_public_ip(if n.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .ok()?;
    Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    )
}

/// The service's deploymentConfiguration. `clear_alarms`: when the service has deployment
/// alarms and the desired state has none, send an empty, disabled set (an UpdateService
/// without `alarms` keeps the previous ones).
fn deployment_sdk(desired: &ServiceDesired, clear_alarms: bool) -> Option<DeploymentConfiguration> {
    let breaker = DeploymentCircuitBreaker::builder()
        .enable(desired.circuit_breaker.enable)
        .rollback(desired.circuit_breaker.rollback)
        .build();
    let alarms = match &desired.deployment_alarms {
        Some(a) => Some(
            SdkDeploymentAlarms::builder()
                .set_alarm_names(Some(a.alarm_names.clone()))
                .enable(a.enable)
                .rollback(a.rollback)
                .build()
                .ok()?,
        ),
        None if clear_alarms => Some(
            SdkDeploymentAlarms::builder()
                .set_alarm_names(Some(Vec::new()))
                .enable(false)
                .rollback(false)
                .build()
                .ok()?,
        ),
        None => None,
    };
    Some(
        DeploymentConfiguration::builder()
            .deployment_circuit_breaker(breaker)
            .minimum_healthy_percent(desired.minimum_healthy_percent)
            .maximum_percent(desired.maximum_percent)
            .set_alarms(alarms)
            .build(),
    )
}

fn load_balancers_sdk(desired: &ServiceDesired) -> Vec<LoadBalancer> {
    desired
        .load_balancer
        .iter()
        .map(|l| {
            LoadBalancer::builder()
                .target_group_arn(&l.target_group_arn)
                .container_name(&l.container_name)
                .container_port(l.container_port)
                .build()
        })
        .collect()
}

fn registries_sdk(desired: &ServiceDesired) -> Vec<ServiceRegistry> {
    desired
        .service_registry
        .iter()
        .map(|r| {
            ServiceRegistry::builder()
                .registry_arn(&r.registry_arn)
                .build()
        })
        .collect()
}

fn is_not_idempotent<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> bool {
    e.message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("not idempotent"))
}

/// Creates the service with its tags when absent, or updates only the drifted fields (one
/// UpdateService carrying just those; `forceNewDeployment` when the capacity provider
/// strategy or ECS Exec changes, as ECS requires for those to reach running tasks). Makes no
/// mutating call when nothing differs. Does not wait for the rollout: see
/// [`crate::rollout::wait_rollout`].
///
/// A DRAINING service of the same name (a teardown moments ago) is waited out (at most
/// 10 min, scaled) before it is recreated. CreateService is retried while ECS cannot assume a
/// role yet or the target group's listener is seconds old; a CreateService whose response
/// was lost and that ECS then calls "not idempotent" adopts the existing service.
///
/// # Errors
/// [`Error::DescribeServices`], [`Error::CreateService`], [`Error::UpdateService`],
/// [`Error::Wait`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &ServiceDesired,
) -> Result<ServiceOutputs> {
    let observed = find(client, &desired.cluster, &desired.name).await?;
    ensure_observed(client, cx, desired, observed).await
}

/// [`ensure`] from an observation made earlier in the same run ([`super::find`] or
/// [`super::find_many`]: `None` when the service did not exist), so that a service read in a
/// batch is not described again. The observation is only used to decide what to send; with
/// the run's lease held, nothing else changes a service's settings in between.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_observed(
    client: &Client,
    cx: &Context,
    desired: &ServiceDesired,
    observed: Option<ServiceObserved>,
) -> Result<ServiceOutputs> {
    let mut observed = observed;
    if observed.as_ref().is_some_and(ServiceObserved::is_draining) {
        cx.reporter.note(
            KIND,
            format!(
                "{} is draining from an earlier delete; waiting for it to finish",
                desired.name
            ),
        );
        wait_deleted(client, cx, &desired.cluster, &desired.name, DRAINED_WITHIN).await?;
        observed = None;
    }
    let observed = match observed {
        Some(o) => o,
        None => match create(client, cx, desired).await? {
            Created::New(outputs) => return Ok(outputs),
            Created::Existing(o) => *o,
        },
    };
    let drift = drift(desired, &observed);
    if drift.fields.is_empty() {
        cx.reporter.ready(KIND, &desired.name);
        return Ok(ServiceOutputs {
            arn: observed.arn,
            name: observed.name,
            created: false,
            updated: false,
        });
    }
    cx.reporter.applying(KIND, &desired.name, "update");
    update_call(client, desired, &drift)
        .send()
        .await
        .map_err(|e| Error::UpdateService(aws_error("update service", &desired.name, e)))?;
    Ok(ServiceOutputs {
        arn: observed.arn,
        name: observed.name,
        created: false,
        updated: true,
    })
}

fn update_call(
    client: &Client,
    desired: &ServiceDesired,
    drift: &Drift,
) -> UpdateServiceFluentBuilder {
    let mut call = client
        .update_service()
        .cluster(&desired.cluster)
        .service(&desired.name);
    if drift.task_definition {
        call = call.task_definition(&desired.task_definition_arn);
    }
    if drift.desired_count {
        call = call.desired_count(desired.desired_count);
    }
    if drift.grace {
        call = call.set_health_check_grace_period_seconds(desired.health_check_grace_seconds);
    }
    if drift.network {
        call = call.set_network_configuration(network_sdk(&desired.network));
    }
    if drift.strategy {
        // An empty list moves the service back to its launch type (ECS, June 2025).
        call = call
            .set_capacity_provider_strategy(Some(
                desired
                    .capacity_provider_strategy
                    .iter()
                    .filter_map(StrategyItem::to_sdk)
                    .collect(),
            ))
            .force_new_deployment(true);
    }
    if drift.deployment {
        call = call.set_deployment_configuration(deployment_sdk(desired, drift.clear_alarms));
    }
    if drift.load_balancers {
        call = call.set_load_balancers(Some(load_balancers_sdk(desired)));
    }
    if drift.registries {
        call = call.set_service_registries(Some(registries_sdk(desired)));
    }
    if drift.exec {
        call = call
            .enable_execute_command(desired.enable_execute_command)
            .force_new_deployment(true);
    }
    if drift.propagate {
        call = call.propagate_tags(PropagateTags::Service);
    }
    call
}

enum Created {
    New(ServiceOutputs),
    Existing(Box<ServiceObserved>),
}

/// CreateService's `clientToken`: derived from the cluster, the service and the task-definition
/// revision, so a CreateService retried after a lost response or a crash is answered with the
/// first service, and a service re-created after a teardown (a new revision) gets a new token.
pub fn create_token(desired: &ServiceDesired) -> String {
    stable_token(&[
        &desired.cluster,
        &desired.name,
        &desired.task_definition_arn,
    ])
}

async fn create(client: &Client, cx: &Context, desired: &ServiceDesired) -> Result<Created> {
    cx.reporter.applying(KIND, &desired.name, "create");
    let mut call = client
        .create_service()
        .cluster(&desired.cluster)
        .service_name(&desired.name)
        .task_definition(&desired.task_definition_arn)
        .desired_count(desired.desired_count)
        .set_network_configuration(network_sdk(&desired.network))
        .set_health_check_grace_period_seconds(desired.health_check_grace_seconds)
        .set_load_balancers(Some(load_balancers_sdk(desired)).filter(|v| !v.is_empty()))
        .set_service_registries(Some(registries_sdk(desired)).filter(|v| !v.is_empty()))
        .enable_execute_command(desired.enable_execute_command)
        .propagate_tags(PropagateTags::Service)
        .set_deployment_configuration(deployment_sdk(desired, false))
        .set_tags(Some(ecs_tags(&desired.tags)))
        .client_token(create_token(desired));
    call = if desired.capacity_provider_strategy.is_empty() {
        call.launch_type(LaunchType::Fargate)
    } else {
        call.set_capacity_provider_strategy(Some(
            desired
                .capacity_provider_strategy
                .iter()
                .filter_map(StrategyItem::to_sdk)
                .collect(),
        ))
    };
    let result = retry_eventual(
        cx.timing,
        &[ROLE_NOT_READY, TARGET_GROUP_NOT_READY],
        EVENTUAL_ATTEMPTS,
        || {
            let call = call.clone();
            async move { call.send().await.map_err(Eventual) }
        },
    )
    .await;
    match result {
        Ok(out) => {
            let arn = required(
                out.service().and_then(|s| s.service_arn()),
                "create service",
                &desired.name,
                "service.serviceArn",
            )
            .map_err(Error::CreateService)?
            .to_string();
            Ok(Created::New(ServiceOutputs {
                arn,
                name: desired.name.clone(),
                created: true,
                updated: false,
            }))
        }
        Err(Eventual(e)) if e.as_service_error().is_some_and(is_not_idempotent) => {
            // The first CreateService was applied but its response lost: adopt that service.
            cx.reporter.note(
                KIND,
                format!("{} already exists; adopting it", desired.name),
            );
            match find(client, &desired.cluster, &desired.name).await? {
                Some(o) => Ok(Created::Existing(Box::new(o))),
                None => Err(Error::CreateService(aws_error(
                    "create service",
                    &desired.name,
                    e,
                ))),
            }
        }
        Err(Eventual(e)) => Err(Error::CreateService(aws_error(
            "create service",
            &desired.name,
            e,
        ))),
    }
}
