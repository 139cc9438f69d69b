use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::allocate_address::AllocateAddressOutput;
use aws_sdk_ec2::operation::create_nat_gateway::{CreateNatGatewayError, CreateNatGatewayOutput};
use aws_sdk_ec2::operation::delete_nat_gateway::{DeleteNatGatewayError, DeleteNatGatewayOutput};
use aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::release_address::{ReleaseAddressError, ReleaseAddressOutput};
use aws_sdk_ec2::types::{Address, DomainType, NatGateway, NatGatewayAddress, NatGatewayState};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::{Action, Readiness};

use super::{cx, ec2_err, has_filter, owner, tagged, tags};
use crate::nat::{self, NatGatewayDesired};
use crate::{COMPONENT_ELASTIC_IP, COMPONENT_NAT_GATEWAY, elastic_ip};

const NAME: &str = "demo-nat-a";

fn desired() -> NatGatewayDesired {
    NatGatewayDesired::new(&owner(), "us-east-1a")
}

fn nat_gw(id: &str, state: NatGatewayState, subnet: &str, alloc: &str) -> NatGateway {
    NatGateway::builder()
        .nat_gateway_id(id)
        .state(state)
        .subnet_id(subnet)
        .nat_gateway_addresses(NatGatewayAddress::builder().allocation_id(alloc).build())
        .set_tags(Some(tags(COMPONENT_NAT_GATEWAY, NAME)))
        .build()
}

fn address(alloc: &str, associated: bool) -> Address {
    Address::builder()
        .allocation_id(alloc)
        .set_association_id(associated.then(|| "eipassoc-1".to_string()))
        .set_tags(Some(tags(COMPONENT_ELASTIC_IP, NAME)))
        .build()
}

fn describe_nats(nats: Vec<NatGateway>) -> Rule {
    mock!(Client::describe_nat_gateways)
        .match_requests(|r| has_filter(r.filter(), "tag:Name", NAME))
        .then_output(move || {
            DescribeNatGatewaysOutput::builder()
                .set_nat_gateways(Some(nats.clone()))
                .build()
        })
}

fn describe_addresses(addresses: Vec<Address>) -> Rule {
    mock!(Client::describe_addresses)
        .match_requests(|r| has_filter(r.filters(), "tag:Name", NAME))
        .then_output(move || {
            DescribeAddressesOutput::builder()
                .set_addresses(Some(addresses.clone()))
                .build()
        })
}

fn allocate() -> Rule {
    mock!(Client::allocate_address)
        .match_requests(|r| {
            r.domain() == Some(&DomainType::Vpc)
                && tagged(r.tag_specifications(), COMPONENT_ELASTIC_IP, NAME)
        })
        .then_output(|| {
            AllocateAddressOutput::builder()
                .allocation_id("eipalloc-new")
                .build()
        })
}

fn create() -> Rule {
    mock!(Client::create_nat_gateway)
        .match_requests(|r| {
            r.subnet_id() == Some("subnet-pub-a")
                && r.allocation_id() == Some("eipalloc-new")
                && r.client_token() == Some("demo-a-eipalloc-new")
                && tagged(r.tag_specifications(), COMPONENT_NAT_GATEWAY, NAME)
        })
        .then_output(|| {
            CreateNatGatewayOutput::builder()
                .nat_gateway(
                    NatGateway::builder()
                        .nat_gateway_id("nat-new")
                        .state(NatGatewayState::Pending)
                        .build(),
                )
                .build()
        })
}

#[test]
fn client_token_is_deterministic_and_bounded() {
    let d = desired();
    assert_eq!(d.client_token("eipalloc-1"), d.client_token("eipalloc-1"));
    assert_ne!(d.client_token("eipalloc-1"), d.client_token("eipalloc-2"));
    let long = NatGatewayDesired::new(
        &crate::Owner::from_spec(&orchestrate_core::Spec::minimal(
            &"a".repeat(21),
            "ap-southeast-2",
        )),
        "ap-southeast-2a",
    );
    assert!(long.client_token("eipalloc-0123456789abcdef0123").len() <= 64);
}

#[tokio::test]
async fn creates_eip_and_nat_with_tags_and_client_token_without_waiting() {
    let (cx, _) = cx();
    let (n, a, al, c) = (
        describe_nats(vec![]),
        describe_addresses(vec![]),
        allocate(),
        create(),
    );
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&n, &a, &al, &c]);
    let id = nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
        .await
        .expect("ensure");
    assert_eq!(id, "nat-new");
    assert_eq!((al.num_calls(), c.num_calls()), (1, 1));
}

#[tokio::test]
async fn adopts_pending_nat_and_its_eip_without_mutating_calls() {
    let (cx, _) = cx();
    let n = describe_nats(vec![nat_gw(
        "nat-1",
        NatGatewayState::Pending,
        "subnet-pub-a",
        "eipalloc-1",
    )]);
    let a = describe_addresses(vec![address("eipalloc-1", true)]);
    let (al, c) = (allocate(), create());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&n, &a, &al, &c]);
    assert_eq!(
        nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
            .await
            .expect("ensure"),
        "nat-1"
    );
    assert_eq!((al.num_calls(), c.num_calls()), (0, 0));
    let observed = nat::find(&client, &cx, NAME).await.expect("find");
    assert_eq!(
        nat::diff(&desired(), observed.as_ref(), Some("subnet-pub-a")).action,
        Action::NoChange
    );
}

#[tokio::test]
async fn reuses_an_unassociated_tagged_eip_after_a_crash_and_releases_surplus() {
    let (cx, recorder) = cx();
    let n = describe_nats(vec![]);
    let a = describe_addresses(vec![
        address("eipalloc-new", false),
        address("eipalloc-zzz", false),
    ]);
    let release = mock!(Client::release_address)
        .match_requests(|r| r.allocation_id() == Some("eipalloc-zzz"))
        .then_output(|| ReleaseAddressOutput::builder().build());
    let (al, c) = (allocate(), create());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&n, &a, &release, &al, &c]);
    assert_eq!(
        nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
            .await
            .expect("ensure"),
        "nat-new"
    );
    assert_eq!(
        (al.num_calls(), release.num_calls(), c.num_calls()),
        (0, 1, 1)
    );
    assert!(!recorder.events().is_empty());
}

#[tokio::test]
async fn failed_nat_is_replaced() {
    let (cx, _) = cx();
    let failed = NatGateway::builder()
        .nat_gateway_id("nat-old")
        .state(NatGatewayState::Failed)
        .failure_message("Elastic IP address is already associated")
        .subnet_id("subnet-pub-a")
        .nat_gateway_addresses(
            NatGatewayAddress::builder()
                .allocation_id("eipalloc-old")
                .build(),
        )
        .set_tags(Some(tags(COMPONENT_NAT_GATEWAY, NAME)))
        .build();
    let n = describe_nats(vec![failed.clone()]);
    let observed = nat::NatGatewayObserved {
        nat_gateway_id: "nat-old".into(),
        state: "failed".into(),
        subnet_id: "subnet-pub-a".into(),
        allocation_ids: vec!["eipalloc-old".into()],
        failure_message: Some("x".into()),
    };
    assert!(matches!(
        nat::diff(&desired(), Some(&observed), None).action,
        Action::Update { .. }
    ));
    let del =
        mock!(Client::delete_nat_gateway).then_output(|| DeleteNatGatewayOutput::builder().build());
    let by_id = mock!(Client::describe_nat_gateways)
        .match_requests(|r| r.nat_gateway_ids().contains(&"nat-old".to_string()))
        .then_output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .nat_gateway_id("nat-old")
                        .state(NatGatewayState::Deleted)
                        .build(),
                )
                .build()
        });
    let release = mock!(Client::release_address)
        .match_requests(|r| r.allocation_id() == Some("eipalloc-old"))
        .then_output(|| ReleaseAddressOutput::builder().build());
    let a = describe_addresses(vec![]);
    let (al, c) = (allocate(), create());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&by_id, &n, &del, &release, &a, &al, &c]
    );
    assert_eq!(
        nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
            .await
            .expect("ensure"),
        "nat-new"
    );
    assert_eq!(
        (
            del.num_calls(),
            release.num_calls(),
            al.num_calls(),
            c.num_calls()
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn subnet_not_yet_visible_is_retried_with_the_same_token() {
    let (cx, _) = cx();
    let (n, a, al) = (
        describe_nats(vec![]),
        describe_addresses(vec![]),
        allocate(),
    );
    let c = mock!(Client::create_nat_gateway)
        .match_requests(|r| r.client_token() == Some("demo-a-eipalloc-new"))
        .sequence()
        .error(|| ec2_err!(CreateNatGatewayError, "InvalidSubnetID.NotFound"))
        .output(|| {
            CreateNatGatewayOutput::builder()
                .nat_gateway(NatGateway::builder().nat_gateway_id("nat-new").build())
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&n, &a, &al, &c]);
    assert_eq!(
        nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
            .await
            .expect("ensure"),
        "nat-new"
    );
    assert_eq!((al.num_calls(), c.num_calls()), (1, 2));
}

#[tokio::test]
async fn ready_reports_pending_available_and_failed() {
    let (cx, _) = cx();
    let r = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .state(NatGatewayState::Pending)
                        .build(),
                )
                .build()
        })
        .output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .state(NatGatewayState::Available)
                        .build(),
                )
                .build()
        })
        .output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .state(NatGatewayState::Failed)
                        .failure_message("Subnet has no route")
                        .build(),
                )
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&r]);
    assert_eq!(
        nat::ready(&client, &cx, "nat-1").await.expect("1"),
        Readiness::pending("pending")
    );
    assert_eq!(
        nat::ready(&client, &cx, "nat-1").await.expect("2"),
        Readiness::Ready
    );
    assert_eq!(
        nat::ready(&client, &cx, "nat-1").await.expect("3"),
        Readiness::Failed {
            reason: "Subnet has no route".into()
        }
    );
}

#[tokio::test]
async fn delete_of_absent_nat_and_eip_succeeds() {
    let (cx, _) = cx();
    let del = mock!(Client::delete_nat_gateway)
        .then_error(|| ec2_err!(DeleteNatGatewayError, "NatGatewayNotFound"));
    let rel = mock!(Client::release_address)
        .then_error(|| ec2_err!(ReleaseAddressError, "InvalidAllocationID.NotFound"));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&del, &rel]);
    nat::delete(&client, &cx, "nat-gone").await.expect("nat");
    elastic_ip::delete(&client, &cx, "eipalloc-gone")
        .await
        .expect("eip");
}

#[tokio::test]
async fn delete_waits_until_deleted() {
    let (cx, _) = cx();
    let del =
        mock!(Client::delete_nat_gateway).then_output(|| DeleteNatGatewayOutput::builder().build());
    let d = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .state(NatGatewayState::Deleting)
                        .build(),
                )
                .build()
        })
        .times(2)
        .output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .state(NatGatewayState::Deleted)
                        .build(),
                )
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&del, &d]);
    nat::delete(&client, &cx, "nat-1").await.expect("delete");
    assert_eq!(d.num_calls(), 3);
}

fn observed(id: &str, state: &str, subnet: &str) -> nat::NatGatewayObserved {
    nat::NatGatewayObserved {
        nat_gateway_id: id.into(),
        state: state.into(),
        subnet_id: subnet.into(),
        allocation_ids: vec![format!("eipalloc-{id}")],
        failure_message: None,
    }
}

/// DescribeRouteTables answering that routes send traffic to `routed`.
fn routes_to(routed: &'static [&'static str]) -> Rule {
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::types::{Route, RouteTable};
    mock!(Client::describe_route_tables)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("route.nat-gateway-id"))
        })
        .then_output(move || {
            let mut table = RouteTable::builder().route_table_id("rtb-1");
            for id in routed {
                table = table.routes(
                    Route::builder()
                        .destination_cidr_block("0.0.0.0/0")
                        .nat_gateway_id(*id)
                        .build(),
                );
            }
            DescribeRouteTablesOutput::builder()
                .route_tables(table.build())
                .build()
        })
}

fn deleted_when_described() -> Rule {
    mock!(Client::describe_nat_gateways)
        .match_requests(|r| !r.nat_gateway_ids().is_empty())
        .then_output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .nat_gateway_id("nat-x")
                        .state(NatGatewayState::Deleted)
                        .build(),
                )
                .build()
        })
}

#[test]
fn choose_keeps_one_in_the_desired_subnet_routed_then_available_then_lowest() {
    let none = std::collections::BTreeSet::new();
    let (keep, rest) = nat::choose(
        vec![
            observed("nat-2", "available", "subnet-pub-a"),
            observed("nat-1", "pending", "subnet-pub-a"),
            observed("nat-0", "available", "subnet-other"),
        ],
        "subnet-pub-a",
        &none,
    );
    assert_eq!(keep.map(|k| k.nat_gateway_id), Some("nat-2".to_string()));
    let rest: Vec<_> = rest.into_iter().map(|r| r.nat_gateway_id).collect();
    assert_eq!(rest, ["nat-1", "nat-0"]);

    let routed: std::collections::BTreeSet<String> = ["nat-3".to_string()].into();
    let (keep, _) = nat::choose(
        vec![
            observed("nat-2", "available", "subnet-pub-a"),
            observed("nat-3", "available", "subnet-pub-a"),
        ],
        "subnet-pub-a",
        &routed,
    );
    assert_eq!(keep.map(|k| k.nat_gateway_id), Some("nat-3".to_string()));

    let (keep, rest) = nat::choose(
        vec![observed("nat-0", "available", "subnet-other")],
        "subnet-pub-a",
        &none,
    );
    assert!(keep.is_none());
    assert_eq!(rest.len(), 1);
}

/// Two runs at once left two gateways named alike in one subnet: the unrouted one is deleted
/// with its address, the routed one kept; nothing is created; the run does not fail.
#[tokio::test]
async fn duplicate_nat_nothing_routes_to_is_deleted_with_its_address() {
    let (cx, recorder) = cx();
    let n = describe_nats(vec![
        nat_gw(
            "nat-1",
            NatGatewayState::Available,
            "subnet-pub-a",
            "eipalloc-1",
        ),
        nat_gw(
            "nat-2",
            NatGatewayState::Available,
            "subnet-pub-a",
            "eipalloc-2",
        ),
    ]);
    let r = routes_to(&["nat-2"]);
    let del = mock!(Client::delete_nat_gateway)
        .match_requests(|r| r.nat_gateway_id() == Some("nat-1"))
        .then_output(|| DeleteNatGatewayOutput::builder().build());
    let gone = deleted_when_described();
    let release = mock!(Client::release_address)
        .match_requests(|r| r.allocation_id() == Some("eipalloc-1"))
        .then_output(|| ReleaseAddressOutput::builder().build());
    let a = describe_addresses(vec![address("eipalloc-2", true)]);
    let (al, c) = (allocate(), create());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&gone, &n, &r, &del, &release, &a, &al, &c]
    );
    let id = nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
        .await
        .expect("duplicates converge");
    assert_eq!(id, "nat-2");
    assert_eq!(
        (
            del.num_calls(),
            release.num_calls(),
            al.num_calls(),
            c.num_calls()
        ),
        (1, 1, 0, 0)
    );
    let notes = format!("{:?}", recorder.events());
    assert!(
        notes.contains("deleting duplicate NAT gateway nat-1") && notes.contains("keeping nat-2"),
        "{notes}"
    );
}

/// The only gateway with the name is in another subnet and a route uses it: it is left
/// running and reported with the command that removes it; a new one is created in the
/// desired subnet with a fresh address (the old one keeps its own). Never a conflict.
#[tokio::test]
async fn routed_nat_in_another_subnet_is_reported_and_replaced_not_a_conflict() {
    let (cx, recorder) = cx();
    let n = describe_nats(vec![nat_gw(
        "nat-old",
        NatGatewayState::Available,
        "subnet-stale",
        "eipalloc-old",
    )]);
    let r = routes_to(&["nat-old"]);
    let del =
        mock!(Client::delete_nat_gateway).then_output(|| DeleteNatGatewayOutput::builder().build());
    let release =
        mock!(Client::release_address).then_output(|| ReleaseAddressOutput::builder().build());
    let a = describe_addresses(vec![address("eipalloc-old", true)]);
    let (al, c) = (allocate(), create());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&n, &r, &del, &release, &a, &al, &c]
    );
    let id = nat::ensure(&client, &cx, &desired(), "subnet-pub-a")
        .await
        .expect("no conflict");
    assert_eq!(id, "nat-new");
    assert_eq!(
        (
            del.num_calls(),
            release.num_calls(),
            al.num_calls(),
            c.num_calls()
        ),
        (0, 0, 1, 1)
    );
    let notes = format!("{:?}", recorder.events());
    assert!(
        notes.contains("nat-old")
            && notes.contains("subnet-stale")
            && notes.contains("aws ec2 delete-nat-gateway --nat-gateway-id nat-old"),
        "{notes}"
    );
}
