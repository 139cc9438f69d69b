use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_subnet::{CreateSubnetError, CreateSubnetOutput};
use aws_sdk_ec2::operation::delete_subnet::{DeleteSubnetError, DeleteSubnetOutput};
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::modify_subnet_attribute::ModifySubnetAttributeOutput;
use aws_sdk_ec2::types::Subnet;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Action;

use super::{cx, ec2_err, has_filter, owner, tagged};
use crate::COMPONENT_SUBNET;
use crate::subnet::{self, SubnetDesired};

const CIDR: &str = "10.40.0.0/20";

fn desired() -> SubnetDesired {
    SubnetDesired::new(&owner(), true, "us-east-1a", CIDR)
}

fn existing(az: &str, map_public: bool) -> Subnet {
    Subnet::builder()
        .subnet_id("subnet-1")
        .cidr_block(CIDR)
        .availability_zone(az)
        .map_public_ip_on_launch(map_public)
        .build()
}

fn describe(subnets: Vec<Subnet>) -> Rule {
    mock!(Client::describe_subnets)
        .match_requests(|r| {
            has_filter(r.filters(), "vpc-id", "vpc-1")
                && has_filter(r.filters(), "cidr-block", CIDR)
        })
        .then_output(move || {
            DescribeSubnetsOutput::builder()
                .set_subnets(Some(subnets.clone()))
                .build()
        })
}

fn create() -> Rule {
    mock!(Client::create_subnet)
        .match_requests(|r| {
            r.vpc_id() == Some("vpc-1")
                && r.cidr_block() == Some(CIDR)
                && r.availability_zone() == Some("us-east-1a")
                && tagged(r.tag_specifications(), COMPONENT_SUBNET, "demo-public-a")
        })
        .then_output(|| {
            CreateSubnetOutput::builder()
                .subnet(Subnet::builder().subnet_id("subnet-new").build())
                .build()
        })
}

fn map_off() -> Rule {
    mock!(Client::modify_subnet_attribute)
        .match_requests(|r| r.map_public_ip_on_launch().and_then(|v| v.value()) == Some(false))
        .then_output(|| ModifySubnetAttributeOutput::builder().build())
}

#[test]
fn names_follow_tier_and_az_suffix() {
    assert_eq!(desired().name, "demo-public-a");
    assert_eq!(
        SubnetDesired::new(&owner(), false, "us-east-1b", "10.40.48.0/20").name,
        "demo-private-b"
    );
}

#[tokio::test]
async fn creates_in_the_pinned_az_with_tags() {
    let (cx, _) = cx();
    let (d, c, m) = (describe(vec![]), create(), map_off());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    assert_eq!(
        subnet::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "subnet-new"
    );
    assert_eq!((c.num_calls(), m.num_calls()), (1, 0));
}

#[tokio::test]
async fn adopts_existing_without_mutating_calls() {
    let (cx, _) = cx();
    let (d, c, m) = (
        describe(vec![existing("us-east-1a", false)]),
        create(),
        map_off(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    assert_eq!(
        subnet::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "subnet-1"
    );
    assert_eq!((c.num_calls(), m.num_calls()), (0, 0));
    let observed = subnet::find(&client, "vpc-1", CIDR).await.expect("find");
    assert_eq!(
        subnet::diff(&desired(), observed.as_ref()).action,
        Action::NoChange
    );
}

#[tokio::test]
async fn drifted_map_public_ip_is_turned_off() {
    let (cx, _) = cx();
    let (d, c, m) = (
        describe(vec![existing("us-east-1a", true)]),
        create(),
        map_off(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    subnet::ensure(&client, &cx, &desired(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!((c.num_calls(), m.num_calls()), (0, 1));
}

#[tokio::test]
async fn subnet_in_another_az_is_a_conflict() {
    let (cx, _) = cx();
    let (d, c, m) = (
        describe(vec![existing("us-east-1c", false)]),
        create(),
        map_off(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &m]);
    let err = subnet::ensure(&client, &cx, &desired(), "vpc-1")
        .await
        .expect_err("conflict");
    assert!(matches!(err, crate::Error::Conflict { .. }), "{err}");
    assert_eq!((c.num_calls(), m.num_calls()), (0, 0));
}

#[tokio::test]
async fn vpc_not_yet_visible_is_retried() {
    let (cx, _) = cx();
    let d = describe(vec![]);
    let c = mock!(Client::create_subnet)
        .sequence()
        .error(|| ec2_err!(CreateSubnetError, "InvalidVpcID.NotFound"))
        .output(|| {
            CreateSubnetOutput::builder()
                .subnet(Subnet::builder().subnet_id("subnet-new").build())
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c]);
    assert_eq!(
        subnet::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "subnet-new"
    );
    assert_eq!(c.num_calls(), 2);
}

#[tokio::test]
async fn conflict_after_a_lost_create_response_adopts_the_subnet() {
    let (cx, _) = cx();
    // Not listed on the first describe (the lost create is not visible yet), then listed.
    let d = mock!(Client::describe_subnets)
        .sequence()
        .output(|| DescribeSubnetsOutput::builder().build())
        .times(2)
        .output(|| {
            DescribeSubnetsOutput::builder()
                .subnets(existing("us-east-1a", false))
                .build()
        })
        .build();
    let c = mock!(Client::create_subnet)
        .then_error(|| ec2_err!(CreateSubnetError, "InvalidSubnet.Conflict"));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c]);
    assert_eq!(
        subnet::ensure(&client, &cx, &desired(), "vpc-1")
            .await
            .expect("ensure"),
        "subnet-1"
    );
    assert_eq!(c.num_calls(), 1, "no second subnet");
}

#[tokio::test]
async fn delete_of_absent_subnet_succeeds() {
    let (cx, _) = cx();
    let del = mock!(Client::delete_subnet)
        .then_error(|| ec2_err!(DeleteSubnetError, "InvalidSubnetID.NotFound"));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&del]);
    subnet::delete(&client, &cx, "subnet-gone")
        .await
        .expect("delete");
    let _ = DeleteSubnetOutput::builder().build();
}
