use aws_sdk_iam::operation::create_role::{CreateRoleError, CreateRoleOutput};
use aws_sdk_iam::operation::delete_role::DeleteRoleOutput;
use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
use aws_sdk_iam::operation::list_role_policies::{ListRolePoliciesError, ListRolePoliciesOutput};
use aws_sdk_iam::operation::list_roles::ListRolesOutput;
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
        &Access {
            deployment_secrets: vec![
                "orchestrate/demo/fernet-key".to_string(),
                "orchestrate/demo/sql-alchemy-conn".to_string(),
            ],
            user_secret_arns: vec![
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:git-creds-AbCdEf".to_string(),
            ],
            task_secret_prefixes: vec![
                "orchestrate/demo/connections".to_string(),
                "orchestrate/demo/variables".to_string(),
            ],
            ..Access::default()
        },
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

/// ListRoles under `/orchestrate/` answering `roles` (name, trust policy) plus another
/// deployment's role, and no GetRole at all: the roles are read in one call.
fn roles_listed(roles: Vec<(&'static str, Value)>) -> (Rule, Rule) {
    (
        mock!(Client::list_roles)
            .match_requests(|r| r.path_prefix() == Some(role::PATH))
            .then_output(move || {
                let mut listed: Vec<Role> = roles
                    .iter()
                    .map(|(name, trust)| role(name, trust))
                    .collect();
                listed.push(role(
                    "other-ecs-task-eu-west-1",
                    &policy::trust_policy(None),
                ));
                ListRolesOutput::builder()
                    .set_roles(Some(listed))
                    .is_truncated(false)
                    .build()
                    .expect("output")
            }),
        mock!(Client::get_role).then_error(no_such_role),
    )
}

fn get_policy_found(role_name: &'static str, stored: String) -> Rule {
    mock!(Client::get_role_policy)
        .match_requests(move |r| {
            r.role_name() == Some(role_name) && r.policy_name() != Some(USER_POLICY)
        })
        .then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name(role_name)
                .policy_name("p")
                .policy_document(stored.clone())
                .build()
                .expect("output")
        })
}

/// No `orchestrate-user` policy and no managed policy attached: the grants of a spec that
/// asks for none.
fn no_grants() -> (Rule, Rule) {
    (
        mock!(Client::get_role_policy)
            .match_requests(|r| r.policy_name() == Some(USER_POLICY))
            .then_error(no_such_policy),
        mock!(Client::list_attached_role_policies)
            .then_output(|| ListAttachedRolePoliciesOutput::builder().build()),
    )
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
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:git-creds-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orchestrate/demo/fernet-key-??????",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orchestrate/demo/sql-alchemy-conn-??????",
        ]),
        "exactly the referenced secrets: not the connections, the variables or the lease"
    );
    assert!(!doc.to_string().contains("orchestrate/demo/*"));
    assert!(!doc.to_string().contains("connections"));
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
    let statements = task["Statement"].as_array().expect("statements");
    let airflow = statements
        .iter()
        .find(|s| s["Sid"] == "AirflowSecrets")
        .expect("the secrets backend's grant");
    assert_eq!(
        airflow["Resource"],
        serde_json::json!([
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orchestrate/demo/connections/*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orchestrate/demo/variables/*",
        ])
    );
    assert_eq!(
        airflow["Action"],
        serde_json::json!([
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret"
        ])
    );
    assert_eq!(
        statements
            .iter()
            .filter(|s| s.to_string().contains("secretsmanager"))
            .count(),
        1,
        "the task role reads no other secret"
    );
    assert_eq!(
        d.task.extra,
        Some(Grants::default()),
        "no user grants: none wanted"
    );
    assert_eq!(
        d.execution.extra, None,
        "the execution role's other policies are left alone"
    );

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
    let d = IamDesired::new(
        &cx,
        None,
        "cn-north-1",
        &[],
        &[],
        "arn:t",
        &Access {
            deployment_secrets: vec!["orchestrate/demo/fernet-key".to_string()],
            ..Access::default()
        },
    );
    assert!(
        d.trust_policy_document()["Statement"][0]
            .get("Condition")
            .is_none()
    );
    let text = d.execution_policy_document().to_string();
    assert!(
        text.contains(
            "arn:aws-cn:secretsmanager:cn-north-1:*:secret:orchestrate/demo/fernet-key-??????"
        ),
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
    // Not listed; then, after create, not visible once (eventual consistency), then visible.
    let listed = mock!(Client::list_roles).then_output(|| {
        ListRolesOutput::builder()
            .set_roles(Some(Vec::new()))
            .is_truncated(false)
            .build()
            .expect("output")
    });
    let get_role = |name: &'static str, trust: Value| {
        mock!(Client::get_role)
            .match_requests(move |r| r.role_name() == Some(name))
            .sequence()
            .error(no_such_role)
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
    let (_, attached) = no_grants();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &listed,
            &exec,
            &task,
            &get_policy,
            &create,
            &put,
            &update,
            &attached
        ]
    );

    let out = ensure(&client, &cx, &d).await.expect("ensure");

    assert!(out.created);
    assert_eq!(create.num_calls(), 2, "one create per role, no duplicate");
    assert_eq!(
        listed.num_calls(),
        1,
        "both roles looked up in one ListRoles"
    );
    assert_eq!(exec.num_calls(), 2, "found after one not-yet-visible poll");
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
    let (listed, get_role) = roles_listed(vec![
        (EXEC, d.trust_policy_document()),
        (TASK_ROLE, d.trust_policy_document()),
    ]);
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
    let (user, attached) = no_grants();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &listed,
            &get_role,
            &exec_policy,
            &task_policy,
            &create,
            &update,
            &put,
            &user,
            &attached
        ]
    );

    let out = ensure(&client, &cx, &d).await.expect("ensure");
    let plan = plan_iam(&client, &d).await.expect("plan");

    assert_eq!(
        listed.num_calls(),
        2,
        "one ListRoles for ensure, one for plan"
    );
    assert_eq!(get_role.num_calls(), 0, "both roles come from the list");
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
    let (listed, get_role) = roles_listed(vec![
        (EXEC, policy::trust_policy(None)),
        (TASK_ROLE, d.trust_policy_document()),
    ]);
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
    let (user, attached) = no_grants();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [
            &listed,
            &get_role,
            &exec_policy,
            &task_policy,
            &create,
            &update,
            &put,
            &user,
            &attached
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

    let (observed, created) = role::ensure(&client, &cx, &d.execution, None)
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

#[tokio::test]
async fn grants_attach_what_is_missing_detach_the_rest_and_put_the_user_policy() {
    use aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput;
    use aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyOutput;
    use aws_sdk_iam::types::AttachedPolicy;

    let cx = Context::for_tests("demo");
    let wanted = "arn:aws:iam::123456789012:policy/dags-read";
    let kept = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    let stale = "arn:aws:iam::123456789012:policy/old";
    let statements = policy::document(vec![policy::allow(
        "Raw",
        &["s3:GetObject"],
        &["arn:aws:s3:::raw/*".to_string()],
    )]);
    let grants = Grants {
        user_policy: Some(statements.clone()),
        managed_policy_arns: vec![kept.to_string(), wanted.to_string()],
    };
    let user = mock!(Client::get_role_policy)
        .match_requests(|r| r.policy_name() == Some(USER_POLICY))
        .then_error(no_such_policy);
    let attached = mock!(Client::list_attached_role_policies).then_output(move || {
        ListAttachedRolePoliciesOutput::builder()
            .attached_policies(AttachedPolicy::builder().policy_arn(kept).build())
            .attached_policies(AttachedPolicy::builder().policy_arn(stale).build())
            .build()
    });
    let attach = mock!(Client::attach_role_policy)
        .match_requests(move |r| r.role_name() == Some(TASK_ROLE) && r.policy_arn() == Some(wanted))
        .then_output(|| AttachRolePolicyOutput::builder().build());
    let detach = mock!(Client::detach_role_policy)
        .match_requests(move |r| r.role_name() == Some(TASK_ROLE) && r.policy_arn() == Some(stale))
        .then_output(|| DetachRolePolicyOutput::builder().build());
    let expected = statements.clone();
    let put = mock!(Client::put_role_policy)
        .match_requests(move |r| {
            let doc: Value =
                serde_json::from_str(r.policy_document().unwrap_or("{}")).unwrap_or_default();
            r.policy_name() == Some(USER_POLICY) && doc == expected
        })
        .then_output(|| PutRolePolicyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&user, &attached, &attach, &detach, &put]
    );

    let observed = grants::find(&client, TASK_ROLE).await.expect("find");
    let plan = grants::diff(TASK_ROLE, &grants, &observed);
    let shown: Vec<(String, String)> = plan
        .iter()
        .map(|c| (c.name.clone(), format!("{:?}", c.action)))
        .collect();
    assert_eq!(
        shown,
        vec![
            (format!("{TASK_ROLE}/{USER_POLICY}"), "Create".to_string()),
            (format!("{TASK_ROLE}/{kept}"), "NoChange".to_string()),
            (format!("{TASK_ROLE}/{wanted}"), "Create".to_string()),
            (format!("{TASK_ROLE}/{stale}"), "Delete".to_string()),
        ]
    );
    let changed = grants::ensure(&client, &cx, TASK_ROLE, &grants)
        .await
        .expect("ensure");
    assert_eq!(changed, 3);
    assert_eq!(
        (put.num_calls(), attach.num_calls(), detach.num_calls()),
        (1, 1, 1)
    );
}
