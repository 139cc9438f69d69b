use orchestrate_network::account::Zone;

use super::account::default_quota_finding;
use super::database::rank_classes;
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
