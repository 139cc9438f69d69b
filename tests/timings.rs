//! `up --timings`: the Gantt chart of a full `up` against the emulator, checked against what
//! the run reported it created and against what exists (AWS SDK): one bar per resource,
//! phases in order, phase 2's long poles started while phase 1 waits, the five longest bars
//! printed, and a self-contained page. Nothing here depends on how long anything took.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use awsim::Scenario;
use common::{SPEC, World};

/// One `<g class="bar ...">` of the chart.
#[derive(Debug, Clone)]
struct Bar {
    class: String,
    phase: u8,
    kind: String,
    name: String,
    start: u64,
    end: u64,
}

impl Bar {
    fn key(&self) -> (String, String) {
        (self.kind.clone(), self.name.clone())
    }
}

fn attribute(tag: &str, name: &str) -> String {
    let needle = format!("{name}=\"");
    let from = tag.find(&needle).expect(name) + needle.len();
    let to = tag[from..].find('"').expect("closing quote") + from;
    tag[from..to]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every bar of the page, in document order.
fn bars(html: &str) -> Vec<Bar> {
    html.match_indices("<g class=\"bar")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').expect("tag end")];
            Bar {
                class: attribute(tag, "class"),
                phase: attribute(tag, "data-phase").parse().expect("phase"),
                kind: attribute(tag, "data-kind"),
                name: attribute(tag, "data-name"),
                start: attribute(tag, "data-start-ms").parse().expect("start"),
                end: attribute(tag, "data-end-ms").parse().expect("end"),
            }
        })
        .collect()
}

/// The resources the run's progress lines (plain mode: `[hh:mm:ss]  create kind name`) say it
/// created, updated, registered, ran, copied, ...; a one-off task is named by its task
/// definition's `family:revision`.
fn acted_on(stderr: &str) -> BTreeSet<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("] ")?.1.trim_start();
            let (action, rest) = rest.split_once(' ')?;
            if matches!(action, "waiting" | "ready" | "note" | "delete") {
                return None;
            }
            let (kind, name) = rest.split_once(' ')?;
            if !kind.contains('/') {
                return None;
            }
            let name = match name.rsplit_once("task-definition/") {
                Some((_, label)) if kind == "ecs/task" => label,
                _ => name,
            };
            Some((kind.to_string(), name.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_timings_draws_one_bar_per_resource_grouped_by_phase_in_order() {
    // RDS takes three times its usual simulated time (within its deadline), so that phase 1
    // is still waiting on it when phase 2's early resources start (the run's order, not its
    // speed, is checked).
    let mut scenario = Scenario::default();
    scenario.durations.rds_create *= 3.0;
    let world = World::start(SPEC, scenario).await;
    let out = world.dir.path().join("out.html");
    let path = out.to_str().expect("utf-8 path");
    let run = world.run(&["up", "--phase", "5", "--timings", path]).await;
    run.expect_code(0);
    eprintln!("--- up --timings printed:\n{}", run.stdout);
    let html = std::fs::read_to_string(&out).expect("the chart was written");

    // Self-contained: one page, inline SVG, nothing fetched.
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.200}");
    assert!(html.contains("<svg"));
    for external in [
        "http://", "https://", "src=", "href=", "<link", "<script", "@import",
    ] {
        assert!(!html.contains(external), "{external} in the page");
    }

    // One bar per resource the run acted on.
    let bars = bars(&html);
    let mut seen = BTreeMap::new();
    for bar in &bars {
        assert!(
            seen.insert(bar.key(), bar.clone()).is_none(),
            "two bars for {:?}",
            bar.key()
        );
        assert!(bar.end >= bar.start, "{bar:?}");
    }
    let acted = acted_on(&run.stderr);
    assert!(
        acted.len() > 30,
        "a fresh full up acts on dozens: {acted:?}"
    );
    for key in &acted {
        assert!(
            seen.contains_key(key),
            "no bar for {key:?}; bars: {:?}",
            seen.keys()
        );
    }

    // What exists, read independently, has its bar.
    let sdk = world.sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk)
        .describe_db_instances()
        .send()
        .await
        .expect("describe RDS");
    let instance = rds.db_instances()[0]
        .db_instance_identifier()
        .expect("identifier")
        .to_string();
    let albs = aws_sdk_elasticloadbalancingv2::Client::new(&sdk)
        .describe_load_balancers()
        .send()
        .await
        .expect("describe ALBs");
    let alb = albs.load_balancers()[0]
        .load_balancer_name()
        .expect("ALB name")
        .to_string();
    let groups = aws_sdk_elasticache::Client::new(&sdk)
        .describe_replication_groups()
        .send()
        .await
        .expect("describe Valkey");
    let valkey = groups.replication_groups()[0]
        .replication_group_id()
        .expect("group id")
        .to_string();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let arns = ecs
        .list_services()
        .cluster("e2e")
        .send()
        .await
        .expect("list services")
        .service_arns()
        .to_vec();
    assert_eq!(arns.len(), 5, "{arns:?}");
    let services: Vec<String> = arns
        .iter()
        .map(|arn| arn.rsplit('/').next().expect("service name").to_string())
        .collect();
    let bar = |kind: &str, name: &str| {
        seen.get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no bar for {kind} {name}"))
            .clone()
    };
    let rds_bar = bar("rds/db-instance", &instance);
    let alb_bar = bar("elbv2/load-balancer", &alb);
    bar("elasticache/replication-group", &valkey);
    bar("ecs/cluster", "e2e");
    let service_bars: Vec<Bar> = services.iter().map(|s| bar("ecs/service", s)).collect();
    assert_eq!(rds_bar.phase, 1);
    assert_eq!(alb_bar.phase, 2);

    // Phase 2's long pole started while phase 1 still waited on RDS.
    assert!(
        alb_bar.start < rds_bar.end,
        "the ALB ({alb_bar:?}) starts before RDS is ready ({rds_bar:?})"
    );

    // Phases in order: every bar of phases before N ends before any service of phase N
    // starts, and phase 1 completes before any task definition is registered.
    for service in &service_bars {
        for earlier in bars
            .iter()
            .filter(|b| b.phase >= 1 && b.phase < service.phase)
        {
            assert!(
                earlier.end <= service.start,
                "{earlier:?} ends after {service:?} starts"
            );
        }
    }
    let first_definition = bars
        .iter()
        .filter(|b| b.kind == "ecs/task-definition")
        .map(|b| b.start)
        .min()
        .expect("task definitions registered");
    for storage in bars.iter().filter(|b| b.phase == 1) {
        assert!(storage.end <= first_definition, "{storage:?}");
    }

    // Grouped by phase: the page lists phase 1's group, then 2, ... 5.
    let positions: Vec<usize> = [
        "phase 1 storage",
        "phase 2 api-server",
        "phase 3 scheduler",
        "phase 4 triggerer",
        "phase 5 worker",
    ]
    .iter()
    .map(|title| html.find(title).unwrap_or_else(|| panic!("group {title}")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // The critical path ends with the bar that ends last (a phase-5 resource).
    let last = bars.iter().max_by_key(|b| b.end).expect("bars");
    assert!(last.class.contains("critical"), "{last:?}");
    assert_eq!(last.phase, 5, "{last:?}");

    // The five longest bars, printed longest first; the longest is on the page.
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "longest:")
        .unwrap_or_else(|| panic!("no longest list: {}", run.stdout));
    let longest: Vec<&str> = lines[at + 1..at + 6].to_vec();
    assert!(longest.iter().all(|l| l.contains(" s ")), "{longest:?}");
    let widest = bars.iter().max_by_key(|b| b.end - b.start).expect("bars");
    assert!(
        longest[0].contains(&format!("{} {}", widest.kind, widest.name)),
        "{longest:?} vs {widest:?}"
    );
    assert!(
        run.stdout.contains(&format!("timings:  {path}")),
        "{}",
        run.stdout
    );
}
