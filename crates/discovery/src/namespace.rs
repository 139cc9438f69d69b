//! The Cloud Map private DNS namespace `<name>.orchestrate.internal`.

use aws_sdk_servicediscovery::Client;
use aws_sdk_servicediscovery::operation::create_private_dns_namespace::CreatePrivateDnsNamespaceError;
use aws_sdk_servicediscovery::operation::delete_namespace::DeleteNamespaceError;
use aws_sdk_servicediscovery::types::{
    FilterCondition, NamespaceFilter, NamespaceFilterName, NamespaceType, OperationTargetType,
};
use orchestrate_aws::{
    AwsError, aws_error, error_code, is_not_found_code, required, retry_eventual,
};
use orchestrate_core::change::{Action, Change};
use orchestrate_core::names::Names;
use orchestrate_core::{Context, Phase, ReporterExt, Spec, Tags};

use crate::error::{Error, Result};
use crate::operation::{self, OPERATION_WITHIN};
use crate::sdk_tags;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "servicediscovery/namespace";

/// Component tag of the namespace.
pub const COMPONENT: &str = "discovery/namespace";

/// What the namespace should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDesired {
    /// `<name>.orchestrate.internal`.
    pub name: String,
    /// The VPC whose resolvers answer for it.
    pub vpc_id: String,
    /// Idempotency token: `<deployment>-namespace`, so that a create whose response was lost
    /// and is sent again runs once on AWS.
    pub creator_request_id: String,
    /// Description (never compared).
    pub description: String,
    /// Tags sent with CreatePrivateDnsNamespace.
    pub tags: Tags,
}

impl NamespaceDesired {
    /// The namespace of the spec's deployment in `vpc_id` (pure).
    pub fn from_spec(spec: &Spec, vpc_id: &str) -> Self {
        let deployment = spec.deployment.name.as_str();
        let name = Names::new(deployment).namespace();
        Self {
            tags: Tags::new(deployment, COMPONENT, Phase::Storage, &spec.deployment.tags)
                .with("Name", &name),
            name,
            vpc_id: vpc_id.to_string(),
            creator_request_id: format!("{deployment}-namespace"),
            description: format!("orchestrate {deployment}: service discovery for Airflow"),
        }
    }
}

/// What later phases need of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceOutputs {
    /// Namespace id (`ns-...`).
    pub namespace_id: String,
    /// Namespace ARN.
    pub namespace_arn: String,
    /// Its DNS name (`<name>.orchestrate.internal`).
    pub namespace_name: String,
    /// The private Route 53 hosted zone Cloud Map created for it.
    pub hosted_zone_id: String,
}

fn namespace_filter() -> Result<NamespaceFilter> {
    NamespaceFilter::builder()
        .name(NamespaceFilterName::Type)
        .values(NamespaceType::DnsPrivate.as_str())
        .condition(FilterCondition::Eq)
        .build()
        .map_err(|e| Error::Request {
            what: "ListNamespaces".into(),
            message: e.to_string(),
        })
}

/// The ids of the private DNS namespaces named `name` (ListNamespaces only, all pages): what
/// `status` needs, one call cheaper than [`find`], which also reads each candidate.
///
/// # Errors
/// [`Error::DescribeNamespace`], [`Error::Request`].
pub async fn ids_named(client: &Client, name: &str) -> Result<Vec<String>> {
    Ok(listed_named(client, name)
        .await?
        .into_iter()
        .map(|n| n.id)
        .collect())
}

/// A namespace as ListNamespaces summarizes it.
struct Listed {
    /// Its id.
    id: String,
    /// Its outputs, when the summary carries all of them (an ARN and DNS properties with the
    /// hosted zone id); `None` otherwise (GetNamespace then tells).
    outputs: Option<NamespaceOutputs>,
}

/// The private DNS namespaces named `name` as ListNamespaces summarizes them (all pages). A
/// summary without an id is skipped (logged at debug): nothing could be asked about it.
async fn listed_named(client: &Client, name: &str) -> Result<Vec<Listed>> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_namespaces()
            .filters(namespace_filter()?)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::DescribeNamespace(aws_error("list namespaces", name, e)))?;
        ids.extend(
            out.namespaces()
                .iter()
                .filter(|n| n.name() == Some(name))
                .filter(|n| n.r#type().is_none_or(|t| *t == NamespaceType::DnsPrivate))
                .filter_map(|n| {
                    let Some(id) = n.id() else {
                        tracing::debug!(
                            namespace = name,
                            "skipping a namespace summary without an id"
                        );
                        return None;
                    };
                    let hosted_zone_id = n
                        .properties()
                        .and_then(|p| p.dns_properties())
                        .and_then(|d| d.hosted_zone_id());
                    let outputs = match (n.arn(), hosted_zone_id) {
                        (Some(arn), Some(zone)) => Some(NamespaceOutputs {
                            namespace_id: id.to_string(),
                            namespace_arn: arn.to_string(),
                            namespace_name: name.to_string(),
                            hosted_zone_id: zone.to_string(),
                        }),
                        _ => None,
                    };
                    Some(Listed {
                        id: id.to_string(),
                        outputs,
                    })
                }),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(ids),
        }
    }
}

/// The private DNS namespace named `name`; `Ok(None)` when there is none. Lists every private
/// DNS namespace (following pagination) and matches the name exactly; of several namespaces
/// of that name (other VPCs), the one created with `creator_request_id` wins.
///
/// # Errors
/// [`Error::DescribeNamespace`], also when GetNamespace's answer lacks the namespace's ARN,
/// name or hosted zone id ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find(
    client: &Client,
    name: &str,
    creator_request_id: &str,
) -> Result<Option<NamespaceOutputs>> {
    // moto 5.2.1 ignores ListNamespaces' filters: `listed_named` applies them again.
    let listed = listed_named(client, name).await?;
    // One namespace of that name: the summary says all the outputs need (the creator request
    // id only tells several apart), so no GetNamespace.
    if let [only] = listed.as_slice()
        && let Some(outputs) = &only.outputs
    {
        return Ok(Some(outputs.clone()));
    }
    let ids: Vec<String> = listed.into_iter().map(|n| n.id).collect();
    let mut first = None;
    for id in &ids {
        let Some((outputs, request_id)) = get(client, id).await? else {
            continue;
        };
        if request_id.as_deref() == Some(creator_request_id) {
            return Ok(Some(outputs));
        }
        if first.is_none() {
            first = Some(outputs);
        }
    }
    Ok(first)
}

/// GetNamespace `id`: the outputs and the namespace's CreatorRequestId; `Ok(None)` when gone.
///
/// # Errors
/// [`Error::DescribeNamespace`], also for an answer without the namespace's ARN, name or
/// hosted zone id.
async fn get(client: &Client, id: &str) -> Result<Option<(NamespaceOutputs, Option<String>)>> {
    match client.get_namespace().id(id).send().await {
        Ok(out) => {
            let Some(n) = out.namespace() else {
                return Ok(None);
            };
            let need = |value, field| {
                required(value, "get namespace", id, field).map_err(Error::DescribeNamespace)
            };
            let hosted_zone_id = n
                .properties()
                .and_then(|p| p.dns_properties())
                .and_then(|d| d.hosted_zone_id());
            let outputs = NamespaceOutputs {
                namespace_id: n.id().unwrap_or(id).to_string(),
                namespace_arn: need(n.arn(), "Namespace.Arn")?.to_string(),
                namespace_name: need(n.name(), "Namespace.Name")?.to_string(),
                hosted_zone_id: need(
                    hosted_zone_id,
                    "Namespace.Properties.DnsProperties.HostedZoneId",
                )?
                .to_string(),
            };
            Ok(Some((outputs, n.creator_request_id().map(str::to_string))))
        }
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeNamespace(aws_error("get namespace", id, e))),
    }
}

/// What `ensure` would do (pure). A namespace has nothing to update in place here.
pub fn diff(desired: &NamespaceDesired, observed: Option<&NamespaceOutputs>) -> Change {
    let action = if observed.is_some() {
        Action::NoChange
    } else {
        Action::Create
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

/// Creates the namespace with its tags when absent and waits for the creation operation;
/// adopts an existing one with no mutating call.
///
/// After a crash while the creation was in flight, the namespace is not listed yet; the
/// create is sent again with the same CreatorRequestId, and AWS answers `DuplicateRequest`
/// with the operation already running, which is then waited on: no second namespace. Should
/// that earlier operation have created a namespace that has since been deleted, the create is
/// sent once more with a token derived from that operation id.
///
/// # Errors
/// [`Error::DescribeNamespace`], [`Error::CreateNamespace`], [`Error::Operation`] (the
/// operation's `FAIL` with AWS's error code and message, or a timeout after 10 minutes,
/// scaled), [`Error::NoNamespaceId`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &NamespaceDesired,
) -> Result<NamespaceOutputs> {
    if let Some(found) = find(client, &desired.name, &desired.creator_request_id).await? {
        cx.reporter.ready(KIND, &desired.name);
        return Ok(found);
    }
    let mut request_id = desired.creator_request_id.clone();
    for _ in 0..2 {
        let (operation_id, duplicate) = match create(client, cx, desired, &request_id).await? {
            Created::Operation(id) => (id, false),
            Created::Duplicate(id) => (id, true),
            Created::Exists(id) => {
                if let Some((outputs, _)) = get(client, &id).await? {
                    cx.reporter.ready(KIND, &desired.name);
                    return Ok(outputs);
                }
                return Err(Error::NoNamespaceId { operation_id: id });
            }
        };
        let op = operation::wait(
            client,
            cx,
            &operation_id,
            OPERATION_WITHIN,
            (
                KIND,
                &desired.name,
                &format!("creating namespace {}", desired.name),
            ),
        )
        .await?;
        let id = operation::target(&op, OperationTargetType::Namespace).ok_or_else(|| {
            Error::NoNamespaceId {
                operation_id: operation_id.clone(),
            }
        })?;
        match get_after_create(client, cx, &id).await {
            Ok(outputs) => {
                cx.reporter.ready(KIND, &desired.name);
                return Ok(outputs);
            }
            Err(_) if duplicate => {
                cx.reporter.note(
                    KIND,
                    format!(
                        "the namespace created by operation {operation_id} is gone; creating it anew"
                    ),
                );
                request_id = format!("{}-after-{operation_id}", desired.creator_request_id);
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::NoNamespaceId {
        operation_id: request_id,
    })
}

enum Created {
    /// A new operation.
    Operation(String),
    /// The operation an earlier request with the same token started.
    Duplicate(String),
    /// A namespace of that name already exists (its id).
    Exists(String),
}

async fn create(
    client: &Client,
    cx: &Context,
    desired: &NamespaceDesired,
    request_id: &str,
) -> Result<Created> {
    cx.reporter.applying(KIND, &desired.name, "create");
    let result = client
        .create_private_dns_namespace()
        .name(&desired.name)
        .vpc(&desired.vpc_id)
        .creator_request_id(request_id)
        .description(&desired.description)
        .set_tags(Some(sdk_tags(&desired.tags)?))
        .send()
        .await;
    match result {
        Ok(out) => out
            .operation_id()
            .map(|id| Created::Operation(id.to_string()))
            .ok_or_else(|| Error::NoNamespaceId {
                operation_id: "(none returned)".into(),
            }),
        Err(e) => {
            // Adopted only when AWS names the operation or the namespace; otherwise the
            // error stands.
            let adopted = match e.as_service_error() {
                Some(CreatePrivateDnsNamespaceError::DuplicateRequest(d)) => {
                    d.duplicate_operation_id().map(|id| {
                        (
                            Created::Duplicate(id.to_string()),
                            "is already being created; waiting for it",
                        )
                    })
                }
                Some(CreatePrivateDnsNamespaceError::NamespaceAlreadyExists(n)) => {
                    n.namespace_id().map(|id| {
                        (
                            Created::Exists(id.to_string()),
                            "already exists; adopting it",
                        )
                    })
                }
                _ => None,
            };
            match adopted {
                Some((created, note)) => {
                    cx.reporter.note(KIND, format!("{} {note}", desired.name));
                    Ok(created)
                }
                None => Err(Error::CreateNamespace(aws_error(
                    "create namespace",
                    &desired.name,
                    e,
                ))),
            }
        }
    }
}

/// GetNamespace right after the creation succeeded, tolerating a short not-found.
async fn get_after_create(client: &Client, cx: &Context, id: &str) -> Result<NamespaceOutputs> {
    retry_eventual(cx.timing, &["NamespaceNotFound"], 5, || async {
        match get(client, id).await? {
            Some((outputs, _)) => Ok(outputs),
            None => Err(Error::DescribeNamespace(AwsError::new(
                "get namespace",
                id,
                "NamespaceNotFound",
                "created by a successful operation, but not found",
            ))),
        }
    })
    .await
}

/// Deletes the namespace `name` (found by name) and waits for the deletion operation; absent
/// is success. Services must be gone first (`ResourceInUse` otherwise).
///
/// # Errors
/// [`Error::DescribeNamespace`], [`Error::DeleteNamespace`], [`Error::Operation`].
pub async fn delete(
    client: &Client,
    cx: &Context,
    name: &str,
    creator_request_id: &str,
) -> Result<()> {
    let Some(found) = find(client, name, creator_request_id).await? else {
        return Ok(());
    };
    cx.reporter.applying(KIND, name, "delete");
    let operation_id = match client
        .delete_namespace()
        .id(&found.namespace_id)
        .send()
        .await
    {
        Ok(out) => out.operation_id().map(str::to_string),
        Err(e) => match e.as_service_error() {
            Some(DeleteNamespaceError::DuplicateRequest(d)) => {
                d.duplicate_operation_id().map(str::to_string)
            }
            _ if error_code(&e).is_some_and(is_not_found_code) => return Ok(()),
            _ => {
                return Err(Error::DeleteNamespace(aws_error(
                    "delete namespace",
                    name,
                    e,
                )));
            }
        },
    };
    if let Some(operation_id) = operation_id {
        operation::wait(
            client,
            cx,
            &operation_id,
            OPERATION_WITHIN,
            (KIND, name, &format!("deleting namespace {name}")),
        )
        .await?;
    }
    Ok(())
}
