//! orchestrate-alarms: the deployment's CloudWatch alarms and the SNS topic they notify.
//!
//! Owns, when the spec's `[alarms]` is active (enabled, and `sns_topic_arn` or `email` given):
//! - the metric alarms of [`AlarmsDesired::new`], each named `<deployment>-<what>`
//!   (deterministic, so found by name), each notifying the topic on ALARM and on OK;
//! - with `email`, the topic `<deployment>-alarms` ([`topic`]) and one e-mail subscription.
//!   A topic given by ARN is only referenced: never created, changed or deleted.
//!
//! # Guarantees
//! - One DescribeAlarms (by exact names, ≤ 100 per call) reads every alarm; PutMetricAlarm —
//!   an upsert — is called only for an alarm that is absent or differs in a field CloudWatch
//!   reports, so a converged re-run makes no mutating call ([`alarm::ensure_all`]).
//! - The topic's e-mail subscription is made once: an address already subscribed (confirmed
//!   or pending confirmation) is never subscribed again ([`topic::ensure`]).
//! - Deletes are idempotent: only alarms that exist are deleted (one DeleteAlarms), and only a
//!   topic carrying this deployment's `orchestrate:deployment` tag.
//!
//! # Errors
//! One [`Error`] enum; AWS failures carry an [`orchestrate_aws::AwsError`]. Throttling and 5xx
//! are the SDK's retry policy's job.

pub mod alarm;
mod error;
pub mod topic;

#[cfg(test)]
mod tests;

pub use alarm::{AlarmDesired, AlarmObserved, EnsureReport};
pub use aws_sdk_cloudwatch::Client as CloudWatchClient;
pub use aws_sdk_sns::Client as SnsClient;
pub use error::{Error, Result};
pub use topic::{TopicDesired, TopicObserved};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use orchestrate_core::spec::AlarmsSpec;
use orchestrate_core::{Context, Phase};

/// Component tag of the alarms.
pub const COMPONENT_ALARMS: &str = "cloudwatch/alarms";
/// Component tag of the topic orchestrate creates.
pub const COMPONENT_TOPIC: &str = "sns/alarms";

/// Bytes in a GiB (FreeStorageSpace is in bytes).
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Shown where a value is not known yet (`plan` before the resource exists).
pub const PENDING: &str = "(to be created)";

/// One ECS service watched for running fewer tasks than it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedService {
    /// Airflow component (`api-server`, `worker`, ...): the alarm is `<name>-<component>-running`.
    pub component: String,
    /// ECS service name.
    pub service: String,
    /// Fewest tasks it should run (the count, or the worker's autoscaling minimum).
    pub min_running: i32,
}

/// What the alarms watch: names and ARNs of earlier resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmInputs {
    /// The topic notified.
    pub topic_arn: String,
    /// The ALB's ARN, when it exists.
    pub load_balancer_arn: Option<String>,
    /// The api-server target group's ARN, when it exists.
    pub target_group_arn: Option<String>,
    /// ECS cluster name.
    pub cluster: String,
    /// The services whose running count is watched.
    pub services: Vec<WatchedService>,
    /// The worker service, when the worker's phase is converged.
    pub worker_service: Option<String>,
    /// RDS instance identifier.
    pub db_instance: String,
    /// Valkey's primary node (CacheClusterId).
    pub cache_node: String,
}

/// The `LoadBalancer` dimension of an ALB ARN: `app/<name>/<id>`.
pub fn load_balancer_dimension(arn: &str) -> String {
    arn.split_once(":loadbalancer/")
        .map_or_else(|| PENDING.to_string(), |(_, suffix)| suffix.to_string())
}

/// The `TargetGroup` dimension of a target group ARN: `targetgroup/<name>/<id>`.
pub fn target_group_dimension(arn: &str) -> String {
    arn.rsplit_once(':')
        .map(|(_, suffix)| suffix)
        .filter(|s| s.starts_with("targetgroup/"))
        .map_or_else(|| PENDING.to_string(), str::to_string)
}

/// The primary node of a single-shard replication group: member `-001`, the node ElastiCache
/// creates first and makes primary (the broker runs with Multi-AZ failover off).
pub fn primary_node(replication_group: &str) -> String {
    format!("{replication_group}-001")
}

/// Every alarm of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmsDesired {
    /// In a stable order: api-server, services, worker CPU, RDS, Valkey.
    pub alarms: Vec<AlarmDesired>,
}

struct Shape<'a> {
    what: String,
    description: String,
    namespace: &'a str,
    metric: &'a str,
    dimensions: Vec<(&'a str, String)>,
    statistic: Statistic,
    period: i32,
    evaluation_periods: i32,
    datapoints_to_alarm: i32,
    threshold: f64,
    comparison: ComparisonOperator,
    missing: &'a str,
}

impl AlarmsDesired {
    /// The alarms of `thresholds` over `inputs` (pure). Thresholds, periods and missing-data
    /// treatments are documented per alarm in docs/alarms.md.
    pub fn new(cx: &Context, thresholds: &AlarmsSpec, inputs: &AlarmInputs) -> Self {
        let lb = inputs
            .load_balancer_arn
            .as_deref()
            .map_or_else(|| PENDING.to_string(), load_balancer_dimension);
        let tg = inputs
            .target_group_arn
            .as_deref()
            .map_or_else(|| PENDING.to_string(), target_group_dimension);
        let mut shapes = vec![
            Shape {
                what: "api-5xx".into(),
                description: format!(
                    "api-server answered {} or more 5xx per minute in 3 of 5 minutes; also rolls back an api-server deployment",
                    thresholds.api_5xx_per_minute
                ),
                namespace: "AWS/ApplicationELB",
                metric: "HTTPCode_Target_5XX_Count",
                dimensions: vec![("LoadBalancer", lb.clone()), ("TargetGroup", tg.clone())],
                statistic: Statistic::Sum,
                period: 60,
                evaluation_periods: 5,
                datapoints_to_alarm: 3,
                threshold: f64::from(thresholds.api_5xx_per_minute),
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "notBreaching",
            },
            Shape {
                what: "api-unhealthy".into(),
                description: "an api-server target failed the ALB health check for 5 minutes"
                    .to_string(),
                namespace: "AWS/ApplicationELB",
                metric: "UnHealthyHostCount",
                dimensions: vec![("LoadBalancer", lb), ("TargetGroup", tg)],
                statistic: Statistic::Maximum,
                period: 60,
                evaluation_periods: 5,
                datapoints_to_alarm: 5,
                threshold: 1.0,
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "notBreaching",
            },
        ];
        for s in &inputs.services {
            shapes.push(Shape {
                what: format!("{}-running", s.component),
                description: format!(
                    "{} ran fewer than {} task(s) for 5 minutes",
                    s.service, s.min_running
                ),
                namespace: "ECS/ContainerInsights",
                metric: "RunningTaskCount",
                dimensions: vec![
                    ("ClusterName", inputs.cluster.clone()),
                    ("ServiceName", s.service.clone()),
                ],
                statistic: Statistic::Minimum,
                period: 60,
                evaluation_periods: 5,
                datapoints_to_alarm: 5,
                threshold: f64::from(s.min_running),
                comparison: ComparisonOperator::LessThanThreshold,
                missing: "missing",
            });
        }
        if let Some(worker) = &inputs.worker_service {
            shapes.push(Shape {
                what: "worker-cpu".into(),
                description: format!(
                    "workers averaged {}% CPU or more for 15 minutes: autoscaling is at its maximum or cannot keep up",
                    thresholds.worker_cpu_percent
                ),
                namespace: "AWS/ECS",
                metric: "CPUUtilization",
                dimensions: vec![
                    ("ClusterName", inputs.cluster.clone()),
                    ("ServiceName", worker.clone()),
                ],
                statistic: Statistic::Average,
                period: 300,
                evaluation_periods: 3,
                datapoints_to_alarm: 3,
                threshold: f64::from(thresholds.worker_cpu_percent),
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "missing",
            });
        }
        let db = ("DBInstanceIdentifier", inputs.db_instance.clone());
        shapes.extend([
            Shape {
                what: "db-cpu".into(),
                description: format!(
                    "the metadata database averaged {}% CPU or more for 15 minutes",
                    thresholds.rds_cpu_percent
                ),
                namespace: "AWS/RDS",
                metric: "CPUUtilization",
                dimensions: vec![db.clone()],
                statistic: Statistic::Average,
                period: 300,
                evaluation_periods: 3,
                datapoints_to_alarm: 3,
                threshold: f64::from(thresholds.rds_cpu_percent),
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "missing",
            },
            Shape {
                what: "db-free-storage".into(),
                description: format!(
                    "the metadata database has less than {} GiB of free storage",
                    thresholds.rds_free_storage_gb
                ),
                namespace: "AWS/RDS",
                metric: "FreeStorageSpace",
                dimensions: vec![db.clone()],
                statistic: Statistic::Minimum,
                period: 300,
                evaluation_periods: 1,
                datapoints_to_alarm: 1,
                threshold: f64::from(thresholds.rds_free_storage_gb) * GIB,
                comparison: ComparisonOperator::LessThanThreshold,
                missing: "missing",
            },
            Shape {
                what: "db-connections".into(),
                description: format!(
                    "the metadata database held {} or more connections for 10 minutes",
                    thresholds.rds_connections
                ),
                namespace: "AWS/RDS",
                metric: "DatabaseConnections",
                dimensions: vec![db],
                statistic: Statistic::Maximum,
                period: 300,
                evaluation_periods: 2,
                datapoints_to_alarm: 2,
                threshold: f64::from(thresholds.rds_connections),
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "missing",
            },
            Shape {
                what: "valkey-memory".into(),
                description: format!(
                    "the Valkey broker averaged {}% memory use or more for 15 minutes",
                    thresholds.valkey_memory_percent
                ),
                namespace: "AWS/ElastiCache",
                metric: "DatabaseMemoryUsagePercentage",
                dimensions: vec![("CacheClusterId", inputs.cache_node.clone())],
                statistic: Statistic::Average,
                period: 300,
                evaluation_periods: 3,
                datapoints_to_alarm: 3,
                threshold: f64::from(thresholds.valkey_memory_percent),
                comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
                missing: "missing",
            },
        ]);
        let alarms = shapes
            .into_iter()
            .map(|s| {
                let name = cx.names.prefixed(&s.what);
                let mut dimensions: Vec<(String, String)> = s
                    .dimensions
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                dimensions.sort();
                AlarmDesired {
                    tags: cx.tags(COMPONENT_ALARMS, Phase::ApiServer, &name),
                    name,
                    description: format!(
                        "orchestrate {}: {}",
                        cx.names.deployment(),
                        s.description
                    ),
                    namespace: s.namespace.to_string(),
                    metric_name: s.metric.to_string(),
                    dimensions,
                    statistic: s.statistic,
                    period: s.period,
                    evaluation_periods: s.evaluation_periods,
                    datapoints_to_alarm: s.datapoints_to_alarm,
                    threshold: s.threshold,
                    comparison: s.comparison,
                    treat_missing_data: s.missing.to_string(),
                    actions: vec![inputs.topic_arn.clone()],
                    phase: Phase::ApiServer,
                }
            })
            .collect();
        Self { alarms }
    }

    /// Every alarm's name.
    pub fn names(&self) -> Vec<String> {
        self.alarms.iter().map(|a| a.name.clone()).collect()
    }

    /// The name of the api-server's 5xx alarm: the ECS deployment alarm of the api-server.
    pub fn api_5xx_name(cx: &Context) -> String {
        cx.names.prefixed("api-5xx")
    }
}

/// Every alarm name orchestrate may create for a deployment (whatever the spec's phases):
/// what `teardown` looks for. `components` are the Airflow services' names.
pub fn all_names(cx: &Context, components: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = ["api-5xx", "api-unhealthy", "worker-cpu"]
        .iter()
        .map(|w| cx.names.prefixed(w))
        .collect();
    names.extend(
        components
            .iter()
            .map(|c| cx.names.prefixed(&format!("{c}-running"))),
    );
    names.extend(
        [
            "db-cpu",
            "db-free-storage",
            "db-connections",
            "valkey-memory",
        ]
        .iter()
        .map(|w| cx.names.prefixed(w)),
    );
    names
}

/// The findings of a plan for every alarm (pure): one [`alarm::diff`] each.
pub fn diff_all(
    desired: &AlarmsDesired,
    observed: &std::collections::BTreeMap<String, AlarmObserved>,
) -> Vec<orchestrate_core::Change> {
    desired
        .alarms
        .iter()
        .map(|a| alarm::diff(a, observed.get(&a.name)))
        .collect()
}
