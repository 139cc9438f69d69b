//! Answers that lack a field this crate needs: an identifier is an `IncompleteAnswer` error
//! (kind Internal) of the failing call; an unreported setting is `None`, never "" or 0.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerStateEnum, ProtocolEnum};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use orchestrate_aws::INCOMPLETE_ANSWER;
use orchestrate_core::change::Action;
use orchestrate_core::{Classify, ErrorKind};

use super::*;
use crate::error::Error;
use crate::target_group;

fn assert_incomplete(e: &Error, field: &str) {
    let aws = match e {
        Error::DescribeLoadBalancer(aws)
        | Error::DescribeTargetGroup(aws)
        | Error::DescribeListeners(aws) => aws,
        other => panic!("a describe error, got {other:?}"),
    };
    assert_eq!(aws.code, INCOMPLETE_ANSWER, "{e}");
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(e.to_string().contains(field), "{e} names {field}");
}

#[tokio::test]
async fn a_load_balancer_without_its_dns_name_is_an_incomplete_answer() {
    let described = mock!(Client::describe_load_balancers).then_output(|| {
        let mut lb = lb(LoadBalancerStateEnum::Active);
        lb.dns_name = None;
        DescribeLoadBalancersOutput::builder()
            .load_balancers(lb)
            .build()
    });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&described]
    );
    let e = crate::alb::find(&client, "demo-alb")
        .await
        .expect_err("no DNS name");
    assert!(matches!(e, Error::DescribeLoadBalancer(_)), "{e:?}");
    assert_incomplete(&e, "DNSName");
}

#[tokio::test]
async fn a_target_group_without_its_arn_is_an_incomplete_answer() {
    let described = mock!(Client::describe_target_groups).then_output(|| {
        let mut tg = tg();
        tg.target_group_arn = None;
        DescribeTargetGroupsOutput::builder()
            .target_groups(tg)
            .build()
    });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&described]
    );
    let e = target_group::find(&client, "demo-api")
        .await
        .expect_err("no ARN");
    assert_incomplete(&e, "TargetGroupArn");
}

#[tokio::test]
async fn an_unreported_health_check_setting_is_none_and_drifts() {
    let described = mock!(Client::describe_target_groups).then_output(|| {
        let mut tg = tg();
        tg.health_check_path = None;
        tg.health_check_interval_seconds = None;
        DescribeTargetGroupsOutput::builder()
            .target_groups(tg)
            .build()
    });
    let attributes = mock!(Client::describe_target_group_attributes).then_output(|| {
        DescribeTargetGroupAttributesOutput::builder()
            .set_attributes(Some(tg_attrs("30")))
            .build()
    });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&described, &attributes]
    );
    let observed = target_group::find(&client, "demo-api")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(observed.health_check.path, None);
    assert_eq!(observed.health_check.interval_seconds, None);
    assert_eq!(observed.health_check.matcher.as_deref(), Some("200"));
    let change = target_group::diff(&desired().target_group, Some(&observed));
    let Action::Update { fields } = change.action else {
        panic!("expected an update, got {:?}", change.action);
    };
    let shown: Vec<(&str, Option<&str>, Option<&str>)> = fields
        .iter()
        .map(|f| (f.field.as_str(), f.from.as_deref(), f.to.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("HealthCheckPath", None, Some("/api/v2/version")),
            ("HealthCheckIntervalSeconds", None, Some("30")),
        ]
    );
}

#[tokio::test]
async fn a_listener_without_its_port_is_an_incomplete_answer() {
    let described = mock!(Client::describe_listeners).then_output(|| {
        let mut l = listener(443, ProtocolEnum::Https, forward(TG_ARN));
        l.port = None;
        DescribeListenersOutput::builder().listeners(l).build()
    });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&described]
    );
    let e = crate::listener::list(&client, "demo-alb", LB_ARN)
        .await
        .expect_err("no port");
    assert_incomplete(&e, "Listeners[].Port");
}
