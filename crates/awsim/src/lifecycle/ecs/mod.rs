//! ECS: services roll out over simulated time, tasks start, fail and exit as scripted.
//!
//! moto keeps services and task definitions (CreateService / UpdateService / DeleteService
//! are forwarded), awsim keeps deployments and tasks: it rewrites DescribeServices and the
//! Create/UpdateService responses (echoing the service settings moto drops, see
//! [`model::ECHOED_FIELDS`]), and answers RunTask / StopTask / DescribeTasks / ListTasks
//! for its own tasks (merging moto's answer where moto has tasks of its own).
//!
//! Deletion as on AWS: a deleted service is `DRAINING` while its tasks stop, then
//! `INACTIVE` (moto: `INACTIVE` at once); DeleteCluster is refused with
//! `ClusterContainsServicesException` while a service of the cluster is ACTIVE or DRAINING
//! and with `ClusterContainsTasksException` while a task still runs (moto deletes it).

pub mod api;
pub mod model;
mod outcome;
pub mod render;
pub mod sim;

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::protocol::{Protocol, Rendered, render_error};
use crate::state::Shared;
use api::{NewRun, NewService, ServiceUpdate};
use model::{SvcKey, TdInfo};

/// Last path segment of a name-or-ARN (`arn:...:cluster/x` -> `x`); `default` when absent.
fn short(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        .unwrap_or_else(|| "default".to_string())
}

fn json_reply(v: Value) -> Rendered {
    Rendered {
        status: StatusCode::OK,
        content_type: "application/x-amz-json-1.1",
        headers: vec![],
        body: bytes::Bytes::from(v.to_string()),
    }
}

fn client_error(code: &str, message: &str, request_id: &str) -> Rendered {
    render_error(
        Protocol::Json,
        StatusCode::BAD_REQUEST,
        code,
        message,
        request_id,
    )
}

async fn task_definition(
    shared: &Shared,
    backend: &Backend,
    region: &str,
    reference: &str,
) -> Option<TdInfo> {
    if let Some(td) = shared.lock().task_definitions.get(reference).cloned() {
        return Some(td);
    }
    let (status, v) = backend
        .ecs(
            region,
            "DescribeTaskDefinition",
            &json!({"taskDefinition": reference}),
        )
        .await
        .ok()?;
    if !status.is_success() {
        return None;
    }
    let td = TdInfo::from_json(v.get("taskDefinition")?)?;
    shared
        .lock()
        .task_definitions
        .insert(td.arn.clone(), td.clone());
    Some(td)
}

/// Works around moto quirks in a request before it is forwarded; returns the body to send
/// when it had to change. moto answers CreateService with HTTP 500 (a KeyError) when an
/// `awsvpcConfiguration` has no `securityGroups`, which AWS accepts (default security group).
pub fn fix_request(operation: &str, req: &Value) -> Option<Value> {
    if !matches!(operation, "CreateService" | "UpdateService") {
        return None;
    }
    let awsvpc = req
        .get("networkConfiguration")?
        .get("awsvpcConfiguration")?;
    if awsvpc.get("securityGroups").is_some() {
        return None;
    }
    let mut fixed = req.clone();
    fixed["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] = json!([]);
    Some(fixed)
}

/// EC2 DeleteSubnet / DeleteSecurityGroup refused with `DependencyViolation` while the
/// network interface of a service task uses the subnet or group: until `eni_release` after
/// the task is STOPPED, as Fargate ENIs linger on AWS after their service is gone.
pub fn eni_in_use(
    g: &crate::state::Inner,
    operation: &str,
    form: &[(String, String)],
    now: crate::clock::SimMs,
    request_id: &str,
) -> Option<Rendered> {
    let (param, message): (&str, fn(&str) -> String) = match operation {
        "DeleteSubnet" => ("SubnetId", |x| {
            format!("The subnet '{x}' has dependencies and cannot be deleted.")
        }),
        "DeleteSecurityGroup" => ("GroupId", |x| {
            format!("resource {x} has a dependent object")
        }),
        _ => return None,
    };
    let target = crate::protocol::form_get(form, param)?;
    let linger = crate::clock::Clock::ms(g.scenario.durations.eni_release);
    g.ecs.eni_user(target, now, linger)?;
    Some(render_error(
        Protocol::Ec2Query,
        StatusCode::BAD_REQUEST,
        "DependencyViolation",
        &message(target),
        request_id,
    ))
}

/// Requests awsim answers without (or before) forwarding. `None` means forward to moto.
pub async fn intercept(
    shared: &Shared,
    backend: &Backend,
    region: &str,
    operation: &str,
    req: &Value,
    request_id: &str,
) -> Option<Rendered> {
    match operation {
        "CreateService" => {
            let key = SvcKey {
                cluster: short(req.get("cluster")),
                name: req.get("serviceName")?.as_str()?.to_string(),
            };
            let g = shared.lock();
            let exists = g.ecs.services.get(&key).is_some_and(|s| !s.deleted);
            exists.then(|| {
                client_error(
                    "InvalidParameterException",
                    "Creation of service was not idempotent.",
                    request_id,
                )
            })
        }
        "DeleteCluster" => {
            let cluster = short(req.get("cluster"));
            let mut g = shared.lock();
            g.advance();
            let services = g
                .ecs
                .services
                .keys()
                .any(|k| k.cluster == cluster && g.ecs.service_present(k));
            let tasks = g
                .ecs
                .tasks
                .iter()
                .any(|t| t.cluster == cluster && t.last_status != "STOPPED");
            if services {
                Some(client_error(
                    "ClusterContainsServicesException",
                    "The Cluster cannot be deleted while Services are active.",
                    request_id,
                ))
            } else if tasks {
                Some(client_error(
                    "ClusterContainsTasksException",
                    "The Cluster cannot be deleted while Tasks are active.",
                    request_id,
                ))
            } else {
                None
            }
        }
        "RunTask" => Some(run_task(shared, backend, region, req, request_id).await),
        "StopTask" => {
            let task = req.get("task")?.as_str()?;
            let mut g = shared.lock();
            let now = g.advance();
            let i = g.ecs.find_task(task)?;
            let reason = req
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_string);
            let sc = g.scenario.clone();
            g.ecs.stop_task(now, &sc, i, reason);
            let t = render::task(&g.ecs.tasks[i], &g.clock, now);
            Some(json_reply(json!({"task": t})))
        }
        _ => None,
    }
}

async fn run_task(
    shared: &Shared,
    backend: &Backend,
    region: &str,
    req: &Value,
    request_id: &str,
) -> Rendered {
    let cluster = short(req.get("cluster"));
    let clusters = backend
        .ecs(region, "DescribeClusters", &json!({"clusters": [cluster]}))
        .await;
    let cluster_arn = match clusters {
        Ok((_, v)) => v
            .get("clusters")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("status").and_then(Value::as_str) == Some("ACTIVE"))
            })
            .and_then(|c| c.get("clusterArn"))
            .and_then(Value::as_str)
            .map(str::to_string),
        Err(_) => None,
    };
    let Some(cluster_arn) = cluster_arn else {
        return client_error("ClusterNotFoundException", "Cluster not found.", request_id);
    };
    let reference = req
        .get("taskDefinition")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(td) = task_definition(shared, backend, region, reference).await else {
        return client_error(
            "InvalidParameterException",
            "TaskDefinition not found.",
            request_id,
        );
    };
    let launch_type = req
        .get("launchType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "FARGATE".to_string());
    let p = NewRun {
        cluster,
        cluster_arn,
        td,
        count: req
            .get("count")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .min(10) as u32,
        overrides: req.get("overrides").cloned().unwrap_or(Value::Null),
        started_by: req
            .get("startedBy")
            .and_then(Value::as_str)
            .map(str::to_string),
        group: req.get("group").and_then(Value::as_str).map(str::to_string),
        launch_type,
        tags: req.get("tags").cloned().unwrap_or(Value::Null),
    };
    let mut g = shared.lock();
    let now = g.advance();
    let sc = g.scenario.clone();
    let idx = g.ecs.run_task(now, &sc, p);
    let tasks: Vec<Value> = idx
        .iter()
        .map(|&i| render::task(&g.ecs.tasks[i], &g.clock, now))
        .collect();
    json_reply(json!({"tasks": tasks, "failures": []}))
}

/// Rewrites moto's answer to an ECS request. `None` leaves it as it is.
pub async fn after(
    shared: &Shared,
    backend: &Backend,
    region: &str,
    operation: &str,
    req: &Value,
    status: StatusCode,
    body: &[u8],
) -> Option<Rendered> {
    if !status.is_success() {
        return None;
    }
    let mut resp: Value = serde_json::from_slice(body).ok()?;
    match operation {
        "RegisterTaskDefinition" => {
            let mut td = TdInfo::from_json(resp.get("taskDefinition")?)?;
            // The architecture as the client asked, whatever moto echoes.
            if let Some(arch) = req
                .get("runtimePlatform")
                .and_then(|p| p.get("cpuArchitecture"))
                .and_then(Value::as_str)
            {
                td.cpu_architecture = arch.to_string();
            }
            shared.lock().task_definitions.insert(td.arn.clone(), td);
            return None;
        }
        "CreateService" => {
            let svc = resp.get("service")?;
            let td_arn = svc.get("taskDefinition")?.as_str()?.to_string();
            let td = task_definition(shared, backend, region, &td_arn).await?;
            let cluster_arn = svc
                .get("clusterArn")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let key = SvcKey {
                cluster: short(svc.get("clusterArn")),
                name: svc.get("serviceName")?.as_str()?.to_string(),
            };
            let dc = req.get("deploymentConfiguration").cloned().unwrap_or_else(|| {
                json!({"deploymentCircuitBreaker": {"enable": false, "rollback": false}, "maximumPercent": 200, "minimumHealthyPercent": 100})
            });
            let p = NewService {
                key: key.clone(),
                cluster_arn,
                td,
                desired: req.get("desiredCount").and_then(Value::as_u64).unwrap_or(0) as u32,
                deployment_configuration: dc,
                network_configuration: req
                    .get("networkConfiguration")
                    .cloned()
                    .unwrap_or(Value::Null),
                echoed: model::echoed_fields(req),
                launch_type: req
                    .get("launchType")
                    .and_then(Value::as_str)
                    .unwrap_or("FARGATE")
                    .to_string(),
            };
            let mut g = shared.lock();
            let now = g.advance();
            let sc = g.scenario.clone();
            g.ecs.create_service(now, &sc, p);
            patch(&mut g, &key, resp.get_mut("service")?, now);
        }
        "UpdateService" => {
            let key = SvcKey {
                cluster: short(req.get("cluster")),
                name: short(req.get("service")),
            };
            let td = match req.get("taskDefinition") {
                Some(_) => {
                    let arn = resp
                        .get("service")?
                        .get("taskDefinition")?
                        .as_str()?
                        .to_string();
                    Some(task_definition(shared, backend, region, &arn).await?)
                }
                None => None,
            };
            let mut g = shared.lock();
            let now = g.advance();
            let sc = g.scenario.clone();
            let desired = req
                .get("desiredCount")
                .and_then(Value::as_u64)
                .map(|d| d as u32);
            let force = req
                .get("forceNewDeployment")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let dc = req.get("deploymentConfiguration").cloned();
            if let Some(nc) = req.get("networkConfiguration")
                && let Some(s) = g.ecs.services.get_mut(&key)
            {
                s.network_configuration = nc.clone();
            }
            let update = ServiceUpdate {
                td,
                desired,
                force,
                deployment_configuration: dc,
                echoed: model::echoed_fields(req),
            };
            g.ecs.update_service(now, &sc, &key, update);
            patch(&mut g, &key, resp.get_mut("service")?, now);
        }
        "DeleteService" => {
            let key = SvcKey {
                cluster: short(req.get("cluster")),
                name: short(req.get("service")),
            };
            let mut g = shared.lock();
            let now = g.advance();
            let sc = g.scenario.clone();
            g.ecs.delete_service(now, &sc, &key);
            if !g.ecs.service_draining(&key) {
                return None;
            }
            if let Some(svc) = resp.get_mut("service") {
                svc["status"] = json!("DRAINING");
            }
        }
        "DescribeServices" => {
            let cluster = short(req.get("cluster"));
            let mut g = shared.lock();
            let now = g.advance();
            for s in resp.get_mut("services")?.as_array_mut()? {
                let Some(name) = s.get("serviceName").and_then(Value::as_str) else {
                    continue;
                };
                let key = SvcKey {
                    cluster: cluster.clone(),
                    name: name.to_string(),
                };
                match s.get("status").and_then(Value::as_str) {
                    Some("ACTIVE") => patch(&mut g, &key, s, now),
                    Some("INACTIVE") if g.ecs.service_draining(&key) => {
                        s["status"] = json!("DRAINING");
                    }
                    _ => {}
                }
            }
        }
        "ListTasks" => {
            let cluster = short(req.get("cluster"));
            let want = req
                .get("desiredStatus")
                .and_then(Value::as_str)
                .unwrap_or("RUNNING");
            let s = |k: &str| req.get(k).and_then(Value::as_str);
            let mut g = shared.lock();
            g.advance();
            let ours: Vec<Value> = g
                .ecs
                .tasks
                .iter()
                .filter(|t| t.cluster == cluster && t.desired_status == want)
                .filter(|t| {
                    s("serviceName").is_none_or(|n| {
                        t.service
                            .as_ref()
                            .is_some_and(|k| k.name == n.rsplit('/').next().unwrap_or(n))
                    })
                })
                .filter(|t| s("family").is_none_or(|f| t.td.family == f))
                .filter(|t| s("startedBy").is_none_or(|b| t.started_by.as_deref() == Some(b)))
                .filter(|t| s("launchType").is_none_or(|l| t.launch_type == l))
                .map(|t| json!(t.arn))
                .collect();
            if let Some(arr) = resp.get_mut("taskArns").and_then(Value::as_array_mut) {
                arr.extend(ours);
            }
        }
        "DescribeTasks" => {
            let wanted: Vec<String> = req
                .get("tasks")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let mut g = shared.lock();
            let now = g.advance();
            let mut tasks: Vec<Value> = resp
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut failures = Vec::new();
            for w in &wanted {
                let id = w.rsplit('/').next().unwrap_or(w);
                let in_moto = tasks.iter().any(|t| {
                    t.get("taskArn")
                        .and_then(Value::as_str)
                        .is_some_and(|a| a.ends_with(id))
                });
                match g.ecs.find_task(w) {
                    Some(i) => tasks.push(render::task(&g.ecs.tasks[i], &g.clock, now)),
                    None if !in_moto => failures.push(json!({"arn": w, "reason": "MISSING"})),
                    None => {}
                }
            }
            resp = json!({"tasks": tasks, "failures": failures});
        }
        _ => return None,
    }
    Some(json_reply(resp))
}

fn patch(g: &mut crate::state::Inner, key: &SvcKey, v: &mut Value, now: crate::clock::SimMs) {
    if let Some(svc) = g.ecs.services.get(key).filter(|s| !s.deleted) {
        render::patch_service(v, svc, &g.ecs.tasks, &g.clock, now);
    }
}
