//! The crate's one error type.

use orchestrate_aws::AwsError;
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
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Describe(e)
            | Error::Create(e)
            | Error::PutScanning(e)
            | Error::PutMutability(e)
            | Error::Delete(e) => e.kind(),
            Error::NotVisible { source, .. } => source.kind(),
            Error::Request { .. } | Error::Incomplete { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
