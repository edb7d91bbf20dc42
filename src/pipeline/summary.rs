//! The one run summary, built from the stage reports and the verdict: printed once as the last
//! stdout line (Airflow's XCom) and written once to `_runs/<run_id>.json` (the audit trail), so
//! the two are the same document and its exit code is the process's.

use serde_json::{Map, Value, json};

use super::stage::{StageReport, round_ms};
use super::verdict::Verdict;

/// The whole run: the verdict, one line per stage, then each stage's block under its key.
pub struct RunSummary<'a> {
    pub command: &'static str,
    pub run_id: &'a str,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_seconds: f64,
    pub verdict: &'a Verdict,
    pub stages: &'a [StageReport],
    /// What only one command shows (the demo's sandbox and headline).
    pub extra: Map<String, Value>,
}

impl RunSummary<'_> {
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("command".into(), json!(self.command));
        out.insert("run_id".into(), json!(self.run_id));
        out.insert("status".into(), json!(self.verdict.status));
        out.insert("exit_code".into(), json!(self.verdict.exit_code()));
        out.insert(
            "error".into(),
            json!(self.verdict.error.as_ref().map(|e| e.to_string())),
        );
        out.insert("started_at".into(), json!(self.started_at.to_rfc3339()));
        out.insert(
            "duration_seconds".into(),
            json!(round_ms(self.duration_seconds)),
        );
        let lines: Vec<Value> = self
            .stages
            .iter()
            .map(|s| json!({"stage": s.stage, "status": s.status, "exit_code": s.exit_code()}))
            .collect();
        out.insert("stages".into(), Value::Array(lines));
        for s in self.stages {
            out.insert(s.stage.key().into(), s.to_json());
        }
        for (k, v) in &self.extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(out)
    }
}
