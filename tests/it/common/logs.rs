//! Log capture for the test binaries that assert on what was logged: every
//! `warn` line, and axum-bankid's lines from `debug` up (refusals on the
//! back-channel route are logged at `debug`, with a `warn` summary).
//! Included with `#[path]` by the binaries that use it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything this test binary logged (one global subscriber per binary).
pub fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(subscriber_into(&buffer)).expect("one subscriber per test binary");
        buffer
    })
    .clone()
}

/// Whether any line logged so far contains `text`.
pub fn logged(text: &str) -> bool {
    String::from_utf8_lossy(&logs().lock().unwrap()).contains(text)
}

/// A subscriber writing the lines described above into `buffer`.
pub fn subscriber_into(buffer: &Arc<Mutex<Vec<u8>>>) -> impl tracing::Subscriber + Send + Sync + use<> {
    let sink = Arc::clone(buffer);
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,axum_bankid=debug"))
        .with_writer(move || LogSink(Arc::clone(&sink)))
        .finish()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
