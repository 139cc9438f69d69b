use std::sync::Arc;
use std::time::Duration;

use orchestrate_core::progress::Recorder;
use orchestrate_core::{Event, Names, Phase, ReporterExt};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn applying(at: u64, kind: &str, name: &str, action: &str) -> Stamp {
    Stamp {
        at: ms(at),
        event: Event::Applying {
            kind: kind.into(),
            name: name.into(),
            action: action.into(),
        },
    }
}

fn waiting(at: u64, kind: &str, name: &str) -> Stamp {
    Stamp {
        at: ms(at),
        event: Event::Waiting {
            kind: kind.into(),
            name: name.into(),
            state: "creating".into(),
        },
    }
}

fn ready(at: u64, kind: &str, name: &str) -> Stamp {
    Stamp {
        at: ms(at),
        event: Event::Ready {
            kind: kind.into(),
            name: name.into(),
        },
    }
}

fn note(at: u64) -> Stamp {
    Stamp {
        at: ms(at),
        event: Event::Note {
            kind: "x".into(),
            message: "m".into(),
        },
    }
}

/// A small run of deployment `demo`: a VPC (no ready event), RDS and an ALB in parallel, a
/// task definition, the migration, the api-server service, then the scheduler.
fn run() -> Vec<Stamp> {
    vec![
        applying(0, "ec2/vpc", "demo", "create"),
        applying(10, "rds/db-instance", "demo-metadata", "create"),
        applying(12, "elbv2/load-balancer", "demo", "create"),
        waiting(15, "rds/db-instance", "demo-metadata"),
        waiting(16, "elbv2/load-balancer", "demo"),
        ready(300, "elbv2/load-balancer", "demo"),
        ready(600, "rds/db-instance", "demo-metadata"),
        applying(610, "ecs/task-definition", "demo-migration", "register"),
        ready(611, "ecs/task-definition", "demo-migration:1"),
        ready(612, "ecs/task-definition", "demo-api-server:4"),
        applying(
            615,
            "ecs/task",
            "arn:aws:ecs:us-east-1:1:task-definition/demo-migration:1",
            "run",
        ),
        waiting(620, "ecs/task", "0123abcd"),
        ready(700, "ecs/task", "0123abcd"),
        note(701),
        applying(705, "ecs/service", "demo-api-server", "create"),
        waiting(706, "ecs/service", "demo-api-server"),
        ready(800, "ecs/service", "demo-api-server"),
        applying(805, "ecs/service", "demo-scheduler", "create"),
        ready(900, "ecs/service", "demo-scheduler"),
        // Found ready, never acted on: no bar.
        ready(901, "logs/log-group", "/orchestrate/demo"),
    ]
}

fn chart() -> Chart {
    Chart::for_run(&run(), ms(950), &Names::new("demo"))
}

fn bar<'a>(chart: &'a Chart, kind: &str) -> &'a Bar {
    chart
        .bars
        .iter()
        .find(|b| b.kind == kind)
        .unwrap_or_else(|| panic!("a {kind} bar"))
}

#[test]
fn one_bar_per_resource_acted_on_with_second_names_folded() {
    let chart = chart();
    let labels: Vec<String> = chart.bars.iter().map(Bar::label).collect();
    assert_eq!(
        labels,
        [
            "ec2/vpc demo",
            "rds/db-instance demo-metadata",
            "elbv2/load-balancer demo",
            "ecs/task-definition demo-migration",
            "ecs/task demo-migration:1",
            "ecs/service demo-api-server",
            "ecs/service demo-scheduler",
        ]
    );
    let task = bar(&chart, "ecs/task");
    assert_eq!(
        (task.start, task.wait, task.end),
        (ms(615), Some(ms(620)), ms(700))
    );
    assert!(task.reported_end);
    assert_eq!(task.phase, Some(Phase::ApiServer));
    let definition = bar(&chart, "ecs/task-definition");
    assert_eq!((definition.end, definition.wait), (ms(611), None));
}

#[test]
fn a_bar_without_ready_ends_at_the_next_event_and_is_marked_estimated() {
    let chart = chart();
    let vpc = bar(&chart, "ec2/vpc");
    assert_eq!((vpc.start, vpc.end), (ms(0), ms(10)));
    assert!(!vpc.reported_end);
    let rds = bar(&chart, "rds/db-instance");
    assert!(rds.reported_end);
    assert_eq!((rds.wait, rds.end), (Some(ms(15)), ms(600)));
    // The last event of a run ends at the end of the run.
    let lone = Chart::build(&[applying(5, "k", "n", "create")], ms(40), |_, _| None);
    assert_eq!(lone.bars[0].end, ms(40));
}

#[test]
fn the_critical_path_walks_back_from_the_last_bar() {
    let chart = chart();
    let path: Vec<String> = chart
        .critical_path()
        .into_iter()
        .map(|i| chart.bars[i].label())
        .collect();
    // The ALB ended before RDS, so RDS — not the ALB — precedes the task definition.
    assert_eq!(
        path,
        [
            "ec2/vpc demo",
            "rds/db-instance demo-metadata",
            "ecs/task-definition demo-migration",
            "ecs/task demo-migration:1",
            "ecs/service demo-api-server",
            "ecs/service demo-scheduler",
        ]
    );
    assert!(!bar(&chart, "elbv2/load-balancer").critical);
    assert!(bar(&chart, "rds/db-instance").critical);
    assert_eq!(
        chart.critical_total(),
        ms(10) + ms(590) + ms(1) + ms(85) + ms(95) + ms(95)
    );
    assert_eq!(Chart::default().critical_path(), Vec::<usize>::new());
}

#[test]
fn groups_follow_the_phases_and_longest_is_sorted() {
    let chart = chart();
    let groups: Vec<(Option<Phase>, usize)> = chart
        .groups()
        .iter()
        .map(|(p, bars)| (*p, bars.len()))
        .collect();
    assert_eq!(
        groups,
        [
            (Some(Phase::Storage), 2),
            (Some(Phase::ApiServer), 4),
            (Some(Phase::Scheduler), 1)
        ]
    );
    let longest: Vec<String> = chart.longest(3).iter().map(|b| b.label()).collect();
    assert_eq!(
        longest,
        [
            "rds/db-instance demo-metadata",
            "elbv2/load-balancer demo",
            "ecs/service demo-api-server"
        ]
    );
}

#[test]
fn the_page_is_self_contained_and_escaped() {
    let mut stamps = run();
    stamps.push(applying(910, "ecr/image", "<demo>&\"x\"", "copy"));
    let html = Chart::for_run(&stamps, ms(950), &Names::new("demo")).html("demo <up>");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));
    for external in ["http:", "https:", "src=", "<link", "<script", "@import"] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(html.contains("demo &lt;up&gt;"));
    assert!(html.contains("&lt;demo&gt;&amp;&quot;x&quot;"));
    assert!(!html.contains("<demo>"));
    assert_eq!(html.matches("<g class=\"bar").count(), 8);
    // The image copy ends the run (no ready event: at its end), after the six of the run.
    assert_eq!(html.matches("<g class=\"bar critical").count(), 7);
    assert!(html.contains("no phase (images)"));
    let phase1 = html.find("phase 1 storage").expect("phase 1 group");
    let phase2 = html.find("phase 2 api-server").expect("phase 2 group");
    assert!(phase1 < phase2);
}

#[test]
fn the_timeline_passes_every_event_on_and_stamps_it() {
    let inner = Recorder::default();
    let timeline = Timeline::new(Arc::new(inner.clone()));
    timeline.applying("ec2/vpc", "demo", "create");
    std::thread::sleep(Duration::from_millis(3));
    timeline.ready("ec2/vpc", "demo");
    assert_eq!(inner.events().len(), 2);
    let stamps = timeline.stamps();
    assert_eq!(stamps.len(), 2);
    assert!(stamps[1].at >= stamps[0].at + Duration::from_millis(3));
    let chart = timeline.chart(&Names::new("demo"));
    assert_eq!(chart.bars.len(), 1);
    assert!(chart.bars[0].reported_end && chart.bars[0].critical);
}

#[test]
fn the_graph_critical_path_follows_the_needs_edges() {
    use crate::graph::Node;
    let duration = |node: Node| match node {
        Node::Database => 600.0,
        Node::Cache => 480.0,
        Node::LoadBalancer => 150.0,
        Node::Migration => 90.0,
        Node::ApiServerService
        | Node::SchedulerServices
        | Node::TriggererService
        | Node::WorkerService => 30.0,
        _ => 0.0,
    };
    let (length, path) = graph_critical_path(Phase::Worker, duration);
    assert_eq!(length, 600.0 + 90.0 + 4.0 * 30.0);
    assert_eq!(path.first(), Some(&Node::Network));
    assert!(path.contains(&Node::Database) && !path.contains(&Node::Cache));
    assert_eq!(path.last(), Some(&Node::WorkerService));
    for pair in path.windows(2) {
        assert!(pair[1].needs().contains(&pair[0]), "{pair:?}");
    }
    // Phase 1 only: the database alone; a slower cache takes its place.
    assert_eq!(graph_critical_path(Phase::Storage, duration).0, 600.0);
    let slow_cache = |node: Node| {
        if node == Node::Cache {
            900.0
        } else {
            duration(node)
        }
    };
    let (length, path) = graph_critical_path(Phase::ApiServer, slow_cache);
    assert_eq!(length, 900.0 + 90.0 + 30.0);
    assert!(path.contains(&Node::Cache));
}
