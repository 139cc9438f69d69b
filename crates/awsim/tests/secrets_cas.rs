//! Secrets Manager's conditional writes, as orchestrate's deployment lease relies on them,
//! through the real SDK against awsim.
//!
//! AWS documents both conditions: CreateSecret fails with `ResourceExistsException` when the
//! name exists, and UpdateSecretVersionStage fails when `RemoveFromVersionId` "does not match"
//! the version the label is attached to (API reference, UpdateSecretVersionStage). moto 5.2.1
//! checks both, but its threaded server checks then writes without a lock, so two concurrent
//! writes could both pass; awsim forwards Secrets Manager's mutating calls one at a time.

mod common;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use awsim::{Awsim, Scenario};

const NAME: &str = "orchestrate/demo/lease";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_swaps_from_one_version_exactly_one_wins() {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let client = aws_sdk_secretsmanager::Client::new(&conf);
    let created = client
        .create_secret()
        .name(NAME)
        .secret_string("{\"state\":\"released\"}")
        .client_request_token("00000000000000000000000000000001")
        .send()
        .await
        .expect("create");
    assert_eq!(
        created.version_id(),
        Some("00000000000000000000000000000001")
    );

    // A stale expected version is refused (sequentially).
    client
        .put_secret_value()
        .secret_id(NAME)
        .secret_string("{\"state\":\"held\",\"n\":0}")
        .client_request_token("00000000000000000000000000000002")
        .version_stages("ORCHESTRATE_LEASE_PENDING")
        .send()
        .await
        .expect("put pending");
    let stale = client
        .update_secret_version_stage()
        .secret_id(NAME)
        .version_stage("AWSCURRENT")
        .move_to_version_id("00000000000000000000000000000002")
        .remove_from_version_id("00000000000000000000000000000099")
        .send()
        .await
        .expect_err("unknown expected version refused");
    assert_eq!(stale.code(), Some("InvalidParameterException"));

    // Eight runs read version 1 and race to swap AWSCURRENT to their own version.
    let mut versions = Vec::new();
    for i in 0..8 {
        let version = format!("{:032}", 100 + i);
        client
            .put_secret_value()
            .secret_id(NAME)
            .secret_string(format!("{{\"state\":\"held\",\"n\":{i}}}"))
            .client_request_token(&version)
            .version_stages("ORCHESTRATE_LEASE_PENDING")
            .send()
            .await
            .expect("put pending");
        versions.push(version);
    }
    let mut racers = tokio::task::JoinSet::new();
    for version in versions.clone() {
        let client = client.clone();
        racers.spawn(async move {
            client
                .update_secret_version_stage()
                .secret_id(NAME)
                .version_stage("AWSCURRENT")
                .move_to_version_id(&version)
                .remove_from_version_id("00000000000000000000000000000001")
                .send()
                .await
                .map(|_| version)
                .map_err(|e| e.code().map(str::to_string))
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(result) = racers.join_next().await {
        match result.expect("task") {
            Ok(version) => winners.push(version),
            Err(code) => losers.push(code),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one swap wins: {winners:?} {losers:?}"
    );
    assert!(
        losers
            .iter()
            .all(|c| c.as_deref() == Some("InvalidParameterException")),
        "{losers:?}"
    );
    let current = client
        .get_secret_value()
        .secret_id(NAME)
        .send()
        .await
        .expect("get");
    assert_eq!(current.version_id(), Some(winners[0].as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_creates_of_one_name_exactly_one_wins() {
    let sim = Awsim::start(Scenario::default())
        .await
        .expect("awsim starts");
    let conf = common::sdk(&sim.endpoint_url()).await;
    let client = aws_sdk_secretsmanager::Client::new(&conf);
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        racers.spawn(async move {
            client
                .create_secret()
                .name(NAME)
                .secret_string(format!("{{\"n\":{i}}}"))
                .send()
                .await
                .map_err(|e| e.code().map(str::to_string))
        });
    }
    let mut created = 0;
    let mut codes = Vec::new();
    while let Some(result) = racers.join_next().await {
        match result.expect("task") {
            Ok(_) => created += 1,
            Err(code) => codes.push(code),
        }
    }
    assert_eq!(created, 1, "exactly one create wins: {codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c.as_deref() == Some("ResourceExistsException")),
        "{codes:?}"
    );
    // Every call is recorded with the secret it names.
    assert!(
        sim.calls()
            .iter()
            .filter(|c| c.operation == "CreateSecret")
            .all(|c| c.target.as_deref() == Some(NAME))
    );
}
