//! The ElastiCache check: the Valkey version the region offers.

use crate::Engine;
use crate::error::EngineError;

use super::*;

impl Engine {
    pub(super) async fn verify_cache(&self, scope: Scope) -> Result<Vec<Finding>, EngineError> {
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
}
