//! Runs the broker's ensure / ensure / drift / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv`, or `PATH`); a missing
//! `moto_server` fails the test rather than skipping it.

use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};
use orchestrate_cache::{
    CacheDesired, Client, Error, delete_replication_group, diff, ensure, find,
};
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Spec};

fn creds() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

/// A VPC with two subnets and a security group (moto checks the subnets exist).
async fn network(endpoint: &str) -> (Vec<String>, String) {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    let ec2 = aws_sdk_ec2::Client::from_conf(config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.8.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.8.1.0/24", "us-east-1a"), ("10.8.2.0/24", "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
    }
    let sg = ec2
        .create_security_group()
        .group_name("cache")
        .description("cache")
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("sg");
    (subnets, sg.group_id().expect("sg id").to_string())
}

#[tokio::test]
async fn ensure_twice_then_drift_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_elasticache::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(creds())
        .build();
    let client = Client::from_conf(config);
    let (subnets, sg) = network(&moto.url()).await;
    let cx = Context::for_tests("motocache");
    let spec = Spec::minimal("motocache", "us-east-1");
    let desired = CacheDesired::from_spec(&spec, &subnets, &sg);

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert_eq!(first.id, "motocache-broker");
    assert_eq!(first.port, 6379);
    assert!(first.tls);
    assert!(!first.primary_endpoint_host.is_empty());

    let observed = find(&client, &desired).await.expect("find");
    let plan = diff(&desired, &observed);
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert_eq!(first, second);

    // Tags were sent with the create call.
    let tags = client
        .list_tags_for_resource()
        .resource_name(&first.arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tag_list()
            .iter()
            .any(|t| t.key() == Some("orchestrate:component")
                && t.value() == Some("cache/replication-group")),
        "{tags:?}"
    );

    // Drift: a bigger node type is planned as an in-place update. moto 5.2.1 implements no
    // ModifyReplicationGroup (nor ModifyCacheSubnetGroup / DeleteCacheSubnetGroup): it answers
    // an error without a code, which must surface as the modify step's error.
    let mut bigger = spec.clone();
    bigger.cache.node_type = "cache.t4g.small".into();
    let drifted = CacheDesired::from_spec(&bigger, &subnets, &sg);
    let plan = diff(&drifted, &find(&client, &drifted).await.expect("find"));
    assert!(matches!(plan[1].action, Action::Update { .. }), "{plan:?}");
    let err = ensure(&client, &cx, &drifted)
        .await
        .expect_err("moto has no ModifyReplicationGroup");
    assert!(matches!(err, Error::ModifyReplicationGroup(_)), "{err}");

    // moto 5.2.1's DeleteReplicationGroup only sets the status to `deleting`, forever: the
    // wait for "gone" must end in a timeout that names that last state (awsim removes it).
    let err = delete_replication_group(&client, &cx, &first.id)
        .await
        .expect_err("moto never removes the group");
    assert!(
        matches!(&err, Error::NotDeleted { .. })
            && err.to_string().contains("last state: deleting"),
        "{err}"
    );
    // A group being deleted is not adopted by a new `up`.
    let err = ensure(&client, &cx, &desired).await.expect_err("deleting");
    assert!(matches!(err, Error::BeingDeleted { .. }), "{err}");
}
