//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind};

/// Why an alarm or topic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// CloudWatch DescribeAlarms failed.
    #[error(transparent)]
    DescribeAlarms(AwsError),
    /// CloudWatch PutMetricAlarm failed.
    #[error(transparent)]
    PutAlarm(AwsError),
    /// CloudWatch DeleteAlarms failed.
    #[error(transparent)]
    DeleteAlarms(AwsError),
    /// SNS GetTopicAttributes failed (other than "not found", which is absence).
    #[error(transparent)]
    GetTopic(AwsError),
    /// SNS CreateTopic failed.
    #[error(transparent)]
    CreateTopic(AwsError),
    /// SNS ListSubscriptionsByTopic failed.
    #[error(transparent)]
    ListSubscriptions(AwsError),
    /// SNS Subscribe failed.
    #[error(transparent)]
    Subscribe(AwsError),
    /// SNS ListTagsForResource failed.
    #[error(transparent)]
    ListTopicTags(AwsError),
    /// SNS DeleteTopic failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteTopic(AwsError),
    /// AWS answered without a field this crate needs (a described alarm without its name, a
    /// created topic without its ARN).
    #[error("{what}: AWS answered without {field}")]
    MissingField {
        /// The call or resource.
        what: String,
        /// The missing field.
        field: &'static str,
    },
}

impl Classify for Error {
    /// The kind of the AWS error inside; a missing response field is Internal.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeAlarms(e)
            | Error::PutAlarm(e)
            | Error::DeleteAlarms(e)
            | Error::GetTopic(e)
            | Error::CreateTopic(e)
            | Error::ListSubscriptions(e)
            | Error::Subscribe(e)
            | Error::ListTopicTags(e)
            | Error::DeleteTopic(e) => e.kind(),
            Error::MissingField { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
