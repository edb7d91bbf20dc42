//! One integration-test binary (one link, one DataFusion-sized executable); each module says
//! what it proves.

/// Shared fixtures: a sandbox on a loopback port and an HTTP client that talks to it.
mod support;

/// Hand-computed attribution scenarios through the visitor loader and the SQL models.
mod attribution_scenarios;
/// The binary: help, exit codes, config errors, demo.
mod cli;
/// The lake on real object stores (moto's S3, Azurite), equal to a local run.
mod cloud;
/// docs/tables.md is generated from schemas/ and the marts, and never stale.
mod docs;
/// Extraction over HTTP: exact backfills, faults, crashes, incremental runs, errors, secrets.
mod extract;
/// Issue #23's defects, one test each: nothing lost, doubled, or written outside the lake.
mod hardening;
/// Keys: check, key-link, and a canary key that never appears anywhere.
mod keys;
/// The transform within a memory budget: spilling, too small a budget, work areas cleaned.
mod memory;
/// The source tree: no module imports one that imports it back.
mod modules;
/// `run` when parts fail: one summary, printed and written, with the process's exit code.
mod pipeline;
/// `report` (every number against `query`, and in a real browser) and `digest` (by hand).
mod report;
/// The generated account: coherent, complete for every lifecycle, deterministic by seed.
mod sandbox_account;
/// Auth, restricted-key permissions, modes, rate limiting and injected faults.
mod sandbox_auth_faults;
/// Stripe's list semantics over HTTP: paging, cursors, `created` bounds, limits, filters.
mod sandbox_lists;
/// The oracle: hand-computed MRR cases and identities against the served data.
mod sandbox_oracle;
/// The SQL models on an extracted sandbox account against the generator's oracle.
mod transform_oracle;
/// The hand-computed metric scenarios through the SQL models.
mod transform_scenarios;
/// Visitor events: loading, quarantine, mappings, and attribution to revenue.
mod visitors;
