use aws_sdk_elasticache::operation::create_cache_subnet_group::CreateCacheSubnetGroupOutput;
use aws_sdk_elasticache::operation::create_replication_group::{
    CreateReplicationGroupError, CreateReplicationGroupOutput,
};
use aws_sdk_elasticache::operation::delete_cache_subnet_group::{
    DeleteCacheSubnetGroupError, DeleteCacheSubnetGroupOutput,
};
use aws_sdk_elasticache::operation::delete_replication_group::{
    DeleteReplicationGroupError, DeleteReplicationGroupOutput,
};
use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
use aws_sdk_elasticache::operation::describe_cache_subnet_groups::{
    DescribeCacheSubnetGroupsError, DescribeCacheSubnetGroupsOutput,
};
use aws_sdk_elasticache::operation::describe_replication_groups::{
    DescribeReplicationGroupsError, DescribeReplicationGroupsOutput,
};
use aws_sdk_elasticache::operation::modify_cache_subnet_group::ModifyCacheSubnetGroupOutput;
use aws_sdk_elasticache::operation::modify_replication_group::ModifyReplicationGroupOutput;
use aws_sdk_elasticache::types::{
    CacheCluster, CacheSubnetGroup, Endpoint, NodeGroup, ReplicationGroup, SecurityGroupMembership,
    Subnet, TransitEncryptionMode,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};

use super::*;

const ID: &str = "demo-broker";
const GROUP: &str = "demo-cache";
const SG: &str = "sg-0cache";
const HOST: &str = "master.demo-broker.abc.use1.cache.amazonaws.com";

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} happened"))
        .build()
}

fn desired_with(f: impl FnOnce(&mut Spec)) -> CacheDesired {
    let mut spec = Spec::minimal("demo", "us-east-1");
    f(&mut spec);
    CacheDesired::from_spec(&spec, &["subnet-a".into(), "subnet-b".into()], SG)
}

fn desired() -> CacheDesired {
    desired_with(|_| {})
}

fn subnet_group() -> CacheSubnetGroup {
    CacheSubnetGroup::builder()
        .cache_subnet_group_name(GROUP)
        .arn(format!(
            "arn:aws:elasticache:us-east-1:1:subnetgroup:{GROUP}"
        ))
        .vpc_id("vpc-1")
        .subnets(Subnet::builder().subnet_identifier("subnet-a").build())
        .subnets(Subnet::builder().subnet_identifier("subnet-b").build())
        .build()
}

/// A replication group as [`desired`] wants it, in `status`.
fn group(status: &str) -> aws_sdk_elasticache::types::builders::ReplicationGroupBuilder {
    let b = ReplicationGroup::builder()
        .replication_group_id(ID)
        .arn(format!(
            "arn:aws:elasticache:us-east-1:1:replicationgroup:{ID}"
        ))
        .status(status)
        .cache_node_type("cache.t4g.micro")
        .engine("valkey")
        .transit_encryption_enabled(true)
        .at_rest_encryption_enabled(true)
        .member_clusters(format!("{ID}-001"));
    if status == "available" {
        b.node_groups(
            NodeGroup::builder()
                .node_group_id("0001")
                .primary_endpoint(Endpoint::builder().address(HOST).port(6379).build())
                .build(),
        )
    } else {
        b
    }
}

fn cluster(version: &str, sg: &str) -> DescribeCacheClustersOutput {
    DescribeCacheClustersOutput::builder()
        .cache_clusters(
            CacheCluster::builder()
                .cache_cluster_id(format!("{ID}-001"))
                .engine("valkey")
                .engine_version(version)
                .cache_node_type("cache.t4g.micro")
                .security_groups(
                    SecurityGroupMembership::builder()
                        .security_group_id(sg)
                        .status("active")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn described(g: ReplicationGroup) -> DescribeReplicationGroupsOutput {
    DescribeReplicationGroupsOutput::builder()
        .replication_groups(g)
        .build()
}

fn subnet_group_found() -> Rule {
    mock!(Client::describe_cache_subnet_groups).then_output(|| {
        DescribeCacheSubnetGroupsOutput::builder()
            .cache_subnet_groups(subnet_group())
            .build()
    })
}

fn cluster_rule(version: &'static str, sg: &'static str) -> Rule {
    mock!(Client::describe_cache_clusters).then_output(move || cluster(version, sg))
}

struct Mutations {
    create_group: Rule,
    modify_group: Rule,
    create: Rule,
    modify: Rule,
}

impl Mutations {
    fn new() -> Self {
        Self {
            create_group: mock!(Client::create_cache_subnet_group)
                .then_output(|| CreateCacheSubnetGroupOutput::builder().build()),
            modify_group: mock!(Client::modify_cache_subnet_group)
                .then_output(|| ModifyCacheSubnetGroupOutput::builder().build()),
            create: mock!(Client::create_replication_group)
                .then_output(|| CreateReplicationGroupOutput::builder().build()),
            modify: mock!(Client::modify_replication_group)
                .then_output(|| ModifyReplicationGroupOutput::builder().build()),
        }
    }

    fn total(&self) -> usize {
        self.create_group.num_calls()
            + self.modify_group.num_calls()
            + self.create.num_calls()
            + self.modify.num_calls()
    }
}

#[tokio::test]
async fn creates_subnet_group_and_encrypted_valkey_with_tags_then_waits() {
    let cx = Context::for_tests("demo");
    let sg_describe = mock!(Client::describe_cache_subnet_groups).then_error(|| {
        DescribeCacheSubnetGroupsError::generic(meta("CacheSubnetGroupNotFoundFault"))
    });
    let create_group = mock!(Client::create_cache_subnet_group)
        .match_requests(|r| {
            r.cache_subnet_group_name() == Some(GROUP)
                && r.subnet_ids() == ["subnet-a", "subnet-b"]
                && r.tags().iter().any(|t| {
                    t.key() == Some(TAG_COMPONENT) && t.value() == Some(subnet_group::COMPONENT)
                })
        })
        .then_output(|| {
            CreateCacheSubnetGroupOutput::builder()
                .cache_subnet_group(subnet_group())
                .build()
        });
    let describe = mock!(Client::describe_replication_groups)
        .sequence()
        .error(|| DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault")))
        .times(2)
        .output(|| described(group("creating").build()))
        .output(|| described(group("available").build()))
        .repeatedly()
        .build();
    let clusters = cluster_rule("8.0.1", SG);
    let create = mock!(Client::create_replication_group)
        .match_requests(|r| {
            let tag = |k: &str| {
                r.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .map(str::to_string)
            };
            r.replication_group_id() == Some(ID)
                && r.engine() == Some("valkey")
                && r.engine_version() == Some("8.0")
                && r.cache_node_type() == Some("cache.t4g.micro")
                && r.num_cache_clusters() == Some(1)
                && r.automatic_failover_enabled() == Some(false)
                && r.multi_az_enabled() == Some(false)
                && r.transit_encryption_enabled() == Some(true)
                && r.transit_encryption_mode() == Some(&TransitEncryptionMode::Required)
                && r.at_rest_encryption_enabled() == Some(true)
                && r.security_group_ids() == [SG]
                && r.cache_subnet_group_name() == Some(GROUP)
                && r.port() == Some(6379)
                && r.replication_group_description()
                    .is_some_and(|d| !d.is_empty())
                && tag(TAG_DEPLOYMENT).as_deref() == Some("demo")
                && tag(TAG_COMPONENT).as_deref() == Some(replication_group::COMPONENT)
        })
        .then_output(|| CreateReplicationGroupOutput::builder().build());
    let modify = Mutations::new().modify;
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [
            &sg_describe,
            &create_group,
            &describe,
            &clusters,
            &create,
            &modify
        ]
    );

    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create_group.num_calls(), 1);
    assert_eq!(create.num_calls(), 1, "exactly one create, no duplicate");
    assert_eq!(modify.num_calls(), 0);
    assert_eq!(out.primary_endpoint_host, HOST);
    assert_eq!(out.port, 6379);
    assert!(out.tls);
    assert_eq!(out.id, ID);
    assert_eq!(
        out.broker_url(),
        format!("rediss://{HOST}:6379/0?ssl_cert_reqs=required")
    );
}

#[tokio::test]
async fn replicas_enable_failover_and_multi_az_and_no_tls_sends_no_mode() {
    let cx = Context::for_tests("demo");
    let d = desired_with(|s| {
        s.cache.replicas = 2;
        s.cache.tls = false;
    });
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .sequence()
        .error(|| DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault")))
        .output(|| {
            described(
                group("available")
                    .transit_encryption_enabled(false)
                    .member_clusters(format!("{ID}-002"))
                    .member_clusters(format!("{ID}-003"))
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let clusters = cluster_rule("8.0.1", SG);
    let create = mock!(Client::create_replication_group)
        .match_requests(|r| {
            r.num_cache_clusters() == Some(3)
                && r.automatic_failover_enabled() == Some(true)
                && r.multi_az_enabled() == Some(true)
                && r.transit_encryption_enabled() == Some(false)
                && r.transit_encryption_mode().is_none()
                && r.at_rest_encryption_enabled() == Some(true)
        })
        .then_output(|| CreateReplicationGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&g, &describe, &clusters, &create]
    );
    let out = ensure(&client, &cx, &d).await.expect("ensure");
    assert_eq!(create.num_calls(), 1);
    assert!(!out.tls);
    assert_eq!(out.broker_url(), format!("redis://{HOST}:6379/0"));
}

#[tokio::test]
async fn existing_matching_broker_is_adopted_with_zero_mutating_calls() {
    let cx = Context::for_tests("demo");
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .then_output(|| described(group("available").build()));
    // 8.0.1 is what AWS reports for the spec's 8.0: not drift.
    let clusters = cluster_rule("8.0.1", SG);
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &clusters,
            &m.create_group,
            &m.modify_group,
            &m.create,
            &m.modify
        ]
    );
    ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(m.total(), 0);
    let plan = diff(&desired(), &find(&client, &desired()).await.expect("find"));
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
}

#[tokio::test]
async fn a_group_described_without_its_node_type_is_an_error_and_nothing_is_modified() {
    let cx = Context::for_tests("demo");
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups).then_output(|| {
        let mut group = group("available").build();
        group.cache_node_type = None;
        described(group)
    });
    let clusters = cluster_rule("8.0.1", SG);
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &clusters,
            &m.create_group,
            &m.modify_group,
            &m.create,
            &m.modify
        ]
    );
    let err = ensure(&client, &cx, &desired())
        .await
        .expect_err("no node type in the answer");
    assert_eq!(
        orchestrate_core::Classify::kind(&err),
        orchestrate_core::ErrorKind::Internal,
        "{err}"
    );
    assert!(
        matches!(&err, Error::DescribeReplicationGroup(e) if e.code == orchestrate_aws::INCOMPLETE_ANSWER),
        "{err:?}"
    );
    assert!(err.to_string().contains("CacheNodeType"), "{err}");
    assert_eq!(
        m.total(),
        0,
        "a made-up node type must not start a modification"
    );
}

#[tokio::test]
async fn drifted_security_group_and_version_are_modified_in_place() {
    let cx = Context::for_tests("demo");
    let d = desired_with(|s| s.cache.engine_version = "8.1".into());
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .then_output(|| described(group("available").build()));
    let clusters = mock!(Client::describe_cache_clusters)
        .sequence()
        .output(|| cluster("8.0.1", "sg-other"))
        .times(2)
        .output(|| cluster("8.1.0", SG))
        .repeatedly()
        .build();
    let modify = mock!(Client::modify_replication_group)
        .match_requests(|r| {
            r.apply_immediately() == Some(true)
                && r.engine_version() == Some("8.1")
                && r.security_group_ids() == [SG]
                && r.cache_node_type().is_none()
                && r.engine().is_none()
                && r.transit_encryption_enabled().is_none()
        })
        .then_output(|| ModifyReplicationGroupOutput::builder().build());
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&g, &describe, &clusters, &modify, &m.create]
    );
    let plan = diff(&d, &find(&client, &d).await.expect("find"));
    assert!(
        matches!(&plan[1].action, Action::Update { fields } if fields.len() == 2),
        "{plan:?}"
    );
    ensure(&client, &cx, &d).await.expect("ensure");
    assert_eq!(modify.num_calls(), 1);
    assert_eq!(m.create.num_calls(), 0);
}

#[tokio::test]
async fn tls_change_is_a_clear_replacement_error_with_no_mutation() {
    let cx = Context::for_tests("demo");
    let d = desired_with(|s| s.cache.tls = false);
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .then_output(|| described(group("available").at_rest_encryption_enabled(false).build()));
    let clusters = cluster_rule("8.0.1", SG);
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &clusters,
            &m.create_group,
            &m.modify_group,
            &m.create,
            &m.modify
        ]
    );
    let plan = diff(&d, &find(&client, &d).await.expect("find"));
    assert!(
        plan[1].to_string().contains("(requires replacement)"),
        "{}",
        plan[1]
    );
    let err = ensure(&client, &cx, &d).await.expect_err("replacement");
    let shown = err.to_string();
    assert!(matches!(err, Error::ReplacementNeeded { .. }), "{shown}");
    assert!(
        shown.contains("TransitEncryptionEnabled (true -> false)"),
        "{shown}"
    );
    assert!(shown.contains("AtRestEncryptionEnabled"), "{shown}");
    assert!(shown.contains("must be replaced"), "{shown}");
    assert_eq!(m.total(), 0);
}

#[tokio::test]
async fn lost_create_response_is_adopted_not_duplicated() {
    let cx = Context::for_tests("demo");
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .sequence()
        .error(|| DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault")))
        .times(2)
        .output(|| described(group("creating").build()))
        .output(|| described(group("available").build()))
        .repeatedly()
        .build();
    let clusters = cluster_rule("8.0.1", SG);
    let create = mock!(Client::create_replication_group)
        .then_error(|| CreateReplicationGroupError::generic(meta("ReplicationGroupAlreadyExists")));
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&g, &describe, &clusters, &create, &m.modify]
    );
    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(m.modify.num_calls(), 0);
    assert_eq!(out.primary_endpoint_host, HOST);
}

#[tokio::test]
async fn create_failed_ends_the_wait_and_configuration_endpoint_is_a_fallback() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_replication_groups)
        .then_output(|| described(group("create-failed").build()));
    let clusters = cluster_rule("8.0.1", SG);
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &clusters]
    );
    let err = wait_available(&client, &cx, ID).await.expect_err("failed");
    assert!(err.to_string().contains("create-failed"), "{err}");

    let observed = replication_group::ReplicationGroupObserved {
        id: ID.into(),
        host: None,
        ..Default::default()
    };
    assert!(lifecycle::outputs(&observed).is_err());
    let cfg = group("available")
        .set_node_groups(None)
        .configuration_endpoint(Endpoint::builder().address("cfg.host").port(6379).build())
        .build();
    let describe =
        mock!(Client::describe_replication_groups).then_output(move || described(cfg.clone()));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &clusters]
    );
    let out = wait_available(&client, &cx, ID).await.expect("available");
    assert_eq!(out.primary_endpoint_host, "cfg.host");
}

#[tokio::test]
async fn delete_of_absent_broker_succeeds() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_replication_groups).then_error(|| {
        DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault"))
    });
    let delete_rg = mock!(Client::delete_replication_group)
        .then_error(|| DeleteReplicationGroupError::generic(meta("ReplicationGroupNotFoundFault")));
    let delete_group = mock!(Client::delete_cache_subnet_group)
        .then_error(|| DeleteCacheSubnetGroupError::generic(meta("CacheSubnetGroupNotFoundFault")));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &delete_rg, &delete_group]
    );
    delete(&client, &cx).await.expect("delete");
    assert_eq!(delete_rg.num_calls(), 0);
    assert_eq!(delete_group.num_calls(), 1);
}

#[tokio::test]
async fn delete_waits_until_gone_then_removes_the_subnet_group() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_replication_groups)
        .sequence()
        .output(|| described(group("available").build()))
        .output(|| described(group("deleting").build()))
        .times(2)
        .error(|| DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault")))
        .repeatedly()
        .build();
    let clusters = cluster_rule("8.0.1", SG);
    let delete_rg = mock!(Client::delete_replication_group)
        .match_requests(|r| {
            r.replication_group_id() == Some(ID) && r.retain_primary_cluster() == Some(false)
        })
        .then_output(|| DeleteReplicationGroupOutput::builder().build());
    // Still in use once (nodes finishing), then deleted.
    let delete_group = mock!(Client::delete_cache_subnet_group)
        .sequence()
        .error(|| DeleteCacheSubnetGroupError::generic(meta("CacheSubnetGroupInUse")))
        .output(|| DeleteCacheSubnetGroupOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &clusters, &delete_rg, &delete_group]
    );
    delete(&client, &cx).await.expect("delete");
    assert_eq!(delete_rg.num_calls(), 1);
    assert_eq!(delete_group.num_calls(), 2);
    assert_eq!(describe.num_calls(), 4);
}

#[tokio::test]
async fn engine_upgrade_and_node_type_change_go_in_two_requests() {
    let cx = Context::for_tests("demo");
    let d = desired_with(|s| {
        s.cache.engine_version = "8.1".into();
        s.cache.node_type = "cache.t4g.small".into();
    });
    let g = subnet_group_found();
    let describe = mock!(Client::describe_replication_groups)
        .sequence()
        .output(|| described(group("available").build()))
        .times(3)
        .output(|| {
            described(
                group("available")
                    .cache_node_type("cache.t4g.small")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let clusters = mock!(Client::describe_cache_clusters)
        .sequence()
        .output(|| cluster("8.0.1", SG))
        .output(|| cluster("8.1.0", SG))
        .repeatedly()
        .build();
    let engine = mock!(Client::modify_replication_group)
        .match_requests(|r| r.engine_version() == Some("8.1") && r.cache_node_type().is_none())
        .then_output(|| ModifyReplicationGroupOutput::builder().build());
    let node_type = mock!(Client::modify_replication_group)
        .match_requests(|r| {
            r.cache_node_type() == Some("cache.t4g.small") && r.engine_version().is_none()
        })
        .then_output(|| ModifyReplicationGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&g, &describe, &clusters, &engine, &node_type]
    );
    ensure(&client, &cx, &d).await.expect("ensure");
    assert_eq!(engine.num_calls(), 1);
    assert_eq!(node_type.num_calls(), 1);
}
