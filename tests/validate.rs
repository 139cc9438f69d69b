//! `validate`, `plan` and `up` on bad specs: every rule fails with its message and location,
//! exit code 2, and not a single AWS call reaches the emulator.

mod common;

use awsim::Scenario;
use common::World;

const HEAD: &str = "[deployment]\nname = \"e2e\"\nregion = \"us-east-1\"\n";

/// (rule, spec text after HEAD, line the finding must point at)
const BAD: &[(&str, &str, usize)] = &[
    ("deployment-name", "", 2),
    ("region", "", 3),
    ("tag-reserved", "[deployment.tags]\n\"aws:x\" = \"y\"\n", 5),
    ("az-count", "[network]\naz_count = 1\n", 5),
    ("vpc-cidr", "[network]\nvpc_cidr = \"10.0.0.0/8\"\n", 5),
    (
        "subnet-fit",
        "[network]\nvpc_cidr = \"10.1.2.0/24\"\naz_count = 3\nsubnet_prefix = 26\n",
        7,
    ),
    (
        "db-instance-class",
        "[database]\ninstance_class = \"large\"\n",
        5,
    ),
    (
        "db-engine-version",
        "[database]\nengine_version = \"9.6\"\n",
        5,
    ),
    ("db-storage", "[database]\nallocated_storage_gb = 5\n", 5),
    ("db-backups", "[database]\nbackup_retention_days = 0\n", 5),
    ("db-identifier", "[database]\nusername = \"postgres\"\n", 5),
    ("cache-node-type", "[cache]\nnode_type = \"t4g.micro\"\n", 5),
    ("cache-replicas", "[cache]\nreplicas = 9\n", 5),
    (
        "fargate-cpu-memory",
        "[components.scheduler]\ncpu = 1024\nmemory = 1024\n",
        6,
    ),
    (
        "ephemeral-storage",
        "[components.scheduler]\nephemeral_storage_gb = 10\n",
        5,
    ),
    (
        "health-check-grace",
        "[components.api_server]\nhealth_check_grace_seconds = 60\n",
        5,
    ),
    (
        "worker-memory",
        "[components.worker]\ncpu = 512\nmemory = 1024\n",
        6,
    ),
    (
        "worker-autoscaling",
        "[components.worker.autoscaling]\nmin = 0\n",
        5,
    ),
    (
        "spot-arm64",
        "[components.worker]\narchitecture = \"arm64\"\nspot = true\n",
        5,
    ),
    (
        "worker-spot-base",
        "[components.worker]\non_demand_base = 20\n",
        5,
    ),
    ("git-sync-repo", "[git_sync]\nrepo = \"not a repo\"\n", 5),
    (
        "git-sync-credentials",
        "[git_sync]\nrepo = \"https://u:p@example.com/x.git\"\n",
        5,
    ),
    (
        "git-sync-ref",
        "[git_sync]\nrepo = \"https://example.com/x.git\"\nref = \"\"\n",
        6,
    ),
    (
        "git-sync-subpath",
        "[git_sync]\nrepo = \"https://example.com/x.git\"\nsubpath = \"../x\"\n",
        6,
    ),
    (
        "git-sync-period",
        "[git_sync]\nrepo = \"https://example.com/x.git\"\nperiod_seconds = 1\n",
        6,
    ),
    (
        "alb-ingress",
        "[load_balancer]\ningress_cidrs = [\"nope\"]\n",
        5,
    ),
    (
        "alb-certificate",
        "[load_balancer]\ncertificate_arn = \"x\"\n",
        5,
    ),
    (
        "alb-idle-timeout",
        "[load_balancer]\nidle_timeout_seconds = 0\n",
        5,
    ),
    ("log-retention", "[logs]\nretention_days = 2\n", 5),
    (
        "airflow-managed-variable",
        "[airflow.environment]\nAIRFLOW__CORE__FERNET_KEY = \"x\"\n",
        5,
    ),
    (
        "airflow-variable-name",
        "[airflow.environment]\nairflow_lower = \"y\"\n",
        5,
    ),
    (
        "airflow-version",
        "[image]\nairflow_version = \"2.10.5\"\n",
        5,
    ),
    (
        "spec-schema",
        "[database]\ninstance_clas = \"db.t4g.small\"\n",
        5,
    ),
];

fn spec_for(rule: &str, extra: &str) -> String {
    match rule {
        "deployment-name" => {
            "[deployment]\nname = \"Bad_Name\"\nregion = \"us-east-1\"\n".to_string()
        }
        "region" => "[deployment]\nname = \"e2e\"\nregion = \"europe\"\n".to_string(),
        _ => format!("{HEAD}{extra}"),
    }
}

#[tokio::test]
async fn every_rule_fails_with_its_message_and_makes_no_aws_call() {
    let world = World::start(HEAD, Scenario::default()).await;
    for (rule, extra, line) in BAD {
        std::fs::write(&world.spec, spec_for(rule, extra)).expect("write spec");
        let validate = world.run(&["validate"]).await;
        validate.expect_code(2);
        let shown = validate.all();
        assert!(
            shown.contains(&format!("[rule: {rule}]")),
            "{rule}: {shown}"
        );
        assert!(shown.contains("fix:"), "{rule} gives no fix: {shown}");
        let place = format!("orchestrate.toml:{line}:");
        assert!(
            shown.contains(&place),
            "{rule}: expected {place} in {shown}"
        );
        for command in [&["up", "--phase", "1"][..], &["plan", "--phase", "1"][..]] {
            let run = world.run(command).await;
            run.expect_code(2);
            assert!(
                run.all().contains(&format!("[rule: {rule}]")),
                "{rule} {command:?}: {}",
                run.all()
            );
        }
    }
    assert_eq!(
        world.sim.summary().total,
        0,
        "a bad spec must not reach AWS: {:?}",
        world.sim.summary()
    );
}

#[tokio::test]
async fn shipped_example_specs_are_valid() {
    let world = World::start(HEAD, Scenario::default()).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for example in ["config/orchestrate.toml", "config/local.toml"] {
        let text = std::fs::read_to_string(root.join(example)).expect("example exists");
        std::fs::write(&world.spec, text).expect("write spec");
        let run = world.run(&["validate"]).await;
        run.expect_code(0);
        assert!(run.stdout.contains("valid"), "{example}: {}", run.stdout);
    }
    assert_eq!(world.sim.summary().total, 0);
}

#[tokio::test]
async fn environment_override_is_applied_and_named_in_findings() {
    let world = World::start(HEAD, Scenario::default()).await;
    let run = world
        .command(&["validate"])
        .env("ORCHESTRATE__COMPONENTS__WORKER__MEMORY", "1024")
        .output()
        .await
        .expect("runs");
    let run = common::Run::from(run);
    run.expect_code(2);
    assert!(
        run.all()
            .contains("environment variable ORCHESTRATE__COMPONENTS__WORKER__MEMORY"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("[rule: worker-memory]"));
}

#[tokio::test]
async fn json_output_lists_findings() {
    let world = World::start(
        &format!("{HEAD}[cache]\ntls = false\n"),
        Scenario::default(),
    )
    .await;
    let run = world.run(&["validate", "--output", "json"]).await;
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"], 1);
    assert_eq!(doc["findings"][0]["rule"], "cache-tls");
    assert_eq!(
        doc["findings"][0]["origin"],
        format!("{}:5:1", world.spec.display())
    );
}
