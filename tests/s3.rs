//! A real S3-compatible server: moto's, installed from PyPI by scripts/test and started here on
//! a free loopback port. `stripelake run` (extract + transform) writes the lake to `s3://` and
//! `stripelake query` reads it back through the server; both must equal a local run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, KEY, NOW};

/// Stops the server when the test ends, however it ends.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Moto {
    let python = std::env::var("STRIPELAKE_TEST_PYTHON").expect(
        "STRIPELAKE_TEST_PYTHON is unset: run the suite with scripts/test, which installs moto[server]",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Readiness is the bucket: creating it is the first request that can succeed.
    loop {
        let created = client.put(format!("{}/lake", moto.endpoint)).send().await;
        if created.is_ok_and(|r| r.status().is_success()) {
            return moto;
        }
        assert!(
            Instant::now() < deadline,
            "moto did not answer on {}",
            moto.endpoint
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stripelake(
    sb: &stripelake::sandbox::Sandbox,
    cwd: &Path,
    moto: &Moto,
    args: &[&str],
) -> std::process::Output {
    let base = sb.base_url();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(["--api-base", &base])
        .args(args)
        .current_dir(cwd)
        .env("STRIPE_API_KEY", KEY)
        .env("STRIPELAKE_NOW", NOW.to_string())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT", &moto.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs")
}

#[tokio::test]
async fn run_to_s3_reads_back_equal_to_a_local_run() {
    let moto = start_moto().await;
    let sb = support::start(7, 0.1).await;
    let dir = tempfile::tempdir().expect("dir");
    let local = format!("file://{}", dir.path().join("local").display());
    let remote = "s3://lake/stripe/prod";
    for storage in [local.as_str(), remote] {
        let out = stripelake(&sb, dir.path(), &moto, &["--storage", storage, "run"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{storage}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = support::summary(&out);
        assert_eq!(summary["transform"]["status"], "ok", "{storage}: {summary}");
    }
    let queries = [
        "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM raw.balance_transactions",
        "SELECT count(*) AS n FROM raw.subscriptions",
        "SELECT count(*) AS n FROM raw.invoice_line_items",
        "SELECT * FROM revenue_daily ORDER BY date, currency",
        "SELECT date, basis, currency, mrr, net_mrr_movement, fx_adjustment FROM mrr_daily ORDER BY 1, 2, 3",
        "SELECT * FROM mrr_movements ORDER BY date, customer_id, currency",
        "SELECT range_name, gross_revenue_settlement, mrr, new_customers FROM kpi_summary ORDER BY 1",
    ];
    for sql in queries {
        let mut answers = Vec::new();
        for storage in [local.as_str(), remote] {
            let out = stripelake(
                &sb,
                dir.path(),
                &moto,
                &["--storage", storage, "query", "--format", "csv", sql],
            )
            .await;
            assert_eq!(
                out.status.code(),
                Some(0),
                "{sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            answers.push(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        assert!(
            answers[0].lines().count() >= 2,
            "{sql} returned nothing: {}",
            answers[0]
        );
        assert_eq!(answers[0], answers[1], "{sql}: local and S3 differ");
    }
    // The files really are on the server, under the prefix.
    let listing = reqwest::get(format!(
        "{}/lake?prefix=stripe/prod/marts/mrr_daily/",
        moto.endpoint
    ))
    .await
    .expect("list")
    .text()
    .await
    .expect("body");
    assert!(listing.contains(".parquet</Key>"), "{listing}");
}
