//! Logs to stderr (`text` for people, `json` for Airflow); stdout is kept for the one-line JSON
//! run summary.

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Never let HTTP client internals log at debug: they are where headers would leak. Nor the
    // query engine and Parquet: their debug lines print row-group statistics, which are data
    // (customer emails among them). `-vv` is for stripelake's own decisions.
    let directives = format!(
        "{default},hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info,datafusion=info,\
         parquet=info,arrow=info,object_store=info,sqlparser=info"
    );
    let filter =
        EnvFilter::try_from_env("STRIPELAKE_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Redacting(Vec::new()));
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

/// Prints the run summary as the last stdout line (key-shaped text redacted, like every copy).
pub fn print_summary(summary: &serde_json::Value) {
    println!("{}", summary_text(summary, false));
}

/// The summary as written to stdout (one line) or to `_runs/` (pretty): a key pasted into the
/// wrong flag can reach an error message, and no copy of the summary may hold it.
pub fn summary_text(summary: &serde_json::Value, pretty: bool) -> String {
    let text = match pretty {
        true => serde_json::to_string_pretty(summary).unwrap_or_default(),
        false => summary.to_string(),
    };
    crate::config::redact_secrets(&text).into_owned()
}

/// A log line on its way to stderr: key-shaped text in it (a key pasted into the wrong flag
/// reaches messages that quote what the user typed) is cut to its prefix first.
struct Redacting(Vec<u8>);

impl std::io::Write for Redacting {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Redacting {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            crate::config::redact_secrets(&text).as_bytes(),
        );
    }
}

/// Peak resident memory of this process, from the kernel's high-water mark (Linux; `None`
/// elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    proc_status_mb("VmHWM:")
}

/// Resident memory of this process now (Linux; `None` elsewhere).
pub fn rss_mb() -> Option<f64> {
    proc_status_mb("VmRSS:")
}

fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
