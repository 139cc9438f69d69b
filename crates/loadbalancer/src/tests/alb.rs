//! The ALB: create, adopt, drift, eventual consistency, duplicate name, replacement, readiness.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::{
    CreateLoadBalancerError, CreateLoadBalancerOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::modify_load_balancer_attributes::{
    ModifyLoadBalancerAttributesError, ModifyLoadBalancerAttributesOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::set_security_groups::SetSecurityGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::set_subnets::SetSubnetsOutput;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerStateEnum};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;
use orchestrate_core::{Readiness, Spec};

use super::*;
use crate::alb::{self, AlbDesired};
use crate::error::Error;

fn alb_desired() -> AlbDesired {
    desired().alb
}

fn describe_absent() -> Rule {
    mock!(Client::describe_load_balancers)
        .then_error(|| aws_err!(DescribeLoadBalancersError, "LoadBalancerNotFound"))
}

fn describe_found() -> Rule {
    mock!(Client::describe_load_balancers)
        .match_requests(|r| r.names() == ["demo-alb"])
        .then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Active))
                .build()
        })
}

fn attrs(idle: &'static str, drop: &'static str) -> Rule {
    mock!(Client::describe_load_balancer_attributes)
        .match_requests(|r| r.load_balancer_arn() == Some(LB_ARN))
        .then_output(move || {
            DescribeLoadBalancerAttributesOutput::builder()
                .set_attributes(Some(lb_attrs(idle, drop)))
                .build()
        })
}

fn create_ok() -> Rule {
    mock!(Client::create_load_balancer).then_output(|| {
        CreateLoadBalancerOutput::builder()
            .load_balancers(lb(LoadBalancerStateEnum::Provisioning))
            .build()
    })
}

fn modify_ok() -> Rule {
    mock!(Client::modify_load_balancer_attributes)
        .then_output(|| ModifyLoadBalancerAttributesOutput::builder().build())
}

fn set_subnets_ok() -> Rule {
    mock!(Client::set_subnets).then_output(|| SetSubnetsOutput::builder().build())
}

fn set_sgs_ok() -> Rule {
    mock!(Client::set_security_groups).then_output(|| SetSecurityGroupsOutput::builder().build())
}

#[tokio::test]
async fn created_when_absent_with_tags_and_hardened_settings() {
    let describe = describe_absent();
    let create = mock!(Client::create_load_balancer)
        .match_requests(|r| {
            let tags = r.tags();
            r.name() == Some("demo-alb")
                && r.scheme() == Some(&LoadBalancerSchemeEnum::InternetFacing)
                && r.r#type().map(|t| t.as_str()) == Some("application")
                && r.ip_address_type().map(|t| t.as_str()) == Some("ipv4")
                && r.subnets() == ["subnet-a", "subnet-b"]
                && r.security_groups() == ["sg-alb"]
                && tag_value(tags, "orchestrate:deployment") == Some("demo")
                && tag_value(tags, "orchestrate:component") == Some("loadbalancer/alb")
                && tag_value(tags, "orchestrate:phase") == Some("2")
                && tag_value(tags, "managed-by") == Some("orchestrate")
                && tag_value(tags, "Name") == Some("demo-alb")
        })
        .then_output(|| {
            CreateLoadBalancerOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Provisioning))
                .build()
        });
    let modify = mock!(Client::modify_load_balancer_attributes)
        .match_requests(|r| {
            let a = r.attributes();
            r.load_balancer_arn() == Some(LB_ARN)
                && a.len() == 2
                && a.iter().any(|a| {
                    a.key() == Some("routing.http.drop_invalid_header_fields.enabled")
                        && a.value() == Some("true")
                })
                && a.iter().any(|a| {
                    a.key() == Some("idle_timeout.timeout_seconds") && a.value() == Some("60")
                })
        })
        .then_output(|| ModifyLoadBalancerAttributesOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &create, &modify]
    );

    let out = alb::ensure(&client, &cx(), &alb_desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, LB_ARN);
    assert_eq!(out.dns_name, DNS);
    assert_eq!(out.hosted_zone_id, "Z35SXDOTRQ7X7K");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(modify.num_calls(), 1);
}

#[tokio::test]
async fn existing_alb_is_adopted_without_mutation() {
    let describe = describe_found();
    let attributes = attrs("60", "true");
    let (create, modify, subnets, sgs) = (create_ok(), modify_ok(), set_subnets_ok(), set_sgs_ok());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create, &modify, &subnets, &sgs]
    );

    let out = alb::ensure(&client, &cx(), &alb_desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, LB_ARN);
    for rule in [&create, &modify, &subnets, &sgs] {
        assert_eq!(rule.num_calls(), 0);
    }
    let observed = alb::find(&client, "demo-alb").await.expect("find");
    assert_eq!(
        alb::diff(&alb_desired(), observed.as_ref()).action,
        Action::NoChange
    );
}

#[tokio::test]
async fn drift_updates_only_the_differing_fields() {
    // Observed: subnets a,b; sg-alb; idle 60; drop true. Desired: subnets a,c; idle 120.
    let describe = describe_found();
    let attributes = attrs("60", "true");
    let subnets = mock!(Client::set_subnets)
        .match_requests(|r| {
            r.load_balancer_arn() == Some(LB_ARN) && r.subnets() == ["subnet-a", "subnet-c"]
        })
        .then_output(|| SetSubnetsOutput::builder().build());
    let sgs = set_sgs_ok();
    let modify = mock!(Client::modify_load_balancer_attributes)
        .match_requests(|r| {
            r.attributes().len() == 1
                && r.attributes()[0].key() == Some("idle_timeout.timeout_seconds")
                && r.attributes()[0].value() == Some("120")
        })
        .then_output(|| ModifyLoadBalancerAttributesOutput::builder().build());
    let create = create_ok();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &subnets, &sgs, &modify, &create]
    );
    let mut spec: Spec = spec();
    spec.load_balancer.idle_timeout_seconds = 120;
    let want = AlbDesired::from_spec(&spec, &["subnet-c".into(), "subnet-a".into()], "sg-alb");

    let observed = alb::find(&client, "demo-alb").await.expect("find");
    let change = alb::diff(&want, observed.as_ref());
    let Action::Update { fields } = &change.action else {
        panic!("{change:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["Subnets", "idle_timeout.timeout_seconds"]);

    alb::ensure(&client, &cx(), &want).await.expect("ensure");
    assert_eq!(subnets.num_calls(), 1);
    assert_eq!(modify.num_calls(), 1);
    assert_eq!(sgs.num_calls(), 0);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn not_yet_visible_after_create_is_retried_without_a_second_create() {
    let describe = describe_absent();
    let create = create_ok();
    let modify = mock!(Client::modify_load_balancer_attributes)
        .sequence()
        .error(|| aws_err!(ModifyLoadBalancerAttributesError, "LoadBalancerNotFound"))
        .output(|| ModifyLoadBalancerAttributesOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &create, &modify]
    );

    let out = alb::ensure(&client, &cx(), &alb_desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, LB_ARN);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(modify.num_calls(), 2);
}

#[tokio::test]
async fn duplicate_name_after_a_lost_answer_is_adopted() {
    let describe = mock!(Client::describe_load_balancers)
        .sequence()
        .error(|| aws_err!(DescribeLoadBalancersError, "LoadBalancerNotFound"))
        .output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Provisioning))
                .build()
        })
        .repeatedly()
        .build();
    let attributes = attrs("60", "true");
    let create = mock!(Client::create_load_balancer)
        .then_error(|| aws_err!(CreateLoadBalancerError, "DuplicateLoadBalancerName"));
    let modify = modify_ok();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create, &modify]
    );

    let out = alb::ensure(&client, &cx(), &alb_desired())
        .await
        .expect("ensure");
    assert_eq!(out.arn, LB_ARN);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(modify.num_calls(), 0, "attributes already as desired");
}

#[tokio::test]
async fn internal_scheme_needs_replacement_and_is_not_ignored() {
    let describe = mock!(Client::describe_load_balancers).then_output(|| {
        let internal = lb_with_scheme(
            LoadBalancerStateEnum::Active,
            LoadBalancerSchemeEnum::Internal,
        );
        DescribeLoadBalancersOutput::builder()
            .load_balancers(internal)
            .build()
    });
    let attributes = attrs("60", "true");
    let (create, modify, subnets, sgs) = (create_ok(), modify_ok(), set_subnets_ok(), set_sgs_ok());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create, &modify, &subnets, &sgs]
    );

    let err = alb::ensure(&client, &cx(), &alb_desired())
        .await
        .expect_err("replacement");
    assert!(matches!(err, Error::ReplacementNeeded { .. }), "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("Scheme") && shown.contains("internal -> internet-facing"),
        "{shown}"
    );
    for rule in [&create, &modify, &subnets, &sgs] {
        assert_eq!(rule.num_calls(), 0);
    }
}

#[test]
fn readiness_follows_the_state_code() {
    let observed = |state: LoadBalancerStateEnum, reason: Option<&str>| {
        let mut o = crate::alb::AlbObserved {
            arn: LB_ARN.into(),
            name: "demo-alb".into(),
            dns_name: DNS.into(),
            hosted_zone_id: "Z".into(),
            scheme: None,
            lb_type: None,
            ip_address_type: None,
            state: Some(state.as_str().into()),
            state_reason: None,
            vpc_id: None,
            subnet_ids: vec![],
            security_group_ids: vec![],
            attributes: Default::default(),
        };
        o.state_reason = reason.map(str::to_string);
        o
    };
    assert_eq!(
        alb::readiness(Some(&observed(LoadBalancerStateEnum::Active, None))),
        Readiness::Ready
    );
    assert_eq!(
        alb::readiness(Some(&observed(LoadBalancerStateEnum::Provisioning, None))),
        Readiness::pending("provisioning")
    );
    assert_eq!(
        alb::readiness(Some(&observed(
            LoadBalancerStateEnum::ActiveImpaired,
            Some("AZ down")
        ))),
        Readiness::pending("active_impaired: AZ down")
    );
    assert!(matches!(
        alb::readiness(Some(&observed(LoadBalancerStateEnum::Failed, Some("no capacity")))),
        Readiness::Failed { reason } if reason.contains("no capacity")
    ));
    assert!(matches!(alb::readiness(None), Readiness::Pending { .. }));
}

#[tokio::test]
async fn ready_polls_the_deployments_alb_by_name() {
    let describe = mock!(Client::describe_load_balancers)
        .match_requests(|r| r.names() == ["demo-alb"])
        .sequence()
        .output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Provisioning))
                .build()
        })
        .output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb(LoadBalancerStateEnum::Active))
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe]
    );
    assert_eq!(
        alb::ready(&client, &cx()).await.expect("ready"),
        Readiness::pending("provisioning")
    );
    assert_eq!(
        alb::ready(&client, &cx()).await.expect("ready"),
        Readiness::Ready
    );
}
