//! The tracing subscriber: `log` filters, `log_format` chooses human-readable text or one JSON
//! object per line (tracing-subscriber's JSON formatter) for log collectors. Every line names
//! the node (`node_name`), so the lines of several nodes can be merged (decision 0031).

use std::fmt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// The subscriber `kalends` installs, writing to `writer` (stderr in the binary, a buffer in
/// tests), text coloured only with `ansi`, every line naming `node`. A filter that does not
/// parse falls back to `info` rather than silencing the server.
pub fn subscriber<W>(filter: &str, format: LogFormat, node: &str, writer: W, ansi: bool) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        // The target is left out of text lines to keep them short, as before; the node follows
        // the time stamp (spans would not do: spawned tasks do not inherit them).
        LogFormat::Text => Box::new(builder.with_target(false).with_ansi(ansi).with_timer(NodeTime(node.to_owned())).finish()),
        // Fields flattened to the top level, so a collector indexes `status` or `principal`
        // without a nested path; the target stays, it tells request lines (`kalends::request`)
        // from the rest. No span context: the server logs events, not spans.
        LogFormat::Json => {
            let format = tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(true);
            Box::new(builder.with_ansi(false).fmt_fields(JsonFields::new()).event_format(NodeJson { inner: format, node: node.to_owned() }).finish())
        }
    }
}

/// Installs the subscriber for the whole process (logs go to stderr). Colours only on a
/// terminal: under systemd the journal would keep the escape codes as text.
pub fn init(filter: &str, format: LogFormat, node: &str) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Only fails if one is installed already, which then keeps logging.
    let _ = tracing::subscriber::set_global_default(subscriber(filter, format, node, std::io::stderr, ansi));
}

/// The text format's time stamp followed by `node=<name>`.
struct NodeTime(String);

impl FormatTime for NodeTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        SystemTime.format_time(w)?;
        write!(w, " node={}", self.0)
    }
}

/// The JSON format with `"node":<name>` as the object's first field.
struct NodeJson<F> {
    inner: F,
    node: String,
}

impl<S, N, F> FormatEvent<S, N> for NodeJson<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                let node = serde_json::to_string(&self.node).map_err(|_| fmt::Error)?;
                let sep = if rest.starts_with('}') { "" } else { "," };
                write!(writer, "{{\"node\":{node}{sep}{rest}")
            }
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    fn request_line(format: LogFormat) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber("info", format, "cal1:5232", buffer.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            // Shaped like http::server's per-request line.
            tracing::info!(target: "kalends::request", method = "PUT", path = "/calendars/alice/calendar/a \"b\".ics", principal = "alice", limit = "-", status = 201, ms = "3.2");
            tracing::debug!(target: "kalends::request", "filtered out at info");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_request_fields() {
        let out = request_line(LogFormat::Json);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "kalends::request");
        assert_eq!(line["method"], "PUT");
        assert_eq!(line["path"], "/calendars/alice/calendar/a \"b\".ics");
        assert_eq!(line["principal"], "alice");
        assert_eq!(line["limit"], "-");
        assert_eq!(line["status"], 201);
        assert_eq!(line["ms"], "3.2");
        assert_eq!(line["node"], "cal1:5232");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{line}");
    }

    #[test]
    fn text_lines_stay_text() {
        let out = request_line(LogFormat::Text);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("INFO") && out.contains("status=201") && out.contains("limit=\"-\""), "{out}");
        assert!(out.contains(" node=cal1:5232 "), "{out}");
        assert!(serde_json::from_str::<serde_json::Value>(out.trim()).is_err());
    }
}
