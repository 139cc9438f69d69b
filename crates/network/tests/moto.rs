//! End-to-end against moto's server: ensure twice (the second changes nothing), plan shows no
//! change, delete, delete again.
//!
//! A missing `moto_server` fails the test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::progress::Recorder;
use orchestrate_core::spec::NatMode;
use orchestrate_core::{Action, Context, Spec, Timing};
use orchestrate_network::{
    Client, NetworkDesired, NetworkOutputs, delete_network, ensure_network, plan_network,
};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start() -> Option<(Moto, Client)> {
    let port = free_port();
    let child = Command::new(
        // The pinned server scripts/test.sh installs (`.venv`), else the one on PATH.
        std::env::var_os("AWSIM_MOTO_SERVER").unwrap_or_else(|| "moto_server".into()),
    )
    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .ok()?;
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(url)
        .build();
    Some((moto, Client::from_conf(config)))
}

#[tokio::test]
async fn converges_twice_then_deletes() {
    let (_moto, client) = start().await.expect(
        "moto_server must be installed (scripts/test.sh installs it; or set AWSIM_MOTO_SERVER)",
    );
    let recorder = Recorder::default();
    let cx = Context::new(
        "motonet",
        Default::default(),
        Arc::new(recorder.clone()),
        Timing { scale: 0.01 },
    );
    let mut spec = Spec::minimal("motonet", "us-east-1");
    spec.network.nat = NatMode::PerAz;
    spec.load_balancer.ingress_cidrs = vec!["203.0.113.0/24".into(), "198.51.100.0/24".into()];
    let zones = orchestrate_network::resolve_zones(&client, 2)
        .await
        .expect("zones");
    assert_eq!(zones.len(), 2);
    let desired = NetworkDesired::from_spec(&spec, zones.clone()).expect("desired");

    let plan = plan_network(&client, &cx, &desired)
        .await
        .expect("plan empty");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:#?}");

    let first = ensure_network(&client, &cx, &desired)
        .await
        .expect("first ensure");
    assert_eq!(first.public_subnet_ids.len(), 2);
    assert_eq!(first.private_subnet_ids.len(), 2);
    assert_eq!(first.nat_gateway_ids.len(), 2);
    for id in &first.nat_gateway_ids {
        orchestrate_network::nat::wait_ready(&client, &cx, id)
            .await
            .expect("nat ready");
    }
    let applied_after_first = recorder.events().len();

    let second = ensure_network(&client, &cx, &desired)
        .await
        .expect("second ensure");
    // The same network; the second run's one read per type also saw the NAT gateways
    // available (the fast path), which the first, having just created them, could not.
    assert!(!first.nat_gateways_available);
    assert!(second.nat_gateways_available, "{second:?}");
    assert_eq!(
        NetworkOutputs {
            nat_gateways_available: false,
            ..second.clone()
        },
        first
    );
    let new_events: Vec<_> = recorder.events()[applied_after_first..]
        .iter()
        .filter(|e| !matches!(e, orchestrate_core::Event::Ready { .. }))
        .cloned()
        .collect();
    assert!(new_events.is_empty(), "second run acted: {new_events:#?}");

    let plan = plan_network(&client, &cx, &desired)
        .await
        .expect("plan converged");
    let changed: Vec<_> = plan.iter().filter(|c| c.is_mutation()).collect();
    assert!(changed.is_empty(), "{changed:#?}");

    // The database group has no egress; the api-server group admits the ALB on 8080.
    let out = client
        .describe_security_groups()
        .group_ids(&second.security_groups.database)
        .send()
        .await
        .expect("describe db sg");
    let db = &out.security_groups()[0];
    assert!(db.ip_permissions_egress().is_empty(), "{db:?}");

    delete_network(&client, &cx).await.expect("delete");
    let vpcs = client.describe_vpcs().vpc_ids(&second.vpc_id).send().await;
    assert!(
        vpcs.map(|o| o.vpcs().is_empty()).unwrap_or(true),
        "VPC still there"
    );
    delete_network(&client, &cx).await.expect("delete again");
}
