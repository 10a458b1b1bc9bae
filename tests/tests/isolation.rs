//! Company B tries every path to company A's users, invitations, API keys and profile,
//! and sees nothing; every refusal answers exactly as for a row that does not exist.

use ils_tests::{Auth, PASSWORD, Session, TestServer, email};
use serde_json::{Value, json};

struct CompanyA {
    admin: Session,
    member_id: String,
    member_email: String,
    invitation_id: String,
    key_id: String,
    key_secret: String,
}

async fn company_a(s: &TestServer) -> CompanyA {
    let admin = s.sign_up("Alpha Optics", "ECP", &email("alpha")).await;
    let invite = "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token invitation { id } } }";
    let member_email = email("alpha-staff");
    let inv = s
        .ok(&admin.auth(), invite, json!({ "e": member_email }))
        .await;
    let accept = "mutation($t: String!, $p: String!) { acceptInvitation(input: { token: $t, password: $p, firstName: \"M\", lastName: \"A\" }) { user { id } } }";
    let member = s
        .ok(
            &Auth::None,
            accept,
            json!({ "t": inv["inviteUser"]["token"], "p": PASSWORD }),
        )
        .await;
    let pending = s
        .ok(
            &admin.auth(),
            invite,
            json!({ "e": email("alpha-pending") }),
        )
        .await;
    let key = s.ok(&admin.auth(), "mutation { createApiKey(input: { name: \"Alpha LMS\", role: COMPANY_ADMIN }) { secret apiKey { id } } }", json!({})).await;
    CompanyA {
        member_id: member["acceptInvitation"]["user"]["id"]
            .as_str()
            .unwrap()
            .into(),
        member_email,
        invitation_id: pending["inviteUser"]["invitation"]["id"]
            .as_str()
            .unwrap()
            .into(),
        key_id: key["createApiKey"]["apiKey"]["id"].as_str().unwrap().into(),
        key_secret: key["createApiKey"]["secret"].as_str().unwrap().into(),
        admin,
    }
}

/// A well-formed ID of the same type whose row does not exist.
fn missing_id(like: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(like).unwrap()).unwrap();
    let ty = raw.split(':').next().unwrap();
    URL_SAFE_NO_PAD.encode(format!("{ty}:{}", uuid::Uuid::now_v7()))
}

/// The error of `query` for A's id and for a missing id: they must be identical.
async fn same_as_missing(s: &TestServer, who: &Auth, query: &str, var: &str, a_id: &str) -> Value {
    let (st_a, a) = s.post(who, query, json!({ var: a_id })).await;
    let (st_m, m) = s.post(who, query, json!({ var: missing_id(a_id) })).await;
    assert_eq!(st_a, st_m, "{query}");
    assert_eq!(a["data"], m["data"], "{query}: {a} vs {m}");
    assert_eq!(
        a["errors"][0]["message"], m["errors"][0]["message"],
        "{query}"
    );
    assert_eq!(
        a["errors"][0]["extensions"]["code"], m["errors"][0]["extensions"]["code"],
        "{query}"
    );
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_b_sees_nothing_of_company_a() {
    let s = TestServer::start().await;
    let a = company_a(&s).await;
    let b = s.sign_up("Beta Optics", "ECP", &email("beta")).await;
    let b_key = s
        .ok(
            &b.auth(),
            "mutation { createApiKey(input: { name: \"Beta\", role: COMPANY_ADMIN }) { secret } }",
            json!({}),
        )
        .await;
    let b_key = Auth::ApiKey(b_key["createApiKey"]["secret"].as_str().unwrap().into());
    let a_ids = [
        a.admin.user_id.clone(),
        a.member_id.clone(),
        a.admin.company_id.clone().unwrap(),
        a.invitation_id.clone(),
        a.key_id.clone(),
    ];

    for who in [b.auth(), b_key.clone()] {
        // Read by ID, one at a time and in a batch.
        for id in &a_ids {
            let body = same_as_missing(
                &s,
                &who,
                "query($id: ID!) { node(id: $id) { id __typename } }",
                "id",
                id,
            )
            .await;
            assert_eq!(body["data"]["node"], Value::Null, "node({id})");
        }
        let nodes = s
            .ok(
                &who,
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": a_ids }),
            )
            .await;
        assert_eq!(nodes["nodes"], json!([null, null, null, null, null]));

        // Lists hold only B's rows.
        let lists = s
            .ok(&who, "{ users { edges { node { id email } } } invitations { edges { node { id email } } } apiKeys { edges { node { id name } } } }", json!({}))
            .await;
        let text = lists.to_string();
        for id in &a_ids {
            assert!(
                !text.contains(id.as_str()),
                "B's lists show A's {id}: {text}"
            );
        }
        assert!(!text.contains("alpha"), "{text}");
        assert_eq!(ils_tests::nodes(&lists["users"]).len(), 1);

        // Updates and deletes of A's rows answer NOT_FOUND, exactly as for missing rows.
        for (q, var, id) in [
            (
                "mutation($id: ID!) { changeUserRole(input: { userId: $id, role: STAFF }) { user { id } } }",
                "id",
                &a.member_id,
            ),
            (
                "mutation($id: ID!) { changeUserRole(input: { userId: $id, role: STAFF }) { user { id } } }",
                "id",
                &a.admin.user_id,
            ),
            (
                "mutation($id: ID!) { deactivateUser(input: { userId: $id }) { user { id } } }",
                "id",
                &a.member_id,
            ),
            (
                "mutation($id: ID!) { revokeInvitation(input: { id: $id }) { invitation { id } } }",
                "id",
                &a.invitation_id,
            ),
            (
                "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }",
                "id",
                &a.key_id,
            ),
        ] {
            let body = same_as_missing(&s, &who, q, var, id).await;
            // A person gets NOT_FOUND; an API key may not manage the team at all.
            let expected = if matches!(who, Auth::ApiKey(_)) {
                "FORBIDDEN"
            } else {
                "NOT_FOUND"
            };
            assert_eq!(
                body["errors"][0]["extensions"]["code"], expected,
                "{q}: {body}"
            );
        }

        // The company profile mutation has no id: it can only ever change the caller's own.
        let renamed = s
            .ok(
                &who,
                "mutation { updateCompanyProfile(input: { name: \"Beta Renamed\" }) { company { id name } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            renamed["updateCompanyProfile"]["company"]["id"],
            json!(b.company_id)
        );
    }

    // A's rows are all still there, unchanged.
    let mine = s
        .ok(&a.admin.auth(), "{ me { company { name } } users { edges { node { email role status } } } invitations { edges { node { id status } } } apiKeys { edges { node { id revokedAt } } } }", json!({}))
        .await;
    assert_eq!(mine["me"]["company"]["name"], "Alpha Optics");
    let users = mine["users"]["edges"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u["node"]["email"] == json!(a.member_email)
                && u["node"]["role"] == "STAFF"
                && u["node"]["status"] == "ACTIVE")
    );
    assert!(
        mine["invitations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["node"]["id"] == json!(a.invitation_id) && i["node"]["status"] == "PENDING")
    );
    assert_eq!(
        mine["apiKeys"]["edges"][0]["node"]["revokedAt"],
        Value::Null
    );
    let via_key = s
        .ok(
            &Auth::ApiKey(a.key_secret.clone()),
            "{ users { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ils_tests::nodes(&via_key["users"]).len(),
        2,
        "A's key still works"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_admin_sees_companies_but_not_their_data() {
    let s = TestServer::start().await;
    let a = company_a(&s).await;
    let pa = s.platform_admin().await;
    for id in [&a.admin.user_id, &a.member_id, &a.invitation_id, &a.key_id] {
        let n = s
            .ok(
                &pa.auth(),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(n["node"], Value::Null, "{id}");
    }
    let company = s
        .ok(
            &pa.auth(),
            "query($id: ID!) { node(id: $id) { ... on Company { name } } }",
            json!({ "id": a.admin.company_id }),
        )
        .await;
    assert_eq!(company["node"]["name"], "Alpha Optics");
    for q in [
        "{ users { edges { node { id } } } }",
        "{ apiKeys { edges { node { id } } } }",
        "{ invitations { edges { node { id } } } }",
    ] {
        assert_eq!(
            s.error_code(&pa.auth(), q, json!({})).await,
            "FORBIDDEN",
            "{q}"
        );
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_typed_and_opaque() {
    let s = TestServer::start().await;
    let a = s.sign_up("Typed Optics", "ECP", &email("typed")).await;
    // A User ID where a Company ID is expected is bad input, whatever the row.
    let (_, body) = s
        .post(
            &a.auth(),
            "mutation($id: ID!) { approveCompany(input: { id: $id }) { company { id } } }",
            json!({ "id": a.user_id }),
        )
        .await;
    // The argument is checked before anything is looked up, so it says nothing of any row.
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let pa = s.platform_admin().await;
    let (_, body) = s
        .post(
            &pa.auth(),
            "mutation($id: ID!) { approveCompany(input: { id: $id }) { company { id } } }",
            json!({ "id": a.user_id }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], json!("input.id"));
    let (_, body) = s
        .post(
            &a.auth(),
            "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }",
            json!({ "id": a.user_id }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    for junk in ["", "not-an-id", "VXNlcjpub3QtYS11dWlk"] {
        let n = s
            .ok(
                &a.auth(),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": junk }),
            )
            .await;
        assert_eq!(n["node"], Value::Null, "{junk}");
    }
    // An ID is not a bare row id.
    assert!(!a.user_id.contains('-'));
    s.finish().await;
}
