//! orchestrate-aws: how every resource crate turns an AWS SDK error into something a user can
//! act on, and the one retry loop we own (eventual consistency).
//!
//! # Guarantees
//! - [`AwsError`] names the action, the resource, AWS's error code and message, with every
//!   registered secret value redacted from the message.
//! - [`AwsError`] carries its [`ErrorKind`], decided from the SDK error's structure (the
//!   `SdkError` variant, the HTTP status, AWS's error code, a credentials-provider error in the
//!   source chain), never from message text; see [`kind_of`].
//! - A failure to reach AWS is shown with its whole cause chain, each cause by `Display`
//!   (as the SDK's `DisplayErrorContext` does, without the `Debug` dump it appends).
//! - The SDK's own retry (throttling, 5xx, timeouts) is left to the SDK. [`retry_eventual`]
//!   retries only the error codes a caller names (e.g. an IAM role ECS cannot assume yet), with
//!   a bounded budget: an allow-list, never retry-all.

pub mod arn;
pub use arn::{arn, partition};

use std::future::Future;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use orchestrate_core::sensitive::redact;
use orchestrate_core::{Classify, ErrorKind, Timing};

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
    /// What kind of failure this is (decides retries and the exit code).
    pub kind: ErrorKind,
}

impl AwsError {
    /// An error this crate's callers raise themselves (not from an SDK call), e.g. "created
    /// but not yet visible"; its kind is decided from `code` as AWS's would be.
    pub fn new(
        action: impl Into<String>,
        resource: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let code = code.into();
        Self {
            kind: kind_of_code(&code, None),
            action: action.into(),
            resource: resource.into(),
            code,
            message: message.into(),
        }
    }

    /// True when AWS said the resource does not exist (by any of the usual codes).
    pub fn is_not_found(&self) -> bool {
        is_not_found_code(&self.code)
    }

    /// An answer to `action` on `resource` that lacks `field`, which this tool needs (an ARN,
    /// an id, a status): code [`INCOMPLETE_ANSWER`], kind [`ErrorKind::Internal`]. AWS's
    /// published shapes mark nearly every member optional; a missing one is reported, never
    /// replaced by an empty string.
    pub fn missing(action: impl Into<String>, resource: impl Into<String>, field: &str) -> Self {
        Self {
            kind: ErrorKind::Internal,
            action: action.into(),
            resource: resource.into(),
            code: INCOMPLETE_ANSWER.to_string(),
            message: format!("AWS's answer has no {field}"),
        }
    }
}

/// The code of [`AwsError::missing`]: an answer without a field this tool needs.
pub const INCOMPLETE_ANSWER: &str = "IncompleteAnswer";

/// `value` when AWS's answer has it; [`AwsError::missing`] otherwise.
///
/// # Errors
/// [`AwsError::missing`] when `value` is `None`.
pub fn required<'a, T: ?Sized>(
    value: Option<&'a T>,
    action: &str,
    resource: &str,
    field: &str,
) -> Result<&'a T, AwsError> {
    value.ok_or_else(|| AwsError::missing(action, resource, field))
}

impl Classify for AwsError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// Builds an [`AwsError`] from any SDK error.
pub fn aws_error<E>(action: &str, resource: &str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = code_and_message(&err);
    AwsError {
        action: action.into(),
        resource: resource.into(),
        code,
        message: redact(&message),
        kind: kind_of(&err),
    }
}

/// The code and message of an SDK error; for non-service failures, the kind of failure and
/// the SDK's own account of it (with its causes, via `DisplayErrorContext`).
pub fn code_and_message<E>(err: &SdkError<E, HttpResponse>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status().as_u16();
            match inner.code() {
                Some(code) => {
                    let message = inner
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| inner.to_string());
                    (code.to_string(), message)
                }
                None => (
                    format!("HTTP{status}"),
                    format!(
                        "the endpoint answered HTTP {status} without an AWS error{}",
                        if status == 404 || !(400..600).contains(&status) {
                            "; it is probably not an AWS API endpoint (check --endpoint-url / \
                             AWS_ENDPOINT_URL)"
                        } else {
                            ""
                        }
                    ),
                ),
            }
        }
        SdkError::TimeoutError(_) => (
            "Timeout".into(),
            "no answer from the AWS endpoint within the operation timeout".into(),
        ),
        SdkError::DispatchFailure(_) if credentials_error(err).is_some() => (
            "NoCredentials".into(),
            format!("could not load AWS credentials: {}", causes(err)),
        ),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => (
            "Timeout".into(),
            format!("the AWS endpoint did not answer in time: {}", causes(err)),
        ),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".into(),
            format!("could not reach the AWS endpoint: {}", causes(err)),
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".into(),
            format!(
                "the response could not be read (connection lost?): {}",
                causes(err)
            ),
        ),
        SdkError::ConstructionFailure(_) => (
            "ConstructionFailure".into(),
            format!("the request could not be built: {}", causes(err)),
        ),
        other => ("Unknown".into(), causes(other)),
    }
}

/// The error and its causes, `a: b: c`, each shown with `Display` (the SDK's
/// `DisplayErrorContext` would append the whole `Debug` form), skipping a cause whose text is
/// already shown.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        current = e.source();
    }
    out
}

/// The credentials-provider error behind a failed call, if loading credentials is what failed.
fn credentials_error<E>(err: &SdkError<E, HttpResponse>) -> Option<&CredentialsError>
where
    E: std::error::Error + 'static,
{
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<CredentialsError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The [`ErrorKind`] of an SDK error, from its structure:
/// - `ServiceError`: AWS's error code first (throttling, credentials, access-denied and
///   not-found codes), then the HTTP status (429 throttled, 5xx transient, 401/403 credentials /
///   access denied, a bare 404 without an AWS error code: not an AWS endpoint); any other AWS
///   answer is a refusal.
/// - `DispatchFailure`: a credentials-provider error in the source chain is
///   [`ErrorKind::Credentials`]; otherwise (connection refused, DNS, connect timeout)
///   [`ErrorKind::Unreachable`]; a failure the SDK calls a user error is internal.
/// - `TimeoutError` and `ResponseError` (connection lost mid-answer): unreachable.
/// - `ConstructionFailure`: internal (a request this tool could not build).
pub fn kind_of<E>(err: &SdkError<E, HttpResponse>) -> ErrorKind
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => kind_of_code(
            service.err().code().unwrap_or(""),
            Some(service.raw().status().as_u16()),
        ),
        SdkError::DispatchFailure(_) if credentials_error(err).is_some() => ErrorKind::Credentials,
        SdkError::DispatchFailure(failure) if failure.is_user() => ErrorKind::Internal,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            ErrorKind::Unreachable
        }
        SdkError::ConstructionFailure(_) => ErrorKind::Internal,
        _ => ErrorKind::Internal,
    }
}

/// Throttling codes across the services used (query, JSON and EC2 protocols).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
    "TransactionInProgressException",
];

/// AWS-side failures worth another try.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Missing, invalid or expired credentials.
const CREDENTIALS_CODES: &[&str] = &[
    "AuthFailure",
    "UnrecognizedClient",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "InvalidToken",
    "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
];

/// Valid credentials that may not do this.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "NotAuthorized",
    "UnauthorizedException",
];

/// The kind of an AWS answer with `code` (empty when the answer had none) and `status`.
pub fn kind_of_code(code: &str, status: Option<u16>) -> ErrorKind {
    if THROTTLING_CODES.contains(&code) {
        ErrorKind::Throttled
    } else if TRANSIENT_CODES.contains(&code) {
        ErrorKind::Transient
    } else if CREDENTIALS_CODES.contains(&code) {
        ErrorKind::Credentials
    } else if ACCESS_DENIED_CODES.contains(&code) {
        ErrorKind::AccessDenied
    } else if !code.is_empty() && is_not_found_code(code) {
        ErrorKind::NotFound
    } else {
        match (code.is_empty(), status) {
            (_, Some(429)) => ErrorKind::Throttled,
            (_, Some(s)) if (500..600).contains(&s) => ErrorKind::Transient,
            (true, Some(401)) => ErrorKind::Credentials,
            (true, Some(403)) => ErrorKind::AccessDenied,
            (true, Some(s)) if (400..500).contains(&s) && s != 404 => ErrorKind::Refused,
            (true, Some(_)) => ErrorKind::BadEndpoint,
            (true, None) => ErrorKind::Internal,
            (false, _) if matches!(code, "ConstructionFailure" | "MISSING") => ErrorKind::Internal,
            (false, _) => ErrorKind::Refused,
        }
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
        AwsError::new("create", "r", code, "m")
    }

    #[test]
    fn a_missing_field_is_an_internal_error_naming_it_never_an_empty_value() {
        let present: Result<&str, AwsError> = required(
            Some("arn:aws:ecs:::cluster/x"),
            "describe cluster",
            "x",
            "clusterArn",
        );
        assert_eq!(present, Ok("arn:aws:ecs:::cluster/x"));
        let e = required::<str>(None, "describe cluster", "x", "clusterArn").expect_err("missing");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.code, INCOMPLETE_ANSWER);
        assert!(!e.is_not_found());
        assert_eq!(
            e.to_string(),
            "failed to describe cluster x: IncompleteAnswer: AWS's answer has no clusterArn"
        );
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
    fn kinds_from_codes_and_statuses() {
        let cases = [
            ("Throttling", Some(400), ErrorKind::Throttled),
            ("RequestLimitExceeded", Some(503), ErrorKind::Throttled),
            ("ThrottlingException", Some(400), ErrorKind::Throttled),
            ("", Some(429), ErrorKind::Throttled),
            ("InternalError", Some(500), ErrorKind::Transient),
            ("ServiceUnavailable", Some(503), ErrorKind::Transient),
            ("", Some(502), ErrorKind::Transient),
            ("AuthFailure", Some(401), ErrorKind::Credentials),
            (
                "UnrecognizedClientException",
                Some(400),
                ErrorKind::Credentials,
            ),
            ("InvalidClientTokenId", Some(403), ErrorKind::Credentials),
            ("ExpiredToken", Some(400), ErrorKind::Credentials),
            ("", Some(401), ErrorKind::Credentials),
            ("AccessDenied", Some(403), ErrorKind::AccessDenied),
            ("UnauthorizedOperation", Some(403), ErrorKind::AccessDenied),
            ("", Some(403), ErrorKind::AccessDenied),
            ("DBInstanceNotFound", Some(404), ErrorKind::NotFound),
            ("InvalidVpcID.NotFound", Some(400), ErrorKind::NotFound),
            ("", Some(404), ErrorKind::BadEndpoint),
            ("", Some(200), ErrorKind::BadEndpoint),
            ("InvalidParameterCombination", Some(400), ErrorKind::Refused),
            ("DependencyViolation", Some(400), ErrorKind::Refused),
            ("", Some(400), ErrorKind::Refused),
            ("ConstructionFailure", None, ErrorKind::Internal),
        ];
        for (code, status, kind) in cases {
            assert_eq!(kind_of_code(code, status), kind, "{code} {status:?}");
        }
        assert_eq!(err("Throttling").kind(), ErrorKind::Throttled);
    }

    #[test]
    fn message_is_redacted() {
        let secret = orchestrate_core::Sensitive::new("supersecretvalue123");
        let e = AwsError::new("a", "b", "c", redact(&format!("bad {}", secret.expose())));
        assert!(!e.to_string().contains("supersecretvalue123"));
    }
}
