//! The crate's one error type.

use std::time::Duration;

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

use crate::rollout::{RolloutFailure, RolloutTimeout};

/// Why an ECS or Application Auto Scaling operation failed.
///
/// Two variants are verdicts rather than broken calls, and the engine maps them to their own
/// exit codes: [`Error::RolloutFailed`] (a failed or rolled-back deployment, exit 3) and the
/// timeouts ([`Error::RolloutTimedOut`], [`Error::TaskTimedOut`], exit 4); see
/// [`Error::is_timeout`] and [`Error::is_rollout_failure`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeClusters failed.
    #[error(transparent)]
    DescribeCluster(AwsError),
    /// CreateCluster failed.
    #[error(transparent)]
    CreateCluster(AwsError),
    /// PutClusterCapacityProviders failed.
    #[error(transparent)]
    PutCapacityProviders(AwsError),
    /// UpdateClusterSettings failed.
    #[error(transparent)]
    UpdateClusterSettings(AwsError),
    /// DeleteCluster failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteCluster(AwsError),
    /// DeleteCluster was refused because services other than the deleted ones are still
    /// ACTIVE or DRAINING in the cluster.
    #[error(
        "failed to delete cluster {cluster}: it still holds services {}; delete them (or wait \
         for them to drain) and run the command again",
        services.join(", ")
    )]
    ClusterNotEmpty {
        /// The cluster.
        cluster: String,
        /// The services ECS still lists in it (ACTIVE or DRAINING).
        services: Vec<String>,
    },

    /// The rendered task definition is not a RegisterTaskDefinition request this crate knows.
    #[error("failed to read task definition {family}: {message}")]
    InvalidTaskDefinition {
        /// The family, or `(unknown)`.
        family: String,
        /// What is wrong (an unknown key, a wrong type, an unknown enum value).
        message: String,
    },
    /// DescribeTaskDefinition failed (other than "no such family").
    #[error(transparent)]
    DescribeTaskDefinition(AwsError),
    /// RegisterTaskDefinition failed (after retrying IAM propagation errors).
    #[error(transparent)]
    RegisterTaskDefinition(AwsError),
    /// ListTaskDefinitions failed.
    #[error(transparent)]
    ListTaskDefinitions(AwsError),
    /// DeregisterTaskDefinition failed.
    #[error(transparent)]
    DeregisterTaskDefinition(AwsError),

    /// DescribeServices failed.
    #[error(transparent)]
    DescribeServices(AwsError),
    /// CreateService failed.
    #[error(transparent)]
    CreateService(AwsError),
    /// UpdateService failed.
    #[error(transparent)]
    UpdateService(AwsError),
    /// DeleteService failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteService(AwsError),
    /// TagResource on a service failed.
    #[error(transparent)]
    TagService(AwsError),
    /// A service vanished while it was being waited on.
    #[error("failed to wait for service {service}: it no longer exists in cluster {cluster}")]
    ServiceMissing {
        /// Cluster name.
        cluster: String,
        /// Service name.
        service: String,
    },
    /// A deployment failed or was rolled back by the circuit breaker.
    #[error("{0}")]
    RolloutFailed(Box<RolloutFailure>),
    /// A deployment did not finish before its deadline.
    #[error("{0}")]
    RolloutTimedOut(Box<RolloutTimeout>),

    /// RunTask failed or placed no task.
    #[error(transparent)]
    RunTask(AwsError),
    /// RunTask answered without a task, with these failures.
    #[error("failed to run task {task_definition}: {reasons}")]
    RunTaskRejected {
        /// The task definition.
        task_definition: String,
        /// AWS's failures (`arn: reason (detail)`), joined.
        reasons: String,
    },
    /// ListTasks failed.
    #[error(transparent)]
    ListTasks(AwsError),
    /// DescribeTasks failed.
    #[error(transparent)]
    DescribeTasks(AwsError),
    /// A one-off task did not stop before its deadline.
    #[error(
        "timed out after {waited:?} waiting for task {task} to stop; last status: {last_state}"
    )]
    TaskTimedOut {
        /// Task ARN.
        task: String,
        /// How long the wait lasted.
        waited: Duration,
        /// The task's last status.
        last_state: String,
    },

    /// DescribeScalableTargets failed.
    #[error(transparent)]
    DescribeScalableTargets(AwsError),
    /// RegisterScalableTarget failed.
    #[error(transparent)]
    RegisterScalableTarget(AwsError),
    /// DeregisterScalableTarget failed (other than "not found").
    #[error(transparent)]
    DeregisterScalableTarget(AwsError),
    /// DescribeScalingPolicies failed.
    #[error(transparent)]
    DescribeScalingPolicies(AwsError),
    /// PutScalingPolicy failed.
    #[error(transparent)]
    PutScalingPolicy(AwsError),
    /// DeleteScalingPolicy failed (other than "not found").
    #[error(transparent)]
    DeleteScalingPolicy(AwsError),

    /// ExecuteCommand failed (ECS Exec off, the agent not ready, no permission).
    #[error(transparent)]
    ExecuteCommand(AwsError),
    /// AWS answered without a field this crate needs.
    #[error("{what} answered without {field}")]
    MissingField {
        /// The call.
        what: &'static str,
        /// The missing field.
        field: &'static str,
    },

    /// A wait other than a rollout (cluster active, service drained) did not end well.
    #[error("failed to wait for {what}: {source}")]
    Wait {
        /// What was waited on.
        what: String,
        /// What the wait last saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
}

impl Error {
    /// True for a deadline that passed (exit code 4), as opposed to a failure.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::RolloutTimedOut(_) | Error::TaskTimedOut { .. } => true,
            Error::Wait { source, .. } => matches!(**source, WaitError::TimedOut { .. }),
            _ => false,
        }
    }

    /// True for a deployment that failed or was rolled back (exit code 3).
    pub fn is_rollout_failure(&self) -> bool {
        matches!(self, Error::RolloutFailed(_))
    }

    /// The AWS error behind this error, if it is one.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            Error::DescribeCluster(e)
            | Error::CreateCluster(e)
            | Error::PutCapacityProviders(e)
            | Error::UpdateClusterSettings(e)
            | Error::DeleteCluster(e)
            | Error::DescribeTaskDefinition(e)
            | Error::RegisterTaskDefinition(e)
            | Error::ListTaskDefinitions(e)
            | Error::DeregisterTaskDefinition(e)
            | Error::DescribeServices(e)
            | Error::CreateService(e)
            | Error::UpdateService(e)
            | Error::DeleteService(e)
            | Error::TagService(e)
            | Error::RunTask(e)
            | Error::ListTasks(e)
            | Error::DescribeTasks(e)
            | Error::DescribeScalableTargets(e)
            | Error::RegisterScalableTarget(e)
            | Error::DeregisterScalableTarget(e)
            | Error::DescribeScalingPolicies(e)
            | Error::PutScalingPolicy(e)
            | Error::DeleteScalingPolicy(e)
            | Error::ExecuteCommand(e) => Some(e),
            _ => None,
        }
    }
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeCluster(e)
            | Error::CreateCluster(e)
            | Error::PutCapacityProviders(e)
            | Error::UpdateClusterSettings(e)
            | Error::DeleteCluster(e)
            | Error::DescribeTaskDefinition(e)
            | Error::RegisterTaskDefinition(e)
            | Error::ListTaskDefinitions(e)
            | Error::DeregisterTaskDefinition(e)
            | Error::DescribeServices(e)
            | Error::CreateService(e)
            | Error::UpdateService(e)
            | Error::DeleteService(e)
            | Error::TagService(e)
            | Error::RunTask(e)
            | Error::ListTasks(e)
            | Error::DescribeTasks(e)
            | Error::DescribeScalableTargets(e)
            | Error::RegisterScalableTarget(e)
            | Error::DeregisterScalableTarget(e)
            | Error::DescribeScalingPolicies(e)
            | Error::PutScalingPolicy(e)
            | Error::DeleteScalingPolicy(e)
            | Error::ExecuteCommand(e) => e.kind(),
            Error::MissingField { .. } => ErrorKind::Internal,
            Error::Wait { source, .. } => source.kind(),
            Error::InvalidTaskDefinition { .. } => ErrorKind::Invalid,
            Error::ServiceMissing { .. } | Error::RolloutFailed(_) => ErrorKind::Failed,
            Error::RolloutTimedOut(_) | Error::TaskTimedOut { .. } => ErrorKind::TimedOut,
            Error::RunTaskRejected { .. } | Error::ClusterNotEmpty { .. } => ErrorKind::Refused,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
