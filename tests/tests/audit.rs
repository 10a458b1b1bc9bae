//! The audit log: every mutation is recorded with who, from where, on what and how it
//! ended; each company reads only its own; nothing can change or delete an entry.

use ils_tests::{Auth, TestServer, email, first_code, nodes, staff_of};
use serde_json::{Value, json};

const UA: &str = "ils-audit-test/1.0 (black box)";
const LOG: &str = "query($f: AuditLogFilter) { auditLog(filter: $f, last: 100) { edges { node {
    id actorKind actorUserId actorApiKeyId operation targetIds clientAddress userAgent
    outcome errorCode occurredAt } } } }";

/// POSTs an operation with our User-Agent.
async fn post_ua(s: &TestServer, auth: &Auth, query: &str, variables: Value) -> Value {
    let req = s
        .http
        .post(s.url("/graphql"))
        .header("user-agent", UA)
        .json(&json!({ "query": query, "variables": variables }));
    auth.apply(req)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON")
}

async fn audit_log(s: &TestServer, who: &Auth, filter: Value) -> Vec<Value> {
    nodes(&s.ok(who, LOG, json!({ "f": filter })).await["auditLog"])
}

fn by_op<'a>(log: &'a [Value], op: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["operation"] == op).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_are_audited_per_company() {
    let s = TestServer::start().await;
    let a = s.sign_up("Audited Optical", "ECP", &email("aud")).await;
    let b = s
        .sign_up("Other Audited Optical", "ECP", &email("aud2"))
        .await;

    // A success…
    let made = post_ua(
        &s,
        &a.auth(),
        "mutation { createApiKey(input: { name: \"Audited\", role: COMPANY_ADMIN }) { secret apiKey { id } } }",
        json!({}),
    )
    .await;
    assert!(made.get("errors").is_none(), "{made}");
    let key_id = made["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = Auth::ApiKey(
        made["data"]["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    // …and a failure (a user that does not exist).
    let nobody = ils_kernel::id::encode("User", uuid::Uuid::now_v7()).0;
    let failed = post_ua(
        &s,
        &a.auth(),
        "mutation($u: ID!) { changeUserRole(input: { userId: $u, role: STAFF }) { user { id } } }",
        json!({ "u": nobody }),
    )
    .await;
    let code = first_code(&failed).unwrap_or_else(|| panic!("expected a failure: {failed}"));

    let log = audit_log(&s, &a.auth(), json!(null)).await;
    let created = by_op(&log, "createApiKey");
    assert_eq!(created.len(), 1, "{log:#?}");
    let e = created[0];
    assert_eq!(e["actorKind"], "USER", "{e}");
    assert_eq!(e["actorUserId"], a.user_id, "{e}");
    assert!(e["actorApiKeyId"].is_null(), "{e}");
    assert_eq!(e["outcome"], "SUCCESS", "{e}");
    assert!(e["errorCode"].is_null(), "{e}");
    assert_eq!(e["clientAddress"], "127.0.0.1", "{e}");
    assert_eq!(e["userAgent"], UA, "{e}");
    assert!(
        e["targetIds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == key_id.as_str()),
        "the created key is a target: {e}"
    );
    assert!(e["occurredAt"].is_string());

    let changed = by_op(&log, "changeUserRole");
    assert_eq!(changed.len(), 1, "{log:#?}");
    let f = changed[0];
    assert_eq!(f["outcome"], "FAILURE", "{f}");
    assert_eq!(f["errorCode"], code.as_str(), "{f}");
    assert_eq!(f["actorKind"], "USER", "{f}");
    assert_eq!(f["actorUserId"], a.user_id, "{f}");
    assert_eq!(f["clientAddress"], "127.0.0.1", "{f}");
    assert_eq!(f["userAgent"], UA, "{f}");
    // Oldest first.
    let pos = |id: &Value| log.iter().position(|x| x["id"] == *id).unwrap();
    assert!(pos(&e["id"]) < pos(&f["id"]), "not oldest first");

    // Filters.
    let only = audit_log(&s, &a.auth(), json!({ "operation": "createApiKey" })).await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["id"], e["id"]);
    let failures = audit_log(&s, &a.auth(), json!({ "outcome": "FAILURE" })).await;
    assert!(failures.iter().any(|x| x["id"] == f["id"]));
    assert!(failures.iter().all(|x| x["outcome"] == "FAILURE"));
    let mine = audit_log(&s, &a.auth(), json!({ "actorUserId": a.user_id })).await;
    assert!(mine.iter().all(|x| x["actorUserId"] == a.user_id));
    assert!(mine.len() >= 2);
    let future = audit_log(
        &s,
        &a.auth(),
        json!({ "since": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339() }),
    )
    .await;
    assert!(future.is_empty(), "{future:#?}");

    // An API key acting is recorded as the key, on behalf of its creator.
    let by_key = s
        .ok(
            &key,
            "mutation { updateCompanyProfile(input: { phone: \"+44 20 7946 0002\" }) { company { phone } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_key["updateCompanyProfile"]["company"]["phone"],
        "+44 20 7946 0002"
    );
    let log = audit_log(
        &s,
        &a.auth(),
        json!({ "operation": "updateCompanyProfile" }),
    )
    .await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["actorKind"], "API_KEY", "{}", log[0]);
    assert_eq!(log[0]["actorApiKeyId"], key_id.as_str(), "{}", log[0]);
    assert_eq!(log[0]["actorUserId"], a.user_id, "{}", log[0]);
    assert_eq!(log[0]["outcome"], "SUCCESS");

    // B sees none of A's entries.
    let a_ids: Vec<Value> = audit_log(&s, &a.auth(), json!(null))
        .await
        .iter()
        .map(|x| x["id"].clone())
        .collect();
    let b_log = audit_log(&s, &b.auth(), json!(null)).await;
    for x in &b_log {
        assert!(!a_ids.contains(&x["id"]), "B sees A's entry {x}");
        assert_ne!(x["actorUserId"], a.user_id, "B sees A's entry {x}");
    }
    assert!(
        audit_log(&s, &b.auth(), json!({ "actorUserId": a.user_id }))
            .await
            .is_empty()
    );
    assert!(
        audit_log(&s, &b.auth(), json!({ "operation": "createApiKey" }))
            .await
            .is_empty()
    );

    // A platform admin sees A's entries.
    let pa = s.platform_admin().await;
    let all = audit_log(&s, &pa.auth(), json!({ "operation": "createApiKey" })).await;
    assert!(all.iter().any(|x| x["id"] == e["id"]), "{all:#?}");

    // An entry loads by ID for A and the platform admin; B, A's STAFF and nobody get null.
    let node = "query($id: ID!) { node(id: $id) { id __typename
        ... on AuditEntry { operation actorKind actorUserId outcome } } }";
    for who in [a.auth(), pa.auth()] {
        let n = s.ok(&who, node, json!({ "id": e["id"] })).await;
        assert_eq!(n["node"]["__typename"], "AuditEntry", "{n}");
        assert_eq!(n["node"]["id"], e["id"], "{n}");
        assert_eq!(n["node"]["operation"], "createApiKey", "{n}");
        assert_eq!(n["node"]["actorUserId"], a.user_id, "{n}");
        assert_eq!(n["node"]["outcome"], "SUCCESS", "{n}");
    }
    let staff = staff_of(&s, &a).await;
    for who in [b.auth(), staff.auth(), Auth::None] {
        let n = s.ok(&who, node, json!({ "id": e["id"] })).await;
        assert_eq!(n["node"], Value::Null, "{n}");
    }
    // The actor IDs are those of the user and the key, which A's admin can load.
    let actors = s
        .ok(
            &a.auth(),
            "query($u: ID!, $k: ID!) { u: node(id: $u) { __typename id } k: node(id: $k) { __typename id } }",
            json!({ "u": e["actorUserId"], "k": key_id }),
        )
        .await;
    assert_eq!(actors["u"]["__typename"], "User", "{actors}");
    assert_eq!(actors["k"]["__typename"], "ApiKey", "{actors}");

    // A STAFF member may not read it; neither may anybody anonymous.
    assert_eq!(
        s.error_code(&staff.auth(), LOG, json!({ "f": null })).await,
        "FORBIDDEN"
    );
    let anon = s.error_code(&Auth::None, LOG, json!({ "f": null })).await;
    assert!(anon == "UNAUTHENTICATED" || anon == "FORBIDDEN", "{anon}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_operation_changes_or_deletes_audit_entries() {
    let s = TestServer::start().await;
    let a = s.sign_up("Schema Optical", "ECP", &email("schema")).await;
    let data = s
        .ok(
            &a.auth(),
            "{ __schema { mutationType { name fields { name } } subscriptionType { fields { name } } } }",
            json!({}),
        )
        .await;
    let fields: Vec<String> = data["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("mutation fields")
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        fields.iter().any(|f| f == "createWebhookEndpoint"),
        "{fields:?}"
    );
    assert!(fields.iter().any(|f| f == "retryJob"), "{fields:?}");
    let audit: Vec<&String> = fields
        .iter()
        .filter(|f| f.to_lowercase().contains("audit"))
        .collect();
    assert!(
        audit.is_empty(),
        "mutations touching the audit log: {audit:?}"
    );

    // The checked-in schema agrees.
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
        .expect("schema.graphql");
    let mutation = sdl
        .split("type Mutation {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("a Mutation type in schema.graphql");
    // Field names only (descriptions may well say "audited").
    let names: Vec<&str> = mutation
        .lines()
        .filter(|l| {
            l.starts_with('\t') && !l.starts_with("\t\t") && !l.trim_start().starts_with('"')
        })
        .filter(|l| l.contains('(') || l.contains(':'))
        .filter_map(|l| l.trim().split(['(', ':']).next())
        .filter(|n| {
            n.starts_with(|c: char| c.is_ascii_lowercase())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .collect();
    assert!(names.contains(&"createWebhookEndpoint"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.to_lowercase().contains("audit")),
        "schema.graphql has an audit mutation: {names:?}"
    );
    assert!(sdl.contains("auditLog("), "schema.graphql lacks auditLog");
    s.finish().await;
}
