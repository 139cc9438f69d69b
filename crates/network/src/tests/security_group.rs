use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::authorize_security_group_ingress::{
    AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
};
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::delete_security_group::{
    DeleteSecurityGroupError, DeleteSecurityGroupOutput,
};
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput;
use aws_sdk_ec2::types::{IpPermission, SecurityGroup};
use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
use orchestrate_core::Action;

use super::{cx, ec2_err, owner, tagged, tags};
use crate::COMPONENT_SECURITY_GROUP;
use crate::security_group::{
    self, Peer, Rule, SecurityGroupDesired, SgRole, allow_all, flatten, permission,
};

const CIDRS: [&str; 1] = ["203.0.113.0/24"];

fn all() -> Vec<SecurityGroupDesired> {
    SecurityGroupDesired::all(&owner(), &CIDRS.map(String::from))
}

fn ids() -> BTreeMap<SgRole, String> {
    SgRole::ALL
        .iter()
        .map(|r| (*r, format!("sg-{}", r.suffix())))
        .collect()
}

fn tcp(port: i32, peer: Peer) -> Rule {
    Rule {
        protocol: "tcp".into(),
        from_port: Some(port),
        to_port: Some(port),
        peer,
    }
}

fn group(role: SgRole, ingress: &[Rule], egress: &[Rule]) -> SecurityGroup {
    let name = format!("demo-{}", role.suffix());
    SecurityGroup::builder()
        .group_id(format!("sg-{}", role.suffix()))
        .group_name(&name)
        .set_ip_permissions(Some(
            ingress
                .iter()
                .map(|r| permission(r, Some("any text")))
                .collect(),
        ))
        .set_ip_permissions_egress(Some(egress.iter().map(|r| permission(r, None)).collect()))
        .set_tags(Some(tags(COMPONENT_SECURITY_GROUP, &name)))
        .build()
}

/// The groups exactly as desired.
fn converged() -> Vec<SecurityGroup> {
    let ids = ids();
    all()
        .iter()
        .map(|d| {
            let ingress: Vec<Rule> = d.ingress_rules(&ids, &owner()).into_keys().collect();
            let egress: Vec<Rule> = d.egress_rules().into_keys().collect();
            group(d.role, &ingress, &egress)
        })
        .collect()
}

fn describe(groups: Vec<SecurityGroup>) -> MockRule {
    mock!(Client::describe_security_groups).then_compute_output(move |r| {
        let name = r
            .filters()
            .iter()
            .find(|f| f.name() == Some("group-name"))
            .and_then(|f| f.values().first().cloned());
        let found = groups
            .iter()
            .filter(|g| name.is_none() || g.group_name() == name.as_deref())
            .cloned()
            .collect();
        DescribeSecurityGroupsOutput::builder()
            .set_security_groups(Some(found))
            .build()
    })
}

fn create() -> MockRule {
    mock!(Client::create_security_group)
        .match_requests(|r| {
            let name = r.group_name().unwrap_or_default().to_string();
            r.vpc_id() == Some("vpc-1")
                && r.description().is_some_and(|d| !d.is_empty())
                && tagged(r.tag_specifications(), COMPONENT_SECURITY_GROUP, &name)
        })
        .then_compute_output(|r| {
            let suffix = r
                .group_name()
                .unwrap_or_default()
                .trim_start_matches("demo-")
                .to_string();
            CreateSecurityGroupOutput::builder()
                .group_id(format!("sg-{suffix}"))
                .build()
        })
}

type Calls = Arc<Mutex<Vec<(String, String, Vec<Rule>)>>>;

/// Authorize/revoke rules recording (call, group, rules).
fn mutations(calls: &Calls) -> Vec<MockRule> {
    let record = |kind: &'static str, calls: Calls| {
        move |group: Option<&str>, perms: &[IpPermission]| {
            let rules = flatten(perms).into_iter().collect();
            calls.lock().expect("lock").push((
                kind.to_string(),
                group.unwrap_or_default().to_string(),
                rules,
            ));
        }
    };
    let (a, b, c, d) = (
        record("authorize-ingress", calls.clone()),
        record("revoke-ingress", calls.clone()),
        record("authorize-egress", calls.clone()),
        record("revoke-egress", calls.clone()),
    );
    vec![
        mock!(Client::authorize_security_group_ingress).then_compute_output(move |r| {
            a(r.group_id(), r.ip_permissions());
            AuthorizeSecurityGroupIngressOutput::builder().r#return(true).build()
        }),
        mock!(Client::revoke_security_group_ingress).then_compute_output(move |r| {
            b(r.group_id(), r.ip_permissions());
            RevokeSecurityGroupIngressOutput::builder().r#return(true).build()
        }),
        mock!(Client::authorize_security_group_egress).then_compute_output(move |r| {
            c(r.group_id(), r.ip_permissions());
            aws_sdk_ec2::operation::authorize_security_group_egress::AuthorizeSecurityGroupEgressOutput::builder()
                .r#return(true)
                .build()
        }),
        mock!(Client::revoke_security_group_egress).then_compute_output(move |r| {
            d(r.group_id(), r.ip_permissions());
            RevokeSecurityGroupEgressOutput::builder().r#return(true).build()
        }),
    ]
}

#[test]
fn least_privilege_rules() {
    let ids = ids();
    let o = owner();
    let by_role: BTreeMap<SgRole, SecurityGroupDesired> =
        all().into_iter().map(|d| (d.role, d)).collect();
    let ingress =
        |r: SgRole| -> BTreeSet<Rule> { by_role[&r].ingress_rules(&ids, &o).into_keys().collect() };
    let g = |s: &str| Peer::Group(format!("sg-{s}"));
    assert_eq!(
        ingress(SgRole::Alb),
        BTreeSet::from([
            tcp(80, Peer::Cidr(CIDRS[0].into())),
            tcp(443, Peer::Cidr(CIDRS[0].into()))
        ])
    );
    assert_eq!(
        ingress(SgRole::ApiServer),
        BTreeSet::from([tcp(8080, g("alb")), tcp(8080, g("components"))])
    );
    assert_eq!(
        ingress(SgRole::Components),
        BTreeSet::from([Rule {
            protocol: "tcp".into(),
            from_port: Some(8793),
            to_port: Some(8794),
            peer: g("api-server")
        }])
    );
    assert_eq!(
        ingress(SgRole::Database),
        BTreeSet::from([tcp(5432, g("api-server")), tcp(5432, g("components"))])
    );
    assert_eq!(
        ingress(SgRole::Cache),
        BTreeSet::from([tcp(6379, g("api-server")), tcp(6379, g("components"))])
    );
    for role in [SgRole::Database, SgRole::Cache] {
        assert!(
            by_role[&role].egress_rules().is_empty(),
            "{role:?} has no egress"
        );
    }
    for role in [SgRole::Alb, SgRole::ApiServer, SgRole::Components] {
        assert_eq!(
            by_role[&role]
                .egress_rules()
                .into_keys()
                .collect::<Vec<_>>(),
            vec![allow_all()]
        );
    }
}

#[tokio::test]
async fn creates_every_group_then_authorizes_and_revokes_default_egress_of_data_stores() {
    let (cx, _) = cx();
    let calls = Calls::default();
    let (d, c) = (describe(vec![]), create());
    let m = mutations(&calls);
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&d, &c, &m[0], &m[1], &m[2], &m[3]]
    );
    let out = security_group::ensure_all(&client, &cx, &all(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!(out.database, "sg-database");
    assert_eq!(c.num_calls(), 5);
    let calls = calls.lock().expect("lock").clone();
    let revoked_egress: BTreeSet<String> = calls
        .iter()
        .filter(|(k, _, _)| k == "revoke-egress")
        .map(|(_, g, _)| g.clone())
        .collect();
    assert_eq!(
        revoked_egress,
        BTreeSet::from(["sg-database".to_string(), "sg-cache".to_string()])
    );
    assert!(
        calls
            .iter()
            .all(|(k, _, _)| k != "authorize-egress" && k != "revoke-ingress")
    );
    let db = calls
        .iter()
        .find(|(k, g, _)| k == "authorize-ingress" && g == "sg-database")
        .expect("db rules");
    assert_eq!(db.2.len(), 2);
}

#[tokio::test]
async fn converged_groups_make_zero_mutating_calls() {
    let (cx, _) = cx();
    let calls = Calls::default();
    let (d, c) = (describe(converged()), create());
    let m = mutations(&calls);
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&d, &c, &m[0], &m[1], &m[2], &m[3]]
    );
    security_group::ensure_all(&client, &cx, &all(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!(c.num_calls(), 0);
    assert!(calls.lock().expect("lock").is_empty());
    for g in all() {
        let found = security_group::find(&client, "vpc-1", &g.name)
            .await
            .expect("find");
        assert_eq!(
            security_group::diff(&g, found.as_ref(), &ids(), &owner()).action,
            Action::NoChange
        );
    }
}

#[tokio::test]
async fn drifted_rules_are_reconciled_exactly() {
    let (cx, _) = cx();
    let calls = Calls::default();
    let mut groups = converged();
    // The database gained an open rule and an egress rule; the ALB lost its 443 rule.
    let ssh = tcp(22, Peer::Cidr("0.0.0.0/0".into()));
    let db_in = [
        tcp(5432, Peer::Group("sg-api-server".into())),
        tcp(5432, Peer::Group("sg-components".into())),
        ssh.clone(),
    ];
    groups[3] = group(SgRole::Database, &db_in, &[allow_all()]);
    groups[0] = group(
        SgRole::Alb,
        &[tcp(80, Peer::Cidr(CIDRS[0].into()))],
        &[allow_all()],
    );
    let (d, c) = (describe(groups), create());
    let m = mutations(&calls);
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&d, &c, &m[0], &m[1], &m[2], &m[3]]
    );
    security_group::ensure_all(&client, &cx, &all(), "vpc-1")
        .await
        .expect("ensure");
    let mut calls = calls.lock().expect("lock").clone();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            (
                "authorize-ingress".into(),
                "sg-alb".into(),
                vec![tcp(443, Peer::Cidr(CIDRS[0].into()))]
            ),
            (
                "revoke-egress".into(),
                "sg-database".into(),
                vec![allow_all()]
            ),
            ("revoke-ingress".into(), "sg-database".into(), vec![ssh]),
        ]
    );
}

#[tokio::test]
async fn group_not_yet_visible_after_create_is_retried() {
    let (cx, _) = cx();
    let (d, c) = (describe(vec![]), create());
    let a = mock!(Client::authorize_security_group_ingress)
        .sequence()
        .error(|| ec2_err!(AuthorizeSecurityGroupIngressError, "InvalidGroup.NotFound"))
        .output(|| {
            AuthorizeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        })
        .repeatedly()
        .build();
    let e = mock!(Client::revoke_security_group_egress).then_output(|| {
        RevokeSecurityGroupEgressOutput::builder()
            .r#return(true)
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &c, &a, &e]);
    security_group::ensure_all(&client, &cx, &all(), "vpc-1")
        .await
        .expect("ensure");
    assert_eq!(c.num_calls(), 5, "no group created twice");
    assert_eq!(a.num_calls(), 6, "5 groups, one retry");
}

#[tokio::test]
async fn delete_revokes_cross_references_first_and_tolerates_absence() {
    let (cx, _) = cx();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let d = describe(converged());
    let revoke = mock!(Client::revoke_security_group_ingress).then_compute_output(move |r| {
        o1.lock()
            .expect("lock")
            .push(format!("revoke {}", r.group_id().unwrap_or_default()));
        RevokeSecurityGroupIngressOutput::builder().build()
    });
    let del = mock!(Client::delete_security_group).then_compute_response(move |r| {
        o2.lock()
            .expect("lock")
            .push(format!("delete {}", r.group_id().unwrap_or_default()));
        if r.group_id() == Some("sg-cache") {
            aws_smithy_mocks::MockResponse::Error(ec2_err!(
                DeleteSecurityGroupError,
                "InvalidGroup.NotFound"
            ))
        } else {
            aws_smithy_mocks::MockResponse::Output(DeleteSecurityGroupOutput::builder().build())
        }
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&d, &revoke, &del]);
    security_group::delete_all(&client, &cx, "vpc-1")
        .await
        .expect("delete");
    let order = order.lock().expect("lock").clone();
    let first_delete = order
        .iter()
        .position(|o| o.starts_with("delete"))
        .expect("deleted");
    assert!(
        order[..first_delete]
            .iter()
            .all(|o| o.starts_with("revoke"))
    );
    assert_eq!(
        order.iter().filter(|o| o.starts_with("revoke")).count(),
        4,
        "every group with group refs"
    );
    assert_eq!(del.num_calls(), 5);
}
