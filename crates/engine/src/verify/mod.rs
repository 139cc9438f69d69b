//! `orchestrate verify`: read-only checks of what only the account knows, run by `plan` and
//! by `up` before its first mutating call (before the lease), and on their own.
//!
//! Each check reads the account and compares it with the spec and the graph: the PostgreSQL
//! version and instance class RDS offers, the Valkey version ElastiCache offers, the pinned
//! zones, and the quotas the run would consume (Elastic IPs, VPCs, NAT gateways per zone).
//!
//! # Guarantees
//! - Read-only: no mutating call, no lease. Every value compared comes from the graph
//!   ([`crate::graph::Graph`]) or the spec, never recomputed here.
//! - Only what this run would add is counted against a quota ([`orchestrate_network::account::needs`]):
//!   a converged deployment needs nothing new and passes whatever the account holds.
//! - `up` and `plan` read only what decides this run ([`Engine::verify_or_refuse`], scope
//!   "changes"): the RDS catalog when the instance is absent or its class or version would
//!   change, the Elastic IPs when a NAT gateway will be created, the pinned zones when the
//!   network will grow. `orchestrate verify` ([`Engine::verify`]) runs every check.
//! - A failure ([`Verdict::Failed`]) names the limit, what the account has and the fix; any
//!   failure stops `up` and `plan` with exit 2 ([`EngineError::Unverified`], kind `Invalid`)
//!   before anything is created.
//! - A check whose read fails with a kind that says "this endpoint or these credentials do not
//!   answer that" (access denied, throttled or failing after retries, refused, an API the
//!   endpoint lacks) is a [`Verdict::Warning`] "could not verify …", decided by the error's
//!   [`ErrorKind`], never its text. Credentials, unreachable and internal errors end the run
//!   as they would anywhere else.
//! - What cannot be checked (a node type, Fargate per zone, quotas only Service Quotas knows)
//!   is listed as [`Verdict::NotChecked`] with the reason, so the report says what it covers.

use std::collections::BTreeMap;

use orchestrate_core::{Classify, ErrorKind};
use serde::Serialize;

use crate::Engine;
use crate::error::{EngineError, step};

/// AWS's default quota of VPCs per region (Service Quotas `L-F678F1CE`).
pub const DEFAULT_VPCS_PER_REGION: u32 = 5;
/// AWS's default quota of NAT gateways per availability zone (Service Quotas `L-FE5A380F`).
pub const DEFAULT_NAT_GATEWAYS_PER_ZONE: u32 = 5;
/// At most this many alternatives are named in a message.
const NAMED: usize = 12;

/// What is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// RDS offers `database.engine_version` in the region.
    DatabaseEngineVersion,
    /// `database.instance_class` is orderable for that version in the region.
    DatabaseInstanceClass,
    /// ElastiCache offers `cache.engine_version` (Valkey) in the region.
    CacheEngineVersion,
    /// `cache.node_type`: not checkable (no API lists a region's node types).
    CacheNodeType,
    /// The zones pinned in the lock file exist and are available.
    Zones,
    /// Fargate in each zone: not checkable (no API).
    FargateZones,
    /// The Elastic IPs the new NAT gateways need are free under `vpc-max-elastic-ips`.
    ElasticIps,
    /// A new VPC fits AWS's default VPC quota.
    Vpcs,
    /// New NAT gateways fit AWS's default per-zone quota.
    NatGateways,
    /// `load_balancer.certificate_arn` is ISSUED and covers the domain (the domain crate's
    /// `check_certificate`).
    Certificate,
}

impl Check {
    /// Stable snake_case id (JSON `check`).
    pub fn id(self) -> &'static str {
        match self {
            Check::DatabaseEngineVersion => "database_engine_version",
            Check::DatabaseInstanceClass => "database_instance_class",
            Check::CacheEngineVersion => "cache_engine_version",
            Check::CacheNodeType => "cache_node_type",
            Check::Zones => "zones",
            Check::FargateZones => "fargate_zones",
            Check::ElasticIps => "elastic_ips",
            Check::Vpcs => "vpcs",
            Check::NatGateways => "nat_gateways",
            Check::Certificate => "certificate",
        }
    }
}

/// Which checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every check (`orchestrate verify`).
    Full,
    /// Only what this run would create or change (`up`, `plan`): the engine version and
    /// instance class when the RDS instance is absent or would change, the zones when the
    /// network would grow; the rest as in [`Scope::Full`].
    Changes,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The account offers what the spec needs.
    Passed,
    /// It does not: `up` would fail; the finding names the fix.
    Failed,
    /// It could not be verified, or may fail (a default quota that may have been raised).
    Warning,
    /// No API can tell; listed so the report says what it covers.
    NotChecked,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was checked.
    pub check: Check,
    /// The outcome.
    pub verdict: Verdict,
    /// What the account has, compared with what the spec needs (the limit, the count).
    pub message: String,
    /// What to change, for a failure or a warning.
    pub fix: Option<String>,
}

impl Finding {
    fn new(check: Check, verdict: Verdict, message: impl Into<String>) -> Self {
        Self {
            check,
            verdict,
            message: message.into(),
            fix: None,
        }
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// `check: message; fix: …` on one line.
    pub fn line(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}: {}; fix: {fix}", self.check.id(), self.message),
            None => format!("{}: {}", self.check.id(), self.message),
        }
    }
}

/// Everything `verify` found, in a fixed order of checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The region checked.
    pub region: String,
    /// One finding per check (several for zones or NAT gateways when several differ).
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// The failed checks.
    pub fn failures(&self) -> Vec<&Finding> {
        self.of(Verdict::Failed)
    }

    /// The warnings (could not verify, a default quota that may be used up).
    pub fn warnings(&self) -> Vec<&Finding> {
        self.of(Verdict::Warning)
    }

    fn of(&self, verdict: Verdict) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.verdict == verdict)
            .collect()
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// The error that stops `up` and `plan` when a check failed.
    ///
    /// # Errors
    /// [`EngineError::Unverified`] with every failed finding.
    pub fn into_result(self) -> Result<Self, EngineError> {
        if self.passed() {
            Ok(self)
        } else {
            Err(EngineError::Unverified(
                self.failures().into_iter().cloned().collect(),
            ))
        }
    }
}

/// The text of [`EngineError::Unverified`]: one line per failed check.
pub fn describe_failures(failures: &[Finding]) -> String {
    let mut text = format!(
        "verify: {} check(s) of the account failed; nothing was changed",
        failures.len()
    );
    for f in failures {
        text.push_str("\n  - ");
        text.push_str(&f.line());
    }
    text
}

/// True for the kinds of a failed read that make its check a warning rather than an error:
/// the read is not allowed (access denied), the endpoint does not answer it usefully (an API
/// it lacks answers HTTP 500 or a bare 404; a refusal or not-found of the action), or it
/// kept failing within the verify reads' few attempts (throttled, transient).
pub fn unverifiable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::AccessDenied
            | ErrorKind::Throttled
            | ErrorKind::Transient
            | ErrorKind::Refused
            | ErrorKind::NotFound
            | ErrorKind::BadEndpoint
    )
}

/// A failed read: a warning finding for `check` when [`unverifiable`], else the error.
fn could_not<E>(check: Check, what: &str, err: E) -> Result<Finding, EngineError>
where
    E: std::error::Error + Classify + Send + Sync + 'static,
{
    let kind = err.kind();
    if unverifiable(kind) {
        let fix = if kind == ErrorKind::AccessDenied {
            "nothing to change if the spec is right; allow the read (the policy in \
             docs/security.md) to have it checked"
        } else {
            "nothing to change if the spec is right: AWS still checks it when `up` creates the \
             resource"
        };
        Ok(Finding::new(
            check,
            Verdict::Warning,
            format!("could not verify {what}: {err}"),
        )
        .with_fix(fix))
    } else {
        Err(EngineError::step(format!("verify {what}"), err))
    }
}

fn join_some(items: &[String]) -> String {
    let mut shown: Vec<&str> = items.iter().take(NAMED).map(String::as_str).collect();
    if items.len() > NAMED {
        shown.push("…");
    }
    shown.join(", ")
}

impl Engine {
    /// Runs every check (read-only) and returns the report; failures are findings, not
    /// errors (see [`VerifyReport::into_result`]).
    ///
    /// # Errors
    /// A read that failed with a kind that is not [`unverifiable`] (credentials, unreachable,
    /// internal), or a lock file that contradicts the spec.
    pub async fn verify(&self) -> Result<VerifyReport, EngineError> {
        self.verify_scoped(Scope::Full).await
    }

    /// The checks of `scope`; see [`Scope`].
    async fn verify_scoped(&self, scope: Scope) -> Result<VerifyReport, EngineError> {
        let pinned = orchestrate_core::lock::read(&self.lock_path)?.is_some();
        let zones = self.zones(false).await?;
        let graph = self.graph(&zones);
        let network = graph.network().map_err(step("plan the network"))?;
        let network_checks = async {
            let (quotas, nothing_new) = self.verify_quotas(&network, scope).await?;
            // Pinned zones are read again only when this run may create something in them:
            // with the deployment's VPC and NAT gateways in place, they were checked when
            // those were created.
            let read_zones = pinned && !(scope == Scope::Changes && nothing_new);
            let zone_findings = self.verify_zones(&zones, pinned, read_zones).await?;
            Ok::<_, EngineError>((zone_findings, quotas))
        };
        let (database, cache, (zone_findings, quotas), certificate) = tokio::try_join!(
            self.verify_database(scope),
            self.verify_cache(scope),
            network_checks,
            certificate(self),
        )?;
        let mut findings = Vec::new();
        findings.extend(database);
        findings.extend(cache);
        findings.extend(zone_findings);
        findings.extend(quotas);
        findings.extend(certificate);
        Ok(VerifyReport {
            region: self.region(),
            findings,
        })
    }

    /// [`Engine::verify`], with each warning reported as a progress note; any failure is
    /// [`EngineError::Unverified`]. What `up` and `plan` run first.
    ///
    /// # Errors
    /// As [`Engine::verify`], and [`EngineError::Unverified`] when a check failed.
    pub async fn verify_or_refuse(&self) -> Result<VerifyReport, EngineError> {
        use orchestrate_core::ReporterExt as _;
        let report = self.verify_scoped(Scope::Changes).await?;
        for warning in report.warnings() {
            self.cx.reporter.note("verify", warning.line());
        }
        report.into_result()
    }
}

/// The certificate check: a `load_balancer.certificate_arn` exists, is `ISSUED` and covers
/// `load_balancer.domain` (the domain crate's [`orchestrate_domain::check_certificate`]).
async fn certificate(engine: &Engine) -> Result<Option<Finding>, EngineError> {
    let lb = &engine.spec.load_balancer;
    let Some(arn) = lb.certificate_arn.as_deref() else {
        return Ok(None);
    };
    let domain = lb.domain.as_deref();
    let finding = match orchestrate_domain::check_certificate(&engine.aws.acm, arn, domain).await {
        Ok(_) => Finding::new(
            Check::Certificate,
            Verdict::Passed,
            match domain {
                Some(domain) => format!("{arn} is ISSUED and covers {domain}"),
                None => format!("{arn} is ISSUED"),
            },
        ),
        Err(orchestrate_domain::Error::CertificateUnusable { reason, fix, .. }) => Finding::new(
            Check::Certificate,
            Verdict::Failed,
            format!("{arn}: {reason}"),
        )
        .with_fix(fix),
        Err(e) => could_not(Check::Certificate, "the certificate", e)?,
    };
    Ok(Some(finding))
}

mod account;
mod cache;
mod database;

pub use account::{elastic_ip_finding, zone_findings};
#[cfg(test)]
mod tests;
