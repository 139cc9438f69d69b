//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a database operation failed.
///
/// No variant ever carries the master password: AWS messages are redacted by
/// [`orchestrate_aws::aws_error`] and this crate's own messages never format it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeDBSubnetGroups failed.
    #[error(transparent)]
    DescribeSubnetGroup(AwsError),
    /// CreateDBSubnetGroup failed (an existing group is adopted, never this error).
    #[error(transparent)]
    CreateSubnetGroup(AwsError),
    /// ModifyDBSubnetGroup failed.
    #[error(transparent)]
    ModifySubnetGroup(AwsError),
    /// DeleteDBSubnetGroup failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteSubnetGroup(AwsError),
    /// DescribeDBInstances failed.
    #[error(transparent)]
    DescribeInstance(AwsError),
    /// CreateDBInstance failed: among others, a configuration AWS rejects
    /// (`InvalidParameterCombination`, `InvalidParameterValue`).
    #[error(transparent)]
    CreateInstance(AwsError),
    /// ModifyDBInstance failed.
    #[error(transparent)]
    ModifyInstance(AwsError),
    /// DeleteDBInstance failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteInstance(AwsError),
    /// DescribeDBEngineVersions failed (`orchestrate verify`).
    #[error(transparent)]
    DescribeEngineVersions(AwsError),
    /// DescribeOrderableDBInstanceOptions failed (`orchestrate verify`).
    #[error(transparent)]
    DescribeOrderable(AwsError),
    /// The instance exists but is being deleted: it cannot be adopted.
    #[error(
        "failed to adopt DB instance {name}: it is being deleted; wait until it is gone \
         (or restore it from its final snapshot) and run `up` again"
    )]
    BeingDeleted {
        /// The instance identifier.
        name: String,
    },
    /// The spec asks for less storage than the instance has; RDS cannot shrink storage.
    #[error(
        "failed to update DB instance {name}: allocated storage cannot shrink from {observed} GiB \
         to {desired} GiB; set database.allocated_storage_gb to at least {observed} (shrinking \
         needs a dump and restore into a new instance)"
    )]
    StorageDecrease {
        /// The instance identifier.
        name: String,
        /// GiB the instance has.
        observed: i32,
        /// GiB the spec asks for.
        desired: i32,
    },
    /// The instance did not become available (failed state, timeout or a failing probe).
    #[error("failed to wait for DB instance {name} to become available: {source}")]
    NotAvailable {
        /// The instance identifier.
        name: String,
        /// What the wait saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// The instance did not disappear after DeleteDBInstance.
    #[error("failed to wait for DB instance {name} to be deleted: {source}")]
    NotDeleted {
        /// The instance identifier.
        name: String,
        /// What the wait saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// The instance is available but AWS reported no endpoint.
    #[error("failed to read the endpoint of DB instance {name}: AWS reported none")]
    NoEndpoint {
        /// The instance identifier.
        name: String,
    },
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeSubnetGroup(e)
            | Error::CreateSubnetGroup(e)
            | Error::ModifySubnetGroup(e)
            | Error::DeleteSubnetGroup(e)
            | Error::DescribeInstance(e)
            | Error::CreateInstance(e)
            | Error::ModifyInstance(e)
            | Error::DeleteInstance(e)
            | Error::DescribeEngineVersions(e)
            | Error::DescribeOrderable(e) => e.kind(),
            Error::NotAvailable { source, .. } => source.kind(),
            Error::NotDeleted { source, .. } => source.kind(),
            Error::BeingDeleted { .. } | Error::StorageDecrease { .. } => ErrorKind::Refused,
            Error::NoEndpoint { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl orchestrate_aws::HasCode for Error {
    fn code(&self) -> Option<&str> {
        match self {
            Error::DescribeSubnetGroup(e)
            | Error::CreateSubnetGroup(e)
            | Error::ModifySubnetGroup(e)
            | Error::DeleteSubnetGroup(e)
            | Error::DescribeInstance(e)
            | Error::CreateInstance(e)
            | Error::ModifyInstance(e)
            | Error::DeleteInstance(e)
            | Error::DescribeEngineVersions(e)
            | Error::DescribeOrderable(e) => Some(&e.code),
            _ => None,
        }
    }
}
