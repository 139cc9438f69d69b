//! The SNS topic orchestrate creates for the alarms when the spec gives an e-mail address
//! (`<deployment>-alarms`, one e-mail subscription): desired shape, find, diff, ensure,
//! delete.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Tag;
use orchestrate_aws::aws_error;
use orchestrate_core::change::{Action, Change, FieldChange};
use orchestrate_core::names::TAG_DEPLOYMENT;
use orchestrate_core::{Context, Phase, ReporterExt, Tags};

use crate::error::{Error, Result};

/// Resource kind shown in plans and progress.
pub const KIND: &str = "sns/topic";

/// The e-mail protocol of SNS.
pub const EMAIL: &str = "email";

/// The topic and its one e-mail subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDesired {
    /// Topic name, `<deployment>-alarms`.
    pub name: String,
    /// The topic's ARN (deterministic from partition, region, account and name).
    pub arn: String,
    /// The address subscribed.
    pub email: String,
    /// Tags sent with CreateTopic.
    pub tags: Tags,
}

impl TopicDesired {
    /// The topic of `cx`'s deployment in `region` of `account_id`, subscribing `email`.
    pub fn new(cx: &Context, region: &str, account_id: &str, email: &str) -> Self {
        let name = topic_name(cx);
        Self {
            arn: orchestrate_aws::arn::arn("sns", region, account_id, &name),
            tags: cx.tags(crate::COMPONENT_TOPIC, Phase::Storage, &name),
            email: email.to_string(),
            name,
        }
    }
}

/// `<deployment>-alarms`.
pub fn topic_name(cx: &Context) -> String {
    cx.names.prefixed("alarms")
}

/// What SNS reports about the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicObserved {
    /// Topic ARN.
    pub arn: String,
    /// Subscriptions as (protocol, endpoint), confirmed or pending.
    pub subscriptions: Vec<(String, String)>,
}

impl TopicObserved {
    /// True when `email` is subscribed (confirmed or pending confirmation).
    pub fn subscribes(&self, email: &str) -> bool {
        self.subscriptions
            .iter()
            .any(|(p, e)| p == EMAIL && e.eq_ignore_ascii_case(email))
    }
}

/// The topic `arn` with its subscriptions; `Ok(None)` when it does not exist.
///
/// # Errors
/// [`Error::GetTopic`], [`Error::ListSubscriptions`].
pub async fn find(client: &Client, arn: &str) -> Result<Option<TopicObserved>> {
    match client.get_topic_attributes().topic_arn(arn).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::GetTopic(aws_error("get topic attributes", arn, e))),
    }
    let mut subscriptions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::ListSubscriptions(aws_error("list subscriptions", arn, e)))?;
        for s in out.subscriptions() {
            if let (Some(protocol), Some(endpoint)) = (s.protocol(), s.endpoint()) {
                subscriptions.push((protocol.to_string(), endpoint.to_string()));
            }
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(Some(TopicObserved {
        arn: arn.to_string(),
        subscriptions,
    }))
}

/// What [`ensure`] would do (pure).
pub fn diff(desired: &TopicDesired, observed: Option<&TopicObserved>) -> Change {
    let subscription = || {
        FieldChange::new(
            "subscription",
            None,
            Some(format!("{EMAIL} {}", desired.email)),
        )
    };
    let action = match observed {
        None => Action::Create,
        Some(o) if o.subscribes(&desired.email) => Action::NoChange,
        Some(_) => Action::Update {
            fields: vec![subscription()],
        },
    };
    Change::new(Phase::Storage, KIND, &desired.name, action)
}

/// Creates the topic with its tags when absent (CreateTopic of an existing name answers its
/// ARN, so a lost response is harmless), then subscribes the e-mail address unless it is
/// already subscribed — confirmed or pending: a re-run never sends a second confirmation
/// mail. No mutating call when both exist. Other subscriptions (the team's own) are left
/// alone. Returns the topic's ARN.
///
/// # Errors
/// [`Error::GetTopic`], [`Error::ListSubscriptions`], [`Error::CreateTopic`],
/// [`Error::Subscribe`], [`Error::MissingField`].
pub async fn ensure(client: &Client, cx: &Context, desired: &TopicDesired) -> Result<String> {
    let observed = find(client, &desired.arn).await?;
    let (arn, subscribed) = match observed {
        Some(o) => {
            let subscribed = o.subscribes(&desired.email);
            (o.arn, subscribed)
        }
        None => {
            cx.reporter.applying(KIND, &desired.name, "create");
            let tags = desired
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| Error::MissingField {
                    what: format!("tags of topic {}", desired.name),
                    field: "Key/Value",
                })?;
            let out = client
                .create_topic()
                .name(&desired.name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::CreateTopic(aws_error("create topic", &desired.name, e)))?;
            let arn = out
                .topic_arn()
                .ok_or_else(|| Error::MissingField {
                    what: format!("CreateTopic {}", desired.name),
                    field: "TopicArn",
                })?
                .to_string();
            (arn, false)
        }
    };
    if !subscribed {
        cx.reporter.applying(KIND, &desired.name, "subscribe");
        client
            .subscribe()
            .topic_arn(&arn)
            .protocol(EMAIL)
            .endpoint(&desired.email)
            .send()
            .await
            .map_err(|e| Error::Subscribe(aws_error("subscribe", &desired.name, e)))?;
        cx.reporter.note(
            KIND,
            format!(
                "{} must confirm the subscription from the e-mail AWS sent before alarms reach it",
                desired.email
            ),
        );
    }
    cx.reporter.ready(KIND, &desired.name);
    Ok(arn)
}

/// Deletes the topic `arn` (and with it its subscriptions) when it exists and carries this
/// deployment's `orchestrate:deployment` tag: a topic of the same name that orchestrate did not
/// create is left alone. Idempotent. Returns true when a topic was deleted.
///
/// # Errors
/// [`Error::GetTopic`], [`Error::ListTopicTags`], [`Error::DeleteTopic`].
pub async fn delete(client: &Client, cx: &Context, arn: &str) -> Result<bool> {
    let tags = match client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => out.tags().to_vec(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
                || orchestrate_aws::error_code(&e).is_some_and(|c| c == "NotFound") =>
        {
            return Ok(false);
        }
        Err(e) => return Err(Error::ListTopicTags(aws_error("list topic tags", arn, e))),
    };
    let ours = tags
        .iter()
        .any(|t| t.key() == TAG_DEPLOYMENT && t.value() == cx.names.deployment());
    if !ours {
        cx.reporter.note(
            KIND,
            format!("{arn} does not carry this deployment's tag; it is kept"),
        );
        return Ok(false);
    }
    cx.reporter.applying(KIND, arn, "delete");
    match client.delete_topic().topic_arn(arn).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::DeleteTopic(aws_error("delete topic", arn, e))),
    }
}
