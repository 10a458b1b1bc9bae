//! A failure inside the server reaches the client as INTERNAL with a request id, and
//! nothing else: no SQL, no table names, no stack.
#![allow(clippy::disallowed_methods)] // the test breaks the database below the guard on purpose

use ils_tests::{TestServer, email, first_code, ws};
use sea_orm::ConnectionTrait;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_failure_shows_only_its_code_and_request_id() {
    let s = TestServer::start().await;
    let a = s.sign_up("Broken Optics", "ECP", &email("broken")).await;
    // Break the database under the running server.
    let owner = s.owner_connection().await;
    owner
        .execute_unprepared("DROP TABLE invitations")
        .await
        .expect("table dropped");

    let resp = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&a.access)
        .json(&json!({ "query": "{ invitations { edges { node { id } } } }" }))
        .send()
        .await
        .unwrap();
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(first_code(&body).as_deref(), Some("INTERNAL"), "{body}");
    assert_eq!(body["errors"][0]["message"], "internal error");
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        json!(request_id)
    );
    let error = body["errors"][0].as_object().unwrap();
    let keys: Vec<_> = error.keys().map(String::as_str).collect();
    assert!(
        keys.iter()
            .all(|k| ["message", "locations", "path", "extensions"].contains(k)),
        "{keys:?}"
    );
    let ext = error["extensions"].as_object().unwrap();
    assert_eq!(ext.len(), 2, "only code and requestId: {ext:?}");
    let text = format!("{} {}", error["message"], error["extensions"]).to_lowercase();
    for leak in [
        "invitations",
        "select",
        "sql",
        "relation",
        "table",
        "error returned",
        "panicked",
    ] {
        assert!(!text.contains(leak), "the response leaks `{leak}`: {body}");
    }
    // What did not break still works.
    let me = s
        .ok(&a.auth(), "{ me { company { name } } }", json!({}))
        .await;
    assert_eq!(me["me"]["company"]["name"], "Broken Optics");
    s.finish().await;
}

/// A validation that finds several problems reports every one, each as its own
/// BAD_USER_INPUT error with its full input path, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_of_an_input_is_its_own_error_with_its_path() {
    let s = TestServer::start().await;
    let a = s
        .sign_up("Many Problems Optics", "ECP", &email("problems"))
        .await;
    let input = json!({
        "sku": "NW-BAD-1", "name": "Aviator", "category": "FRAME",
        "cost": { "amount": "12.50", "currency": "EUR" },
        "price": { "amount": "39.90", "currency": "EUR" }, "currency": "EUR",
        "frame": { "eyeSize": 200, "bridge": 99, "templeLength": 140, "frameType": "FULL_RIM" }
    });
    let create =
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }";
    let (_, body) = s.post(&a.auth(), create, json!({ "i": input })).await;
    assert_one_error_per_frame_problem(&body);
    assert!(body["data"].is_null(), "{body}");
    // The same over the WebSocket, which runs operations without the HTTP request hooks.
    let mut socket = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut socket, &a.auth()).await;
    let messages = ws::collect_operation(
        &mut socket,
        "create",
        create,
        json!({ "i": input }),
        std::time::Duration::from_secs(10),
    )
    .await;
    let answer = messages
        .iter()
        .find(|m| m["type"] == "next")
        .unwrap_or_else(|| panic!("no result over the WebSocket: {messages:?}"));
    assert_one_error_per_frame_problem(&answer["payload"]);
    let listed = s
        .ok(
            &a.auth(),
            "{ products(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ils_tests::nodes(&listed["products"]).len(), 0, "{listed}");
    s.finish().await;
}

/// The createProduct answer above: one BAD_USER_INPUT error for each bad frame size, each
/// with its own input path and no internal `problems` list.
fn assert_one_error_per_frame_problem(body: &serde_json::Value) {
    let errors = body["errors"].as_array().expect("errors").clone();
    let mut fields: Vec<serde_json::Value> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            assert!(e["extensions"].get("problems").is_none(), "{e}");
            assert_eq!(e["path"], json!(["createProduct"]), "{e}");
            assert!(
                e["message"].as_str().is_some_and(|m| m.contains("between")),
                "{e}"
            );
            e["extensions"]["field"].clone()
        })
        .collect();
    fields.sort_by_key(|f| f.to_string());
    assert_eq!(
        fields,
        vec![json!("input.frame.bridge"), json!("input.frame.eyeSize"),],
        "{body}"
    );
}
