//! The account checks: the pinned zones and the quotas the run would consume (Elastic IPs,
//! VPCs, NAT gateways per zone).

use crate::Engine;
use crate::error::EngineError;

use super::*;

impl Engine {
    pub(super) async fn verify_zones(
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
    pub(super) async fn verify_quotas(
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
pub(super) fn default_quota_finding(
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
