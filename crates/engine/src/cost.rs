//! `orchestrate cost`: the deployment graph described as an [`orchestrate_cost::Usage`] and
//! priced. Offline: no AWS call; every quantity comes from the same [`Graph`] functions `up`
//! converges (task sizes from the rendered task definitions, counts and capacity-provider
//! strategies from the services, NAT gateways from the network, RDS and Valkey from their
//! `Desired`), so the estimate cannot drift from what `up` builds.

use std::collections::BTreeMap;
use std::sync::Arc;

use orchestrate_airflow::Component;
use orchestrate_core::progress::Silent;
use orchestrate_core::{Context, Spec, Timing};
use orchestrate_cost::{Arch, Assumptions, TaskUsage, Usage};
use orchestrate_ecs::StrategyItem;

use crate::error::EngineError;
use crate::graph::{Graph, Known};

/// Stands for a task definition ARN in a service that is only priced.
const PRICED: &str = "(priced only)";

/// Tasks on regular Fargate and on Fargate Spot for `count` tasks under `strategy` (bases
/// first, in order; the rest by weight). An empty strategy is all regular Fargate.
pub fn split(count: u32, strategy: &[StrategyItem]) -> (u32, u32) {
    if strategy.is_empty() {
        return (count, 0);
    }
    let is_spot = |s: &StrategyItem| s.provider == "FARGATE_SPOT";
    let (mut on_demand, mut spot, mut left) = (0u32, 0u32, count);
    for s in strategy {
        let base = u32::try_from(s.base).unwrap_or(0).min(left);
        left -= base;
        if is_spot(s) {
            spot += base;
        } else {
            on_demand += base;
        }
    }
    let weights: u32 = strategy
        .iter()
        .map(|s| u32::try_from(s.weight).unwrap_or(0))
        .sum();
    if weights == 0 {
        return (on_demand + left, spot);
    }
    let spot_weight: u32 = strategy
        .iter()
        .filter(|s| is_spot(s))
        .map(|s| u32::try_from(s.weight).unwrap_or(0))
        .sum();
    let to_spot = left * spot_weight / weights;
    (on_demand + left - to_spot, spot + to_spot)
}

fn number(json: &serde_json::Value, key: &str) -> Option<f64> {
    json.get(key)?.as_str()?.parse::<f64>().ok()
}

/// What the deployment of `spec` runs, from its graph.
///
/// # Errors
/// [`EngineError::Other`] when the network cannot be described from the spec (a spec
/// `validate` accepts always can).
pub fn usage(spec: &Spec, region: &str) -> Result<Usage, EngineError> {
    let cx = Context::new(
        &spec.deployment.name,
        BTreeMap::new(),
        Arc::new(Silent),
        Timing::default(),
    );
    let zones: Vec<String> = (0..spec.network.az_count)
        .map(|i| format!("{region}-zone-{i}"))
        .collect();
    let graph = Graph::new(spec, &cx, region, &zones);
    let known = Known::default();
    let network = graph
        .network()
        .map_err(|e| EngineError::Other(format!("failed to describe the network: {e}")))?;
    let wiring = graph.wiring(&known);
    let mut tasks = Vec::new();
    for component in Component::ALL.iter().copied().filter(|c| c.is_service()) {
        let (json, _) = graph.task_definition(&wiring, component);
        let service = graph.service(&known, component, PRICED);
        let count = u32::try_from(service.desired_count).unwrap_or(0);
        let (on_demand, spot) = split(count, &service.capacity_provider_strategy);
        let arch = match json
            .pointer("/runtimePlatform/cpuArchitecture")
            .and_then(|v| v.as_str())
        {
            Some("ARM64") => Arch::Arm64,
            _ => Arch::X86_64,
        };
        tasks.push(TaskUsage {
            name: component.name().to_string(),
            vcpu: number(&json, "cpu").unwrap_or(0.0) / 1024.0,
            memory_gb: number(&json, "memory").unwrap_or(0.0) / 1024.0,
            on_demand,
            spot,
            arch,
        });
    }
    let database = graph.database(&known, orchestrate_core::Sensitive::new(String::new()));
    let cache = graph.cache(&known);
    Ok(Usage {
        region: region.to_string(),
        tasks,
        db_instance_class: database.instance.instance_class.clone(),
        db_storage_gb: u32::try_from(database.instance.allocated_storage_gb).unwrap_or(0),
        db_multi_az: database.instance.multi_az,
        cache_node_type: cache.replication_group.node_type.clone(),
        cache_nodes: 1 + u32::from(cache.replication_group.replicas),
        nat_gateways: u32::try_from(network.nat_gateways.len()).unwrap_or(u32::MAX),
        alb_zones: u32::try_from(network.load_balancer_subnet_count()).unwrap_or(u32::MAX),
        secrets: u32::try_from(
            orchestrate_secrets::generated::GENERATED_KEYS.len()
                + orchestrate_secrets::DERIVED_KEYS.len(),
        )
        .unwrap_or(u32::MAX),
        log_retention_days: u32::try_from(graph.logs().containers.retention_days).unwrap_or(0),
        alarms: graph
            .alarms(&known, orchestrate_core::Phase::Worker)
            .map_or(0, |a| u32::try_from(a.alarms.len()).unwrap_or(u32::MAX)),
        assumptions: Assumptions::default(),
    })
}

/// The estimate of `spec` in `region`.
///
/// # Errors
/// [`EngineError::Usage`] for a region or class the price table lacks (exit 2: the user can
/// choose another); [`EngineError::Other`] as [`usage`].
pub fn estimate(spec: &Spec, region: &str) -> Result<orchestrate_cost::Estimate, EngineError> {
    orchestrate_cost::estimate(&usage(spec, region)?).map_err(|e| match e {
        orchestrate_cost::Error::Table(_) => EngineError::Other(e.to_string()),
        _ => EngineError::Usage(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(provider: &str, base: i32, weight: i32) -> StrategyItem {
        StrategyItem::new(provider, base, weight)
    }

    fn default_spec() -> Spec {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/orchestrate.toml");
        orchestrate_core::spec::load::load_with_env(&path, &BTreeMap::new())
            .expect("config/orchestrate.toml loads")
            .spec
    }

    /// The shipped spec's usage comes from the graph: its sizes, counts and Spot split.
    #[test]
    fn the_default_spec_is_described_as_up_deploys_it() {
        let spec = default_spec();
        let u = usage(&spec, "eu-west-1").expect("usage");
        let task = |name: &str| {
            u.tasks
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("no {name}"))
                .clone()
        };
        assert_eq!(u.tasks.len(), 5, "five services, no migration task");
        let api = task("api-server");
        assert_eq!(
            (api.vcpu, api.memory_gb, api.on_demand, api.spot),
            (1.0, 2.0, 1, 0)
        );
        assert_eq!(api.arch, Arch::Arm64);
        let worker = task("worker");
        assert_eq!((worker.vcpu, worker.memory_gb), (1.0, 3.0));
        assert_eq!(
            (worker.on_demand, worker.spot),
            (1, 0),
            "count 1 = the on-demand base"
        );
        assert_eq!(worker.arch, Arch::X86_64, "Spot workers run x86_64");
        assert_eq!(u.nat_gateways, 1, "nat = single");
        assert_eq!(u.alb_zones, 2);
        assert_eq!(u.db_instance_class, "db.t4g.small");
        assert_eq!((u.db_storage_gb, u.db_multi_az), (20, false));
        assert_eq!(
            (u.cache_node_type.as_str(), u.cache_nodes),
            ("cache.t4g.micro", 1)
        );
        assert_eq!(u.secrets, 8);
        assert_eq!(u.log_retention_days, 30);
    }

    /// An existing network (`[network] vpc_id`): no NAT gateway is orchestrate's to price,
    /// and the ALB spans the given public subnets.
    #[test]
    fn an_existing_network_prices_no_nat_gateway() {
        let mut spec = Spec::minimal("demo", "eu-west-1");
        spec.network.vpc_id = Some("vpc-0123456789abcdef0".into());
        spec.network.private_subnet_ids = vec![
            "subnet-0123456789abcdef1".into(),
            "subnet-0123456789abcdef2".into(),
        ];
        spec.network.public_subnet_ids = vec![
            "subnet-0123456789abcdef3".into(),
            "subnet-0123456789abcdef4".into(),
            "subnet-0123456789abcdef5".into(),
        ];
        let u = usage(&spec, "eu-west-1").expect("usage");
        assert_eq!((u.nat_gateways, u.alb_zones), (0, 3));
        let managed = usage(&Spec::minimal("demo", "eu-west-1"), "eu-west-1").expect("usage");
        assert_eq!((managed.nat_gateways, managed.alb_zones), (1, 2));
    }

    /// The default spec's monthly total, pinned against the shipped price table: a change to
    /// the table or to what `up` deploys changes it, and must change this figure on purpose.
    #[test]
    fn the_default_spec_costs_the_pinned_total() {
        let e = estimate(&default_spec(), "eu-west-1").expect("estimate");
        let sum: f64 = e.items.iter().map(|l| l.monthly_usd).sum();
        assert!((e.total_usd - sum).abs() < 1e-6);
        assert!((e.total_usd - PINNED_TOTAL).abs() < 1e-6, "{e:#?}");
        assert_eq!(e.mwaa_class, "mw1.small");
    }

    /// `[alarms]` with a destination adds one line: the twelve alarms of a full deployment at
    /// the table's standard-resolution price (0.10 USD an alarm-month in eu-west-1); without
    /// one, no alarm exists and none is priced.
    #[test]
    fn alarms_add_their_line_to_the_pinned_total() {
        let mut spec = default_spec();
        assert!(!spec.alarms.active(), "the shipped spec has no destination");
        let plain = estimate(&spec, "eu-west-1").expect("estimate");
        assert!(
            plain
                .items
                .iter()
                .all(|l| l.resource != "cloudwatch/alarms")
        );
        spec.alarms.email = Some("oncall@example.com".into());
        assert_eq!(usage(&spec, "eu-west-1").expect("usage").alarms, 12);
        let e = estimate(&spec, "eu-west-1").expect("estimate");
        let line = e
            .items
            .iter()
            .find(|l| l.resource == "cloudwatch/alarms")
            .expect("an alarms line");
        assert!((line.monthly_usd - 1.20).abs() < 1e-6, "{line:?}");
        assert!((e.total_usd - (PINNED_TOTAL + 1.20)).abs() < 1e-6, "{e:#?}");
    }

    #[test]
    fn a_region_without_prices_is_a_usage_error() {
        let e = estimate(&default_spec(), "ap-south-2").expect_err("unpriced");
        assert!(matches!(e, EngineError::Usage(_)), "{e:?}");
    }

    /// USD a month for config/orchestrate.toml in eu-west-1 (hand-checked lines: api-server
    /// 730 × (0.03238 + 2 × 0.00356) = 28.84, worker 730 × (0.04048 + 3 × 0.004445) = 39.28,
    /// NAT 730 × 0.048 + 50 × 0.048 = 37.44).
    const PINNED_TOTAL: f64 = 244.76;

    #[test]
    fn spot_split_places_bases_first_then_by_weight() {
        let worker = crate::graph::worker_strategy(1);
        assert_eq!(split(1, &worker), (1, 0));
        assert_eq!(split(4, &worker), (1, 3));
        assert_eq!(split(0, &worker), (0, 0));
        assert_eq!(split(3, &[]), (3, 0));
        let halves = [item("FARGATE", 0, 1), item("FARGATE_SPOT", 0, 1)];
        assert_eq!(split(4, &halves), (2, 2));
        let no_weight = [item("FARGATE", 2, 0)];
        assert_eq!(split(5, &no_weight), (5, 0));
    }
}
