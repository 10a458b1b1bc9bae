//! ILS as an Apollo Federation v2 subgraph (`/subgraph`): `_service { sdl }` and
//! `_entities` over HTTP, entity look-ups through the tenant guard (another company's
//! order is null, as in `node(id:)`), the subgraph's SDL as introspection, and the public
//! `/graphql` schema without federation fields. Then a real gateway: the node script in
//! clients/federation composes ILS with a second subgraph (@theguild/federation-composition)
//! and queries both through @graphql-hive/gateway. That part needs Node and `npm ci` in
//! clients/federation; `.ci/run` provides them and sets ILS_REQUIRE_FEDERATION=1 so that a
//! missing set-up fails instead of skipping.

use ils_api::config::{Environment, Introspection};
use ils_tests::orders::Orders;
use ils_tests::{Auth, Session, TestServer, email, first_code, progressive_draft};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const ORDERS: Orders = Orders::new("fragment O on LensOrder { id status }");

/// The entities the issue names, each keyed by its global ID.
const ENTITIES: [&str; 5] = [
    "Company",
    "LensOrder",
    "Product",
    "CatalogItem",
    "PurchaseOrder",
];

const ENTITIES_QUERY: &str = "query($r: [_Any!]!) { _entities(representations: $r) {
    __typename ... on LensOrder { id status } ... on Company { id name } } }";

/// POSTs to the subgraph endpoint; returns the status and the JSON body.
async fn subgraph(s: &TestServer, auth: &Auth, query: &str, variables: Value) -> (u16, Value) {
    let req = s
        .http
        .post(s.url("/subgraph"))
        .json(&json!({ "query": query, "variables": variables }));
    let resp = auth.apply(req).send().await.expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `_entities` for these representations; the list it answers (panics on errors).
async fn entities(s: &TestServer, auth: &Auth, representations: Value) -> Vec<Value> {
    let (status, body) = subgraph(s, auth, ENTITIES_QUERY, json!({ "r": representations })).await;
    assert!(
        status == 200 && body.get("errors").is_none(),
        "_entities failed: {status} {body}"
    );
    body["data"]["_entities"]
        .as_array()
        .expect("a list of entities")
        .clone()
}

fn order_ref(id: &str) -> Value {
    json!({ "__typename": "LensOrder", "id": id })
}

/// A practice with one draft order; returns its admin and the order's ID.
async fn practice_with_order(s: &TestServer, name: &str) -> (Session, String) {
    let admin = s.sign_up(name, "ECP", &email("federation")).await;
    let order = ORDERS.draft(s, &admin, progressive_draft("REF-FED")).await;
    let id = order["id"].as_str().expect("an order id").to_owned();
    (admin, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_resolve_through_the_guard_and_another_companys_are_null() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let (a, own) = practice_with_order(&s, "Federated Optics").await;
    let (b, other) = practice_with_order(&s, "Other Optics").await;
    let a_company = a.company_id.clone().expect("a company");
    let b_company = b.company_id.clone().expect("a company");

    let found = entities(
        &s,
        &a.auth(),
        json!([
            order_ref(&own),
            order_ref(&other),
            { "__typename": "Company", "id": a_company },
            { "__typename": "Company", "id": b_company },
            // An order's ID under another entity's name, and an ID that does not decode.
            { "__typename": "Company", "id": own },
            order_ref("not-a-global-id"),
        ]),
    )
    .await;
    assert_eq!(
        found,
        vec![
            json!({ "__typename": "LensOrder", "id": own, "status": "DRAFT" }),
            Value::Null,
            json!({ "__typename": "Company", "id": a_company, "name": "Federated Optics" }),
            Value::Null,
            Value::Null,
            Value::Null,
        ]
    );
    // The other company sees its own order and not the first one's: the guard decides,
    // not the representation.
    let found = entities(&s, &b.auth(), json!([order_ref(&own), order_ref(&other)])).await;
    assert_eq!(found[0], Value::Null);
    assert_eq!(found[1]["id"], json!(other));
    // Nobody signed in: nothing.
    let found = entities(&s, &Auth::None, json!([order_ref(&own)])).await;
    assert_eq!(found, vec![Value::Null]);

    // The representations of one call are loaded together: three orders cost what one does.
    let cost = |reps: Value| {
        let s = &s;
        let auth = a.auth();
        async move {
            let before = s.statements();
            entities(s, &auth, reps).await;
            s.statements() - before
        }
    };
    let one = cost(json!([order_ref(&own)])).await;
    let three = cost(json!([order_ref(&own), order_ref(&other), order_ref(&own)])).await;
    assert_eq!(one, three, "one order: {one} statements, three: {three}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_representation_the_subgraph_cannot_answer_is_bad_user_input() {
    let s = TestServer::start().await;
    let (a, own) = practice_with_order(&s, "Careful Optics").await;
    for (reps, says) in [
        // A node type that is not an entity, and a type that does not exist.
        (
            json!([order_ref(&own), { "__typename": "Patient", "id": own }]),
            "`Patient` is not an entity of this subgraph",
        ),
        (
            json!([{ "__typename": "Spectacles", "id": own }]),
            "`Spectacles` is not an entity of this subgraph",
        ),
        (
            json!([{ "__typename": "LensOrder" }]),
            "a `LensOrder` representation needs its `id`",
        ),
        (json!([{ "id": own }]), "needs its `__typename`"),
        // As `nodes(ids:)`: at most 100 entities a request.
        (
            Value::Array((0..101).map(|_| order_ref(&own)).collect()),
            "at most 100 representations per request",
        ),
    ] {
        let (status, body) = subgraph(&s, &a.auth(), ENTITIES_QUERY, json!({ "r": reps })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            first_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{says}: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["_entities"]), "{body}");
        // Nothing of the representations that were fine is answered beside the error.
        assert!(body["data"].is_null(), "{body}");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subgraph_sdl_names_the_entities_and_the_public_schema_stays_without_them() {
    let s = TestServer::start().await;
    let a = s.sign_up("Schema Optics", "ECP", &email("sdl")).await;
    let (_, body) = subgraph(&s, &a.auth(), "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"]
        .as_str()
        .unwrap_or_else(|| panic!("no SDL: {body}"));
    // What `ils schema --subgraph` prints, so a supergraph can be composed from a file.
    assert_eq!(sdl.trim_end(), ils_api::schema::subgraph_sdl().trim_end());
    assert!(
        sdl.contains("url: \"https://specs.apollo.dev/federation/v2.5\""),
        "{sdl}"
    );
    for entity in ENTITIES {
        assert!(
            sdl.contains(&format!(
                "type {entity} implements Node @key(fields: \"id\") {{"
            )),
            "{entity} is not an entity keyed by id"
        );
    }
    assert_eq!(sdl.matches("@key(").count(), ENTITIES.len(), "{sdl}");

    // The public endpoint has no federation fields (schema.graphql is its SDL).
    for query in [
        "{ _service { sdl } }",
        "{ _entities(representations: []) { __typename } }",
    ] {
        let (_, body) = s.post(&a.auth(), query, json!({})).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{query}: {body}"
        );
    }
    // The subgraph is the same API otherwise: the same fields, the same caller.
    let (_, body) = subgraph(&s, &a.auth(), "{ me { company { name } } }", json!({})).await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Schema Optics",
        "{body}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subgraph_sdl_is_introspection_hidden_from_anonymous_callers_in_production() {
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::Auto;
    })
    .await;
    let (status, body) = subgraph(&s, &Auth::None, "{ _service { sdl } }", json!({})).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{status} {body}"
    );
    assert!(body["data"].is_null(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Introspection is not allowed"), "{body}");

    let a = s.sign_up("Production Optics", "ECP", &email("prod")).await;
    let (_, body) = subgraph(&s, &a.auth(), "{ _service { sdl } }", json!({})).await;
    assert!(body["data"]["_service"]["sdl"].is_string(), "{body}");
    s.finish().await;
}

/// clients/federation, when its npm packages are installed.
fn federation_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/federation");
    if dir.join("node_modules/@graphql-hive/gateway").exists()
        && dir
            .join("node_modules/@theguild/federation-composition")
            .exists()
    {
        return Some(dir);
    }
    assert!(
        std::env::var("ILS_REQUIRE_FEDERATION").is_err(),
        "ILS_REQUIRE_FEDERATION is set but clients/federation/node_modules is missing"
    );
    eprintln!("gateway test not run: needs `npm ci` in clients/federation");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_joins_an_order_to_another_subgraph_and_hides_another_companys() {
    let Some(dir) = federation_dir() else {
        return;
    };
    let s = TestServer::start().await;
    let (a, own) = practice_with_order(&s, "Gateway Optics").await;
    let (_, other) = practice_with_order(&s, "Hidden Optics").await;

    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("gateway.mjs")
        .current_dir(&dir)
        .env("ILS_SUBGRAPH_URL", s.url("/subgraph"))
        .env("ILS_ACCESS_TOKEN", &a.access)
        .env("ILS_OWN_ORDER_ID", &own)
        .env("ILS_OTHER_ORDER_ID", &other);
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("node finished within 120 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("gateway.mjs:\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "gateway.mjs failed:\n{stdout}\n{stderr}"
    );
    // Every check, counted, so that a check that stopped running is noticed too.
    assert!(stdout.contains("federation 6/6"), "{stdout}");
    for check in [
        "ok   own order from ILS joined to the shipping field",
        "ok   another company's order is null through the gateway",
    ] {
        assert!(stdout.contains(check), "{check}: {stdout}");
    }
    s.finish().await;
}
