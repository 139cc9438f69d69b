//! Runs the namespace's and a service's ensure / ensure / delete against a real `moto_server`.
//!
//! Skipped (passes with a note) when `moto_server` is not installed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_servicediscovery::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Spec};
use orchestrate_discovery::{
    API_SERVER_SERVICE, Client, NamespaceDesired, delete, delete_service, diff, ensure,
    ensure_service, find,
};

/// A `moto_server` on a free port, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn namespace_and_service_ensure_twice_then_delete_against_moto() {
    let Some(moto) = Moto::start() else {
        eprintln!("moto_server not found; skipping");
        return;
    };
    let config = aws_sdk_servicediscovery::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motons");
    // moto does not check that the VPC exists.
    let desired = NamespaceDesired::from_spec(&Spec::minimal("motons", "us-east-1"), "vpc-0moto");

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert_eq!(first.namespace_name, "motons.orchestrate.internal");
    assert!(!first.hosted_zone_id.is_empty());
    let observed = find(&client, &desired).await.expect("find");
    assert_eq!(diff(&desired, observed.as_ref()).action, Action::NoChange);
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert_eq!(first, second);

    let tags = client
        .list_tags_for_resource()
        .resource_arn(&first.namespace_arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "orchestrate:component" && t.value() == "discovery/namespace"),
        "{tags:?}"
    );

    let service = ensure_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("service");
    let again = ensure_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("service again");
    assert_eq!(service, again, "adopted, not duplicated");
    let listed = client.list_services().send().await.expect("list");
    assert_eq!(listed.services().len(), 1);

    delete_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("delete service");
    delete_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("delete service again");
    delete(&client, &cx).await.expect("delete");
    delete(&client, &cx).await.expect("delete again");
    let observed = find(&client, &desired).await.expect("find");
    assert_eq!(diff(&desired, observed.as_ref()).action, Action::Create);
}
