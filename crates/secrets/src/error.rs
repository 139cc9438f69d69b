//! The crate's one error type. No variant ever carries a secret value: AWS messages are
//! redacted by [`orchestrate_aws::aws_error`], and parse failures name the secret, not its
//! content.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a secret operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeSecret failed (other than `ResourceNotFoundException`, which is `None`).
    #[error(transparent)]
    Describe(AwsError),
    /// CreateSecret failed (other than `ResourceExistsException`, which is adopted).
    #[error(transparent)]
    Create(AwsError),
    /// RestoreSecret of a secret scheduled for deletion failed.
    #[error(transparent)]
    Restore(AwsError),
    /// GetSecretValue failed.
    #[error(transparent)]
    GetValue(AwsError),
    /// PutSecretValue failed.
    #[error(transparent)]
    PutValue(AwsError),
    /// ListSecrets failed.
    #[error(transparent)]
    List(AwsError),
    /// DeleteSecret failed (other than `ResourceNotFoundException`, which is success).
    #[error(transparent)]
    Delete(AwsError),
    /// UpdateSecretVersionStage failed for another reason than a lost compare-and-swap.
    #[error(transparent)]
    Stage(AwsError),
    /// Another run holds the deployment's lease.
    #[error(
        "deployment is being changed by another run: {0}; wait for it to finish, or, if that \
         run is gone for good, run again with --break-lock"
    )]
    Held(Box<crate::lease::HeldBy>),
    /// Other runs kept winning the lease's compare-and-swap.
    #[error("failed to take lease {name}: other runs kept writing it; try again")]
    Contended {
        /// The lease secret.
        name: String,
    },
    /// Another run took our lease while we held it (`--break-lock`).
    #[error(
        "lease {name} was taken over by {} while this run held it; stopped so that two runs \
         do not change the deployment at once",
        by.as_ref().map_or_else(|| "another run".to_string(), |h| h.to_string())
    )]
    Lost {
        /// The lease secret.
        name: String,
        /// Its new holder, when readable.
        by: Option<Box<crate::lease::Holder>>,
    },
    /// A stored value does not have the shape this tool wrote (the value itself is not shown).
    #[error("failed to read secret {name}: {problem}")]
    Malformed {
        /// The secret.
        name: String,
        /// What is wrong, without the value.
        problem: &'static str,
    },
    /// AWS answered without a field we rely on.
    #[error("failed to read secret {name}: the response has no {field}")]
    Incomplete {
        /// The secret.
        name: String,
        /// The missing field.
        field: &'static str,
    },
    /// A secret that "already exists" did not become visible in time.
    #[error("failed to see secret {name} after creating it: {source}")]
    NotVisible {
        /// The secret.
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
            | Error::Restore(e)
            | Error::GetValue(e)
            | Error::PutValue(e)
            | Error::List(e)
            | Error::Delete(e)
            | Error::Stage(e) => e.kind(),
            Error::Held(_) | Error::Contended { .. } | Error::Lost { .. } => ErrorKind::Busy,
            Error::NotVisible { source, .. } => source.kind(),
            Error::Malformed { .. } | Error::Incomplete { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
