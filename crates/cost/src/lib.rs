//! orchestrate's monthly cost estimate: what a deployment of the spec costs per month, per
//! resource, from a price table shipped with the tool (`prices.toml`: region-aware, dated,
//! sources named), beside an MWAA environment of comparable size.
//!
//! This crate owns the price table and the arithmetic, nothing else: it makes no AWS call and
//! reads no spec. The engine describes what the deployment runs as a [`Usage`] (computed from
//! the same deployment graph `up` converges), and [`estimate`] prices it.
//!
//! Guarantees: every line is rounded to cents and the total is the sum of the lines, so the
//! table adds up; a region or an instance class missing from the table is an error naming
//! what the table has, never a silent zero; every assumption that is not the spec's (traffic,
//! log volume, image size) is listed in [`Estimate::assumptions`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Hours in an average month (AWS's own convention: 365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The price table, as shipped.
const PRICES: &str = include_str!("prices.toml");

/// Why an estimate cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The shipped price table does not parse (a build defect, caught by this crate's tests).
    #[error("the shipped price table is malformed: {0}")]
    Table(String),
    /// No prices for the region.
    #[error("no prices for region {region} in the shipped table (it has: {}); the estimate of a close region is a fair guide: run with --region {}", known.join(", "), known.first().map_or("us-east-1", String::as_str))]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The regions the table has.
        known: Vec<String>,
    },
    /// No price for an instance class or node type in the region.
    #[error("no {what} price for {class} in {region} (the table has: {})", known.join(", "))]
    UnknownClass {
        /// What kind of price (`RDS PostgreSQL`, `Valkey node`).
        what: &'static str,
        /// The class asked for.
        class: String,
        /// The region.
        region: String,
        /// The classes the table has.
        known: Vec<String>,
    },
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CPU architecture a task runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Graviton.
    Arm64,
    /// Intel/AMD (the only one Fargate Spot offers).
    X86_64,
}

/// One ECS service's steady state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskUsage {
    /// The component (`api-server`, `worker`, ...).
    pub name: String,
    /// vCPU per task.
    pub vcpu: f64,
    /// Memory per task, GB.
    pub memory_gb: f64,
    /// Tasks running on regular Fargate.
    pub on_demand: u32,
    /// Tasks running on Fargate Spot.
    pub spot: u32,
    /// The architecture.
    pub arch: Arch,
}

/// What a deployment runs, as the estimate needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// The region (selects the price table).
    pub region: String,
    /// Every long-running service.
    pub tasks: Vec<TaskUsage>,
    /// The RDS instance class.
    pub db_instance_class: String,
    /// RDS gp3 storage, GB.
    pub db_storage_gb: u32,
    /// RDS Multi-AZ (doubles instance and storage).
    pub db_multi_az: bool,
    /// The Valkey node type.
    pub cache_node_type: String,
    /// Valkey nodes (primary + replicas).
    pub cache_nodes: u32,
    /// NAT gateways.
    pub nat_gateways: u32,
    /// Availability zones the ALB spans (one public IPv4 address each).
    pub alb_zones: u32,
    /// Secrets Manager secrets orchestrate stores.
    pub secrets: u32,
    /// Log retention, days.
    pub log_retention_days: u32,
    /// CloudWatch alarms of `[alarms]` (standard resolution; 0 when alarms are off).
    pub alarms: u32,
    /// The traffic, log and image assumptions.
    pub assumptions: Assumptions,
}

/// What the spec does not say and the estimate must assume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumptions {
    /// GB a month through the NAT gateways (image pulls, package installs, git, APIs).
    pub nat_gb_month: f64,
    /// GB of logs a running task writes a month.
    pub log_gb_per_task_month: f64,
    /// GB of images kept in ECR (Airflow for two platforms, git-sync).
    pub ecr_gb: f64,
    /// Average ALB load balancer capacity units.
    pub alb_lcu: f64,
    /// GB of metadata database an MWAA environment is assumed to hold.
    pub mwaa_metadata_gb: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            nat_gb_month: 50.0,
            log_gb_per_task_month: 1.0,
            ecr_gb: 3.0,
            alb_lcu: 1.0,
            mwaa_metadata_gb: 10.0,
        }
    }
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    /// What is priced (`fargate/worker`, `rds/instance`, ...).
    pub resource: String,
    /// The quantity and unit price, in words.
    pub detail: String,
    /// USD a month, rounded to cents.
    pub monthly_usd: f64,
}

/// A priced deployment, beside a comparable MWAA environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The region priced.
    pub region: String,
    /// When the price table was transcribed.
    pub prices_as_of: String,
    /// Where the prices come from.
    pub sources: Vec<String>,
    /// One line per resource.
    pub items: Vec<LineItem>,
    /// The sum of `items`.
    pub total_usd: f64,
    /// The comparable MWAA environment, one line per charge.
    pub mwaa: Vec<LineItem>,
    /// The sum of `mwaa`.
    pub mwaa_total_usd: f64,
    /// The MWAA environment class compared with.
    pub mwaa_class: String,
    /// Every assumption, in words.
    pub assumptions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Table {
    meta: Meta,
    regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    as_of: String,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionPrices {
    fargate_x86_vcpu_hour: f64,
    fargate_x86_gb_hour: f64,
    fargate_arm_vcpu_hour: f64,
    fargate_arm_gb_hour: f64,
    fargate_spot_discount: f64,
    rds_gp3_gb_month: f64,
    nat_hour: f64,
    nat_gb: f64,
    alb_hour: f64,
    alb_lcu_hour: f64,
    public_ipv4_hour: f64,
    logs_ingest_gb: f64,
    logs_store_gb_month: f64,
    secret_month: f64,
    ecr_gb_month: f64,
    private_zone_month: f64,
    cloudwatch_alarm_month: f64,
    mwaa_metadata_gb_month: f64,
    rds_postgres_hour: BTreeMap<String, f64>,
    valkey_node_hour: BTreeMap<String, f64>,
    mwaa_environment_hour: BTreeMap<String, f64>,
    mwaa_worker_hour: BTreeMap<String, f64>,
}

fn table() -> Result<Table> {
    toml::from_str(PRICES).map_err(|e| Error::Table(e.to_string()))
}

/// The regions the shipped table prices.
///
/// # Errors
/// [`Error::Table`].
pub fn regions() -> Result<Vec<String>> {
    Ok(table()?.regions.into_keys().collect())
}

fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

fn class_price(
    map: &BTreeMap<String, f64>,
    what: &'static str,
    class: &str,
    region: &str,
) -> Result<f64> {
    map.get(class).copied().ok_or_else(|| Error::UnknownClass {
        what,
        class: class.to_string(),
        region: region.to_string(),
        known: map.keys().cloned().collect(),
    })
}

struct Lines(Vec<LineItem>);

impl Lines {
    fn add(&mut self, resource: impl Into<String>, detail: impl Into<String>, usd: f64) {
        self.0.push(LineItem {
            resource: resource.into(),
            detail: detail.into(),
            monthly_usd: cents(usd),
        });
    }

    fn total(&self) -> f64 {
        cents(self.0.iter().map(|l| l.monthly_usd).sum())
    }
}

/// The MWAA class whose workers match a worker of `vcpu` vCPU (small: 1, medium: 2, large: 4).
pub fn mwaa_class(worker_vcpu: f64) -> &'static str {
    if worker_vcpu <= 1.0 {
        "mw1.small"
    } else if worker_vcpu <= 2.0 {
        "mw1.medium"
    } else {
        "mw1.large"
    }
}

/// Prices `usage` with the shipped table.
///
/// # Errors
/// [`Error::UnknownRegion`], [`Error::UnknownClass`], [`Error::Table`].
pub fn estimate(usage: &Usage) -> Result<Estimate> {
    let table = table()?;
    let region = usage.region.as_str();
    let p = table
        .regions
        .get(region)
        .ok_or_else(|| Error::UnknownRegion {
            region: region.to_string(),
            known: table.regions.keys().cloned().collect(),
        })?;
    let h = HOURS_PER_MONTH;
    let a = &usage.assumptions;
    let mut lines = Lines(Vec::new());

    let mut running_tasks = 0u32;
    for t in &usage.tasks {
        let (vcpu_hour, gb_hour, arch) = match t.arch {
            Arch::Arm64 => (p.fargate_arm_vcpu_hour, p.fargate_arm_gb_hour, "arm64"),
            Arch::X86_64 => (p.fargate_x86_vcpu_hour, p.fargate_x86_gb_hour, "x86_64"),
        };
        let per_task = t.vcpu * vcpu_hour + t.memory_gb * gb_hour;
        let spot_task = t.vcpu * p.fargate_x86_vcpu_hour * (1.0 - p.fargate_spot_discount)
            + t.memory_gb * p.fargate_x86_gb_hour * (1.0 - p.fargate_spot_discount);
        let mut detail = format!(
            "{} × {} vCPU / {} GB {arch}",
            t.on_demand, t.vcpu, t.memory_gb
        );
        if t.spot > 0 {
            detail.push_str(&format!(" + {} on Spot", t.spot));
        }
        lines.add(
            format!("fargate/{}", t.name),
            detail,
            h * (f64::from(t.on_demand) * per_task + f64::from(t.spot) * spot_task),
        );
        running_tasks += t.on_demand + t.spot;
    }

    let multi = if usage.db_multi_az { 2.0 } else { 1.0 };
    let db_hour = class_price(
        &p.rds_postgres_hour,
        "RDS PostgreSQL",
        &usage.db_instance_class,
        region,
    )?;
    lines.add(
        "rds/instance",
        format!(
            "{}{}",
            usage.db_instance_class,
            if usage.db_multi_az { ", Multi-AZ" } else { "" }
        ),
        h * db_hour * multi,
    );
    lines.add(
        "rds/storage",
        format!(
            "{} GB gp3 (backups within the free allowance)",
            usage.db_storage_gb
        ),
        f64::from(usage.db_storage_gb) * p.rds_gp3_gb_month * multi,
    );
    let node_hour = class_price(
        &p.valkey_node_hour,
        "Valkey node",
        &usage.cache_node_type,
        region,
    )?;
    lines.add(
        "elasticache/valkey",
        format!("{} × {}", usage.cache_nodes, usage.cache_node_type),
        h * node_hour * f64::from(usage.cache_nodes),
    );
    lines.add(
        "ec2/nat-gateway",
        format!(
            "{} × {h} h + {} GB processed",
            usage.nat_gateways, a.nat_gb_month
        ),
        f64::from(usage.nat_gateways) * h * p.nat_hour + a.nat_gb_month * p.nat_gb,
    );
    lines.add(
        "elbv2/load-balancer",
        format!("{h} h + {} LCU", a.alb_lcu),
        h * (p.alb_hour + a.alb_lcu * p.alb_lcu_hour),
    );
    let addresses = usage.nat_gateways + usage.alb_zones;
    lines.add(
        "ec2/public-ipv4",
        format!(
            "{addresses} addresses (NAT {}, ALB {})",
            usage.nat_gateways, usage.alb_zones
        ),
        f64::from(addresses) * h * p.public_ipv4_hour,
    );
    let ingested = f64::from(running_tasks) * a.log_gb_per_task_month;
    let stored = ingested * f64::from(usage.log_retention_days) / 30.0;
    lines.add(
        "logs/ingestion+storage",
        format!(
            "{ingested} GB/month in, {stored:.1} GB kept ({} days)",
            usage.log_retention_days
        ),
        ingested * p.logs_ingest_gb + stored * p.logs_store_gb_month,
    );
    lines.add(
        "secretsmanager/secrets",
        format!("{} secrets", usage.secrets),
        f64::from(usage.secrets) * p.secret_month,
    );
    lines.add(
        "ecr/storage",
        format!("{} GB of images", a.ecr_gb),
        a.ecr_gb * p.ecr_gb_month,
    );
    lines.add(
        "servicediscovery/namespace",
        "one private hosted zone",
        p.private_zone_month,
    );
    if usage.alarms > 0 {
        lines.add(
            "cloudwatch/alarms",
            format!("{} standard-resolution alarms", usage.alarms),
            f64::from(usage.alarms) * p.cloudwatch_alarm_month,
        );
    }

    let worker = usage.tasks.iter().find(|t| t.name == "worker");
    let worker_vcpu = worker.map_or(1.0, |w| w.vcpu);
    let workers = worker.map_or(1, |w| w.on_demand + w.spot);
    let class = mwaa_class(worker_vcpu);
    let mut mwaa = Lines(Vec::new());
    mwaa.add(
        format!("mwaa/environment {class}"),
        "scheduler, web server and one worker included",
        h * class_price(&p.mwaa_environment_hour, "MWAA environment", class, region)?,
    );
    let extra = workers.saturating_sub(1);
    mwaa.add(
        "mwaa/additional-workers",
        format!("{extra} × {class} worker"),
        h * f64::from(extra) * class_price(&p.mwaa_worker_hour, "MWAA worker", class, region)?,
    );
    mwaa.add(
        "mwaa/metadata",
        format!("{} GB", a.mwaa_metadata_gb),
        a.mwaa_metadata_gb * p.mwaa_metadata_gb_month,
    );

    let assumptions = vec![
        format!("{h} hours a month; services at their steady count (worker at its autoscaling minimum)"),
        format!(
            "Fargate Spot {:.0} % below on-demand (AWS's typical discount; Spot prices vary)",
            p.fargate_spot_discount * 100.0
        ),
        format!("{} GB a month through NAT", a.nat_gb_month),
        format!("{} GB of logs per running task a month", a.log_gb_per_task_month),
        format!("{} GB of images in ECR; {} ALB LCU on average", a.ecr_gb, a.alb_lcu),
        "RDS backups within the free allowance (backup storage up to the database's size)"
            .to_string(),
        "not included: data transfer out, Container Insights metrics, the one-off migration task, tax"
            .to_string(),
    ];
    Ok(Estimate {
        region: region.to_string(),
        prices_as_of: table.meta.as_of,
        sources: table.meta.sources,
        total_usd: lines.total(),
        items: lines.0,
        mwaa_total_usd: mwaa.total(),
        mwaa: mwaa.0,
        mwaa_class: class.to_string(),
        assumptions,
    })
}

#[cfg(test)]
mod tests;
