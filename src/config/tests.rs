//! Table-driven tests: each case is a TOML snippet and the exact problem lines it must produce.

use super::*;

const SECRET_IN_FILE: &str = "secrets are never read from pipeline.toml: put the key in the \
    environment variable named by [stripe] api_key_env (default STRIPE_API_KEY) or in a key file \
    ([stripe] api_key_file)";

fn lines(result: Result<Config, ConfigErrors>) -> Vec<String> {
    result
        .err()
        .map_or_else(Vec::new, |e| e.0.iter().map(ToString::to_string).collect())
}

fn check(cases: &[(&str, &str, Overrides, &[&str])]) {
    for (name, toml, overrides, expected) in cases {
        let got = lines(parse_str(toml, "pipeline.toml", overrides));
        assert_eq!(got, *expected, "case: {name}");
    }
}

fn none() -> Overrides {
    Overrides::default()
}

#[test]
fn file_problems() {
    let cases: &[(&str, &str, Overrides, &[&str])] = &[
        (
            "unknown key with suggestion",
            "[stripe]\nmax_inflight = 4\n",
            none(),
            &["pipeline.toml:2: stripe.max_inflight: unknown key: did you mean `max_in_flight`?"],
        ),
        (
            "unknown key without suggestion",
            "[run]\nfoo = true\n",
            none(),
            &[
                "pipeline.toml:2: run.foo: unknown key: remove it (known keys in [run]: \
               exit_99_when_nothing_to_do)",
            ],
        ),
        (
            "unknown section with suggestion",
            "[storge]\nurl = \"memory://\"\n",
            none(),
            &["pipeline.toml:1: storge: unknown section: did you mean [storage]?"],
        ),
        (
            "unknown section without suggestion",
            "\n[database]\nhost = \"x\"\n",
            none(),
            &[
                "pipeline.toml:2: database: unknown section: remove it (known sections: [stripe], \
               [extract], [storage], [transform], [visitors], [run])",
            ],
        ),
        (
            "section that is not a table",
            "run = 1\n",
            none(),
            &["pipeline.toml:1: run: must be a table (a [run] section), got 1"],
        ),
        (
            "wrong type",
            "[stripe]\nmax_in_flight = \"16\"\nallow_secret_key = \"yes\"\n",
            none(),
            &[
                "pipeline.toml:2: stripe.max_in_flight: must be an integer from 1 to 256, \
                 got \"16\"",
                "pipeline.toml:3: stripe.allow_secret_key: must be true or false, got \"yes\"",
            ],
        ),
        (
            "out of range",
            "[stripe]\nmax_in_flight = 0\n[visitors]\nmax_bad_row_ratio = 1.5\n",
            none(),
            &[
                "pipeline.toml:2: stripe.max_in_flight: must be an integer from 1 to 256, got 0",
                "pipeline.toml:4: visitors.max_bad_row_ratio: must be a number from 0 to 1 \
                 (0.01 = 1 % of rows), got 1.5",
            ],
        ),
        (
            "bad enum value",
            "[transform]\ndiscount_mode = \"forever-only\"\nchurn_recognition = \"never\"\n",
            none(),
            &[
                "pipeline.toml:2: transform.discount_mode: must be one of forever_only, \
                 all_active, got \"forever-only\": did you mean `forever_only`?",
                "pipeline.toml:3: transform.churn_recognition: must be one of at_end, at_request, \
                 got \"never\"",
            ],
        ),
        (
            "api_key anywhere",
            "api_key = \"x\"\n[stripe]\napi_key = \"rk_test_x\"\n",
            none(),
            &[
                &format!("pipeline.toml:1: api_key: {SECRET_IN_FILE}"),
                &format!("pipeline.toml:3: stripe.api_key: {SECRET_IN_FILE}"),
            ],
        ),
        (
            "secret-looking storage option",
            "[storage.options]\nregion = \"eu-west-1\"\naws_secret_access_key = \"x\"\n",
            none(),
            &[
                "pipeline.toml:3: storage.options.aws_secret_access_key: secrets are never read \
               from pipeline.toml: set AWS_SECRET_ACCESS_KEY (or the store's standard \
               environment variable) instead",
            ],
        ),
        (
            "http api_base on a non-loopback host",
            "[stripe]\napi_base = \"http://api.example.com\"\n",
            none(),
            &[
                "pipeline.toml:2: stripe.api_base: must be an https URL like \
               https://api.stripe.com (plain http only for loopback hosts: 127.0.0.1, \
               localhost, [::1]), got \"http://api.example.com\"",
            ],
        ),
        (
            "http api_base on 127.0.0.1",
            "[stripe]\napi_base = \"http://127.0.0.1:12111\"\n",
            none(),
            &[],
        ),
        (
            "bad account id",
            "[stripe]\naccounts = [\"acct_1Ab\", \"acct-2\", 3]\n",
            none(),
            &[
                "pipeline.toml:2: stripe.accounts: must be a Connect account id like acct_123 \
                 (acct_ then letters and digits), got \"acct-2\"",
                "pipeline.toml:2: stripe.accounts: must be a Connect account id like acct_123 \
                 (acct_ then letters and digits), got 3",
            ],
        ),
        (
            "a key-like value is never echoed",
            "[stripe]\napi_key_env = \"rk_live_51Hsomethingsecret\"\n",
            none(),
            &[
                "pipeline.toml:2: stripe.api_key_env: must be an environment variable name like \
               STRIPE_API_KEY, got \"rk_live_…redacted\"",
            ],
        ),
        (
            "lookback, version, currency, timezone",
            "[stripe]\nstripe_version = \"2026-13-01\"\n[extract]\nlookback = \"12 months\"\n\
             [transform]\nsettlement_currency = \"USD\"\nreport_timezone = \"+02:00\"\n",
            none(),
            &[
                "pipeline.toml:2: stripe.stripe_version: must be a Stripe API version like \
                 2026-07-29.dahlia, got \"2026-13-01\"",
                "pipeline.toml:4: extract.lookback: must be a number followed by d, w, mo or y, \
                 like 30d, 2w, 12mo or 1y, got \"12 months\"",
                "pipeline.toml:6: transform.settlement_currency: must be a lowercase ISO 4217 \
                 currency code like usd or eur, got \"USD\"",
                "pipeline.toml:7: transform.report_timezone: must be an IANA time zone like \
                 Europe/Paris, or UTC, got \"+02:00\"",
            ],
        ),
        (
            "a currency or time zone that does not exist",
            "[transform]\nsettlement_currency = \"xyz\"\nreport_timezone = \"Mars/Olympus\"\n",
            none(),
            &[
                "pipeline.toml:2: transform.settlement_currency: must be a lowercase ISO 4217 \
                 currency code like usd or eur, got \"xyz\"",
                "pipeline.toml:3: transform.report_timezone: must be an IANA time zone like \
                 Europe/Paris, or UTC, got \"Mars/Olympus\"",
            ],
        ),
        (
            "visitor columns: an unknown name",
            "[visitors]\nsource = \"events.csv\"\n\n[visitors.columns]\nvisitorid = \"vid\"\n",
            none(),
            &[
                "pipeline.toml:5: visitors.columns.visitorid: unknown column: did you mean \
                 `visitor_id`?",
            ],
        ),
        (
            "key file and env var both set",
            "[stripe]\napi_key_env = \"K\"\napi_key_file = \"/k\"\n",
            none(),
            &[
                "pipeline.toml:3: stripe.api_key_file: conflicts with api_key_env: set only one \
               of them",
            ],
        ),
        (
            "several problems, in file order",
            "[stripe]\ntimeout_seconds = 0\nmax_retrys = 3\n\n[storage]\nurl = \"ftp://x\"\n\
             [extract]\nstreams = [\"Charges\"]\npart_target_mb = 2048\n",
            none(),
            &[
                "pipeline.toml:2: stripe.timeout_seconds: must be an integer from 1 to 600, got 0",
                "pipeline.toml:3: stripe.max_retrys: unknown key: did you mean `max_retries`?",
                "pipeline.toml:6: storage.url: must be a storage URL with scheme file, memory, \
                 s3, gs, az, abfs or abfss, like s3://bucket/prefix, got \"ftp://x\"",
                "pipeline.toml:8: extract.streams: must be a stream name like charges \
                 (lowercase letters and _), got \"Charges\"",
                "pipeline.toml:9: extract.part_target_mb: must be an integer from 1 to 1024, \
                 got 2048",
            ],
        ),
        (
            "toml syntax errors with line and column",
            "[stripe]\nmax_in_flight = 16\ntimeout_seconds = = 3\nmax_retries = \"8\n",
            none(),
            &[
                "pipeline.toml:3:19: invalid TOML: extra `=`, expected nothing: fix the syntax \
                 here",
                "pipeline.toml:4:17: invalid TOML: invalid basic string, expected `\"`: fix the \
                 syntax here",
            ],
        ),
    ];
    check(cases);
}

#[test]
fn override_problems_name_the_flag() {
    let cases: &[(&str, &str, Overrides, &[&str])] = &[
        (
            "bad storage url",
            "",
            Overrides {
                storage_url: Some("ftp://x".into()),
                ..none()
            },
            &[
                "--storage / STRIPELAKE_STORAGE: must be a storage URL with scheme file, memory, \
               s3, gs, az, abfs or abfss, like s3://bucket/prefix, got \"ftp://x\"",
            ],
        ),
        (
            "file problems first, then overrides",
            "[stripe]\nmax_retries = 99\n",
            Overrides {
                api_base: Some("http://10.0.0.1".into()),
                accounts: Some(vec!["acct_ok".into(), "bad".into()]),
                max_requests_per_second: Some(0.0),
                ..none()
            },
            &[
                "pipeline.toml:2: stripe.max_retries: must be an integer from 0 to 50, got 99",
                "--api-base / STRIPELAKE_API_BASE: must be an https URL like \
                 https://api.stripe.com (plain http only for loopback hosts: 127.0.0.1, \
                 localhost, [::1]), got \"http://10.0.0.1\"",
                "--accounts / STRIPELAKE_ACCOUNTS: must be a Connect account id like acct_123 \
                 (acct_ then letters and digits), got \"bad\"",
                "--max-requests-per-second / STRIPELAKE_MAX_RPS: must be a positive number of \
                 requests per second, got 0",
            ],
        ),
    ];
    check(cases);
}

#[test]
fn precedence_flags_over_file_over_defaults() {
    let file = "[storage]\nurl = \"memory://\"\n[stripe]\nstripe_version = \"2025-01-27.acacia\"\n";
    let flags = Overrides {
        storage_url: Some("s3://bucket/lake".into()),
        streams: Some(vec!["charges".into()]),
        max_requests_per_second: Some(20.0),
        ..none()
    };
    let from_file = parse_str(file, "pipeline.toml", &none()).expect("valid file");
    assert_eq!(from_file.storage.url, "memory://");
    assert_eq!(from_file.stripe.stripe_version, "2025-01-27.acacia");
    assert_eq!(from_file.stripe.max_in_flight, 24);
    let merged = parse_str(file, "pipeline.toml", &flags).expect("valid overrides");
    assert_eq!(merged.storage.url, "s3://bucket/lake");
    assert_eq!(merged.extract.streams, ["charges"]);
    assert_eq!(merged.stripe.max_requests_per_second, Some(20.0));
    assert_eq!(merged.stripe.stripe_version, "2025-01-27.acacia");
}

#[test]
fn example_pipeline_toml_is_valid_and_all_defaults() {
    let text = include_str!("../../pipeline.toml");
    let config = parse_str(text, "pipeline.toml", &none()).expect("example is valid");
    let expected = Config {
        source: Some("pipeline.toml".into()),
        ..Config::default()
    };
    assert_eq!(config, expected);
}

#[test]
fn values_are_typed() {
    let text = "[stripe]\napi_base = \"http://[::1]:8080/\"\naccounts = [\"acct_1\"]\n\
                max_requests_per_second = 50\n[extract]\nlookback = \"30d\"\n\
                [transform]\ndiscount_mode = \"all_active\"\nkpi_windows_days = [1, 90]\n\
                kpi_range = \"2026-01-01..2026-03-31\"\n\
                [visitors]\nsource = \"s3://b/e.ndjson\"\nformat = \"ndjson\"\n\
                [visitors.columns]\nvisitor_id = \"vid\"\ntimestamp = \"ts\"\n";
    let c = parse_str(text, "pipeline.toml", &none()).expect("valid");
    assert_eq!(c.stripe.api_base, "http://[::1]:8080/");
    assert_eq!(c.stripe.max_requests_per_second, Some(50.0));
    assert_eq!(c.extract.lookback, RelativeDuration::Days(30));
    assert_eq!(c.transform.discount_mode, DiscountMode::AllActive);
    assert_eq!(c.transform.kpi_windows_days, [1, 90]);
    let day = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    assert_eq!(
        c.transform.kpi_range,
        Some((day("2026-01-01"), day("2026-03-31")))
    );
    assert_eq!(c.visitors.format, VisitorFormat::Ndjson);
    assert_eq!(
        c.visitors.columns.get("timestamp").map(String::as_str),
        Some("ts")
    );
}

#[test]
fn errors_render_with_a_header() {
    let errors = parse_str(
        "[run]\nexit_99_when_nothing_to_do = 1\n[rnu]\n",
        "p.toml",
        &none(),
    );
    let text = errors.expect_err("two problems").to_string();
    let expected = "2 problems in the configuration:\n\
                    p.toml:2: run.exit_99_when_nothing_to_do: must be true or false, got 1\n\
                    p.toml:3: rnu: unknown section: did you mean [run]?";
    assert_eq!(text, expected);
}

#[test]
fn load_without_a_file_uses_defaults_and_overrides() {
    let flags = Overrides {
        storage_url: Some("memory://".into()),
        ..none()
    };
    let config = load(None, &flags).expect("defaults are valid");
    assert_eq!(config.source, None);
    assert_eq!(config.storage.url, "memory://");
}

#[test]
fn load_reads_the_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pipeline.toml");
    let flags = Overrides {
        api_base: Some("ftp://x".into()),
        ..none()
    };
    let got = lines(load(Some(&path), &flags));
    let want_base = "--api-base / STRIPELAKE_API_BASE: must be an https URL like \
        https://api.stripe.com (plain http only for loopback hosts: 127.0.0.1, localhost, \
        [::1]), got \"ftp://x\"";
    let missing = format!(
        "{}: file not found: check the --config path, or omit --config to run on the defaults",
        path.display()
    );
    assert_eq!(got, [missing.as_str(), want_base]);
    std::fs::write(&path, "[stripe]\nmax_in_flight = 0\n").expect("write");
    let got = lines(load(Some(&path), &none()));
    let want = format!(
        "{}:2: stripe.max_in_flight: must be an integer from 1 to 256, got 0",
        path.display()
    );
    assert_eq!(got, [want]);
    std::fs::write(&path, "[stripe]\nmax_in_flight = 4\n").expect("write");
    let config = load(Some(&path), &none()).expect("valid");
    assert_eq!(
        (config.source, config.stripe.max_in_flight),
        (Some(path), 4)
    );
}

#[test]
fn relative_durations() {
    let cases = [
        ("30d", Ok(RelativeDuration::Days(30))),
        ("2w", Ok(RelativeDuration::Weeks(2))),
        ("12mo", Ok(RelativeDuration::Months(12))),
        ("1y", Ok(RelativeDuration::Years(1))),
        ("0d", Err("\"0d\"")),
        ("12", Err("\"12\"")),
        ("-1d", Err("\"-1d\"")),
        ("+1d", Err("\"+1d\"")),
        ("1m", Err("\"1m\"")),
        ("99999999999d", Err("\"99999999999d\"")),
    ];
    for (input, want) in cases {
        let want = want.map_err(|got| {
            format!(
                "must be a number followed by d, w, mo or y, like 30d, 2w, 12mo or 1y, got {got}"
            )
        });
        assert_eq!(parse_relative_duration(input), want, "input: {input}");
        if let Ok(d) = parse_relative_duration(input) {
            assert_eq!(d.to_string(), input);
        }
    }
    // Past a century is an error, never a wrap-around to a few months (357913942y × 12
    // overflowed to 8 months).
    assert_eq!(
        parse_relative_duration("100y"),
        Ok(RelativeDuration::Years(100))
    );
    for input in ["357913942y", "101y", "1201mo", "36526d", "5219w"] {
        let e = parse_relative_duration(input).expect_err(input);
        assert!(
            e.contains("more than 100 years") && e.contains("2010"),
            "{e}"
        );
    }
}

#[test]
fn loopback_http() {
    let cases = [
        ("https://api.stripe.com", true),
        ("https://api.stripe.com:443/v1", true),
        ("http://127.0.0.1:12111", true),
        ("http://127.8.9.10", true),
        ("http://localhost:8080/", true),
        ("HTTP://LOCALHOST", true),
        ("http://[::1]:8080", true),
        ("http://api.stripe.com", false),
        ("http://128.0.0.1", false),
        ("http://localhost.example.com", false),
        ("http://127.0.0.1@evil.com", false),
        ("http://[::2]", false),
        ("http://:80", false),
        ("http://127.0.0.1:99999", false),
        ("ftp://127.0.0.1", false),
        ("api.stripe.com", false),
    ];
    for (url, want) in cases {
        assert_eq!(is_loopback_http_allowed(url), want, "url: {url}");
    }
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn api_key_from_the_environment() {
    let config = Config::default();
    let problem = resolve_api_key(&config, &env_of(&[])).expect_err("unset");
    assert_eq!(
        problem.to_string(),
        "stripe.api_key_env: STRIPE_API_KEY is not set: export a restricted key (rk_live_… or \
         rk_test_…) or run `stripelake key-link` to create one"
    );
    let blank = resolve_api_key(&config, &env_of(&[("STRIPE_API_KEY", "  ")]));
    assert!(blank.is_err());
    let key =
        resolve_api_key(&config, &env_of(&[("STRIPE_API_KEY", " rk_test_abc123\n")])).expect("set");
    assert_eq!(
        (key.expose(), key.kind()),
        ("rk_test_abc123", KeyKind::RestrictedTest)
    );
}

#[cfg(unix)]
#[test]
fn api_key_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stripe.key");
    std::fs::write(&path, "rk_live_filesecret\n").expect("write");
    let mut config = Config::default();
    config.stripe.api_key_file = Some(path.clone());
    let env = env_of(&[]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let problem = resolve_api_key(&config, &env).expect_err("group/world readable");
    let shown = path.display();
    let want = format!(
        "stripe.api_key_file: {shown} is accessible to other users (mode 644): run `chmod 600 \
         {shown}`"
    );
    assert_eq!(problem.to_string(), want);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let key = resolve_api_key(&config, &env).expect("private file");
    assert_eq!(
        (key.expose(), key.kind()),
        ("rk_live_filesecret", KeyKind::RestrictedLive)
    );
}

#[test]
fn api_key_never_prints_the_secret() {
    let cases = [
        (
            "rk_test_51Habcdefsecret",
            "rk_test_",
            KeyKind::RestrictedTest,
        ),
        (
            "rk_live_51Habcdefsecret",
            "rk_live_",
            KeyKind::RestrictedLive,
        ),
        ("sk_live_51Habcdefsecret", "sk_live_", KeyKind::SecretLive),
        ("sk_test_51Habcdefsecret", "sk_test_", KeyKind::SecretTest),
        ("pk_test_51Habcdefsecret", "pk_test_", KeyKind::Publishable),
        ("whsec_51Habcdefsecret", "", KeyKind::Unknown),
    ];
    for (secret, prefix, kind) in cases {
        let key = ApiKey::new(secret);
        let want = format!("ApiKey({prefix}…redacted)");
        assert_eq!(format!("{key:?}"), want);
        assert_eq!(format!("{key}"), want);
        assert!(!format!("{key:?} {key} {key:#?}").contains("51Habcdefsecret"));
        assert_eq!((key.prefix(), key.kind()), (prefix, kind));
    }
}

#[test]
fn a_bad_kpi_range_says_the_expected_shape() {
    let text = "[transform]\nkpi_range = \"2026-03-01..2026-01-01\"\n";
    let e = parse_str(text, "pipeline.toml", &none()).expect_err("invalid");
    assert_eq!(
        e.to_string(),
        "1 problem in the configuration:\npipeline.toml:2: transform.kpi_range: `2026-03-01..2026-01-01`: the range ends before it starts"
    );
}

#[test]
fn memory_limits_are_sizes_of_at_least_a_mebibyte() {
    let ok = [
        ("2GiB", 2u64 << 30),
        ("512MiB", 512 << 20),
        ("1.5GB", 1_500_000_000),
        ("800mb", 800_000_000),
        ("1048576", 1 << 20),
    ];
    for (text, bytes) in ok {
        assert_eq!(parse_byte_size(text), Ok(bytes), "{text}");
    }
    for text in ["", "lots", "2 parsecs", "512KiB", "-1GiB"] {
        assert!(parse_byte_size(text).is_err(), "{text} accepted");
    }
    let text = "[transform]\nmemory_limit = \"12 bananas\"\n";
    let e = parse_str(text, "pipeline.toml", &none()).expect_err("invalid");
    assert!(
        e.to_string().starts_with(
            "1 problem in the configuration:\npipeline.toml:2: transform.memory_limit: `12 bananas`"
        ),
        "{e}"
    );
    let text = "[transform]\nmemory_limit = \"1GiB\"\nwork_dir = \"/var/tmp/sl\"\n";
    let cfg = parse_str(text, "pipeline.toml", &none()).expect("valid");
    assert_eq!(cfg.transform.memory_limit, Some(1 << 30));
    assert_eq!(cfg.transform.work_dir, Some("/var/tmp/sl".into()));
    // The default is a share of this machine's memory, never nothing.
    assert!(default_memory_limit() >= 1 << 20);
}
