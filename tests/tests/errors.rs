//! A failure inside the server reaches the client as INTERNAL with a request id, and
//! nothing else: no SQL, no table names, no stack.
#![allow(clippy::disallowed_methods)] // the test breaks the database below the guard on purpose

use ils_tests::{TestServer, email, first_code};
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
