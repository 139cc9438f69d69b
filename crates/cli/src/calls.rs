//! `-v`: one stderr line per AWS API call made — service, operation, duration — read from the
//! span every SDK operation opens (`rpc.service`, `rpc.method`), so no client needs wiring.

use std::io::Write;
use std::time::Instant;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The layer: writes `aws <service> <operation> <ms> ms` (or a JSON line) when a call's span
/// closes.
pub struct ApiCalls {
    /// JSON lines (`--output json`) instead of text.
    pub json: bool,
}

/// One call in flight, kept in its span's extensions.
struct Call {
    service: String,
    operation: String,
    started: Instant,
}

#[derive(Default)]
struct Fields {
    service: Option<String>,
    operation: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "rpc.service" => self.service = Some(value.to_string()),
            "rpc.method" => self.operation = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "rpc.service" | "rpc.method") {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

impl<S> Layer<S> for ApiCalls
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(service), Some(operation), Some(span)) =
            (fields.service, fields.operation, ctx.span(id))
        {
            span.extensions_mut().insert(Call {
                service,
                operation,
                started: Instant::now(),
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let extensions = span.extensions();
        let Some(call) = extensions.get::<Call>() else {
            return;
        };
        let millis = call.started.elapsed().as_secs_f64() * 1000.0;
        if self.json {
            crate::output::json_line(serde_json::json!({
                "event": "api-call",
                "phase": null,
                "phase_name": null,
                "resource": null,
                "service": call.service,
                "operation": call.operation,
                "duration_ms": (millis * 10.0).round() / 10.0,
            }));
        } else {
            let line = format!("    aws {} {} {millis:.0} ms", call.service, call.operation);
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}
