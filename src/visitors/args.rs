//! `stripelake load-visitors`' flags (also taken by `run`).

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadVisitorsArgs {
    /// Visitor events to load: a path, glob or store URL (overrides `[visitors] source`; the
    /// config loader applies it, so the stage reads only the config).
    #[arg(long, env = "STRIPELAKE_VISITORS")]
    pub visitors: Option<String>,
    /// Load every file again, even those already loaded (their new rows replace the old).
    #[arg(long)]
    pub reload: bool,
}
