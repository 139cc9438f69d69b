//! `[alarms]` end to end: after a full `up` the alarms exist with the documented thresholds,
//! dimensions and actions, the topic orchestrate creates has one e-mail subscription, the
//! api-server service rolls back on its 5xx alarm; a re-run makes no mutating call; `teardown
//! all` removes alarms and topic — but never a topic the spec names by ARN. Checked with the
//! AWS SDK, not with orchestrate's own code.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, Statistic};
use awsim::Scenario;
use common::{SPEC, World};

const EMAIL: &str = "oncall@example.com";

/// Every metric alarm whose name starts with `e2e-`, by name.
async fn alarms(sdk: &aws_config::SdkConfig) -> BTreeMap<String, MetricAlarm> {
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let out = cw
        .describe_alarms()
        .alarm_name_prefix("e2e-")
        .send()
        .await
        .expect("describe alarms");
    out.metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap_or_default().to_string(), a.clone()))
        .collect()
}

fn dimensions(a: &MetricAlarm) -> BTreeMap<String, String> {
    a.dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                d.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// One row of docs/alarms.md's table "The alarms": what the documentation promises.
#[derive(Debug)]
struct Documented {
    /// The alarm names the row covers (`<name>` is `e2e`).
    names: Vec<String>,
    statistic: Statistic,
    comparison: ComparisonOperator,
    /// The default threshold in CloudWatch's unit, when the row gives a number.
    threshold: Option<f64>,
    /// period × evaluation periods, minutes.
    window_minutes: i32,
    /// Datapoints that must breach, when the row says "M of N".
    datapoints: Option<i32>,
    missing: String,
}

/// The first whole number in `text` after `after` (which is skipped), if any.
fn number_after(text: &str, after: &str) -> Option<u32> {
    let rest = &text[text.find(after)? + after.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// docs/alarms.md's table of alarms, parsed: the test holds the alarms to what the docs say.
fn documented() -> Vec<Documented> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/alarms.md");
    let doc = std::fs::read_to_string(path).expect("docs/alarms.md");
    let table = doc
        .split("## The alarms")
        .nth(1)
        .expect("a section The alarms");
    let mut rows = Vec::new();
    for line in table.lines().skip_while(|l| !l.starts_with("|---")).skip(1) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [alarm, _metric, fires, missing] = cells[..] else {
            panic!("a row of four cells: {line}");
        };
        let what = alarm
            .split('`')
            .nth(1)
            .expect("a `<name>-...` alarm name")
            .replace("<name>", "e2e");
        let names = if what.contains("<component>") {
            let list = alarm.split_once('(').expect("the components").1;
            list.trim_end_matches(')')
                .split(", ")
                .map(|c| what.replace("<component>", c))
                .collect()
        } else {
            vec![what]
        };
        let mut words = fires.split_whitespace();
        let statistic = Statistic::from(words.next().expect("a statistic"));
        let comparison = match words.next() {
            Some("≥") => ComparisonOperator::GreaterThanOrEqualToThreshold,
            Some("<") => ComparisonOperator::LessThanThreshold,
            other => panic!("an unknown comparison {other:?} in {line}"),
        };
        // The default in parentheses after a key, or a bare number after the comparison.
        let threshold = number_after(fires, "(")
            .or_else(|| number_after(fires, ["≥", "<"].into_iter().find(|c| fires.contains(c))?))
            .map(|n| {
                let n = f64::from(n);
                if fires.contains("GiB") {
                    n * 1024.0 * 1024.0 * 1024.0
                } else {
                    n
                }
            });
        let window = [" of ", " for ", " over "]
            .into_iter()
            .find_map(|w| number_after(fires, w))
            .expect("a time window");
        let datapoints = fires.contains(" of ").then(|| {
            let before = fires.split(" of ").next().unwrap_or_default();
            let digits: Vec<char> = before
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect();
            let n: String = digits.into_iter().rev().collect();
            n.parse().expect("M of N")
        });
        let missing = if missing.starts_with("not breaching") {
            "notBreaching"
        } else {
            "missing"
        };
        rows.push(Documented {
            names,
            statistic,
            comparison,
            threshold,
            window_minutes: i32::try_from(window).expect("minutes"),
            datapoints,
            missing: missing.to_string(),
        });
    }
    rows
}

/// Every documented alarm exists with the documented statistic, comparison, window,
/// missing-data treatment and (default) threshold; `overrides` are the spec's own thresholds.
fn assert_as_documented(found: &BTreeMap<String, MetricAlarm>, overrides: &[(&str, f64)]) {
    let rows = documented();
    assert_eq!(rows.len(), 8, "the eight rows of docs/alarms.md: {rows:?}");
    for row in rows {
        for name in &row.names {
            let Some(a) = found.get(name) else {
                continue;
            };
            assert_eq!(a.statistic(), Some(&row.statistic), "{name}");
            assert_eq!(a.comparison_operator(), Some(&row.comparison), "{name}");
            let window = a.period().unwrap_or(0) * a.evaluation_periods().unwrap_or(0) / 60;
            assert_eq!(window, row.window_minutes, "{name}: minutes");
            if let Some(m) = row.datapoints {
                assert_eq!(a.datapoints_to_alarm(), Some(m), "{name}");
            }
            assert_eq!(a.treat_missing_data(), Some(row.missing.as_str()), "{name}");
            let expected = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .or(row.threshold);
            if let Some(t) = expected {
                assert_eq!(a.threshold(), Some(t), "{name}: threshold");
            }
        }
    }
}

/// The CloudWatch and SNS actions (`cloudwatch:Op`, `sns:Op`) the emulator saw since the last
/// accounting reset.
fn alarm_actions(world: &World) -> BTreeSet<String> {
    world
        .sim
        .calls()
        .into_iter()
        .filter_map(|c| match c.service.as_str() {
            "monitoring" => Some(format!("cloudwatch:{}", c.operation)),
            "sns" => Some(format!("sns:{}", c.operation)),
            _ => None,
        })
        .collect()
}

/// The actions of docs/security.md's policy for running orchestrate (its first JSON block).
fn documented_policy() -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let text = std::fs::read_to_string(path).expect("docs/security.md");
    let start = text.find("```json").expect("a ```json block") + "```json".len();
    let end = start + text[start..].find("```").expect("the block ends");
    let policy: serde_json::Value =
        serde_json::from_str(&text[start..end]).expect("the policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                actions.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_string)));
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

async fn topics(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let out = sns.list_topics().send().await.expect("list topics");
    out.topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn email_alarms_exist_with_their_thresholds_rerun_is_a_no_op_and_teardown_removes_them() {
    let spec = format!("{SPEC}\n[alarms]\nemail = \"{EMAIL}\"\n");
    let world = World::start(&spec, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let mut seen = alarm_actions(&world);

    // The topic and its one subscription.
    let topic = topics(&sdk)
        .await
        .into_iter()
        .find(|t| t.ends_with(":e2e-alarms"))
        .expect("orchestrate created e2e-alarms");
    let sns = aws_sdk_sns::Client::new(&sdk);
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("subscriptions");
    let subs: Vec<(String, String)> = subs
        .subscriptions()
        .iter()
        .map(|s| {
            (
                s.protocol().unwrap_or_default().to_string(),
                s.endpoint().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(subs, [("email".to_string(), EMAIL.to_string())]);

    // Every alarm, each notifying the topic on ALARM and OK.
    let found = alarms(&sdk).await;
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "e2e-api-5xx",
            "e2e-api-server-running",
            "e2e-api-unhealthy",
            "e2e-dag-processor-running",
            "e2e-db-connections",
            "e2e-db-cpu",
            "e2e-db-free-storage",
            "e2e-scheduler-running",
            "e2e-triggerer-running",
            "e2e-valkey-memory",
            "e2e-worker-cpu",
            "e2e-worker-running",
        ]
    );
    for (name, a) in &found {
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic), "{name}");
        assert_eq!(a.ok_actions(), std::slice::from_ref(&topic), "{name}");
    }
    // The defaults, statistics, windows and missing-data treatments docs/alarms.md states.
    assert_as_documented(&found, &[]);

    // The api-server's alarms watch the ALB and target group the SDK sees.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lb_arn = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers")
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn().map(str::to_string))
        .expect("an ALB");
    let tg_arn = elb
        .describe_target_groups()
        .send()
        .await
        .expect("target groups")
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn().map(str::to_string))
        .expect("a target group");
    let five = &found["e2e-api-5xx"];
    assert_eq!(five.namespace(), Some("AWS/ApplicationELB"));
    assert_eq!(five.metric_name(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(five.statistic(), Some(&Statistic::Sum));
    assert_eq!(five.threshold(), Some(5.0));
    assert_eq!(
        five.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanOrEqualToThreshold)
    );
    assert_eq!(
        (five.period(), five.evaluation_periods()),
        (Some(60), Some(5))
    );
    assert_eq!(five.datapoints_to_alarm(), Some(3));
    assert_eq!(five.treat_missing_data(), Some("notBreaching"));
    let dims = dimensions(five);
    assert_eq!(
        dims.get("LoadBalancer").map(String::as_str),
        lb_arn.split_once(":loadbalancer/").map(|(_, s)| s)
    );
    assert_eq!(
        dims.get("TargetGroup").map(String::as_str),
        tg_arn.rsplit_once(':').map(|(_, s)| s)
    );

    // Storage: the default CPU threshold, free storage in bytes, Valkey's node.
    let cpu = &found["e2e-db-cpu"];
    assert_eq!(cpu.namespace(), Some("AWS/RDS"));
    assert_eq!(cpu.threshold(), Some(80.0));
    assert_eq!(
        dimensions(cpu)
            .get("DBInstanceIdentifier")
            .map(String::as_str),
        Some("e2e-metadata")
    );
    let storage = &found["e2e-db-free-storage"];
    assert_eq!(storage.metric_name(), Some("FreeStorageSpace"));
    assert_eq!(storage.threshold(), Some(2.0 * 1024.0 * 1024.0 * 1024.0));
    assert_eq!(
        storage.comparison_operator(),
        Some(&ComparisonOperator::LessThanThreshold)
    );
    assert_eq!(found["e2e-db-connections"].threshold(), Some(80.0));
    let valkey = &found["e2e-valkey-memory"];
    assert_eq!(valkey.namespace(), Some("AWS/ElastiCache"));
    assert_eq!(valkey.metric_name(), Some("DatabaseMemoryUsagePercentage"));
    assert_eq!(
        dimensions(valkey).get("CacheClusterId").map(String::as_str),
        Some("e2e-broker-001")
    );
    // Services: running below the count (the worker: below its autoscaling minimum).
    let running = &found["e2e-scheduler-running"];
    assert_eq!(running.namespace(), Some("ECS/ContainerInsights"));
    assert_eq!(running.metric_name(), Some("RunningTaskCount"));
    assert_eq!(running.threshold(), Some(1.0));
    assert_eq!(
        running.comparison_operator(),
        Some(&ComparisonOperator::LessThanThreshold)
    );
    assert_eq!(
        dimensions(running),
        BTreeMap::from([
            ("ClusterName".to_string(), "e2e".to_string()),
            ("ServiceName".to_string(), "e2e-scheduler".to_string()),
        ])
    );
    let worker_cpu = &found["e2e-worker-cpu"];
    assert_eq!(
        (worker_cpu.namespace(), worker_cpu.threshold()),
        (Some("AWS/ECS"), Some(90.0))
    );

    // The api-server rolls back a deployment that raises its 5xx alarm.
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let api = ecs
        .describe_services()
        .cluster("e2e")
        .services("e2e-api-server")
        .send()
        .await
        .expect("describe services");
    let deployment_alarms = api
        .services()
        .first()
        .and_then(|s| s.deployment_configuration())
        .and_then(|d| d.alarms())
        .expect("the api-server has deployment alarms");
    assert_eq!(deployment_alarms.alarm_names(), ["e2e-api-5xx"]);
    assert!(deployment_alarms.enable() && deployment_alarms.rollback());

    // A second `up` and `plan`: nothing to change, no mutating call.
    world.sim.reset_accounting();
    world.run(&["up"]).await.expect_code(0);
    assert_eq!(world.applied_mutations(), Vec::<String>::new());
    world
        .run(&["plan", "--detailed-exitcode"])
        .await
        .expect_code(0);
    let status = world.run(&["status"]).await;
    assert!(
        status.all().contains("e2e-db-cpu"),
        "status lists the alarms:\n{}",
        status.all()
    );

    seen.extend(alarm_actions(&world));

    // What each teardown would delete: the alarms with the services, the topic only with all.
    let services = world.run(&["plan", "--teardown", "services"]).await;
    services.expect_code(0);
    assert!(
        services.stdout.contains("e2e-api-5xx"),
        "{}",
        services.stdout
    );
    assert!(
        !services.stdout.contains("e2e-alarms"),
        "{}",
        services.stdout
    );
    let all = world.run(&["plan", "--teardown", "all"]).await;
    all.expect_code(0);
    assert!(all.stdout.contains("e2e-alarms"), "{}", all.stdout);
    world.sim.reset_accounting();

    // `teardown services` removes the alarms (phase 2) and keeps the topic (phase 1) with its
    // subscription, so the on-call need not confirm again; `teardown all` removes the topic.
    world.run(&["teardown", "services"]).await.expect_code(0);
    seen.extend(alarm_actions(&world));
    assert_eq!(
        alarms(&sdk).await.len(),
        0,
        "teardown services deletes the alarms"
    );
    assert!(
        topics(&sdk).await.contains(&topic),
        "teardown services keeps the topic"
    );
    let kept = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("subscriptions");
    assert_eq!(kept.subscriptions().len(), 1);
    world.sim.reset_accounting();
    world
        .run(&["teardown", "all", "--yes", "--force"])
        .await
        .expect_code(0);
    seen.extend(alarm_actions(&world));
    assert_eq!(alarms(&sdk).await.len(), 0);
    assert!(!topics(&sdk).await.contains(&topic));

    // Every CloudWatch and SNS action orchestrate called (the accounting collected right
    // after its runs, before the test's own SDK calls) is in docs/security.md's policy.
    for action in [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "sns:CreateTopic",
    ] {
        assert!(seen.contains(action), "{action} seen: {seen:?}");
    }
    let policy = documented_policy();
    let missing: Vec<&String> = seen.iter().filter(|a| !policy.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "CloudWatch/SNS actions missing from docs/security.md: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_named_by_arn_is_used_never_created_nor_deleted() {
    let world = World::start(SPEC, Scenario::default()).await;
    let sdk = world.sdk().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let team = sns
        .create_topic()
        .name("team-pager")
        .send()
        .await
        .expect("create the team's topic")
        .topic_arn()
        .expect("topic arn")
        .to_string();
    let spec = format!("{SPEC}\n[alarms]\nsns_topic_arn = \"{team}\"\nrds_cpu_percent = 75\n");
    std::fs::write(&world.spec, spec).expect("write spec");
    // `plan` shows the alarms `up --phase 2` would create (read-only), none of a later phase.
    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--phase", "2"]).await;
    plan.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "plan is read-only"
    );
    for name in ["e2e-api-5xx", "e2e-db-cpu", "e2e-api-server-running"] {
        assert!(
            plan.stdout.contains(name),
            "plan shows {name}:\n{}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains("e2e-worker-cpu"), "{}", plan.stdout);
    world.run(&["up", "--phase", "2"]).await.expect_code(0);

    assert_eq!(
        topics(&sdk).await,
        std::slice::from_ref(&team),
        "no topic created"
    );
    let found = alarms(&sdk).await;
    // Phase 2: the api-server's alarms and storage's, no alarm of a later phase's service.
    assert!(found.contains_key("e2e-api-5xx"));
    assert!(found.contains_key("e2e-api-server-running"));
    assert!(found.contains_key("e2e-db-free-storage"));
    assert!(!found.contains_key("e2e-worker-cpu"));
    assert!(!found.contains_key("e2e-scheduler-running"));
    for (name, a) in &found {
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&team), "{name}");
    }
    // The spec's own threshold replaces the documented default; the rest as documented.
    assert_as_documented(&found, &[("e2e-db-cpu", 75.0)]);
    assert_eq!(found["e2e-db-cpu"].threshold(), Some(75.0));

    world
        .run(&["teardown", "all", "--yes", "--force"])
        .await
        .expect_code(0);
    assert_eq!(alarms(&sdk).await.len(), 0);
    assert_eq!(topics(&sdk).await, [team], "the team's topic is kept");
}
