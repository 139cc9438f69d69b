//! Slow resources (RDS, Valkey, NAT, ALB) and EC2 ClientToken idempotency, through the real SDK.

mod common;

use aws_sdk_rds::error::ProvideErrorMetadata;
use awsim::{Awsim, Scenario};

#[tokio::test]
async fn rds_and_valkey_take_their_scaled_time_to_create_and_delete() {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let cache = aws_sdk_elasticache::Client::new(&conf);

    let created = rds
        .create_db_instance()
        .db_instance_identifier("meta")
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("airflow")
        .master_user_password("letters0and0digits")
        .send()
        .await
        .expect("create db");
    assert_eq!(
        created.db_instance().and_then(|d| d.db_instance_status()),
        Some("creating")
    );
    let status = || async {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier("meta")
            .send()
            .await;
        out.map(|o| {
            o.db_instances()[0]
                .db_instance_status()
                .unwrap_or_default()
                .to_string()
        })
    };
    assert_eq!(status().await.expect("describe"), "creating");
    sim.advance(500.0); // default rds_create = 600 s, last 20 % backing-up
    assert_eq!(status().await.expect("describe"), "backing-up");
    sim.advance(101.0);
    assert_eq!(status().await.expect("describe"), "available");

    rds.delete_db_instance()
        .db_instance_identifier("meta")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        status().await.expect("still there while deleting"),
        "deleting"
    );
    let all = rds
        .describe_db_instances()
        .send()
        .await
        .expect("describe all");
    assert_eq!(all.db_instances().len(), 1, "deleting instance listed");
    sim.advance(301.0);
    let err = status().await.expect_err("gone");
    assert_eq!(err.code(), Some("DBInstanceNotFound"));
    assert!(
        rds.describe_db_instances()
            .send()
            .await
            .expect("all")
            .db_instances()
            .is_empty()
    );

    cache
        .create_replication_group()
        .replication_group_id("broker")
        .replication_group_description("celery broker")
        .engine("valkey")
        .cache_node_type("cache.t4g.micro")
        .num_cache_clusters(1)
        .send()
        .await
        .expect("create rg");
    let rg_status = || async {
        cache
            .describe_replication_groups()
            .replication_group_id("broker")
            .send()
            .await
            .map(|o| {
                o.replication_groups()[0]
                    .status()
                    .unwrap_or_default()
                    .to_string()
            })
    };
    assert_eq!(rg_status().await.expect("describe"), "creating");
    sim.advance(481.0);
    assert_eq!(rg_status().await.expect("describe"), "available");
    cache
        .delete_replication_group()
        .replication_group_id("broker")
        .send()
        .await
        .expect("delete rg");
    assert_eq!(rg_status().await.expect("describe"), "deleting");
    sim.advance(301.0);
    let err = rg_status().await.expect_err("gone");
    assert_eq!(err.code(), Some("ReplicationGroupNotFoundFault"));
    assert!(
        cache
            .describe_replication_groups()
            .send()
            .await
            .expect("all")
            .replication_groups()
            .is_empty()
    );
}

#[tokio::test]
async fn nat_and_alb_provision_over_time_and_client_tokens_replay() {
    let sim = Awsim::start(Scenario::default().with_time_scale(0.5))
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);

    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
        );
    }
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("eip");
    let alloc = eip.allocation_id().expect("alloc").to_string();
    let create_nat = || {
        ec2.create_nat_gateway()
            .subnet_id(&subnets[0])
            .allocation_id(&alloc)
            .client_token("nat-token-1")
            .send()
    };
    let first = create_nat().await.expect("nat");
    let nat = first.nat_gateway().expect("nat gw");
    assert_eq!(nat.state().map(|s| s.as_str()), Some("pending"));
    let nat_id = nat.nat_gateway_id().expect("id").to_string();
    let second = create_nat()
        .await
        .expect("same ClientToken: AWS returns the first gateway");
    assert_eq!(
        second.nat_gateway().and_then(|n| n.nat_gateway_id()),
        Some(nat_id.as_str())
    );

    let nat_state = || async {
        let o = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&nat_id)
            .send()
            .await
            .expect("describe nat");
        o.nat_gateways()[0]
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    };
    assert_eq!(nat_state().await, "pending");
    sim.advance(91.0);
    assert_eq!(nat_state().await, "available");
    ec2.delete_nat_gateway()
        .nat_gateway_id(&nat_id)
        .send()
        .await
        .expect("delete nat");
    assert_eq!(nat_state().await, "deleting");
    // While it is deleting, the NAT still holds its subnet and Elastic IP, as on AWS.
    let err = ec2
        .delete_subnet()
        .subnet_id(&subnets[0])
        .send()
        .await
        .expect_err("subnet in use");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("DependencyViolation")
    );
    let err = ec2
        .release_address()
        .allocation_id(&alloc)
        .send()
        .await
        .expect_err("eip in use");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidIPAddress.InUse")
    );
    sim.advance(61.0);
    assert_eq!(nat_state().await, "deleted");
    ec2.release_address()
        .allocation_id(&alloc)
        .send()
        .await
        .expect("released once the NAT is deleted");

    let lb = elb
        .create_load_balancer()
        .name("orchestrate-alb")
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("alb");
    let lb = lb.load_balancers()[0].clone();
    assert_eq!(
        lb.state().and_then(|s| s.code()).map(|c| c.as_str()),
        Some("provisioning")
    );
    let arn = lb.load_balancer_arn().expect("arn").to_string();
    let lb_state = || async {
        let o = elb
            .describe_load_balancers()
            .load_balancer_arns(&arn)
            .send()
            .await
            .expect("describe lb");
        o.load_balancers()[0]
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        lb_state().await,
        "provisioning",
        "moto alone would say active here"
    );
    sim.advance(151.0);
    assert_eq!(lb_state().await, "active");

    let s = sim.summary();
    assert_eq!(s.count("ec2", "CreateNatGateway"), 2);
    assert_eq!(s.count("elasticloadbalancing", "DescribeLoadBalancers"), 2);
}

#[tokio::test]
async fn elb_creates_are_idempotent_until_a_delete_and_cloud_map_honours_creator_request_id() {
    let sim = Awsim::start(Scenario::default().with_time_scale(0.5))
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
        );
    }
    let create = || {
        elb.create_load_balancer()
            .name("idem-alb")
            .set_subnets(Some(subnets.clone()))
            .send()
    };
    let arn_of = |o: aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerOutput| {
        o.load_balancers()[0]
            .load_balancer_arn()
            .expect("arn")
            .to_string()
    };
    let first = arn_of(create().await.expect("create"));
    let again = arn_of(create().await.expect("the same request succeeds"));
    assert_eq!(first, again, "AWS answers with the first load balancer");
    let all = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("describe");
    assert_eq!(all.load_balancers().len(), 1, "one load balancer, not two");
    elb.delete_load_balancer()
        .load_balancer_arn(&first)
        .send()
        .await
        .expect("delete");
    let fresh = arn_of(create().await.expect("create after delete"));
    assert_ne!(fresh, first, "after a delete the same request creates anew");

    let sd = aws_sdk_servicediscovery::Client::new(&conf);
    let namespace = |token: &'static str| {
        sd.create_private_dns_namespace()
            .name("idem.internal")
            .vpc(&vpc_id)
            .creator_request_id(token)
            .send()
    };
    let a = namespace("ns-token-1").await.expect("namespace");
    let b = namespace("ns-token-1").await.expect("same token");
    assert_eq!(
        a.operation_id(),
        b.operation_id(),
        "the first operation again"
    );
}
