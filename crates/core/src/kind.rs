//! What kind of failure an error is, whichever crate raised it: the one vocabulary the
//! engine's exit codes and the poller's retry rule are decided by.
//!
//! Every crate's error implements [`Classify`]; wrappers delegate to what they wrap, so the
//! kind survives any number of layers without anyone matching message text.

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// AWS throttled the call (`Throttling`, `RequestLimitExceeded`, HTTP 429).
    Throttled,
    /// AWS failed on its side (HTTP 5xx, `InternalError`, `ServiceUnavailable`).
    Transient,
    /// AWS could not be reached: connection refused, DNS, a connect/read/operation timeout,
    /// a connection lost mid-response.
    Unreachable,
    /// Something answered that is not an AWS API (a bare HTTP 404 without an AWS error):
    /// usually a wrong `AWS_ENDPOINT_URL` / `--endpoint-url`.
    BadEndpoint,
    /// No credentials, or AWS rejected them (expired, invalid, unrecognized).
    Credentials,
    /// The credentials are valid but not allowed to do this.
    AccessDenied,
    /// The resource does not exist.
    NotFound,
    /// AWS refused the request: validation, limits, conflicts, dependency violations.
    Refused,
    /// One of our own waits ran past its deadline.
    TimedOut,
    /// A resource reached a state it will not leave by itself (a failed rollout or task).
    Failed,
    /// The spec or the command line is invalid.
    Invalid,
    /// Another run holds the deployment's lease (or took it over from this run).
    Busy,
    /// Local I/O failed (a file could not be read or written).
    Io,
    /// A bug or an answer this tool cannot use (a missing field, a request it cannot build).
    Internal,
}

impl ErrorKind {
    /// True for kinds a wait retries at its next poll (within its deadline): throttling,
    /// AWS-side transient failures, and a lost connection.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Transient | ErrorKind::Unreachable
        )
    }

    /// A stable snake_case identifier (`access_denied`, `timed_out`, ...), for JSON output.
    pub fn id(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::BadEndpoint => "bad_endpoint",
            ErrorKind::Credentials => "credentials",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Refused => "refused",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::Failed => "failed",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Busy => "busy",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }

    /// A short lowercase name (`throttled`, `access denied`, ...), for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient AWS error",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::BadEndpoint => "not an AWS endpoint",
            ErrorKind::Credentials => "credentials",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::NotFound => "not found",
            ErrorKind::Refused => "refused by AWS",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Failed => "failed",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Busy => "busy",
            ErrorKind::Io => "I/O",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An error that knows its [`ErrorKind`].
pub trait Classify {
    /// The kind of this failure.
    fn kind(&self) -> ErrorKind;
}

impl<T: Classify + ?Sized> Classify for Box<T> {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}

impl Classify for std::io::Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Io
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_transient_and_unreachable_are_retryable() {
        let retryable = [
            ErrorKind::Throttled,
            ErrorKind::Transient,
            ErrorKind::Unreachable,
        ];
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Transient,
            ErrorKind::Unreachable,
            ErrorKind::BadEndpoint,
            ErrorKind::Credentials,
            ErrorKind::AccessDenied,
            ErrorKind::NotFound,
            ErrorKind::Refused,
            ErrorKind::TimedOut,
            ErrorKind::Failed,
            ErrorKind::Invalid,
            ErrorKind::Busy,
            ErrorKind::Io,
            ErrorKind::Internal,
        ] {
            assert_eq!(kind.is_retryable(), retryable.contains(&kind), "{kind}");
        }
    }
}
