//! Offline validation: every pitfall of the field report that a spec can show, as a rule.
//!
//! [`validate`] makes no AWS call. Each [`Finding`] names its rule, the dotted path of the
//! offending key (turned into a file line and column by
//! [`LoadedSpec::origin`](crate::spec::load::LoadedSpec::origin)), what is wrong and the fix.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::escape::escape_control;
use crate::names::MAX_NAME_LEN;
use crate::spec::{Architecture, ComponentSpec, Spec};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Allowed, but worth knowing.
    Warning,
    /// `up` refuses to run.
    Error,
}

/// One rule's verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule identifier, e.g. `fargate-cpu-memory`.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Dotted path of the key, e.g. `components.worker.memory`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{level} [rule: {}] {}: {}\n  fix: {}",
            self.rule, self.path, self.message, self.fix
        )
    }
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        path: String,
        message: String,
        fix: String,
    ) {
        // User values reach these strings; none may carry a control character to a terminal.
        self.0.push(Finding {
            rule,
            severity,
            path: escape_control(&path).into_owned(),
            message: escape_control(&message).into_owned(),
            fix: escape_control(&fix).into_owned(),
        });
    }
    fn error(
        &mut self,
        rule: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(
            rule,
            Severity::Error,
            path.into(),
            message.into(),
            fix.into(),
        );
    }
    fn warning(
        &mut self,
        rule: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(
            rule,
            Severity::Warning,
            path.into(),
            message.into(),
            fix.into(),
        );
    }
}

/// Every rule applied to `spec`; errors first, then warnings, each in spec order.
pub fn validate(spec: &Spec) -> Vec<Finding> {
    let mut f = Findings(Vec::new());
    deployment(spec, &mut f);
    network(spec, &mut f);
    database(spec, &mut f);
    cache(spec, &mut f);
    components(spec, &mut f);
    git_sync(spec, &mut f);
    load_balancer(spec, &mut f);
    logs(spec, &mut f);
    airflow(spec, &mut f);
    limits::check(spec, &mut f);
    airflow_version::check(spec, &mut f);
    domain::check(spec, &mut f);
    access::check(spec, &mut f);
    alarms::check(spec, &mut f);
    let mut findings = f.0;
    findings.sort_by_key(|x| std::cmp::Reverse(x.severity));
    findings
}

/// Rule id of the warning that the worker's `count` is ignored once autoscaling owns it
/// (`plan` repeats it as a note).
pub const WORKER_COUNT_AUTOSCALED: &str = "worker-count-autoscaled";

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// `[a-z][a-z0-9-]{1,20}`, no trailing or doubled hyphen.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (2..=MAX_NAME_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn deployment(spec: &Spec, f: &mut Findings) {
    let name = &spec.deployment.name;
    if !is_valid_name(name) {
        f.error(
            "deployment-name",
            "deployment.name",
            format!("'{name}' is not a valid deployment name: it prefixes every resource name, and ALB/target-group names allow 32 characters"),
            format!("use 2 to {MAX_NAME_LEN} characters: a lowercase letter, then lowercase letters, digits or single hyphens, not ending in a hyphen"),
        );
    }
    let region = &spec.deployment.region;
    let parts: Vec<&str> = region.split('-').collect();
    let region_ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !region_ok {
        f.error(
            "region",
            "deployment.region",
            format!("'{region}' is not an AWS region name"),
            "use a region code such as us-east-1 or eu-west-1",
        );
    }
}

fn network(spec: &Spec, f: &mut Findings) {
    let n = &spec.network;
    if existing_network(spec, f) {
        // The sizing keys are not used (and set ones are already an error).
        return;
    }
    if !(2..=3).contains(&n.az_count) {
        f.error("az-count", "network.az_count", format!("{} availability zones requested", n.az_count), "use 2 or 3: the ALB and RDS subnet groups need two AZs, and more than three adds cost for no gain here");
    }
    let net: Ipv4Net = match n.vpc_cidr.parse() {
        Ok(net) => net,
        Err(_) => {
            f.error(
                "vpc-cidr",
                "network.vpc_cidr",
                format!("'{}' is not an IPv4 CIDR", n.vpc_cidr),
                "write it as a.b.c.d/nn, e.g. 10.40.0.0/16",
            );
            return;
        }
    };
    if net.network() != net.addr() {
        f.error(
            "vpc-cidr",
            "network.vpc_cidr",
            format!(
                "'{}' has host bits set (the network is {})",
                n.vpc_cidr,
                net.trunc()
            ),
            format!("write {}", net.trunc()),
        );
        return;
    }
    if !(16..=24).contains(&net.prefix_len()) {
        f.error(
            "vpc-cidr",
            "network.vpc_cidr",
            format!(
                "a /{} VPC is outside what AWS allows (/16 to /28) or too small for {} subnets",
                net.prefix_len(),
                2 * n.az_count
            ),
            "use a /16 to /24",
        );
        return;
    }
    if !is_private(net.addr()) {
        f.error(
            "vpc-cidr",
            "network.vpc_cidr",
            format!("{} is not a private (RFC 1918) range", net),
            "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
        );
    }
    let needed = 2 * u32::from(n.az_count.clamp(2, 3));
    if n.subnet_prefix <= net.prefix_len() || n.subnet_prefix > 28 {
        f.error(
            "subnet-fit",
            "network.subnet_prefix",
            format!(
                "subnets of /{} cannot be carved from a /{} VPC",
                n.subnet_prefix,
                net.prefix_len()
            ),
            format!("use a prefix between /{} and /28", net.prefix_len() + 1),
        );
        return;
    }
    let available = 1u64 << (n.subnet_prefix - net.prefix_len());
    if available < u64::from(needed) {
        f.error("subnet-fit", "network.subnet_prefix", format!("a /{} VPC holds only {available} subnets of /{}, and {needed} are needed (public + private per AZ)", net.prefix_len(), n.subnet_prefix), format!("use a longer subnet prefix (at most /{}) or a larger VPC", net.prefix_len() as u32 + needed.next_power_of_two().trailing_zeros()));
    }
}

/// Rule id: `vpc_id` needs both subnet lists, each of at least two distinct subnets, none in
/// both lists; subnet lists need `vpc_id`.
pub const NETWORK_EXISTING_SUBNETS: &str = "network-existing-subnets";
/// Rule id: the keys that size a new network are not allowed beside `vpc_id`.
pub const NETWORK_EXISTING_SIZING: &str = "network-existing-sizing";
/// Rule id: `vpc_id` and subnet ids are AWS ids (`vpc-…`, `subnet-…`).
pub const NETWORK_EXISTING_IDS: &str = "network-existing-ids";

/// `vpc-` / `subnet-` followed by 8 or 17 lowercase hex digits, as EC2 writes its ids.
pub fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The rules of an existing network (`vpc_id`, subnet lists). True when the spec names an
/// existing network (the sizing rules then do not apply).
fn existing_network(spec: &Spec, f: &mut Findings) -> bool {
    let n = &spec.network;
    let lists = [
        (
            "private_subnet_ids",
            &n.private_subnet_ids,
            "tasks, RDS and Valkey",
        ),
        (
            "public_subnet_ids",
            &n.public_subnet_ids,
            "the load balancer",
        ),
    ];
    let Some(vpc_id) = &n.vpc_id else {
        for (key, list, _) in lists {
            if !list.is_empty() {
                f.error(
                    NETWORK_EXISTING_SUBNETS,
                    format!("network.{key}"),
                    format!("{key} is set but network.vpc_id is not: subnets are given only with the existing VPC they belong to"),
                    "add `vpc_id = \"vpc-…\"` (the VPC of these subnets) to [network], or remove the subnet lists to let orchestrate create the network",
                );
            }
        }
        return false;
    };
    if !is_ec2_id(vpc_id, "vpc") {
        f.error(
            NETWORK_EXISTING_IDS,
            "network.vpc_id",
            format!("'{vpc_id}' is not a VPC id"),
            "write the id as EC2 shows it: vpc- followed by 8 or 17 hex digits, e.g. vpc-0a1b2c3d4e5f67890",
        );
    }
    for key in &n.explicit_sizing {
        f.error(
            NETWORK_EXISTING_SIZING,
            format!("network.{key}"),
            format!("{key} sizes a network orchestrate creates, but network.vpc_id names an existing one"),
            format!("remove {key} from [network]: with vpc_id the subnets you list decide the zones and addresses"),
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for (key, list, purpose) in lists {
        for (i, id) in list.iter().enumerate() {
            if !is_ec2_id(id, "subnet") {
                f.error(
                    NETWORK_EXISTING_IDS,
                    format!("network.{key}[{i}]"),
                    format!("'{id}' is not a subnet id"),
                    "write the id as EC2 shows it: subnet- followed by 8 or 17 hex digits, e.g. subnet-0a1b2c3d4e5f67890",
                );
            } else if seen.contains(&id.as_str()) {
                f.error(
                    NETWORK_EXISTING_SUBNETS,
                    format!("network.{key}[{i}]"),
                    format!("{id} is listed twice (private and public subnets are distinct subnets)"),
                    "list each subnet once: private subnets for tasks, RDS and Valkey; public subnets for the load balancer",
                );
            }
            seen.push(id);
        }
        if list.len() < 2 {
            f.error(
                NETWORK_EXISTING_SUBNETS,
                format!("network.{key}"),
                format!("{} subnet(s) given for {purpose}; with vpc_id at least two are needed, in two availability zones", list.len()),
                format!("list at least two existing subnets of {vpc_id} in different zones in {key}"),
            );
        }
    }
    true
}

fn is_private(addr: Ipv4Addr) -> bool {
    addr.is_private()
}

fn database(spec: &Spec, f: &mut Findings) {
    let d = &spec.database;
    if !d.instance_class.starts_with("db.")
        || d.instance_class.split('.').count() != 3
        || d.instance_class.split('.').any(|p| {
            p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    {
        f.error(
            "db-instance-class",
            "database.instance_class",
            format!("'{}' is not an RDS instance class", d.instance_class),
            "use a class such as db.t4g.small or db.m7g.large",
        );
    }
    let major = d
        .engine_version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        // The version's format is `limits`' db-engine-version check.
        Some(m) if (13..=17).contains(&m) => {}
        _ if !limits::is_engine_version(&d.engine_version) => {}
        _ => f.error(
            "db-engine-version",
            "database.engine_version",
            format!(
                "PostgreSQL '{}' is not a version Airflow 3 supports on RDS",
                d.engine_version
            ),
            "use PostgreSQL 13 to 17, e.g. 16.4",
        ),
    }
    if !(20..=65536).contains(&d.allocated_storage_gb) {
        f.error(
            "db-storage",
            "database.allocated_storage_gb",
            format!("{} GiB is outside RDS gp3 limits", d.allocated_storage_gb),
            "use 20 to 65536",
        );
    }
    if !(1..=35).contains(&d.backup_retention_days) {
        f.error(
            "db-backups",
            "database.backup_retention_days",
            format!("{} days of backups", d.backup_retention_days),
            "use 1 to 35 days: the metadata database holds every run's history",
        );
    }
    if !d.deletion_protection {
        f.warning(
            "db-deletion-protection",
            "database.deletion_protection",
            "deletion protection is off for the metadata database",
            "leave it on; `teardown all --yes --force` lifts it deliberately, after a final snapshot",
        );
    }
    for (key, value, max) in [
        ("database.db_name", &d.db_name, limits::MAX_DB_NAME_LEN),
        (
            "database.username",
            &d.username,
            limits::MAX_DB_USERNAME_LEN,
        ),
    ] {
        let ok = value.len() <= max
            && value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let reserved = key.ends_with("username")
            && matches!(value.as_str(), "postgres" | "rdsadmin" | "admin");
        if !ok || reserved {
            f.error("db-identifier", key, format!("'{value}' is not accepted by RDS here"), format!("start with a letter, use letters, digits and underscores (at most {max}), and avoid reserved names such as postgres or rdsadmin"));
        }
    }
}

fn cache(spec: &Spec, f: &mut Findings) {
    let c = &spec.cache;
    if !c.node_type.starts_with("cache.")
        || c.node_type.split('.').count() != 3
        || c.node_type.split('.').any(|p| {
            p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    {
        f.error(
            "cache-node-type",
            "cache.node_type",
            format!("'{}' is not an ElastiCache node type", c.node_type),
            "use cache.<family>.<size>, e.g. cache.t4g.micro",
        );
    }
    if c.replicas > 5 {
        f.error(
            "cache-replicas",
            "cache.replicas",
            format!("{} replicas", c.replicas),
            "use 0 to 5 read replicas",
        );
    }
    if !c.tls {
        f.warning(
            "cache-tls",
            "cache.tls",
            "the Celery broker runs without TLS in transit",
            "set tls = true (the broker URL becomes rediss://)",
        );
    }
}

/// Fargate's accepted (cpu, memory) pairs.
pub fn fargate_pair_ok(cpu: u32, memory: u32) -> bool {
    let gb = |g: u32| g * 1024;
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => (gb(1)..=gb(4)).contains(&memory) && memory.is_multiple_of(1024),
        1024 => (gb(2)..=gb(8)).contains(&memory) && memory.is_multiple_of(1024),
        2048 => (gb(4)..=gb(16)).contains(&memory) && memory.is_multiple_of(1024),
        4096 => (gb(8)..=gb(30)).contains(&memory) && memory.is_multiple_of(1024),
        8192 => (gb(16)..=gb(60)).contains(&memory) && memory.is_multiple_of(gb(4)),
        16384 => (gb(32)..=gb(120)).contains(&memory) && memory.is_multiple_of(gb(8)),
        _ => false,
    }
}

fn components(spec: &Spec, f: &mut Findings) {
    let c = &spec.components;
    let all: [(&str, &ComponentSpec, bool); 6] = [
        ("api_server", &c.api_server, true),
        ("scheduler", &c.scheduler, true),
        ("dag_processor", &c.dag_processor, true),
        ("triggerer", &c.triggerer, true),
        ("worker", &c.worker.component, true),
        ("migration", &c.migration, false),
    ];
    for (key, component, is_service) in all {
        let path = format!("components.{key}");
        if !fargate_pair_ok(component.cpu, component.memory) {
            f.error("fargate-cpu-memory", format!("{path}.memory"), format!("Fargate does not offer cpu = {} with memory = {} MiB", component.cpu, component.memory), "pick a valid pair: 256 with 512/1024/2048; 512 with 1-4 GB; 1024 with 2-8 GB; 2048 with 4-16 GB; 4096 with 8-30 GB (1 GB steps); 8192 with 16-60 GB (4 GB steps); 16384 with 32-120 GB (8 GB steps)");
        }
        if !(21..=200).contains(&component.ephemeral_storage_gb) {
            f.error(
                "ephemeral-storage",
                format!("{path}.ephemeral_storage_gb"),
                format!(
                    "{} GiB of ephemeral storage",
                    component.ephemeral_storage_gb
                ),
                "use 21 to 200 GiB",
            );
        }
        if is_service {
            let grace = component.health_check_grace_seconds;
            if !(300..=600).contains(&grace) {
                f.error("health-check-grace", format!("{path}.health_check_grace_seconds"), format!("a {grace} s grace period for a database-dependent service"), "use 300 to 600 s: ECS ignores load-balancer and container health checks during the grace period, and a container check's own startPeriod is capped at 300 s, so the grace period is what keeps a slow-starting Airflow alive");
            }
            if !component.health_checks {
                f.warning(
                    "health-checks-off",
                    format!("{path}.health_checks"),
                    "container health checks are off: a hung process will not be replaced",
                    "turn them back on once the component starts cleanly",
                );
            }
        }
        if key != "worker" && key != "migration" && component.count == 0 {
            f.warning(
                "count-zero",
                format!("{path}.count"),
                "the service will run no task",
                "set count = 1 or more",
            );
        }
    }
    let w = &c.worker;
    if w.component.memory < 2048 {
        f.error("worker-memory", "components.worker.memory", format!("{} MiB for a Celery worker", w.component.memory), "give workers at least 2048 MiB: an OOM-killed worker is the classic first failure (the field report doubled it to 2 GB)");
    }
    let a = &w.autoscaling;
    if w.component.count != a.min {
        f.warning(
            WORKER_COUNT_AUTOSCALED,
            "components.worker.count",
            format!(
                "components.worker.count = {} only sets the worker's first desired count (clamped \
                 into autoscaling {}..{}); once the service exists Application Auto Scaling owns \
                 the count and this value is ignored",
                w.component.count, a.min, a.max
            ),
            "set components.worker.autoscaling.min (and max) instead, and remove count",
        );
    }
    if a.min < 1 {
        f.error("worker-autoscaling", "components.worker.autoscaling.min", "min = 0 workers", "use min >= 1: Celery queues do not raise CPU, so target tracking on CPU never scales up from zero");
    }
    if a.max < a.min || a.max > 100 {
        f.error(
            "worker-autoscaling",
            "components.worker.autoscaling.max",
            format!("max = {} with min = {}", a.max, a.min),
            "use min <= max <= 100",
        );
    }
    for (key, value) in [
        ("cpu_target", a.cpu_target),
        ("memory_target", a.memory_target),
    ] {
        if !(10..=95).contains(&value) {
            f.error(
                "worker-autoscaling",
                format!("components.worker.autoscaling.{key}"),
                format!("target {value} %"),
                "use a utilisation target between 10 and 95 percent",
            );
        }
    }
    if w.spot && w.component.architecture == Some(Architecture::Arm64) {
        f.error("spot-arm64", "components.worker.architecture", "Fargate Spot runs only X86_64 tasks, and the worker asks for ARM64 on Spot", "remove the worker's architecture (a Spot worker then runs X86_64, the apache/airflow images are multi-arch) or set spot = false");
    }
    if w.spot && w.on_demand_base > a.max {
        f.error(
            "worker-spot-base",
            "components.worker.on_demand_base",
            format!(
                "on-demand base {} exceeds autoscaling max {}",
                w.on_demand_base, a.max
            ),
            "use an on-demand base no larger than the maximum worker count",
        );
    }
}

fn git_sync(spec: &Spec, f: &mut Findings) {
    let g = &spec.git_sync;
    if g.repo.is_empty() {
        return;
    }
    let repo = g.repo.as_str();
    let ok = if let Some(rest) = repo
        .strip_prefix("https://")
        .or_else(|| repo.strip_prefix("ssh://"))
    {
        rest.split_once('/')
            .is_some_and(|(host, path)| !host.is_empty() && !path.is_empty() && !host.contains(' '))
    } else if let Some(rest) = repo.strip_prefix("git@") {
        rest.split_once(':')
            .is_some_and(|(host, path)| !host.is_empty() && !path.is_empty())
    } else {
        false
    };
    if !ok || repo.contains(char::is_whitespace) || repo.contains(char::is_control) {
        f.error(
            "git-sync-repo",
            "git_sync.repo",
            format!("'{repo}' is not a git repository URL git-sync can clone"),
            "use https://host/org/repo.git, ssh://git@host/org/repo.git or git@host:org/repo.git",
        );
    } else if repo.starts_with("http://") {
        f.error(
            "git-sync-repo",
            "git_sync.repo",
            "plain http exposes credentials",
            "use https://",
        );
    }
    if let Some(userinfo) = repo
        .strip_prefix("https://")
        .and_then(|r| r.split_once('@'))
        .map(|(u, _)| u)
        && userinfo.contains(':')
        && !userinfo.contains('/')
    {
        f.error("git-sync-credentials", "git_sync.repo", "the repository URL embeds a password", "remove it and set git_sync.credentials_secret_arn to a Secrets Manager secret with username and password");
    }
    let bad_ref_char = |c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    };
    if g.git_ref.trim().is_empty()
        || g.git_ref.contains(bad_ref_char)
        || g.git_ref.contains("..")
        || g.git_ref.starts_with('-')
    {
        f.error(
            "git-sync-ref",
            "git_sync.ref",
            format!("'{}' is not a git ref", g.git_ref),
            "use a branch, tag or commit, e.g. main (no spaces, control characters, .., ~ ^ : ? * [ \\)",
        );
    }
    if g.subpath.starts_with('/')
        || g.subpath.split('/').any(|s| s == "..")
        || g.subpath.contains(char::is_control)
    {
        f.error(
            "git-sync-subpath",
            "git_sync.subpath",
            format!(
                "'{}' must be a relative path inside the repository, without control characters",
                g.subpath
            ),
            "write the folder inside the repository, e.g. dags",
        );
    }
    if !(10..=3600).contains(&g.period_seconds) {
        f.error(
            "git-sync-period",
            "git_sync.period_seconds",
            format!("{} s between syncs", g.period_seconds),
            "use 10 to 3600 seconds",
        );
    }
}

fn load_balancer(spec: &Spec, f: &mut Findings) {
    let lb = &spec.load_balancer;
    if lb.ingress_cidrs.is_empty() {
        f.warning(
            "alb-ingress",
            "load_balancer.ingress_cidrs",
            "no CIDR may reach the ALB: the UI will be unreachable",
            "list the CIDRs of your users or VPN",
        );
    }
    for (i, cidr) in lb.ingress_cidrs.iter().enumerate() {
        match cidr.parse::<Ipv4Net>() {
            Ok(net) if net.network() == net.addr() => {}
            Ok(net) => f.error(
                "alb-ingress",
                format!("load_balancer.ingress_cidrs[{i}]"),
                format!("'{cidr}' has host bits set"),
                format!("write {}", net.trunc()),
            ),
            Err(_) => f.error(
                "alb-ingress",
                format!("load_balancer.ingress_cidrs[{i}]"),
                format!("'{cidr}' is not an IPv4 CIDR"),
                "write it as a.b.c.d/nn",
            ),
        }
    }
    if lb.certificate_arn.is_none()
        && lb.domain.is_none()
        && lb.scheme == crate::spec::AlbScheme::InternetFacing
        && lb.ingress_cidrs.iter().any(|c| c == "0.0.0.0/0")
    {
        f.warning(
            "alb-plain-http",
            "load_balancer.ingress_cidrs",
            "the api-server is served over plain HTTP to the whole internet (0.0.0.0/0 without \
             certificate_arn): logins and tokens cross the network unencrypted",
            "set load_balancer.domain and hosted_zone_id (orchestrate requests the certificate), \
             or certificate_arn to an ACM certificate (HTTPS, HTTP redirected), or narrow \
             ingress_cidrs to your users' or VPN's CIDRs",
        );
    }
    if !(1..=4000).contains(&lb.idle_timeout_seconds) {
        f.error(
            "alb-idle-timeout",
            "load_balancer.idle_timeout_seconds",
            format!("{} s", lb.idle_timeout_seconds),
            "use 1 to 4000 seconds",
        );
    }
}

/// Retention values CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn logs(spec: &Spec, f: &mut Findings) {
    if !LOG_RETENTION_DAYS.contains(&spec.logs.retention_days) {
        f.error("log-retention", "logs.retention_days", format!("{} days is not a CloudWatch retention value", spec.logs.retention_days), "use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653");
    }
}

/// Variables orchestrate sets itself (secrets or wiring); a user value would break the deployment.
const MANAGED_VARIABLES: [&str; 9] = [
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__DAGS_FOLDER",
];

fn airflow(spec: &Spec, f: &mut Findings) {
    for key in spec.airflow.environment.keys() {
        let path = format!("airflow.environment.{key}");
        if MANAGED_VARIABLES.contains(&key.as_str()) {
            f.error(
                "airflow-managed-variable",
                path,
                format!(
                    "{key} is set by orchestrate (from Secrets Manager or the deployment's wiring)"
                ),
                "remove it: orchestrate injects the shared value into every component",
            );
        } else if key.is_empty()
            || key.starts_with(|c: char| c.is_ascii_digit())
            || !key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            f.error(
                "airflow-variable-name",
                path,
                format!("'{key}' is not an environment variable name Airflow reads"),
                "use AIRFLOW__SECTION__KEY in upper case",
            );
        } else if ["PASSWORD", "SECRET", "TOKEN"]
            .iter()
            .any(|w| key.contains(w))
        {
            f.warning(
                "airflow-secret-in-environment",
                path,
                format!(
                    "{key} looks secret but would be stored in the task definition in plain text"
                ),
                "keep secrets in Secrets Manager",
            );
        }
    }
    let version = &spec.image.airflow_version;
    if !version.starts_with("3.") {
        f.error("airflow-version", "image.airflow_version", format!("Airflow '{version}' is not 3.x"), "orchestrate deploys Airflow 3 (api-server, dag-processor, execution API); use 3.1.0 or newer");
    }
}

mod access;
mod limits;

pub use access::user_policy_document;

pub use limits::{
    MAX_TAGS_PER_RESOURCE, MAX_TASK_DEFINITION_BYTES, MAX_USER_TAGS, ORCHESTRATE_TAG_KEYS,
    TASK_DEFINITION_RESERVE_BYTES, user_task_definition_bytes,
};

pub mod airflow_version;
mod alarms;
pub mod domain;
#[cfg(test)]
mod tests;
