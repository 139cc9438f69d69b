use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_vpc::CreateVpcOutput;
use aws_sdk_ec2::operation::delete_vpc::{DeleteVpcError, DeleteVpcOutput};
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::describe_vpc_attribute::DescribeVpcAttributeOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::operation::modify_vpc_attribute::{
    ModifyVpcAttributeError, ModifyVpcAttributeOutput,
};
use aws_sdk_ec2::types::{AttributeBooleanValue, Subnet, Vpc, VpcAttributeName, VpcState};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::{Action, Event};

use super::{cx, ec2_err, has_filter, owner, tagged, tags};
use crate::vpc::{self, VpcDesired};
use crate::{COMPONENT_VPC, KIND_VPC};

const CIDR: &str = "10.40.0.0/16";

fn desired() -> VpcDesired {
    VpcDesired::new(&owner(), CIDR)
}

fn vpc(id: &str) -> Vpc {
    Vpc::builder()
        .vpc_id(id)
        .cidr_block(CIDR)
        .state(VpcState::Available)
        .set_tags(Some(tags(COMPONENT_VPC, "demo-vpc")))
        .build()
}

fn describe(vpcs: Vec<Vpc>) -> Rule {
    mock!(Client::describe_vpcs)
        .match_requests(|r| {
            has_filter(r.filters(), "tag:orchestrate:deployment", "demo")
                && has_filter(r.filters(), "tag:orchestrate:component", COMPONENT_VPC)
        })
        .then_output(move || {
            DescribeVpcsOutput::builder()
                .set_vpcs(Some(vpcs.clone()))
                .build()
        })
}

fn attributes(support: bool, hostnames: bool) -> Rule {
    mock!(Client::describe_vpc_attribute).then_compute_output(move |r| {
        let v = |b| AttributeBooleanValue::builder().value(b).build();
        let out = DescribeVpcAttributeOutput::builder().set_vpc_id(r.vpc_id().map(str::to_string));
        match r.attribute() {
            Some(VpcAttributeName::EnableDnsHostnames) => out.enable_dns_hostnames(v(hostnames)),
            _ => out.enable_dns_support(v(support)),
        }
        .build()
    })
}

fn create() -> Rule {
    mock!(Client::create_vpc)
        .match_requests(|r| {
            r.cidr_block() == Some(CIDR)
                && tagged(r.tag_specifications(), COMPONENT_VPC, "demo-vpc")
        })
        .then_output(|| {
            CreateVpcOutput::builder()
                .vpc(Vpc::builder().vpc_id("vpc-new").build())
                .build()
        })
}

fn enable_hostnames() -> Rule {
    mock!(Client::modify_vpc_attribute)
        .match_requests(|r| {
            r.enable_dns_hostnames().and_then(|v| v.value()) == Some(true)
                && r.enable_dns_support().is_none()
        })
        .then_output(|| ModifyVpcAttributeOutput::builder().build())
}

#[tokio::test]
async fn creates_with_tags_and_turns_dns_hostnames_on() {
    let (cx, _) = cx();
    let (d, c, m) = (describe(vec![]), create(), enable_hostnames());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    let id = vpc::ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(id, "vpc-new");
    assert_eq!((c.num_calls(), m.num_calls()), (1, 1));
}

#[tokio::test]
async fn adopts_existing_without_mutating_calls() {
    let (cx, _) = cx();
    let (d, a, c, m) = (
        describe(vec![vpc("vpc-1")]),
        attributes(true, true),
        create(),
        enable_hostnames(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &a, &c, &m]);
    assert_eq!(
        vpc::ensure(&client, &cx, &desired()).await.expect("ensure"),
        "vpc-1"
    );
    assert_eq!((c.num_calls(), m.num_calls()), (0, 0));
    let observed = vpc::find(&client, &cx).await.expect("find");
    assert_eq!(
        vpc::diff(&desired(), observed.as_ref())[0].action,
        Action::NoChange
    );
}

#[tokio::test]
async fn drifted_dns_hostnames_is_the_only_update() {
    let (cx, _) = cx();
    let (d, a, c, m) = (
        describe(vec![vpc("vpc-1")]),
        attributes(true, false),
        create(),
        enable_hostnames(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &a, &c, &m]);
    vpc::ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!((c.num_calls(), m.num_calls()), (0, 1));
    let observed = vpc::find(&client, &cx).await.expect("find");
    match &vpc::diff(&desired(), observed.as_ref())[0].action {
        Action::Update { fields } => {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].field, "EnableDnsHostnames");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn not_found_right_after_create_is_retried_without_a_second_vpc() {
    let (cx, _) = cx();
    let (d, c) = (describe(vec![]), create());
    let m = mock!(Client::modify_vpc_attribute)
        .sequence()
        .error(|| ec2_err!(ModifyVpcAttributeError, "InvalidVpcID.NotFound"))
        .output(|| ModifyVpcAttributeOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    assert_eq!(
        vpc::ensure(&client, &cx, &desired()).await.expect("ensure"),
        "vpc-new"
    );
    assert_eq!((c.num_calls(), m.num_calls()), (1, 2));
}

#[tokio::test]
async fn duplicate_keeps_the_one_with_subnets_and_deletes_the_empty_one() {
    let (cx, recorder) = cx();
    let d = describe(vec![vpc("vpc-b"), vpc("vpc-a")]);
    let subnets = mock!(Client::describe_subnets).then_compute_output(|r| {
        let busy = has_filter(r.filters(), "vpc-id", "vpc-b");
        DescribeSubnetsOutput::builder()
            .set_subnets(busy.then(|| vec![Subnet::builder().subnet_id("subnet-1").build()]))
            .build()
    });
    let del = mock!(Client::delete_vpc)
        .match_requests(|r| r.vpc_id() == Some("vpc-a"))
        .then_output(|| DeleteVpcOutput::builder().build());
    let (a, c) = (attributes(true, true), create());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&d, &subnets, &del, &a, &c]
    );
    let observed = vpc::find(&client, &cx).await.expect("find").expect("some");
    assert_eq!(observed.vpc_id, "vpc-b");
    assert_eq!(observed.empty_duplicates, vec!["vpc-a"]);
    let plan = vpc::diff(&desired(), Some(&observed));
    assert_eq!(plan[1].action, Action::Delete);
    assert_eq!(del.num_calls(), 0, "find is read-only");

    assert_eq!(
        vpc::ensure(&client, &cx, &desired()).await.expect("ensure"),
        "vpc-b"
    );
    assert_eq!((del.num_calls(), c.num_calls()), (1, 0));
    assert!(recorder.events().iter().any(|e| matches!(
        e,
        Event::Note { kind, message } if kind == KIND_VPC && message.contains("vpc-a")
    )));
}

#[tokio::test]
async fn duplicates_without_subnets_keep_the_lowest_id() {
    let (cx, _) = cx();
    let d = describe(vec![vpc("vpc-b"), vpc("vpc-a")]);
    let subnets =
        mock!(Client::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build());
    let a = attributes(true, true);
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &subnets, &a]);
    let observed = vpc::find(&client, &cx).await.expect("find").expect("some");
    assert_eq!(observed.vpc_id, "vpc-a");
    assert_eq!(observed.empty_duplicates, vec!["vpc-b"]);
}

#[tokio::test]
async fn delete_of_absent_vpc_succeeds() {
    let (cx, _) = cx();
    let del =
        mock!(Client::delete_vpc).then_error(|| ec2_err!(DeleteVpcError, "InvalidVpcID.NotFound"));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&del]);
    vpc::delete(&client, &cx, "vpc-gone").await.expect("delete");
    assert_eq!(del.num_calls(), 1);
}

#[tokio::test]
async fn delete_retries_dependency_violation() {
    let (cx, _) = cx();
    let del = mock!(Client::delete_vpc)
        .sequence()
        .error(|| ec2_err!(DeleteVpcError, "DependencyViolation"))
        .times(2)
        .output(|| DeleteVpcOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&del]);
    vpc::delete(&client, &cx, "vpc-1").await.expect("delete");
    assert_eq!(del.num_calls(), 3);
}
