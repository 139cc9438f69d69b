//! orchestrate-domain: HTTPS on `load_balancer.domain` (phase 2) — the ACM certificate and
//! the Route 53 records.
//!
//! Owns, per deployment with a domain:
//! - the ACM certificate of the domain, requested with DNS validation, an idempotency token
//!   and the deployment's tags in RequestCertificate, waited until `ISSUED`
//!   ([`certificate`]); not when the spec gives `certificate_arn` (a team's own certificate,
//!   only checked: [`check_certificate`]);
//! - its DNS-validation CNAME(s) in `load_balancer.hosted_zone_id` (kept while the
//!   certificate lives: ACM's managed renewal validates through them) ([`record`]);
//! - the alias `A` record `domain` → the ALB (its DNS name and canonical hosted zone id)
//!   ([`record`]).
//!
//! # Guarantees
//! - `ensure` makes no mutating call when the certificate is issued and both records hold
//!   what they should. A lost RequestCertificate answer is replayed by the idempotency token;
//!   a certificate requested before a crash is found again by domain + tags, and should two
//!   exist the unused extra one is deleted.
//! - Only what orchestrate created is deleted: certificates tagged with the deployment; the
//!   alias only while it points at this deployment's ALB; a validation record only while no
//!   other certificate of the domain (validating through the same record) exists. A record
//!   at the domain that orchestrate did not write is never overwritten
//!   ([`Error::RecordConflict`], exit 3).
//! - [`check_certificate`] is read-only: exit 2 ([`Error::CertificateUnusable`]) when a given
//!   certificate is not `ISSUED` or does not cover the domain.
//!
//! # Waits
//! For the validation records ACM names a moment after the request (5 min), for `ISSUED`
//! (45 min: DNS validation takes minutes, at most about 30), and on teardown for a deleted
//! listener to release the certificate (5 min); each scaled by
//! [`orchestrate_core::Timing`], each reporting its state.
//!
//! # Errors
//! One [`Error`] enum; AWS failures carry an [`orchestrate_aws::AwsError`].

pub mod certificate;
mod error;
pub mod record;

#[cfg(test)]
mod tests;

pub use aws_sdk_acm::Client as AcmClient;
pub use aws_sdk_route53::Client as Route53Client;
pub use certificate::{
    CertificateDesired, CertificateObserved, CertificateOutputs, check_certificate, covers,
};
pub use error::{Error, Result};
pub use record::{AliasDesired, AliasTarget};
