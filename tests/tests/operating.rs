//! Operating the server: `/metrics` (every family described, process figures, bounded
//! labels, guarded in production) and CORS for the configured origins.

use ils_api::config::Environment;
use ils_tests::{TestServer, email};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Every family of a scrape and whether it has `# HELP`.
fn families(text: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_owned();
            out.insert(name, true);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_owned();
            out.entry(name).or_insert(false);
        }
    }
    out
}

/// The distinct values of `label` on the series of `family`.
fn label_values(text: &str, family: &str, label: &str) -> BTreeSet<String> {
    let key = format!("{label}=\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| {
            let start = l.find(&key)? + key.len();
            let end = start + l[start..].find('"')?;
            Some(l[start..end].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_describe_every_family_and_bound_the_operation_label() {
    let s = TestServer::start().await;
    s.sign_up("Metrics Optics", "ECP", &email("metrics-help"))
        .await;
    // 600 distinct operation names, as a careless or hostile client might send.
    for i in 0..600 {
        let name = format!("Random{i}x{}", i * 7919 % 1000);
        let resp = s
            .http
            .post(s.url("/graphql"))
            .json(&json!({ "query": format!("query {name} {{ __typename }}"), "operationName": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fams = families(&text);
    let undescribed: Vec<&String> = fams.iter().filter(|(_, h)| !**h).map(|(n, _)| n).collect();
    assert!(
        undescribed.is_empty(),
        "families without # HELP: {undescribed:?}"
    );
    for f in [
        "ils_graphql_requests_total",
        "ils_sql_statements_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(fams.contains_key(f), "no {f} in:\n{text}");
    }
    let operations = label_values(&text, "ils_graphql_requests_total", "operation");
    assert!(operations.contains("other"), "{operations:?}");
    assert!(
        operations.len() <= ils_api::metrics::MAX_OPERATION_NAMES + 2,
        "{} operation labels: {operations:?}",
        operations.len()
    );
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(series < 2_000, "{series} series after 600 operation names");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_production_need_a_token_or_their_own_address() {
    let secret = ils_tests::JWT_SECRET.to_owned();
    let production = |c: &mut ils_api::config::Config| {
        c.env = Environment::Production;
        c.jwt_secret = Some(secret.clone());
    };
    // Neither: not served.
    let s = TestServer::start_with(production).await;
    let resp = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    s.finish().await;

    // A token: asked for, and compared.
    let token = "metrics-token-0123456789";
    let s = TestServer::start_with(|c| {
        production(c);
        c.metrics_token = Some(token.into());
    })
    .await;
    let resp = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("# HELP ils_"));
    s.finish().await;

    // Its own address: served there only.
    let s = TestServer::start_with(|c| {
        production(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let resp = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let addr = s.server.metrics_addr.expect("a metrics address");
    let resp = s
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("process_cpu_seconds_total")
    );
    let resp = s
        .http
        .get(format!("http://{addr}/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404, "only /metrics there");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_configured_origins_only() {
    let app = "https://app.example.com";
    let s = TestServer::start_with(|c| c.cors_origins = vec![app.into()]).await;

    // Preflight from the listed origin.
    let resp = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/graphql"))
        .header("origin", app)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], app);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    // The actual request gets the origin back, and the request id exposed.
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("origin", app)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], app);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // Another origin gets no CORS headers: the browser keeps it out.
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("origin", "https://evil.example")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    s.finish().await;

    // None configured (the default): no CORS headers at all.
    let s = TestServer::start().await;
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("origin", app)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    s.finish().await;

    // `*` in development: any origin, never with credentials.
    let s = TestServer::start_with(|c| c.cors_origins = vec!["*".into()]).await;
    let resp = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/graphql"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(
        resp.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    s.finish().await;
}
