//! Unit tests: pure conversions and diffs, and every AWS interaction against
//! `aws-smithy-mocks` rules.

mod autoscaling;
mod cluster;
mod incomplete;
mod rollout;
mod service;
mod task;
mod taskdef;

use aws_sdk_ecs::types::{
    Deployment, DeploymentRolloutState, Service, ServiceEvent, Task, TaskStopCode,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use orchestrate_core::Context;
use serde_json::{Value, json};

pub(crate) const ACCOUNT: &str = "123456789012";

pub(crate) fn cx() -> Context {
    Context::for_tests("demo")
}

/// Error metadata as the SDK's deserialiser fills it in (code + message).
pub(crate) fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

pub(crate) fn td_arn(family: &str, revision: i32) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{revision}")
}

/// A representative rendered task definition: a git-sync sidecar and an Airflow scheduler
/// using every field this crate converts.
pub(crate) fn rendered() -> Value {
    json!({
        "family": "demo-scheduler",
        "taskRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/demo-task"),
        "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/demo-execution"),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 21},
        "volumes": [{"name": "dags"}],
        "containerDefinitions": [
            {
                "name": "git-sync",
                "image": "registry.k8s.io/git-sync/git-sync:v4.4.0",
                "essential": false,
                "user": "0",
                "environment": [
                    {"name": "GITSYNC_REPO", "value": "https://github.com/example/dags"},
                    {"name": "GITSYNC_ROOT", "value": "/git"}
                ],
                "mountPoints": [{"sourceVolume": "dags", "containerPath": "/git"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/orchestrate/demo", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "scheduler"}
                }
            },
            {
                "name": "scheduler",
                "image": "apache/airflow:3.1.0",
                "essential": true,
                "entryPoint": ["/usr/bin/dumb-init", "--", "/entrypoint"],
                "command": ["scheduler"],
                "workingDirectory": "/opt/airflow",
                "user": "50000",
                "environment": [
                    {"name": "AIRFLOW__CORE__EXECUTOR", "value": "CeleryExecutor"},
                    {"name": "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "value": "true"}
                ],
                "secrets": [
                    {"name": "AIRFLOW__CORE__FERNET_KEY", "valueFrom": format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orchestrate/demo/fernet-key")},
                    {"name": "AIRFLOW__API_AUTH__JWT_SECRET", "valueFrom": format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orchestrate/demo/jwt")}
                ],
                "portMappings": [{"containerPort": 8974, "hostPort": 8974, "protocol": "tcp", "name": "health"}],
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -fsS http://localhost:8974/health"],
                    "interval": 30, "timeout": 10, "retries": 5, "startPeriod": 120
                },
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/orchestrate/demo", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "scheduler"}
                },
                "stopTimeout": 120,
                "mountPoints": [{"sourceVolume": "dags", "containerPath": "/opt/airflow/dags", "readOnly": false}],
                "dependsOn": [{"containerName": "git-sync", "condition": "START"}],
                "readonlyRootFilesystem": false,
                "linuxParameters": {"initProcessEnabled": true}
            }
        ],
        "tags": [
            {"key": "managed-by", "value": "orchestrate"},
            {"key": "orchestrate:deployment", "value": "demo"}
        ]
    })
}

pub(crate) fn event(id: &str, secs: i64, message: &str) -> ServiceEvent {
    ServiceEvent::builder()
        .id(id)
        .created_at(DateTime::from_secs(secs))
        .message(message)
        .build()
}

/// Seconds since the epoch, now (events must not look older than the wait).
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

pub(crate) fn deployment(
    id: &str,
    status: &str,
    revision: i32,
    state: DeploymentRolloutState,
    running: i32,
    desired: i32,
) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td_arn("demo-api-server", revision))
        .rollout_state(state)
        .running_count(running)
        .desired_count(desired)
        .created_at(DateTime::from_secs(now_secs()))
        .build()
}

pub(crate) fn api_service(deployments: Vec<Deployment>, events: Vec<ServiceEvent>) -> Service {
    let primary = deployments
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition())
        .unwrap_or_default()
        .to_string();
    Service::builder()
        .service_name("demo-api-server")
        .service_arn(format!(
            "arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/demo-api-server"
        ))
        .status("ACTIVE")
        .task_definition(primary)
        .set_deployments(Some(deployments))
        .set_events(Some(events))
        .build()
}

pub(crate) fn stopped_task(id: &str, revision: i32, secs: i64, exit: i32, reason: &str) -> Task {
    Task::builder()
        .task_arn(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/{id}"))
        .task_definition_arn(td_arn("demo-api-server", revision))
        .last_status("STOPPED")
        .stopped_at(DateTime::from_secs(secs))
        .stopped_reason("Essential container in task exited")
        .stop_code(TaskStopCode::EssentialContainerExited)
        .containers(
            aws_sdk_ecs::types::Container::builder()
                .name("api-server")
                .exit_code(exit)
                .reason(reason)
                .build(),
        )
        .build()
}

fn assert_send<T: Send>(_: &T) {}

/// The engine converges resources concurrently on a multi-threaded runtime: every public
/// future must be `Send`.
#[test]
fn public_futures_are_send() {
    use aws_smithy_mocks::{RuleMode, mock_client};
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        Vec::<&aws_smithy_mocks::Rule>::new()
    );
    let aas = mock_client!(
        aws_sdk_applicationautoscaling,
        RuleMode::MatchAny,
        Vec::<&aws_smithy_mocks::Rule>::new()
    );
    let cx = cx();
    let rendered = rendered();
    let cluster = crate::ClusterDesired::new(&cx);
    assert_send(&crate::cluster::ensure(&ecs, &cx, &cluster));
    assert_send(&crate::register_if_changed(&ecs, &cx, &rendered));
    let service = crate::ServiceDesired::new(
        &cx,
        "api-server",
        orchestrate_core::Phase::ApiServer,
        "arn",
        1,
        crate::ServiceNetwork::default(),
    );
    assert_send(&crate::service::ensure(&ecs, &cx, &service));
    assert_send(&crate::wait_rollout(
        &ecs,
        &cx,
        "demo",
        "demo-api-server",
        "arn",
        std::time::Duration::from_secs(1),
        |_| {},
    ));
    let task = crate::OneOffTask {
        cluster: "demo".into(),
        task_definition_arn: "arn".into(),
        subnets: vec![],
        security_groups: vec![],
        container_name: "migration".into(),
        command_override: None,
        started_by: crate::task::STARTED_BY,
        client_token: None,
        tags: cx.tags("ecs/migration", orchestrate_core::Phase::ApiServer, "m"),
    };
    assert_send(&crate::run_task(&ecs, &cx, &task));
    assert_send(&crate::wait_task_stopped(
        &ecs,
        &cx,
        "demo",
        "arn",
        "migration",
        std::time::Duration::from_secs(1),
    ));
    let scaling = crate::AutoscalingDesired::new(&cx, "demo-worker", 1, 2, 70.0, 80.0);
    assert_send(&crate::autoscaling::ensure(&aas, &cx, &scaling));
    assert_send(&crate::describe_services(&ecs, "demo", &[]));
}
