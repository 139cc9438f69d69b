//! CloudWatch metric alarms: desired shape, find (one batched DescribeAlarms), diff, ensure
//! (PutMetricAlarm only for what differs), states for `status`, delete.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag,
};
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "cloudwatch/alarm";

/// DescribeAlarms accepts at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

/// What one metric alarm should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDesired {
    /// Alarm name, `<deployment>-<what>`.
    pub name: String,
    /// What it watches and what to do, shown in the e-mail.
    pub description: String,
    /// Metric namespace (`AWS/RDS`, ...).
    pub namespace: String,
    /// Metric name.
    pub metric_name: String,
    /// Dimensions, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Statistic over each period.
    pub statistic: Statistic,
    /// Seconds per datapoint.
    pub period: i32,
    /// Periods evaluated.
    pub evaluation_periods: i32,
    /// Breaching periods (of `evaluation_periods`) that fire the alarm.
    pub datapoints_to_alarm: i32,
    /// Threshold.
    pub threshold: f64,
    /// Comparison of the statistic with the threshold.
    pub comparison: ComparisonOperator,
    /// `missing`, `notBreaching`, `breaching` or `ignore`.
    pub treat_missing_data: String,
    /// SNS topic ARNs notified on ALARM and on OK.
    pub actions: Vec<String>,
    /// Phase the alarm is converged in.
    pub phase: Phase,
    /// Tags sent with the PutMetricAlarm that creates it.
    pub tags: Tags,
}

/// What CloudWatch reports about one alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmObserved {
    /// Alarm name.
    pub name: String,
    /// Alarm ARN.
    pub arn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Metric name.
    pub metric_name: Option<String>,
    /// Dimensions, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Statistic.
    pub statistic: Option<Statistic>,
    /// Period.
    pub period: Option<i32>,
    /// Evaluation periods.
    pub evaluation_periods: Option<i32>,
    /// Datapoints to alarm (CloudWatch omits it when it equals `evaluation_periods`).
    pub datapoints_to_alarm: Option<i32>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// Comparison.
    pub comparison: Option<ComparisonOperator>,
    /// Missing-data treatment (CloudWatch omits it for `missing`).
    pub treat_missing_data: Option<String>,
    /// ALARM actions.
    pub alarm_actions: Vec<String>,
    /// OK actions.
    pub ok_actions: Vec<String>,
    /// Actions enabled.
    pub actions_enabled: Option<bool>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: Option<String>,
}

impl AlarmObserved {
    /// Reads a described metric alarm.
    ///
    /// # Errors
    /// The field CloudWatch left out that every alarm has: its name, or a dimension's name or
    /// value.
    pub fn from_sdk(a: &MetricAlarm) -> std::result::Result<Self, &'static str> {
        let mut dimensions = a
            .dimensions()
            .iter()
            .map(|d| {
                Ok((
                    d.name().ok_or("Dimensions.Name")?.to_string(),
                    d.value().ok_or("Dimensions.Value")?.to_string(),
                ))
            })
            .collect::<std::result::Result<Vec<(String, String)>, &'static str>>()?;
        dimensions.sort();
        Ok(Self {
            name: a.alarm_name().ok_or("AlarmName")?.to_string(),
            arn: a.alarm_arn().map(str::to_string),
            description: a.alarm_description().map(str::to_string),
            namespace: a.namespace().map(str::to_string),
            metric_name: a.metric_name().map(str::to_string),
            dimensions,
            statistic: a.statistic().cloned(),
            period: a.period(),
            evaluation_periods: a.evaluation_periods(),
            datapoints_to_alarm: a.datapoints_to_alarm(),
            threshold: a.threshold(),
            comparison: a.comparison_operator().cloned(),
            treat_missing_data: a.treat_missing_data().map(str::to_string),
            alarm_actions: a.alarm_actions().to_vec(),
            ok_actions: a.ok_actions().to_vec(),
            actions_enabled: a.actions_enabled(),
            state: a.state_value().map(|s| s.as_str().to_string()),
        })
    }
}

fn show_dimensions(d: &[(String, String)]) -> String {
    d.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The fields of `observed` that differ from `desired` (empty: converged). Pure.
pub fn drift(desired: &AlarmDesired, o: &AlarmObserved) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let mut push = |name: &str, from: String, to: String| {
        if from != to {
            fields.push(FieldChange::new(name, Some(from), Some(to)));
        }
    };
    push(
        "AlarmDescription",
        show_opt(o.description.as_deref()),
        desired.description.clone(),
    );
    push(
        "Namespace",
        show_opt(o.namespace.as_deref()),
        desired.namespace.clone(),
    );
    push(
        "MetricName",
        show_opt(o.metric_name.as_deref()),
        desired.metric_name.clone(),
    );
    push(
        "Dimensions",
        show_dimensions(&o.dimensions),
        show_dimensions(&desired.dimensions),
    );
    push(
        "Statistic",
        show_opt(o.statistic.as_ref().map(Statistic::as_str)),
        desired.statistic.as_str().to_string(),
    );
    push("Period", show_opt(o.period), desired.period.to_string());
    push(
        "EvaluationPeriods",
        show_opt(o.evaluation_periods),
        desired.evaluation_periods.to_string(),
    );
    // CloudWatch leaves DatapointsToAlarm out when it was not set; it then equals
    // EvaluationPeriods.
    push(
        "DatapointsToAlarm",
        show_opt(o.datapoints_to_alarm.or(o.evaluation_periods)),
        desired.datapoints_to_alarm.to_string(),
    );
    push(
        "Threshold",
        show_opt(o.threshold),
        desired.threshold.to_string(),
    );
    push(
        "ComparisonOperator",
        show_opt(o.comparison.as_ref().map(ComparisonOperator::as_str)),
        desired.comparison.as_str().to_string(),
    );
    // `missing` is CloudWatch's default and may be reported as absent.
    push(
        "TreatMissingData",
        o.treat_missing_data
            .clone()
            .unwrap_or_else(|| "missing".to_string()),
        desired.treat_missing_data.clone(),
    );
    let actions = sorted(&desired.actions).join(", ");
    push(
        "AlarmActions",
        sorted(&o.alarm_actions).join(", "),
        actions.clone(),
    );
    push("OKActions", sorted(&o.ok_actions).join(", "), actions);
    push(
        "ActionsEnabled",
        o.actions_enabled.unwrap_or(true).to_string(),
        "true".to_string(),
    );
    fields
}

/// What [`ensure_all`] would do to one alarm (pure).
pub fn diff(desired: &AlarmDesired, observed: Option<&AlarmObserved>) -> Change {
    let action = match observed {
        None => Action::Create,
        Some(o) => {
            let fields = drift(desired, o);
            if fields.is_empty() {
                Action::NoChange
            } else {
                Action::Update { fields }
            }
        }
    };
    Change::new(desired.phase, KIND, &desired.name, action)
}

/// The metric alarms named in `names` that exist, by name: one DescribeAlarms per 100 names
/// (following `NextToken`). Names are asked for exactly, never by prefix: `demo-` is also the
/// prefix of another deployment called `demo-prod`.
///
/// # Errors
/// [`Error::DescribeAlarms`], [`Error::MissingField`] for an alarm without a name or with a
/// dimension without a name or value.
pub async fn find_all(
    client: &Client,
    names: &[String],
) -> Result<BTreeMap<String, AlarmObserved>> {
    let mut found = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let out = client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .max_records(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    Error::DescribeAlarms(aws_error("describe alarms", &chunk.join(", "), e))
                })?;
            for alarm in out.metric_alarms() {
                let observed =
                    AlarmObserved::from_sdk(alarm).map_err(|field| Error::MissingField {
                        what: "DescribeAlarms".to_string(),
                        field,
                    })?;
                if chunk.contains(&observed.name) {
                    found.insert(observed.name.clone(), observed);
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
    }
    Ok(found)
}

/// What [`ensure_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureReport {
    /// Alarms created.
    pub created: Vec<String>,
    /// Alarms whose configuration was replaced.
    pub updated: Vec<String>,
}

/// Reads every desired alarm with one DescribeAlarms, then calls PutMetricAlarm (an upsert
/// carrying the whole configuration) only for each alarm that is absent or differs. No
/// mutating call when every alarm matches. Tags go with the PutMetricAlarm that creates an
/// alarm (CloudWatch ignores them on an update). Safe after a crash at any point: names are
/// deterministic and PutMetricAlarm replaces.
///
/// # Errors
/// [`Error::DescribeAlarms`], [`Error::PutAlarm`].
pub async fn ensure_all(
    client: &Client,
    cx: &Context,
    desired: &[AlarmDesired],
) -> Result<EnsureReport> {
    let names: Vec<String> = desired.iter().map(|a| a.name.clone()).collect();
    let observed = find_all(client, &names).await?;
    let mut report = EnsureReport::default();
    for alarm in desired {
        let existing = observed.get(&alarm.name);
        match existing {
            Some(o) if drift(alarm, o).is_empty() => {
                cx.reporter.ready(KIND, &alarm.name);
                continue;
            }
            Some(_) => {
                cx.reporter.applying(KIND, &alarm.name, "update");
                report.updated.push(alarm.name.clone());
            }
            None => {
                cx.reporter.applying(KIND, &alarm.name, "create");
                report.created.push(alarm.name.clone());
            }
        }
        put(client, alarm, existing.is_none()).await?;
        cx.reporter.ready(KIND, &alarm.name);
    }
    Ok(report)
}

async fn put(client: &Client, alarm: &AlarmDesired, with_tags: bool) -> Result<()> {
    let dimensions: Vec<Dimension> = alarm
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
    let tags: Vec<Tag> = if with_tags {
        alarm
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    } else {
        Vec::new()
    };
    client
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .alarm_description(&alarm.description)
        .actions_enabled(true)
        .set_alarm_actions(Some(alarm.actions.clone()))
        .set_ok_actions(Some(alarm.actions.clone()))
        .namespace(&alarm.namespace)
        .metric_name(&alarm.metric_name)
        .set_dimensions(Some(dimensions))
        .statistic(alarm.statistic.clone())
        .period(alarm.period)
        .evaluation_periods(alarm.evaluation_periods)
        .datapoints_to_alarm(alarm.datapoints_to_alarm)
        .threshold(alarm.threshold)
        .comparison_operator(alarm.comparison.clone())
        .treat_missing_data(&alarm.treat_missing_data)
        .set_tags(Some(tags).filter(|t| !t.is_empty()))
        .send()
        .await
        .map_err(|e| Error::PutAlarm(aws_error("put metric alarm", &alarm.name, e)))?;
    Ok(())
}

/// The state of each alarm of `names` that exists (`OK`, `ALARM`, `INSUFFICIENT_DATA`), by
/// name: the one DescribeAlarms `status` makes.
///
/// # Errors
/// [`Error::DescribeAlarms`].
pub async fn states(client: &Client, names: &[String]) -> Result<BTreeMap<String, String>> {
    Ok(find_all(client, names)
        .await?
        .into_iter()
        .map(|(name, o)| (name, o.state.unwrap_or_else(|| "UNKNOWN".to_string())))
        .collect())
}

/// Deletes the alarms of `names` that exist: one DescribeAlarms, then one DeleteAlarms of
/// exactly those (none when nothing exists). Idempotent. Returns the names deleted.
///
/// # Errors
/// [`Error::DescribeAlarms`], [`Error::DeleteAlarms`].
pub async fn delete_all(client: &Client, cx: &Context, names: &[String]) -> Result<Vec<String>> {
    let present: Vec<String> = find_all(client, names).await?.into_keys().collect();
    for chunk in present.chunks(NAMES_PER_CALL) {
        for name in chunk {
            cx.reporter.applying(KIND, name, "delete");
        }
        match client
            .delete_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(_) => {}
            // Deleted in between (another run, a console user): as gone as we want it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found()) => {}
            Err(e) => {
                return Err(Error::DeleteAlarms(aws_error(
                    "delete alarms",
                    &chunk.join(", "),
                    e,
                )));
            }
        }
    }
    Ok(present)
}
