//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeCacheSubnetGroups failed.
    #[error(transparent)]
    DescribeSubnetGroup(AwsError),
    /// CreateCacheSubnetGroup failed (an existing group is adopted, never this error).
    #[error(transparent)]
    CreateSubnetGroup(AwsError),
    /// ModifyCacheSubnetGroup failed.
    #[error(transparent)]
    ModifySubnetGroup(AwsError),
    /// DeleteCacheSubnetGroup failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteSubnetGroup(AwsError),
    /// DescribeReplicationGroups / DescribeCacheClusters failed.
    #[error(transparent)]
    DescribeReplicationGroup(AwsError),
    /// CreateReplicationGroup failed: among others, a configuration AWS rejects
    /// (`InvalidParameterValue`, `InvalidParameterCombination`).
    #[error(transparent)]
    CreateReplicationGroup(AwsError),
    /// ModifyReplicationGroup failed.
    #[error(transparent)]
    ModifyReplicationGroup(AwsError),
    /// DeleteReplicationGroup failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteReplicationGroup(AwsError),
    /// DescribeCacheEngineVersions failed (`orchestrate verify`).
    #[error(transparent)]
    DescribeEngineVersions(AwsError),
    /// The replication group exists but is being deleted: it cannot be adopted.
    #[error(
        "failed to adopt replication group {name}: it is being deleted; wait until it is gone \
         and run `up` again"
    )]
    BeingDeleted {
        /// The replication group id.
        name: String,
    },
    /// A property that cannot change in place differs from the spec.
    #[error(
        "failed to update replication group {name} in place: {fields} cannot change on an \
         existing replication group; it must be replaced (delete it, e.g. `orchestrate teardown \
         all`, then run `up` again), or set the spec back to what it has"
    )]
    ReplacementNeeded {
        /// The replication group id.
        name: String,
        /// The differing fields with their observed and desired values.
        fields: String,
    },
    /// The replication group did not become available (failed state, timeout, failing probe).
    #[error("failed to wait for replication group {name} to become available: {source}")]
    NotAvailable {
        /// The replication group id.
        name: String,
        /// What the wait saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// The replication group did not disappear after DeleteReplicationGroup.
    #[error("failed to wait for replication group {name} to be deleted: {source}")]
    NotDeleted {
        /// The replication group id.
        name: String,
        /// What the wait saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// The replication group is available but AWS reported no endpoint.
    #[error("failed to read the endpoint of replication group {name}: AWS reported none")]
    NoEndpoint {
        /// The replication group id.
        name: String,
    },
}

impl orchestrate_aws::HasCode for Error {
    fn code(&self) -> Option<&str> {
        match self {
            Error::DescribeSubnetGroup(e)
            | Error::CreateSubnetGroup(e)
            | Error::ModifySubnetGroup(e)
            | Error::DeleteSubnetGroup(e)
            | Error::DescribeReplicationGroup(e)
            | Error::CreateReplicationGroup(e)
            | Error::ModifyReplicationGroup(e)
            | Error::DeleteReplicationGroup(e)
            | Error::DescribeEngineVersions(e) => Some(&e.code),
            _ => None,
        }
    }
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeSubnetGroup(e)
            | Error::CreateSubnetGroup(e)
            | Error::ModifySubnetGroup(e)
            | Error::DeleteSubnetGroup(e)
            | Error::DescribeReplicationGroup(e)
            | Error::CreateReplicationGroup(e)
            | Error::ModifyReplicationGroup(e)
            | Error::DeleteReplicationGroup(e)
            | Error::DescribeEngineVersions(e) => e.kind(),
            Error::NotAvailable { source, .. } => source.kind(),
            Error::NotDeleted { source, .. } => source.kind(),
            Error::BeingDeleted { .. } | Error::ReplacementNeeded { .. } => ErrorKind::Refused,
            Error::NoEndpoint { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
