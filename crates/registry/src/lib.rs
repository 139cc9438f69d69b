//! orchestrate-registry: the deployment's ECR repositories and the images in them.
//!
//! Root verbs: for the repositories `find`, `diff`, `plan_registry`, `ensure`, `ready`,
//! `delete`; for the images (module [`image`], by the OCI distribution API with `oci-client`,
//! no Docker daemon) [`ecr_login`] (GetAuthorizationToken), [`sync`] (copy an upstream image
//! index, every platform asked, blobs streamed and skipped when present, digests checked) and
//! [`preflight`] (every image resolves for every platform its tasks need). See [`image`] for
//! their guarantees.
//!
//! Owns two private repositories per deployment, named by
//! [`orchestrate_core::Names::repository`]:
//! - `<name>/airflow`: the Airflow image, copied from upstream by [`sync`] or built and pushed
//!   by the user (`scripts/build-image.sh`);
//! - `<name>/git-sync`: a mirror of the git-sync image, so that tasks in private subnets pull
//!   everything from ECR.
//!
//! Both are created with scan on push, AES256 encryption and their tags
//! (`orchestrate:component` = `registry/airflow` / `registry/git-sync`) in CreateRepository.
//!
//! # Tag mutability: `MUTABLE`, on purpose
//! The image tag comes from the spec (`image.tag`, e.g. `3.1.0`), and rebuilding the same tag
//! (a fixed Dockerfile, a re-mirrored git-sync) is the normal workflow of the build-and-push
//! script; `IMMUTABLE` would make that push fail with `ImageTagAlreadyExistsException`. What
//! immutability would protect, running tasks switching image under a moved tag, ECS already
//! prevents: a service deployment resolves the tag to a digest once and every task of that
//! deployment runs that digest. [`RepositoryDesired::mutability`] is a plain field for a
//! deployment that wants `IMMUTABLE`.
//!
//! # Guarantees
//! - Found by name: DescribeRepositories with `repositoryNames`;
//!   `RepositoryNotFoundException` is `None`.
//! - [`ensure`] makes no mutating call when both repositories exist as desired; drift of scan
//!   on push (PutImageScanningConfiguration) or tag mutability (PutImageTagMutability) is
//!   corrected in place, one call per drifted field. Encryption is fixed at creation: drift is
//!   reported as a note, never "fixed" by replacing a repository full of images.
//! - A CreateRepository whose response was lost and is retried fails with
//!   `RepositoryAlreadyExistsException`: the repository is adopted.
//! - [`delete`] is idempotent (`RepositoryNotFoundException` is success) and removes images
//!   only with `force`.
//!
//! # Waits
//! None on the happy path (CreateRepository returns the repository). After an adopted
//! "already exists", DescribeRepositories is polled until the repository is listed, at most
//! 20 s scaled by [`orchestrate_core::Timing`].
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`]. No AWS error is retried here beyond the SDK's own policy.

mod error;
pub mod image;
mod reference;
pub mod repository;

pub use aws_sdk_ecr::Client;
pub use aws_sdk_ecr::types::ImageTagMutability;
pub use error::{Error, Result};
pub use image::{
    Credentials, EcrLogin, ImageLocation, ImageProblem, Requirement, SyncReport, ecr_login,
    preflight, sync,
};
pub use repository::{RepositoryDesired, RepositoryObserved};

use orchestrate_core::{Change, Context, Readiness};

/// The image name of the Airflow repository.
pub const AIRFLOW: &str = "airflow";
/// The image name of the git-sync mirror repository.
pub const GIT_SYNC: &str = "git-sync";

/// The ARN of repository `name` (deterministic: `plan` needs no created repository).
pub fn repository_arn(region: &str, account_id: &str, name: &str) -> String {
    orchestrate_aws::arn("ecr", region, account_id, &format!("repository/{name}"))
}

/// Both repositories of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryDesired {
    /// `<name>/airflow`.
    pub airflow: RepositoryDesired,
    /// `<name>/git-sync`.
    pub git_sync: RepositoryDesired,
}

impl RegistryDesired {
    /// Both repositories with the defaults described in the crate documentation (pure).
    pub fn new(cx: &Context) -> Self {
        Self {
            airflow: RepositoryDesired::new(cx, AIRFLOW),
            git_sync: RepositoryDesired::new(cx, GIT_SYNC),
        }
    }

    fn repositories(&self) -> [&RepositoryDesired; 2] {
        [&self.airflow, &self.git_sync]
    }
}

/// What later phases need of the repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOutputs {
    /// URI of the Airflow repository (image = `<uri>:<tag>`).
    pub airflow_repository_uri: String,
    /// ARN of the Airflow repository (execution-role pull permission).
    pub airflow_repository_arn: String,
    /// URI of the git-sync repository.
    pub git_sync_repository_uri: String,
    /// ARN of the git-sync repository.
    pub git_sync_repository_arn: String,
}

impl RegistryOutputs {
    /// Both repository ARNs (for the execution role's policy).
    pub fn repository_arns(&self) -> Vec<String> {
        vec![
            self.airflow_repository_arn.clone(),
            self.git_sync_repository_arn.clone(),
        ]
    }
}

/// What both repositories look like now, in the order airflow, git-sync.
///
/// # Errors
/// [`Error::Describe`], [`Error::Incomplete`].
pub async fn find(
    client: &Client,
    desired: &RegistryDesired,
) -> Result<[Option<RepositoryObserved>; 2]> {
    let (airflow, git_sync) = tokio::try_join!(
        repository::find(client, &desired.airflow.name),
        repository::find(client, &desired.git_sync.name),
    )?;
    Ok([airflow, git_sync])
}

/// Pure diff of both repositories against what [`find`] returned.
pub fn diff(desired: &RegistryDesired, observed: &[Option<RepositoryObserved>; 2]) -> Vec<Change> {
    desired
        .repositories()
        .into_iter()
        .zip(observed)
        .map(|(d, o)| repository::diff(d, o.as_ref()))
        .collect()
}

/// The plan for both repositories (kind `ecr/repository`).
///
/// # Errors
/// [`Error::Describe`], [`Error::Incomplete`].
pub async fn plan_registry(client: &Client, desired: &RegistryDesired) -> Result<Vec<Change>> {
    let observed = find(client, desired).await?;
    Ok(diff(desired, &observed))
}

/// Converges both repositories (concurrently).
///
/// # Errors
/// See [`repository::ensure`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &RegistryDesired,
) -> Result<RegistryOutputs> {
    // Both repositories in one read.
    let [airflow, git_sync] = repository::find_all(
        client,
        [
            desired.airflow.name.as_str(),
            desired.git_sync.name.as_str(),
        ],
    )
    .await?;
    let (airflow, git_sync) = tokio::try_join!(
        repository::ensure_found(client, cx, &desired.airflow, airflow),
        repository::ensure_found(client, cx, &desired.git_sync, git_sync),
    )?;
    Ok(RegistryOutputs {
        airflow_repository_uri: airflow.uri,
        airflow_repository_arn: airflow.arn,
        git_sync_repository_uri: git_sync.uri,
        git_sync_repository_arn: git_sync.arn,
    })
}

/// Ready when both repositories are listed.
///
/// # Errors
/// [`Error::Describe`], [`Error::Incomplete`].
pub async fn ready(client: &Client, desired: &RegistryDesired) -> Result<Readiness> {
    for repo in desired.repositories() {
        let state = repository::ready(client, &repo.name).await?;
        if state != Readiness::Ready {
            return Ok(state);
        }
    }
    Ok(Readiness::Ready)
}

/// Deletes both repositories; `force` also deletes the images in them. Absent is success.
///
/// # Errors
/// [`Error::Delete`] (e.g. `RepositoryNotEmptyException` without `force`).
pub async fn delete(client: &Client, cx: &Context, force: bool) -> Result<()> {
    for image in [AIRFLOW, GIT_SYNC] {
        repository::delete(client, cx, &cx.names.repository(image), force).await?;
    }
    Ok(())
}

/// Both repositories and whether they exist, in one DescribeRepositories (all of the
/// registry's, filtered by name: naming absent ones would fail the whole call).
///
/// # Errors
/// [`Error::Describe`].
pub async fn status(client: &Client, cx: &Context) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::{Phase, StatusRow};
    let wanted: Vec<String> = [AIRFLOW, GIT_SYNC]
        .iter()
        .map(|i| cx.names.repository(i))
        .collect();
    let mut found = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_repositories()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                Error::Describe(orchestrate_aws::aws_error(
                    "describe repositories for",
                    cx.names.deployment(),
                    e,
                ))
            })?;
        for r in out.repositories() {
            if let Some(name) = r.repository_name()
                && wanted.iter().any(|w| w == name)
            {
                found.insert(name.to_string());
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(wanted
        .iter()
        .map(|name| {
            if found.contains(name) {
                StatusRow::new(Phase::Storage, repository::KIND, name, "ok", true)
            } else {
                StatusRow::absent(Phase::Storage, repository::KIND, name)
            }
        })
        .collect())
}

/// True when repository `name` holds at least one image (one ListImages call); an absent
/// repository holds none.
///
/// # Errors
/// [`Error::Describe`].
pub async fn holds_images(client: &Client, name: &str) -> Result<bool> {
    match client
        .list_images()
        .repository_name(name)
        .max_results(1)
        .send()
        .await
    {
        Ok(out) => Ok(!out.image_ids().is_empty()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::Describe(orchestrate_aws::aws_error(
            "list images of repository",
            name,
            e,
        ))),
    }
}

/// Deletes both repositories for `teardown all`: with `delete_images`, images and all; without,
/// a repository that holds images is kept (and named in the result) so that no image is lost
/// by accident. Absent is success.
///
/// # Errors
/// [`Error::Describe`], [`Error::Delete`].
pub async fn delete_keeping_images(
    client: &Client,
    cx: &Context,
    delete_images: bool,
) -> Result<Vec<String>> {
    let mut kept = Vec::new();
    for image in [AIRFLOW, GIT_SYNC] {
        let name = cx.names.repository(image);
        if !delete_images && holds_images(client, &name).await? {
            kept.push(name);
            continue;
        }
        repository::delete(client, cx, &name, delete_images).await?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests;
