use aws_sdk_cloudwatchlogs::operation::create_log_group::{
    CreateLogGroupError, CreateLogGroupOutput,
};
use aws_sdk_cloudwatchlogs::operation::delete_log_group::{
    DeleteLogGroupError, DeleteLogGroupOutput,
};
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_cloudwatchlogs::types::error::{
    ResourceAlreadyExistsException, ResourceNotFoundException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};

use super::*;

const CONTAINERS: &str = "/orchestrate/demo";
const TASKS: &str = "/orchestrate/demo/tasks";

fn group(name: &str, retention: Option<i32>) -> LogGroup {
    LogGroup::builder()
        .log_group_name(name)
        .arn(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:{name}:*"
        ))
        .set_retention_in_days(retention)
        .build()
}

/// DescribeLogGroups for exactly `name` (as the prefix) answering `groups`.
fn describe(name: &'static str, groups: Vec<LogGroup>) -> Rule {
    mock!(Client::describe_log_groups)
        .match_requests(move |r| r.log_group_name_prefix() == Some(name))
        .then_output(move || {
            DescribeLogGroupsOutput::builder()
                .set_log_groups(Some(groups.clone()))
                .build()
        })
}

fn desired(cx: &Context) -> LogsDesired {
    LogsDesired::with_retention(cx, 30)
}

fn create_rule() -> Rule {
    mock!(Client::create_log_group).then_output(|| CreateLogGroupOutput::builder().build())
}

fn put_retention_rule() -> Rule {
    mock!(Client::put_retention_policy)
        .match_requests(|r| r.retention_in_days() == Some(30))
        .then_output(|| PutRetentionPolicyOutput::builder().build())
}

#[tokio::test]
async fn creates_both_groups_with_tags_and_retention_when_absent() {
    let cx = Context::for_tests("demo");
    // One read of the container group's prefix finds neither; once created, that prefix
    // also lists the task group, listed first: exact-name match must skip it.
    let containers = mock!(Client::describe_log_groups)
        .match_requests(|r| r.log_group_name_prefix() == Some(CONTAINERS))
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(group(TASKS, None))
                .log_groups(group(CONTAINERS, None))
                .build()
        })
        .build();
    let tasks = mock!(Client::describe_log_groups)
        .match_requests(|r| r.log_group_name_prefix() == Some(TASKS))
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(group(TASKS, None))
                .build()
        })
        .build();
    let create = mock!(Client::create_log_group)
        .match_requests(|r| {
            let tags = r.tags().cloned().unwrap_or_default();
            let component = if r.log_group_name() == Some(CONTAINERS) {
                COMPONENT_CONTAINERS
            } else {
                COMPONENT_TASKS
            };
            tags.get(TAG_DEPLOYMENT).map(String::as_str) == Some("demo")
                && tags.get(TAG_COMPONENT).map(String::as_str) == Some(component)
                && tags.get("Name").map(String::as_str) == r.log_group_name()
        })
        .then_output(|| CreateLogGroupOutput::builder().build());
    let put = put_retention_rule();
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&containers, &tasks, &create, &put]
    );

    let out = ensure(&client, &cx, &desired(&cx)).await.expect("ensure");

    assert_eq!(create.num_calls(), 2);
    assert_eq!(put.num_calls(), 2);
    assert_eq!(out.log_group_name, CONTAINERS);
    assert_eq!(
        out.log_group_arn,
        "arn:aws:logs:us-east-1:123456789012:log-group:/orchestrate/demo"
    );
    assert_eq!(out.task_log_group_name, TASKS);
    assert_eq!(
        out.task_log_group_arn_wildcard(),
        "arn:aws:logs:us-east-1:123456789012:log-group:/orchestrate/demo/tasks:*"
    );
}

#[tokio::test]
async fn existing_groups_are_adopted_with_zero_mutating_calls() {
    let cx = Context::for_tests("demo");
    let containers = describe(
        CONTAINERS,
        vec![group(CONTAINERS, Some(30)), group(TASKS, Some(30))],
    );
    let tasks = describe(TASKS, vec![group(TASKS, Some(30))]);
    let create = create_rule();
    let put = put_retention_rule();
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&containers, &tasks, &create, &put]
    );

    ensure(&client, &cx, &desired(&cx)).await.expect("ensure");

    assert_eq!(create.num_calls(), 0);
    assert_eq!(put.num_calls(), 0);
    let plan = plan_logs(&client, &desired(&cx)).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
}

#[tokio::test]
async fn drifted_retention_is_the_only_update() {
    let cx = Context::for_tests("demo");
    // The container group's prefix lists the task group too (one read finds both).
    let containers = describe(
        CONTAINERS,
        vec![group(CONTAINERS, Some(7)), group(TASKS, Some(30))],
    );
    let tasks = describe(TASKS, vec![group(TASKS, Some(30))]);
    let create = create_rule();
    let put = mock!(Client::put_retention_policy)
        .match_requests(|r| {
            r.log_group_name() == Some(CONTAINERS) && r.retention_in_days() == Some(30)
        })
        .then_output(|| PutRetentionPolicyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&containers, &tasks, &create, &put]
    );

    let plan = plan_logs(&client, &desired(&cx)).await.expect("plan");
    assert!(
        matches!(&plan[0].action, Action::Update { fields } if fields[0].from.as_deref() == Some("7") && fields[0].to.as_deref() == Some("30")),
        "{plan:?}"
    );
    assert_eq!(plan[1].action, Action::NoChange);

    ensure(&client, &cx, &desired(&cx)).await.expect("ensure");
    assert_eq!(create.num_calls(), 0);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn invisible_right_after_create_is_waited_on_not_recreated() {
    let cx = Context::for_tests("demo");
    let g = LogGroupDesired::new(&cx, CONTAINERS, COMPONENT_CONTAINERS, 30);
    let describe = mock!(Client::describe_log_groups)
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .times(3)
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(group(CONTAINERS, Some(30)))
                .build()
        })
        .build();
    let create = create_rule();
    let put = put_retention_rule();
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&describe, &create, &put]
    );

    let observed = log_group::ensure(&client, &cx, &g).await.expect("ensure");

    assert_eq!(create.num_calls(), 1, "exactly one create");
    assert_eq!(describe.num_calls(), 4);
    assert_eq!(put.num_calls(), 0, "retention already as desired");
    assert_eq!(observed.retention_days, Some(30));
}

#[tokio::test]
async fn lost_create_response_is_adopted() {
    let cx = Context::for_tests("demo");
    let g = LogGroupDesired::new(&cx, TASKS, COMPONENT_TASKS, 30);
    let describe = mock!(Client::describe_log_groups)
        .sequence()
        .output(|| DescribeLogGroupsOutput::builder().build())
        .output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(group(TASKS, Some(30)))
                .build()
        })
        .build();
    let create = mock!(Client::create_log_group).then_error(|| {
        CreateLogGroupError::ResourceAlreadyExistsException(
            ResourceAlreadyExistsException::builder()
                .message("exists")
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::MatchAny,
        [&describe, &create]
    );

    let observed = log_group::ensure(&client, &cx, &g).await.expect("adopted");
    assert_eq!(observed.name, TASKS);
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn delete_of_absent_groups_succeeds() {
    let cx = Context::for_tests("demo");
    let del = mock!(Client::delete_log_group).then_error(|| {
        DeleteLogGroupError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
    });
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&del]);
    delete(&client, &cx).await.expect("idempotent delete");
    assert_eq!(del.num_calls(), 2);
}

#[tokio::test]
async fn delete_deletes_both_groups() {
    let cx = Context::for_tests("demo");
    let del = mock!(Client::delete_log_group)
        .match_requests(|r| matches!(r.log_group_name(), Some(CONTAINERS | TASKS)))
        .then_output(|| DeleteLogGroupOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&del]);
    delete(&client, &cx).await.expect("delete");
    assert_eq!(del.num_calls(), 2);
}

#[test]
fn diff_of_absent_group_is_create_and_never_expire_is_shown() {
    let cx = Context::for_tests("demo");
    let d = desired(&cx);
    let changes = diff(&d, &[None, None]);
    assert!(
        changes
            .iter()
            .all(|c| c.action == Action::Create && c.kind == "logs/log-group")
    );
    let observed = LogGroupObserved {
        name: CONTAINERS.into(),
        arn: "arn".into(),
        retention_days: None,
    };
    let change = log_group::diff(&d.containers, Some(&observed));
    assert!(
        matches!(&change.action, Action::Update { fields } if fields[0].from.as_deref() == Some("never expire")),
        "{change:?}"
    );
}

#[test]
fn wildcard_helpers_round_trip() {
    assert_eq!(strip_wildcard("arn:x:log-group:/a:*"), "arn:x:log-group:/a");
    assert_eq!(strip_wildcard("arn:x:log-group:/a"), "arn:x:log-group:/a");
    assert_eq!(
        with_wildcard("arn:x:log-group:/a:*"),
        "arn:x:log-group:/a:*"
    );
    assert_eq!(with_wildcard("arn:x:log-group:/a"), "arn:x:log-group:/a:*");
}
