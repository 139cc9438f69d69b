use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_service::{CreateServiceError, CreateServiceOutput};
use aws_sdk_ecs::operation::delete_service::{DeleteServiceError, DeleteServiceOutput};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::error::{InvalidParameterException, ServiceNotFoundException};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker,
    DeploymentConfiguration, Failure, LaunchType, LoadBalancer, NetworkConfiguration,
    PropagateTags, Service, ServiceRegistry,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Phase;
use orchestrate_core::change::Action;

use super::{ACCOUNT, cx, meta, td_arn};
use crate::cluster::StrategyItem;
use crate::service::{self, LoadBalancerAttachment, ServiceDesired, ServiceNetwork};

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-api/abc";
const REGISTRY: &str = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-123";

fn network() -> ServiceNetwork {
    ServiceNetwork {
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        security_groups: vec!["sg-1".into()],
        assign_public_ip: false,
    }
}

fn api_desired() -> ServiceDesired {
    ServiceDesired::new(
        &cx(),
        "api-server",
        Phase::ApiServer,
        &td_arn("demo-api-server", 7),
        2,
        network(),
    )
    .with_grace_seconds(420)
    .with_load_balancer(LoadBalancerAttachment {
        target_group_arn: TG.into(),
        container_name: "api-server".into(),
        container_port: 8080,
    })
    .with_service_registry(REGISTRY)
}

fn worker_desired(revision: i32, count: i32) -> ServiceDesired {
    ServiceDesired::new(
        &cx(),
        "worker",
        Phase::Worker,
        &td_arn("demo-worker", revision),
        count,
        network(),
    )
    .with_capacity_provider_strategy(vec![
        StrategyItem::new("FARGATE", 1, 0),
        StrategyItem::new("FARGATE_SPOT", 0, 1),
    ])
    .autoscaled()
}

/// The service as ECS would describe it after creating `d`.
fn as_described(d: &ServiceDesired, status: &str) -> Service {
    let mut s = Service::builder()
        .service_name(&d.name)
        .service_arn(format!(
            "arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/{}",
            d.name
        ))
        .status(status)
        .task_definition(&d.task_definition_arn)
        .desired_count(d.desired_count)
        .set_health_check_grace_period_seconds(d.health_check_grace_seconds)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(d.network.subnets.iter().rev().cloned().collect()))
                        .set_security_groups(Some(d.network.security_groups.clone()))
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .expect("vpc"),
                )
                .build(),
        )
        .enable_execute_command(true)
        .propagate_tags(PropagateTags::Service)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .minimum_healthy_percent(100)
                .maximum_percent(200)
                .build(),
        );
    if let Some(lb) = &d.load_balancer {
        s = s.load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&lb.target_group_arn)
                .container_name(&lb.container_name)
                .container_port(lb.container_port)
                .build(),
        );
    }
    if let Some(r) = &d.service_registry {
        s = s.service_registries(
            ServiceRegistry::builder()
                .registry_arn(&r.registry_arn)
                .build(),
        );
    }
    if d.capacity_provider_strategy.is_empty() {
        s = s.launch_type(LaunchType::Fargate);
    } else {
        for i in d.capacity_provider_strategy.iter().rev() {
            s = s.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.provider)
                    .base(i.base)
                    .weight(i.weight)
                    .build()
                    .expect("item"),
            );
        }
    }
    s.build()
}

fn describe(service: Option<Service>) -> Rule {
    mock!(Client::describe_services).then_output(move || match &service {
        Some(s) => DescribeServicesOutput::builder()
            .services(s.clone())
            .build(),
        None => DescribeServicesOutput::builder()
            .failures(Failure::builder().reason("MISSING").build())
            .build(),
    })
}

fn create_ok() -> Rule {
    mock!(Client::create_service).then_output(|| {
        CreateServiceOutput::builder()
            .service(as_described(&api_desired(), "ACTIVE"))
            .build()
    })
}

fn update_ok() -> Rule {
    mock!(Client::update_service).then_output(|| UpdateServiceOutput::builder().build())
}

#[tokio::test]
async fn creates_the_service_with_tags_and_safe_settings() {
    let cx = cx();
    let absent = describe(None);
    let create = mock!(Client::create_service)
        .match_requests(|r| {
            let vpc = r
                .network_configuration()
                .and_then(|n| n.awsvpc_configuration())
                .expect("awsvpc");
            let deployment = r.deployment_configuration().expect("deployment config");
            let breaker = deployment.deployment_circuit_breaker().expect("breaker");
            let tags: Vec<_> = r.tags().iter().filter_map(|t| t.key()).collect();
            r.cluster() == Some("demo")
                && r.service_name() == Some("demo-api-server")
                && r.task_definition() == Some(td_arn("demo-api-server", 7).as_str())
                && r.desired_count() == Some(2)
                && r.launch_type() == Some(&LaunchType::Fargate)
                && r.capacity_provider_strategy().is_empty()
                && vpc.assign_public_ip() == Some(&AssignPublicIp::Disabled)
                && vpc.subnets() == ["subnet-a", "subnet-b"]
                && r.health_check_grace_period_seconds() == Some(420)
                && r.enable_execute_command() == Some(true)
                && r.propagate_tags() == Some(&PropagateTags::Service)
                && breaker.enable()
                && breaker.rollback()
                && deployment.minimum_healthy_percent() == Some(100)
                && deployment.maximum_percent() == Some(200)
                && r.load_balancers()[0].container_port() == Some(8080)
                && r.service_registries()[0].registry_arn() == Some(REGISTRY)
                && tags.contains(&"orchestrate:deployment")
                && tags.contains(&"orchestrate:component")
                && r.client_token().is_some_and(|t| t.len() == 32)
                && r.client_token() == Some(service::create_token(&api_desired()).as_str())
        })
        .then_output(|| {
            CreateServiceOutput::builder()
                .service(as_described(&api_desired(), "ACTIVE"))
                .build()
        });
    let update = update_ok();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&absent, &create, &update]);
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("ensure");
    assert!(out.created && !out.updated);
    assert!(out.arn.ends_with("service/demo/demo-api-server"));
    assert_eq!(create.num_calls(), 1);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn an_existing_service_as_desired_gets_no_call() {
    let cx = cx();
    let found = describe(Some(as_described(&api_desired(), "ACTIVE")));
    let create = create_ok();
    let update = update_ok();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &create, &update]);
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("ensure");
    assert!(!out.created && !out.updated);
    assert_eq!(create.num_calls() + update.num_calls(), 0);
    let plan = service::plan_service(&client, &api_desired())
        .await
        .expect("plan");
    assert_eq!(plan.action, Action::NoChange);
}

#[tokio::test]
async fn drift_updates_only_the_differing_fields() {
    let cx = cx();
    let mut old = api_desired();
    old.task_definition_arn = td_arn("demo-api-server", 6);
    old.health_check_grace_seconds = Some(60);
    let found = describe(Some(as_described(&old, "ACTIVE")));
    let create = create_ok();
    let update = mock!(Client::update_service)
        .match_requests(|r| {
            r.service() == Some("demo-api-server")
                && r.task_definition() == Some(td_arn("demo-api-server", 7).as_str())
                && r.health_check_grace_period_seconds() == Some(420)
                && r.desired_count().is_none()
                && r.network_configuration().is_none()
                && r.capacity_provider_strategy.is_none()
                && r.deployment_configuration().is_none()
                && r.load_balancers.is_none()
                && r.service_registries.is_none()
                && r.enable_execute_command().is_none()
                && r.force_new_deployment() != Some(true)
        })
        .then_output(|| UpdateServiceOutput::builder().build());
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &create, &update]);
    let change = service::diff(
        &api_desired(),
        Some(
            &service::find(&client, "demo", "demo-api-server")
                .await
                .expect("find")
                .expect("found"),
        ),
    );
    match &change.action {
        Action::Update { fields } => {
            let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["taskDefinition", "healthCheckGracePeriodSeconds"]);
            assert_eq!(fields[0].from.as_deref(), Some("demo-api-server:6"));
            assert_eq!(fields[0].to.as_deref(), Some("demo-api-server:7"));
        }
        other => panic!("expected update, got {other:?}"),
    }
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("ensure");
    assert!(out.updated);
    assert_eq!(update.num_calls(), 1);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn autoscaled_worker_count_is_left_alone() {
    let cx = cx();
    // Autoscaling has set 6 tasks; the spec says 1.
    let found = describe(Some(as_described(&worker_desired(3, 6), "ACTIVE")));
    let create = create_ok();
    let update = update_ok();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &create, &update]);
    let out = service::ensure(&client, &cx, &worker_desired(3, 1))
        .await
        .expect("ensure");
    assert!(!out.updated);
    assert_eq!(update.num_calls(), 0, "desiredCount is autoscaling's");

    // A new revision: the update carries the task definition, never the count.
    let update = mock!(Client::update_service)
        .match_requests(|r| r.task_definition().is_some() && r.desired_count().is_none())
        .then_output(|| UpdateServiceOutput::builder().build());
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &create, &update]);
    service::ensure(&client, &cx, &worker_desired(4, 1))
        .await
        .expect("ensure");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_strategy_change_forces_a_new_deployment() {
    let cx = cx();
    let mut old = worker_desired(3, 1);
    old.capacity_provider_strategy = vec![];
    let found = describe(Some(as_described(&old, "ACTIVE")));
    let update = mock!(Client::update_service)
        .match_requests(|r| {
            r.capacity_provider_strategy().len() == 2
                && r.force_new_deployment() == Some(true)
                && r.task_definition().is_none()
        })
        .then_output(|| UpdateServiceOutput::builder().build());
    let create = create_ok();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &create, &update]);
    service::ensure(&client, &cx, &worker_desired(3, 1))
        .await
        .expect("ensure");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_lost_create_response_is_adopted() {
    let cx = cx();
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            DescribeServicesOutput::builder()
                .failures(Failure::builder().reason("MISSING").build())
                .build()
        })
        .output(|| {
            DescribeServicesOutput::builder()
                .services(as_described(&api_desired(), "ACTIVE"))
                .build()
        })
        .build();
    let create = mock!(Client::create_service).then_error(|| {
        CreateServiceError::InvalidParameterException(
            InvalidParameterException::builder()
                .meta(meta(
                    "InvalidParameterException",
                    "Creation of service was not idempotent.",
                ))
                .build(),
        )
    });
    let update = update_ok();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&describe, &create, &update]
    );
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("adopted");
    assert!(!out.created && !out.updated);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn create_retries_while_the_role_or_listener_propagates() {
    let cx = cx();
    let absent = describe(None);
    let create = mock!(Client::create_service)
        .sequence()
        .error(|| {
            CreateServiceError::InvalidParameterException(
                InvalidParameterException::builder()
                    .meta(meta(
                        "InvalidParameterException",
                        "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
                    ))
                    .build(),
            )
        })
        .error(|| {
            CreateServiceError::InvalidParameterException(
                InvalidParameterException::builder()
                    .meta(meta(
                        "InvalidParameterException",
                        "The target group with targetGroupArn arn:x does not have an associated load balancer.",
                    ))
                    .build(),
            )
        })
        .output(|| {
            CreateServiceOutput::builder()
                .service(as_described(&api_desired(), "ACTIVE"))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&absent, &create]);
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("ensure");
    assert!(out.created);
    assert_eq!(create.num_calls(), 3);
}

#[tokio::test]
async fn a_draining_service_is_waited_out_then_recreated() {
    let cx = cx();
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            DescribeServicesOutput::builder()
                .services(as_described(&api_desired(), "DRAINING"))
                .build()
        })
        .times(2)
        .output(|| {
            DescribeServicesOutput::builder()
                .services(as_described(&api_desired(), "INACTIVE"))
                .build()
        })
        .build();
    let create = create_ok();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &create]);
    let out = service::ensure(&client, &cx, &api_desired())
        .await
        .expect("ensure");
    assert!(out.created);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn deleting_an_absent_service_succeeds() {
    let cx = cx();
    let delete = mock!(Client::delete_service)
        .match_requests(|r| r.force() == Some(true))
        .then_error(|| {
            DeleteServiceError::ServiceNotFoundException(
                ServiceNotFoundException::builder()
                    .meta(meta("ServiceNotFoundException", "Service not found."))
                    .build(),
            )
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&delete]);
    service::delete(&client, &cx, "demo", "demo-api-server")
        .await
        .expect("delete");
    let inactive = mock!(Client::delete_service).then_error(|| {
        DeleteServiceError::generic(meta("ServiceNotActiveException", "Service was not ACTIVE."))
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&inactive]);
    service::delete(&client, &cx, "demo", "demo-api-server")
        .await
        .expect("delete");
    let ok = mock!(Client::delete_service).then_output(|| DeleteServiceOutput::builder().build());
    let gone = describe(None);
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&ok, &gone]);
    service::delete(&client, &cx, "demo", "demo-api-server")
        .await
        .expect("delete");
    service::wait_deleted(
        &client,
        &cx,
        "demo",
        "demo-api-server",
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("gone");
}

#[test]
fn the_create_token_is_deterministic_and_follows_the_revision() {
    let a = api_desired();
    assert_eq!(service::create_token(&a), service::create_token(&a.clone()));
    let mut next = a.clone();
    next.task_definition_arn = td_arn("demo-api-server", 8);
    assert_ne!(service::create_token(&a), service::create_token(&next));
    let mut other = a.clone();
    other.name = "demo-worker".into();
    assert_ne!(service::create_token(&a), service::create_token(&other));
    assert!(
        service::create_token(&a).len() <= 36,
        "ECS allows up to 36 characters"
    );
}
