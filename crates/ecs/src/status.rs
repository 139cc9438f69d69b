//! Compact service status for `orchestrate status`: batched DescribeServices (10 per call,
//! ECS's limit), deployments, counts and the last events.

use aws_sdk_ecs::Client;
use orchestrate_aws::aws_error;

use crate::error::{Error, Result};
use crate::rollout::{DeploymentSummary, EventSummary, summarize};
use crate::util::revision_label;

/// DescribeServices takes at most this many names.
const BATCH: usize = 10;

/// Events kept per service.
const LAST_EVENTS: usize = 5;

/// One service as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, or `MISSING` (never created / long gone).
    pub status: String,
    /// `family:revision` of the service's task definition.
    pub task_definition: Option<String>,
    /// Desired tasks.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// Pending tasks.
    pub pending_count: i32,
    /// Deployments, PRIMARY first.
    pub deployments: Vec<DeploymentSummary>,
    /// The last events, newest first.
    pub events: Vec<EventSummary>,
}

impl ServiceStatus {
    /// True when ACTIVE with one COMPLETED deployment running all its tasks.
    pub fn is_steady(&self) -> bool {
        self.status == "ACTIVE"
            && self.deployments.len() == 1
            && self.deployments.first().is_some_and(|d| {
                d.rollout_state.as_deref() != Some("FAILED")
                    && d.rollout_state.as_deref() != Some("IN_PROGRESS")
                    && d.running_count == d.desired_count
            })
    }

    /// The deployments in one line.
    pub fn deployments_line(&self) -> String {
        summarize(&self.deployments)
    }
}

/// Status of `names` in `cluster`, in the order given, batched 10 per DescribeServices.
/// Names ECS does not know are reported with status `MISSING`; a missing cluster makes every
/// service `MISSING`.
///
/// # Errors
/// [`Error::DescribeServices`].
pub async fn describe_services(
    client: &Client,
    cluster: &str,
    names: &[String],
) -> Result<Vec<ServiceStatus>> {
    let mut found = Vec::new();
    for chunk in names.chunks(BATCH) {
        let out = match client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cluster_not_found_exception()) =>
            {
                break;
            }
            Err(e) => {
                return Err(Error::DescribeServices(aws_error(
                    "describe services of cluster",
                    cluster,
                    e,
                )));
            }
        };
        found.extend(out.services().iter().map(|s| {
            ServiceStatus {
                name: s.service_name().unwrap_or_default().to_string(),
                status: s.status().unwrap_or_default().to_string(),
                task_definition: s.task_definition().map(|t| revision_label(t).to_string()),
                desired_count: s.desired_count(),
                running_count: s.running_count(),
                pending_count: s.pending_count(),
                deployments: s
                    .deployments()
                    .iter()
                    .map(DeploymentSummary::from_sdk)
                    .collect(),
                events: s
                    .events()
                    .iter()
                    .take(LAST_EVENTS)
                    .map(EventSummary::from_sdk)
                    .collect(),
            }
        }));
    }
    Ok(names
        .iter()
        .map(|name| {
            found
                .iter()
                .find(|s| &s.name == name)
                .cloned()
                .unwrap_or_else(|| ServiceStatus {
                    name: name.clone(),
                    status: "MISSING".into(),
                    task_definition: None,
                    desired_count: 0,
                    running_count: 0,
                    pending_count: 0,
                    deployments: Vec::new(),
                    events: Vec::new(),
                })
        })
        .collect())
}
