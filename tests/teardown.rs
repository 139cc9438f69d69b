//! Teardown end to end: `orchestrate teardown services`, `teardown all` and
//! `plan --teardown` against the emulator (awsim), checked independently through the AWS SDK
//! (never orchestrate's own code): what goes, what stays with the same ids, what a later `up`
//! reuses, refusals that must not mutate anything, a second deployment left alone, and a
//! crash at every mutating call followed by a re-run.

mod common;

use std::collections::BTreeMap;

use awsim::Scenario;
use common::inventory::{
    COMPONENTS, counts, ec2_filter, expected_phase1_counts, expected_phase2to5_counts, phase1_ids,
    phase2to5_ids, secret_arns, secrets,
};
use common::{Run, SPEC, World, sweep_points};

/// A second deployment in the same account and region.
fn other_spec() -> String {
    SPEC.replace("name = \"e2e\"", "name = \"other\"")
        .replace("10.40.0.0/16", "10.41.0.0/16")
}

/// name -> (value, number of versions) of every live secret of deployment `name`.
async fn secret_values(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> BTreeMap<String, (String, usize)> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let list = client
        .list_secrets()
        .max_results(100)
        .send()
        .await
        .expect("list secrets");
    let prefix = format!("orchestrate/{name}/");
    let mut values = BTreeMap::new();
    for secret in list.secret_list() {
        let Some(secret_name) = secret
            .name()
            .filter(|n| n.starts_with(&prefix) && !common::is_lease_secret(n))
        else {
            continue;
        };
        let value = client
            .get_secret_value()
            .secret_id(secret_name)
            .send()
            .await
            .expect("get secret value");
        let versions = client
            .list_secret_version_ids()
            .secret_id(secret_name)
            .include_deprecated(true)
            .send()
            .await
            .expect("list secret versions");
        values.insert(
            secret_name.to_string(),
            (
                value.secret_string().expect("string secret").to_string(),
                versions.versions().len(),
            ),
        );
    }
    values
}

/// Fails if any secret value of `secrets` (12 characters or more, also inside JSON) shows
/// up in `output`.
fn assert_no_secret_in(output: &str, secrets: &BTreeMap<String, (String, usize)>) {
    for (name, (value, _)) in secrets {
        let mut needles = vec![value.clone()];
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(value)
        {
            needles.extend(map.values().filter_map(|v| v.as_str().map(str::to_string)));
        }
        for needle in needles.iter().filter(|n| n.len() >= 12) {
            assert!(!output.contains(needle.as_str()), "secret {name} leaked");
        }
    }
}

fn none_of_phase2to5() -> BTreeMap<&'static str, usize> {
    expected_phase2to5_counts()
        .into_keys()
        .map(|k| (k, 0))
        .collect()
}

/// Listeners are found through their load balancer; once it is gone, ask for the ARNs seen
/// before. True when none of them exists any more.
async fn listeners_gone(sdk: &aws_config::SdkConfig, arns: &[String]) -> bool {
    if arns.is_empty() {
        return true;
    }
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    match elb
        .describe_listeners()
        .set_listener_arns(Some(arns.to_vec()))
        .send()
        .await
    {
        Ok(out) => out.listeners().is_empty(),
        Err(e) => e
            .as_service_error()
            .is_some_and(|e| e.is_listener_not_found_exception()),
    }
}

/// True when none of the Cloud Map services `ids` ("name id") exists any more.
async fn cloud_map_services_gone(sdk: &aws_config::SdkConfig, ids: &[String]) -> bool {
    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    for entry in ids {
        let id = entry.rsplit(' ').next().unwrap_or(entry);
        if sd.get_service().id(id).send().await.is_ok() {
            return false;
        }
    }
    true
}

/// Task-definition revisions seen before that are still ACTIVE.
async fn still_active_task_definitions(
    sdk: &aws_config::SdkConfig,
    arns: &[String],
) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let mut active = Vec::new();
    for arn in arns {
        let out = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await;
        if let Ok(out) = out
            && out.task_definition().and_then(|t| t.status())
                == Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        {
            active.push(arn.clone());
        }
    }
    active
}

/// Asserts every phase 2-5 resource in `before` is gone (`why` says after what).
async fn assert_phase2to5_gone(
    sdk: &aws_config::SdkConfig,
    name: &str,
    before: &BTreeMap<&'static str, Vec<String>>,
    why: &str,
) {
    let now = phase2to5_ids(sdk, name).await;
    assert_eq!(counts(&now), none_of_phase2to5(), "{why}: left {now:#?}");
    assert!(
        listeners_gone(sdk, &before["listener"]).await,
        "{why}: listeners {:?} still there",
        before["listener"]
    );
    assert!(
        cloud_map_services_gone(sdk, &before["cloud-map-service"]).await,
        "{why}: Cloud Map services {:?} still there",
        before["cloud-map-service"]
    );
    let active = still_active_task_definitions(sdk, &before["task-definition"]).await;
    assert!(
        active.is_empty(),
        "{why}: task definitions not deregistered: {active:?}"
    );
}

/// What a finished `teardown all` may leave of deployment `name`, checked service by service.
/// Returns the final snapshots' identifiers and asserts everything else is gone.
async fn assert_nothing_left_but_snapshot_and_pending_secrets(
    sdk: &aws_config::SdkConfig,
    name: &str,
    why: &str,
) -> Vec<String> {
    let phase1 = phase1_ids(sdk, name).await;
    let empty: BTreeMap<&'static str, usize> = expected_phase1_counts()
        .into_keys()
        .map(|k| (k, 0))
        .collect();
    assert_eq!(counts(&phase1), empty, "{why}: phase 1 left: {phase1:#?}");
    let later = phase2to5_ids(sdk, name).await;
    assert_eq!(
        counts(&later),
        none_of_phase2to5(),
        "{why}: left {later:#?}"
    );

    // Network interfaces (Fargate tasks', the ALB's, the database's) of the deployment.
    // (EC2 DescribeTags is no help: moto keeps the tags of deleted resources.)
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let enis = ec2
        .describe_network_interfaces()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("network interfaces");
    assert!(
        enis.network_interfaces().is_empty(),
        "{why}: network interfaces left"
    );
    // RDS: the DB subnet group too; exactly the final snapshots remain.
    let rds = aws_sdk_rds::Client::new(sdk);
    let subnet_groups = rds
        .describe_db_subnet_groups()
        .send()
        .await
        .expect("db subnet groups");
    assert!(
        !subnet_groups
            .db_subnet_groups()
            .iter()
            .any(|g| g.db_subnet_group_name() == Some(&format!("{name}-database"))),
        "{why}: DB subnet group left"
    );
    let snapshots = rds
        .describe_db_snapshots()
        .send()
        .await
        .expect("db snapshots");
    let finals: Vec<String> = snapshots
        .db_snapshots()
        .iter()
        .filter(|s| s.db_instance_identifier() == Some(&format!("{name}-metadata")))
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
        .collect();

    // ElastiCache subnet group.
    let cache = aws_sdk_elasticache::Client::new(sdk);
    let cache_groups = cache
        .describe_cache_subnet_groups()
        .send()
        .await
        .expect("cache subnet groups");
    assert!(
        !cache_groups
            .cache_subnet_groups()
            .iter()
            .any(|g| g.cache_subnet_group_name() == Some(&format!("{name}-cache"))),
        "{why}: cache subnet group left"
    );

    // Secrets: every one still there is scheduled for deletion, the lease too (deleted last
    // by the run that held it).
    let all_secrets = secrets(sdk, name, true).await;
    assert_eq!(all_secrets.len(), 8, "{why}: secrets {all_secrets:?}");
    let lease = format!("orchestrate/{name}/lease");
    let described = aws_sdk_secretsmanager::Client::new(sdk)
        .describe_secret()
        .secret_id(&lease)
        .send()
        .await;
    assert!(
        described.map_or(true, |d| d.deleted_date().is_some()),
        "{why}: the lease {lease} is scheduled for deletion or gone"
    );
    assert!(
        all_secrets.iter().all(|(_, pending)| *pending),
        "{why}: every secret scheduled for deletion: {all_secrets:?}"
    );

    // ECS clusters: none ACTIVE (checked above); no service of the deployment anywhere.
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = ecs.list_clusters().send().await.expect("clusters");
    let described = ecs
        .describe_clusters()
        .set_clusters(Some(clusters.cluster_arns().to_vec()))
        .send()
        .await
        .expect("describe clusters");
    assert!(
        !described
            .clusters()
            .iter()
            .any(|c| c.cluster_name() == Some(name) && c.status() == Some("ACTIVE")),
        "{why}: cluster {name} still ACTIVE"
    );
    finals
}

/// Final snapshots of `name` named `<name>-final-<timestamp>`.
fn assert_final_snapshot_names(name: &str, finals: &[String]) {
    for id in finals {
        let rest = id
            .strip_prefix(&format!("{name}-final-"))
            .unwrap_or_else(|| panic!("snapshot {id} named <name>-final-<timestamp>"));
        assert!(
            rest.chars().any(|c| c.is_ascii_digit()),
            "snapshot {id}: a timestamp after the prefix"
        );
    }
}

/// Runs `orchestrate` for a deployment's spec.
async fn run_spec(world: &World, spec: &std::path::Path, args: &[&str]) -> Run {
    world.run_for(spec, args).await
}

/// The operations in `calls` that belong to `forbidden`.
fn forbidden_in(calls: &[String], forbidden: &[&str]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| forbidden.contains(&c.as_str()))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_services_keeps_phase_1_byte_for_byte_and_up_reuses_it() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;

    let phase1_before = phase1_ids(&sdk, "e2e").await;
    assert_eq!(counts(&phase1_before), expected_phase1_counts());
    let secrets_before = secret_values(&sdk, "e2e").await;
    assert_eq!(secrets_before.len(), 8, "{:?}", secrets_before.keys());
    let later_before = phase2to5_ids(&sdk, "e2e").await;
    assert_eq!(counts(&later_before), expected_phase2to5_counts());

    // The plan names what would go, and only that, without touching anything.
    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--teardown", "services"]).await;
    plan.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "plan is read-only"
    );
    for component in COMPONENTS {
        assert!(
            plan.stdout.contains(&format!("e2e-{component}")),
            "plan names e2e-{component}:\n{}",
            plan.stdout
        );
    }
    for what in ["e2e-alb", "e2e-api"] {
        assert!(
            plan.stdout.contains(what),
            "plan names {what}:\n{}",
            plan.stdout
        );
    }
    for kept in ["e2e-metadata", "e2e-broker", "orchestrate/e2e/"] {
        assert!(
            !plan.stdout.contains(kept),
            "teardown services keeps {kept}:\n{}",
            plan.stdout
        );
    }
    assert_no_secret_in(&plan.all(), &secrets_before);

    world.sim.reset_accounting();
    let teardown = world.run(&["teardown", "services"]).await;
    teardown.expect_code(0);
    assert_no_secret_in(&teardown.all(), &secrets_before);
    assert_phase2to5_gone(&sdk, "e2e", &later_before, "teardown services").await;
    assert_eq!(
        phase1_ids(&sdk, "e2e").await,
        phase1_before,
        "phase 1 untouched by teardown services"
    );
    assert_eq!(
        secret_values(&sdk, "e2e").await,
        secrets_before,
        "secret values and versions byte-identical"
    );
    let phase1_ops: Vec<String> = world
        .mutating_calls()
        .into_iter()
        .filter(|c| {
            [
                "ec2:",
                "rds:",
                "elasticache:",
                "secretsmanager:",
                "iam:",
                "logs:",
                "ecr:",
            ]
            .iter()
            .any(|p| c.starts_with(p))
                || c == "servicediscovery:DeleteNamespace"
        })
        .collect();
    assert_eq!(phase1_ops, Vec::<String>::new(), "no phase-1 call at all");

    // Again: nothing left to do.
    world.sim.reset_accounting();
    let again = world.run(&["teardown", "services"]).await;
    again.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "a second teardown services has nothing to delete:\n{}",
        again.stderr
    );

    // `up` again: phases 2-5 come back on the same phase 1.
    world.sim.reset_accounting();
    world.run(&["up"]).await.expect_code(0);
    let forbidden = forbidden_in(
        &world.mutating_calls(),
        &[
            "rds:CreateDBInstance",
            "elasticache:CreateReplicationGroup",
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
        ],
    );
    assert_eq!(forbidden, Vec::<String>::new(), "up reuses phase 1");
    assert_eq!(phase1_ids(&sdk, "e2e").await, phase1_before, "same phase 1");
    assert_eq!(
        secret_values(&sdk, "e2e").await,
        secrets_before,
        "no new secret version"
    );
    assert_eq!(
        counts(&phase2to5_ids(&sdk, "e2e").await),
        expected_phase2to5_counts(),
        "phases 2-5 back"
    );
    world.sim.reset_accounting();
    let plan = world.run(&["plan"]).await;
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("No changes"),
        "converged:\n{}",
        plan.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_all_leaves_only_the_final_snapshot_and_pending_secrets_and_spares_another_deployment()
 {
    let world = World::start(SPEC, Scenario::default()).await;
    let other = world.add_spec("other", &other_spec());
    // One after the other (run side by side, the second deployment once got two NAT
    // gateways: to be investigated separately).
    run_spec(&world, &other, &["up"]).await.expect_code(0);
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let other_phase1 = phase1_ids(&sdk, "other").await;
    let other_later = phase2to5_ids(&sdk, "other").await;
    let other_secrets = secret_values(&sdk, "other").await;
    assert_eq!(counts(&other_phase1), expected_phase1_counts());
    assert_eq!(counts(&other_later), expected_phase2to5_counts());
    let secrets_before = secret_values(&sdk, "e2e").await;
    let later_before = phase2to5_ids(&sdk, "e2e").await;

    // Non-interactive without --yes: refused, nothing touched, the flag named.
    world.sim.reset_accounting();
    let refused = world.run(&["teardown", "all"]).await;
    refused.expect_code(2);
    assert!(
        refused.all().contains("--yes"),
        "names --yes:\n{}",
        refused.all()
    );
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "zero mutating calls"
    );

    // Deletion protection is on (the default): without --force, stop before deleting
    // anything and name the flag.
    world.sim.reset_accounting();
    let protected = world.run(&["teardown", "all", "--yes"]).await;
    protected.expect_code(2);
    assert!(
        protected.all().contains("--force"),
        "names --force:\n{}",
        protected.all()
    );
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "nothing deleted before the refusal"
    );

    // The plan: read-only, names phase 1 too.
    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--teardown", "all"]).await;
    plan.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "plan is read-only"
    );
    for what in [
        "e2e-api-server",
        "e2e-worker",
        "e2e-alb",
        "e2e-metadata",
        "e2e-broker",
    ] {
        assert!(
            plan.stdout.contains(what),
            "plan names {what}:\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("other-"),
        "the other deployment is not in the plan:\n{}",
        plan.stdout
    );
    assert_no_secret_in(&plan.all(), &secrets_before);

    world.sim.reset_accounting();
    let started = std::time::Instant::now();
    let teardown = world.run(&["teardown", "all", "--yes", "--force"]).await;
    teardown.expect_code(0);
    eprintln!("teardown all: {:.1?}", started.elapsed());
    assert_no_secret_in(&teardown.all(), &secrets_before);
    let finals =
        assert_nothing_left_but_snapshot_and_pending_secrets(&sdk, "e2e", "teardown all").await;
    assert_eq!(finals.len(), 1, "one final snapshot: {finals:?}");
    assert_final_snapshot_names("e2e", &finals);
    assert!(listeners_gone(&sdk, &later_before["listener"]).await);
    assert!(cloud_map_services_gone(&sdk, &later_before["cloud-map-service"]).await);
    assert!(
        still_active_task_definitions(&sdk, &later_before["task-definition"])
            .await
            .is_empty()
    );
    let deletions: Vec<String> = world
        .applied_mutations()
        .into_iter()
        .filter(|c| c == "secretsmanager:DeleteSecret")
        .collect();
    assert_eq!(deletions.len(), 8, "each secret scheduled once");
    // The other deployment is exactly as it was.
    assert_eq!(
        phase1_ids(&sdk, "other").await,
        other_phase1,
        "other: phase 1"
    );
    assert_eq!(
        phase2to5_ids(&sdk, "other").await,
        other_later,
        "other: phases 2-5"
    );
    assert_eq!(
        secret_values(&sdk, "other").await,
        other_secrets,
        "other: secrets"
    );
    let status = run_spec(&world, &other, &["status"]).await;
    status.expect_code(0);

    // Idempotent: a second run finds it gone.
    world.sim.reset_accounting();
    let again = world.run(&["teardown", "all", "--yes", "--force"]).await;
    again.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn up_after_teardown_all_without_snapshot_converges_again() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let teardown = world
        .run(&[
            "teardown",
            "all",
            "--yes",
            "--skip-final-snapshot",
            "--force",
        ])
        .await;
    teardown.expect_code(0);
    let finals = assert_nothing_left_but_snapshot_and_pending_secrets(
        &sdk,
        "e2e",
        "teardown all --skip-final-snapshot",
    )
    .await;
    assert_eq!(
        finals,
        Vec::<String>::new(),
        "--skip-final-snapshot takes no final snapshot"
    );
    let pending = secret_arns(&sdk, "e2e", true).await;

    // The secrets pending deletion under the same names are brought back, not a crash.
    world.sim.reset_accounting();
    let up = world.run(&["up"]).await;
    up.expect_code(0);
    let ids = phase1_ids(&sdk, "e2e").await;
    assert_eq!(counts(&ids), expected_phase1_counts(), "{ids:#?}");
    let live = secrets(&sdk, "e2e", true).await;
    assert!(
        live.iter().all(|(_, pending)| !pending),
        "no secret left pending deletion: {live:?}"
    );
    assert_eq!(
        live.iter().map(|(arn, _)| arn.clone()).collect::<Vec<_>>(),
        pending,
        "the same secrets restored (same ARNs), none created anew"
    );
    assert_eq!(
        counts(&phase2to5_ids(&sdk, "e2e").await),
        expected_phase2to5_counts()
    );
    let plan = world.run(&["plan"]).await;
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("No changes"),
        "converged:\n{}",
        plan.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absent_deployment_is_already_gone() {
    let world = World::start(SPEC, Scenario::default()).await;
    for args in [
        vec!["teardown", "services"],
        vec!["teardown", "all", "--yes"],
        vec!["plan", "--teardown", "services"],
        vec!["plan", "--teardown", "all"],
    ] {
        world.sim.reset_accounting();
        let run = world.run(&args).await;
        run.expect_code(0);
        assert_eq!(world.mutating_calls(), Vec::<String>::new(), "{args:?}");
        if args[0] == "teardown" {
            assert!(
                run.all().to_lowercase().contains("already gone"),
                "{args:?} says already gone:\n{}",
                run.all()
            );
        }
    }
}

/// Crash stride: every `E2E_TEARDOWN_CRASH_STRIDE`-th applied mutating call (1 is the full
/// sweep), else `default`.
fn crash_stride(default: u64) -> u64 {
    std::env::var("E2E_TEARDOWN_CRASH_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(default)
}

/// `teardown services` makes 19 applied mutating calls; the full sweep (about 6 s a point on a
/// busy 2-core machine: `up`, the crashed run, the re-run) took 121 s.
const SERVICES_CRASH_STRIDE: u64 = 1;

/// `teardown all` makes 61 (phase 1 too): every 4th call is 16 points in about 2 minutes
/// (7.4 s a point); `E2E_TEARDOWN_CRASH_STRIDE=1` runs all 61, about 7.5 minutes.
const ALL_CRASH_STRIDE: u64 = 4;

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_at_every_mutating_call_of_teardown_services_then_a_rerun_finishes() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let phase1 = counts(&phase1_ids(&sdk, "e2e").await);
    world.sim.reset_accounting();
    world.run(&["teardown", "services"]).await.expect_code(0);
    let total = world.applied_mutations().len() as u64;
    assert!(
        total >= 10,
        "teardown services applies {total} mutating calls"
    );
    let stride = crash_stride(SERVICES_CRASH_STRIDE);
    let started = std::time::Instant::now();
    let points = sweep_points(total, stride);
    for &point in &points {
        world.sim.reset().await.expect("emulator reset");
        let _ = std::fs::remove_file(world.dir.path().join("orchestrate.lock"));
        world.run(&["up"]).await.expect_code(0);
        let before1 = phase1_ids(&sdk, "e2e").await;
        let secrets_before = secret_values(&sdk, "e2e").await;
        let before = phase2to5_ids(&sdk, "e2e").await;
        world.sim.reset_accounting();
        let killed = world.crash_at(&["teardown", "services"], point).await;
        assert!(
            killed || point == total,
            "teardown services not killed at mutating call {point} of {total}"
        );
        let rerun = world.run(&["teardown", "services"]).await;
        assert_eq!(
            rerun.code,
            Some(0),
            "re-run after a crash at mutating call {point} failed:\n{}",
            rerun.all()
        );
        let why = format!("crash at mutating call {point}");
        assert_phase2to5_gone(&sdk, "e2e", &before, &why).await;
        let after1 = phase1_ids(&sdk, "e2e").await;
        assert_eq!(counts(&after1), phase1, "{why}");
        assert_eq!(after1, before1, "{why}: phase 1 untouched");
        assert_eq!(
            secret_values(&sdk, "e2e").await,
            secrets_before,
            "{why}: secrets untouched"
        );
    }
    eprintln!(
        "teardown services: {total} applied mutating calls, {} crash points (stride {stride}) in {:.1?}",
        points.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_at_every_mutating_call_of_teardown_all_then_a_rerun_finishes() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    world.sim.reset_accounting();
    world
        .run(&["teardown", "all", "--yes", "--force"])
        .await
        .expect_code(0);
    let total = world.applied_mutations().len() as u64;
    assert!(total >= 30, "teardown all applies {total} mutating calls");
    let stride = crash_stride(ALL_CRASH_STRIDE);
    let started = std::time::Instant::now();
    let points = sweep_points(total, stride);
    let args = ["teardown", "all", "--yes", "--force"];
    for &point in &points {
        world.sim.reset().await.expect("emulator reset");
        let _ = std::fs::remove_file(world.dir.path().join("orchestrate.lock"));
        world.run(&["up"]).await.expect_code(0);
        world.sim.reset_accounting();
        let killed = world.crash_at(&args, point).await;
        assert!(
            killed || point == total,
            "teardown all not killed at mutating call {point} of {total}"
        );
        let rerun = world.run(&args).await;
        assert_eq!(
            rerun.code,
            Some(0),
            "re-run after a crash at mutating call {point} failed:\n{}",
            rerun.all()
        );
        let why = format!("crash at mutating call {point}");
        let finals = assert_nothing_left_but_snapshot_and_pending_secrets(&sdk, "e2e", &why).await;
        assert_eq!(finals.len(), 1, "{why}: one final snapshot: {finals:?}");
        assert_final_snapshot_names("e2e", &finals);
    }
    eprintln!(
        "teardown all: {total} applied mutating calls, {} crash points (stride {stride}) in {:.1?}",
        points.len(),
        started.elapsed()
    );
}
