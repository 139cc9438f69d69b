//! What RDS and ElastiCache offer in a region — the engine catalogs moto 5.2.1 lacks
//! (DescribeDBEngineVersions and DescribeCacheEngineVersions are not implemented, and
//! DescribeOrderableDBInstanceOptions knows no `postgres`). awsim answers these three reads
//! itself, in AWS's published response shapes (Query protocol XML), from a [`Catalog`] a
//! scenario can override to make a version or a class "missing".
//!
//! Simplifications, documented: every listed instance class is orderable for every listed
//! PostgreSQL version (three storage types each, one page per request unless `MaxRecords`
//! cuts it); the newest minor of a major stands in as RDS's default; only `postgres` (RDS)
//! and `valkey` (ElastiCache) are answered, other engines go to moto.

use serde::{Deserialize, Serialize};

use crate::protocol::{Rendered, form_get, xml_escape as x};

/// The engine versions and instance classes the emulated region offers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Catalog {
    /// PostgreSQL versions RDS offers (`available`), e.g. `16.4`.
    pub postgres_versions: Vec<String>,
    /// DB instance classes orderable for every PostgreSQL version listed.
    pub postgres_instance_classes: Vec<String>,
    /// Valkey versions ElastiCache offers, e.g. `8.0`.
    pub valkey_versions: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for Catalog {
    /// Modelled on us-east-1 in 2025: PostgreSQL 14 to 17 with real minors, the common
    /// burstable and general-purpose Graviton and Intel classes, Valkey 7.2, 8.0 and 8.1.
    fn default() -> Self {
        Self {
            postgres_versions: strings(&[
                "14.12", "14.13", "14.15", "14.17", "14.18", "15.7", "15.8", "15.10", "15.12",
                "15.13", "16.3", "16.4", "16.6", "16.8", "16.9", "17.1", "17.2", "17.4", "17.5",
            ]),
            postgres_instance_classes: strings(&[
                "db.m5.large",
                "db.m5.xlarge",
                "db.m6g.large",
                "db.m6g.xlarge",
                "db.m6i.large",
                "db.m7g.large",
                "db.m7g.xlarge",
                "db.r6g.large",
                "db.r6g.xlarge",
                "db.r7g.large",
                "db.t3.medium",
                "db.t3.micro",
                "db.t3.small",
                "db.t4g.large",
                "db.t4g.medium",
                "db.t4g.micro",
                "db.t4g.small",
            ]),
            valkey_versions: strings(&["7.2", "8.0", "8.1"]),
        }
    }
}

/// True for the operations this module answers.
pub fn answers(service: &str, operation: &str) -> bool {
    matches!(
        (service, operation),
        (
            "rds",
            "DescribeDBEngineVersions" | "DescribeOrderableDBInstanceOptions"
        ) | ("elasticache", "DescribeCacheEngineVersions")
    )
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

fn is_true(form: &[(String, String)], key: &str) -> bool {
    form_get(form, key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `wanted` as RDS and ElastiCache match it: the same version, or a major version's minors.
fn version_matches(version: &str, wanted: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(w) if w.contains('.') => version == w,
        Some(w) => major(version) == w,
    }
}

/// Keeps, of `versions`, the newest of each major (the stand-in for RDS's default).
fn defaults_only(versions: Vec<&String>) -> Vec<&String> {
    versions
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            versions
                .iter()
                .skip(i + 1)
                .all(|later| major(later) != major(v))
        })
        .map(|(_, v)| *v)
        .collect()
}

fn ok(body: String) -> Rendered {
    Rendered {
        status: hyper::StatusCode::OK,
        content_type: "text/xml",
        headers: vec![],
        body: bytes::Bytes::from(body),
    }
}

/// The answer to `operation`, or `None` to let moto answer (another engine).
pub fn answer(
    catalog: &Catalog,
    service: &str,
    operation: &str,
    form: &[(String, String)],
    request_id: &str,
) -> Option<Rendered> {
    match (service, operation) {
        ("rds", "DescribeDBEngineVersions") => db_engine_versions(catalog, form, request_id),
        ("rds", "DescribeOrderableDBInstanceOptions") => orderable(catalog, form, request_id),
        ("elasticache", "DescribeCacheEngineVersions") => {
            cache_engine_versions(catalog, form, request_id)
        }
        _ => None,
    }
}

fn db_engine_versions(
    catalog: &Catalog,
    form: &[(String, String)],
    request_id: &str,
) -> Option<Rendered> {
    if form_get(form, "Engine").is_some_and(|e| e != "postgres") {
        return None;
    }
    let wanted = form_get(form, "EngineVersion");
    let family = form_get(form, "DBParameterGroupFamily");
    let mut versions: Vec<&String> = catalog
        .postgres_versions
        .iter()
        .filter(|v| version_matches(v, wanted))
        .filter(|v| family.is_none_or(|f| f == format!("postgres{}", major(v))))
        .collect();
    if is_true(form, "DefaultOnly") {
        versions = defaults_only(versions);
    }
    let mut members = String::new();
    for v in versions {
        let m = major(v);
        members.push_str(&format!(
            "<DBEngineVersion><Engine>postgres</Engine><EngineVersion>{v}</EngineVersion>\
             <MajorEngineVersion>{m}</MajorEngineVersion>\
             <DBParameterGroupFamily>postgres{m}</DBParameterGroupFamily>\
             <DBEngineDescription>PostgreSQL</DBEngineDescription>\
             <DBEngineVersionDescription>PostgreSQL {v}-R1</DBEngineVersionDescription>\
             <Status>available</Status><SupportsReadReplica>true</SupportsReadReplica>\
             <SupportsLogExportsToCloudwatchLogs>true</SupportsLogExportsToCloudwatchLogs>\
             <ExportableLogTypes><member>postgresql</member><member>upgrade</member></ExportableLogTypes>\
             </DBEngineVersion>",
            v = x(v),
            m = x(m)
        ));
    }
    Some(ok(format!(
        "<DescribeDBEngineVersionsResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
         <DescribeDBEngineVersionsResult><DBEngineVersions>{members}</DBEngineVersions>\
         </DescribeDBEngineVersionsResult><ResponseMetadata><RequestId>{}</RequestId>\
         </ResponseMetadata></DescribeDBEngineVersionsResponse>",
        x(request_id)
    )))
}

fn orderable(catalog: &Catalog, form: &[(String, String)], request_id: &str) -> Option<Rendered> {
    if form_get(form, "Engine") != Some("postgres") {
        return None;
    }
    let wanted = form_get(form, "EngineVersion");
    let class = form_get(form, "DBInstanceClass");
    let max: usize = form_get(form, "MaxRecords")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .clamp(20, 1000);
    let start: usize = form_get(form, "Marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let mut rows = Vec::new();
    for v in catalog
        .postgres_versions
        .iter()
        .filter(|v| version_matches(v, wanted))
    {
        for c in catalog
            .postgres_instance_classes
            .iter()
            .filter(|c| class.is_none_or(|wanted| wanted == c.as_str()))
        {
            for storage in ["gp2", "gp3", "io1"] {
                rows.push(format!(
                    "<OrderableDBInstanceOption><Engine>postgres</Engine>\
                     <EngineVersion>{}</EngineVersion><DBInstanceClass>{}</DBInstanceClass>\
                     <LicenseModel>postgresql-license</LicenseModel>\
                     <AvailabilityZones><AvailabilityZone><Name>us-east-1a</Name></AvailabilityZone>\
                     <AvailabilityZone><Name>us-east-1b</Name></AvailabilityZone></AvailabilityZones>\
                     <MultiAZCapable>true</MultiAZCapable><ReadReplicaCapable>true</ReadReplicaCapable>\
                     <Vpc>true</Vpc><SupportsStorageEncryption>true</SupportsStorageEncryption>\
                     <StorageType>{storage}</StorageType><SupportsIops>{}</SupportsIops>\
                     <MinStorageSize>20</MinStorageSize><MaxStorageSize>65536</MaxStorageSize>\
                     </OrderableDBInstanceOption>",
                    x(v),
                    x(c),
                    storage != "gp2"
                ));
            }
        }
    }
    let end = rows.len().min(start.saturating_add(max));
    let page = rows.get(start..end).map(|r| r.concat()).unwrap_or_default();
    let marker = if end < rows.len() {
        format!("<Marker>{end}</Marker>")
    } else {
        String::new()
    };
    Some(ok(format!(
        "<DescribeOrderableDBInstanceOptionsResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
         <DescribeOrderableDBInstanceOptionsResult><OrderableDBInstanceOptions>{page}\
         </OrderableDBInstanceOptions>{marker}</DescribeOrderableDBInstanceOptionsResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </DescribeOrderableDBInstanceOptionsResponse>",
        x(request_id)
    )))
}

fn cache_engine_versions(
    catalog: &Catalog,
    form: &[(String, String)],
    request_id: &str,
) -> Option<Rendered> {
    if form_get(form, "Engine").is_some_and(|e| e != "valkey") {
        return None;
    }
    let wanted = form_get(form, "EngineVersion");
    let mut versions: Vec<&String> = catalog
        .valkey_versions
        .iter()
        .filter(|v| version_matches(v, wanted))
        .collect();
    if is_true(form, "DefaultOnly") {
        versions = defaults_only(versions);
    }
    let mut members = String::new();
    for v in versions {
        members.push_str(&format!(
            "<CacheEngineVersion><Engine>valkey</Engine><EngineVersion>{v}</EngineVersion>\
             <CacheParameterGroupFamily>valkey{m}</CacheParameterGroupFamily>\
             <CacheEngineDescription>Valkey</CacheEngineDescription>\
             <CacheEngineVersionDescription>Valkey {v}</CacheEngineVersionDescription>\
             </CacheEngineVersion>",
            v = x(v),
            m = x(major(v))
        ));
    }
    Some(ok(format!(
        "<DescribeCacheEngineVersionsResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
         <DescribeCacheEngineVersionsResult><CacheEngineVersions>{members}</CacheEngineVersions>\
         </DescribeCacheEngineVersionsResult><ResponseMetadata><RequestId>{}</RequestId>\
         </ResponseMetadata></DescribeCacheEngineVersionsResponse>",
        x(request_id)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn body(r: Option<Rendered>) -> String {
        String::from_utf8(r.expect("answered").body.to_vec()).expect("utf-8")
    }

    #[test]
    fn versions_match_exactly_or_by_major_and_family() {
        let c = Catalog::default();
        let by_family = body(answer(
            &c,
            "rds",
            "DescribeDBEngineVersions",
            &form(&[
                ("Engine", "postgres"),
                ("DBParameterGroupFamily", "postgres16"),
            ]),
            "r",
        ));
        assert!(by_family.contains("<EngineVersion>16.4</EngineVersion>"));
        assert!(!by_family.contains("<EngineVersion>17.2</EngineVersion>"));
        let exact = body(answer(
            &c,
            "rds",
            "DescribeDBEngineVersions",
            &form(&[("Engine", "postgres"), ("EngineVersion", "16.1")]),
            "r",
        ));
        assert!(!exact.contains("<DBEngineVersion>"), "16.1 is not offered");
        let default = body(answer(
            &c,
            "rds",
            "DescribeDBEngineVersions",
            &form(&[("EngineVersion", "16"), ("DefaultOnly", "true")]),
            "r",
        ));
        assert_eq!(default.matches("<DBEngineVersion>").count(), 1);
        assert!(default.contains("16.9"));
        assert!(
            answer(
                &c,
                "rds",
                "DescribeDBEngineVersions",
                &form(&[("Engine", "mysql")]),
                "r"
            )
            .is_none(),
            "other engines are moto's"
        );
    }

    #[test]
    fn orderable_options_filter_by_class_and_page() {
        let c = Catalog::default();
        let one = body(answer(
            &c,
            "rds",
            "DescribeOrderableDBInstanceOptions",
            &form(&[
                ("Engine", "postgres"),
                ("EngineVersion", "16.4"),
                ("DBInstanceClass", "db.t4g.small"),
            ]),
            "r",
        ));
        assert_eq!(one.matches("<OrderableDBInstanceOption>").count(), 3);
        let none = body(answer(
            &c,
            "rds",
            "DescribeOrderableDBInstanceOptions",
            &form(&[
                ("Engine", "postgres"),
                ("EngineVersion", "16.4"),
                ("DBInstanceClass", "db.m1.small"),
            ]),
            "r",
        ));
        assert_eq!(none.matches("<OrderableDBInstanceOption>").count(), 0);
        let page = body(answer(
            &c,
            "rds",
            "DescribeOrderableDBInstanceOptions",
            &form(&[
                ("Engine", "postgres"),
                ("EngineVersion", "16.4"),
                ("MaxRecords", "20"),
            ]),
            "r",
        ));
        assert_eq!(page.matches("<OrderableDBInstanceOption>").count(), 20);
        assert!(page.contains("<Marker>20</Marker>"));
    }

    #[test]
    fn valkey_versions_are_listed() {
        let c = Catalog {
            valkey_versions: vec!["8.1".into()],
            ..Catalog::default()
        };
        let all = body(answer(
            &c,
            "elasticache",
            "DescribeCacheEngineVersions",
            &form(&[("Engine", "valkey")]),
            "r",
        ));
        assert!(all.contains("<EngineVersion>8.1</EngineVersion>"));
        assert!(!all.contains("8.0"));
        assert!(answers("elasticache", "DescribeCacheEngineVersions"));
        assert!(!answers("elasticache", "DescribeCacheClusters"));
    }
}
