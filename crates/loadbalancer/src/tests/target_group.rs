//! The target group: create, adopt, drift, eventual consistency, replacement, health, delete.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::create_target_group::{
    CreateTargetGroupError, CreateTargetGroupOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::delete_target_group::{
    DeleteTargetGroupError, DeleteTargetGroupOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::{
    DescribeTargetGroupsError, DescribeTargetGroupsOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group::ModifyTargetGroupOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group_attributes::{
    ModifyTargetGroupAttributesError, ModifyTargetGroupAttributesOutput,
};
use aws_sdk_elasticloadbalancingv2::types::{
    ProtocolEnum, TargetDescription, TargetGroup, TargetHealth, TargetHealthDescription,
    TargetHealthReasonEnum, TargetHealthStateEnum,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;

use super::*;
use crate::error::Error;
use crate::target_group::{self, TargetGroupDesired, TargetHealthInfo};

fn tg_desired() -> TargetGroupDesired {
    desired().target_group
}

fn describe_absent() -> Rule {
    mock!(Client::describe_target_groups)
        .then_error(|| aws_err!(DescribeTargetGroupsError, "TargetGroupNotFound"))
}

fn describe_returning(make: fn() -> TargetGroup) -> Rule {
    mock!(Client::describe_target_groups)
        .match_requests(|r| r.names() == ["demo-api"])
        .then_output(move || {
            DescribeTargetGroupsOutput::builder()
                .target_groups(make())
                .build()
        })
}

fn attrs(delay: &'static str) -> Rule {
    mock!(Client::describe_target_group_attributes)
        .match_requests(|r| r.target_group_arn() == Some(TG_ARN))
        .then_output(move || {
            DescribeTargetGroupAttributesOutput::builder()
                .set_attributes(Some(tg_attrs(delay)))
                .build()
        })
}

fn create_ok() -> Rule {
    mock!(Client::create_target_group).then_output(|| {
        CreateTargetGroupOutput::builder()
            .target_groups(tg())
            .build()
    })
}

fn modify_ok() -> Rule {
    mock!(Client::modify_target_group).then_output(|| ModifyTargetGroupOutput::builder().build())
}

fn modify_attrs_ok() -> Rule {
    mock!(Client::modify_target_group_attributes)
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build())
}

#[tokio::test]
async fn created_when_absent_with_tags_and_the_version_health_check() {
    let describe = describe_absent();
    let create = mock!(Client::create_target_group)
        .match_requests(|r| {
            let tags = r.tags();
            r.name() == Some("demo-api")
                && r.protocol() == Some(&ProtocolEnum::Http)
                && r.port() == Some(8080)
                && r.vpc_id() == Some("vpc-1")
                && r.target_type().map(|t| t.as_str()) == Some("ip")
                && r.health_check_path() == Some("/api/v2/version")
                && r.health_check_protocol() == Some(&ProtocolEnum::Http)
                && r.health_check_port() == Some("traffic-port")
                && r.health_check_interval_seconds() == Some(30)
                && r.health_check_timeout_seconds() == Some(10)
                && r.healthy_threshold_count() == Some(2)
                && r.unhealthy_threshold_count() == Some(3)
                && r.matcher().and_then(|m| m.http_code()) == Some("200")
                && tag_value(tags, "orchestrate:component") == Some("loadbalancer/target-group")
                && tag_value(tags, "orchestrate:deployment") == Some("demo")
                && tag_value(tags, "orchestrate:phase") == Some("2")
                && tag_value(tags, "Name") == Some("demo-api")
        })
        .then_output(|| {
            CreateTargetGroupOutput::builder()
                .target_groups(tg())
                .build()
        });
    let delay = mock!(Client::modify_target_group_attributes)
        .match_requests(|r| {
            r.target_group_arn() == Some(TG_ARN)
                && r.attributes().len() == 1
                && r.attributes()[0].key() == Some("deregistration_delay.timeout_seconds")
                && r.attributes()[0].value() == Some("30")
        })
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &create, &delay]
    );

    let arn = target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect("ensure");
    assert_eq!(arn, TG_ARN);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(delay.num_calls(), 1);
}

#[tokio::test]
async fn existing_target_group_is_adopted_without_mutation() {
    let describe = describe_returning(tg);
    let attributes = attrs("30");
    let (create, modify, modify_attrs) = (create_ok(), modify_ok(), modify_attrs_ok());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create, &modify, &modify_attrs]
    );

    let arn = target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect("ensure");
    assert_eq!(arn, TG_ARN);
    for rule in [&create, &modify, &modify_attrs] {
        assert_eq!(rule.num_calls(), 0);
    }
}

#[tokio::test]
async fn drifted_health_check_and_delay_are_put_back_field_by_field() {
    fn drifted() -> TargetGroup {
        tg().to_owned_with(|b| {
            b.health_check_path("/api/v2/monitor/health")
                .health_check_interval_seconds(5)
        })
    }
    let describe = describe_returning(drifted);
    let attributes = attrs("300");
    let modify = mock!(Client::modify_target_group)
        .match_requests(|r| {
            r.target_group_arn() == Some(TG_ARN)
                && r.health_check_path() == Some("/api/v2/version")
                && r.health_check_interval_seconds() == Some(30)
                // Only the differing settings are sent.
                && r.health_check_timeout_seconds().is_none()
                && r.health_check_port().is_none()
                && r.matcher().is_none()
                && r.healthy_threshold_count().is_none()
        })
        .then_output(|| ModifyTargetGroupOutput::builder().build());
    let modify_attrs = modify_attrs_ok();
    let create = create_ok();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &modify, &modify_attrs, &create]
    );

    let observed = target_group::find(&client, "demo-api").await.expect("find");
    let change = target_group::diff(&tg_desired(), observed.as_ref());
    let Action::Update { fields } = &change.action else {
        panic!("{change:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        names,
        [
            "HealthCheckPath",
            "HealthCheckIntervalSeconds",
            "deregistration_delay.timeout_seconds"
        ]
    );

    target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect("ensure");
    assert_eq!(modify.num_calls(), 1);
    assert_eq!(modify_attrs.num_calls(), 1);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn not_yet_visible_after_create_is_retried_without_a_second_create() {
    let describe = describe_absent();
    let create = create_ok();
    let delay = mock!(Client::modify_target_group_attributes)
        .sequence()
        .error(|| aws_err!(ModifyTargetGroupAttributesError, "TargetGroupNotFound"))
        .output(|| ModifyTargetGroupAttributesOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &create, &delay]
    );

    let arn = target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect("ensure");
    assert_eq!(arn, TG_ARN);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(delay.num_calls(), 2);
}

#[tokio::test]
async fn duplicate_name_is_adopted() {
    let describe = mock!(Client::describe_target_groups)
        .sequence()
        .error(|| aws_err!(DescribeTargetGroupsError, "TargetGroupNotFound"))
        .output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(tg())
                .build()
        })
        .repeatedly()
        .build();
    let attributes = attrs("30");
    let create = mock!(Client::create_target_group)
        .then_error(|| aws_err!(CreateTargetGroupError, "DuplicateTargetGroupName"));
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create]
    );

    let arn = target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect("ensure");
    assert_eq!(arn, TG_ARN);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn port_change_needs_replacement_and_is_reported_not_ignored() {
    fn on_port_80() -> TargetGroup {
        tg().to_owned_with(|b| b.port(80))
    }
    let describe = describe_returning(on_port_80);
    let attributes = attrs("30");
    let (create, modify, modify_attrs) = (create_ok(), modify_ok(), modify_attrs_ok());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &attributes, &create, &modify, &modify_attrs]
    );

    let observed = target_group::find(&client, "demo-api").await.expect("find");
    let change = target_group::diff(&tg_desired(), observed.as_ref());
    assert!(
        matches!(&change.action, Action::Update { fields }
            if fields.iter().any(|f| f.field == "Port (requires replacement)")),
        "{change:?}"
    );
    let err = target_group::ensure(&client, &cx(), &tg_desired())
        .await
        .expect_err("replacement");
    assert!(matches!(err, Error::ReplacementNeeded { .. }));
    let shown = err.to_string();
    assert!(
        shown.contains("Port (requires replacement): 80 -> 8080"),
        "{shown}"
    );
    assert!(shown.contains("replaced"), "{shown}");
    for rule in [&create, &modify, &modify_attrs] {
        assert_eq!(rule.num_calls(), 0);
    }
}

#[tokio::test]
async fn target_health_reports_each_target() {
    let health = mock!(Client::describe_target_health)
        .match_requests(|r| r.target_group_arn() == Some(TG_ARN))
        .then_output(|| {
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(
                    TargetHealthDescription::builder()
                        .target(
                            TargetDescription::builder()
                                .id("10.0.1.5")
                                .port(8080)
                                .build(),
                        )
                        .target_health(
                            TargetHealth::builder()
                                .state(TargetHealthStateEnum::Unhealthy)
                                .reason(TargetHealthReasonEnum::ResponseCodeMismatch)
                                .description("Health checks failed with these codes: [503]")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&health]
    );
    let targets = crate::target_health(&client, TG_ARN).await.expect("health");
    assert_eq!(
        targets,
        [TargetHealthInfo {
            id: "10.0.1.5".into(),
            port: Some(8080),
            state: "unhealthy".into(),
            reason: Some("Target.ResponseCodeMismatch".into()),
            description: Some("Health checks failed with these codes: [503]".into()),
        }]
    );
}

#[tokio::test]
async fn delete_retries_resource_in_use_then_succeeds_and_absent_is_success() {
    let describe = describe_returning(tg);
    let delete = mock!(Client::delete_target_group)
        .sequence()
        .error(|| aws_err!(DeleteTargetGroupError, "ResourceInUse"))
        .times(2)
        .output(|| DeleteTargetGroupOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &delete]
    );
    target_group::delete(&client, &cx()).await.expect("delete");
    assert_eq!(delete.num_calls(), 3);

    let describe = describe_absent();
    let delete = mock!(Client::delete_target_group)
        .then_output(|| DeleteTargetGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&describe, &delete]
    );
    target_group::delete(&client, &cx())
        .await
        .expect("delete absent");
    assert_eq!(delete.num_calls(), 0);
}

/// Rebuilds a fixture with some fields changed.
trait OwnedWith: Sized {
    fn to_owned_with(
        self,
        f: impl FnOnce(
            aws_sdk_elasticloadbalancingv2::types::builders::TargetGroupBuilder,
        ) -> aws_sdk_elasticloadbalancingv2::types::builders::TargetGroupBuilder,
    ) -> Self;
}

impl OwnedWith for TargetGroup {
    fn to_owned_with(
        self,
        f: impl FnOnce(
            aws_sdk_elasticloadbalancingv2::types::builders::TargetGroupBuilder,
        ) -> aws_sdk_elasticloadbalancingv2::types::builders::TargetGroupBuilder,
    ) -> Self {
        let b = TargetGroup::builder()
            .set_target_group_arn(self.target_group_arn)
            .set_target_group_name(self.target_group_name)
            .set_protocol(self.protocol)
            .set_port(self.port)
            .set_vpc_id(self.vpc_id)
            .set_target_type(self.target_type)
            .set_health_check_enabled(self.health_check_enabled)
            .set_health_check_protocol(self.health_check_protocol)
            .set_health_check_port(self.health_check_port)
            .set_health_check_path(self.health_check_path)
            .set_health_check_interval_seconds(self.health_check_interval_seconds)
            .set_health_check_timeout_seconds(self.health_check_timeout_seconds)
            .set_healthy_threshold_count(self.healthy_threshold_count)
            .set_unhealthy_threshold_count(self.unhealthy_threshold_count)
            .set_matcher(self.matcher)
            .set_load_balancer_arns(self.load_balancer_arns);
        f(b).build()
    }
}
