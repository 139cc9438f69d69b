//! Airflow's own view of its health, beside ECS's: `GET <url>/api/v2/monitor/health` on the
//! api-server behind the ALB (an unauthenticated endpoint in Airflow 3), with the status
//! Airflow reports for the metadatabase, the scheduler, the triggerer and the DAG processor.
//!
//! # Guarantees
//! - One GET, bounded by a short timeout ([`TIMEOUT`]); any failure (DNS, connect, timeout, a
//!   non-2xx answer, a body that is not Airflow's) is an [`AirflowHealth::Unreachable`] with
//!   the reason, never an error: `status` and `status --watch` always go on.
//! - Reads nothing secret and sends no credential.
//! - The URL comes from the ALB `status` described; [`HEALTH_URL_ENV`], when set (and not
//!   empty), replaces the whole health URL, for a tunnel or a proxy in front of a private ALB
//!   and for tests (the emulator's ALB DNS names do not resolve).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Airflow 3's health endpoint, relative to where the api-server answers.
pub const HEALTH_PATH: &str = "/api/v2/monitor/health";

/// Environment variable that, when set, is the full health URL to read instead of the ALB's.
pub const HEALTH_URL_ENV: &str = "ORCHESTRATE_HEALTH_URL";

/// How long one health request may take before it counts as unreachable.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The components Airflow reports, in the order they are shown.
pub const COMPONENTS: [&str; 4] = ["metadatabase", "scheduler", "triggerer", "dag_processor"];

/// What Airflow said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AirflowHealth {
    /// Airflow answered: one entry per component of [`COMPONENTS`].
    Reported {
        /// The URL read.
        url: String,
        /// Each component's status.
        components: Vec<ComponentHealth>,
    },
    /// Nothing usable came back.
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why (`timed out after 2s`, `HTTP 503`, the connection error).
        reason: String,
    },
    /// There is no ALB to ask (and no [`HEALTH_URL_ENV`]).
    NoLoadBalancer,
}

/// One component as Airflow reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentHealth {
    /// `metadatabase`, `scheduler`, `triggerer`, `dag_processor`.
    pub name: String,
    /// `healthy` / `unhealthy`; `None` when Airflow reports none (a triggerer or DAG
    /// processor that never ran).
    pub status: Option<String>,
    /// Its latest heartbeat, as Airflow wrote it.
    pub latest_heartbeat: Option<String>,
}

impl ComponentHealth {
    /// True when Airflow calls it healthy.
    pub fn is_healthy(&self) -> bool {
        self.status.as_deref() == Some("healthy")
    }
}

#[derive(Debug, Deserialize)]
struct Body {
    metadatabase: Option<Part>,
    scheduler: Option<Part>,
    triggerer: Option<Part>,
    dag_processor: Option<Part>,
}

#[derive(Debug, Deserialize)]
struct Part {
    status: Option<String>,
    #[serde(
        default,
        alias = "latest_scheduler_heartbeat",
        alias = "latest_triggerer_heartbeat",
        alias = "latest_dag_processor_heartbeat"
    )]
    latest_heartbeat: Option<String>,
}

/// The components of a health answer's body (pure).
///
/// # Errors
/// The body is not JSON of Airflow's shape (no metadatabase and no scheduler).
pub fn parse(body: &[u8]) -> Result<Vec<ComponentHealth>, String> {
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not Airflow's health JSON: {e}"))?;
    if body.metadatabase.is_none() && body.scheduler.is_none() {
        return Err(
            "the answer is not Airflow's health JSON: no metadatabase, no scheduler".into(),
        );
    }
    let parts = [
        body.metadatabase,
        body.scheduler,
        body.triggerer,
        body.dag_processor,
    ];
    Ok(COMPONENTS
        .iter()
        .zip(parts)
        .map(|(name, part)| ComponentHealth {
            name: (*name).to_string(),
            status: part.as_ref().and_then(|p| p.status.clone()),
            latest_heartbeat: part.and_then(|p| p.latest_heartbeat),
        })
        .collect())
}

/// The health URL: [`HEALTH_URL_ENV`] when set and not empty, else `<airflow_url>` +
/// [`HEALTH_PATH`]; `None` when neither exists.
pub fn health_url(airflow_url: Option<&str>) -> Option<String> {
    std::env::var(HEALTH_URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| airflow_url.map(|u| format!("{}{HEALTH_PATH}", u.trim_end_matches('/'))))
}

/// Reads Airflow's health at `url` (one GET, at most `timeout`); `None` url is
/// [`AirflowHealth::NoLoadBalancer`]. Never fails: see the module's guarantees.
pub async fn read(url: Option<String>, timeout: Duration) -> AirflowHealth {
    let Some(url) = url else {
        return AirflowHealth::NoLoadBalancer;
    };
    match tokio::time::timeout(timeout, get(&url, timeout)).await {
        Ok(Ok(components)) => AirflowHealth::Reported { url, components },
        Ok(Err(reason)) => AirflowHealth::Unreachable { url, reason },
        Err(_) => AirflowHealth::Unreachable {
            url,
            reason: format!("no answer within {}s", timeout.as_secs_f64()),
        },
    }
}

async fn get(url: &str, timeout: Duration) -> Result<Vec<ComponentHealth>, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| describe(&e))?;
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    parse(&body)
}

/// A reqwest error and its causes, without the URL it repeats.
fn describe(err: &reqwest::Error) -> String {
    let mut out = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_3_health_is_parsed_with_each_components_heartbeat() {
        let body = br#"{
            "metadatabase": {"status": "healthy"},
            "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-01-02T03:04:05+00:00"},
            "triggerer": {"status": "unhealthy", "latest_triggerer_heartbeat": "2026-01-02T02:00:00+00:00"},
            "dag_processor": {"status": null, "latest_dag_processor_heartbeat": null}
        }"#;
        let parsed = parse(body).expect("parses");
        let names: Vec<&str> = parsed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, COMPONENTS);
        assert!(parsed[0].is_healthy());
        assert_eq!(
            parsed[1].latest_heartbeat.as_deref(),
            Some("2026-01-02T03:04:05+00:00")
        );
        assert_eq!(parsed[2].status.as_deref(), Some("unhealthy"));
        assert!(!parsed[2].is_healthy());
        assert_eq!(parsed[3].status, None);
    }

    #[test]
    fn a_body_that_is_not_airflows_is_refused() {
        assert!(parse(b"<html>502 Bad Gateway</html>").is_err());
        assert!(parse(br#"{"ok": true}"#).is_err());
    }

    #[tokio::test]
    async fn no_url_is_no_load_balancer_and_a_closed_port_is_unreachable_quickly() {
        assert_eq!(read(None, TIMEOUT).await, AirflowHealth::NoLoadBalancer);
        // A port that was just bound and released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}{HEALTH_PATH}");
        match read(Some(url.clone()), TIMEOUT).await {
            AirflowHealth::Unreachable { url: tried, reason } => {
                assert_eq!(tried, url);
                assert!(!reason.is_empty());
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_unreachable_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        // Accepts and holds the connection without answering.
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let health = read(
            Some(format!("http://127.0.0.1:{port}{HEALTH_PATH}")),
            Duration::from_millis(300),
        )
        .await;
        hold.abort();
        assert!(
            matches!(health, AirflowHealth::Unreachable { .. }),
            "{health:?}"
        );
    }
}
