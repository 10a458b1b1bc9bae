//! Persisted operations for partners (issue 18): lists published from manifests, granted
//! to API keys, run by ID over POST, GET and the WebSocket; refusals with stable codes and
//! nothing stored; retirement; automatic persisted queries for people signed in; the
//! first-party modes.

use ils_tests::ws::{self, TRANSPORT_WS};
use ils_tests::{Auth, Session, TestServer, email, eventually, first_code};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

const PUBLISH: &str = "mutation($list: String!, $file: Upload!) {
  publishOperations(input: { list: $list, manifest: $file }) {
    list { id name platform } version { id version status documentCount } } }";

const ME: &str = "query Me { me { user { email } company { name } } }";
const COMPANY: &str = "query MyCompany { me { company { id name } } }";
const EVENTS: &str = "subscription Events { events { type } }";
const INVITE: &str =
    "mutation Invite($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }";

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A `{hash: document}` map (graphql-codegen's client preset, Relay).
fn map_of(docs: &[&str]) -> Vec<u8> {
    let m: serde_json::Map<String, Value> = docs
        .iter()
        .map(|d| (sha(d), Value::String((*d).to_owned())))
        .collect();
    serde_json::to_vec(&m).unwrap()
}

async fn publish(s: &TestServer, who: &Auth, list: &str, manifest: &[u8]) -> (u16, Value) {
    let query = PUBLISH
        .replace("$list: String!, ", "")
        .replace("list: $list", &format!("list: {list:?}"));
    s.upload(who, &query, "manifest.json", manifest).await
}

async fn publish_ok(s: &TestServer, who: &Auth, list: &str, manifest: &[u8]) -> Value {
    let (status, body) = publish(s, who, list, manifest).await;
    assert!(
        body.get("errors").is_none() && status == 200,
        "{status}: {body}"
    );
    body["data"]["publishOperations"].clone()
}

/// A persisted-only STAFF key granted `lists`; its secret.
async fn persisted_key(s: &TestServer, admin: &Session, lists: &[&str]) -> String {
    persisted_key_as(s, admin, lists, "STAFF").await
}

/// A persisted-only key with `role`, granted `lists`; its secret.
async fn persisted_key_as(s: &TestServer, admin: &Session, lists: &[&str], role: &str) -> String {
    let made = s
        .ok(
            &admin.auth(),
            "mutation($l: [String!]!, $r: Role!) { createApiKey(input: { name: \"partner\", role: $r, persistedOnly: true, operationLists: $l }) { secret apiKey { operationLists persistedOnly } } }",
            json!({ "l": lists, "r": role }),
        )
        .await;
    assert_eq!(
        made["createApiKey"]["apiKey"]["operationLists"],
        json!(lists),
        "{made}"
    );
    made["createApiKey"]["secret"].as_str().unwrap().to_owned()
}

/// POSTs `body` as JSON with `auth`.
async fn post_json(s: &TestServer, auth: &Auth, body: Value) -> (u16, Value) {
    s.post_body(auth, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_key_runs_its_lists_documents_by_id_and_nothing_else() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Partner Optics", "ECP", &email("pq")).await;
    let published = publish_ok(
        &s,
        &admin.auth(),
        "acme-pms",
        &map_of(&[ME, COMPANY, EVENTS]),
    )
    .await;
    assert_eq!(published["list"]["name"], "acme-pms");
    assert_eq!(published["list"]["platform"], false);
    assert_eq!(published["version"]["version"], 1);
    assert_eq!(published["version"]["status"], "ACTIVE");
    assert_eq!(published["version"]["documentCount"], 3);
    // An admin's key, so that it sees the api_key.* events of the subscription below.
    let key = Auth::ApiKey(persisted_key_as(&s, &admin, &["acme-pms"], "COMPANY_ADMIN").await);

    // By documentId (GraphQL over HTTP), bare or sha256:-prefixed.
    for id in [
        sha(ME),
        format!("sha256:{}", sha(ME)),
        format!("SHA256:{}", sha(ME).to_uppercase()),
    ] {
        let (status, body) = post_json(&s, &key, json!({ "documentId": id })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["me"]["company"]["name"], "Partner Optics",
            "{body}"
        );
    }
    // By Apollo's extensions.persistedQuery.
    let (_, body) = post_json(
        &s,
        &key,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha(COMPANY) } } }),
    )
    .await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Partner Optics",
        "{body}"
    );

    // Text is FORBIDDEN to a persisted-only key, even the very text of a listed document.
    for text in [ME, "{ __typename }"] {
        let (status, body) = post_json(&s, &key, json!({ "query": text })).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(first_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");
    }
    // Apollo's registration form (hash and text) is text too.
    let (_, body) = post_json(
        &s,
        &key,
        json!({ "query": ME, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha(ME) } } }),
    )
    .await;
    assert_eq!(first_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");

    // An unknown ID, a malformed one and a document of no list of the key: the same code.
    let unlisted = "query Unlisted { me { roles } }";
    for id in [sha(unlisted), "nope".to_owned(), "0".repeat(64)] {
        let (status, body) = post_json(&s, &key, json!({ "documentId": id })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            first_code(&body).as_deref(),
            Some("PERSISTED_QUERY_NOT_FOUND"),
            "{body}"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
    // An ID and text together are refused.
    let (status, body) = post_json(&s, &key, json!({ "documentId": sha(ME), "query": ME })).await;
    assert_eq!(
        (status, first_code(&body).as_deref()),
        (400, Some("BAD_REQUEST")),
        "{body}"
    );

    // GET by ID: a query runs, and the answer may be kept by the caller's own cache only.
    let resp = key
        .apply(
            s.http
                .get(s.url("/graphql"))
                .query(&[("documentId", sha(ME))]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, no-cache");
    assert!(
        resp.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("X-Api-Key")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Partner Optics",
        "{body}"
    );

    // A subscription document over the WebSocket, by ID.
    let mut socket = ws::connect(&s, TRANSPORT_WS).await;
    ws::init(&mut socket, &key).await;
    ws::send(
        &mut socket,
        json!({ "type": "subscribe", "id": "e1", "payload": { "documentId": sha(EVENTS) } }),
    )
    .await;
    ws::send(
        &mut socket,
        json!({ "type": "subscribe", "id": "t1", "payload": { "query": "subscription { events { type } }" } }),
    )
    .await;
    ws::send(
        &mut socket,
        json!({ "type": "subscribe", "id": "u1", "payload": { "documentId": sha(unlisted) } }),
    )
    .await;
    let mut refused = std::collections::BTreeMap::new();
    while refused.len() < 2 {
        let msg = ws::recv_json(&mut socket).await;
        if msg["type"] == "error" {
            refused.insert(
                msg["id"].as_str().unwrap().to_owned(),
                msg["payload"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(refused["t1"], "FORBIDDEN");
    assert_eq!(refused["u1"], "PERSISTED_QUERY_NOT_FOUND");
    // The subscription by ID is live: a new API key's event reaches it.
    ils_tests::create_key(&s, &admin, "sentinel").await;
    let event = ws::next_event_within(&mut socket, "e1", Duration::from_secs(10))
        .await
        .expect("an event by ID");
    assert_eq!(event["type"], "api_key.created", "{event}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_manifests_are_refused_whole_listing_every_problem() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Careful Optics", "ECP", &email("pq-bad")).await;
    let good = ME;
    let unknown_field = "query Nope { me { shoeSize } }";
    let mutation_typo = "mutation Bad { logIn(input: { email: 1 }) { accessToken } }";
    let tampered = {
        let mut m: serde_json::Map<String, Value> =
            serde_json::from_slice(&map_of(&[good])).unwrap();
        m.insert(sha(good), json!("query Me { me { roles } }"));
        serde_json::to_vec(&m).unwrap()
    };
    // Valid GraphQL over the request limits (30 aliases at most).
    let aliases: String = (0..31).map(|i| format!(" a{i}: __typename")).collect();
    let too_many_aliases = format!("query Aliases {{{aliases} }}");
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("a body that is not its ID's", tampered, 1),
        (
            "two invalid documents and a good one",
            map_of(&[good, unknown_field, mutation_typo]),
            2,
        ),
        ("over the limits", map_of(&[&too_many_aliases]), 1),
        ("not a manifest", b"[1, 2".to_vec(), 1),
        ("empty", b"{}".to_vec(), 1),
    ];
    for (what, manifest, problems) in cases {
        let (_, body) = publish(&s, &admin.auth(), "careful", &manifest).await;
        // One error per problem, each naming the manifest (and the document, by ID).
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), problems, "{what}: {body}");
        for e in &errors {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{what}: {body}");
            let field = e["extensions"]["field"].as_str().unwrap_or("");
            assert!(field.starts_with("input.manifest"), "{what}: {body}");
        }
        assert_eq!(body["data"], Value::Null, "{what}: {body}");
    }
    // Nothing was stored: no list exists.
    let lists = s
        .ok(&admin.auth(), "{ operationLists { name } }", json!({}))
        .await;
    assert_eq!(lists["operationLists"], json!([]), "{lists}");

    // A bad list name, and people who may not publish.
    let (_, body) = publish(&s, &admin.auth(), "no spaces", &map_of(&[good])).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    let staff = ils_tests::staff_of(&s, &admin).await;
    let (_, body) = publish(&s, &staff.auth(), "staffs", &map_of(&[good])).await;
    assert_eq!(first_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");
    let (_, body) = publish(&s, &Auth::None, "anon", &map_of(&[good])).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_companys_list_is_neither_visible_nor_grantable_nor_runnable() {
    let s = TestServer::start().await;
    let a = s.sign_up("List A", "ECP", &email("pq-a")).await;
    let b = s.sign_up("List B", "ECP", &email("pq-b")).await;
    publish_ok(&s, &a.auth(), "a-only", &map_of(&[ME])).await;
    publish_ok(&s, &b.auth(), "b-own", &map_of(&[COMPANY])).await;

    let seen = s
        .ok(&b.auth(), "{ operationLists { name } }", json!({}))
        .await;
    assert_eq!(
        seen["operationLists"],
        json!([{ "name": "b-own" }]),
        "{seen}"
    );
    // B cannot grant A's list to its key: the name is unknown to B.
    let err = s
        .error(
            &b.auth(),
            "mutation { createApiKey(input: { name: \"x\", role: STAFF, persistedOnly: true, operationLists: [\"a-only\"] }) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(
        err["extensions"]["field"], "input.operationLists.0",
        "{err}"
    );
    // B's key, granted B's list, cannot run A's document.
    let key = Auth::ApiKey(persisted_key(&s, &b, &["b-own"]).await);
    let (_, body) = post_json(&s, &key, json!({ "documentId": sha(ME) })).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    let (_, body) = post_json(&s, &key, json!({ "documentId": sha(COMPANY) })).await;
    assert_eq!(body["data"]["me"]["company"]["name"], "List B", "{body}");
    // Nor retire A's version.
    let versions = s
        .ok(
            &a.auth(),
            "{ operationLists { versions { id } } }",
            json!({}),
        )
        .await;
    let a_version = versions["operationLists"][0]["versions"][0]["id"].clone();
    let err = s
        .error(
            &b.auth(),
            "mutation($id: ID!) { retireOperationListVersion(input: { id: $id, force: true }) { version { status } } }",
            json!({ "id": a_version }),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "NOT_FOUND", "{err}");
    // Nor read A's list or version by ID (its documents and usage hang below them); A can.
    let versions = s
        .ok(
            &a.auth(),
            "{ operationLists { id versions { id } } }",
            json!({}),
        )
        .await;
    let a_list = versions["operationLists"][0]["id"].clone();
    for id in [&a_list, &a_version] {
        let query = "query($id: ID!) { node(id: $id) { id } }";
        let seen = s.ok(&b.auth(), query, json!({ "id": id })).await;
        assert_eq!(seen["node"], Value::Null, "{seen}");
        let own = s.ok(&a.auth(), query, json!({ "id": id })).await;
        assert_eq!(own["node"]["id"], *id, "{own}");
    }
    s.finish().await;
}

const RETIRE: &str = "mutation($id: ID!, $force: Boolean) { retireOperationListVersion(input: { id: $id, force: $force }) { version { status retiredAt } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_in_use_is_retired_only_by_force_and_then_stops_on_every_server() {
    // Two servers of one database (and one Redis, when the suite has one).
    let prefix = format!("ils-test-{}", uuid::Uuid::new_v4().simple());
    let p1 = prefix.clone();
    let s1 = TestServer::start_with(move |c| c.redis_prefix = p1).await;
    let s2 = TestServer::start_at(s1.database_url.clone(), tempfile::tempdir().unwrap(), |c| {
        c.redis_prefix = prefix
    })
    .await;
    let admin = s1
        .sign_up("Retiring Optics", "ECP", &email("pq-retire"))
        .await;
    let published = publish_ok(&s1, &admin.auth(), "retiring", &map_of(&[ME])).await;
    let version = published["version"]["id"].clone();
    let key = Auth::ApiKey(persisted_key(&s1, &admin, &["retiring"]).await);
    for s in [&s1, &s2] {
        let (_, body) = post_json(s, &key, json!({ "documentId": sha(ME) })).await;
        assert_eq!(
            body["data"]["me"]["company"]["name"], "Retiring Optics",
            "{body}"
        );
    }
    // The runs are counted (written every 2 s) per document and key.
    let usage = eventually("the usage is recorded", Duration::from_secs(10), || async {
        let d = s1
            .ok(
                &admin.auth(),
                "{ operationLists { versions { documents { id name usage { apiKey { name } count errors lastSeenAt } } } } }",
                json!({}),
            )
            .await;
        let usage = d["operationLists"][0]["versions"][0]["documents"][0]["usage"].clone();
        let total: i64 = usage.as_array().into_iter().flatten().map(|u| u["count"].as_i64().unwrap()).sum();
        if total == 2 { Ok(usage) } else { Err(d) }
    })
    .await;
    assert_eq!(usage[0]["apiKey"]["name"], "partner", "{usage}");
    // Keys are for admins: a STAFF member sees the counts, not the key.
    let staff = ils_tests::staff_of(&s1, &admin).await;
    let seen = s1
        .ok(
            &staff.auth(),
            "{ operationLists { versions { documents { usage { apiKey { name } count } } } } }",
            json!({}),
        )
        .await;
    let staff_usage = &seen["operationLists"][0]["versions"][0]["documents"][0]["usage"][0];
    assert_eq!(staff_usage["apiKey"], Value::Null, "{seen}");
    assert!(staff_usage["count"].as_i64().unwrap() >= 1, "{seen}");
    assert_eq!(usage[0]["errors"], 0, "{usage}");

    let err = s1
        .error(&admin.auth(), RETIRE, json!({ "id": version }))
        .await;
    assert_eq!(err["extensions"]["code"], "CONFLICT", "{err}");
    let (_, body) = post_json(&s2, &key, json!({ "documentId": sha(ME) })).await;
    assert!(body["data"]["me"].is_object(), "still ACTIVE: {body}");

    let retired = s1
        .ok(
            &admin.auth(),
            RETIRE,
            json!({ "id": version, "force": true }),
        )
        .await;
    assert_eq!(
        retired["retireOperationListVersion"]["version"]["status"],
        "RETIRED"
    );
    let at = std::time::Instant::now();
    // This server forgets at once; the other within a second.
    let (_, body) = post_json(&s1, &key, json!({ "documentId": sha(ME) })).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    loop {
        let (_, body) = post_json(&s2, &key, json!({ "documentId": sha(ME) })).await;
        if first_code(&body).as_deref() == Some("PERSISTED_QUERY_NOT_FOUND") {
            break;
        }
        assert!(
            at.elapsed() < Duration::from_millis(1500),
            "still served after {:?}: {body}",
            at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the other server stopped serving the retired version after {:?}",
        at.elapsed()
    );
    s2.finish().await;
    s1.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_lists_are_published_by_platform_admins_and_granted_by_any_company() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let published = publish_ok(&s, &pa.auth(), "ils-mobile", &map_of(&[ME, INVITE])).await;
    assert_eq!(published["list"]["platform"], true);
    let admin = s.sign_up("Granting Optics", "ECP", &email("pq-plat")).await;
    let seen = s
        .ok(
            &admin.auth(),
            "{ operationLists { name platform } }",
            json!({}),
        )
        .await;
    assert_eq!(
        seen["operationLists"],
        json!([{ "name": "ils-mobile", "platform": true }])
    );
    let key = Auth::ApiKey(persisted_key(&s, &admin, &["ils-mobile"]).await);
    let (_, body) = post_json(&s, &key, json!({ "documentId": sha(ME) })).await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Granting Optics",
        "{body}"
    );
    // A mutation by ID runs with the key's own rights (a STAFF key may not invite).
    let (_, body) = post_json(
        &s,
        &key,
        json!({ "documentId": sha(INVITE), "variables": { "e": email("pq-invitee") } }),
    )
    .await;
    assert_eq!(first_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");
    // ... and never by GET.
    let resp = key
        .apply(
            s.http
                .get(s.url("/graphql"))
                .query(&[("documentId", sha(INVITE))]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // A company admin may not retire the platform's version.
    let err = s
        .error(
            &admin.auth(),
            RETIRE,
            json!({ "id": published["version"]["id"], "force": true }),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");
    // Publishing again makes version 2 of the same list.
    let again = publish_ok(&s, &pa.auth(), "ils-mobile", &map_of(&[ME])).await;
    assert_eq!(again["version"]["version"], 2);
    assert_eq!(again["list"]["id"], published["list"]["id"]);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries_serve_people_signed_in_only() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Apq Optics", "ECP", &email("apq")).await;
    let pq = |query: Option<&str>, hash: &str| {
        let mut body =
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
        if let Some(q) = query {
            body["query"] = json!(q);
        }
        body
    };
    // Apollo's flow: the hash alone first, then hash and text, then the hash alone works.
    let (_, body) = post_json(&s, &admin.auth(), pq(None, &sha(ME))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    let (_, body) = post_json(&s, &admin.auth(), pq(Some(ME), &sha(ME))).await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Apq Optics",
        "{body}"
    );
    let (_, body) = post_json(&s, &admin.auth(), pq(None, &sha(ME))).await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Apq Optics",
        "{body}"
    );
    // A hash that is not the text's is refused, and registers nothing.
    let other = "query Other { me { roles } }";
    let (_, body) = post_json(&s, &admin.auth(), pq(Some(other), &sha(COMPANY))).await;
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"), "{body}");
    let (_, body) = post_json(&s, &admin.auth(), pq(None, &sha(COMPANY))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    // A text refused by the limits (here 31 aliases; at most 30) is not kept: its hash
    // alone stays unknown, so nothing gets past the limits by hash.
    let aliases: String = (0..31).map(|i| format!(" a{i}: __typename")).collect();
    let wide = format!("query Wide {{{aliases} }}");
    let (_, body) = post_json(&s, &admin.auth(), pq(Some(&wide), &sha(&wide))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    let (_, body) = post_json(&s, &admin.auth(), pq(None, &sha(&wide))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    // Each company has its own: another company's person cannot probe for a text.
    let other_admin = s.sign_up("Other Apq", "ECP", &email("apq-2")).await;
    let (_, body) = post_json(&s, &other_admin.auth(), pq(None, &sha(ME))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    // Never for API keys: a key's lists are the whole of what it runs by ID.
    let (_, secret) = ils_tests::create_api_key(&s, &admin, "plain").await;
    let plain = Auth::ApiKey(secret);
    let (_, body) = post_json(&s, &plain, pq(None, &sha(ME))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    // Nor for nobody.
    let (_, body) = post_json(&s, &Auth::None, pq(None, &sha(ME))).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_party_modes_safelist_and_require_id() {
    use ils_api::config::OperationsMode;
    for mode in [
        OperationsMode::Safelist,
        OperationsMode::RequireId,
        OperationsMode::LogUnknown,
    ] {
        let s = TestServer::start_with(move |c| c.operations = Some(mode)).await;
        // The operator publishes the first-party list at the command line (in these modes
        // the publishing mutation, being text, would itself have to be published first).
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("me.graphql"), ME).unwrap();
        std::fs::write(dir.path().join("log-in.graphql"), ils_tests::TINY_LOG_IN).unwrap();
        let state = &s.server.state;
        let checker =
            ils_api::schema::checker(&ils_api::extension::Protections::from(&*state.config));
        ils_api::operations::cli(
            &state.db,
            &checker,
            ils_api::operations::Command::Publish {
                list: "first-party".into(),
                path: dir.path().to_owned(),
            },
        )
        .await
        .unwrap();
        // A person signed in (made by the operator's tools: sign-up is text too).
        let state = &s.server.state;
        let session = ils_tenancy::service::auth::register(
            &state.db,
            &state.tokens,
            ils_tenancy::service::auth::SignUp {
                company_name: "Mode Optics".into(),
                company_type: ils_tenancy::model::CompanyType::Ecp,
                email: email("mode"),
                password: ils_tests::PASSWORD.into(),
                first_name: "M".into(),
                last_name: "O".into(),
            },
        )
        .await
        .unwrap();
        let person = Auth::Bearer(session.access_token);
        // Nobody signed in logs in by ID: the platform's lists are everyone's.
        let login = post_json(
            &s,
            &Auth::None,
            json!({ "documentId": sha(ils_tests::TINY_LOG_IN),
                    "variables": { "email": session.user.email, "password": ils_tests::PASSWORD } }),
        )
        .await
        .1;
        assert!(
            login["data"]["logIn"]["accessToken"].is_string(),
            "{mode:?}: {login}"
        );
        let by_id = post_json(&s, &person, json!({ "documentId": sha(ME) }))
            .await
            .1;
        assert_eq!(
            by_id["data"]["me"]["company"]["name"], "Mode Optics",
            "{mode:?}: {by_id}"
        );
        // The same text, reformatted, and text no list holds.
        let reformatted = "query Me {\n  me {\n    user { email }\n    company { name }\n  }\n}";
        let text = post_json(&s, &person, json!({ "query": reformatted })).await;
        let other = post_json(&s, &person, json!({ "query": "{ me { roles } }" })).await;
        // The legacy WebSocket protocol cannot enforce a mode: refused where text is limited.
        let mut legacy = ils_tests::ws::connect(&s, ils_tests::ws::LEGACY_WS).await;
        ils_tests::ws::send(
            &mut legacy,
            json!({ "type": "connection_init", "payload": person.init_payload() }),
        )
        .await;
        let (seen, _) =
            ils_tests::ws::until_closed_within(&mut legacy, Duration::from_secs(2)).await;
        let acked = seen.iter().any(|m| m["type"] == "connection_ack");
        assert_eq!(acked, mode == OperationsMode::Off, "{mode:?}: {seen:?}");
        match mode {
            OperationsMode::Safelist => {
                assert_eq!(
                    text.1["data"]["me"]["company"]["name"], "Mode Optics",
                    "{text:?}"
                );
                assert_eq!(
                    (other.0, first_code(&other.1).as_deref()),
                    (403, Some("FORBIDDEN")),
                    "{other:?}"
                );
            }
            OperationsMode::RequireId => {
                assert_eq!(
                    first_code(&text.1).as_deref(),
                    Some("FORBIDDEN"),
                    "{text:?}"
                );
                assert_eq!(
                    first_code(&other.1).as_deref(),
                    Some("FORBIDDEN"),
                    "{other:?}"
                );
            }
            _ => {
                assert!(text.1["data"]["me"].is_object(), "{text:?}");
                assert!(other.1["data"]["me"].is_object(), "{other:?}");
            }
        }
        s.finish().await;
    }
}

const ILS: &str = env!("CARGO_BIN_EXE_ils-under-test");

/// Runs `ils` with `args` on the database `url` (data in `dir`); exit code, stdout, stderr.
async fn ils(dir: &std::path::Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(ILS);
    cmd.env_clear()
        .current_dir(dir)
        .args(args)
        .env("DATABASE_URL", url)
        .env("ILS_JWT_SECRET", ils_tests::JWT_SECRET)
        .env("ILS_DATA_DIR", dir.join("data"))
        .env("ILS_SEED_DEMO", "false")
        .env("ILS_LOG_FORMAT", "text");
    if let Some(r) = ils_tests::redis_url() {
        cmd.env("REDIS_URL", r).env(
            "ILS_REDIS_PREFIX",
            format!("ils-test-{}", uuid::Uuid::new_v4().simple()),
        );
    }
    let out = cmd.output().await.expect("ils runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ils operations publish --list playground PATH`.
async fn publish_cli(
    dir: &std::path::Path,
    url: &str,
    path: &std::path::Path,
) -> (i32, String, String) {
    let path = path.to_str().unwrap();
    ils(
        dir,
        url,
        &["operations", "publish", "--list", "playground", path],
    )
    .await
}

/// `ils operations publish` takes the playground's folder of operations; `ils operations
/// check` passes them against this build's schema, and fails (naming it) on a document
/// the schema no longer serves, as a schema change that breaks a partner's operation
/// would make it fail in CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_publishes_a_folder_and_checks_every_active_document() {
    let dir = tempfile::tempdir().unwrap();
    let url = ils_tests::fresh_database(&dir).await;
    let playground =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/operations");
    let files = std::fs::read_dir(&playground)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "graphql")
        })
        .count();
    let (code, out, err) = publish_cli(dir.path(), &url, &playground).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "published playground version 1 ({files} documents"
        )),
        "{out}"
    );
    let (code, out, err) = ils(dir.path(), &url, &["operations", "check"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("all {files} active documents pass")),
        "{out}"
    );

    // A manifest with a bad document is refused whole, listing it.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, map_of(&[ME, "query Gone { me { shoeSize } }"])).unwrap();
    let (code, out, err) = publish_cli(dir.path(), &url, &bad).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("Gone") && err.contains("shoeSize"), "{err}");

    // A document published against an earlier schema, whose field is gone now.
    {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
        let conn = sea_orm::Database::connect(&url).await.unwrap();
        #[allow(clippy::disallowed_methods)] // the test plants an old row below the guard
        let doc = ils_entity::persisted_document::Entity::find()
            .filter(ils_entity::persisted_document::Column::Name.eq("Me"))
            .one(&conn)
            .await
            .unwrap()
            .expect("the playground's Me");
        let body = "query Old { me { shoeSize } }".to_owned();
        #[allow(clippy::disallowed_methods)]
        ils_entity::persisted_document::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            version_id: Set(doc.version_id),
            company_id: Set(None),
            hash: Set(sha(&body)),
            name: Set(Some("Old".into())),
            kind: Set("QUERY".into()),
            canonical: Set(body.clone()),
            body: Set(body),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(&conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let (code, out, err) = ils(dir.path(), &url, &["operations", "check"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("playground version 1") && err.contains("Old"),
        "{err}"
    );
    assert!(
        err.contains(&format!("1 of {} active documents", files + 1)),
        "{err}"
    );
    ils_tests::drop_database(&url).await;
}
