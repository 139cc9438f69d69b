//! One AWS configuration for the whole run and one client per service built from it.

use aws_config::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::error::EngineError;

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
}

impl AwsContext {
    /// Loads credentials and settings the way the AWS CLI does, then builds the clients.
    pub async fn load(options: &AwsOptions, spec_region: &str) -> Self {
        let region = options
            .region
            .clone()
            .unwrap_or_else(|| spec_region.to_string());
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region));
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Self::from_config(config)
    }

    /// Builds every client from an existing configuration (tests).
    pub fn from_config(config: SdkConfig) -> Self {
        Self {
            ec2: orchestrate_network::Client::new(&config),
            secrets: orchestrate_secrets::Client::new(&config),
            iam: orchestrate_iam::Client::new(&config),
            logs: orchestrate_logs::Client::new(&config),
            ecr: orchestrate_registry::Client::new(&config),
            rds: orchestrate_database::Client::new(&config),
            elasticache: orchestrate_cache::Client::new(&config),
            discovery: orchestrate_discovery::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            ecs: orchestrate_ecs::EcsClient::new(&config),
            autoscaling: orchestrate_ecs::AutoscalingClient::new(&config),
            elbv2: orchestrate_loadbalancer::Client::new(&config),
            config,
        }
    }

    /// The account id of the caller.
    pub async fn account_id(&self) -> Result<String, EngineError> {
        let out = self.sts.get_caller_identity().send().await.map_err(|e| {
            EngineError::Aws(orchestrate_aws::aws_error("get caller identity", "sts", e))
        })?;
        out.account
            .ok_or_else(|| EngineError::Other("STS returned no account id".into()))
    }

    /// The region in use.
    pub fn region(&self) -> String {
        self.config
            .region()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}
