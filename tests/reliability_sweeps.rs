//! Reliability sweeps of a full `up` against the emulator, checked through the AWS SDK:
//!
//! - a SIGKILL right after each applied mutating call of phases 2-5 (task definitions, the
//!   migration task, the load balancer, the services, autoscaling), then a re-run: exit 0 and
//!   exactly one of each resource;
//! - a response lost after each create call of a full `up` (the emulator applies the call and
//!   drops the answer): the run itself exits 0 with nothing duplicated;
//! - 20 % throttling plus 5 % HTTP 500 on every service: `up`, `status` and `teardown all`
//!   succeed, seed after seed, with nothing duplicated and nothing left.
//!
//! CI runs a thinned sample of each sweep; `scripts/sweep.sh` runs them in full (strides of 1,
//! every seed). The knobs: `E2E_UP_CRASH_STRIDE`, `E2E_LOST_STRIDE`, `E2E_FAULT_SEEDS`.
//! Each test prints its figures (points, time per point, totals) on stderr
//! (`-- --nocapture`); docs/reliability.md records them.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use awsim::{Fault, FaultKind, Scenario};
use common::inventory::{all_ids, differences, expected_all_counts};
use common::{Run, SPEC, World, env_or, is_lease_call, sweep_points};

/// CI's crash stride over the applied mutating calls of phases 2-5 (`E2E_UP_CRASH_STRIDE=1`
/// is the full sweep).
const CI_CRASH_STRIDE: u64 = 3;

/// CI's stride over the create calls of a full `up` (`E2E_LOST_STRIDE=1` is the full sweep).
const CI_LOST_STRIDE: usize = 9;

/// Seeds of the fault test in CI (`E2E_FAULT_SEEDS=10` is the full run).
const CI_FAULT_SEEDS: u64 = 1;

/// Asserts the deployment holds exactly one of each resource (`why` says after what).
async fn assert_one_of_each(world: &World, why: &str) {
    let found = all_ids(&world.sdk().await, "e2e").await;
    let wrong = differences(&found, &expected_all_counts());
    assert!(wrong.is_empty(), "{why}: {wrong:#?}");
}

/// The last phase each cumulative count of resource-mutating calls belongs to: `bounds[i]` is
/// the number of such calls of phases 2..=i+2 together.
fn phase_of(call: usize, bounds: &[usize]) -> u8 {
    bounds
        .iter()
        .position(|b| call <= *b)
        .map_or(5, |i| i as u8 + 2)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_each_mutating_call_of_phases_2_to_5_then_a_rerun_converges() {
    let world = World::start(SPEC, Scenario::default()).await;
    // Calibration: how many resource-mutating calls each phase adds.
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    let mut bounds = Vec::new();
    let mut sum = 0;
    for phase in 2..=5 {
        world.sim.reset_accounting();
        world
            .run(&["up", "--phase", &phase.to_string()])
            .await
            .expect_code(0);
        sum += world.resource_mutations().len();
        bounds.push(sum);
    }
    // And what the crash hook counts over a full `up` from phase 1: every applied mutating
    // call, the lease's included.
    world.wipe().await;
    world.run(&["up", "--phase", "1"]).await.expect_code(0);
    world.sim.reset_accounting();
    world.run(&["up"]).await.expect_code(0);
    let total = world
        .sim
        .calls()
        .iter()
        .filter(|c| c.mutating && c.applied)
        .count() as u64;
    let resource_total = world.resource_mutations().len() as u64;
    assert!(
        resource_total >= 20,
        "phases 2-5 make {resource_total} mutating calls"
    );

    let stride = env_or("E2E_UP_CRASH_STRIDE", CI_CRASH_STRIDE);
    let points = sweep_points(total, stride);
    let started = Instant::now();
    // phase -> (tried, converged); "lease" for a kill at one of the lease's own calls.
    let mut tally: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for &point in &points {
        let point_started = Instant::now();
        world.wipe().await;
        world.run(&["up", "--phase", "1"]).await.expect_code(0);
        world.sim.reset_accounting();
        let killed = world.crash_at(&["up"], point).await;
        let calls = world.sim.calls();
        let applied: Vec<_> = calls.iter().filter(|c| c.mutating && c.applied).collect();
        let label = match applied.last() {
            _ if !killed => "not killed".to_string(),
            Some(last) if is_lease_call(last) => "lease".to_string(),
            _ => format!(
                "phase {}",
                phase_of(world.resource_mutations().len(), &bounds)
            ),
        };
        assert!(
            killed || point > resource_total,
            "up not killed at mutating call {point} of {total}"
        );
        let rerun = world.run(&["up"]).await;
        assert_eq!(
            rerun.code,
            Some(0),
            "re-run after a crash at mutating call {point} ({label}, {}) failed:\n{}",
            applied
                .last()
                .map(|c| format!("{}:{}", c.service, c.operation))
                .unwrap_or_default(),
            rerun.all()
        );
        assert_one_of_each(&world, &format!("after a crash at mutating call {point}")).await;
        let entry = tally.entry(label).or_default();
        entry.0 += 1;
        entry.1 += 1;
        slowest = slowest.max(point_started.elapsed());
    }
    let elapsed = started.elapsed();
    eprintln!(
        "crash sweep of up, phases 2-5: {total} applied mutating calls ({resource_total} on \
         resources), {} kill points (stride {stride}), tried/converged by phase {tally:?}, \
         {elapsed:.1?} in all, {:.1?} a point on average, slowest {slowest:.1?}",
        points.len(),
        elapsed / points.len().max(1) as u32
    );
}

/// Operations that create something (a response lost after one of them is the dangerous case:
/// the thing exists, the caller does not know).
fn is_create(operation: &str) -> bool {
    operation.starts_with("Create")
        || matches!(
            operation,
            "AllocateAddress" | "RunTask" | "RegisterTaskDefinition" | "RegisterScalableTarget"
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_response_after_each_create_call_of_a_full_up_leaves_no_duplicate() {
    let world = World::start(SPEC, Scenario::default()).await;
    world.run(&["up"]).await.expect_code(0);
    // Every create call of a clean run as (service, operation, n): the n-th call of that
    // operation, which is what a fault rule's `after` counts.
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut creates = Vec::new();
    for call in world.sim.calls() {
        let n = seen
            .entry((call.service.clone(), call.operation.clone()))
            .or_default();
        *n += 1;
        if call.mutating && call.applied && is_create(&call.operation) && !is_lease_call(&call) {
            creates.push((call.service.clone(), call.operation.clone(), *n));
        }
    }
    assert!(creates.len() >= 30, "a full up creates {}", creates.len());

    let stride = env_or("E2E_LOST_STRIDE", CI_LOST_STRIDE);
    let base = world.sim.scenario();
    let started = Instant::now();
    let mut tried = 0;
    let mut failures = Vec::new();
    for (service, operation, n) in creates.iter().step_by(stride.max(1)) {
        world.wipe().await;
        let mut scenario = base.clone();
        scenario.faults = vec![Fault {
            service: service.clone(),
            operation: Some(operation.clone()),
            mutating: None,
            kind: FaultKind::LostResponse,
            rate: 1.0,
            max_count: Some(1),
            after: n - 1,
        }];
        world.sim.set_scenario(scenario);
        let run = world.run(&["up"]).await;
        world.sim.set_scenario(base.clone());
        tried += 1;
        let lost = world
            .sim
            .calls()
            .iter()
            .filter(|c| c.fault.as_deref() == Some("lost_response"))
            .count();
        let what = format!("{service}:{operation} #{n}");
        assert_eq!(lost, 1, "{what}: the response was lost once");
        let found = all_ids(&world.sdk().await, "e2e").await;
        let wrong = differences(&found, &expected_all_counts());
        if run.code != Some(0) || !wrong.is_empty() {
            failures.push(format!(
                "{what}: exit {:?}, {wrong:?}\n{}",
                run.code,
                tail(&run)
            ));
        }
    }
    eprintln!(
        "lost responses: {} create calls in a full up, {tried} tried (stride {stride}), {} \
         failed or duplicated, {:.1?} in all",
        creates.len(),
        failures.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The last lines of a run's stderr.
fn tail(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// 20 % throttling and 5 % HTTP 500 on every call of every service, seeded.
fn faulty(seed: u64, base: &Scenario) -> Scenario {
    let mut scenario = base.clone();
    scenario.seed = seed;
    let rule = |kind, rate| Fault {
        service: "*".into(),
        operation: None,
        mutating: None,
        kind,
        rate,
        max_count: None,
        after: 0,
    };
    scenario.faults = vec![
        rule(FaultKind::Throttle, 0.20),
        rule(FaultKind::Http500, 0.05),
    ];
    scenario
}

/// Runs `orchestrate <args>` with orchestrate's own deadlines scaled less than the emulator's
/// clock: the SDK's retry backoff runs in real seconds, so under faults the waits need real
/// time (as in tests/errors.rs).
async fn run_patiently(world: &World, args: &[&str]) -> Run {
    let output = tokio::time::timeout(
        Duration::from_secs(420),
        world
            .command(args)
            .env("ORCHESTRATE_TIME_SCALE", "0.05")
            .output(),
    )
    .await
    .expect("orchestrate finished within 420 s")
    .expect("orchestrate ran");
    Run::from(output)
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_percent_throttling_and_five_percent_5xx_up_status_and_teardown_succeed() {
    let world = World::start(SPEC, Scenario::default()).await;
    let base = world.sim.scenario();
    let seeds = env_or("E2E_FAULT_SEEDS", CI_FAULT_SEEDS);
    let started = Instant::now();
    let mut figures = Vec::new();
    for seed in 1..=seeds {
        let seed_started = Instant::now();
        world.wipe().await;
        world.sim.set_scenario(faulty(seed, &base));
        let up = run_patiently(&world, &["up"]).await;
        assert_eq!(up.code, Some(0), "seed {seed}: up failed:\n{}", up.all());
        let faults = world.sim.summary().faults;
        let calls = world.sim.summary().total;
        // Checked without faults: the SDK checks are not under test.
        world.sim.set_scenario(base.clone());
        assert_one_of_each(&world, &format!("seed {seed}: after up")).await;

        world.sim.set_scenario(faulty(seed + 100, &base));
        let status = run_patiently(&world, &["status"]).await;
        assert_eq!(
            status.code,
            Some(0),
            "seed {seed}: status failed:\n{}",
            status.all()
        );
        let teardown = run_patiently(
            &world,
            &[
                "teardown",
                "all",
                "--yes",
                "--force",
                "--skip-final-snapshot",
            ],
        )
        .await;
        assert_eq!(
            teardown.code,
            Some(0),
            "seed {seed}: teardown failed:\n{}",
            teardown.all()
        );
        world.sim.set_scenario(base.clone());
        let left = all_ids(&world.sdk().await, "e2e").await;
        let nothing: BTreeMap<&'static str, usize> =
            expected_all_counts().into_keys().map(|k| (k, 0)).collect();
        let wrong = differences(&left, &nothing);
        assert!(wrong.is_empty(), "seed {seed}: teardown left {wrong:#?}");
        figures.push(format!(
            "seed {seed}: up {calls} calls, {faults} faulted; {:.1?}",
            seed_started.elapsed()
        ));
    }
    eprintln!(
        "faults (20 % throttle + 5 % HTTP 500, every service): {seeds} seeds converged, \
         {:.1?} in all: {figures:#?}",
        started.elapsed()
    );
}
