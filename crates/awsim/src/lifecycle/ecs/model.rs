//! ECS data model of the simulation: task definitions, tasks, deployments, services, events.

use serde_json::Value;

use crate::clock::SimMs;

/// What the simulation needs to know about a task definition.
#[derive(Debug, Clone, PartialEq)]
pub struct TdInfo {
    /// Full ARN (`arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REV`).
    pub arn: String,
    /// Family.
    pub family: String,
    /// Revision.
    pub revision: i64,
    /// Containers: (name, image, essential).
    pub containers: Vec<(String, String, bool)>,
    /// Task-level CPU units.
    pub cpu: Option<String>,
    /// Task-level memory.
    pub memory: Option<String>,
    /// `runtimePlatform.cpuArchitecture` (`X86_64` when absent, as on Fargate).
    pub cpu_architecture: String,
}

impl TdInfo {
    /// Builds from a `taskDefinition` JSON object (RegisterTaskDefinition / DescribeTaskDefinition).
    pub fn from_json(td: &Value) -> Option<Self> {
        let arn = td.get("taskDefinitionArn")?.as_str()?.to_string();
        let family = td.get("family")?.as_str()?.to_string();
        let revision = td.get("revision").and_then(Value::as_i64).unwrap_or(1);
        let containers = td
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        (
                            c.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("app")
                                .to_string(),
                            c.get("image")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            c.get("essential").and_then(Value::as_bool).unwrap_or(true),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let s = |k: &str| td.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            arn,
            family,
            revision,
            containers,
            cpu: s("cpu"),
            memory: s("memory"),
            cpu_architecture: td
                .get("runtimePlatform")
                .and_then(|p| p.get("cpuArchitecture"))
                .and_then(Value::as_str)
                .unwrap_or("X86_64")
                .to_string(),
        })
    }
}

/// Identifies a service: (cluster name, service name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SvcKey {
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub name: String,
}

/// How a task ends, decided when it is launched.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// True if the task never reaches RUNNING.
    pub fails_to_start: bool,
    /// Simulated ms RUNNING before it stops (None: runs until stopped).
    pub runs_for: Option<SimMs>,
    /// Whether it ever becomes HEALTHY.
    pub healthy: bool,
    /// stoppedReason when it stops by itself.
    pub stopped_reason: String,
    /// stopCode when it stops by itself.
    pub stop_code: &'static str,
    /// Essential container's exit code when it stops by itself.
    pub exit_code: Option<i32>,
    /// Essential container's reason when it stops by itself.
    pub container_reason: Option<String>,
    /// Whether a service event "(task x) failed container health checks." is emitted.
    pub health_event: bool,
}

/// One ECS task (service or one-off).
#[derive(Debug, Clone)]
pub struct Task {
    /// Task ARN.
    pub arn: String,
    /// Task id (last ARN segment).
    pub id: String,
    /// Cluster name.
    pub cluster: String,
    /// Cluster ARN.
    pub cluster_arn: String,
    /// Task definition.
    pub td: TdInfo,
    /// `service:NAME` or `family:FAMILY`.
    pub group: String,
    /// `ecs-svc/...` for service tasks, or the RunTask startedBy.
    pub started_by: Option<String>,
    /// Owning service.
    pub service: Option<SvcKey>,
    /// Owning deployment id.
    pub deployment: Option<String>,
    /// lastStatus.
    pub last_status: &'static str,
    /// desiredStatus.
    pub desired_status: &'static str,
    /// healthStatus.
    pub health: &'static str,
    /// Created.
    pub created_at: SimMs,
    /// When PROVISIONING turns PENDING.
    pub pending_at: SimMs,
    /// When it reached RUNNING.
    pub started_at: Option<SimMs>,
    /// When it was asked to stop.
    pub stopping_at: Option<SimMs>,
    /// When it stopped.
    pub stopped_at: Option<SimMs>,
    /// stoppedReason.
    pub stopped_reason: Option<String>,
    /// stopCode.
    pub stop_code: Option<&'static str>,
    /// Essential container exit code.
    pub exit_code: Option<i32>,
    /// Essential container reason.
    pub container_reason: Option<String>,
    /// How it will end by itself.
    pub outcome: Outcome,
    /// RunTask overrides (echoed).
    pub overrides: Value,
    /// Launch type.
    pub launch_type: String,
    /// Tags (echoed).
    pub tags: Value,
}

impl Task {
    /// Not stopped and not asked to stop.
    pub fn live(&self) -> bool {
        self.desired_status == "RUNNING" && self.last_status != "STOPPED"
    }

    /// lastStatus as seen at `now` (PROVISIONING becomes PENDING halfway through start-up).
    pub fn status_at(&self, now: SimMs) -> &'static str {
        if self.last_status == "PROVISIONING" && now >= self.pending_at {
            "PENDING"
        } else {
            self.last_status
        }
    }
}

/// One service deployment.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// `ecs-svc/<19 digits>`.
    pub id: String,
    /// Task definition it runs.
    pub td: TdInfo,
    /// desiredCount.
    pub desired: u32,
    /// failedTasks.
    pub failed_tasks: u32,
    /// rolloutState.
    pub rollout: &'static str,
    /// rolloutStateReason.
    pub reason: String,
    /// createdAt.
    pub created_at: SimMs,
    /// updatedAt.
    pub updated_at: SimMs,
    /// Whether the circuit breaker tripped on it (no more launches).
    pub tripped: bool,
    /// Whether it is a circuit-breaker rollback (never rolled back again).
    pub is_rollback: bool,
}

/// One service event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Event id.
    pub id: String,
    /// When.
    pub at: SimMs,
    /// Message, AWS wording.
    pub message: String,
}

/// Service fields that moto 5.2.1 drops on CreateService (`capacityProviderStrategy`,
/// `healthCheckGracePeriodSeconds`, `enableExecuteCommand`, `enableECSManagedTags`) or renders
/// next to a made-up `launchType: EC2`; awsim echoes what the client last set for each of them
/// (CreateService, overridden field by field by UpdateService), as AWS does. `propagateTags`,
/// `loadBalancers` and `serviceRegistries` moto keeps, but they are echoed the same way so that
/// the answer never depends on moto's version.
pub const ECHOED_FIELDS: [&str; 7] = [
    "capacityProviderStrategy",
    "healthCheckGracePeriodSeconds",
    "enableExecuteCommand",
    "enableECSManagedTags",
    "propagateTags",
    "loadBalancers",
    "serviceRegistries",
];

/// The [`ECHOED_FIELDS`] present in a CreateService / UpdateService request.
pub fn echoed_fields(req: &Value) -> serde_json::Map<String, Value> {
    ECHOED_FIELDS
        .iter()
        .filter_map(|k| req.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect()
}

/// One service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Key.
    pub key: SvcKey,
    /// Cluster ARN.
    pub cluster_arn: String,
    /// When it was created.
    pub created_at: SimMs,
    /// Deployments, PRIMARY first.
    pub deployments: Vec<Deployment>,
    /// Events, oldest first (rendered newest first).
    pub events: Vec<Event>,
    /// deploymentConfiguration as last given by the client.
    pub deployment_configuration: Value,
    /// Circuit breaker (enable, rollback).
    pub breaker: (bool, bool),
    /// networkConfiguration as last given by the client.
    pub network_configuration: Value,
    /// The [`ECHOED_FIELDS`] as last set by the client (CreateService, then UpdateService).
    pub echoed: serde_json::Map<String, Value>,
    /// Launch type.
    pub launch_type: String,
    /// Task definition of the last COMPLETED deployment (rollback target).
    pub last_completed: Option<TdInfo>,
    /// Deployment id whose drain is scheduled.
    pub drain_pending: Option<String>,
    /// Whether the steady-state event was emitted for the current desired count.
    pub steady: bool,
    /// Deleted through DeleteService.
    pub deleted: bool,
}

impl Service {
    /// The circuit breaker threshold for a desired count: 0.5 x desired, clamped to 3..=200.
    pub fn threshold(desired: u32) -> u32 {
        desired.div_ceil(2).clamp(3, 200)
    }
}
