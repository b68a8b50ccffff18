//! The tracing subscriber: `log` filters, `log_format` chooses human-readable text or one JSON
//! object per line (tracing-subscriber's JSON formatter) for log collectors.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// The subscriber `kalends` installs, writing to `writer` (stderr in the binary, a buffer in
/// tests), text coloured only with `ansi`. A filter that does not parse falls back to `info`
/// rather than silencing the server.
pub fn subscriber<W>(filter: &str, format: LogFormat, writer: W, ansi: bool) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        // The target is left out of text lines to keep them short, as before.
        LogFormat::Text => Box::new(builder.with_target(false).with_ansi(ansi).finish()),
        // Fields flattened to the top level, so a collector indexes `status` or `principal`
        // without a nested path; the target stays, it tells request lines (`kalends::request`)
        // from the rest. No span context: the server logs events, not spans.
        LogFormat::Json => Box::new(
            builder.with_ansi(false).json().flatten_event(true).with_current_span(false).with_span_list(false).with_target(true).finish(),
        ),
    }
}

/// Installs the subscriber for the whole process (logs go to stderr). Colours only on a
/// terminal: under systemd the journal would keep the escape codes as text.
pub fn init(filter: &str, format: LogFormat) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Only fails if one is installed already, which then keeps logging.
    let _ = tracing::subscriber::set_global_default(subscriber(filter, format, std::io::stderr, ansi));
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
        let subscriber = subscriber("info", format, buffer.clone(), false);
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
        assert!(line["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{line}");
    }

    #[test]
    fn text_lines_stay_text() {
        let out = request_line(LogFormat::Text);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("INFO") && out.contains("status=201") && out.contains("limit=\"-\""), "{out}");
        assert!(serde_json::from_str::<serde_json::Value>(out.trim()).is_err());
    }
}
