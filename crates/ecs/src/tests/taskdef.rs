use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionError, RegisterTaskDefinitionOutput,
};
use aws_sdk_ecs::types::error::ClientException;
use aws_sdk_ecs::types::{NetworkMode, TaskDefinition, TaskDefinitionStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Phase;
use orchestrate_core::change::Action;
use serde_json::{Value, json};

use super::{cx, meta, rendered, td_arn};
use crate::Error;
use crate::taskdef::{
    self, field_changes, normalize, parse, register_if_changed, to_json, with_tags,
};

#[test]
fn json_to_sdk_to_json_is_identity() {
    let value = rendered();
    let request = parse(&value).expect("parse");
    let d = &request.definition;
    assert_eq!(d.family(), Some("demo-scheduler"));
    assert_eq!(d.network_mode(), Some(&NetworkMode::Awsvpc));
    assert_eq!(d.cpu(), Some("1024"));
    let scheduler = &d.container_definitions()[1];
    assert_eq!(scheduler.secrets().len(), 2);
    assert_eq!(
        scheduler
            .linux_parameters()
            .and_then(|l| l.init_process_enabled()),
        Some(true)
    );
    assert_eq!(scheduler.depends_on()[0].container_name(), "git-sync");
    assert_eq!(request.tags.len(), 2);
    assert_eq!(to_json(&request.definition, &request.tags), Ok(value));
}

#[test]
fn unknown_keys_are_errors_never_dropped() {
    let mut top = rendered();
    top["pidMode"] = json!("task");
    let err = parse(&top).expect_err("unknown top-level key");
    assert!(err.to_string().contains("pidMode"), "{err}");
    assert!(err.to_string().contains("demo-scheduler"), "{err}");

    let mut inner = rendered();
    inner["containerDefinitions"][1]["privileged"] = json!(true);
    let err = parse(&inner).expect_err("unknown container key");
    assert!(err.to_string().contains("privileged"), "{err}");

    let mut deeper = rendered();
    deeper["containerDefinitions"][1]["linuxParameters"]["capabilities"] = json!({});
    assert!(parse(&deeper).is_err());

    let mut bad_enum = rendered();
    bad_enum["networkMode"] = json!("bridged");
    let err = parse(&bad_enum).expect_err("unknown enum value");
    assert!(err.to_string().contains("networkMode"), "{err}");
    assert!(matches!(err, Error::InvalidTaskDefinition { .. }));

    let mut missing = rendered();
    missing["containerDefinitions"][0]
        .as_object_mut()
        .expect("object")
        .remove("image");
    assert!(parse(&missing).is_err(), "image is required");
}

/// What DescribeTaskDefinition says about a revision registered from `rendered()`: ECS's
/// defaults filled in, lists in another order, numbers where strings were sent.
fn described_json() -> Value {
    let mut v = rendered();
    v["cpu"] = json!(1024);
    let git_sync = &mut v["containerDefinitions"][0];
    git_sync["cpu"] = json!(0);
    let env = git_sync["environment"].as_array_mut().expect("env");
    env.reverse();
    let scheduler = &mut v["containerDefinitions"][1];
    scheduler["cpu"] = json!(0);
    scheduler["secrets"]
        .as_array_mut()
        .expect("secrets")
        .reverse();
    v["containerDefinitions"]
        .as_array_mut()
        .expect("containers")
        .reverse();
    v
}

#[test]
fn normalize_makes_ecs_defaults_and_ordering_irrelevant() {
    let mut sparse = rendered();
    let scheduler = &mut sparse["containerDefinitions"][1];
    scheduler["portMappings"] = json!([{"containerPort": 8974, "name": "health"}]);
    scheduler
        .as_object_mut()
        .expect("object")
        .remove("essential");
    scheduler["healthCheck"] = json!({"command": ["CMD-SHELL", "curl -fsS http://localhost:8974/health"], "timeout": 10, "retries": 5, "startPeriod": 120});
    sparse["memory"] = json!(2048);
    let described = described_json();
    assert_eq!(
        normalize(&sparse).expect("sparse"),
        normalize(&described).expect("described")
    );
    assert_eq!(
        normalize(&rendered()).expect("rendered"),
        normalize(&described).expect("described")
    );
    // Nulls and empty lists are the same as absent.
    let mut with_nulls = rendered();
    with_nulls["containerDefinitions"][0]["command"] = Value::Null;
    with_nulls["containerDefinitions"][0]["secrets"] = json!([]);
    with_nulls["containerDefinitions"][0]["workingDirectory"] = Value::Null;
    assert_eq!(
        normalize(&with_nulls).expect("nulls"),
        normalize(&rendered()).expect("rendered")
    );
}

#[test]
fn field_changes_name_each_differing_field() {
    let mut changed = rendered();
    changed["memory"] = json!("4096");
    changed["containerDefinitions"][1]["image"] = json!("apache/airflow:3.1.1");
    changed["containerDefinitions"][1]["environment"][0]["value"] = json!("LocalExecutor");
    changed["containerDefinitions"][1]["environment"]
        .as_array_mut()
        .expect("env")
        .push(json!({"name": "NEW_VAR", "value": "1"}));
    let fields = field_changes(
        &normalize(&changed).expect("changed"),
        &normalize(&rendered()).expect("rendered"),
    );
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "containerDefinitions[scheduler].environment.AIRFLOW__CORE__EXECUTOR",
            "containerDefinitions[scheduler].environment.NEW_VAR",
            "containerDefinitions[scheduler].image",
            "memory",
        ]
    );
    let image = &fields[2];
    assert_eq!(image.from.as_deref(), Some("apache/airflow:3.1.0"));
    assert_eq!(image.to.as_deref(), Some("apache/airflow:3.1.1"));
    assert_eq!(fields[1].from, None);
}

#[test]
fn with_tags_sets_the_deployment_tags() {
    let cx = cx();
    let tags = cx.tags("ecs/scheduler", Phase::Scheduler, "demo-scheduler");
    let value = with_tags(&rendered(), &tags);
    let request = parse(&value).expect("parse");
    assert!(
        request
            .tags
            .iter()
            .any(|t| t.key() == Some("orchestrate:phase") && t.value() == Some("3"))
    );
}

fn describe_rule(value: Value, revision: i32) -> Rule {
    mock!(Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some("demo-scheduler"))
        .then_output(move || {
            let request = parse(&value).expect("parse described");
            let mut td: TaskDefinition = request.definition;
            td.task_definition_arn = Some(td_arn("demo-scheduler", revision));
            td.revision = revision;
            td.status = Some(TaskDefinitionStatus::Active);
            DescribeTaskDefinitionOutput::builder()
                .task_definition(td)
                .set_tags(Some(request.tags))
                .build()
        })
}

fn register_ok(revision: i32) -> Rule {
    mock!(Client::register_task_definition).then_output(move || {
        let mut td = TaskDefinition::builder().family("demo-scheduler").build();
        td.task_definition_arn = Some(td_arn("demo-scheduler", revision));
        td.revision = revision;
        RegisterTaskDefinitionOutput::builder()
            .task_definition(td)
            .build()
    })
}

fn client_exception(message: &str) -> ClientException {
    ClientException::builder()
        .message(message)
        .meta(meta("ClientException", message))
        .build()
}

#[tokio::test]
async fn register_if_changed_registers_nothing_when_equal() {
    let describe = describe_rule(described_json(), 4);
    let register = register_ok(5);
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let registered = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("ensure");
    assert_eq!(registered.arn, td_arn("demo-scheduler", 4));
    assert_eq!(registered.revision, 4);
    assert!(!registered.registered);
    assert_eq!(register.num_calls(), 0, "no RegisterTaskDefinition");
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn register_if_changed_registers_a_drifted_definition_with_its_tags() {
    let mut old = rendered();
    old["containerDefinitions"][1]["image"] = json!("apache/airflow:3.0.6");
    let describe = describe_rule(old, 4);
    let register = mock!(Client::register_task_definition)
        .match_requests(|r| {
            r.family() == Some("demo-scheduler")
                && r.tags().iter().any(|t| t.key() == Some("managed-by"))
                && r.container_definitions()[1].image() == Some("apache/airflow:3.1.0")
                && r.container_definitions()[1].secrets().len() == 2
                && r.container_definitions()[1].environment().len() == 2
                && r.execution_role_arn()
                    .is_some_and(|a| a.ends_with("demo-execution"))
        })
        .then_output(|| {
            let mut td = TaskDefinition::builder().family("demo-scheduler").build();
            td.task_definition_arn = Some(td_arn("demo-scheduler", 5));
            td.revision = 5;
            RegisterTaskDefinitionOutput::builder()
                .task_definition(td)
                .build()
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let registered = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("ensure");
    assert!(registered.registered);
    assert_eq!(registered.revision, 5);
    assert_eq!(register.num_calls(), 1);
}

#[tokio::test]
async fn a_new_family_is_registered() {
    let describe = mock!(Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::ClientException(client_exception(
            "Unable to describe task definition.",
        ))
    });
    let register = register_ok(1);
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let registered = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("ensure");
    assert_eq!(registered.revision, 1);
    assert!(registered.registered);
    let plan = taskdef::diff(Phase::Scheduler, &rendered(), None).expect("diff");
    assert_eq!(plan.action, Action::Create);
    assert_eq!(plan.kind, "ecs/task-definition");
}

#[tokio::test]
async fn iam_propagation_is_retried_within_a_budget() {
    let describe = mock!(Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::ClientException(client_exception(
            "Unable to describe task definition.",
        ))
    });
    let register = mock!(Client::register_task_definition)
        .sequence()
        .error(|| {
            RegisterTaskDefinitionError::ClientException(client_exception("Role is not valid"))
        })
        .times(2)
        .output(|| {
            let mut td = TaskDefinition::builder().family("demo-scheduler").build();
            td.task_definition_arn = Some(td_arn("demo-scheduler", 1));
            td.revision = 1;
            RegisterTaskDefinitionOutput::builder()
                .task_definition(td)
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let registered = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("retried until the role propagated");
    assert_eq!(registered.revision, 1);
    assert_eq!(register.num_calls(), 3);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let describe = mock!(Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::ClientException(client_exception(
            "Unable to describe task definition.",
        ))
    });
    let register = mock!(Client::register_task_definition).then_error(|| {
        RegisterTaskDefinitionError::ClientException(client_exception(
            "Invalid 'cpu' setting for task.",
        ))
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
    let err = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect_err("a bad request fails at once");
    assert!(matches!(err, Error::RegisterTaskDefinition(_)));
    assert!(err.to_string().contains("Invalid 'cpu' setting"), "{err}");
    assert!(
        err.to_string()
            .starts_with("failed to register task definition demo-scheduler"),
        "{err}"
    );
    assert_eq!(register.num_calls(), 1);
}

#[tokio::test]
async fn plan_shows_per_field_changes() {
    let mut old = rendered();
    old["cpu"] = json!("512");
    let describe = describe_rule(old, 2);
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    let change = taskdef::plan_task_definition(&client, Phase::Scheduler, &rendered())
        .await
        .expect("plan");
    match change.action {
        Action::Update { fields } => {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].field, "cpu");
            assert_eq!(fields[0].from.as_deref(), Some("512"));
            assert_eq!(fields[0].to.as_deref(), Some("1024"));
        }
        other => panic!("expected an update, got {other:?}"),
    }
}

/// DescribeTaskDefinition of exactly `label` (`family:revision`) answering `value`, ACTIVE.
fn describe_revision(label: &'static str, value: Value, revision: i32) -> Rule {
    mock!(Client::describe_task_definition)
        .match_requests(move |r| r.task_definition() == Some(label))
        .then_output(move || {
            let request = parse(&value).expect("parse described");
            let mut td: TaskDefinition = request.definition;
            td.task_definition_arn = Some(td_arn("demo-scheduler", revision));
            td.revision = revision;
            td.status = Some(TaskDefinitionStatus::Active);
            DescribeTaskDefinitionOutput::builder()
                .task_definition(td)
                .set_tags(Some(request.tags))
                .build()
        })
}

#[tokio::test]
async fn a_twin_left_by_a_lost_register_response_is_deregistered() {
    // Active revision 4 differs; the register lands as 6 because a first attempt, whose
    // response was lost, registered 5 with the same content.
    let mut old = rendered();
    old["cpu"] = json!("512");
    let twin = describe_revision("demo-scheduler:5", described_json(), 5);
    let describe = describe_rule(old, 4);
    let register = register_ok(6);
    let deregister = mock!(Client::deregister_task_definition)
        .match_requests(|r| r.task_definition() == Some(td_arn("demo-scheduler", 5).as_str()))
        .then_output(|| DeregisterTaskDefinitionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&twin, &describe, &register, &deregister]
    );
    let registered = register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("ensure");
    assert_eq!(registered.revision, 6);
    assert_eq!(deregister.num_calls(), 1, "the twin 5 is deregistered");
    assert_eq!(twin.num_calls(), 1);
}

#[tokio::test]
async fn a_different_revision_in_between_is_left_alone() {
    let mut old = rendered();
    old["cpu"] = json!("512");
    let mut other = rendered();
    other["cpu"] = json!("2048");
    let between = describe_revision("demo-scheduler:5", other, 5);
    let describe = describe_rule(old, 4);
    let register = register_ok(6);
    let deregister = mock!(Client::deregister_task_definition)
        .then_output(|| DeregisterTaskDefinitionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&between, &describe, &register, &deregister]
    );
    register_if_changed(&client, &cx(), &rendered())
        .await
        .expect("ensure");
    assert_eq!(deregister.num_calls(), 0, "not a twin: kept");
}
