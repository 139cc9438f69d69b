//! Phase 1, storage: everything stateful, converged in three waves.
//!
//! 1. Independent foundations, concurrently: the network (VPC … security groups, NAT
//!    gateways created but not waited on), log groups, ECR repositories, generated secrets,
//!    IAM roles (their policies name the other resources by deterministic ARNs).
//! 2. What needs the network, concurrently: the RDS instance (subnets, security group,
//!    password), the Valkey replication group, the Cloud Map namespace (VPC).
//! 3. The long poles waited on together — NAT gateways, RDS, Valkey, the namespace — then
//!    the secrets derived from their endpoints (SQLAlchemy URL, result backend, broker URL).

use std::collections::BTreeMap;

use orchestrate_core::sensitive::{DbEndpoint, broker_url, result_backend_url, sqlalchemy_url};
use orchestrate_core::{Change, Sensitive};
use orchestrate_network::NetworkOutputs;

use crate::Engine;
use crate::error::{EngineError, step};
use crate::graph::{Graph, Known};

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

impl StorageOutputs {
    /// What later nodes of the graph need, all known after phase 1.
    pub fn known(&self) -> Known {
        Known {
            account_id: Some(self.account_id.clone()),
            network: Some(self.network.clone()),
            log_group_arn: Some(self.logs.log_group_arn.clone()),
            task_log_group_arn: Some(self.logs.task_log_group_arn.clone()),
            repository_uris: Some((
                self.registry.airflow_repository_uri.clone(),
                self.registry.git_sync_repository_uri.clone(),
            )),
            execution_role_arn: Some(self.iam.execution_role_arn.clone()),
            task_role_arn: Some(self.iam.task_role_arn.clone()),
            secret_arns: self.secret_arns.clone(),
            namespace: Some(self.namespace.clone()),
            alb_dns: None,
            target_group_arn: None,
            discovery_service_arn: None,
            ..Known::default()
        }
    }
}

/// The values the derived secrets hold: the SQLAlchemy URL and Celery result backend (from
/// the database credentials and endpoint, password URL-encoded) and the broker URL. The one
/// place they are computed, for `up` and `plan` alike.
pub fn derived_values(
    username: &str,
    password: &Sensitive,
    database: &DbEndpoint,
    broker: Sensitive,
) -> BTreeMap<&'static str, Sensitive> {
    BTreeMap::from([
        (
            orchestrate_secrets::SQL_ALCHEMY_CONN,
            sqlalchemy_url(username, password, database),
        ),
        (
            orchestrate_secrets::RESULT_BACKEND,
            result_backend_url(username, password, database),
        ),
        (orchestrate_secrets::BROKER_URL, broker),
    ])
}

/// What phase 1 hands out before it is done, so that `up` can start phase 2's long poles
/// while phase 1 waits on its own ([`crate::services::early`]). Each sender, when present,
/// receives its value as soon as it exists; a dropped sender means phase 1 stopped first.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// After wave 1: the network and the ECR repositories.
    pub foundations: Option<tokio::sync::oneshot::Sender<Foundations>>,
    /// As soon as the Cloud Map namespace exists.
    pub namespace: Option<tokio::sync::oneshot::Sender<orchestrate_discovery::NamespaceOutputs>>,
}

/// Wave 1's outputs that phase 2's early resources need.
#[derive(Debug, Clone)]
pub(crate) struct Foundations {
    /// Network ids (ALB subnets, security group, VPC).
    pub network: NetworkOutputs,
    /// ECR repositories (the images the task definitions run).
    pub registry: orchestrate_registry::RegistryOutputs,
}

/// Converges phase 1 and waits until every long pole is ready; each step holds a permit of
/// the engine's [`crate::concurrency::Limit`], and `hooks` receive early outputs.
pub(crate) async fn converge(
    engine: &Engine,
    graph: &Graph<'_>,
    account_id: &str,
    hooks: Hooks,
) -> Result<StorageOutputs, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let limit = &engine.limit;

    // Wave 1: nothing here needs another resource.
    let network_desired = graph.network().map_err(step("plan the network"))?;
    let logs_desired = graph.logs();
    let registry_desired = graph.registry();
    let secrets_desired = graph.generated_secrets();
    let iam_desired = graph.iam(Some(account_id));
    let (network, logs, registry, (generated, secrets_snapshot), iam) = tokio::try_join!(
        async {
            limit
                .run(orchestrate_network::ensure_network_seen(
                    &aws.ec2,
                    cx,
                    &network_desired,
                    engine.early.take_network(),
                ))
                .await
                .map_err(step("converge the network"))
        },
        async {
            limit
                .run(orchestrate_logs::ensure(&aws.logs, cx, &logs_desired))
                .await
                .map_err(step("converge the log groups"))
        },
        async {
            limit
                .run(orchestrate_registry::ensure(
                    &aws.ecr,
                    cx,
                    &registry_desired,
                ))
                .await
                .map_err(step("converge the ECR repositories"))
        },
        limit.run(async {
            // Every secret of the deployment in two reads (ListSecrets, BatchGetSecretValue);
            // the derived secrets below compare against the same snapshot.
            let keys: Vec<&str> = orchestrate_secrets::GENERATED_KEYS
                .iter()
                .chain(orchestrate_secrets::DERIVED_KEYS.iter())
                .copied()
                .collect();
            let snapshot = orchestrate_secrets::Snapshot::read(&aws.secrets, cx, &keys)
                .await
                .map_err(step("read the secrets"))?;
            let generated = orchestrate_secrets::ensure_generated_with(
                &aws.secrets,
                cx,
                &secrets_desired,
                &snapshot,
            )
            .await
            .map_err(step("converge the generated secrets"))?;
            Ok::<_, EngineError>((generated, snapshot))
        }),
        async {
            limit
                .run(orchestrate_iam::ensure(&aws.iam, cx, &iam_desired))
                .await
                .map_err(step("converge the IAM roles"))
        },
    )?;

    let Hooks {
        foundations: foundations_hook,
        namespace: namespace_hook,
    } = hooks;
    if let Some(hook) = foundations_hook {
        let _ = hook.send(Foundations {
            network: network.clone(),
            registry: registry.clone(),
        });
    }

    // Wave 2: what needs the network; the long poles are created and waited on together.
    let known = Known {
        network: Some(network.clone()),
        ..Known::default()
    };
    let database_desired = graph.database(&known, generated.db_password.clone());
    let cache_desired = graph.cache(&known);
    let namespace_desired = graph.namespace(&known);
    let nat_wait = async {
        // The network's read saw them available (a converged run): no poll.
        if network.nat_gateways_available {
            return Ok(());
        }
        for nat in &network.nat_gateway_ids {
            limit
                .run(orchestrate_network::nat::wait_ready(&aws.ec2, cx, nat))
                .await
                .map_err(step("wait for the NAT gateways"))?;
        }
        Ok::<(), EngineError>(())
    };
    let (database, cache, namespace, ()) = tokio::try_join!(
        async {
            limit
                .run(orchestrate_database::ensure_seen(
                    &aws.rds,
                    cx,
                    &database_desired,
                    engine.early.take_database(),
                ))
                .await
                .map_err(step("converge the RDS instance"))
        },
        async {
            limit
                .run(orchestrate_cache::ensure_seen(
                    &aws.elasticache,
                    cx,
                    &cache_desired,
                    engine.early.take_cache(),
                ))
                .await
                .map_err(step("converge the Valkey replication group"))
        },
        async {
            let namespace = limit
                .run(orchestrate_discovery::ensure(
                    &aws.discovery,
                    cx,
                    &namespace_desired,
                ))
                .await
                .map_err(step("converge the Cloud Map namespace"))?;
            if let Some(hook) = namespace_hook {
                // A receiver that is gone (the early branch failed) stops the run elsewhere.
                let _ = hook.send(namespace.clone());
            }
            Ok(namespace)
        },
        nat_wait,
    )?;

    // Derived secrets.
    let values = derived_values(
        &generated.db_username,
        &generated.db_password,
        &database.endpoint,
        Sensitive::new(cache.broker_url()),
    );
    let ensure = |key: &'static str| {
        let value = values.get(key).cloned();
        let known = secrets_snapshot.get(&cx.names.secret(key));
        async move {
            let value = value.ok_or_else(|| {
                EngineError::Other(format!("no value computed for the {key} secret; a bug"))
            })?;
            limit
                .run(orchestrate_secrets::ensure_derived_with(
                    &aws.secrets,
                    cx,
                    key,
                    &value,
                    known,
                ))
                .await
                .map_err(|e| EngineError::step(format!("converge the {key} secret"), e))
        }
    };
    let (conn_arn, backend_arn, broker_arn) = tokio::try_join!(
        ensure(orchestrate_secrets::SQL_ALCHEMY_CONN),
        ensure(orchestrate_secrets::RESULT_BACKEND),
        ensure(orchestrate_secrets::BROKER_URL),
    )?;
    let mut secret_arns = generated.arns.clone();
    secret_arns.insert(orchestrate_secrets::SQL_ALCHEMY_CONN.into(), conn_arn);
    secret_arns.insert(orchestrate_secrets::RESULT_BACKEND.into(), backend_arn);
    secret_arns.insert(orchestrate_secrets::BROKER_URL.into(), broker_arn);

    Ok(StorageOutputs {
        account_id: account_id.to_string(),
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

/// What `up --phase 1` would change (read-only), given what [`Known`] says exists.
pub async fn plan(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
) -> Result<Vec<Change>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let iam = graph.iam(known.account_id.as_deref());
    let network_desired = graph.network().map_err(step("plan the network"))?;
    let logs_desired = graph.logs();
    let registry_desired = graph.registry();
    // The password is never compared: a placeholder stands in for it.
    let database_desired = graph.database(known, Sensitive::new(String::new()));
    let cache_desired = graph.cache(known);
    let namespace_desired = graph.namespace(known);
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
    let derived_values =
        observed_derived_values(engine, &database_observed, &cache_observed).await?;
    let derived: Vec<(&str, Option<&Sensitive>)> = orchestrate_secrets::DERIVED_KEYS
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
            let observed = match &known.namespace {
                Some(ns) => Some(ns.clone()),
                None if known.network.is_some() => {
                    orchestrate_discovery::find(&aws.discovery, &namespace_desired)
                        .await
                        .map_err(step("plan the Cloud Map namespace"))?
                }
                None => None,
            };
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
async fn observed_derived_values(
    engine: &Engine,
    database: &orchestrate_database::DatabaseObserved,
    cache: &orchestrate_cache::CacheObserved,
) -> Result<Option<BTreeMap<&'static str, Sensitive>>, EngineError> {
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
    let Some((username, password)) =
        orchestrate_secrets::read_db_credentials(&engine.aws.secrets, &engine.cx)
            .await
            .map_err(step("read the database credentials"))?
    else {
        return Ok(None);
    };
    let (Ok(db_port), Ok(cache_port)) = (u16::try_from(db_port), u16::try_from(cache_port)) else {
        return Ok(None);
    };
    let endpoint = DbEndpoint {
        host: db_host.clone(),
        port: db_port,
        database: instance
            .db_name
            .clone()
            .unwrap_or_else(|| engine.spec.database.db_name.clone()),
    };
    Ok(Some(derived_values(
        &username,
        &password,
        &endpoint,
        Sensitive::new(broker_url(cache_host, cache_port, group.tls)),
    )))
}
