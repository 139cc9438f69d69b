//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why an IAM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GetRole failed (other than `NoSuchEntity`, which is `None`).
    #[error(transparent)]
    GetRole(AwsError),
    /// CreateRole failed (other than `EntityAlreadyExists`, which is adopted).
    #[error(transparent)]
    CreateRole(AwsError),
    /// UpdateAssumeRolePolicy failed.
    #[error(transparent)]
    UpdateTrust(AwsError),
    /// GetRolePolicy failed (other than `NoSuchEntity`, which is `None`).
    #[error(transparent)]
    GetPolicy(AwsError),
    /// PutRolePolicy failed.
    #[error(transparent)]
    PutPolicy(AwsError),
    /// ListRolePolicies or ListAttachedRolePolicies failed.
    #[error(transparent)]
    ListPolicies(AwsError),
    /// AttachRolePolicy failed (a managed policy ARN that does not exist is `NoSuchEntity`).
    #[error(transparent)]
    AttachPolicy(AwsError),
    /// DeleteRolePolicy or DetachRolePolicy failed.
    #[error(transparent)]
    RemovePolicy(AwsError),
    /// DeleteRole failed (other than `NoSuchEntity`, which is success).
    #[error(transparent)]
    DeleteRole(AwsError),
    /// A request could not be built from our own inputs.
    #[error("failed to build the {what} request for role {role}: {message}")]
    Request {
        /// Which request.
        what: &'static str,
        /// The role.
        role: String,
        /// The builder's complaint.
        message: String,
    },
    /// A created role did not become visible to GetRole in time.
    #[error("failed to see role {role} after creating it: {source}")]
    NotVisible {
        /// The role.
        role: String,
        /// What the wait last saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::GetRole(e)
            | Error::CreateRole(e)
            | Error::UpdateTrust(e)
            | Error::GetPolicy(e)
            | Error::PutPolicy(e)
            | Error::ListPolicies(e)
            | Error::AttachPolicy(e)
            | Error::RemovePolicy(e)
            | Error::DeleteRole(e) => e.kind(),
            Error::NotVisible { source, .. } => source.kind(),
            Error::Request { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
