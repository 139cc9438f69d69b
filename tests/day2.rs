//! Day-2 operations end to end against the emulator: `logs` (planted lines, `--follow`,
//! Ctrl-C), `airflow -- <args>` (exit codes of the one-off task), `rollback` (every service
//! back one revision, gated like `up`; a rollback the circuit breaker fails), `doctor`
//! (failure signatures planted through awsim and CloudWatch; a healthy deployment), `exec`
//! without the Session Manager plugin, no secret value in any of their output, and `status`
//! with Airflow's own health (a local stand-in for the ALB) and `--watch` in a pipe.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use awsim::Scenario;
use common::{Run, SPEC, TIME_SCALE, World};
use tokio::io::AsyncBufReadExt;

const SERVICES: [&str; 5] = [
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
];

/// `orchestrate <args>` with extra environment variables.
async fn run_with(world: &World, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = world.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
    Run::from(output)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .expect("clock after 1970")
}

/// The running tasks' ids of service `e2e-<component>`.
async fn running_tasks(sdk: &aws_config::SdkConfig, component: &str) -> Vec<String> {
    let out = aws_sdk_ecs::Client::new(sdk)
        .list_tasks()
        .cluster("e2e")
        .service_name(format!("e2e-{component}"))
        .send()
        .await
        .expect("list tasks");
    out.task_arns()
        .iter()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .collect()
}

/// Writes `message` to `<component>/<container>/<task>` in the deployment's log group, as
/// the awslogs driver would.
async fn plant(sdk: &aws_config::SdkConfig, stream: &str, message: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let _ = logs
        .create_log_stream()
        .log_group_name("/orchestrate/e2e")
        .log_stream_name(stream)
        .send()
        .await;
    logs.put_log_events()
        .log_group_name("/orchestrate/e2e")
        .log_stream_name(stream)
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now_ms())
                .message(message)
                .build()
                .expect("event"),
        )
        .send()
        .await
        .expect("put log events");
}

/// A secret value of the deployment, read independently.
async fn secret(sdk: &aws_config::SdkConfig, key: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(format!("orchestrate/e2e/{key}"))
        .send()
        .await
        .expect("get secret value")
        .secret_string()
        .expect("string secret")
        .to_string()
}

/// Reads `lines` until one contains `needle` (bounded).
async fn read_until(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    needle: &str,
    seen: &mut Vec<String>,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} within 60 s; saw {seen:#?}"))
            .expect("read stdout")
            .unwrap_or_else(|| panic!("stdout ended before {needle:?}; saw {seen:#?}"));
        seen.push(line.clone());
        if line.contains(needle) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_show_planted_lines_follow_stops_on_sigint_and_doctor_finds_log_signatures() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;

    // A healthy deployment: one line, exit 0.
    let healthy = world.run(&["doctor"]).await;
    healthy.expect_code(0);
    assert!(
        healthy.stdout.contains("healthy") && healthy.stdout.trim().lines().count() == 1,
        "{}",
        healthy.all()
    );

    let jwt = secret(&sdk, "jwt-secret").await;
    let fernet = secret(&sdk, "fernet-key").await;
    let task = running_tasks(&sdk, "scheduler").await;
    let task = task.first().expect("a running scheduler task").clone();
    let stream = format!("scheduler/scheduler/{task}");
    plant(&sdk, &stream, "planted-line-1 scheduler is up").await;
    plant(
        &sdk,
        &stream,
        &format!("planted-secret jwt={jwt} fernet={fernet} Invalid auth token: Signature verification failed"),
    )
    .await;

    let logs = world.run(&["logs", "scheduler", "--since", "10m"]).await;
    logs.expect_code(0);
    assert!(
        logs.stdout.contains("planted-line-1 scheduler is up"),
        "{}",
        logs.all()
    );
    assert!(
        logs.stdout.contains(&format!("{}/scheduler", &task[..8])),
        "task prefix: {}",
        logs.stdout
    );
    assert!(
        logs.stdout.contains("planted-secret jwt=(sensitive)"),
        "{}",
        logs.stdout
    );
    for value in [&jwt, &fernet] {
        assert!(
            !logs.all().contains(value.as_str()),
            "a secret leaked: {}",
            logs.all()
        );
    }

    // --follow: shows the old line, then one written after it started; Ctrl-C exits 0.
    let mut child = world
        .command(&["logs", "scheduler", "--follow", "--since", "10m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    read_until(&mut lines, "planted-line-1", &mut seen).await;
    plant(&sdk, &stream, "planted-line-2 written while following").await;
    read_until(&mut lines, "planted-line-2", &mut seen).await;
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s of SIGINT")
        .expect("wait");
    assert_eq!(status.code(), Some(0), "Ctrl-C exits 0; saw {seen:#?}");
    for value in [&jwt, &fernet] {
        assert!(
            !seen.iter().any(|l| l.contains(value.as_str())),
            "a secret leaked"
        );
    }

    // Doctor: each log signature planted in a component's stream is a finding with its fix.
    let planted: [(&str, &str, &str, &str); 7] = [
        (
            "scheduler",
            "scheduler",
            "database-auth",
            "sqlalchemy.exc.OperationalError: FATAL:  password authentication failed for user \"airflow\"",
        ),
        (
            "triggerer",
            "triggerer",
            "database-unreachable",
            "connection to server at \"e2e.x.rds.amazonaws.com\" (10.40.3.4), port 5432 failed: Connection timed out",
        ),
        (
            "worker",
            "worker",
            "worker-cannot-reach-api-server",
            "httpx.ConnectError: [Errno -2] Name or service not known: http://api-server.e2e.local:8080/execution/",
        ),
        (
            "dag-processor",
            "git-sync",
            "dag-folder",
            "fatal: Authentication failed for 'https://github.com/example-org/airflow-dags.git/'",
        ),
        (
            "worker",
            "worker",
            "task-role-permission",
            "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the PutObject operation: User: arn:aws:sts::123:assumed-role/e2e-ecs-task/x is not authorized to perform: s3:PutObject",
        ),
        (
            "triggerer",
            "triggerer",
            "architecture-mismatch",
            "exec /usr/bin/dumb-init: exec format error",
        ),
        (
            "worker",
            "worker",
            "oom",
            "worker: Warm shutdown; OOMKilled",
        ),
    ];
    for (component, container, _, line) in planted {
        let task = running_tasks(&sdk, component).await;
        let task = task.first().expect("a running task");
        plant(&sdk, &format!("{component}/{container}/{task}"), line).await;
    }
    let doctor = world.run(&["doctor"]).await;
    doctor.expect_code(3);
    eprintln!("--- doctor:\n{}", doctor.stdout);
    for (component, _, id, _) in planted {
        assert!(
            doctor.stdout.contains(&format!("[{id}] {component}")),
            "finding {id} for {component}: {}",
            doctor.all()
        );
    }
    assert!(
        doctor.stdout.contains("[jwt-secret] scheduler"),
        "{}",
        doctor.stdout
    );
    assert!(doctor.stdout.contains("fix:"), "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("[components.worker].memory"),
        "the OOM fix names the spec field: {}",
        doctor.stdout
    );
    for value in [&jwt, &fernet] {
        assert!(
            !doctor.all().contains(value.as_str()),
            "a secret leaked: {}",
            doctor.all()
        );
    }
    let json = world.run(&["--output", "json", "doctor"]).await;
    json.expect_code(3);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("doctor JSON");
    assert!(
        parsed["findings"]
            .as_array()
            .is_some_and(|f| f.len() >= planted.len())
    );
    assert!(!json.stdout.contains(jwt.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_finds_the_signatures_of_stopped_tasks_and_events() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let scenario = Scenario::from_json(&format!(
        r#"{{"time_scale": {TIME_SCALE}, "ecs_failures": [
            {{"service": "e2e-worker", "kind": "oom"}},
            {{"service": "e2e-triggerer", "kind": "fail_to_start"}},
            {{"service": "e2e-scheduler", "kind": "fail_health_check"}},
            {{"service": "e2e-dag-processor", "kind": "fail_to_start",
              "stopped_reason": "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 1.dkr.ecr.us-east-1.amazonaws.com/e2e/airflow:x: not found"}},
            {{"service": "e2e-api-server", "kind": "exit",
              "stopped_reason": "Your Spot Task was interrupted."}}
        ], "target_health": [
            {{"id": "10.40.1.5", "port": 8080, "state": "unhealthy",
              "reason": "Target.FailedHealthChecks", "description": "Health checks failed"}}
        ]}}"#
    ))
    .expect("scenario parses");
    world.set_scenario(scenario);
    let sdk = world.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    for component in SERVICES {
        ecs.update_service()
            .cluster("e2e")
            .service(format!("e2e-{component}"))
            .force_new_deployment(true)
            .send()
            .await
            .expect("force a new deployment");
    }
    // Until every service's new deployment has failed (the circuit breaker's events).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = ecs
            .describe_services()
            .cluster("e2e")
            .set_services(Some(SERVICES.iter().map(|s| format!("e2e-{s}")).collect()))
            .send()
            .await
            .expect("describe services");
        let failed = out
            .services()
            .iter()
            .filter(|s| {
                s.events().iter().any(|e| {
                    e.message().is_some_and(|m| {
                        m.contains("deployment failed") || m.contains("rolling back")
                    })
                })
            })
            .count();
        if failed == SERVICES.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "every deployment failed within 90 s ({failed})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let doctor = world.run(&["doctor"]).await;
    doctor.expect_code(3);
    eprintln!("--- doctor:\n{}", doctor.stdout);
    for (id, component) in [
        ("oom", "worker"),
        ("secrets-not-injected", "triggerer"),
        ("health-check-start-up", "scheduler"),
        ("image-pull", "dag-processor"),
        ("spot-interruption", "api-server"),
        ("circuit-breaker", "worker"),
        ("circuit-breaker", "triggerer"),
        ("health-check-start-up", "api-server"),
    ] {
        assert!(
            doctor.stdout.contains(&format!("[{id}] {component}")),
            "finding {id} for {component}: {}",
            doctor.all()
        );
    }
    assert!(
        doctor.stdout.contains("evidence: stopped task"),
        "{}",
        doctor.stdout
    );
    // The unhealthy target awsim planted (moto knows no ECS-registered target).
    assert!(
        doctor.stdout.contains(
            "target health 10.40.1.5:8080: \"unhealthy: Target.FailedHealthChecks (Health checks failed)\""
        ),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("health_check_grace_seconds"),
        "{}",
        doctor.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_forgets_a_failure_a_later_deployment_recovered_from() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    // Revision 2 of the worker is OOM-killed: `up` fails, the circuit breaker rolls back.
    let failing = Scenario::from_json(&format!(
        r#"{{"time_scale": {TIME_SCALE}, "ecs_failures": [
            {{"family": "e2e-worker", "revision": 2, "kind": "oom"}}]}}"#
    ))
    .expect("scenario parses");
    world.set_scenario(failing);
    let new_image = [("ORCHESTRATE__IMAGE__TAG", "3.3.2-build2")];
    run_with(&world, &["up"], &new_image).await.expect_code(3);
    let doctor = world.run(&["doctor"]).await;
    doctor.expect_code(3);
    assert!(
        doctor.stdout.contains("[oom] worker"),
        "the failed rollout's evidence: {}",
        doctor.all()
    );

    // Fixed (here: the emulator stops killing it) and deployed again: history, not a finding.
    world.set_scenario(Scenario::default().with_time_scale(TIME_SCALE));
    run_with(&world, &["up"], &new_image).await.expect_code(0);
    let after = world.run(&["doctor"]).await;
    after.expect_code(0);
    assert!(
        after
            .stdout
            .contains("healthy, no known failure signature found"),
        "{}",
        after.all()
    );
    assert!(!after.stdout.contains("[oom]"), "{}", after.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn airflow_runs_a_one_off_task_and_exits_with_its_exit_code() {
    let scenario = Scenario::from_json(
        r#"{"run_task": [
            {"family": "e2e-migration", "command_contains": "dags list", "exit_code": 0},
            {"family": "e2e-migration", "command_contains": "db check", "exit_code": 2}
        ]}"#,
    )
    .expect("scenario");
    let world = World::start(SPEC, scenario).await;
    world.run(&["up", "--phase", "2"]).await.expect_code(0);
    world.sim.reset_accounting();
    let ok = world.run(&["airflow", "--", "dags", "list"]).await;
    ok.expect_code(0);
    assert!(ok.stderr.contains("exited 0"), "{}", ok.all());
    let failed = world.run(&["airflow", "--", "db", "check"]).await;
    failed.expect_code(2);
    assert!(failed.stderr.contains("exited 2"), "{}", failed.all());
    assert_eq!(world.sim.summary().count("ecs", "RunTask"), 2);
    // The task ran the migration's definition with the command overridden.
    let sdk = world.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let listed = ecs
        .list_tasks()
        .cluster("e2e")
        .family("e2e-migration")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .expect("list tasks");
    let described = ecs
        .describe_tasks()
        .cluster("e2e")
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .expect("describe tasks");
    let cli: Vec<_> = described
        .tasks()
        .iter()
        .filter(|t| t.started_by() == Some("orchestrate-airflow-cli"))
        .collect();
    assert_eq!(cli.len(), 2, "two airflow tasks");
    for task in cli {
        assert!(
            task.task_definition_arn()
                .is_some_and(|a| a.contains("e2e-migration:")),
            "{task:?}"
        );
    }
    // `logs migration` shows the migration task, not the airflow ones.
    let logs = world.run(&["logs", "migration"]).await;
    logs.expect_code(0);
}

/// The revision number each service runs.
async fn revisions(sdk: &aws_config::SdkConfig) -> Vec<(String, String)> {
    let out = aws_sdk_ecs::Client::new(sdk)
        .describe_services()
        .cluster("e2e")
        .set_services(Some(SERVICES.iter().map(|s| format!("e2e-{s}")).collect()))
        .send()
        .await
        .expect("describe services");
    out.services()
        .iter()
        .map(|s| {
            (
                s.service_name().unwrap_or_default().to_string(),
                s.task_definition()
                    .and_then(|t| t.rsplit(':').next())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_returns_every_service_to_the_previous_revision_and_a_failed_one_exits_3() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    let sdk = world.sdk().await;
    assert!(revisions(&sdk).await.iter().all(|(_, r)| r == "1"));
    run_with(
        &world,
        &["up"],
        &[("ORCHESTRATE__IMAGE__TAG", "3.3.2-build2")],
    )
    .await
    .expect_code(0);
    let after_up = revisions(&sdk).await;
    assert!(after_up.iter().all(|(_, r)| r == "2"), "{after_up:?}");

    // Another run holds the deployment: refused with exit 2 before any change.
    common::seed_foreign_lease(&sdk, std::time::Duration::from_secs(600)).await;
    world.sim.reset_accounting();
    let held = world.run(&["rollback"]).await;
    held.expect_code(2);
    assert!(
        held.stderr.contains("ci-runner-7") && held.stderr.contains("--break-lock"),
        "{}",
        held.all()
    );
    assert_eq!(
        world.mutating_calls(),
        Vec::<String>::new(),
        "{}",
        held.all()
    );
    assert_eq!(revisions(&sdk).await, after_up);
    let rollback = world.run(&["rollback", "--break-lock"]).await;
    rollback.expect_code(0);
    let back = revisions(&sdk).await;
    assert_eq!(back.len(), SERVICES.len());
    assert!(
        back.iter().all(|(_, r)| r == "1"),
        "{back:?}\n{}",
        rollback.all()
    );
    for component in SERVICES {
        assert!(
            rollback.stdout.contains(&format!(
                "rolled back e2e-{component}: e2e-{component}:2 -> e2e-{component}:1"
            )),
            "{}",
            rollback.all()
        );
    }
    // Nothing older than revision 1: refused before any change.
    world.sim.reset_accounting();
    let none = world.run(&["rollback", "worker"]).await;
    none.expect_code(2);
    assert!(
        none.stderr.contains("no earlier ACTIVE revision"),
        "{}",
        none.all()
    );
    assert!(
        world.applied_mutations().is_empty(),
        "{:?}",
        world.applied_mutations()
    );

    // Back to revision 2, then a rollback to revision 1 the circuit breaker fails: exit 3.
    run_with(
        &world,
        &["up"],
        &[("ORCHESTRATE__IMAGE__TAG", "3.3.2-build2")],
    )
    .await
    .expect_code(0);
    let scenario = Scenario::from_json(&format!(
        r#"{{"time_scale": {TIME_SCALE}, "ecs_failures": [
            {{"family": "e2e-scheduler", "revision": 1, "kind": "fail_to_start"}}]}}"#
    ))
    .expect("scenario");
    world.set_scenario(scenario);
    let failed = run_with(
        &world,
        &["rollback", "scheduler"],
        &[("ORCHESTRATE__IMAGE__TAG", "3.3.2-build2")],
    )
    .await;
    failed.expect_code(3);
    assert!(failed.stderr.contains("e2e-scheduler"), "{}", failed.all());
    assert!(
        failed.stderr.contains("circuit breaker"),
        "{}",
        failed.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_without_the_session_manager_plugin_says_what_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("orchestrate.toml");
    std::fs::write(&spec, SPEC).expect("spec");
    let empty = dir.path().join("bin");
    std::fs::create_dir_all(&empty).expect("bin");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"))
        .arg("--config")
        .arg(&spec)
        .args(["exec", "scheduler"])
        .env_clear()
        .env("PATH", &empty)
        .env("HOME", dir.path())
        // Nothing listens here: the check must come before any AWS call.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .await
        .expect("run");
    let run = Run::from(output);
    run.expect_code(1);
    assert!(
        run.stderr.contains("session-manager-plugin"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("install"), "{}", run.stderr);
    assert!(!run.stderr.contains("could not reach"), "{}", run.stderr);
}

/// What the stand-in for the ALB answers on Airflow's health endpoint.
const HEALTH_BODY: &str = r#"{"metadatabase": {"status": "healthy"},
 "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-01-02T03:04:05+00:00"},
 "triggerer": {"status": "unhealthy", "latest_triggerer_heartbeat": "2026-01-02T01:00:00+00:00"},
 "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": "2026-01-02T03:04:00+00:00"}}"#;

/// A tiny HTTP server on 127.0.0.1 standing in for the ALB: answers every request with
/// [`HEALTH_BODY`] and records each request line. Returns its health URL and the record.
async fn health_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the health stand-in");
    let port = listener.local_addr().expect("addr").port();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = requests.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                if let Some(line) = head.lines().next() {
                    record.lock().expect("record").push(line.to_string());
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{HEALTH_BODY}",
                    HEALTH_BODY.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (
        format!("http://127.0.0.1:{port}/api/v2/monitor/health"),
        requests,
        server,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_airflows_health_and_watch_in_a_pipe_prints_blocks_until_sigint() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up", "--phase", "2"]).await.expect_code(0);
    let (url, requests, server) = health_server().await;
    let env = [("ORCHESTRATE_HEALTH_URL", url.as_str())];

    // Once: ECS's view and Airflow's, side by side.
    let status = run_with(&world, &["status"], &env).await;
    status.expect_code(0);
    for expected in [
        "e2e-api-server",
        &format!("airflow health ({url}):"),
        "  metadatabase   healthy\n",
        "  scheduler      healthy  heartbeat 2026-01-02T03:04:05+00:00",
        "  triggerer      unhealthy  heartbeat 2026-01-02T01:00:00+00:00",
        "  dag_processor  healthy",
    ] {
        assert!(
            status.stdout.contains(expected),
            "{expected:?} in {}",
            status.all()
        );
    }
    assert_eq!(
        requests.lock().expect("record").first().map(String::as_str),
        Some("GET /api/v2/monitor/health HTTP/1.1"),
        "one GET of the health endpoint"
    );
    let json = run_with(&world, &["--output", "json", "status"], &env).await;
    json.expect_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    assert_eq!(value["airflow_health"]["state"], "reported", "{value}");
    assert_eq!(
        value["airflow_health"]["components"][2]["status"], "unhealthy",
        "{value}"
    );
    assert!(
        value["airflow_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://")),
        "the ALB's URL: {value}"
    );

    // Nothing answering: one line saying so, and status still succeeds.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let closed_url = format!("http://127.0.0.1:{closed}/api/v2/monitor/health");
    let unreachable = run_with(
        &world,
        &["status"],
        &[("ORCHESTRATE_HEALTH_URL", closed_url.as_str())],
    )
    .await;
    unreachable.expect_code(0);
    assert!(
        unreachable
            .stdout
            .contains(&format!("airflow health: unreachable at {closed_url} (")),
        "{}",
        unreachable.all()
    );

    // --watch in a pipe: timestamped blocks, each with both views; Ctrl-C exits 0.
    let mut cmd = world.command(&["status", "--watch", "--interval", "1s"]);
    let mut child = cmd
        .env("ORCHESTRATE_HEALTH_URL", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn status --watch");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for _ in 0..2 {
        read_until(&mut lines, "--- ", &mut seen).await;
        read_until(&mut lines, "  dag_processor  healthy", &mut seen).await;
    }
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30 s of SIGINT")
        .expect("wait");
    assert_eq!(exit.code(), Some(0), "Ctrl-C exits 0; saw {seen:#?}");
    let blocks: Vec<&String> = seen.iter().filter(|l| l.starts_with("--- ")).collect();
    assert_eq!(blocks.len(), 2, "{seen:#?}");
    for block in blocks {
        let time = block.trim_start_matches("--- ");
        assert!(
            time.len() == "2026-01-02T03:04:05.678Z".len() && time.ends_with('Z'),
            "a timestamp: {block}"
        );
    }
    assert!(
        !seen.iter().any(|l| l.contains('\x1b')),
        "no terminal control codes in a pipe: {seen:#?}"
    );
    server.abort();
}

#[test]
fn every_day2_command_has_an_example_in_its_help() {
    for command in ["status", "logs", "airflow", "rollback", "doctor", "exec"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"))
            .args([command, "--help"])
            .output()
            .expect("help");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command}: {text}");
        assert!(
            text.contains(&format!("orchestrate {command}")) && text.contains("Example"),
            "{command} --help has an example: {text}"
        );
    }
}
