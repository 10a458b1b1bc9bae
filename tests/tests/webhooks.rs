//! Webhooks as a company sees them: endpoints, signed deliveries to a real local
//! receiver, retries with backoff, dead-lettering, redelivery, secret rotation, the SSRF
//! guard of production mode, and isolation between companies.

use ils_tests::receiver::{Received, Receiver};
use ils_tests::{Session, TestServer, create_key, email, eventually, nodes, staff_of};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

const CREATE: &str = "mutation($url: String!, $types: [String!]!) {
    createWebhookEndpoint(input: { url: $url, eventTypes: $types, description: \"test hook\" }) {
        secret webhookEndpoint { id url description eventTypes enabled createdAt updatedAt } } }";
const ENDPOINTS: &str =
    "{ webhookEndpoints(first: 50) { edges { node { id url description eventTypes enabled } } } }";
const DELIVERIES: &str = "{ webhookDeliveries(first: 100) { edges { node {
    id endpoint { id url } eventId eventType status attempts lastStatusCode lastError
    lastLatencyMs createdAt updatedAt deliveredAt } } } }";
const REDELIVER: &str = "mutation($id: ID!) { redeliverWebhook(input: { deliveryId: $id }) {
    webhookDelivery { id status attempts eventId endpoint { id } } } }";
const JOBS_DEAD: &str = "{ jobs(filter: { statuses: [DEAD] }, first: 100) { edges { node {
    id kind status attempts maxAttempts lastError finishedAt } } } }";
const RETRY_JOB: &str =
    "mutation($id: ID!) { retryJob(input: { id: $id }) { job { id status attempts } } }";
const DISCARD_JOB: &str =
    "mutation($id: ID!) { discardJob(input: { id: $id }) { job { id status } } }";
const DELETE: &str =
    "mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { deletedId } }";
const ROTATE: &str = "mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) {
    secret webhookEndpoint { id enabled } } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id __typename
    ... on WebhookEndpoint { url enabled }
    ... on WebhookDelivery { eventId status endpoint { id } } } }";

async fn hook_server() -> TestServer {
    hook_server_with(|_| {}).await
}

async fn hook_server_with(adjust: impl FnOnce(&mut ils_api::config::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 50;
        c.webhook_retry_max_ms = 500;
        c.job_poll_ms = 100;
        adjust(c);
    })
    .await
}

/// Creates an endpoint; returns (endpoint id, secret).
async fn create_endpoint(
    s: &TestServer,
    who: &Session,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let data = s
        .ok(&who.auth(), CREATE, json!({ "url": url, "types": types }))
        .await;
    let made = &data["createWebhookEndpoint"];
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = &made["webhookEndpoint"];
    assert_eq!(endpoint["url"], url, "{made}");
    assert_eq!(endpoint["eventTypes"], json!(types), "{made}");
    assert_eq!(endpoint["enabled"], true, "{made}");
    assert_eq!(endpoint["description"], "test hook", "{made}");
    (endpoint["id"].as_str().unwrap().to_owned(), secret)
}

async fn delete_endpoint(s: &TestServer, who: &Session, id: &str) {
    let del = s.ok(&who.auth(), DELETE, json!({ "id": id })).await;
    assert_eq!(del["deleteWebhookEndpoint"]["deletedId"], id, "{del}");
}

async fn deliveries(s: &TestServer, who: &Session) -> Vec<Value> {
    nodes(&s.ok(&who.auth(), DELIVERIES, json!({})).await["webhookDeliveries"])
}

async fn endpoints(s: &TestServer, who: &Session) -> Vec<Value> {
    nodes(&s.ok(&who.auth(), ENDPOINTS, json!({})).await["webhookEndpoints"])
}

/// Polls the deliveries until one satisfies `pred`; returns it.
async fn wait_delivery(
    s: &TestServer,
    who: &Session,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    eventually(&format!("a delivery {what}"), WAIT, || async {
        let all = deliveries(s, who).await;
        all.iter().find(|d| pred(d)).cloned().ok_or(all)
    })
    .await
}

/// Polls the company's jobs in `status` until one satisfies `pred`; returns it.
async fn wait_job(
    s: &TestServer,
    who: &Session,
    status: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let q = format!(
        "{{ jobs(filter: {{ statuses: [{status}] }}, first: 100) {{ edges {{ node {{
            id kind status attempts maxAttempts lastError finishedAt }} }} }} }}"
    );
    eventually(&format!("a {status} job"), WAIT, || async {
        let jobs = nodes(&s.ok(&who.auth(), &q, json!({})).await["jobs"]);
        jobs.iter().find(|j| pred(j)).cloned().ok_or(jobs)
    })
    .await
}

/// Creates an `api_key.*` endpoint at `path` on `rx` that witnesses fan-outs. One fan-out
/// job makes every delivery of an event, so once the witness received an event, any
/// delivery of it to another endpoint exists too: a check that a delivery does not exist
/// is then not a matter of waiting long enough.
async fn witness(s: &TestServer, who: &Session, rx: &Receiver, path: &str) -> String {
    create_endpoint(s, who, &rx.url(path), &["api_key.*"])
        .await
        .0
}

/// Waits until the witness at `path` received the event about key `key_id`; returns the
/// event's id.
async fn witnessed(rx: &Receiver, path: &str, key_id: &str) -> String {
    let at_witness = |r: &[Received]| about_key(r, key_id).into_iter().find(|r| r.path == path);
    let got = rx
        .wait_until(WAIT, &format!("the witness {path} got {key_id}"), |r| {
            at_witness(r).is_some()
        })
        .await;
    at_witness(&got)
        .and_then(|r| r.event_id().map(str::to_owned))
        .expect("x-ils-event-id")
}

/// Whether an event's `apiKeyId` names the key with global ID `key_id` (events carry the
/// same global IDs as the API).
fn names_key(v: &Value, key_id: &str) -> bool {
    v == key_id
}

/// The requests whose body is about API key `key_id`.
fn about_key(r: &[Received], key_id: &str) -> Vec<Received> {
    r.iter()
        .filter(|r| names_key(&r.json()["data"]["apiKeyId"], key_id))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_signed_and_can_be_redelivered() {
    let s = hook_server().await;
    let a = s.sign_up("Hook Optical", "ECP", &email("hook")).await;
    let rx = Receiver::scripted(&[500, 500], 200).await;
    let (endpoint_id, secret) =
        create_endpoint(&s, &a, &rx.url("/hooks/ils"), &["api_key.*"]).await;

    let key_id = create_key(&s, &a, "Connector").await;

    // Two failures, then success: three signed requests for the same event.
    let delivered = wait_delivery(&s, &a, "DELIVERED", |d| d["status"] == "DELIVERED").await;
    rx.wait_for(3, WAIT).await;
    // Once the delivery job is settled, nothing more goes out.
    wait_job(&s, &a, "SUCCEEDED", |j| j["kind"] == "webhook.deliver").await;
    let got = rx.requests();
    assert_eq!(got.len(), 3, "expected exactly 3 requests");
    let event_id = got[0].event_id().expect("x-ils-event-id").to_owned();
    for r in &got {
        assert_eq!(r.path, "/hooks/ils");
        assert_eq!(
            r.event_id(),
            Some(event_id.as_str()),
            "same event id each time"
        );
        assert!(
            r.verifies(&secret),
            "signature does not verify: {:?}",
            r.headers
        );
        assert!(!r.verifies("whsec_not-the-secret"));
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{:?}",
            r.headers
        );
        assert_eq!(r.header("x-ils-event-type"), Some("api_key.created"));
        let ts: i64 = r
            .header("x-ils-timestamp")
            .expect("x-ils-timestamp")
            .parse()
            .expect("unix seconds");
        assert!((ts - chrono::Utc::now().timestamp()).abs() < 600, "{ts}");
        let body = r.json();
        assert_eq!(body["type"], "api_key.created", "{body}");
        assert_eq!(body["id"], event_id, "{body}");
        assert!(body["occurredAt"].is_string(), "{body}");
        assert!(names_key(&body["data"]["apiKeyId"], &key_id), "{body}");
        assert_eq!(body["data"]["name"], "Connector", "{body}");
        assert_eq!(body["data"]["role"], "STAFF", "{body}");
        // The documented shape, and nothing more: the envelope's four keys, the event's
        // own data (no payload version or other internals leak into a delivery).
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&body), ["data", "id", "occurredAt", "type"], "{body}");
        assert_eq!(keys(&body["data"]), ["apiKeyId", "name", "role"], "{body}");
    }

    assert_eq!(delivered["endpoint"]["id"], endpoint_id, "{delivered}");
    assert_eq!(
        delivered["endpoint"]["url"],
        rx.url("/hooks/ils"),
        "{delivered}"
    );
    assert_eq!(delivered["eventId"], event_id, "{delivered}");
    assert_eq!(delivered["eventType"], "api_key.created", "{delivered}");
    assert_eq!(delivered["attempts"], 3, "{delivered}");
    assert_eq!(delivered["lastStatusCode"], 200, "{delivered}");
    assert!(delivered["lastLatencyMs"].is_i64(), "{delivered}");
    assert!(delivered["deliveredAt"].is_string(), "{delivered}");
    assert_eq!(
        deliveries(&s, &a).await.len(),
        1,
        "one delivery per event and endpoint"
    );

    // Redelivery sends the same event again.
    let again = s
        .ok(&a.auth(), REDELIVER, json!({ "id": delivered["id"] }))
        .await;
    let again = &again["redeliverWebhook"]["webhookDelivery"];
    assert_eq!(again["id"], delivered["id"], "{again}");
    assert_eq!(again["eventId"], event_id, "{again}");
    assert_eq!(again["status"], "PENDING", "{again}");
    assert_eq!(again["endpoint"]["id"], endpoint_id, "{again}");
    let got = rx.wait_for(4, WAIT).await;
    let fourth = &got[3];
    assert_eq!(fourth.event_id(), Some(event_id.as_str()));
    assert!(fourth.verifies(&secret));
    assert!(names_key(&fourth.json()["data"]["apiKeyId"], &key_id));
    assert_eq!(fourth.json()["type"], "api_key.created");
    let redelivered = wait_delivery(&s, &a, "redelivered", |d| {
        d["status"] == "DELIVERED" && d["updatedAt"] != delivered["updatedAt"]
    })
    .await;
    assert_eq!(redelivered["id"], delivered["id"]);
    assert!(
        redelivered["attempts"].as_i64().unwrap() > 3,
        "the redelivery's attempt is counted on the same row: {redelivered}"
    );
    assert_eq!(redelivered["lastStatusCode"], 200);
    assert_eq!(
        deliveries(&s, &a).await.len(),
        1,
        "redelivery reuses the row"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_that_keep_failing_are_dead_lettered_and_can_be_retried_or_discarded() {
    let s = hook_server_with(|c| c.webhook_max_attempts = 3).await;
    let a = s.sign_up("Dead Letter Optical", "ECP", &email("dl")).await;
    let rx = Receiver::scripted(&[], 500).await;
    let (endpoint_id, secret) = create_endpoint(&s, &a, &rx.url("/dl"), &["api_key.*"]).await;
    let first_key = create_key(&s, &a, "First").await;

    let dead = wait_delivery(&s, &a, "DEAD", |d| d["status"] == "DEAD").await;
    assert_eq!(dead["endpoint"]["id"], endpoint_id);
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert_eq!(dead["lastStatusCode"], 500, "{dead}");
    assert!(dead["deliveredAt"].is_null(), "{dead}");
    // The dead webhook job is in the dead-letter list, with the reason. (The job's status is
    // settled after its handler returns, so it may trail the delivery's.)
    let job = wait_job(&s, &a, "DEAD", |_| true).await;
    let dead_jobs = nodes(&s.ok(&a.auth(), JOBS_DEAD, json!({})).await["jobs"]);
    assert_eq!(dead_jobs.len(), 1, "{dead_jobs:#?}");
    assert!(job["kind"].as_str().unwrap().contains("webhook"), "{job}");
    assert_eq!(job["status"], "DEAD");
    assert_eq!(job["attempts"], 3, "{job}");
    assert_eq!(job["maxAttempts"], 3, "{job}");
    assert!(job["finishedAt"].is_string(), "{job}");
    assert!(
        job["lastError"].as_str().is_some_and(|e| e.contains("500")),
        "the last error names the status: {job}"
    );
    // The job is dead, so nothing more goes out: three signed attempts in all.
    let got = rx.requests();
    assert_eq!(got.len(), 3, "no attempt after the last: {got:?}");
    assert!(got.iter().all(|r| r.verifies(&secret)));
    let job_id = job["id"].as_str().unwrap().to_owned();

    // Retried, the job runs again; the receiver now accepts.
    rx.set_script(&[], 200);
    let retried = s.ok(&a.auth(), RETRY_JOB, json!({ "id": job_id })).await;
    assert_eq!(retried["retryJob"]["job"]["id"], job_id);
    assert_eq!(retried["retryJob"]["job"]["status"], "QUEUED", "{retried}");
    assert_eq!(retried["retryJob"]["job"]["attempts"], 0, "{retried}");
    let ok = wait_delivery(&s, &a, "DELIVERED after retryJob", |d| {
        d["id"] == dead["id"] && d["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(ok["lastStatusCode"], 200, "{ok}");
    let got = rx.wait_for(4, WAIT).await;
    assert!(names_key(&got[3].json()["data"]["apiKeyId"], &first_key));
    assert!(nodes(&s.ok(&a.auth(), JOBS_DEAD, json!({})).await["jobs"]).is_empty());

    // Retrying a job that is not DEAD is refused.
    wait_job(&s, &a, "SUCCEEDED", |j| j["id"] == job_id).await;
    assert_eq!(
        s.error_code(&a.auth(), RETRY_JOB, json!({ "id": job_id }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        s.error_code(&a.auth(), DISCARD_JOB, json!({ "id": job_id }))
            .await,
        "BAD_USER_INPUT",
        "a SUCCEEDED job cannot be discarded"
    );

    // Another dead job is discarded for good.
    rx.set_script(&[], 500);
    let second_key = create_key(&s, &a, "Second").await;
    let second_job = wait_job(&s, &a, "DEAD", |_| true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_job, job_id);
    let discarded = s
        .ok(&a.auth(), DISCARD_JOB, json!({ "id": second_job }))
        .await;
    assert_eq!(
        discarded["discardJob"]["job"]["status"], "DISCARDED",
        "{discarded}"
    );
    assert_eq!(
        s.error_code(&a.auth(), RETRY_JOB, json!({ "id": second_job }))
            .await,
        "BAD_USER_INPUT",
        "a DISCARDED job cannot be retried"
    );
    let listed = nodes(
        &s.ok(
            &a.auth(),
            "{ jobs(filter: { statuses: [DISCARDED] }, first: 100) { edges { node { id status } } } }",
            json!({}),
        )
        .await["jobs"],
    );
    assert!(listed.iter().any(|j| j["id"] == second_job), "{listed:#?}");
    // Nothing runs it any more. (No sentinel proves a job will never be claimed; this
    // watches for a while.)
    let before = about_key(&rx.requests(), &second_key).len();
    ils_tests::watch_for_nothing(ils_tests::MUST_NOT_HAPPEN).await;
    assert_eq!(about_key(&rx.requests(), &second_key).len(), before);
    assert_eq!(before, 3, "the second event was tried 3 times");
    s.finish().await;
}

const PRIVATE_URLS: [&str; 5] = [
    "http://127.0.0.1:9/x",
    "http://10.0.0.1/",
    "http://169.254.169.254/",
    "http://[::1]/",
    "ftp://x",
];

async fn production_server() -> TestServer {
    TestServer::start_with(|c| {
        c.env = ils_api::config::Environment::Production;
        c.webhook_allow_private = false;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_private_and_non_http_webhook_urls() {
    let s = production_server().await;
    let a = s.sign_up("Prod Optical", "ECP", &email("prod")).await;
    for url in PRIVATE_URLS {
        let (_, body) = s
            .post(&a.auth(), CREATE, json!({ "url": url, "types": ["*"] }))
            .await;
        assert_eq!(
            ils_tests::first_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{url}: {body}"
        );
        assert!(body["data"].is_null() || body["data"]["createWebhookEndpoint"].is_null());
        let field = body["errors"][0]["extensions"]["field"].clone();
        assert!(
            field.is_null() || field == "input.url",
            "{url}: the error names input.url: {body}"
        );
    }
    assert!(endpoints(&s, &a).await.is_empty(), "nothing was created");

    // A public address is accepted (nothing is sent to it: no event matches yet).
    let (_, _) =
        create_endpoint(&s, &a, "https://93.184.215.14/hooks", &["company.approved"]).await;
    assert_eq!(endpoints(&s, &a).await.len(), 1);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_disguised_private_hosts() {
    let s = production_server().await;
    let a = s.sign_up("Prod Two Optical", "ECP", &email("prod2")).await;
    for url in [
        "http://localhost:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.1.10/",
        "http://172.16.0.1/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
    ] {
        let (_, body) = s
            .post(&a.auth(), CREATE, json!({ "url": url, "types": ["*"] }))
            .await;
        assert_eq!(
            ils_tests::first_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{url}: {body}"
        );
    }
    assert!(endpoints(&s, &a).await.is_empty(), "nothing was created");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_managed_and_isolated_per_company() {
    let s = hook_server().await;
    let a = s.sign_up("Managed Optical", "ECP", &email("ma")).await;
    let b = s.sign_up("Other Optical", "ECP", &email("mb")).await;
    let rx = Receiver::start().await;
    let (ep, old_secret) = create_endpoint(&s, &a, &rx.url("/first"), &["company.updated"]).await;

    let listed = endpoints(&s, &a).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["id"], ep);
    assert_eq!(listed[0]["url"], rx.url("/first"));

    // Update: new URL and event types.
    let upd = s
        .ok(
            &a.auth(),
            "mutation($id: ID!, $url: String!) { updateWebhookEndpoint(input: { id: $id, url: $url, eventTypes: [\"api_key.*\"] }) { webhookEndpoint { id url eventTypes enabled description } } }",
            json!({ "id": ep, "url": rx.url("/second") }),
        )
        .await;
    let upd = &upd["updateWebhookEndpoint"]["webhookEndpoint"];
    assert_eq!(upd["id"], ep, "{upd}");
    assert_eq!(upd["url"], rx.url("/second"), "{upd}");
    assert_eq!(upd["eventTypes"], json!(["api_key.*"]), "{upd}");
    assert_eq!(upd["enabled"], true, "{upd}");
    assert_eq!(
        upd["description"], "test hook",
        "untouched fields stay: {upd}"
    );

    let k1 = create_key(&s, &a, "One").await;
    let got = rx
        .wait_until(WAIT, "the first key's event", |r| {
            !about_key(r, &k1).is_empty()
        })
        .await;
    let first = &about_key(&got, &k1)[0];
    assert_eq!(first.path, "/second", "the updated URL is used");
    assert!(first.verifies(&old_secret));

    // Disabled: nothing is sent.
    let dis = s
        .ok(
            &a.auth(),
            "mutation($id: ID!) { disableWebhookEndpoint(input: { id: $id }) { webhookEndpoint { id enabled } } }",
            json!({ "id": ep }),
        )
        .await;
    assert_eq!(
        dis["disableWebhookEndpoint"]["webhookEndpoint"]["enabled"],
        false
    );
    assert_eq!(endpoints(&s, &a).await[0]["enabled"], false);
    let w = witness(&s, &a, &rx, "/witness").await;
    let k2 = create_key(&s, &a, "Two").await;
    let k2_event = witnessed(&rx, "/witness", &k2).await;
    assert!(
        !deliveries(&s, &a)
            .await
            .iter()
            .any(|d| d["endpoint"]["id"] == ep && d["eventId"] == k2_event),
        "a delivery to a disabled endpoint was made"
    );
    assert!(
        about_key(&rx.requests(), &k2)
            .iter()
            .all(|r| r.path == "/witness"),
        "a disabled endpoint got an event"
    );
    delete_endpoint(&s, &a, &w).await;

    // Enabled again, with a rotated secret: the next delivery verifies with the new one only.
    let en = s
        .ok(
            &a.auth(),
            "mutation($id: ID!) { enableWebhookEndpoint(input: { id: $id }) { webhookEndpoint { id enabled } } }",
            json!({ "id": ep }),
        )
        .await;
    assert_eq!(
        en["enableWebhookEndpoint"]["webhookEndpoint"]["enabled"],
        true
    );
    let rot = s.ok(&a.auth(), ROTATE, json!({ "id": ep })).await;
    let new_secret = rot["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_secret.starts_with("whsec_"), "{new_secret}");
    assert_ne!(new_secret, old_secret);
    assert_eq!(rot["rotateWebhookSecret"]["webhookEndpoint"]["id"], ep);
    assert_eq!(
        rot["rotateWebhookSecret"]["webhookEndpoint"]["enabled"],
        true
    );
    let k3 = create_key(&s, &a, "Three").await;
    let got = rx
        .wait_until(WAIT, "the third key's event", |r| {
            !about_key(r, &k3).is_empty()
        })
        .await;
    let third = &about_key(&got, &k3)[0];
    assert!(third.verifies(&new_secret), "{:?}", third.headers);
    assert!(
        !third.verifies(&old_secret),
        "the old secret still verifies"
    );

    // Company B sees none of it and cannot touch it.
    assert!(endpoints(&s, &b).await.is_empty());
    assert!(deliveries(&s, &b).await.is_empty());
    let a_deliveries = deliveries(&s, &a).await;
    assert!(!a_deliveries.is_empty());
    let a_delivery = a_deliveries[0]["id"].clone();
    // A loads its endpoint and a delivery by ID; B, A's STAFF, the platform admin and
    // nobody get null, as for a row that does not exist.
    let node = s.ok(&a.auth(), NODE, json!({ "id": ep })).await;
    assert_eq!(node["node"]["__typename"], "WebhookEndpoint", "{node}");
    assert_eq!(node["node"]["id"], ep, "{node}");
    assert_eq!(node["node"]["url"], rx.url("/second"), "{node}");
    let node = s.ok(&a.auth(), NODE, json!({ "id": a_delivery })).await;
    assert_eq!(node["node"]["__typename"], "WebhookDelivery", "{node}");
    assert_eq!(node["node"]["id"], a_delivery, "{node}");
    assert_eq!(
        node["node"]["endpoint"]["id"], a_deliveries[0]["endpoint"]["id"],
        "{node}"
    );
    let staff = staff_of(&s, &a).await;
    let pa = s.platform_admin().await;
    for who in [b.auth(), staff.auth(), pa.auth(), ils_tests::Auth::None] {
        for id in [&json!(ep), &a_delivery] {
            let node = s.ok(&who, NODE, json!({ "id": id })).await;
            assert_eq!(node["node"], Value::Null, "{id}: {node}");
        }
    }
    for (q, vars) in [
        (
            "mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, url: \"http://127.0.0.1:1/evil\" }) { webhookEndpoint { id } } }",
            json!({ "id": ep }),
        ),
        (DELETE, json!({ "id": ep })),
        (ROTATE, json!({ "id": ep })),
        (
            "mutation($id: ID!) { disableWebhookEndpoint(input: { id: $id }) { webhookEndpoint { id } } }",
            json!({ "id": ep }),
        ),
        (
            "mutation($id: ID!) { enableWebhookEndpoint(input: { id: $id }) { webhookEndpoint { id } } }",
            json!({ "id": ep }),
        ),
        (REDELIVER, json!({ "id": a_delivery })),
    ] {
        assert_eq!(
            s.error_code(&b.auth(), q, vars.clone()).await,
            "NOT_FOUND",
            "{q}"
        );
    }
    let still = endpoints(&s, &a).await;
    assert_eq!(still.len(), 1);
    assert_eq!(still[0]["url"], rx.url("/second"), "B changed A's endpoint");
    assert_eq!(still[0]["enabled"], true);

    // A STAFF member of A may not manage webhooks.
    for (q, vars) in [
        (ENDPOINTS, json!({})),
        (DELIVERIES, json!({})),
        (CREATE, json!({ "url": rx.url("/staff"), "types": ["*"] })),
        (DELETE, json!({ "id": ep })),
        (ROTATE, json!({ "id": ep })),
        (REDELIVER, json!({ "id": a_delivery })),
    ] {
        assert_eq!(
            s.error_code(&staff.auth(), q, vars).await,
            "FORBIDDEN",
            "{q}"
        );
    }
    assert_eq!(endpoints(&s, &a).await.len(), 1);

    // Deleted: gone from the list, and nothing more is sent.
    delete_endpoint(&s, &a, &ep).await;
    assert!(endpoints(&s, &a).await.is_empty());
    witness(&s, &a, &rx, "/witness-2").await;
    let k4 = create_key(&s, &a, "Four").await;
    let k4_event = witnessed(&rx, "/witness-2", &k4).await;
    assert!(
        !deliveries(&s, &a)
            .await
            .iter()
            .any(|d| d["endpoint"]["id"] == ep && d["eventId"] == k4_event),
        "a delivery to a deleted endpoint was made"
    );
    let all = rx.requests();
    assert!(
        about_key(&all, &k4).iter().all(|r| r.path == "/witness-2"),
        "a deleted endpoint got an event"
    );
    assert!(
        about_key(&all, &k2).iter().all(|r| r.path == "/witness"),
        "the event from while it was disabled was sent later"
    );
    assert!(all.iter().all(|r| r.path != "/staff" && r.path != "/evil"));
    assert_eq!(
        s.error_code(&a.auth(), ROTATE, json!({ "id": ep })).await,
        "NOT_FOUND"
    );
    let node = s.ok(&a.auth(), NODE, json!({ "id": ep })).await;
    assert_eq!(node["node"], Value::Null, "a deleted endpoint: {node}");
    s.finish().await;
}

/// The delivery log keeps 30 days: the daily prune job deletes older deliveries, of every
/// company, and nothing newer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prune_job_drops_deliveries_past_their_retention() {
    let s = hook_server().await;
    let rx = Receiver::start().await;
    let mut old = vec![];
    for name in ["a", "b"] {
        let admin = s
            .sign_up(&format!("Prune {name} Optical"), "ECP", &email(name))
            .await;
        create_endpoint(&s, &admin, &rx.url("/prune"), &["api_key.*"]).await;
        create_key(&s, &admin, "first").await;
        let first = wait_delivery(&s, &admin, "made", |d| d["status"] == "DELIVERED").await;
        create_key(&s, &admin, "second").await;
        wait_delivery(&s, &admin, "made twice", |d| d["id"] != first["id"]).await;
        old.push((admin, first["id"].as_str().unwrap().to_owned()));
    }
    // Age each company's first delivery past the retention (below the guard, as time would).
    #[allow(clippy::disallowed_methods)]
    {
        use sea_orm::ConnectionTrait;
        let conn = s.owner_connection().await;
        let backend = conn.get_database_backend();
        for (_, id) in &old {
            let uuid = ils_kernel::id::decode_any(id).unwrap().1;
            let aged = chrono::Utc::now() - chrono::Duration::days(31);
            let sql = match backend {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE webhook_deliveries SET created_at = $1 WHERE id = $2"
                }
                _ => "UPDATE webhook_deliveries SET created_at = ? WHERE id = ?",
            };
            let done = conn
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    backend,
                    sql,
                    [aged.into(), uuid.into()],
                ))
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 1);
        }
    }
    ils_kernel::jobs::enqueue_system(
        &s.server.state.db,
        ils_kernel::NewJob::of(&ils_backbone::webhooks::PruneDeliveries {}),
    )
    .await
    .unwrap();
    for (admin, old_id) in &old {
        let left = eventually("the old delivery pruned", WAIT, || async {
            let all = deliveries(&s, admin).await;
            if all.iter().any(|d| d["id"] == *old_id.as_str()) {
                Err(all)
            } else {
                Ok(all)
            }
        })
        .await;
        assert_eq!(left.len(), 1, "the recent delivery stays: {left:?}");
    }
    s.finish().await;
}

// A last attempt that dies without recording its outcome (its process killed) still leaves
// the delivery DEAD: `jobs.rs`, a_last_delivery_attempt_cut_off_by_a_killed_process_leaves_it_dead
// (a worker's heartbeat keeps its lease while it lives, so only a stopped worker cuts an
// attempt off without an outcome).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_sink_receives_signed_deliveries_and_lists_them() {
    let s = hook_server().await;
    let admin = s.sign_up("Sink Optics", "ECP", &email("sink")).await;
    let sink = s.url("/dev/webhook-sink");
    create_endpoint(&s, &admin, &sink, &["api_key.*"]).await;
    let key_id = create_key(&s, &admin, "sink probe").await;

    let listed = eventually("the sink lists the delivery", WAIT, || {
        let req = s.http.get(&sink).send();
        async move {
            let body: Value = req
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let found = body["deliveries"].as_array().and_then(|all| {
                all.iter()
                    .find(|d| d["body"]["type"] == "api_key.created")
                    .cloned()
            });
            found.ok_or_else(|| body.to_string())
        }
    })
    .await;
    assert!(listed["headers"]["x-ils-signature"].is_string(), "{listed}");
    assert_eq!(
        listed["headers"]["x-ils-event-type"], "api_key.created",
        "{listed}"
    );
    assert_eq!(
        listed["body"]["data"]["apiKeyId"],
        key_id.as_str(),
        "{listed}"
    );
    let delivered = wait_delivery(&s, &admin, "delivered to the sink", |d| {
        d["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(delivered["lastStatusCode"], 204, "{delivered}");
    s.finish().await;

    // Production has no sink.
    let s = production_server().await;
    let resp = s
        .http
        .post(s.url("/dev/webhook-sink"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = s.http.get(s.url("/dev/webhook-sink")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    s.finish().await;
}
