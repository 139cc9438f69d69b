use super::*;

fn usage() -> Usage {
    Usage {
        region: "us-east-1".into(),
        tasks: vec![
            TaskUsage {
                name: "api-server".into(),
                vcpu: 1.0,
                memory_gb: 4.0,
                on_demand: 1,
                spot: 0,
                arch: Arch::Arm64,
            },
            TaskUsage {
                name: "worker".into(),
                vcpu: 1.0,
                memory_gb: 3.0,
                on_demand: 1,
                spot: 1,
                arch: Arch::X86_64,
            },
        ],
        db_instance_class: "db.t4g.small".into(),
        db_storage_gb: 20,
        db_multi_az: false,
        cache_node_type: "cache.t4g.micro".into(),
        cache_nodes: 1,
        nat_gateways: 1,
        alb_zones: 2,
        secrets: 8,
        log_retention_days: 30,
        alarms: 12,
        assumptions: Assumptions::default(),
    }
}

fn line(e: &Estimate, resource: &str) -> f64 {
    e.items
        .iter()
        .chain(&e.mwaa)
        .find(|l| l.resource == resource)
        .unwrap_or_else(|| panic!("no line {resource}: {e:?}"))
        .monthly_usd
}

/// Each line against the arithmetic done by hand from prices.toml (us-east-1), to the cent.
#[test]
fn every_line_matches_the_hand_computed_price() {
    let e = estimate(&usage()).expect("estimate");
    let close = |resource: &str, by_hand: f64| {
        let got = line(&e, resource);
        assert!(
            (got - by_hand).abs() <= 0.005 + 1e-9,
            "{resource}: {got} vs {by_hand} by hand"
        );
    };
    close("fargate/api-server", 730.0 * (0.03238 + 4.0 * 0.00356));
    // One on-demand x86 task and one on Spot at 30 % of the price.
    close("fargate/worker", 730.0 * (0.04048 + 3.0 * 0.004445) * 1.3);
    close("rds/instance", 730.0 * 0.032);
    close("rds/storage", 20.0 * 0.115);
    close("elasticache/valkey", 730.0 * 0.0128);
    close("ec2/nat-gateway", 730.0 * 0.045 + 50.0 * 0.045);
    close("elbv2/load-balancer", 730.0 * (0.0225 + 0.008));
    close("ec2/public-ipv4", 3.0 * 730.0 * 0.005);
    // Three running tasks × 1 GB in; 30 days kept = 3 GB stored.
    close("logs/ingestion+storage", 3.0 * 0.50 + 3.0 * 0.03);
    close("secretsmanager/secrets", 8.0 * 0.40);
    close("ecr/storage", 3.0 * 0.10);
    close("servicediscovery/namespace", 0.50);
    close("cloudwatch/alarms", 12.0 * 0.10);
    close("mwaa/environment mw1.small", 730.0 * 0.49);
    close("mwaa/additional-workers", 730.0 * 0.055);
    close("mwaa/metadata", 10.0 * 0.10);
    assert_eq!(e.mwaa_class, "mw1.small");
}

#[test]
fn totals_are_the_sums_of_their_lines() {
    let e = estimate(&usage()).expect("estimate");
    let sum: f64 = e.items.iter().map(|l| l.monthly_usd).sum();
    assert!((e.total_usd - sum).abs() < 1e-6, "{} vs {sum}", e.total_usd);
    let mwaa: f64 = e.mwaa.iter().map(|l| l.monthly_usd).sum();
    assert!((e.mwaa_total_usd - mwaa).abs() < 1e-6);
    assert!(e.items.iter().all(|l| l.monthly_usd > 0.0), "{e:?}");
}

#[test]
fn multi_az_doubles_the_database_and_more_tasks_cost_more() {
    let base = estimate(&usage()).expect("estimate");
    let mut bigger = usage();
    bigger.db_multi_az = true;
    bigger.tasks[1].spot = 5;
    let e = estimate(&bigger).expect("estimate");
    assert!((line(&e, "rds/instance") - 2.0 * line(&base, "rds/instance")).abs() < 0.011);
    assert!(line(&e, "fargate/worker") > line(&base, "fargate/worker"));
    assert!(line(&e, "mwaa/additional-workers") > line(&base, "mwaa/additional-workers"));
}

#[test]
fn an_unpriced_region_or_class_is_an_error_naming_what_the_table_has() {
    let mut u = usage();
    u.region = "ap-south-2".into();
    let e = estimate(&u).expect_err("no such region");
    assert!(matches!(e, Error::UnknownRegion { .. }));
    assert!(e.to_string().contains("us-east-1"), "{e}");
    let mut u = usage();
    u.db_instance_class = "db.x2iedn.32xlarge".into();
    let e = estimate(&u).expect_err("no such class");
    assert!(e.to_string().contains("db.t4g.small"), "{e}");
}

/// Every region prices the same classes, so a spec priced in one region prices in all.
#[test]
fn the_shipped_table_parses_and_every_region_has_the_same_classes() {
    let t = table().expect("prices.toml parses");
    assert!(t.regions.len() >= 2);
    let first = t.regions.values().next().expect("a region");
    for (name, r) in &t.regions {
        assert_eq!(
            r.rds_postgres_hour.keys().collect::<Vec<_>>(),
            first.rds_postgres_hour.keys().collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            r.valkey_node_hour.keys().collect::<Vec<_>>(),
            first.valkey_node_hour.keys().collect::<Vec<_>>(),
            "{name}"
        );
        assert!(r.fargate_spot_discount > 0.0 && r.fargate_spot_discount < 1.0);
    }
    assert!(!t.meta.sources.is_empty());
}

#[test]
fn mwaa_class_follows_the_worker_size() {
    assert_eq!(mwaa_class(0.5), "mw1.small");
    assert_eq!(mwaa_class(1.0), "mw1.small");
    assert_eq!(mwaa_class(2.0), "mw1.medium");
    assert_eq!(mwaa_class(4.0), "mw1.large");
}
