//! Image sync and preflight against two real local registries (Debian's `docker-registry`,
//! started by awsim's `LocalRegistry`): an "upstream" seeded with a tiny two-platform image and
//! a target standing in for ECR. A missing `docker-registry` fails these tests.

use std::sync::Arc;

use awsim::registry::{LocalRegistry, Resolution, TestImage, http, push_test_image, resolve};
use orchestrate_core::progress::{Event, Recorder};
use orchestrate_core::spec::Architecture;
use orchestrate_core::{Context, Sensitive, Timing};
use orchestrate_registry::image::ImageProblem;
use orchestrate_registry::{Credentials, Error, ImageLocation, Requirement, preflight, sync};

const BOTH: [Architecture; 2] = [Architecture::Arm64, Architecture::X86_64];

fn start() -> LocalRegistry {
    LocalRegistry::start().expect("docker-registry starts (scripts/test.sh installs it)")
}

fn location(registry: &LocalRegistry, path: &str) -> ImageLocation {
    ImageLocation::parse(
        &format!("{}/{path}", registry.host()),
        Credentials::Anonymous,
    )
    .expect("reference")
}

fn recording_context() -> (Context, Recorder) {
    let recorder = Recorder::default();
    let cx = Context::new(
        "imgtest",
        Default::default(),
        Arc::new(recorder.clone()),
        Timing { scale: 0.001 },
    );
    (cx, recorder)
}

fn seed(upstream: &LocalRegistry, repository: &str, tag: &str, arches: &[&str]) -> TestImage {
    let port = upstream.port();
    let (repository, tag) = (repository.to_string(), tag.to_string());
    let arches: Vec<String> = arches.iter().map(|a| a.to_string()).collect();
    let refs: Vec<&str> = arches.iter().map(String::as_str).collect();
    push_test_image(port, &repository, &tag, &refs).expect("seed the upstream")
}

/// Every blob of `image` is in `repository` of `target`, byte for byte (digest recomputed).
fn assert_complete_copy(target: &LocalRegistry, repository: &str, tag: &str, image: &TestImage) {
    for platform in &image.platforms {
        assert_eq!(
            resolve(target.port(), repository, tag, &platform.architecture).expect("resolve"),
            Resolution::Found(platform.manifest_digest.clone()),
            "{}",
            platform.architecture
        );
        for blob in &platform.blobs {
            let r = http(
                target.port(),
                "GET",
                &format!("/v2/{repository}/blobs/{blob}"),
                &[],
                &[],
            )
            .expect("GET blob");
            assert_eq!(r.status, 200, "{blob}");
            assert_eq!(&awsim::registry::sha256_digest(&r.body), blob);
        }
    }
}

#[tokio::test]
async fn sync_copies_a_two_platform_index_and_a_second_run_uploads_nothing() {
    let (upstream, target) = (start(), start());
    let image = seed(&upstream, "apache/airflow", "3.1.0", &["amd64", "arm64"]);
    let source = location(&upstream, "apache/airflow:3.1.0");
    let dest = location(&target, "demo/airflow:3.1.0");
    let (cx, recorder) = recording_context();

    let first = sync(&cx, &source, &dest, &BOTH).await.expect("first sync");
    assert!(!first.up_to_date);
    assert_eq!(first.digest, image.index_digest, "index digest preserved");
    assert_eq!(first.manifests, 2);
    assert_eq!(first.blobs_copied, 6);
    assert_eq!(first.blobs_skipped, 0);
    assert_eq!(first.bytes_copied, image.blob_bytes);
    assert_complete_copy(&target, "demo/airflow", "3.1.0", &image);
    let events = recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Waiting { state, .. } if state.starts_with("copied "))),
        "byte progress reported: {events:?}"
    );

    let second = sync(&cx, &source, &dest, &BOTH).await.expect("second sync");
    assert!(second.up_to_date);
    assert_eq!(second.bytes_copied, 0);
    assert_eq!(second.blobs_copied, 0);
    assert_eq!(second.digest, image.index_digest);
}

#[tokio::test]
async fn an_interrupted_copy_resumes_and_ends_complete() {
    let (upstream, target) = (start(), start());
    let image = seed(&upstream, "apache/airflow", "3.1.0", &["amd64", "arm64"]);
    // The earlier run got two blobs across and died half-way through a third: its upload
    // session was opened and half the bytes sent, never committed.
    let blob = |digest: &str| {
        http(
            upstream.port(),
            "GET",
            &format!("/v2/apache/airflow/blobs/{digest}"),
            &[],
            &[],
        )
        .expect("GET upstream blob")
        .body
    };
    for digest in &image.platforms[0].blobs[..2] {
        awsim::registry::push_blob(target.port(), "demo/airflow", &blob(digest)).expect("push");
    }
    let third = blob(&image.platforms[0].blobs[2]);
    let session = awsim::registry::start_upload(target.port(), "demo/airflow").expect("session");
    let half = &third[..third.len() / 2];
    let patch = http(
        target.port(),
        "PATCH",
        &session,
        &[("Content-Type", "application/octet-stream")],
        half,
    )
    .expect("PATCH half a blob");
    assert_eq!(patch.status, 202);

    let (cx, _) = recording_context();
    let source = location(&upstream, "apache/airflow:3.1.0");
    let dest = location(&target, "demo/airflow:3.1.0");
    let report = sync(&cx, &source, &dest, &BOTH)
        .await
        .expect("resumed sync");
    assert_eq!(report.blobs_skipped, 2);
    assert_eq!(report.blobs_copied, 4);
    assert_complete_copy(&target, "demo/airflow", "3.1.0", &image);
    assert_eq!(report.digest, image.index_digest);
}

#[tokio::test]
async fn a_missing_upstream_tag_is_a_clear_error() {
    let (upstream, target) = (start(), start());
    seed(&upstream, "apache/airflow", "3.1.0", &["amd64", "arm64"]);
    let (cx, _) = recording_context();
    let err = sync(
        &cx,
        &location(&upstream, "apache/airflow:9.9.9"),
        &location(&target, "demo/airflow:9.9.9"),
        &BOTH,
    )
    .await
    .expect_err("no such tag");
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err:?}");
    assert!(err.is_missing_image());
    let message = err.to_string();
    assert!(
        message.contains("apache/airflow:9.9.9") && message.contains("does not exist"),
        "{message}"
    );
}

#[tokio::test]
async fn sync_of_one_platform_copies_only_it_and_refuses_a_platform_upstream_lacks() {
    let (upstream, target) = (start(), start());
    let image = seed(&upstream, "git-sync", "v4.4.0", &["amd64", "arm64"]);
    seed(&upstream, "x86only", "1", &["amd64"]);
    let (cx, _) = recording_context();
    let report = sync(
        &cx,
        &location(&upstream, "git-sync:v4.4.0"),
        &location(&target, "demo/git-sync:v4.4.0"),
        &[Architecture::X86_64],
    )
    .await
    .expect("sync amd64 only");
    assert_eq!(report.manifests, 1);
    assert_eq!(report.blobs_copied, 3);
    assert_ne!(report.digest, image.index_digest, "a filtered index");
    assert_eq!(
        resolve(target.port(), "demo/git-sync", "v4.4.0", "amd64").expect("resolve"),
        Resolution::Found(image.platforms[0].manifest_digest.clone())
    );
    assert_eq!(
        resolve(target.port(), "demo/git-sync", "v4.4.0", "arm64").expect("resolve"),
        Resolution::PlatformMissing(vec!["amd64".into()])
    );

    let err = sync(
        &cx,
        &location(&upstream, "x86only:1"),
        &location(&target, "demo/x86only:1"),
        &BOTH,
    )
    .await
    .expect_err("no arm64 upstream");
    assert!(
        matches!(&err, Error::PlatformMissing { platform, .. } if platform == "linux/arm64"),
        "{err:?}"
    );
}

#[tokio::test]
async fn preflight_names_missing_tags_and_platforms_and_passes_x86_only() {
    let registry = start();
    seed(&registry, "demo/airflow", "1", &["amd64", "arm64"]);
    seed(&registry, "demo/x86", "1", &["amd64"]);
    let requirement = |path: &str, platforms: &[Architecture]| Requirement {
        image: location(&registry, path),
        platforms: platforms.to_vec(),
    };

    preflight(&[
        requirement("demo/airflow:1", &BOTH),
        requirement("demo/x86:1", &[Architecture::X86_64]),
    ])
    .await
    .expect("both resolve");

    let err = preflight(&[
        requirement("demo/airflow:2", &BOTH),
        requirement("demo/x86:1", &BOTH),
    ])
    .await
    .expect_err("problems");
    let Error::Preflight(problems) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        matches!(&problems[0], ImageProblem::NotFound { image } if image.ends_with("demo/airflow:2"))
    );
    assert!(matches!(
        &problems[1],
        ImageProblem::PlatformMissing { platform, offered, .. }
            if platform == "linux/arm64" && offered == &vec!["amd64".to_string()]
    ));
    let message = err.to_string();
    assert!(
        message.contains("demo/x86:1 has no linux/arm64 image"),
        "{message}"
    );
    assert!(message.contains("orchestrate images sync"), "{message}");
    assert!(err.is_missing_image());
}

#[tokio::test]
async fn a_registry_password_never_appears_in_reports_errors_or_events() {
    let (upstream, target) = (start(), start());
    seed(&upstream, "apache/airflow", "3.1.0", &["amd64", "arm64"]);
    let password = "ecr-password-that-must-not-leak-0123456789";
    let credentials = Credentials::Basic {
        username: "AWS".into(),
        password: Sensitive::new(password),
    };
    let dest = ImageLocation::parse(
        &format!("{}/demo/airflow:3.1.0", target.host()),
        credentials.clone(),
    )
    .expect("reference");
    let (cx, recorder) = recording_context();
    let report = sync(
        &cx,
        &location(&upstream, "apache/airflow:3.1.0"),
        &dest,
        &BOTH,
    )
    .await
    .expect("sync with basic credentials");
    let err = sync(
        &cx,
        &location(&upstream, "apache/airflow:0"),
        &ImageLocation::parse(&format!("{}/demo/airflow:0", target.host()), credentials)
            .expect("reference"),
        &BOTH,
    )
    .await
    .expect_err("missing tag");
    let everything = format!("{report:?}{dest:?}{err}{err:?}{:?}", recorder.events());
    assert!(!everything.contains(password), "{everything}");
}

#[tokio::test]
async fn ecr_login_on_the_emulator_points_at_its_local_registry_and_sync_lands_there() {
    use aws_sdk_ecr::config::{BehaviorVersion, Credentials as AwsCredentials, Region};

    let (upstream, ecr) = (start(), start());
    let image = seed(&upstream, "apache/airflow", "3.1.0", &["amd64", "arm64"]);
    let sim = awsim::Awsim::start(awsim::Scenario::default().with_registry(ecr.url()))
        .await
        .expect("awsim starts (moto_server installed by scripts/test.sh)");
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(sim.endpoint_url())
        .credentials_provider(AwsCredentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    let client = orchestrate_registry::Client::from_conf(config);
    let login = orchestrate_registry::ecr_login(&client)
        .await
        .expect("login");
    assert_eq!(login.registry(), ecr.host());
    assert!(!format!("{login:?}").contains("auth-token"), "{login:?}");

    let (cx, recorder) = recording_context();
    let target = login.image("demo/airflow", "3.1.0").expect("target");
    let report = sync(
        &cx,
        &location(&upstream, "apache/airflow:3.1.0"),
        &target,
        &BOTH,
    )
    .await
    .expect("sync into the emulator's ECR");
    assert_eq!(report.digest, image.index_digest);
    assert_complete_copy(&ecr, "demo/airflow", "3.1.0", &image);
    let everything = format!("{report:?}{:?}", recorder.events());
    assert!(!everything.contains("auth-token"), "{everything}");
}
