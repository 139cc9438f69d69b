//! orchestrate-aws: how every resource crate turns an AWS SDK error into something a user can
//! act on, and the one retry loop we own (eventual consistency).
//!
//! # Guarantees
//! - [`AwsError`] names the action, the resource, AWS's error code and message, with every
//!   registered secret value redacted from the message.
//! - The SDK's own retry (throttling, 5xx, timeouts) is left to the SDK. [`retry_eventual`]
//!   retries only the error codes a caller names (e.g. an IAM role ECS cannot assume yet), with
//!   a bounded budget: an allow-list, never retry-all.

pub mod arn;
pub use arn::{arn, partition};

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orchestrate_core::Timing;
use orchestrate_core::sensitive::redact;

/// A failed AWS call, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to {action} {resource}: {code}: {message}")]
pub struct AwsError {
    /// The verb, e.g. `create DB instance`.
    pub action: String,
    /// The resource name.
    pub resource: String,
    /// AWS's error code (`InvalidParameterValue`, ...), or the SDK's failure kind.
    pub code: String,
    /// AWS's message, redacted.
    pub message: String,
}

impl AwsError {
    /// True when AWS said the resource does not exist (by any of the usual codes).
    pub fn is_not_found(&self) -> bool {
        is_not_found_code(&self.code)
    }
}

/// Builds an [`AwsError`] from any SDK error.
pub fn aws_error<E, R>(action: &str, resource: &str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = code_and_message(&err);
    AwsError {
        action: action.into(),
        resource: resource.into(),
        code,
        message: redact(&message),
    }
}

/// The code and message of an SDK error; for non-service failures, the kind of failure.
pub fn code_and_message<E, R>(err: &SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_string();
            let message = inner
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| inner.to_string());
            (code, message)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
        SdkError::DispatchFailure(failure) => (
            "DispatchFailure".into(),
            format!("could not reach the AWS endpoint: {failure:?}"),
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".into(),
            "the response could not be read (connection lost?)".into(),
        ),
        SdkError::ConstructionFailure(_) => (
            "ConstructionFailure".into(),
            "the request could not be built".into(),
        ),
        other => ("Unknown".into(), other.to_string()),
    }
}

/// The SDK error's code, if AWS answered.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Codes that mean "no such resource" across the services we use.
pub fn is_not_found_code(code: &str) -> bool {
    code.ends_with("NotFound")
        || code.ends_with("NotFoundFault")
        || code.ends_with("NotFoundException")
        || matches!(
            code,
            "NoSuchEntity"
                | "ResourceNotFoundException"
                | "RepositoryNotFoundException"
                | "ClusterNotFoundException"
                | "ServiceNotFoundException"
                | "NamespaceNotFound"
                | "LoadBalancerNotFound"
                | "TargetGroupNotFound"
        )
}

/// Retries `call` while it fails with one of `codes` (eventual consistency: a role not yet
/// assumable, a resource not yet visible), up to `attempts` times with a growing pause.
///
/// # Errors
/// The last error once the budget is spent, or at once for any other error.
pub async fn retry_eventual<T, E, F, Fut>(
    timing: Timing,
    codes: &[&str],
    attempts: u32,
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: HasCode,
{
    let mut pause = timing
        .scaled(Duration::from_secs(2))
        .max(Duration::from_millis(5));
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < attempts && e.code().is_some_and(|c| codes.contains(&c)) => {
                tracing::debug!(
                    code = e.code(),
                    attempt,
                    "eventual-consistency error, retrying"
                );
                tokio::time::sleep(pause).await;
                pause = pause.mul_f64(1.5).min(
                    timing
                        .scaled(Duration::from_secs(10))
                        .max(Duration::from_millis(10)),
                );
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Anything with an AWS error code.
pub trait HasCode {
    /// The code, if any.
    fn code(&self) -> Option<&str>;
}

impl HasCode for AwsError {
    fn code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

impl<E: ProvideErrorMetadata, R> HasCode for SdkError<E, R> {
    fn code(&self) -> Option<&str> {
        error_code(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn err(code: &str) -> AwsError {
        AwsError {
            action: "create".into(),
            resource: "r".into(),
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn not_found_codes() {
        for code in [
            "DBInstanceNotFound",
            "ReplicationGroupNotFoundFault",
            "NoSuchEntity",
            "ResourceNotFoundException",
            "InvalidVpcID.NotFound",
        ] {
            assert!(is_not_found_code(code), "{code}");
        }
        assert!(!is_not_found_code("InvalidParameterValue"));
    }

    #[tokio::test]
    async fn retries_only_named_codes_within_budget() {
        let calls = Cell::new(0);
        let timing = Timing { scale: 0.001 };
        let result: Result<u32, AwsError> =
            retry_eventual(timing, &["InvalidParameterException"], 5, || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(err("InvalidParameterException"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(3));

        calls.set(0);
        let result: Result<u32, AwsError> = retry_eventual(timing, &["X"], 5, || {
            calls.set(calls.get() + 1);
            async { Err(err("AccessDenied")) }
        })
        .await;
        assert_eq!(result.map_err(|e| e.code), Err("AccessDenied".to_string()));
        assert_eq!(calls.get(), 1, "other errors are not retried");

        calls.set(0);
        let result: Result<u32, AwsError> = retry_eventual(timing, &["X"], 3, || {
            calls.set(calls.get() + 1);
            async { Err(err("X")) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 3, "budget is bounded");
    }

    #[test]
    fn message_is_redacted() {
        let secret = orchestrate_core::Sensitive::new("supersecretvalue123");
        let e = AwsError {
            action: "a".into(),
            resource: "b".into(),
            code: "c".into(),
            message: redact(&format!("bad {}", secret.expose())),
        };
        assert!(!e.to_string().contains("supersecretvalue123"));
    }
}
