//! The RDS checks: the PostgreSQL version and the instance class the region offers.

use crate::Engine;
use crate::error::EngineError;

use super::*;

impl Engine {
    pub(super) async fn verify_database(&self, scope: Scope) -> Result<Vec<Finding>, EngineError> {
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

/// `orderable` ordered as alternatives to `class`: the same family first (`db.t4g.`), then
/// the same size (`.small`), then the rest, each group in its order.
pub(super) fn rank_classes(class: &str, orderable: &[String]) -> Vec<String> {
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
