use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::types::{AssignPublicIp, Container, Failure, LaunchType, Task, TaskStopCode};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use orchestrate_core::Phase;

use super::{ACCOUNT, cx, td_arn};
use crate::Error;
use crate::task::{OneOffTask, STARTED_BY, log_stream_name, run_task, wait_task_stopped};

fn task_arn() -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/0123456789abcdef")
}

fn migration() -> OneOffTask {
    let cx = cx();
    OneOffTask {
        cluster: "demo".into(),
        task_definition_arn: td_arn("demo-migration", 3),
        subnets: vec!["subnet-a".into()],
        security_groups: vec!["sg-1".into()],
        container_name: "migration".into(),
        command_override: Some(vec!["db".into(), "migrate".into()]),
        started_by: STARTED_BY,
        client_token: Some("demo-migration-3".into()),
        tags: cx.tags("ecs/migration", Phase::ApiServer, "demo-migration"),
    }
}

fn with_status(status: &str) -> Task {
    Task::builder()
        .task_arn(task_arn())
        .last_status(status)
        .build()
}

fn stopped(exit: i32, reason: &str, stop_code: TaskStopCode) -> Task {
    Task::builder()
        .task_arn(task_arn())
        .last_status("STOPPED")
        .stopped_reason(reason)
        .stop_code(stop_code)
        .containers(
            Container::builder()
                .name("migration")
                .exit_code(exit)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn run_task_is_private_fargate_with_the_override() {
    let run = mock!(Client::run_task)
        .match_requests(|r| {
            let vpc = r
                .network_configuration()
                .and_then(|n| n.awsvpc_configuration())
                .expect("awsvpc");
            let over = r.overrides().expect("overrides");
            r.cluster() == Some("demo")
                && r.launch_type() == Some(&LaunchType::Fargate)
                && r.started_by() == Some(STARTED_BY)
                && r.client_token() == Some("demo-migration-3")
                && vpc.assign_public_ip() == Some(&AssignPublicIp::Disabled)
                && vpc.security_groups() == ["sg-1"]
                && over.container_overrides()[0].name() == Some("migration")
                && over.container_overrides()[0].command() == ["db", "migrate"]
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("orchestrate:deployment"))
        })
        .then_output(|| {
            RunTaskOutput::builder()
                .tasks(with_status("PROVISIONING"))
                .build()
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&run]);
    let arn = run_task(&client, &cx(), &migration()).await.expect("run");
    assert_eq!(arn, task_arn());
}

#[tokio::test]
async fn run_task_failures_are_reported() {
    let run = mock!(Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
                    .reason("Capacity is unavailable at this time.")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&run]);
    let err = run_task(&client, &cx(), &migration())
        .await
        .expect_err("no task");
    assert!(matches!(err, Error::RunTaskRejected { .. }));
    assert!(err.to_string().contains("Capacity is unavailable"), "{err}");
}

#[tokio::test]
async fn exit_zero_is_success() {
    let describe = mock!(Client::describe_tasks)
        .match_requests(|r| r.cluster() == Some("demo") && r.tasks() == [task_arn()])
        .sequence()
        .output(|| {
            DescribeTasksOutput::builder()
                .failures(Failure::builder().arn(task_arn()).reason("MISSING").build())
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(with_status("PROVISIONING"))
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(with_status("RUNNING"))
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(with_status("DEACTIVATING"))
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(stopped(
                    0,
                    "Essential container in task exited",
                    TaskStopCode::EssentialContainerExited,
                ))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    let outcome = wait_task_stopped(
        &client,
        &cx(),
        "demo",
        &task_arn(),
        "migration",
        Duration::from_secs(600),
    )
    .await
    .expect("stopped");
    assert!(outcome.succeeded());
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.task_id, "0123456789abcdef");
    assert_eq!(describe.num_calls(), 5);
}

#[tokio::test]
async fn exit_one_carries_the_reason() {
    let describe = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(stopped(
                1,
                "Essential container in task exited",
                TaskStopCode::EssentialContainerExited,
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    let outcome = wait_task_stopped(
        &client,
        &cx(),
        "demo",
        &task_arn(),
        "migration",
        Duration::from_secs(600),
    )
    .await
    .expect("stopped");
    assert!(!outcome.succeeded());
    assert_eq!(outcome.exit_code, Some(1));
    assert_eq!(
        outcome.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(
        outcome.stop_code.as_deref(),
        Some("EssentialContainerExited")
    );
    assert_eq!(outcome.containers[0].name, "migration");
}

#[tokio::test]
async fn a_task_that_never_started_has_no_exit_code() {
    let describe = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn(task_arn())
                    .last_status("STOPPED")
                    .stopped_reason(
                        "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                    )
                    .stop_code(TaskStopCode::TaskFailedToStart)
                    .containers(Container::builder().name("migration").build())
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    let outcome = wait_task_stopped(
        &client,
        &cx(),
        "demo",
        &task_arn(),
        "migration",
        Duration::from_secs(600),
    )
    .await
    .expect("stopped");
    assert_eq!(outcome.exit_code, None);
    assert!(!outcome.succeeded());
    assert_eq!(outcome.stop_code.as_deref(), Some("TaskFailedToStart"));
}

#[tokio::test]
async fn a_task_that_keeps_running_times_out() {
    let describe = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(with_status("RUNNING"))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    let err = wait_task_stopped(
        &client,
        &cx(),
        "demo",
        &task_arn(),
        "migration",
        Duration::from_secs(40),
    )
    .await
    .expect_err("timeout");
    assert!(err.is_timeout());
    assert!(matches!(&err, Error::TaskTimedOut { last_state, .. } if last_state == "RUNNING"));
}

#[test]
fn log_stream_is_prefix_container_task_id() {
    assert_eq!(
        log_stream_name("migration", "migration", &task_arn()),
        "migration/migration/0123456789abcdef"
    );
    assert_eq!(log_stream_name("p", "c", "abc"), "p/c/abc");
}
