//! Cursor state per (account, stream), saved through [`super::Table`] only after the manifest it
//! describes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamState {
    pub stream: String,
    pub account: String,
    /// Objects created before this (Unix seconds) are extracted.
    pub created_cursor: Option<i64>,
    /// Events created before this have been applied.
    pub events_cursor: Option<i64>,
    /// Start of the backfilled history.
    pub since: Option<i64>,
    pub last_run_id: String,
    pub updated_at: String,
}
