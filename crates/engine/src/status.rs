//! `status`: every resource of the graph and AWS's own word on it, read cheaply — batched
//! and concurrent, one call per resource family where AWS allows it (EC2 by DescribeTags,
//! secrets by one tag-filtered ListSecrets, ECS services in one DescribeServices), never a
//! secret value. An absent or half-built deployment is simply shown as such.
//!
//! Budget: at most 20 AWS calls for a full deployment (pinned by an end-to-end test on the
//! emulator's call accounting).

use orchestrate_airflow::Component;
use orchestrate_core::{Phase, StatusRow};

use crate::Engine;
use crate::error::{EngineError, step};

/// Every resource of the deployment with its state, in graph order (phase 1 first), and the
/// ALB's DNS name while there is an ALB (read by the same DescribeLoadBalancers).
///
/// # Errors
/// The first read that fails (never "not found": that is an `absent` row).
pub async fn status(engine: &Engine) -> Result<(Vec<StatusRow>, Option<String>), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let (
        network,
        secrets,
        roles,
        logs,
        repositories,
        database,
        cache,
        discovery,
        services,
        lb,
        scaling,
        alarms,
        domain,
    ) = tokio::try_join!(
        async {
            orchestrate_network::status(&aws.ec2, cx)
                .await
                .map_err(step("read the network"))
        },
        async {
            orchestrate_secrets::status(&aws.secrets, cx)
                .await
                .map_err(step("read the secrets"))
        },
        async {
            orchestrate_iam::status(&aws.iam, cx, &engine.region())
                .await
                .map_err(step("read the IAM roles"))
        },
        async {
            orchestrate_logs::status(&aws.logs, cx)
                .await
                .map_err(step("read the log groups"))
        },
        async {
            orchestrate_registry::status(&aws.ecr, cx)
                .await
                .map_err(step("read the ECR repositories"))
        },
        database(engine),
        cache(engine),
        async {
            orchestrate_discovery::status(&aws.discovery, cx)
                .await
                .map_err(step("read the Cloud Map namespace and service"))
        },
        services(engine),
        async {
            orchestrate_loadbalancer::status(&aws.elbv2, cx)
                .await
                .map_err(step("read the load balancer"))
        },
        autoscaling(engine),
        crate::alarms::status_rows(engine),
        domain(engine),
    )?;
    let (cluster, services) = services;
    let dns_name = lb.dns_name;
    let lb = lb.rows;
    let (namespace, discovery_service): (Vec<StatusRow>, Vec<StatusRow>) = discovery
        .into_iter()
        .partition(|r| r.phase == Phase::Storage);
    let mut rows = Vec::new();
    // An existing network is shown beside orchestrate's security groups once they exist (an
    // undeployed deployment stays "not deployed"); it is used, not managed: no call reads it.
    if let Some(given) = engine.spec.network.existing()
        && !network.is_empty()
    {
        let unmanaged = "existing (not managed)";
        rows.push(StatusRow::new(
            Phase::Storage,
            orchestrate_network::KIND_EXISTING_VPC,
            given.vpc_id,
            unmanaged,
            true,
        ));
        for id in given
            .private_subnet_ids
            .iter()
            .chain(given.public_subnet_ids)
        {
            rows.push(StatusRow::new(
                Phase::Storage,
                orchestrate_network::KIND_EXISTING_SUBNET,
                id,
                unmanaged,
                true,
            ));
        }
    }
    for part in [
        network,
        secrets,
        roles,
        logs,
        repositories,
        database,
        cache,
        namespace,
        cluster,
        lb,
        domain,
        discovery_service,
        services,
        scaling,
        alarms,
    ] {
        rows.extend(part);
    }
    rows.sort_by_key(|r| r.phase);
    Ok((rows, dns_name))
}

/// The certificate and the alias record of a deployment on a domain; nothing (and no call)
/// without `load_balancer.domain` and `hosted_zone_id`. The certificate orchestrate requests
/// is found as `up` finds it (ListCertificates, then this deployment's tag); a team's own
/// `certificate_arn` is described and shown as not managed. The alias is ours when it is an
/// `A` alias to the deployment's ALB; any other record at the name is shown as a conflict.
async fn domain(engine: &Engine) -> Result<Vec<StatusRow>, EngineError> {
    use orchestrate_domain::{certificate, record};
    let (aws, cx) = (&engine.aws, &engine.cx);
    let graph = engine.graph(&[]);
    let known = crate::graph::Known::default();
    let mut rows = Vec::new();
    if let Some(desired) = graph.certificate(&known) {
        let found = certificate::find(&aws.acm, cx, &desired.domain)
            .await
            .map_err(step("read the domain's certificate"))?;
        rows.push(match found.ours.first() {
            Some(c) => StatusRow::new(
                Phase::ApiServer,
                certificate::KIND,
                &desired.domain,
                c.status.to_lowercase(),
                c.status == "ISSUED",
            ),
            None => StatusRow::absent(Phase::ApiServer, certificate::KIND, &desired.domain),
        });
    } else if let Some(arn) = &engine.spec.load_balancer.certificate_arn {
        let given = certificate::describe(&aws.acm, arn)
            .await
            .map_err(step("read the given certificate"))?;
        rows.push(match given {
            Some(c) => StatusRow::new(
                Phase::ApiServer,
                certificate::KIND,
                arn,
                format!("{} (given, not managed)", c.status.to_lowercase()),
                c.status == "ISSUED",
            ),
            None => StatusRow::new(
                Phase::ApiServer,
                certificate::KIND,
                arn,
                "not found (given, not managed)",
                false,
            ),
        });
    }
    if let Some(alias) = graph.alias_record(&known) {
        let records = record::find_all(&aws.route53, &alias.zone_id, &alias.name)
            .await
            .map_err(step("read the domain's alias record"))?;
        let ours = records.iter().find_map(|r| {
            r.alias
                .as_ref()
                .filter(|a| {
                    r.record_type == "A"
                        && record::is_alb_of(&a.dns_name, &alias.load_balancer_name)
                })
                .map(|a| record::normalize(&a.dns_name))
        });
        let other = records
            .iter()
            .find(|r| r.record_type == "A" || r.record_type == "CNAME");
        rows.push(match (ours, other) {
            (Some(target), _) => StatusRow::new(
                Phase::ApiServer,
                record::ALIAS_KIND,
                &alias.name,
                format!("alias to {target}"),
                true,
            ),
            (None, Some(other)) => StatusRow::new(
                Phase::ApiServer,
                record::ALIAS_KIND,
                &alias.name,
                format!("taken by another {} record", other.record_type),
                false,
            ),
            (None, None) => StatusRow::absent(Phase::ApiServer, record::ALIAS_KIND, &alias.name),
        });
    }
    Ok(rows)
}

async fn database(engine: &Engine) -> Result<Vec<StatusRow>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let id = cx.names.db_instance();
    let group = cx
        .names
        .subnet_group(orchestrate_database::SUBNET_GROUP_KIND);
    let instance = orchestrate_database::instance::find(&aws.rds, &id)
        .await
        .map_err(step("read the RDS instance"))?;
    let mut rows = Vec::new();
    // An instance names its subnet group: one call covers both while it exists.
    let group_exists = match &instance {
        Some(_) => true,
        None => orchestrate_database::subnet_group::find(&aws.rds, &group)
            .await
            .map_err(step("read the RDS subnet group"))?
            .is_some(),
    };
    rows.push(if group_exists {
        StatusRow::new(
            Phase::Storage,
            orchestrate_database::subnet_group::KIND,
            &group,
            "ok",
            true,
        )
    } else {
        StatusRow::absent(
            Phase::Storage,
            orchestrate_database::subnet_group::KIND,
            &group,
        )
    });
    rows.push(match instance {
        Some(i) => {
            let healthy = i.status == "available";
            StatusRow::new(
                Phase::Storage,
                orchestrate_database::instance::KIND,
                &id,
                i.status,
                healthy,
            )
        }
        None => StatusRow::absent(Phase::Storage, orchestrate_database::instance::KIND, &id),
    });
    Ok(rows)
}

async fn cache(engine: &Engine) -> Result<Vec<StatusRow>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let id = cx.names.replication_group();
    let group = cx.names.subnet_group(orchestrate_cache::SUBNET_GROUP_KIND);
    let (replication, subnets) = tokio::try_join!(
        async {
            orchestrate_cache::replication_group::state(&aws.elasticache, &id)
                .await
                .map_err(step("read the Valkey replication group"))
        },
        async {
            orchestrate_cache::subnet_group::find(&aws.elasticache, &group)
                .await
                .map_err(step("read the cache subnet group"))
        },
    )?;
    Ok(vec![
        match subnets {
            Some(_) => StatusRow::new(
                Phase::Storage,
                orchestrate_cache::subnet_group::KIND,
                &group,
                "ok",
                true,
            ),
            None => StatusRow::absent(
                Phase::Storage,
                orchestrate_cache::subnet_group::KIND,
                &group,
            ),
        },
        match replication {
            Some(state) => {
                let healthy = state == "available";
                StatusRow::new(
                    Phase::Storage,
                    orchestrate_cache::replication_group::KIND,
                    &id,
                    state,
                    healthy,
                )
            }
            None => StatusRow::absent(
                Phase::Storage,
                orchestrate_cache::replication_group::KIND,
                &id,
            ),
        },
    ])
}

async fn services(engine: &Engine) -> Result<(Vec<StatusRow>, Vec<StatusRow>), EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let cluster_name = cx.names.cluster();
    let cluster = orchestrate_ecs::cluster::find(&aws.ecs, &cluster_name)
        .await
        .map_err(|e| EngineError::ecs("read the ECS cluster", e))?;
    let cluster_row = match &cluster {
        Some(c) if c.is_active() => StatusRow::new(
            Phase::ApiServer,
            orchestrate_ecs::cluster::KIND,
            &cluster_name,
            "ACTIVE",
            true,
        ),
        _ => StatusRow::absent(
            Phase::ApiServer,
            orchestrate_ecs::cluster::KIND,
            &cluster_name,
        ),
    };
    let components: Vec<Component> = Component::ALL
        .iter()
        .copied()
        .filter(|c| c.is_service())
        .collect();
    let names: Vec<String> = components
        .iter()
        .map(|c| cx.names.service(c.name()))
        .collect();
    if cluster_row.is_absent() {
        let rows = components
            .iter()
            .zip(&names)
            .map(|(c, n)| StatusRow::absent(c.phase(), orchestrate_ecs::service::KIND, n))
            .collect();
        return Ok((vec![cluster_row], rows));
    }
    let services = orchestrate_ecs::describe_services(&aws.ecs, &cluster_name, &names)
        .await
        .map_err(|e| EngineError::ecs("read the ECS services", e))?;
    let rows = components
        .iter()
        .zip(services)
        .map(|(component, s)| {
            if s.status == "MISSING" || s.status == "INACTIVE" {
                return StatusRow::absent(
                    component.phase(),
                    orchestrate_ecs::service::KIND,
                    &s.name,
                );
            }
            let healthy = s.status == "ACTIVE" && s.is_steady();
            let state = format!(
                "{} {}/{} running{}; {}",
                s.status.to_lowercase(),
                s.running_count,
                s.desired_count,
                s.task_definition
                    .as_deref()
                    .map(|td| format!(" {}", orchestrate_ecs::revision_label(td)))
                    .unwrap_or_default(),
                s.deployments_line()
            );
            StatusRow::new(
                component.phase(),
                orchestrate_ecs::service::KIND,
                &s.name,
                state,
                healthy,
            )
            .with_service(orchestrate_core::ServiceCounts {
                running: s.running_count,
                desired: s.desired_count,
                revision: s
                    .task_definition
                    .as_deref()
                    .and_then(|arn| arn.rsplit(':').next())
                    .and_then(|rev| rev.parse().ok()),
            })
        })
        .collect();
    Ok((vec![cluster_row], rows))
}

async fn autoscaling(engine: &Engine) -> Result<Vec<StatusRow>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let service = cx.names.service(Component::Worker.name());
    let resource_id = orchestrate_ecs::autoscaling::resource_id(&cx.names.cluster(), &service);
    let observed = orchestrate_ecs::autoscaling::find(&aws.autoscaling, &resource_id)
        .await
        .map_err(|e| EngineError::ecs("read the worker's autoscaling", e))?;
    let mut rows = vec![match &observed.target {
        Some(t) => StatusRow::new(
            Phase::Worker,
            orchestrate_ecs::autoscaling::TARGET_KIND,
            &resource_id,
            format!("{}..{} tasks", t.min, t.max),
            true,
        ),
        None => StatusRow::absent(
            Phase::Worker,
            orchestrate_ecs::autoscaling::TARGET_KIND,
            &resource_id,
        ),
    }];
    for policy in &observed.policies {
        rows.push(StatusRow::new(
            Phase::Worker,
            orchestrate_ecs::autoscaling::POLICY_KIND,
            &policy.name,
            "ok",
            true,
        ));
    }
    Ok(rows)
}
