use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::operation::delete_scaling_policy::{
    DeleteScalingPolicyError, DeleteScalingPolicyOutput,
};
use aws_sdk_applicationautoscaling::operation::deregister_scalable_target::{
    DeregisterScalableTargetError, DeregisterScalableTargetOutput,
};
use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::describe_scaling_policies::DescribeScalingPoliciesOutput;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::PutScalingPolicyOutput;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
use aws_sdk_applicationautoscaling::types::error::ObjectNotFoundException;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use orchestrate_core::change::Action;

use super::{cx, meta};
use crate::autoscaling::{self, AutoscalingDesired, POLICY_KIND, TARGET_KIND};

const RESOURCE: &str = "service/demo/demo-worker";

fn desired() -> AutoscalingDesired {
    AutoscalingDesired::new(&cx(), "demo-worker", 1, 10, 70.0, 80.0)
}

fn target(min: i32, max: i32) -> ScalableTarget {
    ScalableTarget::builder()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
        .creation_time(DateTime::from_secs(0))
        .scalable_target_arn("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/abc")
        .build()
        .expect("target")
}

fn policy(name: &str, metric: MetricType, value: f64) -> ScalingPolicy {
    ScalingPolicy::builder()
        .policy_arn(format!("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:resource/ecs/{RESOURCE}:policyName/{name}"))
        .policy_name(name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(value)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(metric)
                        .build()
                        .expect("metric"),
                )
                .scale_in_cooldown(300)
                .scale_out_cooldown(60)
                .build()
                .expect("config"),
        )
        .creation_time(DateTime::from_secs(0))
        .build()
        .expect("policy")
}

fn describe_targets(targets: Vec<ScalableTarget>) -> Rule {
    mock!(Client::describe_scalable_targets)
        .match_requests(|r| {
            r.service_namespace() == Some(&ServiceNamespace::Ecs) && r.resource_ids() == [RESOURCE]
        })
        .then_output(move || {
            DescribeScalableTargetsOutput::builder()
                .set_scalable_targets(Some(targets.clone()))
                .build()
        })
}

fn describe_policies(policies: Vec<ScalingPolicy>) -> Rule {
    mock!(Client::describe_scaling_policies).then_output(move || {
        DescribeScalingPoliciesOutput::builder()
            .set_scaling_policies(Some(policies.clone()))
            .build()
    })
}

fn put_ok() -> Rule {
    mock!(Client::put_scaling_policy).then_output(|| {
        PutScalingPolicyOutput::builder()
            .policy_arn("arn:new")
            .build()
            .expect("out")
    })
}

fn register_ok() -> Rule {
    mock!(Client::register_scalable_target)
        .then_output(|| RegisterScalableTargetOutput::builder().build())
}

#[tokio::test]
async fn creates_target_with_tags_and_both_policies() {
    let cx = cx();
    let targets = describe_targets(vec![]);
    let policies = describe_policies(vec![]);
    let register = mock!(Client::register_scalable_target)
        .match_requests(|r| {
            r.resource_id() == Some(RESOURCE)
                && r.scalable_dimension() == Some(&ScalableDimension::EcsServiceDesiredCount)
                && r.min_capacity() == Some(1)
                && r.max_capacity() == Some(10)
                && r.tags().is_some_and(|t| {
                    t.get("orchestrate:deployment").map(String::as_str) == Some("demo")
                })
        })
        .then_output(|| {
            RegisterScalableTargetOutput::builder()
                .scalable_target_arn("arn:target")
                .build()
        });
    let put = mock!(Client::put_scaling_policy)
        .match_requests(|r| {
            let c = r
                .target_tracking_scaling_policy_configuration()
                .expect("config");
            let metric = c
                .predefined_metric_specification()
                .map(|m| m.predefined_metric_type().clone());
            let expected = match r.policy_name() {
                Some("demo-worker-cpu") => (MetricType::EcsServiceAverageCpuUtilization, 70.0),
                Some("demo-worker-memory") => {
                    (MetricType::EcsServiceAverageMemoryUtilization, 80.0)
                }
                _ => return false,
            };
            r.policy_type() == Some(&PolicyType::TargetTrackingScaling)
                && metric == Some(expected.0)
                && (c.target_value() - expected.1).abs() < 1e-9
                && c.scale_in_cooldown() == Some(300)
                && c.scale_out_cooldown() == Some(60)
        })
        .then_output(|| {
            PutScalingPolicyOutput::builder()
                .policy_arn("arn:p")
                .build()
                .expect("out")
        });
    let client = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        [&targets, &policies, &register, &put]
    );
    let out = autoscaling::ensure(&client, &cx, &desired())
        .await
        .expect("ensure");
    assert_eq!(out.scalable_target_arn.as_deref(), Some("arn:target"));
    assert_eq!(out.policy_arns.len(), 2);
    assert_eq!(register.num_calls(), 1);
    assert_eq!(put.num_calls(), 2);
}

#[tokio::test]
async fn converged_autoscaling_makes_no_mutating_call() {
    let cx = cx();
    let targets = describe_targets(vec![target(1, 10)]);
    let policies = describe_policies(vec![
        policy(
            "demo-worker-cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            70.0,
        ),
        policy(
            "demo-worker-memory",
            MetricType::EcsServiceAverageMemoryUtilization,
            80.0,
        ),
    ]);
    let register = register_ok();
    let put = put_ok();
    let client = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        [&targets, &policies, &register, &put]
    );
    let out = autoscaling::ensure(&client, &cx, &desired())
        .await
        .expect("ensure");
    assert_eq!(register.num_calls() + put.num_calls(), 0);
    assert_eq!(out.policy_arns.len(), 2);
    let plan = autoscaling::plan_autoscaling(&client, &desired())
        .await
        .expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::NoChange));
    assert_eq!(plan[0].kind, TARGET_KIND);
    assert_eq!(plan[1].kind, POLICY_KIND);
}

#[tokio::test]
async fn drift_updates_only_what_differs() {
    let cx = cx();
    let targets = describe_targets(vec![target(1, 4)]);
    let policies = describe_policies(vec![
        policy(
            "demo-worker-cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            50.0,
        ),
        policy(
            "demo-worker-memory",
            MetricType::EcsServiceAverageMemoryUtilization,
            80.0,
        ),
    ]);
    let register = mock!(Client::register_scalable_target)
        .match_requests(|r| r.max_capacity() == Some(10) && r.tags().is_none())
        .then_output(|| RegisterScalableTargetOutput::builder().build());
    let put = mock!(Client::put_scaling_policy)
        .match_requests(|r| r.policy_name() == Some("demo-worker-cpu"))
        .then_output(|| {
            PutScalingPolicyOutput::builder()
                .policy_arn("arn:p")
                .build()
                .expect("out")
        });
    let client = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        [&targets, &policies, &register, &put]
    );
    let plan = autoscaling::plan_autoscaling(&client, &desired())
        .await
        .expect("plan");
    assert!(
        matches!(&plan[0].action, Action::Update { fields } if fields[0].field == "MaxCapacity")
    );
    assert!(
        matches!(&plan[1].action, Action::Update { fields } if fields[0].field == "TargetValue")
    );
    assert_eq!(plan[2].action, Action::NoChange);
    autoscaling::ensure(&client, &cx, &desired())
        .await
        .expect("ensure");
    assert_eq!(register.num_calls(), 1);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn deleting_absent_autoscaling_succeeds() {
    let cx = cx();
    let targets = describe_targets(vec![]);
    let policies = describe_policies(vec![]);
    let policy = mock!(Client::delete_scaling_policy)
        .then_output(|| DeleteScalingPolicyOutput::builder().build());
    let target = mock!(Client::deregister_scalable_target)
        .then_output(|| DeregisterScalableTargetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        [&targets, &policies, &policy, &target]
    );
    autoscaling::delete(&client, &cx, &desired())
        .await
        .expect("delete");
    assert_eq!(
        policy.num_calls() + target.num_calls(),
        0,
        "nothing to delete"
    );
}

#[tokio::test]
async fn deleting_races_with_another_delete() {
    let cx = cx();
    let targets = describe_targets(vec![target(1, 10)]);
    let policies = describe_policies(vec![
        policy(
            "demo-worker-cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            70.0,
        ),
        policy(
            "demo-worker-memory",
            MetricType::EcsServiceAverageMemoryUtilization,
            80.0,
        ),
    ]);
    let not_found = || {
        ObjectNotFoundException::builder()
            .meta(meta("ObjectNotFoundException", "No scalable target found"))
            .build()
    };
    let policy = mock!(Client::delete_scaling_policy)
        .then_error(move || DeleteScalingPolicyError::ObjectNotFoundException(not_found()));
    let target = mock!(Client::deregister_scalable_target)
        .then_error(move || DeregisterScalableTargetError::ObjectNotFoundException(not_found()));
    let client = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        [&targets, &policies, &policy, &target]
    );
    autoscaling::delete(&client, &cx, &desired())
        .await
        .expect("delete");
    assert_eq!(policy.num_calls(), 2);
    assert_eq!(target.num_calls(), 1);
}
