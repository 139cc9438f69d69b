//! Read-only: the events of several log streams of one group, interleaved by time (what
//! `orchestrate logs` prints and `--follow` polls).

use std::collections::HashSet;

use orchestrate_aws::{aws_error, error_code, is_not_found_code};

use crate::{Client, Error, Result};

/// FilterLogEvents takes at most this many stream names per call.
pub const MAX_STREAMS_PER_CALL: usize = 100;

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch (when the event happened).
    pub timestamp: i64,
    /// The stream it belongs to.
    pub stream: String,
    /// The message, without its trailing newline.
    pub message: String,
    /// CloudWatch's event id (unique within the group).
    pub event_id: String,
}

/// Every event of `streams` in `group` from `start_ms` on (all when `None`), oldest first,
/// through FilterLogEvents (paginated; streams in groups of [`MAX_STREAMS_PER_CALL`]). A group
/// or stream that does not exist reads as no events, never an error.
///
/// # Errors
/// [`Error::ReadEvents`].
pub async fn read_streams(
    client: &Client,
    group: &str,
    streams: &[String],
    start_ms: Option<i64>,
) -> Result<Vec<LogEvent>> {
    let mut events = Vec::new();
    for chunk in streams.chunks(MAX_STREAMS_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let out = match client
                .filter_log_events()
                .log_group_name(group)
                .set_log_stream_names(Some(chunk.to_vec()))
                .set_start_time(start_ms)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception())
                        || error_code(&e).is_some_and(is_not_found_code) =>
                {
                    break;
                }
                Err(e) => {
                    return Err(Error::ReadEvents(aws_error("read log events of", group, e)));
                }
            };
            events.extend(out.events().iter().filter_map(|e| {
                Some(LogEvent {
                    timestamp: e.timestamp()?,
                    stream: e.log_stream_name()?.to_string(),
                    message: e.message()?.trim_end().to_string(),
                    event_id: e.event_id().map_or_else(
                        || {
                            format!(
                                "{}:{}",
                                e.timestamp().unwrap_or(0),
                                e.message().unwrap_or("")
                            )
                        },
                        str::to_string,
                    ),
                })
            }));
            match out.next_token() {
                Some(next) if token.as_deref() != Some(next) && !out.events().is_empty() => {
                    token = Some(next.to_string());
                }
                _ => break,
            }
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// Remembers what a follower has printed, so that overlapping polls print each event once.
#[derive(Debug, Default)]
pub struct Cursor {
    /// Timestamp of the newest event seen (the next poll starts there).
    pub since_ms: Option<i64>,
    seen_at_since: HashSet<String>,
}

impl Cursor {
    /// A cursor that starts at `since_ms`.
    pub fn starting_at(since_ms: Option<i64>) -> Self {
        Self {
            since_ms,
            seen_at_since: HashSet::new(),
        }
    }

    /// The events of `polled` not seen before, oldest first; advances the cursor.
    pub fn fresh(&mut self, polled: Vec<LogEvent>) -> Vec<LogEvent> {
        let mut fresh = Vec::new();
        for event in polled {
            match self.since_ms {
                Some(since) if event.timestamp < since => continue,
                Some(since) if event.timestamp == since => {
                    if !self.seen_at_since.insert(event.event_id.clone()) {
                        continue;
                    }
                }
                _ => {
                    self.since_ms = Some(event.timestamp);
                    self.seen_at_since.clear();
                    self.seen_at_since.insert(event.event_id.clone());
                }
            }
            fresh.push(event);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64, id: &str) -> LogEvent {
        LogEvent {
            timestamp: ts,
            stream: "s".into(),
            message: id.into(),
            event_id: id.into(),
        }
    }

    #[test]
    fn a_cursor_returns_each_event_once_across_overlapping_polls() {
        let mut cursor = Cursor::starting_at(None);
        assert_eq!(cursor.fresh(vec![event(1, "a"), event(2, "b")]).len(), 2);
        // The next poll starts at the newest timestamp and sees `b` again, and `c` beside it.
        let again = cursor.fresh(vec![event(2, "b"), event(2, "c"), event(3, "d")]);
        let ids: Vec<&str> = again.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, vec!["c", "d"]);
        assert_eq!(cursor.since_ms, Some(3));
        assert!(cursor.fresh(vec![event(3, "d")]).is_empty());
    }
}
