//! The ECS state machine: a discrete-event simulation advanced lazily to "now" on each request.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Deployment, Event, Outcome, Service, SvcKey, Task, TdInfo};
use crate::clock::{Clock, SimMs, hash_parts};
use crate::scenario::Scenario;

#[derive(Debug, Clone)]
pub(super) enum Action {
    TaskUp(usize),
    TaskFail(usize),
    TaskStopped(usize),
    Launch(SvcKey, String),
    Drained(SvcKey, String),
}

/// All ECS simulation state.
#[derive(Debug, Default)]
pub struct EcsSim {
    /// Services by key.
    pub services: BTreeMap<SvcKey, Service>,
    /// Every task ever launched.
    pub tasks: Vec<Task>,
    pub(super) timers: BTreeMap<(SimMs, u64), Action>,
    seq: u64,
    ids: u64,
}

impl EcsSim {
    pub(super) fn at(&mut self, t: SimMs, a: Action) {
        self.seq += 1;
        self.timers.insert((t, self.seq), a);
    }

    pub(super) fn next_id(&mut self, sc: &Scenario, what: &str) -> u64 {
        self.ids += 1;
        hash_parts(sc.seed, &[what, &self.ids.to_string()])
    }

    pub(super) fn event(&mut self, sc: &Scenario, key: &SvcKey, at: SimMs, message: String) {
        let h = self.next_id(sc, "event");
        let id = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xffff,
            (h >> 48) & 0xffff,
            h & 0xffff_ffff_ffff
        );
        if let Some(s) = self.services.get_mut(key) {
            s.events.push(Event { id, at, message });
            if s.events.len() > 100 {
                s.events.remove(0);
            }
        }
    }

    pub(super) fn new_deployment(
        &mut self,
        sc: &Scenario,
        td: TdInfo,
        desired: u32,
        now: SimMs,
    ) -> Deployment {
        let id = format!(
            "ecs-svc/{:019}",
            self.next_id(sc, "deployment") % 10_000_000_000_000_000_000
        );
        Deployment {
            reason: format!("ECS deployment {id} in progress."),
            id,
            td,
            desired,
            failed_tasks: 0,
            rollout: "IN_PROGRESS",
            created_at: now,
            updated_at: now,
            tripped: false,
            is_rollback: false,
        }
    }

    /// Advances the simulation to `now`.
    pub fn tick(&mut self, now: SimMs, sc: &Scenario) {
        while let Some((&(t, seq), _)) = self.timers.first_key_value() {
            if t > now {
                break;
            }
            let Some(action) = self.timers.remove(&(t, seq)) else {
                break;
            };
            self.handle(t, action, sc);
        }
    }

    fn handle(&mut self, t: SimMs, action: Action, sc: &Scenario) {
        match action {
            Action::TaskUp(i) => self.task_up(t, i, sc),
            Action::TaskFail(i) => self.task_fail(t, i, sc),
            Action::TaskStopped(i) => {
                let task = &mut self.tasks[i];
                if task.last_status != "STOPPED" {
                    task.last_status = "STOPPED";
                    task.stopped_at = Some(t);
                }
            }
            Action::Launch(key, dep) => self.launch(t, &key, &dep, sc),
            Action::Drained(key, dep) => self.drained(t, &key, &dep, sc),
        }
    }

    fn task_up(&mut self, t: SimMs, i: usize, sc: &Scenario) {
        let task = &mut self.tasks[i];
        if !task.live() {
            return;
        }
        task.last_status = "RUNNING";
        task.started_at = Some(t);
        task.health = if task.outcome.healthy {
            "HEALTHY"
        } else {
            "UNKNOWN"
        };
        if let Some(d) = task.outcome.runs_for {
            self.at(t + d, Action::TaskFail(i));
        }
        if let Some(key) = self.tasks[i].service.clone() {
            self.check_full(t, &key, sc);
        }
    }

    /// Stops task `i` by itself (failure or one-off exit), with its scripted outcome.
    fn task_fail(&mut self, t: SimMs, i: usize, sc: &Scenario) {
        let task = &mut self.tasks[i];
        if !task.live() {
            return;
        }
        task.last_status = "STOPPED";
        task.desired_status = "STOPPED";
        task.stopping_at = Some(t);
        task.stopped_at = Some(t);
        task.health = if task.outcome.healthy {
            task.health
        } else {
            "UNHEALTHY"
        };
        task.stopped_reason = Some(task.outcome.stopped_reason.clone());
        task.stop_code = Some(task.outcome.stop_code);
        task.exit_code = task.outcome.exit_code;
        task.container_reason = task.outcome.container_reason.clone();
        let (Some(key), Some(dep_id)) = (task.service.clone(), task.deployment.clone()) else {
            return;
        };
        let task_id = task.id.clone();
        let health_event = task.outcome.health_event;
        let Some(svc) = self.services.get_mut(&key) else {
            return;
        };
        let Some(pos) = svc.deployments.iter().position(|d| d.id == dep_id) else {
            return;
        };
        let enable = svc.breaker.0;
        let dep = &mut svc.deployments[pos];
        dep.failed_tasks += 1;
        dep.updated_at = t;
        let trip = enable
            && pos == 0
            && dep.rollout == "IN_PROGRESS"
            && dep.failed_tasks >= Service::threshold(dep.desired);
        let relaunch = pos == 0 && !dep.tripped && !svc.deleted;
        if health_event {
            self.event(
                sc,
                &key,
                t,
                format!(
                    "(service {}) (task {task_id}) failed container health checks.",
                    key.name
                ),
            );
        }
        if trip {
            self.trip(t, &key, sc);
        } else if relaunch {
            self.at(t, Action::Launch(key, dep_id));
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_task(
        &mut self,
        sc: &Scenario,
        now: SimMs,
        cluster: &str,
        cluster_arn: &str,
        td: &TdInfo,
        outcome: Outcome,
        group: String,
        started_by: Option<String>,
        service: Option<(SvcKey, String)>,
        launch_type: &str,
    ) -> usize {
        let h = self.next_id(sc, "task");
        let h2 = crate::clock::mix(h);
        let id = format!("{h:016x}{h2:016x}");
        let prefix = cluster_arn
            .split(":cluster/")
            .next()
            .unwrap_or("arn:aws:ecs:us-east-1:123456789012");
        let (svc, dep) = match service {
            Some((k, d)) => (Some(k), Some(d)),
            None => (None, None),
        };
        self.tasks.push(Task {
            arn: format!("{prefix}:task/{cluster}/{id}"),
            id,
            cluster: cluster.to_string(),
            cluster_arn: cluster_arn.to_string(),
            td: td.clone(),
            group,
            started_by,
            service: svc,
            deployment: dep,
            last_status: "PROVISIONING",
            desired_status: "RUNNING",
            health: "UNKNOWN",
            created_at: now,
            pending_at: now + Clock::ms(sc.durations.task_start) / 2,
            started_at: None,
            stopping_at: None,
            stopped_at: None,
            stopped_reason: None,
            stop_code: None,
            exit_code: None,
            container_reason: None,
            outcome,
            overrides: Value::Null,
            launch_type: launch_type.to_string(),
            tags: Value::Null,
        });
        self.tasks.len() - 1
    }

    pub(super) fn schedule_start(&mut self, t: SimMs, i: usize, k: u64, sc: &Scenario) {
        let d = &sc.durations;
        let when = t + Clock::ms(d.task_start).max(1) + k * Clock::ms(d.task_stagger);
        if self.tasks[i].outcome.fails_to_start {
            self.at(when, Action::TaskFail(i));
        } else {
            self.at(when, Action::TaskUp(i));
        }
    }

    pub(super) fn launch(&mut self, t: SimMs, key: &SvcKey, dep_id: &str, sc: &Scenario) {
        let Some(svc) = self.services.get(key) else {
            return;
        };
        if svc.deleted {
            return;
        }
        let Some(dep) = svc
            .deployments
            .first()
            .filter(|d| d.id == dep_id && !d.tripped)
        else {
            return;
        };
        let live = self
            .tasks
            .iter()
            .filter(|x| x.deployment.as_deref() == Some(dep_id) && x.live())
            .count() as u32;
        let missing = dep.desired.saturating_sub(live);
        if missing == 0 {
            return;
        }
        let (td, launch_type) = (dep.td.clone(), svc.launch_type.clone());
        let cluster_arn = self.cluster_arn_of(key);
        let outcome = self.outcome_for_service(sc, key, &td);
        let mut started = Vec::new();
        for k in 0..missing {
            let i = self.new_task(
                sc,
                t,
                &key.cluster,
                &cluster_arn,
                &td,
                outcome.clone(),
                format!("service:{}", key.name),
                Some(dep_id.to_string()),
                Some((key.clone(), dep_id.to_string())),
                &launch_type,
            );
            self.schedule_start(t, i, u64::from(k), sc);
            started.push(format!("(task {})", self.tasks[i].id));
        }
        let msg = format!(
            "(service {}) has started {} tasks: {}.",
            key.name,
            missing,
            started.join(" ")
        );
        self.event(sc, key, t, msg);
    }

    pub(super) fn cluster_arn_of(&self, key: &SvcKey) -> String {
        self.services
            .get(key)
            .map(|s| s.cluster_arn.clone())
            .unwrap_or_else(|| {
                format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", key.cluster)
            })
    }

    pub(super) fn check_full(&mut self, t: SimMs, key: &SvcKey, sc: &Scenario) {
        let Some(svc) = self.services.get(key) else {
            return;
        };
        let Some(primary) = svc.deployments.first() else {
            return;
        };
        let healthy = self
            .tasks
            .iter()
            .filter(|x| {
                x.deployment.as_deref() == Some(primary.id.as_str())
                    && x.live()
                    && x.last_status == "RUNNING"
                    && x.health == "HEALTHY"
            })
            .count() as u32;
        if healthy < primary.desired {
            return;
        }
        if primary.rollout == "COMPLETED" {
            if !svc.steady {
                if let Some(s) = self.services.get_mut(key) {
                    s.steady = true;
                }
                self.event(
                    sc,
                    key,
                    t,
                    format!("(service {}) has reached a steady state.", key.name),
                );
            }
            return;
        }
        if primary.rollout != "IN_PROGRESS"
            || svc.drain_pending.as_deref() == Some(primary.id.as_str())
        {
            return;
        }
        let primary_id = primary.id.clone();
        let old: Vec<String> = svc
            .deployments
            .iter()
            .skip(1)
            .map(|d| d.id.clone())
            .collect();
        let victims: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                self.tasks[i].live()
                    && self.tasks[i]
                        .deployment
                        .as_ref()
                        .is_some_and(|d| old.contains(d))
            })
            .collect();
        let settle = Clock::ms(sc.durations.rollout_settle);
        let drain = if victims.is_empty() {
            settle
        } else {
            Clock::ms(sc.durations.drain) + settle
        };
        let mut names = Vec::new();
        for &i in &victims {
            let dep = self.tasks[i].deployment.clone().unwrap_or_default();
            self.stop_task_at(
                t,
                i,
                format!("Scaling activity initiated by (deployment {dep})"),
                "ServiceSchedulerInitiated",
                drain,
            );
            names.push(format!("(task {})", self.tasks[i].id));
        }
        if !victims.is_empty() {
            let msg = format!(
                "(service {}) has stopped {} running tasks: {}.",
                key.name,
                victims.len(),
                names.join(" ")
            );
            self.event(sc, key, t, msg);
        }
        if let Some(s) = self.services.get_mut(key) {
            s.drain_pending = Some(primary_id.clone());
        }
        self.at(t + drain, Action::Drained(key.clone(), primary_id));
    }

    pub(super) fn stop_task_at(
        &mut self,
        t: SimMs,
        i: usize,
        reason: String,
        code: &'static str,
        after: SimMs,
    ) {
        let task = &mut self.tasks[i];
        task.desired_status = "STOPPED";
        task.stopping_at = Some(t);
        task.stopped_reason = Some(reason);
        task.stop_code = Some(code);
        if task.last_status == "RUNNING" {
            task.last_status = "DEACTIVATING";
            task.exit_code = Some(0);
        }
        if after == 0 {
            task.last_status = "STOPPED";
            task.stopped_at = Some(t);
        } else {
            self.at(t + after, Action::TaskStopped(i));
        }
    }

    pub(super) fn drained(&mut self, t: SimMs, key: &SvcKey, dep_id: &str, sc: &Scenario) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        if svc.deployments.first().map(|d| d.id.as_str()) != Some(dep_id) {
            return;
        }
        svc.deployments.truncate(1);
        svc.drain_pending = None;
        svc.steady = true;
        let p = &mut svc.deployments[0];
        p.rollout = "COMPLETED";
        p.reason = format!("ECS deployment {} completed.", p.id);
        p.updated_at = t;
        svc.last_completed = Some(p.td.clone());
        let name = key.name.clone();
        self.event(
            sc,
            key,
            t,
            format!("(service {name}) (deployment {dep_id}) deployment completed."),
        );
        self.event(
            sc,
            key,
            t,
            format!("(service {name}) has reached a steady state."),
        );
    }

    pub(super) fn trip(&mut self, t: SimMs, key: &SvcKey, sc: &Scenario) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        let p = &mut svc.deployments[0];
        p.rollout = "FAILED";
        p.reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        p.tripped = true;
        p.updated_at = t;
        let (failed_id, desired, was_rollback) = (p.id.clone(), p.desired, p.is_rollback);
        let rollback_to = if svc.breaker.1 && !was_rollback {
            svc.last_completed.clone()
        } else {
            None
        };
        let doomed: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                self.tasks[i].live()
                    && self.tasks[i].deployment.as_deref() == Some(failed_id.as_str())
            })
            .collect();
        for i in doomed {
            self.stop_task_at(
                t,
                i,
                format!("Scaling activity initiated by (deployment {failed_id})"),
                "ServiceSchedulerInitiated",
                0,
            );
        }
        let name = key.name.clone();
        self.event(sc, key, t, format!("(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."));
        if let Some(td) = rollback_to {
            let mut dep = self.new_deployment(sc, td, desired, t);
            dep.is_rollback = true;
            let new_id = dep.id.clone();
            if let Some(svc) = self.services.get_mut(key) {
                svc.deployments.insert(0, dep);
                svc.drain_pending = None;
            }
            self.event(
                sc,
                key,
                t,
                format!("(service {name}) rolling back to deployment {new_id}."),
            );
            self.launch(t, key, &new_id, sc);
            self.check_full(t, key, sc);
        }
    }
}
