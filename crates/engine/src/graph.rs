//! The deployment graph: every resource of a deployment, the phase it belongs to, what it
//! needs from earlier resources, and the one function that computes its desired state.
//!
//! Every command walks this graph (`plan` = find + diff, `up` = ensure + ready, `status` =
//! find + ready, `teardown` = delete in reverse order). What differs between commands is only
//! where the inputs come from: [`Known`] holds the typed outputs of earlier resources as far as
//! they exist — filled from `ensure` results during `up`, from read-only `find`s during `plan`
//! and `status`, and left empty (placeholders) for `render`. Each desired value is computed
//! here, once, from the spec and a `Known`; nothing else in the engine builds a `Desired`.
//!
//! # Guarantees
//! - Pure: nothing here calls AWS.
//! - [`Node::ALL`] lists every resource kind in dependency order; [`teardown_order`] is its
//!   reverse, restricted to a scope. The engine's unit tests pin both.

use std::collections::BTreeMap;

use orchestrate_airflow::{Component, Ref, SecretKey, Wiring};
use orchestrate_core::{Context, Phase, Spec};
use orchestrate_ecs::{ServiceDesired, ServiceNetwork, StrategyItem};
use orchestrate_network::NetworkOutputs;
use serde_json::Value;

/// Stands for the ARN of a task definition revision `up` would register.
pub const NEW_REVISION: &str = "(new revision)";

/// Stands for the certificate `up` would request for `load_balancer.domain` (in a plan).
pub const NEW_CERTIFICATE: &str = "(certificate to be issued)";

/// Tag of every task definition revision `up` registers: the spec's `[image].airflow_version`,
/// so that `rollback` can tell a revision of another Airflow version (whose database migration
/// cannot be undone) from one of the same.
pub const AIRFLOW_VERSION_TAG: &str = "orchestrate:airflow-version";

/// The outputs of earlier resources that later resources need, as far as they exist.
///
/// `up` fills it from what `ensure` returned; `plan` and `status` from read-only `find`s; an
/// empty one (placeholders everywhere) is what `render` uses.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// The caller's account id.
    pub account_id: Option<String>,
    /// The network's ids.
    pub network: Option<NetworkOutputs>,
    /// Container log group ARN (without `:*`).
    pub log_group_arn: Option<String>,
    /// Task log group ARN (without `:*`).
    pub task_log_group_arn: Option<String>,
    /// ECR repository URIs: airflow, git-sync.
    pub repository_uris: Option<(String, String)>,
    /// Execution role ARN.
    pub execution_role_arn: Option<String>,
    /// Task role ARN.
    pub task_role_arn: Option<String>,
    /// Secret ARNs by key (`fernet-key`, `sql-alchemy-conn`, ...).
    pub secret_arns: BTreeMap<String, String>,
    /// The Cloud Map namespace.
    pub namespace: Option<orchestrate_discovery::NamespaceOutputs>,
    /// The ALB's DNS name.
    pub alb_dns: Option<String>,
    /// The ALB's ARN (seeds the certificate request's idempotency token; the alarms'
    /// `LoadBalancer` dimension).
    pub alb_arn: Option<String>,
    /// The ALB's canonical hosted zone id (the alias record's target zone).
    pub alb_zone_id: Option<String>,
    /// The issued ACM certificate orchestrate requested for `load_balancer.domain`.
    pub certificate_arn: Option<String>,
    /// The api-server target group's ARN.
    pub target_group_arn: Option<String>,
    /// The api-server Cloud Map service's ARN.
    pub discovery_service_arn: Option<String>,
}

impl Known {
    /// The network, or an empty one (no ids) before it exists.
    pub fn network_or_empty(&self) -> NetworkOutputs {
        self.network.clone().unwrap_or_else(|| NetworkOutputs {
            vpc_id: String::new(),
            azs: Vec::new(),
            public_subnet_ids: Vec::new(),
            private_subnet_ids: Vec::new(),
            nat_gateway_ids: Vec::new(),
            nat_gateways_available: false,
            security_groups: orchestrate_network::SecurityGroupIds::default(),
        })
    }
}

/// The desired state of every resource of one deployment, computed from the spec and
/// [`Known`] inputs. Borrowed for one run.
pub struct Graph<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Names, tags, progress.
    pub cx: &'a Context,
    /// The region the deployment lives in.
    pub region: String,
    /// The pinned availability zones.
    pub zones: Vec<String>,
}

impl<'a> Graph<'a> {
    /// The graph of `spec` in `region` over `zones`.
    pub fn new(spec: &'a Spec, cx: &'a Context, region: &str, zones: &[String]) -> Self {
        Self {
            spec,
            cx,
            region: region.to_string(),
            zones: zones.to_vec(),
        }
    }

    // ---- phase 1 ------------------------------------------------------------------------

    /// VPC, subnets, gateways, routes, security groups.
    pub fn network(
        &self,
    ) -> Result<orchestrate_network::NetworkDesired, orchestrate_network::Error> {
        orchestrate_network::NetworkDesired::from_spec(self.spec, self.zones.clone())
    }

    /// Both log groups.
    pub fn logs(&self) -> orchestrate_logs::LogsDesired {
        orchestrate_logs::LogsDesired::new(self.cx, self.spec)
    }

    /// Both ECR repositories.
    pub fn registry(&self) -> orchestrate_registry::RegistryDesired {
        orchestrate_registry::RegistryDesired::new(self.cx)
    }

    /// The generated-once secrets.
    pub fn generated_secrets(&self) -> orchestrate_secrets::GeneratedDesired {
        orchestrate_secrets::GeneratedDesired::new(self.spec)
    }

    /// Both IAM roles. Every ARN they grant is deterministic (account, region, names), so the
    /// roles need no created resource: `up` and `plan` compute the same policy.
    pub fn iam(&self, account_id: Option<&str>) -> orchestrate_iam::IamDesired {
        let account = account_id.unwrap_or("*");
        let repository_arns: Vec<String> = [
            orchestrate_registry::AIRFLOW,
            orchestrate_registry::GIT_SYNC,
        ]
        .iter()
        .map(|image| {
            orchestrate_registry::repository_arn(
                &self.region,
                account,
                &self.cx.names.repository(image),
            )
        })
        .collect();
        let log_arn = |name: &str| orchestrate_logs::log_group_arn(&self.region, account, name);
        orchestrate_iam::IamDesired::new(
            self.cx,
            account_id,
            &self.region,
            &repository_arns,
            &[orchestrate_logs::with_wildcard(&log_arn(
                &self.cx.names.log_group(),
            ))],
            &orchestrate_logs::with_wildcard(&log_arn(&orchestrate_logs::task_log_group_name(
                self.cx,
            ))),
            &crate::access::iam_access(self.spec, self.cx),
        )
    }

    /// The RDS subnet group and instance. `password` is the generated one during `up`; `plan`
    /// passes a placeholder (a password is never compared).
    pub fn database(
        &self,
        known: &Known,
        password: orchestrate_core::Sensitive,
    ) -> orchestrate_database::DatabaseDesired {
        let network = known.network_or_empty();
        orchestrate_database::DatabaseDesired::from_spec(
            self.spec,
            &network.private_subnet_ids,
            &network.security_groups.database,
            password,
        )
    }

    /// The ElastiCache subnet group and Valkey replication group.
    pub fn cache(&self, known: &Known) -> orchestrate_cache::CacheDesired {
        let network = known.network_or_empty();
        orchestrate_cache::CacheDesired::from_spec(
            self.spec,
            &network.private_subnet_ids,
            &network.security_groups.cache,
        )
    }

    /// The Cloud Map private DNS namespace.
    pub fn namespace(&self, known: &Known) -> orchestrate_discovery::NamespaceDesired {
        let vpc = known.network.as_ref().map_or("", |n| n.vpc_id.as_str());
        orchestrate_discovery::NamespaceDesired::from_spec(self.spec, vpc)
    }

    /// The SNS topic orchestrate creates for the alarms: only when `[alarms]` is active with
    /// an `email` (a topic given by ARN is never managed). Its ARN is deterministic.
    pub fn alarm_topic(
        &self,
        account_id: Option<&str>,
    ) -> Option<orchestrate_alarms::TopicDesired> {
        let alarms = &self.spec.alarms;
        if !alarms.active() || alarms.sns_topic_arn.is_some() {
            return None;
        }
        let email = alarms.email.as_deref()?;
        Some(orchestrate_alarms::TopicDesired::new(
            self.cx,
            &self.region,
            account_id.unwrap_or("(account)"),
            email,
        ))
    }

    // ---- phases 2-5 ---------------------------------------------------------------------

    /// The CloudWatch alarms of phases up to `up_to` (`None` when `[alarms]` is not active):
    /// the api-server's target group, each service of those phases running fewer tasks than
    /// it should, the worker's CPU (phase 5), RDS and Valkey.
    pub fn alarms(&self, known: &Known, up_to: Phase) -> Option<orchestrate_alarms::AlarmsDesired> {
        let spec = &self.spec.alarms;
        if !spec.active() {
            return None;
        }
        let topic_arn = match &spec.sns_topic_arn {
            Some(arn) => arn.clone(),
            None => self.alarm_topic(known.account_id.as_deref())?.arn,
        };
        let services = Component::ALL
            .iter()
            .filter(|c| c.is_service() && c.phase() <= up_to)
            .map(|c| orchestrate_alarms::WatchedService {
                component: c.name().to_string(),
                service: self.cx.names.service(c.name()),
                min_running: if *c == Component::Worker {
                    i32::try_from(self.spec.components.worker.autoscaling.min).unwrap_or(1)
                } else {
                    self.desired_count(*c)
                },
            })
            .collect();
        let inputs = orchestrate_alarms::AlarmInputs {
            topic_arn,
            load_balancer_arn: known.alb_arn.clone(),
            target_group_arn: known.target_group_arn.clone(),
            cluster: self.cx.names.cluster(),
            services,
            worker_service: (up_to >= Phase::Worker)
                .then(|| self.cx.names.service(Component::Worker.name())),
            db_instance: self.cx.names.db_instance(),
            cache_node: orchestrate_alarms::primary_node(&self.cx.names.replication_group()),
        };
        Some(orchestrate_alarms::AlarmsDesired::new(
            self.cx, spec, &inputs,
        ))
    }

    /// The api-server's ECS deployment alarms: its 5xx alarm, with rollback (when `[alarms]`
    /// is active).
    pub fn deployment_alarms(&self) -> Option<orchestrate_ecs::DeploymentAlarms> {
        self.spec.alarms.active().then(|| {
            orchestrate_ecs::DeploymentAlarms::rollback_on(&[
                orchestrate_alarms::AlarmsDesired::api_5xx_name(self.cx),
            ])
        })
    }

    /// The ECS cluster.
    pub fn cluster(&self) -> orchestrate_ecs::ClusterDesired {
        orchestrate_ecs::ClusterDesired::new(self.cx)
    }

    /// The ALB, its target group and listeners: in the public subnets, or the private ones
    /// for an internal ALB; HTTPS on [`Graph::listener_certificate`].
    pub fn load_balancer(&self, known: &Known) -> orchestrate_loadbalancer::LoadBalancerDesired {
        let network = known.network_or_empty();
        let subnets = match self.spec.load_balancer.scheme {
            orchestrate_core::spec::AlbScheme::InternetFacing => &network.public_subnet_ids,
            orchestrate_core::spec::AlbScheme::Internal => &network.private_subnet_ids,
        };
        orchestrate_loadbalancer::LoadBalancerDesired::from_spec(
            self.spec,
            subnets,
            &network.security_groups.alb,
            &network.vpc_id,
        )
        .with_certificate(self.listener_certificate(known))
    }

    /// The HTTPS listener's certificate: the spec's `certificate_arn`; else, with a domain
    /// and a hosted zone, the certificate orchestrate requests once issued
    /// ([`NEW_CERTIFICATE`] before); else none (plain HTTP).
    pub fn listener_certificate(&self, known: &Known) -> Option<String> {
        if let Some(arn) = &self.spec.load_balancer.certificate_arn {
            return Some(arn.clone());
        }
        self.certificate(known).map(|_| {
            known
                .certificate_arn
                .clone()
                .unwrap_or_else(|| NEW_CERTIFICATE.to_string())
        })
    }

    /// The ACM certificate orchestrate requests for `load_balancer.domain`, validated in
    /// `hosted_zone_id`: only with both and without `certificate_arn` (a team's own
    /// certificate is used as given). Its idempotency token is seeded with the ALB's ARN
    /// when known (a re-created ALB requests anew within ACM's one-hour token window).
    pub fn certificate(&self, known: &Known) -> Option<orchestrate_domain::CertificateDesired> {
        let lb = &self.spec.load_balancer;
        if lb.certificate_arn.is_some() {
            return None;
        }
        let (domain, zone) = (lb.domain.as_ref()?, lb.hosted_zone_id.as_ref()?);
        Some(orchestrate_domain::CertificateDesired::new(
            self.cx,
            domain,
            zone,
            known.alb_arn.as_deref(),
        ))
    }

    /// The alias `A` record `domain` → the ALB, with a domain and a hosted zone (whoever's
    /// certificate it is). The target is unknown until the ALB exists.
    pub fn alias_record(&self, known: &Known) -> Option<orchestrate_domain::AliasDesired> {
        let lb = &self.spec.load_balancer;
        let (domain, zone) = (lb.domain.as_ref()?, lb.hosted_zone_id.as_ref()?);
        let target = match (&known.alb_dns, &known.alb_zone_id) {
            (Some(dns_name), Some(hosted_zone_id)) => Some(orchestrate_domain::AliasTarget {
                dns_name: dns_name.clone(),
                hosted_zone_id: hosted_zone_id.clone(),
            }),
            _ => None,
        };
        Some(orchestrate_domain::AliasDesired {
            zone_id: zone.clone(),
            name: domain.clone(),
            load_balancer_name: self.cx.names.load_balancer(),
            target,
        })
    }

    /// The api-server's Cloud Map service (needs the namespace id).
    pub fn discovery_service(
        &self,
        known: &Known,
    ) -> Option<orchestrate_discovery::ServiceDesired> {
        known.namespace.as_ref().map(|ns| {
            orchestrate_discovery::ServiceDesired::new(
                self.cx,
                &ns.namespace_id,
                orchestrate_discovery::API_SERVER_SERVICE,
            )
        })
    }

    /// What the task definitions refer to: each value known when its resource exists, a
    /// placeholder otherwise.
    pub fn wiring(&self, known: &Known) -> Wiring {
        let spec = self.spec;
        let mut wiring = Wiring::pending(spec);
        if let Some(account) = &known.account_id {
            wiring = wiring.with_account(spec, account);
        }
        if let Some((airflow_uri, git_sync_uri)) = &known.repository_uris {
            if spec.image.repository.is_empty() {
                wiring.airflow_image = Ref::known(format!("{airflow_uri}:{}", spec.image.tag));
            }
            if spec.git_sync.image.is_empty() {
                wiring.git_sync_image =
                    Ref::known(format!("{git_sync_uri}:{}", spec.git_sync.image_tag));
            }
        }
        if let Some(arn) = &known.execution_role_arn {
            wiring.execution_role_arn = Ref::known(arn);
        }
        if let Some(arn) = &known.task_role_arn {
            wiring.task_role_arn = Ref::known(arn);
        }
        if let Some(arn) = &known.task_log_group_arn {
            wiring.task_log_group_arn = Ref::known(arn);
        }
        if let Some(ns) = &known.namespace {
            wiring.namespace = ns.namespace_name.clone();
        }
        let secrets = &mut wiring.secrets;
        for key in SecretKey::ALL {
            if let Some(arn) = known.secret_arns.get(key.key()) {
                let slot = match key {
                    SecretKey::SqlAlchemyConn => &mut secrets.sql_alchemy_conn,
                    SecretKey::ResultBackend => &mut secrets.result_backend,
                    SecretKey::BrokerUrl => &mut secrets.broker_url,
                    SecretKey::FernetKey => &mut secrets.fernet_key,
                    SecretKey::JwtSecret => &mut secrets.jwt_secret,
                    SecretKey::ApiSecretKey => &mut secrets.api_secret_key,
                    SecretKey::AdminPassword => &mut secrets.admin_password,
                };
                *slot = Ref::known(arn);
            }
        }
        wiring.alb_dns.clone_from(&known.alb_dns);
        wiring
    }

    /// The RegisterTaskDefinition request of `component` with the deployment's tags, and
    /// whether it still holds placeholders (then it must not be registered).
    pub fn task_definition(&self, wiring: &Wiring, component: Component) -> (Value, bool) {
        let definition = orchestrate_airflow::task_definition(self.spec, wiring, component);
        let pending = orchestrate_airflow::has_placeholders(&definition);
        let tags = self
            .cx
            .tags(
                &format!("ecs/{}", component.name()),
                component.phase(),
                &definition.family,
            )
            .with(AIRFLOW_VERSION_TAG, &self.spec.image.airflow_version);
        let json =
            orchestrate_ecs::taskdef::with_tags(&orchestrate_airflow::to_json(&definition), &tags);
        (json, pending)
    }

    /// The ECS service of `component` running `task_definition_arn`, with its phase-2
    /// attachments (target group, Cloud Map) for the api-server — placeholders where those do
    /// not exist yet.
    pub fn service(
        &self,
        known: &Known,
        component: Component,
        task_definition_arn: &str,
    ) -> ServiceDesired {
        let spec = self.spec;
        let settings = component.spec(spec);
        let network = known.network_or_empty();
        let groups = &network.security_groups;
        let security_group = if component == Component::ApiServer {
            groups.api_server.clone()
        } else {
            groups.components.clone()
        };
        let service_network = ServiceNetwork {
            subnets: network.private_subnet_ids.clone(),
            security_groups: vec![security_group],
            assign_public_ip: false,
        };
        let desired = ServiceDesired::new(
            self.cx,
            component.name(),
            component.phase(),
            task_definition_arn,
            self.desired_count(component),
            service_network,
        )
        .with_grace_seconds(i32::try_from(settings.health_check_grace_seconds).unwrap_or(i32::MAX));
        match component {
            Component::ApiServer => {
                let desired = match self.deployment_alarms() {
                    Some(alarms) => desired.with_deployment_alarms(alarms),
                    None => desired,
                };
                desired
                    .with_load_balancer(orchestrate_ecs::LoadBalancerAttachment {
                        target_group_arn: known
                            .target_group_arn
                            .clone()
                            .unwrap_or_else(|| "(target group to be created)".to_string()),
                        container_name: component.container_name().to_string(),
                        container_port: i32::from(orchestrate_airflow::component::API_SERVER_PORT),
                    })
                    .with_service_registry(
                        known
                            .discovery_service_arn
                            .as_deref()
                            .unwrap_or("(Cloud Map service to be created)"),
                    )
            }
            Component::Worker => {
                let worker = &spec.components.worker;
                let desired = desired.autoscaled();
                if worker.spot {
                    desired.with_capacity_provider_strategy(worker_strategy(
                        i32::try_from(worker.on_demand_base).unwrap_or(0),
                    ))
                } else {
                    desired
                }
            }
            _ => desired,
        }
    }

    /// The desired count a service is created with: the spec's `count`, clamped into the
    /// worker's autoscaling range (autoscaling owns the worker's count once it exists).
    pub fn desired_count(&self, component: Component) -> i32 {
        let count = i32::try_from(component.spec(self.spec).count).unwrap_or(i32::MAX);
        if component == Component::Worker {
            let scaling = &self.spec.components.worker.autoscaling;
            count.clamp(
                i32::try_from(scaling.min).unwrap_or(1),
                i32::try_from(scaling.max).unwrap_or(i32::MAX),
            )
        } else {
            count
        }
    }

    /// The worker's scalable target and target-tracking policies.
    pub fn worker_scaling(&self) -> orchestrate_ecs::AutoscalingDesired {
        let scaling = &self.spec.components.worker.autoscaling;
        orchestrate_ecs::AutoscalingDesired::new(
            self.cx,
            &self.cx.names.service(Component::Worker.name()),
            i32::try_from(scaling.min).unwrap_or(1),
            i32::try_from(scaling.max).unwrap_or(i32::MAX),
            f64::from(scaling.cpu_target),
            f64::from(scaling.memory_target),
        )
    }
}

/// Workers on Fargate Spot above an on-demand base.
pub fn worker_strategy(on_demand_base: i32) -> Vec<StrategyItem> {
    vec![
        StrategyItem::new("FARGATE", on_demand_base, 0),
        StrategyItem::new("FARGATE_SPOT", 0, 1),
    ]
}

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

/// One resource kind of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// VPC, subnets, IGW, NAT + EIP, route tables, security groups.
    Network,
    /// Container and task log groups.
    LogGroups,
    /// ECR repositories.
    Repositories,
    /// Generated and derived Secrets Manager secrets.
    Secrets,
    /// Execution and task roles.
    Roles,
    /// RDS subnet group and PostgreSQL instance.
    Database,
    /// ElastiCache subnet group and Valkey replication group.
    Cache,
    /// Cloud Map namespace.
    Namespace,
    /// The SNS topic of the alarms (only with `[alarms] email`).
    AlarmTopic,
    /// ECS cluster.
    Cluster,
    /// The ACM certificate of `load_balancer.domain` and its validation records (only when
    /// orchestrate requests it).
    Certificate,
    /// ALB, target group, listeners.
    LoadBalancer,
    /// The Route 53 alias `domain` → the ALB.
    DnsAlias,
    /// The api-server's Cloud Map service.
    DiscoveryService,
    /// CloudWatch alarms (only with `[alarms]` active); the api-server's deployment alarm
    /// among them, so they exist before the api-server service.
    Alarms,
    /// Task definitions of the deployment's families.
    TaskDefinitions,
    /// The migration one-off task (no resource left behind).
    Migration,
    /// The api-server ECS service.
    ApiServerService,
    /// Scheduler and dag-processor ECS services.
    SchedulerServices,
    /// The triggerer ECS service.
    TriggererService,
    /// The worker ECS service.
    WorkerService,
    /// The worker's scalable target and policies.
    WorkerAutoscaling,
}

impl Node {
    /// Every node, in an order where each comes after everything it needs.
    pub const ALL: [Node; 22] = [
        Node::Network,
        Node::LogGroups,
        Node::Repositories,
        Node::Secrets,
        Node::Roles,
        Node::Database,
        Node::Cache,
        Node::Namespace,
        Node::AlarmTopic,
        Node::Cluster,
        Node::Certificate,
        Node::LoadBalancer,
        Node::DnsAlias,
        Node::DiscoveryService,
        Node::Alarms,
        Node::TaskDefinitions,
        Node::Migration,
        Node::ApiServerService,
        Node::SchedulerServices,
        Node::TriggererService,
        Node::WorkerService,
        Node::WorkerAutoscaling,
    ];

    /// The phase the node belongs to.
    pub fn phase(self) -> Phase {
        match self {
            Node::Network
            | Node::LogGroups
            | Node::Repositories
            | Node::Secrets
            | Node::Roles
            | Node::Database
            | Node::Cache
            | Node::Namespace
            | Node::AlarmTopic => Phase::Storage,
            Node::Cluster
            | Node::Certificate
            | Node::LoadBalancer
            | Node::DnsAlias
            | Node::DiscoveryService
            | Node::Alarms
            | Node::TaskDefinitions
            | Node::Migration
            | Node::ApiServerService => Phase::ApiServer,
            Node::SchedulerServices => Phase::Scheduler,
            Node::TriggererService => Phase::Triggerer,
            Node::WorkerService | Node::WorkerAutoscaling => Phase::Worker,
        }
    }

    /// What the node needs to exist first (its edges).
    pub fn needs(self) -> &'static [Node] {
        match self {
            Node::Network
            | Node::LogGroups
            | Node::Repositories
            | Node::Secrets
            | Node::AlarmTopic
            | Node::Cluster
            | Node::Certificate => &[],
            // The policies name the repositories, log groups and secrets by ARN.
            Node::Roles => &[Node::Repositories, Node::LogGroups, Node::Secrets],
            Node::Database => &[Node::Network, Node::Secrets],
            Node::Cache => &[Node::Network],
            Node::Namespace => &[Node::Network],
            // The HTTPS listener serves the issued certificate.
            Node::LoadBalancer => &[Node::Network, Node::Certificate],
            Node::DnsAlias => &[Node::LoadBalancer],
            Node::DiscoveryService => &[Node::Namespace],
            // Dimensions name the ALB, target group, RDS instance and Valkey node; actions the
            // topic.
            Node::Alarms => &[
                Node::AlarmTopic,
                Node::LoadBalancer,
                Node::Database,
                Node::Cache,
                Node::Cluster,
            ],
            Node::TaskDefinitions => &[
                Node::Roles,
                Node::Secrets,
                Node::LogGroups,
                Node::Repositories,
                Node::Namespace,
                Node::LoadBalancer,
                Node::Database,
                Node::Cache,
            ],
            Node::Migration => &[Node::Cluster, Node::TaskDefinitions],
            Node::ApiServerService => &[
                Node::Alarms,
                Node::Migration,
                Node::LoadBalancer,
                Node::DiscoveryService,
                Node::TaskDefinitions,
            ],
            Node::SchedulerServices => &[Node::ApiServerService],
            Node::TriggererService => &[Node::SchedulerServices],
            Node::WorkerService => &[Node::TriggererService],
            Node::WorkerAutoscaling => &[Node::WorkerService],
        }
    }

    /// Short name for messages and tests.
    pub fn name(self) -> &'static str {
        match self {
            Node::Network => "network",
            Node::LogGroups => "log groups",
            Node::Repositories => "ECR repositories",
            Node::Secrets => "secrets",
            Node::Roles => "IAM roles",
            Node::Database => "RDS instance",
            Node::Cache => "Valkey replication group",
            Node::Namespace => "Cloud Map namespace",
            Node::AlarmTopic => "alarm topic",
            Node::Cluster => "ECS cluster",
            Node::Certificate => "certificate",
            Node::LoadBalancer => "load balancer",
            Node::DnsAlias => "domain alias record",
            Node::DiscoveryService => "api-server Cloud Map service",
            Node::Alarms => "CloudWatch alarms",
            Node::TaskDefinitions => "task definitions",
            Node::Migration => "migration task",
            Node::ApiServerService => "api-server service",
            Node::SchedulerServices => "scheduler and dag-processor services",
            Node::TriggererService => "triggerer service",
            Node::WorkerService => "worker service",
            Node::WorkerAutoscaling => "worker autoscaling",
        }
    }
}

/// What a teardown removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeardownScope {
    /// Phases 5 → 2; phase 1 untouched.
    Services,
    /// Everything: phases 5 → 2, then phase 1.
    All,
}

impl TeardownScope {
    /// `services` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            TeardownScope::Services => "services",
            TeardownScope::All => "all",
        }
    }
}

/// The nodes a teardown of `scope` deletes, in deletion order: every node after everything
/// that needs it (the reverse of [`Node::ALL`]). The migration task leaves nothing behind.
pub fn teardown_order(scope: TeardownScope) -> Vec<Node> {
    Node::ALL
        .iter()
        .rev()
        .copied()
        .filter(|n| *n != Node::Migration)
        .filter(|n| scope == TeardownScope::All || n.phase() > Phase::Storage)
        .collect()
}

#[cfg(test)]
mod tests;
