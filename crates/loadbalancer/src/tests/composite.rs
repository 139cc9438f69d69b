//! The three resources together: from_spec, converged ensure, fresh create, plan, delete.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::create_listener::CreateListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput;
use aws_sdk_elasticloadbalancingv2::operation::delete_listener::DeleteListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::delete_load_balancer::{
    DeleteLoadBalancerError, DeleteLoadBalancerOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::delete_target_group::{
    DeleteTargetGroupError, DeleteTargetGroupOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::{
    DescribeListenersError, DescribeListenersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::{
    DescribeTargetGroupsError, DescribeTargetGroupsOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_load_balancer_attributes::ModifyLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group::ModifyTargetGroupOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group_attributes::ModifyTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::set_security_groups::SetSecurityGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::set_subnets::SetSubnetsOutput;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerStateEnum, ProtocolEnum};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;

use super::*;
use crate::{delete_load_balancer, ensure_load_balancer, plan_load_balancer};

fn describe_lb() -> Rule {
    mock!(Client::describe_load_balancers).then_output(|| {
        DescribeLoadBalancersOutput::builder()
            .load_balancers(lb(LoadBalancerStateEnum::Active))
            .build()
    })
}

fn describe_tg() -> Rule {
    mock!(Client::describe_target_groups).then_output(|| {
        DescribeTargetGroupsOutput::builder()
            .target_groups(tg())
            .build()
    })
}

fn lb_absent() -> Rule {
    mock!(Client::describe_load_balancers)
        .then_error(|| aws_err!(DescribeLoadBalancersError, "LoadBalancerNotFound"))
}

fn tg_absent() -> Rule {
    mock!(Client::describe_target_groups)
        .then_error(|| aws_err!(DescribeTargetGroupsError, "TargetGroupNotFound"))
}

/// Every mutating operation this crate can call, each answering success.
fn all_mutations() -> Vec<Rule> {
    vec![
        mock!(Client::create_load_balancer)
            .then_output(|| CreateLoadBalancerOutput::builder().build()),
        mock!(Client::set_subnets).then_output(|| SetSubnetsOutput::builder().build()),
        mock!(Client::set_security_groups)
            .then_output(|| SetSecurityGroupsOutput::builder().build()),
        mock!(Client::modify_load_balancer_attributes)
            .then_output(|| ModifyLoadBalancerAttributesOutput::builder().build()),
        mock!(Client::create_target_group)
            .then_output(|| CreateTargetGroupOutput::builder().build()),
        mock!(Client::modify_target_group)
            .then_output(|| ModifyTargetGroupOutput::builder().build()),
        mock!(Client::modify_target_group_attributes)
            .then_output(|| ModifyTargetGroupAttributesOutput::builder().build()),
        mock!(Client::create_listener).then_output(|| CreateListenerOutput::builder().build()),
        mock!(Client::modify_listener).then_output(|| ModifyListenerOutput::builder().build()),
        mock!(Client::delete_listener).then_output(|| DeleteListenerOutput::builder().build()),
        mock!(Client::delete_load_balancer)
            .then_output(|| DeleteLoadBalancerOutput::builder().build()),
        mock!(Client::delete_target_group)
            .then_output(|| DeleteTargetGroupOutput::builder().build()),
    ]
}

#[test]
fn from_spec_names_settings_and_url() {
    let d = desired();
    assert_eq!(d.alb.name, "demo-alb");
    assert_eq!(d.target_group.name, "demo-api");
    assert_eq!(d.alb.idle_timeout_seconds, 60);
    assert!(d.alb.drop_invalid_header_fields);
    assert_eq!(d.target_group.health_check.path, "/api/v2/version");
    assert_eq!(d.target_group.deregistration_delay_seconds, 30);
    assert_eq!(d.url(DNS), format!("http://{DNS}"));
    assert_eq!(d.listeners(TG_ARN).listeners.len(), 1);

    let mut spec = spec();
    spec.load_balancer.certificate_arn = Some(CERT.into());
    let d = LoadBalancerDesired::from_spec(&spec, &subnets(), "sg-alb", "vpc-1");
    assert_eq!(d.url(DNS), format!("https://{DNS}"));
    let ports: Vec<i32> = d
        .listeners(TG_ARN)
        .listeners
        .iter()
        .map(|l| l.port)
        .collect();
    assert_eq!(ports, [443, 80]);
}

#[tokio::test]
async fn converged_deployment_makes_zero_mutating_calls() {
    let reads = [
        describe_lb(),
        mock!(Client::describe_load_balancer_attributes).then_output(|| {
            DescribeLoadBalancerAttributesOutput::builder()
                .set_attributes(Some(lb_attrs("60", "true")))
                .build()
        }),
        describe_tg(),
        mock!(Client::describe_target_group_attributes).then_output(|| {
            DescribeTargetGroupAttributesOutput::builder()
                .set_attributes(Some(tg_attrs("30")))
                .build()
        }),
        mock!(Client::describe_listeners).then_output(|| {
            DescribeListenersOutput::builder()
                .listeners(listener(80, ProtocolEnum::Http, forward(TG_ARN)))
                .build()
        }),
    ];
    let writes = all_mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        reads.iter().chain(writes.iter())
    );

    let out = ensure_load_balancer(&client, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(out.load_balancer_arn, LB_ARN);
    assert_eq!(out.target_group_arn, TG_ARN);
    assert_eq!(out.dns_name, DNS);
    assert_eq!(out.url, format!("http://{DNS}"));
    assert_eq!(out.listener_arns, [format!("{LB_ARN}/listener-80")]);
    for rule in &writes {
        assert_eq!(rule.num_calls(), 0);
    }
    let plan = plan_load_balancer(&client, &cx(), &desired())
        .await
        .expect("plan");
    assert_eq!(plan.len(), 3);
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
}

#[tokio::test]
async fn fresh_deployment_creates_all_three_and_forwards_to_the_new_target_group() {
    let rules = [
        lb_absent(),
        tg_absent(),
        mock!(Client::create_load_balancer).then_output(|| {
            CreateLoadBalancerOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Provisioning))
                .build()
        }),
        mock!(Client::modify_load_balancer_attributes)
            .then_output(|| ModifyLoadBalancerAttributesOutput::builder().build()),
        mock!(Client::create_target_group).then_output(|| {
            CreateTargetGroupOutput::builder()
                .target_groups(tg())
                .build()
        }),
        mock!(Client::modify_target_group_attributes)
            .then_output(|| ModifyTargetGroupAttributesOutput::builder().build()),
        // The new load balancer is not yet visible to DescribeListeners: it has none.
        mock!(Client::describe_listeners)
            .then_error(|| aws_err!(DescribeListenersError, "LoadBalancerNotFound")),
    ];
    let create_listener = mock!(Client::create_listener)
        .match_requests(|r| r.default_actions()[0].target_group_arn() == Some(TG_ARN))
        .then_output(|| {
            CreateListenerOutput::builder()
                .listeners(listener(80, ProtocolEnum::Http, forward(TG_ARN)))
                .build()
        });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        rules.iter().chain([&create_listener])
    );

    let plan = plan_load_balancer(&client, &cx(), &desired())
        .await
        .expect("plan");
    let kinds: Vec<(&str, &Action)> = plan.iter().map(|c| (c.kind.as_str(), &c.action)).collect();
    assert_eq!(
        kinds,
        [
            ("elbv2/load-balancer", &Action::Create),
            ("elbv2/target-group", &Action::Create),
            ("elbv2/listener", &Action::Create)
        ]
    );

    let out = ensure_load_balancer(&client, &cx(), &desired())
        .await
        .expect("ensure");
    assert_eq!(out.load_balancer_arn, LB_ARN);
    assert_eq!(out.listener_arns.len(), 1);
    assert_eq!(create_listener.num_calls(), 1);
    assert_eq!(rules[2].num_calls(), 1, "one CreateLoadBalancer");
    assert_eq!(rules[4].num_calls(), 1, "one CreateTargetGroup");
}

#[tokio::test]
async fn delete_of_a_never_created_deployment_succeeds_without_deleting() {
    let reads = [lb_absent(), tg_absent()];
    let writes = all_mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        reads.iter().chain(writes.iter())
    );
    delete_load_balancer(&client, &cx()).await.expect("delete");
    for rule in &writes {
        assert_eq!(rule.num_calls(), 0);
    }
}

#[tokio::test]
async fn delete_removes_listeners_then_waits_for_the_alb_then_the_target_group() {
    let describe = mock!(Client::describe_load_balancers)
        .sequence()
        .output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Active))
                .build()
        })
        .times(2)
        .error(|| aws_err!(DescribeLoadBalancersError, "LoadBalancerNotFound"))
        .repeatedly()
        .build();
    let listeners = mock!(Client::describe_listeners).then_output(|| {
        DescribeListenersOutput::builder()
            .listeners(listener(80, ProtocolEnum::Http, forward(TG_ARN)))
            .build()
    });
    let delete_listener = mock!(Client::delete_listener)
        .match_requests(|r| r.listener_arn().is_some_and(|a| a.ends_with("listener-80")))
        .then_output(|| DeleteListenerOutput::builder().build());
    // Already being deleted by someone else: not found is success.
    let delete_lb = mock!(Client::delete_load_balancer)
        .match_requests(|r| r.load_balancer_arn() == Some(LB_ARN))
        .then_error(|| aws_err!(DeleteLoadBalancerError, "LoadBalancerNotFound"));
    let tg_describe = describe_tg();
    let delete_tg = mock!(Client::delete_target_group)
        .sequence()
        .error(|| aws_err!(DeleteTargetGroupError, "ResourceInUse"))
        .output(|| DeleteTargetGroupOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [
            &describe,
            &listeners,
            &delete_listener,
            &delete_lb,
            &tg_describe,
            &delete_tg
        ]
    );

    delete_load_balancer(&client, &cx()).await.expect("delete");
    assert_eq!(delete_listener.num_calls(), 1);
    assert_eq!(delete_lb.num_calls(), 1);
    assert!(describe.num_calls() >= 3, "waited until the ALB was gone");
    assert_eq!(delete_tg.num_calls(), 2);
}
