//! Keys through the binary: `check` against the sandbox (all OK, two permissions missing, a
//! revoked key), `key-link`, and a canary key that must never appear in any output or file.

use std::path::Path;

use stripelake::sandbox::{KeySpec, Knobs, Sandbox};
use stripelake::stripe::streams::STREAMS;

use crate::support::{self, KEY, NOW};

async fn stripelake(sb: &Sandbox, dir: &Path, key: &str, args: &[&str]) -> std::process::Output {
    let storage = format!("file://{}", dir.join("lake").display());
    let base = sb.base_url();
    let mut all: Vec<&str> = vec!["--api-base", &base, "--storage", &storage];
    all.extend_from_slice(args);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(&all)
        .current_dir(dir)
        .env("STRIPE_API_KEY", key)
        .env("STRIPELAKE_NOW", NOW.to_string())
        .env("STRIPELAKE_RETRY_BASE_MS", "5")
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn check_passes_a_full_key_and_names_what_a_narrow_or_revoked_key_lacks() {
    let sb = support::start(1, 0.05).await;
    let dir = tempfile::tempdir().expect("dir");

    let out = stripelake(&sb, dir.path(), KEY, &["check"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("rak_") && !l.starts_with('{'))
        .collect();
    let probed = STREAMS
        .iter()
        .filter(|s| !matches!(s.sync, stripelake::stripe::streams::Sync::Child))
        .count();
    assert_eq!(table.len(), probed, "{stdout}");
    assert!(table.iter().all(|l| l.contains(" OK")), "{stdout}");

    // Everything but the coupon and payout permissions.
    let narrow = "rk_test_missing_coupons_and_payouts";
    let granted: Vec<String> = STREAMS
        .iter()
        .map(|s| s.permission.to_string())
        .filter(|p| p != "rak_coupon_read" && p != "rak_payout_read")
        .collect();
    sb.add_key(KeySpec {
        key: narrow.into(),
        live: false,
        permissions: Some(granted),
        revoked: false,
    });
    let out = stripelake(&sb, dir.path(), narrow, &["check"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let summary = support::summary(&out);
    assert_eq!(
        summary["missing_permissions"],
        serde_json::json!(["rak_coupon_read", "rak_payout_read"])
    );
    let stdout = text(&out.stdout);
    for stream in ["coupons", "payouts"] {
        let row = stdout
            .lines()
            .find(|l| !l.starts_with('{') && l.contains(&format!(" {stream} ")))
            .unwrap_or_else(|| panic!("no {stream} row: {stdout}"));
        assert!(row.contains("MISSING") && row.contains("rak_"), "{row}");
    }
    let err = text(&out.stderr);
    assert!(err.contains("rak_coupon_read, rak_payout_read"), "{err}");

    let revoked = "rk_test_revoked_for_the_check_test";
    sb.add_key(KeySpec {
        key: revoked.into(),
        live: false,
        permissions: None,
        revoked: true,
    });
    let out = stripelake(&sb, dir.path(), revoked, &["check", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let summary = support::summary(&out);
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Expired API Key provided: rk_test_"),
        "{summary}"
    );
}

#[tokio::test]
async fn key_link_prints_the_dashboard_form() {
    let sb = support::start(1, 0.02).await;
    let dir = tempfile::tempdir().expect("dir");
    let out = stripelake(
        &sb,
        dir.path(),
        KEY,
        &["key-link", "--test", "--name", "Revenue lake"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let link = text(&out.stdout);
    assert!(
        link.starts_with("https://dashboard.stripe.com/test/apikeys/create?name=Revenue+lake&permissions%5B%5D=rak_"),
        "{link}"
    );
    assert_eq!(link.lines().count(), 1);
}

/// The canary is a full-access key the sandbox accepts; every command runs with it, with JSON
/// logs at the highest verbosity and the server failing a fifth of requests.
#[tokio::test]
async fn the_key_never_appears_in_any_output_or_file() {
    let sb = support::start(2, 0.05).await;
    let canary = "rk_test_canary_QX7v2_must_never_be_printed";
    let body = &canary["rk_test_".len()..];
    sb.add_key(KeySpec::full(canary));
    let revoked = "rk_test_revoked_canary_Z9_never_printed";
    sb.add_key(KeySpec {
        key: revoked.into(),
        live: false,
        permissions: None,
        revoked: true,
    });
    sb.set_knobs(Knobs {
        server_error_rate: 0.2,
        ..Knobs::default()
    });
    let dir = tempfile::tempdir().expect("dir");
    let verbose = ["--log-format", "json", "-vv"];
    let runs: Vec<(&str, Vec<&str>)> = vec![
        (
            canary,
            vec![
                "extract",
                "--since",
                "2000-01-01",
                "--max-requests-per-second",
                "500",
            ],
        ),
        (canary, vec!["run", "--max-requests-per-second", "500"]),
        (canary, vec!["transform"]),
        (canary, vec!["check"]),
        (canary, vec!["key-link"]),
        (canary, vec!["load-visitors"]),
        (canary, vec!["query"]),
        (revoked, vec!["check"]),
        (revoked, vec!["extract"]),
    ];
    let mut leaks = Vec::new();
    for (key, args) in &runs {
        let mut all = args.clone();
        all.extend_from_slice(&verbose);
        let out = stripelake(&sb, dir.path(), key, &all).await;
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let t = text(bytes);
            for secret in [canary, body, revoked, &revoked["rk_test_".len()..]] {
                if t.contains(secret) {
                    leaks.push(format!("{args:?} {stream}"));
                }
            }
        }
    }
    let mut files = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).expect("read");
            for secret in [canary.as_bytes(), body.as_bytes()] {
                if bytes.windows(secret.len()).any(|w| w == secret) {
                    leaks.push(path.display().to_string());
                }
            }
        }
    }
    assert!(files > 20, "the runs wrote their lake ({files} files)");
    assert!(leaks.is_empty(), "the key appears in: {leaks:#?}");
}

#[tokio::test]
async fn check_probes_every_connect_account() {
    let sb = support::start(42, 0.05).await;
    let reachable = sb
        .with_account(|a| a.account["id"].as_str().map(str::to_string))
        .expect("account id");
    let dir = tempfile::tempdir().expect("dir");
    let config = format!(
        "[stripe]\naccounts = [\"{reachable}\", \"acct_1SomebodyElse\"]\n\n[extract]\nstreams = [\"charges\", \"coupons\"]\n"
    );
    std::fs::write(dir.path().join("pipeline.toml"), config).expect("config");
    let out = stripelake(&sb, dir.path(), KEY, &["check", "--format", "json"]).await;
    let summary = support::summary(&out);
    let probes = summary["probes"].as_array().expect("probes");
    let rows = |account: &str| -> Vec<(String, bool)> {
        probes
            .iter()
            .filter(|p| p["account"] == account)
            .map(|p| {
                (
                    p["stream"].as_str().unwrap_or("").to_string(),
                    p["ok"] == true,
                )
            })
            .collect()
    };
    // Child streams (refunds of charges) need their parent's permission: not probed apart.
    assert_eq!(
        rows(&reachable),
        [("charges".to_string(), true), ("coupons".to_string(), true)]
    );
    let other = rows("acct_1SomebodyElse");
    assert!(
        !other.is_empty() && other.iter().all(|(_, ok)| !ok),
        "{summary}"
    );
    assert!(
        summary
            .to_string()
            .contains("does not have access to account"),
        "{summary}"
    );
    assert_ne!(out.status.code(), Some(0));
}
