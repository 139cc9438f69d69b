//! The alarms' two graph nodes, for every command: the SNS topic ([`Node::AlarmTopic`], phase
//! 1, only with `[alarms] email`) and the CloudWatch alarms ([`Node::Alarms`], phase 2, before
//! the api-server service, whose ECS deployment alarm is among them).
//!
//! All alarms of the phases up to `up_to` converge in phase 2 — the RDS and Valkey ones too,
//! since phase 1 has converged by then — so the api-server's deployment alarm exists before
//! the service names it. Nothing here runs when `[alarms]` is not active (zero calls).
//!
//! [`Node::AlarmTopic`]: crate::graph::Node::AlarmTopic
//! [`Node::Alarms`]: crate::graph::Node::Alarms

use orchestrate_core::{Change, Phase, StatusRow};

use crate::Engine;
use crate::error::{EngineError, step};
use crate::graph::{Graph, Known};

/// Converges the topic orchestrate creates for the alarms (none with `sns_topic_arn` or with
/// alarms off).
///
/// # Errors
/// A failed SNS call.
pub async fn converge_topic(
    engine: &Engine,
    graph: &Graph<'_>,
    account_id: &str,
) -> Result<(), EngineError> {
    let Some(desired) = graph.alarm_topic(Some(account_id)) else {
        return Ok(());
    };
    engine
        .limit
        .run(orchestrate_alarms::topic::ensure(
            &engine.aws.sns,
            &engine.cx,
            &desired,
        ))
        .await
        .map_err(step("converge the alarm topic"))?;
    Ok(())
}

/// What [`converge_topic`] would do (read-only).
///
/// # Errors
/// A failed SNS read.
pub async fn plan_topic(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
) -> Result<Vec<Change>, EngineError> {
    let Some(desired) = graph.alarm_topic(known.account_id.as_deref()) else {
        return Ok(Vec::new());
    };
    let observed = orchestrate_alarms::topic::find(&engine.aws.sns, &desired.arn)
        .await
        .map_err(step("read the alarm topic"))?;
    Ok(vec![orchestrate_alarms::topic::diff(
        &desired,
        observed.as_ref(),
    )])
}

/// Converges the alarms of phases up to `up_to` (one DescribeAlarms; PutMetricAlarm only for
/// what differs).
///
/// # Errors
/// A failed CloudWatch call.
pub async fn converge(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
    up_to: Phase,
) -> Result<(), EngineError> {
    let Some(desired) = graph.alarms(known, up_to) else {
        return Ok(());
    };
    orchestrate_alarms::alarm::ensure_all(&engine.aws.cloudwatch, &engine.cx, &desired.alarms)
        .await
        .map_err(step("converge the CloudWatch alarms"))?;
    Ok(())
}

/// What [`converge`] would do (read-only, one DescribeAlarms).
///
/// # Errors
/// A failed DescribeAlarms.
pub async fn plan(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
    up_to: Phase,
) -> Result<Vec<Change>, EngineError> {
    let Some(desired) = graph.alarms(known, up_to) else {
        return Ok(Vec::new());
    };
    let observed = orchestrate_alarms::alarm::find_all(&engine.aws.cloudwatch, &desired.names())
        .await
        .map_err(step("read the CloudWatch alarms"))?;
    Ok(orchestrate_alarms::diff_all(&desired, &observed))
}

/// Every alarm name a deployment may have (what `status` and `teardown` look for).
pub fn all_names(engine: &Engine) -> Vec<String> {
    let components: Vec<&str> = orchestrate_airflow::Component::ALL
        .iter()
        .filter(|c| c.is_service())
        .map(|c| c.name())
        .collect();
    orchestrate_alarms::all_names(&engine.cx, &components)
}

/// One `status` row per existing alarm with CloudWatch's state (`OK`, `ALARM`,
/// `INSUFFICIENT_DATA`); an alarm in ALARM is not healthy. One DescribeAlarms; no call and no
/// row when `[alarms]` is not active.
///
/// # Errors
/// A failed DescribeAlarms.
pub async fn status_rows(engine: &Engine) -> Result<Vec<StatusRow>, EngineError> {
    if !engine.spec.alarms.active() {
        return Ok(Vec::new());
    }
    let states = orchestrate_alarms::alarm::states(&engine.aws.cloudwatch, &all_names(engine))
        .await
        .map_err(step("read the CloudWatch alarms"))?;
    Ok(states
        .into_iter()
        .map(|(name, state)| StatusRow {
            phase: Phase::ApiServer,
            kind: orchestrate_alarms::alarm::KIND.to_string(),
            name,
            healthy: state != "ALARM",
            state,
            service: None,
        })
        .collect())
}

/// Deletes every alarm the deployment may have (idempotent).
///
/// # Errors
/// A failed CloudWatch call.
pub async fn delete(engine: &Engine) -> Result<(), EngineError> {
    orchestrate_alarms::alarm::delete_all(&engine.aws.cloudwatch, &engine.cx, &all_names(engine))
        .await
        .map_err(step("delete the CloudWatch alarms"))?;
    Ok(())
}

/// Deletes the topic orchestrate created (tagged with the deployment), never a topic given by
/// ARN.
///
/// # Errors
/// A failed SNS call.
pub async fn delete_topic(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
) -> Result<(), EngineError> {
    let Some(desired) = graph.alarm_topic(known.account_id.as_deref()) else {
        return Ok(());
    };
    orchestrate_alarms::topic::delete(&engine.aws.sns, &engine.cx, &desired.arn)
        .await
        .map_err(step("delete the alarm topic"))?;
    Ok(())
}
