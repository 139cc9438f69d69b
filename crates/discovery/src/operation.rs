//! Cloud Map's asynchronous operations: namespace creation and deletion, instance
//! deregistration and service updates return an `OperationId` to poll.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_servicediscovery::Client;
use aws_sdk_servicediscovery::types::{Operation, OperationStatus, OperationTargetType};
use orchestrate_aws::aws_error;
use orchestrate_core::{Context, Readiness, ReporterExt};

use crate::error::{Error, Result};

/// How long a namespace operation may take (it creates or deletes a Route 53 hosted zone).
pub const OPERATION_WITHIN: Duration = Duration::from_secs(10 * 60);

/// What an operation's status means: `SUCCESS` ready, `FAIL` failed (with AWS's error code and
/// message), `SUBMITTED` / `PENDING` pending.
pub fn classify(operation: &Operation) -> Readiness {
    match operation.status() {
        Some(OperationStatus::Success) => Readiness::Ready,
        Some(OperationStatus::Fail) => Readiness::Failed {
            reason: format!(
                "{}: {}",
                operation.error_code().unwrap_or("UnknownError"),
                operation.error_message().unwrap_or("no message")
            ),
        },
        Some(status) => Readiness::pending(status.as_str()),
        None => Readiness::pending("(no status)"),
    }
}

/// Readiness of operation `operation_id` now.
///
/// # Errors
/// [`Error::GetOperation`].
pub async fn ready(client: &Client, operation_id: &str) -> Result<Readiness> {
    let out = get(client, operation_id).await?;
    Ok(out
        .as_ref()
        .map_or_else(|| Readiness::pending("(not visible yet)"), classify))
}

async fn get(client: &Client, operation_id: &str) -> Result<Option<Operation>> {
    let out = client
        .get_operation()
        .operation_id(operation_id)
        .send()
        .await
        .map_err(|e| Error::GetOperation(aws_error("get Cloud Map operation", operation_id, e)))?;
    Ok(out.operation().cloned())
}

/// Polls GetOperation until `SUCCESS` (at most `within`, scaled), reporting each new status
/// under `kind`/`name`, and returns the finished operation (its targets name what it touched).
///
/// # Errors
/// [`Error::Operation`] on `FAIL` (AWS's code and message), timeout (last status) or a
/// failing GetOperation.
pub async fn wait(
    client: &Client,
    cx: &Context,
    operation_id: &str,
    within: Duration,
    (kind, name, what): (&str, &str, &str),
) -> Result<Operation> {
    let last: Mutex<Option<Operation>> = Mutex::new(None);
    let slot = &last;
    cx.timing
        .poller(within)
        .wait(
            what,
            move || async move {
                let op = get(client, operation_id).await?;
                let readiness = op
                    .as_ref()
                    .map_or_else(|| Readiness::pending("(not visible yet)"), classify);
                if let Ok(mut s) = slot.lock() {
                    *s = op;
                }
                Ok(readiness)
            },
            |state| cx.reporter.waiting(kind, name, state),
        )
        .await
        .map_err(|source| Error::Operation {
            what: what.to_string(),
            source: Box::new(source),
        })?;
    last.into_inner()
        .ok()
        .flatten()
        .ok_or_else(|| Error::NoNamespaceId {
            operation_id: operation_id.to_string(),
        })
}

/// The id of the `target` an operation names.
pub fn target(operation: &Operation, target: OperationTargetType) -> Option<String> {
    operation.targets().and_then(|t| t.get(&target)).cloned()
}
