//! The ECS `RegisterTaskDefinition` request, as serde types.
//!
//! Field names are those of AWS's published API model for `RegisterTaskDefinition`
//! (camelCase, e.g. `executionRoleArn`, `sizeInGiB`, `valueFrom`); a test walks the rendered
//! JSON against the shapes of that model. Optional fields are omitted when unset or empty, so
//! the JSON holds exactly what orchestrate decides and nothing AWS would default anyway.
//!
//! The same types deserialize a `DescribeTaskDefinition` answer converted to JSON: response-only
//! fields (`taskDefinitionArn`, `revision`, `status`, ...) are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole task definition: the body of one `RegisterTaskDefinition` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    /// Family: the component's service name (`<deployment>-<component>`).
    pub family: String,
    /// Role the containers' code runs as (remote logging, DAG hooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Role ECS itself uses to pull images, read secrets and write container logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Always `awsvpc` (the only mode Fargate offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Always `["FARGATE"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_compatibilities: Vec<String>,
    /// Task CPU units as a string (`"1024"`), as the API wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task memory in MiB as a string (`"2048"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// CPU architecture and OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    /// Only when more than Fargate's default 21 GiB is wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Task volumes (the git-sync `dags` volume).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// The containers: the Airflow one first, then any sidecar.
    pub container_definitions: Vec<ContainerDefinition>,
    /// Tags of the task definition (`key`/`value`, lower case as ECS spells them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `runtimePlatform`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    /// `ARM64` or `X86_64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    /// `LINUX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_family: Option<String>,
}

/// `ephemeralStorage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralStorage {
    /// Size in GiB (21 to 200).
    #[serde(rename = "sizeInGiB")]
    pub size_in_gib: u32,
}

/// A task volume; with only a name it is a Fargate bind mount on the task's ephemeral storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Name referenced by `mountPoints[].sourceVolume`.
    pub name: String,
}

/// One `{key, value}` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// One container of the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Container name (`scheduler`, `git-sync`, ...).
    pub name: String,
    /// Image URI.
    pub image: String,
    /// Whether the task stops when this container stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Arguments passed to the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Plain environment variables, sorted by name. Never a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValuePair>,
    /// Secrets injected by ECS from Secrets Manager, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Ports the container listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Container health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Where stdout/stderr go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// Seconds between SIGTERM and SIGKILL (Fargate: at most 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
    /// Volume mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPoint>,
    /// Containers that must reach a condition before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ContainerDependency>,
    /// User (`uid[:gid]`); absent: the image's own user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Read-only root file system (always `false`: Airflow writes logs and caches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_root_filesystem: Option<bool>,
    /// Linux options (an init process that reaps zombies and forwards signals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
}

/// One `{name, value}` environment variable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyValuePair {
    /// Variable name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One `{name, valueFrom}` secret: ECS reads `valueFrom` (an ARN, optionally with
/// `:json-key::`) at task start and sets variable `name` to the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Variable name inside the container.
    pub name: String,
    /// Secrets Manager ARN (or ARN plus `:json-key::`).
    pub value_from: String,
}

/// One port the container listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// Port inside the container (in `awsvpc` the host port is the same).
    pub container_port: u16,
    /// `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Name of the mapping (lower case letters, digits, hyphens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `healthCheck`: ECS runs `command` inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD-SHELL", "<shell command>"]`.
    pub command: Vec<String>,
    /// Seconds between checks (5 to 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    /// Seconds a check may take (2 to 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Consecutive failures before the container is unhealthy (1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Seconds during which failures do not count (0 to 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<u32>,
}

/// `logConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// `awslogs`.
    pub log_driver: String,
    /// `awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// One volume mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// Task volume name.
    pub source_volume: String,
    /// Where it appears in the container.
    pub container_path: String,
    /// Read-only mount (always written out, `false` for the DAG volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// One start-up dependency on another container of the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDependency {
    /// The container waited for.
    pub container_name: String,
    /// `START`, `COMPLETE`, `SUCCESS` or `HEALTHY`.
    pub condition: String,
}

/// `linuxParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    /// Run an init process (`docker run --init`) as PID 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_process_enabled: Option<bool>,
}

impl TaskDefinition {
    /// The container called `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerDefinition> {
        self.container_definitions.iter().find(|c| c.name == name)
    }
}

impl ContainerDefinition {
    /// The value of environment variable `name`.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|kv| kv.name == name)
            .map(|kv| kv.value.as_str())
    }

    /// The `valueFrom` of secret `name`.
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value_from.as_str())
    }
}
