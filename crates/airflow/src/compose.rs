//! `orchestrate render compose`: a docker-compose file equivalent to the ECS deployment, for
//! trying the same Airflow locally first.
//!
//! Built from the rendered task definitions, so the five components run with the same
//! commands, environment and health checks. What differs, and only that:
//! - endpoints: PostgreSQL and Valkey containers (`postgres`, `valkey`) stand in for RDS and
//!   ElastiCache, the execution API is `http://api-server:8080/execution/`, the base URL
//!   `http://localhost:8080`;
//! - remote logging is off ([`LOCAL_ONLY`]): there is no CloudWatch locally; the api-server reads
//!   task logs from the worker's and triggerer's log servers instead;
//! - secret values come from a `.env` file beside the compose file (see [`env_file`]), never
//!   from the compose file: each secret variable is `${NAME:?...}`;
//! - one git-sync service shares the `dags` volume with every DAG reader (on ECS each task has
//!   its own sidecar), and the migration is a service the others wait on
//!   (`service_completed_successfully`).
//!
//! The result is JSON, which is YAML: `docker compose -f compose.yaml` reads it as it is.

use std::collections::BTreeMap;

use orchestrate_core::Spec;
use serde_json::{Value, json};

use crate::component::{API_SERVER_PORT, Component};
use crate::environment::git_sync_enabled;
use crate::model::{ContainerDefinition, HealthCheck};
use crate::render::task_definition;
use crate::wiring::{Ref, Wiring};
use crate::{environment, git_sync};

/// Variables whose value is an endpoint, replaced by the local one.
pub const ENDPOINTS: [&str; 2] = [
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API__BASE_URL",
];

/// Variables set differently locally for want of AWS (remote logging to CloudWatch): the
/// only non-endpoint differences from the task definitions.
pub const LOCAL_ONLY: [(&str, Option<&str>); 3] = [
    ("AIRFLOW__LOGGING__REMOTE_LOGGING", Some("false")),
    ("AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", None),
    ("AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", None),
];

/// The PostgreSQL password variable of the `postgres` service (in `.env`).
pub const POSTGRES_PASSWORD_VAR: &str = "POSTGRES_PASSWORD";

/// Secret values for a local deployment, generated once by the CLI and kept in `.env`.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalSecrets {
    /// Password of the PostgreSQL user.
    pub db_password: String,
    /// `AIRFLOW__CORE__FERNET_KEY`.
    pub fernet_key: String,
    /// `AIRFLOW__API_AUTH__JWT_SECRET`.
    pub jwt_secret: String,
    /// `AIRFLOW__API__SECRET_KEY`.
    pub api_secret_key: String,
    /// The admin user's password.
    pub admin_password: String,
}

impl std::fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSecrets(<redacted>)")
    }
}

/// The task definitions a local deployment mirrors: public images, everything else as on ECS.
pub fn local_wiring(spec: &Spec) -> Wiring {
    let mut wiring = Wiring::pending(spec);
    if spec.image.repository.is_empty() {
        wiring.airflow_image = Ref::known(format!("apache/airflow:{}", spec.image.airflow_version));
    }
    if spec.git_sync.image.is_empty() {
        wiring.git_sync_image = Ref::known(format!(
            "registry.k8s.io/git-sync/git-sync:{}",
            spec.git_sync.image_tag
        ));
    }
    wiring
}

/// `$` -> `$$`: Compose interpolates `$` in every string; commands and values are literal.
fn literal(s: &str) -> String {
    s.replace('$', "$$")
}

fn healthcheck(hc: &HealthCheck) -> Value {
    let test: Vec<String> = hc.command.iter().map(|s| literal(s)).collect();
    let secs = |v: Option<u32>| v.map(|s| format!("{s}s"));
    let mut out = json!({ "test": test });
    if let Some(v) = secs(hc.interval) {
        out["interval"] = json!(v);
    }
    if let Some(v) = secs(hc.timeout) {
        out["timeout"] = json!(v);
    }
    if let Some(v) = hc.retries {
        out["retries"] = json!(v);
    }
    if let Some(v) = secs(hc.start_period) {
        out["start_period"] = json!(v);
    }
    out
}

/// The environment of one Airflow service: the task definition's, endpoints swapped, remote
/// logging off, each secret a `${NAME:?...}` reference to `.env`.
pub fn service_environment(container: &ContainerDefinition) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = container
        .environment
        .iter()
        .map(|e| (e.name.clone(), literal(&e.value)))
        .collect();
    if env.contains_key("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") {
        env.insert(
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL".into(),
            format!("http://api-server:{API_SERVER_PORT}/execution/"),
        );
    }
    env.insert(
        "AIRFLOW__API__BASE_URL".into(),
        format!("http://localhost:{API_SERVER_PORT}"),
    );
    for (name, value) in LOCAL_ONLY {
        match value {
            Some(v) => env.insert(name.into(), v.into()),
            None => env.remove(name),
        };
    }
    for secret in &container.secrets {
        env.insert(
            secret.name.clone(),
            format!(
                "${{{}:?missing from .env (orchestrate render compose creates it)}}",
                secret.name
            ),
        );
    }
    env
}

/// The compose file of the deployment (JSON, valid YAML).
pub fn compose(spec: &Spec) -> Value {
    let wiring = local_wiring(spec);
    let db = &spec.database;
    let mut services = serde_json::Map::new();
    services.insert(
        "postgres".into(),
        json!({
            "image": format!("postgres:{}", db.engine_version.split('.').next().unwrap_or("16")),
            "environment": {
                "POSTGRES_USER": literal(&db.username),
                "POSTGRES_DB": literal(&db.db_name),
                POSTGRES_PASSWORD_VAR: format!("${{{POSTGRES_PASSWORD_VAR}:?missing from .env}}"),
            },
            "volumes": ["postgres-db:/var/lib/postgresql/data"],
            "healthcheck": {
                "test": ["CMD", "pg_isready", "-U", literal(&db.username), "-d", literal(&db.db_name)],
                "interval": "10s", "timeout": "5s", "retries": 5, "start_period": "10s",
            },
            "restart": "always",
        }),
    );
    services.insert(
        "valkey".into(),
        json!({
            "image": format!("valkey/valkey:{}", spec.cache.engine_version),
            "healthcheck": {
                "test": ["CMD", "valkey-cli", "ping"],
                "interval": "10s", "timeout": "5s", "retries": 5, "start_period": "5s",
            },
            "restart": "always",
        }),
    );
    let with_git_sync = git_sync_enabled(spec);
    for component in Component::ALL {
        let td = task_definition(spec, &wiring, component);
        let Some(airflow) = td.container(component.container_name()) else {
            continue;
        };
        if with_git_sync
            && component.reads_dags()
            && !services.contains_key(git_sync::CONTAINER)
            && let Some(sidecar) = td.container(git_sync::CONTAINER)
        {
            let mut env: BTreeMap<String, String> = sidecar
                .environment
                .iter()
                .map(|e| (e.name.clone(), literal(&e.value)))
                .collect();
            for secret in &sidecar.secrets {
                env.insert(
                    secret.name.clone(),
                    format!("${{{}:?missing from .env}}", secret.name),
                );
            }
            let mut service = json!({
                "image": sidecar.image,
                "user": sidecar.user.clone().unwrap_or_else(|| "0".into()),
                "environment": env,
                "volumes": [format!("{}:{}", git_sync::VOLUME, git_sync::ROOT)],
                "restart": "always",
            });
            if let Some(hc) = &sidecar.health_check {
                service["healthcheck"] = healthcheck(hc);
            }
            services.insert(git_sync::CONTAINER.into(), service);
        }
        let mut depends = serde_json::Map::new();
        depends.insert("postgres".into(), json!({"condition": "service_healthy"}));
        if component != Component::Migration {
            depends.insert("valkey".into(), json!({"condition": "service_healthy"}));
            depends.insert(
                "migration".into(),
                json!({"condition": "service_completed_successfully"}),
            );
        }
        let mut service = json!({
            "image": airflow.image,
            "command": airflow.command.iter().map(|s| literal(s)).collect::<Vec<_>>(),
            "environment": service_environment(airflow),
        });
        if component.reads_dags() && with_git_sync {
            depends.insert(
                git_sync::CONTAINER.into(),
                json!({"condition": "service_healthy"}),
            );
            service["volumes"] =
                json!([format!("{}:{}", git_sync::VOLUME, environment::DAGS_MOUNT)]);
        }
        service["depends_on"] = Value::Object(depends);
        if let Some(hc) = &airflow.health_check {
            service["healthcheck"] = healthcheck(hc);
        }
        if let Some(t) = airflow.stop_timeout {
            service["stop_grace_period"] = json!(format!("{t}s"));
        }
        if component == Component::ApiServer {
            service["ports"] = json!([format!("{API_SERVER_PORT}:{API_SERVER_PORT}")]);
        }
        if component.is_service() {
            service["restart"] = json!("always");
        }
        services.insert(component.name().into(), service);
    }
    let mut volumes = serde_json::Map::new();
    volumes.insert("postgres-db".into(), json!({}));
    if with_git_sync {
        volumes.insert(git_sync::VOLUME.into(), json!({}));
    }
    json!({
        "name": spec.deployment.name,
        "services": services,
        "volumes": volumes,
    })
}

/// The `.env` beside the compose file: every secret variable the services reference, values
/// single-quoted (literal for Compose). Git-sync credentials, when the spec names a secret,
/// are left empty for the user to fill in.
pub fn env_file(spec: &Spec, secrets: &LocalSecrets) -> String {
    let db = &spec.database;
    let userinfo = format!(
        "{}:{}",
        orchestrate_core::sensitive::encode_userinfo(&db.username),
        orchestrate_core::sensitive::encode_userinfo(&secrets.db_password)
    );
    let mut lines = vec![
        "# Secrets of the local deployment (orchestrate render compose). Created once, never"
            .to_string(),
        "# overwritten; keep it out of git.".to_string(),
    ];
    let mut put = |name: &str, value: &str| lines.push(format!("{name}='{value}'"));
    put(POSTGRES_PASSWORD_VAR, &secrets.db_password);
    put(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        &format!(
            "postgresql+psycopg2://{userinfo}@postgres:5432/{}",
            db.db_name
        ),
    );
    put(
        "AIRFLOW__CELERY__RESULT_BACKEND",
        &format!("db+postgresql://{userinfo}@postgres:5432/{}", db.db_name),
    );
    put("AIRFLOW__CELERY__BROKER_URL", "redis://valkey:6379/0");
    put("AIRFLOW__CORE__FERNET_KEY", &secrets.fernet_key);
    put("AIRFLOW__API_AUTH__JWT_SECRET", &secrets.jwt_secret);
    put("AIRFLOW__API__SECRET_KEY", &secrets.api_secret_key);
    put(
        crate::component::ADMIN_PASSWORD_VAR,
        &secrets.admin_password,
    );
    if spec.git_sync.credentials_secret_arn.is_some() {
        put("GITSYNC_USERNAME", "");
        put("GITSYNC_PASSWORD", "");
    }
    lines.push(String::new());
    lines.join("\n")
}
