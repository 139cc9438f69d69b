//! Mirror <-> SDK types: JSON -> RegisterTaskDefinition, described TaskDefinition -> JSON.

use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, CpuArchitecture, EphemeralStorage, HealthCheck, KeyValuePair,
    LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily, PortMapping,
    RuntimePlatform, Secret, Tag, TaskDefinition, TransportProtocol, Volume,
};
use serde_json::Value;

use super::json::{
    ContainerJson, DependsOnJson, EnvJson, EphemeralStorageJson, HealthCheckJson,
    LinuxParametersJson, LogConfigurationJson, MountPointJson, PortMappingJson,
    RuntimePlatformJson, SecretJson, TagJson, TaskDefJson, VolumeJson, invalid, read,
};
use crate::error::Result;

/// A RegisterTaskDefinition request in SDK types: the definition's fields plus its tags.
/// Made only by [`parse`], which requires a family.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinitionRequest {
    /// Family, roles, sizes, volumes and containers (no ARN, no revision).
    pub definition: TaskDefinition,
    /// Tags sent with the registration.
    pub tags: Vec<Tag>,
    /// The family (the rendered request's, also in `definition`).
    family: String,
}

impl TaskDefinitionRequest {
    /// The family.
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The RegisterTaskDefinition call for this request.
    pub fn register(
        &self,
        client: &aws_sdk_ecs::Client,
    ) -> aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder
    {
        let d = &self.definition;
        client
            .register_task_definition()
            .set_family(d.family.clone())
            .set_task_role_arn(d.task_role_arn.clone())
            .set_execution_role_arn(d.execution_role_arn.clone())
            .set_network_mode(d.network_mode.clone())
            .set_requires_compatibilities(d.requires_compatibilities.clone())
            .set_cpu(d.cpu.clone())
            .set_memory(d.memory.clone())
            .set_runtime_platform(d.runtime_platform.clone())
            .set_ephemeral_storage(d.ephemeral_storage.clone())
            .set_volumes(d.volumes.clone())
            .set_container_definitions(d.container_definitions.clone())
            .set_tags((!self.tags.is_empty()).then(|| self.tags.clone()))
    }
}

/// `value` as the SDK enum `T`, or an error naming `field` and the allowed values.
fn known<T: for<'a> From<&'a str>>(
    family: &str,
    field: &str,
    value: &str,
    allowed: &[&str],
) -> Result<T> {
    if allowed.contains(&value) {
        Ok(T::from(value))
    } else {
        Err(invalid(
            family,
            format!("{field}: unknown value {value:?}; expected one of {allowed:?}"),
        ))
    }
}

fn nonempty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Rendered JSON -> SDK types.
///
/// # Errors
/// [`Error::InvalidTaskDefinition`] for an unknown key, a wrong type, an unknown enum value or
/// a missing required field.
pub fn parse(rendered: &Value) -> Result<TaskDefinitionRequest> {
    to_sdk(&read(rendered)?)
}

pub(crate) fn to_sdk(td: &TaskDefJson) -> Result<TaskDefinitionRequest> {
    let f = td.family.as_str();
    let mut compat = Vec::new();
    for c in &td.requires_compatibilities {
        compat.push(known::<Compatibility>(
            f,
            "requiresCompatibilities",
            c,
            Compatibility::values(),
        )?);
    }
    let runtime_platform = match &td.runtime_platform {
        None => None,
        Some(rp) => Some(
            RuntimePlatform::builder()
                .set_cpu_architecture(
                    rp.cpu_architecture
                        .as_deref()
                        .map(|a| {
                            known::<CpuArchitecture>(
                                f,
                                "runtimePlatform.cpuArchitecture",
                                a,
                                CpuArchitecture::values(),
                            )
                        })
                        .transpose()?,
                )
                .set_operating_system_family(
                    rp.operating_system_family
                        .as_deref()
                        .map(|o| {
                            known::<OsFamily>(
                                f,
                                "runtimePlatform.operatingSystemFamily",
                                o,
                                OsFamily::values(),
                            )
                        })
                        .transpose()?,
                )
                .build(),
        ),
    };
    let mut containers = Vec::new();
    for c in &td.container_definitions {
        containers.push(container_to_sdk(f, c)?);
    }
    let definition = TaskDefinition::builder()
        .family(f)
        .set_task_role_arn(td.task_role_arn.clone())
        .set_execution_role_arn(td.execution_role_arn.clone())
        .set_network_mode(
            td.network_mode
                .as_deref()
                .map(|m| known::<NetworkMode>(f, "networkMode", m, NetworkMode::values()))
                .transpose()?,
        )
        .set_requires_compatibilities(nonempty(&compat))
        .set_cpu(td.cpu.clone())
        .set_memory(td.memory.clone())
        .set_runtime_platform(runtime_platform)
        .set_ephemeral_storage(td.ephemeral_storage.as_ref().map(|e| {
            EphemeralStorage::builder()
                .size_in_gib(e.size_in_gib)
                .build()
        }))
        .set_volumes(nonempty(
            &td.volumes
                .iter()
                .map(|v| Volume::builder().name(&v.name).build())
                .collect::<Vec<_>>(),
        ))
        .set_container_definitions(nonempty(&containers))
        .build();
    let tags = td
        .tags
        .iter()
        .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
        .collect();
    Ok(TaskDefinitionRequest {
        definition,
        tags,
        family: td.family.clone(),
    })
}

fn secret_to_sdk(f: &str, field: &str, s: &SecretJson) -> Result<Secret> {
    Secret::builder()
        .name(&s.name)
        .value_from(&s.value_from)
        .build()
        .map_err(|e| invalid(f, format!("{field}: {e}")))
}

fn container_to_sdk(f: &str, c: &ContainerJson) -> Result<ContainerDefinition> {
    let at = |field: &str| format!("containerDefinitions[{}].{field}", c.name);
    let mut secrets = Vec::new();
    for s in &c.secrets {
        secrets.push(secret_to_sdk(f, &at("secrets"), s)?);
    }
    let mut ports = Vec::new();
    for p in &c.port_mappings {
        ports.push(
            PortMapping::builder()
                .set_container_port(p.container_port)
                .set_host_port(p.host_port)
                .set_protocol(
                    p.protocol
                        .as_deref()
                        .map(|v| {
                            known::<TransportProtocol>(
                                f,
                                &at("portMappings.protocol"),
                                v,
                                TransportProtocol::values(),
                            )
                        })
                        .transpose()?,
                )
                .set_name(p.name.clone())
                .set_app_protocol(
                    p.app_protocol
                        .as_deref()
                        .map(|v| {
                            known::<ApplicationProtocol>(
                                f,
                                &at("portMappings.appProtocol"),
                                v,
                                ApplicationProtocol::values(),
                            )
                        })
                        .transpose()?,
                )
                .build(),
        );
    }
    let health_check = match &c.health_check {
        None => None,
        Some(h) => Some(
            HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .set_interval(h.interval)
                .set_timeout(h.timeout)
                .set_retries(h.retries)
                .set_start_period(h.start_period)
                .build()
                .map_err(|e| invalid(f, format!("{}: {e}", at("healthCheck"))))?,
        ),
    };
    let log_configuration = match &c.log_configuration {
        None => None,
        Some(l) => {
            let mut secret_options = Vec::new();
            for s in &l.secret_options {
                secret_options.push(secret_to_sdk(f, &at("logConfiguration.secretOptions"), s)?);
            }
            Some(
                LogConfiguration::builder()
                    .log_driver(known::<LogDriver>(
                        f,
                        &at("logConfiguration.logDriver"),
                        &l.log_driver,
                        LogDriver::values(),
                    )?)
                    .set_options((!l.options.is_empty()).then(|| {
                        l.options
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    }))
                    .set_secret_options(nonempty(&secret_options))
                    .build()
                    .map_err(|e| invalid(f, format!("{}: {e}", at("logConfiguration"))))?,
            )
        }
    };
    let mut depends_on = Vec::new();
    for d in &c.depends_on {
        depends_on.push(
            ContainerDependency::builder()
                .container_name(&d.container_name)
                .condition(known::<ContainerCondition>(
                    f,
                    &at("dependsOn.condition"),
                    &d.condition,
                    ContainerCondition::values(),
                )?)
                .build()
                .map_err(|e| invalid(f, format!("{}: {e}", at("dependsOn"))))?,
        );
    }
    let environment: Vec<KeyValuePair> = c
        .environment
        .iter()
        .map(|e| {
            KeyValuePair::builder()
                .name(&e.name)
                .set_value(e.value.clone())
                .build()
        })
        .collect();
    let mount_points: Vec<MountPoint> = c
        .mount_points
        .iter()
        .map(|m| {
            MountPoint::builder()
                .set_source_volume(m.source_volume.clone())
                .set_container_path(m.container_path.clone())
                .set_read_only(m.read_only)
                .build()
        })
        .collect();
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .set_essential(c.essential)
        .set_cpu(c.cpu)
        .set_memory(c.memory)
        .set_memory_reservation(c.memory_reservation)
        .set_entry_point(nonempty(&c.entry_point))
        .set_command(nonempty(&c.command))
        .set_working_directory(c.working_directory.clone())
        .set_user(c.user.clone())
        .set_environment(nonempty(&environment))
        .set_secrets(nonempty(&secrets))
        .set_port_mappings(nonempty(&ports))
        .set_health_check(health_check)
        .set_log_configuration(log_configuration)
        .set_start_timeout(c.start_timeout)
        .set_stop_timeout(c.stop_timeout)
        .set_mount_points(nonempty(&mount_points))
        .set_depends_on(nonempty(&depends_on))
        .set_readonly_root_filesystem(c.readonly_root_filesystem)
        .set_linux_parameters(c.linux_parameters.as_ref().map(|l| {
            LinuxParameters::builder()
                .set_init_process_enabled(l.init_process_enabled)
                .build()
        }))
        .build())
}

/// A described (or parsed) task definition -> the request JSON, with only the fields this
/// module knows (everything else AWS reports, such as `revision` or `status`, is left out).
/// A tag without a key is left out (as [`crate::taskdef`]'s tag maps do).
///
/// # Errors
/// The path of a field the request needs and the definition lacks (`family`, a volume's
/// `name`, a container's `name` or `image`, an environment variable's `name`).
pub fn to_json(definition: &TaskDefinition, tags: &[Tag]) -> Result<Value, &'static str> {
    Ok(serde_json::to_value(from_sdk(definition, tags)?).unwrap_or(Value::Null))
}

/// `value`, or `Err(field)`.
fn need<'a>(value: Option<&'a str>, field: &'static str) -> Result<&'a str, &'static str> {
    value.ok_or(field)
}

pub(crate) fn from_sdk(d: &TaskDefinition, tags: &[Tag]) -> Result<TaskDefJson, &'static str> {
    Ok(TaskDefJson {
        family: need(d.family(), "family")?.to_string(),
        task_role_arn: d.task_role_arn().map(str::to_string),
        execution_role_arn: d.execution_role_arn().map(str::to_string),
        network_mode: d.network_mode().map(|m| m.as_str().to_string()),
        requires_compatibilities: d
            .requires_compatibilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        cpu: d.cpu().map(str::to_string),
        memory: d.memory().map(str::to_string),
        runtime_platform: d.runtime_platform().map(|rp| RuntimePlatformJson {
            cpu_architecture: rp.cpu_architecture().map(|a| a.as_str().to_string()),
            operating_system_family: rp.operating_system_family().map(|o| o.as_str().to_string()),
        }),
        ephemeral_storage: d.ephemeral_storage().map(|e| EphemeralStorageJson {
            size_in_gib: e.size_in_gib(),
        }),
        volumes: d
            .volumes()
            .iter()
            .map(|v| {
                Ok(VolumeJson {
                    name: need(v.name(), "volumes[].name")?.to_string(),
                })
            })
            .collect::<Result<_, &str>>()?,
        container_definitions: d
            .container_definitions()
            .iter()
            .map(container_from_sdk)
            .collect::<Result<_, &str>>()?,
        tags: tags
            .iter()
            .filter_map(|t| {
                Some(TagJson {
                    key: t.key()?.to_string(),
                    // AWS allows an empty tag value: a tag with a key and no value has that
                    // value.
                    value: t.value().unwrap_or("").to_string(),
                })
            })
            .collect(),
    })
}

fn secret_from_sdk(s: &Secret) -> SecretJson {
    SecretJson {
        name: s.name().to_string(),
        value_from: s.value_from().to_string(),
    }
}

fn container_from_sdk(c: &ContainerDefinition) -> Result<ContainerJson, &'static str> {
    Ok(ContainerJson {
        name: need(c.name(), "containerDefinitions[].name")?.to_string(),
        image: need(c.image(), "containerDefinitions[].image")?.to_string(),
        essential: c.essential(),
        cpu: Some(c.cpu()).filter(|&v| v != 0),
        memory: c.memory(),
        memory_reservation: c.memory_reservation(),
        entry_point: c.entry_point().to_vec(),
        command: c.command().to_vec(),
        working_directory: c.working_directory().map(str::to_string),
        user: c.user().map(str::to_string),
        environment: c
            .environment()
            .iter()
            .map(|e| {
                Ok(EnvJson {
                    name: need(e.name(), "containerDefinitions[].environment[].name")?.to_string(),
                    value: e.value().map(str::to_string),
                })
            })
            .collect::<Result<_, &str>>()?,
        secrets: c.secrets().iter().map(secret_from_sdk).collect(),
        port_mappings: c
            .port_mappings()
            .iter()
            .map(|p| PortMappingJson {
                container_port: p.container_port(),
                host_port: p.host_port(),
                protocol: p.protocol().map(|v| v.as_str().to_string()),
                name: p.name().map(str::to_string),
                app_protocol: p.app_protocol().map(|v| v.as_str().to_string()),
            })
            .collect(),
        health_check: c.health_check().map(|h| HealthCheckJson {
            command: h.command().to_vec(),
            interval: h.interval(),
            timeout: h.timeout(),
            retries: h.retries(),
            start_period: h.start_period(),
        }),
        log_configuration: c.log_configuration().map(|l| LogConfigurationJson {
            log_driver: l.log_driver().as_str().to_string(),
            options: l
                .options()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(), // an absent map: no options
            secret_options: l.secret_options().iter().map(secret_from_sdk).collect(),
        }),
        start_timeout: c.start_timeout(),
        stop_timeout: c.stop_timeout(),
        mount_points: c
            .mount_points()
            .iter()
            .map(|m| MountPointJson {
                source_volume: m.source_volume().map(str::to_string),
                container_path: m.container_path().map(str::to_string),
                read_only: m.read_only(),
            })
            .collect(),
        depends_on: c
            .depends_on()
            .iter()
            .map(|d| DependsOnJson {
                container_name: d.container_name().to_string(),
                condition: d.condition().as_str().to_string(),
            })
            .collect(),
        readonly_root_filesystem: c.readonly_root_filesystem(),
        linux_parameters: c.linux_parameters().map(|l| LinuxParametersJson {
            init_process_enabled: l.init_process_enabled(),
        }),
    })
}
