//! Policy documents (pure) and how a stored one is compared with a desired one.
//!
//! IAM returns documents URL-encoded (RFC 3986) and as submitted, modulo whitespace; other
//! writers (the console, Terraform, a teammate's CLI) may reorder list entries or write a
//! one-element list as a bare string. [`same_policy`] therefore compares *parsed and
//! normalised* JSON, never strings: a document that means the same is not rewritten.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

/// IAM policy language version.
pub const VERSION: &str = "2012-10-17";

/// The service principal of ECS tasks.
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    orchestrate_aws::partition(region)
}

/// Trust policy letting ECS tasks assume a role; scoped to `account_id` when known
/// (`aws:SourceAccount`, the confused-deputy guard AWS recommends).
pub fn trust_policy(account_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": ECS_TASKS },
        "Action": "sts:AssumeRole",
    });
    if let (Some(account), Some(obj)) = (account_id, statement.as_object_mut()) {
        obj.insert(
            "Condition".into(),
            json!({ "StringEquals": { "aws:SourceAccount": account } }),
        );
    }
    json!({ "Version": VERSION, "Statement": [statement] })
}

/// One `Allow` statement.
pub fn allow(sid: &str, actions: &[&str], resources: &[String]) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    })
}

/// A document of `statements`.
pub fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": VERSION, "Statement": statements })
}

/// Decodes a document as IAM returns it (URL-encoded JSON). `None` when it is not JSON.
pub fn decode(stored: &str) -> Option<Value> {
    let decoded = percent_decode_str(stored).decode_utf8().ok()?;
    serde_json::from_str(&decoded)
        .ok()
        // A document stored by a client that did not encode it (some emulators) parses as is.
        .or_else(|| serde_json::from_str(stored).ok())
}

/// True when the stored (URL-encoded) document means the same as `desired`.
/// An unreadable stored document is "different", so that `ensure` rewrites it.
pub fn same_policy(stored: Option<&str>, desired: &Value) -> bool {
    stored
        .and_then(decode)
        .is_some_and(|observed| normalize(&observed) == normalize(desired))
}

/// The `actions` that `document` does not allow on every resource (`"Resource": "*"`), in
/// the order given (pure). An action is allowed by an `Allow` statement whose `Action` names
/// it, exactly or by an IAM wildcard (`ssmmessages:*`, `ssmmessages:Open*`, `*`), ignoring
/// case, and is taken back by any `Deny` statement that names it. Statements with
/// `NotAction`, `NotResource` or a `Condition` are not relied on (they grant only sometimes);
/// only `*` resources count, which is what the `ssmmessages` actions support.
pub fn missing_actions(document: &Value, actions: &[&str]) -> Vec<String> {
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    let names = |statement: &Value, key: &str, action: &str| {
        statement
            .get(key)
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .any(|pattern| wildcard_match(pattern, action))
    };
    let allowed = |action: &str| {
        let granted = statements.iter().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && s.get("NotAction").is_none()
                && s.get("NotResource").is_none()
                && s.get("Condition").is_none()
                && names(s, "Action", action)
                && s.get("Resource")
                    .map(as_list)
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.as_str() == Some("*"))
        });
        let denied = statements.iter().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Deny") && names(s, "Action", action)
        });
        granted && !denied
    };
    actions
        .iter()
        .filter(|a| !allowed(a))
        .map(|a| (*a).to_string())
        .collect()
}

/// IAM's wildcard match: `*` any run of characters, `?` one; case-insensitive.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Keys whose value may be a string or a list of strings, order irrelevant.
const SET_KEYS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

/// A canonical form: `Statement` always a list, set-like values sorted lists, condition
/// values and principals sorted lists, statements in a stable order.
pub fn normalize(policy: &Value) -> Value {
    let Some(obj) = policy.as_object() else {
        return policy.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let value = match key.as_str() {
            "Statement" => {
                let mut statements: Vec<Value> =
                    as_list(value).iter().map(normalize_statement).collect();
                statements.sort_by_key(canonical_string);
                Value::Array(statements)
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn normalize_statement(statement: &Value) -> Value {
    let Some(obj) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let value = if SET_KEYS.contains(&key.as_str()) {
            sorted_set(value)
        } else if key == "Principal" || key == "NotPrincipal" {
            map_values(value, sorted_set)
        } else if key == "Condition" {
            map_values(value, |by_key| map_values(by_key, sorted_set))
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// `value` as JSON text with every object's keys in sorted order, whatever the order they were
/// inserted in: a stable sort key. (With serde_json's `preserve_order`, which another crate of
/// the build may turn on, `to_string` keeps insertion order, so a policy AWS returns and the
/// same policy built here would otherwise sort their statements differently.)
fn canonical_string(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(obj) => {
                let mut keys: Vec<&String> = obj.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    if let Some(v) = obj.get(key) {
                        out.insert(key.clone(), sorted(v));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn sorted_set(value: &Value) -> Value {
    if value.is_object() {
        return value.clone();
    }
    let mut items = as_list(value);
    items.sort_by_key(canonical_string);
    items.dedup();
    Value::Array(items)
}

fn map_values(value: &Value, f: impl Fn(&Value) -> Value) -> Value {
    match value.as_object() {
        Some(obj) => Value::Object(obj.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
        None => value.clone(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn statements_compare_equal_whatever_the_key_order() {
        // AWS returns keys sorted; the desired policy is built Sid first. With serde_json's
        // preserve_order the two texts differ, and the statement order must not follow them.
        let desired = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "B", "Effect": "Allow", "Action": ["b:X"], "Resource": ["*"]},
            {"Sid": "A", "Effect": "Allow", "Action": ["a:X"], "Resource": ["*"]},
        ]});
        let stored = r#"{"Statement":[{"Action":["a:X"],"Effect":"Allow","Resource":["*"],"Sid":"A"},{"Action":["b:X"],"Effect":"Allow","Resource":["*"],"Sid":"B"}],"Version":"2012-10-17"}"#;
        assert!(same_policy(Some(stored), &desired));
        assert_eq!(
            canonical_string(&serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}})),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
    }
    use super::*;

    #[test]
    fn equal_meaning_compares_equal_whatever_the_spelling() {
        let desired = document(vec![allow(
            "Pull",
            &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            &["arn:b".to_string(), "arn:a".to_string()],
        )]);
        // Reordered lists, extra whitespace, URL-encoded, as IAM returns it.
        let stored = r#"{ "Version": "2012-10-17", "Statement": { "Sid": "Pull", "Effect": "Allow",
            "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            "Resource": ["arn:a", "arn:b"] } }"#;
        let encoded =
            percent_encoding::utf8_percent_encode(stored, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(same_policy(Some(&encoded), &desired));
        assert!(
            same_policy(Some(stored), &desired),
            "unencoded is accepted too"
        );

        let narrower = document(vec![allow(
            "Pull",
            &["ecr:BatchGetImage"],
            &["arn:a".into()],
        )]);
        assert!(!same_policy(Some(&encoded), &narrower));
        assert!(!same_policy(Some("%7Bnot json"), &desired));
        assert!(!same_policy(None, &desired));
    }

    #[test]
    fn trust_policy_is_scoped_to_the_account_when_known() {
        let scoped = trust_policy(Some("123456789012"));
        assert_eq!(
            scoped["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        assert_eq!(scoped["Statement"][0]["Principal"]["Service"], ECS_TASKS);
        let open = trust_policy(None);
        assert!(open["Statement"][0].get("Condition").is_none());
        // A bare-string and a one-element-list action mean the same.
        let stored = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Action":["sts:AssumeRole"],"Condition":{"StringEquals":{"aws:SourceAccount":["123456789012"]}}}]}"#;
        assert!(same_policy(Some(stored), &scoped));
        assert!(!same_policy(Some(stored), &open));
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
