//! Bring your own network end to end: a VPC, subnets, gateways and routes made beforehand in
//! the emulator with the AWS SDK (as a networking team would), then `orchestrate` given
//! `[network] vpc_id` and the subnet lists. Checked independently through the AWS SDK and
//! the emulator's call accounting: orchestrate creates no network resource (only its security
//! groups), a second `up` makes no mutating call, `teardown all` leaves the network intact,
//! and networks that cannot carry a deployment are refused with exit 2 before any change.

mod common;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VpcEndpointType};
use awsim::Scenario;
use common::{Run, World};

const REGION: &str = "us-east-1";

/// The network a team owns, made with the SDK.
struct Network {
    vpc: String,
    private: Vec<String>,
    public: Vec<String>,
    igw: String,
    nat: String,
    private_table: String,
    public_table: String,
}

fn team_tag(kind: ResourceType) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key("owner").value("network-team").build())
        .build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn vpc(ec2: &Client, cidr: &str) -> String {
    let id = ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(team_tag(ResourceType::Vpc))
        .send()
        .await
        .expect("create vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    for (support, hostnames) in [(true, false), (false, true)] {
        let call = ec2.modify_vpc_attribute().vpc_id(&id);
        let call = if support {
            call.enable_dns_support(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
        } else {
            call.enable_dns_hostnames(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(hostnames)
                    .build(),
            )
        };
        call.send().await.expect("dns attributes");
    }
    id
}

async fn subnet(ec2: &Client, vpc: &str, cidr: &str, zone: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(team_tag(ResourceType::Subnet))
        .send()
        .await
        .expect("create subnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_string()
}

async fn route_table(ec2: &Client, vpc: &str, subnets: &[String]) -> String {
    let id = ec2
        .create_route_table()
        .vpc_id(vpc)
        .send()
        .await
        .expect("create route table")
        .route_table()
        .and_then(|t| t.route_table_id())
        .expect("route table id")
        .to_string();
    for s in subnets {
        ec2.associate_route_table()
            .route_table_id(&id)
            .subnet_id(s)
            .send()
            .await
            .expect("associate");
    }
    id
}

/// A VPC with private and public subnets in `private_zones` / `public_zones`, an internet
/// gateway and public routes, and — with `nat` — a NAT gateway the private subnets route to.
async fn make_network(
    ec2: &Client,
    cidr_base: u8,
    private_zones: [&str; 2],
    public_zones: [&str; 2],
    nat: bool,
) -> Network {
    let vpc = vpc(ec2, &format!("10.{cidr_base}.0.0/16")).await;
    let mut private = Vec::new();
    for (i, zone) in private_zones.iter().enumerate() {
        private.push(subnet(ec2, &vpc, &format!("10.{cidr_base}.{}.0/20", i * 16), zone).await);
    }
    let mut public = Vec::new();
    for (i, zone) in public_zones.iter().enumerate() {
        public.push(
            subnet(
                ec2,
                &vpc,
                &format!("10.{cidr_base}.{}.0/20", 32 + i * 16),
                zone,
            )
            .await,
        );
    }
    let igw = ec2
        .create_internet_gateway()
        .tag_specifications(team_tag(ResourceType::InternetGateway))
        .send()
        .await
        .expect("igw")
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("attach igw");
    let public_table = route_table(ec2, &vpc, &public).await;
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("public route");
    let private_table = route_table(ec2, &vpc, &private).await;
    let mut nat_id = String::new();
    if nat {
        let allocation = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("eip")
            .allocation_id()
            .expect("allocation id")
            .to_string();
        nat_id = ec2
            .create_nat_gateway()
            .subnet_id(&public[0])
            .allocation_id(allocation)
            .send()
            .await
            .expect("nat")
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .expect("nat id")
            .to_string();
        ec2.create_route()
            .route_table_id(&private_table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat_id)
            .send()
            .await
            .expect("private route");
    }
    Network {
        vpc,
        private,
        public,
        igw,
        nat: nat_id,
        private_table,
        public_table,
    }
}

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The test spec, deploying into `vpc` with `private` and `public` subnets.
fn spec(vpc: &str, private: &[String], public: &[String]) -> String {
    format!(
        r#"
[deployment]
name = "e2e"
region = "{REGION}"

[network]
vpc_id = "{vpc}"
private_subnet_ids = [{}]
public_subnet_ids = [{}]

[git_sync]
repo = "https://github.com/example-org/airflow-dags.git"
subpath = "dags"
"#,
        quoted(private),
        quoted(public)
    )
}

/// Everything in the account that describes a network, as sorted ids: VPCs, subnets,
/// internet gateways, live NAT gateways, route tables (with their routes and associations),
/// Elastic IPs and VPC endpoints.
async fn network_snapshot(ec2: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    let vpcs = ec2.describe_vpcs().send().await.expect("vpcs");
    ids.extend(vpcs.vpcs().iter().map(|v| format!("{v:?}")));
    let subnets = ec2.describe_subnets().send().await.expect("subnets");
    ids.extend(
        subnets
            .subnets()
            .iter()
            .map(|s| format!("{:?} {:?}", s.subnet_id(), s.vpc_id())),
    );
    let igws = ec2.describe_internet_gateways().send().await.expect("igws");
    ids.extend(igws.internet_gateways().iter().map(|g| format!("{g:?}")));
    let nats = ec2.describe_nat_gateways().send().await.expect("nats");
    ids.extend(
        nats.nat_gateways()
            .iter()
            // Its state is left out: a NAT gateway created just before becomes available on
            // its own while the run goes on. Deleted is what matters, and that shows.
            .map(|n| {
                let deleted = matches!(
                    n.state(),
                    Some(aws_sdk_ec2::types::NatGatewayState::Deleted)
                        | Some(aws_sdk_ec2::types::NatGatewayState::Deleting)
                );
                format!("{:?} deleted={deleted}", n.nat_gateway_id())
            }),
    );
    let tables = ec2.describe_route_tables().send().await.expect("tables");
    ids.extend(tables.route_tables().iter().map(|t| {
        format!(
            "{:?} {:?} {:?}",
            t.route_table_id(),
            t.routes(),
            t.associations()
                .iter()
                .map(|a| (a.subnet_id(), a.main()))
                .collect::<Vec<_>>()
        )
    }));
    let eips = ec2.describe_addresses().send().await.expect("eips");
    ids.extend(
        eips.addresses()
            .iter()
            .map(|a| format!("{:?}", a.allocation_id())),
    );
    let endpoints = ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .expect("endpoints");
    ids.extend(
        endpoints
            .vpc_endpoints()
            .iter()
            .map(|e| format!("{:?}", e.vpc_endpoint_id())),
    );
    ids.sort();
    ids
}

/// orchestrate's security groups (tagged with the deployment) in `vpc`.
async fn own_security_groups(ec2: &Client, vpc: &str) -> Vec<String> {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc))
        .filters(filter("tag:orchestrate:deployment", "e2e"))
        .send()
        .await
        .expect("security groups");
    let mut names: Vec<String> = out
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// EC2 mutating calls of the run that are not about security groups (orchestrate's own).
fn network_mutations(world: &World) -> Vec<String> {
    world
        .applied_mutations()
        .into_iter()
        .filter(|c| c.starts_with("ec2:") && !c.contains("SecurityGroup"))
        .collect()
}

/// Every mutating call (the lease's included) since the last accounting reset.
fn any_mutation(world: &World) -> Vec<String> {
    world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating)
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

fn assert_refused(run: &Run, world: &World, needles: &[&str]) {
    run.expect_code(2);
    let shown = run.all();
    for needle in needles {
        assert!(shown.contains(needle), "expected {needle:?} in {shown}");
    }
    assert!(shown.contains("fix:"), "no fix in {shown}");
    assert_eq!(any_mutation(world), Vec::<String>::new(), "{shown}");
}

#[tokio::test]
async fn an_existing_network_is_used_never_created_changed_or_deleted() {
    let world = World::start("", Scenario::default()).await;
    let sdk = world.sdk().await;
    let ec2 = Client::new(&sdk);
    let net = make_network(
        &ec2,
        50,
        ["us-east-1a", "us-east-1b"],
        ["us-east-1a", "us-east-1b"],
        true,
    )
    .await;
    std::fs::write(&world.spec, spec(&net.vpc, &net.private, &net.public)).expect("spec");
    world.run(&["validate"]).await.expect_code(0);
    let before = network_snapshot(&ec2).await;

    // plan: the network shown as existing, only the security groups to create.
    world.sim.reset_accounting();
    let plan = world.run(&["plan", "--phase", "1"]).await;
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains(&format!("{} (existing, not managed)", net.vpc)),
        "{}",
        plan.all()
    );
    assert_eq!(any_mutation(&world), Vec::<String>::new());

    // up --phase 1: no network resource created, only orchestrate's security groups.
    world.sim.reset_accounting();
    let up = world.run(&["up", "--phase", "1"]).await;
    up.expect_code(0);
    assert_eq!(
        network_mutations(&world),
        Vec::<String>::new(),
        "{}",
        up.all()
    );
    // The accounting saw orchestrate's own EC2 calls: the check above is not vacuous.
    assert!(
        world
            .applied_mutations()
            .contains(&"ec2:CreateSecurityGroup".to_string()),
        "{:?}",
        world.applied_mutations()
    );
    assert_eq!(network_snapshot(&ec2).await, before, "the network changed");
    assert_eq!(
        own_security_groups(&ec2, &net.vpc).await,
        [
            "e2e-alb",
            "e2e-api-server",
            "e2e-cache",
            "e2e-components",
            "e2e-database"
        ]
    );
    let tagged_vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:orchestrate:deployment", "e2e"))
        .send()
        .await
        .expect("vpcs");
    assert!(tagged_vpcs.vpcs().is_empty(), "orchestrate made a VPC");

    // RDS and Valkey subnet groups use the private subnets.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let groups = rds
        .describe_db_subnet_groups()
        .send()
        .await
        .expect("db subnet groups");
    let group = groups
        .db_subnet_groups()
        .iter()
        .find(|g| {
            g.db_subnet_group_name()
                .is_some_and(|n| n.starts_with("e2e"))
        })
        .expect("the deployment's DB subnet group");
    assert_eq!(group.vpc_id(), Some(net.vpc.as_str()));
    let mut db_subnets: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    db_subnets.sort();
    let mut private = net.private.clone();
    private.sort();
    assert_eq!(db_subnets, private);

    // The lock file records the subnets' zones.
    let lock = std::fs::read_to_string(world.dir.path().join("orchestrate.lock")).expect("lock");
    assert!(
        lock.contains("\"us-east-1a\"") && lock.contains("\"us-east-1b\""),
        "{lock}"
    );

    // status shows the network as existing.
    let status = world.run(&["status"]).await;
    assert!(
        status.stdout.contains("existing (not managed)"),
        "{}",
        status.all()
    );

    // A second up makes no mutating call.
    world.sim.reset_accounting();
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    assert_eq!(world.resource_mutations(), Vec::<String>::new());
    let ec2_calls = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.service == "ec2")
        .count();
    eprintln!(
        "converged up --phase 1 into an existing network: {:?}, of which EC2 {ec2_calls}",
        world.sim.summary()
    );

    // The whole deployment: the ALB in the public subnets, the services in the private ones.
    world.sim.reset_accounting();
    let full = world.run(&["up"]).await;
    full.expect_code(0);
    assert_eq!(
        network_mutations(&world),
        Vec::<String>::new(),
        "{}",
        full.all()
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let albs = elb.describe_load_balancers().send().await.expect("albs");
    let alb = albs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name().is_some_and(|n| n.starts_with("e2e")))
        .expect("the ALB");
    assert_eq!(alb.vpc_id(), Some(net.vpc.as_str()));
    let mut alb_subnets: Vec<String> = alb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    alb_subnets.sort();
    let mut public = net.public.clone();
    public.sort();
    assert_eq!(alb_subnets, public);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let services = ecs
        .describe_services()
        .cluster("e2e")
        .services("e2e-api-server")
        .send()
        .await
        .expect("services");
    let service_subnets = services
        .services()
        .first()
        .and_then(|s| s.network_configuration())
        .and_then(|n| n.awsvpc_configuration())
        .map(|a| {
            let mut s = a.subnets().to_vec();
            s.sort();
            s
        })
        .expect("the api-server's network");
    assert_eq!(service_subnets, private);

    // The network team removes the NAT route meanwhile: plan and up now refuse the network,
    // but a teardown is not judged by it.
    ec2.delete_route()
        .route_table_id(&net.private_table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .expect("delete the NAT route");
    let changed = network_snapshot(&ec2).await;
    assert_ne!(changed, before);
    world.sim.reset_accounting();
    let refused = world.run(&["plan"]).await;
    assert_refused(
        &refused,
        &world,
        &[&format!(
            "private subnet {} (route table {}) cannot reach the internet",
            net.private[0], net.private_table
        )],
    );
    let plan = world.run(&["plan", "--teardown", "all"]).await;
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("ec2/security-group") && !plan.stdout.contains("existing-"),
        "{}",
        plan.all()
    );

    // teardown all: orchestrate's security groups go, the network stays exactly as it was.
    let teardown = world.run(&["teardown", "all", "--yes", "--force"]).await;
    teardown.expect_code(0);
    assert_eq!(
        own_security_groups(&ec2, &net.vpc).await,
        Vec::<String>::new()
    );
    assert_eq!(
        network_snapshot(&ec2).await,
        changed,
        "teardown touched the network"
    );
    assert!(
        !teardown.all().contains("existing-vpc"),
        "{}",
        teardown.all()
    );
    let _ = (&net.igw, &net.nat, &net.public_table);
}

#[tokio::test]
async fn networks_that_cannot_carry_a_deployment_are_refused_before_any_change() {
    let world = World::start("", Scenario::default()).await;
    let sdk = world.sdk().await;
    let ec2 = Client::new(&sdk);

    // Private subnets all in one zone.
    let one_zone = make_network(
        &ec2,
        60,
        ["us-east-1a", "us-east-1a"],
        ["us-east-1a", "us-east-1b"],
        true,
    )
    .await;
    std::fs::write(
        &world.spec,
        spec(&one_zone.vpc, &one_zone.private, &one_zone.public),
    )
    .expect("spec");
    for command in [&["plan", "--phase", "1"][..], &["up", "--phase", "1"][..]] {
        world.sim.reset_accounting();
        let run = world.run(command).await;
        assert_refused(
            &run,
            &world,
            &[
                &one_zone.vpc,
                &format!(
                    "the private subnets {}, {} are all in us-east-1a",
                    one_zone.private[0], one_zone.private[1]
                ),
            ],
        );
    }
    assert!(
        !world.dir.path().join("orchestrate.lock").exists(),
        "a refused up wrote the lock file"
    );

    // A public subnet of another VPC.
    let other = make_network(
        &ec2,
        70,
        ["us-east-1a", "us-east-1b"],
        ["us-east-1a", "us-east-1b"],
        false,
    )
    .await;
    let good = make_network(
        &ec2,
        80,
        ["us-east-1a", "us-east-1b"],
        ["us-east-1a", "us-east-1b"],
        true,
    )
    .await;
    let mixed_public = vec![good.public[0].clone(), other.public[1].clone()];
    std::fs::write(&world.spec, spec(&good.vpc, &good.private, &mixed_public)).expect("spec");
    for command in [&["plan", "--phase", "1"][..], &["up", "--phase", "1"][..]] {
        world.sim.reset_accounting();
        let run = world.run(command).await;
        assert_refused(
            &run,
            &world,
            &[&format!(
                "public subnet {} belongs to VPC {}, not to {}",
                other.public[1], other.vpc, good.vpc
            )],
        );
    }

    // Private subnets without a NAT route and without endpoints: the endpoints are named.
    std::fs::write(&world.spec, spec(&other.vpc, &other.private, &other.public)).expect("spec");
    world.sim.reset_accounting();
    let run = world.run(&["up", "--phase", "1"]).await;
    assert_refused(
        &run,
        &world,
        &[
            &format!("private subnet {}", other.private[0]),
            &format!("route table {}", other.private_table),
            "com.amazonaws.us-east-1.ecr.api (interface)",
            "com.amazonaws.us-east-1.ecr.dkr (interface)",
            "com.amazonaws.us-east-1.s3 (gateway)",
            "com.amazonaws.us-east-1.logs (interface)",
            "com.amazonaws.us-east-1.secretsmanager (interface)",
            "com.amazonaws.us-east-1.ssmmessages (interface)",
        ],
    );

    // With the endpoints made, the same network is accepted (plan is read-only).
    ec2.create_vpc_endpoint()
        .vpc_id(&other.vpc)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name(format!("com.amazonaws.{REGION}.s3"))
        .route_table_ids(&other.private_table)
        .send()
        .await
        .expect("s3 gateway endpoint");
    for service in ["ecr.api", "ecr.dkr", "logs", "secretsmanager"] {
        ec2.create_vpc_endpoint()
            .vpc_id(&other.vpc)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(format!("com.amazonaws.{REGION}.{service}"))
            .set_subnet_ids(Some(other.private.clone()))
            .private_dns_enabled(true)
            .send()
            .await
            .expect("interface endpoint");
    }
    world.sim.reset_accounting();
    let run = world.run(&["plan", "--phase", "1"]).await;
    assert_refused(
        &run,
        &world,
        &[
            "lacks the VPC endpoints Fargate tasks need without one: com.amazonaws.us-east-1.ssmmessages (interface);",
        ],
    );
    ec2.create_vpc_endpoint()
        .vpc_id(&other.vpc)
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .service_name(format!("com.amazonaws.{REGION}.ssmmessages"))
        .set_subnet_ids(Some(other.private.clone()))
        .send()
        .await
        .expect("interface endpoint");
    world.sim.reset_accounting();
    let run = world.run(&["plan", "--phase", "1"]).await;
    run.expect_code(0);
    assert!(
        run.all().contains("VPC endpoints only"),
        "the endpoints-only note: {}",
        run.all()
    );
    assert_eq!(any_mutation(&world), Vec::<String>::new());
}
