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

    async fn verify_database(&self, scope: Scope) -> Result<Vec<Finding>, EngineError> {
        use orchestrate_database::catalog;
        let rds = &self.aws.rds;
        let region = self.region();
        let wanted = self.spec.database.engine_version.as_str();
        let class = self.spec.database.instance_class.as_str();
        let major = orchestrate_database::instance::major(wanted);
        let mut findings = Vec::new();
        if scope == Scope::Changes {
            // One read of the instance instead of the catalog's two: an instance that exists
            // with this class and version is neither created nor changed in either.
            let identifier = self.cx.names.db_instance();
            let found = orchestrate_database::instance::find(rds, &identifier).await;
            if let Ok(found) = &found {
                // For `up` to reuse when the lease proves nothing changed since (early.rs).
                self.early.keep_database(found.clone());
            }
            match found {
                Ok(Some(found))
                    if found.instance_class == class
                        && !orchestrate_database::instance::is_upgrade(
                            &found.engine_version,
                            wanted,
                        ) =>
                {
                    return Ok(unchanged_database(&identifier, &found));
                }
                // Absent, to change, or unreadable: the catalog checks below decide.
                Ok(_) | Err(_) => {}
            }
        }
        // The concrete version the class is checked against: the one RDS offers, or the
        // spec's own when the list could not be read and it is a full version.
        let version: Option<String> = match catalog::engine_versions(rds, Some(wanted)).await {
            Err(e) => {
                findings.push(could_not(
                    Check::DatabaseEngineVersion,
                    &format!("PostgreSQL {wanted}"),
                    e,
                )?);
                wanted.contains('.').then(|| wanted.to_string())
            }
            Ok(available) => match catalog::resolve_version(wanted, &available) {
                Some(v) => {
                    let how = if v == wanted {
                        String::new()
                    } else {
                        format!(" (RDS picks the minor; newest offered: {v})")
                    };
                    findings.push(Finding::new(
                        Check::DatabaseEngineVersion,
                        Verdict::Passed,
                        format!("RDS offers PostgreSQL {wanted} in {region}{how}"),
                    ));
                    Some(v.to_string())
                }
                None if !available.is_empty() => {
                    findings.push(
                        Finding::new(
                            Check::DatabaseEngineVersion,
                            Verdict::Failed,
                            format!(
                                "RDS does not offer PostgreSQL {wanted} in {region} (a retired \
                                 minor version); it offers {major}.x: {}",
                                join_some(&available)
                            ),
                        )
                        .with_fix(format!(
                            "set database.engine_version = \"{major}\" (RDS picks the minor) or \
                             to one of the versions offered"
                        )),
                    );
                    None
                }
                None => {
                    // Nothing of this major: name the majors the region offers.
                    let offered = match catalog::engine_versions(rds, None).await {
                        Ok(all) => {
                            let mut majors: Vec<String> = all
                                .iter()
                                .map(|v| orchestrate_database::instance::major(v).to_string())
                                .collect();
                            catalog::sort_versions(&mut majors);
                            majors
                        }
                        Err(e) => {
                            findings.push(could_not(
                                Check::DatabaseEngineVersion,
                                &format!("PostgreSQL {wanted}"),
                                e,
                            )?);
                            return Ok(findings);
                        }
                    };
                    if offered.is_empty() {
                        findings.push(Finding::new(
                            Check::DatabaseEngineVersion,
                            Verdict::Warning,
                            format!(
                                "could not verify PostgreSQL {wanted}: the endpoint lists no \
                                 PostgreSQL version at all"
                            ),
                        ));
                    } else {
                        findings.push(
                            Finding::new(
                                Check::DatabaseEngineVersion,
                                Verdict::Failed,
                                format!(
                                    "RDS does not offer PostgreSQL {major} in {region}; it offers \
                                     major versions {}",
                                    join_some(&offered)
                                ),
                            )
                            .with_fix(format!(
                                "set database.engine_version to one of them, e.g. \"{}\"",
                                offered.last().map_or("16", String::as_str)
                            )),
                        );
                    }
                    None
                }
            },
        };
        let Some(version) = version else {
            findings.push(Finding::new(
                Check::DatabaseInstanceClass,
                Verdict::NotChecked,
                format!("{class}: not checked without an engine version RDS offers"),
            ));
            return Ok(findings);
        };
        let what = format!("{class} for PostgreSQL {version}");
        match catalog::orderable_classes(rds, &version, Some(class), 100).await {
            Err(e) => findings.push(could_not(Check::DatabaseInstanceClass, &what, e)?),
            Ok(found) if !found.is_empty() => findings.push(Finding::new(
                Check::DatabaseInstanceClass,
                Verdict::Passed,
                format!("{class} is orderable for PostgreSQL {version} in {region}"),
            )),
            Ok(_) => match catalog::orderable_classes(rds, &version, None, 100).await {
                Err(e) => findings.push(could_not(Check::DatabaseInstanceClass, &what, e)?),
                Ok(others) if others.is_empty() => findings.push(Finding::new(
                    Check::DatabaseInstanceClass,
                    Verdict::Warning,
                    format!(
                        "could not verify {what}: the endpoint lists no orderable instance class \
                         for it"
                    ),
                )),
                Ok(others) => {
                    let ranked = rank_classes(class, &others);
                    findings.push(
                        Finding::new(
                            Check::DatabaseInstanceClass,
                            Verdict::Failed,
                            format!(
                                "{class} is not orderable for PostgreSQL {version} in {region}; \
                                 orderable classes include {}",
                                join_some(&ranked)
                            ),
                        )
                        .with_fix(format!(
                            "set database.instance_class to an orderable class, e.g. {}",
                            ranked.first().map_or("db.t4g.small", String::as_str)
                        )),
                    );
                }
            },
        }
        Ok(findings)
    }

    async fn verify_cache(&self, scope: Scope) -> Result<Vec<Finding>, EngineError> {
        use orchestrate_cache::replication_group;
        let region = self.region();
        let wanted = self.spec.cache.engine_version.as_str();
        let mut findings = Vec::new();
        // For `up` ([`Scope::Changes`], early.rs armed), one read of the replication group
        // (kept for the run) instead of the catalog: a group that runs Valkey at this
        // version or a later one gets no other engine version from this run.
        let mut running = None;
        if scope == Scope::Changes && self.early.armed() {
            let id = self.cx.names.replication_group();
            let found = replication_group::find(&self.aws.elasticache, &id).await;
            if let Ok(found) = &found {
                self.early.keep_cache(found.clone());
            }
            running = found.ok().flatten().and_then(|g| {
                let valkey = g
                    .engine
                    .as_deref()
                    .is_none_or(|e| e == replication_group::ENGINE);
                g.engine_version
                    .filter(|v| valkey && !replication_group::is_upgrade(v, wanted))
                    .map(|v| (id, v))
            });
        }
        let catalog = match &running {
            Some(_) => None,
            None => Some(orchestrate_cache::catalog::engine_versions(&self.aws.elasticache).await),
        };
        match catalog {
            None => {
                if let Some((id, version)) = &running {
                    findings.push(Finding::new(
                        Check::CacheEngineVersion,
                        Verdict::Passed,
                        format!(
                            "{id} runs Valkey {version}: this run installs no other engine \
                             version"
                        ),
                    ));
                }
            }
            Some(Err(e)) => findings.push(could_not(
                Check::CacheEngineVersion,
                &format!("Valkey {wanted}"),
                e,
            )?),
            Some(Ok(available)) if available.is_empty() => findings.push(Finding::new(
                Check::CacheEngineVersion,
                Verdict::Warning,
                format!("could not verify Valkey {wanted}: the endpoint lists no Valkey version"),
            )),
            Some(Ok(available)) if orchestrate_cache::catalog::offers(wanted, &available) => {
                findings.push(Finding::new(
                    Check::CacheEngineVersion,
                    Verdict::Passed,
                    format!("ElastiCache offers Valkey {wanted} in {region}"),
                ))
            }
            Some(Ok(available)) => findings.push(
                Finding::new(
                    Check::CacheEngineVersion,
                    Verdict::Failed,
                    format!(
                        "ElastiCache does not offer Valkey {wanted} in {region}; it offers {}",
                        join_some(&available)
                    ),
                )
                .with_fix(format!(
                    "set cache.engine_version to one of them, e.g. \"{}\"",
                    available.last().map_or("8.0", String::as_str)
                )),
            ),
        }
        findings.push(Finding::new(
            Check::CacheNodeType,
            Verdict::NotChecked,
            format!(
                "{}: ElastiCache has no API listing the node types a region offers; \
                 CreateReplicationGroup refuses one it lacks (exit 3, before Valkey exists)",
                self.spec.cache.node_type
            ),
        ));
        Ok(findings)
    }

    async fn verify_zones(
        &self,
        zones: &[String],
        pinned: bool,
        read: bool,
    ) -> Result<Vec<Finding>, EngineError> {
        let region = self.region();
        let lock = self.lock_path.display().to_string();
        let mut findings = Vec::new();
        if !pinned {
            findings.push(Finding::new(
                Check::Zones,
                Verdict::Passed,
                format!(
                    "no zones pinned yet: {} resolved now (available, no opt-in); `up` pins them \
                     in {lock}",
                    zones.join(", ")
                ),
            ));
        } else if !read {
            findings.push(Finding::new(
                Check::Zones,
                Verdict::Passed,
                format!(
                    "{} pinned in {lock}: nothing new to create in them (the deployment's VPC \
                     and NAT gateways exist; `orchestrate verify` reads the zones)",
                    zones.join(", ")
                ),
            ));
        } else {
            match orchestrate_network::account::zones(&self.aws.ec2).await {
                Err(e) => findings.push(could_not(Check::Zones, "the pinned zones", e)?),
                Ok(seen) => findings.extend(zone_findings(zones, &seen, &region, &lock)),
            }
        }
        findings.push(Finding::new(
            Check::FargateZones,
            Verdict::NotChecked,
            "no AWS API says whether Fargate runs in a zone; every zone of the commercial \
             regions offers it, and ECS reports a zone it cannot place a task in",
        ));
        Ok(findings)
    }

    /// The quota findings, and whether the run creates nothing counted against a quota
    /// (false when the account could not be read).
    ///
    /// For `up` ([`Scope::Changes`], [`crate::early`] armed) and a network orchestrate owns,
    /// the deployment's own network is read as the snapshot `up` converges from
    /// ([`orchestrate_network::snapshot`]), kept for the run: when it shows the VPC and every
    /// NAT gateway, the run creates nothing counted against a quota and the account-wide
    /// lists are not read.
    async fn verify_quotas(
        &self,
        network: &orchestrate_network::NetworkDesired,
        scope: Scope,
    ) -> Result<(Vec<Finding>, bool), EngineError> {
        use orchestrate_network::account;
        let ec2 = &self.aws.ec2;
        let region = self.region();
        let usage = if scope == Scope::Changes && network.existing.is_none() && self.early.armed() {
            match orchestrate_network::snapshot::Snapshot::read(ec2, &self.cx).await {
                Ok(snapshot) => {
                    let usage = account::usage_seen(ec2, &self.cx, network, &snapshot).await;
                    self.early.keep_network(snapshot);
                    usage
                }
                Err(_) => account::usage_for(ec2, &self.cx, network).await,
            }
        } else {
            account::usage_for(ec2, &self.cx, network).await
        };
        let usage = match usage {
            Ok(usage) => usage,
            Err(e) => {
                return Ok((
                    vec![could_not(
                        Check::ElasticIps,
                        "the quotas (VPCs, NAT gateways, Elastic IPs)",
                        e,
                    )?],
                    false,
                ));
            }
        };
        let needs = account::needs(network, &usage);
        let nothing_new = needs.is_empty();
        let mut findings = Vec::new();

        // Elastic IPs: the account's own limit, read only when this run allocates any.
        if needs.elastic_ips == 0 {
            findings.push(Finding::new(
                Check::ElasticIps,
                Verdict::Passed,
                "no new Elastic IP: the NAT gateways or their addresses exist",
            ));
        } else {
            match account::elastic_ip_limit(ec2).await {
                Err(e) => findings.push(could_not(Check::ElasticIps, "the Elastic IP limit", e)?),
                Ok(None) => findings.push(Finding::new(
                    Check::ElasticIps,
                    Verdict::Warning,
                    format!(
                        "could not verify the Elastic IP limit: the endpoint does not report \
                         {}",
                        account::EIP_LIMIT_ATTRIBUTE
                    ),
                )),
                Ok(Some(limit)) => findings.push(elastic_ip_finding(
                    &region,
                    limit,
                    usage.elastic_ips,
                    needs.elastic_ips,
                    self.spec.network.nat == orchestrate_core::spec::NatMode::PerAz,
                )),
            }
        }

        // VPCs: AWS's default quota (the applied value needs Service Quotas).
        findings.push(if needs.vpcs == 0 {
            Finding::new(
                Check::Vpcs,
                Verdict::Passed,
                "no new VPC: the deployment's VPC exists",
            )
        } else {
            default_quota_finding(
                Check::Vpcs,
                &format!("VPCs in {region}"),
                usage.vpcs,
                needs.vpcs,
                DEFAULT_VPCS_PER_REGION,
                "L-F678F1CE",
                "VpcLimitExceeded",
                "delete an unused VPC",
            )
        });

        // NAT gateways per zone: only the zones this run adds a gateway to.
        if needs.nat_gateways.is_empty() {
            findings.push(Finding::new(
                Check::NatGateways,
                Verdict::Passed,
                "no new NAT gateway: the deployment's gateways exist",
            ));
        } else {
            let foreign: Vec<String> = usage
                .nat_gateways
                .iter()
                .filter_map(|n| n.subnet_id.clone())
                .collect();
            let subnet_zones = match account::subnet_zones(ec2, &foreign).await {
                Ok(map) => map,
                Err(e) => {
                    findings.push(could_not(
                        Check::NatGateways,
                        "the NAT gateways per zone",
                        e,
                    )?);
                    return Ok((findings, nothing_new));
                }
            };
            let mut per_zone: BTreeMap<&str, u32> = BTreeMap::new();
            for nat in &usage.nat_gateways {
                if let Some(zone) = nat.subnet_id.as_ref().and_then(|s| subnet_zones.get(s)) {
                    *per_zone.entry(zone.as_str()).or_insert(0) += 1;
                }
            }
            for (zone, need) in &needs.nat_gateways {
                findings.push(default_quota_finding(
                    Check::NatGateways,
                    &format!("NAT gateways in {zone}"),
                    per_zone.get(zone.as_str()).copied().unwrap_or(0),
                    *need,
                    DEFAULT_NAT_GATEWAYS_PER_ZONE,
                    "L-FE5A380F",
                    "NatGatewayLimitExceeded",
                    "delete an unused NAT gateway in that zone",
                ));
            }
        }
        Ok((findings, nothing_new))
    }
}

/// The database findings when the instance exists with the spec's class and version: the
/// run creates and changes nothing the catalog checks cover.
fn unchanged_database(
    identifier: &str,
    found: &orchestrate_database::instance::InstanceObserved,
) -> Vec<Finding> {
    vec![
        Finding::new(
            Check::DatabaseEngineVersion,
            Verdict::Passed,
            format!(
                "{identifier} runs PostgreSQL {}: no version change to check",
                found.engine_version
            ),
        ),
        Finding::new(
            Check::DatabaseInstanceClass,
            Verdict::Passed,
            format!(
                "{identifier} is a {}: no class change to check",
                found.instance_class
            ),
        ),
    ]
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

/// The findings on the pinned `zones` given what the account `seen` (pure).
pub fn zone_findings(
    zones: &[String],
    seen: &[orchestrate_network::account::Zone],
    region: &str,
    lock: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let known: Vec<String> = seen.iter().map(|z| z.name.clone()).collect();
    for zone in zones {
        match seen.iter().find(|z| &z.name == zone) {
            None => findings.push(
                Finding::new(
                    Check::Zones,
                    Verdict::Failed,
                    format!(
                        "zone {zone}, pinned in {lock}, does not exist in {region} for this \
                         account; its zones are {}",
                        join_some(&known)
                    ),
                )
                .with_fix(format!(
                    "if nothing of this deployment exists yet, delete {lock} so `up` pins \
                     current zones; otherwise enable the zone for the account (opt-in zones) \
                     or check --region and the profile"
                )),
            ),
            Some(z) if z.state != "available" => findings.push(
                Finding::new(
                    Check::Zones,
                    Verdict::Warning,
                    format!(
                        "AWS reports zone {zone} as {}: creating resources there may fail",
                        z.state
                    ),
                )
                .with_fix("retry later; see the AWS Health Dashboard for the zone"),
            ),
            Some(_) => {}
        }
    }
    if findings.is_empty() {
        findings.push(Finding::new(
            Check::Zones,
            Verdict::Passed,
            format!(
                "the pinned zones {} exist in {region} and are available",
                zones.join(", ")
            ),
        ));
    }
    findings
}

/// The Elastic IP finding: `used` of `limit` allocated, `need` more for new NAT gateways.
pub fn elastic_ip_finding(region: &str, limit: u32, used: u32, need: u32, per_az: bool) -> Finding {
    let free = limit.saturating_sub(used);
    if need <= free {
        return Finding::new(
            Check::ElasticIps,
            Verdict::Passed,
            format!(
                "{used} of {limit} Elastic IPs allocated in {region}; this run allocates {need} \
                 (one per new NAT gateway)"
            ),
        );
    }
    let mut fix = format!(
        "release {} unused Elastic IP(s) (`aws ec2 describe-addresses --region {region}`, then \
         `aws ec2 release-address --allocation-id ID`) or request a higher \"EC2-VPC Elastic \
         IPs\" quota (Service Quotas L-0263D0A3)",
        need - free
    );
    if per_az {
        fix.push_str(", or set network.nat = \"single\" (one NAT gateway, one address)");
    }
    Finding::new(
        Check::ElasticIps,
        Verdict::Failed,
        format!(
            "Elastic IP limit reached: this run allocates {need} (one per new NAT gateway), but \
             {region} allows {limit} (vpc-max-elastic-ips) and {used} are allocated ({free} free)"
        ),
    )
    .with_fix(fix)
}

/// A finding against one of AWS's default quotas, which only Service Quotas could confirm
/// for the account: beyond the default it is a warning, not a failure (the quota may have
/// been raised).
#[allow(clippy::too_many_arguments)]
fn default_quota_finding(
    check: Check,
    what: &str,
    used: u32,
    need: u32,
    default: u32,
    code: &str,
    error: &str,
    free_one: &str,
) -> Finding {
    if used + need <= default {
        return Finding::new(
            check,
            Verdict::Passed,
            format!(
                "{used} {what}; this run creates {need}; AWS's default quota is {default} \
                 ({code})"
            ),
        );
    }
    Finding::new(
        check,
        Verdict::Warning,
        format!(
            "{used} {what} and this run creates {need}, beyond AWS's default quota of {default} \
             ({code}); unless the account's quota was raised, `up` fails with {error}"
        ),
    )
    .with_fix(format!(
        "{free_one}, or check the applied quota: `aws service-quotas get-service-quota \
         --service-code vpc --quota-code {code}` and request an increase"
    ))
}

/// `orderable` ordered as alternatives to `class`: the same family first (`db.t4g.`), then
/// the same size (`.small`), then the rest, each group in its order.
fn rank_classes(class: &str, orderable: &[String]) -> Vec<String> {
    let (family, size) = class.rsplit_once('.').unwrap_or((class, ""));
    let rank = |c: &String| {
        let (f, s) = c.rsplit_once('.').unwrap_or((c.as_str(), ""));
        if f == family {
            0
        } else if s == size {
            1
        } else {
            2
        }
    };
    let mut ranked = orderable.to_vec();
    ranked.sort_by_key(rank);
    ranked
}

#[cfg(test)]
mod tests {
    use orchestrate_network::account::Zone;

    use super::*;

    fn zone(name: &str, state: &str) -> Zone {
        Zone {
            name: name.into(),
            state: state.into(),
        }
    }

    #[test]
    fn elastic_ips_fail_only_when_the_new_addresses_do_not_fit() {
        let ok = elastic_ip_finding("us-east-1", 5, 4, 1, false);
        assert_eq!(ok.verdict, Verdict::Passed);
        let full = elastic_ip_finding("us-east-1", 5, 5, 1, false);
        assert_eq!(full.verdict, Verdict::Failed);
        assert!(full.message.contains("allows 5"), "{}", full.message);
        assert!(full.message.contains("5 are allocated"), "{}", full.message);
        let fix = full.fix.as_deref().expect("a fix");
        assert!(fix.contains("release 1 unused"), "{fix}");
        assert!(!fix.contains("network.nat"), "single NAT already: {fix}");
        let per_az = elastic_ip_finding("us-east-1", 5, 4, 2, true);
        assert_eq!(per_az.verdict, Verdict::Failed);
        assert!(
            per_az
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("network.nat = \"single\"")),
            "{per_az:?}"
        );
    }

    #[test]
    fn a_default_quota_beyond_its_limit_is_a_warning() {
        let ok = default_quota_finding(Check::Vpcs, "VPCs", 4, 1, 5, "L-F678F1CE", "E", "x");
        assert_eq!(ok.verdict, Verdict::Passed);
        let over = default_quota_finding(Check::Vpcs, "VPCs", 5, 1, 5, "L-F678F1CE", "E", "x");
        assert_eq!(over.verdict, Verdict::Warning);
        assert!(over.message.contains("L-F678F1CE"));
    }

    #[test]
    fn a_pinned_zone_that_vanished_fails_an_impaired_one_warns() {
        let seen = [
            zone("us-east-1a", "available"),
            zone("us-east-1b", "impaired"),
        ];
        let pinned = |z: &[&str]| z.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let good = zone_findings(&pinned(&["us-east-1a"]), &seen, "us-east-1", "o.lock");
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].verdict, Verdict::Passed);
        let bad = zone_findings(
            &pinned(&["us-east-1a", "us-east-1b", "us-east-1z"]),
            &seen,
            "us-east-1",
            "o.lock",
        );
        let verdicts: Vec<Verdict> = bad.iter().map(|f| f.verdict).collect();
        assert_eq!(verdicts, vec![Verdict::Warning, Verdict::Failed]);
        assert!(bad[1].message.contains("us-east-1z"));
        assert!(bad[1].fix.as_deref().is_some_and(|f| f.contains("o.lock")));
    }

    #[test]
    fn the_report_fails_on_any_failure_and_names_each() {
        let report = VerifyReport {
            region: "us-east-1".into(),
            findings: vec![
                Finding::new(Check::Vpcs, Verdict::Passed, "ok"),
                Finding::new(Check::Zones, Verdict::Warning, "hm"),
                Finding::new(Check::ElasticIps, Verdict::Failed, "full").with_fix("release"),
            ],
        };
        assert!(!report.passed());
        let err = report.clone().into_result().expect_err("a failure");
        assert_eq!(err.exit_code(), crate::error::EXIT_INVALID);
        let text = err.to_string();
        assert!(text.contains("elastic_ips: full; fix: release"), "{text}");
        assert!(!text.contains("hm"), "warnings are not failures: {text}");
        let passing = VerifyReport {
            findings: report.findings[..2].to_vec(),
            ..report
        };
        assert!(passing.into_result().is_ok());
    }

    #[test]
    fn unreadable_checks_are_warnings_by_kind_only() {
        for kind in [
            ErrorKind::AccessDenied,
            ErrorKind::Transient,
            ErrorKind::Throttled,
            ErrorKind::BadEndpoint,
        ] {
            assert!(unverifiable(kind), "{kind:?}");
        }
        for kind in [
            ErrorKind::Credentials,
            ErrorKind::Unreachable,
            ErrorKind::Internal,
        ] {
            assert!(!unverifiable(kind), "{kind:?}");
        }
        let denied = orchestrate_aws::AwsError::new("describe", "x", "AccessDenied", "no");
        let finding = could_not(Check::Vpcs, "VPCs", denied).expect("a warning");
        assert_eq!(finding.verdict, Verdict::Warning);
        assert!(finding.message.starts_with("could not verify VPCs"));
        assert!(
            finding
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("allow the read"))
        );
        let unreachable = orchestrate_aws::AwsError {
            kind: ErrorKind::Unreachable,
            ..orchestrate_aws::AwsError::new("describe", "x", "DispatchFailure", "down")
        };
        assert!(could_not(Check::Vpcs, "VPCs", unreachable).is_err());
    }

    #[test]
    fn classes_of_the_same_family_then_size_are_named_first() {
        let classes: Vec<String> = ["db.m5.large", "db.t3.small", "db.t4g.micro", "db.t4g.small"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            rank_classes("db.t4g.huge", &classes),
            ["db.t4g.micro", "db.t4g.small", "db.m5.large", "db.t3.small"]
        );
        assert_eq!(
            rank_classes("db.m1.small", &classes),
            ["db.t3.small", "db.t4g.small", "db.m5.large", "db.t4g.micro"]
        );
    }
}
