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
    assert!(
        run.stdout.contains("airflow url: http://"),
        "ALB URL printed: {}",
        run.stdout
    );
    let sdk = world.sdk().await;
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
    // awsim gap: moto 5.2.1 drops `capacityProviderStrategy` from CreateService and
    // DescribeServices; until awsim echoes it, an empty strategy cannot be checked here.
    if strategy.is_empty() {
        eprintln!("note: the emulator does not echo the worker's capacity provider strategy");
    } else {
        assert!(
            strategy.contains(&("FARGATE_SPOT".to_string(), 0, 1))
                && strategy.contains(&("FARGATE".to_string(), 1, 0)),
            "worker on Spot above an on-demand base of 1: {strategy:?}"
        );
    }
    let api = &found["e2e-api-server"];
    assert_eq!(api.load_balancers().len(), 1, "api-server behind the ALB");
    assert_eq!(api.load_balancers()[0].container_port(), Some(8080));
    assert_eq!(api.service_registries().len(), 1, "api-server in Cloud Map");
    // awsim gap: moto drops `healthCheckGracePeriodSeconds` as well.
    match api.health_check_grace_period_seconds() {
        None => eprintln!("note: the emulator does not echo the api-server's grace period"),
        grace => assert_eq!(grace, Some(420)),
    }

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

    // The plan of a converged deployment is read-only and, where the emulator keeps every
    // field, shows no change.
    world.sim.reset_accounting();
    let plan = world.run(&["plan"]).await;
    plan.expect_code(0);
    assert_eq!(world.sim.summary().mutating, 0, "plan is read-only");
    let echoes = emulator_echoes_service_fields(&found);
    if echoes {
        assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    } else {
        for line in plan.stdout.lines().filter(|l| l.starts_with("    ")) {
            let field = line.trim().split(':').next().unwrap_or_default();
            assert!(
                MOTO_DROPPED.contains(&field),
                "plan after up shows a drift the emulator does not explain: {line}\n{}",
                plan.stdout
            );
        }
    }

    // Second run: converged, zero mutating calls.
    world.sim.reset_accounting();
    let started = std::time::Instant::now();
    let second = world.run(&["up"]).await;
    second.expect_code(0);
    eprintln!("second up: {:.1?}", started.elapsed());
    let mutating: Vec<String> = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating)
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    if echoes {
        assert!(
            mutating.is_empty(),
            "second up mutated: {mutating:?}\n{}",
            second.stderr
        );
        assert_eq!(world.sim.summary().mutating, 0);
    } else {
        // Only the services are "updated" back to the fields moto forgot; no registration,
        // no migration, no create.
        eprintln!("note: emulator drops {MOTO_DROPPED:?}; second up made {mutating:?}");
        assert!(
            mutating.iter().all(|m| m == "ecs:UpdateService") && mutating.len() <= SERVICES.len(),
            "second up mutated more than the moto-dropped service fields: {mutating:?}"
        );
    }
}

/// ECS service fields moto 5.2.1 does not return from DescribeServices (so `ensure` sees
/// them as drifted until awsim echoes them).
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
