//! `teardown services` and `teardown all`: delete over the graph, in reverse dependency order
//! ([`crate::graph::teardown_order`]).
//!
//! # Guarantees
//! - `services` deletes phases 5 → 2 (worker autoscaling, the services — deleted and waited
//!   until INACTIVE, their tasks drained —, the task-definition revisions of the deployment's
//!   families, the api-server's Cloud Map service, the domain's alias record, listeners, ALB
//!   and target group, the domain's certificate and its validation records, the cluster) and never calls a mutating API of phase 1: the VPC, RDS, Valkey, secrets and
//!   their values, roles, log groups and repositories stay exactly as they were.
//! - `all` first checks what would stop it half-way (RDS deletion protection without
//!   `force`) and refuses before deleting anything; then deletes phases 5 → 2 and phase 1 in
//!   reverse order: namespace, Valkey, RDS (final snapshot unless skipped), roles, secrets
//!   (scheduled for deletion with a recovery window, restorable by a later `up`),
//!   repositories (kept when they hold images, unless `delete_images`), log groups, network.
//! - Idempotent: every delete treats "already gone" and "never created" as success, so a
//!   re-run after a crash finishes the job, and an absent deployment is a no-op.
//! - Only this deployment's resources are touched: every name carries the deployment's name
//!   and tag-found resources are filtered by `orchestrate:deployment`.

use orchestrate_airflow::Component;
use orchestrate_core::{Action, Change, Phase, ReporterExt};

use crate::Engine;
use crate::error::{EngineError, ecs_step, step};
use crate::graph::{Graph, Known, Node, TeardownScope, components_of, teardown_order};

/// Deadline of a service's deletion (tasks drain within their stop timeout; AWS takes a few
/// minutes at most).
pub const SERVICE_DELETE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How far `teardown all` goes with data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataOptions {
    /// Skip the RDS final snapshot.
    pub skip_final_snapshot: bool,
    /// Lift RDS deletion protection.
    pub force: bool,
    /// Delete ECR repositories that hold images.
    pub delete_images: bool,
}

/// What a teardown did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TeardownReport {
    /// `services` or `all`.
    pub scope: String,
    /// The resources that existed and were deleted, in order (`kind name`).
    pub deleted: Vec<String>,
    /// Resources deliberately kept (repositories holding images).
    pub kept: Vec<String>,
    /// The RDS final snapshot taken, if any.
    pub final_snapshot: Option<String>,
    /// True when nothing of the scope existed.
    pub already_gone: bool,
}

/// The node a planned change belongs to (for ordering a teardown plan).
fn node_of(change: &Change) -> Node {
    let kind = change.kind.as_str();
    match change.phase {
        Phase::Storage => match kind {
            k if k.starts_with("ec2/") => Node::Network,
            k if k.starts_with("logs/") => Node::LogGroups,
            k if k.starts_with("ecr/") => Node::Repositories,
            k if k.starts_with("secretsmanager/") => Node::Secrets,
            k if k.starts_with("iam/") => Node::Roles,
            k if k.starts_with("rds/") => Node::Database,
            k if k.starts_with("elasticache/") => Node::Cache,
            k if k.starts_with("sns/") => Node::AlarmTopic,
            _ => Node::Namespace,
        },
        Phase::ApiServer => match kind {
            k if k.starts_with("elbv2/") => Node::LoadBalancer,
            orchestrate_domain::record::ALIAS_KIND => Node::DnsAlias,
            orchestrate_domain::certificate::KIND | orchestrate_domain::record::VALIDATION_KIND => {
                Node::Certificate
            }
            k if k.starts_with("servicediscovery/") => Node::DiscoveryService,
            k if k.starts_with("cloudwatch/") => Node::Alarms,
            orchestrate_ecs::service::KIND => Node::ApiServerService,
            k if k.contains("task-definition") => Node::TaskDefinitions,
            _ => Node::Cluster,
        },
        Phase::Scheduler => match kind {
            k if k.contains("task-definition") => Node::TaskDefinitions,
            _ => Node::SchedulerServices,
        },
        Phase::Triggerer => match kind {
            k if k.contains("task-definition") => Node::TaskDefinitions,
            _ => Node::TriggererService,
        },
        Phase::Worker => match kind {
            k if k.contains("task-definition") => Node::TaskDefinitions,
            orchestrate_ecs::service::KIND => Node::WorkerService,
            _ => Node::WorkerAutoscaling,
        },
    }
}

/// What a teardown of `scope` would delete: every resource of the up-plan that exists,
/// marked [`Action::Delete`], in deletion order. Pure.
pub fn plan_from(up_plan: Vec<Change>, scope: TeardownScope) -> Vec<Change> {
    let order = teardown_order(scope);
    let pending_deletion = |c: &Change| match &c.action {
        Action::Update { fields } => fields
            .iter()
            .any(|f| f.field == orchestrate_secrets::secret::PENDING_DELETION_FIELD),
        _ => false,
    };
    let mut deletes: Vec<(usize, Change)> = up_plan
        .into_iter()
        .filter(|c| !matches!(c.action, Action::Create))
        // An existing network is used, never deleted.
        .filter(|c| !orchestrate_network::is_unmanaged_kind(&c.kind))
        // A secret already scheduled for deletion is as deleted as a teardown leaves it.
        .filter(|c| !pending_deletion(c))
        .filter_map(|c| {
            let position = order.iter().position(|n| *n == node_of(&c))?;
            Some((
                position,
                Change {
                    action: Action::Delete,
                    ..c
                },
            ))
        })
        .collect();
    deletes.sort_by_key(|(position, _)| *position);
    deletes.into_iter().map(|(_, c)| c).collect()
}

/// `<name>-final-<UTC yyyymmddhhmmss>`: a valid, unique RDS snapshot identifier.
pub fn final_snapshot_name(deployment: &str, now: time::OffsetDateTime) -> String {
    format!(
        "{deployment}-final-{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Refuses `teardown all` before anything is deleted when it could not finish: RDS deletion
/// protection is on and `force` was not given.
///
/// # Errors
/// [`EngineError::Usage`] naming the flag.
pub async fn preflight(engine: &Engine, options: DataOptions) -> Result<(), EngineError> {
    let identifier = engine.cx.names.db_instance();
    let instance = orchestrate_database::instance::find(&engine.aws.rds, &identifier)
        .await
        .map_err(step("read the RDS instance"))?;
    if let Some(instance) = instance
        && instance.deletion_protection
        && !options.force
    {
        return Err(EngineError::Usage(format!(
            "RDS instance {identifier} has deletion protection on; nothing was deleted. \
             Run `orchestrate teardown all --yes --force` to lift it (a final snapshot is \
             still taken unless --skip-final-snapshot)"
        )));
    }
    Ok(())
}

/// Deletes phases 5 → 2 (`services`), or everything (`all`), in reverse dependency order.
///
/// # Errors
/// The first delete AWS refuses (exit 3) or that times out (exit 4); what was deleted before
/// stays deleted, and a re-run continues from there.
pub async fn run(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
    scope: TeardownScope,
    options: DataOptions,
    doomed: &[Change],
) -> Result<TeardownReport, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let mut report = TeardownReport {
        scope: scope.name().to_string(),
        ..TeardownReport::default()
    };
    if scope == TeardownScope::All {
        preflight(engine, options).await?;
    }
    let cluster = cx.names.cluster();
    // Only what exists is deleted, so a re-run of a finished teardown makes no mutating call.
    let present: std::collections::BTreeSet<Node> = doomed.iter().map(node_of).collect();
    for node in teardown_order(scope) {
        if !present.contains(&node) {
            continue;
        }
        match node {
            Node::WorkerAutoscaling => {
                orchestrate_ecs::autoscaling::delete(&aws.autoscaling, cx, &graph.worker_scaling())
                    .await
                    .map_err(ecs_step("delete the worker's autoscaling"))?;
            }
            Node::WorkerService
            | Node::TriggererService
            | Node::SchedulerServices
            | Node::ApiServerService => {
                let components = components_of(node.phase());
                let names: Vec<String> = components
                    .iter()
                    .map(|c| cx.names.service(c.name()))
                    .collect();
                let cluster = cluster.as_str();
                futures::future::try_join_all(names.iter().map(|name| async move {
                    orchestrate_ecs::service::delete(&aws.ecs, cx, cluster, name)
                        .await
                        .map_err(ecs_step(format!("delete service {name}")))?;
                    orchestrate_ecs::service::wait_deleted(
                        &aws.ecs,
                        cx,
                        cluster,
                        name,
                        SERVICE_DELETE_DEADLINE,
                    )
                    .await
                    .map_err(ecs_step(format!("wait for service {name} to be deleted")))
                }))
                .await?;
            }
            Node::TaskDefinitions => {
                for component in Component::ALL {
                    let family = cx.names.service(component.name());
                    let count = orchestrate_ecs::taskdef::deregister_family(&aws.ecs, cx, &family)
                        .await
                        .map_err(ecs_step(format!(
                            "deregister the {family} task definitions"
                        )))?;
                    if count > 0 {
                        report
                            .deleted
                            .push(format!("ecs/task-definition {family} ({count} revisions)"));
                    }
                }
            }
            Node::Migration => {}
            Node::Alarms => crate::alarms::delete(engine).await?,
            Node::AlarmTopic => crate::alarms::delete_topic(engine, graph, known).await?,
            Node::DiscoveryService => {
                if let Some(ns) = &known.namespace {
                    orchestrate_discovery::delete_service(
                        &aws.discovery,
                        cx,
                        &ns.namespace_id,
                        orchestrate_discovery::API_SERVER_SERVICE,
                    )
                    .await
                    .map_err(step("delete the api-server Cloud Map service"))?;
                }
            }
            Node::DnsAlias => {
                if let Some(alias) = graph.alias_record(known) {
                    orchestrate_domain::record::delete_alias(
                        &aws.route53,
                        cx,
                        &alias.zone_id,
                        &alias.name,
                        &alias.load_balancer_name,
                    )
                    .await
                    .map_err(step("delete the domain's alias record"))?;
                }
            }
            Node::LoadBalancer => {
                orchestrate_loadbalancer::delete_load_balancer(&aws.elbv2, cx)
                    .await
                    .map_err(step("delete the load balancer"))?;
            }
            Node::Certificate => {
                if let Some(desired) = graph.certificate(known) {
                    orchestrate_domain::certificate::delete(
                        &aws.acm,
                        &aws.route53,
                        cx,
                        &desired.domain,
                        Some(&desired.hosted_zone_id),
                    )
                    .await
                    .map_err(step("delete the domain's certificate"))?;
                }
            }
            Node::Cluster => {
                orchestrate_ecs::cluster::delete(&aws.ecs, cx, &cluster)
                    .await
                    .map_err(ecs_step("delete the ECS cluster"))?;
            }
            Node::Namespace => {
                orchestrate_discovery::delete(&aws.discovery, cx)
                    .await
                    .map_err(step("delete the Cloud Map namespace"))?;
            }
            Node::Cache => {
                orchestrate_cache::delete(&aws.elasticache, cx)
                    .await
                    .map_err(step("delete the Valkey replication group"))?;
            }
            Node::Database => {
                let exists =
                    orchestrate_database::instance::find(&aws.rds, &cx.names.db_instance())
                        .await
                        .map_err(step("read the RDS instance"))?
                        .is_some_and(|i| i.status != "deleting");
                let snapshot = (exists && !options.skip_final_snapshot).then(|| {
                    final_snapshot_name(cx.names.deployment(), time::OffsetDateTime::now_utc())
                });
                orchestrate_database::delete(&aws.rds, cx, snapshot.clone())
                    .await
                    .map_err(step("delete the RDS instance"))?;
                report.final_snapshot = snapshot;
            }
            Node::Roles => {
                orchestrate_iam::delete(&aws.iam, cx, &engine.region())
                    .await
                    .map_err(step("delete the IAM roles"))?;
            }
            Node::Secrets => {
                orchestrate_secrets::delete_all(&aws.secrets, cx, false)
                    .await
                    .map_err(step("schedule the secrets for deletion"))?;
            }
            Node::Repositories => {
                let kept = orchestrate_registry::delete_keeping_images(
                    &aws.ecr,
                    cx,
                    options.delete_images,
                )
                .await
                .map_err(step("delete the ECR repositories"))?;
                for name in kept {
                    cx.reporter.note(
                        "ecr/repository",
                        format!("{name} holds images and is kept; --delete-images removes it"),
                    );
                    report.kept.push(format!("ecr/repository {name}"));
                }
            }
            Node::LogGroups => {
                orchestrate_logs::delete(&aws.logs, cx)
                    .await
                    .map_err(step("delete the log groups"))?;
            }
            Node::Network => {
                let existing_vpc = engine.spec.network.existing().map(|e| e.vpc_id);
                orchestrate_network::delete_network_in(&aws.ec2, cx, existing_vpc)
                    .await
                    .map_err(step("delete the network"))?;
            }
        }
        cx.reporter
            .note("teardown", format!("{} gone", node.name()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(phase: Phase, kind: &str, name: &str, action: Action) -> Change {
        Change::new(phase, kind, name, action)
    }

    #[test]
    fn the_teardown_plan_lists_what_exists_in_reverse_order_and_skips_the_absent() {
        let up = vec![
            change(Phase::Storage, "ec2/vpc", "demo", Action::NoChange),
            change(
                Phase::Storage,
                "rds/db-instance",
                "demo-metadata",
                Action::NoChange,
            ),
            change(Phase::ApiServer, "ecs/cluster", "demo", Action::NoChange),
            change(
                Phase::ApiServer,
                orchestrate_ecs::service::KIND,
                "demo-api-server",
                Action::NoChange,
            ),
            change(
                Phase::Worker,
                orchestrate_ecs::service::KIND,
                "demo-worker",
                Action::Create,
            ),
            change(
                Phase::Worker,
                "application-autoscaling/scalable-target",
                "demo-worker",
                Action::NoChange,
            ),
        ];
        let services = plan_from(up.clone(), TeardownScope::Services);
        let names: Vec<&str> = services.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["demo-worker", "demo-api-server", "demo"]);
        assert!(services.iter().all(|c| c.action == Action::Delete));
        assert!(services.iter().all(|c| c.phase > Phase::Storage));
        let all = plan_from(up, TeardownScope::All);
        let kinds: Vec<&str> = all.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "application-autoscaling/scalable-target",
                orchestrate_ecs::service::KIND,
                "ecs/cluster",
                "rds/db-instance",
                "ec2/vpc"
            ]
        );
    }

    #[test]
    fn an_existing_network_is_never_in_a_teardown_plan() {
        let up = vec![
            change(
                Phase::Storage,
                orchestrate_network::KIND_EXISTING_VPC,
                "vpc-0123456789abcdef0 (existing, not managed)",
                Action::NoChange,
            ),
            change(
                Phase::Storage,
                orchestrate_network::KIND_EXISTING_SUBNET,
                "subnet-0123456789abcdef1 (private, existing, not managed)",
                Action::NoChange,
            ),
            change(
                Phase::Storage,
                orchestrate_network::KIND_SECURITY_GROUP,
                "demo-alb",
                Action::NoChange,
            ),
        ];
        let all = plan_from(up, TeardownScope::All);
        let kinds: Vec<&str> = all.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, [orchestrate_network::KIND_SECURITY_GROUP]);
    }

    #[test]
    fn final_snapshot_names_are_valid_rds_identifiers() {
        let when = time::macros::datetime!(2026-11-29 18:05:09 UTC);
        let name = final_snapshot_name("demo", when);
        assert_eq!(name, "demo-final-20261129180509");
        assert!(name.len() <= 255);
        assert!(name.starts_with(|c: char| c.is_ascii_alphabetic()));
        assert!(!name.contains("--") && !name.ends_with('-'));
    }
}
