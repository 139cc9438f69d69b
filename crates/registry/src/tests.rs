use aws_sdk_ecr::operation::create_repository::{CreateRepositoryError, CreateRepositoryOutput};
use aws_sdk_ecr::operation::delete_repository::{DeleteRepositoryError, DeleteRepositoryOutput};
use aws_sdk_ecr::operation::describe_repositories::{
    DescribeRepositoriesError, DescribeRepositoriesOutput,
};
use aws_sdk_ecr::operation::put_image_scanning_configuration::PutImageScanningConfigurationOutput;
use aws_sdk_ecr::operation::put_image_tag_mutability::PutImageTagMutabilityOutput;
use aws_sdk_ecr::types::error::{RepositoryAlreadyExistsException, RepositoryNotFoundException};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, Repository,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use orchestrate_core::change::Action;
use orchestrate_core::names::{TAG_COMPONENT, TAG_DEPLOYMENT};

use super::*;

const AIRFLOW_REPO: &str = "demo/airflow";
const GIT_SYNC_REPO: &str = "demo/git-sync";

fn repo(name: &str, scan: bool, mutability: ImageTagMutability) -> Repository {
    Repository::builder()
        .repository_name(name)
        .repository_arn(format!(
            "arn:aws:ecr:us-east-1:123456789012:repository/{name}"
        ))
        .repository_uri(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}"
        ))
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan)
                .build(),
        )
        .image_tag_mutability(mutability)
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Aes256)
                .build()
                .expect("encryption"),
        )
        .build()
}

fn not_found() -> DescribeRepositoriesError {
    DescribeRepositoriesError::RepositoryNotFoundException(
        RepositoryNotFoundException::builder().build(),
    )
}

fn describe_found(name: &'static str, scan: bool, mutability: ImageTagMutability) -> Rule {
    mock!(Client::describe_repositories)
        .match_requests(move |r| r.repository_names() == [name.to_string()])
        .then_output(move || {
            DescribeRepositoriesOutput::builder()
                .repositories(repo(name, scan, mutability.clone()))
                .build()
        })
}

/// DescribeRepositories of both repositories in one call (what `ensure` sends first).
fn describe_both(
    airflow: (bool, ImageTagMutability),
    git_sync: (bool, ImageTagMutability),
) -> Rule {
    mock!(Client::describe_repositories)
        .match_requests(|r| r.repository_names().len() == 2)
        .then_output(move || {
            DescribeRepositoriesOutput::builder()
                .repositories(repo(AIRFLOW_REPO, airflow.0, airflow.1.clone()))
                .repositories(repo(GIT_SYNC_REPO, git_sync.0, git_sync.1.clone()))
                .build()
        })
}

fn mutating_rules() -> (Rule, Rule, Rule) {
    (
        mock!(Client::create_repository).then_output(|| CreateRepositoryOutput::builder().build()),
        mock!(Client::put_image_scanning_configuration)
            .then_output(|| PutImageScanningConfigurationOutput::builder().build()),
        mock!(Client::put_image_tag_mutability)
            .then_output(|| PutImageTagMutabilityOutput::builder().build()),
    )
}

#[tokio::test]
async fn creates_both_repositories_with_tags_scanning_and_encryption_when_absent() {
    let cx = Context::for_tests("demo");
    let describe = mock!(Client::describe_repositories).then_error(not_found);
    let create = mock!(Client::create_repository)
        .match_requests(|r| {
            let name = r.repository_name().unwrap_or_default();
            let tag = |key: &str| {
                r.tags()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string())
            };
            let image = name.trim_start_matches("demo/");
            r.image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push())
                && r.image_tag_mutability() == Some(&ImageTagMutability::Mutable)
                && r.encryption_configuration().map(|e| e.encryption_type())
                    == Some(&EncryptionType::Aes256)
                && tag(TAG_DEPLOYMENT).as_deref() == Some("demo")
                && tag(TAG_COMPONENT) == Some(format!("registry/{image}"))
                && tag("Name").as_deref() == Some(name)
        })
        .then_compute_output(|r| {
            CreateRepositoryOutput::builder()
                .repository(repo(
                    r.repository_name().unwrap_or_default(),
                    true,
                    ImageTagMutability::Mutable,
                ))
                .build()
        });
    let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&describe, &create]);

    let out = ensure(&client, &cx, &RegistryDesired::new(&cx))
        .await
        .expect("ensure");

    assert_eq!(create.num_calls(), 2);
    assert_eq!(
        out.airflow_repository_uri,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/airflow"
    );
    assert_eq!(
        out.git_sync_repository_arn,
        "arn:aws:ecr:us-east-1:123456789012:repository/demo/git-sync"
    );
    assert_eq!(out.repository_arns().len(), 2);
}

#[tokio::test]
async fn existing_repositories_are_adopted_with_zero_mutating_calls() {
    let cx = Context::for_tests("demo");
    let a = describe_found(AIRFLOW_REPO, true, ImageTagMutability::Mutable);
    let g = describe_found(GIT_SYNC_REPO, true, ImageTagMutability::Mutable);
    let both = describe_both(
        (true, ImageTagMutability::Mutable),
        (true, ImageTagMutability::Mutable),
    );
    let (create, scan, mutability) = mutating_rules();
    let client = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        [&both, &a, &g, &create, &scan, &mutability]
    );
    let desired = RegistryDesired::new(&cx);

    ensure(&client, &cx, &desired).await.expect("ensure");
    // Both found in one read.
    assert_eq!(both.num_calls(), 1);
    assert_eq!(a.num_calls() + g.num_calls(), 0);
    let plan = plan_registry(&client, &desired).await.expect("plan");

    assert_eq!(
        create.num_calls() + scan.num_calls() + mutability.num_calls(),
        0
    );
    assert!(
        plan.iter()
            .all(|c| c.action == Action::NoChange && c.kind == "ecr/repository")
    );
}

#[tokio::test]
async fn drifted_settings_are_put_back_one_call_each() {
    let cx = Context::for_tests("demo");
    // airflow: scanning off; git-sync: immutable tags.
    let a = describe_found(AIRFLOW_REPO, false, ImageTagMutability::Mutable);
    let g = describe_found(GIT_SYNC_REPO, true, ImageTagMutability::Immutable);
    let both = describe_both(
        (false, ImageTagMutability::Mutable),
        (true, ImageTagMutability::Immutable),
    );
    let create =
        mock!(Client::create_repository).then_output(|| CreateRepositoryOutput::builder().build());
    let scan = mock!(Client::put_image_scanning_configuration)
        .match_requests(|r| {
            r.repository_name() == Some(AIRFLOW_REPO)
                && r.image_scanning_configuration()
                    .is_some_and(|c| c.scan_on_push())
        })
        .then_output(|| PutImageScanningConfigurationOutput::builder().build());
    let mutability = mock!(Client::put_image_tag_mutability)
        .match_requests(|r| {
            r.repository_name() == Some(GIT_SYNC_REPO)
                && r.image_tag_mutability() == Some(&ImageTagMutability::Mutable)
        })
        .then_output(|| PutImageTagMutabilityOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        [&both, &a, &g, &create, &scan, &mutability]
    );
    let desired = RegistryDesired::new(&cx);

    let plan = plan_registry(&client, &desired).await.expect("plan");
    assert!(
        matches!(&plan[0].action, Action::Update { fields } if fields.len() == 1 && fields[0].field.contains("scanOnPush")),
        "{plan:?}"
    );
    assert!(
        matches!(&plan[1].action, Action::Update { fields } if fields.len() == 1 && fields[0].from.as_deref() == Some("IMMUTABLE")),
        "{plan:?}"
    );

    ensure(&client, &cx, &desired).await.expect("ensure");
    assert_eq!(create.num_calls(), 0);
    assert_eq!(scan.num_calls(), 1);
    assert_eq!(mutability.num_calls(), 1);
}

#[tokio::test]
async fn lost_create_response_then_not_yet_visible_is_adopted_without_duplicate() {
    let cx = Context::for_tests("demo");
    let desired = RepositoryDesired::new(&cx, AIRFLOW);
    // Not found before create, "already exists" on create (first response lost), then not
    // found once more (eventual consistency), then listed.
    let describe = mock!(Client::describe_repositories)
        .sequence()
        .error(not_found)
        .times(2)
        .output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(repo(AIRFLOW_REPO, true, ImageTagMutability::Mutable))
                .build()
        })
        .build();
    let create = mock!(Client::create_repository).then_error(|| {
        CreateRepositoryError::RepositoryAlreadyExistsException(
            RepositoryAlreadyExistsException::builder().build(),
        )
    });
    let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&describe, &create]);

    let observed = repository::ensure(&client, &cx, &desired)
        .await
        .expect("adopted");

    assert_eq!(create.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(
        observed.arn,
        "arn:aws:ecr:us-east-1:123456789012:repository/demo/airflow"
    );
}

#[tokio::test]
async fn delete_of_absent_repositories_succeeds_and_force_is_passed() {
    let cx = Context::for_tests("demo");
    let gone = mock!(Client::delete_repository)
        .match_requests(|r| r.repository_name() == Some(AIRFLOW_REPO) && r.force() == Some(true))
        .then_error(|| {
            DeleteRepositoryError::RepositoryNotFoundException(
                RepositoryNotFoundException::builder().build(),
            )
        });
    let deleted = mock!(Client::delete_repository)
        .match_requests(|r| r.repository_name() == Some(GIT_SYNC_REPO) && r.force() == Some(true))
        .then_output(|| DeleteRepositoryOutput::builder().build());
    let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&gone, &deleted]);

    delete(&client, &cx, true).await.expect("idempotent delete");
    assert_eq!(gone.num_calls(), 1);
    assert_eq!(deleted.num_calls(), 1);
}

#[test]
fn desired_defaults_and_diff_of_absent() {
    let cx = Context::for_tests("demo");
    let desired = RegistryDesired::new(&cx);
    assert_eq!(desired.airflow.name, AIRFLOW_REPO);
    assert_eq!(desired.git_sync.name, GIT_SYNC_REPO);
    assert!(desired.airflow.scan_on_push);
    assert_eq!(desired.airflow.mutability, ImageTagMutability::Mutable);
    let changes = diff(&desired, &[None, None]);
    assert!(changes.iter().all(|c| c.action == Action::Create));
}
