//! orchestrate-iam: the two IAM roles the deployment's ECS tasks run with.
//!
//! Owns, per deployment and region, under path `/orchestrate/`:
//! - `<name>-ecs-execution-<region>` ([`orchestrate_core::Names::role`]; IAM is global, so
//!   the region in the name keeps two regions' deployments of one name apart): assumed by the ECS agent to
//!   pull images, write container logs and resolve `secrets[].valueFrom`. Inline policy
//!   `orchestrate-execution`: `ecr:GetAuthorizationToken` on `*` (it has no resource form);
//!   image pulls on exactly this deployment's two repositories; `logs:CreateLogStream` /
//!   `PutLogEvents` on the deployment's log groups (`:*`); `secretsmanager:GetSecretValue` on
//!   exactly the deployment's secrets the task definitions reference
//!   (`arn:…:secret:orchestrate/<name>/<key>-??????`, one per key: not the secrets backend's
//!   connections and variables, not the lease) plus the user's git-sync credentials and
//!   `[components.*] secrets` (`ssm:GetParameters` for SSM parameter ARNs). No `kms:Decrypt`:
//!   the secrets use the account's default key, which Secrets Manager decrypts on the caller's
//!   behalf. (A user secret encrypted with a customer key needs that key's policy to allow
//!   the execution role.)
//! - `<name>-ecs-task-<region>`: assumed by the Airflow containers. Inline policy `orchestrate-task`:
//!   CloudWatch Logs on the task-log group only (Airflow remote logging writes and reads task
//!   logs there; `logs:CreateLogGroup` is included, scoped to that one group, because the
//!   logging handler calls it and tolerates only "already exists"), the four
//!   `ssmmessages` channel actions ECS Exec needs, and, with the secrets backend on,
//!   `secretsmanager:GetSecretValue` + `DescribeSecret` on exactly
//!   `orchestrate/<name>/connections/*` and `orchestrate/<name>/variables/*`. The spec's
//!   `[task_role] statements` go into a second inline policy, `orchestrate-user`, and its
//!   `managed_policy_arns` are attached ([`grants`]: the list is the complete set, others are
//!   detached).
//!
//! orchestrate's own grants are inline policies only: AWS-managed policies are broader than
//! needed (and are not loaded in the local emulator). Both roles trust `ecs-tasks.amazonaws.com`, with an
//! `aws:SourceAccount` condition when the account id is known.
//!
//! # Guarantees
//! - Both roles found in one ListRoles under `/orchestrate/` ([`role::list`]; GetRole only
//!   to wait for a created role), their policies by name with GetRolePolicy; `NoSuchEntity`
//!   is `None`.
//! - Created with path, trust policy, description and tags in CreateRole.
//! - [`ensure`] makes no mutating call when both roles and policies already mean what is
//!   desired. Stored documents (returned URL-encoded) are decoded and compared as normalised
//!   JSON, never as strings, so a document rewritten with other whitespace or list order by
//!   another tool is not rewritten. UpdateAssumeRolePolicy / PutRolePolicy run only on a real
//!   difference.
//! - A CreateRole whose response was lost and is retried fails with `EntityAlreadyExists`: the
//!   role is adopted (and its trust policy corrected if needed).
//! - [`task_role_grants`] (read-only, for `orchestrate exec`) says which of some actions the
//!   task role's inline policy does not allow, and which managed policies are attached.
//! - [`delete`] removes inline policies (and detaches any managed policy someone attached),
//!   then the roles; `NoSuchEntity` is success at every step.
//!
//! # Waits and retries
//! - After CreateRole, GetRole is polled until it returns the role (IAM is eventually
//!   consistent), for at most 20 s scaled by [`orchestrate_core::Timing`].
//! - PutRolePolicy is retried on `NoSuchEntity` (a replica that has not seen the new role yet),
//!   at most 5 attempts. Nothing else is retried beyond the SDK's own policy.
//! - A role visible to GetRole may still not be assumable by ECS for several seconds:
//!   [`IamOutputs::created`] tells the engine so, and the ECS crate retries
//!   RegisterTaskDefinition / CreateService / RunTask on the "unable to assume role" family of
//!   errors (`ClientException` / `InvalidParameterException` naming the role) with a bounded
//!   budget. This crate does not sleep "just in case".
//!
//! # Errors
//! One [`Error`] enum, a variant per failing step; AWS failures carry an
//! [`orchestrate_aws::AwsError`].

mod error;
pub mod grants;
pub mod policy;
pub mod role;
pub mod role_policy;

pub use aws_sdk_iam::Client;
pub use error::{Error, Result};
pub use role::{Grants, RoleDesired, RoleObserved};

use orchestrate_core::{Change, Context, Phase, Readiness};
use serde_json::Value;

/// Role kind of the execution role (`<name>-ecs-execution-<region>`).
pub const EXECUTION: &str = "ecs-execution";
/// Role kind of the task role (`<name>-ecs-task-<region>`).
pub const TASK: &str = "ecs-task";
/// Inline policy of the execution role.
pub const EXECUTION_POLICY: &str = "orchestrate-execution";
/// Inline policy of the task role.
pub const TASK_POLICY: &str = "orchestrate-task";
/// The `ssmmessages` channel actions ECS Exec needs the task role to allow (on `*`).
pub const ECS_EXEC_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// Both roles of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct IamDesired {
    /// The execution role.
    pub execution: RoleDesired,
    /// The task role.
    pub task: RoleDesired,
}

/// What the roles may read beyond images and logs: the secrets the task definitions
/// reference, the secrets backend's prefixes, and the spec's own grants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Access {
    /// Names of the deployment's own secrets the task definitions reference
    /// (`orchestrate/<name>/fernet-key`, ...): the execution role reads exactly these
    /// (`<name>-??????`, Secrets Manager's random suffix).
    pub deployment_secrets: Vec<String>,
    /// Further Secrets Manager secret ARNs the execution role reads (git-sync credentials,
    /// `[components.*] secrets`), without any JSON-key suffix.
    pub user_secret_arns: Vec<String>,
    /// SSM parameter ARNs the execution role reads (`[components.*] secrets`).
    pub user_parameter_arns: Vec<String>,
    /// Secret name prefixes (without the trailing `/`) the task role reads: the secrets
    /// backend's connections and variables.
    pub task_secret_prefixes: Vec<String>,
    /// Managed policies the task role has attached (the complete set).
    pub managed_policy_arns: Vec<String>,
    /// The spec's inline statements, the task role's [`USER_POLICY`] (`None`: no such policy).
    pub user_policy: Option<Value>,
}

/// The task role's inline policy with the spec's `[task_role] statements`.
pub const USER_POLICY: &str = orchestrate_core::access::USER_POLICY;

/// `arn` with the `:*` suffix that covers a log group's streams.
fn log_streams(arn: &str) -> String {
    format!("{}:*", arn.strip_suffix(":*").unwrap_or(arn))
}

/// Dedups and sorts.
fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

impl IamDesired {
    /// Both roles (pure). `account_id` scopes the trust policy and the secrets ARN (`*` when
    /// unknown); `repository_arns` are the ECR repositories to pull from; `log_group_arns` the
    /// container log groups and `task_log_group_arn` the task log group (with or without
    /// `:*`); `access` what the roles may read and do beyond that.
    pub fn new(
        cx: &Context,
        account_id: Option<&str>,
        region: &str,
        repository_arns: &[String],
        log_group_arns: &[String],
        task_log_group_arn: &str,
        access: &Access,
    ) -> Self {
        let partition = policy::partition(region);
        let account = account_id.unwrap_or("*");
        let trust = policy::trust_policy(account_id);
        let deployment = cx.names.deployment();
        let secret_arn =
            |name: &str| format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}");

        let mut execution = vec![policy::allow(
            "EcrAuth",
            &["ecr:GetAuthorizationToken"],
            &["*".to_string()],
        )];
        if !repository_arns.is_empty() {
            execution.push(policy::allow(
                "EcrPull",
                &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                repository_arns,
            ));
        }
        if !log_group_arns.is_empty() {
            let streams: Vec<String> = log_group_arns.iter().map(|a| log_streams(a)).collect();
            execution.push(policy::allow(
                "ContainerLogs",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                &streams,
            ));
        }
        // Exactly the secrets the task definitions reference: `<name>-??????` matches the
        // secret and no other (a longer name such as `<name>/…` or `<name>-extra` does not).
        let secrets = unique(
            access
                .deployment_secrets
                .iter()
                .map(|name| secret_arn(&format!("{name}-??????")))
                .chain(access.user_secret_arns.iter().cloned()),
        );
        if !secrets.is_empty() {
            execution.push(policy::allow(
                "Secrets",
                &["secretsmanager:GetSecretValue"],
                &secrets,
            ));
        }
        if !access.user_parameter_arns.is_empty() {
            execution.push(policy::allow(
                "Parameters",
                &["ssm:GetParameters"],
                &unique(access.user_parameter_arns.iter().cloned()),
            ));
        }

        let task_group = task_log_group_arn
            .strip_suffix(":*")
            .unwrap_or(task_log_group_arn);
        let mut task = vec![
            policy::allow(
                "TaskLogs",
                &[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:DescribeLogStreams",
                ],
                &[task_group.to_string(), log_streams(task_group)],
            ),
            policy::allow("EcsExec", &ECS_EXEC_ACTIONS, &["*".to_string()]),
        ];
        if !access.task_secret_prefixes.is_empty() {
            let prefixes = unique(
                access
                    .task_secret_prefixes
                    .iter()
                    .map(|p| secret_arn(&format!("{}/*", p.trim_end_matches('/')))),
            );
            task.push(policy::allow(
                "AirflowSecrets",
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
                &prefixes,
            ));
        }

        let role = |kind: &str, what: &str, policy_name: &str, statements: Vec<Value>| {
            let name = cx.names.role(kind, region);
            RoleDesired {
                description: format!("orchestrate {deployment}: {what}"),
                trust: trust.clone(),
                policy_name: policy_name.to_string(),
                policy: policy::document(statements),
                tags: cx.tags(&format!("iam/{kind}"), Phase::Storage, &name),
                extra: None,
                name,
            }
        };
        let mut task_role = role(
            TASK,
            "ECS task role of the Airflow containers (task logs, ECS Exec)",
            TASK_POLICY,
            task,
        );
        task_role.extra = Some(role::Grants {
            user_policy: access.user_policy.clone(),
            managed_policy_arns: unique(access.managed_policy_arns.iter().cloned()),
        });
        Self {
            execution: role(
                EXECUTION,
                "ECS task execution role (image pulls, container logs, secrets)",
                EXECUTION_POLICY,
                execution,
            ),
            task: task_role,
        }
    }

    /// The execution role's inline policy document (pure).
    pub fn execution_policy_document(&self) -> Value {
        self.execution.policy.clone()
    }

    /// The task role's inline policy document (pure).
    pub fn task_policy_document(&self) -> Value {
        self.task.policy.clone()
    }

    /// The trust policy both roles share (pure).
    pub fn trust_policy_document(&self) -> Value {
        self.execution.trust.clone()
    }

    fn roles(&self) -> [&RoleDesired; 2] {
        [&self.execution, &self.task]
    }
}

/// What later phases need of the roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamOutputs {
    /// ARN of the execution role (task definition `executionRoleArn`).
    pub execution_role_arn: String,
    /// ARN of the task role (task definition `taskRoleArn`).
    pub task_role_arn: String,
    /// True when this run created either role: ECS may need a few more seconds before it can
    /// assume it (see the crate documentation).
    pub created: bool,
}

/// The plan for both roles and their inline policies (kinds `iam/role`, `iam/role-policy`).
///
/// # Errors
/// [`Error::GetRole`], [`Error::GetPolicy`].
pub async fn plan_iam(client: &Client, desired: &IamDesired) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut listed = role::list(client).await?;
    for role in desired.roles() {
        let observed = listed.remove(&role.name);
        let stored = match observed {
            Some(_) => role_policy::find(client, &role.name, &role.policy_name).await?,
            None => None,
        };
        changes.push(role::diff(role, observed.as_ref()));
        changes.push(role_policy::diff(
            &role.name,
            &role.policy_name,
            &role.policy,
            stored.as_deref(),
        ));
        if let Some(extra) = &role.extra {
            let found = match observed {
                Some(_) => grants::find(client, &role.name).await?,
                None => grants::GrantsObserved::default(),
            };
            changes.extend(grants::diff(&role.name, extra, &found));
        }
    }
    Ok(changes)
}

async fn ensure_role(
    client: &Client,
    cx: &Context,
    desired: &RoleDesired,
    found: Option<RoleObserved>,
) -> Result<(String, bool)> {
    let (observed, created) = role::ensure(client, cx, desired, found).await?;
    role_policy::ensure(
        client,
        cx,
        &desired.name,
        &desired.policy_name,
        &desired.policy,
    )
    .await?;
    if let Some(extra) = &desired.extra {
        grants::ensure(client, cx, &desired.name, extra).await?;
    }
    Ok((observed.arn, created))
}

/// Converges both roles and their inline policies (concurrently), both roles read in one
/// [`role::list`].
///
/// # Errors
/// See [`role::list`], [`role::ensure`] and [`role_policy::ensure`].
pub async fn ensure(client: &Client, cx: &Context, desired: &IamDesired) -> Result<IamOutputs> {
    let mut listed = role::list(client).await?;
    let execution = listed.remove(&desired.execution.name);
    let task = listed.remove(&desired.task.name);
    let ((execution_role_arn, created_execution), (task_role_arn, created_task)) = tokio::try_join!(
        ensure_role(client, cx, &desired.execution, execution),
        ensure_role(client, cx, &desired.task, task),
    )?;
    Ok(IamOutputs {
        execution_role_arn,
        task_role_arn,
        created: created_execution || created_task,
    })
}

/// Ready when GetRole returns both roles.
///
/// # Errors
/// [`Error::GetRole`].
pub async fn ready(client: &Client, desired: &IamDesired) -> Result<Readiness> {
    for role in desired.roles() {
        let state = role::ready(client, &role.name).await?;
        if state != Readiness::Ready {
            return Ok(state);
        }
    }
    Ok(Readiness::Ready)
}

/// Both roles and whether they exist, in one ListRoles call under the `/orchestrate/` path
/// ([`role::list`]).
///
/// # Errors
/// [`Error::GetRole`].
pub async fn status(
    client: &Client,
    cx: &Context,
    region: &str,
) -> Result<Vec<orchestrate_core::StatusRow>> {
    use orchestrate_core::{Phase, StatusRow};
    let names = role::list(client).await?;
    Ok([EXECUTION, TASK]
        .iter()
        .map(|kind| {
            let name = cx.names.role(kind, region);
            if names.contains_key(&name) {
                StatusRow::new(Phase::Storage, role::KIND, &name, "ok", true)
            } else {
                StatusRow::absent(Phase::Storage, role::KIND, &name)
            }
        })
        .collect())
}

/// What the task role's inline policy does not allow of some actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRoleGrants {
    /// The task role's name.
    pub role: String,
    /// The actions its inline policy ([`TASK_POLICY`]) does not allow on `*` (all of them when
    /// the role or the policy does not exist), in the order asked.
    pub missing: Vec<String>,
    /// ARNs of managed policies attached to the role (`[task_role] managed_policy_arns`),
    /// which may allow what the inline policy does not; they are not read.
    pub attached: Vec<String>,
}

/// Which of `actions` the deployment's task role (in `region`) does not allow through its inline policy
/// (GetRolePolicy, ListAttachedRolePolicies; read-only). See [`policy::missing_actions`].
///
/// # Errors
/// [`Error::GetPolicy`], [`Error::ListPolicies`].
pub async fn task_role_grants(
    client: &Client,
    cx: &Context,
    region: &str,
    actions: &[&str],
) -> Result<TaskRoleGrants> {
    let name = cx.names.role(TASK, region);
    let stored = role_policy::find(client, &name, TASK_POLICY).await?;
    let missing = match stored.as_deref().and_then(policy::decode) {
        Some(document) => policy::missing_actions(&document, actions),
        None => actions.iter().map(|a| (*a).to_string()).collect(),
    };
    let attached = role::list_attached(client, &name).await?;
    Ok(TaskRoleGrants {
        role: name,
        missing,
        attached,
    })
}

/// Deletes both roles of the deployment in `region` (inline policies first). Absent is
/// success.
///
/// # Errors
/// See [`role::delete`].
pub async fn delete(client: &Client, cx: &Context, region: &str) -> Result<()> {
    for kind in [TASK, EXECUTION] {
        role::delete(client, cx, &cx.names.role(kind, region)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
