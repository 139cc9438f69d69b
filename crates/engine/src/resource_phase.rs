//! Which phase a resource belongs to, from its kind and name: what progress events carry
//! (`phase`, `phase_name`) with `--output json`.

use orchestrate_airflow::Component;
use orchestrate_core::{Names, Phase};

/// The phase of the resource `kind`/`name` of the deployment `names` describes, or `None` for
/// what belongs to no phase (an image, a one-off task of `orchestrate airflow`, a note).
///
/// Phase 1 owns the network, logs, repositories, secrets, roles, RDS, Valkey and the
/// namespace (and the alarms' topic); phase 2 the cluster, the load balancer, the Cloud Map
/// service and the alarms; an ECS
/// service or task definition belongs to its component's phase; the worker's autoscaling to
/// phase 5.
pub fn phase_of(names: &Names, kind: &str, name: &str) -> Option<Phase> {
    let service = kind.split('/').next().unwrap_or(kind);
    match kind {
        orchestrate_ecs::cluster::KIND
        | orchestrate_discovery::service::KIND
        | orchestrate_loadbalancer::alb::KIND
        | orchestrate_loadbalancer::target_group::KIND
        | orchestrate_loadbalancer::listener::KIND
        | orchestrate_alarms::alarm::KIND => return Some(Phase::ApiServer),
        orchestrate_discovery::namespace::KIND | orchestrate_alarms::topic::KIND => {
            return Some(Phase::Storage);
        }
        orchestrate_ecs::service::KIND | orchestrate_ecs::taskdef::KIND => {
            return Component::ALL
                .into_iter()
                .find(|c| names.service(c.name()) == name)
                .map(Component::phase);
        }
        orchestrate_ecs::autoscaling::TARGET_KIND | orchestrate_ecs::autoscaling::POLICY_KIND => {
            return Some(Phase::Worker);
        }
        _ => {}
    }
    match service {
        "ec2" | "logs" | "secretsmanager" | "iam" | "rds" | "elasticache" => Some(Phase::Storage),
        "ecr" if kind == orchestrate_registry::repository::KIND => Some(Phase::Storage),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_maps_to_its_phase_and_services_to_their_component() {
        let names = Names::new("demo");
        let cases = [
            ("ec2/vpc", "demo", Some(Phase::Storage)),
            ("rds/db-instance", "demo-metadata", Some(Phase::Storage)),
            (
                "servicediscovery/namespace",
                "demo.local",
                Some(Phase::Storage),
            ),
            ("ecs/cluster", "demo", Some(Phase::ApiServer)),
            ("cloudwatch/alarm", "demo-api-5xx", Some(Phase::ApiServer)),
            ("sns/topic", "demo-alarms", Some(Phase::Storage)),
            ("elbv2/load-balancer", "demo", Some(Phase::ApiServer)),
            (
                "ecs/task-definition",
                "demo-migration",
                Some(Phase::ApiServer),
            ),
            ("ecs/service", "demo-dag-processor", Some(Phase::Scheduler)),
            ("ecs/service", "demo-triggerer", Some(Phase::Triggerer)),
            ("ecs/service", "demo-worker", Some(Phase::Worker)),
            (
                "application-autoscaling/scalable-target",
                "x",
                Some(Phase::Worker),
            ),
            ("ecs/service", "other-worker", None),
            ("ecr/image", "demo/airflow:3", None),
        ];
        for (kind, name, phase) in cases {
            assert_eq!(phase_of(&names, kind, name), phase, "{kind} {name}");
        }
    }
}
