//! Phase 1 end to end: `orchestrate up --phase 1` against the emulator, checked independently
//! through the AWS SDK; idempotent re-runs; crashes at every point.

mod common;

use std::collections::BTreeMap;

use awsim::Scenario;
use common::{SPEC, World};

/// Tags every orchestrate resource must carry.
fn assert_tags(what: &str, tags: &BTreeMap<String, String>, component: &str) {
    assert_eq!(
        tags.get("orchestrate:deployment").map(String::as_str),
        Some("e2e"),
        "{what}: {tags:?}"
    );
    assert_eq!(
        tags.get("orchestrate:component").map(String::as_str),
        Some(component),
        "{what}: {tags:?}"
    );
    assert_eq!(
        tags.get("orchestrate:phase").map(String::as_str),
        Some("1"),
        "{what}: {tags:?}"
    );
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("orchestrate"),
        "{what}: {tags:?}"
    );
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("data"),
        "{what}: user tags missing: {tags:?}"
    );
}

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn deployment_filter() -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("tag:orchestrate:deployment")
        .values("e2e")
        .build()
}

/// The secret values of the deployment, by name.
async fn secret_values(sdk: &aws_config::SdkConfig) -> BTreeMap<String, String> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let list = client
        .list_secrets()
        .max_results(100)
        .send()
        .await
        .expect("list secrets");
    let mut values = BTreeMap::new();
    for secret in list.secret_list() {
        let name = secret.name().unwrap_or_default().to_string();
        // The lease changes with every run by design; it holds no secret value.
        if !name.starts_with("orchestrate/e2e/") || common::is_lease_secret(&name) {
            continue;
        }
        let value = client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("get secret value");
        values.insert(name, value.secret_string().unwrap_or_default().to_string());
    }
    values
}

/// Counts of every phase-1 resource kind of the deployment.
async fn resource_counts(sdk: &aws_config::SdkConfig) -> BTreeMap<&'static str, usize> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let mut counts = BTreeMap::new();
    let vpcs = ec2
        .describe_vpcs()
        .filters(deployment_filter())
        .send()
        .await
        .expect("vpcs");
    counts.insert("vpc", vpcs.vpcs().len());
    let subnets = ec2
        .describe_subnets()
        .filters(deployment_filter())
        .send()
        .await
        .expect("subnets");
    counts.insert("subnet", subnets.subnets().len());
    let igws = ec2
        .describe_internet_gateways()
        .filters(deployment_filter())
        .send()
        .await
        .expect("igws");
    counts.insert("internet-gateway", igws.internet_gateways().len());
    let nats = ec2
        .describe_nat_gateways()
        .filter(deployment_filter())
        .send()
        .await
        .expect("nats");
    let live_nats = nats
        .nat_gateways()
        .iter()
        .filter(|n| {
            !matches!(
                n.state().map(|s| s.as_str()),
                Some("deleted" | "deleting" | "failed")
            )
        })
        .count();
    counts.insert("nat-gateway", live_nats);
    let eips = ec2
        .describe_addresses()
        .filters(deployment_filter())
        .send()
        .await
        .expect("eips");
    counts.insert("elastic-ip", eips.addresses().len());
    let route_tables = ec2
        .describe_route_tables()
        .filters(deployment_filter())
        .send()
        .await
        .expect("rts");
    counts.insert("route-table", route_tables.route_tables().len());
    let sgs = ec2
        .describe_security_groups()
        .filters(deployment_filter())
        .send()
        .await
        .expect("sgs");
    counts.insert("security-group", sgs.security_groups().len());
    counts.insert("secret", secret_values(sdk).await.len());
    let rds = aws_sdk_rds::Client::new(sdk);
    let dbs = rds.describe_db_instances().send().await.expect("dbs");
    counts.insert(
        "db-instance",
        dbs.db_instances()
            .iter()
            .filter(|d| {
                d.db_instance_identifier()
                    .is_some_and(|i| i.starts_with("e2e-"))
            })
            .count(),
    );
    let cache = aws_sdk_elasticache::Client::new(sdk);
    let groups = cache
        .describe_replication_groups()
        .send()
        .await
        .expect("replication groups");
    counts.insert(
        "replication-group",
        groups
            .replication_groups()
            .iter()
            .filter(|g| {
                g.replication_group_id()
                    .is_some_and(|i| i.starts_with("e2e-"))
            })
            .count(),
    );
    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    let namespaces = sd.list_namespaces().send().await.expect("namespaces");
    counts.insert(
        "namespace",
        namespaces
            .namespaces()
            .iter()
            .filter(|n| n.name().is_some_and(|x| x.starts_with("e2e.")))
            .count(),
    );
    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam.list_roles().send().await.expect("roles");
    counts.insert(
        "role",
        roles
            .roles()
            .iter()
            .filter(|r| r.role_name().starts_with("e2e-"))
            .count(),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/orchestrate/e2e")
        .send()
        .await
        .expect("log groups");
    counts.insert("log-group", groups.log_groups().len());
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let repos = ecr.describe_repositories().send().await.expect("repos");
    counts.insert(
        "repository",
        repos
            .repositories()
            .iter()
            .filter(|r| r.repository_name().is_some_and(|n| n.starts_with("e2e/")))
            .count(),
    );
    counts
}

/// Exactly one of each (and the per-AZ multiples) for a two-AZ, single-NAT deployment.
fn expected_counts() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpc", 1),
        ("subnet", 4),
        ("internet-gateway", 1),
        ("nat-gateway", 1),
        ("elastic-ip", 1),
        ("route-table", 2),
        ("security-group", 5),
        ("secret", 8),
        ("db-instance", 1),
        ("replication-group", 1),
        ("namespace", 1),
        ("role", 2),
        ("log-group", 2),
        ("repository", 2),
    ])
}

/// Decodes IAM's URL-encoded policy documents.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_no_secret_in(output: &str, secrets: &BTreeMap<String, String>) {
    for (name, value) in secrets {
        // JSON secrets: check every string inside too.
        let mut needles = vec![value.clone()];
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(value)
        {
            needles.extend(
                map.values()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .filter(|s| s.len() >= 12),
            );
        }
        for needle in needles {
            if needle.len() >= 12 {
                assert!(
                    !output.contains(&needle),
                    "secret {name} leaked into output"
                );
            }
        }
    }
}

#[tokio::test]
async fn up_phase1_creates_every_resource_tagged_private_and_encrypted() {
    let world = World::start(SPEC, Scenario::default()).await;
    let run = world.run(&["up", "--phase", "1"]).await;
    run.expect_code(0);
    let sdk = world.sdk().await;

    assert_eq!(resource_counts(&sdk).await, expected_counts());

    // Network: VPC with DNS, tags; subnets in the pinned zones.
    let lock = std::fs::read_to_string(world.dir.path().join("orchestrate.lock"))
        .expect("lock file written");
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpcs = ec2
        .describe_vpcs()
        .filters(deployment_filter())
        .send()
        .await
        .expect("vpcs");
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.40.0.0/16"));
    assert_tags("vpc", &ec2_tags(vpc.tags()), "network/vpc");
    let subnets = ec2
        .describe_subnets()
        .filters(deployment_filter())
        .send()
        .await
        .expect("subnets");
    for subnet in subnets.subnets() {
        assert!(
            lock.contains(subnet.availability_zone().unwrap_or("?")),
            "subnet outside the pinned zones"
        );
        assert_eq!(subnet.map_public_ip_on_launch(), Some(false));
        assert_eq!(
            ec2_tags(subnet.tags())
                .get("orchestrate:deployment")
                .map(String::as_str),
            Some("e2e")
        );
    }

    // Security groups: exactly the least-privilege rules.
    let sgs = ec2
        .describe_security_groups()
        .filters(deployment_filter())
        .send()
        .await
        .expect("sgs");
    let by_name: BTreeMap<String, &aws_sdk_ec2::types::SecurityGroup> = sgs
        .security_groups()
        .iter()
        .map(|g| (g.group_name().unwrap_or_default().to_string(), g))
        .collect();
    let id = |n: &str| {
        by_name
            .get(n)
            .and_then(|g| g.group_id())
            .unwrap_or_default()
            .to_string()
    };
    let ingress = |n: &str| -> Vec<(i32, i32, Vec<String>, Vec<String>)> {
        let mut rules: Vec<_> = by_name[n]
            .ip_permissions()
            .iter()
            .map(|p| {
                let mut cidrs: Vec<String> = p
                    .ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(str::to_string))
                    .collect();
                cidrs.sort();
                let mut groups: Vec<String> = p
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect();
                groups.sort();
                (
                    p.from_port().unwrap_or(-1),
                    p.to_port().unwrap_or(-1),
                    cidrs,
                    groups,
                )
            })
            .collect();
        rules.sort();
        rules
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        ingress("e2e-alb"),
        vec![
            (80, 80, vec!["0.0.0.0/0".to_string()], vec![]),
            (443, 443, vec!["0.0.0.0/0".to_string()], vec![])
        ]
    );
    assert_eq!(
        ingress("e2e-api-server"),
        vec![(
            8080,
            8080,
            vec![],
            sorted(vec![id("e2e-alb"), id("e2e-components")])
        )]
    );
    assert_eq!(
        ingress("e2e-components"),
        vec![(8793, 8794, vec![], vec![id("e2e-api-server")])]
    );
    let from_components = sorted(vec![id("e2e-api-server"), id("e2e-components")]);
    assert_eq!(
        ingress("e2e-database"),
        vec![(5432, 5432, vec![], from_components.clone())]
    );
    assert_eq!(
        ingress("e2e-cache"),
        vec![(6379, 6379, vec![], from_components)]
    );
    assert!(
        by_name["e2e-database"].ip_permissions_egress().is_empty(),
        "the database needs no egress"
    );
    assert!(
        by_name["e2e-cache"].ip_permissions_egress().is_empty(),
        "the cache needs no egress"
    );

    // RDS: private, encrypted, protected, backed up, tagged.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = rds
        .describe_db_instances()
        .db_instance_identifier("e2e-metadata")
        .send()
        .await
        .expect("db");
    let db = &db.db_instances()[0];
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.db_instance_status(), Some("available"));
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        vec![id("e2e-database").as_str()]
    );
    let db_tags: BTreeMap<String, String> = db
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().into(),
                t.value().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_tags("db", &db_tags, "database/instance");

    // Valkey: TLS in transit, encrypted at rest.
    let cache = aws_sdk_elasticache::Client::new(&sdk);
    let groups = cache
        .describe_replication_groups()
        .replication_group_id("e2e-broker")
        .send()
        .await
        .expect("rg");
    let group = &groups.replication_groups()[0];
    assert_eq!(group.transit_encryption_enabled(), Some(true));
    assert_eq!(group.at_rest_encryption_enabled(), Some(true));
    assert_eq!(group.status(), Some("available"));

    // Secrets: generated well, derived URLs point at the real endpoints, nothing leaked.
    let secrets = secret_values(&sdk).await;
    let fernet = &secrets["orchestrate/e2e/fernet-key"];
    assert_eq!(fernet.len(), 44, "Fernet key: URL-safe base64 of 32 bytes");
    assert!(
        fernet
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
    );
    let credentials: serde_json::Value =
        serde_json::from_str(&secrets["orchestrate/e2e/db-credentials"])
            .expect("db credentials are JSON");
    let password = credentials["password"].as_str().expect("password");
    assert!(password.len() >= 24 && password.chars().all(|c| c.is_ascii_alphanumeric()));
    let host = db
        .endpoint()
        .and_then(|e| e.address())
        .expect("db endpoint");
    let conn = &secrets["orchestrate/e2e/sql-alchemy-conn"];
    assert!(
        conn.starts_with("postgresql+psycopg2://airflow:")
            && conn.contains(&format!("@{host}:5432/airflow")),
        "sql conn has the endpoint"
    );
    assert!(secrets["orchestrate/e2e/result-backend"].starts_with("db+postgresql://"));
    assert!(secrets["orchestrate/e2e/broker-url"].starts_with("rediss://"));
    assert_no_secret_in(&run.all(), &secrets);

    // IAM: the execution role may read exactly this deployment's secrets.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let policy = iam
        .get_role_policy()
        .role_name("e2e-ecs-execution-us-east-1")
        .policy_name("orchestrate-execution")
        .send()
        .await
        .expect("policy");
    let document = percent_decode(policy.policy_document());
    let document: serde_json::Value = serde_json::from_str(&document).expect("policy is JSON");
    let secret_resources: Vec<&str> = document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| {
            s["Action"]
                .to_string()
                .contains("secretsmanager:GetSecretValue")
        })
        .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| {
            r.as_str()
                .map(|r| Box::leak(r.to_string().into_boxed_str()) as &str)
        })
        .collect();
    let referenced: Vec<String> = [
        "admin-password",
        "api-secret-key",
        "broker-url",
        "fernet-key",
        "jwt-secret",
        "result-backend",
        "sql-alchemy-conn",
    ]
    .iter()
    .map(|key| {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestrate/e2e/{key}-??????")
    })
    .collect();
    assert_eq!(
        secret_resources, referenced,
        "exactly the secrets the task definitions reference (not the connections, the \
         variables, the lease or db-credentials)"
    );

    // Logs retention and ECR scan on push.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/orchestrate/e2e")
        .send()
        .await
        .expect("groups");
    assert!(
        groups
            .log_groups()
            .iter()
            .all(|g| g.retention_in_days() == Some(30))
    );
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let repos = ecr
        .describe_repositories()
        .repository_names("e2e/airflow")
        .send()
        .await
        .expect("repo");
    assert_eq!(
        repos.repositories()[0]
            .image_scanning_configuration()
            .map(|c| c.scan_on_push()),
        Some(true)
    );
}

#[tokio::test]
async fn second_up_makes_no_mutating_call_and_keeps_every_secret() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let before = secret_values(&sdk).await;

    world.sim.reset_accounting();
    let again = world.run(&["up", "--phase", "1"]).await;
    again.expect_code(0);
    let summary = world.sim.summary();
    let mutating = world.mutating_calls();
    assert_eq!(
        mutating,
        Vec::<String>::new(),
        "a converged up must not mutate anything but its lease"
    );
    // The lease: taken (a compare-and-swap: PutSecretValue + UpdateSecretVersionStage) and
    // released the same way, on the lease secret only.
    let lease = world.lease_mutations();
    assert!(
        lease.len() >= 4 && lease.iter().all(|c| c.ends_with(common::LEASE)),
        "the lease's own writes: {lease:?}"
    );
    assert_eq!(
        summary.mutating as usize,
        lease.len(),
        "every mutating call is the lease's"
    );
    assert!(summary.total > 0, "the second run did look");

    let after = secret_values(&sdk).await;
    assert_eq!(before, after, "secrets must stay byte-identical");

    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--phase", "1"]).await;
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert_eq!(world.sim.summary().mutating, 0, "plan is read-only");
    assert_no_secret_in(&plan.all(), &after);
}

#[tokio::test]
async fn sigkill_at_every_mutating_call_then_rerun_converges_to_one_of_each() {
    // How many mutating calls does a clean run make?
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    // Resource calls only: the lease's writes depend on the run's duration (renewals) and
    // are not kill points (World::crash_after does not count them).
    let total = world.mutating_calls().len() as u64;
    assert!(total > 20, "phase 1 makes {total} mutating calls");

    let stride: u64 = std::env::var("E2E_CRASH_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut point = 1;
    while point < total {
        world.sim.reset().await.expect("emulator reset");
        let _ = std::fs::remove_file(world.dir.path().join("orchestrate.lock"));
        let mut child = world
            .command(&["up", "--phase", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let pid = child.id().expect("pid");
        world.crash_after(pid, point);
        let status = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait())
            .await
            .expect("crashed run ends")
            .expect("wait");
        assert_eq!(
            status.code(),
            None,
            "run should have been killed after mutating call {point}"
        );
        let rerun = world.run(&["up", "--phase", "1"]).await;
        assert_eq!(
            rerun.code,
            Some(0),
            "re-run after a crash at mutating call {point} failed:\n{}",
            rerun.all()
        );
        assert_eq!(
            resource_counts(&world.sdk().await).await,
            expected_counts(),
            "after a crash at mutating call {point}"
        );
        point += stride;
    }
}

#[tokio::test]
async fn a_config_aws_rejects_fails_naming_resource_action_and_code_without_secrets() {
    // The emulated region lists the class as orderable (so `verify` lets `up` go on); the
    // create call is refused anyway, as AWS may refuse a combination verify cannot see.
    let scenario = Scenario::from_json(
        r#"{"faults": [{"service": "rds", "operation": "CreateDBInstance",
             "kind": {"error": {"code": "InvalidParameterCombination", "status": 400,
                                "message": "RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.nope.huge"}}}],
            "catalog": {"postgres_instance_classes": ["db.nope.huge"]}}"#,
    )
    .expect("scenario parses");
    let spec = SPEC.replace(
        "[network]",
        "[database]\ninstance_class = \"db.nope.huge\"\n\n[network]",
    );
    let world = World::start(&spec, scenario).await;
    let run = world.run(&["up", "--phase", "1"]).await;
    run.expect_code(3);
    let shown = run.stderr.clone();
    assert!(
        shown.contains("e2e-metadata"),
        "names the resource: {shown}"
    );
    assert!(shown.contains("create"), "names the action: {shown}");
    assert!(
        shown.contains("InvalidParameterCombination"),
        "names AWS's code: {shown}"
    );
    let secrets = secret_values(&world.sdk().await).await;
    assert!(!secrets.is_empty(), "the generated secrets exist by then");
    assert_no_secret_in(&run.all(), &secrets);
}
