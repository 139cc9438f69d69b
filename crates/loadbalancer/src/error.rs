//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a load-balancer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeLoadBalancers / DescribeLoadBalancerAttributes failed.
    #[error(transparent)]
    DescribeLoadBalancer(AwsError),
    /// CreateLoadBalancer failed (a duplicate name is adopted, never this error).
    #[error(transparent)]
    CreateLoadBalancer(AwsError),
    /// SetSubnets / SetSecurityGroups / SetIpAddressType / ModifyLoadBalancerAttributes failed.
    #[error(transparent)]
    UpdateLoadBalancer(AwsError),
    /// DeleteLoadBalancer failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteLoadBalancer(AwsError),
    /// DescribeTargetGroups / DescribeTargetGroupAttributes failed.
    #[error(transparent)]
    DescribeTargetGroup(AwsError),
    /// CreateTargetGroup failed (a duplicate name is adopted, never this error).
    #[error(transparent)]
    CreateTargetGroup(AwsError),
    /// ModifyTargetGroup / ModifyTargetGroupAttributes failed.
    #[error(transparent)]
    UpdateTargetGroup(AwsError),
    /// DeleteTargetGroup failed (including still in use once the retry budget is spent).
    #[error(transparent)]
    DeleteTargetGroup(AwsError),
    /// DescribeTargetHealth failed.
    #[error(transparent)]
    DescribeTargetHealth(AwsError),
    /// DescribeListeners / DescribeTags (of listeners) failed.
    #[error(transparent)]
    DescribeListeners(AwsError),
    /// CreateListener failed.
    #[error(transparent)]
    CreateListener(AwsError),
    /// ModifyListener failed.
    #[error(transparent)]
    UpdateListener(AwsError),
    /// DeleteListener failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteListener(AwsError),
    /// A property AWS cannot change in place differs from the spec.
    #[error(
        "failed to update {kind} {name} in place: {fields} cannot change on an existing \
         resource; it must be replaced (delete it, e.g. `orchestrate teardown services`, then \
         run `up` again)"
    )]
    ReplacementNeeded {
        /// Resource kind (`elbv2/target-group`, ...).
        kind: String,
        /// Resource name.
        name: String,
        /// The differing fields with their observed and desired values.
        fields: String,
    },
    /// AWS answered without a field this crate needs (an ARN, a DNS name).
    #[error("failed to read {what}: AWS returned no {field}")]
    MissingField {
        /// What was read.
        what: String,
        /// The missing field.
        field: &'static str,
    },
    /// The load balancer did not disappear after DeleteLoadBalancer in time.
    #[error("failed to delete load balancer {name}: {source}")]
    DeleteWait {
        /// The load balancer.
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
            Error::DescribeLoadBalancer(e)
            | Error::CreateLoadBalancer(e)
            | Error::UpdateLoadBalancer(e)
            | Error::DeleteLoadBalancer(e)
            | Error::DescribeTargetGroup(e)
            | Error::CreateTargetGroup(e)
            | Error::UpdateTargetGroup(e)
            | Error::DeleteTargetGroup(e)
            | Error::DescribeTargetHealth(e)
            | Error::DescribeListeners(e)
            | Error::CreateListener(e)
            | Error::UpdateListener(e)
            | Error::DeleteListener(e) => e.kind(),
            Error::DeleteWait { source, .. } => source.kind(),
            Error::ReplacementNeeded { .. } => ErrorKind::Refused,
            Error::MissingField { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
