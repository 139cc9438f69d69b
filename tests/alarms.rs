//! `[alarms]` end to end: after a full `up` the alarms exist with the documented thresholds,
//! dimensions and actions, the topic orchestrate creates has one e-mail subscription, the
//! api-server service rolls back on its 5xx alarm; a re-run makes no mutating call; `teardown
//! all` removes alarms and topic — but never a topic the spec names by ARN. Checked with the
//! AWS SDK, not with orchestrate's own code.

mod common;

use std::collections::BTreeMap;

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
    let spec = format!("{SPEC}\n[alarms]\nemail = \"{EMAIL}\"\nrds_cpu_percent = 75\n");
    let world = World::start(&spec, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;

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
        assert_eq!(a.alarm_actions(), [topic.clone()], "{name}");
        assert_eq!(a.ok_actions(), [topic.clone()], "{name}");
    }

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

    // Storage: the spec's CPU threshold, the default free storage in bytes, Valkey's node.
    let cpu = &found["e2e-db-cpu"];
    assert_eq!(cpu.namespace(), Some("AWS/RDS"));
    assert_eq!(cpu.threshold(), Some(75.0));
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

    // Teardown removes alarms and the topic it created.
    world
        .run(&["teardown", "all", "--yes", "--force"])
        .await
        .expect_code(0);
    assert_eq!(alarms(&sdk).await.len(), 0);
    assert!(!topics(&sdk).await.contains(&topic));
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
    let spec = format!("{SPEC}\n[alarms]\nsns_topic_arn = \"{team}\"\n");
    std::fs::write(&world.spec, spec).expect("write spec");
    world.run(&["up", "--phase", "2"]).await.expect_code(0);

    assert_eq!(topics(&sdk).await, [team.clone()], "no topic created");
    let found = alarms(&sdk).await;
    // Phase 2: the api-server's alarms and storage's, no alarm of a later phase's service.
    assert!(found.contains_key("e2e-api-5xx"));
    assert!(found.contains_key("e2e-api-server-running"));
    assert!(found.contains_key("e2e-db-free-storage"));
    assert!(!found.contains_key("e2e-worker-cpu"));
    assert!(!found.contains_key("e2e-scheduler-running"));
    for (name, a) in &found {
        assert_eq!(a.alarm_actions(), [team.clone()], "{name}");
    }

    world
        .run(&["teardown", "all", "--yes", "--force"])
        .await
        .expect_code(0);
    assert_eq!(alarms(&sdk).await.len(), 0);
    assert_eq!(topics(&sdk).await, [team], "the team's topic is kept");
}
