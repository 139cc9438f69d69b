//! Cloud Map: what AWS refuses to delete while something is still inside it.
//!
//! moto deletes a namespace that still has services and a service that still has registered
//! instances; AWS answers `ResourceInUse`. awsim asks moto (ListServices / GetService /
//! ListInstances) before forwarding and refuses as AWS does.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::protocol::{Protocol, Rendered, render_error};

const TARGET: &str = "Route53AutoNaming_v20170314";

async fn call(backend: &Backend, region: &str, operation: &str, body: &Value) -> Option<Value> {
    let (status, v) = backend
        .json(
            region,
            "servicediscovery",
            &format!("{TARGET}.{operation}"),
            body,
        )
        .await
        .ok()?;
    status.is_success().then_some(v)
}

/// True when namespace `id` still holds a service.
async fn namespace_has_services(backend: &Backend, region: &str, id: &str) -> bool {
    let Some(list) = call(backend, region, "ListServices", &json!({})).await else {
        return false;
    };
    let ids: Vec<String> = list
        .get("Services")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("Id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for service in ids {
        let got = call(backend, region, "GetService", &json!({ "Id": service })).await;
        let namespace = got
            .as_ref()
            .and_then(|g| g.get("Service"))
            .and_then(|s| s.get("NamespaceId"))
            .and_then(Value::as_str);
        if namespace == Some(id) {
            return true;
        }
    }
    false
}

/// `Some(refusal)` for DeleteNamespace of a namespace with services and DeleteService of a
/// service with instances; `None` forwards.
pub async fn before(
    backend: &Backend,
    region: &str,
    operation: &str,
    req: &Value,
    request_id: &str,
) -> Option<Rendered> {
    let id = req.get("Id")?.as_str()?;
    let message = match operation {
        "DeleteNamespace" if namespace_has_services(backend, region, id).await => {
            format!("Namespace {id} has associated services, delete them first.")
        }
        "DeleteService" => {
            let instances = call(
                backend,
                region,
                "ListInstances",
                &json!({ "ServiceId": id }),
            )
            .await?;
            let any = instances
                .get("Instances")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if !any {
                return None;
            }
            format!(
                "Service {id} contains registered instances; delete the instances before deleting the service"
            )
        }
        _ => return None,
    };
    Some(render_error(
        Protocol::Json,
        StatusCode::BAD_REQUEST,
        "ResourceInUse",
        &message,
        request_id,
    ))
}
