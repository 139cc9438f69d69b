//! The graph's order and builders, pinned.

use super::*;

fn position(order: &[Node], node: Node) -> usize {
    order
        .iter()
        .position(|n| *n == node)
        .unwrap_or_else(|| panic!("{node:?} missing from the order"))
}

#[test]
fn every_node_comes_after_what_it_needs() {
    let order = Node::ALL;
    for node in order {
        for need in node.needs() {
            assert!(
                position(&order, *need) < position(&order, node),
                "{node:?} needs {need:?} but comes first"
            );
        }
    }
}

#[test]
fn phases_never_go_backwards_in_the_up_order() {
    let phases: Vec<Phase> = Node::ALL.iter().map(|n| n.phase()).collect();
    let mut sorted = phases.clone();
    sorted.sort();
    assert_eq!(phases, sorted);
}

#[test]
fn a_later_phase_never_needs_a_node_of_a_later_phase() {
    for node in Node::ALL {
        for need in node.needs() {
            assert!(need.phase() <= node.phase(), "{node:?} needs {need:?}");
        }
    }
}

#[test]
fn teardown_services_is_phases_5_to_2_in_reverse_and_never_touches_storage() {
    let order = teardown_order(TeardownScope::Services);
    assert!(order.iter().all(|n| n.phase() > Phase::Storage));
    assert_eq!(order.first(), Some(&Node::WorkerAutoscaling));
    assert_eq!(order.last(), Some(&Node::Cluster));
    assert!(!order.contains(&Node::Migration));
    // Services before what they use: the api-server service before its target group and
    // Cloud Map service, every service before the cluster.
    assert!(position(&order, Node::ApiServerService) < position(&order, Node::LoadBalancer));
    assert!(position(&order, Node::ApiServerService) < position(&order, Node::DiscoveryService));
    for service in [
        Node::ApiServerService,
        Node::SchedulerServices,
        Node::TriggererService,
        Node::WorkerService,
    ] {
        assert!(position(&order, service) < position(&order, Node::Cluster));
        assert!(position(&order, service) < position(&order, Node::TaskDefinitions));
    }
    let phases: Vec<Phase> = order.iter().map(|n| n.phase()).collect();
    let mut descending = phases.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(phases, descending, "phases 5 -> 2");
}

#[test]
fn teardown_all_deletes_each_node_after_everything_that_needs_it() {
    let order = teardown_order(TeardownScope::All);
    assert_eq!(order.len(), Node::ALL.len() - 1);
    for node in &order {
        for need in node.needs() {
            if *need == Node::Migration {
                continue;
            }
            assert!(
                position(&order, node.to_owned()) < position(&order, *need),
                "{node:?} must be deleted before {need:?}"
            );
        }
    }
    // Phase 1 comes last, the network at the very end.
    let first_storage = order
        .iter()
        .position(|n| n.phase() == Phase::Storage)
        .unwrap_or(order.len());
    assert!(
        order[first_storage..]
            .iter()
            .all(|n| n.phase() == Phase::Storage)
    );
    assert_eq!(order.last(), Some(&Node::Network));
}

#[test]
fn components_of_each_phase_are_its_services() {
    assert!(components_of(Phase::Storage).is_empty());
    assert_eq!(components_of(Phase::ApiServer), &[Component::ApiServer]);
    assert_eq!(
        components_of(Phase::Scheduler),
        &[Component::Scheduler, Component::DagProcessor]
    );
    assert_eq!(components_of(Phase::Worker), &[Component::Worker]);
    for phase in Phase::ALL {
        for c in components_of(phase) {
            assert_eq!(c.phase(), phase);
            assert!(c.is_service());
        }
    }
}

fn spec() -> Spec {
    let text = r#"
[deployment]
name = "demo"
region = "eu-west-1"

[components.worker]
count = 50

[components.worker.autoscaling]
min = 1
max = 4
"#;
    orchestrate_core::spec::load::parse_with_env(
        std::path::Path::new("orchestrate.toml"),
        text.to_string(),
        &BTreeMap::new(),
    )
    .expect("spec parses")
    .spec
}

#[test]
fn the_worker_count_is_clamped_into_its_autoscaling_range_for_up_and_plan_alike() {
    let spec = spec();
    let cx = Context::for_tests("demo");
    let graph = Graph::new(&spec, &cx, "eu-west-1", &["eu-west-1a".into()]);
    assert_eq!(graph.desired_count(Component::Worker), 4);
    let service = graph.service(&Known::default(), Component::Worker, NEW_REVISION);
    assert_eq!(service.desired_count, 4);
}

#[test]
fn iam_arns_are_deterministic_from_account_and_region() {
    let spec = spec();
    let cx = Context::for_tests("demo");
    let graph = Graph::new(&spec, &cx, "eu-west-1", &[]);
    let iam = graph.iam(Some("123456789012"));
    let text = serde_json::to_string(&iam.execution.policy).expect("json");
    assert!(
        text.contains("arn:aws:ecr:eu-west-1:123456789012:repository/demo/airflow"),
        "{text}"
    );
    assert!(
        text.contains("arn:aws:logs:eu-west-1:123456789012:log-group:/orchestrate/demo"),
        "{text}"
    );
}

#[test]
fn wiring_fills_what_is_known_and_leaves_placeholders_elsewhere() {
    let spec = spec();
    let cx = Context::for_tests("demo");
    let graph = Graph::new(&spec, &cx, "eu-west-1", &[]);
    let empty = graph.wiring(&Known::default());
    assert!(!empty.execution_role_arn.is_known());
    let (_, pending) = graph.task_definition(&empty, Component::Scheduler);
    assert!(pending, "an empty Known renders placeholders");
    let mut known = Known {
        account_id: Some("123456789012".into()),
        execution_role_arn: Some("arn:aws:iam::123456789012:role/x".into()),
        ..Known::default()
    };
    known
        .secret_arns
        .insert("fernet-key".into(), "arn:aws:secretsmanager:x".into());
    let wiring = graph.wiring(&known);
    assert!(wiring.execution_role_arn.is_known());
    assert!(wiring.account_id.is_known());
    assert_eq!(
        wiring.secrets.fernet_key,
        Ref::known("arn:aws:secretsmanager:x")
    );
    assert!(!wiring.task_role_arn.is_known());
}
