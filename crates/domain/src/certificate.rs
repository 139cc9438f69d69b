//! The ACM certificate of `load_balancer.domain`: requested with DNS validation, its
//! validation records written in the hosted zone, waited until `ISSUED`.
//!
//! Found by domain and tags: ListCertificates (every status), then ListTagsForCertificate of
//! each certificate for the domain; ours carry `orchestrate:deployment` = the deployment. A
//! lost RequestCertificate answer retried by the SDK is answered with the same certificate
//! (the idempotency token); a crash between the request and the next run is found by its
//! tags; should two of ours exist for the domain, the best (`ISSUED` first) is kept and the
//! others, unused, are deleted.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, Tag, ValidationMethod};
use orchestrate_aws::{aws_error, is_not_found_code};
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Context, Phase, Readiness, ReporterExt, WaitError};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::record;

/// Resource kind shown in plans and progress.
pub const KIND: &str = "acm/certificate";
/// `orchestrate:component` tag of the certificate.
pub const COMPONENT: &str = "domain/certificate";
/// How long ACM may take to name the validation records after RequestCertificate (AWS: "a
/// few seconds").
pub const RECORDS_DEADLINE: Duration = Duration::from_secs(5 * 60);
/// How long DNS validation may take once the records are written (AWS: usually minutes, up
/// to 30).
pub const ISSUE_DEADLINE: Duration = Duration::from_secs(45 * 60);
/// How long a deleted listener may keep the certificate "in use".
pub const IN_USE_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// The certificate orchestrate requests for the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDesired {
    /// The domain (the certificate's only name).
    pub domain: String,
    /// The hosted zone the validation records go to.
    pub hosted_zone_id: String,
    /// RequestCertificate's idempotency token (`\w{32}`): a hash of the deployment, the
    /// domain and `seed`.
    pub idempotency_token: String,
}

impl CertificateDesired {
    /// The certificate of `domain`, validated in `hosted_zone_id`. `seed` changes whenever a
    /// new certificate must be requested although the token window (one hour) is still open:
    /// the engine passes the ALB's ARN once it exists (a teardown and re-creation changes it),
    /// `None` before.
    pub fn new(cx: &Context, domain: &str, hosted_zone_id: &str, seed: Option<&str>) -> Self {
        let mut hash = Sha256::new();
        for part in [cx.names.deployment(), domain].into_iter().chain(seed) {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let token: String = hash
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            domain: domain.to_string(),
            hosted_zone_id: hosted_zone_id.to_string(),
            idempotency_token: token,
        }
    }
}

/// One DNS-validation record ACM asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationRecord {
    /// Record name (`_<hash>.<domain>.`).
    pub name: String,
    /// Record type (`CNAME`).
    pub record_type: String,
    /// Record value (`_<hash>.<id>.acm-validations.aws.`).
    pub value: String,
}

/// A certificate as ACM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateObserved {
    /// Its ARN.
    pub arn: String,
    /// Its primary domain, when ACM's answer names it.
    pub domain: Option<String>,
    /// Every name it covers (the domain and the subject alternative names).
    pub names: Vec<String>,
    /// `PENDING_VALIDATION`, `ISSUED`, `FAILED`, ...
    pub status: String,
    /// ACM's reason for `FAILED`.
    pub failure_reason: Option<String>,
    /// The resources using it (listeners' load balancers).
    pub in_use_by: Vec<String>,
    /// Its DNS-validation records, as far as ACM named them yet.
    pub validation_records: Vec<ValidationRecord>,
}

impl CertificateObserved {
    fn from_sdk(detail: &CertificateDetail, arn: &str) -> Self {
        let domain = detail.domain_name().map(str::to_string);
        let mut names: Vec<String> = detail.subject_alternative_names().to_vec();
        if let Some(domain) = &domain
            && !names.contains(domain)
        {
            names.insert(0, domain.clone());
        }
        let records: BTreeSet<ValidationRecord> = detail
            .domain_validation_options()
            .iter()
            .filter_map(|o| o.resource_record())
            .map(|r| ValidationRecord {
                name: r.name().to_string(),
                record_type: r.r#type().as_str().to_string(),
                value: r.value().to_string(),
            })
            .collect();
        Self {
            arn: detail.certificate_arn().unwrap_or(arn).to_string(),
            domain,
            names,
            status: detail
                .status()
                .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
            failure_reason: detail.failure_reason().map(|r| r.as_str().to_string()),
            in_use_by: detail.in_use_by().to_vec(),
            validation_records: records.into_iter().collect(),
        }
    }

    /// True when ACM will never issue it (or it stopped being valid).
    pub fn is_unusable(&self) -> bool {
        !matches!(self.status.as_str(), "ISSUED" | "PENDING_VALIDATION")
    }

    fn rank(&self) -> u8 {
        match self.status.as_str() {
            "ISSUED" => 0,
            "PENDING_VALIDATION" => 1,
            _ => 2,
        }
    }

    fn failed(&self) -> Error {
        Error::CertificateFailed {
            arn: self.arn.clone(),
            domain: self
                .domain
                .clone()
                .unwrap_or_else(|| "(ACM named no domain)".to_string()),
            status: self.status.clone(),
            reason: self
                .failure_reason
                .as_ref()
                .map_or_else(String::new, |r| format!(": {r}")),
        }
    }
}

/// The certificates of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// This deployment's, best first (`ISSUED`, then `PENDING_VALIDATION`, then the rest).
    pub ours: Vec<CertificateObserved>,
    /// How many other certificates of the same domain exist (another deployment's, or a
    /// team's own): their validation record is the same, so it is never deleted while they
    /// exist.
    pub others: usize,
}

/// What later resources need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOutputs {
    /// The issued certificate's ARN (for the HTTPS listener).
    pub arn: String,
}

/// True when the certificate name `pattern` covers `domain`: equal (ignoring case), or
/// `*.<parent>` and `domain` is exactly one label under `<parent>`.
pub fn covers(pattern: &str, domain: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if pattern == domain {
        return true;
    }
    match (pattern.strip_prefix("*."), domain.split_once('.')) {
        (Some(parent), Some((label, rest))) => !label.is_empty() && rest == parent,
        _ => false,
    }
}

/// DescribeCertificate; `None` when it does not exist.
///
/// # Errors
/// [`Error::DescribeCertificate`], [`Error::MissingField`].
pub async fn describe(client: &Client, arn: &str) -> Result<Option<CertificateObserved>> {
    match client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(out) => out
            .certificate()
            .map(|d| Some(CertificateObserved::from_sdk(d, arn)))
            .ok_or_else(|| Error::MissingField {
                what: format!("certificate {arn}"),
                field: "Certificate",
            }),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(None),
        Err(e) => Err(Error::DescribeCertificate(aws_error(
            "describe certificate",
            arn,
            e,
        ))),
    }
}

/// Whether the certificate `arn` carries this deployment's tag. A certificate deleted
/// meanwhile is not ours.
async fn is_ours(client: &Client, cx: &Context, arn: &str) -> Result<bool> {
    match client
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .tags()
            .iter()
            .any(|t| t.key() == TAG_DEPLOYMENT && t.value() == Some(cx.names.deployment()))),
        Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => Ok(false),
        Err(e) => Err(Error::DescribeCertificate(aws_error(
            "list tags for certificate",
            arn,
            e,
        ))),
    }
}

/// The certificates of `domain`: this deployment's (described, best first) and how many
/// others. Read-only.
///
/// # Errors
/// [`Error::DescribeCertificate`].
pub async fn find(client: &Client, cx: &Context, domain: &str) -> Result<Found> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_certificates()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::DescribeCertificate(aws_error("list certificates", domain, e)))?;
        for summary in out.certificate_summary_list() {
            if summary
                .domain_name()
                .is_some_and(|d| d.eq_ignore_ascii_case(domain))
                && let Some(arn) = summary.certificate_arn()
            {
                arns.push(arn.to_string());
            }
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    let mut found = Found::default();
    for arn in arns {
        if !is_ours(client, cx, &arn).await? {
            found.others += 1;
            continue;
        }
        if let Some(cert) = describe(client, &arn).await? {
            found.ours.push(cert);
        }
    }
    found
        .ours
        .sort_by(|a, b| a.rank().cmp(&b.rank()).then(a.arn.cmp(&b.arn)));
    Ok(found)
}

/// Pure diff: create when there is none; an unusable one (failed, expired, ...) shows as an
/// update `up` refuses with the fix; otherwise no change (a pending one is only waited for).
pub fn diff(domain: &str, observed: Option<&CertificateObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(c) if c.is_unusable() => Action::Update {
            fields: vec![FieldChange::new(
                "Status",
                Some(c.status.clone()),
                Some("ISSUED".to_string()),
            )],
        },
        Some(_) => Action::NoChange,
    };
    Change::new(Phase::ApiServer, KIND, domain, action)
}

/// Where a certificate is on its way to `ISSUED` (what the poller waits on).
///
/// # Errors
/// [`Error::DescribeCertificate`].
pub async fn ready(client: &Client, arn: &str) -> Result<Readiness> {
    Ok(match describe(client, arn).await? {
        None => Readiness::Failed {
            reason: format!("certificate {arn} no longer exists"),
        },
        Some(c) if c.status == CertificateStatus::Issued.as_str() => Readiness::Ready,
        Some(c) if c.is_unusable() => Readiness::Failed {
            reason: c.failed().to_string(),
        },
        Some(c) => Readiness::pending(c.status),
    })
}

/// RequestCertificate (DNS validation, the idempotency token, the tags in the call).
async fn request(client: &Client, cx: &Context, desired: &CertificateDesired) -> Result<String> {
    cx.reporter.applying(KIND, &desired.domain, "request");
    let tags = cx
        .tags(COMPONENT, Phase::ApiServer, &desired.domain)
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::BuildRequest {
                    what: "certificate tags",
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let out = client
        .request_certificate()
        .domain_name(&desired.domain)
        .validation_method(ValidationMethod::Dns)
        .idempotency_token(&desired.idempotency_token)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            Error::RequestCertificate(aws_error("request certificate", &desired.domain, e))
        })?;
    out.certificate_arn()
        .map(str::to_string)
        .ok_or_else(|| Error::MissingField {
            what: format!("the certificate of {}", desired.domain),
            field: "CertificateArn",
        })
}

/// Waits until ACM names the validation records of `arn`, and returns the certificate then.
async fn wait_records(client: &Client, cx: &Context, arn: &str) -> Result<CertificateObserved> {
    let what = format!("the validation records of certificate {arn}");
    cx.timing
        .poller(RECORDS_DEADLINE)
        .wait(
            &what,
            || async {
                Ok::<_, Error>(match describe(client, arn).await? {
                    None => Readiness::pending("not visible yet"),
                    Some(c) if !c.validation_records.is_empty() => Readiness::Ready,
                    Some(c) if c.is_unusable() => Readiness::Failed {
                        reason: c.failed().to_string(),
                    },
                    Some(_) => Readiness::pending("no validation record yet"),
                })
            },
            |state| cx.reporter.waiting(KIND, arn, state),
        )
        .await
        .map_err(|e| wait_error(&what, e))?;
    describe(client, arn)
        .await?
        .ok_or_else(|| Error::MissingField {
            what: format!("certificate {arn}"),
            field: "Certificate",
        })
}

fn wait_error(what: &str, e: WaitError<Error>) -> Error {
    Error::Wait {
        what: format!("failed waiting for {what}"),
        source: Box::new(e),
    }
}

/// DeleteCertificate, riding out `ResourceInUseException` (a listener deleted a moment ago
/// still holds it) until [`IN_USE_DEADLINE`]. "Not found" is success.
async fn delete_one(client: &Client, cx: &Context, arn: &str) -> Result<()> {
    cx.reporter.applying(KIND, arn, "delete");
    let what = format!("certificate {arn} to be released by its load balancer");
    cx.timing
        .poller(IN_USE_DEADLINE)
        .wait(
            &what,
            || async {
                match client
                    .delete_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Readiness::Ready),
                    Err(e) if orchestrate_aws::error_code(&e).is_some_and(is_not_found_code) => {
                        Ok(Readiness::Ready)
                    }
                    Err(e) if orchestrate_aws::error_code(&e) == Some("ResourceInUseException") => {
                        Ok(Readiness::pending("in use"))
                    }
                    Err(e) => Err(Error::DeleteCertificate(aws_error(
                        "delete certificate",
                        arn,
                        e,
                    ))),
                }
            },
            |state| cx.reporter.waiting(KIND, arn, state),
        )
        .await
        .map_err(|e| wait_error(&what, e))
}

/// Converges the certificate: finds ours (or requests it), deletes unused duplicates, writes
/// its validation records in the hosted zone (UPSERT, only when absent or different), and
/// waits until it is `ISSUED`. No mutating call when an issued certificate and its records
/// exist.
///
/// # Errors
/// [`Error::CertificateFailed`] (exit 3) when ours can no longer be issued; the AWS and wait
/// errors of the steps.
pub async fn ensure(
    client: &Client,
    route53: &aws_sdk_route53::Client,
    cx: &Context,
    desired: &CertificateDesired,
) -> Result<CertificateOutputs> {
    let Found { mut ours, .. } = find(client, cx, &desired.domain).await?;
    let cert = if ours.is_empty() {
        let arn = request(client, cx, desired).await?;
        wait_records(client, cx, &arn).await?
    } else {
        ours.remove(0)
    };
    for duplicate in ours.iter().filter(|c| c.in_use_by.is_empty()) {
        cx.reporter.note(
            KIND,
            format!(
                "{} is a second certificate of ours for {}; deleting it",
                duplicate.arn, desired.domain
            ),
        );
        delete_one(client, cx, &duplicate.arn).await?;
    }
    if cert.is_unusable() {
        return Err(cert.failed());
    }
    let cert = if cert.validation_records.is_empty() {
        wait_records(client, cx, &cert.arn).await?
    } else {
        cert
    };
    // The records stay after issuance: ACM's managed renewal validates through them again.
    for r in &cert.validation_records {
        record::ensure_cname(route53, cx, &desired.hosted_zone_id, &r.name, &r.value).await?;
    }
    if cert.status != CertificateStatus::Issued.as_str() {
        let what = format!("certificate of {} to be issued", desired.domain);
        cx.timing
            .poller(ISSUE_DEADLINE)
            .wait(
                &what,
                || ready(client, &cert.arn),
                |state| cx.reporter.waiting(KIND, &desired.domain, state),
            )
            .await
            .map_err(|e| wait_error(&what, e))?;
    }
    cx.reporter.ready(KIND, &desired.domain);
    Ok(CertificateOutputs { arn: cert.arn })
}

/// What [`ensure`] would change: the certificate, and its validation records once ACM named
/// them (before the certificate exists, one record to be created). Returns the changes and
/// the certificate's ARN when it is issued (the listener's). Read-only.
///
/// # Errors
/// [`Error::DescribeCertificate`], [`Error::ListRecords`].
pub async fn plan(
    client: &Client,
    route53: &aws_sdk_route53::Client,
    cx: &Context,
    desired: &CertificateDesired,
) -> Result<(Vec<Change>, Option<String>)> {
    let found = find(client, cx, &desired.domain).await?;
    let best = found.ours.first();
    let mut changes = vec![diff(&desired.domain, best)];
    match best {
        None => changes.push(Change::new(
            Phase::ApiServer,
            record::VALIDATION_KIND,
            &format!("(validation record of {})", desired.domain),
            Action::Create,
        )),
        Some(cert) => {
            for r in &cert.validation_records {
                let observed =
                    record::find(route53, &desired.hosted_zone_id, &r.name, &r.record_type).await?;
                changes.push(record::diff_cname(&r.name, &r.value, observed.as_ref()));
            }
        }
    }
    let issued = best
        .filter(|c| c.status == CertificateStatus::Issued.as_str())
        .map(|c| c.arn.clone());
    Ok((changes, issued))
}

/// Deletes this deployment's certificates of `domain` (waiting while a listener still holds
/// one), then their validation records in `hosted_zone_id` — unless another certificate of
/// the domain exists, which validates through the same record. Idempotent; certificates
/// orchestrate did not tag are never touched.
///
/// # Errors
/// [`Error::DescribeCertificate`], [`Error::DeleteCertificate`], [`Error::Wait`],
/// [`Error::ListRecords`], [`Error::ChangeRecords`].
pub async fn delete(
    client: &Client,
    route53: &aws_sdk_route53::Client,
    cx: &Context,
    domain: &str,
    hosted_zone_id: Option<&str>,
) -> Result<()> {
    let found = find(client, cx, domain).await?;
    let mut records = BTreeSet::new();
    for cert in &found.ours {
        records.extend(cert.validation_records.iter().cloned());
        delete_one(client, cx, &cert.arn).await?;
    }
    match hosted_zone_id {
        Some(zone) if found.others == 0 => {
            for r in &records {
                record::delete_cname(route53, cx, zone, &r.name, &r.value).await?;
            }
        }
        Some(_) if !records.is_empty() => cx.reporter.note(
            record::VALIDATION_KIND,
            format!(
                "kept the validation record of {domain}: {} other certificate(s) of the domain \
                 validate through it",
                found.others
            ),
        ),
        _ => {}
    }
    Ok(())
}

/// Checks a certificate given by ARN (`load_balancer.certificate_arn`) before anything is
/// changed: it exists, is `ISSUED`, and, when a domain is given, covers it (its domain or a
/// subject alternative name, `*.<parent>` covering one label under `<parent>`). Read-only;
/// for `up` and `verify`.
///
/// # Errors
/// [`Error::CertificateUnusable`] (exit 2) naming what is wrong and the fix;
/// [`Error::DescribeCertificate`] when ACM cannot be read.
pub async fn check_certificate(
    client: &Client,
    arn: &str,
    domain: Option<&str>,
) -> Result<CertificateObserved> {
    let unusable = |reason: String, fix: &str| Error::CertificateUnusable {
        arn: arn.to_string(),
        domain: domain.unwrap_or("the load balancer").to_string(),
        reason,
        fix: fix.to_string(),
    };
    let Some(cert) = describe(client, arn).await? else {
        return Err(unusable(
            "it does not exist in this account and region".into(),
            "check load_balancer.certificate_arn (an ALB takes certificates of its own region), or remove it and set hosted_zone_id to have orchestrate request one",
        ));
    };
    if cert.status != CertificateStatus::Issued.as_str() {
        return Err(unusable(
            format!(
                "its status is {}{}",
                cert.status,
                cert.failure_reason
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" ({r})"))
            ),
            "finish its validation in ACM (or use an ISSUED certificate) before `up`",
        ));
    }
    if let Some(domain) = domain
        && !cert.names.iter().any(|n| covers(n, domain))
    {
        return Err(unusable(
            format!("it covers only {}", cert.names.join(", ")),
            "use a certificate whose domain or subject alternative names include the domain (a wildcard covers one level), or change load_balancer.domain",
        ));
    }
    Ok(cert)
}
