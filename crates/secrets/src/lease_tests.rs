//! The lease's call sequences, with aws-smithy-mocks.

use std::time::{Duration, SystemTime};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::create_secret::{CreateSecretError, CreateSecretOutput};
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
use aws_sdk_secretsmanager::operation::update_secret_version_stage::{
    UpdateSecretVersionStageError, UpdateSecretVersionStageOutput,
};
use aws_sdk_secretsmanager::types::error::{
    InvalidParameterException, ResourceExistsException, ResourceNotFoundException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::Context;
use orchestrate_core::names::TAG_COMPONENT;

use crate::Error;
use crate::lease::{self, Acquired, Document, Holder, PENDING_STAGE, State};

const LEASE: &str = "orchestrate/demo/lease";

fn me() -> Holder {
    Holder {
        host: "laptop".into(),
        user: "alice".into(),
        pid: 4242,
        command: "up --phase 5".into(),
        run_id: "run-me".into(),
        pid_namespace: Some("pid:[1]".into()),
    }
}

fn other(host: &str) -> Holder {
    Holder {
        host: host.into(),
        user: "bob".into(),
        pid: 1,
        command: "teardown services".into(),
        run_id: "run-other".into(),
        pid_namespace: Some("pid:[1]".into()),
    }
}

fn at(offset: Duration, future: bool) -> String {
    let now = SystemTime::now();
    let t = if future { now + offset } else { now - offset };
    let millis = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("format")
}

fn document(holder: Holder, state: State, live: bool) -> String {
    serde_json::to_string(&Document {
        state,
        holder,
        acquired_at: at(Duration::from_secs(600), false),
        expires_at: at(Duration::from_secs(300), live),
    })
    .expect("json")
}

fn stored(version: &'static str, value: String) -> Rule {
    mock!(Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(LEASE))
        .then_output(move || {
            GetSecretValueOutput::builder()
                .name(LEASE)
                .version_id(version)
                .secret_string(value.clone())
                .build()
        })
}

fn absent() -> Rule {
    mock!(Client::get_secret_value).then_error(|| {
        GetSecretValueError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
    })
}

/// PutSecretValue of a pending version holding a `held` document of `run`.
fn put_pending(run: &'static str, state: &'static str) -> Rule {
    mock!(Client::put_secret_value)
        .match_requests(move |r| {
            let doc: Option<Document> =
                r.secret_string().and_then(|s| serde_json::from_str(s).ok());
            r.secret_id() == Some(LEASE)
                && r.version_stages() == [PENDING_STAGE.to_string()]
                && r.client_request_token().is_some_and(|t| t.len() >= 32)
                && doc.is_some_and(|d| {
                    d.holder.run_id == run
                        && serde_json::to_value(d.state).ok()
                            == Some(serde_json::Value::from(state))
                })
        })
        .then_output(|| PutSecretValueOutput::builder().build())
}

/// UpdateSecretVersionStage moving AWSCURRENT away from `expected`.
fn swap(expected: &'static str) -> Rule {
    mock!(Client::update_secret_version_stage)
        .match_requests(move |r| {
            r.version_stage() == Some("AWSCURRENT")
                && r.remove_from_version_id() == Some(expected)
                && r.move_to_version_id().is_some()
        })
        .then_output(|| UpdateSecretVersionStageOutput::builder().build())
}

fn swap_refused() -> Rule {
    mock!(Client::update_secret_version_stage).then_error(|| {
        UpdateSecretVersionStageError::InvalidParameterException(
            InvalidParameterException::builder()
                .message("Version stage AWSCURRENT not found in version v1")
                .build(),
        )
    })
}

fn cx() -> Context {
    Context::for_tests("demo")
}

#[tokio::test]
async fn first_lease_is_created_with_tags_and_no_secret_value() {
    let create = mock!(Client::create_secret)
        .match_requests(|r| {
            let doc: Option<Document> =
                r.secret_string().and_then(|s| serde_json::from_str(s).ok());
            r.name() == Some(LEASE)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some(TAG_COMPONENT) && t.value() == Some("secrets/lease"))
                && doc.is_some_and(|d| d.state == State::Held && d.holder == me())
        })
        .then_output(|| CreateSecretOutput::builder().build());
    let get = absent();
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get, &create]);
    let (lease, how) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("acquired");
    assert_eq!(how, Acquired::Created);
    assert_eq!(create.num_calls(), 1);
    assert!(lease.document().is_live(SystemTime::now()));
}

#[tokio::test]
async fn live_lease_of_another_run_is_refused_naming_the_holder_without_writing() {
    let get = stored("v1", document(other("ci-runner"), State::Held, true));
    let put =
        mock!(Client::put_secret_value).then_output(|| PutSecretValueOutput::builder().build());
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get, &put]);
    let err = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect_err("refused");
    assert_eq!(
        orchestrate_core::Classify::kind(&err),
        orchestrate_core::ErrorKind::Busy
    );
    let text = err.to_string();
    for needle in [
        "teardown services",
        "bob",
        "ci-runner",
        "pid 1",
        "since",
        "--break-lock",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(matches!(err, Error::Held(_)));
    assert_eq!(put.num_calls(), 0, "a refused run writes nothing");
}

#[tokio::test]
async fn expired_lease_is_taken_over_by_compare_and_swap() {
    let get = stored("v1", document(other("ci-runner"), State::Held, false));
    let (put, cas) = (put_pending("run-me", "held"), swap("v1"));
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let (_, how) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("taken over");
    assert_eq!(how, Acquired::Expired(other("ci-runner")));
    assert_eq!((put.num_calls(), cas.num_calls()), (1, 1));
}

#[tokio::test]
async fn released_lease_is_free() {
    let get = stored("v1", document(other("ci-runner"), State::Released, true));
    let (put, cas) = (put_pending("run-me", "held"), swap("v1"));
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let (_, how) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("free");
    assert_eq!(how, Acquired::Free);
}

/// Two runs read the same expired version; the other wins the swap; this one reads again,
/// sees the winner's live lease and is refused.
#[tokio::test]
async fn a_lost_swap_reads_again_and_is_refused_by_the_winner() {
    let get = mock!(Client::get_secret_value)
        .sequence()
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v1")
                .secret_string(document(other("old"), State::Held, false))
                .build()
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v2")
                .secret_string(document(other("winner"), State::Held, true))
                .build()
        })
        .build();
    let (put, refused) = (put_pending("run-me", "held"), swap_refused());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &refused]
    );
    let err = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect_err("the winner holds it");
    assert!(err.to_string().contains("winner"), "{err}");
    assert_eq!((get.num_calls(), refused.num_calls()), (2, 1));
}

/// Two runs found no lease: the other created it first; this one reads it and is refused.
#[tokio::test]
async fn a_lost_create_reads_again_and_is_refused() {
    let get = mock!(Client::get_secret_value)
        .sequence()
        .error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v1")
                .secret_string(document(other("winner"), State::Held, true))
                .build()
        })
        .build();
    let create = mock!(Client::create_secret).then_error(|| {
        CreateSecretError::ResourceExistsException(ResourceExistsException::builder().build())
    });
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get, &create]);
    let err = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Held(_)), "{err}");
}

#[tokio::test]
async fn break_lock_takes_a_live_lease_and_says_from_whom() {
    let get = stored("v1", document(other("ci-runner"), State::Held, true));
    let (put, cas) = (put_pending("run-me", "held"), swap("v1"));
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let (_, how) = lease::acquire(&client, &cx(), &me(), true)
        .await
        .expect("broken");
    match how {
        Acquired::Broken(held) => assert_eq!(held.holder, Some(other("ci-runner"))),
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[tokio::test]
async fn unreadable_lease_is_refused_unless_broken() {
    let get = stored("v1", "not json".to_string());
    let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get]);
    let err = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("unknown holder"), "{err}");
}

/// A holder on this machine (same host, same pid namespace) whose process is gone: taken
/// over at once, before expiry.
#[tokio::test]
async fn dead_holder_on_this_machine_is_taken_over_before_expiry() {
    let mine = Holder::current("up");
    if mine.pid_namespace.is_none() {
        // Not Linux: only expiry frees a lease; nothing to check here, stated not skipped.
        assert!(!other("x").is_dead_on_this_machine(&mine));
        return;
    }
    // A child that has exited and been reaped: its pid no longer runs.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead_pid = child.id();
    child.wait().expect("wait");
    let dead = Holder {
        pid: dead_pid,
        run_id: "run-dead".into(),
        ..mine.clone()
    };
    let alive = Holder {
        pid: 1,
        run_id: "run-init".into(),
        ..mine.clone()
    };
    assert!(dead.is_dead_on_this_machine(&mine));
    assert!(!alive.is_dead_on_this_machine(&mine), "pid 1 runs");
    let elsewhere = Holder {
        host: "another-host".into(),
        ..dead.clone()
    };
    assert!(!elsewhere.is_dead_on_this_machine(&mine));

    let value = document(dead.clone(), State::Held, true);
    let get = mock!(Client::get_secret_value).then_output(move || {
        GetSecretValueOutput::builder()
            .version_id("v1")
            .secret_string(value.clone())
            .build()
    });
    let put =
        mock!(Client::put_secret_value).then_output(|| PutSecretValueOutput::builder().build());
    let cas = swap("v1");
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let (_, how) = lease::acquire(&client, &cx(), &mine, false)
        .await
        .expect("taken over");
    assert_eq!(how, Acquired::DeadHolder(dead));
}

#[tokio::test]
async fn renewal_that_finds_the_lease_taken_reports_lost_with_the_new_holder() {
    let create = mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build());
    let get = mock!(Client::get_secret_value)
        .sequence()
        .error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v9")
                .secret_string(document(other("breaker"), State::Held, true))
                .build()
        })
        .build();
    let put = put_pending("run-me", "held");
    let refused = swap_refused();
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &create, &put, &refused]
    );
    let (mut held, _) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("acquired");
    let err = lease::renew(&client, &cx(), &mut held)
        .await
        .expect_err("lost");
    match &err {
        Error::Lost { by: Some(by), .. } => assert_eq!(by.host, "breaker"),
        other => panic!("expected Lost, got {other:?}"),
    }
    assert_eq!(
        orchestrate_core::Classify::kind(&err),
        orchestrate_core::ErrorKind::Busy
    );
}

#[tokio::test]
async fn release_writes_a_released_document_by_compare_and_swap() {
    let create = mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build());
    let get = mock!(Client::get_secret_value).then_error(|| {
        GetSecretValueError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
    });
    let put = put_pending("run-me", "released");
    // From the version this run wrote (the create's), whatever it is.
    let cas = mock!(Client::update_secret_version_stage)
        .match_requests(|r| {
            r.version_stage() == Some("AWSCURRENT")
                && r.remove_from_version_id().is_some_and(|v| v.len() >= 32)
                && r.move_to_version_id().is_some()
        })
        .then_output(|| UpdateSecretVersionStageOutput::builder().build());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &create, &put, &cas]
    );
    let (held, _) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("acquired");
    assert!(
        lease::release(&client, &cx(), &held, None)
            .await
            .expect("released")
    );
    assert_eq!((put.num_calls(), cas.num_calls()), (1, 1));
    assert_eq!(
        get.num_calls(),
        1,
        "the release swaps from the version it wrote, without reading the lease first"
    );
}

#[tokio::test]
async fn release_after_a_lost_renewal_answer_reads_the_lease_and_swaps_from_it() {
    let create = mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build());
    let mine = document(me(), State::Held, true);
    let get = mock!(Client::get_secret_value)
        .sequence()
        .error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        })
        .output(move || {
            GetSecretValueOutput::builder()
                .version_id("v-renewed")
                .secret_string(mine.clone())
                .build()
        })
        .build();
    let put = put_pending("run-me", "released");
    // AWSCURRENT moved to a renewal's version whose answer was lost: the swap from the
    // version this run knows is refused, the one from the current version goes through.
    let refused = mock!(Client::update_secret_version_stage)
        .match_requests(|r| r.remove_from_version_id() != Some("v-renewed"))
        .then_error(|| {
            UpdateSecretVersionStageError::InvalidParameterException(
                InvalidParameterException::builder().build(),
            )
        });
    let cas = swap("v-renewed");
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &create, &put, &refused, &cas]
    );
    let (held, _) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("acquired");
    assert!(
        lease::release(&client, &cx(), &held, None)
            .await
            .expect("released")
    );
    assert_eq!((refused.num_calls(), cas.num_calls()), (1, 1));
}

#[tokio::test]
async fn release_leaves_a_lease_another_run_took_alone() {
    let create = mock!(Client::create_secret).then_output(|| CreateSecretOutput::builder().build());
    let get = mock!(Client::get_secret_value)
        .sequence()
        .error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v-other")
                .secret_string(document(other("breaker"), State::Held, true))
                .build()
        })
        .build();
    let put =
        mock!(Client::put_secret_value).then_output(|| PutSecretValueOutput::builder().build());
    let refused = swap_refused();
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &create, &put, &refused]
    );
    let (held, _) = lease::acquire(&client, &cx(), &me(), false)
        .await
        .expect("acquired");
    assert!(
        !lease::release(&client, &cx(), &held, None)
            .await
            .expect("release")
    );
    assert_eq!(
        (put.num_calls(), refused.num_calls()),
        (1, 1),
        "one refused swap (AWSCURRENT is the other run's), then nothing more is written"
    );
}

/// `up` peeks before `verify`: a free lease is then taken from the version peeked, without
/// a second read, and says so (`from_seen`), which is what lets the run reuse verify's reads.
#[tokio::test]
async fn a_peeked_free_lease_is_taken_from_that_version_without_reading_again() {
    let get = stored("v1", document(other("ci-runner"), State::Released, true));
    let (put, cas) = (put_pending("run-me", "held"), swap("v1"));
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let seen = lease::peek(&client, &cx()).await.expect("peek");
    assert_eq!(get.num_calls(), 1);
    let taken = lease::acquire_seen(&client, &cx(), &me(), false, seen)
        .await
        .expect("free");
    assert_eq!(taken.how, Acquired::Free);
    assert!(taken.from_seen, "taken from the peeked version");
    assert_eq!(get.num_calls(), 1, "no second read");
    assert_eq!(cas.num_calls(), 1);
}

/// The peeked version moved before the swap (another run took the lease while this one
/// verified): the swap is refused, the lease read again, and the take is not `from_seen`.
#[tokio::test]
async fn a_peeked_version_that_moved_is_read_again_and_not_taken_from_seen() {
    let get = mock!(Client::get_secret_value)
        .sequence()
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v1")
                .secret_string(document(other("old"), State::Released, true))
                .build()
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v2")
                .secret_string(document(other("quick"), State::Released, true))
                .build()
        })
        .build();
    let put = put_pending("run-me", "held");
    let cas = mock!(Client::update_secret_version_stage)
        .sequence()
        .error(|| {
            UpdateSecretVersionStageError::InvalidParameterException(
                InvalidParameterException::builder().build(),
            )
        })
        .output(|| UpdateSecretVersionStageOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let seen = lease::peek(&client, &cx()).await.expect("peek");
    let taken = lease::acquire_seen(&client, &cx(), &me(), false, seen)
        .await
        .expect("taken on the second attempt");
    assert!(!taken.from_seen, "another run wrote the lease in between");
    assert_eq!((get.num_calls(), cas.num_calls()), (2, 2));
}

/// A lease the peek saw held by a live run is read again at the take (it may have been
/// released while `verify` ran): only a fresh read refuses.
#[tokio::test]
async fn a_peeked_live_lease_is_read_again_before_refusing() {
    let get = mock!(Client::get_secret_value)
        .sequence()
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v1")
                .secret_string(document(other("busy"), State::Held, true))
                .build()
        })
        .output(|| {
            GetSecretValueOutput::builder()
                .version_id("v2")
                .secret_string(document(other("busy"), State::Released, true))
                .build()
        })
        .build();
    let (put, cas) = (put_pending("run-me", "held"), swap("v2"));
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&get, &put, &cas]
    );
    let seen = lease::peek(&client, &cx()).await.expect("peek");
    let taken = lease::acquire_seen(&client, &cx(), &me(), false, seen)
        .await
        .expect("released meanwhile");
    assert!(!taken.from_seen);
    assert_eq!(taken.how, Acquired::Free);
    assert_eq!(get.num_calls(), 2);
}
