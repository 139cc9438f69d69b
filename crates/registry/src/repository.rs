//! One ECR repository: desired shape, find, diff, ensure, ready, delete.

use std::time::Duration;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, Tags, WaitError};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "ecr/repository";

/// How long a repository that "already exists" may stay invisible to DescribeRepositories.
const VISIBLE_WITHIN: Duration = Duration::from_secs(20);

/// What one repository should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryDesired {
    /// Repository name (`<deployment>/<image>`).
    pub name: String,
    /// Scan every pushed image for vulnerabilities.
    pub scan_on_push: bool,
    /// Tag mutability; see the crate documentation for why `MUTABLE`.
    pub mutability: ImageTagMutability,
    /// Tags sent with CreateRepository.
    pub tags: Tags,
}

impl RepositoryDesired {
    /// The repository of `image` (`airflow`, `git-sync`): scan on push, `MUTABLE` tags,
    /// AES256 encryption (pure).
    pub fn new(cx: &Context, image: &str) -> Self {
        let name = cx.names.repository(image);
        Self {
            tags: cx.tags(&format!("registry/{image}"), Phase::Storage, &name),
            name,
            scan_on_push: true,
            mutability: ImageTagMutability::Mutable,
        }
    }
}

/// What AWS reports about an existing repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryObserved {
    /// Repository name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<name>`.
    pub uri: String,
    /// Whether images are scanned on push.
    pub scan_on_push: bool,
    /// Tag mutability (`MUTABLE`, `IMMUTABLE`, ...).
    pub mutability: Option<ImageTagMutability>,
    /// Encryption type (`AES256`, `KMS`); fixed at creation.
    pub encryption: Option<EncryptionType>,
}

impl RepositoryObserved {
    fn from_sdk(name: &str, repo: &Repository) -> Result<Self> {
        let missing = |field| Error::Incomplete {
            name: name.to_string(),
            field,
        };
        Ok(Self {
            name: name.to_string(),
            arn: repo
                .repository_arn()
                .ok_or_else(|| missing("repositoryArn"))?
                .to_string(),
            uri: repo
                .repository_uri()
                .ok_or_else(|| missing("repositoryUri"))?
                .to_string(),
            scan_on_push: repo
                .image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            mutability: repo.image_tag_mutability().cloned(),
            encryption: repo
                .encryption_configuration()
                .map(|c| c.encryption_type().clone()),
        })
    }
}

/// Finds the repository by name. `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::Describe`], or [`Error::Incomplete`] when AWS omits the ARN or URI.
pub async fn find(client: &Client, name: &str) -> Result<Option<RepositoryObserved>> {
    match client
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => out
            .repositories()
            .iter()
            .find(|r| r.repository_name() == Some(name))
            .map(|r| RepositoryObserved::from_sdk(name, r))
            .transpose(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Describe(aws_error("describe repository", name, e))),
    }
}

/// Finds every repository of `names` in one DescribeRepositories, in the order given. AWS
/// refuses the whole call when one is missing (`RepositoryNotFoundException`); then each is
/// found alone ([`find`]).
///
/// # Errors
/// [`Error::Describe`], [`Error::Incomplete`].
pub async fn find_all<const N: usize>(
    client: &Client,
    names: [&str; N],
) -> Result<[Option<RepositoryObserved>; N]> {
    let mut found: [Option<RepositoryObserved>; N] = std::array::from_fn(|_| None);
    match client
        .describe_repositories()
        .set_repository_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .send()
        .await
    {
        Ok(out) => {
            for (slot, name) in found.iter_mut().zip(names) {
                *slot = out
                    .repositories()
                    .iter()
                    .find(|r| r.repository_name() == Some(name))
                    .map(|r| RepositoryObserved::from_sdk(name, r))
                    .transpose()?;
            }
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            for (slot, name) in found.iter_mut().zip(names) {
                *slot = find(client, name).await?;
            }
        }
        Err(e) => {
            return Err(Error::Describe(aws_error(
                "describe repositories",
                &names.join(", "),
                e,
            )));
        }
    }
    Ok(found)
}

/// The in-place changes `ensure` would make.
fn drift(desired: &RepositoryDesired, observed: &RepositoryObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if observed.scan_on_push != desired.scan_on_push {
        fields.push(FieldChange::new(
            "imageScanningConfiguration.scanOnPush",
            Some(observed.scan_on_push.to_string()),
            Some(desired.scan_on_push.to_string()),
        ));
    }
    if observed.mutability.as_ref() != Some(&desired.mutability) {
        fields.push(FieldChange::new(
            "imageTagMutability",
            observed.mutability.as_ref().map(|m| m.as_str().to_string()),
            Some(desired.mutability.as_str().to_string()),
        ));
    }
    fields
}

/// What `ensure` would do (pure).
pub fn diff(desired: &RepositoryDesired, observed: Option<&RepositoryObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(observed) => {
            let fields = drift(desired, observed);
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

fn sdk_tags(desired: &RepositoryDesired) -> Result<Vec<Tag>> {
    desired
        .tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| request_error("CreateRepository", desired, &e))
        })
        .collect()
}

fn request_error(
    what: &'static str,
    desired: &RepositoryDesired,
    err: &dyn std::fmt::Display,
) -> Error {
    Error::Request {
        what,
        name: desired.name.clone(),
        message: err.to_string(),
    }
}

async fn create(
    client: &Client,
    cx: &Context,
    desired: &RepositoryDesired,
) -> Result<RepositoryObserved> {
    cx.reporter.applying(KIND, &desired.name, "create");
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::Aes256)
        .build()
        .map_err(|e| request_error("CreateRepository", desired, &e))?;
    let result = client
        .create_repository()
        .repository_name(&desired.name)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(desired.scan_on_push)
                .build(),
        )
        .image_tag_mutability(desired.mutability.clone())
        .encryption_configuration(encryption)
        .set_tags(Some(sdk_tags(desired)?))
        .send()
        .await;
    match result {
        Ok(out) => match out.repository() {
            Some(repo) => RepositoryObserved::from_sdk(&desired.name, repo),
            None => wait_visible(client, cx, &desired.name).await,
        },
        // A retried create whose first response was lost: the repository is ours, adopt it.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_already_exists_exception()) =>
        {
            cx.reporter.note(
                KIND,
                format!("{} already exists; adopting it", desired.name),
            );
            wait_visible(client, cx, &desired.name).await
        }
        Err(e) => Err(Error::Create(aws_error(
            "create repository",
            &desired.name,
            e,
        ))),
    }
}

/// Polls DescribeRepositories until the repository is listed (eventual consistency).
async fn wait_visible(client: &Client, cx: &Context, name: &str) -> Result<RepositoryObserved> {
    let found = std::cell::RefCell::new(None);
    let slot = &found;
    let not_visible = |source| Error::NotVisible {
        name: name.to_string(),
        source: Box::new(source),
    };
    cx.timing
        .poller(VISIBLE_WITHIN)
        .wait(
            name,
            move || async move {
                Ok(match find(client, name).await? {
                    Some(observed) => {
                        *slot.borrow_mut() = Some(observed);
                        Readiness::Ready
                    }
                    None => Readiness::pending("not visible yet"),
                })
            },
            |state| cx.reporter.waiting(KIND, name, state),
        )
        .await
        .map_err(not_visible)?;
    found.into_inner().ok_or_else(|| {
        not_visible(WaitError::Failed {
            what: name.to_string(),
            reason: "the wait ended without observing the repository".into(),
        })
    })
}

/// Creates the repository (with tags, scan on push, tag mutability and AES256 encryption in
/// the create call) when absent, adopts it when present, and puts back only the drifted
/// settings (scan on push, tag mutability). Encryption cannot change after creation: a
/// repository encrypted otherwise is adopted as is, with a note.
///
/// # Errors
/// [`Error::Describe`], [`Error::Create`], [`Error::PutScanning`], [`Error::PutMutability`],
/// [`Error::NotVisible`].
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &RepositoryDesired,
) -> Result<RepositoryObserved> {
    let found = find(client, &desired.name).await?;
    ensure_found(client, cx, desired, found).await
}

/// [`ensure`] from `found`, what a [`find`] (or [`find_all`]) of this run saw.
///
/// # Errors
/// As [`ensure`].
pub async fn ensure_found(
    client: &Client,
    cx: &Context,
    desired: &RepositoryDesired,
    found: Option<RepositoryObserved>,
) -> Result<RepositoryObserved> {
    let Some(mut observed) = found else {
        let created = create(client, cx, desired).await?;
        cx.reporter.ready(KIND, &desired.name);
        return Ok(created);
    };
    if observed.encryption.as_ref() != Some(&EncryptionType::Aes256) {
        cx.reporter.note(
            KIND,
            format!(
                "{} is encrypted with {}; encryption is fixed at creation, left as is",
                desired.name,
                observed
                    .encryption
                    .as_ref()
                    .map_or("(unknown)", |e| e.as_str())
            ),
        );
    }
    if observed.scan_on_push != desired.scan_on_push {
        cx.reporter.applying(KIND, &desired.name, "update");
        client
            .put_image_scanning_configuration()
            .repository_name(&desired.name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(desired.scan_on_push)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::PutScanning(aws_error("set scan on push of", &desired.name, e)))?;
        observed.scan_on_push = desired.scan_on_push;
    }
    if observed.mutability.as_ref() != Some(&desired.mutability) {
        cx.reporter.applying(KIND, &desired.name, "update");
        client
            .put_image_tag_mutability()
            .repository_name(&desired.name)
            .image_tag_mutability(desired.mutability.clone())
            .send()
            .await
            .map_err(|e| {
                Error::PutMutability(aws_error("set tag mutability of", &desired.name, e))
            })?;
        observed.mutability = Some(desired.mutability.clone());
    }
    cx.reporter.ready(KIND, &desired.name);
    Ok(observed)
}

/// Ready as soon as DescribeRepositories lists it (ECR repositories have no pending state).
///
/// # Errors
/// [`Error::Describe`].
pub async fn ready(client: &Client, name: &str) -> Result<Readiness> {
    Ok(match find(client, name).await? {
        Some(_) => Readiness::Ready,
        None => Readiness::pending("not visible yet"),
    })
}

/// Deletes the repository; with `force`, also the images in it (without, a repository that
/// still holds images fails with `RepositoryNotEmptyException`). Absent is success.
///
/// # Errors
/// [`Error::Delete`].
pub async fn delete(client: &Client, cx: &Context, name: &str, force: bool) -> Result<()> {
    cx.reporter.applying(KIND, name, "delete");
    match client
        .delete_repository()
        .repository_name(name)
        .force(force)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::Delete(aws_error("delete repository", name, e))),
    }
}
