//! Runs the log groups' ensure / ensure / delete against a real `moto_server`.
//!
//! Skipped (passes with a note) when `moto_server` is not installed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::Context;
use orchestrate_core::change::Action;
use orchestrate_logs::{Client, LogsDesired, delete, ensure, plan_logs};

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
async fn ensure_twice_then_delete_against_moto() {
    let Some(moto) = Moto::start() else {
        eprintln!("moto_server not found; skipping");
        return;
    };
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motologs");
    let desired = LogsDesired::with_retention(&cx, 14);

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert_eq!(first.log_group_name, "/orchestrate/motologs");
    assert!(
        first
            .log_group_arn
            .ends_with(":log-group:/orchestrate/motologs"),
        "{}",
        first.log_group_arn
    );
    assert!(
        first
            .task_log_group_arn
            .ends_with(":log-group:/orchestrate/motologs/tasks")
    );

    let plan = plan_logs(&client, &desired).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert_eq!(first, second);

    // Tags were sent with the create call.
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&first.log_group_arn)
        .send()
        .await
        .expect("tags");
    assert_eq!(
        tags.tags()
            .and_then(|t| t.get("orchestrate:component"))
            .map(String::as_str),
        Some("logs/containers")
    );

    // Drift: retention changed behind our back is put back.
    let drifted = LogsDesired::with_retention(&cx, 30);
    let plan = plan_logs(&client, &drifted).await.expect("plan");
    assert!(
        plan.iter()
            .all(|c| matches!(c.action, Action::Update { .. })),
        "{plan:?}"
    );
    ensure(&client, &cx, &drifted).await.expect("update");
    let plan = plan_logs(&client, &drifted).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );

    delete(&client, &cx).await.expect("delete");
    delete(&client, &cx).await.expect("delete again");
    let plan = plan_logs(&client, &desired).await.expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
}
