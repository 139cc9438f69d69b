//! With a local registry configured, ECS tasks pull like Fargate: an ECR image that does not
//! resolve there for the task's `cpuArchitecture` stops the task with
//! `CannotPullContainerError` (`TaskFailedToStart`); one that does starts.

mod common;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, CpuArchitecture, LaunchType,
    NetworkConfiguration, NetworkMode, RuntimePlatform, Task,
};
use awsim::registry::{LocalRegistry, push_test_image};
use awsim::{Awsim, Scenario};

const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

async fn register(client: &Client, family: &str, image: &str, arch: CpuArchitecture) {
    client
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .runtime_platform(RuntimePlatform::builder().cpu_architecture(arch).build())
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(image)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("register task definition");
}

async fn run(client: &Client, family: &str, subnet: &str) -> String {
    let out = client
        .run_task()
        .cluster("c1")
        .task_definition(family)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(subnet)
                        .build()
                        .expect("awsvpc"),
                )
                .build(),
        )
        .send()
        .await
        .expect("run task");
    out.tasks()[0].task_arn().expect("arn").to_string()
}

async fn describe(client: &Client, arn: &str) -> Task {
    client
        .describe_tasks()
        .cluster("c1")
        .tasks(arn)
        .send()
        .await
        .expect("describe tasks")
        .tasks()[0]
        .clone()
}

#[tokio::test]
async fn tasks_whose_image_is_missing_for_their_architecture_fail_to_start() {
    let registry = LocalRegistry::start().expect("docker-registry starts");
    push_test_image(registry.port(), "demo/airflow", "1", &["amd64"]).expect("seed");
    let sim = Awsim::start(
        Scenario::default()
            .with_time_scale(1.0)
            .with_registry(registry.url()),
    )
    .await
    .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ecs = Client::new(&conf);
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .expect("cluster");
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
    let subnet = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_string();

    let image = format!("{ECR}/demo/airflow:1");
    register(&ecs, "x86", &image, CpuArchitecture::X8664).await;
    register(&ecs, "arm", &image, CpuArchitecture::Arm64).await;
    register(
        &ecs,
        "missing",
        &format!("{ECR}/demo/airflow:2"),
        CpuArchitecture::X8664,
    )
    .await;
    register(&ecs, "public", "nginx:1", CpuArchitecture::Arm64).await;

    let x86 = run(&ecs, "x86", &subnet).await;
    let arm = run(&ecs, "arm", &subnet).await;
    let missing = run(&ecs, "missing", &subnet).await;
    let public = run(&ecs, "public", &subnet).await;
    sim.advance(40.0);

    for ok in [&x86, &public] {
        let t = describe(&ecs, ok).await;
        assert_eq!(t.last_status(), Some("RUNNING"), "{t:?}");
    }
    let t = describe(&ecs, &arm).await;
    assert_eq!(t.last_status(), Some("STOPPED"));
    assert_eq!(t.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = t.stopped_reason().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError:")
            && reason.contains("no match for platform in manifest"),
        "{reason}"
    );
    let t = describe(&ecs, &missing).await;
    assert_eq!(t.last_status(), Some("STOPPED"));
    let reason = t.stopped_reason().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError:")
            && reason.contains("demo/airflow:2: not found"),
        "{reason}"
    );
}
