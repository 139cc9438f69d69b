//! Answers that lack a field this crate needs: an identifier is an `IncompleteAnswer` error
//! (kind Internal) of the failing call, a status is `None` or [`crate::UNKNOWN`]; never an
//! empty string.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::execute_command::ExecuteCommandOutput;
use aws_sdk_ecs::types::{
    Cluster, Container, ContainerDefinition, DeploymentRolloutState, Service, Session,
    TaskDefinition, TaskDefinitionStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use orchestrate_aws::INCOMPLETE_ANSWER;
use orchestrate_core::{Classify, ErrorKind, Readiness};

use super::{ACCOUNT, api_service, deployment, event, now_secs, td_arn};
use crate::Error;
use crate::rollout::DeploymentSummary;

fn assert_incomplete(e: &Error, field: &str) {
    let aws = e.aws().unwrap_or_else(|| panic!("an AWS error, got {e:?}"));
    assert_eq!(aws.code, INCOMPLETE_ANSWER, "{e}");
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(e.to_string().contains(field), "{e} names {field}");
}

#[tokio::test]
async fn a_cluster_without_its_arn_is_an_incomplete_answer() {
    let described = mock!(Client::describe_clusters).then_output(|| {
        DescribeClustersOutput::builder()
            .clusters(
                Cluster::builder()
                    .cluster_name("demo")
                    .status("ACTIVE")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let e = crate::cluster::find(&client, "demo")
        .await
        .expect_err("no ARN");
    assert!(matches!(e, Error::DescribeCluster(_)), "{e:?}");
    assert_incomplete(&e, "clusterArn");
}

#[tokio::test]
async fn a_cluster_without_a_status_is_unknown_and_pending_never_empty() {
    let described = mock!(Client::describe_clusters).then_output(|| {
        DescribeClustersOutput::builder()
            .clusters(
                Cluster::builder()
                    .cluster_name("demo")
                    .cluster_arn(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/demo"))
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let found = crate::cluster::find(&client, "demo")
        .await
        .expect("find")
        .expect("listed");
    assert_eq!(found.status, None);
    assert!(!found.is_active());
    let readiness = crate::cluster::ready(&client, "demo").await.expect("ready");
    assert_eq!(readiness, Readiness::pending("status unknown"));
}

#[tokio::test]
async fn a_service_without_its_task_definition_is_an_incomplete_answer() {
    let described = mock!(Client::describe_services).then_output(|| {
        let mut service = api_service(Vec::new(), Vec::new());
        service.task_definition = None;
        DescribeServicesOutput::builder().services(service).build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let e = crate::service::find(&client, "demo", "demo-api-server")
        .await
        .expect_err("no task definition");
    assert!(matches!(e, Error::DescribeServices(_)), "{e:?}");
    assert_incomplete(&e, "taskDefinition");
}

#[tokio::test]
async fn a_deployment_without_its_id_fails_the_describe() {
    let described = mock!(Client::describe_services).then_output(|| {
        let mut primary = deployment(
            "ecs-svc/1",
            "PRIMARY",
            3,
            DeploymentRolloutState::Completed,
            1,
            1,
        );
        primary.id = None;
        DescribeServicesOutput::builder()
            .services(api_service(vec![primary], Vec::new()))
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let e = crate::service::find(&client, "demo", "demo-api-server")
        .await
        .expect_err("no deployment id");
    assert_incomplete(&e, "deployments[].id");
}

#[tokio::test]
async fn missing_statuses_show_unknown_and_events_without_an_id_are_skipped() {
    let described = mock!(Client::describe_services).then_output(|| {
        let mut primary = deployment(
            "ecs-svc/1",
            "PRIMARY",
            3,
            DeploymentRolloutState::Completed,
            1,
            1,
        );
        primary.status = None;
        let mut anonymous = event("e0", now_secs(), "an event without an id");
        anonymous.id = None;
        let mut service = api_service(
            vec![primary],
            vec![
                event("e1", now_secs(), "has reached a steady state."),
                anonymous,
            ],
        );
        service.status = None;
        DescribeServicesOutput::builder().services(service).build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let rows = crate::describe_services(&client, "demo", &["demo-api-server".to_string()])
        .await
        .expect("describe");
    assert_eq!(rows[0].status, crate::UNKNOWN);
    assert!(!rows[0].is_steady());
    let line = rows[0].deployments_line();
    assert!(
        line.starts_with("UNKNOWN demo-api-server:3 COMPLETED"),
        "{line}"
    );
    assert_eq!(rows[0].events.len(), 1);
    assert_eq!(rows[0].events[0].id, "e1");

    let observed = crate::service::find(&client, "demo", "demo-api-server")
        .await
        .expect("find")
        .expect("listed");
    assert_eq!(observed.status, None);
    assert!(!observed.is_active() && !observed.is_draining());
    assert!(!observed.deployments[0].is_primary());
}

#[test]
fn a_deployment_without_a_status_is_shown_unknown() {
    let mut d = deployment(
        "ecs-svc/1",
        "PRIMARY",
        2,
        DeploymentRolloutState::InProgress,
        0,
        1,
    );
    d.status = None;
    let summary = DeploymentSummary::from_sdk(&d, "describe service", "x").expect("complete");
    assert_eq!(summary.status, None);
    assert_eq!(
        summary.to_string(),
        "UNKNOWN demo-api-server:2 IN_PROGRESS 0/1 running"
    );
}

#[tokio::test]
async fn a_described_task_definition_without_a_container_image_is_an_incomplete_answer() {
    let described = mock!(Client::describe_task_definition).then_output(|| {
        let td = TaskDefinition::builder()
            .family("demo-scheduler")
            .task_definition_arn(td_arn("demo-scheduler", 4))
            .revision(4)
            .status(TaskDefinitionStatus::Active)
            .container_definitions(ContainerDefinition::builder().name("scheduler").build())
            .build();
        DescribeTaskDefinitionOutput::builder()
            .task_definition(td)
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let e = crate::taskdef::find_active(&client, "demo-scheduler")
        .await
        .expect_err("no image");
    assert!(matches!(e, Error::DescribeTaskDefinition(_)), "{e:?}");
    assert_incomplete(&e, "containerDefinitions[].image");
}

#[tokio::test]
async fn a_revision_the_sdk_reads_as_zero_is_taken_from_the_arn() {
    let described = mock!(Client::describe_task_definition).then_output(|| {
        let td = TaskDefinition::builder()
            .family("demo-scheduler")
            .task_definition_arn(td_arn("demo-scheduler", 7))
            .status(TaskDefinitionStatus::Active)
            .build();
        DescribeTaskDefinitionOutput::builder()
            .task_definition(td)
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described]);
    let active = crate::taskdef::find_active(&client, "demo-scheduler")
        .await
        .expect("find")
        .expect("active");
    assert_eq!(active.revision, 7);
}

#[tokio::test]
async fn a_task_without_its_arn_fails_the_listing() {
    let listed = mock!(Client::list_tasks).then_output(|| {
        aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder()
            .task_arns(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/abc"))
            .build()
    });
    let described = mock!(Client::describe_tasks).then_output(|| {
        let mut task = super::stopped_task("abc", 3, now_secs(), 0, "done");
        task.task_arn = None;
        DescribeTasksOutput::builder().tasks(task).build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&listed, &described]);
    let e = crate::operate::list_tasks(
        &client,
        "demo",
        crate::operate::TaskSelector::Service("demo-api-server"),
        false,
    )
    .await
    .expect_err("no task ARN");
    assert!(matches!(e, Error::DescribeTasks(_)), "{e:?}");
    assert_incomplete(&e, "tasks[].taskArn");
}

#[tokio::test]
async fn an_exec_session_without_its_token_is_an_incomplete_answer() {
    let described = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(
                aws_sdk_ecs::types::Task::builder()
                    .task_arn(format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/abc"))
                    .containers(
                        Container::builder()
                            .name("api-server")
                            .runtime_id("abc-123")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let exec = mock!(Client::execute_command).then_output(|| {
        ExecuteCommandOutput::builder()
            .session(
                Session::builder()
                    .session_id("ecs-execute-command-1")
                    .stream_url("wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/1")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&described, &exec]);
    let e = crate::operate::execute_command(&client, "demo", "abc", "api-server", "/bin/sh")
        .await
        .expect_err("no token");
    assert!(matches!(e, Error::ExecuteCommand(_)), "{e:?}");
    assert_incomplete(&e, "session.tokenValue");
}

#[test]
fn a_service_without_its_name_is_an_incomplete_answer() {
    let mut service: Service = api_service(Vec::new(), Vec::new());
    service.service_name = None;
    let e = crate::ServiceObserved::from_sdk(&service, "describe service", "demo-api-server")
        .expect_err("no name");
    assert_eq!(e.code, INCOMPLETE_ANSWER);
    assert_eq!(
        e.to_string(),
        "failed to describe service demo-api-server: IncompleteAnswer: AWS's answer has no serviceName"
    );
}
