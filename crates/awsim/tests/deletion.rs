//! Deleting things as AWS allows it, through the real SDK: what awsim refuses that moto
//! accepts (dependencies still in use, repeated deletes, secrets pending deletion, clusters
//! with services) and what moto already refuses as AWS does (pinned here so a moto upgrade
//! that changes it is noticed).

mod common;

use aws_sdk_rds::error::ProvideErrorMetadata;
use awsim::{Awsim, Scenario};

/// The error code of a failed SDK call (panics on success).
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, aws_sdk_rds::error::SdkError<E>>,
) -> String {
    let e = r.expect_err("AWS refuses this");
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_else(|| panic!("a service error: {e:?}"))
        .to_string()
}

async fn start() -> (Awsim, aws_config::SdkConfig) {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    (sim, conf)
}

/// A VPC with two subnets and one security group: (subnets, group id).
async fn network(conf: &aws_config::SdkConfig) -> (Vec<String>, String) {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .availability_zone(*az)
            .cidr_block(format!("10.0.{i}.0/24"))
            .send()
            .await
            .expect("subnet");
        subnets.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
    }
    let group = ec2
        .create_security_group()
        .group_name("db")
        .description("db")
        .vpc_id(vpc_id)
        .send()
        .await
        .expect("security group");
    (subnets, group.group_id().expect("group id").to_string())
}

#[tokio::test]
async fn rds_deletion_follows_aws_rules() {
    let (sim, conf) = start().await;
    let (subnets, group) = network(&conf).await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    rds.create_db_subnet_group()
        .db_subnet_group_name("meta-database")
        .db_subnet_group_description("d")
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await
        .expect("subnet group");
    rds.create_db_instance()
        .db_instance_identifier("meta")
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("airflow")
        .master_user_password("letters0and0digits")
        .db_subnet_group_name("meta-database")
        .vpc_security_group_ids(&group)
        .deletion_protection(true)
        .send()
        .await
        .expect("create db");
    sim.advance(601.0);

    // moto: deletion protection refuses deletion.
    let protected = rds
        .delete_db_instance()
        .db_instance_identifier("meta")
        .skip_final_snapshot(true)
        .send()
        .await;
    assert_eq!(code(protected), "InvalidParameterCombination");
    rds.modify_db_instance()
        .db_instance_identifier("meta")
        .deletion_protection(false)
        .apply_immediately(true)
        .send()
        .await
        .expect("lift protection");

    // awsim: neither a final snapshot nor SkipFinalSnapshot.
    let bare = rds
        .delete_db_instance()
        .db_instance_identifier("meta")
        .send()
        .await;
    assert_eq!(code(bare), "InvalidParameterCombination");

    // In use: the subnet group and the security group cannot go.
    let in_use = rds
        .delete_db_subnet_group()
        .db_subnet_group_name("meta-database")
        .send()
        .await;
    assert_eq!(code(in_use), "InvalidDBSubnetGroupStateFault");
    let sg = ec2.delete_security_group().group_id(&group).send().await;
    assert_eq!(code(sg), "DependencyViolation");

    rds.delete_db_instance()
        .db_instance_identifier("meta")
        .final_db_snapshot_identifier("meta-final-1")
        .send()
        .await
        .expect("delete with a final snapshot");
    let snapshots = rds
        .describe_db_snapshots()
        .db_snapshot_identifier("meta-final-1")
        .send()
        .await
        .expect("final snapshot");
    assert_eq!(snapshots.db_snapshots().len(), 1);

    // Deleting: a second delete is refused, the dependencies still are.
    let again = rds
        .delete_db_instance()
        .db_instance_identifier("meta")
        .skip_final_snapshot(true)
        .send()
        .await;
    assert_eq!(code(again), "InvalidDBInstanceState");
    let in_use = rds
        .delete_db_subnet_group()
        .db_subnet_group_name("meta-database")
        .send()
        .await;
    assert_eq!(code(in_use), "InvalidDBSubnetGroupStateFault");
    let sg = ec2.delete_security_group().group_id(&group).send().await;
    assert_eq!(code(sg), "DependencyViolation");

    // Gone: everything can go.
    sim.advance(301.0);
    let gone = rds
        .describe_db_instances()
        .db_instance_identifier("meta")
        .send()
        .await;
    assert_eq!(code(gone), "DBInstanceNotFound");
    rds.delete_db_subnet_group()
        .db_subnet_group_name("meta-database")
        .send()
        .await
        .expect("subnet group deleted once the instance is gone");
    ec2.delete_security_group()
        .group_id(&group)
        .send()
        .await
        .expect("security group deleted once the instance is gone");
}

#[tokio::test]
async fn elasticache_deletion_follows_aws_rules() {
    let (sim, conf) = start().await;
    let (subnets, group) = network(&conf).await;
    let cache = aws_sdk_elasticache::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    cache
        .create_cache_subnet_group()
        .cache_subnet_group_name("broker-cache")
        .cache_subnet_group_description("d")
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await
        .expect("cache subnet group");
    cache
        .create_replication_group()
        .replication_group_id("broker")
        .replication_group_description("d")
        .engine("valkey")
        .cache_node_type("cache.t4g.micro")
        .cache_subnet_group_name("broker-cache")
        .security_group_ids(&group)
        .send()
        .await
        .expect("replication group");
    let subnets_again = subnets;
    sim.advance(481.0);
    let in_use = cache
        .delete_cache_subnet_group()
        .cache_subnet_group_name("broker-cache")
        .send()
        .await;
    assert_eq!(code(in_use), "CacheSubnetGroupInUse");
    cache
        .delete_replication_group()
        .replication_group_id("broker")
        .send()
        .await
        .expect("delete");
    let again = cache
        .delete_replication_group()
        .replication_group_id("broker")
        .send()
        .await;
    assert_eq!(code(again), "InvalidReplicationGroupState");
    let sg = ec2.delete_security_group().group_id(&group).send().await;
    assert_eq!(code(sg), "DependencyViolation");
    sim.advance(301.0);
    // moto 5.2.1 has no DeleteCacheSubnetGroup: awsim answers it and hides the group.
    cache
        .delete_cache_subnet_group()
        .cache_subnet_group_name("broker-cache")
        .send()
        .await
        .expect("subnet group deleted once the group is gone");
    let gone = cache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("broker-cache")
        .send()
        .await;
    assert_eq!(code(gone), "CacheSubnetGroupNotFoundFault");
    let listed = cache
        .describe_cache_subnet_groups()
        .send()
        .await
        .expect("list");
    assert!(listed.cache_subnet_groups().is_empty());
    let again = cache
        .delete_cache_subnet_group()
        .cache_subnet_group_name("broker-cache")
        .send()
        .await;
    assert_eq!(code(again), "CacheSubnetGroupNotFoundFault");
    // The name can be used again.
    cache
        .create_cache_subnet_group()
        .cache_subnet_group_name("broker-cache")
        .cache_subnet_group_description("d")
        .subnet_ids(&subnets_again[0])
        .send()
        .await
        .expect("created again");
    let listed = cache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("broker-cache")
        .send()
        .await
        .expect("found again");
    assert_eq!(
        listed.cache_subnet_groups()[0].cache_subnet_group_name(),
        Some("broker-cache")
    );
    ec2.delete_security_group()
        .group_id(&group)
        .send()
        .await
        .expect("security group deleted once the group is gone");
}

#[tokio::test]
async fn an_ecs_service_drains_before_it_is_inactive_and_holds_its_cluster() {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
        NetworkMode,
    };
    let (sim, conf) = start().await;
    let (subnets, _) = network(&conf).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    ecs.create_cluster()
        .cluster_name("c1")
        .send()
        .await
        .expect("cluster");
    let td = ecs
        .register_task_definition()
        .family("web")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    let td = td
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string();
    ecs.create_service()
        .cluster("c1")
        .service_name("web")
        .task_definition(&td)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(&subnets[0])
                        .build()
                        .expect("awsvpc"),
                )
                .build(),
        )
        .send()
        .await
        .expect("service");
    sim.advance(60.0);
    let status = || async {
        ecs.describe_services()
            .cluster("c1")
            .services("web")
            .send()
            .await
            .expect("describe")
            .services()[0]
            .status()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(status().await, "ACTIVE");

    // moto: a service still scaled above 0 cannot be deleted without force.
    let scaled = ecs
        .delete_service()
        .cluster("c1")
        .service("web")
        .send()
        .await;
    assert_eq!(code(scaled), "InvalidParameterException");
    let busy = ecs.delete_cluster().cluster("c1").send().await;
    assert_eq!(code(busy), "ClusterContainsServicesException");

    let deleted = ecs
        .delete_service()
        .cluster("c1")
        .service("web")
        .force(true)
        .send()
        .await
        .expect("force delete");
    assert_eq!(deleted.service().and_then(|s| s.status()), Some("DRAINING"));
    assert_eq!(status().await, "DRAINING", "tasks still stopping");
    let busy = ecs.delete_cluster().cluster("c1").send().await;
    assert_eq!(code(busy), "ClusterContainsServicesException");

    sim.advance(11.0); // task_stop = 10 s
    assert_eq!(status().await, "INACTIVE");
    let cluster = ecs
        .delete_cluster()
        .cluster("c1")
        .send()
        .await
        .expect("an empty cluster can go");
    assert_eq!(cluster.cluster().and_then(|c| c.status()), Some("INACTIVE"));

    // The tasks' network interfaces linger `eni_release` (60 s) after they stopped.
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let subnet = ec2.delete_subnet().subnet_id(&subnets[0]).send().await;
    assert_eq!(code(subnet), "DependencyViolation");
    sim.advance(61.0);
    ec2.delete_subnet()
        .subnet_id(&subnets[0])
        .send()
        .await
        .expect("subnet free once the ENIs are released");
}

#[tokio::test]
async fn a_secret_pending_deletion_takes_no_value_and_blocks_its_name_until_restored() {
    let (_sim, conf) = start().await;
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    sm.create_secret()
        .name("app/key")
        .secret_string("v1")
        .send()
        .await
        .expect("create");
    sm.delete_secret()
        .secret_id("app/key")
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("schedule deletion");
    let listed = sm
        .list_secrets()
        .include_planned_deletion(true)
        .send()
        .await
        .expect("list");
    assert!(listed.secret_list()[0].deleted_date().is_some());

    let created = sm
        .create_secret()
        .name("app/key")
        .secret_string("v2")
        .send()
        .await;
    let e = created.expect_err("name still taken");
    let e = e.as_service_error().expect("service error");
    assert_eq!(e.code(), Some("InvalidRequestException"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("scheduled for deletion"))
    );
    let put = sm
        .put_secret_value()
        .secret_id("app/key")
        .secret_string("v2")
        .send()
        .await;
    assert_eq!(code(put), "InvalidRequestException");
    let get = sm.get_secret_value().secret_id("app/key").send().await;
    assert_eq!(code(get), "InvalidRequestException");

    sm.restore_secret()
        .secret_id("app/key")
        .send()
        .await
        .expect("restore");
    let value = sm
        .get_secret_value()
        .secret_id("app/key")
        .send()
        .await
        .expect("value back");
    assert_eq!(value.secret_string(), Some("v1"));
    sm.put_secret_value()
        .secret_id("app/key")
        .secret_string("v2")
        .send()
        .await
        .expect("a restored secret takes values");
}

#[tokio::test]
async fn a_target_group_in_use_by_a_listener_cannot_be_deleted() {
    let (_sim, conf) = start().await;
    let (subnets, _) = network(&conf).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let vpcs = ec2.describe_vpcs().send().await.expect("vpcs");
    let vpc_id = vpcs
        .vpcs()
        .iter()
        .find(|v| v.cidr_block() == Some("10.0.0.0/16"))
        .and_then(|v| v.vpc_id())
        .expect("vpc")
        .to_string();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let lb = elb
        .create_load_balancer()
        .name("lb")
        .set_subnets(Some(subnets))
        .send()
        .await
        .expect("alb");
    let lb = lb.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string();
    let tg = elb
        .create_target_group()
        .name("tg")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc_id)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .expect("target group");
    let tg = tg.target_groups()[0]
        .target_group_arn()
        .expect("arn")
        .to_string();
    elb.create_listener()
        .load_balancer_arn(&lb)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .expect("listener");
    let in_use = elb.delete_target_group().target_group_arn(&tg).send().await;
    assert_eq!(code(in_use), "ResourceInUse");
    elb.delete_load_balancer()
        .load_balancer_arn(&lb)
        .send()
        .await
        .expect("alb deleted with its listeners");
    elb.delete_target_group()
        .target_group_arn(&tg)
        .send()
        .await
        .expect("target group free");
}

#[tokio::test]
async fn a_cloud_map_namespace_with_services_or_a_service_with_instances_stays() {
    let (_sim, conf) = start().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let sd = aws_sdk_servicediscovery::Client::new(&conf);
    sd.create_private_dns_namespace()
        .name("app.internal")
        .vpc(vpc_id)
        .send()
        .await
        .expect("namespace");
    let namespaces = sd.list_namespaces().send().await.expect("namespaces");
    let namespace = namespaces.namespaces()[0].id().expect("id").to_string();
    let service = sd
        .create_service()
        .name("api")
        .namespace_id(&namespace)
        .send()
        .await
        .expect("service");
    let service = service
        .service()
        .and_then(|s| s.id())
        .expect("id")
        .to_string();
    sd.register_instance()
        .service_id(&service)
        .instance_id("task-1")
        .attributes("AWS_INSTANCE_IPV4", "10.0.0.9")
        .send()
        .await
        .expect("instance");

    let busy = sd.delete_namespace().id(&namespace).send().await;
    assert_eq!(code(busy), "ResourceInUse");
    let busy = sd.delete_service().id(&service).send().await;
    assert_eq!(code(busy), "ResourceInUse");
    sd.deregister_instance()
        .service_id(&service)
        .instance_id("task-1")
        .send()
        .await
        .expect("deregister");
    sd.delete_service()
        .id(&service)
        .send()
        .await
        .expect("an empty service can go");
    sd.delete_namespace()
        .id(&namespace)
        .send()
        .await
        .expect("an empty namespace can go");
}

#[tokio::test]
async fn a_security_group_another_group_references_cannot_be_deleted() {
    use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
    let (_sim, conf) = start().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let mut ids = Vec::new();
    for name in ["app", "db"] {
        let group = ec2
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(vpc_id)
            .send()
            .await
            .expect("group");
        ids.push(group.group_id().expect("id").to_string());
    }
    let (app, db) = (&ids[0], &ids[1]);
    let from = |group: &str| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
            .build()
    };
    // db admits app; app admits itself.
    ec2.authorize_security_group_ingress()
        .group_id(db)
        .ip_permissions(from(app))
        .send()
        .await
        .expect("db from app");
    ec2.authorize_security_group_ingress()
        .group_id(app)
        .ip_permissions(from(app))
        .send()
        .await
        .expect("app from itself");

    let referenced = ec2.delete_security_group().group_id(app).send().await;
    assert_eq!(code(referenced), "DependencyViolation");
    ec2.revoke_security_group_ingress()
        .group_id(db)
        .ip_permissions(from(app))
        .send()
        .await
        .expect("revoke");
    ec2.delete_security_group()
        .group_id(app)
        .send()
        .await
        .expect("only a self-reference left");
    ec2.delete_security_group()
        .group_id(db)
        .send()
        .await
        .expect("db");
}
