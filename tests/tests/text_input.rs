//! One rule for every text input: no control characters (a NUL answered INTERNAL on
//! PostgreSQL), and line breaks only in the fields meant for several lines. Each refusal
//! is BAD_USER_INPUT naming the field, before anything runs.

use ils_tests::{Auth, PASSWORD, TestServer, email, first_code, sign_up_input};
use serde_json::{Value, json};

/// Asserts `query` with `variables` is refused with BAD_USER_INPUT at `field`, with no data.
async fn refused_at(s: &TestServer, auth: &Auth, query: &str, variables: Value, field: &str) {
    let (status, body) = s.post(auth, query, variables.clone()).await;
    assert_eq!(status, 200, "{query}: {body}");
    assert_eq!(
        first_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{query} {variables}: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"], field,
        "{query}: {body}"
    );
    assert!(body["data"].is_null(), "{query}: {body}");
}

const NUL: &str = "\u{0}";

/// A NUL in each of the eleven places the outside battery found answering INTERNAL on
/// PostgreSQL, through variables and through literals alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_is_refused_in_every_text_input_naming_its_field() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Nul Optics", "ECP", &email("nul")).await;
    let me = admin.auth();
    let bad_mail = format!("ann{NUL}@nul.example");

    // The emails of signUp, logIn, inviteUser and createPatient.
    let mut input = sign_up_input("Nul Two", "ECP", &bad_mail);
    refused_at(
        &s,
        &Auth::None,
        ils_tests::SIGN_UP,
        input.clone(),
        "input.email",
    )
    .await;
    input["input"]["email"] = json!(email("nul-name"));
    input["input"]["companyName"] = json!(format!("Nul{NUL}Optics"));
    refused_at(
        &s,
        &Auth::None,
        ils_tests::SIGN_UP,
        input,
        "input.companyName",
    )
    .await;
    refused_at(
        &s,
        &Auth::None,
        ils_tests::TINY_LOG_IN,
        json!({ "email": bad_mail, "password": PASSWORD }),
        "input.email",
    )
    .await;
    refused_at(
        &s,
        &me,
        "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
        json!({ "e": bad_mail }),
        "input.email",
    )
    .await;
    refused_at(
        &s,
        &me,
        "mutation($i: CreatePatientInput!) { createPatient(input: $i) { patient { id } } }",
        json!({ "i": { "firstName": "Ann", "lastName": "Lee", "email": bad_mail } }),
        "input.email",
    )
    .await;

    // The filters of auditLog, jobs, webhookDeliveries, the directory and catalogs.
    for (query, field) in [
        (
            "query($t: String) { auditLog(filter: { operation: $t }) { totalCount } }",
            "filter.operation",
        ),
        (
            "query($t: String) { jobs(filter: { kind: $t }) { totalCount } }",
            "filter.kind",
        ),
        (
            "query($t: String) { webhookDeliveries(filter: { eventType: $t }) { totalCount } }",
            "filter.eventType",
        ),
        (
            "query($t: String) { marketplaceLabs(filter: { text: $t }) { totalCount } }",
            "filter.text",
        ),
        (
            "query($t: String) { catalogItems(filter: { brand: $t }) { totalCount } }",
            "filter.brand",
        ),
    ] {
        refused_at(&s, &me, query, json!({ "t": format!("x{NUL}y") }), field).await;
    }

    // A product's brand and a webhook endpoint's description.
    refused_at(
        &s,
        &me,
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }",
        json!({ "i": {
            "sku": "NUL-1", "name": "Cloth", "category": "SUNDRY", "currency": "EUR",
            "brand": format!("Acme{NUL}")
        } }),
        "input.brand",
    )
    .await;
    refused_at(
        &s,
        &me,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({ "i": {
            "url": "https://example.com/ils", "eventTypes": ["user.*"],
            "description": format!("ours{NUL}")
        } }),
        "input.description",
    )
    .await;

    // Literals in the document are checked as variables are, in lists too.
    refused_at(
        &s,
        &me,
        "query { marketplaceLabs(filter: { text: \"a\\u0000b\" }) { totalCount } }",
        json!({}),
        "filter.text",
    )
    .await;
    refused_at(
        &s,
        &me,
        "mutation { createWebhookEndpoint(input: { url: \"https://example.com/x\", eventTypes: [\"user.*\", \"api_key\\u0000\"] }) { secret } }",
        json!({}),
        "input.eventTypes.1",
    )
    .await;
    // Other control characters too (BEL, DEL).
    refused_at(
        &s,
        &me,
        "query($t: String) { catalogItems(filter: { text: $t }) { totalCount } }",
        json!({ "t": "ring\u{7}" }),
        "filter.text",
    )
    .await;
    refused_at(
        &s,
        &me,
        "query($t: String) { catalogItems(filter: { text: $t }) { totalCount } }",
        json!({ "t": "rub\u{7f}out" }),
        "filter.text",
    )
    .await;

    // Nothing was written by any of them, and the server still answers.
    let ok = s
        .ok(
            &me,
            "{ products { totalCount } webhookEndpoints { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["products"]["totalCount"], 0, "{ok}");
    assert_eq!(ok["webhookEndpoints"]["totalCount"], 0, "{ok}");
    s.assert_no_account(&email("nul-name")).await;
    s.finish().await;
}

/// Line breaks and tabs are one-line fields' enemies (a patient reference, a lab job number,
/// a tint end up in DCS records), and welcome in notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_breaks_are_refused_in_one_line_fields_and_kept_in_notes() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Lines Optics", "ECP", &email("lines")).await;
    let me = admin.auth();
    const DRAFT: &str = "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { id notes patientRef } } }";
    let mut draft = ils_tests::progressive_draft("LINE\nBREAK");
    refused_at(
        &s,
        &me,
        DRAFT,
        json!({ "i": draft.clone() }),
        "input.patientRef",
    )
    .await;
    draft["patientRef"] = json!("TAB-1");
    draft["lens"]["tint"] = json!("Grey\r\n85%");
    refused_at(
        &s,
        &me,
        DRAFT,
        json!({ "i": draft.clone() }),
        "input.lens.tint",
    )
    .await;
    draft["lens"]["tint"] = json!("Grey\t85%");
    refused_at(
        &s,
        &me,
        DRAFT,
        json!({ "i": draft.clone() }),
        "input.lens.tint",
    )
    .await;

    draft["lens"]["tint"] = json!("Grey 85%");
    draft["notes"] = json!("Please check the PD.\r\nFrame to follow:\tnext week.");
    let made = s.ok(&me, DRAFT, json!({ "i": draft })).await;
    let order = &made["createOrderDraft"]["order"];
    assert_eq!(order["patientRef"], "TAB-1", "{made}");
    assert!(
        order["notes"].as_str().unwrap().contains("PD.\r\nFrame"),
        "{made}"
    );
    // A NUL is refused even in notes.
    let mut draft = ils_tests::progressive_draft("NUL-NOTES");
    draft["notes"] = json!("a\u{0}b");
    refused_at(&s, &me, DRAFT, json!({ "i": draft }), "input.notes").await;
    s.finish().await;
}

/// A refused mutation is audited like every other refusal, with its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_text_is_audited_as_bad_user_input() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Audit Lines", "ECP", &email("audit-lines")).await;
    refused_at(
        &s,
        &admin.auth(),
        "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
        json!({ "e": "sam\u{0}@x.example" }),
        "input.email",
    )
    .await;
    let log = s
        .ok(
            &admin.auth(),
            "{ auditLog(filter: { operation: \"inviteUser\" }) { edges { node { operation outcome errorCode } } } }",
            json!({}),
        )
        .await;
    let entries = ils_tests::nodes(&log["auditLog"]);
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["errorCode"], "BAD_USER_INPUT", "{log}");
    s.finish().await;
}
