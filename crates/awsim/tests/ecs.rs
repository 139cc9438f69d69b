//! ECS lifecycles through the real AWS SDK: rollouts, circuit breaker and rollback, one-off tasks.

mod common;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, ContainerOverride,
    DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus, LaunchType,
    NetworkConfiguration, NetworkMode, Service, TaskOverride,
};
use awsim::{Awsim, EcsFailure, FailureKind, RunTaskScript, Scenario};

async fn setup(scenario: Scenario) -> (Awsim, Client, String) {
    let sim = Awsim::start(scenario).await.expect("awsim starts");
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

async fn register(client: &Client, family: &str, image: &str) -> String {
    let out = client
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
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
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string()
}

fn network(subnet: &str) -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(subnet)
                .build()
                .expect("awsvpc"),
        )
        .build()
}

async fn create_service(
    client: &Client,
    subnet: &str,
    name: &str,
    td: &str,
    desired: i32,
    rollback: bool,
) -> Service {
    let cb = DeploymentCircuitBreaker::builder()
        .enable(true)
        .rollback(rollback)
        .build();
    client
        .create_service()
        .cluster("c1")
        .service_name(name)
        .task_definition(td)
        .desired_count(desired)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network(subnet))
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(cb)
                .maximum_percent(200)
                .minimum_healthy_percent(100)
                .build(),
        )
        .send()
        .await
        .expect("create service")
        .service()
        .cloned()
        .expect("service")
}

async fn describe(client: &Client, name: &str) -> Service {
    let out = client
        .describe_services()
        .cluster("c1")
        .services(name)
        .send()
        .await
        .expect("describe services");
    out.services().first().cloned().expect("service present")
}

fn events(s: &Service) -> Vec<String> {
    s.events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .collect()
}

fn rollout(s: &Service, i: usize) -> String {
    s.deployments()[i]
        .rollout_state()
        .map(|r| r.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn service_rollout_completes_and_updates_replace_tasks() {
    let (sim, ecs, subnet) = setup(Scenario::default().with_time_scale(1.0)).await;
    let td1 = register(&ecs, "web", "nginx:1").await;

    let created = create_service(&ecs, &subnet, "web", "web", 2, true).await;
    assert_eq!(created.deployments().len(), 1);
    assert_eq!(rollout(&created, 0), "IN_PROGRESS");
    assert_eq!(created.running_count(), 0);
    assert_eq!(created.pending_count(), 2);
    let cb = created
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .expect("cb echoed");
    assert!(cb.enable() && cb.rollback());

    sim.advance(31.0); // first task started at 30 s, second starts at 32 s
    let s = describe(&ecs, "web").await;
    assert_eq!((s.running_count(), s.pending_count()), (1, 1));
    assert_eq!(rollout(&s, 0), "IN_PROGRESS");

    sim.advance(2.0);
    let s = describe(&ecs, "web").await;
    assert_eq!(s.running_count(), 2);
    assert_eq!(
        rollout(&s, 0),
        "COMPLETED",
        "no old tasks to drain: completes at once"
    );
    let ev = events(&s);
    assert_eq!(
        ev[0], "(service web) has reached a steady state.",
        "newest first: {ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.starts_with("(service web) has started 2 tasks: (task ")),
        "{ev:?}"
    );
    assert_eq!(s.deployments()[0].task_definition(), Some(td1.as_str()));
    assert!(
        s.deployments()[0]
            .id()
            .is_some_and(|id| id.starts_with("ecs-svc/"))
    );

    // New task definition: new PRIMARY deployment, old one ACTIVE until drained.
    let td2 = register(&ecs, "web", "nginx:2").await;
    let updated = ecs
        .update_service()
        .cluster("c1")
        .service("web")
        .task_definition("web:2")
        .send()
        .await
        .expect("update");
    let u = updated.service().expect("service");
    assert_eq!(u.deployments().len(), 2);
    assert_eq!(u.deployments()[0].status(), Some("PRIMARY"));
    assert_eq!(u.deployments()[1].status(), Some("ACTIVE"));
    assert_eq!(u.task_definition(), Some(td2.as_str()));

    sim.advance(33.0);
    let s = describe(&ecs, "web").await;
    assert_eq!(s.deployments().len(), 2, "old deployment still draining");
    assert_eq!(s.deployments()[0].running_count(), 2);
    assert!(
        events(&s)[0].starts_with("(service web) has stopped 2 running tasks"),
        "{:?}",
        events(&s)
    );

    sim.advance(31.0);
    let s = describe(&ecs, "web").await;
    assert_eq!(s.deployments().len(), 1);
    assert_eq!(rollout(&s, 0), "COMPLETED");
    assert_eq!(s.deployments()[0].task_definition(), Some(td2.as_str()));
    assert_eq!(s.running_count(), 2);
    let ev = events(&s);
    assert_eq!(ev[0], "(service web) has reached a steady state.");
    assert!(ev[1].ends_with("deployment completed."), "{ev:?}");

    // Tasks: 2 running on rev 2, 2 stopped (rev 1) with the scheduler's reason.
    let running = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("web")
        .send()
        .await
        .expect("list");
    assert_eq!(running.task_arns().len(), 2);
    let d = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(running.task_arns().to_vec()))
        .send()
        .await
        .expect("dt");
    for t in d.tasks() {
        assert_eq!(t.last_status(), Some("RUNNING"));
        assert_eq!(t.task_definition_arn(), Some(td2.as_str()));
        assert_eq!(t.group(), Some("service:web"));
    }
    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("web")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .expect("list stopped");
    assert_eq!(stopped.task_arns().len(), 2);
    let d = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .expect("dt");
    for t in d.tasks() {
        assert_eq!(t.last_status(), Some("STOPPED"));
        assert!(
            t.stopped_reason().is_some_and(
                |r| r.starts_with("Scaling activity initiated by (deployment ecs-svc/")
            )
        );
    }

    // Desired-count change scales the PRIMARY in place.
    ecs.update_service()
        .cluster("c1")
        .service("web")
        .desired_count(3)
        .send()
        .await
        .expect("scale");
    let s = describe(&ecs, "web").await;
    assert_eq!(
        (s.deployments().len(), s.desired_count(), s.pending_count()),
        (1, 3, 1)
    );
    sim.advance(31.0);
    let s = describe(&ecs, "web").await;
    assert_eq!(s.running_count(), 3);
    assert_eq!(events(&s)[0], "(service web) has reached a steady state.");

    // A second CreateService with the same name is not idempotent.
    let cb = DeploymentCircuitBreaker::builder()
        .enable(false)
        .rollback(false)
        .build();
    let err = ecs
        .create_service()
        .cluster("c1")
        .service_name("web")
        .task_definition("web")
        .desired_count(1)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(cb)
                .build(),
        )
        .send()
        .await
        .expect_err("duplicate create");
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("InvalidParameterException")
    );

    // Delete: moto's own answer (string timestamps) parses; the service's tasks stop.
    let deleted = ecs
        .delete_service()
        .cluster("c1")
        .service("web")
        .force(true)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        deleted.service().and_then(|s| s.service_name()),
        Some("web")
    );
    // DRAINING while its tasks stop (task_stop = 10 s), then INACTIVE.
    assert_eq!(deleted.service().and_then(|s| s.status()), Some("DRAINING"));
    let s = describe(&ecs, "web").await;
    assert_eq!(s.status(), Some("DRAINING"));
    sim.advance(11.0);
    let s = describe(&ecs, "web").await;
    assert_eq!(s.status(), Some("INACTIVE"));
    let running = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("web")
        .send()
        .await
        .expect("list");
    assert!(running.task_arns().is_empty());
}

#[tokio::test]
async fn circuit_breaker_trips_at_threshold_and_rolls_back() {
    let scenario = Scenario {
        ecs_failures: vec![EcsFailure {
            service: Some("api".into()),
            family: Some("api".into()),
            revision: Some(2),
            image_contains: None,
            kind: FailureKind::FailToStart,
            stopped_reason: None,
            container_reason: None,
            exit_code: None,
        }],
        ..Scenario::default()
    };
    let (sim, ecs, subnet) = setup(scenario).await;
    let td1 = register(&ecs, "api", "api:good").await;
    register(&ecs, "api", "api:bad").await;
    create_service(&ecs, &subnet, "api", "api:1", 2, true).await;
    sim.advance(33.0);
    assert_eq!(rollout(&describe(&ecs, "api").await, 0), "COMPLETED");

    ecs.update_service()
        .cluster("c1")
        .service("api")
        .task_definition("api:2")
        .send()
        .await
        .expect("update");
    // Tasks fail at +30 and +32, are relaunched, the 3rd failure (at +60) trips the breaker:
    // threshold = clamp(0.5 x 2, 3, 200) = 3.
    sim.advance(45.0);
    let s = describe(&ecs, "api").await;
    assert_eq!(rollout(&s, 0), "IN_PROGRESS");
    assert_eq!(s.deployments()[0].failed_tasks(), 2);
    assert_eq!(s.running_count(), 2, "old tasks keep running");

    sim.advance(20.0);
    let s = describe(&ecs, "api").await;
    assert_eq!(
        s.deployments().len(),
        3,
        "rollback PRIMARY, failed, original: {:?}",
        s.deployments()
    );
    let failed = &s.deployments()[1];
    assert_eq!(failed.rollout_state().map(|r| r.as_str()), Some("FAILED"));
    assert_eq!(
        failed.rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    assert_eq!(failed.failed_tasks(), 3);
    assert_eq!(s.deployments()[0].status(), Some("PRIMARY"));
    assert_eq!(s.deployments()[0].task_definition(), Some(td1.as_str()));
    assert_eq!(rollout(&s, 0), "IN_PROGRESS");
    let failed_id = failed.id().expect("id").to_string();
    let rollback_id = s.deployments()[0].id().expect("id").to_string();
    let ev = events(&s);
    let pos = |m: String| {
        ev.iter()
            .position(|e| *e == m)
            .unwrap_or_else(|| panic!("missing {m:?} in {ev:?}"))
    };
    let rolling = pos(format!(
        "(service api) rolling back to deployment {rollback_id}."
    ));
    let failed_ev = pos(format!(
        "(service api) (deployment {failed_id}) deployment failed: tasks failed to start."
    ));
    assert!(rolling < failed_ev, "newest first");
    assert!(
        ev[0].starts_with("(service api) has started 2 tasks"),
        "{ev:?}"
    );

    sim.advance(60.0);
    let s = describe(&ecs, "api").await;
    assert_eq!(s.deployments().len(), 1);
    assert_eq!(rollout(&s, 0), "COMPLETED");
    assert_eq!(
        s.task_definition(),
        Some(td1.as_str()),
        "service runs the previous revision"
    );
    assert_eq!(s.running_count(), 2);

    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .expect("ls");
    let d = ecs
        .describe_tasks()
        .cluster("c1")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .expect("dt");
    let failed_to_start: Vec<_> = d
        .tasks()
        .iter()
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("TaskFailedToStart"))
        .collect();
    assert_eq!(failed_to_start.len(), 3);
    for t in failed_to_start {
        assert!(t.stopped_reason().is_some_and(|r| {
            r.starts_with("ResourceInitializationError: unable to pull secrets or registry auth")
        }));
    }
}

#[tokio::test]
async fn run_task_exits_with_scripted_code_and_oom_tasks_report_reason() {
    let scenario = Scenario {
        run_task: vec![
            RunTaskScript {
                family: "migrate".into(),
                command_contains: Some("users create".into()),
                exit_code: 0,
                duration: Some(5.0),
                fail_to_start: false,
                stopped_reason: None,
                container_reason: None,
            },
            RunTaskScript {
                family: "migrate".into(),
                command_contains: None,
                exit_code: 3,
                duration: None,
                fail_to_start: false,
                stopped_reason: None,
                container_reason: None,
            },
        ],
        ecs_failures: vec![EcsFailure {
            service: Some("worker".into()),
            family: None,
            revision: None,
            image_contains: None,
            kind: FailureKind::Oom,
            stopped_reason: None,
            container_reason: None,
            exit_code: None,
        }],
        ..Scenario::default()
    };
    let (sim, ecs, subnet) = setup(scenario).await;
    register(&ecs, "migrate", "airflow:3").await;
    let run = |cmd: &'static [&'static str], token: &'static str| {
        let ecs = ecs.clone();
        let subnet = subnet.clone();
        async move {
            let mut co = ContainerOverride::builder().name("app");
            for c in cmd {
                co = co.command(*c);
            }
            ecs.run_task()
                .cluster("c1")
                .task_definition("migrate")
                .launch_type(LaunchType::Fargate)
                .network_configuration(network(&subnet))
                .overrides(
                    TaskOverride::builder()
                        .container_overrides(co.build())
                        .build(),
                )
                .client_token(token)
                .send()
                .await
                .expect("run task")
        }
    };
    let out = run(&["airflow", "db", "migrate"], "tok-1").await;
    let task = out.tasks().first().expect("task");
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    let arn = task.task_arn().expect("arn").to_string();
    let again = run(&["airflow", "db", "migrate"], "tok-1").await;
    assert_eq!(
        again.tasks()[0].task_arn(),
        Some(arn.as_str()),
        "clientToken replays the first launch"
    );

    let status = |arn: String| {
        let ecs = ecs.clone();
        async move {
            let d = ecs
                .describe_tasks()
                .cluster("c1")
                .tasks(arn)
                .send()
                .await
                .expect("describe tasks");
            d.tasks()[0].clone()
        }
    };
    sim.advance(20.0);
    assert_eq!(status(arn.clone()).await.last_status(), Some("PENDING"));
    sim.advance(11.0);
    assert_eq!(status(arn.clone()).await.last_status(), Some("RUNNING"));
    sim.advance(60.0);
    let t = status(arn.clone()).await;
    assert_eq!(t.last_status(), Some("STOPPED"));
    assert_eq!(t.containers()[0].exit_code(), Some(3));
    assert_eq!(
        t.stopped_reason(),
        Some("Essential container in task exited")
    );
    assert_eq!(
        t.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );

    let other = run(&["airflow", "users", "create"], "tok-2").await.tasks()[0]
        .task_arn()
        .expect("arn")
        .to_string();
    sim.advance(36.0);
    assert_eq!(
        status(other.clone()).await.containers()[0].exit_code(),
        Some(0)
    );

    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .family("migrate")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .expect("ls");
    assert_eq!(stopped.task_arns().len(), 2);

    // A service whose tasks are OOM-killed: stopped tasks carry the container reason.
    register(&ecs, "worker", "airflow:3").await;
    create_service(&ecs, &subnet, "worker", "worker", 1, false).await;
    sim.advance(51.0); // starts at 30, killed 20 s later
    let stopped = ecs
        .list_tasks()
        .cluster("c1")
        .service_name("worker")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .expect("ls");
    assert_eq!(stopped.task_arns().len(), 1);
    let t = status(stopped.task_arns()[0].clone()).await;
    assert_eq!(
        t.stopped_reason(),
        Some("Essential container in task exited")
    );
    assert_eq!(
        t.containers()[0].reason(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    assert_eq!(t.containers()[0].exit_code(), Some(137));
    let s = describe(&ecs, "worker").await;
    assert_eq!(s.deployments()[0].failed_tasks(), 1);
    assert_eq!(s.pending_count(), 1, "the scheduler relaunches the task");

    // StopTask on a service task: stopped by user, replaced.
    let _ = sim;
}
