//! Phases 2-5 end to end: `orchestrate up` against the emulator (awsim), checked
//! independently through the AWS SDK: services, rollouts, the migration, the ALB,
//! autoscaling, failures and re-runs.

mod common;

use awsim::Scenario;
use common::{SPEC, World};

const SERVICES: [&str; 5] = [
    "e2e-api-server",
    "e2e-scheduler",
    "e2e-dag-processor",
    "e2e-triggerer",
    "e2e-worker",
];

/// The services of the deployment that exist (ACTIVE), by name.
async fn services(
    sdk: &aws_config::SdkConfig,
) -> std::collections::BTreeMap<String, aws_sdk_ecs::types::Service> {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let out = ecs
        .describe_services()
        .cluster("e2e")
        .set_services(Some(SERVICES.iter().map(|s| s.to_string()).collect()))
        .send()
        .await;
    let Ok(out) = out else {
        return Default::default();
    };
    out.services()
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .map(|s| (s.service_name().unwrap_or_default().to_string(), s.clone()))
        .collect()
}

/// The scalable target of the worker, if registered.
async fn worker_target(
    sdk: &aws_config::SdkConfig,
) -> Option<aws_sdk_applicationautoscaling::types::ScalableTarget> {
    let client = aws_sdk_applicationautoscaling::Client::new(sdk);
    let out = client
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids("service/e2e/e2e-worker")
        .send()
        .await
        .expect("describe scalable targets");
    out.scalable_targets().first().cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_brings_up_all_five_phases_and_a_second_up_changes_nothing() {
    let world = World::start(SPEC, Scenario::default()).await;
    let started = std::time::Instant::now();
    let run = world.run(&["up"]).await;
    run.expect_code(0);
    eprintln!("first up: {:.1?}", started.elapsed());
    // After up: the URL, the admin user and the command that reads the password — never
    // the password.
    assert!(
        run.stdout.contains("Airflow:  http://"),
        "ALB URL printed: {}",
        run.stdout
    );
    assert!(run.stdout.contains("user:     admin"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "password: aws secretsmanager get-secret-value --secret-id \
             orchestrate/e2e/admin-password --region us-east-1 --query SecretString --output text"
        ),
        "{}",
        run.stdout
    );
    let sdk = world.sdk().await;
    let password = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id("orchestrate/e2e/admin-password")
        .send()
        .await
        .expect("admin password secret")
        .secret_string()
        .expect("a string secret")
        .to_string();
    assert!(
        !run.all().contains(&password),
        "the admin password never reaches the output"
    );
    let found = services(&sdk).await;
    for name in SERVICES {
        let service = found
            .get(name)
            .unwrap_or_else(|| panic!("{name} exists: {:?}", found.keys()));
        let breaker = service
            .deployment_configuration()
            .and_then(|d| d.deployment_circuit_breaker())
            .unwrap_or_else(|| panic!("{name} has a circuit breaker"));
        assert!(
            breaker.enable() && breaker.rollback(),
            "{name}: {breaker:?}"
        );
        let deployments = service.deployments();
        assert_eq!(deployments.len(), 1, "{name}: one deployment");
        assert_eq!(
            deployments[0].rollout_state().map(|s| s.as_str()),
            Some("COMPLETED"),
            "{name}"
        );
        assert_eq!(service.running_count(), service.desired_count(), "{name}");
    }
    let worker = &found["e2e-worker"];
    let strategy: Vec<(String, i32, i32)> = worker
        .capacity_provider_strategy()
        .iter()
        .map(|s| (s.capacity_provider().to_string(), s.base(), s.weight()))
        .collect();
    assert!(
        strategy.contains(&("FARGATE_SPOT".to_string(), 0, 1))
            && strategy.contains(&("FARGATE".to_string(), 1, 0)),
        "worker on Spot above an on-demand base of 1: {strategy:?}"
    );
    // A Spot worker runs X86_64; everything else the ARM64 default.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for (name, service) in &found {
        let td = ecs
            .describe_task_definition()
            .task_definition(service.task_definition().unwrap_or_default())
            .send()
            .await
            .expect("describe task definition");
        let arch = td
            .task_definition()
            .and_then(|t| t.runtime_platform())
            .and_then(|p| p.cpu_architecture())
            .map(|a| a.as_str().to_string());
        let want = if name == "e2e-worker" {
            "X86_64"
        } else {
            "ARM64"
        };
        assert_eq!(arch.as_deref(), Some(want), "{name}");
    }
    let api = &found["e2e-api-server"];
    assert_eq!(api.load_balancers().len(), 1, "api-server behind the ALB");
    assert_eq!(api.load_balancers()[0].container_port(), Some(8080));
    assert_eq!(api.service_registries().len(), 1, "api-server in Cloud Map");
    assert_eq!(api.health_check_grace_period_seconds(), Some(420));

    let target = worker_target(&sdk).await.expect("worker scalable target");
    assert_eq!((target.min_capacity(), target.max_capacity()), (1, 10));
    let policies = aws_sdk_applicationautoscaling::Client::new(&sdk)
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id("service/e2e/e2e-worker")
        .send()
        .await
        .expect("policies");
    let mut targets: Vec<(String, f64)> = policies
        .scaling_policies()
        .iter()
        .filter_map(|p| {
            let config = p.target_tracking_scaling_policy_configuration()?;
            let metric = config
                .predefined_metric_specification()?
                .predefined_metric_type()
                .as_str()
                .to_string();
            Some((metric, config.target_value()))
        })
        .collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        targets,
        vec![
            ("ECSServiceAverageCPUUtilization".to_string(), 70.0),
            ("ECSServiceAverageMemoryUtilization".to_string(), 80.0),
        ]
    );
    assert_eq!(
        world.sim.summary().count("ecs", "RunTask"),
        1,
        "one migration"
    );

    // `status` shows every resource of the graph with its state, in a bounded number of
    // read-only calls (batched describes; no secret value read).
    world.sim.reset_accounting();
    let status = world.run(&["status"]).await;
    status.expect_code(0);
    let calls = world.sim.summary();
    assert_eq!(calls.mutating, 0, "status is read-only");
    assert!(calls.total <= 20, "status budget: {} calls", calls.total);
    assert_eq!(
        calls.count("secretsmanager", "GetSecretValue"),
        0,
        "status reads no secret value"
    );
    for kind in [
        "ec2/vpc",
        "ec2/nat-gateway",
        "rds/db-instance",
        "elasticache/replication-group",
        "ecs/cluster",
        "elbv2/load-balancer",
        "elbv2/target-group",
        "elbv2/listener",
        "servicediscovery/namespace",
        "servicediscovery/service",
        "application-autoscaling/scalable-target",
        "application-autoscaling/scaling-policy",
    ] {
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.contains(kind) && !l.contains("absent")),
            "status shows {kind} present: {}",
            status.stdout
        );
    }
    for name in SERVICES {
        let line = status
            .stdout
            .lines()
            .find(|l| l.contains("ecs/service") && l.contains(name))
            .unwrap_or_else(|| panic!("status shows {name}: {}", status.stdout));
        assert!(
            line.contains("1/1 running") && line.contains("COMPLETED"),
            "{line}"
        );
    }

    // The plan of a converged deployment is read-only and, where the emulator keeps every
    // field, shows no change.
    world.sim.reset_accounting();
    let plan = world.run(&["plan"]).await;
    plan.expect_code(0);
    assert_eq!(world.sim.summary().mutating, 0, "plan is read-only");
    assert!(
        emulator_echoes_service_fields(&found),
        "the emulator must return {MOTO_DROPPED:?} as CreateService set them"
    );
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);

    // Second run: converged, zero mutating calls.
    world.sim.reset_accounting();
    let started = std::time::Instant::now();
    let second = world.run(&["up"]).await;
    second.expect_code(0);
    eprintln!("second up: {:.1?}", started.elapsed());
    let mutating = world.mutating_calls();
    assert!(
        mutating.is_empty(),
        "second up mutated: {mutating:?}\n{}",
        second.stderr
    );
    // Quiet where nothing happens: one summary line, no "ready" line per resource.
    assert!(
        second.stdout.contains("converged through phase 5 (worker)")
            && second.stdout.contains("nothing changed"),
        "{}",
        second.stdout
    );
    assert!(
        !second.stderr.contains(" ready "),
        "a converged up prints no ready lines:\n{}",
        second.stderr
    );
    assert_eq!(
        world.sim.summary().mutating as usize,
        world.lease_mutations().len(),
        "the only other mutating calls are the lease's"
    );
}

/// ECS service fields moto 5.2.1 does not return from DescribeServices; awsim echoes them
/// (without that, `ensure` would see them as drifted on every run).
const MOTO_DROPPED: [&str; 3] = [
    "healthCheckGracePeriodSeconds",
    "enableExecuteCommand",
    "capacityProviderStrategy",
];

/// True when the emulator returns what CreateService was given for the fields moto drops.
fn emulator_echoes_service_fields(
    found: &std::collections::BTreeMap<String, aws_sdk_ecs::types::Service>,
) -> bool {
    let api = &found["e2e-api-server"];
    let worker = &found["e2e-worker"];
    api.health_check_grace_period_seconds().is_some()
        && api.enable_execute_command()
        && !worker.capacity_provider_strategy().is_empty()
}

/// Runs `orchestrate <args>` with extra environment variables.
async fn run_with(world: &World, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut cmd = world.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(240), cmd.output())
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
    common::Run::from(output)
}

/// Mutating calls of the last run to services phase 1 owns.
fn phase1_mutations(world: &World) -> Vec<String> {
    const PHASE1: [&str; 8] = [
        "ec2",
        "rds",
        "elasticache",
        "secretsmanager",
        "iam",
        "logs",
        "ecr",
        "servicediscovery",
    ];
    world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating && PHASE1.contains(&c.service.as_str()) && !common::is_lease_call(c))
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_phase_3_stops_after_the_scheduler() {
    let world = World::start(SPEC, Scenario::default()).await;
    // Before anything exists, `plan` shows every resource to create, read-only.
    let plan = world.run(&["plan", "--phase", "3"]).await;
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("+ ecs/service e2e-scheduler"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("e2e-triggerer"), "{}", plan.stdout);
    assert_eq!(world.sim.summary().mutating, 0, "plan is read-only");
    let run = world.run(&["up", "--phase", "3"]).await;
    run.expect_code(0);
    let sdk = world.sdk().await;
    let found = services(&sdk).await;
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec!["e2e-api-server", "e2e-dag-processor", "e2e-scheduler"],
        "phases 2 and 3 only"
    );
    assert!(worker_target(&sdk).await.is_none(), "no scalable target");
    let families = aws_sdk_ecs::Client::new(&sdk)
        .list_task_definition_families()
        .send()
        .await
        .expect("families");
    assert!(
        !families
            .families()
            .iter()
            .any(|f| f == "e2e-triggerer" || f == "e2e-worker"),
        "no phase 4-5 task definition: {:?}",
        families.families()
    );
    assert!(run.stdout.contains("Airflow:  http://"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_stops_phase_2_before_the_api_server_service() {
    let scenario = Scenario::from_json(
        r#"{"run_task": [{"family": "e2e-migration", "exit_code": 1,
             "stopped_reason": "Essential container in task exited"}]}"#,
    )
    .expect("scenario parses");
    let world = World::start(SPEC, scenario).await;
    let run = world.run(&["up"]).await;
    run.expect_code(3);
    let shown = run.stderr.clone();
    eprintln!("--- migration failure as shown:\n{shown}");
    assert!(shown.contains("migration task"), "{shown}");
    assert!(shown.contains("exit code 1"), "{shown}");
    assert!(
        shown.contains("Essential container in task exited"),
        "stop reason shown: {shown}"
    );
    assert!(shown.contains("log"), "log tail mentioned: {shown}");
    let calls = world.sim.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.service == "ecs" && c.operation == "CreateService")
            .count(),
        0,
        "no service created"
    );
    assert!(services(&world.sdk().await).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_circuit_breaker_rollback_in_each_phase_exits_3_with_the_evidence() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    for (round, service) in ["api-server", "scheduler", "triggerer", "worker"]
        .iter()
        .enumerate()
    {
        let tag = format!("3.1.0-round{round}");
        let scenario = Scenario::from_json(&format!(
            r#"{{"time_scale": {}, "ecs_failures": [{{"service": "e2e-{service}",
                 "image_contains": ":{tag}", "kind": "fail_to_start"}}]}}"#,
            common::TIME_SCALE
        ))
        .expect("scenario parses");
        world.set_scenario(scenario);
        world.sim.reset_accounting();
        let run = run_with(&world, &["up"], &[("ORCHESTRATE__IMAGE__TAG", &tag)]).await;
        run.expect_code(3);
        let shown = run.stderr.clone();
        let name = format!("e2e-{service}");
        eprintln!("--- {name} failure as shown:\n{shown}");
        assert!(shown.contains(&name), "names {name}: {shown}");
        assert!(
            shown.contains("circuit breaker"),
            "{name}: circuit-breaker evidence: {shown}"
        );
        assert!(
            shown.contains("ResourceInitializationError"),
            "{name}: stopped tasks' reasons: {shown}"
        );
        assert!(
            shown.contains("(left running)"),
            "{name}: the rolled-back revision: {shown}"
        );
        assert_eq!(
            phase1_mutations(&world),
            Vec::<String>::new(),
            "{name}: storage untouched"
        );
        // Later phases were not touched.
        let later = world
            .sim
            .calls()
            .iter()
            .filter(|c| c.operation == "UpdateService")
            .count();
        assert!(later <= round + 2, "{name}: {later} UpdateService calls");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_image_tag_migrates_first_then_rolls_every_service() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let env = [("ORCHESTRATE__IMAGE__TAG", "3.1.0-rebuilt")];
    let plan = run_with(&world, &["plan"], &env).await;
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("-> (new revision)") && plan.stdout.contains(":3.1.0-rebuilt"),
        "plan names the new revision and the image field: {}",
        plan.stdout
    );
    world.sim.reset_accounting();
    let run = run_with(
        &world,
        &["up"],
        &[("ORCHESTRATE__IMAGE__TAG", "3.1.0-rebuilt")],
    )
    .await;
    run.expect_code(0);
    let calls = world.sim.calls();
    let seq = |op: &str| -> Vec<u64> {
        calls
            .iter()
            .filter(|c| c.service == "ecs" && c.operation == op)
            .map(|c| c.seq)
            .collect()
    };
    assert_eq!(
        seq("RegisterTaskDefinition").len(),
        6,
        "one new revision each"
    );
    let run_task = seq("RunTask");
    assert_eq!(run_task.len(), 1, "the migration ran once");
    let updates = seq("UpdateService");
    assert!(updates.len() >= 5, "every service rolled: {updates:?}");
    assert!(
        updates.iter().all(|u| *u > run_task[0]),
        "the migration runs before any service changes"
    );
    let sdk = world.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for (name, service) in services(&sdk).await {
        let td = service.task_definition().unwrap_or_default().to_string();
        assert!(td.ends_with(":2"), "{name} runs the new revision: {td}");
        assert_eq!(service.deployments().len(), 1, "{name}");
        let image = ecs
            .describe_task_definition()
            .task_definition(&td)
            .send()
            .await
            .expect("describe")
            .task_definition()
            .and_then(|t| t.container_definitions().first().cloned())
            .and_then(|c| c.image().map(str::to_string))
            .unwrap_or_default();
        assert!(image.ends_with(":3.1.0-rebuilt"), "{name}: {image}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_past_its_deadline_exits_4_with_the_last_state() {
    // api-server tasks stay RUNNING with unknown health far longer than the rollout deadline
    // (grace 420 s + 15 min); the migration is not affected.
    let scenario = Scenario::from_json(
        r#"{"durations": {"health_check_fail": 1000000},
            "ecs_failures": [{"service": "e2e-api-server", "kind": "fail_health_check"}]}"#,
    )
    .expect("scenario parses");
    let world = World::start(SPEC, scenario).await;
    let run = world.run(&["up", "--phase", "2"]).await;
    run.expect_code(4);
    let shown = run.stderr.clone();
    assert!(shown.contains("e2e-api-server"), "{shown}");
    assert!(shown.contains("timed out"), "{shown}");
    assert!(shown.contains("IN_PROGRESS"), "last state shown: {shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_on_a_deployment_still_on_3_1_0_shows_the_upgrade_to_the_default_airflow() {
    let world = World::start(SPEC, Scenario::default()).await;
    let old = [
        ("ORCHESTRATE__IMAGE__TAG", "3.1.0"),
        ("ORCHESTRATE__IMAGE__AIRFLOW_VERSION", "3.1.0"),
    ];
    run_with(&world, &["up"], &old).await.expect_code(0);
    // No override: the spec's defaults, Airflow 3.3.2.
    let plan = world.run(&["plan"]).await;
    plan.expect_code(0);
    let lines: Vec<&str> = plan.stdout.lines().map(str::trim).collect();
    // Every component, the migration first among them, changes image 3.1.0 -> 3.3.2.
    for component in [
        "migration",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker",
    ] {
        let header = format!("~ ecs/task-definition e2e-{component} (update)");
        let at = lines
            .iter()
            .position(|l| *l == header)
            .unwrap_or_else(|| panic!("plan updates e2e-{component}: {}", plan.stdout));
        let change = lines[at + 1];
        assert!(
            change.starts_with(&format!("containerDefinitions[{component}].image: "))
                && change.contains("/e2e/airflow:3.1.0 -> ")
                && change.ends_with("/e2e/airflow:3.3.2"),
            "{component}: {change}"
        );
    }
    // The services roll to the new revisions (after the migration, which `up` runs first).
    for service in SERVICES {
        assert!(
            lines.contains(&format!("taskDefinition: {service}:1 -> (new revision)").as_str()),
            "{service}: {}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains("stays on Airflow"), "{}", plan.stdout);

    // A phase-limited upgrade would leave the later phases on 3.1.0: plan and up say which.
    let limited = world.run(&["plan", "--phase", "2"]).await;
    limited.expect_code(0);
    for (later, phase) in [
        ("scheduler", 3),
        ("dag-processor", 3),
        ("triggerer", 4),
        ("worker", 5),
    ] {
        assert!(
            limited.stdout.contains(&format!(
                "note: e2e-{later} (phase {phase}) stays on Airflow 3.1.0 while phases 1-2 move to 3.3.2"
            )),
            "{later}: {}",
            limited.stdout
        );
    }
    assert!(
        !limited.stdout.contains("e2e-api-server (phase"),
        "{}",
        limited.stdout
    );
}
