//! Fields moto drops or mangles (service settings, task-definition details) come back from
//! DescribeServices / DescribeTaskDefinition exactly as the client set them, as on AWS.

mod common;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility,
    ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture,
    DeploymentCircuitBreaker, DeploymentConfiguration, EphemeralStorage, HealthCheck, KeyValuePair,
    LaunchType, LinuxParameters, LoadBalancer, MountPoint, NetworkConfiguration, NetworkMode,
    OsFamily, PortMapping, PropagateTags, RuntimePlatform, Secret, Service, ServiceRegistry, Tag,
    TaskDefinitionField, TransportProtocol, Volume,
};
use awsim::{Awsim, Scenario};

async fn setup() -> (Awsim, Client, String) {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let client = Client::new(&conf);
    client
        .create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .expect("create cluster");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block("10.0.1.0/24")
        .send()
        .await
        .expect("subnet");
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_string();
    (sim, client, subnet_id)
}

fn app_container() -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("app")
        .image("apache/airflow:3.0.2")
        .essential(true)
        .user("50000")
        .stop_timeout(120)
        .port_mappings(
            PortMapping::builder()
                .container_port(8080)
                .protocol(TransportProtocol::Tcp)
                .name("http")
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("AIRFLOW_HOME")
                .value("/opt/airflow")
                .build(),
        )
        .secrets(
            Secret::builder()
                .name("DB_URL")
                .value_from("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf")
                .build()
                .expect("secret"),
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -f http://localhost:8080/api/v2/version")
                .interval(30)
                .timeout(5)
                .retries(3)
                .start_period(60)
                .build()
                .expect("health check"),
        )
        .depends_on(
            ContainerDependency::builder()
                .container_name("init")
                .condition(ContainerCondition::Success)
                .build()
                .expect("depends on"),
        )
        .linux_parameters(
            LinuxParameters::builder()
                .init_process_enabled(true)
                .build(),
        )
        .mount_points(
            MountPoint::builder()
                .source_volume("scratch")
                .container_path("/opt/airflow/tmp")
                .read_only(false)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn task_definition_details_round_trip() {
    let (_sim, client, _subnet) = setup().await;
    let init = ContainerDefinition::builder()
        .name("init")
        .image("busybox")
        .essential(false)
        .build();
    let registered = client
        .register_task_definition()
        .family("demo-api-server")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("1024")
        .memory("2048")
        .execution_role_arn("arn:aws:iam::123456789012:role/exec")
        .task_role_arn("arn:aws:iam::123456789012:role/task")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .ephemeral_storage(EphemeralStorage::builder().size_in_gib(40).build())
        .volumes(Volume::builder().name("scratch").build())
        .container_definitions(app_container())
        .container_definitions(init)
        .tags(
            Tag::builder()
                .key("orchestrate:deployment")
                .value("demo")
                .build(),
        )
        .send()
        .await
        .expect("register")
        .task_definition()
        .cloned()
        .expect("task definition");
    let out = client
        .describe_task_definition()
        .task_definition(registered.task_definition_arn().expect("arn"))
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe");
    let td = out.task_definition().expect("task definition");
    assert_eq!(td, &registered, "describe == register response");
    assert_eq!(
        td.runtime_platform().and_then(|r| r.cpu_architecture()),
        Some(&CpuArchitecture::Arm64)
    );
    assert_eq!(td.ephemeral_storage().map(|e| e.size_in_gib()), Some(40));
    assert_eq!(td.volumes().len(), 1);
    assert_eq!(
        td.task_role_arn(),
        Some("arn:aws:iam::123456789012:role/task")
    );
    let c = &td.container_definitions()[0];
    let want = app_container();
    assert_eq!(c.user(), want.user());
    assert_eq!(c.stop_timeout(), Some(120));
    assert_eq!(c.health_check(), want.health_check());
    assert_eq!(c.depends_on(), want.depends_on());
    assert_eq!(
        c.linux_parameters().and_then(|l| l.init_process_enabled()),
        Some(true)
    );
    assert_eq!(c.mount_points(), want.mount_points());
    assert_eq!(c.secrets(), want.secrets());
    assert_eq!(c.environment(), want.environment());
    assert_eq!(c.port_mappings(), want.port_mappings());
    assert_eq!(
        out.tags(),
        [Tag::builder()
            .key("orchestrate:deployment")
            .value("demo")
            .build()]
    );
}

fn strategy(provider: &str, weight: i32, base: i32) -> CapacityProviderStrategyItem {
    CapacityProviderStrategyItem::builder()
        .capacity_provider(provider)
        .weight(weight)
        .base(base)
        .build()
        .expect("strategy")
}

async fn describe(client: &Client) -> Service {
    client
        .describe_services()
        .cluster("c1")
        .services("demo-worker")
        .send()
        .await
        .expect("describe services")
        .services()
        .first()
        .cloned()
        .expect("service present")
}

/// The settings a deploy tool compares after a second run.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    strategy: Vec<CapacityProviderStrategyItem>,
    launch_type: Option<LaunchType>,
    deployment: Option<DeploymentConfiguration>,
    grace: Option<i32>,
    exec: bool,
    managed_tags: bool,
    propagate: Option<PropagateTags>,
    registries: Vec<ServiceRegistry>,
    load_balancers: Vec<LoadBalancer>,
    network: Option<NetworkConfiguration>,
}

fn settings(s: &Service) -> Settings {
    Settings {
        strategy: s.capacity_provider_strategy().to_vec(),
        launch_type: s.launch_type().cloned(),
        deployment: s.deployment_configuration().cloned(),
        grace: s.health_check_grace_period_seconds(),
        exec: s.enable_execute_command(),
        managed_tags: s.enable_ecs_managed_tags(),
        propagate: s.propagate_tags().cloned(),
        registries: s.service_registries().to_vec(),
        load_balancers: s.load_balancers().to_vec(),
        network: s.network_configuration().cloned(),
    }
}

#[tokio::test]
async fn service_settings_echo_what_the_client_last_set() {
    let (_sim, client, subnet) = setup().await;
    let td = client
        .register_task_definition()
        .family("demo-worker")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(app_container())
        .volumes(Volume::builder().name("scratch").build())
        .send()
        .await
        .expect("register")
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string();
    let strategies = vec![strategy("FARGATE_SPOT", 4, 0), strategy("FARGATE", 1, 1)];
    let dc = DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .maximum_percent(200)
        .minimum_healthy_percent(50)
        .build();
    let registry = ServiceRegistry::builder()
        .registry_arn("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc")
        .build();
    let lb = LoadBalancer::builder()
        .target_group_arn(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo/0123456789abcdef",
        )
        .container_name("app")
        .container_port(8080)
        .build();
    let nc = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(&subnet)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .expect("awsvpc"),
        )
        .build();
    let created = client
        .create_service()
        .cluster("c1")
        .service_name("demo-worker")
        .task_definition(&td)
        .desired_count(2)
        .set_capacity_provider_strategy(Some(strategies.clone()))
        .deployment_configuration(dc.clone())
        .health_check_grace_period_seconds(120)
        .enable_execute_command(true)
        .enable_ecs_managed_tags(true)
        .propagate_tags(PropagateTags::Service)
        .service_registries(registry.clone())
        .load_balancers(lb.clone())
        .network_configuration(nc.clone())
        .send()
        .await
        .expect("create service")
        .service()
        .cloned()
        .expect("service");
    let mut expected = Settings {
        strategy: strategies.clone(),
        launch_type: None,
        deployment: Some(dc),
        grace: Some(120),
        exec: true,
        managed_tags: true,
        propagate: Some(PropagateTags::Service),
        registries: vec![registry],
        load_balancers: vec![lb],
        network: Some(nc.clone()),
    };
    assert_eq!(settings(&created), expected, "CreateService response");
    let described = describe(&client).await;
    assert_eq!(settings(&described), expected, "DescribeServices");
    for d in described.deployments() {
        assert_eq!(d.capacity_provider_strategy(), strategies.as_slice());
        assert_eq!(d.launch_type(), None, "no launchType with a strategy");
    }

    // One field at a time: only that field changes.
    let updated = client
        .update_service()
        .cluster("c1")
        .service("demo-worker")
        .health_check_grace_period_seconds(300)
        .send()
        .await
        .expect("update grace period")
        .service()
        .cloned()
        .expect("service");
    expected.grace = Some(300);
    assert_eq!(settings(&updated), expected, "UpdateService response");
    assert_eq!(settings(&describe(&client).await), expected);

    client
        .update_service()
        .cluster("c1")
        .service("demo-worker")
        .enable_execute_command(false)
        .send()
        .await
        .expect("update exec");
    expected.exec = false;
    assert_eq!(settings(&describe(&client).await), expected);

    let only_fargate = vec![strategy("FARGATE", 1, 0)];
    client
        .update_service()
        .cluster("c1")
        .service("demo-worker")
        .set_capacity_provider_strategy(Some(only_fargate.clone()))
        .force_new_deployment(true)
        .send()
        .await
        .expect("update strategy");
    expected.strategy = only_fargate;
    assert_eq!(settings(&describe(&client).await), expected);

    // Defaults AWS always shows, for a service created without any of these settings.
    client
        .create_service()
        .cluster("c1")
        .service_name("plain")
        .task_definition(&td)
        .desired_count(0)
        .launch_type(LaunchType::Fargate)
        .network_configuration(nc)
        .send()
        .await
        .expect("create plain");
    let plain = client
        .describe_services()
        .cluster("c1")
        .services("plain")
        .send()
        .await
        .expect("describe plain");
    let plain = &plain.services()[0];
    assert!(plain.capacity_provider_strategy().is_empty());
    assert_eq!(plain.launch_type(), Some(&LaunchType::Fargate));
    assert!(!plain.enable_execute_command());
    assert!(!plain.enable_ecs_managed_tags());
    assert_eq!(plain.propagate_tags(), Some(&PropagateTags::None));
    assert_eq!(plain.health_check_grace_period_seconds(), None);
}
