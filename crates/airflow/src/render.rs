//! Spec + wiring -> the `RegisterTaskDefinition` request of each component.

use std::collections::BTreeMap;

use orchestrate_core::Spec;
use orchestrate_core::names::Tags;

use crate::component::Component;
use crate::environment::{environment, git_sync_enabled, secrets};
use crate::git_sync;
use crate::model::{
    ContainerDefinition, EphemeralStorage, LinuxParameters, LogConfiguration, RuntimePlatform, Tag,
    TaskDefinition,
};
use crate::wiring::{PLACEHOLDER_PREFIX, Wiring};

/// Fargate's ephemeral storage when none is asked for.
pub const DEFAULT_EPHEMERAL_STORAGE_GIB: u32 = 21;

/// The task definition of `component`.
///
/// Pure: the same spec and wiring always give the same value (environment and secrets sorted
/// by name, tags by key). Unknown wiring renders as `<pending: ...>` placeholders.
pub fn task_definition(spec: &Spec, wiring: &Wiring, component: Component) -> TaskDefinition {
    let settings = component.spec(spec);
    let family = wiring.names.service(component.name());
    let with_git_sync = component.reads_dags() && git_sync_enabled(spec);
    let logs = log_configuration(wiring, component);

    let mut airflow = ContainerDefinition {
        name: component.container_name().into(),
        image: wiring.airflow_image.render(),
        essential: Some(true),
        command: component.command(),
        environment: environment(spec, wiring, component),
        secrets: secrets(spec, wiring, component),
        port_mappings: component.port_mappings(),
        health_check: component.health_check(spec),
        log_configuration: Some(logs.clone()),
        stop_timeout: component.stop_timeout(),
        mount_points: Vec::new(),
        depends_on: Vec::new(),
        // The image's own user (airflow, uid 50000, gid 0): never root for Airflow.
        user: None,
        readonly_root_filesystem: Some(false),
        linux_parameters: Some(LinuxParameters {
            init_process_enabled: Some(true),
        }),
    };
    let mut containers = Vec::new();
    let mut volumes = Vec::new();
    if with_git_sync {
        volumes.push(git_sync::volume());
        airflow.mount_points.push(git_sync::airflow_mount());
        airflow.depends_on.push(git_sync::dependency());
        containers.push(airflow);
        containers.push(git_sync::container(spec, wiring, logs));
    } else {
        containers.push(airflow);
    }

    let tags = Tags::new(
        wiring.names.deployment(),
        &format!("ecs/{}", component.name()),
        component.phase(),
        &spec.deployment.tags,
    )
    .with("Name", &family)
    .iter()
    .map(|(key, value)| Tag {
        key: key.into(),
        value: value.into(),
    })
    .collect();

    TaskDefinition {
        family,
        task_role_arn: Some(wiring.task_role_arn.render()),
        execution_role_arn: Some(wiring.execution_role_arn.render()),
        network_mode: Some("awsvpc".into()),
        requires_compatibilities: vec!["FARGATE".into()],
        cpu: Some(settings.cpu.to_string()),
        memory: Some(settings.memory.to_string()),
        runtime_platform: Some(RuntimePlatform {
            cpu_architecture: Some(component.architecture(spec).ecs_name().into()),
            operating_system_family: Some("LINUX".into()),
        }),
        ephemeral_storage: (settings.ephemeral_storage_gb > DEFAULT_EPHEMERAL_STORAGE_GIB)
            .then_some(EphemeralStorage {
                size_in_gib: settings.ephemeral_storage_gb,
            }),
        volumes,
        container_definitions: containers,
        tags,
    }
}

/// `awslogs` to the deployment's container log group, streams `<component>/<container>/<task>`.
fn log_configuration(wiring: &Wiring, component: Component) -> LogConfiguration {
    LogConfiguration {
        log_driver: "awslogs".into(),
        options: BTreeMap::from([
            ("awslogs-group".to_string(), wiring.log_group.clone()),
            ("awslogs-region".to_string(), wiring.region.clone()),
            (
                "awslogs-stream-prefix".to_string(),
                component.name().to_string(),
            ),
        ]),
    }
}

/// Every component's task definition, in phase order (migration first).
pub fn render_all(spec: &Spec, wiring: &Wiring) -> Vec<TaskDefinition> {
    Component::ALL
        .iter()
        .map(|c| task_definition(spec, wiring, *c))
        .collect()
}

/// The exact JSON body of `RegisterTaskDefinition`.
pub fn to_json(definition: &TaskDefinition) -> serde_json::Value {
    // Serializing plain structs of strings, numbers and maps into a Value cannot fail.
    serde_json::to_value(definition).unwrap_or(serde_json::Value::Null)
}

/// Every `<pending: ...>` placeholder in the definition: non-empty means it must not be
/// registered (phase 1 outputs are still missing).
pub fn placeholders(definition: &TaskDefinition) -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(start) = rest.find(PLACEHOLDER_PREFIX) {
                    let tail = &rest[start..];
                    let end = tail.find('>').map_or(tail.len(), |i| i + 1);
                    out.push(tail[..end].to_string());
                    rest = &tail[end..];
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&to_json(definition), &mut out);
    out.sort();
    out.dedup();
    out
}

/// True when the definition still holds a placeholder.
pub fn has_placeholders(definition: &TaskDefinition) -> bool {
    !placeholders(definition).is_empty()
}
