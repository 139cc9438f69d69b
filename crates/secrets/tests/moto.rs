//! Runs the secrets' ensure / ensure / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Sensitive};
use orchestrate_secrets::{
    Client, FERNET_KEY, GeneratedDesired, SQL_ALCHEMY_CONN, delete_all, ensure_derived,
    ensure_generated, plan_secrets,
};

#[tokio::test]
async fn ensure_twice_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motosec");
    let desired = GeneratedDesired {
        db_username: "airflow".into(),
    };

    let first = ensure_generated(&client, &cx, &desired)
        .await
        .expect("first ensure");
    assert_eq!(first.arns.len(), 5);
    let second = ensure_generated(&client, &cx, &desired)
        .await
        .expect("second ensure");
    assert_eq!(first, second, "generated once, read back identically");

    let conn = Sensitive::new(format!(
        "postgresql+psycopg2://airflow:{}@db.internal:5432/airflow",
        first.db_password.expose()
    ));
    let conn_arn = ensure_derived(&client, &cx, SQL_ALCHEMY_CONN, &conn)
        .await
        .expect("derived");
    let plan = plan_secrets(&client, &cx, &[(SQL_ALCHEMY_CONN, Some(&conn))])
        .await
        .expect("plan");
    assert_eq!(plan.len(), 6);
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    assert_eq!(
        ensure_derived(&client, &cx, SQL_ALCHEMY_CONN, &conn)
            .await
            .expect("equal"),
        conn_arn
    );
    let moved = Sensitive::new("postgresql+psycopg2://airflow:x@db2.internal:5432/airflow");
    ensure_derived(&client, &cx, SQL_ALCHEMY_CONN, &moved)
        .await
        .expect("rewrite");
    let stored = client
        .get_secret_value()
        .secret_id("orchestrate/motosec/sql-alchemy-conn")
        .send()
        .await
        .expect("read");
    assert_eq!(stored.secret_string(), Some(moved.expose()));

    // Tags were sent with the create call.
    let described = client
        .describe_secret()
        .secret_id("orchestrate/motosec/fernet-key")
        .send()
        .await
        .expect("describe");
    assert!(
        described
            .tags()
            .iter()
            .any(|t| t.key() == Some("orchestrate:component")
                && t.value() == Some("secrets/fernet-key")),
        "{described:?}"
    );

    // Teardown with a recovery window, then `up` again: restored, same values.
    assert_eq!(
        delete_all(&client, &cx, false).await.expect("soft delete"),
        6
    );
    let plan = plan_secrets(&client, &cx, &[]).await.expect("plan");
    assert!(
        plan.iter()
            .all(|c| matches!(c.action, Action::Update { .. })),
        "{plan:?}"
    );
    let restored = ensure_generated(&client, &cx, &desired)
        .await
        .expect("restore");
    assert_eq!(restored, first, "restored, never regenerated");
    assert_eq!(restored.arn(FERNET_KEY), first.arn(FERNET_KEY));

    assert!(delete_all(&client, &cx, true).await.expect("force delete") >= 5);
    delete_all(&client, &cx, true).await.expect("delete again");
    let plan = plan_secrets(&client, &cx, &[]).await.expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
}
