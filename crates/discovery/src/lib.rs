//! orchestrate-discovery: the deployment's AWS Cloud Map private DNS namespace and services.
//!
//! Owns:
//! - the private DNS namespace `<name>.orchestrate.internal`
//!   ([`orchestrate_core::Names::namespace`]) in the deployment's VPC (phase 1), created with
//!   its tags (`orchestrate:component` = `discovery/namespace`) and the deterministic
//!   CreatorRequestId `<name>-namespace`;
//! - Cloud Map services in it (phase 2; e.g. `api-server`, through which workers reach the
//!   Execution API): A records with TTL 10, MULTIVALUE routing, health reported by ECS
//!   (HealthCheckCustomConfig), tags (`discovery/<service>`), CreatorRequestId
//!   `<name>-service-<service>`.
//!
//! The namespace is found by name (ListNamespaces filtered to private DNS namespaces,
//! following pagination, exact name; of several same-name namespaces in other VPCs the one
//! with our CreatorRequestId wins), then GetNamespace. Services are found by name in
//! ListServices filtered by `NAMESPACE_ID`.
//!
//! # Guarantees
//! - [`ensure`] and [`ensure_service`] make no mutating call when the resource exists as
//!   desired.
//! - Namespace creation is asynchronous: the operation is polled until `SUCCESS`; `FAIL`
//!   surfaces AWS's error code and message. A create whose response was lost (or a crash while
//!   the operation ran) is sent again with the same CreatorRequestId: AWS answers
//!   `DuplicateRequest` with the running operation, which is waited on: never two namespaces.
//!   `NamespaceAlreadyExists` / `ServiceAlreadyExists` are adopted.
//! - A service's DNS record drift is fixed with UpdateService; its routing policy and custom
//!   health check cannot change in place: [`Error::ReplacementNeeded`].
//! - [`delete`] and [`delete_service`] are idempotent: absent is success. A service's
//!   instances are deregistered before it is deleted.
//!
//! # Waits
//! Namespace operations: at most 10 minutes; instance deregistration and service updates: at
//! most 5 minutes; both scaled by [`orchestrate_core::Timing`], reporting each new status.
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. Retried here, with a bounded budget: `NamespaceNotFound`
//! right after the creation operation succeeded (eventual consistency), and `ResourceInUse`
//! when deleting a service whose instances are being deregistered. Throttling and 5xx are the
//! SDK's retry policy's job.

mod error;
pub mod namespace;
pub mod operation;
pub mod service;

pub use aws_sdk_servicediscovery::Client;
pub use error::{Error, Result};
pub use namespace::{NamespaceDesired, NamespaceOutputs};
pub use service::{
    ServiceDesired, ServiceObserved, ServiceOutputs, delete_service, ensure_service,
};

use aws_sdk_servicediscovery::types::Tag;
use orchestrate_core::{Change, Context, Readiness, Tags};

/// Name of the api-server's Cloud Map service.
pub const API_SERVER_SERVICE: &str = "api-server";

pub(crate) fn sdk_tags(tags: &Tags) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::Request {
                    what: "tags".into(),
                    message: e.to_string(),
                })
        })
        .collect()
}

/// The namespace as it exists now, if it does.
///
/// # Errors
/// [`Error::DescribeNamespace`].
pub async fn find(client: &Client, desired: &NamespaceDesired) -> Result<Option<NamespaceOutputs>> {
    namespace::find(client, &desired.name, &desired.creator_request_id).await
}

/// The plan for the namespace (pure).
pub fn diff(desired: &NamespaceDesired, observed: Option<&NamespaceOutputs>) -> Change {
    namespace::diff(desired, observed)
}

/// Creates (and waits for) or adopts the namespace. See [`namespace::ensure`].
///
/// # Errors
/// See [`namespace::ensure`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &NamespaceDesired,
) -> Result<NamespaceOutputs> {
    namespace::ensure(client, cx, desired).await
}

/// Readiness of a Cloud Map operation (`SUCCESS` ready, `FAIL` failed, else pending).
///
/// # Errors
/// [`Error::GetOperation`].
pub async fn ready(client: &Client, operation_id: &str) -> Result<Readiness> {
    operation::ready(client, operation_id).await
}

/// The namespace and the api-server service and whether they exist, for `status`: one
/// ListNamespaces, then one ListServices in the namespace (plus a GetService where the listing
/// does not say which namespace a same-named service belongs to). Read-only.
///
/// # Errors
/// [`Error::DescribeNamespace`], [`Error::DescribeService`], [`Error::Request`].
pub async fn status(client: &Client, cx: &Context) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::{Phase, StatusRow};
    let name = cx.names.namespace();
    let ids = namespace::ids_named(client, &name).await?;
    let mut rows = Vec::new();
    let Some(id) = ids.first() else {
        rows.push(StatusRow::absent(Phase::Storage, namespace::KIND, &name));
        rows.push(StatusRow::absent(
            Phase::ApiServer,
            service::KIND,
            API_SERVER_SERVICE,
        ));
        return Ok(rows);
    };
    let state = if ids.len() > 1 {
        format!(
            "ok ({} namespaces of this name: {})",
            ids.len(),
            ids.join(", ")
        )
    } else {
        "ok".to_string()
    };
    rows.push(StatusRow::new(
        Phase::Storage,
        namespace::KIND,
        &name,
        state,
        true,
    ));
    rows.push(
        match service::find_in(client, cx, id, API_SERVER_SERVICE).await? {
            Some(_) => StatusRow::new(
                Phase::ApiServer,
                service::KIND,
                API_SERVER_SERVICE,
                "ok",
                true,
            ),
            None => StatusRow::absent(Phase::ApiServer, service::KIND, API_SERVER_SERVICE),
        },
    );
    Ok(rows)
}

/// Deletes the deployment's namespace and waits for the deletion; absent is success.
///
/// # Errors
/// See [`namespace::delete`].
pub async fn delete(client: &Client, cx: &Context) -> Result<()> {
    let name = cx.names.namespace();
    let request_id = format!("{}-namespace", cx.names.deployment());
    namespace::delete(client, cx, &name, &request_id).await
}

#[cfg(test)]
mod tests;
