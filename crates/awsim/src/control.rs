//! The HTTP control API under `/_awsim/`, for processes other than the one that started awsim
//! (the CLI in end-to-end tests, scripts, the benchmark).
//!
//! | method | path | body / answer |
//! |---|---|---|
//! | GET | `/_awsim/health` | `{"ok":true,"moto":URL}` |
//! | GET | `/_awsim/calls` | `[Call, ...]` |
//! | GET | `/_awsim/summary` | `Summary` |
//! | POST | `/_awsim/calls/reset` | forget recorded calls |
//! | GET/POST | `/_awsim/scenario` | current scenario / replace it (JSON) |
//! | POST | `/_awsim/reset` | reset moto and every emulated state and the call log |
//! | POST | `/_awsim/crash` | `{"pid":N,"after":M,"ignore_targets":[..]}`: SIGKILL pid after its M-th applied mutating call (calls on `ignore_targets` not counted) |
//! | GET | `/_awsim/crash` | the crash hook (`null` if none) |
//! | POST | `/_awsim/advance` | `{"seconds":S}`: jump simulated time forward |
//! | GET | `/_awsim/ecs` | simulated now and every ECS service's deployments and events, each time as simulated seconds and wall-clock epoch seconds (the benchmark reads when a deployment was marked FAILED) |

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::clock::SimMs;
use crate::proxy::{App, json_response};
use crate::scenario::Scenario;
use crate::state::CrashHook;
use crate::state::Inner;

fn bad(msg: impl std::fmt::Display) -> Response<Full<Bytes>> {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": msg.to_string()}))
}

/// Handles one control request.
pub async fn handle(app: &App, method: &Method, path: &str, body: Bytes) -> Response<Full<Bytes>> {
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    let to_value = |r: Result<Value, serde_json::Error>| match r {
        Ok(v) => ok(v),
        Err(e) => bad(e),
    };
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/_awsim/health") => ok(json!({"ok": true, "moto": app.backend.url()})),
        ("GET", "/_awsim/calls") => {
            to_value(serde_json::to_value(app.shared.lock().ledger.calls()))
        }
        ("GET", "/_awsim/summary") => {
            to_value(serde_json::to_value(app.shared.lock().ledger.summary()))
        }
        ("POST", "/_awsim/calls/reset") => {
            app.shared.lock().ledger.clear();
            ok(json!({"ok": true}))
        }
        ("GET", "/_awsim/scenario") => {
            to_value(serde_json::to_value(app.shared.lock().scenario.clone()))
        }
        ("POST", "/_awsim/scenario") => match serde_json::from_slice::<Scenario>(&body) {
            Ok(s) => {
                app.shared.set_scenario(s);
                ok(json!({"ok": true}))
            }
            Err(e) => bad(e),
        },
        ("POST", "/_awsim/reset") => match app.backend.reset().await {
            Ok(()) => {
                app.shared.lock().reset_world();
                ok(json!({"ok": true}))
            }
            Err(e) => json_response(StatusCode::BAD_GATEWAY, &json!({"error": e.to_string()})),
        },
        ("POST", "/_awsim/crash") => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let pid = v.get("pid").and_then(Value::as_u64);
            let after = v.get("after").and_then(Value::as_u64);
            let ignore_targets = v
                .get("ignore_targets")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            match (pid, after) {
                (Some(pid), Some(after)) if after > 0 && pid <= u64::from(u32::MAX) => {
                    app.shared.lock().crash = Some(CrashHook {
                        pid: pid as u32,
                        remaining: after,
                        fired: false,
                        ignore_targets,
                    });
                    ok(json!({"ok": true}))
                }
                _ => bad("expected {\"pid\": N, \"after\": M} with M >= 1"),
            }
        }
        ("GET", "/_awsim/crash") => to_value(serde_json::to_value(app.shared.lock().crash.clone())),
        ("POST", "/_awsim/advance") => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match v.get("seconds").and_then(Value::as_f64) {
                Some(s) if s >= 0.0 => {
                    app.shared.lock().clock.advance(s);
                    ok(json!({"ok": true}))
                }
                _ => bad("expected {\"seconds\": S} with S >= 0"),
            }
        }
        ("GET", "/_awsim/ecs") => ok(ecs_report(&mut app.shared.lock())),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no route {method} {path}")}),
        ),
    }
}

/// `GET /_awsim/ecs`: the ECS simulation advanced to now, every service with its deployments
/// and events; each time as simulated seconds (`*_sim`) and as the wall-clock epoch seconds
/// the API reports (`*_epoch`).
fn ecs_report(inner: &mut Inner) -> Value {
    let now = inner.advance();
    let clock = &inner.clock;
    let time = |t: SimMs| (t as f64 / 1000.0, clock.epoch(t));
    let services: Vec<Value> = inner
        .ecs
        .services
        .values()
        .map(|svc| {
            let deployments: Vec<Value> = svc
                .deployments
                .iter()
                .map(|d| {
                    let (updated_sim, updated_epoch) = time(d.updated_at);
                    json!({
                        "id": d.id,
                        "rollout_state": d.rollout,
                        "failed_tasks": d.failed_tasks,
                        "updated_at_sim": updated_sim,
                        "updated_at_epoch": updated_epoch,
                    })
                })
                .collect();
            let events: Vec<Value> = svc
                .events
                .iter()
                .map(|e| {
                    let (at_sim, at_epoch) = time(e.at);
                    json!({"at_sim": at_sim, "at_epoch": at_epoch, "message": e.message})
                })
                .collect();
            json!({
                "cluster": svc.key.cluster,
                "service": svc.key.name,
                "deleted": svc.deleted,
                "deployments": deployments,
                "events": events,
            })
        })
        .collect();
    let (now_sim, now_epoch) = time(now);
    json!({"now_sim": now_sim, "now_epoch": now_epoch, "services": services})
}
