//! A sandbox per test and a thin HTTP client for it.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use stripelake::sandbox::{self, GenConfig, KeySpec, Sandbox};

/// A fixed sandbox clock (2026-11-18T19:33:20Z) so accounts are the same on every run.
pub const NOW: i64 = 1_795_000_000;
pub const KEY: &str = sandbox::DEFAULT_TEST_KEY;

pub async fn start(seed: u64, scale: f64) -> Sandbox {
    let cfg = GenConfig {
        seed,
        scale,
        now: NOW,
        livemode: false,
    };
    let keys = vec![KeySpec::full(KEY), KeySpec::full(sandbox::DEFAULT_LIVE_KEY)];
    Sandbox::start(cfg, 0, keys).await.expect("sandbox starts")
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn get_with(sb: &Sandbox, path: &str, key: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new().get(format!("{}{path}", sb.base_url()));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    Reply {
        status,
        body,
        headers,
    }
}

pub async fn get(sb: &Sandbox, path: &str) -> Value {
    let reply = get_with(sb, path, Some(KEY)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

/// Pages a list with `starting_after` until `has_more` is false; returns every object.
pub async fn page_all(sb: &Sandbox, path: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = get(sb, &format!("{path}{sep}limit={limit}{query}{cursor}")).await;
        let data = page["data"].as_array().expect("data array").clone();
        assert!(data.len() <= limit, "{path}: page larger than limit");
        let more = page["has_more"].as_bool().expect("has_more");
        if let Some(last) = data.last() {
            cursor = format!("&starting_after={}", last["id"].as_str().expect("id"));
        }
        out.extend(data);
        if !more {
            return out;
        }
    }
}

pub fn ids(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// The ids the sandbox holds for a kind, newest first, leaving deleted objects out.
pub fn truth_ids(sb: &Sandbox, kind: sandbox::store::Kind) -> Vec<String> {
    sb.with_account(|a| {
        a.store
            .table(kind)
            .iter()
            .rev()
            .filter(|o| !o.deleted)
            .map(|o| o.id.to_string())
            .collect()
    })
}
