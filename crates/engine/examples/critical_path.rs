//! The simulated critical path of `up --phase N` on the emulator: the graph's edges
//! (`Node::needs`) with each node's duration taken from an awsim scenario. Used by
//! `scripts/bench.sh`; not part of the product.
//!
//!   cargo run --example critical_path -- SCENARIO.json|- PHASE
//!
//! Prints `<simulated seconds> <node (s)> > <node (s)> > ...`.

use orchestrate_core::Phase;
use orchestrate_engine::graph::Node;
use orchestrate_engine::timings::graph_critical_path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let scenario = match args.next().as_deref() {
        None | Some("-") => awsim::Scenario::default(),
        Some(path) => awsim::Scenario::from_json(&std::fs::read_to_string(path)?)?,
    };
    let phase = args
        .next()
        .and_then(|p| p.parse().ok())
        .and_then(Phase::from_number)
        .ok_or("usage: critical_path SCENARIO.json|- PHASE(1-5)")?;
    let d = &scenario.durations;
    // What each node waits on in the emulator. The network's own calls take no simulated
    // time; its NAT gateways are waited on beside RDS and never longer than it.
    let service = d.task_start + d.rollout_settle;
    let duration = |node: Node| match node {
        Node::Database => d.rds_create,
        Node::Cache => d.cache_create,
        Node::LoadBalancer => d.alb_create,
        Node::Migration => d.task_start + d.run_task_duration,
        Node::ApiServerService
        | Node::SchedulerServices
        | Node::TriggererService
        | Node::WorkerService => service,
        Node::Network
        | Node::LogGroups
        | Node::Repositories
        | Node::Secrets
        | Node::Roles
        | Node::Namespace
        | Node::Cluster
        | Node::DiscoveryService
        | Node::TaskDefinitions
        | Node::WorkerAutoscaling => 0.0,
        // The benchmark's spec (config/local.toml) sets no domain: no certificate, no alias.
        Node::Certificate | Node::DnsAlias => 0.0,
        // No `[alarms]` destination there either; alarms take no simulated time anyway.
        Node::AlarmTopic | Node::Alarms => 0.0,
    };
    let (length, path) = graph_critical_path(phase, duration);
    let nodes: Vec<String> = path
        .iter()
        .filter(|n| duration(**n) > 0.0)
        .map(|n| format!("{} ({:.0} s)", n.name(), duration(*n)))
        .collect();
    println!("{length:.1} {}", nodes.join(" > "));
    Ok(())
}
