//! Unit tests with `aws-smithy-mocks`: one module per resource type plus the composite.

mod alb;
mod composite;
mod incomplete;
mod listener;
mod target_group;

use aws_sdk_elasticloadbalancingv2::types::{
    Action as SdkAction, ActionTypeEnum, AvailabilityZone, ForwardActionConfig, IpAddressType,
    Listener, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerState,
    LoadBalancerStateEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, Tag, TargetGroup,
    TargetGroupAttribute, TargetGroupTuple, TargetTypeEnum,
};
use orchestrate_core::{Context, Spec};

use crate::LoadBalancerDesired;

pub(crate) const LB_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo-alb/abc";
pub(crate) const TG_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-api/def";
pub(crate) const DNS: &str = "demo-alb-1.us-east-1.elb.amazonaws.com";
pub(crate) const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c1";

/// A service error with an AWS error code, as the SDK would parse it.
macro_rules! aws_err {
    ($ty:ty, $code:expr) => {
        <$ty>::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code($code)
                .message("from the mock")
                .build(),
        )
    };
}
pub(crate) use aws_err;

pub(crate) fn cx() -> Context {
    Context::for_tests("demo")
}

pub(crate) fn spec() -> Spec {
    Spec::minimal("demo", "us-east-1")
}

pub(crate) fn subnets() -> Vec<String> {
    vec!["subnet-a".into(), "subnet-b".into()]
}

pub(crate) fn desired() -> LoadBalancerDesired {
    LoadBalancerDesired::from_spec(&spec(), &subnets(), "sg-alb", "vpc-1")
}

pub(crate) fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// The ALB as AWS reports it when it matches [`desired`].
pub(crate) fn lb(state: LoadBalancerStateEnum) -> LoadBalancer {
    lb_with_scheme(state, LoadBalancerSchemeEnum::InternetFacing)
}

/// The ALB with another scheme.
pub(crate) fn lb_with_scheme(
    state: LoadBalancerStateEnum,
    scheme: LoadBalancerSchemeEnum,
) -> LoadBalancer {
    LoadBalancer::builder()
        .load_balancer_arn(LB_ARN)
        .load_balancer_name("demo-alb")
        .dns_name(DNS)
        .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
        .scheme(scheme)
        .r#type(LoadBalancerTypeEnum::Application)
        .ip_address_type(IpAddressType::Ipv4)
        .vpc_id("vpc-1")
        .state(LoadBalancerState::builder().code(state).build())
        .availability_zones(
            AvailabilityZone::builder()
                .subnet_id("subnet-b")
                .zone_name("us-east-1b")
                .build(),
        )
        .availability_zones(
            AvailabilityZone::builder()
                .subnet_id("subnet-a")
                .zone_name("us-east-1a")
                .build(),
        )
        .security_groups("sg-alb")
        .build()
}

pub(crate) fn lb_attrs(idle: &str, drop: &str) -> Vec<LoadBalancerAttribute> {
    [
        ("deletion_protection.enabled", "false"),
        ("idle_timeout.timeout_seconds", idle),
        ("routing.http.drop_invalid_header_fields.enabled", drop),
    ]
    .into_iter()
    .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
    .collect()
}

/// The target group as AWS reports it when it matches [`desired`].
pub(crate) fn tg() -> TargetGroup {
    TargetGroup::builder()
        .target_group_arn(TG_ARN)
        .target_group_name("demo-api")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id("vpc-1")
        .target_type(TargetTypeEnum::Ip)
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_port("traffic-port")
        .health_check_path("/api/v2/version")
        .health_check_interval_seconds(30)
        .health_check_timeout_seconds(10)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(3)
        .matcher(Matcher::builder().http_code("200").build())
        .load_balancer_arns(LB_ARN)
        .build()
}

pub(crate) fn tg_attrs(delay: &str) -> Vec<TargetGroupAttribute> {
    [
        ("deregistration_delay.timeout_seconds", delay),
        ("stickiness.enabled", "false"),
    ]
    .into_iter()
    .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
    .collect()
}

/// A forward action as AWS echoes it (TargetGroupArn plus ForwardConfig).
pub(crate) fn forward(tg_arn: &str) -> SdkAction {
    SdkAction::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(tg_arn)
                        .weight(1)
                        .build(),
                )
                .build(),
        )
        .build()
}

pub(crate) fn listener(port: i32, protocol: ProtocolEnum, action: SdkAction) -> Listener {
    Listener::builder()
        .listener_arn(format!("{LB_ARN}/listener-{port}"))
        .load_balancer_arn(LB_ARN)
        .port(port)
        .protocol(protocol)
        .default_actions(action)
        .build()
}
