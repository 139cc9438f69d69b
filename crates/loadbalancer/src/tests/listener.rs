//! Listeners: HTTP forward, HTTPS + redirect, adopt, drift, extra listeners, duplicates.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::operation::create_listener::{
    CreateListenerError, CreateListenerOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::delete_listener::DeleteListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as SdkAction, ActionTypeEnum, Certificate, Listener, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Tag, TagDescription,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;

use super::*;
use crate::listener::{self, ListenersDesired};

const OLD_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/old/1";

fn http_only() -> ListenersDesired {
    ListenersDesired::new("demo-alb", TG_ARN, None)
}

fn with_cert() -> ListenersDesired {
    ListenersDesired::new("demo-alb", TG_ARN, Some(CERT))
}

fn describe(listeners: fn() -> Vec<Listener>) -> Rule {
    mock!(Client::describe_listeners)
        .match_requests(|r| r.load_balancer_arn() == Some(LB_ARN))
        .then_output(move || {
            DescribeListenersOutput::builder()
                .set_listeners(Some(listeners()))
                .build()
        })
}

fn created(port: i32) -> CreateListenerOutput {
    CreateListenerOutput::builder()
        .listeners(listener(port, ProtocolEnum::Http, forward(TG_ARN)))
        .build()
}

fn redirect() -> SdkAction {
    SdkAction::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .host("#{host}")
                .path("/#{path}")
                .query("#{query}")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

fn https_listener(cert: &str, tg_arn: &str) -> Listener {
    Listener::builder()
        .listener_arn(format!("{LB_ARN}/listener-443"))
        .port(443)
        .protocol(ProtocolEnum::Https)
        .ssl_policy("ELBSecurityPolicy-TLS13-1-2-2021-06")
        .certificates(Certificate::builder().certificate_arn(cert).build())
        .default_actions(forward(tg_arn))
        .build()
}

fn mutations() -> (Rule, Rule, Rule) {
    (
        mock!(Client::create_listener).then_output(|| created(80)),
        mock!(Client::modify_listener).then_output(|| ModifyListenerOutput::builder().build()),
        mock!(Client::delete_listener).then_output(|| DeleteListenerOutput::builder().build()),
    )
}

#[tokio::test]
async fn http_listener_created_with_forward_and_tags() {
    let list = describe(Vec::new);
    let create = mock!(Client::create_listener)
        .match_requests(|r| {
            let a = &r.default_actions()[0];
            r.load_balancer_arn() == Some(LB_ARN)
                && r.port() == Some(80)
                && r.protocol() == Some(&ProtocolEnum::Http)
                && r.ssl_policy().is_none()
                && r.certificates().is_empty()
                && a.r#type() == Some(&ActionTypeEnum::Forward)
                && a.target_group_arn() == Some(TG_ARN)
                && tag_value(r.tags(), "orchestrate:component") == Some("loadbalancer/listener")
                && tag_value(r.tags(), "orchestrate:phase") == Some("2")
                && tag_value(r.tags(), "Name") == Some("demo-alb:80")
        })
        .then_output(|| created(80));
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &create]
    );

    let arns = listener::ensure(&client, &cx(), LB_ARN, &http_only())
        .await
        .expect("ensure");
    assert_eq!(arns, [format!("{LB_ARN}/listener-80")]);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn https_listener_first_then_http_redirect() {
    let list = describe(Vec::new);
    let https = mock!(Client::create_listener)
        .match_requests(|r| {
            r.port() == Some(443)
                && r.protocol() == Some(&ProtocolEnum::Https)
                && r.ssl_policy() == Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
                && r.certificates().len() == 1
                && r.certificates()[0].certificate_arn() == Some(CERT)
                && r.default_actions()[0].target_group_arn() == Some(TG_ARN)
        })
        .then_output(|| {
            CreateListenerOutput::builder()
                .listeners(https_listener(CERT, TG_ARN))
                .build()
        });
    let http = mock!(Client::create_listener)
        .match_requests(|r| {
            let c = r.default_actions()[0].redirect_config();
            r.port() == Some(80)
                && r.protocol() == Some(&ProtocolEnum::Http)
                && c.and_then(|c| c.protocol()) == Some("HTTPS")
                && c.and_then(|c| c.port()) == Some("443")
                && c.and_then(|c| c.status_code()) == Some(&RedirectActionStatusCodeEnum::Http301)
        })
        .then_output(|| created(80));
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::Sequential,
        [&list, &https, &http]
    );

    let arns = listener::ensure(&client, &cx(), LB_ARN, &with_cert())
        .await
        .expect("ensure");
    assert_eq!(arns.len(), 2);
    assert!(arns[0].ends_with("listener-443"));
    assert_eq!((https.num_calls(), http.num_calls()), (1, 1));
}

#[tokio::test]
async fn converged_listeners_are_adopted_without_mutation() {
    // AWS echoes ForwardConfig next to TargetGroupArn and may report a policy on HTTP.
    let list = describe(|| {
        vec![
            https_listener(CERT, TG_ARN),
            Listener::builder()
                .listener_arn(format!("{LB_ARN}/listener-80"))
                .port(80)
                .protocol(ProtocolEnum::Http)
                .ssl_policy("ELBSecurityPolicy-2016-08")
                .default_actions(redirect())
                .build(),
        ]
    });
    let (create, modify, delete) = mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &create, &modify, &delete]
    );

    let arns = listener::ensure(&client, &cx(), LB_ARN, &with_cert())
        .await
        .expect("ensure");
    assert_eq!(arns.len(), 2);
    for rule in [&create, &modify, &delete] {
        assert_eq!(rule.num_calls(), 0);
    }
    let observed = listener::find(&client, &cx(), LB_ARN, &with_cert())
        .await
        .expect("find");
    assert!(
        listener::diff(&with_cert(), Some(&observed))
            .iter()
            .all(|c| c.action == Action::NoChange)
    );
}

#[tokio::test]
async fn drifted_target_and_certificate_are_modified() {
    let list = describe(|| {
        vec![
            https_listener("arn:aws:acm:us-east-1:123456789012:certificate/old", TG_ARN),
            listener(80, ProtocolEnum::Http, forward(OLD_TG)),
        ]
    });
    let modify_443 = mock!(Client::modify_listener)
        .match_requests(|r| {
            r.listener_arn()
                .is_some_and(|a| a.ends_with("listener-443"))
                && r.certificates()[0].certificate_arn() == Some(CERT)
                && r.ssl_policy() == Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
        })
        .then_output(|| ModifyListenerOutput::builder().build());
    let modify_80 = mock!(Client::modify_listener)
        .match_requests(|r| {
            r.listener_arn().is_some_and(|a| a.ends_with("listener-80"))
                && r.default_actions()[0].r#type() == Some(&ActionTypeEnum::Redirect)
        })
        .then_output(|| ModifyListenerOutput::builder().build());
    let (create, _, delete) = mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &modify_443, &modify_80, &create, &delete]
    );

    let observed = listener::find(&client, &cx(), LB_ARN, &with_cert())
        .await
        .expect("find");
    let changes = listener::diff(&with_cert(), Some(&observed));
    let fields: Vec<Vec<&str>> = changes
        .iter()
        .map(|c| match &c.action {
            Action::Update { fields } => fields.iter().map(|f| f.field.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(fields, [vec!["Certificates"], vec!["DefaultActions"]]);

    listener::ensure(&client, &cx(), LB_ARN, &with_cert())
        .await
        .expect("ensure");
    assert_eq!((modify_443.num_calls(), modify_80.num_calls()), (1, 1));
    assert_eq!((create.num_calls(), delete.num_calls()), (0, 0));
}

#[tokio::test]
async fn our_listener_on_an_unwanted_port_is_deleted_a_foreign_one_is_kept() {
    let list = describe(|| {
        vec![
            listener(80, ProtocolEnum::Http, forward(TG_ARN)),
            https_listener(CERT, TG_ARN),
            listener(8443, ProtocolEnum::Http, forward(TG_ARN)),
        ]
    });
    let tags = mock!(Client::describe_tags)
        .match_requests(|r| r.resource_arns().len() == 2)
        .then_output(|| {
            let ours = Tag::builder()
                .key("orchestrate:deployment")
                .value("demo")
                .build();
            DescribeTagsOutput::builder()
                .tag_descriptions(
                    TagDescription::builder()
                        .resource_arn(format!("{LB_ARN}/listener-443"))
                        .tags(ours)
                        .build(),
                )
                .tag_descriptions(
                    TagDescription::builder()
                        .resource_arn(format!("{LB_ARN}/listener-8443"))
                        .tags(Tag::builder().key("team").value("other").build())
                        .build(),
                )
                .build()
        });
    let delete = mock!(Client::delete_listener)
        .match_requests(|r| {
            r.listener_arn()
                .is_some_and(|a| a.ends_with("listener-443"))
        })
        .then_output(|| DeleteListenerOutput::builder().build());
    let (create, modify, _) = mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &tags, &delete, &create, &modify]
    );

    let observed = listener::find(&client, &cx(), LB_ARN, &http_only())
        .await
        .expect("find");
    let changes = listener::diff(&http_only(), Some(&observed));
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[1].name, "demo-alb:443");
    assert_eq!(changes[1].action, Action::Delete);

    listener::ensure(&client, &cx(), LB_ARN, &http_only())
        .await
        .expect("ensure");
    assert_eq!(delete.num_calls(), 1);
    assert_eq!((create.num_calls(), modify.num_calls()), (0, 0));
}

#[tokio::test]
async fn duplicate_listener_after_a_lost_answer_is_adopted() {
    let list = mock!(Client::describe_listeners)
        .sequence()
        .output(|| DescribeListenersOutput::builder().build())
        .output(|| {
            DescribeListenersOutput::builder()
                .listeners(listener(80, ProtocolEnum::Http, forward(TG_ARN)))
                .build()
        })
        .build();
    let create = mock!(Client::create_listener)
        .then_error(|| aws_err!(CreateListenerError, "DuplicateListener"));
    let (_, modify, delete) = mutations();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &create, &modify, &delete]
    );

    let arns = listener::ensure(&client, &cx(), LB_ARN, &http_only())
        .await
        .expect("ensure");
    assert_eq!(arns, [format!("{LB_ARN}/listener-80")]);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn load_balancer_not_yet_visible_is_retried_on_create() {
    let list = describe(Vec::new);
    let create = mock!(Client::create_listener)
        .sequence()
        .error(|| aws_err!(CreateListenerError, "LoadBalancerNotFound"))
        .output(|| created(80))
        .build();
    let client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&list, &create]
    );

    let arns = listener::ensure(&client, &cx(), LB_ARN, &http_only())
        .await
        .expect("ensure");
    assert_eq!(arns.len(), 1);
    assert_eq!(create.num_calls(), 2);
}
