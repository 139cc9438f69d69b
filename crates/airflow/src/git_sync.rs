//! The git-sync v4 sidecar that delivers DAGs to every component that reads them.
//!
//! Layout: a task volume `dags` (Fargate bind mount on the task's ephemeral storage) mounted
//! read-write at `/git` in git-sync and at `/opt/airflow/dags` in Airflow. git-sync clones
//! into `/git` and points the symlink `/git/repo` at the current checkout, so Airflow reads
//! `/opt/airflow/dags/repo/<subpath>`.
//!
//! # Choices
//! - git-sync runs as root (`user: "0"`): Fargate volumes are root-owned and the image's own
//!   user (65533) cannot write to them. `GITSYNC_GROUP_WRITE=true` makes every file
//!   group-writable, and Airflow runs as its image's user `airflow` (uid 50000, **gid 0**), so
//!   the DAG folder is writable for Airflow too (a read-only DAG folder broke start-up in the
//!   field report).
//! - The sidecar is `essential`: a task whose DAGs can no longer be refreshed is broken and is
//!   better replaced than left running stale.
//! - Airflow `dependsOn` git-sync `HEALTHY`, and git-sync's health check is `test -e /git/repo`
//!   (the link exists only after the first complete sync; git-sync's image has bash and
//!   coreutils). So Airflow never starts on an empty folder (a worker would fail every task
//!   with "DAG not found"), and a repository that cannot be cloned (bad URL, bad credentials)
//!   stops the task with a clear "git-sync unhealthy" reason instead of an empty Airflow.
//!   `START` would not give that guarantee. The check exists even when the component's
//!   `health_checks` are off: it orders start-up, it does not judge Airflow.
//! - `GITSYNC_MAX_FAILURES=-1`: after the first sync, a failing fetch (the git host is down)
//!   is retried forever and logged, rather than exiting (git-sync's default of 0 exits on the
//!   first failure, which, with an essential sidecar, would kill a worker mid-task).

use orchestrate_core::Spec;

use crate::model::{
    ContainerDefinition, ContainerDependency, HealthCheck, KeyValuePair, LogConfiguration,
    MountPoint, Secret, Volume,
};
use crate::wiring::Wiring;

/// Container name of the sidecar.
pub const CONTAINER: &str = "git-sync";
/// Task volume shared by git-sync and Airflow.
pub const VOLUME: &str = "dags";
/// git-sync's root inside its container.
pub const ROOT: &str = "/git";
/// Name of the link to the current checkout, relative to the root.
pub const LINK: &str = "repo";

/// The shared task volume.
pub fn volume() -> Volume {
    Volume {
        name: VOLUME.into(),
    }
}

/// The mount of the DAG volume in an Airflow container (read-write).
pub fn airflow_mount() -> MountPoint {
    MountPoint {
        source_volume: VOLUME.into(),
        container_path: crate::environment::DAGS_MOUNT.into(),
        read_only: Some(false),
    }
}

/// Airflow's start-up dependency on the sidecar.
pub fn dependency() -> ContainerDependency {
    ContainerDependency {
        container_name: CONTAINER.into(),
        condition: "HEALTHY".into(),
    }
}

/// The sidecar container, logging under `log_configuration` (the component's stream prefix).
pub fn container(
    spec: &Spec,
    wiring: &Wiring,
    log_configuration: LogConfiguration,
) -> ContainerDefinition {
    let g = &spec.git_sync;
    let env = [
        ("GITSYNC_REPO", g.repo.clone()),
        ("GITSYNC_REF", g.git_ref.clone()),
        ("GITSYNC_ROOT", ROOT.to_string()),
        ("GITSYNC_LINK", LINK.to_string()),
        ("GITSYNC_PERIOD", format!("{}s", g.period_seconds)),
        ("GITSYNC_ONE_TIME", "false".to_string()),
        ("GITSYNC_MAX_FAILURES", "-1".to_string()),
        ("GITSYNC_GROUP_WRITE", "true".to_string()),
        ("GITSYNC_DEPTH", "1".to_string()),
    ];
    let mut environment: Vec<KeyValuePair> = env
        .into_iter()
        .map(|(name, value)| KeyValuePair {
            name: name.into(),
            value,
        })
        .collect();
    environment.sort();
    let secrets = match &wiring.git_sync_credentials {
        Some(arn) => {
            let arn = arn.render();
            let mut s = vec![
                Secret {
                    name: "GITSYNC_PASSWORD".into(),
                    value_from: format!("{arn}:password::"),
                },
                Secret {
                    name: "GITSYNC_USERNAME".into(),
                    value_from: format!("{arn}:username::"),
                },
            ];
            s.sort();
            s
        }
        None => Vec::new(),
    };
    ContainerDefinition {
        name: CONTAINER.into(),
        image: wiring.git_sync_image.render(),
        essential: Some(true),
        command: Vec::new(),
        environment,
        secrets,
        port_mappings: Vec::new(),
        health_check: Some(HealthCheck {
            command: vec!["CMD-SHELL".into(), format!("test -e {ROOT}/{LINK}")],
            interval: Some(10),
            timeout: Some(5),
            retries: Some(3),
            start_period: Some(crate::component::MAX_START_PERIOD),
        }),
        log_configuration: Some(log_configuration),
        stop_timeout: None,
        mount_points: vec![MountPoint {
            source_volume: VOLUME.into(),
            container_path: ROOT.into(),
            read_only: Some(false),
        }],
        depends_on: Vec::new(),
        user: Some("0".into()),
        readonly_root_filesystem: Some(false),
        linux_parameters: None,
    }
}
