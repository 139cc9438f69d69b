//! What AWS already holds of a deployment, read once per run into a [`Known`]: the inputs
//! `plan`, `status` and `teardown` feed to the [`crate::graph::Graph`]. Read-only.

use orchestrate_airflow::SecretKey;

use crate::Engine;
use crate::error::{EngineError, step};
use crate::graph::{Graph, Known};

/// How much to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The account and the network (what phase 1's own nodes hang off).
    Storage,
    /// Also every ARN the task definitions and services refer to (phases 2-5).
    Services,
}

/// Reads what exists, each value once: the account id, the network's ids, and with
/// [`Depth::Services`] the roles, log groups, repositories, secrets, namespace, ALB, target
/// group and Cloud Map service. Absent resources stay `None` (placeholders downstream).
///
/// # Errors
/// The first read that fails.
pub async fn observe(
    engine: &Engine,
    graph: &Graph<'_>,
    depth: Depth,
) -> Result<Known, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let network_desired = graph.network().map_err(step("plan the network"))?;
    let (account_id, network) = tokio::try_join!(
        aws.account_id(),
        crate::storage::observe_network(engine, &network_desired),
    )?;
    let mut known = Known {
        account_id: Some(account_id),
        network,
        ..Known::default()
    };
    if depth == Depth::Storage {
        return Ok(known);
    }
    let namespace_desired = graph.namespace(&known);
    let registry_desired = graph.registry();
    let (execution, task, task_logs, repositories, namespace, alb, target_group) = tokio::try_join!(
        async {
            orchestrate_iam::role::find(
                &aws.iam,
                &cx.names.role(orchestrate_iam::EXECUTION, &graph.region),
            )
            .await
            .map_err(step("read the execution role"))
        },
        async {
            orchestrate_iam::role::find(
                &aws.iam,
                &cx.names.role(orchestrate_iam::TASK, &graph.region),
            )
            .await
            .map_err(step("read the task role"))
        },
        async {
            orchestrate_logs::log_group::find(&aws.logs, &orchestrate_logs::task_log_group_name(cx))
                .await
                .map_err(step("read the task log group"))
        },
        async {
            orchestrate_registry::find(&aws.ecr, &registry_desired)
                .await
                .map_err(step("read the ECR repositories"))
        },
        async {
            if known.network.is_none() {
                return Ok(None);
            }
            orchestrate_discovery::find(&aws.discovery, &namespace_desired)
                .await
                .map_err(step("read the Cloud Map namespace"))
        },
        async {
            orchestrate_loadbalancer::alb::find(&aws.elbv2, &cx.names.load_balancer())
                .await
                .map_err(step("read the load balancer"))
        },
        async {
            orchestrate_loadbalancer::target_group::find(&aws.elbv2, &cx.names.target_group())
                .await
                .map_err(step("read the target group"))
        },
    )?;
    known.execution_role_arn = execution.map(|r| r.arn);
    known.task_role_arn = task.map(|r| r.arn);
    known.task_log_group_arn = task_logs.map(|g| g.arn);
    if let [Some(airflow), Some(git_sync)] = &repositories {
        known.repository_uris = Some((airflow.uri.clone(), git_sync.uri.clone()));
    }
    known.alb_arn = alb.as_ref().map(|a| a.arn.clone());
    known.alb_dns = alb.map(|a| a.dns_name);
    known.target_group_arn = target_group.map(|t| t.arn);
    if let Some(ns) = &namespace {
        known.discovery_service_arn = orchestrate_discovery::service::find(
            &aws.discovery,
            &ns.namespace_id,
            orchestrate_discovery::API_SERVER_SERVICE,
        )
        .await
        .map_err(step("read the api-server Cloud Map service"))?
        .map(|s| s.arn);
    }
    known.namespace = namespace;
    for key in SecretKey::ALL {
        let name = cx.names.secret(key.key());
        if let Some(found) = orchestrate_secrets::secret::find(&aws.secrets, &name)
            .await
            .map_err(step("read the secrets"))?
        {
            known.secret_arns.insert(key.key().to_string(), found.arn);
        }
    }
    Ok(known)
}
