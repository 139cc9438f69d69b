//! Rendered task definitions: snapshots plus an explicit assertion for every rule that matters.

mod common;

use orchestrate_airflow::component::{ADMIN_PASSWORD_VAR, MAX_START_PERIOD, MAX_STOP_TIMEOUT};
use orchestrate_airflow::model::{ContainerDefinition, TaskDefinition};
use orchestrate_airflow::{
    AIRFLOW_SECRETS, Component, Wiring, has_placeholders, is_secret_name, placeholders, render_all,
    task_definition, to_json,
};
use orchestrate_core::spec::Architecture;

use common::{spec, wiring};

fn rendered(component: Component) -> TaskDefinition {
    let spec = spec();
    task_definition(&spec, &wiring(&spec), component)
}

fn airflow(td: &TaskDefinition, component: Component) -> &ContainerDefinition {
    td.container(component.container_name())
        .expect("the Airflow container is present")
}

#[test]
fn snapshots_of_every_component_with_git_sync() {
    for component in Component::ALL {
        let td = rendered(component);
        // Keys sorted: serde_json's key order depends on whether another crate of the build
        // turned on its `preserve_order` feature (the AWS SDK does, in a workspace build).
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!(component.name(), to_json(&td));
        });
    }
}

#[test]
fn snapshot_of_a_rendering_before_phase_one_exists() {
    let spec = spec();
    let td = task_definition(&spec, &Wiring::pending(&spec), Component::Migration);
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("migration-pending", to_json(&td));
    });
}

#[test]
fn rendering_is_deterministic_and_sorted() {
    let spec = spec();
    let w = wiring(&spec);
    assert_eq!(render_all(&spec, &w), render_all(&spec, &w));
    for td in render_all(&spec, &w) {
        for c in &td.container_definitions {
            let env: Vec<_> = c.environment.iter().map(|e| &e.name).collect();
            assert!(env.is_sorted(), "{} environment unsorted", c.name);
            let secrets: Vec<_> = c.secrets.iter().map(|s| &s.name).collect();
            assert!(secrets.is_sorted(), "{} secrets unsorted", c.name);
        }
        let keys: Vec<_> = td.tags.iter().map(|t| &t.key).collect();
        assert!(keys.is_sorted());
    }
}

#[test]
fn no_secret_ever_reaches_environment() {
    let mut spec = spec();
    // A user who pastes secrets into [airflow].environment: they must be dropped.
    for (name, _) in AIRFLOW_SECRETS {
        spec.airflow
            .environment
            .insert(name.to_string(), "postgresql://u:leaked@h/db".into());
    }
    let w = wiring(&spec);
    for td in render_all(&spec, &w) {
        for c in &td.container_definitions {
            for kv in &c.environment {
                assert!(
                    !is_secret_name(&kv.name),
                    "{}: secret variable {} in environment",
                    td.family,
                    kv.name
                );
                let lower = kv.value.to_lowercase();
                for looks_secret in [
                    "postgresql://",
                    "postgresql+psycopg2://",
                    "redis://",
                    "rediss://",
                    "leaked",
                    "arn:aws:secretsmanager",
                    "password",
                ] {
                    assert!(
                        !lower.contains(looks_secret),
                        "{}: {} = {} looks secret",
                        td.family,
                        kv.name,
                        kv.value
                    );
                }
            }
        }
    }
}

#[test]
fn every_secret_is_referenced_by_arn() {
    let spec = spec();
    for td in render_all(&spec, &wiring(&spec)) {
        for c in &td.container_definitions {
            for s in &c.secrets {
                assert!(
                    s.value_from.starts_with("arn:aws:secretsmanager:"),
                    "{} {}: {}",
                    td.family,
                    s.name,
                    s.value_from
                );
            }
        }
    }
    for component in Component::ALL {
        let td = rendered(component);
        let c = airflow(&td, component);
        for (name, _) in AIRFLOW_SECRETS {
            assert!(c.secret(name).is_some(), "{component}: {name} missing");
            assert!(c.env(name).is_none());
        }
        assert_eq!(
            c.secret(ADMIN_PASSWORD_VAR).is_some(),
            component == Component::Migration,
            "only the migration receives the admin password"
        );
    }
}

#[test]
fn shared_values_are_identical_in_every_component() {
    let shared_secrets = [
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
    ];
    let shared_env = [
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER",
        "AIRFLOW__API__BASE_URL",
    ];
    let all: Vec<_> = Component::ALL.iter().map(|c| (*c, rendered(*c))).collect();
    let (first, first_td) = &all[0];
    let reference = airflow(first_td, *first);
    for (component, td) in &all {
        let c = airflow(td, *component);
        for name in shared_secrets {
            assert_eq!(
                c.secret(name),
                reference.secret(name),
                "{component}: {name}"
            );
        }
        for name in shared_env {
            assert_eq!(c.env(name), reference.env(name), "{component}: {name}");
            assert!(c.env(name).is_some(), "{component}: {name} unset");
        }
        assert_eq!(c.image, reference.image, "{component}: image");
    }
    assert_eq!(
        reference.env("AIRFLOW__CORE__EXECUTION_API_SERVER_URL"),
        Some("http://api-server.demo.orchestrate.internal:8080/execution/")
    );
    assert_eq!(
        reference.env("AIRFLOW__CORE__AUTH_MANAGER"),
        Some("airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")
    );
    assert_eq!(
        reference.env("AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"),
        Some("cloudwatch://arn:aws:logs:eu-west-1:123456789012:log-group:/orchestrate/demo/tasks"),
        "the :* DescribeLogGroups appends is stripped"
    );
    assert_eq!(
        reference.env("AIRFLOW__LOGGING__REMOTE_LOGGING"),
        Some("true")
    );
}

#[test]
fn git_sync_runs_as_root_on_a_writable_volume_and_airflow_waits_for_it() {
    for component in Component::ALL {
        let td = rendered(component);
        let sidecar = td.container("git-sync");
        if !component.reads_dags() {
            assert!(sidecar.is_none(), "{component} needs no DAG files");
            assert!(td.volumes.is_empty());
            assert!(
                airflow(&td, component)
                    .env("AIRFLOW__CORE__DAGS_FOLDER")
                    .is_none()
            );
            continue;
        }
        let sidecar = sidecar.expect("DAG readers get git-sync");
        assert_eq!(sidecar.user.as_deref(), Some("0"));
        assert_eq!(sidecar.essential, Some(true));
        assert_eq!(sidecar.mount_points.len(), 1);
        assert_eq!(sidecar.mount_points[0].container_path, "/git");
        assert_eq!(sidecar.mount_points[0].read_only, Some(false));
        assert_eq!(sidecar.env("GITSYNC_ROOT"), Some("/git"));
        assert_eq!(sidecar.env("GITSYNC_LINK"), Some("repo"));
        assert_eq!(sidecar.env("GITSYNC_PERIOD"), Some("60s"));
        assert_eq!(sidecar.env("GITSYNC_ONE_TIME"), Some("false"));
        assert_eq!(sidecar.env("GITSYNC_GROUP_WRITE"), Some("true"));
        assert_eq!(sidecar.env("GITSYNC_REF"), Some("main"));
        let check = sidecar
            .health_check
            .as_ref()
            .expect("git-sync health check");
        assert_eq!(check.command, ["CMD-SHELL", "test -e /git/repo"]);
        let creds = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dags-token-XyZ123";
        assert_eq!(
            sidecar.secret("GITSYNC_USERNAME"),
            Some(format!("{creds}:username::").as_str())
        );
        assert_eq!(
            sidecar.secret("GITSYNC_PASSWORD"),
            Some(format!("{creds}:password::").as_str())
        );

        let main = airflow(&td, component);
        assert_eq!(main.user, None, "Airflow runs as its image's user");
        assert_eq!(main.mount_points.len(), 1);
        assert_eq!(main.mount_points[0].container_path, "/opt/airflow/dags");
        assert_eq!(main.mount_points[0].read_only, Some(false));
        assert_eq!(
            main.mount_points[0].source_volume,
            sidecar.mount_points[0].source_volume
        );
        assert_eq!(td.volumes.len(), 1);
        assert_eq!(td.volumes[0].name, main.mount_points[0].source_volume);
        assert_eq!(main.depends_on.len(), 1);
        assert_eq!(main.depends_on[0].container_name, "git-sync");
        assert_eq!(main.depends_on[0].condition, "HEALTHY");
        assert_eq!(
            main.env("AIRFLOW__CORE__DAGS_FOLDER"),
            Some("/opt/airflow/dags/repo/dags")
        );
    }
}

#[test]
fn without_a_repository_there_is_no_sidecar() {
    let mut spec = spec();
    spec.git_sync.repo = String::new();
    for td in render_all(&spec, &wiring(&spec)) {
        assert_eq!(td.container_definitions.len(), 1, "{}", td.family);
        assert!(td.volumes.is_empty());
        let c = &td.container_definitions[0];
        assert!(c.depends_on.is_empty() && c.mount_points.is_empty());
        assert!(c.env("AIRFLOW__CORE__DAGS_FOLDER").is_none());
    }
}

#[test]
fn sizing_architecture_and_timeouts() {
    let spec = spec();
    let worker = rendered(Component::Worker);
    let memory: u32 = worker
        .memory
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("number");
    assert!(memory >= 2048, "worker memory {memory}");
    assert_eq!(airflow(&worker, Component::Worker).stop_timeout, Some(120));
    assert_eq!(
        airflow(&worker, Component::Worker).env("DUMB_INIT_SETSID"),
        Some("0"),
        "warm Celery shutdown"
    );
    for component in Component::ALL {
        let td = rendered(component);
        let arch = td
            .runtime_platform
            .as_ref()
            .and_then(|p| p.cpu_architecture.as_deref());
        let os = td
            .runtime_platform
            .as_ref()
            .and_then(|p| p.operating_system_family.as_deref());
        assert_eq!(os, Some("LINUX"));
        let expected = if component == Component::Worker && spec.components.worker.spot {
            "X86_64"
        } else {
            "ARM64"
        };
        assert_eq!(arch, Some(expected), "{component}");
        assert_eq!(td.network_mode.as_deref(), Some("awsvpc"));
        assert_eq!(td.requires_compatibilities, ["FARGATE"]);
        assert_eq!(td.family, format!("demo-{}", component.name()));
        for c in &td.container_definitions {
            assert!(c.stop_timeout.unwrap_or(30) <= MAX_STOP_TIMEOUT);
            assert_eq!(c.readonly_root_filesystem, Some(false));
        }
        let c = airflow(&td, component);
        assert_eq!(
            c.linux_parameters
                .as_ref()
                .and_then(|l| l.init_process_enabled),
            Some(true)
        );
        let logs = c.log_configuration.as_ref().expect("logs");
        assert_eq!(logs.log_driver, "awslogs");
        assert_eq!(logs.options["awslogs-stream-prefix"], component.name());
        assert_eq!(logs.options["awslogs-group"], "/orchestrate/demo");
        assert_eq!(logs.options["awslogs-region"], "eu-west-1");
        assert!(
            td.ephemeral_storage.is_none(),
            "21 GiB is Fargate's default"
        );
    }

    let mut on_demand = spec.clone();
    on_demand.components.worker.spot = false;
    let td = task_definition(&on_demand, &wiring(&on_demand), Component::Worker);
    assert_eq!(
        td.runtime_platform
            .and_then(|p| p.cpu_architecture)
            .as_deref(),
        Some("ARM64")
    );

    let mut bigger = spec.clone();
    bigger.components.scheduler.ephemeral_storage_gb = 50;
    bigger.components.scheduler.architecture = Some(Architecture::X86_64);
    let td = task_definition(&bigger, &wiring(&bigger), Component::Scheduler);
    assert_eq!(td.ephemeral_storage.map(|e| e.size_in_gib), Some(50));
    assert_eq!(
        td.runtime_platform
            .and_then(|p| p.cpu_architecture)
            .as_deref(),
        Some("X86_64")
    );
}

#[test]
fn health_checks_as_specified() {
    let expected = [
        (
            Component::ApiServer,
            "curl --fail http://localhost:8080/api/v2/version",
        ),
        (
            Component::Scheduler,
            "curl --fail http://localhost:8974/health",
        ),
        (
            Component::DagProcessor,
            "airflow jobs check --job-type DagProcessorJob --local",
        ),
        (
            Component::Triggerer,
            "airflow jobs check --job-type TriggererJob --local",
        ),
        (
            Component::Worker,
            "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d \"celery@$(hostname)\"",
        ),
    ];
    let mut spec = spec();
    spec.components.api_server.health_check_grace_seconds = 600;
    let w = wiring(&spec);
    for (component, command) in expected {
        let td = task_definition(&spec, &w, component);
        let check = airflow(&td, component)
            .health_check
            .clone()
            .expect("health check on");
        assert_eq!(check.command, ["CMD-SHELL", command], "{component}");
        assert_eq!(check.interval, Some(30));
        assert_eq!(check.retries, Some(5));
        let timeout = check.timeout.expect("timeout");
        assert!((10..=20).contains(&timeout), "{component}: {timeout}");
        let start = check.start_period.expect("start period");
        assert!(start <= MAX_START_PERIOD, "{component}: {start}");
    }
    let scheduler = task_definition(&spec, &w, Component::Scheduler);
    assert_eq!(
        airflow(&scheduler, Component::Scheduler).env("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"),
        Some("true")
    );
    let migration = task_definition(&spec, &w, Component::Migration);
    assert!(
        airflow(&migration, Component::Migration)
            .health_check
            .is_none()
    );
}

#[test]
fn health_checks_switched_off_leave_no_airflow_health_check() {
    let mut spec = spec();
    spec.components.api_server.health_checks = false;
    spec.components.scheduler.health_checks = false;
    spec.components.dag_processor.health_checks = false;
    spec.components.triggerer.health_checks = false;
    spec.components.worker.component.health_checks = false;
    for component in Component::ALL {
        let td = task_definition(&spec, &wiring(&spec), component);
        assert!(
            airflow(&td, component).health_check.is_none(),
            "{component}"
        );
        assert!(
            !to_json(&td)["containerDefinitions"][0]
                .as_object()
                .expect("object")
                .contains_key("healthCheck"),
            "{component}: healthCheck must be absent from the JSON"
        );
        // git-sync's check orders start-up (dependsOn HEALTHY) and stays.
        if let Some(sidecar) = td.container("git-sync") {
            assert!(sidecar.health_check.is_some());
        }
    }
    // The other components are untouched.
    let mut only_one = self::spec();
    only_one.components.triggerer.health_checks = false;
    let td = task_definition(&only_one, &wiring(&only_one), Component::Scheduler);
    assert!(airflow(&td, Component::Scheduler).health_check.is_some());
}

#[test]
fn commands_and_the_migration_script() {
    let commands = [
        (Component::ApiServer, vec!["api-server"]),
        (Component::Scheduler, vec!["scheduler"]),
        (Component::DagProcessor, vec!["dag-processor"]),
        (Component::Triggerer, vec!["triggerer"]),
        (Component::Worker, vec!["celery", "worker"]),
    ];
    for (component, command) in commands {
        assert_eq!(airflow(&rendered(component), component).command, command);
    }
    let td = rendered(Component::Migration);
    let c = airflow(&td, Component::Migration);
    assert_eq!(c.command.len(), 3);
    assert_eq!(c.command[..2], ["bash", "-c"]);
    let script = &c.command[2];
    assert!(script.starts_with("set -euo pipefail; airflow db migrate; "));
    assert!(script.contains("airflow users create --username \"$_AIRFLOW_ADMIN_USERNAME\""));
    assert!(script.contains("--role Admin --password \"$_AIRFLOW_ADMIN_PASSWORD\""));
    assert!(
        script.contains("airflow users reset-password --username \"$_AIRFLOW_ADMIN_USERNAME\"")
    );
    assert!(
        !script.contains("|| true"),
        "a failed migration must fail the task"
    );
    assert_eq!(c.env("_AIRFLOW_ADMIN_USERNAME"), Some("admin"));
    assert!(c.env("_AIRFLOW_ADMIN_PASSWORD").is_none());
    assert_eq!(
        c.secret("_AIRFLOW_ADMIN_PASSWORD"),
        Some(common::secret_arn("admin-password").as_str())
    );
    assert!(c.port_mappings.is_empty());
    assert!(c.stop_timeout.is_none());
}

#[test]
fn ports_and_user_environment() {
    let api = rendered(Component::ApiServer);
    let ports: Vec<_> = airflow(&api, Component::ApiServer)
        .port_mappings
        .iter()
        .map(|p| p.container_port)
        .collect();
    assert_eq!(ports, [8080]);
    let worker = rendered(Component::Worker);
    assert_eq!(
        airflow(&worker, Component::Worker).port_mappings[0].container_port,
        8793
    );
    let triggerer = rendered(Component::Triggerer);
    assert_eq!(
        airflow(&triggerer, Component::Triggerer).port_mappings[0].container_port,
        8794
    );
    assert_eq!(
        airflow(&api, Component::ApiServer).env("AIRFLOW__CORE__PARALLELISM"),
        Some("64")
    );
    assert_eq!(
        airflow(&api, Component::ApiServer).env("AIRFLOW__API__BASE_URL"),
        Some("http://demo-alb-1234567890.eu-west-1.elb.amazonaws.com")
    );

    // A user value never overrides what orchestrate sets.
    let mut spec = spec();
    spec.airflow
        .environment
        .insert("AIRFLOW__CORE__EXECUTOR".into(), "LocalExecutor".into());
    spec.load_balancer.certificate_arn =
        Some("arn:aws:acm:eu-west-1:123456789012:certificate/abc".into());
    let td = task_definition(&spec, &wiring(&spec), Component::Scheduler);
    let c = airflow(&td, Component::Scheduler);
    assert_eq!(c.env("AIRFLOW__CORE__EXECUTOR"), Some("CeleryExecutor"));
    assert_eq!(
        c.env("AIRFLOW__API__BASE_URL"),
        Some("https://demo-alb-1234567890.eu-west-1.elb.amazonaws.com")
    );

    // On a domain, Airflow's URL is the domain over HTTPS, whoever's certificate it is.
    spec.load_balancer.domain = Some("airflow.example.com".into());
    spec.load_balancer.hosted_zone_id = Some("Z0123456789ABCDEFGHIJ".into());
    for certificate in [spec.load_balancer.certificate_arn.take(), None] {
        spec.load_balancer.certificate_arn = certificate;
        let td = task_definition(&spec, &wiring(&spec), Component::ApiServer);
        assert_eq!(
            airflow(&td, Component::ApiServer).env("AIRFLOW__API__BASE_URL"),
            Some("https://airflow.example.com")
        );
    }
}

#[test]
fn placeholders_mark_unknown_wiring() {
    let spec = spec();
    let pending = Wiring::pending(&spec);
    for td in render_all(&spec, &pending) {
        assert!(has_placeholders(&td), "{}", td.family);
        let found = placeholders(&td);
        assert!(
            found
                .iter()
                .all(|p| p.starts_with("<pending: ") && p.ends_with('>'))
        );
        assert!(
            found.contains(&"<pending: iam demo-ecs-execution-eu-west-1>".to_string()),
            "{found:?}"
        );
        let c = &td.container_definitions[0];
        assert_eq!(
            c.secret("AIRFLOW__CORE__FERNET_KEY"),
            Some("<pending: secretsmanager orchestrate/demo/fernet-key>")
        );
        assert_eq!(c.image, "<pending: ecr demo/airflow:3.3.2>");
        assert!(c.env("AIRFLOW__API__BASE_URL").is_none(), "no ALB yet");
        // Derivable values are known even before phase 1.
        assert_eq!(
            c.env("AIRFLOW__CORE__EXECUTION_API_SERVER_URL"),
            Some("http://api-server.demo.orchestrate.internal:8080/execution/")
        );
    }
    for td in render_all(&spec, &wiring(&spec)) {
        assert!(!has_placeholders(&td), "{:?}", placeholders(&td));
    }
    let td = task_definition(&spec, &wiring(&spec), Component::Worker);
    assert_eq!(
        td.container_definitions[0].image,
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/airflow:3.3.2"
    );
    assert_eq!(
        td.container("git-sync").map(|c| c.image.as_str()),
        Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/git-sync:v4.4.0")
    );
}

#[test]
fn tags_carry_deployment_component_and_phase() {
    let td = rendered(Component::Worker);
    let tag = |key: &str| {
        td.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    };
    assert_eq!(tag("orchestrate:deployment"), Some("demo"));
    assert_eq!(tag("orchestrate:component"), Some("ecs/worker"));
    assert_eq!(tag("orchestrate:phase"), Some("5"));
    assert_eq!(tag("managed-by"), Some("orchestrate"));
    assert_eq!(tag("team"), Some("data"));
    assert_eq!(tag("Name"), Some("demo-worker"));
}

#[test]
fn a_new_deployment_runs_airflow_3_3_2() {
    // The default spec: both the version the renderer targets and the image tag it deploys.
    let spec = orchestrate_core::Spec::minimal("demo", "eu-west-1");
    assert_eq!(spec.image.airflow_version, "3.3.2");
    assert_eq!(spec.image.tag, "3.3.2");
    assert_eq!(orchestrate_core::spec::DEFAULT_AIRFLOW_VERSION, "3.3.2");
    assert!(orchestrate_core::validate::airflow_version::is_supported(
        &spec.image.airflow_version
    ));
    let td = task_definition(&spec, &Wiring::pending(&spec), Component::ApiServer);
    assert_eq!(
        airflow(&td, Component::ApiServer).image,
        "<pending: ecr demo/airflow:3.3.2>"
    );
}
