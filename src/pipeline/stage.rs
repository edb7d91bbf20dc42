//! What a stage reports: a status, the error behind it, and its own figures.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::Error;

/// What became of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Everything it was asked to do is committed.
    Ok,
    /// Some parts failed (streams, files, models); the others committed.
    Partial,
    /// Nothing of it committed.
    Failed,
    /// Not run: nothing is configured for it, or extraction failed before it.
    Skipped,
    /// Ran and found nothing new (a visitor export already loaded).
    NothingToDo,
}

/// The stages, in the order `run` runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Extract,
    LoadVisitors,
    Transform,
}

impl Stage {
    /// Its key in the summary.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Extract => "extract",
            Stage::LoadVisitors => "load_visitors",
            Stage::Transform => "transform",
        }
    }

    /// The subcommand that runs it alone.
    pub fn command(self) -> &'static str {
        match self {
            Stage::Extract => "extract",
            Stage::LoadVisitors => "load-visitors",
            Stage::Transform => "transform",
        }
    }
}

/// One stage's outcome: a status, the error behind a `partial` or `failed` one, and the stage's
/// own figures (streams, files, models).
#[derive(Debug)]
pub struct StageReport {
    pub stage: Stage,
    pub status: Status,
    pub error: Option<Error>,
    pub detail: Map<String, Value>,
    pub seconds: f64,
}

impl StageReport {
    pub fn ok(stage: Stage, detail: Map<String, Value>) -> StageReport {
        StageReport::new(stage, Status::Ok, None, detail)
    }

    pub fn nothing_to_do(stage: Stage, detail: Map<String, Value>) -> StageReport {
        StageReport::new(stage, Status::NothingToDo, None, detail)
    }

    /// Some parts committed, others failed with `error`.
    pub fn partial(stage: Stage, error: Error, detail: Map<String, Value>) -> StageReport {
        StageReport::new(stage, Status::Partial, Some(error), detail)
    }

    /// Nothing committed.
    pub fn failed(stage: Stage, error: Error, detail: Map<String, Value>) -> StageReport {
        StageReport::new(stage, Status::Failed, Some(error), detail)
    }

    pub fn skipped(stage: Stage, reason: &str) -> StageReport {
        let mut detail = Map::new();
        detail.insert("reason".into(), json!(reason));
        StageReport::new(stage, Status::Skipped, None, detail)
    }

    fn new(
        stage: Stage,
        status: Status,
        error: Option<Error>,
        detail: Map<String, Value>,
    ) -> StageReport {
        StageReport {
            stage,
            status,
            error,
            detail,
            seconds: 0.0,
        }
    }

    pub fn took(mut self, started: std::time::Instant) -> StageReport {
        self.seconds = started.elapsed().as_secs_f64();
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.error.as_ref().map_or(0, Error::exit_code)
    }

    /// The stage's block in the summary: its status first, then its figures.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("status".into(), json!(self.status));
        out.insert("exit_code".into(), json!(self.exit_code()));
        if let Some(e) = &self.error {
            out.insert("error".into(), json!(e.to_string()));
        }
        out.insert("seconds".into(), json!(round_ms(self.seconds)));
        for (k, v) in &self.detail {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(out)
    }
}

pub(super) fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
