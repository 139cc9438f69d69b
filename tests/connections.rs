//! Airflow's secrets backend, `orchestrate connections|variables`, the task role's DAG
//! permissions (`[task_role]`) and the team's own secrets by ARN (`[components.*] secrets`),
//! end to end against the emulator. Every check reads AWS with the SDK, not orchestrate.
//!
//! - `connections set` with the value on stdin writes `orchestrate/e2e/connections/<id>`
//!   (tagged), with exactly that value; a second identical `set` makes no mutating call; a
//!   different value is written; the value never appears in stdout or stderr, with `-v`,
//!   `-vv` or `--output json`; a value on the command line is refused without being echoed
//!   and without any AWS call.
//! - Only the task role may read the prefix: its inline policy names exactly the connections
//!   and variables prefixes, and no other statement of any policy orchestrate puts matches the
//!   connection's ARN (the execution role reads exactly the secrets its task definitions
//!   reference).
//! - `[task_role]`: the managed policy is attached and the statements are the role's
//!   `orchestrate-user` policy after `up --phase 1`; a re-run makes no mutating call;
//!   removing them from the spec detaches the policy and deletes the inline policy.
//! - `[components.worker] secrets`: the worker's task definition takes the variable from the
//!   ARN (`valueFrom`), the execution role may read exactly that secret (and the SSM
//!   parameter), and no other component gets it.

mod common;

use std::process::Stdio;

use awsim::Scenario;
use common::{Run, SPEC, World};
use tokio::io::AsyncWriteExt;

const ACCOUNT: &str = "123456789012";
const TASK_ROLE: &str = "e2e-ecs-task-us-east-1";
const EXECUTION_ROLE: &str = "e2e-ecs-execution-us-east-1";
const CONNECTION: &str = "orchestrate/e2e/connections/warehouse";
/// A connection URI whose password must never be printed.
const URI: &str = "postgresql://etl:Wh-7q2LmZx9Pk4sVb1Nr@warehouse.example.com:5432/analytics";
const PASSWORD: &str = "Wh-7q2LmZx9Pk4sVb1Nr";
const URI_2: &str = "postgresql://etl:Jc3Hy8TmQe5Rw2Ua6Dz0@warehouse.example.com:5432/analytics";
const PASSWORD_2: &str = "Jc3Hy8TmQe5Rw2Ua6Dz0";
/// The team's own secret the worker gets as `WAREHOUSE_TOKEN` (its JSON key `token`).
const TEAM_SECRET: &str = "team/warehouse";
const PARAMETER_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/team/region-hint";

/// Runs `orchestrate <args>` with `input` on stdin.
async fn run_with_stdin(world: &World, args: &[&str], input: &str) -> Run {
    let mut cmd = world.command(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("orchestrate starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .expect("finished within 120 s")
    .expect("orchestrate ran");
    Run::from(output)
}

fn assert_hidden(run: &Run, needles: &[&str], what: &str) {
    let all = run.all();
    for needle in needles {
        assert!(
            !all.contains(needle),
            "{what}: a secret value reached the output:\n{all}"
        );
    }
}

/// IAM's wildcard match (`*`, `?`), case-sensitive as for resources.
fn matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// IAM returns documents URL-encoded (RFC 3986).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every inline policy of `role`: name -> document.
async fn inline_policies(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("list role policies");
    let mut out = std::collections::BTreeMap::new();
    for name in names.policy_names() {
        let policy = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .expect("get role policy");
        let text = percent_decode(policy.policy_document());
        out.insert(
            name.clone(),
            serde_json::from_str(&text).expect("policy JSON"),
        );
    }
    out
}

/// `(role, policy, sid)` of every statement that lets `action` reach `arn`.
async fn grants_on(iam: &aws_sdk_iam::Client, action: &str, arn: &str) -> Vec<String> {
    let mut found = Vec::new();
    for role in [TASK_ROLE, EXECUTION_ROLE] {
        for (name, document) in inline_policies(iam, role).await {
            let statements = match &document["Statement"] {
                serde_json::Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for statement in statements {
                if statement["Effect"] != "Allow" {
                    continue;
                }
                let acts = strings(&statement["Action"]);
                let resources = strings(&statement["Resource"]);
                if acts.iter().any(|a| matches(a, action))
                    && resources.iter().any(|r| matches(r, arn))
                {
                    found.push(format!(
                        "{role}/{name}/{}",
                        statement["Sid"].as_str().unwrap_or("-")
                    ));
                }
            }
        }
    }
    found
}

fn spec_with_grants(policy_arn: &str, team_secret_arn: &str) -> String {
    format!(
        r#"{SPEC}
[task_role]
managed_policy_arns = ["{policy_arn}"]

[[task_role.statements]]
Sid = "RawBucket"
Effect = "Allow"
Action = ["s3:GetObject", "s3:ListBucket"]
Resource = ["arn:aws:s3:::raw-data", "arn:aws:s3:::raw-data/*"]

[components.worker.secrets]
WAREHOUSE_TOKEN = "{team_secret_arn}:token::"
REGION_HINT = "{PARAMETER_ARN}"
"#
    )
}

#[tokio::test]
async fn connections_set_is_read_by_the_task_role_only_and_never_printed() {
    let world = World::start(SPEC, Scenario::default()).await;
    let sdk = world.sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);

    // The team's own resources, made beforehand as the team would.
    let policy = iam
        .create_policy()
        .policy_name("dags-read")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"glue:GetTable","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("create managed policy");
    let policy_arn = policy
        .policy()
        .and_then(|p| p.arn())
        .expect("policy ARN")
        .to_string();
    let team = secrets
        .create_secret()
        .name(TEAM_SECRET)
        .secret_string(r#"{"token":"team-token-value-0123456789"}"#)
        .send()
        .await
        .expect("create team secret");
    let team_arn = team.arn().expect("team secret ARN").to_string();
    std::fs::write(&world.spec, spec_with_grants(&policy_arn, &team_arn)).expect("spec");

    world.run(&["up", "--phase", "1"]).await.expect_code(0);

    // --- connections set: value on stdin, written under the prefix, never printed. -------
    let set = run_with_stdin(
        &world,
        &["connections", "set", "warehouse"],
        &format!("{URI}\n"),
    )
    .await;
    set.expect_code(0);
    assert!(set.stdout.contains("created"), "{}", set.stdout);
    assert!(set.stdout.contains(CONNECTION), "{}", set.stdout);
    assert_hidden(&set, &[URI, PASSWORD], "connections set");
    let stored = secrets
        .get_secret_value()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("the connection's secret exists");
    assert_eq!(
        stored.secret_string(),
        Some(URI),
        "the value is stdin's, without its trailing newline"
    );
    let described = secrets
        .describe_secret()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("describe");
    assert!(
        described
            .tags()
            .iter()
            .any(|t| { t.key() == Some("orchestrate:deployment") && t.value() == Some("e2e") }),
        "tagged with the deployment (teardown all finds it): {:?}",
        described.tags()
    );
    let connection_arn = described.arn().expect("ARN").to_string();

    // The same value again: no mutating call, at every verbosity and in JSON; nothing shown.
    world.sim.reset_accounting();
    for args in [
        &["connections", "set", "warehouse", "-v"][..],
        &["connections", "set", "warehouse", "-vv"][..],
        &["connections", "set", "warehouse", "--output", "json"][..],
    ] {
        let again = run_with_stdin(&world, args, URI).await;
        again.expect_code(0);
        assert_hidden(&again, &[URI, PASSWORD], &args.join(" "));
        assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    }
    let json = run_with_stdin(
        &world,
        &["connections", "set", "warehouse", "--output", "json"],
        URI,
    )
    .await;
    let document: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(document["ok"], true, "{document}");
    assert_eq!(document["action"], "unchanged", "{document}");
    assert_eq!(document["secret"], CONNECTION, "{document}");
    assert_eq!(
        world.applied_mutations(),
        Vec::<String>::new(),
        "an unchanged value is not rewritten"
    );

    // Another value: written, and neither value is shown.
    let update = run_with_stdin(&world, &["connections", "set", "warehouse", "-v"], URI_2).await;
    update.expect_code(0);
    assert!(update.stdout.contains("updated"), "{}", update.stdout);
    assert_hidden(
        &update,
        &[URI_2, PASSWORD_2, PASSWORD],
        "connections set (update)",
    );
    let stored = secrets
        .get_secret_value()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("read");
    assert_eq!(stored.secret_string(), Some(URI_2));
    assert_eq!(
        world.applied_mutations(),
        vec!["secretsmanager:PutSecretValue".to_string()]
    );

    // A value on the command line is refused, not echoed, and nothing is called.
    world.sim.reset_accounting();
    for args in [
        &["connections", "set", "warehouse", URI][..],
        &["connections", "set", "warehouse", URI, "--output", "json"][..],
    ] {
        let refused = world.run(args).await;
        refused.expect_code(2);
        assert_hidden(&refused, &[URI, PASSWORD], "value on argv");
        assert!(refused.all().contains("refused"), "{}", refused.all());
    }
    assert!(world.sim.calls().is_empty(), "{:?}", world.sim.calls());
    let unchanged = secrets
        .get_secret_value()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("read");
    assert_eq!(unchanged.secret_string(), Some(URI_2));
    // Not a connection at all: refused without showing it.
    let bad = run_with_stdin(&world, &["connections", "set", "warehouse"], PASSWORD).await;
    bad.expect_code(2);
    assert_hidden(&bad, &[PASSWORD], "malformed value");

    // Variables: same store, another prefix; list shows names only.
    let var = run_with_stdin(&world, &["variables", "set", "region"], "eu-west-1").await;
    var.expect_code(0);
    let list = world.run(&["connections", "list"]).await;
    list.expect_code(0);
    assert_eq!(list.stdout.trim(), "warehouse");
    assert_hidden(&list, &[URI_2, PASSWORD_2], "connections list");
    let list = world.run(&["variables", "list", "--output", "json"]).await;
    list.expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&list.stdout).expect("JSON");
    assert_eq!(document["ids"], serde_json::json!(["region"]));

    // --- who may read it: the task role's AirflowSecrets statement, nothing else. --------
    let task = inline_policies(&iam, TASK_ROLE).await;
    let own = &task["orchestrate-task"];
    let airflow_secrets = own["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "AirflowSecrets")
        .unwrap_or_else(|| panic!("no AirflowSecrets statement: {own}"));
    assert_eq!(
        strings(&airflow_secrets["Resource"]),
        vec![
            format!(
                "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orchestrate/e2e/connections/*"
            ),
            format!(
                "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orchestrate/e2e/variables/*"
            ),
        ]
    );
    let mut actions = strings(&airflow_secrets["Action"]);
    actions.sort();
    assert_eq!(
        actions,
        [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue"
        ]
    );
    assert_eq!(
        grants_on(&iam, "secretsmanager:GetSecretValue", &connection_arn).await,
        vec![format!("{TASK_ROLE}/orchestrate-task/AirflowSecrets")],
        "the connection is readable by the task role's secrets-backend grant and nothing else"
    );
    // The execution role still reads what the task definitions reference, and the team's.
    let fernet = secrets
        .describe_secret()
        .secret_id("orchestrate/e2e/fernet-key")
        .send()
        .await
        .expect("fernet key");
    assert_eq!(
        grants_on(
            &iam,
            "secretsmanager:GetSecretValue",
            fernet.arn().expect("arn")
        )
        .await,
        vec![format!("{EXECUTION_ROLE}/orchestrate-execution/Secrets")]
    );
    assert_eq!(
        grants_on(&iam, "secretsmanager:GetSecretValue", &team_arn).await,
        vec![format!("{EXECUTION_ROLE}/orchestrate-execution/Secrets")]
    );
    assert_eq!(
        grants_on(&iam, "ssm:GetParameters", PARAMETER_ARN).await,
        vec![format!("{EXECUTION_ROLE}/orchestrate-execution/Parameters")]
    );
    let lease_like =
        format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orchestrate/e2e/lease-AbCdEf");
    assert_eq!(
        grants_on(&iam, "secretsmanager:GetSecretValue", &lease_like).await,
        Vec::<String>::new(),
        "no role reads the lease"
    );

    // --- [task_role]: attached and inline, converged re-run makes no mutating call. ------
    let attached = iam
        .list_attached_role_policies()
        .role_name(TASK_ROLE)
        .send()
        .await
        .expect("attached");
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [policy_arn.as_str()]);
    let user = &task["orchestrate-user"];
    assert_eq!(user["Statement"][0]["Sid"], "RawBucket", "{user}");
    assert_eq!(
        strings(&user["Statement"][0]["Resource"]),
        ["arn:aws:s3:::raw-data", "arn:aws:s3:::raw-data/*"]
    );
    world.sim.reset_accounting();
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    assert_eq!(
        world.applied_mutations(),
        Vec::<String>::new(),
        "converged phase 1 with grants: no mutating call"
    );

    // --- [components.worker] secrets in the worker's task definition only. --------------
    let up = world.run(&["up", "--phase", "5"]).await;
    up.expect_code(0);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for component in ["worker", "scheduler"] {
        let td = ecs
            .describe_task_definition()
            .task_definition(format!("e2e-{component}"))
            .send()
            .await
            .expect("task definition");
        let container = td
            .task_definition()
            .and_then(|t| {
                t.container_definitions()
                    .iter()
                    .find(|c| c.name() == Some(component))
            })
            .expect("the Airflow container");
        let secrets: Vec<(&str, &str)> = container
            .secrets()
            .iter()
            .map(|s| (s.name(), s.value_from()))
            .collect();
        let token = secrets.iter().find(|(n, _)| *n == "WAREHOUSE_TOKEN");
        let environment: Vec<(&str, &str)> = container
            .environment()
            .iter()
            .filter_map(|e| e.name().zip(e.value()))
            .collect();
        if component == "worker" {
            assert_eq!(
                token.map(|(_, v)| v.to_string()),
                Some(format!("{team_arn}:token::"))
            );
            assert!(
                secrets.contains(&("REGION_HINT", PARAMETER_ARN)),
                "{secrets:?}"
            );
        } else {
            assert!(
                token.is_none(),
                "{component} gets no worker secret: {secrets:?}"
            );
        }
        let backend = environment
            .iter()
            .find(|(n, _)| *n == "AIRFLOW__SECRETS__BACKEND_KWARGS")
            .map(|(_, v)| serde_json::from_str::<serde_json::Value>(v).expect("kwargs JSON"));
        assert_eq!(
            backend,
            Some(serde_json::json!({
                "connections_prefix": "orchestrate/e2e/connections",
                "variables_prefix": "orchestrate/e2e/variables",
                "config_prefix": null,
            })),
            "{component}: {environment:?}"
        );
    }

    // --- grants removed from the spec: detached and deleted, once. -------------------------
    std::fs::write(&world.spec, SPEC).expect("spec");
    world.sim.reset_accounting();
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let mut mutations = world.applied_mutations();
    mutations.sort();
    assert_eq!(
        mutations,
        [
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePolicy"
        ],
        "the user policy deleted, the managed policy detached, the execution policy narrowed \
         to the deployment's own secrets"
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(TASK_ROLE)
        .send()
        .await
        .expect("attached");
    assert!(attached.attached_policies().is_empty());
    assert!(
        !inline_policies(&iam, TASK_ROLE)
            .await
            .contains_key("orchestrate-user")
    );
    assert_eq!(
        grants_on(&iam, "secretsmanager:GetSecretValue", &team_arn).await,
        Vec::<String>::new()
    );

    // --- delete: scheduled for deletion, gone from the list. -----------------------------
    let delete = world.run(&["connections", "delete", "warehouse"]).await;
    delete.expect_code(0);
    assert!(
        delete.stdout.contains("scheduled for deletion"),
        "{}",
        delete.stdout
    );
    let described = secrets
        .describe_secret()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("describe");
    assert!(described.deleted_date().is_some());
    let list = world.run(&["connections", "list"]).await;
    list.expect_code(0);
    assert_eq!(list.stdout.trim(), "");
    // set restores it with the new value.
    let again = run_with_stdin(&world, &["connections", "set", "warehouse"], URI).await;
    again.expect_code(0);
    assert!(again.stdout.contains("updated"), "{}", again.stdout);
    let described = secrets
        .describe_secret()
        .secret_id(CONNECTION)
        .send()
        .await
        .expect("describe");
    assert!(described.deleted_date().is_none(), "restored");
}
