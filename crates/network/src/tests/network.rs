use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput;
use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use orchestrate_core::spec::NatMode;
use orchestrate_core::{Action, Spec};

use super::cx;
use crate::{NetworkDesired, plan_network};

fn azs() -> Vec<String> {
    vec!["us-east-1a".into(), "us-east-1b".into()]
}

#[test]
fn single_nat_serves_every_private_subnet_from_the_first_az() {
    let spec = Spec::minimal("demo", "us-east-1");
    let d = NetworkDesired::from_spec(&spec, azs()).expect("desired");
    assert_eq!(d.vpc.cidr, "10.40.0.0/16");
    let names: Vec<_> = d
        .public_subnets
        .iter()
        .chain(&d.private_subnets)
        .map(|s| (s.name.as_str(), s.cidr.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("demo-public-a", "10.40.0.0/20"),
            ("demo-public-b", "10.40.16.0/20"),
            ("demo-private-a", "10.40.32.0/20"),
            ("demo-private-b", "10.40.48.0/20"),
        ]
    );
    assert_eq!(d.nat_gateways.len(), 1);
    assert_eq!(d.nat_gateways[0].az, "us-east-1a");
    assert_eq!(d.private_route_tables.len(), 1);
    assert_eq!(d.private_route_tables[0].table.name, "demo-private");
    assert_eq!(d.private_route_tables[0].subnets, vec![0, 1]);
    assert_eq!(d.security_groups.len(), 5);
}

#[test]
fn per_az_nat_has_one_gateway_and_table_per_az() {
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.network.nat = NatMode::PerAz;
    let d = NetworkDesired::from_spec(&spec, azs()).expect("desired");
    let nats: Vec<_> = d.nat_gateways.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nats, ["demo-nat-a", "demo-nat-b"]);
    let tables: Vec<_> = d
        .private_route_tables
        .iter()
        .map(|p| (p.table.name.as_str(), p.nat, p.subnets.clone()))
        .collect();
    assert_eq!(
        tables,
        [
            ("demo-private-a", 0, vec![0]),
            ("demo-private-b", 1, vec![1])
        ]
    );
}

#[test]
fn uncarvable_cidr_is_an_error() {
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.network.vpc_cidr = "10.0.0.0/27".into();
    spec.network.subnet_prefix = 28;
    assert!(
        NetworkDesired::from_spec(&spec, vec!["a1a".into(), "a1b".into(), "a1c".into()]).is_err()
    );
}

#[tokio::test]
async fn plan_of_an_empty_account_creates_everything_read_only() {
    let (cx, _) = cx();
    let spec = Spec::minimal("demo", "us-east-1");
    let desired = NetworkDesired::from_spec(&spec, azs()).expect("desired");
    // Only describe calls are mocked: any mutating call would panic (no rule matches).
    let vpcs = mock!(Client::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build());
    let igws = mock!(Client::describe_internet_gateways)
        .then_output(|| DescribeInternetGatewaysOutput::builder().build());
    let nats = mock!(Client::describe_nat_gateways)
        .then_output(|| DescribeNatGatewaysOutput::builder().build());
    let eips = mock!(Client::describe_addresses)
        .then_output(|| DescribeAddressesOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&vpcs, &igws, &nats, &eips]
    );
    let plan = plan_network(&client, &cx, &desired).await.expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:#?}");
    let kinds: Vec<&str> = plan.iter().map(|c| c.kind.as_str()).collect();
    for (kind, n) in [
        ("ec2/vpc", 1),
        ("ec2/subnet", 4),
        ("ec2/internet-gateway", 1),
        ("ec2/elastic-ip", 1),
        ("ec2/nat-gateway", 1),
        ("ec2/route-table", 2),
        ("ec2/security-group", 5),
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), n, "{kind}");
    }
}

fn existing_spec() -> Spec {
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.network.vpc_id = Some("vpc-0123456789abcdef0".into());
    spec.network.private_subnet_ids = vec!["subnet-p1".into(), "subnet-p2".into()];
    spec.network.public_subnet_ids = vec!["subnet-u1".into(), "subnet-u2".into()];
    spec
}

#[test]
fn an_existing_network_plans_only_the_security_groups() {
    let d = NetworkDesired::from_spec(&existing_spec(), azs()).expect("desired");
    let given = d.existing.as_ref().expect("existing");
    assert_eq!(given.vpc_id, "vpc-0123456789abcdef0");
    assert!(given.internet_facing);
    assert!(d.public_subnets.is_empty() && d.private_subnets.is_empty());
    assert!(d.nat_gateways.is_empty() && d.private_route_tables.is_empty());
    assert_eq!(d.security_groups.len(), 5);
    assert_eq!(d.load_balancer_subnet_count(), 2);
}

#[tokio::test]
async fn plan_of_an_existing_network_reads_only_security_groups_in_its_vpc() {
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    let (cx, _) = cx();
    let desired = NetworkDesired::from_spec(&existing_spec(), azs()).expect("desired");
    // Only DescribeSecurityGroups in the given VPC is mocked: a VPC, subnet, gateway or route
    // call (or any mutating one) fails the test.
    let groups = mock!(Client::describe_security_groups)
        .match_requests(|r| {
            r.filters().iter().any(|f| {
                f.name() == Some("vpc-id") && f.values() == ["vpc-0123456789abcdef0".to_string()]
            })
        })
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&groups]);
    let plan = plan_network(&client, &cx, &desired).await.expect("plan");
    let shown: Vec<(&str, &str, bool)> = plan
        .iter()
        .map(|c| {
            (
                c.kind.as_str(),
                c.name.as_str(),
                c.action == Action::NoChange,
            )
        })
        .take(5)
        .collect();
    assert_eq!(
        shown,
        [
            (
                "ec2/existing-vpc",
                "vpc-0123456789abcdef0 (existing, not managed)",
                true
            ),
            (
                "ec2/existing-subnet",
                "subnet-p1 (private, existing, not managed)",
                true
            ),
            (
                "ec2/existing-subnet",
                "subnet-p2 (private, existing, not managed)",
                true
            ),
            (
                "ec2/existing-subnet",
                "subnet-u1 (public, existing, not managed)",
                true
            ),
            (
                "ec2/existing-subnet",
                "subnet-u2 (public, existing, not managed)",
                true
            ),
        ]
    );
    let creates: Vec<&str> = plan[5..]
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.kind.as_str())
        .collect();
    assert_eq!(creates, ["ec2/security-group"; 5]);
    assert_eq!(plan.len(), 10);
    assert!(
        plan.iter()
            .all(|c| !crate::is_unmanaged_kind(&c.kind) || !c.is_mutation())
    );
    assert_eq!(groups.num_calls(), 5);
    assert!(
        crate::observe_network(&client, &cx, &desired)
            .await
            .expect("observe")
            .is_none(),
        "no security group yet: nothing to hang RDS off"
    );
}
