//! Signing up confirms the email address first (issue 17): `signUp` answers alike for a new
//! address and one with an account, the mailbox learns which, and only the token mailed
//! to the address creates the company.

use ils_tests::mail::all_mail;
use ils_tests::{
    Auth, CONFIRM_SIGN_UP, PASSWORD, SIGN_UP, SIGN_UP_SUBJECT, SIGN_UP_TAKEN_SUBJECT, TestServer,
    email, eventually, first_code, sign_up_input, token_in,
};
use sea_orm::{ConnectionTrait, Statement};

use serde_json::{Value, json};
use std::time::Duration;

/// `signUp`'s whole answer, with the address (the one thing that differs) taken out.
fn answer_without_email(body: &Value) -> Value {
    let mut b = body.clone();
    b["data"]["signUp"]["email"] = Value::Null;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_is_confirmed_by_the_token_mailed_to_its_address() {
    let s = TestServer::start().await;
    let address = email("confirm");
    let (status, body) = s
        .post(
            &Auth::None,
            SIGN_UP,
            sign_up_input("Confirm Optics", "ECP", &address),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "data": { "signUp": { "email": address, "expiresIn": 86400 } } })
    );
    // Nothing exists until the token comes back.
    s.assert_account_missing(&address).await;

    // The mail, as the recipient reads it from the mail folder.
    let mail_dir = s.mail_dir();
    let mail = eventually("the sign-up mail", Duration::from_secs(15), || {
        let found = all_mail(&mail_dir)
            .into_iter()
            .find(|m| m.to == address && m.subject == SIGN_UP_SUBJECT);
        async move { found.ok_or("not yet") }
    })
    .await;
    assert!(mail.body.contains("Confirm Optics"), "{}", mail.body);
    let token = token_in(&mail.body).expect("a token in the mail");

    let data = s
        .ok(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token }))
        .await;
    let session = &data["confirmSignUp"];
    assert_eq!(session["user"]["email"], json!(address));
    assert_eq!(session["company"]["name"], "Confirm Optics");
    assert_eq!(session["company"]["status"], "ACTIVE");
    let me = s
        .ok(
            &Auth::Bearer(session["accessToken"].as_str().unwrap().into()),
            "{ me { roles company { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["roles"], json!(["COMPANY_ADMIN"]), "{me}");
    s.log_in(&address, PASSWORD).await;

    // A token works once.
    let err = s
        .error(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token }))
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(err["extensions"]["field"], "input.token", "{err}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_gets_the_same_answer_and_a_notice_instead_of_a_token() {
    let s = TestServer::start().await;
    let owner = email("owner");
    s.sign_up("Owner Optics", "ECP", &owner).await;
    let before = s.mails_to(&owner).await.len();

    let (taken_status, taken) = s
        .post(
            &Auth::None,
            SIGN_UP,
            sign_up_input("Squatter Optics", "LAB", &owner),
        )
        .await;
    let fresh = email("fresh");
    let (fresh_status, new) = s
        .post(
            &Auth::None,
            SIGN_UP,
            sign_up_input("Squatter Optics", "LAB", &fresh),
        )
        .await;
    assert_eq!(taken_status, fresh_status);
    assert_eq!(answer_without_email(&taken), answer_without_email(&new));
    assert_eq!(taken["data"]["signUp"]["email"], json!(owner));

    // The owner is told, and given nothing to confirm with.
    let mails = s.mails_to(&owner).await;
    assert_eq!(mails.len(), before + 1, "{mails:?}");
    let notice = mails
        .iter()
        .find(|m| m.subject == SIGN_UP_TAKEN_SUBJECT)
        .expect("a notice to the owner");
    assert!(token_in(&notice.body).is_none(), "{}", notice.body);
    assert!(!notice.body.contains("Squatter"), "{}", notice.body);

    // Nothing was stored for the taken address: its only sign-up request is the owner's.
    let conn = s.owner_connection().await;
    #[allow(clippy::disallowed_methods)] // counts rows below the guard
    let requests = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT count(*) AS n FROM sign_up_requests WHERE email = '{owner}'"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(requests, 1);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_and_outrun_tokens_are_refused() {
    let s = TestServer::start().await;
    for token in ["", "nope", &"x".repeat(5000)] {
        let err = s
            .error(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token }))
            .await;
        assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
        assert_eq!(err["extensions"]["field"], "input.token", "{err}");
    }

    // An expired token.
    let late = email("late");
    s.ok(
        &Auth::None,
        SIGN_UP,
        sign_up_input("Late Optics", "ECP", &late),
    )
    .await;
    let token = s.sign_up_token(&late).await;
    let conn = s.owner_connection().await;
    {
        use ils_entity::sign_up_request as req;
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        #[allow(clippy::disallowed_methods)] // the test ages the request below the guard
        req::Entity::update_many()
            .col_expr(req::Column::ExpiresAt, Expr::value(past))
            .filter(req::Column::Email.eq(&late))
            .exec(&conn)
            .await
            .unwrap();
    }
    let err = s
        .error(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token }))
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    s.assert_account_missing(&late).await;

    // Two sign-ups of one address before either is confirmed: the first confirmed wins;
    // the other token then answers CONFLICT (only the mailbox holds it), and no SQL shows.
    let twice = email("twice");
    for name in ["First Twice", "Second Twice"] {
        s.ok(&Auth::None, SIGN_UP, sign_up_input(name, "ECP", &twice))
            .await;
    }
    let tokens: Vec<String> = s
        .mails_to(&twice)
        .await
        .iter()
        .filter_map(|m| token_in(&m.body))
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let first = s.confirm_sign_up(&tokens[0]).await;
    let (_, body) = s
        .post(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": tokens[1] }))
        .await;
    assert_eq!(first_code(&body).as_deref(), Some("CONFLICT"), "{body}");
    let lower = body.to_string().to_ascii_lowercase();
    for word in ["sql", "unique", "constraint", "insert"] {
        assert!(!lower.contains(word), "{word} in {body}");
    }
    // The losing request left no company behind.
    let pa = s.platform_admin().await;
    let all = s
        .ok(
            &pa.auth(),
            "{ companies { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = all["companies"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["name"].as_str())
        .filter(|n| n.ends_with("Twice"))
        .collect();
    assert_eq!(names.len(), 1, "{all}");
    assert!(first.company_id.is_some());
    s.finish().await;
}

/// Many confirmations of one token at once make one company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sent_many_times_at_once_makes_one_company() {
    let s = TestServer::start().await;
    let address = email("race");
    s.ok(
        &Auth::None,
        SIGN_UP,
        sign_up_input("Race Optics", "ECP", &address),
    )
    .await;
    let token = s.sign_up_token(&address).await;
    let tries = (0..8).map(|_| s.post(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token })));
    let answers = futures_util::future::join_all(tries).await;
    let ok = answers
        .iter()
        .filter(|(_, b)| b["data"]["confirmSignUp"]["accessToken"].is_string())
        .count();
    assert_eq!(ok, 1, "{answers:?}");
    for (_, b) in answers.iter().filter(|(_, b)| b.get("errors").is_some()) {
        assert_eq!(first_code(b).as_deref(), Some("BAD_USER_INPUT"), "{b}");
    }
    s.finish().await;
}

/// In development the server shows what it mailed at `/dev/mail?to=`, where the
/// playground reads the sign-up token; production has no such mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_mailbox_holds_the_token_and_production_has_none() {
    let s = TestServer::start().await;
    let address = email("devmail");
    s.ok(
        &Auth::None,
        SIGN_UP,
        sign_up_input("Dev Mail Optics", "ECP", &address),
    )
    .await;
    let url = format!(
        "{}?to={}",
        s.url("/dev/mail"),
        address.to_uppercase().replace('+', "%2B")
    );
    let http = s.http.clone();
    let messages = eventually("the mail in /dev/mail", Duration::from_secs(15), || {
        let req = http.get(&url);
        async move {
            let body: Value = req.send().await.unwrap().json().await.unwrap();
            let list = body["messages"].as_array().cloned().unwrap_or_default();
            if list.is_empty() { Err(body) } else { Ok(list) }
        }
    })
    .await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["to"], json!(address));
    assert_eq!(messages[0]["subject"], SIGN_UP_SUBJECT);
    let token = token_in(messages[0]["text"].as_str().unwrap()).expect("token");
    assert_eq!(token, s.sign_up_token(&address).await);
    // Another address's mail is not listed; no address at all is a 400.
    let other: Value = s
        .http
        .get(format!("{}?to=someone@else.example", s.url("/dev/mail")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!({ "messages": [] }));
    let resp = s.http.get(s.url("/dev/mail")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    s.finish().await;

    let s = TestServer::start_with(|c| c.env = ils_api::config::Environment::Production).await;
    let resp = s
        .http
        .get(format!("{}?to={address}", s.url("/dev/mail")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    s.finish().await;
}

/// Spent sign-up requests (they hold a password hash) are deleted by the nightly prune job a
/// day after they expire or were confirmed; pending ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_sign_up_requests_are_pruned() {
    use ils_entity::sign_up_request as req;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let s = TestServer::start().await;
    let (spent, confirmed, pending) = (email("spent"), email("confirmed"), email("pending"));
    for address in [&spent, &confirmed, &pending] {
        s.ok(
            &Auth::None,
            SIGN_UP,
            sign_up_input("Prune Optics", "ECP", address),
        )
        .await;
    }
    s.confirm_sign_up(&s.sign_up_token(&confirmed).await).await;
    let conn = s.owner_connection().await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(3);
    #[allow(clippy::disallowed_methods)] // the test ages rows below the guard
    {
        req::Entity::update_many()
            .col_expr(req::Column::ExpiresAt, Expr::value(long_ago))
            .filter(req::Column::Email.eq(&spent))
            .exec(&conn)
            .await
            .unwrap();
        req::Entity::update_many()
            .col_expr(req::Column::ConfirmedAt, Expr::value(long_ago))
            .filter(req::Column::Email.eq(&confirmed))
            .exec(&conn)
            .await
            .unwrap();
    }
    ils_kernel::jobs::enqueue_system(
        &s.server.state.db,
        ils_kernel::jobs::NewJob::of(&ils_tenancy::service::prune::PruneCredentials {}),
    )
    .await
    .unwrap();
    let left = eventually("the prune job ran", Duration::from_secs(15), || {
        let conn = conn.clone();
        async move {
            #[allow(clippy::disallowed_methods)]
            let n = req::Entity::find().count(&conn).await.unwrap();
            if n == 1 { Ok(n) } else { Err(n) }
        }
    })
    .await;
    assert_eq!(left, 1);
    #[allow(clippy::disallowed_methods)]
    let kept = req::Entity::find().one(&conn).await.unwrap().unwrap();
    assert_eq!(kept.email, pending);
    s.finish().await;
}
