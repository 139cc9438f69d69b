//! Phase 1, storage: everything stateful, converged in three waves.
//!
//! 1. Independent foundations, concurrently: the network (VPC … security groups, NAT
//!    gateways created but not waited on), log groups, ECR repositories, generated secrets.
//! 2. What needs wave 1, concurrently: IAM roles (repository and log-group ARNs), the RDS
//!    instance (subnets, security group, password), the Valkey replication group, the Cloud
//!    Map namespace (VPC).
//! 3. The long poles waited on together — NAT gateways, RDS, Valkey, the namespace — then
//!    the secrets derived from their endpoints (SQLAlchemy URL, result backend, broker URL).

use std::collections::BTreeMap;
use std::time::Duration;

use orchestrate_core::sensitive::{result_backend_url, sqlalchemy_url};
use orchestrate_core::{Change, ReporterExt};
use orchestrate_network::NetworkOutputs;

use crate::error::EngineError;
use crate::{Engine, ResourceStatus, Status};

/// What phase 1 hands to later phases.
#[derive(Debug, Clone)]
pub struct StorageOutputs {
    /// Account id.
    pub account_id: String,
    /// Network ids.
    pub network: NetworkOutputs,
    /// Log groups.
    pub logs: orchestrate_logs::LogsOutputs,
    /// ECR repositories.
    pub registry: orchestrate_registry::RegistryOutputs,
    /// IAM roles.
    pub iam: orchestrate_iam::IamOutputs,
    /// Secret ARNs by key (`fernet-key`, `sql-alchemy-conn`, ...).
    pub secret_arns: BTreeMap<String, String>,
    /// RDS endpoint and ARN.
    pub database: orchestrate_database::DatabaseOutputs,
    /// Valkey endpoint.
    pub cache: orchestrate_cache::CacheOutputs,
    /// Cloud Map namespace.
    pub namespace: orchestrate_discovery::NamespaceOutputs,
}

impl StorageOutputs {
    /// The outputs worth printing (no secret value, only ARNs and endpoints).
    pub fn summarize(&self, out: &mut BTreeMap<String, String>) {
        out.insert("vpc".into(), self.network.vpc_id.clone());
        out.insert("availability zones".into(), self.network.azs.join(", "));
        out.insert(
            "private subnets".into(),
            self.network.private_subnet_ids.join(", "),
        );
        out.insert(
            "database endpoint".into(),
            format!(
                "{}:{}",
                self.database.endpoint.host, self.database.endpoint.port
            ),
        );
        out.insert(
            "broker endpoint".into(),
            format!("{}:{}", self.cache.primary_endpoint_host, self.cache.port),
        );
        out.insert("namespace".into(), self.namespace.namespace_name.clone());
        out.insert(
            "airflow image repository".into(),
            self.registry.airflow_repository_uri.clone(),
        );
        out.insert("execution role".into(), self.iam.execution_role_arn.clone());
        out.insert("secrets".into(), self.secret_arns.len().to_string());
    }
}

/// Deadline of a NAT gateway (AWS takes 1-3 minutes; scaled by `Timing`). RDS, Valkey and
/// the namespace carry their own deadlines in their crates.
const NAT_DEADLINE: Duration = Duration::from_secs(10 * 60);

fn step<E: std::error::Error + orchestrate_core::Classify + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> EngineError {
    move |e| EngineError::step(what, e)
}

/// Converges phase 1 and waits until every long pole is ready.
pub async fn converge(engine: &Engine, zones: &[String]) -> Result<StorageOutputs, EngineError> {
    let (aws, cx, spec) = (&engine.aws, &engine.cx, &engine.spec);
    let account_id = aws.account_id().await?;

    // Wave 1.
    let network_desired = orchestrate_network::NetworkDesired::from_spec(spec, zones.to_vec())
        .map_err(step("plan the network"))?;
    let logs_desired = orchestrate_logs::LogsDesired::new(cx, spec);
    let registry_desired = orchestrate_registry::RegistryDesired::new(cx);
    let secrets_desired = orchestrate_secrets::GeneratedDesired::new(spec);
    let (network, logs, registry, generated) = tokio::try_join!(
        async {
            orchestrate_network::ensure_network(&aws.ec2, cx, &network_desired)
                .await
                .map_err(step("converge the network"))
        },
        async {
            orchestrate_logs::ensure(&aws.logs, cx, &logs_desired)
                .await
                .map_err(step("converge the log groups"))
        },
        async {
            orchestrate_registry::ensure(&aws.ecr, cx, &registry_desired)
                .await
                .map_err(step("converge the ECR repositories"))
        },
        async {
            orchestrate_secrets::ensure_generated(&aws.secrets, cx, &secrets_desired)
                .await
                .map_err(step("converge the generated secrets"))
        },
    )?;

    // Wave 2: everything that needs wave 1; the long poles are created and waited on together.
    let iam_desired = iam_desired(
        engine,
        &account_id,
        &registry.repository_arns(),
        &logs.log_group_arn,
        &logs.task_log_group_arn,
    );
    let database_desired = orchestrate_database::DatabaseDesired::from_spec(
        spec,
        &network.private_subnet_ids,
        &network.security_groups.database,
        generated.db_password.clone(),
    );
    let cache_desired = orchestrate_cache::CacheDesired::from_spec(
        spec,
        &network.private_subnet_ids,
        &network.security_groups.cache,
    );
    let namespace_desired =
        orchestrate_discovery::NamespaceDesired::from_spec(spec, &network.vpc_id);
    let nat_wait = async {
        for nat in &network.nat_gateway_ids {
            let poller = cx.timing.poller(NAT_DEADLINE);
            poller
                .wait(
                    &format!("NAT gateway {nat}"),
                    || orchestrate_network::nat::ready(&aws.ec2, cx, nat),
                    |state| cx.reporter.waiting("ec2/nat-gateway", nat, state),
                )
                .await?;
            cx.reporter.ready("ec2/nat-gateway", nat);
        }
        Ok::<(), EngineError>(())
    };
    let (iam, database, cache, namespace, ()) = tokio::try_join!(
        async {
            orchestrate_iam::ensure(&aws.iam, cx, &iam_desired)
                .await
                .map_err(step("converge the IAM roles"))
        },
        async {
            orchestrate_database::ensure(&aws.rds, cx, &database_desired)
                .await
                .map_err(step("converge the RDS instance"))
        },
        async {
            orchestrate_cache::ensure(&aws.elasticache, cx, &cache_desired)
                .await
                .map_err(step("converge the Valkey replication group"))
        },
        async {
            orchestrate_discovery::ensure(&aws.discovery, cx, &namespace_desired)
                .await
                .map_err(step("converge the Cloud Map namespace"))
        },
        nat_wait,
    )?;

    // Derived secrets.
    let username = &generated.db_username;
    let conn = sqlalchemy_url(username, &generated.db_password, &database.endpoint);
    let backend = result_backend_url(username, &generated.db_password, &database.endpoint);
    let broker = orchestrate_core::Sensitive::new(cache.broker_url());
    let (conn_arn, backend_arn, broker_arn) = tokio::try_join!(
        async {
            orchestrate_secrets::ensure_derived(
                &aws.secrets,
                cx,
                orchestrate_secrets::SQL_ALCHEMY_CONN,
                &conn,
            )
            .await
            .map_err(step("converge the SQLAlchemy URL secret"))
        },
        async {
            orchestrate_secrets::ensure_derived(
                &aws.secrets,
                cx,
                orchestrate_secrets::RESULT_BACKEND,
                &backend,
            )
            .await
            .map_err(step("converge the result backend secret"))
        },
        async {
            orchestrate_secrets::ensure_derived(
                &aws.secrets,
                cx,
                orchestrate_secrets::BROKER_URL,
                &broker,
            )
            .await
            .map_err(step("converge the broker URL secret"))
        },
    )?;
    let mut secret_arns = generated.arns.clone();
    secret_arns.insert(orchestrate_secrets::SQL_ALCHEMY_CONN.into(), conn_arn);
    secret_arns.insert(orchestrate_secrets::RESULT_BACKEND.into(), backend_arn);
    secret_arns.insert(orchestrate_secrets::BROKER_URL.into(), broker_arn);

    Ok(StorageOutputs {
        account_id,
        network,
        logs,
        registry,
        iam,
        secret_arns,
        database,
        cache,
        namespace,
    })
}

/// The IAM roles' desired state from the ARNs they grant access to.
fn iam_desired(
    engine: &Engine,
    account_id: &str,
    repository_arns: &[String],
    log_group_arn: &str,
    task_log_group_arn: &str,
) -> orchestrate_iam::IamDesired {
    let extra: Vec<String> = engine
        .spec
        .git_sync
        .credentials_secret_arn
        .iter()
        .cloned()
        .collect();
    orchestrate_iam::IamDesired::new(
        &engine.cx,
        Some(account_id),
        &engine.aws.region(),
        repository_arns,
        &[orchestrate_logs::with_wildcard(log_group_arn)],
        &orchestrate_logs::with_wildcard(task_log_group_arn),
        &extra,
    )
}

/// What `up --phase 1` would change (read-only).
pub async fn plan(engine: &Engine, zones: &[String]) -> Result<Vec<Change>, EngineError> {
    let (aws, cx, spec) = (&engine.aws, &engine.cx, &engine.spec);
    // ARNs are deterministic: the plan needs no created resource to know them.
    let account_id = aws.account_id().await?;
    let region = aws.region();
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    let repository_arns: Vec<String> = [
        orchestrate_registry::AIRFLOW,
        orchestrate_registry::GIT_SYNC,
    ]
    .iter()
    .map(|image| {
        format!(
            "arn:{partition}:ecr:{region}:{account_id}:repository/{}",
            cx.names.repository(image)
        )
    })
    .collect();
    let log_arn =
        |name: &str| format!("arn:{partition}:logs:{region}:{account_id}:log-group:{name}");
    let iam = iam_desired(
        engine,
        &account_id,
        &repository_arns,
        &log_arn(&cx.names.log_group()),
        &log_arn(&orchestrate_logs::task_log_group_name(cx)),
    );
    let network_desired = orchestrate_network::NetworkDesired::from_spec(spec, zones.to_vec())
        .map_err(step("plan the network"))?;
    let logs_desired = orchestrate_logs::LogsDesired::new(cx, spec);
    let registry_desired = orchestrate_registry::RegistryDesired::new(cx);
    // The database, cache and namespace hang off network ids: read what exists (read-only).
    let observed = observe_network(engine, &network_desired).await?;
    let private = observed
        .as_ref()
        .map(|o| o.private_subnet_ids.clone())
        .unwrap_or_default();
    let sg = |f: fn(&orchestrate_network::SecurityGroupIds) -> &String| {
        observed
            .as_ref()
            .map(|o| f(&o.security_groups).clone())
            .unwrap_or_default()
    };
    let vpc_id = observed
        .as_ref()
        .map(|o| o.vpc_id.clone())
        .unwrap_or_default();
    // The password is never compared: a placeholder stands in for it.
    let database_desired = orchestrate_database::DatabaseDesired::from_spec(
        spec,
        &private,
        &sg(|g| &g.database),
        orchestrate_core::Sensitive::new(String::new()),
    );
    let cache_desired =
        orchestrate_cache::CacheDesired::from_spec(spec, &private, &sg(|g| &g.cache));
    let namespace_desired = orchestrate_discovery::NamespaceDesired::from_spec(spec, &vpc_id);
    let (database_observed, cache_observed) = tokio::try_join!(
        async {
            orchestrate_database::find(&aws.rds, &database_desired)
                .await
                .map_err(step("plan the RDS instance"))
        },
        async {
            orchestrate_cache::find(&aws.elasticache, &cache_desired)
                .await
                .map_err(step("plan the Valkey replication group"))
        },
    )?;
    let derived_values = derived_values(engine, &database_observed, &cache_observed).await?;
    let derived: Vec<(&str, Option<&orchestrate_core::Sensitive>)> =
        orchestrate_secrets::DERIVED_KEYS
            .iter()
            .map(|key| {
                (
                    *key,
                    derived_values.as_ref().and_then(|values| values.get(*key)),
                )
            })
            .collect();
    let (network, logs, registry, secrets, iam, namespace) = tokio::try_join!(
        async {
            orchestrate_network::plan_network(&aws.ec2, cx, &network_desired)
                .await
                .map_err(step("plan the network"))
        },
        async {
            orchestrate_logs::plan_logs(&aws.logs, &logs_desired)
                .await
                .map_err(step("plan the log groups"))
        },
        async {
            orchestrate_registry::plan_registry(&aws.ecr, &registry_desired)
                .await
                .map_err(step("plan the ECR repositories"))
        },
        async {
            orchestrate_secrets::plan_secrets(&aws.secrets, cx, &derived)
                .await
                .map_err(step("plan the secrets"))
        },
        async {
            orchestrate_iam::plan_iam(&aws.iam, &iam)
                .await
                .map_err(step("plan the IAM roles"))
        },
        async {
            let observed = orchestrate_discovery::find(&aws.discovery, &namespace_desired)
                .await
                .map_err(step("plan the Cloud Map namespace"))?;
            Ok::<_, EngineError>(vec![orchestrate_discovery::diff(
                &namespace_desired,
                observed.as_ref(),
            )])
        },
    )?;
    let database = orchestrate_database::diff(&database_desired, &database_observed);
    let cache = orchestrate_cache::diff(&cache_desired, &cache_observed);
    let mut changes = Vec::new();
    for part in [
        network, logs, registry, secrets, iam, database, cache, namespace,
    ] {
        changes.extend(part);
    }
    Ok(changes)
}

/// Every phase-1 resource with its state.
pub async fn status(engine: &Engine, zones: &[String]) -> Result<Status, EngineError> {
    let changes = plan(engine, zones).await?;
    let resources = changes
        .into_iter()
        .map(|c| {
            let state = match &c.action {
                orchestrate_core::Action::NoChange => "ok".to_string(),
                orchestrate_core::Action::Create => "absent".to_string(),
                orchestrate_core::Action::Delete => "extra".to_string(),
                orchestrate_core::Action::Update { fields } => {
                    format!(
                        "drifted ({})",
                        fields
                            .iter()
                            .map(|f| f.field.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            ResourceStatus {
                phase: c.phase.number(),
                kind: c.kind,
                name: c.name,
                state,
            }
        })
        .collect();
    Ok(Status { resources })
}

/// The network's ids as they exist now (read-only), `None` before the VPC exists.
pub(crate) async fn observe_network(
    engine: &Engine,
    desired: &orchestrate_network::NetworkDesired,
) -> Result<Option<NetworkOutputs>, EngineError> {
    orchestrate_network::observe_network(&engine.aws.ec2, &engine.cx, desired)
        .await
        .map_err(step("read the network"))
}

/// The values the derived secrets should hold, when the database, the cache and the stored
/// credentials all exist (read-only: describe calls and one GetSecretValue).
async fn derived_values(
    engine: &Engine,
    database: &orchestrate_database::DatabaseObserved,
    cache: &orchestrate_cache::CacheObserved,
) -> Result<Option<BTreeMap<&'static str, orchestrate_core::Sensitive>>, EngineError> {
    let Some(instance) = &database.instance else {
        return Ok(None);
    };
    let Some(group) = &cache.replication_group else {
        return Ok(None);
    };
    let (Some(db_host), Some(db_port), Some(cache_host), Some(cache_port)) =
        (&instance.host, instance.port, &group.host, group.port)
    else {
        return Ok(None);
    };
    let name = engine.cx.names.secret(orchestrate_secrets::DB_CREDENTIALS);
    if orchestrate_secrets::secret::find(&engine.aws.secrets, &name)
        .await
        .map_err(step("read the database credentials"))?
        .is_none()
    {
        return Ok(None);
    }
    let stored = orchestrate_secrets::secret::get_value(&engine.aws.secrets, &name)
        .await
        .map_err(step("read the database credentials"))?;
    let credentials: serde_json::Value = serde_json::from_str(stored.expose()).map_err(|_| {
        EngineError::Other(format!("{name} does not hold JSON {{username, password}}"))
    })?;
    let (Some(username), Some(password)) = (
        credentials["username"].as_str(),
        credentials["password"].as_str(),
    ) else {
        return Ok(None);
    };
    let password = orchestrate_core::Sensitive::new(password);
    let endpoint = orchestrate_core::sensitive::DbEndpoint {
        host: db_host.clone(),
        port: u16::try_from(db_port).unwrap_or(5432),
        database: instance
            .db_name
            .clone()
            .unwrap_or_else(|| engine.spec.database.db_name.clone()),
    };
    let cache_port = u16::try_from(cache_port).unwrap_or(6379);
    Ok(Some(BTreeMap::from([
        (
            orchestrate_secrets::SQL_ALCHEMY_CONN,
            sqlalchemy_url(username, &password, &endpoint),
        ),
        (
            orchestrate_secrets::RESULT_BACKEND,
            result_backend_url(username, &password, &endpoint),
        ),
        (
            orchestrate_secrets::BROKER_URL,
            orchestrate_core::Sensitive::new(orchestrate_core::sensitive::broker_url(
                cache_host, cache_port, group.tls,
            )),
        ),
    ])))
}
