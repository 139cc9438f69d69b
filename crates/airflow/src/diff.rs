//! "Is the rendered task definition the active revision?": a normalised comparison.
//!
//! `DescribeTaskDefinition` answers with more than was registered: response-only fields
//! (`taskDefinitionArn`, `revision`, `status`, `registeredAt`, ...), defaults filled in
//! (`cpu: 0` per container, `hostPort` equal to `containerPort`, empty `environment`,
//! `mountPoints`, `volumesFrom`, `systemControls`, `host: {}` on a bind-mount volume, ...), and
//! lists in an order of its own. Comparing raw JSON would register a new revision on every
//! `up`. [`normalise`] brings both sides to one canonical form first:
//!
//! 1. A `{"taskDefinition": ...}` wrapper (the whole describe output) is unwrapped.
//! 2. Only request fields are kept: response-only fields are dropped, and so are `tags`
//!    (tags are not part of a revision; the ECS crate converges them with `TagResource`).
//! 3. Defaults are made explicit or removed so that "unset" and "set to the default" compare
//!    equal: `essential` missing is `true`; `protocol` missing is `tcp`; a `hostPort` equal to
//!    its `containerPort` and a container `cpu` of 0 are removed; `false` is removed for
//!    `readonlyRootFilesystem`, `privileged`, `disableNetworking`, `interactive`,
//!    `pseudoTerminal`, `readOnly` and `initProcessEnabled`; a health check's missing
//!    `interval`/`timeout`/`retries`/`startPeriod` become ECS's 30/5/3/0; an
//!    `ephemeralStorage` of 21 GiB or less is removed; task `cpu`/`memory` become strings.
//! 4. Empty values are removed recursively: `null`, `[]`, `{}` (after step 3).
//! 5. Order is made canonical: containers, volumes, `environment`, `secrets` by name;
//!    `portMappings` by port; `mountPoints` by path; `dependsOn` by container;
//!    `requiresCompatibilities` sorted. `command` and health-check commands keep their order
//!    (it is meaningful).
//!
//! [`diff_fields`] then lists the differing leaves. Empty means "register nothing".

use serde_json::{Map, Value};

use orchestrate_core::FieldChange;

use crate::Error;
use crate::model::TaskDefinition;
use crate::render::{DEFAULT_EPHEMERAL_STORAGE_GIB, to_json};

/// Top-level fields of `RegisterTaskDefinition` that are compared (everything but `tags`).
const REQUEST_FIELDS: [&str; 16] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
];

/// Container booleans whose default is `false`.
const FALSE_DEFAULTS: [&str; 5] = [
    "readonlyRootFilesystem",
    "privileged",
    "disableNetworking",
    "interactive",
    "pseudoTerminal",
];

/// The canonical form of a task definition (rendered, or described by AWS) for comparison.
pub fn normalise(value: &Value) -> Result<Value, Error> {
    let value = match value.get("taskDefinition") {
        Some(inner) if inner.is_object() => inner,
        _ => value,
    };
    let Some(object) = value.as_object() else {
        return Err(Error::NotATaskDefinition {
            reason: "it is not a JSON object".into(),
        });
    };
    if !object
        .get("containerDefinitions")
        .is_some_and(Value::is_array)
    {
        return Err(Error::NotATaskDefinition {
            reason: "it has no containerDefinitions list".into(),
        });
    }
    let mut out = Map::new();
    for field in REQUEST_FIELDS {
        if let Some(v) = object.get(field) {
            out.insert(field.to_string(), v.clone());
        }
    }
    for field in ["cpu", "memory"] {
        if let Some(n) = out.get(field).and_then(Value::as_u64) {
            out.insert(field.to_string(), Value::String(n.to_string()));
        }
    }
    if out
        .get("ephemeralStorage")
        .and_then(|e| e.get("sizeInGiB"))
        .and_then(Value::as_u64)
        .is_some_and(|gib| gib <= u64::from(DEFAULT_EPHEMERAL_STORAGE_GIB))
    {
        out.remove("ephemeralStorage");
    }
    sort_strings(out.get_mut("requiresCompatibilities"));
    sort_by_key(out.get_mut("volumes"), "name");
    if let Some(Value::Array(containers)) = out.get_mut("containerDefinitions") {
        containers.iter_mut().for_each(normalise_container);
    }
    sort_by_key(out.get_mut("containerDefinitions"), "name");
    let mut value = Value::Object(out);
    prune(&mut value);
    Ok(value)
}

fn normalise_container(container: &mut Value) {
    let Some(c) = container.as_object_mut() else {
        return;
    };
    c.entry("essential").or_insert(Value::Bool(true));
    if c.get("cpu").and_then(Value::as_u64) == Some(0) {
        c.remove("cpu");
    }
    for field in FALSE_DEFAULTS {
        if c.get(field) == Some(&Value::Bool(false)) {
            c.remove(field);
        }
    }
    if let Some(Value::Object(linux)) = c.get_mut("linuxParameters")
        && linux.get("initProcessEnabled") == Some(&Value::Bool(false))
    {
        linux.remove("initProcessEnabled");
    }
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if port.get("hostPort").is_some() && port.get("hostPort") == port.get("containerPort") {
                port.remove("hostPort");
            }
            port.entry("protocol")
                .or_insert(Value::String("tcp".into()));
        }
        ports.sort_by_key(|p| p.get("containerPort").and_then(Value::as_u64));
    }
    if let Some(Value::Array(mounts)) = c.get_mut("mountPoints") {
        for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
            if mount.get("readOnly") == Some(&Value::Bool(false)) {
                mount.remove("readOnly");
            }
        }
    }
    if let Some(Value::Object(check)) = c.get_mut("healthCheck") {
        for (field, default) in [
            ("interval", 30),
            ("timeout", 5),
            ("retries", 3),
            ("startPeriod", 0),
        ] {
            check.entry(field).or_insert(Value::from(default));
        }
    }
    sort_by_key(c.get_mut("environment"), "name");
    sort_by_key(c.get_mut("secrets"), "name");
    sort_by_key(c.get_mut("mountPoints"), "containerPath");
    sort_by_key(c.get_mut("dependsOn"), "containerName");
}

fn sort_by_key(list: Option<&mut Value>, key: &str) {
    if let Some(Value::Array(items)) = list {
        items.sort_by(|a, b| {
            let ka = a.get(key).map(Value::to_string);
            let kb = b.get(key).map(Value::to_string);
            ka.cmp(&kb)
        });
    }
}

fn sort_strings(list: Option<&mut Value>) {
    if let Some(Value::Array(items)) = list {
        items.sort_by_key(Value::to_string);
    }
}

/// Removes `null`, `[]` and `{}` recursively; true when `value` itself became empty.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => {
            items.retain_mut(|v| !prune(v));
            items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|_, v| !prune(v));
            map.is_empty()
        }
        _ => false,
    }
}

/// The fields in which `rendered` differs from the `active` revision (a `DescribeTaskDefinition`
/// answer as JSON, with or without its `{"taskDefinition": ...}` wrapper), after
/// [`normalise`]. Empty: the active revision already is the rendered one.
///
/// Paths name list items by their key: `containerDefinitions[worker].environment[X].value`.
///
/// # Errors
/// [`Error::NotATaskDefinition`] when `active` is not a task definition.
pub fn diff_fields(rendered: &TaskDefinition, active: &Value) -> Result<Vec<FieldChange>, Error> {
    let want = normalise(&to_json(rendered))?;
    let have = normalise(active)?;
    let mut changes = Vec::new();
    diff_value("", Some(&have), Some(&want), &mut changes);
    Ok(changes)
}

/// The key naming an item of the list at `path` (its last segment), if items are keyed.
fn list_key(field: &str) -> Option<&'static str> {
    match field {
        "containerDefinitions" | "environment" | "secrets" | "volumes" => Some("name"),
        "portMappings" => Some("containerPort"),
        "mountPoints" => Some("containerPath"),
        "dependsOn" => Some("containerName"),
        _ => None,
    }
}

fn last_field(path: &str) -> &str {
    let tail = path.rsplit('.').next().unwrap_or(path);
    tail.split('[').next().unwrap_or(tail)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn show(value: Option<&Value>) -> Option<String> {
    value.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A missing keyed list compares as an empty one, item by item.
static EMPTY: Value = Value::Array(Vec::new());

fn diff_value(path: &str, have: Option<&Value>, want: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (have, want) {
        (Some(Value::Object(h)), Some(Value::Object(w))) => {
            let mut keys: Vec<&String> = h.keys().chain(w.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                diff_value(&join(path, key), h.get(key), w.get(key), out);
            }
        }
        (Some(Value::Array(_)), None) | (None, Some(Value::Array(_)))
            if list_key(last_field(path)).is_some() =>
        {
            diff_value(path, have.or(Some(&EMPTY)), want.or(Some(&EMPTY)), out);
        }
        (Some(Value::Array(h)), Some(Value::Array(w))) if list_key(last_field(path)).is_some() => {
            let key = list_key(last_field(path)).unwrap_or("name");
            let id = |v: &Value| show(v.get(key)).unwrap_or_default();
            let mut ids: Vec<String> = h.iter().chain(w.iter()).map(id).collect();
            ids.sort();
            ids.dedup();
            for item in ids {
                let hv = h.iter().find(|v| id(v) == item);
                let wv = w.iter().find(|v| id(v) == item);
                diff_value(&format!("{path}[{item}]"), hv, wv, out);
            }
        }
        (h, w) if h != w => out.push(FieldChange::new(path, show(h), show(w))),
        _ => {}
    }
}
