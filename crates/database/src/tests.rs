use aws_sdk_rds::operation::create_db_instance::{CreateDBInstanceError, CreateDbInstanceOutput};
use aws_sdk_rds::operation::create_db_subnet_group::{
    CreateDBSubnetGroupError, CreateDbSubnetGroupOutput,
};
use aws_sdk_rds::operation::delete_db_instance::{DeleteDBInstanceError, DeleteDbInstanceOutput};
use aws_sdk_rds::operation::delete_db_subnet_group::{
    DeleteDBSubnetGroupError, DeleteDbSubnetGroupOutput,
};
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_db_subnet_groups::{
    DescribeDBSubnetGroupsError, DescribeDbSubnetGroupsOutput,
};
use aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput;
use aws_sdk_rds::operation::modify_db_subnet_group::ModifyDbSubnetGroupOutput;
use aws_sdk_rds::types::{
    DbInstance, DbSubnetGroup, Endpoint, PendingModifiedValues, Subnet, VpcSecurityGroupMembership,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};
use orchestrate_core::progress::{Event, Recorder};

use super::*;

const PASSWORD: &str = "Sup3rSecretPassw0rdValue";
const ID: &str = "demo-metadata";
const GROUP: &str = "demo-database";
const SG: &str = "sg-0db";

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} happened"))
        .build()
}

fn subnets() -> Vec<String> {
    vec!["subnet-a".into(), "subnet-b".into()]
}

fn desired() -> DatabaseDesired {
    let mut spec = Spec::minimal("demo", "us-east-1");
    spec.deployment.tags.insert("team".into(), "data".into());
    DatabaseDesired::from_spec(&spec, &subnets(), SG, Sensitive::new(PASSWORD))
}

fn group(subnet_ids: &[&str]) -> DbSubnetGroup {
    DbSubnetGroup::builder()
        .db_subnet_group_name(GROUP)
        .db_subnet_group_arn(format!("arn:aws:rds:us-east-1:1:subgrp:{GROUP}"))
        .vpc_id("vpc-1")
        .set_subnets(Some(
            subnet_ids
                .iter()
                .map(|s| Subnet::builder().subnet_identifier(*s).build())
                .collect(),
        ))
        .build()
}

/// An instance exactly as [`desired`] wants it, in `status`.
fn instance(status: &str) -> aws_sdk_rds::types::builders::DbInstanceBuilder {
    let b = DbInstance::builder()
        .db_instance_identifier(ID)
        .db_instance_arn(format!("arn:aws:rds:us-east-1:1:db:{ID}"))
        .db_instance_status(status)
        .db_instance_class("db.t4g.small")
        .engine("postgres")
        .engine_version("16.4")
        .allocated_storage(20)
        .backup_retention_period(7)
        .deletion_protection(true)
        .multi_az(false)
        .publicly_accessible(false)
        .db_name("airflow")
        .vpc_security_groups(
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id(SG)
                .status("active")
                .build(),
        );
    if status == "available" {
        b.endpoint(
            Endpoint::builder()
                .address("demo-metadata.abc.us-east-1.rds.amazonaws.com")
                .port(5432)
                .build(),
        )
    } else {
        b
    }
}

fn described(db: DbInstance) -> DescribeDbInstancesOutput {
    DescribeDbInstancesOutput::builder()
        .db_instances(db)
        .build()
}

fn group_found(subnet_ids: &'static [&'static str]) -> Rule {
    mock!(Client::describe_db_subnet_groups).then_output(move || {
        DescribeDbSubnetGroupsOutput::builder()
            .db_subnet_groups(group(subnet_ids))
            .build()
    })
}

fn describe_always(status: &'static str) -> Rule {
    mock!(Client::describe_db_instances).then_output(move || described(instance(status).build()))
}

struct Mutations {
    create_group: Rule,
    modify_group: Rule,
    create: Rule,
    modify: Rule,
}

impl Mutations {
    fn new() -> Self {
        Self {
            create_group: mock!(Client::create_db_subnet_group)
                .then_output(|| CreateDbSubnetGroupOutput::builder().build()),
            modify_group: mock!(Client::modify_db_subnet_group)
                .then_output(|| ModifyDbSubnetGroupOutput::builder().build()),
            create: mock!(Client::create_db_instance)
                .then_output(|| CreateDbInstanceOutput::builder().build()),
            modify: mock!(Client::modify_db_instance)
                .then_output(|| ModifyDbInstanceOutput::builder().build()),
        }
    }

    fn total(&self) -> usize {
        self.create_group.num_calls()
            + self.modify_group.num_calls()
            + self.create.num_calls()
            + self.modify.num_calls()
    }
}

#[test]
fn desired_debug_never_shows_the_password() {
    let d = desired();
    let shown = format!("{d:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("(sensitive)"));
    assert_eq!(d.instance.identifier, ID);
    assert_eq!(d.subnet_group.name, GROUP);
    assert_eq!(d.instance.subnet_group_name, GROUP);
    assert_eq!(
        d.instance.tags.get(TAG_COMPONENT),
        Some(instance::COMPONENT)
    );
    assert_eq!(d.instance.tags.get("team"), Some("data"));
    assert_eq!(d.instance.tags.get("Name"), Some(ID));
    assert!(!d.instance.performance_insights);
}

#[tokio::test]
async fn creates_group_and_instance_with_tags_and_safe_settings_then_waits() {
    let cx = Context::for_tests("demo");
    let group_describe = mock!(Client::describe_db_subnet_groups)
        .then_error(|| DescribeDBSubnetGroupsError::generic(meta("DBSubnetGroupNotFoundFault")));
    let create_group = mock!(Client::create_db_subnet_group)
        .match_requests(|r| {
            r.db_subnet_group_name() == Some(GROUP)
                && r.subnet_ids() == ["subnet-a", "subnet-b"]
                && r.tags().iter().any(|t| {
                    t.key() == Some(TAG_COMPONENT) && t.value() == Some(subnet_group::COMPONENT)
                })
        })
        .then_output(|| {
            CreateDbSubnetGroupOutput::builder()
                .db_subnet_group(group(&["subnet-a", "subnet-b"]))
                .build()
        });
    // Not found (find), not found again right after create (eventual consistency), then
    // creating, backing-up, available.
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")))
        .times(2)
        .output(|| described(instance("creating").build()))
        .output(|| described(instance("backing-up").build()))
        .output(|| described(instance("available").build()))
        .repeatedly()
        .build();
    let create = mock!(Client::create_db_instance)
        .match_requests(|r| {
            let tag = |k: &str| {
                r.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .map(str::to_string)
            };
            r.db_instance_identifier() == Some(ID)
                && r.engine() == Some("postgres")
                // The default is a major version: RDS picks the minor.
                && r.engine_version() == Some("16")
                && r.db_instance_class() == Some("db.t4g.small")
                && r.allocated_storage() == Some(20)
                && r.storage_type() == Some("gp3")
                && r.storage_encrypted() == Some(true)
                && r.publicly_accessible() == Some(false)
                && r.copy_tags_to_snapshot() == Some(true)
                && r.auto_minor_version_upgrade() == Some(true)
                && r.enable_performance_insights() == Some(false)
                && r.vpc_security_group_ids() == [SG]
                && r.db_subnet_group_name() == Some(GROUP)
                && r.master_username() == Some("airflow")
                && r.master_user_password() == Some(PASSWORD)
                && r.db_name() == Some("airflow")
                && r.backup_retention_period() == Some(7)
                && r.deletion_protection() == Some(true)
                && r.multi_az() == Some(false)
                && tag(TAG_DEPLOYMENT).as_deref() == Some("demo")
                && tag(TAG_COMPONENT).as_deref() == Some(instance::COMPONENT)
                && tag("team").as_deref() == Some("data")
        })
        .then_output(|| CreateDbInstanceOutput::builder().build());
    let modify = Mutations::new().modify;
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&group_describe, &create_group, &describe, &create, &modify]
    );
    let recorder = Recorder::default();
    let cx = Context {
        reporter: std::sync::Arc::new(recorder.clone()),
        ..cx
    };

    let out = ensure(&client, &cx, &desired()).await.expect("ensure");

    assert_eq!(create_group.num_calls(), 1);
    assert_eq!(create.num_calls(), 1, "exactly one create, no duplicate");
    assert_eq!(modify.num_calls(), 0);
    assert_eq!(
        out.endpoint.host,
        "demo-metadata.abc.us-east-1.rds.amazonaws.com"
    );
    assert_eq!(out.endpoint.port, 5432);
    assert_eq!(out.endpoint.database, "airflow");
    assert_eq!(out.identifier, ID);
    let states: Vec<String> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Waiting { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["not visible yet", "creating", "backing-up"]);
}

#[tokio::test]
async fn existing_matching_database_is_adopted_with_zero_mutating_calls() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-b", "subnet-a"]);
    let describe = describe_always("available");
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &m.create_group,
            &m.modify_group,
            &m.create,
            &m.modify
        ]
    );

    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(m.total(), 0);
    assert_eq!(out.arn, format!("arn:aws:rds:us-east-1:1:db:{ID}"));

    let observed = find(&client, &desired()).await.expect("find");
    let plan = diff(&desired(), &observed);
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
}

#[tokio::test]
async fn drift_sends_one_modify_with_only_the_drifted_fields() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a"]);
    let describe = mock!(Client::describe_db_instances).then_output(|| {
        described(
            instance("available")
                .db_instance_class("db.t4g.micro")
                .backup_retention_period(1)
                .engine_version("16.9")
                .publicly_accessible(true)
                .build(),
        )
    });
    let m = Mutations::new();
    let modify_group = mock!(Client::modify_db_subnet_group)
        .match_requests(|r| r.subnet_ids() == ["subnet-a", "subnet-b"])
        .then_output(|| ModifyDbSubnetGroupOutput::builder().build());
    let modify = mock!(Client::modify_db_instance)
        .match_requests(|r| {
            r.apply_immediately() == Some(true)
                && r.db_instance_class() == Some("db.t4g.small")
                && r.backup_retention_period() == Some(7)
                && r.publicly_accessible() == Some(false)
                // Not drifted (16.9 is newer than the spec's 16.4): not sent.
                && r.engine_version().is_none()
                && r.allow_major_version_upgrade().is_none()
                && r.allocated_storage().is_none()
                && r.deletion_protection().is_none()
                && r.multi_az().is_none()
                && r.vpc_security_group_ids().is_empty()
                && r.master_user_password().is_none()
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build());
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &m.create_group,
            &modify_group,
            &m.create,
            &modify
        ]
    );

    let observed = find(&client, &desired()).await.expect("find");
    let plan = diff(&desired(), &observed);
    match &plan[1].action {
        Action::Update { fields } => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(
                names,
                [
                    "DBInstanceClass",
                    "BackupRetentionPeriod",
                    "PubliclyAccessible"
                ]
            );
        }
        other => panic!("expected update, got {other:?}"),
    }

    ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(modify.num_calls(), 1);
    assert_eq!(modify_group.num_calls(), 1);
    assert_eq!(m.create.num_calls() + m.create_group.num_calls(), 0);
}

#[tokio::test]
async fn major_upgrade_allows_major_version_upgrade_and_pending_values_count_as_applied() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    // Engine 15.8 (major upgrade wanted); the class change is already pending.
    let describe = mock!(Client::describe_db_instances).then_output(|| {
        described(
            instance("available")
                .engine_version("15.8")
                .db_instance_class("db.t4g.micro")
                .pending_modified_values(
                    PendingModifiedValues::builder()
                        .db_instance_class("db.t4g.small")
                        .build(),
                )
                .build(),
        )
    });
    let modify = mock!(Client::modify_db_instance)
        .match_requests(|r| {
            r.engine_version() == Some("16")
                && r.allow_major_version_upgrade() == Some(true)
                && r.db_instance_class().is_none()
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build());
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&g, &describe, &modify]);
    ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(modify.num_calls(), 1);
}

#[tokio::test]
async fn storage_decrease_is_refused_before_any_mutation() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    let describe = mock!(Client::describe_db_instances).then_output(|| {
        described(
            instance("available")
                .allocated_storage(100)
                .db_instance_class("db.t4g.micro")
                .build(),
        )
    });
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &g,
            &describe,
            &m.create_group,
            &m.modify_group,
            &m.create,
            &m.modify
        ]
    );
    let err = ensure(&client, &cx, &desired()).await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::StorageDecrease {
                observed: 100,
                desired: 20,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("cannot shrink"), "{err}");
    assert_eq!(m.total(), 0);
}

#[tokio::test]
async fn lost_create_response_is_adopted_not_duplicated() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")))
        .output(|| described(instance("creating").build()))
        .output(|| described(instance("available").build()))
        .repeatedly()
        .build();
    let create = mock!(Client::create_db_instance)
        .then_error(|| CreateDBInstanceError::generic(meta("DBInstanceAlreadyExists")));
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&g, &describe, &create, &m.modify]
    );
    let out = ensure(&client, &cx, &desired()).await.expect("ensure");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(m.modify.num_calls(), 0);
    assert_eq!(out.identifier, ID);
}

#[tokio::test]
async fn rejected_configuration_names_resource_action_and_code_without_the_secret() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    let describe = mock!(Client::describe_db_instances)
        .then_error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")));
    let create = mock!(Client::create_db_instance).then_error(|| {
        CreateDBInstanceError::generic(
            ErrorMetadata::builder()
                .code("InvalidParameterCombination")
                .message(format!(
                    "RDS does not support creating a DB instance with db.x9.huge (password {PASSWORD})"
                ))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&g, &describe, &create]);
    let err = ensure(&client, &cx, &desired())
        .await
        .expect_err("rejected");
    let shown = err.to_string();
    assert!(matches!(err, Error::CreateInstance(_)), "{shown}");
    assert!(
        shown.contains("failed to create DB instance demo-metadata"),
        "{shown}"
    );
    assert!(shown.contains("InvalidParameterCombination"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[tokio::test]
async fn instance_being_deleted_is_not_adopted() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    let describe = describe_always("deleting");
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&g, &describe, &m.create, &m.modify]
    );
    let err = ensure(&client, &cx, &desired())
        .await
        .expect_err("deleting");
    assert!(matches!(err, Error::BeingDeleted { .. }), "{err}");
    assert!(err.to_string().contains("being deleted"));
    assert_eq!(m.total(), 0);
}

#[tokio::test]
async fn an_instance_described_without_its_class_is_an_error_and_nothing_is_modified() {
    let cx = Context::for_tests("demo");
    let g = group_found(&["subnet-a", "subnet-b"]);
    let describe = mock!(Client::describe_db_instances).then_output(|| {
        let mut db = instance("available").build();
        db.db_instance_class = None;
        described(db)
    });
    let m = Mutations::new();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&g, &describe, &m.create, &m.modify]
    );
    let err = ensure(&client, &cx, &desired())
        .await
        .expect_err("no class in the answer");
    assert_eq!(
        orchestrate_core::Classify::kind(&err),
        orchestrate_core::ErrorKind::Internal,
        "{err}"
    );
    assert!(
        matches!(&err, Error::DescribeInstance(e) if e.code == orchestrate_aws::INCOMPLETE_ANSWER),
        "{err:?}"
    );
    assert!(err.to_string().contains("DBInstanceClass"), "{err}");
    assert_eq!(
        m.total(),
        0,
        "a made-up class must not start a modification"
    );
}

#[tokio::test]
async fn failed_state_ends_the_wait_with_a_hint() {
    let cx = Context::for_tests("demo");
    let describe = describe_always("incompatible-network");
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe]);
    let err = wait_available(&client, &cx, ID).await.expect_err("failed");
    let shown = err.to_string();
    assert!(shown.contains("incompatible-network"), "{shown}");
    assert!(shown.contains("subnet group"), "{shown}");
}

#[test]
fn classify_states() {
    assert_eq!(lifecycle::classify("available"), Readiness::Ready);
    for s in [
        "creating",
        "backing-up",
        "modifying",
        "configuring-enhanced-monitoring",
    ] {
        assert_eq!(lifecycle::classify(s), Readiness::pending(s));
    }
    for s in [
        "failed",
        "incompatible-parameters",
        "incompatible-network",
        "storage-full",
        "inaccessible-encryption-credentials",
    ] {
        assert!(
            matches!(lifecycle::classify(s), Readiness::Failed { reason } if reason.contains(s)),
            "{s}"
        );
    }
    // A major version in the spec (the default `16`) matches any observed minor of it.
    assert!(!instance::is_upgrade("16.4", "16"));
    assert!(!instance::is_upgrade("16.10", "16"));
    assert!(instance::is_upgrade("15.8", "16"));
    assert!(!instance::is_upgrade("17.2", "16"));
    assert!(instance::is_upgrade("16.4", "16.10"));
    assert!(!instance::is_upgrade("16.10", "16.4"));
    assert!(!instance::is_upgrade("16.4", "16.4"));
}

#[tokio::test]
async fn delete_of_absent_database_succeeds() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_db_instances)
        .then_error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")));
    let delete_db = mock!(Client::delete_db_instance)
        .then_error(|| DeleteDBInstanceError::generic(meta("DBInstanceNotFound")));
    let delete_group = mock!(Client::delete_db_subnet_group)
        .then_error(|| DeleteDBSubnetGroupError::generic(meta("DBSubnetGroupNotFoundFault")));
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &delete_db, &delete_group]
    );
    delete(&client, &cx, Some("demo-final".into()))
        .await
        .expect("delete");
    assert_eq!(delete_db.num_calls(), 0);
    assert_eq!(delete_group.num_calls(), 1);
}

#[tokio::test]
async fn delete_turns_off_protection_takes_final_snapshot_and_waits_until_gone() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described(instance("available").build()))
        .output(|| described(instance("deleting").build()))
        .times(2)
        .error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")))
        .repeatedly()
        .build();
    let unprotect = mock!(Client::modify_db_instance)
        .match_requests(|r| {
            r.deletion_protection() == Some(false) && r.apply_immediately() == Some(true)
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build());
    let delete_db = mock!(Client::delete_db_instance)
        .match_requests(|r| {
            r.db_instance_identifier() == Some(ID)
                && r.final_db_snapshot_identifier() == Some("demo-final")
                && r.skip_final_snapshot() == Some(false)
        })
        .then_output(|| DeleteDbInstanceOutput::builder().build());
    let delete_group = mock!(Client::delete_db_subnet_group)
        .match_requests(|r| r.db_subnet_group_name() == Some(GROUP))
        .then_output(|| DeleteDbSubnetGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &unprotect, &delete_db, &delete_group]
    );
    delete(&client, &cx, Some("demo-final".into()))
        .await
        .expect("delete");
    assert_eq!(unprotect.num_calls(), 1);
    assert_eq!(delete_db.num_calls(), 1);
    assert_eq!(delete_group.num_calls(), 1);
    assert_eq!(describe.num_calls(), 4, "polled until gone");
}

#[tokio::test]
async fn subnet_group_lost_create_is_adopted() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_db_subnet_groups)
        .sequence()
        .error(|| DescribeDBSubnetGroupsError::generic(meta("DBSubnetGroupNotFoundFault")))
        .times(2)
        .output(|| {
            DescribeDbSubnetGroupsOutput::builder()
                .db_subnet_groups(group(&["subnet-a", "subnet-b"]))
                .build()
        })
        .repeatedly()
        .build();
    let create = mock!(Client::create_db_subnet_group)
        .then_error(|| CreateDBSubnetGroupError::generic(meta("DBSubnetGroupAlreadyExists")));
    let modify = Mutations::new().modify_group;
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &create, &modify]
    );
    let d = desired();
    let observed = subnet_group::ensure(&client, &cx, &d.subnet_group)
        .await
        .expect("ensure");
    assert_eq!(observed.vpc_id.as_deref(), Some("vpc-1"));
    assert_eq!(create.num_calls(), 1);
    assert_eq!(modify.num_calls(), 0);
}

/// A describe client without SDK retries: every throttled answer reaches the wait itself.
fn no_sdk_retries(conf: aws_sdk_rds::config::Builder) -> aws_sdk_rds::config::Builder {
    conf.retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled())
}

#[tokio::test]
async fn a_wait_rides_out_a_throttled_describe() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described(instance("creating").build()))
        .error(|| DescribeDBInstancesError::generic(meta("Throttling")))
        .times(2)
        .output(|| described(instance("available").build()))
        .build();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::Sequential,
        [&describe],
        no_sdk_retries
    );
    let outputs = wait_available(&client, &cx, ID)
        .await
        .expect("the wait converges after two throttled describes");
    assert_eq!(outputs.identifier, ID);
    assert_eq!(describe.num_calls(), 4, "two throttled probes retried");
}

#[tokio::test]
async fn a_wait_ends_at_once_on_access_denied() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .error(|| DescribeDBInstancesError::generic(meta("AccessDenied")))
        .output(|| described(instance("available").build()))
        .build();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::Sequential,
        [&describe],
        no_sdk_retries
    );
    let err = wait_available(&client, &cx, ID)
        .await
        .expect_err("access denied ends the wait");
    assert_eq!(describe.num_calls(), 1, "not retried");
    assert_eq!(
        orchestrate_core::Classify::kind(&err),
        orchestrate_core::ErrorKind::AccessDenied
    );
    assert!(err.to_string().contains("AccessDenied"), "{err}");
}
