//! What exists of a deployment, read through the AWS SDK (never orchestrate's own code): every
//! resource of phases 1-5 by kind, with the identifiers AWS gave it, so that a duplicate, a
//! leftover or a re-created resource shows. The run lease's secret is not a resource of the
//! deployment and is left out.

use std::collections::BTreeMap;

/// The Airflow components, each an ECS service and task-definition family `<name>-<c>`.
pub const COMPONENTS: [&str; 5] = [
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
];

pub fn ec2_filter(name: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("tag:orchestrate:deployment")
        .values(name)
        .build()
}

pub fn sorted<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v
}

/// Every phase-1 resource of deployment `name`, kind -> sorted identifiers (ids, ARNs and the
/// identifiers AWS gives a new resource, so a re-created resource shows as a change).
pub async fn phase1_ids(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let vpcs = ec2
        .describe_vpcs()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("vpcs");
    out.insert(
        "vpc",
        sorted(
            vpcs.vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(str::to_string)),
        ),
    );
    let subnets = ec2
        .describe_subnets()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("subnets");
    out.insert(
        "subnet",
        sorted(
            subnets
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_id().map(str::to_string)),
        ),
    );
    let igws = ec2
        .describe_internet_gateways()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("igws");
    out.insert(
        "internet-gateway",
        sorted(
            igws.internet_gateways()
                .iter()
                .filter_map(|g| g.internet_gateway_id().map(str::to_string)),
        ),
    );
    let nats = ec2
        .describe_nat_gateways()
        .filter(ec2_filter(name))
        .send()
        .await
        .expect("nats");
    out.insert(
        "nat-gateway",
        sorted(
            nats.nat_gateways()
                .iter()
                // moto ignores DescribeNatGateways' tag filter: check the tags here.
                .filter(|n| {
                    n.tags().iter().any(|t| {
                        t.key() == Some("orchestrate:deployment") && t.value() == Some(name)
                    })
                })
                .filter(|n| {
                    !matches!(
                        n.state().map(|s| s.as_str()),
                        Some("deleted" | "deleting" | "failed")
                    )
                })
                .filter_map(|n| n.nat_gateway_id().map(str::to_string)),
        ),
    );
    let eips = ec2
        .describe_addresses()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("eips");
    out.insert(
        "elastic-ip",
        sorted(
            eips.addresses()
                .iter()
                .filter_map(|a| a.allocation_id().map(str::to_string)),
        ),
    );
    let rts = ec2
        .describe_route_tables()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("route tables");
    out.insert(
        "route-table",
        sorted(
            rts.route_tables()
                .iter()
                .filter_map(|r| r.route_table_id().map(str::to_string)),
        ),
    );
    let sgs = ec2
        .describe_security_groups()
        .filters(ec2_filter(name))
        .send()
        .await
        .expect("security groups");
    out.insert(
        "security-group",
        sorted(
            sgs.security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string)),
        ),
    );

    let rds = aws_sdk_rds::Client::new(sdk);
    let dbs = rds
        .describe_db_instances()
        .send()
        .await
        .expect("db instances");
    out.insert(
        "db-instance",
        sorted(
            dbs.db_instances()
                .iter()
                .filter(|d| d.db_instance_identifier() == Some(&format!("{name}-metadata")))
                .map(|d| {
                    format!(
                        "{} {} {}",
                        d.db_instance_identifier().unwrap_or("?"),
                        d.db_instance_arn().unwrap_or("?"),
                        d.dbi_resource_id().unwrap_or("?")
                    )
                }),
        ),
    );
    let cache = aws_sdk_elasticache::Client::new(sdk);
    let groups = cache
        .describe_replication_groups()
        .send()
        .await
        .expect("replication groups");
    out.insert(
        "replication-group",
        sorted(
            groups
                .replication_groups()
                .iter()
                .filter(|g| g.replication_group_id() == Some(&format!("{name}-broker")))
                .map(|g| {
                    format!(
                        "{} {}",
                        g.replication_group_id().unwrap_or("?"),
                        g.arn().unwrap_or("?")
                    )
                }),
        ),
    );
    out.insert("secret", secret_arns(sdk, name, false).await);
    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    let namespaces = sd.list_namespaces().send().await.expect("namespaces");
    out.insert(
        "namespace",
        sorted(
            namespaces
                .namespaces()
                .iter()
                .filter(|n| n.name() == Some(&format!("{name}.orchestrate.internal")))
                .map(|n| format!("{} {}", n.id().unwrap_or("?"), n.arn().unwrap_or("?"))),
        ),
    );
    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam.list_roles().send().await.expect("roles");
    out.insert(
        "role",
        sorted(
            roles
                .roles()
                .iter()
                .filter(|r| r.role_name().starts_with(&format!("{name}-")))
                .map(|r| format!("{} {} {}", r.role_name(), r.role_id(), r.arn())),
        ),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/orchestrate/{name}"))
        .send()
        .await
        .expect("log groups");
    out.insert(
        "log-group",
        sorted(
            groups
                .log_groups()
                .iter()
                .filter(|g| {
                    g.log_group_name().is_some_and(|n| {
                        n == format!("/orchestrate/{name}")
                            || n.starts_with(&format!("/orchestrate/{name}/"))
                    })
                })
                .map(|g| {
                    format!(
                        "{} {}",
                        g.log_group_name().unwrap_or("?"),
                        g.arn().unwrap_or("?")
                    )
                }),
        ),
    );
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let repos = ecr
        .describe_repositories()
        .send()
        .await
        .expect("repositories");
    out.insert(
        "repository",
        sorted(
            repos
                .repositories()
                .iter()
                .filter(|r| {
                    r.repository_name()
                        .is_some_and(|n| n.starts_with(&format!("{name}/")))
                })
                .map(|r| {
                    format!(
                        "{} {}",
                        r.repository_arn().unwrap_or("?"),
                        r.created_at().map(|t| t.secs()).unwrap_or_default()
                    )
                }),
        ),
    );
    out
}

/// How many of each phase-1 resource a two-AZ, single-NAT deployment has.
pub fn expected_phase1_counts() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpc", 1),
        ("subnet", 4),
        ("internet-gateway", 1),
        ("nat-gateway", 1),
        ("elastic-ip", 1),
        ("route-table", 2),
        ("security-group", 5),
        ("secret", 8),
        ("db-instance", 1),
        ("replication-group", 1),
        ("namespace", 1),
        ("role", 2),
        ("log-group", 2),
        ("repository", 2),
    ])
}

pub fn counts(ids: &BTreeMap<&'static str, Vec<String>>) -> BTreeMap<&'static str, usize> {
    ids.iter().map(|(k, v)| (*k, v.len())).collect()
}

/// ARNs of the deployment's secrets; with `pending`, those scheduled for deletion too.
pub async fn secret_arns(sdk: &aws_config::SdkConfig, name: &str, pending: bool) -> Vec<String> {
    secrets(sdk, name, pending)
        .await
        .into_iter()
        .map(|(arn, _)| arn)
        .collect()
}

/// (ARN, scheduled for deletion) of every secret of deployment `name`.
pub async fn secrets(
    sdk: &aws_config::SdkConfig,
    name: &str,
    pending: bool,
) -> Vec<(String, bool)> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let list = client
        .list_secrets()
        .include_planned_deletion(pending)
        .max_results(100)
        .send()
        .await
        .expect("list secrets");
    let prefix = format!("orchestrate/{name}/");
    let mut out: Vec<(String, bool)> = list
        .secret_list()
        .iter()
        .filter(|s| {
            s.name()
                .is_some_and(|n| n.starts_with(&prefix) && !super::is_lease_secret(n))
        })
        .map(|s| {
            (
                s.arn().unwrap_or("?").to_string(),
                s.deleted_date().is_some(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Phase 2-5 resources of deployment `name`, kind -> sorted identifiers. Only what exists:
/// ACTIVE/DRAINING ECS services, ACTIVE clusters and task definitions, ALB, target group,
/// listeners, Cloud Map services of the deployment's namespace, the worker's scalable target
/// and scaling policies.
pub async fn phase2to5_ids(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = ecs
        .describe_clusters()
        .clusters(name)
        .send()
        .await
        .expect("describe clusters");
    out.insert(
        "cluster",
        sorted(
            clusters
                .clusters()
                .iter()
                .filter(|c| c.status() == Some("ACTIVE"))
                .filter_map(|c| c.cluster_arn().map(str::to_string)),
        ),
    );
    // Asked even of an INACTIVE cluster (moto deletes a cluster that still has services).
    let mut services = Vec::new();
    if let Ok(described) = ecs
        .describe_services()
        .cluster(name)
        .set_services(Some(
            COMPONENTS.iter().map(|c| format!("{name}-{c}")).collect(),
        ))
        .send()
        .await
    {
        services.extend(
            described
                .services()
                .iter()
                .filter(|s| matches!(s.status(), Some("ACTIVE" | "DRAINING")))
                .filter_map(|s| s.service_arn().map(str::to_string)),
        );
    }
    out.insert("ecs-service", sorted(services));
    let tds = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .expect("task definitions");
    out.insert(
        "task-definition",
        sorted(
            tds.task_definition_arns()
                .iter()
                .filter(|arn| arn.contains(&format!(":task-definition/{name}-")))
                .cloned(),
        ),
    );

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let lbs = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    let lb_arns: Vec<String> = lbs
        .load_balancers()
        .iter()
        .filter(|l| l.load_balancer_name() == Some(&format!("{name}-alb")))
        .filter_map(|l| l.load_balancer_arn().map(str::to_string))
        .collect();
    let mut listeners = Vec::new();
    for arn in &lb_arns {
        let found = elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .expect("listeners");
        listeners.extend(
            found
                .listeners()
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_string)),
        );
    }
    out.insert("load-balancer", sorted(lb_arns));
    out.insert("listener", sorted(listeners));
    let tgs = elb
        .describe_target_groups()
        .send()
        .await
        .expect("target groups");
    out.insert(
        "target-group",
        sorted(
            tgs.target_groups()
                .iter()
                .filter(|t| t.target_group_name() == Some(&format!("{name}-api")))
                .filter_map(|t| t.target_group_arn().map(str::to_string)),
        ),
    );

    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    let namespaces = sd.list_namespaces().send().await.expect("namespaces");
    let namespace_id = namespaces
        .namespaces()
        .iter()
        .find(|n| n.name() == Some(&format!("{name}.orchestrate.internal")))
        .and_then(|n| n.id().map(str::to_string));
    let mut sd_services = Vec::new();
    if let Some(namespace_id) = namespace_id {
        let all = sd.list_services().send().await.expect("cloud map services");
        for summary in all.services() {
            let Some(id) = summary.id() else { continue };
            let service = sd
                .get_service()
                .id(id)
                .send()
                .await
                .expect("get cloud map service");
            if service
                .service()
                .and_then(|s| s.namespace_id())
                .is_some_and(|n| n == namespace_id)
            {
                sd_services.push(format!("{} {id}", summary.name().unwrap_or("?")));
            }
        }
    }
    out.insert("cloud-map-service", sorted(sd_services));

    let scaling = aws_sdk_applicationautoscaling::Client::new(sdk);
    let resource_id = format!("service/{name}/{name}-worker");
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids(&resource_id)
        .send()
        .await
        .expect("scalable targets");
    out.insert(
        "scalable-target",
        sorted(
            targets
                .scalable_targets()
                .iter()
                .map(|t| t.resource_id().to_string()),
        ),
    );
    let policies = scaling
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&resource_id)
        .send()
        .await
        .expect("scaling policies");
    out.insert(
        "scaling-policy",
        sorted(
            policies
                .scaling_policies()
                .iter()
                .map(|p| p.policy_arn().to_string()),
        ),
    );
    out
}

/// How many of each phase 2-5 resource a full deployment has.
pub fn expected_phase2to5_counts() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("cluster", 1),
        ("ecs-service", 5),
        // One revision per service family plus the migration's.
        ("task-definition", 6),
        ("load-balancer", 1),
        ("listener", 1),
        ("target-group", 1),
        ("cloud-map-service", 1),
        ("scalable-target", 1),
        ("scaling-policy", 2),
    ])
}

/// Every resource of deployment `name`, phases 1-5, kind -> sorted identifiers.
pub async fn all_ids(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut all = phase1_ids(sdk, name).await;
    all.extend(phase2to5_ids(sdk, name).await);
    all
}

/// How many of each resource a full two-AZ, single-NAT deployment has.
pub fn expected_all_counts() -> BTreeMap<&'static str, usize> {
    let mut all = expected_phase1_counts();
    all.extend(expected_phase2to5_counts());
    all
}

/// The kinds whose count differs from `expected`, as `kind: found (expected n): ids`.
pub fn differences(
    found: &BTreeMap<&'static str, Vec<String>>,
    expected: &BTreeMap<&'static str, usize>,
) -> Vec<String> {
    expected
        .iter()
        .filter_map(|(kind, want)| {
            let ids = found.get(kind).cloned().unwrap_or_default();
            (ids.len() != *want)
                .then(|| format!("{kind}: {} (expected {want}): {ids:?}", ids.len()))
        })
        .collect()
}
