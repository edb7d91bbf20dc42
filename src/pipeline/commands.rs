//! The commands that are not stages of a run: `check`, `key-link`, `query`, `vacuum`, `report`,
//! `digest`.

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
    /// Keep orphans and work files younger than this many minutes (a run in progress has
    /// uncommitted parts and a work area).
    #[arg(long, default_value_t = 60)]
    pub min_age_minutes: i64,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    pub out: std::path::PathBuf,
    /// The marts' as-of day (refused if the marts were built for another: run `transform
    /// --as-of` first).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Months of MRR, movements and revenue shown, ending with the as-of month.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub months: u32,
}

#[derive(Debug, clap::Args)]
pub struct DigestArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::DigestFormat,
    /// The day reported (the marts' as-of day; refused if they were built for another).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
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

/// `stripelake report`: the HTML file, then the summary line (where it is, its size, the as-of).
pub async fn report(cfg: &Config, args: &ReportArgs) -> Result<(), Error> {
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    storage.probe_readable().await?;
    let (report, html) = crate::report::report(&storage, args.as_of, args.months).await?;
    write_file(&args.out, html.as_bytes())?;
    crate::telemetry::print_summary(&json!({
        "command": "report",
        "status": "ok",
        "exit_code": 0,
        "out": args.out.display().to_string(),
        "bytes": html.len(),
        "as_of": report.as_of,
        "months": report.months,
        "settlement_currency": report.settlement_currency,
    }));
    Ok(())
}

/// `stripelake digest`: the digest alone on stdout (a task posts it as it is).
pub async fn digest(cfg: &Config, args: &DigestArgs) -> Result<(), Error> {
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    storage.probe_readable().await?;
    let (_, text) = crate::report::digest(&storage, args.as_of, args.format).await?;
    println!("{text}");
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let failed = |source| {
        Error::from(crate::report::ReportError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let written = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(failed)
}

/// `stripelake vacuum`: deletes the data files no manifest names, older than the minimum age.
pub async fn vacuum(cfg: &Config, args: &VacuumArgs) -> Result<(), Error> {
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    storage.probe_readable().await?;
    let min_age = chrono::Duration::minutes(args.min_age_minutes.max(0));
    let report = crate::storage::vacuum::vacuum(&storage, min_age, args.dry_run).await?;
    // What killed transforms left: their intermediates and spill files.
    let work_dir = cfg.transform.work_dir.as_deref();
    let work = crate::transform::work::sweep(&storage, work_dir, min_age, args.dry_run).await?;
    crate::telemetry::print_summary(
        &json!({"command": "vacuum", "status": "ok", "report": report, "work_areas": work}),
    );
    Ok(())
}
