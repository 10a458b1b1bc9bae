//! GraphQL over HTTP: content negotiation, status codes, GET, CSRF protection, body size,
//! batching, request ids, the operational endpoints and the header-read timeout.

use ils_tests::{Auth, LOG_IN, PASSWORD, TestServer, email, first_code, sign_up_input};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Sends a prepared request; returns status, headers and the body parsed as JSON (Null
/// when it is not JSON).
async fn send(req: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, body)
}

fn content_type(h: &HeaderMap) -> String {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

const SIGN_UP_MUTATION: &str =
    "mutation SignUp($input: SignUpInput!) { signUp(input: $input) { email } }";

/// Asserts the response has an `x-request-id` header and every error of `body` a code.
fn assert_error_shape(headers: &HeaderMap, body: &Value) {
    assert!(
        !header(headers, "x-request-id").is_empty(),
        "no x-request-id header"
    );
    let errors = body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "no errors in {body}");
    for e in errors {
        assert!(
            e["extensions"]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "error without a code: {e}"
        );
    }
}

/// The errors of `body` whose `extensions.requestId` is not the `x-request-id` header.
fn request_id_mismatches(headers: &HeaderMap, body: &Value) -> Vec<String> {
    let rid = header(headers, "x-request-id");
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| rid.is_empty() || e["extensions"]["requestId"].as_str() != Some(rid.as_str()))
        .map(|e| format!("header {rid:?}, error {e}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_is_negotiated_and_request_errors_answer_400() {
    let s = TestServer::start().await;
    let post = |q: &str| {
        s.http
            .post(s.url("/graphql"))
            .header("accept", GRAPHQL_RESPONSE)
            .json(&json!({ "query": q }))
    };

    let (status, h, body) = send(post("{ __typename }")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type(&h).starts_with(GRAPHQL_RESPONSE),
        "content type {}",
        content_type(&h)
    );
    assert_eq!(body["data"]["__typename"], "Query");

    let (status, h, body) = send(post("{ me { ")).await;
    assert_eq!(status, 400, "{body}");
    assert!(content_type(&h).starts_with(GRAPHQL_RESPONSE));
    assert_eq!(first_code(&body).as_deref(), Some("GRAPHQL_PARSE_FAILED"));
    // A request error has no `data` entry at all (not even null).
    assert!(body.get("data").is_none(), "{body}");
    assert_error_shape(&h, &body);

    let (status, h, body) = send(post("{ noSuchField }")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        first_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED")
    );
    assert!(body.get("data").is_none(), "{body}");
    assert_error_shape(&h, &body);

    // A field error during execution is not a request error: 200 with partial data.
    let (status, h, body) = send(post("{ users { edges { node { id } } } }")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    assert_error_shape(&h, &body);

    // Preferred over application/json at equal quality.
    let (status, h, _) = send(
        s.http
            .post(s.url("/graphql"))
            .header(
                "accept",
                "application/json, application/graphql-response+json",
            )
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type(&h).starts_with(GRAPHQL_RESPONSE));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_json_answers_200_even_for_validation_errors() {
    let s = TestServer::start().await;
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = s
            .http
            .post(s.url("/graphql"))
            .json(&json!({ "query": "{ noSuchField }" }));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let (status, h, body) = send(req).await;
        assert_eq!(status, 200, "accept {accept:?}: {body}");
        assert_eq!(
            content_type(&h),
            "application/json; charset=utf-8",
            "accept {accept:?}"
        );
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED")
        );
        assert!(body.get("data").is_none(), "{body}");
        assert_error_shape(&h, &body);
    }
    let (status, h, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("accept", "application/json")
            .json(&json!({ "query": "{ me {" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type(&h).starts_with("application/json"));
    assert_eq!(first_code(&body).as_deref(), Some("GRAPHQL_PARSE_FAILED"));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_only_html_is_406() {
    let s = TestServer::start().await;
    let (status, h, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("accept", "text/html")
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    assert_eq!(status, 406, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    assert!(body.get("data").is_none(), "{body}");
    assert_error_shape(&h, &body);

    let (status, _, _) = send(
        s.http
            .get(s.url("/graphql"))
            .query(&[("query", "{ __typename }")])
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(status, 406);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries() {
    let s = TestServer::start().await;
    let (status, h, body) = send(
        s.http
            .get(s.url("/graphql"))
            .query(&[("query", "{ __typename me { roles } }")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type(&h).starts_with("application/json"));
    assert_eq!(body["data"]["__typename"], "Query");
    assert!(body["data"]["me"].is_null(), "anonymous me: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // Variables and operationName travel as query parameters.
    let (status, _, body) = send(s.http.get(s.url("/graphql")).query(&[
        (
            "query",
            "query A($id: ID!) { node(id: $id) { id } } query B { __typename }",
        ),
        ("variables", r#"{"id":"nope"}"#),
        ("operationName", "A"),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["node"].is_null(), "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    // A signed-in GET sees the caller.
    let mail = email("get");
    let session = s.sign_up("Get Optics", "ECP", &mail).await;
    let (status, _, body) = send(
        s.http
            .get(s.url("/graphql"))
            .bearer_auth(&session.access)
            .query(&[("query", "{ me { user { email } } }")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["user"]["email"], mail.as_str());

    // Missing query and malformed variables are refused.
    let (status, _, body) = send(s.http.get(s.url("/graphql"))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    let (status, _, body) = send(
        s.http
            .get(s.url("/graphql"))
            .query(&[("query", "{ __typename }"), ("variables", "{not json")]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_refuses_mutations_without_running_them() {
    let s = TestServer::start().await;
    let mail = email("get-mutation");
    let vars = sign_up_input("Csrf Optics", "ECP", &mail).to_string();
    let before = s.statements();
    let (status, h, body) = send(
        s.http
            .get(s.url("/graphql"))
            .query(&[("query", SIGN_UP_MUTATION), ("variables", vars.as_str())]),
    )
    .await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(header(&h, "allow"), "POST");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    assert!(body.get("data").is_none(), "{body}");
    assert_error_shape(&h, &body);
    assert_eq!(
        s.statements(),
        before,
        "the refused GET touched the database"
    );

    // The mutation chosen by operationName in a document that also holds a query.
    let doc = format!("query Q {{ __typename }} {SIGN_UP_MUTATION}");
    let (status, h, body) = send(s.http.get(s.url("/graphql")).query(&[
        ("query", doc.as_str()),
        ("variables", vars.as_str()),
        ("operationName", "SignUp"),
    ]))
    .await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(header(&h, "allow"), "POST");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));

    // ... while the query of the same document runs.
    let (status, _, body) = send(s.http.get(s.url("/graphql")).query(&[
        ("query", doc.as_str()),
        ("variables", vars.as_str()),
        ("operationName", "Q"),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["__typename"], "Query");

    s.assert_no_account(&mail).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    let padding = " ".repeat(8192);
    let big = json!({ "query": format!("{{ __typename {padding} }}") }).to_string();
    let (status, h, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("PAYLOAD_TOO_LARGE"));
    assert_error_shape(&h, &body);

    // Just under the limit is fine.
    let small = json!({ "query": format!("{{ __typename {} }}", " ".repeat(3000)) }).to_string();
    let (status, _, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("content-type", "application/json")
            .body(small),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["__typename"], "Query");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_body_limit_is_one_mebibyte() {
    let s = TestServer::start().await;
    let padding = " ".repeat(1024 * 1024 + 16);
    let big = json!({ "query": format!("{{ __typename {padding} }}") }).to_string();
    let (status, _, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("PAYLOAD_TOO_LARGE"));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_refused_by_default() {
    let s = TestServer::start().await;
    let mail = email("batch-off");
    let (status, h, body) = send(s.http.post(s.url("/graphql")).json(&json!([
        { "query": "{ __typename }" },
        { "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &mail) },
    ])))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("batched requests are disabled"),
        "{body}"
    );
    assert_error_shape(&h, &body);
    s.assert_no_account(&mail).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_up_to_max_batch_run() {
    let s = TestServer::start_with(|c| c.max_batch = 2).await;
    let mail = email("batch-on");
    let (status, _, body) = send(s.http.post(s.url("/graphql")).json(&json!([
        { "query": "{ __typename }" },
        { "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &mail) },
    ])))
    .await;
    assert_eq!(status, 200, "{body}");
    let items = body.as_array().expect("an array response");
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["data"]["__typename"], "Query");
    assert_eq!(items[1]["data"]["signUp"]["email"], json!(mail), "{body}");
    s.confirm_sign_up(&s.sign_up_token(&mail).await).await;
    s.log_in(&mail, PASSWORD).await;

    let too_many = email("batch-3");
    let (status, _, body) = send(s.http.post(s.url("/graphql")).json(&json!([
        { "query": "{ __typename }" },
        { "query": "{ __typename }" },
        { "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &too_many) },
    ])))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    s.assert_no_account(&too_many).await;

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_content_types_need_a_csrf_header() {
    let s = TestServer::start().await;
    // (content type, body as a form rather than JSON)
    let cases = [
        (Some("text/plain"), false),
        (Some("text/plain; charset=utf-8"), false),
        (Some("application/x-www-form-urlencoded"), true),
        (None, false),
    ];
    let mut mails = vec![];
    for (ct, form) in cases {
        let mail = email("csrf");
        let body = if form {
            format!(
                "query={}&variables={}",
                SIGN_UP_MUTATION.replace(' ', "+"),
                sign_up_input("Csrf Optics", "ECP", &mail)
            )
        } else {
            json!({ "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &mail) }).to_string()
        };
        let mut req = s.http.post(s.url("/graphql")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (status, h, body) = send(req).await;
        assert_eq!(status, 400, "content type {ct:?}: {body}");
        assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"), "{ct:?}");
        assert!(body.get("data").is_none(), "{body}");
        assert_error_shape(&h, &body);
        mails.push(mail);
    }

    // multipart/form-data, the third "simple" type.
    let mail = email("csrf-multipart");
    let operations = json!({ "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &mail) });
    let multipart = format!(
        "--XBOUNDARYX\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --XBOUNDARYX\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--XBOUNDARYX--\r\n"
    );
    let (status, _, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("content-type", "multipart/form-data; boundary=XBOUNDARYX")
            .body(multipart),
    )
    .await;
    assert_eq!(status, 400, "multipart: {body}");
    assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
    mails.push(mail);

    for mail in &mails {
        s.assert_no_account(mail).await;
    }

    // With a preflight-forcing header, text/plain carrying JSON executes.
    let mail = email("csrf-ok");
    let (status, _, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("content-type", "text/plain")
            .header("x-ils-csrf", "1")
            .body(
                json!({ "query": SIGN_UP_MUTATION, "variables": sign_up_input("Csrf Optics", "ECP", &mail) }).to_string(),
            ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["signUp"]["email"], json!(mail), "{body}");
    s.confirm_sign_up(&s.sign_up_token(&mail).await).await;
    s.log_in(&mail, PASSWORD).await;

    for h in [
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "graphql-preflight",
    ] {
        let (status, _, body) = send(
            s.http
                .post(s.url("/graphql"))
                .header("content-type", "text/plain")
                .header(h, "1")
                .body(json!({ "query": "{ __typename }" }).to_string()),
        )
        .await;
        assert_eq!(status, 200, "{h}: {body}");
        assert_eq!(body["data"]["__typename"], "Query", "{h}");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_content_types_are_415_and_malformed_json_is_400() {
    let s = TestServer::start().await;
    for ct in ["application/xml", "application/graphql", "image/png"] {
        let (status, h, body) = send(
            s.http
                .post(s.url("/graphql"))
                .header("content-type", ct)
                .header("x-ils-csrf", "1")
                .body(json!({ "query": "{ __typename }" }).to_string()),
        )
        .await;
        assert_eq!(status, 415, "{ct}: {body}");
        assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"));
        assert_error_shape(&h, &body);
        assert_eq!(request_id_mismatches(&h, &body), Vec::<String>::new());
    }

    for bad in [
        r#"{"query": "#,
        "not json at all",
        "42",
        r#"{"query": 42}"#,
        "",
    ] {
        let (status, h, body) = send(
            s.http
                .post(s.url("/graphql"))
                .header("content-type", "application/json")
                .body(bad),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(first_code(&body).as_deref(), Some("BAD_REQUEST"), "{bad}");
        assert_error_shape(&h, &body);
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_a_code_and_the_request_id() {
    let s = TestServer::start().await;
    let session = s.sign_up("Rid Optics", "ECP", &email("rid")).await;

    // Parse, validation, argument, resolver and transport errors alike.
    let cases: Vec<(Auth, Value, &str)> = vec![
        (
            Auth::None,
            json!({ "query": "{ me { user " }),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            Auth::None,
            json!({ "query": "{ me { nope } }" }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            Auth::None,
            json!({ "query": "query($n: Int) { users(first: $n) { pageInfo { hasNextPage } } }",
                    "variables": { "n": "ten" } }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            session.auth(),
            json!({ "query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                    "variables": { "ids": vec!["x"; 101] } }),
            "BAD_USER_INPUT",
        ),
        (
            Auth::None,
            json!({ "query": ils_tests::SIGN_UP, "variables": { "input": {
                "companyName": "Weak Optics", "companyType": "ECP", "email": email("weak"),
                "password": "short", "firstName": "T", "lastName": "A" } } }),
            "BAD_USER_INPUT",
        ),
        (
            Auth::None,
            json!({ "query": "{ users { edges { node { id } } } }" }),
            "UNAUTHENTICATED",
        ),
        (
            Auth::Bearer("garbage".into()),
            json!({ "query": "{ __typename }" }),
            "UNAUTHENTICATED",
        ),
    ];
    let mut mismatches = vec![];
    for (auth, payload, code) in cases {
        let (_, h, body) = send(auth.apply(s.http.post(s.url("/graphql")).json(&payload))).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some(code),
            "{payload}: {body}"
        );
        assert_error_shape(&h, &body);
        mismatches.extend(request_id_mismatches(&h, &body));
    }

    // A client-chosen request id is kept and reported back.
    let (_, h, body) = send(
        s.http
            .post(s.url("/graphql"))
            .header("x-request-id", "client-chosen-id-42")
            .json(&json!({ "query": "{ nope }" })),
    )
    .await;
    assert_eq!(header(&h, "x-request-id"), "client-chosen-id-42");
    assert_error_shape(&h, &body);
    mismatches.extend(request_id_mismatches(&h, &body));

    // Successful responses carry a request id too, distinct per request.
    let (_, h1, _) = send(
        s.http
            .post(s.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    let (_, h2, _) = send(
        s.http
            .post(s.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    let (a, b) = (header(&h1, "x-request-id"), header(&h2, "x-request-id"));
    assert!(!a.is_empty() && !b.is_empty() && a != b, "{a} / {b}");
    s.finish().await;
    assert!(
        mismatches.is_empty(),
        "errors without the response's request id:\n{}",
        mismatches.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_reveal_sql() {
    let s = TestServer::start().await;
    let mail = email("sql");
    let session = s.sign_up("Sql Optics", "ECP", &mail).await;
    let bad_id = "VXNlcjpub3QtYS11dWlk"; // base64 "User:not-a-uuid"
    let cases: Vec<(Auth, &str, Value)> = vec![
        // A token made to look like SQL (the unique-constraint case, two sign-ups of one
        // address confirmed, is in sign_up.rs).
        (
            Auth::None,
            ils_tests::CONFIRM_SIGN_UP,
            json!({ "token": "' OR 1=1; --" }),
        ),
        (
            session.auth(),
            "{ users(after: \"'; DROP TABLE users; --\") { edges { node { id } } } }",
            json!({}),
        ),
        (
            session.auth(),
            "{ users(first: -5) { edges { node { id } } } }",
            json!({}),
        ),
        (
            session.auth(),
            "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id, \"x\"]) { id } }",
            json!({ "id": bad_id }),
        ),
        (
            session.auth(),
            "mutation { changeUserRole(input: { userId: \"' OR 1=1 --\", role: STAFF }) { user { id } } }",
            json!({}),
        ),
        (
            session.auth(),
            "mutation { revokeApiKey(input: { id: \"QXBpS2V5OjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA==\" }) { apiKey { id } } }",
            json!({}),
        ),
        (
            Auth::None,
            LOG_IN,
            json!({ "email": "x'; SELECT 1; --", "password": "nope-nope-nope" }),
        ),
        // A NUL character, which PostgreSQL text cannot hold.
        (
            session.auth(),
            "mutation($a: String) { updateCompanyProfile(input: { address: $a }) { company { address } } }",
            json!({ "a": "Main St\u{0}1" }),
        ),
        (
            Auth::None,
            ils_tests::SIGN_UP,
            json!({ "input": {
                "companyName": "Nul\u{0}Optics", "companyType": "LAB", "email": email("nul"),
                "password": PASSWORD, "firstName": "T", "lastName": "A"
            }}),
        ),
    ];
    let mut seen_errors = 0;
    for (auth, q, vars) in cases {
        let (_, body) = s.post(&auth, q, vars).await;
        for e in body["errors"].as_array().into_iter().flatten() {
            seen_errors += 1;
            let msg = e["message"].as_str().unwrap_or("");
            let whole = e.to_string();
            let lower = whole.to_ascii_lowercase();
            assert!(!msg.contains("SELECT"), "SQL in {e}");
            for word in ["sqlx", "sqlite", "postgres", "insert into", "syntax error"] {
                assert!(!lower.contains(word), "{word:?} in {e}");
            }
            assert!(e["extensions"]["code"].is_string(), "{e}");
        }
    }
    assert!(
        seen_errors >= 5,
        "expected errors from the cases, saw {seen_errors}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_metrics_and_playground() {
    let s = TestServer::start().await;

    let resp = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");

    let resp = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ready: Value = resp.json().await.unwrap();
    assert_eq!(ready["database"], "ok", "{ready}");
    let expected_redis = if ils_tests::redis_url().is_some() {
        "ok"
    } else {
        "not configured"
    };
    assert_eq!(ready["redis"], expected_redis, "{ready}");

    let (status, _, body) = send(s.http.post(s.url("/graphql")).json(
        &json!({ "query": "query MetricsProbe { __typename }", "operationName": "MetricsProbe" }),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    s.sign_up("Metrics Optics", "ECP", &email("metrics")).await;
    let resp = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert!(text.contains("ils_graphql_requests_total"), "{text}");
    assert!(text.contains("ils_sql_statements_total"), "{text}");
    assert!(
        text.contains("MetricsProbe"),
        "operation name label: {text}"
    );

    let resp = s.http.get(s.url("/playground")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("ils-config"), "{html}");
    let open = r#"<script id="ils-config" type="application/json">"#;
    let start = html.find(open).expect("ils-config script") + open.len();
    let end = start + html[start..].find("</script>").expect("closing script");
    let config: Value = serde_json::from_str(&html[start..end]).expect("ils-config is JSON");
    assert_eq!(config["env"], "development", "{config}");
    assert!(config["demoLogins"].is_array(), "{config}");

    // The page's script and styles, Monaco's web workers and its icon font, each with
    // its content type (the page loads nothing from elsewhere).
    for (asset, content_type) in [
        ("graphiql.js", "text/javascript"),
        ("graphiql.css", "text/css"),
        ("editor.worker.js", "text/javascript"),
        ("json.worker.js", "text/javascript"),
        ("graphql.worker.js", "text/javascript"),
        ("codicon.ttf", "font/ttf"),
    ] {
        let resp = s
            .http
            .get(s.url(&format!("/playground/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{asset}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{asset}: {:?}",
            resp.headers()["content-type"]
        );
        assert!(!resp.bytes().await.unwrap().is_empty(), "{asset}");
    }

    let resp = s
        .http
        .get(s.url("/playground/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(|c| c.header_read_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(s.server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    // Read until the server closes the connection (it may send a 408 first).
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after 4 s with a 1 s header-read timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );

    // A complete request on a fresh connection is still served.
    let resp = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    s.finish().await;
}

/// A JSON body that is no GraphQL request (no `query`, an empty batch) is a malformed
/// request: 400, as the transport's own message says ("a JSON object with a `query`").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_query_are_400() {
    let s = TestServer::start_with(|c| c.max_batch = 2).await;
    let mut wrong = vec![];
    for bad in [json!({ "variables": {} }), json!({}), json!([])] {
        let (status, _, body) = send(s.http.post(s.url("/graphql")).json(&bad)).await;
        if status != 400 || first_code(&body).as_deref() != Some("BAD_REQUEST") {
            wrong.push(format!("{bad} -> {status} {body}"));
        }
    }
    s.finish().await;
    assert!(
        wrong.is_empty(),
        "accepted as GraphQL requests:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_times_out_gets_the_usual_error_shape() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(|c| c.request_timeout_secs = 1).await;
    // Headers promise a body that never fully arrives, so the handler outlives the timeout.
    let mut tcp = tokio::net::TcpStream::connect(s.server.addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&response).contains("REQUEST_TIMEOUT") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
    assert!(text.contains("\"code\":\"REQUEST_TIMEOUT\""), "{text}");
    let rid = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-request-id: ")
                .map(|v| v.trim().to_owned())
        })
        .expect("an x-request-id header");
    assert!(text.contains(&format!("\"requestId\":\"{rid}\"")), "{text}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_request_id_is_kept_only_when_plain() {
    let s = TestServer::start().await;
    let ask = |id: &'static str| {
        s.http
            .post(s.url("/graphql"))
            .header("x-request-id", id)
            .json(&json!({ "query": "{ nope }" }))
    };
    let (_, h, body) = send(ask("trace-42_ab")).await;
    assert_eq!(header(&h, "x-request-id"), "trace-42_ab");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "trace-42_ab");
    let (_, h, body) = send(ask("evil id\" with=spaces")).await;
    let replaced = header(&h, "x-request-id");
    assert!(
        !replaced.is_empty() && !replaced.contains(' '),
        "{replaced}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        json!(replaced)
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_a_missing_operation_is_a_request_error() {
    let s = TestServer::start().await;
    for body in [
        json!({ "query": "query A { __typename } query B { __typename }", "operationName": "C" }),
        json!({ "query": "query A { __typename } query B { __typename }" }),
    ] {
        let req = s
            .http
            .post(s.url("/graphql"))
            .header("accept", GRAPHQL_RESPONSE)
            .json(&body);
        let (status, _, resp) = send(req).await;
        assert_eq!(status, 400, "{resp}");
        assert_eq!(
            first_code(&resp).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{resp}"
        );
    }
    let chosen = s.http.post(s.url("/graphql")).json(&json!({ "query": "query A { a: __typename } query B { __typename }", "operationName": "A" }));
    let (status, _, resp) = send(chosen).await;
    assert_eq!(
        (status, resp["data"]["a"].as_str()),
        (200, Some("Query")),
        "{resp}"
    );
    s.finish().await;
}

/// `Int` is 32 bits: a literal or variable past that is a validation error (a request
/// error: 400 for `application/graphql-response+json`, no `data`), wherever it is, also
/// for an input field the server keeps in 64 bits (a stock movement's `quantity`). Before,
/// async-graphql let such values through to execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ints_past_32_bits_are_validation_errors() {
    let s = TestServer::start().await;
    let session = s.sign_up("Range Optics", "ECP", &email("range")).await;
    let movement = "mutation($q: Int!) { postStockMovement(input: { productId: \"UHJvZHVjdDox\", kind: ADJUSTMENT, quantity: $q }) { stockMovement { id } } }";
    let cases = [
        ("{ users(first: 2147483648) { totalCount } }", json!({})),
        ("{ users(last: -2147483649) { totalCount } }", json!({})),
        (
            "{ reorderSuggestions(days: 9007199254740993) { __typename } }",
            json!({}),
        ),
        (
            "query($n: Int) { users(first: $n) { totalCount } }",
            json!({ "n": 2147483648u64 }),
        ),
        (
            "query($n: Int = 2147483648) { users(first: $n) { totalCount } }",
            json!({}),
        ),
        (movement, json!({ "q": 2147483648u64 })),
        (
            "mutation { postStockMovement(input: { productId: \"UHJvZHVjdDox\", kind: ADJUSTMENT, quantity: -3000000000 }) { stockMovement { id } } }",
            json!({}),
        ),
    ];
    for (query, variables) in cases {
        for (accept, expected) in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)] {
            let req = s
                .http
                .post(s.url("/graphql"))
                .header("accept", accept)
                .header("authorization", format!("Bearer {}", session.access))
                .json(&json!({ "query": query, "variables": variables }));
            let (status, h, body) = send(req).await;
            assert_eq!(status, expected, "{accept} {query}: {body}");
            assert_eq!(
                first_code(&body).as_deref(),
                Some("GRAPHQL_VALIDATION_FAILED"),
                "{query}: {body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap_or("");
            assert!(message.contains("32-bit"), "{query}: {body}");
            assert!(body.get("data").is_none(), "{query}: {body}");
            assert_error_shape(&h, &body);
        }
    }
    // The edges of the range are valid (the field's own rule then answers).
    let (status, body) = s
        .post(
            &session.auth(),
            "{ users(first: 2147483647) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        first_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    let (_, body) = s
        .post(&session.auth(), movement, json!({ "q": -2147483648i64 }))
        .await;
    assert_ne!(
        first_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    s.finish().await;
}

/// The keys of a JSON object as they appear in the text.
fn keys_in_text_order(text: &str, path: &[&str]) -> Vec<String> {
    // serde_json's Value sorts keys; read the raw text with an order-keeping visitor.
    let mut de = serde_json::Deserializer::from_str(text);
    let v: indexmap_json::Ordered = serde::Deserialize::deserialize(&mut de).unwrap();
    v.keys_at(path)
}

/// Just enough of an order-keeping JSON tree to read key order.
mod indexmap_json {
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    pub enum Ordered {
        Object(Vec<(String, Ordered)>),
        List,
        Other,
    }

    impl Ordered {
        pub fn keys_at(&self, path: &[&str]) -> Vec<String> {
            match (self, path.split_first()) {
                (Ordered::Object(entries), None) => {
                    entries.iter().map(|(k, _)| k.clone()).collect()
                }
                (Ordered::Object(entries), Some((first, rest))) => entries
                    .iter()
                    .find(|(k, _)| k == first)
                    .map(|(_, v)| v.keys_at(rest))
                    .unwrap_or_default(),
                _ => vec![],
            }
        }
    }

    impl<'de> Deserialize<'de> for Ordered {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, Ordered>()? {
                        out.push((k, v));
                    }
                    Ok(Ordered::Object(out))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Ordered, A::Error> {
                    while s.next_element::<Ordered>()?.is_some() {}
                    Ok(Ordered::List)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
                fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
                fn visit_unit<E>(self) -> Result<Ordered, E> {
                    Ok(Ordered::Other)
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_keys_follow_the_selection_set_every_time() {
    let s = TestServer::start().await;
    let session = s.sign_up("Ordered Optics", "ECP", &email("ordered")).await;
    let query = "{ users(first: 5) { edges { node { email id role } } }
                   me { roles company { name id type } ...Who }
                   apiKeys { pageInfo { hasNextPage } edges { cursor } }
                   invitations { edges { cursor } } __typename }
                 fragment Who on Me { user { lastName email id } platformAdmin }";
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let resp = s
            .http
            .post(s.url("/graphql"))
            .bearer_auth(&session.access)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        bodies.push(resp.text().await.unwrap());
    }
    for b in &bodies {
        assert_eq!(b, &bodies[0], "two identical requests answered differently");
    }
    let text = &bodies[0];
    assert_eq!(
        keys_in_text_order(text, &["data"]),
        ["users", "me", "apiKeys", "invitations", "__typename"],
        "{text}"
    );
    assert_eq!(
        keys_in_text_order(text, &["data", "me"]),
        ["roles", "company", "user", "platformAdmin"],
        "{text}"
    );
    assert_eq!(
        keys_in_text_order(text, &["data", "me", "user"]),
        ["lastName", "email", "id"],
        "{text}"
    );
    s.finish().await;
}
