//! The ECS API operations applied to the simulation (create/update/delete service, run/stop task).

use serde_json::Value;

use super::model::{Outcome, Service, SvcKey, TdInfo};
use super::sim::{Action, EcsSim};
use crate::clock::{Clock, SimMs};
use crate::scenario::Scenario;

/// Parameters of a new service.
#[derive(Debug, Clone)]
pub struct NewService {
    /// Key.
    pub key: SvcKey,
    /// Cluster ARN.
    pub cluster_arn: String,
    /// Task definition.
    pub td: TdInfo,
    /// desiredCount.
    pub desired: u32,
    /// deploymentConfiguration from the request.
    pub deployment_configuration: Value,
    /// networkConfiguration from the request.
    pub network_configuration: Value,
    /// The echoed fields given in the request ([`super::model::echoed_fields`]).
    pub echoed: serde_json::Map<String, Value>,
    /// Launch type.
    pub launch_type: String,
}

/// What an UpdateService request changes.
#[derive(Debug, Clone, Default)]
pub struct ServiceUpdate {
    /// New task definition (resolved), if the request named one.
    pub td: Option<TdInfo>,
    /// New desired count, if given.
    pub desired: Option<u32>,
    /// forceNewDeployment.
    pub force: bool,
    /// New deploymentConfiguration, if given.
    pub deployment_configuration: Option<Value>,
    /// Echoed fields given in the request; each overrides the stored one.
    pub echoed: serde_json::Map<String, Value>,
}

/// Parameters of a one-off task launch.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Cluster name.
    pub cluster: String,
    /// Cluster ARN.
    pub cluster_arn: String,
    /// Task definition.
    pub td: TdInfo,
    /// Number of tasks.
    pub count: u32,
    /// overrides (echoed, and matched against run_task scripts).
    pub overrides: Value,
    /// startedBy.
    pub started_by: Option<String>,
    /// group (default `family:FAMILY`).
    pub group: Option<String>,
    /// Launch type.
    pub launch_type: String,
    /// Tags.
    pub tags: Value,
}

fn breaker_of(dc: &Value) -> (bool, bool) {
    let cb = dc.get("deploymentCircuitBreaker");
    let flag = |k: &str| {
        cb.and_then(|c| c.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    (flag("enable"), flag("rollback"))
}

impl EcsSim {
    /// Registers a new service (CreateService applied by moto) and starts its first deployment.
    pub fn create_service(&mut self, now: SimMs, sc: &Scenario, p: NewService) {
        let dep = self.new_deployment(sc, p.td.clone(), p.desired, now);
        let dep_id = dep.id.clone();
        let svc = Service {
            key: p.key.clone(),
            cluster_arn: p.cluster_arn,
            created_at: now,
            deployments: vec![dep],
            events: Vec::new(),
            breaker: breaker_of(&p.deployment_configuration),
            deployment_configuration: p.deployment_configuration,
            network_configuration: p.network_configuration,
            echoed: p.echoed,
            launch_type: p.launch_type,
            last_completed: None,
            drain_pending: None,
            steady: false,
            deleted: false,
        };
        self.services.insert(p.key.clone(), svc);
        self.launch(now, &p.key, &dep_id, sc);
        self.check_full(now, &p.key, sc);
    }

    /// Applies UpdateService: a new deployment when the task definition changes or a new
    /// deployment is forced, otherwise an in-place scale of the PRIMARY.
    pub fn update_service(&mut self, now: SimMs, sc: &Scenario, key: &SvcKey, u: ServiceUpdate) {
        let ServiceUpdate {
            td,
            desired,
            force,
            deployment_configuration,
            echoed,
        } = u;
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        svc.echoed.extend(echoed);
        if let Some(dc) = deployment_configuration {
            svc.breaker = breaker_of(&dc);
            svc.deployment_configuration = dc;
        }
        let Some(primary) = svc.deployments.first() else {
            return;
        };
        let (primary_id, primary_td, primary_desired) =
            (primary.id.clone(), primary.td.clone(), primary.desired);
        let td_changed = td.as_ref().is_some_and(|t| t.arn != primary_td.arn);
        if td_changed || force {
            let dep = self.new_deployment(
                sc,
                td.unwrap_or(primary_td),
                desired.unwrap_or(primary_desired),
                now,
            );
            let dep_id = dep.id.clone();
            if let Some(svc) = self.services.get_mut(key) {
                svc.deployments.insert(0, dep);
                svc.drain_pending = None;
                svc.steady = false;
            }
            let not_started: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| {
                    let x = &self.tasks[i];
                    x.live() && x.service.as_ref() == Some(key) && x.last_status != "RUNNING"
                })
                .collect();
            for i in not_started {
                let dep = self.tasks[i].deployment.clone().unwrap_or_default();
                self.stop_task_at(
                    now,
                    i,
                    format!("Scaling activity initiated by (deployment {dep})"),
                    "ServiceSchedulerInitiated",
                    0,
                );
            }
            self.launch(now, key, &dep_id, sc);
            self.check_full(now, key, sc);
            return;
        }
        let Some(new_desired) = desired.filter(|d| *d != primary_desired) else {
            return;
        };
        if let Some(svc) = self.services.get_mut(key) {
            svc.deployments[0].desired = new_desired;
            svc.deployments[0].updated_at = now;
            svc.steady = false;
        }
        if new_desired > primary_desired {
            self.launch(now, key, &primary_id, sc);
        } else {
            let mut live: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| {
                    self.tasks[i].live()
                        && self.tasks[i].deployment.as_deref() == Some(primary_id.as_str())
                })
                .collect();
            let extra = live.len().saturating_sub(new_desired as usize);
            let victims: Vec<usize> = live.split_off(live.len() - extra);
            let stop = Clock::ms(sc.durations.task_stop);
            let mut names = Vec::new();
            for &i in &victims {
                self.stop_task_at(
                    now,
                    i,
                    format!("Scaling activity initiated by (deployment {primary_id})"),
                    "ServiceSchedulerInitiated",
                    stop,
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
                self.event(sc, key, now, msg);
            }
        }
        self.check_full(now, key, sc);
    }

    /// Applies DeleteService: every task of the service is stopped.
    pub fn delete_service(&mut self, now: SimMs, sc: &Scenario, key: &SvcKey) {
        let Some(svc) = self.services.get_mut(key) else {
            return;
        };
        svc.deleted = true;
        let stop = Clock::ms(sc.durations.task_stop);
        let victims: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].live() && self.tasks[i].service.as_ref() == Some(key))
            .collect();
        for i in victims {
            let dep = self.tasks[i].deployment.clone().unwrap_or_default();
            self.stop_task_at(
                now,
                i,
                format!("Scaling activity initiated by (deployment {dep})"),
                "ServiceSchedulerInitiated",
                stop,
            );
        }
    }

    /// Deleted, but some of its tasks have not reached STOPPED yet: AWS shows `DRAINING`.
    pub fn service_draining(&self, key: &SvcKey) -> bool {
        self.services.get(key).is_some_and(|s| s.deleted)
            && self
                .tasks
                .iter()
                .any(|t| t.service.as_ref() == Some(key) && t.last_status != "STOPPED")
    }

    /// The task of a service (live, or STOPPED less than `linger` ago) whose network
    /// interface still uses subnet or security group `target`, if any.
    pub fn eni_user(&self, target: &str, now: SimMs, linger: SimMs) -> Option<&str> {
        self.tasks
            .iter()
            .filter(|t| t.stopped_at.is_none_or(|s| now < s + linger))
            .find(|t| {
                let Some(svc) = t.service.as_ref().and_then(|k| self.services.get(k)) else {
                    return false;
                };
                let awsvpc = &svc.network_configuration["awsvpcConfiguration"];
                ["subnets", "securityGroups"].iter().any(|field| {
                    awsvpc[*field]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(target)))
                })
            })
            .map(|t| t.arn.as_str())
    }

    /// ACTIVE, or deleted and still DRAINING.
    pub fn service_present(&self, key: &SvcKey) -> bool {
        self.services.get(key).is_some_and(|s| !s.deleted) || self.service_draining(key)
    }

    /// StopTask: stops a live task; a service replaces it. Returns false if unknown.
    pub fn stop_task(
        &mut self,
        now: SimMs,
        sc: &Scenario,
        i: usize,
        reason: Option<String>,
    ) -> bool {
        let Some(task) = self.tasks.get(i) else {
            return false;
        };
        if !task.live() {
            return true;
        }
        let reason = reason.unwrap_or_else(|| "Task stopped by user".into());
        self.stop_task_at(
            now,
            i,
            reason,
            "UserInitiated",
            Clock::ms(sc.durations.task_stop),
        );
        self.tasks[i].exit_code = Some(143);
        if let (Some(key), Some(dep)) = (
            self.tasks[i].service.clone(),
            self.tasks[i].deployment.clone(),
        ) {
            self.at(now, Action::Launch(key, dep));
        }
        true
    }

    /// RunTask: launches one-off tasks with their scripted outcome. Returns task indexes.
    pub fn run_task(&mut self, now: SimMs, sc: &Scenario, p: NewRun) -> Vec<usize> {
        let command = p
            .overrides
            .get("containerOverrides")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("command").and_then(Value::as_array))
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let script = sc.run_task.iter().find(|s| {
            s.family == p.td.family
                && s.command_contains
                    .as_ref()
                    .is_none_or(|c| command.contains(c.as_str()))
        });
        let d = &sc.durations;
        let scripted = match script {
            Some(s) if s.fail_to_start => Outcome {
                fails_to_start: true,
                runs_for: None,
                healthy: false,
                stopped_reason: s.stopped_reason.clone().unwrap_or_else(|| {
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found".into()
                }),
                stop_code: "TaskFailedToStart",
                exit_code: None,
                container_reason: s.container_reason.clone(),
                health_event: false,
            },
            _ => Outcome {
                fails_to_start: false,
                runs_for: Some(Clock::ms(script.and_then(|s| s.duration).unwrap_or(d.run_task_duration)).max(1)),
                healthy: true,
                stopped_reason: script
                    .and_then(|s| s.stopped_reason.clone())
                    .unwrap_or_else(|| "Essential container in task exited".into()),
                stop_code: "EssentialContainerExited",
                exit_code: Some(script.map_or(0, |s| s.exit_code)),
                container_reason: script.and_then(|s| s.container_reason.clone()),
                health_event: false,
            },
        };
        let outcome = super::outcome::pull_failure(sc, &p.td).unwrap_or(scripted);
        let group = p
            .group
            .clone()
            .unwrap_or_else(|| format!("family:{}", p.td.family));
        (0..p.count.max(1))
            .map(|k| {
                let i = self.new_task(
                    sc,
                    now,
                    &p.cluster,
                    &p.cluster_arn,
                    &p.td,
                    outcome.clone(),
                    group.clone(),
                    p.started_by.clone(),
                    None,
                    &p.launch_type,
                );
                self.tasks[i].overrides = p.overrides.clone();
                self.tasks[i].tags = p.tags.clone();
                self.schedule_start(now, i, u64::from(k), sc);
                i
            })
            .collect()
    }

    /// Index of the task with this ARN or id.
    pub fn find_task(&self, arn_or_id: &str) -> Option<usize> {
        let id = arn_or_id.rsplit('/').next().unwrap_or(arn_or_id);
        self.tasks.iter().position(|t| t.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{EcsFailure, FailureKind};

    fn td(rev: i64) -> TdInfo {
        TdInfo {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/w:{rev}"),
            family: "w".into(),
            revision: rev,
            containers: vec![("app".into(), "img".into(), true)],
            cpu: None,
            memory: None,
            cpu_architecture: "X86_64".into(),
        }
    }

    fn service(desired: u32, rollback: bool) -> NewService {
        NewService {
            key: SvcKey {
                cluster: "c".into(),
                name: "w".into(),
            },
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
            td: td(1),
            desired,
            deployment_configuration: serde_json::json!({"deploymentCircuitBreaker": {"enable": true, "rollback": rollback}}),
            network_configuration: Value::Null,
            echoed: serde_json::Map::new(),
            launch_type: "FARGATE".into(),
        }
    }

    #[test]
    fn threshold_is_half_desired_clamped() {
        let t: Vec<u32> = [1, 2, 6, 7, 10, 500]
            .iter()
            .map(|d| Service::threshold(*d))
            .collect();
        assert_eq!(t, [3, 3, 3, 4, 5, 200]);
    }

    #[test]
    fn breaker_trips_exactly_at_threshold_without_rollback() {
        let sc = Scenario {
            ecs_failures: vec![EcsFailure {
                service: None,
                family: Some("w".into()),
                revision: None,
                image_contains: None,
                kind: FailureKind::FailToStart,
                stopped_reason: None,
                container_reason: None,
                exit_code: None,
            }],
            ..Scenario::default()
        };
        let mut sim = EcsSim::default();
        let key = SvcKey {
            cluster: "c".into(),
            name: "w".into(),
        };
        sim.create_service(0, &sc, service(10, false));
        // 10 tasks fail at 30 s + 2 s x i: the 5th failure (at 38 s) trips the breaker.
        sim.tick(37_999, &sc);
        let d = &sim.services[&key].deployments[0];
        assert_eq!((d.failed_tasks, d.rollout), (4, "IN_PROGRESS"));
        sim.tick(38_000, &sc);
        let d = &sim.services[&key].deployments[0];
        assert_eq!((d.failed_tasks, d.rollout), (5, "FAILED"));
        sim.tick(1_000_000, &sc);
        let svc = &sim.services[&key];
        assert_eq!(
            svc.deployments.len(),
            1,
            "no rollback: the FAILED deployment stays PRIMARY"
        );
        assert_eq!(
            svc.deployments[0].failed_tasks, 5,
            "nothing launched after the trip"
        );
        assert!(sim.tasks.iter().all(|t| !t.live()));
    }

    #[test]
    fn first_deployment_failing_with_rollback_has_nothing_to_roll_back_to() {
        let sc = Scenario {
            ecs_failures: vec![EcsFailure {
                service: Some("w".into()),
                family: None,
                revision: None,
                image_contains: None,
                kind: FailureKind::FailHealthCheck,
                stopped_reason: None,
                container_reason: None,
                exit_code: None,
            }],
            ..Scenario::default()
        };
        let mut sim = EcsSim::default();
        let key = SvcKey {
            cluster: "c".into(),
            name: "w".into(),
        };
        sim.create_service(0, &sc, service(1, true));
        sim.tick(1_000_000, &sc);
        let svc = &sim.services[&key];
        assert_eq!(svc.deployments.len(), 1);
        assert_eq!(svc.deployments[0].rollout, "FAILED");
        assert_eq!(svc.deployments[0].failed_tasks, 3);
        let health_events = svc
            .events
            .iter()
            .filter(|e| e.message.ends_with("failed container health checks."))
            .count();
        assert_eq!(health_events, 3);
    }
}
