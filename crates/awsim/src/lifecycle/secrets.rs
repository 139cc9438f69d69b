//! Secrets Manager: a secret scheduled for deletion refuses new values and blocks its name.
//!
//! moto answers CreateSecret for a name that is pending deletion with
//! `ResourceExistsException`, and accepts PutSecretValue / UpdateSecret on such a secret.
//! AWS answers both with `InvalidRequestException` until the secret is restored
//! (RestoreSecret) or its recovery window ends, which is what a deploy tool meets when it
//! runs `up` again soon after deleting everything. awsim asks moto (DescribeSecret) before
//! forwarding and refuses as AWS does.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::protocol::{Protocol, Rendered, render_error};

/// AWS's answer to CreateSecret of a name scheduled for deletion.
pub const CREATE_PENDING: &str = "You can't create this secret because a secret with this name is already scheduled for deletion.";

/// AWS's answer to a new value for a secret scheduled for deletion.
pub const UPDATE_PENDING: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";

/// `Some(refusal)` when `operation` targets a secret scheduled for deletion; `None` forwards.
pub async fn before(
    backend: &Backend,
    region: &str,
    operation: &str,
    req: &Value,
    request_id: &str,
) -> Option<Rendered> {
    let (field, message) = match operation {
        "CreateSecret" => ("Name", CREATE_PENDING),
        "PutSecretValue" | "UpdateSecret" => ("SecretId", UPDATE_PENDING),
        _ => return None,
    };
    let id = req.get(field)?.as_str()?;
    let (status, described) = backend
        .json(
            region,
            "secretsmanager",
            "secretsmanager.DescribeSecret",
            &json!({ "SecretId": id }),
        )
        .await
        .ok()?;
    let pending = status.is_success() && described.get("DeletedDate").is_some_and(|d| !d.is_null());
    pending.then(|| {
        render_error(
            Protocol::Json,
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            message,
            request_id,
        )
    })
}
