//! Reliability end to end: one run at a time per deployment (the lease) and duplicates that
//! converge, through the real binary against the emulator, checked through the AWS SDK.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use awsim::Scenario;
use common::{LEASE, Run, SPEC, World, seed_foreign_lease};
use serde_json::Value;

fn deployment_filter() -> Filter {
    Filter::builder()
        .name("tag:orchestrate:deployment")
        .values("e2e")
        .build()
}

/// How many of each network resource and ECS service deployment `e2e` has (live ones).
async fn counts(sdk: &aws_config::SdkConfig) -> BTreeMap<&'static str, usize> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let mut out = BTreeMap::new();
    let vpcs = ec2.describe_vpcs().filters(deployment_filter()).send();
    out.insert("vpc", vpcs.await.expect("vpcs").vpcs().len());
    let subnets = ec2.describe_subnets().filters(deployment_filter()).send();
    out.insert("subnet", subnets.await.expect("subnets").subnets().len());
    let igws = ec2
        .describe_internet_gateways()
        .filters(deployment_filter())
        .send();
    out.insert(
        "internet-gateway",
        igws.await.expect("igws").internet_gateways().len(),
    );
    let nats = ec2
        .describe_nat_gateways()
        .filter(deployment_filter())
        .send()
        .await
        .expect("nats");
    out.insert(
        "nat-gateway",
        nats.nat_gateways()
            .iter()
            .filter(|n| {
                !matches!(
                    n.state().map(|s| s.as_str()),
                    Some("deleted" | "deleting" | "failed")
                )
            })
            .count(),
    );
    let eips = ec2.describe_addresses().filters(deployment_filter()).send();
    out.insert("elastic-ip", eips.await.expect("eips").addresses().len());
    let tables = ec2
        .describe_route_tables()
        .filters(deployment_filter())
        .send();
    out.insert(
        "route-table",
        tables.await.expect("route tables").route_tables().len(),
    );
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let services = match ecs.list_services().cluster("e2e").send().await {
        Ok(list) => list.service_arns().len(),
        Err(_) => 0,
    };
    out.insert("ecs-service", services);
    out
}

fn expected(services: usize) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpc", 1),
        ("subnet", 4),
        ("internet-gateway", 1),
        ("nat-gateway", 1),
        ("elastic-ip", 1),
        ("route-table", 2),
        ("ecs-service", services),
    ])
}

/// The lease document as stored (`None`: no lease secret, or no readable value).
async fn lease_document(sdk: &aws_config::SdkConfig) -> Option<Value> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(LEASE)
        .send()
        .await
        .ok()?;
    serde_json::from_str(out.secret_string()?).ok()
}

fn assert_refused_naming(run: &Run, holder: &[&str]) {
    run.expect_code(2);
    for needle in holder.iter().chain(&["since", "--break-lock"]) {
        assert!(
            run.stderr.contains(needle),
            "the refusal names {needle}:\n{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_ups_at_once_one_proceeds_the_other_exits_2_naming_it_then_one_up_converges() {
    let world = World::start(SPEC, Scenario::default()).await;
    let (a, b) = tokio::join!(world.run(&["up"]), world.run(&["up"]));
    let mut codes = [a.code, b.code];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(2)],
        "exactly one proceeds:\n--- a\n{}\n--- b\n{}",
        a.all(),
        b.all()
    );
    let refused = if a.code == Some(2) { &a } else { &b };
    assert_refused_naming(refused, &["`up --phase 5`", "pid", "host"]);
    assert!(
        !refused.stderr.contains("failed to create"),
        "the refused run changed nothing: {}",
        refused.stderr
    );

    // The lease is released by the run that held it.
    let sdk = world.sdk().await;
    let lease = lease_document(&sdk).await.expect("lease document");
    assert_eq!(lease["state"], "released", "{lease}");

    world.sim.reset_accounting();
    world.run(&["up"]).await.expect_code(0);
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "converged: no duplicate to clean up, nothing to create"
    );
    assert_eq!(counts(&sdk).await, expected(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_left_by_a_sigkilled_run_is_taken_over_and_the_rerun_converges() {
    let world = World::start(SPEC, Scenario::default()).await;
    let mut child = world
        .command(&["up", "--phase", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id().expect("pid");
    world.crash_after(pid, 5);
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .expect("killed run ends")
        .expect("wait");
    assert_eq!(status.code(), None, "killed after its 5th resource call");
    let sdk = world.sdk().await;
    let left = lease_document(&sdk).await.expect("the killed run's lease");
    assert_eq!(left["state"], "held", "{left}");
    assert_eq!(left["holder"]["pid"], u64::from(pid), "{left}");

    // Same machine, process gone: taken over at once (on another machine: after expiry, see
    // a_live_lease_of_another_machine_...).
    // The lease lives at least 15 s (MIN_TTL) even at the suite's time scale: unexpired here.
    let rerun = world.run(&["up", "--phase", "1"]).await;
    rerun.expect_code(0);
    assert!(
        rerun.stderr.contains("no longer runs") && rerun.stderr.contains(&pid.to_string()),
        "{}",
        rerun.stderr
    );
    let mut want = expected(0);
    want.remove("ecs-service");
    let mut got = counts(&sdk).await;
    got.remove("ecs-service");
    assert_eq!(got, want);
    assert_eq!(
        lease_document(&sdk).await.expect("lease")["state"],
        "released"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_lease_of_another_machine_is_refused_until_it_expires_and_break_lock_takes_it() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let sdk = world.sdk().await;

    // Held elsewhere for a few more seconds: refused, naming host, user, pid, command, since.
    seed_foreign_lease(&sdk, Duration::from_secs(4)).await;
    let expires = std::time::Instant::now() + Duration::from_secs(4);
    world.sim.reset_accounting();
    let refused = world.run(&["up", "--phase", "1"]).await;
    assert_refused_naming(
        &refused,
        &["ci-runner-7", "bob", "pid 31337", "`teardown services`"],
    );
    assert_eq!(world.mutating_calls(), Vec::<String>::new());
    assert_eq!(
        world.lease_mutations(),
        Vec::<String>::new(),
        "nothing written"
    );
    let teardown = world.run(&["teardown", "services"]).await;
    assert_refused_naming(&teardown, &["ci-runner-7"]);

    // Read-only commands take no lease.
    world.sim.reset_accounting();
    world.run(&["plan", "--phase", "1"]).await.expect_code(0);
    world.run(&["status"]).await.expect_code(0);
    assert_eq!(
        world.sim.summary().mutating,
        0,
        "plan and status write nothing"
    );

    // Once it has expired, the next run takes it over.
    tokio::time::sleep(expires.saturating_duration_since(std::time::Instant::now())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = world.run(&["up", "--phase", "1"]).await;
    after.expect_code(0);
    assert!(
        after.stderr.contains("expired lease") && after.stderr.contains("ci-runner-7"),
        "{}",
        after.stderr
    );

    // A live one again: --break-lock takes it and says so on stderr, even with -q.
    seed_foreign_lease(&sdk, Duration::from_secs(600)).await;
    let broken = world
        .run(&["-q", "up", "--phase", "1", "--break-lock"])
        .await;
    broken.expect_code(0);
    assert!(
        broken.stderr.contains("--break-lock") && broken.stderr.contains("ci-runner-7"),
        "{}",
        broken.stderr
    );
    let lease = lease_document(&sdk).await.expect("lease");
    assert_eq!(lease["state"], "released", "{lease}");
    assert_ne!(lease["holder"]["host"], "ci-runner-7", "{lease}");
}

/// The tags of the first resource in `tags` lists, as given to a create call.
fn spec_of(kind: ResourceType, tags: &[Tag]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags.to_vec()))
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_duplicate_subnet_and_nat_gateway_converge_and_a_further_up_changes_nothing() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let sdk = world.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let name_filter = |name: &str| Filter::builder().name("tag:Name").values(name).build();

    // A second subnet named e2e-public-a (another CIDR), with the deployment's tags.
    let subnets = ec2
        .describe_subnets()
        .filters(name_filter("e2e-public-a"))
        .send()
        .await
        .expect("subnets");
    let original = &subnets.subnets()[0];
    let extra_subnet = ec2
        .create_subnet()
        .vpc_id(original.vpc_id().expect("vpc"))
        .cidr_block("10.40.240.0/24")
        .availability_zone(original.availability_zone().expect("az"))
        .tag_specifications(spec_of(ResourceType::Subnet, original.tags()))
        .send()
        .await
        .expect("duplicate subnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_string();

    // A second NAT gateway named like the first, in the same subnet, with its own address.
    let nats = ec2
        .describe_nat_gateways()
        .filter(deployment_filter())
        .send()
        .await
        .expect("nats");
    let nat = &nats.nat_gateways()[0];
    let eips = ec2
        .describe_addresses()
        .filters(deployment_filter())
        .send()
        .await
        .expect("eips");
    let address = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .tag_specifications(spec_of(ResourceType::ElasticIp, eips.addresses()[0].tags()))
        .send()
        .await
        .expect("allocate");
    let extra_nat = ec2
        .create_nat_gateway()
        .subnet_id(nat.subnet_id().expect("subnet"))
        .allocation_id(address.allocation_id().expect("allocation"))
        .tag_specifications(spec_of(ResourceType::Natgateway, nat.tags()))
        .send()
        .await
        .expect("duplicate NAT")
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .expect("nat id")
        .to_string();
    let seeded = counts(&sdk).await;
    assert_eq!(
        (
            seeded["subnet"],
            seeded["nat-gateway"],
            seeded["elastic-ip"]
        ),
        (5, 2, 2)
    );

    let up = world.run(&["up", "--phase", "1"]).await;
    up.expect_code(0);
    assert!(
        up.stderr
            .contains(&format!("deleting duplicate NAT gateway {extra_nat}"))
            && up
                .stderr
                .contains(&format!("deleting duplicate subnet {extra_subnet}")),
        "{}",
        up.stderr
    );
    let mut want = expected(0);
    want.remove("ecs-service");
    let mut got = counts(&sdk).await;
    got.remove("ecs-service");
    assert_eq!(got, want, "converged to one of each");

    world.sim.reset_accounting();
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    assert_eq!(world.mutating_calls(), Vec::<String>::new());
}
