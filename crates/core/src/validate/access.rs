//! Rules on what the spec grants: `[task_role]` (managed policy ARNs, inline statements as IAM
//! JSON), `[components.*] secrets` (the team's secrets by ARN) and the variables the secrets
//! backend owns.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::Findings;
use crate::access::{
    RESERVED_VARIABLES, ROLE_INLINE_POLICY_LIMIT, SECRETS_BACKEND_VARIABLES, TASK_POLICY_RESERVE,
    is_variable_name, parse_secret_ref,
};
use crate::spec::{ComponentSpec, Spec};

/// Managed policies a role may have attached by default (IAM quota, adjustable to 20).
const DEFAULT_ATTACHED_QUOTA: usize = 10;
/// The most managed policies any role can have attached.
const MAX_ATTACHED: usize = 20;

fn regex(pattern: &str) -> Regex {
    // Every pattern is a constant of this module, compiled by the tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant pattern compiles")
}

/// A managed policy ARN: AWS's own (`iam::aws:policy/…`) or an account's.
static POLICY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^arn:aws(?:-cn|-us-gov)?:iam::(?:aws|[0-9]{12}):policy/(?:[\x21-\x7E]+/)*[A-Za-z0-9+=,.@_-]{1,128}$",
    )
});
/// An IAM action: `service:Action` with IAM wildcards, or `*`.
static ACTION: LazyLock<Regex> = LazyLock::new(|| regex(r"^(?:\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$"));
/// A statement id.
static SID: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9]*$"));

/// Keys an identity-policy statement may have.
const STATEMENT_KEYS: [&str; 7] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// The spec's `[task_role] statements` as the IAM policy document `up` puts (pure).
pub fn user_policy_document(spec: &Spec) -> Option<Value> {
    let statements = &spec.task_role.statements;
    (!statements.is_empty()).then(|| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": statements.iter().cloned().map(Value::Object).collect::<Vec<_>>(),
        })
    })
}

/// Strings of a `string or list of strings` value; `None` for any other shape or an empty list.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

pub(super) fn check(spec: &Spec, f: &mut Findings) {
    task_role(spec, f);
    component_secrets(spec, f);
    if spec.airflow.secrets_backend {
        for key in SECRETS_BACKEND_VARIABLES {
            if spec.airflow.environment.contains_key(key) {
                f.error(
                    "airflow-managed-variable",
                    format!("airflow.environment.{key}"),
                    format!("{key} is set by orchestrate while [airflow] secrets_backend is on"),
                    "remove it, or set [airflow] secrets_backend = false to configure your own secrets backend",
                );
            }
        }
    }
}

fn task_role(spec: &Spec, f: &mut Findings) {
    let arns = &spec.task_role.managed_policy_arns;
    let mut seen = BTreeSet::new();
    for (i, arn) in arns.iter().enumerate() {
        let path = format!("task_role.managed_policy_arns[{i}]");
        if !POLICY_ARN.is_match(arn) {
            f.error(
                "task-role-policy-arn",
                path,
                format!("'{arn}' is not an IAM managed policy ARN"),
                "use arn:aws:iam::aws:policy/NAME (AWS-managed) or arn:aws:iam::ACCOUNT:policy/[PATH/]NAME",
            );
        } else if !seen.insert(arn.as_str()) {
            f.error(
                "task-role-policy-arn",
                path,
                format!("'{arn}' is listed twice"),
                "list each managed policy once",
            );
        }
    }
    if arns.len() > MAX_ATTACHED {
        f.error(
            "task-role-policy-count",
            "task_role.managed_policy_arns",
            format!(
                "{} managed policies; a role holds at most {MAX_ATTACHED}",
                arns.len()
            ),
            "merge policies, or move statements into [task_role] statements",
        );
    } else if arns.len() > DEFAULT_ATTACHED_QUOTA {
        f.warning(
            "task-role-policy-count",
            "task_role.managed_policy_arns",
            format!(
                "{} managed policies; IAM's default quota is {DEFAULT_ATTACHED_QUOTA} per role",
                arns.len()
            ),
            "check the account's 'Managed policies per role' quota (Service Quotas, IAM) before up",
        );
    }

    let mut sids = BTreeSet::new();
    for (i, statement) in spec.task_role.statements.iter().enumerate() {
        let path = format!("task_role.statements[{i}]");
        let mut bad = |what: String, fix: &str| {
            f.error("task-role-statement", path.clone(), what, fix);
        };
        for key in statement.keys() {
            if !STATEMENT_KEYS.contains(&key.as_str()) {
                bad(
                    format!("'{key}' is not a key of an identity-policy statement"),
                    "use Sid, Effect, Action or NotAction, Resource or NotResource, Condition (no Principal: the policy is the role's own)",
                );
            }
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => bad(
                "Effect must be \"Allow\" or \"Deny\"".into(),
                "set Effect = \"Allow\" (or \"Deny\")",
            ),
        }
        if let Some(sid) = statement.get("Sid") {
            match sid.as_str() {
                Some(s) if SID.is_match(s) => {
                    if !s.is_empty() && !sids.insert(s.to_string()) {
                        bad(
                            format!("Sid '{s}' is used twice"),
                            "give each statement its own Sid",
                        );
                    }
                }
                _ => bad(
                    "Sid must be letters and digits only".into(),
                    "use a Sid such as ReadRawBucket",
                ),
            }
        }
        for (one, other) in [("Action", "NotAction"), ("Resource", "NotResource")] {
            match (statement.get(one), statement.get(other)) {
                (Some(_), Some(_)) => bad(
                    format!("both {one} and {other}"),
                    &format!("keep {one} (or {other}), not both"),
                ),
                (None, None) => bad(
                    format!("no {one}"),
                    &format!("set {one} to a string or a list of strings"),
                ),
                (Some(v), None) | (None, Some(v)) => {
                    if strings(v).is_none() {
                        bad(
                            format!("{one} must be a string or a non-empty list of strings"),
                            &format!("write {one} = \"…\" or {one} = [\"…\", \"…\"]"),
                        );
                    }
                }
            }
        }
        if let Some(c) = statement.get("Condition")
            && !c.is_object()
        {
            bad(
                "Condition must be a table of operators".into(),
                "write Condition = { StringEquals = { \"aws:ResourceTag/team\" = \"data\" } }",
            );
        }
        let actions = statement
            .get("Action")
            .or_else(|| statement.get("NotAction"))
            .and_then(strings)
            .unwrap_or_default();
        for action in &actions {
            if !ACTION.is_match(action) {
                bad(
                    format!("'{action}' is not an IAM action"),
                    "write actions as service:Action, e.g. s3:GetObject (wildcards * and ? allowed)",
                );
            }
        }
        let allows = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        let wildcard = actions
            .iter()
            .find(|a| **a == "*" || a.ends_with(":*"))
            .filter(|_| allows && statement.contains_key("Action"));
        if let Some(action) = wildcard {
            f.warning(
                "task-role-wildcard-action",
                path.clone(),
                format!("'{action}' allows every action of the service to every DAG"),
                "name the actions the DAGs need (e.g. s3:GetObject, s3:PutObject)",
            );
        }
    }
    if let Some(document) = user_policy_document(spec) {
        let size = document
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        let budget = ROLE_INLINE_POLICY_LIMIT - TASK_POLICY_RESERVE;
        if size > budget {
            f.error(
                "task-role-policy-size",
                "task_role.statements",
                format!(
                    "the statements take {size} characters; a role's inline policies hold {ROLE_INLINE_POLICY_LIMIT} in all, {TASK_POLICY_RESERVE} of them kept for orchestrate's own"
                ),
                format!("shorten them to {budget} characters (wildcards in resource ARNs, fewer statements), or move them into a managed policy listed in managed_policy_arns"),
            );
        }
    }
}

fn component_secrets(spec: &Spec, f: &mut Findings) {
    let c = &spec.components;
    let all: [(&str, &ComponentSpec); 6] = [
        ("api_server", &c.api_server),
        ("scheduler", &c.scheduler),
        ("dag_processor", &c.dag_processor),
        ("triggerer", &c.triggerer),
        ("worker", &c.worker.component),
        ("migration", &c.migration),
    ];
    for (key, component) in all {
        for (name, value) in &component.secrets {
            let path = format!("components.{key}.secrets.{name}");
            if !is_variable_name(name) {
                f.error(
                    "component-secret-name",
                    path,
                    format!("'{name}' is not an environment variable name"),
                    "use letters, digits and _, not starting with a digit",
                );
            } else if RESERVED_VARIABLES.contains(&name.as_str()) {
                f.error(
                    "component-secret-name",
                    path,
                    format!("{name} is set by orchestrate itself"),
                    "pick another variable name",
                );
            } else if spec.airflow.environment.contains_key(name) {
                f.error(
                    "component-secret-name",
                    path,
                    format!("{name} is also set in [airflow.environment]"),
                    "set it in one place: remove it from [airflow.environment] to take it from the secret",
                );
            } else if parse_secret_ref(value).is_none() {
                f.error(
                    "component-secret-arn",
                    path,
                    format!("'{value}' is not a Secrets Manager secret or SSM parameter ARN"),
                    "use arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx (optionally :json-key:version-stage:version-id) or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::spec::load::parse_with_env;
    use crate::validate::{Finding, Severity, validate};

    const HEAD: &str = "[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n";

    /// The rules of this module (other modules' findings on the default spec, such as
    /// `alb-plain-http`, are not this module's business).
    const RULES: [&str; 8] = [
        "task-role-policy-arn",
        "task-role-policy-count",
        "task-role-statement",
        "task-role-wildcard-action",
        "task-role-policy-size",
        "component-secret-name",
        "component-secret-arn",
        "airflow-managed-variable",
    ];

    fn findings(extra: &str) -> Vec<Finding> {
        let loaded = parse_with_env(
            Path::new("o.toml"),
            format!("{HEAD}{extra}"),
            &BTreeMap::new(),
        )
        .expect("spec parses");
        validate(&loaded.spec)
            .into_iter()
            .filter(|f| RULES.contains(&f.rule))
            .collect()
    }

    fn rules(extra: &str, severity: Severity) -> Vec<&'static str> {
        findings(extra)
            .into_iter()
            .filter(|f| f.severity == severity)
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn a_full_grant_is_valid_and_renders_as_an_iam_document() {
        let extra = r#"
[task_role]
managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::123456789012:policy/team/glue"]

[[task_role.statements]]
Sid = "RawBucket"
Effect = "Allow"
Action = ["s3:GetObject", "s3:ListBucket"]
Resource = ["arn:aws:s3:::raw", "arn:aws:s3:::raw/*"]
Condition = { StringEquals = { "aws:ResourceTag/team" = "data" } }

[[task_role.statements]]
Effect = "Deny"
NotAction = "s3:Get*"
Resource = "*"

[components.worker.secrets]
WAREHOUSE_TOKEN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/wh-AbC123:token::"
REGION_HINT = "arn:aws:ssm:us-east-1:123456789012:parameter/team/hint"
"#;
        assert_eq!(findings(extra), vec![]);
        let loaded = parse_with_env(
            Path::new("o.toml"),
            format!("{HEAD}{extra}"),
            &BTreeMap::new(),
        )
        .expect("parses");
        let document = user_policy_document(&loaded.spec).expect("a document");
        assert_eq!(document["Version"], "2012-10-17");
        assert_eq!(document["Statement"][0]["Sid"], "RawBucket");
        assert_eq!(
            document["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceTag/team"],
            "data"
        );
        assert_eq!(document["Statement"][1]["NotAction"], "s3:Get*");
        assert_eq!(
            user_policy_document(&Spec::minimal("demo", "us-east-1")),
            None
        );
    }

    #[test]
    fn wildcard_actions_warn_and_do_not_fail() {
        for action in ["\"*\"", "\"s3:*\"", "[\"s3:GetObject\", \"glue:*\"]"] {
            let extra = format!(
                "[[task_role.statements]]\nEffect = \"Allow\"\nAction = {action}\nResource = \"*\"\n"
            );
            assert_eq!(
                rules(&extra, Severity::Error),
                Vec::<&str>::new(),
                "{action}"
            );
            assert_eq!(
                rules(&extra, Severity::Warning),
                vec!["task-role-wildcard-action"],
                "{action}"
            );
        }
        // A Deny of everything is not a grant.
        let deny =
            "[[task_role.statements]]\nEffect = \"Deny\"\nAction = \"*\"\nResource = \"*\"\n";
        assert!(rules(deny, Severity::Warning).is_empty());
    }

    #[test]
    fn bad_statements_fail_with_the_statement_rule() {
        for body in [
            "Effect = \"Allow\"\nAction = \"s3:GetObject\"\nNotAction = \"s3:PutObject\"\nResource = \"*\"",
            "Effect = \"Allow\"\nAction = []\nResource = \"*\"",
            "Effect = \"Allow\"\nAction = \"s3:GetObject\"\nResource = 3",
            "Effect = \"Allow\"\nAction = \"s3:GetObject\"\nResource = \"*\"\nSid = \"has space\"",
            "Effect = \"Allow\"\nAction = \"s3:GetObject\"\nResource = \"*\"\nCondition = \"x\"",
            "Action = \"s3:GetObject\"\nResource = \"*\"",
        ] {
            let extra = format!("[[task_role.statements]]\n{body}\n");
            assert!(
                rules(&extra, Severity::Error).contains(&"task-role-statement"),
                "{body}"
            );
        }
        let twice = "[[task_role.statements]]\nSid = \"A\"\nEffect = \"Allow\"\nAction = \"s3:GetObject\"\nResource = \"*\"\n".repeat(2);
        assert!(rules(&twice, Severity::Error).contains(&"task-role-statement"));
    }

    #[test]
    fn the_secrets_backend_owns_its_variables_only_while_on() {
        let extra = "[airflow.environment]\nAIRFLOW__SECRETS__BACKEND = \"x\"\n";
        assert_eq!(
            rules(extra, Severity::Error),
            vec!["airflow-managed-variable"]
        );
        let off = format!("[airflow]\nsecrets_backend = false\n{extra}");
        assert_eq!(rules(&off, Severity::Error), Vec::<&str>::new());
    }

    #[test]
    fn size_is_counted_without_whitespace_against_the_shared_budget() {
        let resources = |n: usize| {
            (0..n)
                .map(|i| format!("\"arn:aws:s3:::team-raw-data-bucket-{i:04}/*\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let statement = |n: usize| {
            format!(
                "[[task_role.statements]]\nEffect = \"Allow\"\nAction = \"s3:GetObject\"\nResource = [{}]\n",
                resources(n)
            )
        };
        assert!(rules(&statement(150), Severity::Error).is_empty());
        assert_eq!(
            rules(&statement(250), Severity::Error),
            vec!["task-role-policy-size"]
        );
    }

    #[test]
    fn policy_arns_and_actions() {
        for good in [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole",
            "arn:aws:iam::123456789012:policy/team/dags-read",
        ] {
            assert!(POLICY_ARN.is_match(good), "{good}");
        }
        for bad in [
            "AmazonS3ReadOnlyAccess",
            "arn:aws:iam::12345:policy/x",
            "arn:aws:iam::aws:role/x",
            "arn:aws:iam::aws:policy/",
        ] {
            assert!(!POLICY_ARN.is_match(bad), "{bad}");
        }
        for good in ["s3:GetObject", "s3:Get*", "*", "glue:*"] {
            assert!(ACTION.is_match(good), "{good}");
        }
        for bad in ["s3", "s3:", "S3 GetObject", ":x"] {
            assert!(!ACTION.is_match(bad), "{bad}");
        }
    }
}
