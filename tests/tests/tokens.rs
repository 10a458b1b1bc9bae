//! Every malformed, forged or stale credential is UNAUTHENTICATED and yields no data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ils_tests::{Auth, JWT_SECRET, TestServer, email, first_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ME: &str = "{ me { user { email } } users { edges { node { email } } } }";

fn claims(sub_and_company: (&str, &str), tweak: impl FnOnce(&mut Value)) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "sub": sub_and_company.0, "cid": sub_and_company.1, "roles": ["COMPANY_ADMIN"], "pa": false,
        "iss": "ils", "aud": "ils-api", "exp": now + 600, "nbf": now - 10, "iat": now - 10,
        "jti": uuid::Uuid::new_v4().to_string()
    });
    tweak(&mut c);
    c
}

fn sign(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn raw_uuid(global_id: &str) -> String {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(global_id).unwrap()).unwrap();
    raw.split_once(':').unwrap().1.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_garbage_tokens_are_refused() {
    let s = TestServer::start().await;
    let mail = email("victim");
    let a = s.sign_up("Token Optics", "ECP", &mail).await;
    let ids_owned = (
        raw_uuid(&a.user_id),
        raw_uuid(a.company_id.as_deref().unwrap()),
    );
    let ids = (ids_owned.0.as_str(), ids_owned.1.as_str());
    let key = JWT_SECRET.as_bytes();

    // The baseline: a token we forge with the right key and claims works, so each
    // refusal below is down to the one thing changed.
    let good = sign(Algorithm::HS256, key, &claims(ids, |_| {}));
    let ok = s.ok(&Auth::Bearer(good), ME, json!({})).await;
    assert_eq!(ok["me"]["user"]["email"], json!(mail));

    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(ids, |_| {}).to_string());
        format!("{header}.{body}.")
    };
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, Auth)> = vec![
        ("alg=none", Auth::Bearer(none_alg)),
        (
            "wrong key",
            Auth::Bearer(sign(
                Algorithm::HS256,
                b"another-secret-another-secret-000000",
                &claims(ids, |_| {}),
            )),
        ),
        (
            "HS512 with the right key",
            Auth::Bearer(sign(Algorithm::HS512, key, &claims(ids, |_| {}))),
        ),
        (
            "expired",
            Auth::Bearer(sign(
                Algorithm::HS256,
                key,
                &claims(ids, |c| c["exp"] = json!(now - 3600)),
            )),
        ),
        (
            "not yet valid",
            Auth::Bearer(sign(
                Algorithm::HS256,
                key,
                &claims(ids, |c| c["nbf"] = json!(now + 3600)),
            )),
        ),
        (
            "wrong issuer",
            Auth::Bearer(sign(
                Algorithm::HS256,
                key,
                &claims(ids, |c| c["iss"] = json!("evil")),
            )),
        ),
        (
            "wrong audience",
            Auth::Bearer(sign(
                Algorithm::HS256,
                key,
                &claims(ids, |c| c["aud"] = json!("other-api")),
            )),
        ),
        (
            "no expiry",
            Auth::Bearer(sign(
                Algorithm::HS256,
                key,
                &claims(ids, |c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            )),
        ),
        ("garbage", Auth::Bearer("abc.def.ghi".into())),
        ("empty bearer", Auth::Raw("Bearer ".into())),
        (
            "other scheme",
            Auth::Raw(format!("Basic {}", URL_SAFE_NO_PAD.encode("a:b"))),
        ),
        (
            "unknown API key",
            Auth::ApiKey("ils_notarealkeynotarealkeynotarealkey".into()),
        ),
        ("API key without prefix", Auth::ApiKey("whatever".into())),
    ];
    for (name, auth) in cases {
        let (status, body) = s.post(&auth, ME, json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(
            first_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{name}: {body}"
        );
        assert!(
            body.get("data").is_none_or(Value::is_null),
            "{name} returned data: {body}"
        );
        assert!(!body.to_string().contains(&mail), "{name} leaked the user");
    }

    // A revoked API key.
    let made = s
        .ok(
            &a.auth(),
            "mutation { createApiKey(input: { name: \"gone\", role: STAFF }) { secret apiKey { id } } }",
            json!({}),
        )
        .await;
    let secret = made["createApiKey"]["secret"].as_str().unwrap().to_owned();
    s.ok(
        &a.auth(),
        "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }",
        json!({ "id": made["createApiKey"]["apiKey"]["id"] }),
    )
    .await;
    let (status, body) = s.post(&Auth::ApiKey(secret), ME, json!({})).await;
    assert_eq!(
        (status, first_code(&body).as_deref()),
        (401, Some("UNAUTHENTICATED")),
        "{body}"
    );

    // Both credentials at once is ambiguous, so refused.
    let both = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&a.access)
        .header("x-api-key", "ils_x")
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status().as_u16(), 401);
    s.finish().await;
}
