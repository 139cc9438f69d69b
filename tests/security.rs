//! Security end to end, checked through the AWS SDK (never orchestrate's own code):
//!
//! - no secret value reaches any output: every command, with `-v`, `-vv` and `--output json`,
//!   also when AWS answers with an error message that echoes the values;
//! - the posture of a full deployment: private, encrypted, backed-up and protected storage,
//!   reachable only from the component security groups; tasks in private subnets without
//!   public IPs; the load balancer the only public entry; secrets only by ARN; IAM policies
//!   scoped to the deployment;
//! - docs/security.md's IAM policy for running orchestrate holds every AWS action the commands
//!   were seen calling.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use awsim::{Fault, FaultKind, Scenario};
use common::inventory::{COMPONENTS, ec2_filter};
use common::{Run, SPEC, World, is_lease_secret};

/// name -> value of every live secret of deployment `e2e` (the lease's left out).
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
        let Some(name) = secret
            .name()
            .filter(|n| n.starts_with("orchestrate/e2e/") && !is_lease_secret(n))
        else {
            continue;
        };
        let value = client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("get secret value");
        values.insert(
            name.to_string(),
            value.secret_string().expect("a string secret").to_string(),
        );
    }
    values
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What must never appear: each value, each string inside a JSON value, the password inside
/// each connection URL, and the URL-encoded forms of all of these (8 characters or more:
/// shorter strings are not secrets of ours and would match ordinary words).
fn needles(secrets: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in secrets {
        let mut found = vec![value.clone()];
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(value) {
            found.extend(
                map.into_iter()
                    .filter(|(k, _)| k != "username")
                    .filter_map(|(_, v)| v.as_str().map(str::to_string)),
            );
        }
        // scheme://user:password@host
        if let Some((_, rest)) = value.split_once("://")
            && let Some((userinfo, _)) = rest.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            found.push(password.to_string());
        }
        for needle in found {
            let encoded = percent_encode(&needle);
            for n in [needle, encoded] {
                if n.len() >= 8 && !out.iter().any(|(_, o)| *o == n) {
                    out.push((name.clone(), n));
                }
            }
        }
    }
    out
}

/// Panics naming the secret (never its value) if any needle is in `run`'s output.
fn assert_clean(what: &str, run: &Run, needles: &[(String, String)]) {
    let all = run.all();
    for (name, needle) in needles {
        if let Some(line) = all.lines().find(|l| l.contains(needle.as_str())) {
            // The line, with the value itself masked.
            let shown = line.replace(needle.as_str(), "<LEAKED VALUE>");
            panic!("{what}: the value of {name} leaked into the output:\n{shown}");
        }
    }
}

/// The fault that makes AWS answer `service:operation` with an error whose message echoes
/// every secret value.
fn echo_fault(service: &str, operation: &str, values: &BTreeMap<String, String>) -> Fault {
    let echoed: Vec<&str> = values.values().map(String::as_str).collect();
    Fault {
        service: service.into(),
        operation: Some(operation.into()),
        mutating: None,
        kind: FaultKind::Error {
            status: 400,
            code: "ValidationException".into(),
            message: format!("invalid value(s): {}", echoed.join(" ")),
        },
        rate: 1.0,
        max_count: None,
        after: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_shows_a_secret_value_at_any_verbosity_or_output_format() {
    let world = World::start(SPEC, Scenario::default()).await;
    let first = world.run(&["up"]).await;
    first.expect_code(0);
    let values = secret_values(&world.sdk().await).await;
    assert_eq!(values.len(), 8, "{:?}", values.keys());
    let needles = needles(&values);
    assert_clean("up", &first, &needles);
    let compose_dir = world.dir.path().join("compose");
    std::fs::create_dir_all(&compose_dir).expect("compose dir");
    let compose_dir = compose_dir.to_string_lossy().to_string();

    let mut scanned = 0;
    let mut operations: BTreeSet<(String, String)> = BTreeSet::new();
    let mut record = |world: &World| {
        for call in world.sim.calls() {
            operations.insert((call.service, call.operation));
        }
        world.sim.reset_accounting();
    };
    record(&world);
    for flags in [&["-v"][..], &["-vv"], &["--output", "json"]] {
        let commands: [&[&str]; 9] = [
            &["up"],
            &["plan"],
            &["plan", "--teardown", "all"],
            &["status"],
            &["render", "task-definitions"],
            &["render", "compose", "--dir", &compose_dir],
            &["validate"],
            &["images", "check"],
            &["teardown", "services"],
        ];
        for command in commands {
            let args: Vec<&str> = flags.iter().chain(command.iter()).copied().collect();
            let run = world.run(&args).await;
            assert!(
                !run.all().contains("panicked"),
                "{args:?} panicked:\n{}",
                run.all()
            );
            assert_clean(&format!("{args:?}"), &run, &needles);
            scanned += 1;
            record(&world);
        }
        // Back to a full deployment for the next flags.
        let up = world.run(&[flags, &["up"][..]].concat()).await;
        up.expect_code(0);
        assert_clean(&format!("{flags:?} up after teardown"), &up, &needles);
        scanned += 1;
        record(&world);
    }
    assert_eq!(
        secret_values(&world.sdk().await).await,
        values,
        "no secret was rewritten"
    );

    // AWS answers with an error that echoes every value: a converged `up` (which has read
    // them all by then) and `plan` must show none of them.
    let base = world.sim.scenario();
    for (service, operation, args) in [
        (
            "application-autoscaling",
            "DescribeScalableTargets",
            &["-vv", "up"][..],
        ),
        ("ecs", "DescribeServices", &["-vv", "plan"][..]),
        ("ecs", "DescribeServices", &["--output", "json", "up"][..]),
    ] {
        let mut scenario = base.clone();
        scenario.faults = vec![echo_fault(service, operation, &values)];
        world.sim.set_scenario(scenario);
        let run = world.run(args).await;
        world.sim.set_scenario(base.clone());
        assert_ne!(
            run.code,
            Some(0),
            "{args:?}: the echoing error ends the run:\n{}",
            run.all()
        );
        assert!(
            world
                .sim
                .calls()
                .iter()
                .any(|c| c.fault.as_deref() == Some("error")),
            "{args:?}: the echoing error was answered"
        );
        assert_clean(
            &format!("{args:?} with {operation} echoing"),
            &run,
            &needles,
        );
        scanned += 1;
        record(&world);
    }

    for flags in [&["-vv"][..], &["--output", "json"]] {
        let args: Vec<&str> = flags
            .iter()
            .chain(["teardown", "all", "--yes", "--force"].iter())
            .copied()
            .collect();
        let run = world.run(&args).await;
        run.expect_code(0);
        assert_clean(&format!("{args:?}"), &run, &needles);
        scanned += 1;
        record(&world);
    }
    eprintln!(
        "secret scan: {} secrets, {} needles (values, JSON fields, URL passwords, URL-encoded \
         forms), {scanned} runs scanned, 0 leaks",
        values.len(),
        needles.len()
    );

    // docs/security.md: every action seen is in the policy for running orchestrate.
    let policy = documented_policy();
    let missing: Vec<String> = operations
        .iter()
        .map(|(service, operation)| iam_action(service, operation))
        .filter(|action| !policy.iter().any(|allowed| matches(allowed, action)))
        .collect();
    assert!(
        missing.is_empty(),
        "actions orchestrate called that docs/security.md's policy lacks: {missing:#?}"
    );
    eprintln!(
        "IAM policy check: {} distinct actions seen, all in docs/security.md",
        operations.len()
    );
}

/// The IAM action of an API call seen by the emulator (signing name -> action prefix).
fn iam_action(service: &str, operation: &str) -> String {
    let prefix = match service {
        "monitoring" => "cloudwatch",
        other => other,
    };
    format!("{prefix}:{operation}")
}

/// True when IAM action pattern `allowed` (`*` wildcards, case-insensitive) covers `action`.
fn matches(allowed: &str, action: &str) -> bool {
    fn glob(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| glob(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && glob(rest, &t[1..]),
        }
    }
    glob(
        allowed.to_ascii_lowercase().as_bytes(),
        action.to_ascii_lowercase().as_bytes(),
    )
}

/// Every action of the first JSON policy in docs/security.md.
fn documented_policy() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/security.md"
    ))
    .expect("docs/security.md");
    let start = text.find("```json").expect("a ```json block") + "```json".len();
    let end = start + text[start..].find("```").expect("the block ends");
    let policy: serde_json::Value =
        serde_json::from_str(&text[start..end]).expect("the policy is JSON");
    let mut actions = Vec::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        match &statement["Action"] {
            serde_json::Value::String(a) => actions.push(a.clone()),
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_string)))
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

#[test]
fn action_patterns_match_like_iam() {
    assert!(matches("ec2:DescribeVpcs", "ec2:describevpcs"));
    assert!(matches("ec2:Describe*", "ec2:DescribeVpcs"));
    assert!(matches("ec2:*", "ec2:CreateVpc"));
    assert!(!matches("ec2:Describe*", "ec2:CreateVpc"));
    assert!(!matches("ec2:DescribeVpcs", "ec2:DescribeVpcsX"));
    assert!(matches("*", "iam:PassRole"));
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

/// A JSON value that may be one string or a list of strings, as a list.
fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Actions AWS offers no resource-level permission for: the only ones allowed on `*`.
const UNSCOPABLE: [&str; 5] = [
    "ecr:GetAuthorizationToken",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_full_deployment_is_private_encrypted_and_least_privilege() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);

    // Public subnets: those whose route table sends 0.0.0.0/0 to an internet gateway.
    let tables = ec2
        .describe_route_tables()
        .filters(ec2_filter("e2e"))
        .send()
        .await
        .expect("route tables");
    let mut public_subnets = BTreeSet::new();
    let mut private_subnets = BTreeSet::new();
    for table in tables.route_tables() {
        let to_internet = table.routes().iter().any(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id().is_some_and(|g| g.starts_with("igw-"))
        });
        for association in table.associations() {
            if let Some(subnet) = association.subnet_id() {
                if to_internet {
                    public_subnets.insert(subnet.to_string());
                } else {
                    private_subnets.insert(subnet.to_string());
                }
            }
        }
    }
    assert_eq!(public_subnets.len(), 2, "{public_subnets:?}");
    assert_eq!(private_subnets.len(), 2, "{private_subnets:?}");
    let subnets = ec2
        .describe_subnets()
        .filters(ec2_filter("e2e"))
        .send()
        .await
        .expect("subnets");
    for subnet in subnets.subnets() {
        assert_eq!(
            subnet.map_public_ip_on_launch(),
            Some(false),
            "no subnet hands out public IPs"
        );
    }

    // Security groups: the ALB's is the only one open to the internet.
    let groups = ec2
        .describe_security_groups()
        .filters(ec2_filter("e2e"))
        .send()
        .await
        .expect("security groups");
    let id_of: BTreeMap<String, String> = groups
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.group_name()?.to_string(), g.group_id()?.to_string())))
        .collect();
    let components: BTreeSet<String> = ["e2e-api-server", "e2e-components"]
        .iter()
        .map(|n| id_of[*n].clone())
        .collect();
    for group in groups.security_groups() {
        let name = group.group_name().unwrap_or("?");
        for rule in group.ip_permissions() {
            let open = rule
                .ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                || rule
                    .ipv6_ranges()
                    .iter()
                    .any(|r| r.cidr_ipv6() == Some("::/0"));
            assert!(
                !open || name == "e2e-alb",
                "{name} is open to the internet: {rule:?}"
            );
            if name == "e2e-database" || name == "e2e-cache" {
                assert!(
                    rule.ip_ranges().is_empty() && rule.ipv6_ranges().is_empty(),
                    "{name} admits CIDRs: {rule:?}"
                );
                let sources: BTreeSet<String> = rule
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|p| p.group_id().map(str::to_string))
                    .collect();
                assert_eq!(sources, components, "{name}: only the component groups");
            }
        }
    }

    // RDS: private, encrypted, backed up, protected, only the database group, private subnets.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let dbs = rds
        .describe_db_instances()
        .db_instance_identifier("e2e-metadata")
        .send()
        .await
        .expect("db");
    let db = &dbs.db_instances()[0];
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert!(db.backup_retention_period().unwrap_or(0) >= 1, "backed up");
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        vec![id_of["e2e-database"].as_str()]
    );
    let db_subnets: BTreeSet<String> = db
        .db_subnet_group()
        .map(|g| {
            g.subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        db_subnets, private_subnets,
        "the database in private subnets"
    );

    // Valkey: TLS and encryption at rest, only the cache group, private subnets.
    let cache = aws_sdk_elasticache::Client::new(&sdk);
    let groups = cache
        .describe_replication_groups()
        .replication_group_id("e2e-broker")
        .send()
        .await
        .expect("replication group");
    let group = &groups.replication_groups()[0];
    assert_eq!(group.transit_encryption_enabled(), Some(true));
    assert_eq!(group.at_rest_encryption_enabled(), Some(true));
    let clusters = cache
        .describe_cache_clusters()
        .send()
        .await
        .expect("cache clusters");
    for member in clusters
        .cache_clusters()
        .iter()
        .filter(|c| c.replication_group_id() == Some("e2e-broker"))
    {
        let sgs: Vec<&str> = member
            .security_groups()
            .iter()
            .filter_map(|g| g.security_group_id())
            .collect();
        assert_eq!(
            sgs,
            vec![id_of["e2e-cache"].as_str()],
            "the cache group only"
        );
    }
    let cache_subnets = cache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("e2e-cache")
        .send()
        .await
        .expect("cache subnet group");
    let cache_subnets: BTreeSet<String> = cache_subnets.cache_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    assert_eq!(cache_subnets, private_subnets, "Valkey in private subnets");

    // The ALB: internet-facing in the public subnets, the only load balancer.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lbs = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    assert_eq!(lbs.load_balancers().len(), 1, "one load balancer");
    let alb = &lbs.load_balancers()[0];
    assert_eq!(alb.load_balancer_name(), Some("e2e-alb"));
    let alb_subnets: BTreeSet<String> = alb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(alb_subnets, public_subnets, "the ALB in the public subnets");
    assert_eq!(alb.security_groups(), [id_of["e2e-alb"].clone()]);

    // ECS: services and tasks in private subnets without public IPs; secrets by ARN only.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let services = ecs
        .describe_services()
        .cluster("e2e")
        .set_services(Some(
            COMPONENTS.iter().map(|c| format!("e2e-{c}")).collect(),
        ))
        .send()
        .await
        .expect("services");
    assert_eq!(services.services().len(), COMPONENTS.len());
    let values = secret_values(&sdk).await;
    let needles = needles(&values);
    let mut task_definitions = BTreeSet::new();
    for service in services.services() {
        let name = service.service_name().unwrap_or("?");
        let vpc = service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .expect("awsvpc configuration");
        assert_eq!(
            vpc.assign_public_ip(),
            Some(&aws_sdk_ecs::types::AssignPublicIp::Disabled),
            "{name}: no public IP"
        );
        let subnets: BTreeSet<String> = vpc.subnets().iter().cloned().collect();
        assert!(
            subnets.is_subset(&private_subnets),
            "{name}: private subnets only: {subnets:?}"
        );
        task_definitions.extend(service.task_definition().map(str::to_string));
    }
    let tasks = ecs.list_tasks().cluster("e2e").send().await.expect("tasks");
    if !tasks.task_arns().is_empty() {
        let described = ecs
            .describe_tasks()
            .cluster("e2e")
            .set_tasks(Some(tasks.task_arns().to_vec()))
            .send()
            .await
            .expect("describe tasks");
        for task in described.tasks() {
            task_definitions.extend(task.task_definition_arn().map(str::to_string));
        }
    }
    let listed = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .expect("task definitions");
    task_definitions.extend(
        listed
            .task_definition_arns()
            .iter()
            .filter(|a| a.contains(":task-definition/e2e-"))
            .cloned(),
    );
    let execution_role = "e2e-ecs-execution-us-east-1";
    for arn in &task_definitions {
        let td = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .expect("task definition");
        let td = td.task_definition().expect("a task definition");
        assert!(
            td.execution_role_arn()
                .is_some_and(|r| r.ends_with(&format!("/{execution_role}"))),
            "{arn}: runs with the deployment's execution role"
        );
        for container in td.container_definitions() {
            let name = container.name().unwrap_or("?");
            for secret in container.secrets() {
                assert!(
                    secret.value_from().starts_with(
                        "arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestrate/e2e/"
                    ),
                    "{arn} {name}: {} comes from a secret of this deployment by ARN",
                    secret.name()
                );
            }
            let rendered = format!("{:?} {:?}", container.environment(), container.command());
            for (secret, needle) in &needles {
                assert!(
                    !rendered.contains(needle.as_str()),
                    "{arn} {name}: the value of {secret} is in the task definition in clear"
                );
            }
        }
    }

    // IAM: every inline policy scoped; `*` only for actions AWS cannot scope; the execution
    // role reads exactly this deployment's secrets.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let roles = iam.list_roles().send().await.expect("roles");
    let ours: Vec<String> = roles
        .roles()
        .iter()
        .filter(|r| r.role_name().starts_with("e2e-"))
        .map(|r| r.role_name().to_string())
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    let mut secret_resources = Vec::new();
    for role in &ours {
        let attached = iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .expect("attached policies");
        assert!(
            attached.attached_policies().is_empty(),
            "{role}: inline policies only, no managed policy"
        );
        let names = iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .expect("role policies");
        assert!(!names.policy_names().is_empty(), "{role} has a policy");
        for policy_name in names.policy_names() {
            let policy = iam
                .get_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .send()
                .await
                .expect("policy");
            let document: serde_json::Value =
                serde_json::from_str(&percent_decode(policy.policy_document()))
                    .expect("policy JSON");
            for statement in document["Statement"].as_array().expect("statements") {
                let actions = strings(&statement["Action"]);
                let resources = strings(&statement["Resource"]);
                assert_eq!(statement["Effect"], "Allow");
                assert!(
                    statement.get("NotAction").is_none() && statement.get("NotResource").is_none()
                );
                for action in &actions {
                    assert!(!action.contains('*'), "{role}: wildcard action {action}");
                }
                if resources.iter().any(|r| r == "*") {
                    let scopable: Vec<&String> = actions
                        .iter()
                        .filter(|a| !UNSCOPABLE.contains(&a.as_str()))
                        .collect();
                    assert!(
                        scopable.is_empty(),
                        "{role}/{policy_name}: `*` resource for actions AWS can scope: {scopable:?}"
                    );
                }
                if actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                    secret_resources.extend(resources.iter().map(|r| format!("{role}: {r}")));
                }
            }
        }
    }
    secret_resources.sort();
    let secret = |role: &str, name: &str| {
        format!(
            "{role}: arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestrate/e2e/{name}"
        )
    };
    let mut expected: Vec<String> = [
        "admin-password",
        "api-secret-key",
        "broker-url",
        "fernet-key",
        "jwt-secret",
        "result-backend",
        "sql-alchemy-conn",
    ]
    .iter()
    .map(|key| secret(execution_role, &format!("{key}-??????")))
    .chain(
        ["connections/*", "variables/*"]
            .iter()
            .map(|prefix| secret("e2e-ecs-task-us-east-1", prefix)),
    )
    .collect();
    expected.sort();
    assert_eq!(
        secret_resources, expected,
        "the execution role reads exactly the secrets the task definitions reference; the task \
         role exactly the secrets backend's connections and variables"
    );
}
