//! ECS services: one per long-running Airflow component, Fargate, private subnets, the
//! deployment circuit breaker with rollback on.

mod converge;

pub use converge::{create_token, diff, ensure, ensure_observed, plan_service};

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{AssignPublicIp, Service, ServiceField};
use orchestrate_aws::{AwsError, aws_error, required};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Tags};

use crate::cluster::StrategyItem;
use crate::error::{Error, Result};
use crate::rollout::{DeploymentSummary, EventSummary};
use crate::util::{UNKNOWN, tag_map};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "ecs/service";

/// How long a DRAINING service of the same name may take to become INACTIVE before ensure
/// recreates it.
const DRAINED_WITHIN: Duration = Duration::from_secs(600);

/// Private networking of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceNetwork {
    /// Private subnet ids.
    pub subnets: Vec<String>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// Public IP on each task (always false here: tasks reach out through the NAT).
    pub assign_public_ip: bool,
}

/// The ALB target group a service registers its tasks with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadBalancerAttachment {
    /// Target group ARN.
    pub target_group_arn: String,
    /// Container receiving traffic.
    pub container_name: String,
    /// Its port.
    pub container_port: i32,
}

/// The Cloud Map service a service registers its tasks in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegistryAttachment {
    /// Cloud Map service ARN.
    pub registry_arn: String,
}

/// Deployment circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Stop a deployment whose tasks keep failing.
    pub enable: bool,
    /// Roll back to the last completed deployment when it stops.
    pub rollback: bool,
}

/// ECS deployment alarms: CloudWatch alarms ECS watches during a rollout, failing (and with
/// `rollback`, rolling back) a deployment while one of them is in ALARM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentAlarms {
    /// Alarm names, sorted.
    pub alarm_names: Vec<String>,
    /// ECS watches them.
    pub enable: bool,
    /// A deployment failed by an alarm rolls back to the last completed one.
    pub rollback: bool,
}

impl DeploymentAlarms {
    /// Watch `names` and roll back on ALARM.
    pub fn rollback_on(names: &[String]) -> Self {
        let mut alarm_names = names.to_vec();
        alarm_names.sort();
        alarm_names.dedup();
        Self {
            alarm_names,
            enable: true,
            rollback: true,
        }
    }

    /// `None` for a configuration that watches nothing (how AWS may describe "no alarms").
    fn normalized(self) -> Option<Self> {
        (self.enable || self.rollback || !self.alarm_names.is_empty()).then_some(self)
    }
}

/// What a service should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDesired {
    /// Cluster name.
    pub cluster: String,
    /// Service name ([`orchestrate_core::Names::service`]).
    pub name: String,
    /// Phase the service belongs to.
    pub phase: Phase,
    /// Task definition ARN (with revision) to run.
    pub task_definition_arn: String,
    /// Desired task count.
    pub desired_count: i32,
    /// False when Application Auto Scaling owns the count after creation (the worker):
    /// [`ensure`] then never changes `desiredCount` of an existing service.
    pub manage_desired_count: bool,
    /// Subnets, security groups, public IP.
    pub network: ServiceNetwork,
    /// Seconds ECS ignores failing load-balancer and container health checks of a new task.
    pub health_check_grace_seconds: Option<i32>,
    /// Target group, if the service is behind the ALB.
    pub load_balancer: Option<LoadBalancerAttachment>,
    /// Cloud Map service, if the service is discoverable.
    pub service_registry: Option<RegistryAttachment>,
    /// Capacity provider strategy; empty means `launchType` FARGATE.
    pub capacity_provider_strategy: Vec<StrategyItem>,
    /// ECS Exec on.
    pub enable_execute_command: bool,
    /// Deployment circuit breaker.
    pub circuit_breaker: CircuitBreaker,
    /// Minimum healthy percent during a deployment.
    pub minimum_healthy_percent: i32,
    /// Maximum percent during a deployment.
    pub maximum_percent: i32,
    /// Deployment alarms (the api-server's 5xx alarm when `[alarms]` is active).
    pub deployment_alarms: Option<DeploymentAlarms>,
    /// Tags sent with CreateService (and propagated to tasks).
    pub tags: Tags,
}

impl ServiceDesired {
    /// The service of Airflow `component` (`api-server`, `worker`, ...) in `phase`, running
    /// `task_definition_arn` with `desired_count` tasks in `network`; every other setting at
    /// this project's defaults: no load balancer, no registry, launch type FARGATE, ECS Exec
    /// on, circuit breaker with rollback, 100 % / 200 %, the count managed by `ensure`.
    pub fn new(
        cx: &Context,
        component: &str,
        phase: Phase,
        task_definition_arn: &str,
        desired_count: i32,
        network: ServiceNetwork,
    ) -> Self {
        let name = cx.names.service(component);
        Self {
            cluster: cx.names.cluster(),
            phase,
            task_definition_arn: task_definition_arn.to_string(),
            desired_count,
            manage_desired_count: true,
            network,
            health_check_grace_seconds: None,
            load_balancer: None,
            service_registry: None,
            capacity_provider_strategy: Vec::new(),
            enable_execute_command: true,
            circuit_breaker: CircuitBreaker {
                enable: true,
                rollback: true,
            },
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            deployment_alarms: None,
            tags: cx.tags(&format!("ecs/{component}"), phase, &name),
            name,
        }
    }

    /// With a health-check grace period.
    pub fn with_grace_seconds(mut self, seconds: i32) -> Self {
        self.health_check_grace_seconds = Some(seconds);
        self
    }

    /// Behind a target group.
    pub fn with_load_balancer(mut self, attachment: LoadBalancerAttachment) -> Self {
        self.load_balancer = Some(attachment);
        self
    }

    /// Registered in Cloud Map.
    pub fn with_service_registry(mut self, registry_arn: &str) -> Self {
        self.service_registry = Some(RegistryAttachment {
            registry_arn: registry_arn.to_string(),
        });
        self
    }

    /// On a capacity provider strategy instead of the FARGATE launch type.
    pub fn with_capacity_provider_strategy(mut self, strategy: Vec<StrategyItem>) -> Self {
        self.capacity_provider_strategy = strategy;
        self
    }

    /// With deployment alarms.
    pub fn with_deployment_alarms(mut self, alarms: DeploymentAlarms) -> Self {
        self.deployment_alarms = Some(alarms);
        self
    }

    /// The count is owned by autoscaling once the service exists.
    pub fn autoscaled(mut self) -> Self {
        self.manage_desired_count = false;
        self
    }
}

/// What AWS reports about a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceObserved {
    /// Service ARN.
    pub arn: String,
    /// Service name.
    pub name: String,
    /// `ACTIVE` or `DRAINING` (INACTIVE services are reported as absent); `None` when AWS's
    /// answer has no status (neither active nor draining).
    pub status: Option<String>,
    /// Task definition of the service (the PRIMARY deployment's).
    pub task_definition: String,
    /// Desired count.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// Pending tasks.
    pub pending_count: i32,
    /// Health-check grace period.
    pub health_check_grace_seconds: Option<i32>,
    /// Networking.
    pub network: ServiceNetwork,
    /// Target groups.
    pub load_balancers: Vec<LoadBalancerAttachment>,
    /// Cloud Map services.
    pub service_registries: Vec<RegistryAttachment>,
    /// Capacity provider strategy (empty when on a launch type).
    pub capacity_provider_strategy: Vec<StrategyItem>,
    /// Launch type, when not on capacity providers.
    pub launch_type: Option<String>,
    /// ECS Exec.
    pub enable_execute_command: bool,
    /// `SERVICE`, `TASK_DEFINITION`, `NONE`.
    pub propagate_tags: Option<String>,
    /// Circuit breaker, if configured.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Minimum healthy percent.
    pub minimum_healthy_percent: Option<i32>,
    /// Maximum percent.
    pub maximum_percent: Option<i32>,
    /// Deployment alarms; `None` when none are configured (or an empty, disabled set).
    pub deployment_alarms: Option<DeploymentAlarms>,
    /// Deployments, PRIMARY first as ECS lists them.
    pub deployments: Vec<DeploymentSummary>,
    /// Events, newest first as ECS lists them.
    pub events: Vec<EventSummary>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ServiceObserved {
    /// Reads a service described by `action` (`resource` names it in the error).
    ///
    /// # Errors
    /// [`AwsError::missing`] when the service, a deployment, a target group attachment or a
    /// registry lacks an identifier this crate compares or acts on (ARN, name, task
    /// definition, target group ARN, container name and port, registry ARN).
    pub fn from_sdk(
        s: &Service,
        action: &str,
        resource: &str,
    ) -> std::result::Result<Self, AwsError> {
        let vpc = s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let deployment = s.deployment_configuration();
        let need = |value, field| required(value, action, resource, field);
        Ok(Self {
            arn: need(s.service_arn(), "serviceArn")?.to_string(),
            name: need(s.service_name(), "serviceName")?.to_string(),
            status: s.status().map(str::to_string),
            task_definition: need(s.task_definition(), "taskDefinition")?.to_string(),
            desired_count: s.desired_count(),
            running_count: s.running_count(),
            pending_count: s.pending_count(),
            health_check_grace_seconds: s.health_check_grace_period_seconds(),
            network: ServiceNetwork {
                subnets: vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(),
                security_groups: vpc
                    .map(|v| v.security_groups().to_vec())
                    .unwrap_or_default(),
                assign_public_ip: vpc.and_then(|v| v.assign_public_ip())
                    == Some(&AssignPublicIp::Enabled),
            },
            load_balancers: s
                .load_balancers()
                .iter()
                .map(|lb| {
                    Ok(LoadBalancerAttachment {
                        target_group_arn: need(
                            lb.target_group_arn(),
                            "loadBalancers[].targetGroupArn",
                        )?
                        .to_string(),
                        container_name: need(lb.container_name(), "loadBalancers[].containerName")?
                            .to_string(),
                        container_port: *required(
                            lb.container_port().as_ref(),
                            action,
                            resource,
                            "loadBalancers[].containerPort",
                        )?,
                    })
                })
                .collect::<std::result::Result<_, AwsError>>()?,
            service_registries: s
                .service_registries()
                .iter()
                .map(|r| {
                    Ok(RegistryAttachment {
                        registry_arn: need(r.registry_arn(), "serviceRegistries[].registryArn")?
                            .to_string(),
                    })
                })
                .collect::<std::result::Result<_, AwsError>>()?,
            capacity_provider_strategy: s
                .capacity_provider_strategy()
                .iter()
                .map(StrategyItem::from_sdk)
                .collect(),
            launch_type: s.launch_type().map(|l| l.as_str().to_string()),
            enable_execute_command: s.enable_execute_command(),
            propagate_tags: s.propagate_tags().map(|p| p.as_str().to_string()),
            circuit_breaker: deployment
                .and_then(|d| d.deployment_circuit_breaker())
                .map(|c| CircuitBreaker {
                    enable: c.enable(),
                    rollback: c.rollback(),
                }),
            minimum_healthy_percent: deployment.and_then(|d| d.minimum_healthy_percent()),
            maximum_percent: deployment.and_then(|d| d.maximum_percent()),
            deployment_alarms: deployment.and_then(|d| d.alarms()).and_then(|a| {
                let mut alarm_names = a.alarm_names().to_vec();
                alarm_names.sort();
                DeploymentAlarms {
                    alarm_names,
                    enable: a.enable(),
                    rollback: a.rollback(),
                }
                .normalized()
            }),
            deployments: s
                .deployments()
                .iter()
                .map(|d| DeploymentSummary::from_sdk(d, action, resource))
                .collect::<std::result::Result<_, AwsError>>()?,
            events: s
                .events()
                .iter()
                .filter_map(EventSummary::from_sdk)
                .collect(),
            tags: tag_map(s.tags()),
        })
    }

    /// True when the service is ACTIVE.
    pub fn is_active(&self) -> bool {
        self.status.as_deref() == Some("ACTIVE")
    }

    /// True when the service is DRAINING (deleted, its tasks stopping).
    pub fn is_draining(&self) -> bool {
        self.status.as_deref() == Some("DRAINING")
    }
}

/// What the engine needs after [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOutputs {
    /// Service ARN.
    pub arn: String,
    /// Service name.
    pub name: String,
    /// True when CreateService was called.
    pub created: bool,
    /// True when UpdateService was called.
    pub updated: bool,
}

/// The service `name` in `cluster`; `Ok(None)` when ECS reports it `MISSING` or `INACTIVE`,
/// or the cluster does not exist.
///
/// # Errors
/// [`Error::DescribeServices`], also when AWS's answer lacks an identifier of the service
/// ([`orchestrate_aws::INCOMPLETE_ANSWER`], see [`ServiceObserved::from_sdk`]).
pub async fn find(client: &Client, cluster: &str, name: &str) -> Result<Option<ServiceObserved>> {
    let out = match client
        .describe_services()
        .cluster(cluster)
        .services(name)
        .include(ServiceField::Tags)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cluster_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::DescribeServices(aws_error(
                "describe service",
                name,
                e,
            )));
        }
    };
    out.services()
        .iter()
        .find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
        .map(|s| ServiceObserved::from_sdk(s, "describe service", name))
        .transpose()
        .map_err(Error::DescribeServices)
}

/// Sets `tags` on the service `arn` (TagResource) unless `observed` (its tags as read this
/// run) already holds each with the same value: no call when nothing differs. Returns whether
/// it tagged.
///
/// # Errors
/// [`Error::TagService`].
pub async fn record_tags(
    client: &Client,
    arn: &str,
    observed: Option<&BTreeMap<String, String>>,
    tags: &[(&str, String)],
) -> Result<bool> {
    let missing: Vec<aws_sdk_ecs::types::Tag> = tags
        .iter()
        .filter(|(k, v)| observed.and_then(|o| o.get(*k)) != Some(v))
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(*k).value(v).build())
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(missing))
        .send()
        .await
        .map_err(|e| Error::TagService(aws_error("tag service", arn, e)))?;
    Ok(true)
}

/// DescribeServices takes at most this many services per call.
const DESCRIBE_BATCH: usize = 10;

/// The services `names` of `cluster` that exist (neither `MISSING` nor `INACTIVE`), by name,
/// read 10 per DescribeServices (with their tags) — what [`find`] reads for one. A missing
/// cluster is an empty map.
///
/// # Errors
/// [`Error::DescribeServices`], also for an incomplete answer as [`find`].
pub async fn find_many(
    client: &Client,
    cluster: &str,
    names: &[String],
) -> Result<BTreeMap<String, ServiceObserved>> {
    let mut found = BTreeMap::new();
    for chunk in names.chunks(DESCRIBE_BATCH) {
        let out = match client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cluster_not_found_exception()) =>
            {
                return Ok(BTreeMap::new());
            }
            Err(e) => {
                return Err(Error::DescribeServices(aws_error(
                    "describe services of cluster",
                    cluster,
                    e,
                )));
            }
        };
        for s in out.services() {
            let Some(name) = s.service_name().filter(|n| chunk.iter().any(|c| c == n)) else {
                continue;
            };
            if s.status() != Some("INACTIVE") {
                let observed = ServiceObserved::from_sdk(s, "describe service", name)
                    .map_err(Error::DescribeServices)?;
                found.insert(name.to_string(), observed);
            }
        }
    }
    Ok(found)
}

/// Ready when the service is ACTIVE with the PRIMARY deployment COMPLETED, as many tasks
/// running as desired, and no other deployment. This is a snapshot; a rollout is judged by
/// [`crate::rollout::wait_rollout`], which also knows which revision must be running.
///
/// # Errors
/// [`Error::DescribeServices`].
pub async fn ready(client: &Client, cluster: &str, name: &str) -> Result<Readiness> {
    Ok(match find(client, cluster, name).await? {
        None => Readiness::pending("not yet listed"),
        Some(o) => {
            let summary = crate::rollout::summarize(&o.deployments);
            let steady = o.deployments.len() == 1
                && o.deployments.first().is_some_and(|d| {
                    d.rollout_state.as_deref() == Some("COMPLETED")
                        && d.running_count == d.desired_count
                });
            if o.is_active() && steady {
                Readiness::Ready
            } else {
                Readiness::pending(summary)
            }
        }
    })
}

/// Deletes the service (`force`: no need to scale to zero first); absent, INACTIVE, or a
/// missing cluster are success. The service then drains; see [`wait_deleted`].
///
/// # Errors
/// [`Error::DeleteService`].
pub async fn delete(client: &Client, cx: &Context, cluster: &str, name: &str) -> Result<()> {
    cx.reporter.applying(KIND, name, "delete");
    match client
        .delete_service()
        .cluster(cluster)
        .service(name)
        .force(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_service_not_found_exception()
                    || aws_smithy_types::error::metadata::ProvideErrorMetadata::code(s)
                        == Some("ServiceNotActiveException")
                    || s.is_cluster_not_found_exception()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::DeleteService(aws_error("delete service", name, e))),
    }
}

/// Waits until the service is INACTIVE or gone (its tasks stopped), for at most `deadline`
/// (scaled).
///
/// # Errors
/// [`Error::Wait`] (timeout or a failed describe).
pub async fn wait_deleted(
    client: &Client,
    cx: &Context,
    cluster: &str,
    name: &str,
    deadline: Duration,
) -> Result<()> {
    cx.timing
        .poller(deadline)
        .wait(
            "service deletion",
            || async {
                Ok(match find(client, cluster, name).await? {
                    None => Readiness::Ready,
                    Some(o) => {
                        let status = o.status.as_deref().unwrap_or(UNKNOWN);
                        Readiness::pending(format!("{status} ({} running)", o.running_count))
                    }
                })
            },
            |s| cx.reporter.waiting(KIND, name, s),
        )
        .await
        .map_err(|e| Error::Wait {
            what: format!("service {name} to be deleted"),
            source: Box::new(e),
        })
}
