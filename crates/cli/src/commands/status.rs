//! `orchestrate status [--watch]`: every resource of the deployment and its state, a verdict,
//! and Airflow's own health beside it; `--watch` refreshes until Ctrl-C.
//!
//! Exit 0 when the deployment is healthy or not deployed at all, 3 when a resource of a
//! deployed phase is absent or cannot serve (see the README's exit-code table); `--watch`
//! exits 0 on Ctrl-C.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use orchestrate_core::ErrorKind;
use orchestrate_engine::error::{EXIT_OK, EngineError, exit_code_for};
use orchestrate_engine::health::{self, AirflowHealth};
use orchestrate_engine::{Engine, Health, Status};

use super::logs::format_timestamp;
use super::{engine_for, load_valid_spec};
use crate::args::{GlobalArgs, OutputFormat, StatusArgs};
use crate::output::outln;

/// Clears the terminal and puts the cursor top left (a redraw in place).
const REDRAW: &str = "\x1b[H\x1b[2J";

/// One reading: ECS's (and every other resource's) view, and Airflow's.
struct Snapshot {
    status: Status,
    health: AirflowHealth,
}

async fn snapshot(engine: &Engine) -> Result<Snapshot, EngineError> {
    let status = engine.status().await?;
    let url = health::health_url(status.airflow_url.as_deref());
    let health = health::read(url, health::TIMEOUT).await;
    Ok(Snapshot { status, health })
}

/// Prints the status once, or with `--watch` every interval until Ctrl-C (exit 0).
pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    let (engine, progress) = engine_for(global, &loaded).await?;
    let title = format!(
        "deployment {} ({})",
        loaded.spec.deployment.name,
        engine.region()
    );
    if !args.watch {
        let taken = snapshot(&engine).await;
        progress.finish();
        let taken = taken?;
        match global.output {
            OutputFormat::Json => {
                let mut doc = status_value(&taken, None);
                if let Some(map) = doc.as_object_mut() {
                    map.insert(
                        "deployment".into(),
                        loaded.spec.deployment.name.clone().into(),
                    );
                    map.insert("region".into(), engine.region().into());
                }
                let problems = match taken.status.health() {
                    Health::Degraded { problems, .. } => problems.len(),
                    Health::NotDeployed | Health::Healthy { .. } => 0,
                };
                crate::document::print(&if problems > 0 {
                    crate::document::failure(
                        doc,
                        &crate::document::Failure {
                            kind: ErrorKind::Failed,
                            exit_code: exit_code_for(ErrorKind::Failed),
                            message: &format!(
                                "degraded: {problems} resource(s) absent or not serving"
                            ),
                            hint: Some("`orchestrate doctor` names known causes"),
                        },
                    )
                } else {
                    crate::document::success(doc)
                });
            }
            OutputFormat::Text => outln!("{}", render(&title, &taken).trim_end()),
        }
        return Ok(match taken.status.health() {
            Health::Degraded { .. } => exit_code_for(ErrorKind::Failed),
            Health::NotDeployed | Health::Healthy { .. } => EXIT_OK,
        });
    }
    progress.finish();
    watch(global.output, &engine, &title, args.interval).await
}

/// True when refreshing in place makes sense: stdout is a terminal and CI is not set.
fn in_place() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    !ci && std::io::stdout().is_terminal()
}

async fn watch(
    format: OutputFormat,
    engine: &Engine,
    title: &str,
    interval: Duration,
) -> Result<u8, EngineError> {
    let in_place = format == OutputFormat::Text && in_place();
    // Polled first in every select below, so Ctrl-C is handled from the first refresh on.
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stop);
    let mut first = true;
    loop {
        let taken = tokio::select! {
            biased;
            () = &mut stop => break,
            taken = snapshot(engine) => taken,
        };
        let now = format_timestamp(now_ms());
        let block = match (taken, format) {
            // The first reading fails like `status` does (a wrong account, no credentials);
            // later ones are shown and retried (a network blip must not end a watch).
            (Err(e), _) if first => return Err(e),
            (Err(e), OutputFormat::Json) => {
                format!(
                    "{}\n",
                    serde_json::json!({"time": now, "error": e.to_string()})
                )
            }
            (Err(e), OutputFormat::Text) => format!("{title}\n  error: {e}\n"),
            (Ok(taken), OutputFormat::Json) => format!(
                "{}\n",
                crate::document::success(status_value(&taken, Some(&now)))
            ),
            (Ok(taken), OutputFormat::Text) => render(title, &taken),
        };
        first = false;
        let mut out = String::new();
        match format {
            OutputFormat::Json => out.push_str(&block),
            OutputFormat::Text if in_place => {
                out.push_str(REDRAW);
                let _ = writeln!(out, "{now}  every {}s, Ctrl-C to stop", interval.as_secs());
                out.push_str(&block);
            }
            OutputFormat::Text => {
                let _ = writeln!(out, "--- {now}");
                out.push_str(&block);
                out.push('\n');
            }
        }
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The reader went away (a closed pipe): nothing left to show.
            break;
        }
        drop(stdout);
        tokio::select! {
            biased;
            () = &mut stop => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    Ok(EXIT_OK)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The verdict as (`health`, `deployed_through`, `problems`).
fn verdict(health: &Health) -> (&'static str, Option<u8>, Vec<String>) {
    match health {
        Health::NotDeployed => ("not-deployed", None, Vec::new()),
        Health::Healthy { through } => ("healthy", Some(through.number()), Vec::new()),
        Health::Degraded { through, problems } => {
            ("degraded", Some(through.number()), problems.clone())
        }
    }
}

/// The status as a JSON object: `{"time"?, "resources", "health", "deployed_through",
/// "problems", "airflow_url", "airflow_health"}`.
fn status_value(taken: &Snapshot, time: Option<&str>) -> serde_json::Value {
    let (health, through, problems) = verdict(&taken.status.health());
    let mut value = serde_json::json!({
        "resources": taken.status.resources,
        "health": health,
        "deployed_through": through,
        "problems": problems,
        "airflow_url": taken.status.airflow_url,
        "airflow_health": taken.health,
    });
    if let (Some(time), Some(object)) = (time, value.as_object_mut()) {
        object.insert("time".into(), serde_json::Value::String(time.into()));
    }
    value
}

/// The text block: the resource table, then Airflow's health.
fn render(title: &str, taken: &Snapshot) -> String {
    let mut out = format!("{title}\n");
    let resources = &taken.status.resources;
    let width = resources.iter().map(|r| r.kind.len()).max().unwrap_or(0);
    for r in resources {
        let _ = writeln!(out, "  {:<width$}  {:<40}  {}", r.kind, r.name, r.state);
    }
    let _ = match taken.status.health() {
        Health::NotDeployed => writeln!(out, "not deployed: no resource exists"),
        Health::Healthy { through } => writeln!(out, "healthy through {through}"),
        Health::Degraded { through, problems } => writeln!(
            out,
            "degraded: {} resource(s) of phases 1-{} absent or not serving: {}",
            problems.len(),
            through.number(),
            problems.join("; ")
        ),
    };
    out.push_str(&render_health(&taken.health));
    out
}

fn render_health(health: &AirflowHealth) -> String {
    match health {
        AirflowHealth::NoLoadBalancer => "airflow health: no load balancer to ask\n".into(),
        AirflowHealth::Unreachable { url, reason } => {
            format!("airflow health: unreachable at {url} ({reason})\n")
        }
        AirflowHealth::Reported { url, components } => {
            let mut out = format!("airflow health ({url}):\n");
            let width = components.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in components {
                let _ = write!(
                    out,
                    "  {:<width$}  {}",
                    c.name,
                    c.status.as_deref().unwrap_or("(no status)")
                );
                if let Some(beat) = &c.latest_heartbeat {
                    let _ = write!(out, "  heartbeat {beat}");
                }
                out.push('\n');
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrate_core::{Phase, StatusRow};
    use orchestrate_engine::health::ComponentHealth;

    fn taken(health: AirflowHealth) -> Snapshot {
        Snapshot {
            status: Status {
                resources: vec![StatusRow::new(
                    Phase::Scheduler,
                    "ecs/service",
                    "demo-scheduler",
                    "active 1/1 running",
                    true,
                )],
                airflow_url: Some("http://demo.elb".into()),
            },
            health,
        }
    }

    #[test]
    fn the_block_shows_ecs_and_airflows_health_side_by_side() {
        let text = render(
            "deployment demo (eu-west-1)",
            &taken(AirflowHealth::Reported {
                url: "http://demo.elb/api/v2/monitor/health".into(),
                components: vec![
                    ComponentHealth {
                        name: "metadatabase".into(),
                        status: Some("healthy".into()),
                        latest_heartbeat: None,
                    },
                    ComponentHealth {
                        name: "dag_processor".into(),
                        status: None,
                        latest_heartbeat: None,
                    },
                ],
            }),
        );
        assert!(text.contains("demo-scheduler"), "{text}");
        assert!(text.contains("active 1/1 running"), "{text}");
        assert!(text.contains("  metadatabase   healthy\n"), "{text}");
        assert!(text.contains("  dag_processor  (no status)\n"), "{text}");
    }

    #[test]
    fn an_unreachable_alb_is_one_line() {
        let text = render_health(&AirflowHealth::Unreachable {
            url: "http://x/api/v2/monitor/health".into(),
            reason: "timed out".into(),
        });
        assert_eq!(
            text,
            "airflow health: unreachable at http://x/api/v2/monitor/health (timed out)\n"
        );
    }

    #[test]
    fn json_carries_the_time_and_airflows_health() {
        let value = status_value(
            &taken(AirflowHealth::NoLoadBalancer),
            Some("2026-01-01T00:00:00.000Z"),
        );
        assert_eq!(value["time"], "2026-01-01T00:00:00.000Z");
        assert_eq!(value["airflow_health"]["state"], "no_load_balancer");
        assert_eq!(value["resources"][0]["name"], "demo-scheduler");
    }
}
