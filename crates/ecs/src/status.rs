//! Compact service status for `orchestrate status`: batched DescribeServices (10 per call,
//! ECS's limit), deployments, counts and the last events.

use aws_sdk_ecs::Client;
use orchestrate_aws::aws_error;

use crate::error::{Error, Result};
use crate::rollout::{DeploymentSummary, EventSummary, summarize};
use crate::util::{UNKNOWN, revision_label};
use orchestrate_aws::{AwsError, required};

/// DescribeServices takes at most this many names.
const BATCH: usize = 10;

/// Events kept per service.
const LAST_EVENTS: usize = 5;

/// One service as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, `MISSING` (never created / long gone), or
    /// [`UNKNOWN`] when AWS's answer has no status.
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
/// [`Error::DescribeServices`], also when AWS's answer lacks a service's name or a
/// deployment's id or task definition ([`orchestrate_aws::INCOMPLETE_ANSWER`]).
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
        for s in out.services() {
            found.push(service_status(s, cluster).map_err(Error::DescribeServices)?);
        }
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

/// One described service of `cluster` as `status` shows it.
fn service_status(
    s: &aws_sdk_ecs::types::Service,
    cluster: &str,
) -> std::result::Result<ServiceStatus, AwsError> {
    const ACTION: &str = "describe services of cluster";
    Ok(ServiceStatus {
        name: required(s.service_name(), ACTION, cluster, "services[].serviceName")?.to_string(),
        status: s.status().unwrap_or(UNKNOWN).to_string(),
        task_definition: s.task_definition().map(|t| revision_label(t).to_string()),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentSummary::from_sdk(d, ACTION, cluster))
            .collect::<std::result::Result<_, _>>()?,
        events: s
            .events()
            .iter()
            .filter_map(EventSummary::from_sdk)
            .take(LAST_EVENTS)
            .collect(),
    })
}
