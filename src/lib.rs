//! stripelake: a read-only Stripe key in, a revenue lake out.
//!
//! Stages (see `../shared/DESIGN.md`): `config` resolves settings, `sandbox` is the
//! Stripe-compatible test account, `cli` wires the subcommands. Extraction, transform and
//! visitor loading land in their own modules as they are built.

#![recursion_limit = "256"]

pub mod bench;
pub mod cli;
pub mod config;
pub mod docs;
pub mod error;
pub mod extract;
pub mod keys;
pub mod sandbox;
pub mod schema;
pub mod storage;
pub mod stripe;
pub mod telemetry;
pub mod transform;
pub mod visitors;
