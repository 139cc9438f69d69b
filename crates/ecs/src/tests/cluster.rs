use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::create_cluster::CreateClusterOutput;
use aws_sdk_ecs::operation::delete_cluster::{DeleteClusterError, DeleteClusterOutput};
use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
use aws_sdk_ecs::operation::put_cluster_capacity_providers::PutClusterCapacityProvidersOutput;
use aws_sdk_ecs::operation::update_cluster_settings::UpdateClusterSettingsOutput;
use aws_sdk_ecs::types::error::ClusterNotFoundException;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster, ClusterField, ClusterSetting, ClusterSettingName,
    Failure, Tag,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;

use super::{ACCOUNT, cx, meta};
use crate::cluster::{self, ClusterDesired};

fn cluster_with(status: &str, providers: &[&str], insights: &str) -> Cluster {
    Cluster::builder()
        .cluster_name("demo")
        .cluster_arn(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/demo"))
        .status(status)
        .set_capacity_providers(Some(providers.iter().map(|p| p.to_string()).collect()))
        .set_default_capacity_provider_strategy(if providers.is_empty() {
            None
        } else {
            Some(vec![
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE")
                    .base(0)
                    .weight(1)
                    .build()
                    .expect("item"),
            ])
        })
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value(insights)
                .build(),
        )
        .tags(
            Tag::builder()
                .key("managed-by")
                .value("orchestrate")
                .build(),
        )
        .build()
}

fn describe(clusters: Vec<Cluster>) -> Rule {
    mock!(Client::describe_clusters)
        .match_requests(|r| {
            r.clusters() == ["demo"] && r.include().contains(&ClusterField::Settings)
        })
        .then_output(move || {
            let out = DescribeClustersOutput::builder().set_clusters(Some(clusters.clone()));
            if clusters.is_empty() {
                out.failures(Failure::builder().arn("demo").reason("MISSING").build())
                    .build()
            } else {
                out.build()
            }
        })
}

fn mutating() -> [Rule; 3] {
    [
        mock!(Client::create_cluster).then_output(|| {
            CreateClusterOutput::builder()
                .cluster(cluster_with(
                    "ACTIVE",
                    &["FARGATE", "FARGATE_SPOT"],
                    "enabled",
                ))
                .build()
        }),
        mock!(Client::put_cluster_capacity_providers)
            .then_output(|| PutClusterCapacityProvidersOutput::builder().build()),
        mock!(Client::update_cluster_settings)
            .then_output(|| UpdateClusterSettingsOutput::builder().build()),
    ]
}

#[tokio::test]
async fn creates_the_cluster_with_tags_providers_and_insights() {
    let cx = cx();
    let absent = describe(vec![]);
    let create = mock!(Client::create_cluster)
        .match_requests(|r| {
            let tags: Vec<_> = r.tags().iter().filter_map(|t| t.key()).collect();
            r.cluster_name() == Some("demo")
                && r.capacity_providers() == ["FARGATE", "FARGATE_SPOT"]
                && r.default_capacity_provider_strategy().len() == 1
                && r.default_capacity_provider_strategy()[0].capacity_provider() == "FARGATE"
                && r.settings().iter().any(|s| {
                    s.name() == Some(&ClusterSettingName::ContainerInsights)
                        && s.value() == Some("enabled")
                })
                && tags.contains(&"orchestrate:deployment")
                && tags.contains(&"orchestrate:component")
                && tags.contains(&"managed-by")
        })
        .then_output(|| {
            CreateClusterOutput::builder()
                .cluster(cluster_with(
                    "ACTIVE",
                    &["FARGATE", "FARGATE_SPOT"],
                    "enabled",
                ))
                .build()
        });
    let [_, put, settings] = mutating();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&absent, &create, &put, &settings]
    );
    let out = cluster::ensure(&client, &cx, &ClusterDesired::new(&cx))
        .await
        .expect("ensure");
    assert_eq!(out.name, "demo");
    assert!(out.arn.ends_with(":cluster/demo"));
    assert_eq!(create.num_calls(), 1);
    assert_eq!(put.num_calls() + settings.num_calls(), 0);
}

#[tokio::test]
async fn an_existing_cluster_is_adopted_without_mutating_calls() {
    let cx = cx();
    let found = describe(vec![cluster_with(
        "ACTIVE",
        &["FARGATE_SPOT", "FARGATE"],
        "enabled",
    )]);
    let [create, put, settings] = mutating();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&found, &create, &put, &settings]
    );
    let desired = ClusterDesired::new(&cx);
    cluster::ensure(&client, &cx, &desired)
        .await
        .expect("ensure");
    assert_eq!(
        create.num_calls() + put.num_calls() + settings.num_calls(),
        0
    );
    let plan = cluster::plan_cluster(&client, &desired)
        .await
        .expect("plan");
    assert_eq!(plan.action, Action::NoChange);
}

#[tokio::test]
async fn enhanced_insights_are_not_downgraded() {
    let cx = cx();
    let found = describe(vec![cluster_with(
        "ACTIVE",
        &["FARGATE", "FARGATE_SPOT"],
        "enhanced",
    )]);
    let [create, put, settings] = mutating();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&found, &create, &put, &settings]
    );
    cluster::ensure(&client, &cx, &ClusterDesired::new(&cx))
        .await
        .expect("ensure");
    assert_eq!(settings.num_calls(), 0);
}

#[tokio::test]
async fn drifted_providers_and_insights_are_updated_in_place() {
    let cx = cx();
    let found = describe(vec![cluster_with("ACTIVE", &[], "disabled")]);
    let create =
        mock!(Client::create_cluster).then_output(|| CreateClusterOutput::builder().build());
    let put = mock!(Client::put_cluster_capacity_providers)
        .match_requests(|r| {
            r.cluster() == Some("demo")
                && r.capacity_providers() == ["FARGATE", "FARGATE_SPOT"]
                && r.default_capacity_provider_strategy()[0].capacity_provider() == "FARGATE"
        })
        .then_output(|| PutClusterCapacityProvidersOutput::builder().build());
    let settings = mock!(Client::update_cluster_settings)
        .match_requests(|r| r.settings().iter().any(|s| s.value() == Some("enabled")))
        .then_output(|| UpdateClusterSettingsOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&found, &create, &put, &settings]
    );
    let desired = ClusterDesired::new(&cx);
    let plan = cluster::plan_cluster(&client, &desired)
        .await
        .expect("plan");
    match plan.action {
        Action::Update { fields } => {
            let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["capacityProviders", "containerInsights"]);
        }
        other => panic!("expected update, got {other:?}"),
    }
    cluster::ensure(&client, &cx, &desired)
        .await
        .expect("ensure");
    assert_eq!(create.num_calls(), 0);
    assert_eq!(put.num_calls(), 1);
    assert_eq!(settings.num_calls(), 1);
}

#[tokio::test]
async fn provisioning_then_not_listed_then_active_creates_once() {
    let cx = cx();
    let describe = mock!(Client::describe_clusters)
        .sequence()
        .output(|| {
            DescribeClustersOutput::builder()
                .failures(Failure::builder().arn("demo").reason("MISSING").build())
                .build()
        })
        .times(2)
        .output(|| {
            DescribeClustersOutput::builder()
                .clusters(cluster_with(
                    "ACTIVE",
                    &["FARGATE", "FARGATE_SPOT"],
                    "enabled",
                ))
                .build()
        })
        .repeatedly()
        .build();
    let create = mock!(Client::create_cluster).then_output(|| {
        CreateClusterOutput::builder()
            .cluster(cluster_with(
                "PROVISIONING",
                &["FARGATE", "FARGATE_SPOT"],
                "enabled",
            ))
            .build()
    });
    let [_, put, settings] = mutating();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&describe, &create, &put, &settings]
    );
    let out = cluster::ensure(&client, &cx, &ClusterDesired::new(&cx))
        .await
        .expect("ensure waits for ACTIVE");
    assert_eq!(out.name, "demo");
    assert_eq!(create.num_calls(), 1, "no duplicate create");
    assert_eq!(put.num_calls() + settings.num_calls(), 0);
}

#[tokio::test]
async fn an_inactive_cluster_is_absent_and_recreated() {
    let cx = cx();
    let inactive = describe(vec![cluster_with("INACTIVE", &[], "disabled")]);
    let [create, put, settings] = mutating();
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&inactive, &create, &put, &settings]
    );
    assert!(
        cluster::find(&client, "demo")
            .await
            .expect("find")
            .is_none()
    );
    cluster::ensure(&client, &cx, &ClusterDesired::new(&cx))
        .await
        .expect("ensure");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn deleting_an_absent_cluster_succeeds() {
    let cx = cx();
    let absent = describe(vec![]);
    let delete =
        mock!(Client::delete_cluster).then_output(|| DeleteClusterOutput::builder().build());
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&absent, &delete]);
    cluster::delete(&client, &cx, "demo").await.expect("delete");
    assert_eq!(delete.num_calls(), 0);

    // Listed, then gone by the time DeleteCluster runs.
    let found = describe(vec![cluster_with("ACTIVE", &[], "enabled")]);
    let gone = mock!(Client::delete_cluster).then_error(|| {
        DeleteClusterError::ClusterNotFoundException(
            ClusterNotFoundException::builder()
                .meta(meta("ClusterNotFoundException", "Cluster not found."))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &gone]);
    cluster::delete(&client, &cx, "demo").await.expect("delete");
    assert_eq!(gone.num_calls(), 1);
}

#[tokio::test]
async fn a_cluster_that_still_holds_services_is_refused_naming_them() {
    use aws_sdk_ecs::operation::list_services::ListServicesOutput;
    use aws_sdk_ecs::types::error::ClusterContainsServicesException;
    use orchestrate_core::{Classify, ErrorKind};
    let cx = cx();
    let found = describe(vec![cluster_with("ACTIVE", &[], "enabled")]);
    let refused = mock!(Client::delete_cluster).then_error(|| {
        DeleteClusterError::ClusterContainsServicesException(
            ClusterContainsServicesException::builder()
                .meta(meta(
                    "ClusterContainsServicesException",
                    "The Cluster cannot be deleted while Services are active.",
                ))
                .build(),
        )
    });
    let listed = mock!(Client::list_services).then_output(|| {
        ListServicesOutput::builder()
            .service_arns(format!(
                "arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/someone-elses"
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&found, &refused, &listed]);
    let e = cluster::delete(&client, &cx, "demo")
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Refused);
    match &e {
        crate::Error::ClusterNotEmpty { cluster, services } => {
            assert_eq!(cluster, "demo");
            assert_eq!(services, &vec!["someone-elses".to_string()]);
        }
        other => panic!("not ClusterNotEmpty: {other:?}"),
    }
    assert!(e.to_string().contains("someone-elses"), "{e}");
}
