//! The existing-network check: pure analysis of what was read, and the read itself (mocked).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::describe_vpc_attribute::DescribeVpcAttributeOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::types::{
    Route, RouteState, RouteTable, RouteTableAssociation, Subnet, Vpc, VpcEndpoint,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

const VPC: &str = "vpc-0000000000000000a";

fn desired() -> ExistingDesired {
    ExistingDesired {
        vpc_id: VPC.into(),
        private_subnet_ids: vec!["subnet-p1".into(), "subnet-p2".into()],
        public_subnet_ids: vec!["subnet-u1".into(), "subnet-u2".into()],
        internet_facing: true,
        region: "us-east-1".into(),
    }
}

fn subnet(id: &str, vpc: &str, az: &str) -> SubnetFacts {
    SubnetFacts {
        subnet_id: id.into(),
        vpc_id: vpc.into(),
        az: az.into(),
    }
}

fn table(id: &str, main: bool, subnets: &[&str], route: Option<DefaultRoute>) -> RouteTableFacts {
    RouteTableFacts {
        route_table_id: id.into(),
        main,
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        default_route: route,
    }
}

/// Two zones, public subnets on an internet gateway, private ones on a NAT gateway.
fn good() -> ExistingObserved {
    ExistingObserved {
        vpc_found: true,
        vpc_dns: Some((true, true)),
        subnets: vec![
            subnet("subnet-p1", VPC, "us-east-1a"),
            subnet("subnet-p2", VPC, "us-east-1b"),
            subnet("subnet-u1", VPC, "us-east-1a"),
            subnet("subnet-u2", VPC, "us-east-1b"),
        ],
        route_tables: vec![
            table("rtb-main", true, &[], None),
            table(
                "rtb-public",
                false,
                &["subnet-u1", "subnet-u2"],
                Some(DefaultRoute::InternetGateway("igw-1".into())),
            ),
            table(
                "rtb-private",
                false,
                &["subnet-p1", "subnet-p2"],
                Some(DefaultRoute::NatGateway("nat-1".into())),
            ),
        ],
        endpoints: Vec::new(),
    }
}

fn problems(observed: &ExistingObserved) -> Vec<String> {
    match check(&desired(), observed) {
        Err(Error::ExistingNetwork { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn all_endpoints(route_table: &str) -> Vec<EndpointFacts> {
    REQUIRED_ENDPOINTS
        .iter()
        .map(|(service, kind)| EndpointFacts {
            service_name: format!("com.amazonaws.us-east-1.{service}"),
            kind: *kind,
            usable: true,
            route_table_ids: if *kind == EndpointKind::Gateway {
                vec![route_table.to_string()]
            } else {
                Vec::new()
            },
        })
        .collect()
}

#[test]
fn a_good_network_gives_the_zones_of_its_subnets() {
    let verdict = check(&desired(), &good()).expect("accepted");
    assert_eq!(verdict.azs, ["us-east-1a", "us-east-1b"]);
    assert!(!verdict.endpoints_only);
}

#[test]
fn nat_instance_and_transit_gateway_count_as_egress_and_the_main_table_applies() {
    for route in [
        DefaultRoute::Instance("i-1".into()),
        DefaultRoute::TransitGateway("tgw-1".into()),
        DefaultRoute::NatGateway("nat-9".into()),
    ] {
        let mut o = good();
        // No association for the private subnets: the main table serves them.
        o.route_tables.retain(|t| t.route_table_id != "rtb-private");
        o.route_tables[0].default_route = Some(route.clone());
        assert!(check(&desired(), &o).is_ok(), "{route:?}");
    }
}

#[test]
fn missing_vpc_and_subnets_and_subnets_of_another_vpc_are_named() {
    let mut o = good();
    o.vpc_found = false;
    o.vpc_dns = None;
    o.subnets.retain(|s| s.subnet_id != "subnet-p2");
    o.subnets[0].vpc_id = "vpc-other".into();
    let p = problems(&o);
    assert!(
        p.iter()
            .any(|m| m.contains("VPC vpc-0000000000000000a does not exist")),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("private subnet subnet-p2 does not exist")),
        "{p:#?}"
    );
    assert!(
        p.iter().any(|m| m.contains(
            "private subnet subnet-p1 belongs to VPC vpc-other, not to vpc-0000000000000000a"
        )),
        "{p:#?}"
    );
    assert!(p.iter().all(|m| m.contains("fix:")), "{p:#?}");
}

#[test]
fn the_vpc_needs_both_dns_attributes() {
    let mut o = good();
    o.vpc_dns = Some((true, false));
    let p = problems(&o);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("VPC vpc-0000000000000000a has enableDnsHostnames off"),
        "{p:#?}"
    );
}

#[test]
fn each_list_must_span_two_zones() {
    let mut o = good();
    for s in &mut o.subnets {
        if s.subnet_id.starts_with("subnet-u") {
            s.az = "us-east-1c".into();
        }
    }
    let p = problems(&o);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("the public subnets subnet-u1, subnet-u2 are all in us-east-1c"),
        "{p:#?}"
    );
}

#[test]
fn a_private_subnet_without_egress_names_every_missing_endpoint() {
    let mut o = good();
    o.route_tables[2].default_route = None;
    let p = problems(&o);
    assert_eq!(p.len(), 2, "one per private subnet: {p:#?}");
    assert!(
        p[0].contains("private subnet subnet-p1 (route table rtb-private)"),
        "{p:#?}"
    );
    for name in [
        "com.amazonaws.us-east-1.ecr.api (interface)",
        "com.amazonaws.us-east-1.ecr.dkr (interface)",
        "com.amazonaws.us-east-1.s3 (gateway)",
        "com.amazonaws.us-east-1.logs (interface)",
        "com.amazonaws.us-east-1.secretsmanager (interface)",
        "com.amazonaws.us-east-1.ssmmessages (interface)",
    ] {
        assert!(p[0].contains(name), "{name} in {}", p[0]);
    }

    // Some endpoints exist: only the others are named.
    o.endpoints = all_endpoints("rtb-private");
    o.endpoints
        .retain(|e| !e.service_name.ends_with(".logs") && !e.service_name.ends_with(".s3"));
    let p = problems(&o);
    assert!(p[0].contains("lacks the VPC endpoints Fargate tasks need without one: com.amazonaws.us-east-1.s3 (gateway), com.amazonaws.us-east-1.logs (interface);"), "{p:#?}");

    // An internet gateway is no egress for tasks without public IPs.
    o.route_tables[2].default_route = Some(DefaultRoute::InternetGateway("igw-1".into()));
    assert!(problems(&o)[0].contains("leads to internet gateway igw-1"));
}

#[test]
fn endpoints_replace_a_nat_route_when_all_exist_and_the_s3_gateway_serves_the_table() {
    let mut o = good();
    o.route_tables[2].default_route = None;
    o.endpoints = all_endpoints("rtb-private");
    let verdict = check(&desired(), &o).expect("endpoints suffice");
    assert!(verdict.endpoints_only);

    // The S3 gateway endpoint attached to another table does not serve these subnets.
    o.endpoints = all_endpoints("rtb-public");
    assert!(problems(&o)[0].contains("com.amazonaws.us-east-1.s3 (gateway)"));

    // A deleted endpoint is no endpoint.
    o.endpoints = all_endpoints("rtb-private");
    o.endpoints[0].usable = false;
    assert!(problems(&o)[0].contains("ecr.api (interface)"));
}

#[test]
fn public_subnets_need_an_internet_gateway_for_an_internet_facing_alb() {
    let mut o = good();
    o.route_tables[1].default_route = Some(DefaultRoute::NatGateway("nat-1".into()));
    let p = problems(&o);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].starts_with("public subnet subnet-u1 (route table rtb-public) has no 0.0.0.0/0 route to an internet gateway"));
    let mut internal = desired();
    internal.internet_facing = false;
    assert!(check(&internal, &o).is_ok());
}

#[tokio::test]
async fn inspect_reads_in_four_filtered_calls_and_maps_routes() {
    let vpcs = mock!(Client::describe_vpcs)
        .match_requests(|r| {
            r.vpc_ids().is_empty()
                && r.filters()
                    .iter()
                    .any(|f| f.name() == Some("vpc-id") && f.values() == [VPC.to_string()])
        })
        .then_output(|| {
            DescribeVpcsOutput::builder()
                .vpcs(Vpc::builder().vpc_id(VPC).build())
                .build()
        });
    let subnets = mock!(Client::describe_subnets)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("subnet-id") && f.values().len() == 4)
        })
        .then_output(|| {
            let s = |id: &str, vpc: &str, az: &str| {
                Subnet::builder()
                    .subnet_id(id)
                    .vpc_id(vpc)
                    .availability_zone(az)
                    .build()
            };
            DescribeSubnetsOutput::builder()
                .subnets(s("subnet-p1", VPC, "us-east-1a"))
                .subnets(s("subnet-p2", VPC, "us-east-1b"))
                .subnets(s("subnet-u1", VPC, "us-east-1a"))
                .subnets(s("subnet-u2", "vpc-other", "us-east-1b"))
                // Not asked for (a lenient endpoint): ignored.
                .subnets(s("subnet-zz", VPC, "us-east-1c"))
                .build()
        });
    let tables = mock!(Client::describe_route_tables).then_output(|| {
        DescribeRouteTablesOutput::builder()
            .route_tables(
                RouteTable::builder()
                    .route_table_id("rtb-main")
                    .vpc_id(VPC)
                    .associations(RouteTableAssociation::builder().main(true).build())
                    .routes(
                        Route::builder()
                            .destination_cidr_block("0.0.0.0/0")
                            .nat_gateway_id("nat-dead")
                            .state(RouteState::Blackhole)
                            .build(),
                    )
                    .build(),
            )
            .route_tables(
                RouteTable::builder()
                    .route_table_id("rtb-public")
                    .vpc_id(VPC)
                    .associations(
                        RouteTableAssociation::builder()
                            .main(false)
                            .subnet_id("subnet-u1")
                            .build(),
                    )
                    .routes(
                        Route::builder()
                            .destination_cidr_block("10.0.0.0/16")
                            .gateway_id("local")
                            .build(),
                    )
                    .routes(
                        Route::builder()
                            .destination_cidr_block("0.0.0.0/0")
                            .gateway_id("igw-1")
                            .state(RouteState::Active)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let endpoints = mock!(Client::describe_vpc_endpoints).then_output(|| {
        DescribeVpcEndpointsOutput::builder()
            .vpc_endpoints(
                VpcEndpoint::builder()
                    .vpc_id(VPC)
                    .service_name("com.amazonaws.us-east-1.s3")
                    .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
                    .route_table_ids("rtb-main")
                    .build(),
            )
            .build()
    });
    let attributes = mock!(Client::describe_vpc_attribute)
        .match_requests(|r| r.vpc_id() == Some(VPC))
        .then_output(|| {
            let on = aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build();
            DescribeVpcAttributeOutput::builder()
                .enable_dns_support(on.clone())
                .enable_dns_hostnames(on)
                .build()
        });
    // Only these describe calls are mocked: any other call fails the test.
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&vpcs, &subnets, &tables, &endpoints, &attributes]
    );
    let o = inspect(&client, &desired()).await.expect("inspect");
    assert!(o.vpc_found);
    assert_eq!(o.vpc_dns, Some((true, true)));
    assert_eq!(attributes.num_calls(), 2);
    assert_eq!(o.subnets.len(), 4, "{:?}", o.subnets);
    assert_eq!(
        o.route_tables,
        vec![
            table("rtb-main", true, &[], None),
            table(
                "rtb-public",
                false,
                &["subnet-u1"],
                Some(DefaultRoute::InternetGateway("igw-1".into()))
            ),
        ]
    );
    assert_eq!(o.endpoints.len(), 1);
    assert_eq!(o.endpoints[0].kind, EndpointKind::Gateway);
    assert_eq!(
        (
            vpcs.num_calls(),
            subnets.num_calls(),
            tables.num_calls(),
            endpoints.num_calls()
        ),
        (1, 1, 1, 1)
    );
    let p = problems(&o);
    assert!(
        p.iter()
            .any(|m| m.contains("public subnet subnet-u2 belongs to VPC vpc-other")),
        "{p:#?}"
    );
    // The main table's blackhole NAT route is no route.
    assert!(p.iter().any(|m| m.contains("private subnet subnet-p1 (route table rtb-main) cannot reach the internet: it has no 0.0.0.0/0 route")), "{p:#?}");
}

#[test]
fn the_existing_network_is_read_from_the_spec_in_one_place() {
    let mut spec = orchestrate_core::Spec::minimal("demo", "eu-west-1");
    assert_eq!(
        ExistingDesired::from_spec(&spec),
        None,
        "orchestrate builds it"
    );
    spec.network.vpc_id = Some(VPC.into());
    spec.network.private_subnet_ids = vec!["subnet-p1".into(), "subnet-p2".into()];
    spec.network.public_subnet_ids = vec!["subnet-u1".into()];
    spec.load_balancer.scheme = orchestrate_core::spec::AlbScheme::Internal;
    let desired = ExistingDesired::from_spec(&spec).expect("named");
    assert_eq!(desired.vpc_id, VPC);
    assert_eq!(desired.private_subnet_ids, ["subnet-p1", "subnet-p2"]);
    assert_eq!(desired.public_subnet_ids, ["subnet-u1"]);
    assert!(
        !desired.internet_facing,
        "an internal ALB needs no internet gateway"
    );
    assert_eq!(desired.region, "eu-west-1");
    // The network's desired state carries the very same value.
    let network = crate::NetworkDesired::from_spec(&spec, Vec::new()).expect("network");
    assert_eq!(network.existing, Some(desired));
}
