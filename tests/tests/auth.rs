//! Sign-up, log-in, sessions: the tenancy contract as a client sees it.

use ils_tests::{Auth, PASSWORD, SIGN_UP, Session, TestServer, email, first_code, nodes};
use serde_json::json;

const ME: &str = "{ me { user { id email firstName lastName } company { id name type status plan } roles platformAdmin } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_log_in_and_me() {
    let s = TestServer::start().await;
    let mail = email("ann");
    let signed = s.sign_up_free("Brightside Optometry", "ECP", &mail).await;
    assert_eq!(
        signed.company_status.as_deref(),
        Some("ACTIVE"),
        "an ECP is active at once"
    );

    let session = s.log_in(&mail.to_uppercase(), PASSWORD).await;
    let me = s.ok(&session.auth(), ME, json!({})).await;
    assert_eq!(me["me"]["user"]["email"], mail);
    assert_eq!(me["me"]["user"]["id"], signed.user_id);
    assert_eq!(me["me"]["company"]["name"], "Brightside Optometry");
    assert_eq!(me["me"]["company"]["type"], "ECP");
    assert_eq!(me["me"]["company"]["plan"], "FREE_ECP");
    assert_eq!(me["me"]["roles"], json!(["COMPANY_ADMIN"]));
    assert_eq!(me["me"]["platformAdmin"], false);

    let (_, anonymous) = s.post(&Auth::None, ME, json!({})).await;
    assert_eq!(
        anonymous["data"]["me"],
        serde_json::Value::Null,
        "{anonymous}"
    );
    assert_eq!(first_code(&anonymous).as_deref(), Some("UNAUTHENTICATED"));

    // An API key is its company, acting with the key's role.
    let data = s
        .ok(
            &session.auth(),
            "mutation { createApiKey(input: { name: \"me\", role: STAFF }) { apiKey { id } secret } }",
            json!({}),
        )
        .await;
    let key = Auth::ApiKey(data["createApiKey"]["secret"].as_str().unwrap().to_owned());
    let me = s
        .ok(
            &key,
            "{ me { user { id } apiKey { id name } company { name } roles platformAdmin } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["user"], serde_json::Value::Null);
    assert_eq!(
        me["me"]["apiKey"]["id"],
        data["createApiKey"]["apiKey"]["id"]
    );
    assert_eq!(me["me"]["apiKey"]["name"], "me");
    assert_eq!(me["me"]["company"]["name"], "Brightside Optometry");
    assert_eq!(me["me"]["roles"], json!(["STAFF"]));
    assert_eq!(me["me"]["platformAdmin"], false);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labs_and_suppliers_wait_for_approval() {
    let s = TestServer::start().await;
    let lab = s.sign_up("Clearview Lens Lab", "LAB", &email("lab")).await;
    let supplier = s
        .sign_up("Northwind Frames", "SUPPLIER", &email("sup"))
        .await;
    assert_eq!(lab.company_status.as_deref(), Some("PENDING_APPROVAL"));
    assert_eq!(supplier.company_status.as_deref(), Some("PENDING_APPROVAL"));

    // Only the platform admin decides.
    let approve =
        "mutation($id: ID!) { approveCompany(input: { id: $id }) { company { id status } } }";
    let id = json!({ "id": lab.company_id });
    assert_eq!(
        s.error_code(&lab.auth(), approve, id.clone()).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&Auth::None, approve, id.clone()).await,
        "UNAUTHENTICATED"
    );

    let pa = s.platform_admin().await;
    let pending = s
        .ok(
            &pa.auth(),
            "{ companies(filter: { status: PENDING_APPROVAL }) { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(nodes(&pending["companies"]).len(), 2);

    let approved = s.ok(&pa.auth(), approve, id.clone()).await;
    assert_eq!(approved["approveCompany"]["company"]["status"], "ACTIVE");
    assert_eq!(
        approved["approveCompany"]["company"]["id"],
        json!(lab.company_id)
    );
    assert_eq!(
        s.error_code(&pa.auth(), approve, id).await,
        "CONFLICT",
        "approving twice is a conflict"
    );

    let reject = "mutation($id: ID!, $r: String!) { rejectCompany(input: { id: $id, reason: $r }) { company { status rejectionReason } } }";
    // A reason is required, and a problem in the input names its path.
    let err = s
        .error(
            &pa.auth(),
            reject,
            json!({ "id": supplier.company_id, "r": "  " }),
        )
        .await;
    ils_tests::assert_bad_input(&err, &["input", "reason"]);
    let err = s
        .error(&pa.auth(), approve, json!({ "id": "not-an-id" }))
        .await;
    ils_tests::assert_bad_input(&err, &["input", "id"]);
    let rejected = s
        .ok(
            &pa.auth(),
            reject,
            json!({ "id": supplier.company_id, "r": "No trading licence" }),
        )
        .await;
    assert_eq!(rejected["rejectCompany"]["company"]["status"], "REJECTED");
    assert_eq!(
        rejected["rejectCompany"]["company"]["rejectionReason"],
        "No trading licence"
    );

    let me = s.ok(&lab.auth(), ME, json!({})).await;
    assert_eq!(me["me"]["company"]["status"], "ACTIVE");

    // The platform admin sees companies, and none of a tenant's data.
    let pa_me = s.ok(&pa.auth(), ME, json!({})).await;
    assert_eq!(pa_me["me"]["platformAdmin"], true);
    assert_eq!(pa_me["me"]["company"], serde_json::Value::Null);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_email_answers_alike_and_weak_passwords_are_refused() {
    let s = TestServer::start().await;
    let mail = email("dup");
    s.sign_up("First Optical", "ECP", &mail).await;
    let input = |email: &str, password: &str| {
        json!({ "input": { "companyName": "Second Optical", "companyType": "ECP", "email": email,
            "password": password, "firstName": "A", "lastName": "B" } })
    };
    // The same email in another case is the same account. The answer is the one a new
    // address gets; the owner is mailed a notice, and no token.
    let (_, taken) = s
        .post(&Auth::None, SIGN_UP, input(&mail.to_uppercase(), PASSWORD))
        .await;
    let new_address = email("new");
    let (_, new) = s
        .post(&Auth::None, SIGN_UP, input(&new_address, PASSWORD))
        .await;
    assert_eq!(taken["data"]["signUp"]["email"], json!(mail), "{taken}");
    assert_eq!(new["data"]["signUp"]["email"], json!(new_address), "{new}");
    assert_eq!(
        taken["data"]["signUp"]["expiresIn"], new["data"]["signUp"]["expiresIn"],
        "{taken} {new}"
    );
    let mut subjects: Vec<String> = s
        .mails_to(&mail)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [ils_tests::SIGN_UP_SUBJECT, ils_tests::SIGN_UP_TAKEN_SUBJECT]
    );

    for weak in ["short", "password123", "QWERTYUIOP"] {
        let (_, body) = s
            .post(&Auth::None, SIGN_UP, input(&email("weak"), weak))
            .await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{weak}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            json!("input.password"),
            "{body}"
        );
        assert_eq!(body["data"], serde_json::Value::Null);
    }
    let (_, body) = s
        .post(&Auth::None, SIGN_UP, input("not-an-email", PASSWORD))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.email"),
        "{body}"
    );

    // Nothing of the refused sign-ups was written: only the first company exists.
    let pa = s.platform_admin().await;
    let all = s
        .ok(
            &pa.auth(),
            "{ companies { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all["companies"]["edges"],
        json!([{ "node": { "name": "First Optical" } }])
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_answer_alike() {
    let s = TestServer::start().await;
    let mail = email("known");
    s.sign_up("Alike Optical", "ECP", &mail).await;
    let q = ils_tests::LOG_IN;
    let (st1, wrong) = s
        .post(
            &Auth::None,
            q,
            json!({ "email": mail, "password": "Wrong-Password-1" }),
        )
        .await;
    let (st2, unknown) = s
        .post(
            &Auth::None,
            q,
            json!({ "email": email("nobody"), "password": "Wrong-Password-1" }),
        )
        .await;
    assert_eq!(st1, st2);
    assert_eq!(first_code(&wrong).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"],
        unknown["errors"][0]["extensions"]["code"]
    );
    s.finish().await;
}

/// A client whose requests come from `ip`: every 127.x.y.z address reaches the test
/// server's loopback, so one machine can play several client addresses.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Logs in through `client`; returns the response body.
async fn log_in_from(
    s: &TestServer,
    client: &reqwest::Client,
    mail: &str,
    password: &str,
) -> serde_json::Value {
    client
        .post(s.url("/graphql"))
        .json(&json!({
            "query": ils_tests::TINY_LOG_IN,
            "variables": { "email": mail, "password": password },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn retry_after(body: &serde_json::Value) -> u64 {
    assert_eq!(first_code(body).as_deref(), Some("RATE_LIMITED"), "{body}");
    assert_eq!(body["data"], serde_json::Value::Null, "{body}");
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter: {body}"))
}

/// Five wrong passwords from one address no longer lock the account: from there, each
/// further attempt must wait, the wait doubling (1 s, 2 s, …), while the owner logs in
/// from another address at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_slow_that_address_down_and_never_lock_the_owner_out() {
    let s = TestServer::start().await;
    let mail = email("throttled");
    s.sign_up("Throttle Optical", "ECP", &mail).await;
    let stranger = client_from([127, 0, 0, 2]);
    let owner = client_from([127, 0, 0, 3]);
    let wrong = "Wrong-Password-1";
    for _ in 0..5 {
        let body = log_in_from(&s, &stranger, &mail, wrong).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{body}"
        );
    }
    // The sixth attempt is allowed and takes a one-second turn; the next one within it is
    // refused, even with the right password.
    let body = log_in_from(&s, &stranger, &mail, wrong).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
    assert_eq!(
        retry_after(&log_in_from(&s, &stranger, &mail, PASSWORD).await),
        1
    );

    // The owner, from another address, is not held back at all.
    let body = log_in_from(&s, &owner, &mail, PASSWORD).await;
    assert!(body["data"]["logIn"]["accessToken"].is_string(), "{body}");

    // Once the turn has passed the stranger may try again, and the wait doubles.
    let body = ils_tests::eventually(
        "the stranger's next turn",
        std::time::Duration::from_secs(10),
        || async {
            let body = log_in_from(&s, &stranger, &mail, wrong).await;
            match first_code(&body).as_deref() {
                Some("RATE_LIMITED") => Err(body),
                _ => Ok(body),
            }
        },
    )
    .await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
    assert_eq!(
        retry_after(&log_in_from(&s, &stranger, &mail, wrong).await),
        2
    );
    s.finish().await;
}

/// Sign-ups are throttled per client address (`ILS_SIGN_UPS_PER_ADDRESS` an hour): past
/// the limit an address is RATE_LIMITED, taken emails and new ones alike, while another
/// address signs up as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_throttled_per_client_address() {
    let s = TestServer::start_with(|c| c.sign_ups_per_address = 2).await;
    let busy = client_from([127, 0, 0, 4]);
    let other = client_from([127, 0, 0, 5]);
    let sign_up = |client: &reqwest::Client, mail: String| {
        let req = client
            .post(s.url("/graphql"))
            .json(&json!({ "query": SIGN_UP, "variables": ils_tests::sign_up_input("Busy Optics", "ECP", &mail) }));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let taken = email("busy");
    s.sign_up("Taken Optics", "ECP", &taken).await;
    for mail in [taken.clone(), email("busy")] {
        let body = sign_up(&busy, mail).await;
        assert!(body["data"]["signUp"]["email"].is_string(), "{body}");
    }
    for mail in [email("busy"), taken] {
        let body = sign_up(&busy, mail).await;
        assert!(retry_after(&body) > 0, "{body}");
    }
    let body = sign_up(&other, email("other")).await;
    assert!(body["data"]["signUp"]["email"].is_string(), "{body}");
    s.finish().await;
}

/// A 200,000-character email is refused for its shape before it is counted or stored
/// anywhere; on Redis no throttle key is longer than a digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_email_is_refused_before_anything_is_stored() {
    let s = TestServer::start().await;
    let huge = format!("{}@example.com", "a".repeat(200_000));
    let err = s
        .error(
            &Auth::None,
            ils_tests::TINY_LOG_IN,
            json!({ "email": huge, "password": "Wrong-Password-1" }),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(err["extensions"]["field"], "input.email", "{err}");
    // A real (failed) attempt next to it, so the throttle has keys to look at.
    let mail = email("keyed");
    let code = s
        .error_code(
            &Auth::None,
            ils_tests::TINY_LOG_IN,
            json!({ "email": mail, "password": "Wrong-Password-1" }),
        )
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    if let Some(url) = ils_tests::redis_url() {
        let client = redis::Client::open(url).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let pattern = format!("{}:throttle:*", s.server.state.config.redis_prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(!keys.is_empty(), "no throttle keys under {pattern}");
        for k in &keys {
            assert!(k.len() < 150, "a throttle key of {} bytes", k.len());
            assert!(!k.contains("aaaaaaaa") && !k.contains("keyed-"), "{k}");
        }
    }
    s.finish().await;
}

const REFRESH: &str = "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";

async fn refresh(s: &TestServer, token: &str) -> Result<Session, String> {
    let (_, body) = s.post(&Auth::None, REFRESH, json!({ "t": token })).await;
    match first_code(&body) {
        Some(code) => Err(code),
        None => Ok(Session::from_payload(&body["data"]["refreshSession"])),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    let first = s.sign_up("Rotate Optical", "ECP", &email("rot")).await;
    let second = refresh(&s, &first.refresh)
        .await
        .expect("first rotation works");
    assert_ne!(second.refresh, first.refresh);
    let me = s.ok(&second.auth(), ME, json!({})).await;
    assert_eq!(me["me"]["company"]["name"], "Rotate Optical");
    let third = refresh(&s, &second.refresh)
        .await
        .expect("second rotation works");

    // A thief replays the first token: refused, and the whole family dies with it.
    assert_eq!(
        refresh(&s, &first.refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        refresh(&s, &third.refresh).await.unwrap_err(),
        "UNAUTHENTICATED",
        "the newest token of the family is revoked too"
    );

    // Another session of the same user is a different family and survives.
    let me = s.ok(&second.auth(), ME, json!({})).await;
    let other = s
        .log_in(me["me"]["user"]["email"].as_str().unwrap(), PASSWORD)
        .await;
    assert!(refresh(&s, &other.refresh).await.is_ok());
    assert_eq!(
        refresh(&s, "not-a-token").await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_and_log_out_everywhere() {
    let s = TestServer::start().await;
    let mail = email("out");
    let a = s.sign_up("Logout Optical", "ECP", &mail).await;
    let b = s.log_in(&mail, PASSWORD).await;
    let c = s.log_in(&mail, PASSWORD).await;

    let out = s
        .ok(
            &Auth::None,
            "mutation($t: String!) { logOut(input: { refreshToken: $t }) { loggedOut } }",
            json!({ "t": a.refresh }),
        )
        .await;
    assert_eq!(out["logOut"]["loggedOut"], true);
    assert_eq!(
        refresh(&s, &a.refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    assert!(refresh(&s, &b.refresh).await.is_ok(), "other sessions stay");

    assert_eq!(
        s.error_code(
            &Auth::None,
            "mutation { logOutEverywhere { loggedOut } }",
            json!({})
        )
        .await,
        "UNAUTHENTICATED"
    );
    let all = s
        .ok(
            &c.auth(),
            "mutation { logOutEverywhere { loggedOut } }",
            json!({}),
        )
        .await;
    assert_eq!(all["logOutEverywhere"]["loggedOut"], true);
    assert_eq!(
        refresh(&s, &c.refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_invitations_roles_and_the_last_admin() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Team Optical", "ECP", &email("boss")).await;
    let invite = "mutation($e: String!, $r: Role!) { inviteUser(input: { email: $e, role: $r }) { token invitation { id email role status } } }";
    let staff_mail = email("staff");
    let inv = s
        .ok(
            &admin.auth(),
            invite,
            json!({ "e": staff_mail, "r": "STAFF" }),
        )
        .await;
    assert_eq!(inv["inviteUser"]["invitation"]["status"], "PENDING");
    let token = inv["inviteUser"]["token"].as_str().unwrap().to_owned();

    let accept = "mutation($t: String!, $p: String!) { acceptInvitation(input: { token: $t, password: $p, firstName: \"Sam\", lastName: \"Lee\" }) { accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";
    let staff = Session::from_payload(
        &s.ok(&Auth::None, accept, json!({ "t": token, "p": PASSWORD }))
            .await["acceptInvitation"],
    );
    assert_eq!(staff.company_id, admin.company_id);
    let again = s
        .error(&Auth::None, accept, json!({ "t": token, "p": PASSWORD }))
        .await;
    ils_tests::assert_bad_input(&again, &["input", "token"]);
    let weak = s
        .error(&Auth::None, accept, json!({ "t": token, "p": "short" }))
        .await;
    ils_tests::assert_bad_input(&weak, &["input", "password"]);
    let bad_mail = s
        .error(
            &admin.auth(),
            invite,
            json!({ "e": "not-an-email", "r": "STAFF" }),
        )
        .await;
    ils_tests::assert_bad_input(&bad_mail, &["input", "email"]);

    // Staff cannot manage the team.
    assert_eq!(
        s.error_code(
            &staff.auth(),
            invite,
            json!({ "e": email("x"), "r": "STAFF" })
        )
        .await,
        "FORBIDDEN"
    );
    let users = s
        .ok(
            &staff.auth(),
            "{ users { edges { node { email role } } } }",
            json!({}),
        )
        .await;
    assert_eq!(nodes(&users["users"]).len(), 2);

    // The last admin can be neither demoted nor deactivated.
    let role = "mutation($u: ID!, $r: Role!) { changeUserRole(input: { userId: $u, role: $r }) { user { id role } } }";
    let deactivate =
        "mutation($u: ID!) { deactivateUser(input: { userId: $u }) { user { id status } } }";
    let err = s
        .error(&admin.auth(), deactivate, json!({ "u": admin.company_id }))
        .await;
    ils_tests::assert_bad_input(&err, &["input", "userId"]);
    assert_eq!(
        s.error_code(
            &admin.auth(),
            role,
            json!({ "u": admin.user_id, "r": "STAFF" })
        )
        .await,
        "CONFLICT"
    );
    assert_eq!(
        s.error_code(&admin.auth(), deactivate, json!({ "u": admin.user_id }))
            .await,
        "CONFLICT"
    );
    // With a second admin, the first may step down.
    let promoted = s
        .ok(
            &admin.auth(),
            role,
            json!({ "u": staff.user_id, "r": "COMPANY_ADMIN" }),
        )
        .await;
    assert_eq!(promoted["changeUserRole"]["user"]["role"], "COMPANY_ADMIN");
    assert_eq!(
        promoted["changeUserRole"]["user"]["id"],
        json!(staff.user_id)
    );
    let demoted = s
        .ok(
            &admin.auth(),
            role,
            json!({ "u": admin.user_id, "r": "MANAGER" }),
        )
        .await;
    assert_eq!(demoted["changeUserRole"]["user"]["role"], "MANAGER");

    // A deactivated user can no longer log in or refresh.
    let gone = s
        .ok(&staff.auth(), deactivate, json!({ "u": admin.user_id }))
        .await;
    assert_eq!(gone["deactivateUser"]["user"]["status"], "DEACTIVATED");
    assert_eq!(
        refresh(&s, &admin.refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_profile_updates_and_validates() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Profile Optical", "ECP", &email("prof")).await;
    let update = "mutation($i: UpdateCompanyProfileInput!) { updateCompanyProfile(input: $i) { company { id name address phone website openingHours } } }";
    let done = s
        .ok(&admin.auth(), update, json!({ "i": { "name": "Profile Optical Ltd", "phone": "+44 20 7946 0000",
            "website": "https://profile.example", "openingHours": "Mon-Fri 9-17", "address": "1 High St" } }))
        .await;
    assert_eq!(
        done["updateCompanyProfile"]["company"]["name"],
        "Profile Optical Ltd"
    );
    assert_eq!(
        done["updateCompanyProfile"]["company"]["id"],
        json!(admin.company_id)
    );
    assert_eq!(
        done["updateCompanyProfile"]["company"]["website"],
        "https://profile.example"
    );
    let (_, bad) = s
        .post(
            &admin.auth(),
            update,
            json!({ "i": { "website": "javascript:alert(1)" } }),
        )
        .await;
    assert_eq!(first_code(&bad).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(
        bad["errors"][0]["extensions"]["field"],
        json!("input.website")
    );
    let me = s.ok(&admin.auth(), ME, json!({})).await;
    assert_eq!(
        me["me"]["company"]["name"], "Profile Optical Ltd",
        "a refused update changes nothing"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_authenticate_until_revoked() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Partner Optical", "ECP", &email("keys")).await;
    let create = "mutation { createApiKey(input: { name: \"LMS connector\", role: STAFF }) { secret apiKey { id name role prefix persistedOnly } } }";
    let created = s.ok(&admin.auth(), create, json!({})).await;
    let secret = created["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = created["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        secret.starts_with(
            created["createApiKey"]["apiKey"]["prefix"]
                .as_str()
                .unwrap()
        )
    );

    let key = Auth::ApiKey(secret.clone());
    let users = s
        .ok(
            &key,
            "{ users { edges { node { email } } } me { user { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        nodes(&users["users"]).len(),
        1,
        "the key acts for its company"
    );
    assert_eq!(
        users["me"]["user"],
        serde_json::Value::Null,
        "an API key is not a user"
    );
    assert_eq!(
        s.error_code(&key, create, json!({})).await,
        "FORBIDDEN",
        "a STAFF key cannot make keys"
    );

    let listed = s
        .ok(
            &admin.auth(),
            "{ apiKeys { edges { node { id name lastUsedAt } } } }",
            json!({}),
        )
        .await;
    assert!(
        !listed.to_string().contains(&secret),
        "secrets are never listed"
    );
    assert!(listed["apiKeys"]["edges"][0]["node"]["lastUsedAt"].is_string());

    let revoked = s
        .ok(
            &admin.auth(),
            "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id revokedAt } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert!(revoked["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
    assert_eq!(revoked["revokeApiKey"]["apiKey"]["id"], json!(key_id));
    let (status, body) = s
        .post(&key, "{ users { edges { node { email } } } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(first_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    assert!(body.get("data").is_none_or(|d| d.is_null()));

    // A persisted-only key cannot run ad-hoc operations.
    let po = s.ok(&admin.auth(), "mutation { createApiKey(input: { name: \"Locked\", role: STAFF, persistedOnly: true }) { secret apiKey { persistedOnly } } }", json!({})).await;
    assert_eq!(po["createApiKey"]["apiKey"]["persistedOnly"], true);
    let po = Auth::ApiKey(po["createApiKey"]["secret"].as_str().unwrap().to_owned());
    assert_eq!(
        s.error_code(&po, "{ users { edges { node { email } } } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_api_key_cannot_manage_people_or_keys() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Keyed Optical", "ECP", &email("keyed")).await;
    let made = s
        .ok(
            &admin.auth(),
            "mutation { createApiKey(input: { name: \"LMS\", role: COMPANY_ADMIN }) { secret } }",
            json!({}),
        )
        .await;
    let key = Auth::ApiKey(made["createApiKey"]["secret"].as_str().unwrap().to_owned());
    // It acts for the company (reads, the profile) ...
    let renamed = s
        .ok(
            &key,
            "mutation { updateCompanyProfile(input: { phone: \"+44 20 7946 0001\" }) { company { phone } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        renamed["updateCompanyProfile"]["company"]["phone"],
        "+44 20 7946 0001"
    );
    // ... but cannot create people or credentials that would outlive it.
    for q in [
        "mutation { inviteUser(input: { email: \"x@keyed.example\", role: COMPANY_ADMIN }) { token } }",
        "mutation { createApiKey(input: { name: \"child\", role: COMPANY_ADMIN }) { secret } }",
    ] {
        assert_eq!(s.error_code(&key, q, json!({})).await, "FORBIDDEN", "{q}");
    }
    let own_key = s
        .ok(
            &admin.auth(),
            "{ apiKeys { edges { node { id } } } }",
            json!({}),
        )
        .await["apiKeys"]["edges"][0]["node"]["id"]
        .clone();
    let inv = s.ok(&admin.auth(), "mutation { inviteUser(input: { email: \"y@keyed.example\", role: STAFF }) { invitation { id } } }", json!({})).await;
    for (q, id) in [
        (
            "mutation($u: ID!) { changeUserRole(input: { userId: $u, role: STAFF }) { user { id } } }",
            json!(admin.user_id),
        ),
        (
            "mutation($u: ID!) { deactivateUser(input: { userId: $u }) { user { id } } }",
            json!(admin.user_id),
        ),
        (
            "mutation($u: ID!) { revokeApiKey(input: { id: $u }) { apiKey { id } } }",
            own_key,
        ),
        (
            "mutation($u: ID!) { revokeInvitation(input: { id: $u }) { invitation { id } } }",
            inv["inviteUser"]["invitation"]["id"].clone(),
        ),
    ] {
        assert_eq!(
            s.error_code(&key, q, json!({ "u": id })).await,
            "FORBIDDEN",
            "{q}"
        );
    }
    let keys = s
        .ok(
            &admin.auth(),
            "{ apiKeys { edges { node { name } } } invitations { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(nodes(&keys["apiKeys"]).len(), 1, "no child key was made");
    assert_eq!(
        nodes(&keys["invitations"]).len(),
        1,
        "only the admin's own invitation"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_company_cannot_refresh_its_sessions() {
    let s = TestServer::start().await;
    let lab = s.sign_up("Doomed Lab", "LAB", &email("doomed")).await;
    let pa = s.platform_admin().await;
    let reject = "mutation($id: ID!) { rejectCompany(input: { id: $id, reason: \"Unverified\" }) { company { status } } }";
    s.ok(&pa.auth(), reject, json!({ "id": lab.company_id }))
        .await;
    assert_eq!(
        refresh(&s, &lab.refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_give_one_session() {
    let s = TestServer::start().await;
    let a = s.sign_up("Racing Optical", "ECP", &email("race")).await;
    let results = futures_util::future::join_all((0..6).map(|_| refresh(&s, &a.refresh))).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    // The losers presented a used token, which (as the contract says) revokes the family:
    // even the winner's new token is dead, and the user signs in again.
    assert_eq!(
        refresh(&s, &winners[0].refresh).await.unwrap_err(),
        "UNAUTHENTICATED"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|code| code == "UNAUTHENTICATED"),
        "{results:?}"
    );
    s.finish().await;
}
