use aws_sdk_iam::operation::create_role::{CreateRoleError, CreateRoleOutput};
use aws_sdk_iam::operation::delete_role::DeleteRoleOutput;
use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
use aws_sdk_iam::operation::list_role_policies::{ListRolePoliciesError, ListRolePoliciesOutput};
use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
use aws_sdk_iam::operation::update_assume_role_policy::UpdateAssumeRolePolicyOutput;
use aws_sdk_iam::types::Role;
use aws_sdk_iam::types::error::{EntityAlreadyExistsException, NoSuchEntityException};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::*;

const ACCOUNT: &str = "123456789012";
const EXEC: &str = "demo-ecs-execution-eu-west-1";
const TASK_ROLE: &str = "demo-ecs-task-eu-west-1";

fn desired(cx: &Context) -> IamDesired {
    IamDesired::new(
        cx,
        Some(ACCOUNT),
        "eu-west-1",
        &[
            "arn:aws:ecr:eu-west-1:123456789012:repository/demo/airflow".to_string(),
            "arn:aws:ecr:eu-west-1:123456789012:repository/demo/git-sync".to_string(),
        ],
        &["arn:aws:logs:eu-west-1:123456789012:log-group:/orchestrate/demo".to_string()],
        "arn:aws:logs:eu-west-1:123456789012:log-group:/orchestrate/demo/tasks:*",
        &["arn:aws:secretsmanager:eu-west-1:123456789012:secret:git-creds-AbCdEf".to_string()],
    )
}

fn encode(doc: &Value) -> String {
    utf8_percent_encode(&doc.to_string(), NON_ALPHANUMERIC).to_string()
}

fn role(name: &str, trust: &Value) -> Role {
    Role::builder()
        .role_name(name)
        .role_id("AROA")
        .path(role::PATH)
        .arn(format!("arn:aws:iam::{ACCOUNT}:role/orchestrate/{name}"))
        .create_date(DateTime::from_secs(0))
        .assume_role_policy_document(encode(trust))
        .build()
        .expect("role")
}

fn no_such_role() -> GetRoleError {
    GetRoleError::NoSuchEntityException(NoSuchEntityException::builder().build())
}

fn no_such_policy() -> GetRolePolicyError {
    GetRolePolicyError::NoSuchEntityException(NoSuchEntityException::builder().build())
}

fn get_role_found(name: &'static str, trust: Value) -> Rule {
    mock!(Client::get_role)
        .match_requests(move |r| r.role_name() == Some(name))
        .then_output(move || GetRoleOutput::builder().role(role(name, &trust)).build())
}

fn get_policy_found(role_name: &'static str, stored: String) -> Rule {
    mock!(Client::get_role_policy)
        .match_requests(move |r| r.role_name() == Some(role_name))
        .then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name(role_name)
                .policy_name("p")
                .policy_document(stored.clone())
                .build()
                .expect("output")
        })
}

fn mutating_rules() -> (Rule, Rule, Rule) {
    (
        mock!(Client::create_role).then_output(|| CreateRoleOutput::builder().build()),
        mock!(Client::update_assume_role_policy)
            .then_output(|| UpdateAssumeRolePolicyOutput::builder().build()),
        mock!(Client::put_role_policy).then_output(|| PutRolePolicyOutput::builder().build()),
    )
}

#[test]
fn execution_policy_reads_exactly_this_deployments_secrets_and_repositories() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let doc = d.execution_policy_document();
    let statements = doc["Statement"].as_array().expect("statements");
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid} missing: {doc}"))
            .clone()
    };
    assert_eq!(by_sid("EcrAuth")["Resource"], serde_json::json!(["*"]));
    assert_eq!(
        by_sid("EcrPull")["Resource"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        by_sid("ContainerLogs")["Resource"],
        serde_json::json!(["arn:aws:logs:eu-west-1:123456789012:log-group:/orchestrate/demo:*"])
    );
    assert_eq!(
        by_sid("Secrets")["Resource"],
        serde_json::json!([
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orchestrate/demo/*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:git-creds-AbCdEf"
        ])
    );
    assert_eq!(
        by_sid("Secrets")["Action"],
        serde_json::json!(["secretsmanager:GetSecretValue"])
    );
    assert!(!doc.to_string().contains("kms:"));

    let task = d.task_policy_document();
    let text = task.to_string();
    assert!(
        text.contains("log-group:/orchestrate/demo/tasks:*"),
        "{text}"
    );
    assert!(
        !text.contains("log-group:/orchestrate/demo:*"),
        "task role must not write container logs: {text}"
    );
    assert!(text.contains("ssmmessages:OpenDataChannel"));
    assert!(!text.contains("secretsmanager"));

    assert_eq!(d.execution.name, EXEC);
    assert_eq!(d.task.name, TASK_ROLE);
    assert_eq!(d.task.tags.get(TAG_COMPONENT), Some("iam/ecs-task"));
    assert_eq!(
        d.trust_policy_document()["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        ACCOUNT
    );
}

#[test]
fn unknown_account_leaves_the_trust_open_and_the_secret_account_wildcarded() {
    let cx = Context::for_tests("demo");
    let d = IamDesired::new(&cx, None, "cn-north-1", &[], &[], "arn:t", &[]);
    assert!(
        d.trust_policy_document()["Statement"][0]
            .get("Condition")
            .is_none()
    );
    let text = d.execution_policy_document().to_string();
    assert!(
        text.contains("arn:aws-cn:secretsmanager:cn-north-1:*:secret:orchestrate/demo/*"),
        "{text}"
    );
    assert!(
        !text.contains("EcrPull") && !text.contains("ContainerLogs"),
        "no empty Resource lists: {text}"
    );
}

#[tokio::test]
async fn creates_roles_with_tags_and_trust_then_waits_then_puts_policies() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let trust = d.trust_policy_document();
    // Absent, then still absent right after create (eventual consistency), then visible.
    let get_role = |name: &'static str, trust: Value| {
        mock!(Client::get_role)
            .match_requests(move |r| r.role_name() == Some(name))
            .sequence()
            .error(no_such_role)
            .times(2)
            .output(move || GetRoleOutput::builder().role(role(name, &trust)).build())
            .build()
    };
    let exec = get_role(EXEC, trust.clone());
    let task = get_role(TASK_ROLE, trust.clone());
    let get_policy = mock!(Client::get_role_policy).then_error(no_such_policy);
    let create = mock!(Client::create_role)
        .match_requests(|r| {
            let tag = |key: &str| {
                r.tags()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string())
            };
            let trust: Value =
                serde_json::from_str(r.assume_role_policy_document().unwrap_or("{}"))
                    .unwrap_or_default();
            r.path() == Some(role::PATH)
                && tag(TAG_DEPLOYMENT).as_deref() == Some("demo")
                && tag("Name").as_deref() == r.role_name()
                && trust["Statement"][0]["Principal"]["Service"] == policy::ECS_TASKS
                && trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"]
                    == ACCOUNT
        })
        .then_output(|| CreateRoleOutput::builder().build());
    let expected_exec = d.execution_policy_document();
    let put = mock!(Client::put_role_policy)
        .match_requests(move |r| {
            let doc: Value =
                serde_json::from_str(r.policy_document().unwrap_or("{}")).unwrap_or_default();
            match r.role_name() {
                Some(EXEC) => r.policy_name() == Some(EXECUTION_POLICY) && doc == expected_exec,
                Some(TASK_ROLE) => r.policy_name() == Some(TASK_POLICY),
                _ => false,
            }
        })
        .then_output(|| PutRolePolicyOutput::builder().build());
    let update = mock!(Client::update_assume_role_policy)
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&exec, &task, &get_policy, &create, &put, &update]
    );

    let out = ensure(&client, &cx, &d).await.expect("ensure");

    assert!(out.created);
    assert_eq!(create.num_calls(), 2, "one create per role, no duplicate");
    assert_eq!(exec.num_calls(), 3, "found after one not-yet-visible poll");
    assert_eq!(put.num_calls(), 2);
    assert_eq!(update.num_calls(), 0, "trust was set by CreateRole");
    assert_eq!(
        out.execution_role_arn,
        format!("arn:aws:iam::{ACCOUNT}:role/orchestrate/{EXEC}")
    );
    assert_eq!(
        out.task_role_arn,
        format!("arn:aws:iam::{ACCOUNT}:role/orchestrate/{TASK_ROLE}")
    );
}

#[tokio::test]
async fn converged_roles_make_zero_mutating_calls_even_when_documents_are_respelled() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let exec = get_role_found(EXEC, d.trust_policy_document());
    let task = get_role_found(TASK_ROLE, d.trust_policy_document());
    // The stored execution policy lists its statements and actions in another order.
    let mut respelled = d.execution_policy_document();
    if let Some(statements) = respelled["Statement"].as_array_mut() {
        statements.reverse();
        for s in statements.iter_mut() {
            if let Some(actions) = s["Action"].as_array_mut() {
                actions.reverse();
            }
        }
    }
    let exec_policy = get_policy_found(EXEC, encode(&respelled));
    let task_policy = get_policy_found(TASK_ROLE, encode(&d.task_policy_document()));
    let (create, update, put) = mutating_rules();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &exec,
            &task,
            &exec_policy,
            &task_policy,
            &create,
            &update,
            &put
        ]
    );

    let out = ensure(&client, &cx, &d).await.expect("ensure");
    let plan = plan_iam(&client, &d).await.expect("plan");

    assert!(!out.created);
    assert_eq!(create.num_calls() + update.num_calls() + put.num_calls(), 0);
    assert_eq!(plan.len(), 4);
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    assert_eq!(plan[1].kind, "iam/role-policy");
    assert_eq!(
        plan[1].name,
        "demo-ecs-execution-eu-west-1/orchestrate-execution"
    );
}

#[tokio::test]
async fn drifted_trust_and_policy_are_rewritten_and_nothing_else() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    // Trust without the account condition on the execution role; a widened task policy.
    let exec = get_role_found(EXEC, policy::trust_policy(None));
    let task = get_role_found(TASK_ROLE, d.trust_policy_document());
    let exec_policy = get_policy_found(EXEC, encode(&d.execution_policy_document()));
    let widened = policy::document(vec![policy::allow("All", &["logs:*"], &["*".into()])]);
    let task_policy = get_policy_found(TASK_ROLE, encode(&widened));
    let (create, _, _) = mutating_rules();
    let update = mock!(Client::update_assume_role_policy)
        .match_requests(|r| r.role_name() == Some(EXEC))
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let put = mock!(Client::put_role_policy)
        .match_requests(|r| {
            r.role_name() == Some(TASK_ROLE) && r.policy_name() == Some(TASK_POLICY)
        })
        .then_output(|| PutRolePolicyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &exec,
            &task,
            &exec_policy,
            &task_policy,
            &create,
            &update,
            &put
        ]
    );

    let plan = plan_iam(&client, &d).await.expect("plan");
    let actions: Vec<_> = plan
        .iter()
        .map(|c| (c.name.as_str(), matches!(c.action, Action::Update { .. })))
        .collect();
    assert_eq!(
        actions,
        vec![
            (EXEC, true),
            ("demo-ecs-execution-eu-west-1/orchestrate-execution", false),
            (TASK_ROLE, false),
            ("demo-ecs-task-eu-west-1/orchestrate-task", true),
        ]
    );

    ensure(&client, &cx, &d).await.expect("ensure");
    assert_eq!(create.num_calls(), 0);
    assert_eq!(update.num_calls(), 1);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn lost_create_response_is_adopted_not_duplicated() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let trust = d.trust_policy_document();
    let get_role = mock!(Client::get_role)
        .sequence()
        .error(no_such_role)
        .output(move || GetRoleOutput::builder().role(role(EXEC, &trust)).build())
        .build();
    let create = mock!(Client::create_role).then_error(|| {
        CreateRoleError::EntityAlreadyExistsException(
            EntityAlreadyExistsException::builder().build(),
        )
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get_role, &create]);

    let (observed, created) = role::ensure(&client, &cx, &d.execution)
        .await
        .expect("adopted");

    assert!(!created);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(observed.name, EXEC);
}

#[tokio::test]
async fn delete_removes_inline_policies_then_roles_and_tolerates_absence() {
    let cx = Context::for_tests("demo");
    let list = mock!(Client::list_role_policies)
        .match_requests(|r| r.role_name() == Some(EXEC))
        .then_output(|| {
            ListRolePoliciesOutput::builder()
                .policy_names(EXECUTION_POLICY)
                .is_truncated(false)
                .build()
                .expect("output")
        });
    let absent = mock!(Client::list_role_policies)
        .match_requests(|r| r.role_name() == Some(TASK_ROLE))
        .then_error(|| {
            ListRolePoliciesError::NoSuchEntityException(NoSuchEntityException::builder().build())
        });
    let attached = mock!(Client::list_attached_role_policies)
        .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
    let delete_policy = mock!(Client::delete_role_policy)
        .match_requests(|r| {
            r.role_name() == Some(EXEC) && r.policy_name() == Some(EXECUTION_POLICY)
        })
        .then_output(|| DeleteRolePolicyOutput::builder().build());
    let delete_role = mock!(Client::delete_role)
        .match_requests(|r| r.role_name() == Some(EXEC))
        .then_output(|| DeleteRoleOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&list, &absent, &attached, &delete_policy, &delete_role]
    );

    delete(&client, &cx, "eu-west-1").await.expect("delete");

    assert_eq!(delete_policy.num_calls(), 1);
    assert_eq!(
        delete_role.num_calls(),
        1,
        "only the role that exists is deleted"
    );
}

#[test]
fn missing_actions_reads_allow_and_deny_with_iam_wildcards() {
    use serde_json::json;
    let cx = Context::for_tests("demo");
    let ours = desired(&cx).task_policy_document();
    assert!(
        policy::missing_actions(&ours, &ECS_EXEC_ACTIONS).is_empty(),
        "the task policy `up` writes allows ECS Exec"
    );
    let wildcard =
        json!({"Statement": {"Effect": "Allow", "Action": "SSMMessages:Open*", "Resource": "*"}});
    assert_eq!(
        policy::missing_actions(&wildcard, &ECS_EXEC_ACTIONS),
        vec![
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel"
        ]
    );
    let everything = json!({"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ssmmessages:CreateDataChannel", "Resource": "*"}
    ]});
    assert_eq!(
        policy::missing_actions(&everything, &ECS_EXEC_ACTIONS),
        vec!["ssmmessages:CreateDataChannel"]
    );
    let scoped = json!({"Statement": [
        {"Effect": "Allow", "Action": "ssmmessages:*", "Resource": "arn:aws:ssm:*:*:session/*"}
    ]});
    assert_eq!(
        policy::missing_actions(&scoped, &ECS_EXEC_ACTIONS).len(),
        4,
        "the channel actions need Resource *"
    );
}

#[tokio::test]
async fn task_role_grants_names_what_the_inline_policy_lacks() {
    use serde_json::json;
    let cx = Context::for_tests("demo");
    let trimmed = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel"],
        "Resource": "*"
    }]});
    let get = mock!(Client::get_role_policy)
        .match_requests(|r| {
            r.role_name() == Some(TASK_ROLE) && r.policy_name() == Some(TASK_POLICY)
        })
        .then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name(TASK_ROLE)
                .policy_name(TASK_POLICY)
                .policy_document(encode(&trimmed))
                .build()
                .expect("output")
        });
    let attached = mock!(Client::list_attached_role_policies)
        .match_requests(|r| r.role_name() == Some(TASK_ROLE))
        .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &attached]);

    let grants = task_role_grants(&client, &cx, "eu-west-1", &ECS_EXEC_ACTIONS)
        .await
        .expect("read");
    assert_eq!(grants.role, TASK_ROLE);
    assert_eq!(
        grants.missing,
        vec![
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenDataChannel"
        ]
    );
    assert!(grants.attached.is_empty());
}

#[tokio::test]
async fn task_role_grants_without_the_policy_misses_everything() {
    let cx = Context::for_tests("demo");
    let get = mock!(Client::get_role_policy).then_error(no_such_policy);
    let attached = mock!(Client::list_attached_role_policies)
        .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&get, &attached]);
    let grants = task_role_grants(&client, &cx, "eu-west-1", &ECS_EXEC_ACTIONS)
        .await
        .expect("read");
    assert_eq!(grants.missing.len(), 4);
}
