//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a log-group operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeLogGroups failed.
    #[error(transparent)]
    Describe(AwsError),
    /// CreateLogGroup failed (other than "already exists", which is adopted).
    #[error(transparent)]
    Create(AwsError),
    /// PutRetentionPolicy failed.
    #[error(transparent)]
    PutRetention(AwsError),
    /// DeleteLogGroup failed (other than "not found", which is success).
    #[error(transparent)]
    Delete(AwsError),
    /// GetLogEvents failed (other than a missing group or stream, which reads as empty).
    #[error(transparent)]
    ReadEvents(AwsError),
    /// A created log group did not become visible in time.
    #[error("failed to see log group {name} after creating it: {source}")]
    NotVisible {
        /// The log group.
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
            | Error::PutRetention(e)
            | Error::Delete(e)
            | Error::ReadEvents(e) => e.kind(),
            Error::NotVisible { source, .. } => source.kind(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
