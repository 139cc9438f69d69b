//! End-to-end: `--output json` on every command, on success and on each failure kind
//! (validation findings, AWS refusal, timeout, usage), each stdout document and each stderr
//! progress line validated against docs/schema/orchestrate-output.json by the small checker
//! below (the schema's subset: type, enum, required, properties, items, allOf, $ref).

mod common;

use awsim::Scenario;
use common::{Run, SPEC, World};
use serde_json::Value;

/// The schema, as shipped.
fn schema() -> Value {
    let text = include_str!("../docs/schema/orchestrate-output.json");
    serde_json::from_str(text).expect("the schema is JSON")
}

/// Checks `value` against `schema` (resolving `#/$defs/...` in `root`); the first violation,
/// with its JSON path.
fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .ok_or_else(|| format!("{at}: unsupported $ref {reference}"))?;
        let target = root["$defs"]
            .get(name)
            .ok_or_else(|| format!("{at}: no $defs/{name}"))?;
        return check(root, target, value, at);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(root, part, value, at)?;
        }
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => return Err(format!("{at}: bad type keyword {other}")),
        };
        let fits = allowed.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => false,
        });
        if !fits {
            return Err(format!("{at}: {value} is not of type {allowed:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(map) = value.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    return Err(format!("{at}: required key {key:?} is missing"));
                }
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, sub) in properties {
                if let Some(field) = map.get(key) {
                    check(root, sub, field, &format!("{at}.{key}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Checks `value` against `$defs/<def>`.
fn check_def(def: &str, value: &Value) -> Result<(), String> {
    let root = schema();
    let schema = root["$defs"]
        .get(def)
        .unwrap_or_else(|| panic!("the schema defines {def}"))
        .clone();
    check(&root, &schema, value, "$")
}

/// Every key of `value`, at any depth, is snake_case (task definitions are AWS's own JSON and
/// `outputs` are names, so both are skipped).
fn assert_snake_case_keys(value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            for (key, field) in map {
                assert!(
                    key.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{at}.{key} is not snake_case"
                );
                if key != "task_definitions" && key != "outputs" {
                    assert_snake_case_keys(field, &format!("{at}.{key}"));
                }
            }
        }
        Value::Array(list) => {
            for item in list {
                assert_snake_case_keys(item, at);
            }
        }
        _ => {}
    }
}

/// The run's stdout is exactly one JSON document that fits `$defs/<def>` (or `$defs/failure`
/// when it is a bare failure), whose `ok`/`error` agree with the exit code; every stderr line
/// that is JSON fits `$defs/progress`. Returns the document.
fn document(run: &Run, def: &str, code: i32) -> Value {
    document_with(run, def, code, code == 0)
}

/// [`document`] where `ok` is not simply "exit 0" (`plan --detailed-exitcode`: 2 is changes).
fn document_with(run: &Run, def: &str, code: i32, ok: bool) -> Value {
    run.expect_code(code);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{def}: stdout is not one JSON document ({e}):\n{}",
            run.all()
        )
    });
    let bare_failure = doc.as_object().is_some_and(|m| {
        m.keys()
            .all(|k| matches!(k.as_str(), "schema_version" | "ok" | "error"))
    }) && doc["ok"] == false;
    let def = if bare_failure { "failure" } else { def };
    if let Err(e) = check_def(def, &doc) {
        panic!("{def}: {e}\n{doc:#}");
    }
    assert_snake_case_keys(&doc, "$");
    assert_eq!(doc["ok"], ok, "{def}: ok with exit {code}: {doc}");
    if ok {
        assert!(doc.get("error").is_none(), "{def}: {doc}");
    } else {
        assert_eq!(doc["error"]["exit_code"], code, "{def}: {doc}");
    }
    for line in progress_lines(run) {
        if let Err(e) = check_def("progress", &line) {
            panic!("{def}: progress line: {e}\n{line}");
        }
    }
    doc
}

/// The stderr lines that are JSON objects.
fn progress_lines(run: &Run) -> Vec<Value> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn json(world: &World, args: &[&str]) -> Run {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    world.run(&all).await
}

#[test]
fn the_checker_fails_on_a_wrong_type_a_missing_key_and_a_value_outside_an_enum() {
    let good = serde_json::json!({"schema_version": 1, "ok": true, "phase": 2,
                                  "phase_name": "api-server", "resolved": true});
    check_def("images_check", &good).expect("a good document passes");
    let mut wrong_type = good.clone();
    wrong_type["phase"] = "2".into();
    let e = check_def("images_check", &wrong_type).expect_err("a string phase fails");
    assert!(e.contains("$.phase"), "{e}");
    let mut missing = good.clone();
    missing.as_object_mut().map(|m| m.remove("resolved"));
    let e = check_def("images_check", &missing).expect_err("a missing key fails");
    assert!(e.contains("resolved"), "{e}");
    let mut outside = good.clone();
    outside["phase_name"] = "phase-two".into();
    check_def("images_check", &outside).expect_err("a phase name outside the enum fails");
    let no_version = serde_json::json!({"ok": false, "error": {"kind": "invalid",
        "exit_code": 2, "message": "m", "hint": null}});
    check_def("failure", &no_version).expect_err("schema_version is required");
    let item = serde_json::json!({"schema_version": 1, "ok": true, "rolled_back": [
        {"service": "s", "from": "a:1", "to": "a:0", "notes": [3]}]});
    let e = check_def("rollback", &item).expect_err("a number in a list of strings fails");
    assert!(e.contains("notes[0]"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_commands_validation_findings_and_usage_errors_answer_in_json() {
    let world = World::start(SPEC, Scenario::default()).await;
    document(&json(&world, &["validate"]).await, "validate", 0);
    let cost = document(&json(&world, &["cost"]).await, "cost", 0);
    assert!(
        cost["total_usd"].as_f64().is_some_and(|t| t > 0.0),
        "{cost}"
    );
    let rendered = document(
        &json(&world, &["render", "task-definitions"]).await,
        "render_task_definitions",
        0,
    );
    assert_eq!(
        rendered["task_definitions"].as_array().map(Vec::len),
        Some(6)
    );
    let dir = world.dir.path().join("compose");
    let dir_text = dir.display().to_string();
    let compose = document(
        &json(&world, &["render", "compose", "--dir", &dir_text]).await,
        "render_compose",
        0,
    );
    assert_eq!(compose["env_created"], true, "{compose}");

    // Usage: clap's refusal and a command's own.
    let usage = document(&json(&world, &["up", "--phase", "9"]).await, "up", 2);
    assert_eq!(usage["error"]["kind"], "invalid", "{usage}");
    let refused = document(&json(&world, &["teardown", "all"]).await, "teardown", 2);
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--yes")),
        "{refused}"
    );
    // exec without the Session Manager plugin on PATH (the harness's PATH has none).
    let exec = document(&json(&world, &["exec", "scheduler"]).await, "exec", 1);
    assert!(exec["error"]["hint"].is_string(), "{exec}");

    // Validation findings: validate's own document, and plan's failure with findings on stderr.
    let invalid = world.add_spec(
        "invalid",
        &SPEC.replace(
            "[network]",
            "[image]\nairflow_version = \"2.10.5\"\n\n[network]",
        ),
    );
    let run = world
        .run_for(&invalid, &["--output", "json", "validate"])
        .await;
    let findings = document(&run, "validate", 2);
    assert_eq!(findings["valid"], false);
    assert_eq!(findings["error"]["kind"], "invalid");
    assert!(findings["errors"].as_u64().is_some_and(|n| n >= 1));
    let run = world.run_for(&invalid, &["--output", "json", "plan"]).await;
    let plan = document(&run, "plan", 2);
    assert_eq!(plan["error"]["kind"], "invalid");
    assert!(
        progress_lines(&run)
            .iter()
            .any(|l| l["event"] == "finding" && l["severity"] == "error"),
        "the findings are JSON lines on stderr: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_of_a_deployment_answers_in_json() {
    let scenario = Scenario::from_json(
        r#"{"run_task": [
            {"family": "e2e-migration", "command_contains": "dags list", "exit_code": 0},
            {"family": "e2e-migration", "command_contains": "db check", "exit_code": 2}
        ]}"#,
    )
    .expect("scenario");
    let world = World::start(SPEC, scenario).await;
    let status = document(&json(&world, &["status"]).await, "status", 0);
    assert_eq!(status["health"], "not-deployed", "{status}");

    let run = json(&world, &["-v", "up", "--phase", "2"]).await;
    let up = document(&run, "up", 0);
    assert_eq!(up["phase"], 2);
    assert_eq!(up["phase_name"], "api-server");
    assert!(up["changed"].as_u64().is_some_and(|n| n > 0), "{up}");
    let lines = progress_lines(&run);
    for (phase, kind) in [(1, "rds/db-instance"), (2, "ecs/service")] {
        assert!(
            lines
                .iter()
                .any(|l| l["phase"] == phase && l["kind"] == kind && l["resource"].is_string()),
            "a progress line of phase {phase} for {kind}:\n{}",
            run.stderr
        );
    }
    assert!(
        lines.iter().any(|l| l["event"] == "api-call"),
        "-v: API calls as JSON lines:\n{}",
        run.stderr
    );

    let status = document(&json(&world, &["status"]).await, "status", 0);
    assert_eq!(status["deployed_through"], 2, "{status}");
    let api = status["resources"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["kind"] == "ecs/service" && r["name"] == "e2e-api-server")
        })
        .unwrap_or_else(|| panic!("the api-server row: {status}"))
        .clone();
    assert!(api["running"].is_i64() && api["desired"].is_i64(), "{api}");
    assert!(api["revision"].is_u64(), "{api}");

    let plan = document(&json(&world, &["plan", "--phase", "2"]).await, "plan", 0);
    assert_eq!(plan["converged"], true, "{plan}");
    document(
        &json(&world, &["plan", "--teardown", "services"]).await,
        "plan",
        0,
    );
    let changes = document_with(
        &json(&world, &["plan", "--detailed-exitcode"]).await,
        "plan",
        2,
        true,
    );
    assert_eq!(
        changes["converged"], false,
        "exit 2 means changes: {changes}"
    );
    document(&json(&world, &["logs", "migration"]).await, "logs", 0);
    let ok = document(
        &json(&world, &["airflow", "--", "dags", "list"]).await,
        "airflow",
        0,
    );
    assert_eq!(ok["task_exit_code"], 0);
    let failed = document(
        &json(&world, &["airflow", "--", "db", "check"]).await,
        "airflow",
        2,
    );
    assert_eq!(failed["task_exit_code"], 2);
    document(&json(&world, &["doctor"]).await, "doctor", 0);
    // One revision only: whatever rollback answers is one document.
    let rollback = json(&world, &["rollback", "api-server"]).await;
    let code = rollback.code.unwrap_or(-1);
    document(&rollback, "rollback", code);
    // No registry stands in for ECR here, so the images cannot be copied: a failure document.
    let sync = json(&world, &["images", "sync", "--phase", "2"]).await;
    let code = sync.code.unwrap_or(-1);
    document(&sync, "images_sync", code);
    let check = json(&world, &["images", "check", "--phase", "2"]).await;
    let code = check.code.unwrap_or(-1);
    document(&check, "images_check", code);

    let teardown = document(
        &json(&world, &["teardown", "services"]).await,
        "teardown",
        0,
    );
    assert!(
        teardown["deleted"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{teardown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aws_refusal_is_one_json_document() {
    let scenario = Scenario::from_json(
        r#"{"faults": [{"service": "rds", "operation": "CreateDBInstance",
             "kind": {"error": {"code": "InvalidParameterCombination", "status": 400,
                                "message": "no such combination"}}}]}"#,
    )
    .expect("scenario parses");
    let world = World::start(SPEC, scenario).await;
    let doc = document(&json(&world, &["up", "--phase", "1"]).await, "up", 3);
    assert_eq!(doc["error"]["kind"], "refused", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("InvalidParameterCombination")),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_is_one_json_document() {
    let scenario = Scenario::from_json(
        r#"{"durations": {"health_check_fail": 1000000},
            "ecs_failures": [{"service": "e2e-api-server", "kind": "fail_health_check"}]}"#,
    )
    .expect("scenario parses");
    let world = World::start(SPEC, scenario).await;
    let doc = document(&json(&world, &["up", "--phase", "2"]).await, "up", 4);
    assert_eq!(doc["error"]["kind"], "timed_out", "{doc}");
}
