//! Runs the repositories' ensure / ensure / delete against a real `moto_server`.
//!
//! moto is started by awsim's launcher (`AWSIM_MOTO_SERVER`, `.venv` or `PATH`); a
//! missing `moto_server` fails the test instead of skipping it.

use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region};
use orchestrate_core::Context;
use orchestrate_core::change::Action;
use orchestrate_registry::{Client, RegistryDesired, delete, ensure, plan_registry};

#[tokio::test]
async fn ensure_twice_then_delete_against_moto() {
    let moto = awsim::launcher::Moto::start()
        .expect("moto_server starts (scripts/test.sh installs it into .venv)");
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    let cx = Context::for_tests("motoecr");
    let desired = RegistryDesired::new(&cx);

    // A repository someone created by hand, without scanning: adopted and corrected. (It is
    // created here rather than switched off later because the Rust SDK serialises
    // `scanOnPush: false` as `{}` and moto's PutImageScanningConfiguration ignores an empty
    // configuration; see the crate report.)
    client
        .create_repository()
        .repository_name("motoecr/airflow")
        .send()
        .await
        .expect("pre-existing repository");
    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(
        matches!(&plan[0].action, Action::Update { fields } if fields.len() == 1 && fields[0].field.contains("scanOnPush")),
        "{plan:?}"
    );
    assert_eq!(plan[1].action, Action::Create, "{plan:?}");

    let first = ensure(&client, &cx, &desired).await.expect("first ensure");
    assert!(
        first.airflow_repository_uri.ends_with("/motoecr/airflow"),
        "{first:?}"
    );
    assert!(
        first
            .git_sync_repository_arn
            .ends_with(":repository/motoecr/git-sync"),
        "{first:?}"
    );

    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );
    let second = ensure(&client, &cx, &desired).await.expect("second ensure");
    assert_eq!(first, second);

    // Tags were sent with the create call.
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&first.git_sync_repository_arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "orchestrate:component" && t.value() == "registry/git-sync"),
        "{tags:?}"
    );

    // Drift: tags made immutable behind our back are put back.
    client
        .put_image_tag_mutability()
        .repository_name("motoecr/git-sync")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
        .send()
        .await
        .expect("drift mutability");
    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(matches!(plan[1].action, Action::Update { .. }), "{plan:?}");
    ensure(&client, &cx, &desired).await.expect("update");
    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(
        plan.iter().all(|c| c.action == Action::NoChange),
        "{plan:?}"
    );

    delete(&client, &cx, true).await.expect("delete");
    delete(&client, &cx, true).await.expect("delete again");
    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(plan.iter().all(|c| c.action == Action::Create), "{plan:?}");
}
