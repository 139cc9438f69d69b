//! The crate's one error type.

use orchestrate_aws::AwsError;

use crate::image::ImageProblem;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a repository operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeRepositories failed (other than "not found", which is `None`).
    #[error(transparent)]
    Describe(AwsError),
    /// CreateRepository failed (other than "already exists", which is adopted).
    #[error(transparent)]
    Create(AwsError),
    /// PutImageScanningConfiguration failed.
    #[error(transparent)]
    PutScanning(AwsError),
    /// PutImageTagMutability failed.
    #[error(transparent)]
    PutMutability(AwsError),
    /// DeleteRepository failed (other than "not found", which is success).
    #[error(transparent)]
    Delete(AwsError),
    /// A request could not be built from our own inputs.
    #[error("failed to build the {what} request for repository {name}: {message}")]
    Request {
        /// Which request.
        what: &'static str,
        /// The repository.
        name: String,
        /// The builder's complaint.
        message: String,
    },
    /// AWS answered without a field we rely on.
    #[error("failed to read repository {name}: the response has no {field}")]
    Incomplete {
        /// The repository.
        name: String,
        /// The missing field.
        field: &'static str,
    },
    /// A repository that "already exists" did not become visible in time.
    #[error("failed to see repository {name} after creating it: {source}")]
    NotVisible {
        /// The repository.
        name: String,
        /// What the wait last saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// GetAuthorizationToken failed.
    #[error(transparent)]
    EcrLogin(AwsError),
    /// GetAuthorizationToken answered without a usable field.
    #[error("failed to log in to ECR: the GetAuthorizationToken answer has no usable {0}")]
    EcrLoginIncomplete(&'static str),
    /// An image reference does not parse.
    #[error("invalid image reference {image:?}: {message}")]
    InvalidReference {
        /// The reference as given.
        image: String,
        /// Why.
        message: String,
    },
    /// The image (repository or tag) does not exist in its registry.
    #[error(
        "image {image} does not exist: check its tag (the spec's [image] source and \
         airflow_version, [git_sync] image_source and image_tag)"
    )]
    ImageNotFound {
        /// The image reference.
        image: String,
    },
    /// The image exists but has no manifest for a platform asked for.
    #[error(
        "image {image} has no {platform} image (it offers: {}); use an image built for \
         {platform}, or run those components on an architecture it offers",
        offered.join(", ")
    )]
    PlatformMissing {
        /// The image reference.
        image: String,
        /// `linux/arm64` or `linux/amd64`.
        platform: String,
        /// The linux architectures it offers.
        offered: Vec<String>,
    },
    /// Preflight found images that would not pull.
    #[error(
        "{} image problem(s), tasks would stop with CannotPullContainerError:\n  - {}\nfix: `orchestrate images sync` copies the pinned images into ECR; an image you build yourself must be pushed for every platform listed",
        .0.len(),
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - ")
    )]
    Preflight(Vec<ImageProblem>),
    /// A manifest's content does not hash to the digest it was asked by.
    #[error("image {image}: digest mismatch, expected {expected}, got {actual}")]
    DigestMismatch {
        /// The image reference.
        image: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came back.
        actual: String,
    },
    /// A manifest or config is not what the OCI spec describes.
    #[error("image {image}: invalid manifest: {message}")]
    InvalidManifest {
        /// The image reference.
        image: String,
        /// Why.
        message: String,
    },
    /// A registry call failed.
    #[error("failed to {step} {image}: {source}")]
    Oci {
        /// What was being done (`pull a blob of`, `push a manifest to`, ...).
        step: &'static str,
        /// The image reference.
        image: String,
        /// The client's error.
        #[source]
        source: Box<oci_client::errors::OciDistributionError>,
    },
}

impl Error {
    /// True when an image (or one of its platforms) does not exist where it was asked for: a
    /// deploy-time failure (exit 3 in the CLI), as opposed to a registry that could not be
    /// reached or answered unexpectedly.
    pub fn is_missing_image(&self) -> bool {
        matches!(
            self,
            Error::ImageNotFound { .. } | Error::PlatformMissing { .. } | Error::Preflight(_)
        )
    }
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Describe(e)
            | Error::Create(e)
            | Error::PutScanning(e)
            | Error::PutMutability(e)
            | Error::Delete(e)
            | Error::EcrLogin(e) => e.kind(),
            Error::NotVisible { source, .. } => source.kind(),
            Error::Request { .. } | Error::Incomplete { .. } | Error::EcrLoginIncomplete(_) => {
                ErrorKind::Internal
            }
            // A spec value that is not an image reference.
            Error::InvalidReference { .. } => ErrorKind::Invalid,
            // The image or platform does not exist where the deployment needs it.
            Error::ImageNotFound { .. } | Error::PlatformMissing { .. } | Error::Preflight(_) => {
                ErrorKind::Failed
            }
            // The registry answered something that is not what it was asked for.
            Error::DigestMismatch { .. } | Error::InvalidManifest { .. } => ErrorKind::Refused,
            // The registry could not be used (connection, auth, HTTP error).
            Error::Oci { .. } => ErrorKind::Unreachable,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
