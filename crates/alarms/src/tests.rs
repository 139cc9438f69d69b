use aws_sdk_cloudwatch::operation::delete_alarms::DeleteAlarmsOutput;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
use aws_sdk_cloudwatch::types::{Dimension, MetricAlarm, StateValue};
use aws_sdk_sns::operation::create_topic::CreateTopicOutput;
use aws_sdk_sns::operation::get_topic_attributes::{
    GetTopicAttributesError, GetTopicAttributesOutput,
};
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
use aws_sdk_sns::operation::subscribe::SubscribeOutput;
use aws_sdk_sns::types::Subscription;
use aws_sdk_sns::types::error::NotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use orchestrate_core::change::Action;

use super::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:demo-alarms";

fn inputs() -> AlarmInputs {
    AlarmInputs {
        topic_arn: TOPIC.to_string(),
        load_balancer_arn: Some(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/50dc6c495c0c9188"
                .to_string(),
        ),
        target_group_arn: Some(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-api/73e2d6bc24d8a067"
                .to_string(),
        ),
        cluster: "demo".to_string(),
        services: vec![WatchedService {
            component: "api-server".to_string(),
            service: "demo-api-server".to_string(),
            min_running: 1,
        }],
        worker_service: None,
        db_instance: "demo-metadata".to_string(),
        cache_node: primary_node("demo-broker"),
    }
}

fn desired(cx: &Context) -> AlarmsDesired {
    AlarmsDesired::new(cx, &AlarmsSpec::default(), &inputs())
}

/// The MetricAlarm CloudWatch would describe for `a`, as PutMetricAlarm stored it.
fn described(a: &AlarmDesired) -> MetricAlarm {
    MetricAlarm::builder()
        .alarm_name(&a.name)
        .alarm_arn(format!(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}",
            a.name
        ))
        .alarm_description(&a.description)
        .namespace(&a.namespace)
        .metric_name(&a.metric_name)
        .set_dimensions(Some(
            a.dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
        ))
        .statistic(a.statistic.clone())
        .period(a.period)
        .evaluation_periods(a.evaluation_periods)
        .datapoints_to_alarm(a.datapoints_to_alarm)
        .threshold(a.threshold)
        .comparison_operator(a.comparison.clone())
        .treat_missing_data(&a.treat_missing_data)
        .set_alarm_actions(Some(a.actions.clone()))
        .set_ok_actions(Some(a.actions.clone()))
        .actions_enabled(true)
        .state_value(StateValue::Ok)
        .build()
}

#[test]
fn alarms_are_named_per_deployment_with_dimensions_from_the_arns() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let names = d.names();
    assert_eq!(
        names,
        [
            "demo-api-5xx",
            "demo-api-unhealthy",
            "demo-api-server-running",
            "demo-db-cpu",
            "demo-db-free-storage",
            "demo-db-connections",
            "demo-valkey-memory"
        ]
    );
    let api = &d.alarms[0];
    assert_eq!(
        api.dimensions,
        [
            (
                "LoadBalancer".to_string(),
                "app/demo/50dc6c495c0c9188".to_string()
            ),
            (
                "TargetGroup".to_string(),
                "targetgroup/demo-api/73e2d6bc24d8a067".to_string()
            )
        ]
    );
    assert_eq!(api.threshold, 5.0);
    let storage = &d.alarms[4];
    assert_eq!(storage.threshold, 2.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(
        d.alarms[6].dimensions,
        [("CacheClusterId".to_string(), "demo-broker-001".to_string())]
    );
    assert!(d.alarms.iter().all(|a| a.actions == [TOPIC]));
    // Every name is among what teardown looks for.
    let all = all_names(&cx, &["api-server", "scheduler", "worker"]);
    assert!(names.iter().all(|n| all.contains(n)), "{all:?}");
}

#[tokio::test]
async fn ensure_creates_every_absent_alarm_with_tags() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_names().len() == 7)
        .then_output(|| DescribeAlarmsOutput::builder().build());
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .match_requests(|r| {
            r.tags()
                .iter()
                .any(|t| t.key() == Some("orchestrate:deployment") && t.value() == Some("demo"))
                && r.alarm_actions() == [TOPIC]
                && r.ok_actions() == [TOPIC]
        })
        .then_output(|| PutMetricAlarmOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe, &put]);
    let report = alarm::ensure_all(&client, &cx, &d.alarms)
        .await
        .expect("ensure");
    assert_eq!(report.created.len(), 7);
    assert!(report.updated.is_empty());
    assert_eq!(describe.num_calls(), 1, "one batched DescribeAlarms");
    assert_eq!(put.num_calls(), 7);
}

#[tokio::test]
async fn ensure_makes_no_mutating_call_when_every_alarm_matches() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let all: Vec<MetricAlarm> = d.alarms.iter().map(described).collect();
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .set_metric_alarms(Some(all.clone()))
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe]);
    let report = alarm::ensure_all(&client, &cx, &d.alarms)
        .await
        .expect("ensure");
    assert_eq!(report, EnsureReport::default());
    assert_eq!(describe.num_calls(), 1);
    // And the plan says so.
    let observed = alarm::find_all(&client, &d.names()).await.expect("find");
    assert!(
        diff_all(&d, &observed)
            .iter()
            .all(|c| c.action == Action::NoChange)
    );
}

#[tokio::test]
async fn ensure_puts_only_the_drifted_alarm_without_tags() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let mut all: Vec<MetricAlarm> = d.alarms.iter().map(described).collect();
    // Someone raised the RDS CPU threshold in the console, and dropped the OK action.
    all[3] = MetricAlarm::builder()
        .alarm_name("demo-db-cpu")
        .alarm_description(&d.alarms[3].description)
        .namespace("AWS/RDS")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value("demo-metadata")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(3)
        .threshold(95.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .alarm_actions(TOPIC)
        .actions_enabled(true)
        .build();
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .set_metric_alarms(Some(all.clone()))
            .build()
    });
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .match_requests(|r| {
            r.alarm_name() == Some("demo-db-cpu")
                && r.threshold() == Some(80.0)
                && r.ok_actions() == [TOPIC]
                && r.tags().is_empty()
        })
        .then_output(|| PutMetricAlarmOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe, &put]);
    let observed = alarm::find_all(&client, &d.names()).await.expect("find");
    let change = alarm::diff(&d.alarms[3], observed.get("demo-db-cpu"));
    let Action::Update { fields } = &change.action else {
        panic!("expected an update, got {change:?}");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    // DatapointsToAlarm absent = EvaluationPeriods; TreatMissingData absent = missing.
    assert_eq!(names, ["Threshold", "OKActions"]);
    let report = alarm::ensure_all(&client, &cx, &d.alarms)
        .await
        .expect("ensure");
    assert_eq!(report.updated, ["demo-db-cpu"]);
    assert!(report.created.is_empty());
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn delete_removes_only_what_exists_and_nothing_when_gone() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let one = described(&d.alarms[0]);
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .sequence()
        .output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(one.clone())
                .build()
        })
        .output(|| DescribeAlarmsOutput::builder().build())
        .build();
    let delete = mock!(aws_sdk_cloudwatch::Client::delete_alarms)
        .match_requests(|r| r.alarm_names() == ["demo-api-5xx"])
        .then_output(|| DeleteAlarmsOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe, &delete]);
    let names = all_names(&cx, &["api-server"]);
    let gone = alarm::delete_all(&client, &cx, &names)
        .await
        .expect("delete");
    assert_eq!(gone, ["demo-api-5xx"]);
    let again = alarm::delete_all(&client, &cx, &names)
        .await
        .expect("delete again");
    assert!(again.is_empty());
    assert_eq!(delete.num_calls(), 1);
}

fn topic_desired(cx: &Context) -> TopicDesired {
    TopicDesired::new(cx, "us-east-1", "123456789012", "oncall@example.com")
}

#[tokio::test]
async fn topic_is_created_with_tags_and_subscribed_once() {
    let cx = Context::for_tests("demo");
    let desired = topic_desired(&cx);
    assert_eq!(desired.arn, TOPIC);
    let get = mock!(aws_sdk_sns::Client::get_topic_attributes)
        .sequence()
        .error(|| GetTopicAttributesError::NotFoundException(NotFoundException::builder().build()))
        .output(|| GetTopicAttributesOutput::builder().build())
        .repeatedly()
        .build();
    let create = mock!(aws_sdk_sns::Client::create_topic)
        .match_requests(|r| {
            r.name() == Some("demo-alarms")
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "orchestrate:deployment" && t.value() == "demo")
        })
        .then_output(|| CreateTopicOutput::builder().topic_arn(TOPIC).build());
    let subscribe = mock!(aws_sdk_sns::Client::subscribe)
        .match_requests(|r| {
            r.protocol() == Some("email") && r.endpoint() == Some("oncall@example.com")
        })
        .then_output(|| {
            SubscribeOutput::builder()
                .subscription_arn("pending confirmation")
                .build()
        });
    // Pending subscriptions are listed with their endpoint.
    let list = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic).then_output(|| {
        ListSubscriptionsByTopicOutput::builder()
            .subscriptions(
                Subscription::builder()
                    .subscription_arn("PendingConfirmation")
                    .protocol("email")
                    .endpoint("oncall@example.com")
                    .topic_arn(TOPIC)
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_sns,
        RuleMode::MatchAny,
        [&get, &create, &subscribe, &list]
    );
    assert_eq!(topic::diff(&desired, None).action, Action::Create);
    let arn = topic::ensure(&client, &cx, &desired).await.expect("ensure");
    assert_eq!(arn, TOPIC);
    assert_eq!((create.num_calls(), subscribe.num_calls()), (1, 1));
    // Re-run: the topic exists and the address is subscribed (pending): no call mutates.
    let again = topic::ensure(&client, &cx, &desired).await.expect("again");
    assert_eq!(again, TOPIC);
    assert_eq!((create.num_calls(), subscribe.num_calls()), (1, 1));
    assert_eq!(get.num_calls(), 2);
}

#[test]
fn a_topic_without_the_address_plans_a_subscription() {
    let cx = Context::for_tests("demo");
    let desired = topic_desired(&cx);
    let observed = TopicObserved {
        arn: TOPIC.to_string(),
        subscriptions: vec![("email".to_string(), "someone@example.com".to_string())],
    };
    let change = topic::diff(&desired, Some(&observed));
    assert!(matches!(change.action, Action::Update { .. }), "{change:?}");
    let subscribed = TopicObserved {
        subscriptions: vec![("email".to_string(), "OnCall@Example.com".to_string())],
        ..observed
    };
    assert_eq!(
        topic::diff(&desired, Some(&subscribed)).action,
        Action::NoChange
    );
}

/// A described alarm missing a field every alarm has is a typed error naming the field, never
/// an empty string that would read as drift.
#[tokio::test]
async fn a_dimension_without_a_value_is_a_missing_field() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let broken = MetricAlarm::builder()
        .alarm_name(&d.alarms[0].name)
        .dimensions(Dimension::builder().name("LoadBalancer").build())
        .build();
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .metric_alarms(broken.clone())
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&describe]);
    let e = alarm::find_all(&client, &d.names())
        .await
        .expect_err("a missing dimension value");
    assert!(
        matches!(
            e,
            Error::MissingField {
                field: "Dimensions.Value",
                ..
            }
        ),
        "{e:?}"
    );
}
