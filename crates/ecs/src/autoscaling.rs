//! Worker autoscaling with Application Auto Scaling: a scalable target on the service's
//! desired count and two target-tracking policies (average CPU and memory).

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};

/// Plan kind of the scalable target.
pub const TARGET_KIND: &str = "application-autoscaling/scalable-target";
/// Plan kind of a scaling policy.
pub const POLICY_KIND: &str = "application-autoscaling/scaling-policy";
/// Component tag of the scalable target.
pub const COMPONENT: &str = "application-autoscaling/worker";

/// Seconds after a scale-in before the next one.
pub const SCALE_IN_COOLDOWN: i32 = 300;
/// Seconds after a scale-out before the next one.
pub const SCALE_OUT_COOLDOWN: i32 = 60;

/// The metric a policy tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `ECSServiceAverageCPUUtilization`.
    Cpu,
    /// `ECSServiceAverageMemoryUtilization`.
    Memory,
}

impl Metric {
    fn sdk(self) -> MetricType {
        match self {
            Metric::Cpu => MetricType::EcsServiceAverageCpuUtilization,
            Metric::Memory => MetricType::EcsServiceAverageMemoryUtilization,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
        }
    }
}

/// One target-tracking policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDesired {
    /// `<service>-cpu` / `<service>-memory`.
    pub name: String,
    /// Tracked metric.
    pub metric: Metric,
    /// Target utilisation, percent.
    pub target: f64,
    /// Scale-in cooldown, seconds.
    pub scale_in_cooldown: i32,
    /// Scale-out cooldown, seconds.
    pub scale_out_cooldown: i32,
}

/// The worker's scalable target and policies.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalingDesired {
    /// `service/<cluster>/<service>`.
    pub resource_id: String,
    /// Fewest tasks.
    pub min: i32,
    /// Most tasks.
    pub max: i32,
    /// CPU and memory policies.
    pub policies: Vec<PolicyDesired>,
    /// Tags sent with RegisterScalableTarget.
    pub tags: Tags,
}

/// `service/<cluster>/<service>`.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

impl AutoscalingDesired {
    /// Autoscaling of `service` (in the deployment's cluster) between `min` and `max` tasks,
    /// tracking average CPU at `cpu_target` % and memory at `memory_target` %.
    pub fn new(
        cx: &Context,
        service: &str,
        min: i32,
        max: i32,
        cpu_target: f64,
        memory_target: f64,
    ) -> Self {
        let resource_id = resource_id(&cx.names.cluster(), service);
        let policy = |metric: Metric, target: f64| PolicyDesired {
            name: format!("{service}-{}", metric.suffix()),
            metric,
            target,
            scale_in_cooldown: SCALE_IN_COOLDOWN,
            scale_out_cooldown: SCALE_OUT_COOLDOWN,
        };
        Self {
            tags: cx.tags(COMPONENT, Phase::Worker, service),
            resource_id,
            min,
            max,
            policies: vec![
                policy(Metric::Cpu, cpu_target),
                policy(Metric::Memory, memory_target),
            ],
        }
    }
}

/// The scalable target as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetObserved {
    /// Fewest tasks.
    pub min: i32,
    /// Most tasks.
    pub max: i32,
    /// Its ARN (absent on older targets).
    pub arn: Option<String>,
}

/// A scaling policy as AWS has it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyObserved {
    /// Policy name.
    pub name: String,
    /// Policy ARN.
    pub arn: String,
    /// Predefined metric type, e.g. `ECSServiceAverageCPUUtilization`.
    pub metric: Option<String>,
    /// Target value; `None` for a policy without a target-tracking configuration (a step
    /// policy made by hand), which never matches a desired target.
    pub target: Option<f64>,
    /// Scale-in cooldown.
    pub scale_in_cooldown: Option<i32>,
    /// Scale-out cooldown.
    pub scale_out_cooldown: Option<i32>,
    /// Scale-in disabled.
    pub disable_scale_in: bool,
}

/// Target and policies found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoscalingObserved {
    /// The scalable target, if registered.
    pub target: Option<TargetObserved>,
    /// The policies on it.
    pub policies: Vec<PolicyObserved>,
}

/// What the engine gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoscalingOutputs {
    /// Scalable target ARN, when AWS reports one.
    pub scalable_target_arn: Option<String>,
    /// Policy ARNs, CPU then memory.
    pub policy_arns: Vec<String>,
}

/// The scalable target and the policies of `resource_id`.
///
/// # Errors
/// [`Error::DescribeScalableTargets`], [`Error::DescribeScalingPolicies`].
pub async fn find(client: &Client, resource_id: &str) -> Result<AutoscalingObserved> {
    let targets = client
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_ids(resource_id)
        .send()
        .await
        .map_err(|e| {
            Error::DescribeScalableTargets(aws_error("describe scalable target", resource_id, e))
        })?;
    let target = targets
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == resource_id)
        .map(|t| TargetObserved {
            min: t.min_capacity(),
            max: t.max_capacity(),
            arn: t.scalable_target_arn().map(str::to_string),
        });
    let mut policies = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(resource_id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                Error::DescribeScalingPolicies(aws_error(
                    "describe scaling policies",
                    resource_id,
                    e,
                ))
            })?;
        policies.extend(out.scaling_policies().iter().map(|p| {
            let tt = p.target_tracking_scaling_policy_configuration();
            PolicyObserved {
                name: p.policy_name().to_string(),
                arn: p.policy_arn().to_string(),
                metric: tt
                    .and_then(|c| c.predefined_metric_specification())
                    .map(|m| m.predefined_metric_type().as_str().to_string()),
                target: tt.map(|c| c.target_value()),
                scale_in_cooldown: tt.and_then(|c| c.scale_in_cooldown()),
                scale_out_cooldown: tt.and_then(|c| c.scale_out_cooldown()),
                disable_scale_in: tt.and_then(|c| c.disable_scale_in()).unwrap_or(false),
            }
        }));
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(AutoscalingObserved { target, policies })
}

fn target_fields(desired: &AutoscalingDesired, observed: &TargetObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if observed.min != desired.min {
        fields.push(FieldChange::new(
            "MinCapacity",
            Some(observed.min.to_string()),
            Some(desired.min.to_string()),
        ));
    }
    if observed.max != desired.max {
        fields.push(FieldChange::new(
            "MaxCapacity",
            Some(observed.max.to_string()),
            Some(desired.max.to_string()),
        ));
    }
    fields
}

fn policy_fields(desired: &PolicyDesired, observed: &PolicyObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let metric = desired.metric.sdk();
    if observed.metric.as_deref() != Some(metric.as_str()) {
        fields.push(FieldChange::new(
            "PredefinedMetricType",
            observed.metric.clone(),
            Some(metric.as_str().to_string()),
        ));
    }
    if observed
        .target
        .is_none_or(|target| (target - desired.target).abs() > 1e-9)
    {
        fields.push(FieldChange::new(
            "TargetValue",
            observed.target.map(|target| target.to_string()),
            Some(desired.target.to_string()),
        ));
    }
    for (name, have, want) in [
        (
            "ScaleInCooldown",
            observed.scale_in_cooldown,
            desired.scale_in_cooldown,
        ),
        (
            "ScaleOutCooldown",
            observed.scale_out_cooldown,
            desired.scale_out_cooldown,
        ),
    ] {
        if have != Some(want) {
            fields.push(FieldChange::new(
                name,
                have.map(|v| v.to_string()),
                Some(want.to_string()),
            ));
        }
    }
    if observed.disable_scale_in {
        fields.push(FieldChange::new(
            "DisableScaleIn",
            Some("true".into()),
            Some("false".into()),
        ));
    }
    fields
}

fn action(fields: Vec<FieldChange>) -> Action {
    if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update { fields }
    }
}

/// What [`ensure`] would do (pure): the target first, then each policy.
pub fn diff(desired: &AutoscalingDesired, observed: &AutoscalingObserved) -> Vec<Change> {
    let mut changes = vec![Change::new(
        Phase::Worker,
        TARGET_KIND,
        &desired.resource_id,
        match &observed.target {
            None => Action::Create,
            Some(t) => action(target_fields(desired, t)),
        },
    )];
    for p in &desired.policies {
        let found = observed.policies.iter().find(|o| o.name == p.name);
        changes.push(Change::new(
            Phase::Worker,
            POLICY_KIND,
            &p.name,
            match found {
                None => Action::Create,
                Some(o) => action(policy_fields(p, o)),
            },
        ));
    }
    changes
}

/// The plan for the worker's autoscaling.
///
/// # Errors
/// See [`find`].
pub async fn plan_autoscaling(
    client: &Client,
    desired: &AutoscalingDesired,
) -> Result<Vec<Change>> {
    Ok(diff(desired, &find(client, &desired.resource_id).await?))
}

/// Registers the scalable target (with its tags) when absent or when min/max differ, and puts
/// each policy when absent or when its metric, target or cooldowns differ. No mutating call
/// when everything matches. The ECS service must exist.
///
/// # Errors
/// [`Error::RegisterScalableTarget`], [`Error::PutScalingPolicy`], and [`find`]'s errors.
pub async fn ensure(
    client: &Client,
    cx: &Context,
    desired: &AutoscalingDesired,
) -> Result<AutoscalingOutputs> {
    let observed = find(client, &desired.resource_id).await?;
    let mut target_arn = observed.target.as_ref().and_then(|t| t.arn.clone());
    let register = match &observed.target {
        None => Some("create"),
        Some(t) if !target_fields(desired, t).is_empty() => Some("update"),
        Some(_) => None,
    };
    if let Some(verb) = register {
        cx.reporter
            .applying(TARGET_KIND, &desired.resource_id, verb);
        let mut call = client
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&desired.resource_id)
            .min_capacity(desired.min)
            .max_capacity(desired.max);
        if verb == "create" {
            for (k, v) in desired.tags.iter() {
                call = call.tags(k, v);
            }
        }
        let out = call.send().await.map_err(|e| {
            Error::RegisterScalableTarget(aws_error(
                "register scalable target",
                &desired.resource_id,
                e,
            ))
        })?;
        target_arn = out.scalable_target_arn().map(str::to_string).or(target_arn);
    }
    let mut policy_arns = Vec::new();
    for p in &desired.policies {
        let found = observed.policies.iter().find(|o| o.name == p.name);
        match found {
            Some(o) if policy_fields(p, o).is_empty() => {
                policy_arns.push(o.arn.clone());
                continue;
            }
            Some(_) => cx.reporter.applying(POLICY_KIND, &p.name, "update"),
            None => cx.reporter.applying(POLICY_KIND, &p.name, "create"),
        }
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(p.metric.sdk())
            .build()
            .map_err(|e| put_error(&p.name, e.to_string()))?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(p.target)
            .predefined_metric_specification(metric)
            .scale_in_cooldown(p.scale_in_cooldown)
            .scale_out_cooldown(p.scale_out_cooldown)
            .disable_scale_in(false)
            .build()
            .map_err(|e| put_error(&p.name, e.to_string()))?;
        let out = client
            .put_scaling_policy()
            .policy_name(&p.name)
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&desired.resource_id)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send()
            .await
            .map_err(|e| Error::PutScalingPolicy(aws_error("put scaling policy", &p.name, e)))?;
        policy_arns.push(out.policy_arn().to_string());
    }
    cx.reporter.ready(TARGET_KIND, &desired.resource_id);
    Ok(AutoscalingOutputs {
        scalable_target_arn: target_arn,
        policy_arns,
    })
}

fn put_error(name: &str, message: String) -> Error {
    Error::PutScalingPolicy(orchestrate_aws::AwsError::new(
        "put scaling policy",
        name,
        "ConstructionFailure",
        message,
    ))
}

/// Deletes the policies named in `desired` and deregisters the scalable target, each only
/// when [`find`] lists it; absent ones (and `ObjectNotFoundException` from a race) are
/// success.
///
/// # Errors
/// [`find`]'s errors, [`Error::DeleteScalingPolicy`], [`Error::DeregisterScalableTarget`].
pub async fn delete(client: &Client, cx: &Context, desired: &AutoscalingDesired) -> Result<()> {
    // Looking first also spares a call per absent policy, and moto 5.2.1 answers
    // DeleteScalingPolicy of an absent policy with ValidationException instead of AWS's
    // ObjectNotFoundException.
    let observed = find(client, &desired.resource_id).await?;
    for p in &desired.policies {
        if !observed.policies.iter().any(|o| o.name == p.name) {
            continue;
        }
        cx.reporter.applying(POLICY_KIND, &p.name, "delete");
        match client
            .delete_scaling_policy()
            .policy_name(&p.name)
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&desired.resource_id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_object_not_found_exception()) => {}
            Err(e) => {
                return Err(Error::DeleteScalingPolicy(aws_error(
                    "delete scaling policy",
                    &p.name,
                    e,
                )));
            }
        }
    }
    if observed.target.is_none() {
        return Ok(());
    }
    cx.reporter
        .applying(TARGET_KIND, &desired.resource_id, "delete");
    match client
        .deregister_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(&desired.resource_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_object_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::DeregisterScalableTarget(aws_error(
            "deregister scalable target",
            &desired.resource_id,
            e,
        ))),
    }
}
