use stripelake::sandbox::{KeySpec, Knobs};

use crate::support::{self, get_with};

#[tokio::test]
async fn unknown_missing_and_revoked_keys_get_stripes_401() {
    let sb = support::start(3, 0.2).await;
    let none = get_with(&sb, "/v1/charges", None).await;
    assert_eq!(none.status, 401);
    assert!(
        none.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("You did not provide an API key"))
    );
    let wrong = "rk_test_this_key_is_unknown_9876";
    let bad = get_with(&sb, "/v1/charges", Some(wrong)).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.body["error"]["type"], "invalid_request_error");
    let message = bad.body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("Invalid API Key provided: rk_test_*") && message.ends_with("9876"),
        "{message}"
    );
    assert!(!message.contains(wrong), "the key is echoed");
    let revoked = "rk_test_revoked_key_for_tests";
    sb.add_key(KeySpec {
        revoked: true,
        ..KeySpec::full(revoked)
    });
    let expired = get_with(&sb, "/v1/charges", Some(revoked)).await;
    assert_eq!(expired.status, 401);
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Expired API Key provided: rk_test_"))
    );
}

#[tokio::test]
async fn restricted_keys_get_403_naming_the_missing_permission() {
    let sb = support::start(3, 0.2).await;
    let key = "rk_test_no_charges_key";
    sb.add_key(KeySpec {
        permissions: Some(vec!["rak_customer_read".into()]),
        ..KeySpec::full(key)
    });
    let denied = get_with(&sb, "/v1/charges", Some(key)).await;
    assert_eq!(denied.status, 403);
    let message = denied.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(
            "Having the 'rak_charge_read' permission would allow this request to continue."
        ),
        "{message}"
    );
    assert!(!message.contains(key));
    assert_eq!(get_with(&sb, "/v1/customers", Some(key)).await.status, 200);
    let other_account = reqwest::Client::new()
        .get(format!("{}/v1/customers", sb.base_url()))
        .bearer_auth(support::KEY)
        .header("Stripe-Account", "acct_1NotThisOne")
        .send()
        .await
        .expect("reply");
    assert_eq!(other_account.status(), 403);
}

#[tokio::test]
async fn live_and_test_keys_see_their_own_mode() {
    let sb = support::start(3, 0.2).await;
    let test = get_with(&sb, "/v1/customers?limit=3", Some(support::KEY)).await;
    let live = get_with(
        &sb,
        "/v1/customers?limit=3",
        Some(stripelake::sandbox::DEFAULT_LIVE_KEY),
    )
    .await;
    assert!(
        test.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|c| c["livemode"] == false)
    );
    assert!(
        live.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|c| c["livemode"] == true)
    );
    assert_ne!(test.body["data"][0]["id"], live.body["data"][0]["id"]);
}

#[tokio::test]
async fn over_the_rate_limit_requests_get_429_with_stripes_body() {
    let sb = support::start(3, 0.2).await;
    sb.set_knobs(Knobs {
        rate_limit: Some(5.0),
        burst: Some(5.0),
        ..Knobs::default()
    });
    let client = reqwest::Client::new();
    let url = format!("{}/v1/charges?limit=1", sb.base_url());
    let replies = futures::future::join_all(
        (0..20).map(|_| client.get(&url).bearer_auth(support::KEY).send()),
    )
    .await;
    let mut limited = 0;
    for reply in replies {
        let reply = reply.expect("reply");
        if reply.status() == 429 {
            limited += 1;
            assert_eq!(
                reply
                    .headers()
                    .get("stripe-should-retry")
                    .and_then(|v| v.to_str().ok()),
                Some("true")
            );
            let body: serde_json::Value = reply.json().await.expect("json");
            assert_eq!(body["error"]["code"], "rate_limit");
        } else {
            assert_eq!(reply.status(), 200);
        }
    }
    assert!(
        limited >= 14,
        "only {limited} of 20 were limited with a burst of 5"
    );
    assert_eq!(sb.stats().rate_limited, limited);
}

#[tokio::test]
async fn injected_faults_look_like_the_real_thing() {
    let sb = support::start(3, 0.2).await;
    let url = format!("{}/v1/charges?limit=5", sb.base_url());
    sb.set_knobs(Knobs {
        server_error_rate: 1.0,
        ..Knobs::default()
    });
    let five = reqwest::Client::new()
        .get(&url)
        .bearer_auth(support::KEY)
        .send()
        .await
        .expect("reply");
    assert_eq!(five.status(), 500);
    let body: serde_json::Value = five.json().await.expect("json");
    assert_eq!(body["error"]["type"], "api_error");

    sb.set_knobs(Knobs {
        reset_rate: 1.0,
        ..Knobs::default()
    });
    let reset = reqwest::Client::new()
        .get(&url)
        .bearer_auth(support::KEY)
        .send()
        .await;
    let err = reset.expect_err("a reset connection cannot answer");
    assert!(err.is_request() || err.is_connect(), "{err:?}");

    sb.set_knobs(Knobs {
        truncate_rate: 1.0,
        ..Knobs::default()
    });
    let cut = reqwest::Client::new()
        .get(&url)
        .bearer_auth(support::KEY)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(cut.status(), 200);
    assert!(
        cut.bytes().await.is_err(),
        "a truncated body must fail to read"
    );

    sb.set_knobs(Knobs::default());
    let fine = reqwest::Client::new()
        .get(&url)
        .bearer_auth(support::KEY)
        .send()
        .await
        .expect("reply");
    assert_eq!(fine.status(), 200);
    let stats = sb.stats();
    assert_eq!(
        (stats.server_errors, stats.resets, stats.truncated),
        (1, 1, 1)
    );
}
