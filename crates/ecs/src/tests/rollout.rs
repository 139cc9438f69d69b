use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::DeploymentRolloutState::{Completed, Failed, InProgress};
use aws_sdk_ecs::types::{DesiredStatus, Failure};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::progress::{Event, Recorder};
use orchestrate_core::{Context, Timing};

use super::{ACCOUNT, api_service, cx, deployment, event, meta, now_secs, stopped_task, td_arn};
use crate::Error;
use crate::rollout::{EventSummary, wait_rollout};

const SERVICE: &str = "demo-api-server";

fn expected() -> String {
    td_arn(SERVICE, 7)
}

fn output(service: aws_sdk_ecs::types::Service) -> DescribeServicesOutput {
    DescribeServicesOutput::builder().services(service).build()
}

fn no_stopped_tasks() -> Rule {
    mock!(Client::list_tasks).then_output(|| ListTasksOutput::builder().build())
}

async fn wait(
    client: &Client,
    cx: &Context,
    deadline: Duration,
    seen: &mut Vec<String>,
) -> crate::Result<()> {
    wait_rollout(
        client,
        cx,
        "demo",
        SERVICE,
        &expected(),
        deadline,
        |e: &EventSummary| seen.push(e.message.clone()),
    )
    .await
}

#[tokio::test]
async fn in_progress_in_progress_completed_is_success() {
    let t = now_secs();
    let describe = mock!(Client::describe_services)
        .match_requests(|r| r.cluster() == Some("demo") && r.services() == [SERVICE])
        .sequence()
        .output(move || {
            output(api_service(
                vec![
                    deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 0, 2),
                    deployment("ecs-svc/6", "ACTIVE", 6, Completed, 2, 2),
                ],
                vec![event(
                    "e1",
                    t,
                    "(service demo-api-server) has started 2 tasks: (task a) (task b).",
                )],
            ))
        })
        .output(move || {
            output(api_service(
                vec![
                    deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 2, 2),
                    deployment("ecs-svc/6", "ACTIVE", 6, Completed, 0, 0),
                ],
                vec![
                    event(
                        "e2",
                        t + 1,
                        "(service demo-api-server) has stopped 2 running tasks: (task c) (task d).",
                    ),
                    event(
                        "e1",
                        t,
                        "(service demo-api-server) has started 2 tasks: (task a) (task b).",
                    ),
                ],
            ))
        })
        .output(move || {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 2, 2)],
                vec![
                    event(
                        "e4",
                        t + 3,
                        "(service demo-api-server) has reached a steady state.",
                    ),
                    event(
                        "e3",
                        t + 2,
                        "(service demo-api-server) (deployment ecs-svc/7) deployment completed.",
                    ),
                    event(
                        "e2",
                        t + 1,
                        "(service demo-api-server) has stopped 2 running tasks: (task c) (task d).",
                    ),
                    event(
                        "e1",
                        t,
                        "(service demo-api-server) has started 2 tasks: (task a) (task b).",
                    ),
                ],
            ))
        })
        .build();
    let list = no_stopped_tasks();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
    let recorder = Recorder::default();
    let cx = Context::new(
        "demo",
        BTreeMap::new(),
        Arc::new(recorder.clone()),
        Timing { scale: 0.001 },
    );
    let mut seen = Vec::new();
    wait(&client, &cx, Duration::from_secs(600), &mut seen)
        .await
        .expect("the rollout completes");
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(list.num_calls(), 0, "no evidence gathered on success");
    assert_eq!(seen.len(), 4, "each event once: {seen:?}");
    assert!(seen[0].contains("has started 2 tasks"));
    assert!(seen[3].contains("steady state"));
    let events = recorder.events();
    assert!(events.iter().any(|e| matches!(e, Event::Waiting { state, .. } if state.contains("PRIMARY demo-api-server:7 IN_PROGRESS 0/2 running"))));
    assert!(events.iter().any(
        |e| matches!(e, Event::Note { message, .. } if message.contains("deployment completed"))
    ));
    assert!(matches!(events.last(), Some(Event::Ready { name, .. }) if name == SERVICE));
}

#[tokio::test]
async fn circuit_breaker_rollback_is_a_failure_with_evidence() {
    let t = now_secs();
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(move || {
            output(api_service(
                vec![
                    deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 0, 2),
                    deployment("ecs-svc/6", "ACTIVE", 6, Completed, 2, 2),
                ],
                vec![event("e1", t, "(service demo-api-server) has started 2 tasks: (task a) (task b).")],
            ))
        })
        .output(move || {
            let mut failed = deployment("ecs-svc/7", "ACTIVE", 7, Failed, 0, 2);
            failed.rollout_state_reason =
                Some("ECS deployment circuit breaker: tasks failed to start.".into());
            failed.failed_tasks = 3;
            output(api_service(
                vec![deployment("ecs-svc/8", "PRIMARY", 6, InProgress, 2, 2), failed],
                vec![
                    event("e3", t + 2, "(service demo-api-server) rolling back to deployment ecs-svc/6."),
                    event("e2", t + 1, "(service demo-api-server) (deployment ecs-svc/7) deployment failed: tasks failed to start."),
                    event("e1", t, "(service demo-api-server) has started 2 tasks: (task a) (task b)."),
                ],
            ))
        })
        .build();
    let list = mock!(Client::list_tasks)
        .match_requests(|r| {
            r.service_name() == Some(SERVICE) && r.desired_status() == Some(&DesiredStatus::Stopped)
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/old"))
                .task_arns(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/aaa"))
                .task_arns(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/bbb"))
                .build()
        });
    let describe_tasks = mock!(Client::describe_tasks).then_output(move || {
        DescribeTasksOutput::builder()
            .tasks(stopped_task("old", 6, t + 30, 0, "scaled in"))
            .tasks(stopped_task(
                "aaa",
                7,
                t - 10,
                137,
                "OutOfMemoryError: Container killed due to memory usage",
            ))
            .tasks(stopped_task(
                "bbb",
                7,
                t - 5,
                137,
                "OutOfMemoryError: Container killed due to memory usage",
            ))
            .build()
    });
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&describe, &list, &describe_tasks]
    );
    let mut seen = Vec::new();
    let err = wait(&client, &cx(), Duration::from_secs(600), &mut seen)
        .await
        .expect_err("a rollback is never a success");
    assert!(err.is_rollout_failure());
    assert!(!err.is_timeout());
    let Error::RolloutFailed(failure) = &err else {
        panic!("expected RolloutFailed, got {err:?}");
    };
    assert_eq!(failure.service, SERVICE);
    assert_eq!(failure.expected_revision, "demo-api-server:7");
    assert_eq!(
        failure.running_revision.as_deref(),
        Some("demo-api-server:6")
    );
    assert!(failure.reason.contains("FAILED"), "{}", failure.reason);
    assert!(
        failure.reason.contains("circuit breaker"),
        "{}",
        failure.reason
    );
    let messages: Vec<&str> = failure.events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 3);
    assert!(messages[1].contains("deployment failed"));
    assert!(messages[2].contains("rolling back"));
    assert_eq!(seen.len(), 3);
    // This revision's tasks first, newest first.
    let ids: Vec<&str> = failure
        .stopped_tasks
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(ids, vec!["bbb", "aaa", "old"]);
    let first = &failure.stopped_tasks[0];
    assert_eq!(first.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(first.containers[0].exit_code, Some(137));
    let shown = err.to_string();
    for needle in [
        "deployment of service demo-api-server failed",
        "expected revision: demo-api-server:7",
        "running revision:  demo-api-server:6 (left running)",
        "rolling back to deployment ecs-svc/6",
        "Essential container in task exited [EssentialContainerExited]",
        "container api-server: exit 137: OutOfMemoryError: Container killed due to memory usage",
    ] {
        assert!(shown.contains(needle), "missing {needle:?} in:\n{shown}");
    }
}

#[tokio::test]
async fn stable_on_the_old_revision_is_still_a_failure() {
    let describe = mock!(Client::describe_services).then_output(|| {
        output(api_service(
            vec![deployment("ecs-svc/8", "PRIMARY", 6, Completed, 2, 2)],
            vec![],
        ))
    });
    let list = no_stopped_tasks();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
    let err = wait(&client, &cx(), Duration::from_secs(600), &mut Vec::new())
        .await
        .expect_err("stable on another revision is not our rollout");
    let Error::RolloutFailed(failure) = &err else {
        panic!("expected RolloutFailed, got {err:?}");
    };
    assert!(
        failure.reason.contains("is stable on demo-api-server:6"),
        "{}",
        failure.reason
    );
    assert_eq!(
        failure.running_revision.as_deref(),
        Some("demo-api-server:6")
    );
    assert_eq!(
        describe.num_calls(),
        2,
        "one grace observation, then the verdict"
    );
    assert_eq!(list.num_calls(), 1, "stopped tasks were looked up");
}

#[tokio::test]
async fn a_rollback_event_decides_at_once() {
    let t = now_secs();
    let describe = mock!(Client::describe_services).then_output(move || {
        output(api_service(
            vec![deployment("ecs-svc/8", "PRIMARY", 6, Completed, 2, 2)],
            vec![event("e1", t, "(service demo-api-server) (deployment ecs-svc/7) deployment failed: the deployment circuit breaker was triggered.")],
        ))
    });
    let list = no_stopped_tasks();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
    let err = wait(&client, &cx(), Duration::from_secs(600), &mut Vec::new())
        .await
        .expect_err("rolled back");
    assert!(err.is_rollout_failure());
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn deadline_is_a_timeout_with_the_last_state() {
    let describe = mock!(Client::describe_services).then_output(|| {
        output(api_service(
            vec![
                deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 1, 2),
                deployment("ecs-svc/6", "ACTIVE", 6, Completed, 2, 2),
            ],
            vec![],
        ))
    });
    let list = no_stopped_tasks();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
    // 60 s nominal = 60 ms at the test scale.
    let err = wait(&client, &cx(), Duration::from_secs(60), &mut Vec::new())
        .await
        .expect_err("never completes");
    assert!(err.is_timeout());
    assert!(!err.is_rollout_failure());
    let Error::RolloutTimedOut(timeout) = &err else {
        panic!("expected RolloutTimedOut, got {err:?}");
    };
    assert_eq!(
        timeout.last_state,
        "PRIMARY demo-api-server:7 IN_PROGRESS 1/2 running; ACTIVE demo-api-server:6 COMPLETED 2/2 running"
    );
    assert!(describe.num_calls() >= 2);
    assert!(err.to_string().contains("timed out after"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let describe = mock!(Client::describe_services)
        .sequence()
        .error(|| DescribeServicesError::generic(meta("ThrottlingException", "Rate exceeded")))
        .output(|| {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 2, 2)],
                vec![],
            ))
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe], |c| {
        c.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    });
    wait(&client, &cx(), Duration::from_secs(600), &mut Vec::new())
        .await
        .expect("the SDK retried the throttled call");
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test]
async fn a_service_not_yet_listed_after_create_is_waited_for() {
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            DescribeServicesOutput::builder()
                .failures(Failure::builder().arn(SERVICE).reason("MISSING").build())
                .build()
        })
        .output(|| {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 0, 1)],
                vec![],
            ))
        })
        .output(|| {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 1, 1)],
                vec![],
            ))
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    wait(&client, &cx(), Duration::from_secs(600), &mut Vec::new())
        .await
        .expect("completes once visible");
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn running_fewer_than_desired_or_two_deployments_is_not_done() {
    // COMPLETED but 1/2 running, then COMPLETED with a second deployment still listed, then done.
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 1, 2)],
                vec![],
            ))
        })
        .output(|| {
            output(api_service(
                vec![
                    deployment("ecs-svc/7", "PRIMARY", 7, Completed, 2, 2),
                    deployment("ecs-svc/6", "ACTIVE", 6, Completed, 1, 0),
                ],
                vec![],
            ))
        })
        .output(|| {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 2, 2)],
                vec![],
            ))
        })
        .build();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
    wait(&client, &cx(), Duration::from_secs(600), &mut Vec::new())
        .await
        .expect("done at the third observation");
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn events_of_earlier_deployments_are_never_reported() {
    let t = now_secs();
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(move || {
            output(api_service(
                vec![
                    deployment("ecs-svc/7", "PRIMARY", 7, InProgress, 0, 2),
                    deployment("ecs-svc/6", "ACTIVE", 6, Completed, 2, 2),
                ],
                vec![
                    event(
                        "new",
                        t,
                        "(service demo-api-server) has started 2 tasks: (task a) (task b).",
                    ),
                    event(
                        "other",
                        t,
                        "(service demo-api-server) (deployment ecs-svc/6) deployment completed.",
                    ),
                    event(
                        "old",
                        t - 60,
                        "(service demo-api-server) (deployment ecs-svc/6) deployment failed: tasks failed to start.",
                    ),
                ],
            ))
        })
        .output(move || {
            output(api_service(
                vec![deployment("ecs-svc/7", "PRIMARY", 7, Completed, 2, 2)],
                vec![event(
                    "done",
                    t + 1,
                    "(service demo-api-server) (deployment ecs-svc/7) deployment completed.",
                )],
            ))
        })
        .build();
    let list = no_stopped_tasks();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
    let mut seen = Vec::new();
    wait(&client, &cx(), Duration::from_secs(600), &mut seen)
        .await
        .expect("an earlier deployment's failure does not fail this rollout");
    assert_eq!(
        seen,
        vec![
            "(service demo-api-server) has started 2 tasks: (task a) (task b).".to_string(),
            "(service demo-api-server) (deployment ecs-svc/7) deployment completed.".to_string(),
        ]
    );
}
