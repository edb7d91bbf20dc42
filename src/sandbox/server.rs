//! The sandbox's HTTP face: Stripe's auth, restricted-key permissions, list semantics,
//! expansions and error bodies — plus knobs for latency, rate limits and faults.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::State;
use super::store::{CreatedRange, Cursor, Kind, Obj};

type Body = BoxBody<Bytes, std::io::Error>;

/// What a request resolved to.
enum Route<'a> {
    List(Kind),
    Retrieve(Kind, &'a str),
    Children(Kind, &'a str, Kind),
    Balance,
    Account,
}

/// A Stripe error response.
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut err = json!({"message": message.into(), "type": "invalid_request_error"});
        if let Some(p) = param {
            err["param"] = json!(p);
        }
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"error": err}),
        }
    }

    fn missing(kind: Kind, id: &str, param: &str, status: StatusCode) -> Self {
        ApiError {
            status,
            body: json!({"error": {
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                "message": format!("No such {}: '{}'", kind.noun(), id),
                "param": param,
                "type": "invalid_request_error",
            }}),
        }
    }

    fn unauthorized(message: String) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"error": {"message": message, "type": "invalid_request_error"}}),
        }
    }

    fn not_found(path: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({"error": {"message": format!("Unrecognized request URL (GET: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", ), "type": "invalid_request_error"}}),
        }
    }
}

/// Which list path serves which kind, and the restricted-key permission it needs.
pub const RESOURCES: &[(&str, Kind, &str)] = &[
    ("customers", Kind::Customer, "rak_customer_read"),
    ("products", Kind::Product, "rak_product_read"),
    ("prices", Kind::Price, "rak_plan_read"),
    ("plans", Kind::Plan, "rak_plan_read"),
    ("coupons", Kind::Coupon, "rak_coupon_read"),
    ("subscriptions", Kind::Subscription, "rak_subscription_read"),
    (
        "subscription_items",
        Kind::SubscriptionItem,
        "rak_subscription_read",
    ),
    ("invoices", Kind::Invoice, "rak_invoice_read"),
    ("invoice_payments", Kind::InvoicePayment, "rak_invoice_read"),
    (
        "payment_intents",
        Kind::PaymentIntent,
        "rak_payment_intent_read",
    ),
    ("charges", Kind::Charge, "rak_charge_read"),
    ("refunds", Kind::Refund, "rak_charge_read"),
    ("disputes", Kind::Dispute, "rak_dispute_read"),
    (
        "balance_transactions",
        Kind::BalanceTransaction,
        "rak_balance_read",
    ),
    ("payouts", Kind::Payout, "rak_payout_read"),
    (
        "checkout/sessions",
        Kind::CheckoutSession,
        "rak_checkout_session_read",
    ),
    ("credit_notes", Kind::CreditNote, "rak_credit_note_read"),
    ("events", Kind::Event, "rak_event_read"),
];

pub const BALANCE_PERMISSION: &str = "rak_balance_read";
/// What Stripe names when a restricted key reads `/v1/account`.
pub const ACCOUNT_PERMISSION: &str = "rak_accounts_kyc_basic_read";

fn permission_for(kind: Kind) -> &'static str {
    RESOURCES
        .iter()
        .find(|r| r.1 == kind)
        .map_or("rak_invoice_read", |r| r.2)
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v1/")?;
    match rest {
        "balance" => return Some(Route::Balance),
        "account" => return Some(Route::Account),
        _ => {}
    }
    for (name, kind, _) in RESOURCES {
        if rest == *name {
            return Some(Route::List(*kind));
        }
        let Some(tail) = rest.strip_prefix(name).and_then(|t| t.strip_prefix('/')) else {
            continue;
        };
        return match tail.split_once('/') {
            None if !tail.is_empty() => Some(Route::Retrieve(*kind, tail)),
            Some((id, "lines")) if *kind == Kind::Invoice => {
                Some(Route::Children(Kind::Invoice, id, Kind::InvoiceLine))
            }
            Some((id, "refunds")) if *kind == Kind::Charge => {
                Some(Route::Children(Kind::Charge, id, Kind::Refund))
            }
            _ => None,
        };
    }
    None
}

/// Query parameters in Stripe's form encoding (`expand[]=a&created[gte]=1`).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("Invalid integer: {v}"), Some(key)))
            })
            .transpose()
    }

    fn limit(&self) -> Result<usize, ApiError> {
        match self.int("limit")? {
            None => Ok(10),
            Some(n) if (1..=100).contains(&n) => Ok(n as usize),
            Some(n) => Err(ApiError::invalid(
                format!("Invalid limit: must be between 1 and 100 (it currently is {n})."),
                Some("limit"),
            )),
        }
    }

    fn created(&self) -> Result<CreatedRange, ApiError> {
        let exact = self.int("created")?;
        Ok(CreatedRange {
            gt: self.int("created[gt]")?,
            gte: self.int("created[gte]")?.or(exact),
            lt: self.int("created[lt]")?,
            lte: self.int("created[lte]")?.or(exact),
        })
    }

    fn cursor(&self) -> Result<Cursor<'_>, ApiError> {
        match (self.get("starting_after"), self.get("ending_before")) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
                None,
            )),
            (Some(id), None) => Ok(Cursor::StartingAfter(id)),
            (None, Some(id)) => Ok(Cursor::EndingBefore(id)),
            (None, None) => Ok(Cursor::None),
        }
    }

    fn expand(&self) -> Vec<&str> {
        let mut e = self.all("expand[]");
        e.extend(self.all("expand"));
        e
    }
}

/// Equality filters every list honours, as Stripe's list endpoints document them.
fn filters(kind: Kind, params: &Params) -> Vec<(String, Vec<String>)> {
    let allowed: &[&str] = match kind {
        Kind::Customer => &["email"],
        Kind::Subscription => &["customer", "price", "status"],
        Kind::Invoice => &["customer", "subscription", "status"],
        Kind::InvoicePayment => &["invoice", "payment[payment_intent]"],
        Kind::PaymentIntent => &["customer"],
        Kind::Charge => &["customer", "payment_intent"],
        Kind::Refund => &["charge", "payment_intent"],
        Kind::Dispute => &["charge", "payment_intent"],
        Kind::BalanceTransaction => &["type", "source", "currency", "payout"],
        Kind::CheckoutSession => &["customer", "payment_intent", "subscription", "status"],
        Kind::CreditNote => &["customer", "invoice"],
        Kind::Event => &["type", "types[]"],
        Kind::Payout => &["status"],
        Kind::Price | Kind::Plan => &["product", "currency", "type"],
        _ => &[],
    };
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for key in allowed {
        let values: Vec<String> = params.all(key).into_iter().map(str::to_string).collect();
        if !values.is_empty() {
            out.push((key.trim_end_matches("[]").to_string(), values));
        }
    }
    // Stripe leaves canceled subscriptions out unless asked (`status=all` or `status=canceled`).
    if kind == Kind::Subscription {
        match params.get("status") {
            None => out.push(("status".into(), vec!["!ended".into()])),
            Some("all") => out.retain(|(k, _)| k != "status"),
            Some("ended") => {
                out.retain(|(k, _)| k != "status");
                out.push((
                    "status".into(),
                    vec!["canceled".into(), "incomplete_expired".into()],
                ));
            }
            Some(_) => {}
        }
    }
    out
}

/// Filters answered from the stored attributes; the rest read the object's top-level field.
fn attribute<'o>(kind: Kind, key: &str, obj: &'o Obj) -> Option<Option<&'o str>> {
    match (kind, key) {
        (_, "customer") => Some(obj.customer.as_deref()),
        (Kind::Event | Kind::BalanceTransaction, "type" | "types") => Some(obj.tag.as_deref()),
        (Kind::Subscription | Kind::Invoice, "status") => Some(obj.tag.as_deref()),
        (Kind::Invoice, "subscription")
        | (Kind::Refund | Kind::Dispute, "charge")
        | (Kind::Charge, "payment_intent")
        | (Kind::InvoicePayment, "invoice")
        | (Kind::BalanceTransaction, "source") => Some(obj.parent.as_deref()),
        _ => None,
    }
}

fn matches(kind: Kind, obj: &Obj, filters: &[(String, Vec<String>)]) -> bool {
    let mut parsed: Option<Value> = None;
    filters.iter().all(|(key, wanted)| {
        if key == "status" && wanted == &["!ended"] {
            return !matches!(obj.tag.as_deref(), Some("canceled" | "incomplete_expired"));
        }
        if let Some(value) = attribute(kind, key, obj) {
            return value.is_some_and(|v| wanted.iter().any(|w| w == v));
        }
        let v =
            parsed.get_or_insert_with(|| serde_json::from_str(&obj.json).unwrap_or(Value::Null));
        let field = match key.as_str() {
            "payment[payment_intent]" => &v["payment"]["payment_intent"],
            "price" => &v["items"]["data"][0]["price"]["id"],
            k => &v[k],
        };
        field
            .as_str()
            .is_some_and(|f| wanted.iter().any(|w| w == f))
    })
}

impl State {
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        kill: Arc<tokio::sync::Notify>,
    ) -> Result<Response<Body>, Infallible> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let arrived = std::time::Instant::now();
        let knobs = self.knobs();
        if knobs.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
        }
        let path = req.uri().path();
        let matches = |paths: &[String]| paths.iter().any(|p| path.starts_with(p.as_str()));
        let (storm, hollow) = (matches(&knobs.failing_paths), matches(&knobs.hollow_paths));
        let mut response = match self.authenticate_and_serve(&req, &knobs) {
            _ if storm => self.server_error(),
            _ if hollow => self.respond(StatusCode::OK, "{}".into(), None),
            Ok(body) => self.deliver(body, &knobs, kill).await,
            Err(err) => self.respond(err.status, err.body.to_string(), None),
        };
        if response.status() == StatusCode::TOO_MANY_REQUESTS
            && let Some(seconds) = knobs.retry_after_seconds
        {
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from(seconds));
        }
        if knobs.log_requests {
            let mut log = self.counters.log.lock().unwrap_or_else(|e| e.into_inner());
            log.push((arrived, response.status().as_u16()));
        }
        Ok(response)
    }

    fn authenticate_and_serve(
        &self,
        req: &Request<Incoming>,
        knobs: &super::Knobs,
    ) -> Result<String, ApiError> {
        if req.method() != hyper::Method::GET {
            return Err(ApiError::invalid(
                "The sandbox serves read-only requests (GET), like the restricted read keys stripelake asks for.",
                None,
            ));
        }
        let path = req.uri().path();
        let route = route(path).ok_or_else(|| ApiError::not_found(path))?;
        let key = self.authenticate(req)?;
        let permission = match &route {
            Route::List(kind) | Route::Retrieve(kind, _) => permission_for(*kind),
            Route::Children(parent, _, _) => permission_for(*parent),
            Route::Balance => BALANCE_PERMISSION,
            Route::Account => ACCOUNT_PERMISSION,
        };
        let account = self.account(key.live);
        let account = account.read().unwrap_or_else(|e| e.into_inner());
        let account_id = account.account["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(allowed) = &key.permissions
            && !allowed.iter().any(|p| p == permission)
        {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                body: json!({"error": {"message": format!("The provided key '{}' does not have the required permissions for this endpoint on account '{}'. Having the '{}' permission would allow this request to continue.", super::redact(&key.key), account_id, permission), "type": "invalid_request_error"}}),
            });
        }
        if let Some(acct) = req
            .headers()
            .get("stripe-account")
            .and_then(|v| v.to_str().ok())
            && acct != account_id
        {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                body: json!({"error": {"message": format!("The provided key '{}' does not have access to account '{}' (or that account does not exist). Application access may have been revoked.", super::redact(&key.key), acct), "type": "invalid_request_error", "code": "account_invalid"}}),
            });
        }
        if !self.admit(key.live, knobs) {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: json!({"error": {"message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.", "type": "invalid_request_error", "code": "rate_limit", "doc_url": "https://stripe.com/docs/error-codes/rate-limit"}}),
            });
        }
        let params = Params::parse(req.uri().query());
        serve(&account, &route, &params)
    }

    fn authenticate(&self, req: &Request<Incoming>) -> Result<super::KeySpec, ApiError> {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let Some(key) = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return Err(ApiError::unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.".into()));
        };
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        match keys.get(key) {
            Some(spec) if spec.revoked => Err(ApiError::unauthorized(format!(
                "Expired API Key provided: {}",
                super::redact(key)
            ))),
            Some(spec) => Ok(spec.clone()),
            None => Err(ApiError::unauthorized(format!(
                "Invalid API Key provided: {}",
                super::redact(key)
            ))),
        }
    }

    /// Token bucket per mode, like Stripe's per-account limiter.
    fn admit(&self, live: bool, knobs: &super::Knobs) -> bool {
        let Some(rate) = knobs.rate_limit else {
            return true;
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = &mut buckets[live as usize];
        let now = std::time::Instant::now();
        let burst = knobs.burst.unwrap_or(rate).max(1.0);
        let elapsed = bucket
            .1
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        bucket.0 = if bucket.1.is_none() {
            burst
        } else {
            (bucket.0 + elapsed * rate).min(burst)
        };
        bucket.1 = Some(now);
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    async fn deliver(
        &self,
        body: String,
        knobs: &super::Knobs,
        kill: Arc<tokio::sync::Notify>,
    ) -> Response<Body> {
        match self.roll_fault(knobs) {
            Fault::None => self.respond(StatusCode::OK, body, None),
            Fault::ServerError => self.server_error(),
            Fault::Truncate => {
                self.counters.truncated.fetch_add(1, Ordering::Relaxed);
                let cut = body.len() / 2;
                self.respond(StatusCode::OK, body, Some(cut))
            }
            Fault::Reset => {
                self.counters.resets.fetch_add(1, Ordering::Relaxed);
                kill.notify_one();
                std::future::pending::<()>().await;
                unreachable!("the connection is dropped before this resumes")
            }
        }
    }

    fn server_error(&self) -> Response<Body> {
        self.counters.server_errors.fetch_add(1, Ordering::Relaxed);
        let body = json!({"error": {"message": "An unknown error occurred", "type": "api_error"}});
        self.respond(StatusCode::INTERNAL_SERVER_ERROR, body.to_string(), None)
    }

    fn roll_fault(&self, knobs: &super::Knobs) -> Fault {
        let total = knobs.server_error_rate + knobs.reset_rate + knobs.truncate_rate;
        if total <= 0.0 {
            return Fault::None;
        }
        let roll = self
            .fault_rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unit();
        if roll < knobs.server_error_rate {
            Fault::ServerError
        } else if roll < knobs.server_error_rate + knobs.reset_rate {
            Fault::Reset
        } else if roll < total {
            Fault::Truncate
        } else {
            Fault::None
        }
    }

    fn respond(
        &self,
        status: StatusCode,
        body: String,
        truncate_at: Option<usize>,
    ) -> Response<Body> {
        let n = self.counters.requests.load(Ordering::Relaxed);
        let len = body.len();
        let bytes = Bytes::from(body);
        let payload: Body = match truncate_at {
            None => {
                self.counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
                Full::new(bytes).map_err(|never| match never {}).boxed()
            }
            Some(cut) => {
                // Flush the head and half the body first, so the client sees a 200 whose body
                // stops short (not a reset).
                let head = futures::stream::iter([Ok(Frame::data(bytes.slice(..cut)))]);
                let fail = futures::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "truncated by the sandbox",
                    ))
                });
                BodyExt::boxed(StreamBody::new(futures::StreamExt::chain(head, fail)))
            }
        };
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("content-length", len)
            .header("request-id", format!("req_sandbox{n:010}"))
            .header("stripe-version", super::render::API_VERSION);
        if status == StatusCode::TOO_MANY_REQUESTS {
            builder = builder.header("stripe-should-retry", "true");
        }
        builder.body(payload).unwrap_or_else(|_| {
            Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
        })
    }
}

enum Fault {
    None,
    ServerError,
    Reset,
    Truncate,
}

fn serve(
    account: &super::generate::Account,
    route: &Route<'_>,
    params: &Params,
) -> Result<String, ApiError> {
    let store = &account.store;
    let expand = params.expand();
    match route {
        Route::Balance => Ok(balance(account).to_string()),
        Route::Account => Ok(account.account.to_string()),
        Route::Retrieve(kind, id) => {
            let obj = store
                .table(*kind)
                .get(id)
                .ok_or_else(|| ApiError::missing(*kind, id, "id", StatusCode::NOT_FOUND))?;
            let mut value: Value = serde_json::from_str(&obj.json).unwrap_or(Value::Null);
            for path in &expand {
                super::expand::expand(&mut value, path, account);
            }
            Ok(value.to_string())
        }
        Route::List(kind) => {
            let limit = params.limit()?;
            let table = store.table(*kind);
            let page = if *kind == Kind::SubscriptionItem {
                let sub = params.get("subscription").ok_or_else(|| {
                    ApiError::invalid(
                        "Missing required param: subscription.",
                        Some("subscription"),
                    )
                })?;
                table.list_children(sub, limit, params.cursor()?)
            } else if let (Kind::InvoicePayment, Some(invoice)) = (*kind, params.get("invoice")) {
                // One invoice's payments continue its embedded `payments` list, in its order.
                table.list_children(invoice, limit, params.cursor()?)
            } else {
                let filters = filters(*kind, params);
                table.list(limit, params.cursor()?, params.created()?, &|o| {
                    matches(*kind, o, &filters)
                })
            };
            let page = page.map_err(|param| cursor_missing(*kind, params, param))?;
            let url = format!(
                "/v1/{}",
                RESOURCES.iter().find(|r| r.1 == *kind).map_or("", |r| r.0)
            );
            Ok(list_body(page, &url, &expand, account))
        }
        Route::Children(parent, id, child) => {
            if store.table(*parent).get(id).is_none() {
                return Err(ApiError::missing(*parent, id, "id", StatusCode::NOT_FOUND));
            }
            let limit = params.limit()?;
            let table = store.table(*child);
            let page = table
                .list_children(id, limit, params.cursor()?)
                .map_err(|param| cursor_missing(*child, params, param))?;
            let url = format!(
                "/v1/{}/{}/{}",
                if *parent == Kind::Invoice {
                    "invoices"
                } else {
                    "charges"
                },
                id,
                if *child == Kind::InvoiceLine {
                    "lines"
                } else {
                    "refunds"
                }
            );
            Ok(list_body(page, &url, &expand, account))
        }
    }
}

fn cursor_missing(kind: Kind, params: &Params, param: &'static str) -> ApiError {
    let id = params.get(param).unwrap_or_default();
    ApiError::missing(kind, id, param, StatusCode::BAD_REQUEST)
}

/// A list response. Without expansions the stored JSON is spliced in as is: no parse, no
/// re-serialisation, so the sandbox serves pages far faster than Stripe's limit allows.
fn list_body(
    page: super::store::Page<'_>,
    url: &str,
    expand: &[&str],
    account: &super::generate::Account,
) -> String {
    let data_paths: Vec<&str> = expand
        .iter()
        .filter_map(|p| p.strip_prefix("data."))
        .collect();
    let mut out =
        String::with_capacity(page.objs.iter().map(|o| o.json.len() + 1).sum::<usize>() + 128);
    out.push_str(r#"{"object":"list","data":["#);
    for (i, obj) in page.objs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if data_paths.is_empty() {
            out.push_str(&obj.json);
        } else {
            let mut v: Value = serde_json::from_str(&obj.json).unwrap_or(Value::Null);
            for path in &data_paths {
                super::expand::expand(&mut v, path, account);
            }
            out.push_str(&v.to_string());
        }
    }
    out.push_str(&format!(
        r#"],"has_more":{},"url":{}}}"#,
        page.has_more,
        json!(url)
    ));
    out
}

fn balance(account: &super::generate::Account) -> Value {
    let now = account.config.now;
    let mut totals: HashMap<bool, i64> = HashMap::new();
    for obj in account.store.table(Kind::BalanceTransaction).iter() {
        let Ok(v) = serde_json::from_str::<Value>(&obj.json) else {
            continue;
        };
        let available = v["available_on"].as_i64().unwrap_or(0) <= now;
        *totals.entry(available).or_default() += v["net"].as_i64().unwrap_or(0);
    }
    json!({
        "object": "balance",
        "available": [{"amount": totals.get(&true).copied().unwrap_or(0), "currency": "usd", "source_types": {"card": totals.get(&true).copied().unwrap_or(0)}}],
        "livemode": account.config.livemode,
        "pending": [{"amount": totals.get(&false).copied().unwrap_or(0), "currency": "usd", "source_types": {"card": totals.get(&false).copied().unwrap_or(0)}}],
    })
}
