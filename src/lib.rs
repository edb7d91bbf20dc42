//! stripelake: a read-only Stripe key in, a revenue lake out.
//!
//! Layers, each importing only those above it in this list (a test checks that no module
//! imports one that imports it back):
//! * `config` (pipeline.toml + flags + environment), `storage` (object stores, the lake's
//!   tables, manifests and state), `stripe` (client, key rules, stream registry, schemas);
//! * the stages: `extract` (Stripe → raw tables), `visitors` (web-analytics exports → raw
//!   visitor events), `transform` (the SQL models of `sql/` → marts, and `query`);
//! * `report` (the HTML report and the daily digest, read from the marts);
//! * `error` (typed errors and their exit codes), `pipeline` (which stages a command runs, the
//!   verdict, the run summary, and the commands that are not stages), `cli` (clap types);
//! * beside them: `sandbox` (the Stripe-compatible account, its oracle), `bench`, `docs`,
//!   `telemetry`.

#![recursion_limit = "256"]

pub mod bench;
pub mod cli;
pub mod config;
pub mod docs;
pub mod error;
pub mod extract;
pub mod pipeline;
pub mod report;
pub mod sandbox;
pub mod storage;
pub mod stripe;
pub mod telemetry;
pub mod transform;
pub mod visitors;
