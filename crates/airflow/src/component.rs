//! The six Airflow 3 task kinds and what each one runs: command, ports, health check.
//!
//! Commands and health checks follow the official Airflow 3 docker-compose file
//! (`airflow-core/docs/howto/docker-compose/docker-compose.yaml`) and Helm chart, adapted
//! to ECS where they differ (see `docs/airflow.md`).

use std::fmt;

use orchestrate_core::Phase;
use orchestrate_core::spec::{Architecture, ComponentSpec, Spec};

use crate::model::{HealthCheck, PortMapping};

/// Port of `airflow api-server` (UI, public API and execution API).
pub const API_SERVER_PORT: u16 = 8080;
/// Port of the scheduler's health server (`AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK`).
pub const SCHEDULER_HEALTH_PORT: u16 = 8974;
/// Port of the Celery worker's log server (logs of running tasks).
pub const WORKER_LOG_PORT: u16 = 8793;
/// Port of the triggerer's log server.
pub const TRIGGERER_LOG_PORT: u16 = 8794;

/// Celery app of the celery provider, for `celery inspect ping`.
pub const CELERY_APP: &str = "airflow.providers.celery.executors.celery_executor.app";

/// Seconds between container health checks.
pub const HEALTH_INTERVAL: u32 = 30;
/// Consecutive failures before a container is unhealthy.
pub const HEALTH_RETRIES: u32 = 5;
/// ECS's upper bound of `healthCheck.startPeriod`.
pub const MAX_START_PERIOD: u32 = 300;
/// Fargate's upper bound of `stopTimeout`.
pub const MAX_STOP_TIMEOUT: u32 = 120;

/// One kind of Airflow task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// `airflow api-server`: UI, REST API and the execution API, behind the ALB.
    ApiServer,
    /// `airflow scheduler`.
    Scheduler,
    /// `airflow dag-processor` (separate from the scheduler in Airflow 3).
    DagProcessor,
    /// `airflow triggerer`: deferred tasks.
    Triggerer,
    /// `airflow celery worker`.
    Worker,
    /// The one-off `airflow db migrate` + admin user task.
    Migration,
}

impl Component {
    /// Every component, in phase order.
    pub const ALL: [Component; 6] = [
        Component::Migration,
        Component::ApiServer,
        Component::Scheduler,
        Component::DagProcessor,
        Component::Triggerer,
        Component::Worker,
    ];

    /// Short name: container name, log stream prefix, family suffix.
    pub fn name(self) -> &'static str {
        match self {
            Component::ApiServer => "api-server",
            Component::Scheduler => "scheduler",
            Component::DagProcessor => "dag-processor",
            Component::Triggerer => "triggerer",
            Component::Worker => "worker",
            Component::Migration => "migration",
        }
    }

    /// Name of the Airflow container in the task (the component's name).
    pub fn container_name(self) -> &'static str {
        self.name()
    }

    /// Phase whose `up` registers this task definition.
    pub fn phase(self) -> Phase {
        match self {
            Component::ApiServer | Component::Migration => Phase::ApiServer,
            Component::Scheduler | Component::DagProcessor => Phase::Scheduler,
            Component::Triggerer => Phase::Triggerer,
            Component::Worker => Phase::Worker,
        }
    }

    /// True when the component parses or runs DAG files and so gets the git-sync sidecar.
    /// The api-server reads serialized DAGs from the database; the migration none.
    pub fn reads_dags(self) -> bool {
        matches!(
            self,
            Component::Scheduler
                | Component::DagProcessor
                | Component::Triggerer
                | Component::Worker
        )
    }

    /// True for a long-running ECS service (everything but the migration).
    pub fn is_service(self) -> bool {
        !matches!(self, Component::Migration)
    }

    /// The spec's sizing and health settings of this component.
    pub fn spec(self, spec: &Spec) -> &ComponentSpec {
        let c = &spec.components;
        match self {
            Component::ApiServer => &c.api_server,
            Component::Scheduler => &c.scheduler,
            Component::DagProcessor => &c.dag_processor,
            Component::Triggerer => &c.triggerer,
            Component::Worker => &c.worker.component,
            Component::Migration => &c.migration,
        }
    }

    /// CPU architecture of its tasks: X86_64 for a Spot worker unless overridden, else the
    /// component's override or the image default.
    pub fn architecture(self, spec: &Spec) -> Architecture {
        match self {
            Component::Worker => spec.worker_architecture(),
            other => spec.architecture_of(other.spec(spec)),
        }
    }

    /// Arguments to the apache/airflow image's entrypoint.
    ///
    /// The entrypoint (`/entrypoint`, under `dumb-init`) waits for the metadata database,
    /// then runs `airflow <args>`, or `bash <args>` when the first argument is `bash`.
    pub fn command(self) -> Vec<String> {
        let args: &[&str] = match self {
            Component::ApiServer => &["api-server"],
            Component::Scheduler => &["scheduler"],
            Component::DagProcessor => &["dag-processor"],
            Component::Triggerer => &["triggerer"],
            Component::Worker => &["celery", "worker"],
            Component::Migration => return vec!["bash".into(), "-c".into(), migration_script()],
        };
        args.iter().map(|s| s.to_string()).collect()
    }

    /// Ports the Airflow container listens on for others (not the localhost health server).
    pub fn port_mappings(self) -> Vec<PortMapping> {
        let port = |port: u16, name: &str| PortMapping {
            container_port: port,
            protocol: Some("tcp".into()),
            name: Some(name.into()),
        };
        match self {
            Component::ApiServer => vec![port(API_SERVER_PORT, "api-server")],
            Component::Worker => vec![port(WORKER_LOG_PORT, "worker-logs")],
            Component::Triggerer => vec![port(TRIGGERER_LOG_PORT, "triggerer-logs")],
            Component::Scheduler | Component::DagProcessor | Component::Migration => vec![],
        }
    }

    /// The shell command of the container health check (`None` for the one-off migration).
    pub fn health_command(self) -> Option<String> {
        Some(match self {
            Component::ApiServer => {
                format!("curl --fail http://localhost:{API_SERVER_PORT}/api/v2/version")
            }
            Component::Scheduler => {
                format!("curl --fail http://localhost:{SCHEDULER_HEALTH_PORT}/health")
            }
            Component::DagProcessor => {
                "airflow jobs check --job-type DagProcessorJob --local".to_string()
            }
            Component::Triggerer => "airflow jobs check --job-type TriggererJob --local".into(),
            Component::Worker => {
                format!("celery --app {CELERY_APP} inspect ping -d \"celery@$(hostname)\"")
            }
            Component::Migration => return None,
        })
    }

    /// Seconds one check may take: an HTTP probe is quick, a CLI check imports Airflow first.
    fn health_timeout(self) -> u32 {
        match self {
            Component::ApiServer | Component::Scheduler => 10,
            _ => 20,
        }
    }

    /// The container health check, or `None` when the spec turns checks off (or for the
    /// migration, which is not a service).
    pub fn health_check(self, spec: &Spec) -> Option<HealthCheck> {
        let settings = self.spec(spec);
        if !settings.health_checks {
            return None;
        }
        let command = self.health_command()?;
        Some(HealthCheck {
            command: vec!["CMD-SHELL".into(), command],
            interval: Some(HEALTH_INTERVAL),
            timeout: Some(self.health_timeout()),
            retries: Some(HEALTH_RETRIES),
            start_period: Some(settings.health_check_grace_seconds.min(MAX_START_PERIOD)),
        })
    }

    /// Seconds between SIGTERM and SIGKILL. A worker gets Fargate's maximum so a warm Celery
    /// shutdown can finish short tasks; the migration keeps ECS's default.
    pub fn stop_timeout(self) -> Option<u32> {
        match self {
            Component::Worker => Some(MAX_STOP_TIMEOUT),
            Component::Scheduler | Component::Triggerer => Some(60),
            Component::ApiServer | Component::DagProcessor => Some(30),
            Component::Migration => None,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Variable holding the admin user name in the migration task (not a secret).
pub const ADMIN_USERNAME_VAR: &str = "_AIRFLOW_ADMIN_USERNAME";
/// Variable holding the admin password in the migration task (injected from Secrets Manager).
pub const ADMIN_PASSWORD_VAR: &str = "_AIRFLOW_ADMIN_PASSWORD";

/// The migration task's script: migrate, then create the admin user or re-sync its password.
///
/// - `set -euo pipefail`: the first failure is the task's exit code, which decides whether
///   the phase goes on (the image's own `_AIRFLOW_DB_MIGRATE` runs `airflow db migrate || true`
///   and would hide a failed migration).
/// - `airflow users create` exits 0 when the user exists ("already exist in the db"); the
///   `reset-password` after it makes the password equal the Secrets Manager value on every run.
/// - User name and password come from environment variables, never from this text.
pub fn migration_script() -> String {
    format!(
        "set -euo pipefail; \
         airflow db migrate; \
         airflow users create --username \"${ADMIN_USERNAME_VAR}\" --firstname Airflow \
         --lastname Admin --email airflowadmin@example.com --role Admin \
         --password \"${ADMIN_PASSWORD_VAR}\"; \
         airflow users reset-password --username \"${ADMIN_USERNAME_VAR}\" \
         --password \"${ADMIN_PASSWORD_VAR}\""
    )
}
