//! Airflow's configuration: plain environment variables and Secrets Manager references.
//!
//! Airflow is configured by `AIRFLOW__SECTION__KEY` variables only (no `airflow.cfg` in the
//! image). Every variable that holds a secret reaches the container through ECS
//! `secrets[].valueFrom`, never through `environment`; the values shared by every component
//! (Fernet key, JWT secret, API secret key, execution API URL) come from one place so they are
//! byte-for-byte identical in every task definition.

use std::collections::BTreeMap;

use orchestrate_core::Spec;

use crate::component::{ADMIN_PASSWORD_VAR, ADMIN_USERNAME_VAR, Component};
use crate::model::{KeyValuePair, Secret};
use crate::wiring::{SecretKey, Wiring};

/// The FAB auth manager (users, roles, the admin login).
pub const FAB_AUTH_MANAGER: &str =
    "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager";

/// Where git-sync's link appears inside the Airflow containers.
pub const DAGS_MOUNT: &str = "/opt/airflow/dags";

/// Airflow connection id used by remote logging. No such connection exists by default, so the
/// AWS hook falls back to boto3's default credential chain: the task role.
pub const REMOTE_LOG_CONN_ID: &str = "aws_default";

/// The secret-bearing variables of every Airflow container and where each value lives.
pub const AIRFLOW_SECRETS: [(&str, SecretKey); 6] = [
    (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        SecretKey::SqlAlchemyConn,
    ),
    ("AIRFLOW__CELERY__RESULT_BACKEND", SecretKey::ResultBackend),
    ("AIRFLOW__CELERY__BROKER_URL", SecretKey::BrokerUrl),
    ("AIRFLOW__CORE__FERNET_KEY", SecretKey::FernetKey),
    ("AIRFLOW__API_AUTH__JWT_SECRET", SecretKey::JwtSecret),
    ("AIRFLOW__API__SECRET_KEY", SecretKey::ApiSecretKey),
];

/// The `AIRFLOW__CORE__DAGS_FOLDER` of DAG readers: git-sync's link plus the spec's subpath.
pub fn dags_folder(spec: &Spec) -> String {
    let subpath = spec.git_sync.subpath.trim_matches('/');
    if subpath.is_empty() {
        format!("{DAGS_MOUNT}/repo")
    } else {
        format!("{DAGS_MOUNT}/repo/{subpath}")
    }
}

/// True when DAGs arrive by git-sync.
pub fn git_sync_enabled(spec: &Spec) -> bool {
    !spec.git_sync.repo.trim().is_empty()
}

/// The plain environment of `component`'s Airflow container, sorted by name.
///
/// The user's `[airflow].environment` is applied first and every variable orchestrate sets
/// wins over it; a user variable that names a secret is dropped (validation reports both).
pub fn environment(spec: &Spec, wiring: &Wiring, component: Component) -> Vec<KeyValuePair> {
    let mut env: BTreeMap<String, String> = spec
        .airflow
        .environment
        .iter()
        .filter(|(name, _)| !is_secret_name(name))
        .filter(|(name, _)| !component.spec(spec).secrets.contains_key(*name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut set = |name: &str, value: String| {
        env.insert(name.to_string(), value);
    };
    set("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor".into());
    set("AIRFLOW__CORE__AUTH_MANAGER", FAB_AUTH_MANAGER.into());
    set(
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        spec.airflow.load_examples.to_string(),
    );
    set(
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        wiring.execution_api_url(),
    );
    set("AIRFLOW__LOGGING__REMOTE_LOGGING", "true".into());
    set(
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER",
        wiring.remote_base_log_folder(),
    );
    set(
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID",
        REMOTE_LOG_CONN_ID.into(),
    );
    set("AIRFLOW__LOGGING__DELETE_LOCAL_LOGS", "true".into());
    set("AWS_DEFAULT_REGION", wiring.region.clone());
    if let Some((backend, kwargs)) = secrets_backend(spec) {
        set("AIRFLOW__SECRETS__BACKEND", backend);
        set("AIRFLOW__SECRETS__BACKEND_KWARGS", kwargs);
    }
    if let Some(domain) = &spec.load_balancer.domain {
        // Served over HTTPS on the domain (the ALB's certificate covers it).
        set("AIRFLOW__API__BASE_URL", format!("https://{domain}"));
    } else if let Some(dns) = &wiring.alb_dns {
        let scheme = if spec.load_balancer.certificate_arn.is_some() {
            "https"
        } else {
            "http"
        };
        set("AIRFLOW__API__BASE_URL", format!("{scheme}://{dns}"));
    }
    if component.reads_dags() && git_sync_enabled(spec) {
        set("AIRFLOW__CORE__DAGS_FOLDER", dags_folder(spec));
    }
    match component {
        Component::Scheduler => set("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "true".into()),
        // dumb-init signals only celery's main process, which then shuts down warmly.
        Component::Worker => set("DUMB_INIT_SETSID", "0".into()),
        Component::Migration => set(ADMIN_USERNAME_VAR, spec.airflow.admin_username.clone()),
        _ => {}
    }
    env.into_iter()
        .map(|(name, value)| KeyValuePair { name, value })
        .collect()
}

/// `AIRFLOW__SECRETS__BACKEND` and `AIRFLOW__SECRETS__BACKEND_KWARGS` when `[airflow]
/// secrets_backend` is on: the Amazon provider's Secrets Manager backend, reading connections
/// and variables under the deployment's prefixes; `config_prefix` is null, so no
/// configuration value is looked up in Secrets Manager (orchestrate passes its own by ECS
/// `secrets`). Airflow falls back to environment variables and the metadata database for an
/// id the backend does not hold.
pub fn secrets_backend(spec: &Spec) -> Option<(String, String)> {
    use orchestrate_core::access::{CONNECTIONS, SECRETS_BACKEND_CLASS, VARIABLES};
    if !spec.airflow.secrets_backend {
        return None;
    }
    let names = orchestrate_core::Names::new(&spec.deployment.name);
    // Written out rather than through serde_json, whose key order depends on a feature
    // another crate of the build may turn on; the names are validated (`[a-z0-9-]`), so
    // nothing needs escaping.
    let kwargs = format!(
        r#"{{"connections_prefix": "{}", "variables_prefix": "{}", "config_prefix": null}}"#,
        names.airflow_secrets_prefix(CONNECTIONS),
        names.airflow_secrets_prefix(VARIABLES),
    );
    Some((SECRETS_BACKEND_CLASS.to_string(), kwargs))
}

/// The secrets of `component`'s Airflow container, sorted by name: orchestrate's own and the
/// component's `secrets` from the spec (by ARN, as written).
pub fn secrets(spec: &Spec, wiring: &Wiring, component: Component) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = AIRFLOW_SECRETS
        .iter()
        .map(|(name, key)| Secret {
            name: (*name).to_string(),
            value_from: wiring.secrets.get(*key).render(),
        })
        .collect();
    if component == Component::Migration {
        secrets.push(Secret {
            name: ADMIN_PASSWORD_VAR.into(),
            value_from: wiring.secrets.admin_password.render(),
        });
    }
    for (name, value_from) in &component.spec(spec).secrets {
        // Validation refuses a name orchestrate sets itself; never let one replace ours.
        if !secrets.iter().any(|s| &s.name == name) {
            secrets.push(Secret {
                name: name.clone(),
                value_from: value_from.clone(),
            });
        }
    }
    secrets.sort();
    secrets
}

/// True when `name` is delivered as a secret to some container of the deployment.
pub fn is_secret_name(name: &str) -> bool {
    AIRFLOW_SECRETS.iter().any(|(n, _)| *n == name)
        || name == ADMIN_PASSWORD_VAR
        || name == "GITSYNC_USERNAME"
        || name == "GITSYNC_PASSWORD"
}

#[cfg(test)]
mod access_tests {
    use orchestrate_core::access::RESERVED_VARIABLES;

    use super::*;

    fn spec() -> Spec {
        let mut spec = Spec::minimal("demo", "eu-west-1");
        spec.git_sync.repo = "https://example.com/dags.git".into();
        spec
    }

    #[test]
    fn every_variable_orchestrate_sets_is_reserved() {
        let spec = spec();
        let mut wiring = Wiring::pending(&spec);
        wiring.alb_dns = Some("alb.example.com".into());
        for component in Component::ALL {
            let names = environment(&spec, &wiring, component)
                .into_iter()
                .map(|e| e.name)
                .chain(
                    secrets(&spec, &wiring, component)
                        .into_iter()
                        .map(|s| s.name),
                );
            for name in names {
                assert!(
                    RESERVED_VARIABLES.contains(&name.as_str()),
                    "{name} ({}) is missing from orchestrate_core::access::RESERVED_VARIABLES",
                    component.name()
                );
            }
        }
    }

    #[test]
    fn the_secrets_backend_reads_the_deployment_prefixes_and_component_secrets_are_added() {
        let mut spec = spec();
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/wh-AbC123:token::";
        spec.components
            .worker
            .component
            .secrets
            .insert("WAREHOUSE_TOKEN".into(), arn.into());
        spec.airflow
            .environment
            .insert("WAREHOUSE_TOKEN".into(), "plain".into());
        let wiring = Wiring::pending(&spec);
        let env = environment(&spec, &wiring, Component::Worker);
        let get = |name: &str| env.iter().find(|e| e.name == name).map(|e| e.value.clone());
        assert_eq!(
            get("AIRFLOW__SECRETS__BACKEND").as_deref(),
            Some(orchestrate_core::access::SECRETS_BACKEND_CLASS)
        );
        let kwargs: serde_json::Value =
            serde_json::from_str(&get("AIRFLOW__SECRETS__BACKEND_KWARGS").expect("kwargs"))
                .expect("JSON");
        assert_eq!(
            kwargs,
            serde_json::json!({
                "connections_prefix": "orchestrate/demo/connections",
                "variables_prefix": "orchestrate/demo/variables",
                "config_prefix": null,
            })
        );
        assert_eq!(
            get("WAREHOUSE_TOKEN"),
            None,
            "the secret wins over a plain value"
        );
        let worker = secrets(&spec, &wiring, Component::Worker);
        assert!(
            worker
                .iter()
                .any(|s| s.name == "WAREHOUSE_TOKEN" && s.value_from == arn),
            "{worker:?}"
        );
        let scheduler = secrets(&spec, &wiring, Component::Scheduler);
        assert!(!scheduler.iter().any(|s| s.name == "WAREHOUSE_TOKEN"));

        spec.airflow.secrets_backend = false;
        let env = environment(&spec, &wiring, Component::Worker);
        assert!(!env.iter().any(|e| e.name.starts_with("AIRFLOW__SECRETS__")));
    }
}
