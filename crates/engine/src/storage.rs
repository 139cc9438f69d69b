//! Phase 1, storage: everything stateful, each resource started as soon as its inputs exist.
//!
//! 1. Independent foundations, concurrently: the network (VPC … security groups, NAT
//!    gateways created but not waited on), log groups, ECR repositories, generated secrets,
//!    IAM roles (their policies name the other resources by deterministic ARNs).
//! 2. What needs the network, each as soon as the network's VPC, subnets and security groups
//!    exist (before its NAT gateways and route tables, and not when all of step 1 is done):
//!    the Valkey replication group, the Cloud Map namespace (VPC), and the RDS instance
//!    (subnets, security group, and the generated password). The long poles — RDS, Valkey,
//!    the NAT gateways, the namespace — are created and waited on at the same time.
//! 3. Once RDS and Valkey are ready, the secrets derived from their endpoints (SQLAlchemy URL,
//!    result backend, broker URL).

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

    // Each resource starts as soon as its own inputs exist, not when the whole of wave 1 is
    // done: the long poles (Valkey, RDS) and the namespace wait for the network's VPC,
    // subnets and security groups only (RDS also for its generated password), the early
    // branch's hook for those and the ECR repositories. They are handed out through a watch
    // channel before the NAT gateways and route tables converge; the network's branch then
    // waits for the NAT gateways.
    let network_desired = graph.network().map_err(step("plan the network"))?;
    let logs_desired = graph.logs();
    let registry_desired = graph.registry();
    let secrets_desired = graph.generated_secrets();
    let iam_desired = graph.iam(Some(account_id));
    let Hooks {
        foundations: foundations_hook,
        namespace: namespace_hook,
    } = hooks;
    let (network_tx, network_rx) = tokio::sync::watch::channel(None::<NetworkOutputs>);
    // The network once it exists. A closed channel means its branch failed, and that
    // branch's error is the one `try_join!` returns.
    let network_ready = || {
        let mut rx = network_rx.clone();
        async move {
            let network = rx
                .wait_for(Option::is_some)
                .await
                .map_err(|_| EngineError::Other("the network was not converged".into()))?
                .clone();
            network.ok_or_else(|| EngineError::Other("the network was not converged".into()))
        }
    };
    let known = |network: NetworkOutputs| Known {
        network: Some(network),
        ..Known::default()
    };
    let (network, logs, registry, (generated, secrets_snapshot, database), iam, cache, namespace) =
        tokio::try_join!(
            async {
                // The data stores, the namespace and the ALB need the VPC, subnets and security
                // groups, handed out before the NAT gateways and route tables converge.
                let network = limit
                    .run(orchestrate_network::ensure_network_staged(
                        &aws.ec2,
                        cx,
                        &network_desired,
                        engine.early.take_network(),
                        |placed| {
                            network_tx.send_replace(Some(placed.clone()));
                        },
                    ))
                    .await
                    .map_err(step("converge the network"))?;
                // Had `placed` not been called (a path of the network crate that returns early),
                // the branches waiting on the network would still get it, now.
                network_tx.send_if_modified(|sent| {
                    let unsent = sent.is_none();
                    if unsent {
                        *sent = Some(network.clone());
                    }
                    unsent
                });
                // The network's read saw them available (a converged run): no poll.
                let nat_pending = if network.nat_gateways_available {
                    &[][..]
                } else {
                    &network.nat_gateway_ids[..]
                };
                for nat in nat_pending {
                    limit
                        .run(orchestrate_network::nat::wait_ready(&aws.ec2, cx, nat))
                        .await
                        .map_err(step("wait for the NAT gateways"))?;
                }
                Ok(network)
            },
            async {
                limit
                    .run(orchestrate_logs::ensure(&aws.logs, cx, &logs_desired))
                    .await
                    .map_err(step("converge the log groups"))
            },
            async {
                let registry = limit
                    .run(orchestrate_registry::ensure(
                        &aws.ecr,
                        cx,
                        &registry_desired,
                    ))
                    .await
                    .map_err(step("converge the ECR repositories"))?;
                if let Some(hook) = foundations_hook {
                    let network = network_ready().await?;
                    let _ = hook.send(Foundations {
                        network,
                        registry: registry.clone(),
                    });
                }
                Ok(registry)
            },
            async {
                let (generated, snapshot) = limit
                    .run(async {
                        // Every secret of the deployment in two reads (ListSecrets,
                        // BatchGetSecretValue); the derived secrets below compare against the
                        // same snapshot.
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
                    })
                    .await?;
                let database_desired = graph.database(
                    &known(network_ready().await?),
                    generated.db_password.clone(),
                );
                let database = limit
                    .run(orchestrate_database::ensure_seen(
                        &aws.rds,
                        cx,
                        &database_desired,
                        engine.early.take_database(),
                    ))
                    .await
                    .map_err(step("converge the RDS instance"))?;
                Ok((generated, snapshot, database))
            },
            async {
                limit
                    .run(orchestrate_iam::ensure(&aws.iam, cx, &iam_desired))
                    .await
                    .map_err(step("converge the IAM roles"))
            },
            async {
                let cache_desired = graph.cache(&known(network_ready().await?));
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
                let namespace_desired = graph.namespace(&known(network_ready().await?));
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
