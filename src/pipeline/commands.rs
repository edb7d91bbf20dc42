//! The commands that are not stages of a run: `check`, `key-link`, `query`, `vacuum`.

use serde_json::json;

use crate::config::{ApiKey, Config};
use crate::error::Error;
use crate::storage::Storage;
use crate::stripe::{StripeError, keys};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// `table` (then the JSON summary line) or `json` (the summary only).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct KeyLinkArgs {
    /// The test-mode form (for an rk_test_ key).
    #[arg(long)]
    pub test: bool,
    /// The key's name in the Dashboard.
    #[arg(long, default_value = "stripelake")]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct VacuumArgs {
    /// Keep orphans younger than this many minutes (a run in progress has uncommitted parts).
    #[arg(long, default_value_t = 60)]
    pub min_age_minutes: i64,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `stripelake check`: the key rules, `/v1/balance`, then every permission the selected streams
/// need; a table of the probes (unless `--format json`), then the summary line. Exit 3 on a
/// refused key, 4 naming every missing permission.
pub async fn check(cfg: &Config, key: &ApiKey, args: &CheckArgs) -> Result<(), Error> {
    let probed = match keys::check(key, cfg.stripe.allow_secret_key, &cfg.extract.streams) {
        Err(why) => Err(Error::Usage(why)),
        Ok(live) => keys::probe(cfg, key, live).await.map_err(|e| match e {
            // Anything but a refused key or a bad setting is Stripe not answering: try later.
            StripeError::NotFound { .. } | StripeError::Api { .. } => {
                Error::Transient(e.to_string())
            }
            other => other.into(),
        }),
    };
    let (probes, missing, outcome) = match probed {
        Ok(report) => {
            let missing = report.missing();
            let outcome = if missing.is_empty() {
                Ok(())
            } else {
                Err(Error::Permission(format!(
                    "the key lacks {}: edit the key in the Dashboard to add them, or create a \
                     new one with `stripelake key-link`",
                    missing.join(", ")
                )))
            };
            (report.probes, missing, outcome)
        }
        Err(e) => (Vec::new(), Vec::new(), Err(e)),
    };
    if args.format == "table" && !probes.is_empty() {
        println!("{}", keys::table(&probes));
    }
    crate::telemetry::print_summary(&json!({
        "command": "check",
        "status": if outcome.is_ok() { "ok" } else { "failed" },
        "exit_code": outcome.as_ref().err().map_or(0, Error::exit_code),
        "error": outcome.as_ref().err().map(|e| e.to_string()),
        "key_prefix": key.prefix(),
        "missing_permissions": missing,
        "probes": probes,
    }));
    outcome
}

/// `stripelake key-link`: the Dashboard's create-key form for the selected streams.
pub fn key_link(cfg: &Config, args: &KeyLinkArgs) -> Result<(), Error> {
    let link = keys::key_link(args.test, &args.name, &cfg.extract.streams).map_err(Error::Usage)?;
    println!("{link}");
    let selected = crate::stripe::streams::select(&cfg.extract.streams).map_err(Error::Usage)?;
    for (permission, adds) in keys::optional_permissions(&selected) {
        eprintln!("optional: {permission} (not in the link) adds {adds}");
    }
    Ok(())
}

/// `stripelake query`: the result on stdout.
pub async fn query(cfg: &Config, args: &crate::transform::query::QueryArgs) -> Result<(), Error> {
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    storage.probe_readable().await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    crate::transform::query::run(&storage, args, &mut out).await?;
    std::io::Write::flush(&mut out).map_err(|e| Error::io("writing the result", e))
}

/// `stripelake vacuum`: deletes the data files no manifest names, older than the minimum age.
pub async fn vacuum(cfg: &Config, args: &VacuumArgs) -> Result<(), Error> {
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    storage.probe_readable().await?;
    let min_age = chrono::Duration::minutes(args.min_age_minutes.max(0));
    let report = crate::storage::vacuum::vacuum(&storage, min_age, args.dry_run).await?;
    crate::telemetry::print_summary(
        &json!({"command": "vacuum", "status": "ok", "report": report}),
    );
    Ok(())
}
