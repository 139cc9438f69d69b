//! Runs the database's ensure / ensure / drift / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Sensitive, Spec};
use orchestrate_database::{Client, DatabaseDesired, delete, diff, ensure, find};

fn creds() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

/// A VPC with two subnets and a security group (moto's RDS checks the subnets exist).
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
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.9.1.0/24", "us-east-1a"), ("10.9.2.0/24", "us-east-1b")] {
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
        .group_name("db")
        .description("db")
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
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(creds())
        .build();
    let client = Client::from_conf(config);
    let (subnets, sg) = network(&moto.url()).await;
    let cx = Context::for_tests("motodb");
    let spec = Spec::minimal("motodb", "us-east-1");
    let password = Sensitive::new("MotoPassw0rdOnlyLetters");
    let desired = DatabaseDesired::from_spec(&spec, &subnets, &sg, password.clone());

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert_eq!(first.identifier, "motodb-metadata");
    assert_eq!(first.endpoint.database, "airflow");
    assert_eq!(first.endpoint.port, 5432);
    assert!(
        first.endpoint.host.starts_with("motodb-metadata.") && !first.endpoint.host.contains(':'),
        "{}",
        first.endpoint.host
    );

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
                && t.value() == Some("database/instance")),
        "{tags:?}"
    );

    // Drift: a bigger class and a longer retention in the spec are applied in place.
    let mut bigger = spec.clone();
    bigger.database.instance_class = "db.t4g.medium".into();
    bigger.database.backup_retention_days = 14;
    let drifted = DatabaseDesired::from_spec(&bigger, &subnets, &sg, password.clone());
    let plan = diff(&drifted, &find(&client, &drifted).await.expect("find"));
    assert!(matches!(plan[1].action, Action::Update { .. }), "{plan:?}");
    ensure(&client, &cx, &drifted).await.expect("update");
    let plan = diff(&drifted, &find(&client, &drifted).await.expect("find"));
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );

    // Deletion protection is on by default: delete turns it off, snapshots, deletes.
    delete(&client, &cx, Some("motodb-final".into()))
        .await
        .expect("delete");
    delete(&client, &cx, None).await.expect("delete again");
    let observed = find(&client, &desired).await.expect("find");
    let plan = diff(&desired, &observed);
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
}
