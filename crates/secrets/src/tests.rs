use aws_sdk_secretsmanager::operation::create_secret::{CreateSecretError, CreateSecretOutput};
use aws_sdk_secretsmanager::operation::delete_secret::{DeleteSecretError, DeleteSecretOutput};
use aws_sdk_secretsmanager::operation::describe_secret::{
    DescribeSecretError, DescribeSecretOutput,
};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
use aws_sdk_secretsmanager::operation::restore_secret::RestoreSecretOutput;
use aws_sdk_secretsmanager::types::error::{ResourceExistsException, ResourceNotFoundException};
use aws_sdk_secretsmanager::types::{SecretListEntry, Tag};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use orchestrate_core::change::Action;
use orchestrate_core::names::TAG_COMPONENT;

use super::*;

const PREFIX: &str = "orchestrate/demo/";
const STORED_DB: &str = r#"{"username":"airflow","password":"StoredPassword0123456789abcdefXY"}"#;

fn arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
}

fn not_found() -> DescribeSecretError {
    DescribeSecretError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
}

fn described(name: &str, deleted: bool) -> DescribeSecretOutput {
    DescribeSecretOutput::builder()
        .name(name)
        .arn(arn(name))
        .set_deleted_date(deleted.then(|| DateTime::from_secs(1)))
        .build()
}

/// DescribeSecret answering every name as an existing, live secret.
fn describe_all_found() -> Rule {
    mock!(Client::describe_secret)
        .then_compute_output(|r| described(r.secret_id().unwrap_or_default(), false))
}

fn get_value(name: &'static str, value: &'static str) -> Rule {
    mock!(Client::get_secret_value)
        .match_requests(move |r| r.secret_id() == Some(name))
        .then_output(move || {
            GetSecretValueOutput::builder()
                .name(name)
                .secret_string(value)
                .build()
        })
}

/// GetSecretValue answering any name with `stored-value-of-<name>`.
fn get_any_value() -> Rule {
    mock!(Client::get_secret_value).then_compute_output(|r| {
        let name = r.secret_id().unwrap_or_default();
        GetSecretValueOutput::builder()
            .name(name)
            .secret_string(format!("stored-value-of-{name}"))
            .build()
    })
}

fn mutating_rules() -> [Rule; 3] {
    [
        mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build()),
        mock!(Client::put_secret_value).then_output(|| PutSecretValueOutput::builder().build()),
        mock!(Client::restore_secret).then_output(|| RestoreSecretOutput::builder().build()),
    ]
}

fn desired() -> GeneratedDesired {
    GeneratedDesired {
        db_username: "airflow".into(),
    }
}

#[tokio::test]
async fn absent_generated_secrets_are_created_with_tags_and_fresh_values() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_secret).then_error(not_found);
    let create = mock!(Client::create_secret)
        .match_requests(|r| {
            let name = r.name().unwrap_or_default();
            let key = name.trim_start_matches(PREFIX);
            let tagged = r.tags().iter().any(|t| {
                t.key() == Some(TAG_COMPONENT)
                    && t.value() == Some(format!("secrets/{key}").as_str())
            });
            let value_ok = match key {
                DB_CREDENTIALS => {
                    let json: serde_json::Value =
                        serde_json::from_str(r.secret_string().unwrap_or("{}")).unwrap_or_default();
                    json["username"] == "airflow"
                        && json["password"].as_str().is_some_and(|p| {
                            p.len() == 32 && p.chars().all(|c| c.is_ascii_alphanumeric())
                        })
                }
                FERNET_KEY => r.secret_string().is_some_and(|v| v.len() == 44),
                _ => r.secret_string().is_some_and(|v| v.len() >= 24),
            };
            name.starts_with(PREFIX) && tagged && value_ok
        })
        .then_compute_output(|r| {
            let name = r.name().unwrap_or_default();
            CreateSecretOutput::builder()
                .name(name)
                .arn(arn(name))
                .build()
        });
    let read =
        mock!(Client::get_secret_value).then_output(|| GetSecretValueOutput::builder().build());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &create, &read]
    );

    let out = ensure_generated(&client, &cx, &desired())
        .await
        .expect("ensure");

    assert_eq!(create.num_calls(), 5);
    assert_eq!(
        read.num_calls(),
        0,
        "values it created itself are not read back"
    );
    assert_eq!(out.arns.len(), 5);
    assert_eq!(
        out.arn(FERNET_KEY),
        Some(arn("orchestrate/demo/fernet-key").as_str())
    );
    assert_eq!(out.db_username, "airflow");
    assert_eq!(out.db_password.expose().len(), 32);
    let shown = format!("{out:?}");
    assert!(!shown.contains(out.db_password.expose()), "{shown}");
}

#[tokio::test]
async fn existing_generated_secrets_are_read_never_written() {
    let cx = Context::for_tests("demo");
    let describe = describe_all_found();
    let read = get_value("orchestrate/demo/db-credentials", STORED_DB);
    let read_others = get_any_value();
    let [create, put, restore] = mutating_rules();
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &read, &read_others, &create, &put, &restore]
    );

    let out = ensure_generated(&client, &cx, &desired())
        .await
        .expect("ensure");

    assert_eq!(
        create.num_calls() + put.num_calls() + restore.num_calls(),
        0
    );
    assert_eq!(read.num_calls(), 1, "db-credentials is read");
    assert_eq!(
        read_others.num_calls(),
        4,
        "every other generated value is read too, to be registered for redaction"
    );
    let echoed = "AWS said: stored-value-of-orchestrate/demo/fernet-key and \
                  stored-value-of-orchestrate/demo/admin-password";
    let shown = orchestrate_core::sensitive::redact(echoed);
    assert!(
        !shown.contains("stored-value-of"),
        "values created by an earlier run are redacted: {shown}"
    );
    assert_eq!(out.db_password.expose(), "StoredPassword0123456789abcdefXY");
    let plan = plan_secrets(&client, &cx, &[]).await.expect("plan");
    assert_eq!(plan.len(), 5);
    assert!(
        plan.iter()
            .all(|c| c.action == Action::NoChange && c.kind == "secretsmanager/secret")
    );
}

#[tokio::test]
async fn secret_scheduled_for_deletion_is_restored_not_recreated() {
    let cx = Context::for_tests("demo");
    let deleted = mock!(Client::describe_secret)
        .match_requests(|r| r.secret_id() == Some("orchestrate/demo/fernet-key"))
        .then_compute_output(|r| described(r.secret_id().unwrap_or_default(), true));
    let describe = describe_all_found();
    let read = get_value("orchestrate/demo/db-credentials", STORED_DB);
    let read_others = get_any_value();
    let create = mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build());
    let restore = mock!(Client::restore_secret)
        .match_requests(|r| r.secret_id() == Some("orchestrate/demo/fernet-key"))
        .then_output(|| RestoreSecretOutput::builder().build());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&deleted, &describe, &read, &read_others, &create, &restore]
    );

    let plan = plan_secrets(&client, &cx, &[]).await.expect("plan");
    assert!(
        matches!(&plan[1].action, Action::Update { fields } if fields[0].field == "DeletedDate"),
        "{plan:?}"
    );

    ensure_generated(&client, &cx, &desired())
        .await
        .expect("ensure");
    assert_eq!(restore.num_calls(), 1);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn lost_create_response_adopts_the_stored_value_not_the_generated_one() {
    // A visibility wait of 1 s rather than for_tests' 20 ms: under a loaded CI machine the
    // 20 ms deadline passed before the third DescribeSecret (flaky).
    let cx = Context::new(
        "demo",
        std::collections::BTreeMap::new(),
        std::sync::Arc::new(orchestrate_core::progress::Silent),
        orchestrate_core::Timing { scale: 0.05 },
    );
    const DB: &str = "orchestrate/demo/db-credentials";
    // Absent, then "exists" on create, then invisible once more, then visible.
    let db_describe = mock!(Client::describe_secret)
        .match_requests(|r| r.secret_id() == Some(DB))
        .sequence()
        .error(not_found)
        .times(2)
        .output(|| described(DB, false))
        .build();
    let describe = describe_all_found();
    let create = mock!(Client::create_secret).then_error(|| {
        CreateSecretError::ResourceExistsException(ResourceExistsException::builder().build())
    });
    let read = get_value(DB, STORED_DB);
    let read_others = get_any_value();
    let put =
        mock!(Client::put_secret_value).then_output(|| PutSecretValueOutput::builder().build());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&db_describe, &describe, &create, &read, &read_others, &put]
    );

    let out = ensure_generated(&client, &cx, &desired())
        .await
        .expect("adopted");

    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        put.num_calls(),
        0,
        "an adopted generated secret is never overwritten"
    );
    assert_eq!(db_describe.num_calls(), 3);
    assert_eq!(out.db_password.expose(), "StoredPassword0123456789abcdefXY");
}

#[tokio::test]
async fn derived_secret_is_written_only_when_its_value_differs() {
    let cx = Context::for_tests("demo");
    const CONN: &str = "orchestrate/demo/sql-alchemy-conn";
    let describe = describe_all_found();
    let read = get_value(
        CONN,
        "postgresql+psycopg2://airflow:pw@old-host:5432/airflow",
    );
    let read_others = get_any_value();
    let [create, put, restore] = mutating_rules();
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &read, &read_others, &create, &put, &restore]
    );

    let same = Sensitive::new("postgresql+psycopg2://airflow:pw@old-host:5432/airflow");
    let arn_same = ensure_derived(&client, &cx, SQL_ALCHEMY_CONN, &same)
        .await
        .expect("equal");
    assert_eq!(arn_same, arn(CONN));
    assert_eq!(
        create.num_calls() + put.num_calls() + restore.num_calls(),
        0
    );

    let moved = Sensitive::new("postgresql+psycopg2://airflow:pw@new-host:5432/airflow");
    let plan = plan_secrets(&client, &cx, &[(SQL_ALCHEMY_CONN, Some(&moved))])
        .await
        .expect("plan");
    let change = plan.last().expect("derived change");
    assert!(
        matches!(&change.action, Action::Update { fields } if fields[0].field == "SecretString")
    );
    let shown = format!(
        "{change} {change:?} {}",
        serde_json::to_string(change).unwrap_or_default()
    );
    assert!(
        !shown.contains("new-host") && !shown.contains("old-host"),
        "{shown}"
    );

    ensure_derived(&client, &cx, SQL_ALCHEMY_CONN, &moved)
        .await
        .expect("differs");
    assert_eq!(put.num_calls(), 1);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn absent_derived_secret_is_created_with_its_value_and_tags() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_secret).then_error(not_found);
    let create = mock!(Client::create_secret)
        .match_requests(|r| {
            r.name() == Some("orchestrate/demo/broker-url")
                && r.secret_string() == Some("rediss://h:6379/0?ssl_cert_reqs=required")
                && r.tags()
                    .iter()
                    .any(|t| t.value() == Some("secrets/broker-url"))
        })
        .then_compute_output(|r| {
            CreateSecretOutput::builder()
                .arn(arn(r.name().unwrap_or_default()))
                .build()
        });
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &create]
    );
    let value = Sensitive::new(orchestrate_core::sensitive::broker_url("h", 6379, true));
    let got = ensure_derived(&client, &cx, BROKER_URL, &value)
        .await
        .expect("create");
    assert_eq!(got, arn("orchestrate/demo/broker-url"));
    assert_eq!(create.num_calls(), 1);
}

fn entry(name: &str, deployment: &str) -> SecretListEntry {
    SecretListEntry::builder()
        .name(name)
        .arn(arn(name))
        .tags(
            Tag::builder()
                .key("orchestrate:deployment")
                .value(deployment)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn delete_all_deletes_only_this_deployments_tagged_secrets() {
    let cx = Context::for_tests("demo");
    let list = mock!(Client::list_secrets)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.values() == [PREFIX.to_string()])
        })
        .then_output(|| {
            ListSecretsOutput::builder()
                .secret_list(entry("orchestrate/demo/fernet-key", "demo"))
                .secret_list(entry("orchestrate/demo/hand-made", "someone"))
                .secret_list(entry("Orchestrate/Demo/other", "demo"))
                .build()
        });
    let delete = mock!(Client::delete_secret)
        .match_requests(|r| {
            r.secret_id() == Some(arn("orchestrate/demo/fernet-key").as_str())
                && r.recovery_window_in_days() == Some(30)
                && r.force_delete_without_recovery().is_none()
        })
        .then_output(|| DeleteSecretOutput::builder().build());
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&list, &delete]);

    let deleted = delete_all(&client, &cx, false).await.expect("delete");
    assert_eq!(deleted, 1);
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn forced_delete_of_absent_secret_succeeds() {
    let cx = Context::for_tests("demo");
    let delete = mock!(Client::delete_secret)
        .match_requests(|r| r.force_delete_without_recovery() == Some(true))
        .then_error(|| {
            DeleteSecretError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        });
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&delete]);
    secret::delete(&client, &cx, "orchestrate/demo/jwt-secret", true)
        .await
        .expect("absent is success");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn partial_arn_match_of_another_name_is_not_ours() {
    // DescribeSecret("…/jwt-secret") may resolve as a partial ARN to a secret named "…/jwt".
    let describe =
        mock!(Client::describe_secret).then_output(|| described("orchestrate/demo/jwt", false));
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&describe]);
    let found = secret::find(&client, "orchestrate/demo/jwt-secret")
        .await
        .expect("find");
    assert_eq!(found, None);
}

#[test]
fn derived_diff_hides_values_and_says_when_unknown() {
    let observed = SecretObserved {
        name: "n".into(),
        arn: "a".into(),
        scheduled_for_deletion: false,
    };
    let v = Sensitive::new("value-one-xxxxxxxx");
    assert_eq!(
        diff_derived("n", Some(&observed), Some(&v), Some(&v)).action,
        Action::NoChange
    );
    assert_eq!(
        diff_derived("n", None, None, Some(&v)).action,
        Action::Create
    );
    let unknown = diff_derived("n", Some(&observed), None, None);
    assert!(
        matches!(&unknown.action, Action::Update { fields } if fields[0].to.as_deref() == Some("(known after phase 1)"))
    );
}
