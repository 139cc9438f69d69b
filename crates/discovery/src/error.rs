//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a Cloud Map operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ListNamespaces / GetNamespace failed.
    #[error(transparent)]
    DescribeNamespace(AwsError),
    /// CreatePrivateDnsNamespace failed (a duplicate request or an existing namespace is
    /// adopted, never this error).
    #[error(transparent)]
    CreateNamespace(AwsError),
    /// DeleteNamespace failed (other than "not found", which is success); `ResourceInUse`
    /// means services still live in it.
    #[error(transparent)]
    DeleteNamespace(AwsError),
    /// GetOperation failed.
    #[error(transparent)]
    GetOperation(AwsError),
    /// ListServices / GetService failed.
    #[error(transparent)]
    DescribeService(AwsError),
    /// CreateService failed (an existing service is adopted, never this error).
    #[error(transparent)]
    CreateService(AwsError),
    /// UpdateService failed.
    #[error(transparent)]
    UpdateService(AwsError),
    /// ListInstances / DeregisterInstance / DeleteService failed.
    #[error(transparent)]
    DeleteService(AwsError),
    /// A request could not be built (a required field was missing: a bug).
    #[error("failed to build the {what} request: {message}")]
    Request {
        /// Which request.
        what: String,
        /// The builder's complaint.
        message: String,
    },
    /// An asynchronous Cloud Map operation failed, timed out, or could not be checked.
    #[error("failed to wait for {what}: {source}")]
    Operation {
        /// What the operation does (`creating namespace x.orchestrate.internal`).
        what: String,
        /// What the wait saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// An answer AWS gave lacks a field orchestrate needs (never replaced by an empty value).
    #[error("failed to read {what}: AWS returned no {field}")]
    MissingField {
        /// Which answer.
        what: String,
        /// The missing field.
        field: &'static str,
    },
    /// The create operation succeeded but did not name the namespace it created.
    #[error("failed to read the namespace id from operation {operation_id}: AWS reported none")]
    NoNamespaceId {
        /// The operation.
        operation_id: String,
    },
    /// A service property that cannot change in place differs from the desired one.
    #[error(
        "failed to update Cloud Map service {name} in place: {fields} cannot change on an \
         existing service; it must be replaced (`orchestrate teardown services`, then `up`)"
    )]
    ReplacementNeeded {
        /// The service name.
        name: String,
        /// The differing fields.
        fields: String,
    },
}

impl orchestrate_aws::HasCode for Error {
    fn code(&self) -> Option<&str> {
        match self {
            Error::DescribeNamespace(e)
            | Error::CreateNamespace(e)
            | Error::DeleteNamespace(e)
            | Error::GetOperation(e)
            | Error::DescribeService(e)
            | Error::CreateService(e)
            | Error::UpdateService(e)
            | Error::DeleteService(e) => Some(&e.code),
            _ => None,
        }
    }
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeNamespace(e)
            | Error::CreateNamespace(e)
            | Error::DeleteNamespace(e)
            | Error::GetOperation(e)
            | Error::DescribeService(e)
            | Error::CreateService(e)
            | Error::UpdateService(e)
            | Error::DeleteService(e) => e.kind(),
            Error::Operation { source, .. } => source.kind(),
            Error::Request { .. } | Error::NoNamespaceId { .. } | Error::MissingField { .. } => {
                ErrorKind::Internal
            }
            Error::ReplacementNeeded { .. } => ErrorKind::Refused,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
