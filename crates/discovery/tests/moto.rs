//! Runs the namespace's and a service's ensure / ensure / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_servicediscovery::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::change::Action;
use orchestrate_core::{Context, Spec};
use orchestrate_discovery::{
    API_SERVER_SERVICE, Client, NamespaceDesired, delete, delete_service, diff, ensure,
    ensure_service, find,
};

#[tokio::test]
async fn namespace_and_service_ensure_twice_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_servicediscovery::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motons");
    // moto does not check that the VPC exists.
    let desired = NamespaceDesired::from_spec(&Spec::minimal("motons", "us-east-1"), "vpc-0moto");

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert_eq!(first.namespace_name, "motons.orchestrate.internal");
    assert!(!first.hosted_zone_id.is_empty());
    let observed = find(&client, &desired).await.expect("find");
    assert_eq!(diff(&desired, observed.as_ref()).action, Action::NoChange);
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert_eq!(first, second);

    let tags = client
        .list_tags_for_resource()
        .resource_arn(&first.namespace_arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "orchestrate:component" && t.value() == "discovery/namespace"),
        "{tags:?}"
    );

    let service = ensure_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("service");
    let again = ensure_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("service again");
    assert_eq!(service, again, "adopted, not duplicated");
    let listed = client.list_services().send().await.expect("list");
    assert_eq!(listed.services().len(), 1);

    delete_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("delete service");
    delete_service(&client, &cx, &first.namespace_id, API_SERVER_SERVICE)
        .await
        .expect("delete service again");
    delete(&client, &cx).await.expect("delete");
    delete(&client, &cx).await.expect("delete again");
    let observed = find(&client, &desired).await.expect("find");
    assert_eq!(diff(&desired, observed.as_ref()).action, Action::Create);
}
