//! The deployment's ECS cluster: Fargate and Fargate Spot capacity providers, FARGATE as the
//! default strategy, Container Insights on.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster, ClusterField, ClusterSetting, ClusterSettingName,
};
use orchestrate_aws::{AwsError, aws_error, required, retry_eventual};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Tags};

use crate::error::{Error, Result};
use crate::util::{EVENTUAL_ATTEMPTS, Eventual, ROLE_NOT_READY, ecs_tags, tag_map};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "ecs/cluster";

/// Component tag of the cluster.
pub const COMPONENT: &str = "ecs/cluster";

/// How long a cluster may stay PROVISIONING after CreateCluster.
const ACTIVE_WITHIN: Duration = Duration::from_secs(120);

/// One entry of a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StrategyItem {
    /// `FARGATE` or `FARGATE_SPOT`.
    pub provider: String,
    /// Tasks placed on this provider first.
    pub base: i32,
    /// Share of the tasks above the bases.
    pub weight: i32,
}

impl StrategyItem {
    /// A strategy item.
    pub fn new(provider: &str, base: i32, weight: i32) -> Self {
        Self {
            provider: provider.to_string(),
            base,
            weight,
        }
    }

    pub(crate) fn to_sdk(&self) -> Option<CapacityProviderStrategyItem> {
        CapacityProviderStrategyItem::builder()
            .capacity_provider(&self.provider)
            .base(self.base)
            .weight(self.weight)
            .build()
            .ok()
    }

    pub(crate) fn from_sdk(item: &CapacityProviderStrategyItem) -> Self {
        Self::new(item.capacity_provider(), item.base(), item.weight())
    }
}

/// `items` sorted, for order-insensitive comparison.
pub(crate) fn sorted(items: &[StrategyItem]) -> Vec<StrategyItem> {
    let mut v = items.to_vec();
    v.sort();
    v
}

/// `items` as shown in a plan: `FARGATE(base 1, weight 0), FARGATE_SPOT(base 0, weight 1)`.
pub(crate) fn show_strategy(items: &[StrategyItem]) -> String {
    if items.is_empty() {
        return "(launch type)".into();
    }
    sorted(items)
        .iter()
        .map(|i| format!("{}(base {}, weight {})", i.provider, i.base, i.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the cluster should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDesired {
    /// Cluster name ([`orchestrate_core::Names::cluster`]).
    pub name: String,
    /// Capacity providers associated with the cluster.
    pub capacity_providers: Vec<String>,
    /// Default strategy for services and tasks that name none.
    pub default_strategy: Vec<StrategyItem>,
    /// `containerInsights` setting value.
    pub container_insights: String,
    /// Tags sent with CreateCluster.
    pub tags: Tags,
}

impl ClusterDesired {
    /// The deployment's cluster (pure).
    pub fn new(cx: &Context) -> Self {
        let name = cx.names.cluster();
        Self {
            capacity_providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()],
            default_strategy: vec![StrategyItem::new("FARGATE", 0, 1)],
            container_insights: "enabled".into(),
            tags: cx.tags(COMPONENT, Phase::ApiServer, &name),
            name,
        }
    }
}

/// What AWS reports about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterObserved {
    /// Cluster ARN.
    pub arn: String,
    /// Cluster name.
    pub name: String,
    /// `ACTIVE`, `PROVISIONING`, `DEPROVISIONING`, `FAILED`; `None` when AWS's answer has
    /// no status (treated as not yet active).
    pub status: Option<String>,
    /// Associated capacity providers.
    pub capacity_providers: Vec<String>,
    /// Default capacity provider strategy.
    pub default_strategy: Vec<StrategyItem>,
    /// `containerInsights` value, if set.
    pub container_insights: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ClusterObserved {
    /// Reads a described cluster; `action` and `name` name the call in the error.
    ///
    /// # Errors
    /// [`AwsError::missing`] when the cluster has no ARN or no name.
    fn from_sdk(c: &Cluster, action: &str, name: &str) -> std::result::Result<Self, AwsError> {
        Ok(Self {
            arn: required(c.cluster_arn(), action, name, "clusterArn")?.to_string(),
            name: required(c.cluster_name(), action, name, "clusterName")?.to_string(),
            status: c.status().map(str::to_string),
            capacity_providers: c.capacity_providers().to_vec(),
            default_strategy: c
                .default_capacity_provider_strategy()
                .iter()
                .map(StrategyItem::from_sdk)
                .collect(),
            container_insights: c
                .settings()
                .iter()
                .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
                .and_then(|s| s.value())
                .map(str::to_string),
            tags: tag_map(c.tags()),
        })
    }

    /// True when the cluster is ACTIVE.
    pub fn is_active(&self) -> bool {
        self.status.as_deref() == Some("ACTIVE")
    }
}

/// What later resources need of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOutputs {
    /// Cluster name.
    pub name: String,
    /// Cluster ARN.
    pub arn: String,
}

/// The cluster named `name`; `Ok(None)` when DescribeClusters reports it `MISSING` or
/// `INACTIVE` (a deleted cluster stays visible as INACTIVE for a while).
///
/// # Errors
/// [`Error::DescribeCluster`], also when AWS's answer lacks the cluster's ARN or name
/// ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
pub async fn find(client: &Client, name: &str) -> Result<Option<ClusterObserved>> {
    let out = client
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Settings)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(|e| Error::DescribeCluster(aws_error("describe cluster", name, e)))?;
    out.clusters()
        .iter()
        .find(|c| c.cluster_name() == Some(name) && c.status() != Some("INACTIVE"))
        .map(|c| ClusterObserved::from_sdk(c, "describe cluster", name))
        .transpose()
        .map_err(Error::DescribeCluster)
}

fn providers_differ(desired: &ClusterDesired, observed: &ClusterObserved) -> bool {
    let mut want = desired.capacity_providers.clone();
    let mut have = observed.capacity_providers.clone();
    want.sort();
    have.sort();
    want != have || sorted(&desired.default_strategy) != sorted(&observed.default_strategy)
}

/// Container Insights is satisfied by `enabled` and by the superset `enhanced`, which a user
/// may have chosen by hand; it is never downgraded.
fn insights_differ(desired: &ClusterDesired, observed: &ClusterObserved) -> bool {
    match observed.container_insights.as_deref() {
        Some(v) if v == desired.container_insights => false,
        Some("enhanced") => desired.container_insights != "enabled",
        _ => true,
    }
}

/// What [`ensure`] would do (pure).
pub fn diff(desired: &ClusterDesired, observed: Option<&ClusterObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let mut fields = Vec::new();
            if providers_differ(desired, o) {
                let mut have = o.capacity_providers.clone();
                have.sort();
                fields.push(FieldChange::new(
                    "capacityProviders",
                    Some(format!(
                        "{} / default {}",
                        have.join(", "),
                        show_strategy(&o.default_strategy)
                    )),
                    Some(format!(
                        "{} / default {}",
                        desired.capacity_providers.join(", "),
                        show_strategy(&desired.default_strategy)
                    )),
                ));
            }
            if insights_differ(desired, o) {
                fields.push(FieldChange::new(
                    "containerInsights",
                    o.container_insights.clone(),
                    Some(desired.container_insights.clone()),
                ));
            }
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::ApiServer, KIND, &desired.name, action)
}

/// The plan for the cluster.
///
/// # Errors
/// [`Error::DescribeCluster`].
pub async fn plan_cluster(client: &Client, desired: &ClusterDesired) -> Result<Change> {
    Ok(diff(desired, find(client, &desired.name).await?.as_ref()))
}

fn strategy_sdk(items: &[StrategyItem]) -> Vec<CapacityProviderStrategyItem> {
    items.iter().filter_map(StrategyItem::to_sdk).collect()
}

/// Creates the cluster with its tags, providers and settings when absent (CreateCluster of an
/// existing ACTIVE name returns that cluster, so a lost response is harmless), then puts the
/// capacity providers and the Container Insights setting only when they differ. Waits (at
/// most 120 s, scaled) for a PROVISIONING cluster to become ACTIVE.
///
/// # Errors
/// [`Error::DescribeCluster`], [`Error::CreateCluster`], [`Error::PutCapacityProviders`],
/// [`Error::UpdateClusterSettings`], [`Error::Wait`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &ClusterDesired,
) -> Result<ClusterOutputs> {
    let observed = match find(client, &desired.name).await? {
        Some(observed) => observed,
        None => {
            cx.reporter.applying(KIND, &desired.name, "create");
            let call = client
                .create_cluster()
                .cluster_name(&desired.name)
                .set_capacity_providers(Some(desired.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy_sdk(
                    &desired.default_strategy,
                )))
                .settings(
                    ClusterSetting::builder()
                        .name(ClusterSettingName::ContainerInsights)
                        .value(&desired.container_insights)
                        .build(),
                )
                .set_tags(Some(ecs_tags(&desired.tags)));
            // A brand-new account has no ECS service-linked role until the first
            // CreateCluster makes one; the capacity providers need it a moment later.
            let out = retry_eventual(cx.timing, &[ROLE_NOT_READY], EVENTUAL_ATTEMPTS, || {
                let call = call.clone();
                async move { call.send().await.map_err(Eventual) }
            })
            .await
            .map_err(|e| Error::CreateCluster(aws_error("create cluster", &desired.name, e.0)))?;
            let created = out
                .cluster()
                .map(|c| ClusterObserved::from_sdk(c, "create cluster", &desired.name))
                .transpose()
                .map_err(Error::CreateCluster)?;
            match created {
                Some(c) if c.is_active() => c,
                _ => {
                    wait_active(client, cx, &desired.name).await?;
                    find(client, &desired.name).await?.ok_or_else(|| {
                        Error::DescribeCluster(AwsError::new(
                            "describe cluster",
                            desired.name.clone(),
                            "MISSING",
                            "the cluster was created but is not listed",
                        ))
                    })?
                }
            }
        }
    };
    if providers_differ(desired, &observed) {
        cx.reporter.applying(KIND, &desired.name, "update");
        client
            .put_cluster_capacity_providers()
            .cluster(&desired.name)
            .set_capacity_providers(Some(desired.capacity_providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy_sdk(&desired.default_strategy)))
            .send()
            .await
            .map_err(|e| {
                Error::PutCapacityProviders(aws_error(
                    "put capacity providers of cluster",
                    &desired.name,
                    e,
                ))
            })?;
    }
    if insights_differ(desired, &observed) {
        cx.reporter.applying(KIND, &desired.name, "update");
        client
            .update_cluster_settings()
            .cluster(&desired.name)
            .settings(
                ClusterSetting::builder()
                    .name(ClusterSettingName::ContainerInsights)
                    .value(&desired.container_insights)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                Error::UpdateClusterSettings(aws_error(
                    "update settings of cluster",
                    &desired.name,
                    e,
                ))
            })?;
    }
    cx.reporter.ready(KIND, &desired.name);
    Ok(ClusterOutputs {
        name: observed.name,
        arn: observed.arn,
    })
}

/// Ready when the cluster is ACTIVE; failed when FAILED; pending otherwise (absent included:
/// right after CreateCluster it may not be listed yet).
///
/// # Errors
/// [`Error::DescribeCluster`].
pub async fn ready(client: &Client, name: &str) -> Result<Readiness> {
    Ok(match find(client, name).await? {
        None => Readiness::pending("not yet listed"),
        Some(c) if c.is_active() => Readiness::Ready,
        Some(c) if c.status.as_deref() == Some("FAILED") => Readiness::Failed {
            reason: format!("cluster {name} is FAILED"),
        },
        Some(c) => Readiness::pending(c.status.unwrap_or_else(|| "status unknown".into())),
    })
}

async fn wait_active(client: &Client, cx: &Context, name: &str) -> Result<()> {
    cx.timing
        .poller(ACTIVE_WITHIN)
        .wait(
            "cluster",
            || ready(client, name),
            |s| cx.reporter.waiting(KIND, name, s),
        )
        .await
        .map_err(|e| Error::Wait {
            what: format!("cluster {name}"),
            source: Box::new(e),
        })
}

/// Deletes the cluster; absent is success. Its services must be gone first (see
/// [`crate::service::delete`]); ECS answers `ClusterContainsServicesException` otherwise.
///
/// # Errors
/// [`Error::DeleteCluster`].
pub async fn delete(client: &Client, cx: &Context, name: &str) -> Result<()> {
    if find(client, name).await?.is_none() {
        return Ok(());
    }
    cx.reporter.applying(KIND, name, "delete");
    match client.delete_cluster().cluster(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cluster_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cluster_contains_services_exception()) =>
        {
            let services = match client.list_services().cluster(name).send().await {
                Ok(out) => out
                    .service_arns()
                    .iter()
                    .map(|arn| crate::util::arn_tail(arn).to_string())
                    .collect(),
                Err(_) => return Err(Error::DeleteCluster(aws_error("delete cluster", name, e))),
            };
            Err(Error::ClusterNotEmpty {
                cluster: name.to_string(),
                services,
            })
        }
        Err(e) => Err(Error::DeleteCluster(aws_error("delete cluster", name, e))),
    }
}
