//! Every secret of the deployment read in two calls, for `up`: one tag-filtered ListSecrets
//! (existence, ARN, scheduled deletion) and one BatchGetSecretValue of the live ones (their
//! values, each wrapped in [`Sensitive`] and so registered for redaction at once).
//!
//! A [`Snapshot`] is a fast path, never the only word: a name it does not list (not created
//! yet, created moments ago and not yet in ListSecrets' eventually consistent answer, or
//! created without this deployment's tags) is looked up by name with DescribeSecret by the
//! `ensure` that needs it ([`crate::ensure_generated_with`], [`crate::ensure_derived_with`]),
//! exactly as without a snapshot; a value the batch did not return is read with
//! GetSecretValue. So a snapshot can only save calls, never hide a secret.
//!
//! Why reading values at all: the generated values are read so that each is registered for
//! redaction before anything else of the run can echo it, and the derived values (connection
//! URLs) are compared with what they should hold, to write them only when they differ. A hash
//! in a tag would save the read of the derived values but is no help for the first reason,
//! and a tag is readable by anyone allowed to list secrets; one batched read costs one call.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use orchestrate_aws::aws_error;
use orchestrate_core::{Classify, Context, ErrorKind, Sensitive};

use crate::error::{Error, Result};
use crate::secret::{self, SecretObserved};

/// BatchGetSecretValue takes at most this many ids per call.
const BATCH: usize = 20;

/// One secret as the snapshot saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Name, ARN, scheduled deletion.
    pub observed: SecretObserved,
    /// Its current value; `None` when it is scheduled for deletion (AWS refuses to read it).
    pub value: Option<Sensitive>,
}

/// The deployment's secrets by name, as read at one moment (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    by_name: BTreeMap<String, Stored>,
}

impl Snapshot {
    /// A snapshot that knows nothing: every `ensure` finds its secret by name.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The secret `name`, if the snapshot listed it.
    pub fn get(&self, name: &str) -> Option<&Stored> {
        self.by_name.get(name)
    }

    /// How many secrets it holds.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Reads the secrets of `keys` (names from [`orchestrate_core::Names::secret`]): one
    /// ListSecrets (tag `orchestrate:deployment`, secrets scheduled for deletion included; more
    /// only past 100 secrets) and one BatchGetSecretValue per 20 live ones, by ARN (a name
    /// such as `…/jwt-secret` could be read as a partial ARN). Never writes.
    ///
    /// A principal without `secretsmanager:BatchGetSecretValue` (an operator policy older
    /// than this version) gets one GetSecretValue per secret instead.
    ///
    /// # Errors
    /// [`Error::List`], [`Error::GetValue`], [`Error::Malformed`], [`Error::Incomplete`].
    pub async fn read(client: &Client, cx: &Context, keys: &[&str]) -> Result<Self> {
        let wanted: Vec<String> = keys.iter().map(|k| cx.names.secret(k)).collect();
        let mut by_name = BTreeMap::new();
        for observed in list(client, cx).await? {
            if wanted.contains(&observed.name) {
                by_name.insert(observed.name.clone(), observed);
            }
        }
        let live: Vec<&SecretObserved> = by_name
            .values()
            .filter(|o| !o.scheduled_for_deletion)
            .collect();
        let mut values = batch_values(client, cx, &live).await?;
        let mut out = BTreeMap::new();
        for (name, observed) in by_name {
            let value = if observed.scheduled_for_deletion {
                None
            } else {
                match values.remove(&observed.arn) {
                    Some(value) => Some(value),
                    // Not in the batch's answer (an error entry, or no string value): read
                    // alone, which reports the reason properly.
                    None => Some(secret::get_value(client, &name).await?),
                }
            };
            out.insert(name, Stored { observed, value });
        }
        Ok(Self { by_name: out })
    }
}

/// Every secret tagged with this deployment (ListSecrets, all pages, secrets scheduled for
/// deletion included), never the values.
async fn list(client: &Client, cx: &Context) -> Result<Vec<SecretObserved>> {
    let entries = crate::list_entries(
        client,
        crate::deployment_filters(cx),
        true,
        "list secrets of",
        cx.names.deployment(),
    )
    .await?;
    let mut found = Vec::new();
    for entry in entries.iter().filter(|entry| crate::is_ours(entry, cx)) {
        let Some(name) = entry.name() else {
            continue;
        };
        let arn = entry.arn().ok_or_else(|| Error::Incomplete {
            name: name.to_string(),
            field: "ARN",
        })?;
        found.push(SecretObserved {
            name: name.to_string(),
            arn: arn.to_string(),
            scheduled_for_deletion: entry.deleted_date().is_some(),
        });
    }
    Ok(found)
}

/// The string values of `secrets` by ARN, 20 per BatchGetSecretValue. A secret the answer
/// lists under `Errors`, or without a string value, is left out (the caller reads it alone).
/// Without permission for the batch call, each is read with GetSecretValue.
async fn batch_values(
    client: &Client,
    cx: &Context,
    secrets: &[&SecretObserved],
) -> Result<BTreeMap<String, Sensitive>> {
    let mut values = BTreeMap::new();
    for chunk in secrets.chunks(BATCH) {
        let mut token: Option<String> = None;
        loop {
            let out = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.iter().map(|s| s.arn.clone()).collect()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    Error::GetValue(aws_error("read the secrets of", cx.names.deployment(), e))
                });
            let out = match out {
                Ok(out) => out,
                Err(e) if e.kind() == ErrorKind::AccessDenied => {
                    tracing::debug!(
                        "BatchGetSecretValue refused ({e}); reading the secrets one by one"
                    );
                    for s in chunk {
                        values.insert(s.arn.clone(), secret::get_value(client, &s.name).await?);
                    }
                    break;
                }
                Err(e) => return Err(e),
            };
            for entry in out.secret_values() {
                if let (Some(arn), Some(value)) = (entry.arn(), entry.secret_string()) {
                    values.insert(arn.to_string(), Sensitive::new(value));
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueOutput;
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput;
    use aws_sdk_secretsmanager::types::{SecretListEntry, SecretValueEntry, Tag};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use orchestrate_core::names::TAG_DEPLOYMENT;

    use super::*;
    use crate::{
        DB_CREDENTIALS, DERIVED_KEYS, FERNET_KEY, GENERATED_KEYS, GeneratedDesired,
        SQL_ALCHEMY_CONN, ensure_derived_with, ensure_generated_with,
    };

    const STORED_DB: &str =
        r#"{"username":"airflow","password":"SnapshotPassword0123456789abcdXY"}"#;

    fn arn(name: &str) -> String {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
    }

    fn value_of(name: &str) -> String {
        if name.ends_with(DB_CREDENTIALS) {
            STORED_DB.to_string()
        } else {
            format!("snapshot-value-of-{name}")
        }
    }

    fn keys() -> Vec<&'static str> {
        GENERATED_KEYS
            .iter()
            .chain(DERIVED_KEYS.iter())
            .copied()
            .collect()
    }

    /// ListSecrets answering every key of `demo` as tagged, `deleted` ones scheduled for
    /// deletion, plus a secret of another deployment.
    fn listed(deleted: &'static [&'static str]) -> ListSecretsOutput {
        let cx = Context::for_tests("demo");
        let mut out = ListSecretsOutput::builder();
        for key in keys() {
            let name = cx.names.secret(key);
            out = out.secret_list(
                SecretListEntry::builder()
                    .name(&name)
                    .arn(arn(&name))
                    .tags(Tag::builder().key(TAG_DEPLOYMENT).value("demo").build())
                    .set_deleted_date(deleted.contains(&key).then(|| DateTime::from_secs(1)))
                    .build(),
            );
        }
        out.secret_list(
            SecretListEntry::builder()
                .name("orchestrate/other/fernet-key")
                .arn(arn("orchestrate/other/fernet-key"))
                .tags(Tag::builder().key(TAG_DEPLOYMENT).value("other").build())
                .build(),
        )
        .build()
    }

    fn batch() -> aws_smithy_mocks::Rule {
        mock!(Client::batch_get_secret_value).then_compute_output(|r| {
            let mut out = BatchGetSecretValueOutput::builder();
            for id in r.secret_id_list() {
                let name = id
                    .trim_end_matches("-AbCdEf")
                    .rsplit(":secret:")
                    .next()
                    .unwrap_or_default();
                out = out.secret_values(
                    SecretValueEntry::builder()
                        .arn(id)
                        .name(name)
                        .secret_string(value_of(name))
                        .build(),
                );
            }
            out.build()
        })
    }

    #[tokio::test]
    async fn a_converged_deployment_is_read_in_two_calls_and_ensured_in_none() {
        let cx = Context::for_tests("demo");
        let list = mock!(Client::list_secrets).then_output(|| listed(&[]));
        let batch = batch();
        let describe =
            mock!(Client::describe_secret).then_output(|| DescribeSecretOutput::builder().build());
        let get =
            mock!(Client::get_secret_value).then_output(|| GetSecretValueOutput::builder().build());
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            [&list, &batch, &describe, &get]
        );

        let snapshot = Snapshot::read(&client, &cx, &keys()).await.expect("read");
        assert_eq!(
            snapshot.len(),
            8,
            "the other deployment's secret is not ours"
        );
        assert_eq!((list.num_calls(), batch.num_calls()), (1, 1));

        let generated = ensure_generated_with(
            &client,
            &cx,
            &GeneratedDesired {
                db_username: "airflow".into(),
            },
            &snapshot,
        )
        .await
        .expect("generated");
        assert_eq!(
            generated.db_password.expose(),
            "SnapshotPassword0123456789abcdXY"
        );
        assert_eq!(
            generated.arn(FERNET_KEY),
            Some(arn("orchestrate/demo/fernet-key").as_str())
        );
        // Registered for redaction when the batch was read.
        let shown = orchestrate_core::sensitive::redact(
            "echo snapshot-value-of-orchestrate/demo/jwt-secret",
        );
        assert!(!shown.contains("snapshot-value-of"), "{shown}");

        let name = cx.names.secret(SQL_ALCHEMY_CONN);
        let same = Sensitive::new(value_of(&name));
        let got = ensure_derived_with(&client, &cx, SQL_ALCHEMY_CONN, &same, snapshot.get(&name))
            .await
            .expect("derived");
        assert_eq!(got, arn(&name));
        assert_eq!(
            (describe.num_calls(), get.num_calls()),
            (0, 0),
            "nothing is described or read a second time"
        );
    }

    #[tokio::test]
    async fn a_secret_scheduled_for_deletion_is_not_read_and_absent_ones_are_found_by_name() {
        let cx = Context::for_tests("demo");
        let list = mock!(Client::list_secrets).then_output(|| listed(&[FERNET_KEY]));
        let batch = batch();
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&list, &batch]);
        let snapshot = Snapshot::read(&client, &cx, &keys()).await.expect("read");
        let fernet = snapshot.get(&cx.names.secret(FERNET_KEY)).expect("listed");
        assert!(fernet.observed.scheduled_for_deletion);
        assert_eq!(fernet.value, None, "AWS refuses to read it; not asked");
        assert!(snapshot.get("orchestrate/demo/not-a-key").is_none());
        assert!(Snapshot::empty().is_empty());
    }
}
