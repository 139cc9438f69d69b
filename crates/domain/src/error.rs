//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a certificate or DNS record operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ListCertificates / ListTagsForCertificate / DescribeCertificate failed.
    #[error(transparent)]
    DescribeCertificate(AwsError),
    /// RequestCertificate failed.
    #[error(transparent)]
    RequestCertificate(AwsError),
    /// DeleteCertificate failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteCertificate(AwsError),
    /// ListResourceRecordSets failed.
    #[error(transparent)]
    ListRecords(AwsError),
    /// ChangeResourceRecordSets failed.
    #[error(transparent)]
    ChangeRecords(AwsError),
    /// A wait (validation records, issuance, a certificate still in use) did not end well.
    #[error("{what}: {source}")]
    Wait {
        /// What was waited for.
        what: String,
        /// What the wait last saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
    /// The certificate orchestrate requested can no longer be issued (validation failed or
    /// timed out, revoked, expired).
    #[error(
        "certificate {arn} for {domain} is {status}{reason}; delete it (`orchestrate teardown \
         services`, or `aws acm delete-certificate --certificate-arn {arn}`) and run `up` again"
    )]
    CertificateFailed {
        /// The certificate.
        arn: String,
        /// Its domain.
        domain: String,
        /// Its status.
        status: String,
        /// `: <FailureReason>` when ACM gave one.
        reason: String,
    },
    /// A certificate given by ARN cannot serve the domain (checked before any change).
    #[error("certificate {arn} cannot serve {domain}: {reason}; {fix}")]
    CertificateUnusable {
        /// The certificate.
        arn: String,
        /// The domain it should serve.
        domain: String,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// A record at the domain exists that orchestrate did not write.
    #[error(
        "{name} in hosted zone {zone} already holds {existing}, which orchestrate did not \
         create; delete that record, or choose another load_balancer.domain"
    )]
    RecordConflict {
        /// The record name.
        name: String,
        /// The hosted zone.
        zone: String,
        /// What is there (type and value).
        existing: String,
    },
    /// A request could not be built (a required field was empty); a bug, not an AWS answer.
    #[error("failed to build the {what} request: {message}")]
    BuildRequest {
        /// Which request.
        what: &'static str,
        /// The SDK's reason.
        message: String,
    },
    /// AWS answered without a field this crate needs.
    #[error("failed to read {what}: AWS returned no {field}")]
    MissingField {
        /// What was read.
        what: String,
        /// The missing field.
        field: &'static str,
    },
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeCertificate(e)
            | Error::RequestCertificate(e)
            | Error::DeleteCertificate(e)
            | Error::ListRecords(e)
            | Error::ChangeRecords(e) => e.kind(),
            Error::Wait { source, .. } => source.kind(),
            Error::CertificateFailed { .. } | Error::RecordConflict { .. } => ErrorKind::Refused,
            Error::CertificateUnusable { .. } => ErrorKind::Invalid,
            Error::MissingField { .. } | Error::BuildRequest { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
