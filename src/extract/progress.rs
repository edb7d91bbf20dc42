//! A live line on a terminal (requests, current rate, 429s); nothing when stderr is not a TTY or
//! progress is turned off (`--no-progress`), so Airflow logs stay plain.

use std::time::Duration;

use crate::stripe::StripeClient;

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub fn start(client: &StripeClient, account: &str, enabled: bool) -> Progress {
        use std::io::IsTerminal;
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} extracting {prefix}: {msg} [{elapsed}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(account.to_string());
        let (b, c) = (bar.clone(), client.clone());
        let ticker = tokio::spawn(async move {
            loop {
                let (requests, retries, limited) = c.stats.snapshot();
                b.set_message(format!(
                    "{requests} requests, {retries} retries, {limited} × 429, pacing {:.0} req/s",
                    c.current_rate()
                ));
                b.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    pub fn finish(self) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
