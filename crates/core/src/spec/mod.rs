//! The deployment spec: what a user writes in `orchestrate.toml`.
//!
//! Every field has a default that follows the field report's lessons, so a spec needs only a
//! `[deployment]` name and region to be complete. Unknown keys are rejected at parse time: a
//! typo must never be silently ignored. Loading (file, `.env`, environment overrides) lives in
//! [`load`](crate::spec::load); the rules that judge a parsed spec live in
//! [`validate`](crate::validate).

pub mod load;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole deployment: one `orchestrate.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Identity of the deployment: name, region and extra tags.
    pub deployment: DeploymentSpec,
    /// VPC, subnets and NAT.
    #[serde(default)]
    pub network: NetworkSpec,
    /// The RDS PostgreSQL metadata database.
    #[serde(default)]
    pub database: DatabaseSpec,
    /// The ElastiCache Valkey Celery broker.
    #[serde(default)]
    pub cache: CacheSpec,
    /// The Airflow image every component runs.
    #[serde(default)]
    pub image: ImageSpec,
    /// DAG delivery by a git-sync v4 sidecar.
    #[serde(default)]
    pub git_sync: GitSyncSpec,
    /// The public Application Load Balancer in front of the api-server.
    #[serde(default)]
    pub load_balancer: LoadBalancerSpec,
    /// CloudWatch Logs settings.
    #[serde(default)]
    pub logs: LogsSpec,
    /// Airflow configuration shared by every component.
    #[serde(default)]
    pub airflow: AirflowSpec,
    /// Per-component sizing and health.
    #[serde(default)]
    pub components: ComponentsSpec,
    /// What the Airflow containers' task role may do beyond orchestrate's own grants.
    #[serde(default)]
    pub task_role: TaskRoleSpec,
    /// CloudWatch alarms and where they notify.
    #[serde(default)]
    pub alarms: AlarmsSpec,
}

/// `[alarms]`: CloudWatch alarms on what should page someone, notifying an SNS topic. Alarms
/// exist only when `enabled` and a destination is given: `sns_topic_arn` (an existing topic,
/// never modified or deleted) or `email` (orchestrate creates `<name>-alarms` with one e-mail
/// subscription). See docs/alarms.md for each alarm and why its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmsSpec {
    /// Alarms on; they are created only when a destination is given as well.
    pub enabled: bool,
    /// An existing SNS topic in the deployment's region that receives ALARM and OK.
    pub sns_topic_arn: Option<String>,
    /// An address orchestrate subscribes to its own `<name>-alarms` topic.
    pub email: Option<String>,
    /// Target 5xx answers of the api-server per minute (3 of 5 minutes) that fire.
    pub api_5xx_per_minute: u32,
    /// RDS CPU percent (average over 15 minutes) that fires.
    pub rds_cpu_percent: u32,
    /// Free RDS storage in GiB below which the alarm fires.
    pub rds_free_storage_gb: u32,
    /// Open database connections (maximum over 10 minutes) that fire.
    pub rds_connections: u32,
    /// Valkey memory use percent (average over 15 minutes) that fires.
    pub valkey_memory_percent: u32,
    /// Worker CPU percent (service average over 15 minutes) that fires: scaling cannot keep up.
    pub worker_cpu_percent: u32,
}

impl Default for AlarmsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            sns_topic_arn: None,
            email: None,
            api_5xx_per_minute: 5,
            rds_cpu_percent: 80,
            rds_free_storage_gb: 2,
            rds_connections: 80,
            valkey_memory_percent: 80,
            worker_cpu_percent: 90,
        }
    }
}

impl AlarmsSpec {
    /// True when alarms are to exist: enabled and a destination given.
    pub fn active(&self) -> bool {
        self.enabled && (self.sns_topic_arn.is_some() || self.email.is_some())
    }
}

/// `[deployment]`: who this deployment is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Prefix of every resource name: `[a-z][a-z0-9-]{1,20}`.
    pub name: String,
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// Extra tags put on every taggable resource, beside orchestrate's own.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// NAT gateway layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// One NAT gateway in the first AZ, shared by every private subnet (cheapest).
    #[default]
    Single,
    /// One NAT gateway per AZ (no cross-AZ dependency; costs one gateway per AZ).
    PerAz,
}

/// `[network]`: either a network orchestrate creates (sized by `vpc_cidr`, `az_count`,
/// `subnet_prefix`, `nat`) or an existing one it is given (`vpc_id`, `private_subnet_ids`,
/// `public_subnet_ids`), never both.
///
/// Parsed through [`RawNetworkSpec`], so that the sizing keys a spec sets explicitly are
/// known ([`NetworkSpec::explicit_sizing`]): validation rejects them beside `vpc_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawNetworkSpec", into = "RawNetworkSpec")]
pub struct NetworkSpec {
    /// The VPC's IPv4 CIDR; a /16 to /24. Subnets are carved from it.
    pub vpc_cidr: String,
    /// How many availability zones to span (2 or 3).
    pub az_count: u8,
    /// NAT gateway layout.
    pub nat: NatMode,
    /// Prefix length of every subnet (public and private), e.g. 20 for /20.
    pub subnet_prefix: u8,
    /// An existing VPC to deploy into (`vpc-…`): orchestrate then creates no VPC, subnet,
    /// gateway or route, only its security groups.
    pub vpc_id: Option<String>,
    /// With `vpc_id`: the existing private subnets (tasks, RDS, Valkey), at least two zones.
    pub private_subnet_ids: Vec<String>,
    /// With `vpc_id`: the existing public subnets the ALB lives in, at least two zones.
    pub public_subnet_ids: Vec<String>,
    /// The sizing keys (`vpc_cidr`, `az_count`, `nat`, `subnet_prefix`) the spec sets
    /// explicitly, in that order. Not a key of its own.
    pub explicit_sizing: Vec<&'static str>,
}

impl NetworkSpec {
    /// The existing network the spec names, when it names one (`vpc_id` set).
    pub fn existing(&self) -> Option<ExistingNetworkSpec<'_>> {
        self.vpc_id.as_deref().map(|vpc_id| ExistingNetworkSpec {
            vpc_id,
            private_subnet_ids: &self.private_subnet_ids,
            public_subnet_ids: &self.public_subnet_ids,
        })
    }
}

/// An existing network given by `[network] vpc_id` and the subnet lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExistingNetworkSpec<'a> {
    /// The VPC.
    pub vpc_id: &'a str,
    /// Private subnets (tasks, RDS, Valkey), in spec order.
    pub private_subnet_ids: &'a [String],
    /// Public subnets (the ALB), in spec order.
    pub public_subnet_ids: &'a [String],
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            vpc_cidr: "10.40.0.0/16".into(),
            az_count: 2,
            nat: NatMode::Single,
            subnet_prefix: 20,
            vpc_id: None,
            private_subnet_ids: Vec::new(),
            public_subnet_ids: Vec::new(),
            explicit_sizing: Vec::new(),
        }
    }
}

/// `[network]` as written: every key optional, so that [`NetworkSpec`] knows which sizing
/// keys were set. Serializing a [`NetworkSpec`] writes only what was set (a round trip keeps
/// [`NetworkSpec::explicit_sizing`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetworkSpec {
    /// See [`NetworkSpec::vpc_cidr`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_cidr: Option<String>,
    /// See [`NetworkSpec::az_count`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az_count: Option<u8>,
    /// See [`NetworkSpec::nat`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatMode>,
    /// See [`NetworkSpec::subnet_prefix`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_prefix: Option<u8>,
    /// See [`NetworkSpec::vpc_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// See [`NetworkSpec::private_subnet_ids`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_subnet_ids: Vec<String>,
    /// See [`NetworkSpec::public_subnet_ids`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnet_ids: Vec<String>,
}

impl From<RawNetworkSpec> for NetworkSpec {
    fn from(raw: RawNetworkSpec) -> Self {
        let d = NetworkSpec::default();
        let explicit_sizing = [
            ("vpc_cidr", raw.vpc_cidr.is_some()),
            ("az_count", raw.az_count.is_some()),
            ("nat", raw.nat.is_some()),
            ("subnet_prefix", raw.subnet_prefix.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        Self {
            vpc_cidr: raw.vpc_cidr.unwrap_or(d.vpc_cidr),
            az_count: raw.az_count.unwrap_or(d.az_count),
            nat: raw.nat.unwrap_or(d.nat),
            subnet_prefix: raw.subnet_prefix.unwrap_or(d.subnet_prefix),
            vpc_id: raw.vpc_id,
            private_subnet_ids: raw.private_subnet_ids,
            public_subnet_ids: raw.public_subnet_ids,
            explicit_sizing,
        }
    }
}

impl From<NetworkSpec> for RawNetworkSpec {
    fn from(n: NetworkSpec) -> Self {
        let set = |key: &str| n.explicit_sizing.contains(&key);
        let d = NetworkSpec::default();
        // A value changed in code (not parsed) counts as set, like one written in the file.
        Self {
            vpc_cidr: (set("vpc_cidr") || n.vpc_cidr != d.vpc_cidr).then(|| n.vpc_cidr.clone()),
            az_count: (set("az_count") || n.az_count != d.az_count).then_some(n.az_count),
            nat: (set("nat") || n.nat != d.nat).then_some(n.nat),
            subnet_prefix: (set("subnet_prefix") || n.subnet_prefix != d.subnet_prefix)
                .then_some(n.subnet_prefix),
            vpc_id: n.vpc_id,
            private_subnet_ids: n.private_subnet_ids,
            public_subnet_ids: n.public_subnet_ids,
        }
    }
}

/// `[database]`: RDS PostgreSQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSpec {
    /// PostgreSQL engine version: a major version (`16`, the default: RDS picks the minor and
    /// upgrades it) or a full one (`16.4`, which RDS retires in time).
    pub engine_version: String,
    /// Instance class, e.g. `db.t4g.small`.
    pub instance_class: String,
    /// Allocated storage in GiB (20 to 65536).
    pub allocated_storage_gb: i32,
    /// Days of automated backups (1 to 35; 0 disables backups and is rejected).
    pub backup_retention_days: i32,
    /// Deletion protection; `teardown all --force` lifts it (a final snapshot is still taken).
    pub deletion_protection: bool,
    /// A standby in a second AZ.
    pub multi_az: bool,
    /// Database name inside the instance.
    pub db_name: String,
    /// Master user name.
    pub username: String,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            engine_version: "16".into(),
            instance_class: "db.t4g.small".into(),
            allocated_storage_gb: 20,
            backup_retention_days: 7,
            deletion_protection: true,
            multi_az: false,
            db_name: "airflow".into(),
            username: "airflow".into(),
        }
    }
}

/// `[cache]`: ElastiCache Valkey, the Celery broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSpec {
    /// Node type, e.g. `cache.t4g.micro`.
    pub node_type: String,
    /// Valkey engine version.
    pub engine_version: String,
    /// TLS in transit (the broker URL is then `rediss://`).
    pub tls: bool,
    /// Read replicas besides the primary (0 to 5).
    pub replicas: u8,
}

impl Default for CacheSpec {
    fn default() -> Self {
        Self {
            node_type: "cache.t4g.micro".into(),
            engine_version: "8.0".into(),
            tls: true,
            replicas: 0,
        }
    }
}

/// CPU architecture of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Graviton: better price/performance; the default.
    #[default]
    Arm64,
    /// Intel/AMD; the only one Fargate Spot offers.
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    /// ECS `runtimePlatform.cpuArchitecture` value.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "ARM64",
            Architecture::X86_64 => "X86_64",
        }
    }
}

/// The Airflow release a new deployment runs: the newest the renderer was checked against
/// (`validate`'s `airflow-version-supported` range), and the one `scripts/airflow-check/`
/// starts for real. Keep `scripts/airflow-check/requirements.txt` in step with it.
pub const DEFAULT_AIRFLOW_VERSION: &str = "3.3.2";

/// `[image]`: the Airflow image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageSpec {
    /// Image repository. Empty: the ECR repository phase 1 creates (`<name>/airflow`).
    pub repository: String,
    /// Image tag; tag with a git SHA for traceability.
    pub tag: String,
    /// The Airflow version inside the image (drives version-specific defaults).
    pub airflow_version: String,
    /// Default CPU architecture of every component.
    pub architecture: Architecture,
    /// The upstream image `orchestrate images sync` copies into the ECR repository (used only
    /// when `repository` is empty). Empty: `apache/airflow:<airflow_version>`.
    pub source: String,
    /// `up` copies the upstream images into ECR at the start of phase 2 when their tag is
    /// missing there. `false` for teams that push their own images (scripts/build-image.sh).
    pub sync: bool,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: String::new(),
            tag: DEFAULT_AIRFLOW_VERSION.into(),
            airflow_version: DEFAULT_AIRFLOW_VERSION.into(),
            architecture: Architecture::Arm64,
            source: String::new(),
            sync: true,
        }
    }
}

impl ImageSpec {
    /// The upstream Airflow image: `source`, else the official `apache/airflow:<airflow_version>`.
    pub fn upstream(&self) -> String {
        if self.source.trim().is_empty() {
            format!("apache/airflow:{}", self.airflow_version)
        } else {
            self.source.trim().to_string()
        }
    }
}

/// `[git_sync]`: DAGs from git by a git-sync v4 sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitSyncSpec {
    /// Repository URL (`https://…`, `ssh://…` or `git@host:path`). Empty: no git-sync sidecar.
    pub repo: String,
    /// Branch, tag or commit.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Folder of the repository that holds the DAGs ("" for the root).
    pub subpath: String,
    /// Seconds between syncs.
    pub period_seconds: u32,
    /// ARN of a Secrets Manager secret with `username` and `password` keys, for a private repo.
    pub credentials_secret_arn: Option<String>,
    /// The git-sync image. Empty: the ECR mirror phase 1 creates (`<name>/git-sync`) at `image_tag`.
    pub image: String,
    /// Tag of the git-sync image.
    pub image_tag: String,
    /// The upstream git-sync image `orchestrate images sync` copies into the ECR mirror (used
    /// only when `image` is empty). Empty: `registry.k8s.io/git-sync/git-sync:<image_tag>`.
    pub image_source: String,
}

impl GitSyncSpec {
    /// The upstream git-sync image: `image_source`, else the official one at `image_tag`.
    pub fn upstream(&self) -> String {
        if self.image_source.trim().is_empty() {
            format!("registry.k8s.io/git-sync/git-sync:{}", self.image_tag)
        } else {
            self.image_source.trim().to_string()
        }
    }
}

impl Default for GitSyncSpec {
    fn default() -> Self {
        Self {
            repo: String::new(),
            git_ref: "main".into(),
            subpath: String::new(),
            period_seconds: 60,
            credentials_secret_arn: None,
            image: String::new(),
            image_tag: "v4.4.0".into(),
            image_source: String::new(),
        }
    }
}

/// `[load_balancer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancerSpec {
    /// CIDRs allowed to reach the ALB on 80/443.
    pub ingress_cidrs: Vec<String>,
    /// ACM certificate ARN; when set the ALB serves HTTPS and redirects HTTP.
    pub certificate_arn: Option<String>,
    /// Idle timeout in seconds.
    pub idle_timeout_seconds: i32,
    /// The DNS name Airflow is served on over HTTPS (`airflow.example.com`); see
    /// `docs/configuration.md` for what it implies.
    pub domain: Option<String>,
    /// The Route 53 public or private hosted zone `domain` lives in: the certificate's
    /// validation records and the alias to the ALB are written there.
    pub hosted_zone_id: Option<String>,
    /// `internet-facing` (public subnets) or `internal` (private subnets, no public entry).
    pub scheme: AlbScheme,
}

/// Where the ALB can be reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AlbScheme {
    /// In the public subnets, with public addresses.
    #[default]
    InternetFacing,
    /// In the private subnets: reachable only from the VPC and networks routed into it.
    Internal,
}

impl AlbScheme {
    /// As ELB spells it: `internet-facing` / `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlbScheme::InternetFacing => "internet-facing",
            AlbScheme::Internal => "internal",
        }
    }
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        Self {
            ingress_cidrs: vec!["0.0.0.0/0".into()],
            certificate_arn: None,
            idle_timeout_seconds: 60,
            domain: None,
            hosted_zone_id: None,
            scheme: AlbScheme::InternetFacing,
        }
    }
}

/// `[logs]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsSpec {
    /// Retention of the log group in days (a value CloudWatch accepts).
    pub retention_days: i32,
}

impl Default for LogsSpec {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

/// `[airflow]`: settings shared by every component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirflowSpec {
    /// Extra `AIRFLOW__SECTION__KEY` environment variables for every component (no secrets here).
    pub environment: BTreeMap<String, String>,
    /// User name of the admin account created after the migration.
    pub admin_username: String,
    /// Whether to load Airflow's example DAGs.
    pub load_examples: bool,
    /// Airflow reads connections and variables from Secrets Manager, under
    /// `orchestrate/<name>/connections/` and `orchestrate/<name>/variables/` (the Amazon
    /// provider's `SecretsManagerBackend`); the task role may read exactly those prefixes.
    pub secrets_backend: bool,
}

impl Default for AirflowSpec {
    fn default() -> Self {
        Self {
            environment: BTreeMap::new(),
            admin_username: "admin".into(),
            load_examples: false,
            secrets_backend: true,
        }
    }
}

/// `[task_role]`: AWS permissions of the DAGs, added to the task role the Airflow containers
/// run with (orchestrate's own grants stay as they are).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskRoleSpec {
    /// Managed policies attached to the task role (AWS-managed or the account's own). The
    /// list is the complete set: `up` detaches a managed policy the list no longer names.
    pub managed_policy_arns: Vec<String>,
    /// IAM policy statements (`Effect`, `Action`/`NotAction`, `Resource`/`NotResource`,
    /// optional `Sid` and `Condition`), written as TOML tables; `up` puts them into the task
    /// role's second inline policy, `orchestrate-user`.
    pub statements: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Sizing and health of one Airflow component's ECS service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentSpec {
    /// Task CPU units (1024 = 1 vCPU); must pair with `memory` as Fargate allows.
    pub cpu: u32,
    /// Task memory in MiB.
    pub memory: u32,
    /// Desired task count.
    pub count: u32,
    /// Ephemeral storage in GiB (21 to 200).
    pub ephemeral_storage_gb: u32,
    /// ECS service health-check grace period in seconds (covers ALB and container checks).
    pub health_check_grace_seconds: u32,
    /// Container health checks on (turn off only to isolate a start-up problem).
    pub health_checks: bool,
    /// Override of `[image].architecture` for this component.
    pub architecture: Option<Architecture>,
    /// The team's own secrets injected into this component's Airflow container, by variable
    /// name: a Secrets Manager secret ARN (optionally with ECS's `:json-key:version-stage:
    /// version-id` suffix) or an SSM parameter ARN. The execution role may read exactly these.
    pub secrets: BTreeMap<String, String>,
}

impl ComponentSpec {
    fn sized(cpu: u32, memory: u32, count: u32) -> Self {
        Self {
            cpu,
            memory,
            count,
            ephemeral_storage_gb: 21,
            health_check_grace_seconds: 420,
            health_checks: true,
            architecture: None,
            secrets: BTreeMap::new(),
        }
    }
}

/// A component table as written: every key optional, unknown keys rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentPatch {
    cpu: Option<u32>,
    memory: Option<u32>,
    count: Option<u32>,
    ephemeral_storage_gb: Option<u32>,
    health_check_grace_seconds: Option<u32>,
    health_checks: Option<bool>,
    architecture: Option<Architecture>,
    secrets: Option<BTreeMap<String, String>>,
}

impl ComponentPatch {
    fn apply(self, base: &mut ComponentSpec) {
        if let Some(v) = self.cpu {
            base.cpu = v;
        }
        if let Some(v) = self.memory {
            base.memory = v;
        }
        if let Some(v) = self.count {
            base.count = v;
        }
        if let Some(v) = self.ephemeral_storage_gb {
            base.ephemeral_storage_gb = v;
        }
        if let Some(v) = self.health_check_grace_seconds {
            base.health_check_grace_seconds = v;
        }
        if let Some(v) = self.health_checks {
            base.health_checks = v;
        }
        if self.architecture.is_some() {
            base.architecture = self.architecture;
        }
        if let Some(secrets) = self.secrets {
            base.secrets = secrets;
        }
    }
}

/// The worker table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerPatch {
    cpu: Option<u32>,
    memory: Option<u32>,
    count: Option<u32>,
    ephemeral_storage_gb: Option<u32>,
    health_check_grace_seconds: Option<u32>,
    health_checks: Option<bool>,
    architecture: Option<Architecture>,
    secrets: Option<BTreeMap<String, String>>,
    autoscaling: Option<AutoscalingSpec>,
    spot: Option<bool>,
    on_demand_base: Option<u32>,
}

/// `[components]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentsPatch {
    api_server: Option<ComponentPatch>,
    scheduler: Option<ComponentPatch>,
    dag_processor: Option<ComponentPatch>,
    triggerer: Option<ComponentPatch>,
    worker: Option<WorkerPatch>,
    migration: Option<ComponentPatch>,
}

impl From<ComponentsPatch> for ComponentsSpec {
    fn from(patch: ComponentsPatch) -> Self {
        let mut spec = ComponentsSpec::default();
        for (p, base) in [
            (patch.api_server, &mut spec.api_server),
            (patch.scheduler, &mut spec.scheduler),
            (patch.dag_processor, &mut spec.dag_processor),
            (patch.triggerer, &mut spec.triggerer),
            (patch.migration, &mut spec.migration),
        ] {
            if let Some(p) = p {
                p.apply(base);
            }
        }
        if let Some(w) = patch.worker {
            ComponentPatch {
                cpu: w.cpu,
                memory: w.memory,
                count: w.count,
                ephemeral_storage_gb: w.ephemeral_storage_gb,
                health_check_grace_seconds: w.health_check_grace_seconds,
                health_checks: w.health_checks,
                architecture: w.architecture,
                secrets: w.secrets,
            }
            .apply(&mut spec.worker.component);
            if let Some(a) = w.autoscaling {
                spec.worker.autoscaling = a;
            }
            if let Some(s) = w.spot {
                spec.worker.spot = s;
            }
            if let Some(b) = w.on_demand_base {
                spec.worker.on_demand_base = b;
            }
        }
        spec
    }
}

/// Worker autoscaling (Application Auto Scaling target tracking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoscalingSpec {
    /// Fewest workers; at least 1 (Celery cannot scale up from zero on CPU).
    pub min: u32,
    /// Most workers.
    pub max: u32,
    /// Target average CPU utilisation, percent.
    pub cpu_target: u32,
    /// Target average memory utilisation, percent.
    pub memory_target: u32,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            min: 1,
            max: 10,
            cpu_target: 70,
            memory_target: 80,
        }
    }
}

/// The Celery worker: a component plus scaling and Spot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerSpec {
    /// Sizing and health.
    #[serde(flatten)]
    pub component: ComponentSpec,
    /// Autoscaling bounds and targets.
    pub autoscaling: AutoscalingSpec,
    /// Run workers on Fargate Spot (X86_64 only) above an on-demand base.
    pub spot: bool,
    /// Tasks kept on on-demand Fargate when `spot` is on.
    pub on_demand_base: u32,
}

/// `[components.*]`. Each component table may set any subset of its keys; the rest keep that
/// component's own defaults (an api-server and a worker differ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ComponentsPatch")]
pub struct ComponentsSpec {
    /// `airflow api-server`, behind the ALB.
    pub api_server: ComponentSpec,
    /// `airflow scheduler`.
    pub scheduler: ComponentSpec,
    /// `airflow dag-processor`.
    pub dag_processor: ComponentSpec,
    /// `airflow triggerer`.
    pub triggerer: ComponentSpec,
    /// `airflow celery worker`.
    pub worker: WorkerSpec,
    /// The one-off `airflow db migrate` task.
    pub migration: ComponentSpec,
}

impl Default for ComponentsSpec {
    fn default() -> Self {
        Self {
            api_server: ComponentSpec::sized(1024, 2048, 1),
            scheduler: ComponentSpec::sized(1024, 2048, 1),
            dag_processor: ComponentSpec::sized(512, 1024, 1),
            triggerer: ComponentSpec::sized(512, 1024, 1),
            worker: WorkerSpec {
                component: ComponentSpec::sized(1024, 3072, 1),
                autoscaling: AutoscalingSpec::default(),
                spot: true,
                on_demand_base: 1,
            },
            migration: ComponentSpec::sized(1024, 2048, 1),
        }
    }
}

impl Spec {
    /// A spec with every default and the given name and region.
    pub fn minimal(name: &str, region: &str) -> Self {
        Self {
            deployment: DeploymentSpec {
                name: name.into(),
                region: region.into(),
                tags: BTreeMap::new(),
            },
            network: NetworkSpec::default(),
            database: DatabaseSpec::default(),
            cache: CacheSpec::default(),
            image: ImageSpec::default(),
            git_sync: GitSyncSpec::default(),
            load_balancer: LoadBalancerSpec::default(),
            logs: LogsSpec::default(),
            airflow: AirflowSpec::default(),
            components: ComponentsSpec::default(),
            task_role: TaskRoleSpec::default(),
            alarms: AlarmsSpec::default(),
        }
    }

    /// The architecture a component's tasks run on: its override, else X86_64 for a Spot
    /// worker (Fargate Spot offers no ARM64), else the image default.
    pub fn worker_architecture(&self) -> Architecture {
        let worker = &self.components.worker;
        match worker.component.architecture {
            Some(arch) => arch,
            None if worker.spot => Architecture::X86_64,
            None => self.image.architecture,
        }
    }

    /// The architecture of a non-worker component.
    pub fn architecture_of(&self, component: &ComponentSpec) -> Architecture {
        component.architecture.unwrap_or(self.image.architecture)
    }
}
