//! One AWS configuration for the whole run and one client per service built from it.
//!
//! Every client shares the same timeouts and retry policy ([`SdkLimits`]): a silent or
//! unreachable endpoint fails in bounded time, and short throttling is absorbed by the SDK's
//! retries before any of our code sees it. The first call of a run (STS GetCallerIdentity,
//! [`AwsContext::account_id`]) turns "no credentials", "credentials rejected", "endpoint
//! unreachable" and "not an AWS endpoint" into one clear error.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::error::EngineError;

/// The SDK's timeouts and retry policy, the same for every client.
///
/// Defaults ([`SdkLimits::DEFAULT`]): connect 5 s, read (first byte of the answer) 20 s, one
/// attempt 25 s, a whole operation including its retries 60 s; standard retry mode
/// (exponential backoff with full jitter, base 1 s, capped at 20 s) with at most 10 attempts
/// per call, within the operation timeout. A silent endpoint therefore fails a command within
/// about 60 s. Ten rather than the SDK's usual 3 or 5: under 20 % throttling plus 5 % HTTP 500
/// on every call (the emulator's fault test), 5 attempts left about one call in 1,300 failing
/// (0.24^5), so roughly every second full `up` + `teardown` failed on some plain describe or
/// create; 10 attempts make that about 6 in 10 million per call. Each client also has its own,
/// refilled retry quota ([`retry_partition`]).
///
/// Standard rather than adaptive mode: adaptive adds a client-side rate limiter that, once AWS
/// throttles, delays every later call of the client; against 25 % throttled
/// DescribeDBInstances it stretched single describes past the 60 s operation timeout (measured
/// on the emulator). Throttling that outlasts the SDK's attempts is ridden out by the waits
/// themselves (see `orchestrate_core::wait`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SdkLimits {
    /// Time to establish a TCP/TLS connection.
    pub connect: Duration,
    /// Time from sending a request to the first byte of its answer.
    pub read: Duration,
    /// Time for one attempt of a call.
    pub attempt: Duration,
    /// Time for a whole call, every retry included.
    pub operation: Duration,
    /// Attempts per call (the first one included), in standard retry mode.
    pub max_attempts: u32,
}

impl SdkLimits {
    /// The limits used against AWS.
    pub const DEFAULT: SdkLimits = SdkLimits {
        connect: Duration::from_secs(5),
        read: Duration::from_secs(20),
        attempt: Duration::from_secs(25),
        operation: Duration::from_secs(60),
        max_attempts: 10,
    };

    /// Environment variable that scales every timeout (0 < s <= 1): for tests of a silent
    /// endpoint only, so they finish in seconds. Unset or invalid: 1.
    pub const SCALE_ENV: &'static str = "ORCHESTRATE_AWS_TIMEOUT_SCALE";

    /// [`SdkLimits::DEFAULT`], scaled by [`SdkLimits::SCALE_ENV`] when it is set.
    pub fn from_env() -> Self {
        let scale = std::env::var(Self::SCALE_ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1.0)
            .unwrap_or(1.0);
        let d = Self::DEFAULT;
        Self {
            connect: d.connect.mul_f64(scale),
            read: d.read.mul_f64(scale),
            attempt: d.attempt.mul_f64(scale),
            operation: d.operation.mul_f64(scale),
            max_attempts: d.max_attempts,
        }
    }

    /// The SDK's timeout configuration.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK's retry configuration.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts)
    }
}

/// The retry quota of one service's client: the SDK's token bucket (500 tokens, 5 per retry)
/// but refilled — by 1 token per successful call and 10 per second — where the SDK's default
/// bucket is never refilled (smithy-rs 1.16: no success reward, no refill rate). With the
/// default, a long `up` that meets 100 throttled calls of one service (its waits poll for
/// many minutes) loses every later retry of that service and fails on the next throttle;
/// measured on the emulator under 20 % throttling + 5 % HTTP 500, where `teardown` failed
/// with `RequestLimitExceeded` on a plain describe. Retries stay bounded per call by
/// [`SdkLimits::max_attempts`] and the operation timeout.
fn retry_partition(service: &'static str) -> aws_sdk_sts::config::retry::RetryPartition {
    use aws_sdk_sts::config::retry::{RetryPartition, TokenBucket};
    RetryPartition::custom(format!("orchestrate-{service}"))
        .token_bucket(
            TokenBucket::builder()
                .capacity(500)
                .success_reward(1.0)
                .refill_rate(10.0)
                .build(),
        )
        .build()
}

/// Fails when `profile` is named by `--profile` / AWS_PROFILE but defined in neither
/// `~/.aws/config` nor `~/.aws/credentials` (or the files AWS_CONFIG_FILE and
/// AWS_SHARED_CREDENTIALS_FILE name): the SDK would otherwise fall back silently.
async fn check_profile_exists(profile: &str) -> Result<(), EngineError> {
    // The default files: ~/.aws/config and ~/.aws/credentials, or what AWS_CONFIG_FILE and
    // AWS_SHARED_CREDENTIALS_FILE name.
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        None,
    )
    .await
    .map_err(|e| {
        EngineError::Usage(format!(
            "failed to read the AWS config files for profile {profile}: {e}"
        ))
    })?;
    if set.get_profile(profile).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    Err(EngineError::Usage(format!(
        "AWS profile {profile:?} (from --profile or AWS_PROFILE) does not exist in the AWS \
         config files; known profiles: {}. Fix the name, or run `aws configure --profile \
         {profile}` / `aws configure sso` to create it",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Profile name (`--profile`, `AWS_PROFILE`).
    pub profile: Option<String>,
    /// Region for the API endpoints; the spec's region when `None`.
    pub region: Option<String>,
    /// Endpoint override (`--endpoint-url`, `AWS_ENDPOINT_URL`), e.g. the local emulator.
    pub endpoint_url: Option<String>,
}

/// One client per service, all built from one [`SdkConfig`] (retry, timeouts, credentials).
#[derive(Debug, Clone)]
pub struct AwsContext {
    /// The shared SDK configuration.
    pub config: SdkConfig,
    /// EC2 (network).
    pub ec2: orchestrate_network::Client,
    /// Secrets Manager.
    pub secrets: orchestrate_secrets::Client,
    /// IAM.
    pub iam: orchestrate_iam::Client,
    /// CloudWatch Logs.
    pub logs: orchestrate_logs::Client,
    /// ECR.
    pub ecr: orchestrate_registry::Client,
    /// RDS.
    pub rds: orchestrate_database::Client,
    /// ElastiCache.
    pub elasticache: orchestrate_cache::Client,
    /// Cloud Map.
    pub discovery: orchestrate_discovery::Client,
    /// STS (account id).
    pub sts: aws_sdk_sts::Client,
    /// ECS (cluster, task definitions, services, the migration task).
    pub ecs: orchestrate_ecs::EcsClient,
    /// Application Auto Scaling (the worker's scalable target and policies).
    pub autoscaling: orchestrate_ecs::AutoscalingClient,
    /// Elastic Load Balancing v2 (the ALB, its target group and listeners).
    pub elbv2: orchestrate_loadbalancer::Client,
    /// ACM (the domain's certificate).
    pub acm: orchestrate_domain::AcmClient,
    /// Route 53 (the certificate's validation records, the domain's alias).
    pub route53: orchestrate_domain::Route53Client,
    /// CloudWatch (the alarms).
    pub cloudwatch: orchestrate_alarms::CloudWatchClient,
    /// SNS (the alarms' topic).
    pub sns: orchestrate_alarms::SnsClient,
    /// The caller's account id, read once per run.
    account: Arc<tokio::sync::OnceCell<String>>,
    /// The region every client calls (given to the SDK configuration at load).
    region: String,
}

impl AwsContext {
    /// Loads credentials and settings the way the AWS CLI does, with [`SdkLimits::from_env`]'s
    /// timeouts and retries, then builds the clients.
    ///
    /// # Errors
    /// [`EngineError::Usage`] (exit 2) when the named profile does not exist.
    pub async fn load(options: &AwsOptions, spec_region: &str) -> Result<Self, EngineError> {
        let region = options
            .region
            .clone()
            .unwrap_or_else(|| spec_region.to_string());
        let limits = SdkLimits::from_env();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .timeout_config(limits.timeout_config())
            .retry_config(limits.retry_config());
        if let Some(profile) = &options.profile {
            check_profile_exists(profile).await?;
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Ok(Self::from_config(config, region))
    }

    /// Builds every client from `config` (whose region is `region`), each with its own retry
    /// quota ([`retry_partition`]).
    fn from_config(config: SdkConfig, region: String) -> Self {
        macro_rules! client {
            ($client:ty, $service:literal) => {{
                let base = <$client>::new(&config);
                <$client>::from_conf(
                    base.config()
                        .to_builder()
                        .retry_partition(retry_partition($service))
                        .build(),
                )
            }};
        }
        Self {
            ec2: client!(orchestrate_network::Client, "ec2"),
            secrets: client!(orchestrate_secrets::Client, "secretsmanager"),
            iam: client!(orchestrate_iam::Client, "iam"),
            logs: client!(orchestrate_logs::Client, "logs"),
            ecr: client!(orchestrate_registry::Client, "ecr"),
            rds: client!(orchestrate_database::Client, "rds"),
            elasticache: client!(orchestrate_cache::Client, "elasticache"),
            discovery: client!(orchestrate_discovery::Client, "servicediscovery"),
            sts: client!(aws_sdk_sts::Client, "sts"),
            ecs: client!(orchestrate_ecs::EcsClient, "ecs"),
            autoscaling: client!(
                orchestrate_ecs::AutoscalingClient,
                "application-autoscaling"
            ),
            elbv2: client!(orchestrate_loadbalancer::Client, "elasticloadbalancing"),
            acm: client!(orchestrate_domain::AcmClient, "acm"),
            route53: client!(orchestrate_domain::Route53Client, "route53"),
            cloudwatch: client!(orchestrate_alarms::CloudWatchClient, "monitoring"),
            sns: client!(orchestrate_alarms::SnsClient, "sns"),
            account: Arc::new(tokio::sync::OnceCell::new()),
            config,
            region,
        }
    }

    /// The account id of the caller (STS GetCallerIdentity, called once per run).
    ///
    /// # Errors
    /// [`EngineError::Connect`], phrased by what went wrong: no credentials, credentials AWS
    /// rejected, an unreachable endpoint, or an endpoint that is not AWS.
    pub async fn account_id(&self) -> Result<String, EngineError> {
        self.account
            .get_or_try_init(|| async {
                let out = self.sts.get_caller_identity().send().await.map_err(|e| {
                    EngineError::connect(
                        orchestrate_aws::aws_error("get caller identity", "sts", e),
                        self.config.endpoint_url(),
                    )
                })?;
                out.account
                    .ok_or_else(|| EngineError::Other("STS returned no account id".into()))
            })
            .await
            .cloned()
    }

    /// The region in use.
    pub fn region(&self) -> String {
        self.region.clone()
    }
}
