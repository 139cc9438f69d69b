//! Command-line arguments: types only, no logic.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Deploy Apache Airflow 3 onto Amazon ECS (Fargate) by calling AWS APIs directly.
///
/// A deployment is described by one TOML spec (default: ./orchestrate.toml) and converged in
/// five phases: 1 storage (VPC, secrets, IAM, logs, ECR, RDS PostgreSQL, Valkey, Cloud Map),
/// 2 api-server, 3 scheduler + dag-processor, 4 triggerer, 5 worker. AWS is the state: there
/// is no local state file, only a lock file pinning the availability zones.
///
/// Exit codes: 0 ok, 1 unexpected error, 2 invalid spec or usage, or another run holds the
/// deployment's lease, 3 deploy failed (AWS
/// rejected a change, a task or rollout failed), 4 timed out waiting.
#[derive(Debug, Parser)]
#[command(name = "orchestrate", version, max_term_width = 100)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (named as in the AWS CLI).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The deployment spec.
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "orchestrate.toml",
        env = "ORCHESTRATE_CONFIG"
    )]
    pub config: PathBuf,
    /// AWS profile from ~/.aws/config.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS region, as in the AWS CLI; it must agree with the spec's `deployment.region` (and
    /// the lock file): a deployment lives in one region, another is refused with exit 2.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (e.g. the local emulator).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// More detail (-v: debug logs of orchestrate; -vv: also the AWS SDK's).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the final result.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable lines (progress on stderr, results on stdout).
    Text,
    /// JSON: progress events as JSON lines on stderr, the result as one JSON document on stdout.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec offline: every rule, no AWS call. Exit 2 on any error.
    ///
    /// Each finding names the file, line and column, the rule and the fix. Warnings do not
    /// fail validation.
    Validate,
    /// Show what `up` would create, update or leave alone (read-only AWS calls).
    ///
    /// Resources left alone are listed with `-v` only. Secret values are never shown; a
    /// secret whose value would change appears as `(sensitive)`. With `--teardown
    /// services|all`, shows what that teardown would delete.
    ///
    /// Examples:
    ///   orchestrate plan --phase 2
    ///   orchestrate plan --teardown services
    ///   orchestrate plan --detailed-exitcode   # 0 no changes, 2 changes, 1 error
    Plan(PlanArgs),
    /// Check the account before changing it (read-only AWS calls): what only the account knows.
    ///
    /// RDS offers `database.engine_version` in the region and `database.instance_class` is
    /// orderable for it; ElastiCache offers `cache.engine_version`; the zones pinned in the
    /// lock file still exist; the Elastic IPs, VPCs and NAT gateways this run would add fit
    /// the quotas. Each failure names the limit, what the account has and the fix (exit 2).
    /// A check that cannot read (access denied, an API the endpoint lacks) is a warning.
    /// `plan` and `up` run the same checks first (`up` before its lease and any change).
    ///
    /// Examples:
    ///   orchestrate verify
    ///   orchestrate verify --output json
    #[command(verbatim_doc_comment)]
    Verify,
    /// Converge phases 1..N (default: all five), waiting on real health.
    ///
    /// Re-running is safe and cheap: a converged deployment makes no mutating call besides
    /// its lease. Secrets are generated once and never rewritten.
    ///
    /// One run at a time: `up` and `teardown` hold the deployment's lease (the Secrets
    /// Manager secret `orchestrate/<name>/lease`); a second run is refused with exit 2 naming
    /// the holder. A run that died leaves a lease that expires after 15 minutes (at once on
    /// the machine it ran on); `--break-lock` takes it regardless.
    ///
    /// Examples:
    ///   orchestrate up --phase 1
    ///   orchestrate up --break-lock
    #[command(verbatim_doc_comment)]
    Up(UpArgs),
    /// Show every resource of the deployment and its state (read-only AWS calls), and
    /// Airflow's own health (`/api/v2/monitor/health` through the ALB) when it answers.
    ///
    /// `--watch` refreshes until Ctrl-C (exit 0): in place on a terminal, as timestamped
    /// blocks when stdout is not a terminal or CI is set.
    ///
    /// Examples:
    ///   orchestrate status
    ///   orchestrate status --watch --interval 10s
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Print exactly what would be sent to AWS, without calling it.
    Render(RenderArgs),
    /// Delete the services (phases 5-2) or the whole deployment, in reverse order.
    ///
    /// `teardown services` removes the worker autoscaling, the ECS services (waited until
    /// INACTIVE), task-definition revisions, the Cloud Map service, the load balancer and the
    /// cluster. Phase 1 — network, RDS, Valkey, secrets and their values, roles, log groups,
    /// ECR — is not touched, so a later `up` recreates the services on the same data.
    ///
    /// `teardown all` deletes everything else too: RDS after a final snapshot, secrets
    /// scheduled for deletion (a later `up` restores them), ECR repositories unless they hold
    /// images, the network last. It asks for the deployment's name on a terminal and needs
    /// `--yes` otherwise.
    ///
    /// Re-running finishes an interrupted teardown; an absent deployment is "already gone".
    /// Like `up`, it holds the deployment's lease (exit 2 while another run holds it;
    /// `--break-lock` takes it regardless).
    ///
    /// Examples:
    ///   orchestrate teardown services
    ///   orchestrate plan --teardown all
    ///   orchestrate teardown all --yes
    ///   orchestrate teardown all --yes --skip-final-snapshot --force --delete-images
    #[command(verbatim_doc_comment)]
    Teardown(TeardownArgs),
    /// Put the Airflow and git-sync images into the deployment's ECR repositories, or check
    /// that they are there.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Estimate what the deployment costs a month, per resource, beside a comparable MWAA
    /// environment. Offline: priced from a table shipped with orchestrate (dated, sources
    /// named, see docs/cost.md), from the same sizes and counts `up` deploys.
    ///
    /// Examples:
    ///   orchestrate cost
    ///   orchestrate cost --output json
    ///   orchestrate --config prod.toml cost
    #[command(verbatim_doc_comment)]
    Cost,
    /// Show the CloudWatch log of a component's tasks, interleaved by time.
    ///
    /// Shows every running task of the component (or, when none runs, the most recently
    /// stopped one; for `migration`, the last migration task), each line prefixed with its
    /// task and container. `--follow` keeps polling (every 2 s, within CloudWatch's limits)
    /// until Ctrl-C, which exits 0. Secret values of the deployment are shown as
    /// `(sensitive)`.
    ///
    /// Examples:
    ///   orchestrate logs scheduler --since 10m
    ///   orchestrate logs worker --follow
    ///   orchestrate logs migration
    ///   orchestrate logs api-server --task 1a2b3c4d
    #[command(verbatim_doc_comment)]
    Logs(LogsArgs),
    /// Run the Airflow CLI as a one-off Fargate task and exit with its exit code.
    ///
    /// The task uses the migration task's definition (its active revision) and networking,
    /// with the command replaced by the arguments after `--`; its log is streamed while it
    /// runs. Needs `orchestrate up --phase 2` first.
    ///
    /// Examples:
    ///   orchestrate airflow -- dags list
    ///   orchestrate airflow -- dags trigger example_dag
    ///   orchestrate airflow -- db check
    ///   orchestrate airflow -- users create --role Admin --username ada --email ada@example.com --firstname Ada --lastname L --password-from-stdin
    #[command(verbatim_doc_comment)]
    Airflow(AirflowArgs),
    /// Point services back at their previous task-definition revision, waiting like `up`.
    ///
    /// Without arguments every service rolls back, phase by phase (2 to 5), each phase waited
    /// on with the same rollout gate as `up`; `--phase N` rolls back that phase's services,
    /// `<component>` one service. Says what it rolled back from and to. A rollback across an
    /// Airflow version is refused before any change (its database migration is not reversed);
    /// a rollback the circuit breaker fails exits 3.
    ///
    /// Examples:
    ///   orchestrate rollback
    ///   orchestrate rollback --phase 3
    ///   orchestrate rollback worker
    #[command(verbatim_doc_comment)]
    Rollback(RollbackArgs),
    /// Find known failures: stopped tasks, service events, rollouts, target health and log
    /// tails matched against a catalog of failure signatures (read-only).
    ///
    /// Healthy: one line, exit 0. Otherwise each finding with its quoted evidence, what it
    /// means and the fix, and exit 3.
    ///
    /// Example:
    ///   orchestrate doctor
    #[command(verbatim_doc_comment)]
    Doctor,
    /// Open a shell (or run a command) in a running task of a component, through ECS Exec.
    ///
    /// Needs AWS's Session Manager plugin (`session-manager-plugin`) on PATH; without it,
    /// exits 1 saying how to install it.
    ///
    /// Examples:
    ///   orchestrate exec scheduler
    ///   orchestrate exec worker -- airflow info
    #[command(verbatim_doc_comment)]
    Exec(ExecArgs),
    /// Airflow connections in Secrets Manager, read by Airflow's secrets backend.
    ///
    /// A connection `<conn_id>` is the secret `orchestrate/<name>/connections/<conn_id>`,
    /// holding a connection URI or a JSON object. The value is read from stdin (or --file),
    /// never from the command line, and never printed.
    ///
    /// Examples:
    ///   orchestrate connections set my_db < my_db.uri
    ///   printf '%s' "$URI" | orchestrate connections set my_db
    ///   orchestrate connections set my_api --file my_api.json
    ///   orchestrate connections list
    ///   orchestrate connections delete my_db
    #[command(subcommand, verbatim_doc_comment)]
    Connections(AirflowSecretCommand),
    /// Airflow variables in Secrets Manager, read by Airflow's secrets backend.
    ///
    /// A variable `<key>` is the secret `orchestrate/<name>/variables/<key>`. The value is read
    /// from stdin (or --file), never from the command line, and never printed.
    ///
    /// Examples:
    ///   printf '%s' "$TOKEN" | orchestrate variables set api_token
    ///   orchestrate variables list
    ///   orchestrate variables delete api_token
    #[command(subcommand, verbatim_doc_comment)]
    Variables(AirflowSecretCommand),
}

/// `orchestrate connections|variables ...`.
#[derive(Debug, Subcommand)]
pub enum AirflowSecretCommand {
    /// Write one from stdin (or --file): created, or rewritten only when the value differs.
    /// One trailing newline is dropped.
    Set(AirflowSecretSetArgs),
    /// List the ids stored for the deployment (names only, never values).
    List,
    /// Delete one (recoverable for 30 days unless --force).
    Delete(AirflowSecretDeleteArgs),
}

/// `connections|variables set` options.
#[derive(Debug, Args)]
pub struct AirflowSecretSetArgs {
    /// The connection id or variable key (letters, digits, `_ . @ + = -`).
    pub id: String,
    /// Read the value from this file instead of stdin.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// A value on the command line: refused (it would stay in the shell history and show in
    /// `ps`), never echoed.
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    pub refused_value: Vec<String>,
}

/// `connections|variables delete` options.
#[derive(Debug, Args)]
pub struct AirflowSecretDeleteArgs {
    /// The connection id or variable key.
    pub id: String,
    /// Delete at once, without Secrets Manager's 30-day recovery window.
    #[arg(long)]
    pub force: bool,
}

/// An Airflow component, by the name its service and log streams carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComponentArg {
    /// The api-server service.
    ApiServer,
    /// The scheduler service.
    Scheduler,
    /// The dag-processor service.
    DagProcessor,
    /// The triggerer service.
    Triggerer,
    /// The Celery worker service.
    Worker,
    /// The one-off migration task.
    Migration,
}

impl ComponentArg {
    /// The component's name (`api-server`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ComponentArg::ApiServer => "api-server",
            ComponentArg::Scheduler => "scheduler",
            ComponentArg::DagProcessor => "dag-processor",
            ComponentArg::Triggerer => "triggerer",
            ComponentArg::Worker => "worker",
            ComponentArg::Migration => "migration",
        }
    }
}

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Refresh until Ctrl-C.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Time between refreshes with `--watch` (`5s`, `1m`; at least 1s).
    #[arg(long, default_value = "5s", value_parser = parse_interval, requires = "watch")]
    pub interval: std::time::Duration,
}

/// A `--watch` interval: an age of at least one second.
pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = parse_age(text)?;
    if interval < std::time::Duration::from_secs(1) {
        return Err("the interval must be at least 1s".into());
    }
    Ok(interval)
}

/// `logs` options.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The component.
    #[arg(value_enum)]
    pub component: ComponentArg,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only lines newer than this (`30s`, `10m`, `2h`, `1d`).
    #[arg(long, default_value = "1h", value_parser = parse_age)]
    pub since: std::time::Duration,
    /// One task (its id, or a prefix of it) instead of the running ones.
    #[arg(long)]
    pub task: Option<String>,
}

/// Parses `30s`, `10m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 30s, 10m, 2h or 1d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} (use s, m, h or d)")),
    };
    Ok(std::time::Duration::from_secs(
        number.saturating_mul(seconds),
    ))
}

/// `airflow` options.
#[derive(Debug, Args)]
pub struct AirflowArgs {
    /// The Airflow CLI arguments, after `--` (`dags list`, `db check`, ...).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `rollback` options.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// One component's service (default: every service).
    #[arg(value_enum)]
    pub component: Option<ComponentArg>,
    /// The services of one phase: 2 api-server, 3 scheduler + dag-processor, 4 triggerer,
    /// 5 worker.
    #[arg(long, short = 'p', conflicts_with = "component", value_parser = clap::value_parser!(u8).range(2..=5))]
    pub phase: Option<u8>,
    /// Take the deployment's lease even if another run holds it. Only when you know that
    /// run is gone (its machine died).
    #[arg(long)]
    pub break_lock: bool,
}

/// `exec` options.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The component (a service).
    #[arg(value_enum)]
    pub component: ComponentArg,
    /// The command, after `--` (default: an interactive shell, `/bin/bash`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `plan` options.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Last phase to plan: 1 storage, 2 api-server, 3 scheduler + dag-processor,
    /// 4 triggerer, 5 worker.
    #[arg(long, short = 'p', default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub phase: u8,
    /// Plan a teardown instead: what `teardown services|all` would delete.
    #[arg(long, value_enum, conflicts_with = "phase")]
    pub teardown: Option<TeardownWhat>,
    /// Exit 0 when there is nothing to change, 2 when there are changes, 1 on any error (as
    /// `terraform plan -detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// What a teardown removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TeardownWhat {
    /// Phases 5-2: services, load balancer, cluster. Storage untouched.
    Services,
    /// Everything, storage included.
    All,
}

/// `teardown` options.
#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// What to delete.
    #[arg(value_enum)]
    pub what: TeardownWhat,
    /// Do not ask: needed by `teardown all` when not on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// `all`: delete the RDS instance without a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
    /// `all`: lift the RDS instance's deletion protection.
    #[arg(long)]
    pub force: bool,
    /// `all`: also delete ECR repositories that hold images.
    #[arg(long)]
    pub delete_images: bool,
    /// Take the deployment's lease even if another run holds it. Only when you know that
    /// run is gone (its machine died).
    #[arg(long)]
    pub break_lock: bool,
}

/// `orchestrate images ...`.
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Copy the pinned upstream images into the deployment's ECR repositories, with no Docker.
    ///
    /// Copies `[image].source` (default: the official `apache/airflow:<airflow_version>`) to
    /// `<name>/airflow:<tag>`, and, when `[git_sync].repo` is set, the git-sync image
    /// (default: `registry.k8s.io/git-sync/git-sync:<image_tag>`) to `<name>/git-sync`, by the
    /// OCI distribution API: for every CPU architecture the deployment runs (arm64 for the
    /// Graviton components, amd64 for Spot workers) the image index is copied, not one
    /// platform flattened. Blobs ECR already has are skipped, so a re-run uploads nothing and
    /// an interrupted copy resumes. Images you push yourself (`[image].repository` set, see
    /// docs/images.md) are never touched. The repositories must exist (`up --phase 1`).
    ///
    /// Example:
    ///
    ///   orchestrate up --phase 1 && orchestrate images sync && orchestrate up
    ///
    /// Exit 3 when an upstream tag or platform does not exist.
    Sync(ImagesArgs),
    /// Check that every image of the deployment resolves for every architecture its tasks
    /// run on (read-only; what `plan` and `up` check before phase 2).
    ///
    /// Example:
    ///
    ///   orchestrate images check --phase 5
    ///
    /// Exit 3 naming each missing image or platform.
    Check(ImagesArgs),
}

/// Options of `images sync` / `images check`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The images of phases 2..N (default: all five phases).
    #[arg(long, short = 'p', default_value_t = 5, value_parser = clap::value_parser!(u8).range(2..=5))]
    pub phase: u8,
}

/// `up` options.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Last phase to converge: 1 storage, 2 api-server, 3 scheduler + dag-processor,
    /// 4 triggerer, 5 worker.
    #[arg(long, short = 'p', default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub phase: u8,
    /// Take the deployment's lease even if another run holds it. Only when you know that
    /// run is gone (its machine died): two runs at once can duplicate resources.
    #[arg(long)]
    pub break_lock: bool,
    /// Write a Gantt chart of the run (self-contained HTML: one bar per resource, grouped by
    /// phase, waits shaded, the critical path highlighted) to PATH (default
    /// `orchestrate-timings.html`) and print the five longest bars.
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = false,
          default_missing_value = "orchestrate-timings.html")]
    pub timings: Option<std::path::PathBuf>,
}

/// What to render.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The artefact.
    #[arg(value_enum)]
    pub what: RenderWhat,
    /// For `compose`: the directory to write `compose.yaml` and `.env` into.
    #[arg(long, default_value = ".")]
    pub dir: std::path::PathBuf,
}

/// Renderable artefacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderWhat {
    /// Every component's ECS RegisterTaskDefinition request, as AWS API JSON.
    TaskDefinitions,
    /// A docker-compose file equivalent to the deployment (`compose.yaml`), with its secrets in
    /// a `.env` beside it (created once, never overwritten, git-ignored).
    Compose,
}
