//! Every rendered field checked against AWS's published API model of `RegisterTaskDefinition`.
//!
//! `fixtures/ecs-register-task-definition.json` holds the shapes reachable from
//! `RegisterTaskDefinitionRequest` in the ECS model (`service-2.json`, API version
//! 2014-11-13) as shipped in botocore. To regenerate it:
//!
//! ```text
//! python3 - <<'EOF'
//! import json, gzip, os, botocore
//! d = json.load(gzip.open(os.path.join(os.path.dirname(botocore.__file__),
//!               'data/ecs/2014-11-13/service-2.json.gz')))
//! # walk d['shapes'] from 'RegisterTaskDefinitionRequest'; keep type, members (name -> shape),
//! # required, list member, map key/value and string enums
//! EOF
//! ```

mod common;

use orchestrate_airflow::{Component, Wiring, render_all, task_definition, to_json};
use serde_json::Value;

fn model() -> Value {
    let text = include_str!("fixtures/ecs-register-task-definition.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

/// Checks `value` against shape `shape`; collects every violation with its path.
fn check(shapes: &Value, shape: &str, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(def) = shapes.get(shape) else {
        errors.push(format!("{path}: unknown shape {shape}"));
        return;
    };
    let kind = def["type"].as_str().unwrap_or_default();
    match (kind, value) {
        ("structure", Value::Object(map)) => {
            let members = def["members"].as_object().expect("members");
            for (key, v) in map {
                match members.get(key).and_then(Value::as_str) {
                    Some(member_shape) => {
                        check(shapes, member_shape, v, &format!("{path}.{key}"), errors)
                    }
                    None => errors.push(format!(
                        "{path}.{key}: not a member of {shape} (members: {:?})",
                        members.keys().collect::<Vec<_>>()
                    )),
                }
            }
            for required in def["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap_or_default();
                if !map.contains_key(required) {
                    errors.push(format!("{path}: required {required} of {shape} missing"));
                }
            }
        }
        ("list", Value::Array(items)) => {
            let member = def["member"].as_str().expect("member");
            for (i, item) in items.iter().enumerate() {
                check(shapes, member, item, &format!("{path}[{i}]"), errors);
            }
        }
        ("map", Value::Object(map)) => {
            let value_shape = def["value"].as_str().expect("value");
            for (key, v) in map {
                check(shapes, value_shape, v, &format!("{path}.{key}"), errors);
            }
        }
        ("string", Value::String(s)) => {
            if let Some(allowed) = def.get("enum").and_then(Value::as_array)
                && !allowed.iter().any(|a| a.as_str() == Some(s.as_str()))
            {
                errors.push(format!("{path}: '{s}' not in {shape} {allowed:?}"));
            }
        }
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        ("boolean", Value::Bool(_)) => {}
        (kind, v) => errors.push(format!("{path}: {v} is not a {kind} ({shape})")),
    }
}

fn violations(value: &Value) -> Vec<String> {
    let model = model();
    let root = model["root"].as_str().expect("root");
    let mut errors = Vec::new();
    check(&model["shapes"], root, value, "", &mut errors);
    errors
}

#[test]
fn every_rendered_field_is_in_the_ecs_api_model() {
    let spec = common::spec();
    for wiring in [common::wiring(&spec), Wiring::pending(&spec)] {
        for td in render_all(&spec, &wiring) {
            let errors = violations(&to_json(&td));
            assert!(errors.is_empty(), "{}:\n{}", td.family, errors.join("\n"));
        }
    }
    let mut off = spec.clone();
    off.git_sync.repo = String::new();
    off.components.worker.component.ephemeral_storage_gb = 100;
    let td = task_definition(&off, &common::wiring(&off), Component::Worker);
    let errors = violations(&to_json(&td));
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_checker_catches_a_misspelt_field() {
    let spec = common::spec();
    let mut json = to_json(&task_definition(
        &spec,
        &common::wiring(&spec),
        Component::Scheduler,
    ));
    json["containerDefinitions"][0]["healthcheck"] = serde_json::json!({"command": ["CMD"]});
    json["ephemeralStorage"] = serde_json::json!({"sizeInGib": 30});
    json["networkMode"] = serde_json::json!("vpc");
    let errors = violations(&json);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains(".healthcheck: not a member"))
    );
    assert!(errors.iter().any(|e| e.contains("sizeInGib: not a member")));
    assert!(errors.iter().any(|e| e.contains("required sizeInGiB")));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("'vpc' not in NetworkMode"))
    );
}
