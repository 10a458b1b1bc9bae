//! Credentials follow the person behind them (issue 17): a deactivated user's access
//! token stops working at once, not at its expiry; an API key acts for the user who made
//! it, stops with that user's deactivation and is narrowed to that user's current role;
//! open sockets of a deactivated user or of such a key close with 4403.

use ils_tests::ws::{TRANSPORT_WS, connect, init, until_closed};
use ils_tests::{Auth, Session, TestServer, email, first_code, member_of};
use serde_json::{Value, json};

const ME: &str = "{ me { roles } }";

async fn deactivate(s: &TestServer, admin: &Session, who: &Session) {
    s.ok(
        &admin.auth(),
        "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { status } } }",
        json!({ "id": who.user_id }),
    )
    .await;
}

async fn change_role(s: &TestServer, admin: &Session, who: &Session, role: &str) {
    s.ok(
        &admin.auth(),
        "mutation($id: ID!, $r: Role!) { changeUserRole(input: { userId: $id, role: $r }) { user { role } } }",
        json!({ "id": who.user_id, "r": role }),
    )
    .await;
}

/// An API key of `who` with `role`; returns its secret.
async fn key_of(s: &TestServer, who: &Session, role: &str) -> String {
    let data = s
        .ok(
            &who.auth(),
            "mutation($r: Role!) { createApiKey(input: { name: \"follows\", role: $r }) { secret } }",
            json!({ "r": role }),
        )
        .await;
    data["createApiKey"]["secret"].as_str().unwrap().to_owned()
}

async fn code_of(s: &TestServer, auth: &Auth, query: &str) -> Option<String> {
    let (_, body) = s.post(auth, query, json!({})).await;
    first_code(&body)
}

async fn roles(s: &TestServer, auth: &Auth) -> Value {
    s.ok(auth, ME, json!({})).await["me"]["roles"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_users_access_token_stops_at_once() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Follow Optics", "ECP", &email("follow")).await;
    let staff = member_of(&s, &admin, "STAFF").await;
    let users = "{ users { edges { node { id } } } }";
    assert_eq!(roles(&s, &staff.auth()).await, json!(["STAFF"]));
    assert_eq!(code_of(&s, &staff.auth(), users).await, None);

    deactivate(&s, &admin, &staff).await;
    // The very next request, with the same unexpired token: refused, reads and writes.
    for query in [ME, users, "{ patients { totalCount } }"] {
        assert_eq!(
            code_of(&s, &staff.auth(), query).await.as_deref(),
            Some("UNAUTHENTICATED"),
            "{query}"
        );
    }
    let (_, body) = s
        .post(
            &staff.auth(),
            "mutation { createPatient(input: { firstName: \"A\", lastName: \"B\" }) { patient { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
    // The admin is unaffected.
    assert_eq!(code_of(&s, &admin.auth(), users).await, None);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_stops_when_its_creator_is_deactivated() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Creator Optics", "ECP", &email("creator")).await;
    let other_admin = member_of(&s, &admin, "COMPANY_ADMIN").await;
    let theirs = Auth::ApiKey(key_of(&s, &other_admin, "STAFF").await);
    let mine = Auth::ApiKey(key_of(&s, &admin, "STAFF").await);
    assert_eq!(roles(&s, &theirs).await, json!(["STAFF"]));

    deactivate(&s, &admin, &other_admin).await;
    assert_eq!(
        code_of(&s, &theirs, ME).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    // A key of another, active creator still works.
    assert_eq!(roles(&s, &mine).await, json!(["STAFF"]));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_narrowed_to_its_creators_current_role() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Narrow Optics", "ECP", &email("narrow")).await;
    let other_admin = member_of(&s, &admin, "COMPANY_ADMIN").await;
    let key = Auth::ApiKey(key_of(&s, &other_admin, "COMPANY_ADMIN").await);
    let keys = "{ apiKeys { edges { node { id } } } }";
    assert_eq!(roles(&s, &key).await, json!(["COMPANY_ADMIN"]));
    assert_eq!(code_of(&s, &key, keys).await, None);

    // Demoted: the key now does what its creator may, no more.
    change_role(&s, &admin, &other_admin, "MANAGER").await;
    assert_eq!(roles(&s, &key).await, json!(["MANAGER"]));
    assert_eq!(code_of(&s, &key, keys).await.as_deref(), Some("FORBIDDEN"));
    change_role(&s, &admin, &other_admin, "STAFF").await;
    assert_eq!(roles(&s, &key).await, json!(["STAFF"]));
    // A key made with a lower role than its creator's keeps its own.
    let staff_key = Auth::ApiKey(key_of(&s, &admin, "STAFF").await);
    assert_eq!(roles(&s, &staff_key).await, json!(["STAFF"]));
    // Promoted back: the key's own role again.
    change_role(&s, &admin, &other_admin, "COMPANY_ADMIN").await;
    assert_eq!(roles(&s, &key).await, json!(["COMPANY_ADMIN"]));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_of_a_deactivated_user_and_of_their_keys_close_with_4403() {
    let s = TestServer::start().await;
    let admin = s
        .sign_up("Socket Follow", "ECP", &email("sock-follow"))
        .await;
    let member = member_of(&s, &admin, "COMPANY_ADMIN").await;
    let key = Auth::ApiKey(key_of(&s, &member, "STAFF").await);

    let mut as_user = connect(&s, TRANSPORT_WS).await;
    init(&mut as_user, &member.auth()).await;
    // Order events only: the team's own events of the set-up must not arrive first.
    let orders = json!({ "types": ["order.*"] });
    ils_tests::ws::subscribe(
        &mut as_user,
        "events",
        ils_tests::ws::EVENTS,
        orders.clone(),
    )
    .await;
    let mut as_key = connect(&s, TRANSPORT_WS).await;
    init(&mut as_key, &key).await;
    ils_tests::ws::subscribe(&mut as_key, "events", ils_tests::ws::EVENTS, orders).await;
    // The admin's own socket stays open.
    let mut survivor = connect(&s, TRANSPORT_WS).await;
    init(&mut survivor, &admin.auth()).await;

    deactivate(&s, &admin, &member).await;
    let (seen, code) = until_closed(&mut as_user).await;
    assert_eq!(
        code,
        Some(4403),
        "the user's socket closed with {code:?} after {seen:?}"
    );
    let (seen, code) = until_closed(&mut as_key).await;
    assert_eq!(
        code,
        Some(4403),
        "the key's socket closed with {code:?} after {seen:?}"
    );
    let payload = ils_tests::ws::run(&mut survivor, TRANSPORT_WS, "u", ME).await;
    assert_eq!(
        payload["data"]["me"]["roles"],
        json!(["COMPANY_ADMIN"]),
        "{payload}"
    );
    s.finish().await;
}
