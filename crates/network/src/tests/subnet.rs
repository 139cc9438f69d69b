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

fn tagged_subnet(id: &str, cidr: &str, name: &str) -> Subnet {
    Subnet::builder()
        .subnet_id(id)
        .vpc_id("vpc-1")
        .cidr_block(cidr)
        .set_tags(Some(super::tags(COMPONENT_SUBNET, name)))
        .build()
}

/// DescribeSubnets of the deployment's subnets in vpc-1 (the duplicate listing).
fn describe_owned(subnets: Vec<Subnet>) -> Rule {
    mock!(Client::describe_subnets)
        .match_requests(|r| {
            has_filter(r.filters(), "vpc-id", "vpc-1")
                && has_filter(r.filters(), "tag:orchestrate:component", COMPONENT_SUBNET)
        })
        .then_output(move || {
            DescribeSubnetsOutput::builder()
                .set_subnets(Some(subnets.clone()))
                .build()
        })
}

fn interfaces_in(subnet: &'static str, count: usize) -> Rule {
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::NetworkInterface;
    mock!(Client::describe_network_interfaces)
        .match_requests(move |r| has_filter(r.filters(), "subnet-id", subnet))
        .then_output(move || {
            DescribeNetworkInterfacesOutput::builder()
                .set_network_interfaces(Some(
                    (0..count)
                        .map(|i| {
                            NetworkInterface::builder()
                                .network_interface_id(format!("eni-{i}"))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

/// Two subnets named demo-public-a (the second with another CIDR): the unused one is
/// deleted; the one in use is reported with the command, never an error; the kept one and
/// subnets of other names are untouched.
#[tokio::test]
async fn duplicate_subnets_converge_unused_deleted_used_reported() {
    let (cx, recorder) = cx();
    let list = describe_owned(vec![
        tagged_subnet("subnet-1", CIDR, "demo-public-a"),
        tagged_subnet("subnet-dup", "10.40.128.0/20", "demo-public-a"),
        tagged_subnet("subnet-busy", "10.40.144.0/20", "demo-public-a"),
        tagged_subnet("subnet-b", "10.40.16.0/20", "demo-public-b"),
    ]);
    let (free, busy) = (
        interfaces_in("subnet-dup", 0),
        interfaces_in("subnet-busy", 2),
    );
    let delete = mock!(Client::delete_subnet)
        .match_requests(|r| r.subnet_id() == Some("subnet-dup"))
        .then_output(|| DeleteSubnetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&list, &free, &busy, &delete]
    );
    let kept = vec![
        ("demo-public-a".to_string(), "subnet-1".to_string()),
        ("demo-public-b".to_string(), "subnet-b".to_string()),
    ];
    let result = subnet::remove_duplicates(&client, &cx, "vpc-1", &kept)
        .await
        .expect("duplicates never fail the run");
    assert_eq!(result.deleted, ["subnet-dup"]);
    assert_eq!(result.in_use, ["subnet-busy"]);
    assert_eq!(delete.num_calls(), 1);
    let notes = format!("{:?}", recorder.events());
    assert!(
        notes.contains("subnet-busy")
            && notes.contains("subnet-1")
            && notes.contains("aws ec2 delete-subnet --subnet-id subnet-busy"),
        "{notes}"
    );
}

#[tokio::test]
async fn no_duplicate_subnet_means_one_describe_and_no_mutating_call() {
    let (cx, _) = cx();
    let list = describe_owned(vec![tagged_subnet("subnet-1", CIDR, "demo-public-a")]);
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&list]);
    let kept = vec![("demo-public-a".to_string(), "subnet-1".to_string())];
    let result = subnet::remove_duplicates(&client, &cx, "vpc-1", &kept)
        .await
        .expect("remove_duplicates");
    assert_eq!(result, subnet::Duplicates::default());
    assert_eq!(list.num_calls(), 1);
}
