//! Runs the log groups' ensure / ensure / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::Context;
use orchestrate_core::change::Action;
use orchestrate_logs::{Client, LogsDesired, delete, ensure, plan_logs};

#[tokio::test]
async fn ensure_twice_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
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
