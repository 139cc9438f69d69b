//! Rendering the simulation as ECS JSON (deployments, services, events, tasks).

use serde_json::{Value, json};

use super::model::{Deployment, Service, Task};
use crate::clock::{Clock, SimMs};

fn count(tasks: &[Task], dep: &str, now: SimMs, pending: bool) -> u32 {
    tasks
        .iter()
        .filter(|t| t.deployment.as_deref() == Some(dep))
        .filter(|t| {
            let s = t.status_at(now);
            if pending {
                t.desired_status == "RUNNING"
                    && matches!(s, "PROVISIONING" | "PENDING" | "ACTIVATING")
            } else {
                s == "RUNNING"
            }
        })
        .count() as u32
}

fn deployment(
    d: &Deployment,
    idx: usize,
    svc: &Service,
    tasks: &[Task],
    clock: &Clock,
    now: SimMs,
) -> Value {
    let mut v = json!({
        "id": d.id,
        "status": if idx == 0 { "PRIMARY" } else { "ACTIVE" },
        "taskDefinition": d.td.arn,
        "desiredCount": d.desired,
        "pendingCount": count(tasks, &d.id, now, true),
        "runningCount": count(tasks, &d.id, now, false),
        "failedTasks": d.failed_tasks,
        "createdAt": clock.epoch(d.created_at),
        "updatedAt": clock.epoch(d.updated_at),
        "rolloutState": d.rollout,
        "rolloutStateReason": d.reason,
    });
    match capacity_providers(svc) {
        Some(cps) => v["capacityProviderStrategy"] = cps.clone(),
        None => v["launchType"] = json!(svc.launch_type),
    }
    if svc.launch_type == "FARGATE" {
        v["platformVersion"] = json!("1.4.0");
        v["platformFamily"] = json!("Linux");
    }
    if !svc.network_configuration.is_null() {
        v["networkConfiguration"] = svc.network_configuration.clone();
    }
    v
}

/// The client's non-empty capacityProviderStrategy: AWS then shows no `launchType`.
fn capacity_providers(svc: &Service) -> Option<&Value> {
    svc.echoed
        .get("capacityProviderStrategy")
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
}

/// Overwrites the lifecycle fields of a moto service object with the simulation's view.
pub fn patch_service(v: &mut Value, svc: &Service, tasks: &[Task], clock: &Clock, now: SimMs) {
    let deployments: Vec<Value> = svc
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| deployment(d, i, svc, tasks, clock, now))
        .collect();
    let running: u32 = svc
        .deployments
        .iter()
        .map(|d| count(tasks, &d.id, now, false))
        .sum();
    let pending: u32 = svc
        .deployments
        .iter()
        .map(|d| count(tasks, &d.id, now, true))
        .sum();
    let events: Vec<Value> = svc
        .events
        .iter()
        .rev()
        .map(|e| json!({"id": e.id, "createdAt": clock.epoch(e.at), "message": e.message}))
        .collect();
    let Value::Object(m) = v else { return };
    if let Some(p) = svc.deployments.first() {
        m.insert("taskDefinition".into(), json!(p.td.arn));
        m.insert("desiredCount".into(), json!(p.desired));
    }
    m.insert("deployments".into(), Value::Array(deployments));
    m.insert("runningCount".into(), json!(running));
    m.insert("pendingCount".into(), json!(pending));
    m.insert("events".into(), Value::Array(events));
    m.insert("createdAt".into(), json!(clock.epoch(svc.created_at)));
    m.insert(
        "deploymentConfiguration".into(),
        svc.deployment_configuration.clone(),
    );
    if !svc.network_configuration.is_null() {
        m.insert(
            "networkConfiguration".into(),
            svc.network_configuration.clone(),
        );
    }
    for (k, val) in &svc.echoed {
        m.insert(k.clone(), val.clone());
    }
    if capacity_providers(svc).is_some() {
        m.remove("launchType");
    } else {
        m.remove("capacityProviderStrategy");
        m.entry("launchType")
            .or_insert_with(|| json!(svc.launch_type));
    }
    // AWS always answers these three; moto omits them until an UpdateService sets them.
    for (k, default) in [
        ("enableExecuteCommand", json!(false)),
        ("enableECSManagedTags", json!(false)),
        ("propagateTags", json!("NONE")),
    ] {
        m.entry(k).or_insert(default);
    }
}

/// Renders a task as DescribeTasks / RunTask / StopTask return it.
pub fn task(t: &Task, clock: &Clock, now: SimMs) -> Value {
    let status = t.status_at(now);
    let container_status = match status {
        "PROVISIONING" | "PENDING" | "ACTIVATING" => "PENDING",
        "STOPPED" => "STOPPED",
        _ => "RUNNING",
    };
    let containers: Vec<Value> =
        t.td.containers
            .iter()
            .enumerate()
            .map(|(i, (name, image, essential))| {
                let mut c = json!({
                    "containerArn": format!("{}/{}", t.arn.replace(":task/", ":container/"), i),
                    "taskArn": t.arn,
                    "name": name,
                    "image": image,
                    "lastStatus": container_status,
                    "healthStatus": t.health,
                    "networkInterfaces": [],
                });
                if status == "STOPPED" {
                    let code = if *essential {
                        t.exit_code
                    } else {
                        t.exit_code.map(|_| 0)
                    };
                    if let Some(code) = code {
                        c["exitCode"] = json!(code);
                    }
                    if *essential && let Some(r) = &t.container_reason {
                        c["reason"] = json!(r);
                    }
                }
                c
            })
            .collect();
    let epoch = |x: Option<SimMs>| x.map(|s| json!(clock.epoch(s)));
    let mut v = json!({
        "taskArn": t.arn,
        "clusterArn": t.cluster_arn,
        "taskDefinitionArn": t.td.arn,
        "lastStatus": status,
        "desiredStatus": t.desired_status,
        "healthStatus": t.health,
        "launchType": t.launch_type,
        "group": t.group,
        "connectivity": if status == "PROVISIONING" { "DISCONNECTED" } else { "CONNECTED" },
        "createdAt": clock.epoch(t.created_at),
        "version": 1,
        "availabilityZone": "us-east-1a",
        "containers": containers,
        "overrides": if t.overrides.is_object() { t.overrides.clone() } else { json!({"containerOverrides": []}) },
        "attachments": [],
        "tags": if t.tags.is_array() { t.tags.clone() } else { json!([]) },
    });
    if t.launch_type == "FARGATE" {
        v["platformVersion"] = json!("1.4.0");
        v["platformFamily"] = json!("Linux");
    }
    let m = v.as_object_mut();
    if let Some(m) = m {
        let mut put = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                m.insert(k.into(), val);
            }
        };
        put("cpu", t.td.cpu.clone().map(Value::String));
        put("memory", t.td.memory.clone().map(Value::String));
        put("startedBy", t.started_by.clone().map(Value::String));
        put("startedAt", epoch(t.started_at));
        put(
            "pullStartedAt",
            t.started_at.map(|_| json!(clock.epoch(t.pending_at))),
        );
        put("stoppingAt", epoch(t.stopping_at));
        put(
            "stoppedAt",
            epoch(t.stopped_at).filter(|_| status == "STOPPED"),
        );
        put(
            "executionStoppedAt",
            epoch(t.stopped_at).filter(|_| status == "STOPPED"),
        );
        put("stoppedReason", t.stopped_reason.clone().map(Value::String));
        put("stopCode", t.stop_code.map(|c| json!(c)));
    }
    v
}
