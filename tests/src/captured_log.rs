//! What the functions log while a test runs, kept in memory as the production subscriber writes it
//! (JSON lines, spans listed) for the test to read back: that nothing personal is logged, that a
//! walk is reported, or what happened to a payment a run found wrong.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// A subscriber writing into this log what `filter` (an `EnvFilter` directive) lets through;
    /// the test installs it for its thread or for the whole binary.
    pub fn subscriber(&self, filter: &str) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_list(true)
            .with_current_span(false)
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the captured log")).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the captured log").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
