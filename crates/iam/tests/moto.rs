//! Runs the roles' ensure / ensure / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::Context;
use orchestrate_core::change::Action;
use orchestrate_iam::{Client, IamDesired, delete, ensure, plan_iam};

#[tokio::test]
async fn ensure_twice_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motoiam");
    let desired = IamDesired::new(
        &cx,
        Some("123456789012"),
        "us-east-1",
        &["arn:aws:ecr:us-east-1:123456789012:repository/motoiam/airflow".to_string()],
        &["arn:aws:logs:us-east-1:123456789012:log-group:/orchestrate/motoiam".to_string()],
        "arn:aws:logs:us-east-1:123456789012:log-group:/orchestrate/motoiam/tasks",
        &orchestrate_iam::Access::default(),
    );

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert!(first.created);
    assert!(
        first
            .execution_role_arn
            .ends_with(":role/orchestrate/motoiam-ecs-execution-us-east-1"),
        "{first:?}"
    );

    let plan = plan_iam(&client, &desired).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert!(!second.created);
    assert_eq!(first.task_role_arn, second.task_role_arn);

    // Tags were sent with the create call.
    let tags = client
        .list_role_tags()
        .role_name("motoiam-ecs-task-us-east-1")
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "orchestrate:component" && t.value() == "iam/ecs-task"),
        "{tags:?}"
    );

    // Drift: a widened task policy and an opened trust policy are put back.
    client
        .put_role_policy()
        .role_name("motoiam-ecs-task-us-east-1")
        .policy_name("orchestrate-task")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("drift policy");
    client
        .update_assume_role_policy()
        .role_name("motoiam-ecs-execution-us-east-1")
        .policy_document(orchestrate_iam::policy::trust_policy(None).to_string())
        .send()
        .await
        .expect("drift trust");
    let plan = plan_iam(&client, &desired).await.expect("plan");
    let updates = plan
        .iter()
        .filter(|c| matches!(c.action, Action::Update { .. }))
        .count();
    assert_eq!(updates, 2, "{plan:?}");
    ensure(&client, &cx, &desired).await.expect("update");
    let plan = plan_iam(&client, &desired).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );

    delete(&client, &cx, "us-east-1").await.expect("delete");
    delete(&client, &cx, "us-east-1")
        .await
        .expect("delete again");
    let plan = plan_iam(&client, &desired).await.expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
}
