//! Cursor state per (account, stream), written only after the manifest it describes.

use serde::{Deserialize, Serialize};

use super::{Storage, StorageError};

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

fn path(account: &str, stream: &str) -> String {
    format!("_state/{account}/{stream}.json")
}

pub async fn load(
    storage: &Storage,
    account: &str,
    stream: &str,
) -> Result<Option<StreamState>, StorageError> {
    let p = path(account, stream);
    match storage.get(&p).await? {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt {
                    path: p,
                    message: format!("{e}; delete it to re-backfill the stream"),
                })
        }
    }
}

pub async fn save(storage: &Storage, state: &StreamState) -> Result<(), StorageError> {
    let body = serde_json::to_vec_pretty(state).map_err(|e| StorageError::Corrupt {
        path: state.stream.clone(),
        message: e.to_string(),
    })?;
    storage
        .put(&path(&state.account, &state.stream), body)
        .await
}
