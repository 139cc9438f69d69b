use aws_sdk_servicediscovery::operation::create_private_dns_namespace::{
    CreatePrivateDnsNamespaceError, CreatePrivateDnsNamespaceOutput,
};
use aws_sdk_servicediscovery::operation::create_service::CreateServiceOutput;
use aws_sdk_servicediscovery::operation::delete_namespace::DeleteNamespaceOutput;
use aws_sdk_servicediscovery::operation::delete_service::{
    DeleteServiceError, DeleteServiceOutput,
};
use aws_sdk_servicediscovery::operation::deregister_instance::DeregisterInstanceOutput;
use aws_sdk_servicediscovery::operation::get_namespace::{GetNamespaceError, GetNamespaceOutput};
use aws_sdk_servicediscovery::operation::get_operation::GetOperationOutput;
use aws_sdk_servicediscovery::operation::list_instances::ListInstancesOutput;
use aws_sdk_servicediscovery::operation::list_namespaces::ListNamespacesOutput;
use aws_sdk_servicediscovery::operation::list_services::ListServicesOutput;
use aws_sdk_servicediscovery::operation::update_service::UpdateServiceOutput;
use aws_sdk_servicediscovery::types::error::DuplicateRequest;
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsProperties, DnsRecord, HealthCheckCustomConfig, InstanceSummary, Namespace,
    NamespaceProperties, NamespaceSummary, NamespaceType, Operation, OperationStatus,
    OperationTargetType, RecordType, RoutingPolicy, Service, ServiceSummary,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use orchestrate_core::Spec;
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};
use orchestrate_core::progress::{Event, Recorder};

use super::*;

const NS: &str = "demo.orchestrate.internal";
const NS_ID: &str = "ns-123";
const VPC: &str = "vpc-1";

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} happened"))
        .build()
}

fn desired() -> NamespaceDesired {
    NamespaceDesired::from_spec(&Spec::minimal("demo", "us-east-1"), VPC)
}

fn listed() -> Rule {
    mock!(Client::list_namespaces).then_output(|| {
        ListNamespacesOutput::builder()
            .namespaces(
                NamespaceSummary::builder()
                    .id("ns-other")
                    .name("other.orchestrate.internal")
                    .r#type(NamespaceType::DnsPrivate)
                    .build(),
            )
            .namespaces(
                NamespaceSummary::builder()
                    .id(NS_ID)
                    .name(NS)
                    .r#type(NamespaceType::DnsPrivate)
                    .build(),
            )
            .build()
    })
}

fn none_listed() -> Rule {
    mock!(Client::list_namespaces).then_output(|| ListNamespacesOutput::builder().build())
}

fn namespace() -> GetNamespaceOutput {
    GetNamespaceOutput::builder()
        .namespace(
            Namespace::builder()
                .id(NS_ID)
                .arn(format!(
                    "arn:aws:servicediscovery:us-east-1:1:namespace/{NS_ID}"
                ))
                .name(NS)
                .creator_request_id("demo-namespace")
                .properties(
                    NamespaceProperties::builder()
                        .dns_properties(DnsProperties::builder().hosted_zone_id("Z123").build())
                        .build(),
                )
                .build(),
        )
        .build()
}

fn get_namespace() -> Rule {
    mock!(Client::get_namespace)
        .match_requests(|r| r.id() == Some(NS_ID))
        .then_output(namespace)
}

fn op(status: OperationStatus) -> GetOperationOutput {
    GetOperationOutput::builder()
        .operation(
            Operation::builder()
                .id("op-1")
                .status(status)
                .targets(OperationTargetType::Namespace, NS_ID)
                .build(),
        )
        .build()
}

fn create_rule() -> Rule {
    mock!(Client::create_private_dns_namespace).then_output(|| {
        CreatePrivateDnsNamespaceOutput::builder()
            .operation_id("op-1")
            .build()
    })
}

#[tokio::test]
async fn creates_namespace_with_tags_and_token_then_polls_the_operation() {
    let recorder = Recorder::default();
    let cx = Context {
        reporter: std::sync::Arc::new(recorder.clone()),
        ..Context::for_tests("demo")
    };
    let list = none_listed();
    let create = mock!(Client::create_private_dns_namespace)
        .match_requests(|r| {
            let tag = |k: &str| {
                r.tags()
                    .iter()
                    .find(|t| t.key() == k)
                    .map(|t| t.value().to_string())
            };
            r.name() == Some(NS)
                && r.vpc() == Some(VPC)
                && r.creator_request_id() == Some("demo-namespace")
                && tag(TAG_DEPLOYMENT).as_deref() == Some("demo")
                && tag(TAG_COMPONENT).as_deref() == Some(namespace::COMPONENT)
        })
        .then_output(|| {
            CreatePrivateDnsNamespaceOutput::builder()
                .operation_id("op-1")
                .build()
        });
    let operation = mock!(Client::get_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| op(OperationStatus::Submitted))
        .output(|| op(OperationStatus::Pending))
        .times(2)
        .output(|| op(OperationStatus::Success))
        .build();
    // Not visible once right after the operation succeeded (eventual consistency).
    let get = mock!(Client::get_namespace)
        .sequence()
        .error(|| GetNamespaceError::generic(meta("NamespaceNotFound")))
        .output(namespace)
        .build();
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create, &operation, &get]
    );

    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create.num_calls(), 1, "no second create");
    assert_eq!(operation.num_calls(), 4);
    assert_eq!(out.namespace_id, NS_ID);
    assert_eq!(out.namespace_name, NS);
    assert_eq!(out.hosted_zone_id, "Z123");
    assert!(out.namespace_arn.ends_with(NS_ID));
    let states: Vec<String> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Waiting { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["SUBMITTED", "PENDING"]);
}

#[tokio::test]
async fn existing_namespace_is_adopted_with_zero_mutating_calls() {
    let cx = Context::for_tests("demo");
    let list = listed();
    let get = get_namespace();
    let create = create_rule();
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &get, &create]
    );
    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create.num_calls(), 0);
    assert_eq!(out.namespace_id, NS_ID);
    let observed = find(&client, &desired()).await.expect("find");
    assert_eq!(diff(&desired(), observed.as_ref()).action, Action::NoChange);
}

#[tokio::test]
async fn failed_operation_surfaces_aws_code_and_message() {
    let cx = Context::for_tests("demo");
    let list = none_listed();
    let create = create_rule();
    let operation = mock!(Client::get_operation).then_output(|| {
        GetOperationOutput::builder()
            .operation(
                Operation::builder()
                    .id("op-1")
                    .status(OperationStatus::Fail)
                    .error_code("CANNOT_CREATE_HOSTED_ZONE")
                    .error_message("the VPC already has a conflicting domain")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create, &operation]
    );
    let err = ensure(&client, &cx, &desired()).await.expect_err("fail");
    let shown = err.to_string();
    assert!(
        shown.contains("creating namespace demo.orchestrate.internal"),
        "{shown}"
    );
    assert!(shown.contains("CANNOT_CREATE_HOSTED_ZONE"), "{shown}");
    assert!(shown.contains("conflicting domain"), "{shown}");
}

#[tokio::test]
async fn creation_in_flight_after_a_crash_is_waited_on_not_duplicated() {
    let cx = Context::for_tests("demo");
    let list = none_listed();
    let create = mock!(Client::create_private_dns_namespace)
        .match_requests(|r| r.creator_request_id() == Some("demo-namespace"))
        .then_error(|| {
            CreatePrivateDnsNamespaceError::DuplicateRequest(
                DuplicateRequest::builder()
                    .duplicate_operation_id("op-1")
                    .meta(meta("DuplicateRequest"))
                    .build(),
            )
        });
    let operation = mock!(Client::get_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| op(OperationStatus::Pending))
        .output(|| op(OperationStatus::Success))
        .build();
    let get = get_namespace();
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create, &operation, &get]
    );
    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(out.namespace_id, NS_ID);
}

#[tokio::test]
async fn delete_of_absent_namespace_succeeds_and_existing_one_is_waited_on() {
    let cx = Context::for_tests("demo");
    let list = none_listed();
    let delete_ns = mock!(Client::delete_namespace).then_output(|| {
        DeleteNamespaceOutput::builder()
            .operation_id("op-del")
            .build()
    });
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &delete_ns]
    );
    delete(&client, &cx).await.expect("delete absent");
    assert_eq!(delete_ns.num_calls(), 0);

    let list = listed();
    let get = get_namespace();
    let delete_ns = mock!(Client::delete_namespace)
        .match_requests(|r| r.id() == Some(NS_ID))
        .then_output(|| {
            DeleteNamespaceOutput::builder()
                .operation_id("op-del")
                .build()
        });
    let operation = mock!(Client::get_operation)
        .match_requests(|r| r.operation_id() == Some("op-del"))
        .sequence()
        .output(|| op(OperationStatus::Pending))
        .output(|| op(OperationStatus::Success))
        .build();
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &get, &delete_ns, &operation]
    );
    delete(&client, &cx).await.expect("delete");
    assert_eq!(delete_ns.num_calls(), 1);
    assert_eq!(operation.num_calls(), 2);
}

// The summary says which namespace the service is in (the deprecated DnsConfig.NamespaceId, as
// AWS reports it), so `find` needs no GetService.
#[allow(deprecated)]
fn service_summary(ttl: i64) -> ServiceSummary {
    ServiceSummary::builder()
        .id("srv-1")
        .arn("arn:aws:servicediscovery:us-east-1:1:service/srv-1")
        .name(API_SERVER_SERVICE)
        .dns_config(
            DnsConfig::builder()
                .namespace_id(NS_ID)
                .routing_policy(RoutingPolicy::Multivalue)
                .dns_records(
                    DnsRecord::builder()
                        .r#type(RecordType::A)
                        .ttl(ttl)
                        .build()
                        .expect("record"),
                )
                .build()
                .expect("dns config"),
        )
        .health_check_custom_config(HealthCheckCustomConfig::builder().build())
        .build()
}

fn services(list: Vec<ServiceSummary>) -> Rule {
    mock!(Client::list_services)
        .match_requests(|r| r.filters().first().is_some_and(|f| f.values() == [NS_ID]))
        .then_output(move || {
            ListServicesOutput::builder()
                .set_services(Some(list.clone()))
                .build()
        })
}

#[tokio::test]
async fn service_is_created_with_dns_config_health_and_tags() {
    let cx = Context::for_tests("demo");
    let list = services(vec![]);
    let create = mock!(Client::create_service)
        .match_requests(|r| {
            let dns = r.dns_config();
            r.name() == Some(API_SERVER_SERVICE)
                && r.namespace_id() == Some(NS_ID)
                && r.creator_request_id()
                    .is_some_and(|t| t.starts_with("demo-service-api-server-"))
                && dns.and_then(|d| d.routing_policy()) == Some(&RoutingPolicy::Multivalue)
                && dns.is_some_and(|d| {
                    d.dns_records().len() == 1
                        && d.dns_records()[0].r#type() == &RecordType::A
                        && d.dns_records()[0].ttl() == 10
                })
                && r.health_check_custom_config().is_some()
                && r.tags()
                    .iter()
                    .any(|t| t.key() == TAG_COMPONENT && t.value() == "discovery/api-server")
        })
        .then_output(|| {
            CreateServiceOutput::builder()
                .service(
                    Service::builder()
                        .id("srv-1")
                        .arn("arn:aws:servicediscovery:us-east-1:1:service/srv-1")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create]
    );
    let out = ensure_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("ensure");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(out.id, "srv-1");
}

/// A CreateService answer without the service's id is an error, never an empty id that later
/// calls would send to AWS.
#[tokio::test]
async fn a_create_answer_without_the_service_id_is_an_error() {
    let cx = Context::for_tests("demo");
    let list = services(vec![]);
    let create =
        mock!(Client::create_service).then_output(|| CreateServiceOutput::builder().build());
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create]
    );
    let e = ensure_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect_err("no id");
    assert!(matches!(e, crate::Error::MissingField { .. }), "{e:?}");
    assert!(e.to_string().contains("Service.Id"), "{e}");
}

#[tokio::test]
async fn existing_service_is_adopted_and_drifted_ttl_is_updated() {
    let cx = Context::for_tests("demo");
    let list = services(vec![service_summary(10)]);
    let create =
        mock!(Client::create_service).then_output(|| CreateServiceOutput::builder().build());
    let update = mock!(Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().operation_id("op-u").build());
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create, &update]
    );
    let out = ensure_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("ensure");
    assert_eq!(create.num_calls() + update.num_calls(), 0);
    assert_eq!(
        out.arn,
        "arn:aws:servicediscovery:us-east-1:1:service/srv-1"
    );

    let list = services(vec![service_summary(300)]);
    let update = mock!(Client::update_service)
        .match_requests(|r| {
            r.id() == Some("srv-1")
                && r.service()
                    .and_then(|s| s.dns_config())
                    .is_some_and(|d| d.dns_records()[0].ttl() == 10)
        })
        .then_output(|| UpdateServiceOutput::builder().operation_id("op-u").build());
    let operation = mock!(Client::get_operation).then_output(|| op(OperationStatus::Success));
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &create, &update, &operation]
    );
    let observed = service::find(&client, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("find");
    let desired = ServiceDesired::new(&cx, NS_ID, API_SERVER_SERVICE);
    assert!(matches!(
        service::diff(&desired, observed.as_ref()).action,
        Action::Update { .. }
    ));
    ensure_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("ensure");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn delete_service_deregisters_instances_and_retries_resource_in_use() {
    let cx = Context::for_tests("demo");
    let list = services(vec![service_summary(10)]);
    let instances = mock!(Client::list_instances).then_output(|| {
        ListInstancesOutput::builder()
            .instances(InstanceSummary::builder().id("task-1").build())
            .build()
    });
    let deregister = mock!(Client::deregister_instance)
        .match_requests(|r| r.instance_id() == Some("task-1"))
        .then_output(|| {
            DeregisterInstanceOutput::builder()
                .operation_id("op-d")
                .build()
        });
    let operation = mock!(Client::get_operation).then_output(|| op(OperationStatus::Success));
    let delete_srv = mock!(Client::delete_service)
        .sequence()
        .error(|| DeleteServiceError::generic(meta("ResourceInUse")))
        .output(|| DeleteServiceOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &instances, &deregister, &operation, &delete_srv]
    );
    delete_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("delete");
    assert_eq!(deregister.num_calls(), 1);
    assert_eq!(delete_srv.num_calls(), 2);

    let list = services(vec![]);
    let delete_srv =
        mock!(Client::delete_service).then_output(|| DeleteServiceOutput::builder().build());
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &delete_srv]
    );
    delete_service(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("absent");
    assert_eq!(delete_srv.num_calls(), 0);
}

/// A summary without the (deprecated) DnsConfig.NamespaceId, as moto lists it, with `id`
/// and `description`.
fn bare_summary(id: &str, description: &str) -> ServiceSummary {
    ServiceSummary::builder()
        .id(id)
        .arn(format!("arn:aws:servicediscovery:us-east-1:1:service/{id}"))
        .name(API_SERVER_SERVICE)
        .description(description)
        .dns_config(
            DnsConfig::builder()
                .routing_policy(RoutingPolicy::Multivalue)
                .dns_records(
                    DnsRecord::builder()
                        .r#type(RecordType::A)
                        .ttl(10)
                        .build()
                        .expect("record"),
                )
                .build()
                .expect("dns config"),
        )
        .build()
}

#[tokio::test]
async fn find_in_takes_the_one_service_with_this_deployments_description_without_get_service() {
    use aws_sdk_servicediscovery::operation::get_service::GetServiceOutput;
    let cx = Context::for_tests("demo");
    // A lenient endpoint lists another deployment's same-named service beside ours.
    let list = services(vec![
        bare_summary("srv-other", "orchestrate other: api-server"),
        bare_summary("srv-ours", "orchestrate demo: api-server"),
    ]);
    let get = mock!(Client::get_service).then_output(|| GetServiceOutput::builder().build());
    let client = mock_client!(aws_sdk_servicediscovery, RuleMode::MatchAny, [&list, &get]);
    let found = service::find_in(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("find")
        .expect("ours is listed");
    assert_eq!(found.id, "srv-ours");
    assert_eq!(get.num_calls(), 0, "decided from the description");

    // Two services carry our description (a lingering one in another namespace): the
    // namespace is checked per service with GetService.
    let list = services(vec![
        bare_summary("srv-stale", "orchestrate demo: api-server"),
        bare_summary("srv-ours", "orchestrate demo: api-server"),
    ]);
    let get = mock!(Client::get_service).then_output(|| {
        GetServiceOutput::builder()
            .service(
                aws_sdk_servicediscovery::types::Service::builder()
                    .namespace_id(NS_ID)
                    .build(),
            )
            .build()
    });
    let get_stale = mock!(Client::get_service)
        .match_requests(|r| r.id() == Some("srv-stale"))
        .then_output(|| {
            GetServiceOutput::builder()
                .service(
                    aws_sdk_servicediscovery::types::Service::builder()
                        .namespace_id("ns-elsewhere")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(
        aws_sdk_servicediscovery,
        RuleMode::MatchAny,
        [&list, &get_stale, &get]
    );
    let found = service::find_in(&client, &cx, NS_ID, API_SERVER_SERVICE)
        .await
        .expect("find")
        .expect("ours is found");
    assert_eq!(found.id, "srv-ours");
    assert_eq!(get_stale.num_calls() + get.num_calls(), 2);
}

fn assert_incomplete(e: &crate::Error, field: &str) {
    use orchestrate_core::{Classify, ErrorKind};
    let aws = match e {
        crate::Error::DescribeNamespace(aws) | crate::Error::DescribeService(aws) => aws,
        other => panic!("a describe error, got {other:?}"),
    };
    assert_eq!(aws.code, orchestrate_aws::INCOMPLETE_ANSWER, "{e}");
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(e.to_string().contains(field), "{e} names {field}");
}

#[tokio::test]
async fn a_namespace_without_its_hosted_zone_is_an_incomplete_answer() {
    // The summary carries no ARN and no DNS properties: GetNamespace tells, and it lacks the
    // hosted zone id too.
    let list = listed();
    let get = mock!(Client::get_namespace).then_output(|| {
        let mut out = namespace();
        if let Some(n) = out.namespace.as_mut() {
            n.properties = None;
        }
        out
    });
    let client = mock_client!(aws_sdk_servicediscovery, RuleMode::MatchAny, [&list, &get]);
    let e = find(&client, &desired())
        .await
        .expect_err("no hosted zone id");
    assert!(matches!(e, crate::Error::DescribeNamespace(_)), "{e:?}");
    assert_incomplete(&e, "HostedZoneId");
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_complete_namespace_summary_needs_no_get_namespace() {
    let list = mock!(Client::list_namespaces).then_output(|| {
        ListNamespacesOutput::builder()
            .namespaces(
                NamespaceSummary::builder()
                    .id(NS_ID)
                    .arn(format!(
                        "arn:aws:servicediscovery:us-east-1:1:namespace/{NS_ID}"
                    ))
                    .name(NS)
                    .r#type(NamespaceType::DnsPrivate)
                    .properties(
                        NamespaceProperties::builder()
                            .dns_properties(DnsProperties::builder().hosted_zone_id("Z123").build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let get = get_namespace();
    let client = mock_client!(aws_sdk_servicediscovery, RuleMode::MatchAny, [&list, &get]);
    let found = find(&client, &desired())
        .await
        .expect("find")
        .expect("listed");
    assert_eq!(found.hosted_zone_id, "Z123");
    assert_eq!(get.num_calls(), 0);
}

#[tokio::test]
async fn a_listed_service_without_its_arn_is_an_incomplete_answer() {
    let mut summary = service_summary(10);
    summary.arn = None;
    let list = services(vec![summary]);
    let client = mock_client!(aws_sdk_servicediscovery, RuleMode::MatchAny, [&list]);
    let e = service::find(&client, NS_ID, API_SERVER_SERVICE)
        .await
        .expect_err("no ARN");
    assert_incomplete(&e, "Services[].Arn");
}
