//! A Cloud Map service in the namespace (e.g. `api-server`): the DNS name ECS registers the
//! tasks of a service under (`api-server.<name>.orchestrate.internal`, A records).

use std::time::Duration;

use aws_sdk_servicediscovery::Client;
use aws_sdk_servicediscovery::operation::create_service::CreateServiceError;
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsConfigChange, DnsRecord, FilterCondition, HealthCheckCustomConfig, RecordType,
    RoutingPolicy, ServiceChange, ServiceFilter, ServiceFilterName, ServiceSummary,
};
use orchestrate_aws::{aws_error, error_code, is_not_found_code, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::operation;
use crate::sdk_tags;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "servicediscovery/service";

/// TTL of the A records, in seconds: short, so that replaced tasks drop out quickly.
pub const TTL: i64 = 10;

/// How long an instance deregistration or a service update may take.
const OPERATION_WITHIN: Duration = Duration::from_secs(5 * 60);

/// What the service should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDesired {
    /// Service name (`api-server`): the first label of its DNS name.
    pub name: String,
    /// The namespace it lives in.
    pub namespace_id: String,
    /// Idempotency token `<deployment>-service-<name>`.
    pub creator_request_id: String,
    /// Description (never compared).
    pub description: String,
    /// Tags sent with CreateService.
    pub tags: Tags,
}

/// This process's part of the CreateService token: the same for every retry the SDK makes of
/// a request (so a lost response is not a second service), different in the next run (so a
/// service created again after `teardown services` is never answered with the deleted one,
/// whatever AWS remembers of a used token). A later run adopts what an earlier one created by
/// name, never by token.
fn run_nonce() -> &'static str {
    static NONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NONCE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:x}{:x}", std::process::id(), nanos % (1 << 40))
    })
}

impl ServiceDesired {
    /// The service `name` in `namespace_id` (pure within a run; see [`run_nonce`]).
    pub fn new(cx: &Context, namespace_id: &str, name: &str) -> Self {
        let deployment = cx.names.deployment();
        Self {
            name: name.to_string(),
            namespace_id: namespace_id.to_string(),
            creator_request_id: format!("{deployment}-service-{name}-{}", run_nonce()),
            description: description(cx, name),
            tags: cx.tags(&format!("discovery/{name}"), Phase::ApiServer, name),
        }
    }
}

/// What AWS reports about the service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceObserved {
    /// Service id (`srv-...`).
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Its routing policy (`MULTIVALUE`).
    pub routing_policy: Option<String>,
    /// Its DNS records as (type, TTL).
    pub records: Vec<(String, i64)>,
    /// Whether ECS reports health (HealthCheckCustomConfig present).
    pub custom_health: bool,
}

/// What later phases need of the service (ECS `serviceRegistries[].registryArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOutputs {
    /// Service id.
    pub id: String,
    /// Service ARN.
    pub arn: String,
}

/// The listed service `name`.
///
/// # Errors
/// [`Error::DescribeService`] ([`orchestrate_aws::INCOMPLETE_ANSWER`]) when the summary
/// lacks the service's id or ARN (what ECS's `serviceRegistries` and every later call use).
fn from_summary(s: &ServiceSummary, name: &str) -> Result<ServiceObserved> {
    let dns = s.dns_config();
    let need = |value, field| {
        required(value, "list services", name, field).map_err(Error::DescribeService)
    };
    Ok(ServiceObserved {
        id: need(s.id(), "Services[].Id")?.to_string(),
        arn: need(s.arn(), "Services[].Arn")?.to_string(),
        routing_policy: dns
            .and_then(|d| d.routing_policy())
            .map(|p| p.as_str().to_string()),
        records: dns
            .map(|d| {
                d.dns_records()
                    .iter()
                    .map(|r| (r.r#type().as_str().to_string(), r.ttl()))
                    .collect()
            })
            .unwrap_or_default(),
        custom_health: s.health_check_custom_config().is_some(),
    })
}

fn request_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Request {
        what: what.into(),
        message: e.to_string(),
    }
}

/// The service `name` in `namespace_id`; `Ok(None)` when absent. ListServices filtered by
/// `NAMESPACE_ID` (following pagination), then an exact name match.
///
/// # Errors
/// [`Error::DescribeService`], also when the listed service lacks its id or ARN
/// ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find(
    client: &Client,
    namespace_id: &str,
    name: &str,
) -> Result<Option<ServiceObserved>> {
    find_described(client, namespace_id, name, None).await
}

/// The description orchestrate gives the service `name` of `cx`'s deployment.
fn description(cx: &Context, name: &str) -> String {
    format!("orchestrate {}: {name}", cx.names.deployment())
}

/// [`find`] for `cx`'s deployment: a listed service of that name whose description is the
/// one orchestrate gives this deployment's (`orchestrate <deployment>: <name>`, which no
/// other deployment's carries) is taken as ours without a GetService, when it is the only
/// such service in the listing.
///
/// # Errors
/// [`Error::DescribeService`], as [`find`].
pub async fn find_in(
    client: &Client,
    cx: &Context,
    namespace_id: &str,
    name: &str,
) -> Result<Option<ServiceObserved>> {
    find_described(client, namespace_id, name, Some(&description(cx, name))).await
}

async fn find_described(
    client: &Client,
    namespace_id: &str,
    name: &str,
    ours_described: Option<&str>,
) -> Result<Option<ServiceObserved>> {
    let filter = ServiceFilter::builder()
        .name(ServiceFilterName::NamespaceId)
        .values(namespace_id)
        .condition(FilterCondition::Eq)
        .build()
        .map_err(|e| request_error("ListServices", e))?;
    let mut token: Option<String> = None;
    let mut named: Vec<ServiceSummary> = Vec::new();
    loop {
        let out = client
            .list_services()
            .filters(filter.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::DescribeService(aws_error("list services", name, e)))?;
        named.extend(
            out.services()
                .iter()
                .filter(|s| s.name() == Some(name))
                .cloned(),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    // moto 5.2.1 ignores the filter, so the namespace is checked again. Two deployments'
    // `api-server` services share a name; only ours may be returned. Fast path: the one
    // listed service carrying this deployment's description (AWS honours the filter, so it
    // lists one at most). Otherwise, per service: the (deprecated) DnsConfig.NamespaceId
    // where the summary reports it, else GetService.
    if let Some(wanted) = ours_described {
        let mut described = named.iter().filter(|s| s.description() == Some(wanted));
        if let (Some(only), None) = (described.next(), described.next()) {
            #[allow(deprecated)]
            let reported = only.dns_config().and_then(|d| d.namespace_id());
            if reported.is_none_or(|id| id == namespace_id) {
                return from_summary(only, name).map(Some);
            }
        }
    }
    for s in &named {
        #[allow(deprecated)]
        let reported = s.dns_config().and_then(|d| d.namespace_id());
        let ours =
            match (reported, s.id()) {
                (Some(id), _) => id == namespace_id,
                (None, Some(id)) => {
                    let got =
                        client.get_service().id(id).send().await.map_err(|e| {
                            Error::DescribeService(aws_error("get service", name, e))
                        })?;
                    got.service().and_then(|g| g.namespace_id()) == Some(namespace_id)
                }
                (None, None) => false,
            };
        if ours {
            return from_summary(s, name).map(Some);
        }
    }
    Ok(None)
}

fn wanted_records() -> Vec<(String, i64)> {
    vec![(RecordType::A.as_str().to_string(), TTL)]
}

/// The drifted fields: (updatable in place, needing replacement).
fn drift(observed: &ServiceObserved) -> (Vec<FieldChange>, Vec<FieldChange>) {
    let mut update = Vec::new();
    let mut replace = Vec::new();
    let show = |r: &[(String, i64)]| {
        r.iter()
            .map(|(t, ttl)| format!("{t} ttl {ttl}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    if observed.records != wanted_records() {
        update.push(FieldChange::new(
            "DnsRecords",
            Some(show(&observed.records)),
            Some(show(&wanted_records())),
        ));
    }
    if observed.routing_policy.as_deref() != Some(RoutingPolicy::Multivalue.as_str()) {
        replace.push(FieldChange::new(
            "RoutingPolicy",
            observed.routing_policy.clone(),
            Some(RoutingPolicy::Multivalue.as_str().to_string()),
        ));
    }
    if !observed.custom_health {
        replace.push(FieldChange::new(
            "HealthCheckCustomConfig",
            Some("none".to_string()),
            Some("FailureThreshold 1".to_string()),
        ));
    }
    (update, replace)
}

/// What `ensure_service` would do (pure).
pub fn diff(desired: &ServiceDesired, observed: Option<&ServiceObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let (update, replace) = drift(observed);
            let fields: Vec<FieldChange> = update
                .into_iter()
                .chain(replace.into_iter().map(|mut f| {
                    f.to = f.to.map(|t| format!("{t} (requires replacement)"));
                    f
                }))
                .collect();
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::ApiServer, KIND, &desired.name, action)
}

/// Creates the service `name` in `namespace_id` when absent (A record, TTL 10, MULTIVALUE
/// routing, health reported by ECS, tags, a CreatorRequestId per run), fixes its DNS
/// records when they drifted, adopts it otherwise with no mutating call.
///
/// # Errors
/// [`Error::DescribeService`], [`Error::CreateService`], [`Error::UpdateService`],
/// [`Error::ReplacementNeeded`] (routing policy or custom health check differ),
/// [`Error::Operation`], [`Error::Request`].
pub async fn ensure_service(
    client: &Client,
    cx: &Context,
    namespace_id: &str,
    name: &str,
) -> Result<ServiceOutputs> {
    let desired = ServiceDesired::new(cx, namespace_id, name);
    let observed = match find_in(client, cx, namespace_id, name).await? {
        Some(observed) => observed,
        None => return create(client, cx, &desired).await,
    };
    let (update, replace) = drift(&observed);
    if !replace.is_empty() {
        return Err(Error::ReplacementNeeded {
            name: name.into(),
            fields: replace
                .iter()
                .map(|f| {
                    format!(
                        "{} ({} -> {})",
                        f.field,
                        f.from.as_deref().unwrap_or("none"),
                        f.to.as_deref().unwrap_or("none")
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if !update.is_empty() {
        cx.reporter.applying(KIND, name, "update");
        let change = ServiceChange::builder()
            .dns_config(
                DnsConfigChange::builder()
                    .dns_records(a_record()?)
                    .build()
                    .map_err(|e| request_error("UpdateService", e))?,
            )
            .build();
        let out = client
            .update_service()
            .id(&observed.id)
            .service(change)
            .send()
            .await
            .map_err(|e| Error::UpdateService(aws_error("update service", name, e)))?;
        if let Some(op) = out.operation_id() {
            operation::wait(
                client,
                cx,
                op,
                OPERATION_WITHIN,
                (KIND, name, &format!("updating service {name}")),
            )
            .await?;
        }
    }
    Ok(ServiceOutputs {
        id: observed.id,
        arn: observed.arn,
    })
}

fn a_record() -> Result<DnsRecord> {
    DnsRecord::builder()
        .r#type(RecordType::A)
        .ttl(TTL)
        .build()
        .map_err(|e| request_error("CreateService", e))
}

async fn create(client: &Client, cx: &Context, desired: &ServiceDesired) -> Result<ServiceOutputs> {
    let name = desired.name.as_str();
    cx.reporter.applying(KIND, name, "create");
    let dns = DnsConfig::builder()
        .routing_policy(RoutingPolicy::Multivalue)
        .dns_records(a_record()?)
        .build()
        .map_err(|e| request_error("CreateService", e))?;
    // FailureThreshold is deprecated (AWS always uses 1); it is sent as 1 all the same.
    #[allow(deprecated)]
    let health = HealthCheckCustomConfig::builder()
        .failure_threshold(1)
        .build();
    let result = client
        .create_service()
        .name(name)
        .namespace_id(&desired.namespace_id)
        .creator_request_id(&desired.creator_request_id)
        .description(&desired.description)
        .dns_config(dns)
        .health_check_custom_config(health)
        .set_tags(Some(sdk_tags(&desired.tags)?))
        .send()
        .await;
    match result {
        Ok(out) => {
            let service = out.service();
            let (Some(id), Some(arn)) =
                (service.and_then(|s| s.id()), service.and_then(|s| s.arn()))
            else {
                return Err(Error::MissingField {
                    what: format!("the CreateService answer for {name}"),
                    field: "Service.Id / Service.Arn",
                });
            };
            cx.reporter.ready(KIND, name);
            Ok(ServiceOutputs {
                id: id.to_string(),
                arn: arn.to_string(),
            })
        }
        // A retried create whose first response was lost: the service is ours, adopt it.
        Err(e) => match e.as_service_error() {
            Some(CreateServiceError::ServiceAlreadyExists(x)) => {
                match (x.service_id(), x.service_arn()) {
                    (Some(id), Some(arn)) => {
                        cx.reporter
                            .note(KIND, format!("{name} already exists; adopting it"));
                        Ok(ServiceOutputs {
                            id: id.to_string(),
                            arn: arn.to_string(),
                        })
                    }
                    _ => Err(Error::CreateService(aws_error("create service", name, e))),
                }
            }
            _ => Err(Error::CreateService(aws_error("create service", name, e))),
        },
    }
}

/// Deregisters every instance of the service (waiting for each deregistration), then deletes
/// it. Absent is success. `ResourceInUse` (instances still being deregistered) is retried with
/// a bounded budget.
///
/// # Errors
/// [`Error::DescribeService`], [`Error::DeleteService`], [`Error::Operation`].
pub async fn delete_service(
    client: &Client,
    cx: &Context,
    namespace_id: &str,
    name: &str,
) -> Result<()> {
    let Some(observed) = find_in(client, cx, namespace_id, name).await? else {
        return Ok(());
    };
    cx.reporter.applying(KIND, name, "delete");
    let mut token: Option<String> = None;
    let mut instances = Vec::new();
    loop {
        let out = match client
            .list_instances()
            .service_id(&observed.id)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if error_code(&e).is_some_and(is_not_found_code) => return Ok(()),
            Err(e) => {
                return Err(Error::DeleteService(aws_error(
                    "list instances of service",
                    name,
                    e,
                )));
            }
        };
        instances.extend(
            out.instances()
                .iter()
                .filter_map(|i| i.id().map(str::to_string)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    for instance in &instances {
        match client
            .deregister_instance()
            .service_id(&observed.id)
            .instance_id(instance)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(op) = out.operation_id() {
                    operation::wait(
                        client,
                        cx,
                        op,
                        OPERATION_WITHIN,
                        (KIND, name, &format!("deregistering {instance} from {name}")),
                    )
                    .await?;
                }
            }
            Err(e) if error_code(&e).is_some_and(is_not_found_code) => {}
            Err(e) => {
                return Err(Error::DeleteService(aws_error(
                    "deregister instance of service",
                    name,
                    e,
                )));
            }
        }
    }
    let result = retry_eventual(cx.timing, &["ResourceInUse"], 10, || async {
        client.delete_service().id(&observed.id).send().await
    })
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).is_some_and(is_not_found_code) => Ok(()),
        Err(e) => Err(Error::DeleteService(aws_error("delete service", name, e))),
    }
}
