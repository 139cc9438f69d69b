//! The lifecycle proxy: forwards every AWS request to moto, injecting faults, replaying
//! idempotency tokens, rewriting lifecycle fields, recording every call and firing the crash hook.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::accounting::Call;
use crate::backend::Backend;
use crate::faults::fault_name;
use crate::lifecycle::ecs;
use crate::protocol::{self, Protocol, Rendered, form_get, identify, is_mutating, parse_form};
use crate::scenario::FaultKind;
use crate::state::Shared;

/// Everything a connection handler needs.
#[derive(Debug)]
pub struct App {
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Client for moto.
    pub backend: Backend,
    /// Held while a Secrets Manager mutating call is forwarded: AWS applies them atomically
    /// (a conditional CreateSecret or UpdateSecretVersionStage decides exactly one winner),
    /// moto's threaded server does not.
    pub secrets_gate: tokio::sync::Mutex<()>,
}

/// Returned by the service function to make hyper drop the connection without a response.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response deliberately lost by awsim")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until the listener fails or the task is aborted.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { handle(req, app).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn build(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// Converts a rendered error/replacement into an HTTP response.
pub fn rendered_response(r: &Rendered) -> Response<Full<Bytes>> {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    for (k, v) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    build(r.status, h, r.body.clone())
}

fn token_of(id: &protocol::Identity, json: &Value, form: &[(String, String)]) -> Option<String> {
    match id.protocol {
        Protocol::Ec2Query => form_get(form, "ClientToken").map(str::to_string),
        Protocol::Json
            if id.service == "ecs"
                && matches!(id.operation.as_str(), "CreateService" | "RunTask") =>
        {
            json.get("clientToken")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
        // AWS: "CreatorRequestId ... allows failed requests to be retried without the risk of
        // running the operation twice" (Cloud Map API reference, CreateService and
        // CreatePrivateDnsNamespace); moto ignores it. Forgotten on a Cloud Map delete, so a
        // service deleted by a teardown is created anew.
        Protocol::Json
            if id.service == "servicediscovery"
                && matches!(
                    id.operation.as_str(),
                    "CreateService" | "CreatePrivateDnsNamespace"
                ) =>
        {
            json.get("CreatorRequestId")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
        // AWS: CreateLoadBalancer, CreateListener and CreateTargetGroup are idempotent: "If you
        // attempt to create multiple ... with the same settings, each call succeeds" with the
        // first one (Elastic Load Balancing API reference); moto creates a second. The
        // request's parameters are the token, forgotten on any ELB delete.
        Protocol::Query
            if id.service == "elasticloadbalancing"
                && matches!(
                    id.operation.as_str(),
                    "CreateLoadBalancer" | "CreateListener" | "CreateTargetGroup"
                ) =>
        {
            let mut pairs: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            Some(pairs.join("&"))
        }
        _ => None,
    }
}

/// GetSecretValue without `VersionId` or `VersionStage` asks for `AWSCURRENT` (AWS: "If you
/// don't specify either a VersionStage or VersionId, then Secrets Manager returns the
/// AWSCURRENT version"). moto 5.2.1 answers with the version the secret was created or last
/// put with instead, so after UpdateSecretVersionStage moved `AWSCURRENT` it returns the old
/// one: the request is forwarded with `VersionStage: AWSCURRENT` made explicit.
fn current_by_stage(operation: &str, json: &Value) -> Option<Value> {
    let obj = json.as_object()?;
    if operation != "GetSecretValue"
        || obj.contains_key("VersionId")
        || obj.contains_key("VersionStage")
    {
        return None;
    }
    let mut fixed = obj.clone();
    fixed.insert("VersionStage".into(), Value::from("AWSCURRENT"));
    Some(Value::Object(fixed))
}

/// The resource a call names, where awsim knows where to look (Secrets Manager).
fn target_of(id: &protocol::Identity, json: &Value) -> Option<String> {
    match (id.protocol, id.service.as_str()) {
        (Protocol::Json, "secretsmanager") => ["SecretId", "Name"]
            .iter()
            .find_map(|k| json.get(k).and_then(Value::as_str))
            .map(str::to_string),
        _ => None,
    }
}

/// Reads the request, then answers it in a task of its own: as on AWS, a request that arrived
/// is applied in full even when its client dies mid-flight (hyper drops the connection's
/// future then; a call half-applied — moto done, the emulated lifecycle not — would leave a
/// state AWS never shows, such as a deleted service that blocks DeleteCluster forever).
async fn handle(req: Request<Incoming>, app: Arc<App>) -> Result<Response<Full<Bytes>>, Dropped> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    tokio::spawn(respond(parts, body, app, started))
        .await
        .unwrap_or(Err(Dropped))
}

async fn respond(
    parts: hyper::http::request::Parts,
    body: Bytes,
    app: Arc<App>,
    started: Instant,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = parts.uri.path().to_string();
    if path.starts_with("/_awsim/") || path == "/_awsim" {
        return Ok(crate::control::handle(&app, &parts.method, &path, body).await);
    }
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    if path.starts_with("/moto-api") {
        return Ok(
            match app
                .backend
                .send(parts.method, &pq, &parts.headers, body)
                .await
            {
                Ok(r) => build(r.status, r.headers, r.body),
                Err(e) => build(
                    StatusCode::BAD_GATEWAY,
                    HeaderMap::new(),
                    Bytes::from(e.to_string()),
                ),
            },
        );
    }

    let mut id = identify(&parts.headers, &path, parts.uri.query(), &body);
    if id.service == "route53"
        && let Some(operation) = protocol::route53_operation(parts.method.as_str(), &path)
    {
        id.operation = operation.to_string();
    }
    tracing::debug!(service = %id.service, operation = %id.operation, "request");
    let mutating = is_mutating(&id.operation);
    let json: Value = match id.protocol {
        Protocol::Json => serde_json::from_slice(&body).unwrap_or(Value::Null),
        Protocol::Cbor => crate::cbor::decode(&body).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let form = match id.protocol {
        Protocol::Query | Protocol::Ec2Query => {
            let mut f = std::str::from_utf8(&body)
                .map(parse_form)
                .unwrap_or_default();
            f.extend(parts.uri.query().map(parse_form).unwrap_or_default());
            f
        }
        _ => Vec::new(),
    };
    // Tokens are scoped as on AWS: per service, operation and region (the same deployment
    // name in two regions sends the same deterministic tokens).
    let token = token_of(&id, &json, &form).map(|t| {
        (
            id.service.clone(),
            id.operation.clone(),
            format!("{}/{t}", id.region),
        )
    });
    let target = target_of(&id, &json);

    let (decision, request_id, cached) = {
        let mut g = app.shared.lock();
        g.requests += 1;
        let rid = format!(
            "{:08x}-awsim-{:012}",
            crate::clock::hash_parts(g.scenario.seed, &["rid"]) as u32,
            g.requests
        );
        let sc = g.scenario.clone();
        let d = g
            .injector
            .decide(sc.seed, &sc.faults, &id.service, &id.operation, mutating);
        let cached = token.as_ref().and_then(|k| g.tokens.get(k).cloned());
        (d, rid, cached)
    };
    if decision.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(decision.latency_ms)).await;
    }
    let mut fault = decision.action.as_ref().map(|k| fault_name(k).to_string());
    if fault.is_none() && decision.latency_ms > 0 {
        fault = Some("latency_ms".to_string());
    }
    let record = |status: u16, applied: bool, fault: Option<String>| {
        app.shared.lock().ledger.record(Call {
            seq: 0,
            service: id.service.clone(),
            operation: id.operation.clone(),
            mutating,
            status,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            fault,
            applied,
            target: target.clone(),
        });
    };

    let early = match &decision.action {
        Some(FaultKind::Throttle) => Some(protocol::throttle_error(id.protocol, &request_id)),
        Some(FaultKind::Http500) => Some(protocol::server_error(
            id.protocol,
            StatusCode::INTERNAL_SERVER_ERROR,
            &request_id,
        )),
        Some(FaultKind::Http503) => Some(protocol::server_error(
            id.protocol,
            StatusCode::SERVICE_UNAVAILABLE,
            &request_id,
        )),
        Some(FaultKind::Error {
            status,
            code,
            message,
        }) => Some(protocol::render_error(
            id.protocol,
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message,
            &request_id,
        )),
        _ => None,
    };
    if let Some(r) = early {
        record(r.status.as_u16(), false, fault);
        return Ok(rendered_response(&r));
    }
    let lost = matches!(decision.action, Some(FaultKind::LostResponse));
    if let Some(r) = cached {
        record(if lost { 0 } else { r.status.as_u16() }, false, fault);
        return if lost {
            Err(Dropped)
        } else {
            Ok(rendered_response(&r))
        };
    }

    let _gate = if id.service == "secretsmanager" && mutating {
        Some(app.secrets_gate.lock().await)
    } else {
        None
    };

    // Intercepted (answered by awsim) or forwarded (then possibly rewritten).
    let intercepted = match id.service.as_str() {
        "ec2" if id.operation == "DeleteSecurityGroup" => {
            let refused = {
                let mut g = app.shared.lock();
                let now = g.advance();
                let d = g.scenario.durations.clone();
                g.slow
                    .before(&id.service, &id.operation, &form, now, &d, &request_id)
                    .or_else(|| ecs::eni_in_use(&g, &id.operation, &form, now, &request_id))
            };
            match refused {
                Some(r) => Some(r),
                None => {
                    crate::lifecycle::groups::before(
                        &app.backend,
                        &id.region,
                        &id.operation,
                        &form,
                        &request_id,
                    )
                    .await
                }
            }
        }
        "ecs" => {
            ecs::intercept(
                &app.shared,
                &app.backend,
                &id.region,
                &id.operation,
                &json,
                &request_id,
            )
            .await
        }
        "elasticache" if id.operation == "DeleteCacheSubnetGroup" => {
            let (refused, current) = {
                let mut g = app.shared.lock();
                let now = g.advance();
                let d = g.scenario.durations.clone();
                let refused =
                    g.slow
                        .before(&id.service, &id.operation, &form, now, &d, &request_id);
                let current = form_get(&form, "CacheSubnetGroupName")
                    .map(|n| g.cache_groups.current(n))
                    .unwrap_or_default();
                (refused, current)
            };
            match refused {
                Some(r) => Some(r),
                None => {
                    let exists =
                        crate::lifecycle::cache_groups::exists(&app.backend, &id.region, &current)
                            .await;
                    app.shared
                        .lock()
                        .cache_groups
                        .delete(&form, exists, &request_id)
                }
            }
        }
        "elasticache" if id.operation == "DescribeCacheClusters" => {
            let mut g = app.shared.lock();
            let now = g.advance();
            let d = g.scenario.durations.clone();
            let g = &*g;
            g.cache_members.answer(
                &form,
                &id.region,
                |group| g.slow.cache_status(group, now, &d),
                &request_id,
            )
        }
        "rds" | "elasticache" if crate::catalog::answers(&id.service, &id.operation) => {
            let catalog = app.shared.lock().scenario.catalog.clone();
            crate::catalog::answer(&catalog, &id.service, &id.operation, &form, &request_id)
        }
        "ec2" | "rds" | "elasticache" => {
            let mut g = app.shared.lock();
            let now = g.advance();
            let d = g.scenario.durations.clone();
            g.slow
                .before(&id.service, &id.operation, &form, now, &d, &request_id)
                .or_else(|| {
                    (id.service == "ec2")
                        .then(|| ecs::eni_in_use(&g, &id.operation, &form, now, &request_id))
                        .flatten()
                })
        }
        "servicediscovery" => {
            crate::lifecycle::discovery::before(
                &app.backend,
                &id.region,
                &id.operation,
                &json,
                &request_id,
            )
            .await
        }
        "secretsmanager" => {
            crate::lifecycle::secrets::before(
                &app.backend,
                &id.region,
                &id.operation,
                &json,
                &request_id,
            )
            .await
        }
        _ => None,
    };
    let (response, applied, replay) = match intercepted {
        Some(r) => {
            let ok = r.status.is_success();
            (rendered_response(&r), ok, Some(r))
        }
        None => {
            let original_body = body.clone();
            let body = match (id.service.as_str(), ecs::fix_request(&id.operation, &json)) {
                ("ecs", Some(fixed)) => Bytes::from(fixed.to_string()),
                ("secretsmanager", _) => current_by_stage(&id.operation, &json)
                    .map_or_else(|| body.clone(), |v| Bytes::from(v.to_string())),
                ("elasticache", _) => {
                    let mut g = app.shared.lock();
                    let body = g
                        .cache_groups
                        .request(&id.operation, &form, &body)
                        .unwrap_or_else(|| body.clone());
                    g.replication_groups
                        .request(&id.operation, &form, &body)
                        .unwrap_or(body)
                }
                _ => body.clone(),
            };
            // rpcv2Cbor goes to moto as awsJson1.0 (same members, `X-Amz-Target`).
            let (pq, headers, body) = match id.protocol {
                Protocol::Cbor => json_request(&parts.headers, &path, &json),
                _ => (pq.clone(), parts.headers.clone(), body),
            };
            let fwd = match app
                .backend
                .send(parts.method.clone(), &pq, &headers, body)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    let r =
                        protocol::server_error(id.protocol, StatusCode::BAD_GATEWAY, &request_id);
                    tracing::warn!("forwarding to moto failed: {e}");
                    record(502, false, fault);
                    return Ok(rendered_response(&r));
                }
            };
            let rewritten = match id.service.as_str() {
                _ if id.protocol == Protocol::Cbor => Some(cbor_answer(fwd.status, &fwd.body)),
                "ecs" => {
                    ecs::after(
                        &app.shared,
                        &app.backend,
                        &id.region,
                        &id.operation,
                        &json,
                        fwd.status,
                        &fwd.body,
                    )
                    .await
                }
                "ecr" => {
                    let registry = app.shared.lock().scenario.registry.clone();
                    registry.and_then(|url| {
                        crate::registry::rewrite_authorization(
                            &id.operation,
                            fwd.status.is_success(),
                            &fwd.body,
                            &url,
                        )
                    })
                }
                "acm" => {
                    let mut g = app.shared.lock();
                    let now = g.advance();
                    let d = g.scenario.durations.clone();
                    g.acm
                        .after(&id.operation, &json, fwd.status, &fwd.body, now, &d)
                }
                "route53" => {
                    if id.operation == "ChangeResourceRecordSets" && fwd.status.is_success() {
                        let mut g = app.shared.lock();
                        let now = g.advance();
                        g.acm.record_change(&original_body, now);
                    }
                    None
                }
                "rds" | "elasticache" | "ec2" | "elasticloadbalancing" => {
                    let mut g = app.shared.lock();
                    let now = g.advance();
                    let d = g.scenario.durations.clone();
                    g.slow.after(
                        &id.service,
                        &id.operation,
                        &form,
                        fwd.status,
                        &fwd.body,
                        now,
                        &d,
                        &request_id,
                    )
                }
                _ => None,
            };
            let planted = (id.service == "elasticloadbalancing"
                && id.operation == "DescribeTargetHealth"
                && fwd.status.is_success())
            .then(|| app.shared.lock().scenario.target_health.clone())
            .filter(|t| !t.is_empty());
            let rewritten = match planted {
                Some(targets) => Some(crate::protocol::Rendered {
                    status: fwd.status,
                    content_type: "text/xml",
                    headers: vec![],
                    body: Bytes::from(crate::scenario::PlantedTarget::response(
                        &targets,
                        &request_id,
                    )),
                }),
                None => rewritten,
            };
            let rewritten = if id.service == "elasticache" {
                let (status, text) = match &rewritten {
                    Some(r) => (r.status, r.body.clone()),
                    None => (fwd.status, fwd.body.clone()),
                };
                let mut g = app.shared.lock();
                g.cache_members
                    .after(&id.region, &id.operation, &form, fwd.status.is_success());
                let rewritten = g
                    .cache_groups
                    .response(&id.operation, &form, status, &text, &request_id)
                    .or(rewritten);
                let text = rewritten.as_ref().map_or(text, |r| r.body.clone());
                match std::str::from_utf8(&text).ok().and_then(|t| {
                    g.replication_groups
                        .response(&id.operation, &form, fwd.status.is_success(), t)
                }) {
                    Some(mapped) => Some(crate::protocol::Rendered {
                        status,
                        content_type: "text/xml",
                        headers: vec![],
                        body: Bytes::from(mapped),
                    }),
                    None => rewritten,
                }
            } else {
                rewritten
            };
            let applied = fwd.status.is_success();
            match rewritten {
                Some(r) => {
                    let mut resp = rendered_response(&r);
                    for (k, v) in &fwd.headers {
                        if k != CONTENT_TYPE && !resp.headers().contains_key(k) {
                            resp.headers_mut().insert(k.clone(), v.clone());
                        }
                    }
                    (resp, applied, Some(r))
                }
                None => {
                    let replay = Rendered {
                        status: fwd.status,
                        content_type: if id.protocol == Protocol::Json {
                            "application/x-amz-json-1.1"
                        } else {
                            "text/xml"
                        },
                        headers: vec![],
                        body: fwd.body.clone(),
                    };
                    (
                        build(fwd.status, fwd.headers, fwd.body),
                        applied,
                        Some(replay),
                    )
                }
            }
        }
    };

    let status = response.status().as_u16();
    {
        let mut g = app.shared.lock();
        if applied && let (Some(k), Some(r)) = (token, replay) {
            g.tokens.entry(k).or_insert(r);
        }
        if applied
            && matches!(
                id.service.as_str(),
                "elasticloadbalancing" | "servicediscovery"
            )
            && id.operation.starts_with("Delete")
        {
            // A deleted load balancer, listener, target group, namespace or Cloud Map service
            // is created anew by the same request (token).
            let service = id.service.clone();
            let region = format!("{}/", id.region);
            g.tokens
                .retain(|(s, _, token), _| *s != service || !token.starts_with(&region));
        }
        if applied
            && mutating
            && let Some(hook) = g.crash.as_mut().filter(|h| {
                !h.fired
                    && target
                        .as_ref()
                        .is_none_or(|t| !h.ignore_targets.contains(t))
            })
        {
            hook.remaining = hook.remaining.saturating_sub(1);
            if hook.remaining == 0 {
                hook.fired = true;
                let pid = hook.pid.to_string();
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
    record(if lost { 0 } else { status }, applied, fault);
    if lost { Err(Dropped) } else { Ok(response) }
}

/// A Smithy RPC v2 CBOR request (`/service/<Service>/operation/<Op>`) as moto's awsJson1.0:
/// path `/`, `X-Amz-Target: <Service>.<Op>`, the decoded members as a JSON body, the caller's
/// `Authorization` (moto picks the service and account from it).
fn json_request(headers: &HeaderMap, path: &str, json: &Value) -> (String, HeaderMap, Bytes) {
    let target = path
        .strip_prefix("/service/")
        .map(|rest| rest.replacen("/operation/", ".", 1))
        .unwrap_or_default();
    let mut h = HeaderMap::new();
    if let Some(auth) = headers.get(hyper::header::AUTHORIZATION) {
        h.insert(hyper::header::AUTHORIZATION, auth.clone());
    }
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(v) = HeaderValue::from_str(&target) {
        h.insert(HeaderName::from_static("x-amz-target"), v);
    }
    let body = if json.is_null() {
        Bytes::from_static(b"{}")
    } else {
        Bytes::from(json.to_string())
    };
    ("/".to_string(), h, body)
}

/// moto's JSON answer (success or `{"__type", "message"}` error) as the CBOR AWS answers.
fn cbor_answer(status: StatusCode, body: &Bytes) -> Rendered {
    let v: Value = if body.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
    };
    Rendered {
        status,
        content_type: "application/cbor",
        headers: vec![("smithy-protocol", "rpc-v2-cbor".to_string())],
        body: Bytes::from(crate::cbor::encode(&v)),
    }
}

/// Infallible helper for building control responses.
pub fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    build(status, h, Bytes::from(v.to_string()))
}
