//! Real object stores on loopback, installed from the package registries by scripts/test and
//! started here on free ports: moto's S3 server (PyPI) and Azurite (npm). `stripelake run`
//! (extract + load-visitors + transform) writes the lake to `s3://` or `az://` (the S3 run reads
//! the visitor export from the bucket too) and `stripelake query` reads it
//! back through the server; every answer must equal a local run's.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, KEY, NOW};

/// A server process, stopped when the test ends however it ends, and what a client needs.
struct Server {
    child: Child,
    endpoint: String,
    env: Vec<(&'static str, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> String {
    std::env::var("STRIPELAKE_TEST_PYTHON").expect(
        "STRIPELAKE_TEST_PYTHON is unset: run the suite with scripts/test, which installs \
         pyarrow, duckdb, moto[server] and azure-storage-blob",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start_moto() -> Server {
    let port = free_port();
    let child = Command::new(python())
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
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server {
        child,
        env: vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ],
        endpoint,
        _dir: None,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Readiness is the bucket: creating it is the first request that can succeed.
    loop {
        let created = client.put(format!("{}/lake", server.endpoint)).send().await;
        if created.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "moto did not answer on {}",
            server.endpoint
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Azurite's well-known development account key (public, in every Azure SDK's docs).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

async fn start_azurite() -> Server {
    let bin = std::env::var("STRIPELAKE_AZURITE").expect(
        "STRIPELAKE_AZURITE is unset: run the suite with scripts/test, which installs azurite \
         from npm",
    );
    let port = free_port();
    let dir = tempfile::tempdir().expect("azurite dir");
    let child = Command::new(bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--silent", "--skipApiVersionCheck", "--location"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("azurite starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server {
        child,
        env: vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", endpoint.clone()),
        ],
        endpoint,
        _dir: Some(dir),
    };
    // Creating a container needs a signed request: the Azure SDK from PyPI makes it.
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};\
         BlobEndpoint={}/devstoreaccount1;",
        server.endpoint
    );
    let script = "import sys\nfrom azure.storage.blob import BlobServiceClient\n\
                  BlobServiceClient.from_connection_string(sys.argv[1]).create_container('lake')";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let made = Command::new(python())
            .args(["-c", script, &connection])
            .stderr(Stdio::null())
            .status();
        if made.is_ok_and(|s| s.success()) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "azurite did not answer on {}",
            server.endpoint
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn stripelake(
    sb: &stripelake::sandbox::Sandbox,
    cwd: &Path,
    server: &Server,
    args: &[&str],
) -> std::process::Output {
    let base = sb.base_url();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"));
    command
        .args(["--api-base", &base])
        .args(args)
        .current_dir(cwd)
        .env("STRIPE_API_KEY", KEY)
        .env("STRIPELAKE_NOW", NOW.to_string())
        .env_remove("STRIPELAKE_CONFIG");
    for (k, v) in &server.env {
        command.env(k, v);
    }
    command.output().await.expect("binary runs")
}

/// `run` into a local lake and into `remote`, then the same queries on both. The local run
/// loads the sandbox's visitor export from disk; the remote one from `remote_visitors` when
/// given (the export uploaded to the server), else from disk too.
async fn equal_to_local(server: &Server, remote: &str, remote_visitors: Option<&str>) {
    let sb = support::start(7, 0.1).await;
    let dir = tempfile::tempdir().expect("dir");
    let local = format!("file://{}", dir.path().join("local").display());
    let export = sb.with_account(stripelake::sandbox::visitors::csv);
    std::fs::write(dir.path().join("visitors.csv"), &export).expect("write export");
    if let Some(url) = remote_visitors {
        upload_to_moto(server, url, export).await;
    }
    for (storage, visitors) in [
        (local.as_str(), "visitors.csv"),
        (remote, remote_visitors.unwrap_or("visitors.csv")),
    ] {
        let args = ["--storage", storage, "run", "--visitors", visitors];
        let out = stripelake(&sb, dir.path(), server, &args).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{storage}: {err}");
        let summary = support::summary(&out);
        assert_eq!(summary["transform"]["status"], "ok", "{storage}: {summary}");
        assert_eq!(
            summary["load_visitors"]["visitors"]["files_loaded"], 1,
            "{storage}: {summary}"
        );
    }
    let queries = [
        "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM raw.balance_transactions",
        "SELECT count(*) AS n FROM raw.subscriptions",
        "SELECT count(*) AS n FROM raw.invoice_line_items",
        "SELECT * FROM revenue_daily ORDER BY date, currency",
        "SELECT date, basis, currency, mrr, net_mrr_movement, fx_adjustment FROM mrr_daily \
         ORDER BY 1, 2, 3",
        "SELECT * FROM mrr_movements ORDER BY date, customer_id, currency",
        "SELECT range_name, gross_revenue_settlement, mrr, new_customers, unique_visitors, \
         revenue_per_visitor FROM kpi_summary ORDER BY 1",
        "SELECT charge_id, visitor_id, match_method, first_touch_channel, last_touch_channel, \
         site_id FROM revenue_attribution ORDER BY charge_id",
        "SELECT * FROM revenue_by_channel ORDER BY date, site_id, channel",
    ];
    for sql in queries {
        let mut answers = Vec::new();
        for storage in [local.as_str(), remote] {
            let args = ["--storage", storage, "query", "--format", "csv", sql];
            let out = stripelake(&sb, dir.path(), server, &args).await;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{storage}: {sql}: {err}");
            answers.push(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        assert!(
            answers[0].lines().count() >= 2,
            "{sql} returned nothing: {}",
            answers[0]
        );
        assert_eq!(answers[0], answers[1], "{sql}: local and {remote} differ");
    }
}

/// Puts the export at the key a `s3://lake/<prefix>/*.csv` glob lists (moto takes unsigned PUTs).
async fn upload_to_moto(server: &Server, glob: &str, body: String) {
    let prefix = glob
        .strip_prefix("s3://lake/")
        .and_then(|p| p.strip_suffix("*.csv"))
        .expect("an s3://lake/<prefix>/*.csv glob");
    let url = format!("{}/lake/{prefix}visitor_events.csv", server.endpoint);
    let put = reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .expect("upload");
    assert!(put.status().is_success(), "upload: {}", put.status());
}

#[tokio::test]
async fn run_to_s3_reads_back_equal_to_a_local_run() {
    let moto = start_moto().await;
    equal_to_local(
        &moto,
        "s3://lake/stripe/prod",
        Some("s3://lake/exports/*.csv"),
    )
    .await;
    // The files really are on the server, under the prefix.
    let url = format!("{}/lake?prefix=stripe/prod/marts/mrr_daily/", moto.endpoint);
    let listing = reqwest::get(url)
        .await
        .expect("list")
        .text()
        .await
        .expect("body");
    assert!(listing.contains(".parquet</Key>"), "{listing}");
}

#[tokio::test]
async fn run_to_azurite_reads_back_equal_to_a_local_run() {
    let azurite = start_azurite().await;
    equal_to_local(&azurite, "az://lake/stripe/prod", None).await;
}
