//! The rendered-vs-active comparison the ECS crate uses to register nothing when nothing changed.

mod common;

use orchestrate_airflow::{Component, Error, diff_fields, normalise, task_definition, to_json};
use serde_json::{Value, json};

/// What `DescribeTaskDefinition` would answer for a revision registered from `rendered`:
/// response-only fields, AWS's filled-in defaults, lists in another order.
fn as_described(rendered: &Value) -> Value {
    let mut td = rendered.clone();
    let obj = td.as_object_mut().expect("object");
    obj.remove("tags");
    obj.insert(
        "taskDefinitionArn".into(),
        json!("arn:aws:ecs:eu-west-1:123456789012:task-definition/demo-worker:7"),
    );
    obj.insert("revision".into(), json!(7));
    obj.insert("status".into(), json!("ACTIVE"));
    obj.insert("compatibilities".into(), json!(["EC2", "FARGATE"]));
    obj.insert(
        "requiresAttributes".into(),
        json!([{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}]),
    );
    obj.insert("registeredAt".into(), json!("2025-01-01T00:00:00Z"));
    obj.insert("placementConstraints".into(), json!([]));
    if let Some(Value::Array(volumes)) = obj.get_mut("volumes") {
        for v in volumes {
            v["host"] = json!({});
        }
    }
    let containers = obj["containerDefinitions"].as_array_mut().expect("list");
    for c in containers.iter_mut() {
        c["cpu"] = json!(0);
        c["volumesFrom"] = json!([]);
        c["systemControls"] = json!([]);
        c["environmentFiles"] = json!([]);
        if c.get("mountPoints").is_none() {
            c["mountPoints"] = json!([]);
        }
        if c.get("portMappings").is_none() {
            c["portMappings"] = json!([]);
        }
        if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
            for p in ports {
                p["hostPort"] = p["containerPort"].clone();
            }
        }
        if let Some(Value::Array(env)) = c.get_mut("environment") {
            env.reverse();
        }
        if let Some(Value::Array(secrets)) = c.get_mut("secrets") {
            secrets.reverse();
        }
        c["logConfiguration"]["secretOptions"] = json!([]);
    }
    containers.reverse();
    td
}

fn rendered(component: Component) -> orchestrate_airflow::TaskDefinition {
    let spec = common::spec();
    task_definition(&spec, &common::wiring(&spec), component)
}

#[test]
fn the_described_active_revision_equals_the_rendering() {
    for component in Component::ALL {
        let td = rendered(component);
        let described = as_described(&to_json(&td));
        assert_eq!(diff_fields(&td, &described).expect("comparable"), vec![]);
        // The whole DescribeTaskDefinition output is accepted too.
        let wrapped = json!({"taskDefinition": described, "tags": []});
        assert_eq!(diff_fields(&td, &wrapped).expect("comparable"), vec![]);
    }
}

#[test]
fn one_changed_variable_is_one_field_change() {
    let td = rendered(Component::Worker);
    let mut described = as_described(&to_json(&td));
    for c in described["containerDefinitions"]
        .as_array_mut()
        .expect("list")
    {
        if c["name"] == "worker" {
            for kv in c["environment"].as_array_mut().expect("env") {
                if kv["name"] == "AIRFLOW__CORE__PARALLELISM" {
                    kv["value"] = json!("32");
                }
            }
        }
    }
    let changes = diff_fields(&td, &described).expect("comparable");
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(
        changes[0].field,
        "containerDefinitions[worker].environment[AIRFLOW__CORE__PARALLELISM].value"
    );
    assert_eq!(changes[0].from.as_deref(), Some("32"));
    assert_eq!(changes[0].to.as_deref(), Some("64"));
}

#[test]
fn image_size_and_added_fields_are_changes() {
    let td = rendered(Component::Scheduler);
    let mut described = as_described(&to_json(&td));
    described["memory"] = json!("4096");
    for c in described["containerDefinitions"]
        .as_array_mut()
        .expect("list")
    {
        if c["name"] == "scheduler" {
            c["image"] = json!("apache/airflow:3.0.0");
            c["memoryReservation"] = json!(512);
            c["environment"]
                .as_array_mut()
                .expect("env")
                .retain(|kv| kv["name"] != "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK");
        }
    }
    let fields: Vec<String> = diff_fields(&td, &described)
        .expect("comparable")
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert_eq!(
        fields,
        [
            "containerDefinitions[scheduler].environment[AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK]",
            "containerDefinitions[scheduler].image",
            "containerDefinitions[scheduler].memoryReservation",
            "memory",
        ]
    );
}

#[test]
fn a_revision_without_the_sidecar_differs_by_the_whole_container() {
    let td = rendered(Component::Triggerer);
    let mut described = as_described(&to_json(&td));
    described["containerDefinitions"]
        .as_array_mut()
        .expect("list")
        .retain(|c| c["name"] != "git-sync");
    let changes = diff_fields(&td, &described).expect("comparable");
    assert!(
        changes
            .iter()
            .any(|c| c.field == "containerDefinitions[git-sync]" && c.from.is_none()),
        "{changes:#?}"
    );
}

#[test]
fn defaults_left_unset_compare_equal_to_defaults_set() {
    let explicit = json!({
        "family": "f",
        "containerDefinitions": [{
            "name": "c", "image": "i", "essential": true, "readonlyRootFilesystem": false,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp", "hostPort": 8080}],
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3},
            "mountPoints": [{"sourceVolume": "v", "containerPath": "/p", "readOnly": false}]
        }],
        "cpu": 1024,
        "ephemeralStorage": {"sizeInGiB": 21}
    });
    let implicit = json!({
        "family": "f",
        "containerDefinitions": [{
            "name": "c", "image": "i",
            "portMappings": [{"containerPort": 8080}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
            "mountPoints": [{"sourceVolume": "v", "containerPath": "/p"}]
        }],
        "cpu": "1024"
    });
    assert_eq!(
        normalise(&explicit).expect("ok"),
        normalise(&implicit).expect("ok")
    );
}

#[test]
fn non_task_definitions_are_errors() {
    let td = rendered(Component::ApiServer);
    assert!(matches!(
        diff_fields(&td, &json!("nope")),
        Err(Error::NotATaskDefinition { .. })
    ));
    let err = diff_fields(&td, &json!({"family": "x"})).expect_err("no containers");
    assert!(
        err.to_string()
            .starts_with("failed to compare task definitions"),
        "{err}"
    );
}
