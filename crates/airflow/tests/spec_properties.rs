//! Property test: generated specs (names, tags, CIDRs, counts, cpu/memory, versions, strings
//! with odd characters) never make `validate` panic, and every spec it accepts renders
//! `RegisterTaskDefinition` requests and resource names that satisfy AWS's API models
//! (botocore `service-2.json` min/max/pattern, and the documented name rules where the model
//! has none).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use orchestrate_airflow::{TaskDefinition, Wiring, render_all, to_json};
use orchestrate_core::names::Names;
use orchestrate_core::spec::{Architecture, ComponentSpec, Spec};
use orchestrate_core::validate::{
    MAX_TASK_DEFINITION_BYTES, Severity, TASK_DEFINITION_RESERVE_BYTES, fargate_pair_ok,
    has_errors, user_task_definition_bytes, validate,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use regex::Regex;

/// One value in `ODDS + 1` is drawn from the odd side.
const ODDS: u32 = 40;

/// Mostly plausible values, sometimes anything: accepted specs stay frequent enough to check
/// the rendering, and odd ones probe the rules.
fn text(plausible: &'static str, odd: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        ODDS => Just(plausible.to_string()),
        1 => pattern(odd),
    ]
    .boxed()
}

fn pattern(re: &'static str) -> BoxedStrategy<String> {
    proptest::string::string_regex(re)
        .expect("strategy pattern")
        .boxed()
}

fn either(plausible: BoxedStrategy<String>, odd: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![ODDS => plausible, 1 => odd].boxed()
}

/// Strings with control characters, bidi marks, quotes and non-ASCII letters.
fn odd_string() -> BoxedStrategy<String> {
    prop_oneof![
        pattern(r"[\x00-\x1f\x7f\u{202e} !;'\x22\\éß日0-9a-z]{0,12}"),
        pattern(r"\PC{0,40}"),
        Just(String::new()),
    ]
    .boxed()
}

fn name() -> BoxedStrategy<String> {
    either(
        prop_oneof![
            40 => pattern("[a-z][a-z0-9]{1,8}(-[a-z0-9]{1,5}){0,2}"),
            1 => pattern("internal-[a-z]{1,6}"),
            1 => pattern("[a-z]{30,40}"),
        ]
        .boxed(),
        odd_string(),
    )
}

fn region() -> BoxedStrategy<String> {
    either(
        prop_oneof![Just("us-east-1".to_string()), Just("eu-west-1".to_string())].boxed(),
        odd_string(),
    )
}

fn tags() -> BoxedStrategy<BTreeMap<String, String>> {
    let key = either(
        prop_oneof![
            40 => pattern("[A-Za-z][A-Za-z0-9_.:/=+@ -]{0,20}"),
            1 => pattern("(aws|AWS|orchestrate):[a-z]{1,4}"),
            1 => Just("Name".to_string()),
            1 => pattern("[a-zé]{120,140}"),
        ]
        .boxed(),
        odd_string(),
    );
    let value = either(
        prop_oneof![
            40 => pattern("[A-Za-z0-9 _.:/=+@-]{0,30}"),
            1 => pattern("[a-z]{250,260}")
        ]
        .boxed(),
        odd_string(),
    );
    prop_oneof![
        20 => proptest::collection::btree_map(key.clone(), value.clone(), 0..4),
        1 => proptest::collection::btree_map(key, value, 40..55),
    ]
    .boxed()
}

fn cidrs() -> BoxedStrategy<Vec<String>> {
    let cidr = either(
        (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, p)| format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3]))
            .boxed(),
        odd_string(),
    );
    let good = prop_oneof![
        Just("0.0.0.0/0".to_string()),
        Just("10.0.0.0/8".to_string()),
        Just("192.168.1.0/24".to_string()),
    ];
    prop_oneof![
        20 => proptest::collection::vec(good, 0..3),
        1 => proptest::collection::vec(cidr, 0..45),
    ]
    .boxed()
}

fn count() -> BoxedStrategy<u32> {
    prop_oneof![ODDS => 0u32..4, 1 => any::<u32>(), 1 => 4990u32..5010].boxed()
}

/// Fargate (cpu, memory) pairs, from the smallest.
const PAIRS: [(u32, u32); 8] = [
    (256, 512),
    (512, 1024),
    (1024, 2048),
    (1024, 3072),
    (2048, 4096),
    (4096, 30720),
    (8192, 16384),
    (16384, 122880),
];

/// A component whose Fargate pair is drawn from `PAIRS[smallest..]` (or, rarely, anything).
fn component(smallest: usize) -> BoxedStrategy<ComponentSpec> {
    let pair = prop_oneof![
        ODDS => proptest::sample::select(&PAIRS[smallest..]),
        1 => (prop_oneof![Just(256u32), Just(1024), Just(16384), Just(300)], any::<u32>()),
    ];
    (
        pair,
        count(),
        prop_oneof![ODDS => 21u32..=200, 1 => 0u32..300],
        prop_oneof![ODDS => 300u32..=600, 1 => any::<u32>()],
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just(Architecture::Arm64),
            Just(Architecture::X86_64)
        ]),
    )
        .prop_map(
            |((cpu, memory), count, ephemeral_storage_gb, grace, health_checks, architecture)| {
                ComponentSpec {
                    cpu,
                    memory,
                    count,
                    ephemeral_storage_gb,
                    health_check_grace_seconds: grace,
                    health_checks,
                    architecture,
                    secrets: BTreeMap::new(),
                }
            },
        )
        .boxed()
}

fn environment() -> BoxedStrategy<BTreeMap<String, String>> {
    let key = either(pattern("AIRFLOW__[A-Z]{1,8}__[A-Z_]{1,12}"), odd_string());
    let value = prop_oneof![
        20 => either(pattern("[ -~]{0,40}"), odd_string()),
        1 => (40_000usize..70_000).prop_map(|n| "v".repeat(n)),
    ];
    proptest::collection::btree_map(key, value, 0..4).boxed()
}

/// A spec: defaults with every interesting field drawn.
fn spec() -> impl Strategy<Value = Spec> {
    let identity = (name(), region(), tags(), cidrs());
    let database = (
        either(pattern("1[3-7](\\.[0-9]{1,2})?"), odd_string()),
        either(
            pattern("[a-z][a-z0-9_]{1,14}"),
            pattern("(user|select|postgres|pg_x|rdsx|public)"),
        ),
        either(
            pattern("[a-z][a-z0-9_]{1,20}"),
            pattern("(template0|select|in|[0-9]x)"),
        ),
        either(pattern("(7\\.2|8\\.0|8\\.1)"), odd_string()),
    );
    let image = (
        either(pattern("[A-Za-z0-9_][A-Za-z0-9._-]{0,20}"), odd_string()),
        prop_oneof![
            30 => Just(String::new()),
            10 => pattern("[a-z0-9]{1,10}(/[a-z0-9]{1,10}){0,2}"),
            1 => odd_string(),
        ],
        text("3.1.0", "(2\\.10\\.5|3\\.x|3\\.1\\.0rc1|3)"),
        either(pattern("[a-z0-9]{1,10}"), odd_string()),
    );
    let git = (
        prop_oneof![
            15 => Just(String::new()),
            10 => Just("https://github.com/org/dags.git".to_string()),
            1 => odd_string(),
        ],
        either(pattern("[a-z]{1,10}"), odd_string()),
        either(pattern("([a-z]{1,8}(/[a-z]{1,8})?)?"), odd_string()),
        proptest::option::weighted(
            0.2,
            either(
                Just(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:dags-AbC123".to_string(),
                )
                .boxed(),
                odd_string(),
            ),
        ),
    );
    let airflow = (
        environment(),
        either(pattern("[a-z][a-z0-9._@+-]{0,15}"), odd_string()),
        proptest::option::weighted(
            0.2,
            either(
                Just(
                    "arn:aws:acm:us-east-1:123456789012:certificate/0f6a6c2e-1b2c-4d5e-8f90-0123456789ab"
                        .to_string(),
                )
                .boxed(),
                odd_string(),
            ),
        ),
    );
    let components = (
        component(0),
        component(0),
        component(0),
        component(0),
        component(2),
        (
            prop_oneof![ODDS => 1u32..4, 1 => 0u32..12],
            prop_oneof![ODDS => 4u32..100, 1 => 0u32..200],
            prop_oneof![ODDS => 10u32..=95, 1 => any::<u32>()],
            0u32..4,
            any::<bool>(),
        ),
    );
    (identity, database, image, git, airflow, components).prop_map(
        |(identity, database, image, git, airflow, components)| {
            let (name, region, tags, cidrs) = identity;
            let mut spec = Spec::minimal(&name, &region);
            spec.deployment.tags = tags;
            spec.load_balancer.ingress_cidrs = cidrs;
            let (engine, username, db_name, cache) = database;
            spec.database.engine_version = engine;
            spec.database.username = username;
            spec.database.db_name = db_name;
            spec.cache.engine_version = cache;
            let (tag, repository, airflow_version, git_sync_tag) = image;
            spec.image.tag = tag;
            spec.image.repository = repository;
            spec.image.airflow_version = airflow_version;
            spec.git_sync.image_tag = git_sync_tag;
            let (repo, git_ref, subpath, credentials) = git;
            spec.git_sync.repo = repo;
            spec.git_sync.git_ref = git_ref;
            spec.git_sync.subpath = subpath;
            spec.git_sync.credentials_secret_arn = credentials;
            let (environment, admin, certificate) = airflow;
            spec.airflow.environment = environment;
            spec.airflow.admin_username = admin;
            spec.load_balancer.certificate_arn = certificate;
            let (api, scheduler, dag_processor, triggerer, worker, scaling) = components;
            spec.components.api_server = api;
            spec.components.scheduler = scheduler;
            spec.components.dag_processor = dag_processor;
            spec.components.triggerer = triggerer;
            spec.components.worker.component = worker;
            let (min, max, cpu_target, base, spot) = scaling;
            spec.components.worker.autoscaling.min = min;
            spec.components.worker.autoscaling.max = max;
            spec.components.worker.autoscaling.cpu_target = cpu_target;
            spec.components.worker.on_demand_base = base;
            spec.components.worker.spot = spot;
            spec
        },
    )
}

/// A compiled pattern, built once per test binary.
fn re(pattern: &'static str) -> Regex {
    static CACHE: std::sync::LazyLock<std::sync::Mutex<BTreeMap<&'static str, Regex>>> =
        std::sync::LazyLock::new(Default::default);
    let mut cache = CACHE.lock().expect("regex cache");
    cache
        .entry(pattern)
        .or_insert_with(|| Regex::new(pattern).expect("test pattern"))
        .clone()
}

/// AWS's constraints on a `RegisterTaskDefinition` request (ECS model, ECS docs for what the
/// model leaves as plain strings).
fn check_task_definition(td: &TaskDefinition, known: bool) -> Result<(), TestCaseError> {
    let family_or_name = re(r"^[a-zA-Z0-9_-]{1,255}$");
    let tag_chars = re(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$");
    prop_assert!(family_or_name.is_match(&td.family), "family {}", td.family);
    let cpu: u32 = td
        .cpu
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|_| TestCaseError::fail("cpu"))?;
    let memory: u32 = td
        .memory
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|_| TestCaseError::fail("memory"))?;
    prop_assert!(fargate_pair_ok(cpu, memory), "{cpu}/{memory}");
    if let Some(storage) = &td.ephemeral_storage {
        prop_assert!((21..=200).contains(&storage.size_in_gib));
    }
    prop_assert!(td.tags.len() <= 50, "{} tags", td.tags.len());
    for tag in &td.tags {
        let key_len = tag.key.encode_utf16().count();
        prop_assert!((1..=128).contains(&key_len), "tag key {:?}", tag.key);
        prop_assert!(
            tag.value.encode_utf16().count() <= 256,
            "tag value of {:?}",
            tag.key
        );
        prop_assert!(
            tag_chars.is_match(&tag.key) && tag_chars.is_match(&tag.value),
            "{tag:?}"
        );
        prop_assert!(!tag.key.to_lowercase().starts_with("aws:"), "{:?}", tag.key);
    }
    let mut lower_keys: Vec<String> = td.tags.iter().map(|t| t.key.to_lowercase()).collect();
    lower_keys.sort();
    lower_keys.dedup();
    prop_assert_eq!(
        lower_keys.len(),
        td.tags.len(),
        "tag keys equal but for case"
    );
    prop_assert!(td.container_definitions.len() <= 10);
    for c in &td.container_definitions {
        prop_assert!(family_or_name.is_match(&c.name), "container {}", c.name);
        if known {
            prop_assert!(
                !c.image.is_empty() && c.image.len() <= 255,
                "image {}",
                c.image
            );
        }
        for e in &c.environment {
            prop_assert!(!e.name.is_empty() && !e.name.contains('\0') && !e.value.contains('\0'));
        }
        if let Some(h) = &c.health_check {
            prop_assert!(!h.command.is_empty());
            prop_assert!(h.interval.is_none_or(|v| (5..=300).contains(&v)));
            prop_assert!(h.timeout.is_none_or(|v| (2..=120).contains(&v)));
            prop_assert!(h.retries.is_none_or(|v| (1..=10).contains(&v)));
            prop_assert!(h.start_period.is_none_or(|v| v <= 300));
        }
        prop_assert!(c.stop_timeout.is_none_or(|v| v <= 120));
        if let Some(logs) = &c.log_configuration {
            let group = logs.options.get("awslogs-group").map_or("", String::as_str);
            prop_assert!(
                re(r"^[\.\-_/#A-Za-z0-9]{1,512}$").is_match(group),
                "log group {group}"
            );
        }
    }
    let bytes = to_json(td).to_string().len();
    prop_assert!(
        bytes <= MAX_TASK_DEFINITION_BYTES,
        "{} is {bytes} bytes",
        td.family
    );
    Ok(())
}

/// Every resource name derived from the deployment name passes its service's rules.
fn check_names(spec: &Spec) -> Result<(), TestCaseError> {
    let names = Names::new(&spec.deployment.name);
    let elb = re(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$");
    for name in [names.load_balancer(), names.target_group()] {
        prop_assert!(
            elb.is_match(&name) && !name.starts_with("internal-"),
            "ELB name {name}"
        );
    }
    let db = names.db_instance();
    prop_assert!(
        re(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$").is_match(&db)
            && !db.contains("--")
            && !db.ends_with('-'),
        "DB instance {db}"
    );
    let group = names.replication_group();
    prop_assert!(
        re(r"^[a-z][a-z0-9-]{0,39}$").is_match(&group) && !group.contains("--"),
        "{group}"
    );
    for kind in ["ecs-execution", "ecs-task"] {
        let role = names.role(kind, &spec.deployment.region);
        prop_assert!(re(r"^[\w+=,.@-]{1,64}$").is_match(&role), "role {role}");
    }
    let cluster = names.cluster();
    prop_assert!(
        re(r"^[a-zA-Z0-9_-]{1,255}$").is_match(&cluster),
        "cluster {cluster}"
    );
    let repository = names.repository("git-sync");
    prop_assert!(
        re(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
            .is_match(&repository)
            && (2..=256).contains(&repository.len()),
        "ECR {repository}"
    );
    let secret = names.secret("admin-password");
    prop_assert!(
        re(r"^[A-Za-z0-9/_+=.@-]{1,512}$").is_match(&secret),
        "secret {secret}"
    );
    let namespace = names.namespace();
    prop_assert!(
        namespace.split('.').all(|l| (1..=63).contains(&l.len())),
        "{namespace}"
    );
    prop_assert!(spec.load_balancer.ingress_cidrs.len() * 2 <= 60);
    Ok(())
}

#[test]
fn accepted_specs_render_requests_aws_accepts() {
    let accepted = AtomicUsize::new(0);
    let rejected = std::sync::Mutex::new(BTreeMap::<&'static str, usize>::new());
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&spec(), |spec| {
            let findings = validate(&spec);
            if has_errors(&findings) {
                let mut seen = rejected.lock().expect("histogram");
                for f in findings.iter().filter(|f| f.severity == Severity::Error) {
                    *seen.entry(f.rule).or_insert(0usize) += 1;
                }
                return Ok(());
            }
            accepted.fetch_add(1, Ordering::Relaxed);
            check_names(&spec)?;
            for td in render_all(&spec, &Wiring::pending(&spec)) {
                check_task_definition(&td, false)?;
            }
            for td in render_all(&spec, &common::wiring(&spec)) {
                check_task_definition(&td, true)?;
            }
            Ok(())
        })
        .expect("every accepted spec renders valid requests");
    // The property is only as good as the accepted share.
    let accepted = accepted.into_inner();
    println!(
        "accepted {accepted} of 256 generated specs; rejections by rule: {:?}",
        rejected.lock().expect("histogram")
    );
    assert!(
        accepted >= 25,
        "only {accepted} of 256 generated specs were accepted"
    );
}

#[test]
fn a_spec_at_the_size_budget_still_fits_the_request_limit() {
    let mut spec = common::spec();
    spec.deployment.tags = (0..45)
        .map(|i| (format!("tag-{i:02}-{}", "k".repeat(100)), "v".repeat(256)))
        .collect();
    let budget = MAX_TASK_DEFINITION_BYTES - TASK_DEFINITION_RESERVE_BYTES;
    let used = user_task_definition_bytes(&spec);
    assert!(used < budget, "tags alone take {used} of {budget}");
    let pad = budget - used - r#"{"name":"AIRFLOW__X__PAD","value":""},"#.len();
    spec.airflow
        .environment
        .insert("AIRFLOW__X__PAD".into(), "p".repeat(pad));
    assert_eq!(user_task_definition_bytes(&spec), budget);
    assert!(!has_errors(&validate(&spec)), "{:?}", validate(&spec));
    let mut largest = 0;
    for td in render_all(&spec, &common::wiring(&spec)) {
        let bytes = to_json(&td).to_string().len();
        largest = largest.max(bytes);
        assert!(
            bytes <= MAX_TASK_DEFINITION_BYTES,
            "{}: {bytes} bytes",
            td.family
        );
    }
    let own = largest - budget;
    println!("largest task definition {largest} bytes, orchestrate's own part about {own} bytes");
    assert!(
        own * 2 <= TASK_DEFINITION_RESERVE_BYTES,
        "orchestrate's part grew to {own} bytes"
    );
    spec.airflow
        .environment
        .insert("AIRFLOW__X__PAD".into(), "p".repeat(pad + 1));
    assert!(
        validate(&spec)
            .iter()
            .any(|f| f.rule == "task-definition-size")
    );
}
