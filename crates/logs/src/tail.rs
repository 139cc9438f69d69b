//! Read-only: the last lines of one log stream (a failed one-off task's output).

use orchestrate_aws::{aws_error, error_code, is_not_found_code};

use crate::{Client, Error, Result};

/// The last `lines` messages of `stream` in `group`, oldest first (one GetLogEvents call,
/// `startFromHead=false`). A group or stream that does not exist (a task that never started
/// its container writes none) reads as no lines, never an error.
///
/// # Errors
/// [`Error::ReadEvents`].
pub async fn tail(client: &Client, group: &str, stream: &str, lines: i32) -> Result<Vec<String>> {
    let out = match client
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(lines.max(1))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
                || error_code(&e).is_some_and(is_not_found_code) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(Error::ReadEvents(aws_error(
                "read log events of",
                &format!("{group}/{stream}"),
                e,
            )));
        }
    };
    Ok(out
        .events()
        .iter()
        .filter_map(|e| e.message())
        .map(|m| m.trim_end().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
    use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[tokio::test]
    async fn tail_returns_the_messages_oldest_first() {
        let rule = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(|r| {
                r.log_group_name() == Some("/orchestrate/demo")
                    && r.log_stream_name() == Some("migration/migration/abc")
                    && r.start_from_head() == Some(false)
                    && r.limit() == Some(20)
            })
            .then_output(|| {
                GetLogEventsOutput::builder()
                    .events(OutputLogEvent::builder().message("one\n").build())
                    .events(OutputLogEvent::builder().message("two").build())
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&rule]);
        let lines = tail(&client, "/orchestrate/demo", "migration/migration/abc", 20)
            .await
            .expect("tail");
        assert_eq!(lines, vec!["one".to_string(), "two".to_string()]);
    }

    #[tokio::test]
    async fn a_missing_stream_reads_as_no_lines() {
        let rule = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events).then_error(|| {
            aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsError::ResourceNotFoundException(
                aws_sdk_cloudwatchlogs::types::error::ResourceNotFoundException::builder()
                    .message("The specified log stream does not exist.")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&rule]);
        let lines = tail(&client, "g", "s", 5).await.expect("tail");
        assert!(lines.is_empty());
    }
}
