use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::associate_route_table::{
    AssociateRouteTableError, AssociateRouteTableOutput,
};
use aws_sdk_ec2::operation::create_route::{CreateRouteError, CreateRouteOutput};
use aws_sdk_ec2::operation::create_route_table::CreateRouteTableOutput;
use aws_sdk_ec2::operation::delete_route_table::DeleteRouteTableOutput;
use aws_sdk_ec2::operation::describe_route_tables::{
    DescribeRouteTablesError, DescribeRouteTablesOutput,
};
use aws_sdk_ec2::operation::disassociate_route_table::DisassociateRouteTableOutput;
use aws_sdk_ec2::operation::replace_route::ReplaceRouteOutput;
use aws_sdk_ec2::operation::replace_route_table_association::ReplaceRouteTableAssociationOutput;
use aws_sdk_ec2::types::{Route, RouteTable, RouteTableAssociation};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Action;

use super::{cx, ec2_err, has_filter, owner, tagged, tags};
use crate::COMPONENT_ROUTE_TABLE;
use crate::route_table::{self, RouteTableDesired, RouteTarget};

const NAME: &str = "demo-private-a";

fn desired() -> RouteTableDesired {
    RouteTableDesired::new(&owner(), "private-a")
}

fn nat() -> RouteTarget {
    RouteTarget::NatGateway("nat-1".into())
}

fn subnets() -> Vec<String> {
    vec!["subnet-a".into()]
}

fn table(route_to_nat: Option<&str>, associated: &[&str]) -> RouteTable {
    let mut t = RouteTable::builder()
        .route_table_id("rtb-1")
        .routes(
            Route::builder()
                .destination_cidr_block("10.40.0.0/16")
                .gateway_id("local")
                .build(),
        )
        .set_tags(Some(tags(COMPONENT_ROUTE_TABLE, NAME)));
    if let Some(n) = route_to_nat {
        t = t.routes(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id(n)
                .build(),
        );
    }
    for (i, s) in associated.iter().enumerate() {
        t = t.associations(
            RouteTableAssociation::builder()
                .route_table_association_id(format!("rtbassoc-{i}"))
                .subnet_id(*s)
                .main(false)
                .build(),
        );
    }
    t.build()
}

fn describe(tables: Vec<RouteTable>) -> Rule {
    mock!(Client::describe_route_tables)
        .match_requests(|r| {
            has_filter(r.filters(), "tag:Name", NAME) && has_filter(r.filters(), "vpc-id", "vpc-1")
        })
        .then_output(move || {
            DescribeRouteTablesOutput::builder()
                .set_route_tables(Some(tables.clone()))
                .build()
        })
}

fn create() -> Rule {
    mock!(Client::create_route_table)
        .match_requests(|r| {
            r.vpc_id() == Some("vpc-1")
                && tagged(r.tag_specifications(), COMPONENT_ROUTE_TABLE, NAME)
                && r.client_token() == Some(desired().client_token("vpc-1").as_str())
        })
        .then_output(|| {
            CreateRouteTableOutput::builder()
                .route_table(RouteTable::builder().route_table_id("rtb-new").build())
                .build()
        })
}

fn route() -> Rule {
    mock!(Client::create_route)
        .match_requests(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.nat_gateway_id() == Some("nat-1")
                && r.gateway_id().is_none()
        })
        .then_output(|| CreateRouteOutput::builder().r#return(true).build())
}

fn replace() -> Rule {
    mock!(Client::replace_route)
        .match_requests(|r| r.nat_gateway_id() == Some("nat-1"))
        .then_output(|| ReplaceRouteOutput::builder().build())
}

fn associate() -> Rule {
    mock!(Client::associate_route_table)
        .match_requests(|r| r.subnet_id() == Some("subnet-a"))
        .then_output(|| {
            AssociateRouteTableOutput::builder()
                .association_id("rtbassoc-new")
                .build()
        })
}

fn disassociate() -> Rule {
    mock!(Client::disassociate_route_table)
        .then_output(|| DisassociateRouteTableOutput::builder().build())
}

#[tokio::test]
async fn creates_table_route_and_association() {
    let (cx, _) = cx();
    let (d, c, r, a) = (describe(vec![]), create(), route(), associate());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &r, &a]);
    let id = route_table::ensure(&client, &cx, &desired(), "vpc-1", &nat(), &subnets())
        .await
        .expect("ensure");
    assert_eq!(id, "rtb-new");
    assert_eq!((c.num_calls(), r.num_calls(), a.num_calls()), (1, 1, 1));
}

#[tokio::test]
async fn adopts_matching_table_without_mutating_calls() {
    let (cx, _) = cx();
    let d = describe(vec![table(Some("nat-1"), &["subnet-a"])]);
    let (c, r, rp, a, x) = (create(), route(), replace(), associate(), disassociate());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &r, &rp, &a, &x]);
    assert_eq!(
        route_table::ensure(&client, &cx, &desired(), "vpc-1", &nat(), &subnets())
            .await
            .expect("ensure"),
        "rtb-1"
    );
    assert_eq!(
        [
            c.num_calls(),
            r.num_calls(),
            rp.num_calls(),
            a.num_calls(),
            x.num_calls()
        ],
        [0; 5]
    );
    let observed = route_table::find(&client, &cx, NAME, "vpc-1")
        .await
        .expect("find");
    let plan = route_table::diff(&desired(), observed.as_ref(), Some(&nat()), &subnets());
    assert_eq!(plan[0].action, Action::NoChange);
}

#[tokio::test]
async fn drifted_route_and_associations_are_fixed_exactly() {
    let (cx, _) = cx();
    let d = describe(vec![table(Some("nat-old"), &["subnet-x"])]);
    let (c, r, rp, a, x) = (create(), route(), replace(), associate(), disassociate());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &r, &rp, &a, &x]);
    route_table::ensure(&client, &cx, &desired(), "vpc-1", &nat(), &subnets())
        .await
        .expect("ensure");
    assert_eq!(
        [
            c.num_calls(),
            r.num_calls(),
            rp.num_calls(),
            a.num_calls(),
            x.num_calls()
        ],
        [0, 0, 1, 1, 1]
    );
}

#[tokio::test]
async fn subnet_associated_elsewhere_is_moved() {
    let (cx, _) = cx();
    let d = describe(vec![table(Some("nat-1"), &[])]);
    let a = mock!(Client::associate_route_table)
        .then_error(|| ec2_err!(AssociateRouteTableError, "Resource.AlreadyAssociated"));
    let other = mock!(Client::describe_route_tables)
        .match_requests(|r| has_filter(r.filters(), "association.subnet-id", "subnet-a"))
        .then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-other")
                        .associations(
                            RouteTableAssociation::builder()
                                .route_table_id("rtb-other")
                                .route_table_association_id("rtbassoc-other")
                                .subnet_id("subnet-a")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let mv = mock!(Client::replace_route_table_association)
        .match_requests(|r| {
            r.association_id() == Some("rtbassoc-other") && r.route_table_id() == Some("rtb-1")
        })
        .then_output(|| {
            ReplaceRouteTableAssociationOutput::builder()
                .new_association_id("rtbassoc-2")
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &other, &a, &mv]);
    route_table::ensure(&client, &cx, &desired(), "vpc-1", &nat(), &subnets())
        .await
        .expect("ensure");
    assert_eq!(mv.num_calls(), 1);
}

#[tokio::test]
async fn route_to_a_not_yet_visible_nat_is_retried() {
    let (cx, _) = cx();
    let (d, c, a) = (describe(vec![]), create(), associate());
    let r = mock!(Client::create_route)
        .sequence()
        .error(|| ec2_err!(CreateRouteError, "InvalidNatGatewayID.NotFound"))
        .output(|| CreateRouteOutput::builder().r#return(true).build())
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &r, &a]);
    route_table::ensure(&client, &cx, &desired(), "vpc-1", &nat(), &subnets())
        .await
        .expect("ensure");
    assert_eq!((c.num_calls(), r.num_calls()), (1, 2));
}

#[tokio::test]
async fn delete_of_absent_table_succeeds() {
    let (cx, _) = cx();
    let d = mock!(Client::describe_route_tables)
        .then_error(|| ec2_err!(DescribeRouteTablesError, "InvalidRouteTableID.NotFound"));
    let del =
        mock!(Client::delete_route_table).then_output(|| DeleteRouteTableOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &del]);
    route_table::delete(&client, &cx, "rtb-gone")
        .await
        .expect("delete");
    assert_eq!(del.num_calls(), 0);
}

#[test]
fn client_token_is_deterministic_per_table_and_vpc() {
    let private = desired();
    let public = RouteTableDesired::new(&owner(), "public");
    assert_eq!(
        private.client_token("vpc-1"),
        desired().client_token("vpc-1")
    );
    assert_ne!(private.client_token("vpc-1"), public.client_token("vpc-1"));
    assert_ne!(private.client_token("vpc-1"), private.client_token("vpc-2"));
    assert!(private.client_token("vpc-0123456789abcdef0123456789").len() <= 64);
}
