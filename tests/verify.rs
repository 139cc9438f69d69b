//! `orchestrate verify` and the same checks in `plan` and `up`: an engine version the region
//! lacks, an instance class not orderable, a Valkey version not offered, a pinned zone gone
//! and the Elastic IP limit used up each fail `verify`, `plan` and `up` with exit 2, the fix
//! named, and zero mutating calls (no lease either); a good spec passes with a list of what was checked; a converged
//! deployment needs no new quota whatever the account holds.

mod common;

use awsim::Scenario;
use common::{Run, SPEC, World};

/// Every mutating call the emulator saw since the last reset, the lease's included.
fn mutating(world: &World) -> Vec<String> {
    world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating)
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

/// `verify`, `plan` and `up` of the spec at `spec` each exit 2 naming every text of `named`,
/// with zero mutating calls.
async fn refused_by_all_three(world: &World, spec: &std::path::Path, named: &[&str]) {
    for command in [&["verify"][..], &["plan"], &["up", "--phase", "1"]] {
        world.sim.reset_accounting();
        let run = world.run_for(spec, command).await;
        run.expect_code(2);
        let all = run.all();
        for text in named {
            assert!(all.contains(text), "{command:?} names {text:?}:\n{all}");
        }
        assert!(!all.contains("panicked"), "{command:?} panicked:\n{all}");
        assert_eq!(
            mutating(world),
            Vec::<String>::new(),
            "{command:?} made mutating calls"
        );
        assert!(
            world
                .sim
                .calls()
                .iter()
                .any(|c| c.operation.starts_with("Describe")),
            "{command:?} read the account"
        );
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("one JSON document: {e}\n{}", run.stdout))
}

fn verdict_of<'a>(doc: &'a serde_json::Value, check: &str) -> Vec<&'a str> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == check)
        .filter_map(|f| f["verdict"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_is_verified_before_anything_is_created() {
    let world = World::start(SPEC, Scenario::default()).await;
    let sdk = world.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);

    // A good spec passes and lists what was checked; no lease, no change.
    world.sim.reset_accounting();
    let good = world.run(&["verify"]).await;
    good.expect_code(0);
    for check in [
        "database_engine_version",
        "database_instance_class",
        "cache_engine_version",
        "zones",
        "elastic_ips",
        "vpcs",
        "nat_gateways",
        "cache_node_type",
    ] {
        assert!(
            good.stdout.contains(check),
            "lists {check}:\n{}",
            good.stdout
        );
    }
    assert!(good.stdout.contains("Verified"), "{}", good.stdout);
    assert!(
        good.stdout.contains("PostgreSQL 16") && good.stdout.contains("16.9"),
        "the major version resolves to the newest offered minor:\n{}",
        good.stdout
    );
    let doc = json(&world.run(&["--output", "json", "verify"]).await);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["passed"], true);
    assert_eq!(verdict_of(&doc, "database_instance_class"), ["passed"]);
    assert_eq!(verdict_of(&doc, "elastic_ips"), ["passed"]);
    assert_eq!(verdict_of(&doc, "cache_node_type"), ["not_checked"]);
    assert_eq!(mutating(&world), Vec::<String>::new());

    // An engine version the region lacks: the available minors and the fix are named.
    let retired = world.add_spec(
        "retired",
        &SPEC.replace(
            "[network]",
            "[database]\nengine_version = \"16.1\"\n\n[network]",
        ),
    );
    refused_by_all_three(
        &world,
        &retired,
        &[
            "PostgreSQL 16.1",
            "16.4, 16.6",
            "database.engine_version = \"16\"",
        ],
    )
    .await;
    let doc = json(
        &world
            .run_for(&retired, &["--output", "json", "verify"])
            .await,
    );
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["kind"], "invalid");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert_eq!(verdict_of(&doc, "database_engine_version"), ["failed"]);

    // An instance class not orderable for the version: orderable ones are named.
    let class = world.add_spec(
        "class",
        &SPEC.replace(
            "[network]",
            "[database]\ninstance_class = \"db.m1.small\"\n\n[network]",
        ),
    );
    refused_by_all_three(
        &world,
        &class,
        &[
            "db.m1.small is not orderable",
            "database.instance_class",
            "db.t4g.small",
        ],
    )
    .await;

    // A Valkey version the region no longer offers (the emulated catalog overridden).
    let base = world.sim.scenario();
    let mut old_valkey = base.clone();
    old_valkey.catalog.valkey_versions = vec!["7.2".into(), "8.1".into()];
    world.sim.set_scenario(old_valkey);
    refused_by_all_three(
        &world,
        &world.spec,
        &["Valkey 8.0", "it offers 7.2, 8.1", "cache.engine_version"],
    )
    .await;
    world.sim.set_scenario(base);

    // A pinned zone that no longer exists.
    let lost = world.add_spec("lost-zone", SPEC);
    std::fs::write(
        lost.with_extension("lock"),
        "region = \"us-east-1\"\navailability_zones = [\"us-east-1a\", \"us-east-1z\"]\n",
    )
    .expect("lock file");
    refused_by_all_three(&world, &lost, &["us-east-1z", "delete"]).await;

    // The Elastic IP limit used up (moto's vpc-max-elastic-ips is 5): a fresh deployment
    // needs one address for its NAT gateway.
    let mut allocated = Vec::new();
    for _ in 0..5 {
        let out = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("allocate");
        allocated.push(out.allocation_id.expect("allocation id"));
    }
    refused_by_all_three(
        &world,
        &world.spec,
        &[
            "Elastic IP limit reached",
            "vpc-max-elastic-ips",
            "5 are allocated",
            "release 1",
        ],
    )
    .await;

    // One freed: `up` takes it. Now full again, but the converged deployment needs nothing
    // new, so `verify` and `up` pass; a spec that adds a NAT gateway per zone does not.
    ec2.release_address()
        .allocation_id(allocated.pop().expect("one"))
        .send()
        .await
        .expect("release");
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let converged = world.run(&["verify"]).await;
    converged.expect_code(0);
    assert!(
        converged.stdout.contains("no new Elastic IP"),
        "{}",
        converged.stdout
    );
    world.sim.reset_accounting();
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    assert_eq!(
        world.applied_mutations(),
        Vec::<String>::new(),
        "the converged re-run changes nothing"
    );
    // What verify costs a converged re-run: only what decides this run. The RDS instance
    // exists with the spec's class and version (one DescribeDBInstances instead of the two
    // catalog reads), the network grows by nothing (no zones, no account attributes, and
    // the account's Elastic IPs are not counted: the DescribeAddresses left is the network
    // snapshot's, by tag); and no Valkey catalog: verify reads the replication group (kept
    // for the run) and its member cluster, which runs the spec's version already.
    let calls = world.sim.summary();
    let count = |reads: &[(&str, &str)]| -> u64 {
        reads
            .iter()
            .map(|(service, operation)| calls.count(service, operation))
            .sum()
    };
    let catalog = [
        ("rds", "DescribeDBEngineVersions"),
        ("rds", "DescribeOrderableDBInstanceOptions"),
        ("elasticache", "DescribeCacheEngineVersions"),
        ("ec2", "DescribeAvailabilityZones"),
        ("ec2", "DescribeAccountAttributes"),
    ];
    assert_eq!(count(&catalog), 0, "{calls:?}");
    assert_eq!(
        calls.count("elasticache", "DescribeCacheClusters"),
        1,
        "the member cluster is read once: {calls:?}"
    );
    eprintln!(
        "converged up --phase 1: {} calls, no catalog read of verify (its network snapshot, \
         DescribeDBInstances and replication group are the run's)",
        calls.total
    );
    // `orchestrate verify` itself runs every check, converged or not.
    world.sim.reset_accounting();
    world.run(&["verify"]).await.expect_code(0);
    let calls = world.sim.summary();
    let full: u64 = catalog[..4]
        .iter()
        .map(|(service, operation)| calls.count(service, operation))
        .sum();
    assert_eq!(
        full, 4,
        "verify reads both catalogs and the zones: {calls:?}"
    );
    let per_az = world.add_spec(
        "per-az",
        &SPEC.replace("az_count = 2", "az_count = 2\nnat = \"per-az\""),
    );
    refused_by_all_three(
        &world,
        &per_az,
        &["this run allocates 1", "network.nat = \"single\""],
    )
    .await;
}
