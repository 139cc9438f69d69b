use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::attach_internet_gateway::{
    AttachInternetGatewayError, AttachInternetGatewayOutput,
};
use aws_sdk_ec2::operation::create_internet_gateway::CreateInternetGatewayOutput;
use aws_sdk_ec2::operation::delete_internet_gateway::DeleteInternetGatewayOutput;
use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
use aws_sdk_ec2::operation::detach_internet_gateway::DetachInternetGatewayOutput;
use aws_sdk_ec2::types::{InternetGateway, InternetGatewayAttachment};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Action;

use super::{cx, ec2_err, has_filter, owner, tagged, tags};
use crate::COMPONENT_INTERNET_GATEWAY;
use crate::internet_gateway::{self, InternetGatewayDesired};

fn desired() -> InternetGatewayDesired {
    InternetGatewayDesired::new(&owner())
}

fn gateway(id: &str, vpc: Option<&str>) -> InternetGateway {
    InternetGateway::builder()
        .internet_gateway_id(id)
        .set_attachments(vpc.map(|v| vec![InternetGatewayAttachment::builder().vpc_id(v).build()]))
        .set_tags(Some(tags(COMPONENT_INTERNET_GATEWAY, "demo-igw")))
        .build()
}

fn describe(gateways: Vec<InternetGateway>) -> Rule {
    mock!(Client::describe_internet_gateways)
        .match_requests(|r| {
            has_filter(
                r.filters(),
                "tag:orchestrate:component",
                COMPONENT_INTERNET_GATEWAY,
            )
        })
        .then_output(move || {
            DescribeInternetGatewaysOutput::builder()
                .set_internet_gateways(Some(gateways.clone()))
                .build()
        })
}

fn create() -> Rule {
    mock!(Client::create_internet_gateway)
        .match_requests(|r| {
            tagged(
                r.tag_specifications(),
                COMPONENT_INTERNET_GATEWAY,
                "demo-igw",
            )
        })
        .then_output(|| {
            CreateInternetGatewayOutput::builder()
                .internet_gateway(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-new")
                        .build(),
                )
                .build()
        })
}

fn attach() -> Rule {
    mock!(Client::attach_internet_gateway)
        .match_requests(|r| r.vpc_id() == Some("vpc-1"))
        .then_output(|| AttachInternetGatewayOutput::builder().build())
}

#[tokio::test]
async fn creates_with_tags_and_attaches() {
    let (cx, _) = cx();
    let (d, c, a) = (describe(vec![]), create(), attach());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &a]);
    let id = internet_gateway::ensure(&client, &cx, &desired(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!(id, "igw-new");
    assert_eq!((c.num_calls(), a.num_calls()), (1, 1));
}

#[tokio::test]
async fn adopts_attached_gateway_without_mutating_calls() {
    let (cx, _) = cx();
    let (d, c, a) = (
        describe(vec![gateway("igw-1", Some("vpc-1"))]),
        create(),
        attach(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &a]);
    assert_eq!(
        internet_gateway::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "igw-1"
    );
    assert_eq!((c.num_calls(), a.num_calls()), (0, 0));
    let observed = internet_gateway::find(&client, &cx, Some("vpc-1"))
        .await
        .expect("find");
    assert_eq!(
        internet_gateway::diff(&desired(), observed.as_ref(), Some("vpc-1"))[0].action,
        Action::NoChange
    );
}

#[tokio::test]
async fn detached_gateway_is_attached_only() {
    let (cx, _) = cx();
    let (d, c, a) = (describe(vec![gateway("igw-1", None)]), create(), attach());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &a]);
    internet_gateway::ensure(&client, &cx, &desired(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!((c.num_calls(), a.num_calls()), (0, 1));
}

#[tokio::test]
async fn attach_retries_a_not_yet_visible_gateway() {
    let (cx, _) = cx();
    let (d, c) = (describe(vec![]), create());
    let a = mock!(Client::attach_internet_gateway)
        .sequence()
        .error(|| {
            ec2_err!(
                AttachInternetGatewayError,
                "InvalidInternetGatewayID.NotFound"
            )
        })
        .output(|| AttachInternetGatewayOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &a]);
    internet_gateway::ensure(&client, &cx, &desired(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!((c.num_calls(), a.num_calls()), (1, 2));
}

#[tokio::test]
async fn unattached_duplicate_is_deleted() {
    let (cx, _) = cx();
    let d = describe(vec![
        gateway("igw-a", None),
        gateway("igw-b", Some("vpc-1")),
    ]);
    let del = mock!(Client::delete_internet_gateway)
        .match_requests(|r| r.internet_gateway_id() == Some("igw-a"))
        .then_output(|| DeleteInternetGatewayOutput::builder().build());
    let (c, a) = (create(), attach());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &del, &c, &a]);
    assert_eq!(
        internet_gateway::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "igw-b"
    );
    assert_eq!((del.num_calls(), c.num_calls(), a.num_calls()), (1, 0, 0));
}

#[tokio::test]
async fn delete_detaches_then_deletes_and_nothing_is_success() {
    let (cx, _) = cx();
    let d = describe(vec![gateway("igw-1", Some("vpc-1"))]);
    let detach = mock!(Client::detach_internet_gateway)
        .then_output(|| DetachInternetGatewayOutput::builder().build());
    let del = mock!(Client::delete_internet_gateway)
        .then_output(|| DeleteInternetGatewayOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &detach, &del]);
    internet_gateway::delete(&client, &cx)
        .await
        .expect("delete");
    assert_eq!((detach.num_calls(), del.num_calls()), (1, 1));

    let empty = describe(vec![]);
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&empty]);
    internet_gateway::delete(&client, &cx)
        .await
        .expect("delete absent");
}
