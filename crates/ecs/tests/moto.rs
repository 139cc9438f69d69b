//! The real request shapes against moto's server (5.2.1): cluster, task definitions,
//! services, autoscaling, status and teardown, each `ensure` run twice with the second run
//! making no mutating call.
//!
//! moto keeps every service deployment IN_PROGRESS with 0 running and answers RunTask for
//! Fargate/awsvpc with HTTP 500, so rollouts and one-off tasks are covered by the unit tests
//! (and by awsim), not here. A missing `moto_server` fails the test.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrate_core::progress::{Event, Recorder};
use orchestrate_core::{Context, Phase, Timing};
use orchestrate_ecs::autoscaling::{self, AutoscalingDesired};
use orchestrate_ecs::cluster::{self, ClusterDesired};
use orchestrate_ecs::service::{self, ServiceDesired, ServiceNetwork};
use orchestrate_ecs::{StrategyItem, describe_services, taskdef};
use serde_json::{Value, json};

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new(
        // The pinned server scripts/test.sh installs (`.venv`), else the one on PATH.
        std::env::var_os("AWSIM_MOTO_SERVER").unwrap_or_else(|| "moto_server".into()),
    )
    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .ok()?;
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(moto);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn ecs_client(url: &str) -> aws_sdk_ecs::Client {
    use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(url)
            .build(),
    )
}

fn autoscaling_client(url: &str) -> aws_sdk_applicationautoscaling::Client {
    use aws_sdk_applicationautoscaling::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_applicationautoscaling::Client::from_conf(
        aws_sdk_applicationautoscaling::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(url)
            .build(),
    )
}

/// A VPC, a subnet and a security group in moto (CreateService checks they exist).
async fn network(url: &str) -> (String, String) {
    use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(url)
            .build(),
    );
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.1.0/24")
        .send()
        .await
        .expect("subnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_string();
    let sg = ec2
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("demo-components")
        .description("test")
        .send()
        .await
        .expect("sg")
        .group_id()
        .expect("sg id")
        .to_string();
    (subnet, sg)
}

fn worker_definition(image: &str) -> Value {
    json!({
        "family": "demo-worker",
        "taskRoleArn": "arn:aws:iam::123456789012:role/demo-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/demo-execution",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "3072",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 21},
        "volumes": [{"name": "dags"}],
        "containerDefinitions": [{
            "name": "worker",
            "image": image,
            "essential": true,
            "command": ["celery", "worker"],
            "environment": [
                {"name": "B_VAR", "value": "2"},
                {"name": "A_VAR", "value": "1"}
            ],
            "secrets": [{"name": "AIRFLOW__CORE__FERNET_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestrate/demo/fernet-key"}],
            "portMappings": [{"containerPort": 8793, "name": "logs"}],
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 10, "retries": 5, "startPeriod": 60},
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/orchestrate/demo", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "worker"}},
            "stopTimeout": 120,
            "mountPoints": [{"sourceVolume": "dags", "containerPath": "/opt/airflow/dags"}],
            "linuxParameters": {"initProcessEnabled": true}
        }]
    })
}

fn mutations(recorder: &Recorder, from: usize) -> Vec<Event> {
    recorder.events()[from..]
        .iter()
        .filter(|e| matches!(e, Event::Applying { .. }))
        .cloned()
        .collect()
}

#[tokio::test]
async fn converge_twice_then_teardown_against_moto() {
    let moto = start_moto().expect(
        "moto_server must be installed (scripts/test.sh installs it; or set AWSIM_MOTO_SERVER)",
    );
    let ecs = ecs_client(&moto.url);
    let aas = autoscaling_client(&moto.url);
    let recorder = Recorder::default();
    let cx = Context::new(
        "demo",
        BTreeMap::new(),
        Arc::new(recorder.clone()),
        Timing { scale: 0.01 },
    );

    // Cluster.
    let cluster_desired = ClusterDesired::new(&cx);
    let out = cluster::ensure(&ecs, &cx, &cluster_desired)
        .await
        .expect("create cluster");
    assert_eq!(out.name, "demo");
    let mark = recorder.events().len();
    cluster::ensure(&ecs, &cx, &cluster_desired)
        .await
        .expect("second ensure");
    assert_eq!(mutations(&recorder, mark), vec![], "cluster converged");
    let observed = cluster::find(&ecs, "demo")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(observed.container_insights.as_deref(), Some("enabled"));
    assert_eq!(
        observed
            .tags
            .get("orchestrate:deployment")
            .map(String::as_str),
        Some("demo")
    );

    // Task definition: registered once, then recognised as equal.
    let tags = cx.tags("ecs/worker", Phase::Worker, "demo-worker");
    let rendered = taskdef::with_tags(&worker_definition("apache/airflow:3.1.0"), &tags);
    let first = taskdef::register_if_changed(&ecs, &cx, &rendered)
        .await
        .expect("register");
    assert!(first.registered);
    let again = taskdef::register_if_changed(&ecs, &cx, &rendered)
        .await
        .expect("compare");
    assert!(
        !again.registered,
        "moto's described revision normalises equal to the request"
    );
    assert_eq!(again.arn, first.arn);

    // Service.
    let (subnet, sg) = network(&moto.url).await;
    let network = ServiceNetwork {
        subnets: vec![subnet],
        security_groups: vec![sg],
        assign_public_ip: false,
    };
    let desired = ServiceDesired::new(&cx, "worker", Phase::Worker, &first.arn, 1, network)
        .with_grace_seconds(300)
        .with_capacity_provider_strategy(vec![
            StrategyItem::new("FARGATE", 1, 0),
            StrategyItem::new("FARGATE_SPOT", 0, 1),
        ])
        .autoscaled();
    let created = service::ensure(&ecs, &cx, &desired)
        .await
        .expect("create service");
    assert!(created.created);
    // moto 5.2.1 quirk: CreateService drops capacityProviderStrategy,
    // deploymentConfiguration, healthCheckGracePeriodSeconds and enableExecuteCommand (its
    // create_service response handler never reads them), while UpdateService stores them.
    // So the second ensure repairs exactly those four with one UpdateService; real ECS
    // keeps them from the create.
    let plan = service::plan_service(&ecs, &desired).await.expect("plan");
    let shown = plan.to_string();
    for field in [
        "healthCheckGracePeriodSeconds",
        "capacityProviderStrategy",
        "deploymentConfiguration",
        "enableExecuteCommand",
    ] {
        assert!(shown.contains(field), "{shown}");
    }
    assert!(
        !shown.contains("taskDefinition") && !shown.contains("networkConfiguration"),
        "{shown}"
    );
    let repaired = service::ensure(&ecs, &cx, &desired)
        .await
        .expect("repair moto's create");
    assert!(repaired.updated);
    let mark = recorder.events().len();
    let third = service::ensure(&ecs, &cx, &desired)
        .await
        .expect("third ensure");
    assert!(
        !third.updated,
        "{:?}",
        service::plan_service(&ecs, &desired).await
    );
    assert_eq!(mutations(&recorder, mark), vec![]);

    // A new image: a new revision, and an UpdateService carrying it.
    let rendered2 = taskdef::with_tags(&worker_definition("apache/airflow:3.1.1"), &tags);
    let plan = taskdef::plan_task_definition(&ecs, Phase::Worker, &rendered2)
        .await
        .expect("plan");
    assert!(
        plan.to_string()
            .contains("containerDefinitions[worker].image"),
        "{plan}"
    );
    let next = taskdef::register_if_changed(&ecs, &cx, &rendered2)
        .await
        .expect("register 2");
    assert!(next.registered);
    assert_eq!(next.revision, first.revision + 1);
    let desired2 = ServiceDesired {
        task_definition_arn: next.arn.clone(),
        ..desired.clone()
    };
    let updated = service::ensure(&ecs, &cx, &desired2).await.expect("update");
    assert!(updated.updated);
    let found = service::find(&ecs, "demo", "demo-worker")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(found.task_definition, next.arn);
    let mark = recorder.events().len();
    service::ensure(&ecs, &cx, &desired2)
        .await
        .expect("converged");
    assert_eq!(mutations(&recorder, mark), vec![]);

    // Autoscaling.
    let scaling = AutoscalingDesired::new(&cx, "demo-worker", 1, 10, 70.0, 80.0);
    autoscaling::ensure(&aas, &cx, &scaling)
        .await
        .expect("autoscaling");
    let mark = recorder.events().len();
    autoscaling::ensure(&aas, &cx, &scaling)
        .await
        .expect("autoscaling again");
    assert_eq!(mutations(&recorder, mark), vec![], "autoscaling converged");

    // Status, batched.
    let names = vec!["demo-worker".to_string(), "demo-scheduler".to_string()];
    let status = describe_services(&ecs, "demo", &names)
        .await
        .expect("status");
    assert_eq!(status[0].status, "ACTIVE");
    assert_eq!(status[1].status, "MISSING");

    // Teardown, twice.
    for _ in 0..2 {
        autoscaling::delete(&aas, &cx, &scaling)
            .await
            .expect("delete autoscaling");
        service::delete(&ecs, &cx, "demo", "demo-worker")
            .await
            .expect("delete service");
        service::wait_deleted(&ecs, &cx, "demo", "demo-worker", Duration::from_secs(60))
            .await
            .expect("service gone");
        taskdef::deregister_family(&ecs, &cx, "demo-worker")
            .await
            .expect("deregister");
        cluster::delete(&ecs, &cx, "demo")
            .await
            .expect("delete cluster");
    }
    assert!(cluster::find(&ecs, "demo").await.expect("find").is_none());
    assert!(
        taskdef::find_active(&ecs, "demo-worker")
            .await
            .expect("find")
            .is_none()
    );
}
