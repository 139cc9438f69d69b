//! The RegisterTaskDefinition request as JSON (ECS's own camelCase shape) <-> SDK types.
//!
//! A mirror of the subset of the request this project renders, with `deny_unknown_fields`
//! everywhere: a key this module does not know is an error, never silently dropped. The same
//! mirror serialises a described revision back to JSON, so "rendered == active" is JSON
//! equality after [`normalize`]. The conversions themselves are in `convert`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::convert::to_sdk;
use crate::error::{Error, Result};

/// `null` or absent -> the type's default (an empty list, an empty map).
fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `"1024"` or `1024` -> `"1024"` (ECS takes task cpu/memory as strings).
fn string_or_number<'de, D>(d: D) -> std::result::Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

macro_rules! mirror {
    ($(#[$meta:meta])* struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub(crate) struct $name { $($body)* }
    };
}

mirror! {
    /// The request.
    struct TaskDefJson {
        pub family: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub task_role_arn: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub execution_role_arn: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub network_mode: Option<String>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub requires_compatibilities: Vec<String>,
        #[serde(default, deserialize_with = "string_or_number", skip_serializing_if = "Option::is_none")]
        pub cpu: Option<String>,
        #[serde(default, deserialize_with = "string_or_number", skip_serializing_if = "Option::is_none")]
        pub memory: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub runtime_platform: Option<RuntimePlatformJson>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ephemeral_storage: Option<EphemeralStorageJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub volumes: Vec<VolumeJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub container_definitions: Vec<ContainerJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub tags: Vec<TagJson>,
    }
}

mirror! {
    /// `runtimePlatform`.
    struct RuntimePlatformJson {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cpu_architecture: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub operating_system_family: Option<String>,
    }
}

/// `ephemeralStorage` (its key is spelled `sizeInGiB`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EphemeralStorageJson {
    #[serde(rename = "sizeInGiB")]
    pub size_in_gib: i32,
}

mirror! {
    /// A task volume (Fargate bind mount: a name only).
    struct VolumeJson {
        pub name: String,
    }
}

mirror! {
    /// `tags[]`.
    struct TagJson {
        pub key: String,
        #[serde(default)]
        pub value: String,
    }
}

mirror! {
    /// `containerDefinitions[]`.
    struct ContainerJson {
        pub name: String,
        pub image: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub essential: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cpu: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub memory: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub memory_reservation: Option<i32>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub entry_point: Vec<String>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub command: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub working_directory: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user: Option<String>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub environment: Vec<EnvJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub secrets: Vec<SecretJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub port_mappings: Vec<PortMappingJson>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub health_check: Option<HealthCheckJson>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub log_configuration: Option<LogConfigurationJson>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub start_timeout: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stop_timeout: Option<i32>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub mount_points: Vec<MountPointJson>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub depends_on: Vec<DependsOnJson>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub readonly_root_filesystem: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub linux_parameters: Option<LinuxParametersJson>,
    }
}

mirror! {
    /// `environment[]`.
    struct EnvJson {
        pub name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub value: Option<String>,
    }
}

mirror! {
    /// `secrets[]` and `logConfiguration.secretOptions[]`.
    struct SecretJson {
        pub name: String,
        pub value_from: String,
    }
}

mirror! {
    /// `portMappings[]`.
    struct PortMappingJson {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub container_port: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub host_port: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub protocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub app_protocol: Option<String>,
    }
}

mirror! {
    /// `healthCheck`.
    struct HealthCheckJson {
        #[serde(default, deserialize_with = "nullable")]
        pub command: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub interval: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timeout: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub retries: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub start_period: Option<i32>,
    }
}

mirror! {
    /// `logConfiguration`.
    struct LogConfigurationJson {
        pub log_driver: String,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
        pub options: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
        pub secret_options: Vec<SecretJson>,
    }
}

mirror! {
    /// `mountPoints[]`.
    struct MountPointJson {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source_volume: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub container_path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub read_only: Option<bool>,
    }
}

mirror! {
    /// `dependsOn[]`.
    struct DependsOnJson {
        pub container_name: String,
        pub condition: String,
    }
}

mirror! {
    /// `linuxParameters` (only `initProcessEnabled` is rendered).
    struct LinuxParametersJson {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub init_process_enabled: Option<bool>,
    }
}

pub(crate) fn invalid(family: &str, message: impl Into<String>) -> Error {
    Error::InvalidTaskDefinition {
        family: family.to_string(),
        message: message.into(),
    }
}

/// Reads the rendered JSON into the mirror (unknown keys and wrong types are errors).
pub(crate) fn read(rendered: &Value) -> Result<TaskDefJson> {
    let family = rendered
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or("(unknown)")
        .to_string();
    serde_json::from_value(rendered.clone()).map_err(|e| invalid(&family, e.to_string()))
}

/// Defaults ECS fills in on a described revision, so that a rendered request that leaves
/// them out compares equal.
const HEALTH_CHECK_INTERVAL: i32 = 30;
const HEALTH_CHECK_TIMEOUT: i32 = 5;
const HEALTH_CHECK_RETRIES: i32 = 3;

/// Canonical form of a task definition for comparison: lists whose order does not matter
/// sorted (environment and secrets by name, tags by key, containers by name, ...), AWS's
/// defaults made explicit (`essential` true, `hostPort` = `containerPort` under awsvpc,
/// protocol `tcp`, health-check interval 30 / timeout 5 / retries 3), zero/false values ECS
/// reports for unset fields dropped (container `cpu` 0, `readOnly` false,
/// `initProcessEnabled` false), empty lists and nulls dropped, cpu/memory as strings.
pub(crate) fn canonical(mut td: TaskDefJson) -> TaskDefJson {
    td.requires_compatibilities.sort();
    td.requires_compatibilities.dedup();
    td.tags.sort_by(|a, b| a.key.cmp(&b.key));
    td.volumes.sort_by(|a, b| a.name.cmp(&b.name));
    td.container_definitions.sort_by(|a, b| a.name.cmp(&b.name));
    let awsvpc = td.network_mode.as_deref() == Some("awsvpc");
    for c in &mut td.container_definitions {
        c.essential.get_or_insert(true);
        if c.cpu == Some(0) {
            c.cpu = None;
        }
        c.environment.sort_by(|a, b| a.name.cmp(&b.name));
        c.secrets.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut c.port_mappings {
            if awsvpc && p.host_port.is_none() {
                p.host_port = p.container_port;
            }
            p.protocol.get_or_insert_with(|| "tcp".to_string());
        }
        c.port_mappings.sort_by_key(|p| p.container_port);
        if let Some(h) = &mut c.health_check {
            h.interval.get_or_insert(HEALTH_CHECK_INTERVAL);
            h.timeout.get_or_insert(HEALTH_CHECK_TIMEOUT);
            h.retries.get_or_insert(HEALTH_CHECK_RETRIES);
        }
        if let Some(l) = &mut c.log_configuration {
            l.secret_options.sort_by(|a, b| a.name.cmp(&b.name));
        }
        for m in &mut c.mount_points {
            if m.read_only == Some(false) {
                m.read_only = None;
            }
        }
        c.mount_points
            .sort_by(|a, b| a.container_path.cmp(&b.container_path));
        c.depends_on
            .sort_by(|a, b| a.container_name.cmp(&b.container_name));
        if let Some(l) = &mut c.linux_parameters
            && l.init_process_enabled == Some(false)
        {
            l.init_process_enabled = None;
        }
        if c.linux_parameters == Some(LinuxParametersJson::default()) {
            c.linux_parameters = None;
        }
    }
    td
}

/// The canonical JSON of a rendered (or described) task definition; see [`canonical`] for
/// what is normalised.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`] when `value` is not a request this module knows.
pub fn normalize(value: &Value) -> Result<Value> {
    let td = canonical(read(value)?);
    // Validate enum values too, so that a normalised value is always registrable.
    to_sdk(&td)?;
    serde_json::to_value(td).map_err(|e| invalid("(unknown)", e.to_string()))
}
