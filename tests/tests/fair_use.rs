//! Fair use (issue 22): rate and cost budgets per API key, user, company and anonymous
//! address, answered with 429, `RATE_LIMITED`, `retryAfter`, `Retry-After` and the IETF
//! `RateLimit-Policy` / `RateLimit` headers; over a WebSocket an `error` message; one
//! budget shared by replicas through Redis, and per process (never none) while Redis is
//! away. Plans: what each includes, `PLAN_LIMIT` beyond it, changes asked for and set.

use ils_tests::private::{self, PrivateRedis};
use ils_tests::{Auth, Session, TestServer, create_api_key, create_key, email, ws};
use serde_json::{Value, json};
use std::time::Duration;

const ME: &str = "{ me { company { id } } }";

/// One POST of `query`: status, the two rate-limit headers, `Retry-After`, and the body.
struct Answer {
    status: u16,
    policy: Option<String>,
    state: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

async fn ask(s: &TestServer, auth: &Auth, query: &str) -> Answer {
    ask_body(s, auth, json!({ "query": query })).await
}

/// One POST of `body` (a request, or a batch as an array).
async fn ask_body(s: &TestServer, auth: &Auth, body: Value) -> Answer {
    let req = s.http.post(s.url("/graphql")).json(&body);
    let resp = auth.apply(req).send().await.expect("request sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (policy, state, retry_after) = (
        header("ratelimit-policy"),
        header("ratelimit"),
        header("retry-after"),
    );
    Answer {
        status: resp.status().as_u16(),
        policy,
        state,
        retry_after,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// `r=` of the `requests` item of a `RateLimit` header.
fn requests_left(state: &str) -> u64 {
    let item = state
        .split(", ")
        .find(|i| i.starts_with("\"requests\""))
        .unwrap_or_else(|| panic!("no requests item in {state}"));
    item.split(';')
        .find_map(|p| p.strip_prefix("r="))
        .unwrap()
        .parse()
        .unwrap()
}

/// Sends `body(i)` as `who`, for i = 0, 1, …, until the budget refuses one (429; at most
/// 7 are sent). Each answer before it is checked by `check` and must have drawn one
/// request: its `RateLimit` shows fewer left than the answer before. Returns the refusal.
async fn until_refused(
    s: &TestServer,
    who: &Session,
    body: impl Fn(usize) -> Value,
    check: impl Fn(usize, &Value),
) -> Answer {
    let mut left = Vec::new();
    for i in 0..7 {
        let answer = ask_body(s, &who.auth(), body(i)).await;
        if answer.status == 429 {
            assert!(
                left.windows(2).all(|w: &[u64]| w[1] < w[0]),
                "each of them drew one: {left:?}"
            );
            return answer;
        }
        check(i, &answer.body);
        left.push(requests_left(
            &answer.state.expect("RateLimit on every answer"),
        ));
    }
    panic!("the budget is spent by these requests too: {left:?}");
}

async fn started(adjust: impl FnOnce(&mut ils_api::config::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.rate_limits = true;
        adjust(c);
    })
    .await
}

/// Sets `company`'s budgets (platform admin) and waits until its requests are drawn on
/// them (the change reaches the limiter through the event bus).
async fn set_budgets(s: &TestServer, pa: &Session, who: &Session, budgets: Value, policy: &str) {
    let mut input = budgets;
    input["companyId"] = json!(who.company_id.clone().unwrap());
    s.ok(
        &pa.auth(),
        "mutation($i: SetCompanyRateLimitsInput!) { setCompanyRateLimits(input: $i) { company { id } } }",
        json!({ "i": input }),
    )
    .await;
    ils_tests::eventually("the new budgets apply", Duration::from_secs(10), || async {
        let a = ask(s, &who.auth(), "{ __typename }").await;
        match a.policy {
            Some(p) if p.contains(policy) => Ok(()),
            other => Err(format!("policy {other:?}")),
        }
    })
    .await;
}

#[tokio::test]
async fn a_spent_request_budget_is_429_with_when_to_come_back_and_others_go_on() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Budget Optics", "ECP", &email("budget-a")).await;
    let b = s
        .sign_up_free("Other Optics", "ECP", &email("budget-b"))
        .await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 6, "pointsPerMinute": 100000 } }),
        "\"requests\";q=6;w=60",
    )
    .await;
    // The budget refills a request every 10 s: what the wait above left is spent now.
    let mut refused = None;
    for _ in 0..8 {
        let answer = ask(&s, &a.auth(), ME).await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        let state = answer.state.expect("RateLimit on every answer");
        assert!(answer.policy.unwrap().contains("\"cost\";q=100000;w=60"));
        assert!(requests_left(&state) < 6, "{state}");
    }
    let refused = refused.expect("the seventh request in a minute is refused");
    let e = &refused.body["errors"][0];
    assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{}", refused.body);
    assert_eq!(e["extensions"]["limit"], "USER");
    assert_eq!(e["extensions"]["budget"], "requests");
    let retry = e["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(
        refused.retry_after.as_deref(),
        Some(retry.to_string().as_str())
    );
    assert!(refused.body.get("data").is_none(), "{}", refused.body);
    assert_eq!(requests_left(&refused.state.unwrap()), 0);

    // Another company's caller is not held up: its own budget, untouched.
    let other = ask(&s, &b.auth(), ME).await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(other.policy.unwrap().contains("\"requests\";q=300;w=60"));
    assert_eq!(requests_left(&other.state.unwrap()), 299);
    s.finish().await;
}

#[tokio::test]
async fn a_query_costlier_than_what_is_left_is_refused_and_answers_nothing() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Cost Optics", "ECP", &email("cost")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 1000, "pointsPerMinute": 60 } }),
        "\"cost\";q=60;w=60",
    )
    .await;
    // Ten aliases of `me`'s company: 40 points. The first passes; the second costs more
    // than the 20 or so left of 60 a minute.
    let costly = format!(
        "{{ {} }}",
        (0..10)
            .map(|i| format!("a{i}: me {{ company {{ id name }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let first = ask(&s, &a.auth(), &costly).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let state = first.state.unwrap();
    assert!(state.contains("\"cost\";r="), "{state}");
    let answer = ask(&s, &a.auth(), &costly).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    let e = &answer.body["errors"][0];
    assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{}", answer.body);
    assert_eq!(e["extensions"]["budget"], "cost");
    assert!(answer.retry_after.is_some());
    assert!(
        answer.body.get("data").is_none(),
        "the refusal is the whole answer: {}",
        answer.body
    );
    s.finish().await;
}

/// A query runs while its draw is on its way, and its answer waits for the verdict: a
/// refusal replaces it. A mutation waits for its verdict before it runs, so a refused one
/// changes nothing. A caller refused within its retry-after waits for the verdict before
/// anything runs: its refused queries send no SQL at all.
#[tokio::test]
async fn a_refused_mutation_changes_nothing_and_a_held_caller_runs_nothing() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Held Optics", "ECP", &email("held")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 6, "pointsPerMinute": 100000 } }),
        "\"requests\";q=6;w=60",
    )
    .await;
    let user = ils_tests::uuid_of(&a.user_id).to_string();
    let mine = |sent: &[sea_orm::Statement]| {
        sent.iter()
            .filter(|st| format!("{st:?}").contains(&user))
            .count()
    };
    // An answered `me` reads as its user: its statements carry the user's ID.
    s.server.statements.record();
    let first = ask(&s, &a.auth(), ME).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let sent = s.server.statements.take_recorded();
    assert!(mine(&sent) > 0, "{user} in {sent:#?}");
    let mut refused = false;
    for _ in 0..8 {
        let answer = ask(&s, &a.auth(), ME).await;
        if answer.status == 429 {
            assert!(answer.body.get("data").is_none(), "{}", answer.body);
            refused = true;
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.body["data"]["me"]["company"]["id"],
            json!(a.company_id)
        );
    }
    assert!(refused, "the seventh request in a minute is refused");

    // Held: refused again, and not one statement read as this user.
    s.server.statements.record();
    for _ in 0..3 {
        let answer = ask(&s, &a.auth(), ME).await;
        assert_eq!(answer.status, 429, "{}", answer.body);
        assert_eq!(
            answer.body["errors"][0]["extensions"]["code"],
            "RATE_LIMITED"
        );
        assert!(answer.body.get("data").is_none(), "{}", answer.body);
    }
    let sent = s.server.statements.take_recorded();
    assert_eq!(mine(&sent), 0, "{sent:#?}");

    // A refused mutation never runs: the one write it causes is its audit entry (the
    // attempt, refused).
    s.server.statements.record();
    let phone = "mutation { updateCompanyProfile(input: { phone: \"+44 20 7946 0003\" }) { company { phone } } }";
    let mutation = ask(&s, &a.auth(), phone).await;
    assert_eq!(mutation.status, 429, "{}", mutation.body);
    assert_eq!(
        mutation.body["errors"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
    assert!(mutation.body.get("data").is_none(), "{}", mutation.body);
    let sent = s.server.statements.take_recorded();
    let company = ils_tests::uuid_of(a.company_id.as_deref().unwrap()).to_string();
    let writes: Vec<&str> = sent
        .iter()
        .filter(|st| {
            let st = format!("{st:?}");
            st.contains(&user) || st.contains(&company)
        })
        .map(|st| st.sql.as_str())
        .filter(|sql| {
            ["INSERT", "UPDATE", "DELETE"]
                .iter()
                .any(|w| sql.starts_with(w))
        })
        .collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(
        writes[0].starts_with("INSERT INTO \"audit_log\""),
        "{writes:#?}"
    );

    // A hold only makes the caller wait for its verdict: with a larger budget its
    // requests are answered again, and the refused mutation had changed nothing.
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 1000, "pointsPerMinute": 100000 } }),
        "\"requests\";q=1000;w=60",
    )
    .await;
    // (The spent budget's time still counts against the new one: a request is admitted
    // again within moments.)
    let company = ils_tests::eventually("answered again", Duration::from_secs(10), || async {
        let a = ask(&s, &a.auth(), "{ me { company { phone } } }").await;
        match a.status {
            200 => Ok(a.body),
            other => Err(format!("{other}: {}", a.body)),
        }
    })
    .await;
    assert!(company["data"]["me"]["company"].is_object(), "{company}");
    assert_ne!(
        company["data"]["me"]["company"]["phone"],
        json!("+44 20 7946 0003"),
        "{company}"
    );
    s.finish().await;
}

/// A request draws its request with its cost once validated; one that never gets there
/// (a document that does not parse) still draws its request when its answer is ready, and
/// is refused like any other once the budget is spent.
#[tokio::test]
async fn requests_that_never_reach_validation_still_draw_and_are_refused() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Junk Optics", "ECP", &email("junk")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 5, "pointsPerMinute": 100000 } }),
        "\"requests\";q=5;w=60",
    )
    .await;
    // By turns: a document that does not parse, and a persisted ID nobody published.
    let unknown = json!({ "extensions": { "persistedQuery": { "version": 1,
        "sha256Hash": "0000000000000000000000000000000000000000000000000000000000000000" } } });
    let kind = |i: usize| {
        if i.is_multiple_of(2) {
            (
                json!({ "query": "{ me { company { id } " }),
                "GRAPHQL_PARSE_FAILED",
            )
        } else {
            (unknown.clone(), "PERSISTED_QUERY_NOT_FOUND")
        }
    };
    let refused = until_refused(
        &s,
        &a,
        |i| kind(i).0,
        |i, body| assert_eq!(body["errors"][0]["extensions"]["code"], kind(i).1, "{body}"),
    )
    .await;
    let e = &refused.body["errors"][0];
    assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{}", refused.body);
    assert_eq!(e["extensions"]["budget"], "requests");
    assert!(refused.retry_after.is_some());
    // A valid request is refused the same way now, in its one draw with its cost.
    let valid = ask(&s, &a.auth(), ME).await;
    assert_eq!(valid.status, 429, "{}", valid.body);
    assert!(valid.body.get("data").is_none(), "{}", valid.body);
    s.finish().await;
}

/// A document of several queries sent without an operation name is refused after
/// validation, without running: it still draws its request, and is refused by its budget
/// like any other once it is spent.
#[tokio::test]
async fn a_document_whose_operation_is_not_named_still_draws() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Unnamed Optics", "ECP", &email("unnamed")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 5, "pointsPerMinute": 100000 } }),
        "\"requests\";q=5;w=60",
    )
    .await;
    let two = "query A { me { company { id } } } query B { me { company { name } } }";
    let refused = until_refused(
        &s,
        &a,
        |_| json!({ "query": two }),
        |_, body| {
            assert!(body.get("data").is_none_or(Value::is_null), "{body}");
            assert!(body["errors"][0]["message"].is_string(), "{body}");
        },
    )
    .await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{}",
        refused.body
    );
    s.finish().await;
}

/// A batch draws all its requests before any of its documents runs: one that does not fit
/// in what is left is refused whole, and none of it runs.
#[tokio::test]
async fn a_batch_is_drawn_whole_before_it_runs() {
    let s = started(|c| c.max_batch = 5).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Batch Optics", "ECP", &email("batch")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 4, "pointsPerMinute": 100000 } }),
        "\"requests\";q=4;w=60",
    )
    .await;
    // The wait above drew one or more; spend what is left but one.
    let mut left = requests_left(&ask(&s, &a.auth(), ME).await.state.unwrap());
    while left > 1 {
        left = requests_left(&ask(&s, &a.auth(), ME).await.state.unwrap());
    }
    let phone = "mutation { updateCompanyProfile(input: { phone: \"+44 20 7946 0999\" }) { company { phone } } }";
    let batch = json!([{ "query": ME }, { "query": phone }]);
    let answer = ask_body(&s, &a.auth(), batch).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["budget"], "requests",
        "{}",
        answer.body
    );
    // The one request left is still there, and the mutation never ran.
    let after = ask(&s, &a.auth(), "{ me { company { phone } } }").await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_ne!(
        after.body["data"]["me"]["company"]["phone"], "+44 20 7946 0999",
        "{}",
        after.body
    );
    s.finish().await;
}

/// One anonymous request through a proxy that says the client is `client`.
async fn via_proxy(s: &TestServer, client: &str) -> u16 {
    s.http
        .post(s.url("/graphql"))
        .header("x-forwarded-for", format!("198.51.100.77, {client}"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

/// Behind a proxy the operator trusts (`ILS_TRUSTED_PROXIES`), each client has its own
/// anonymous budget, by the address the proxy appended (what the client wrote to the
/// left of it is not believed); from anyone else `X-Forwarded-For` is ignored, so a client
/// cannot get a fresh budget by writing the header itself.
#[tokio::test]
async fn anonymous_budgets_follow_the_client_behind_a_trusted_proxy_only() {
    let s = started(|c| {
        c.anonymous_requests_per_minute = 2;
        c.trusted_proxies = vec!["127.0.0.1".into(), "::1".into()];
    })
    .await;
    assert_eq!(via_proxy(&s, "203.0.113.5").await, 200);
    assert_eq!(via_proxy(&s, "203.0.113.5").await, 200);
    assert_eq!(via_proxy(&s, "203.0.113.5").await, 429);
    assert_eq!(via_proxy(&s, "203.0.113.6").await, 200, "another client");
    // Two addresses of one IPv6 /64 are one subscriber line: one budget.
    assert_eq!(via_proxy(&s, "2001:db8:7:7::1").await, 200);
    assert_eq!(via_proxy(&s, "2001:db8:7:7::2").await, 200);
    assert_eq!(via_proxy(&s, "2001:db8:7:7::3").await, 429);
    s.finish().await;

    let s = started(|c| c.anonymous_requests_per_minute = 2).await;
    assert_eq!(via_proxy(&s, "203.0.113.5").await, 200);
    assert_eq!(via_proxy(&s, "203.0.113.6").await, 200);
    assert_eq!(
        via_proxy(&s, "203.0.113.7").await,
        429,
        "no proxy is trusted: every header names the same caller"
    );
    s.finish().await;
}

#[tokio::test]
async fn anonymous_callers_share_their_address_budget() {
    let s = started(|c| c.anonymous_requests_per_minute = 3).await;
    for i in 0..3 {
        let a = ask(&s, &Auth::None, "{ __typename }").await;
        assert_eq!(a.status, 200, "request {i}: {}", a.body);
    }
    let a = ask(&s, &Auth::None, "{ __typename }").await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["errors"][0]["extensions"]["limit"], "ANONYMOUS");
    s.finish().await;
}

#[tokio::test]
async fn an_api_key_at_its_limit_leaves_other_keys_their_own_budget() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Keyed Optics", "ECP", &email("keyed")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "apiKey": { "requestsPerMinute": 2, "pointsPerMinute": 100000 } }),
        "\"requests\"",
    )
    .await;
    let (k1, k2) = (
        Auth::ApiKey(create_api_key(&s, &a, "one").await.1),
        Auth::ApiKey(create_api_key(&s, &a, "two").await.1),
    );
    for _ in 0..2 {
        assert_eq!(ask(&s, &k1, ME).await.status, 200);
    }
    let refused = ask(&s, &k1, ME).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["errors"][0]["extensions"]["limit"], "API_KEY");
    let other = ask(&s, &k2, ME).await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(requests_left(&other.state.unwrap()), 1);
    s.finish().await;
}

#[tokio::test]
async fn a_socket_over_its_budget_gets_an_error_message() {
    let s = started(|_| {}).await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Socket Optics", "ECP", &email("socket")).await;
    set_budgets(
        &s,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": 3, "pointsPerMinute": 100000 } }),
        "\"requests\";q=3;w=60",
    )
    .await;
    let mut w = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut w, &a.auth()).await;
    // Whatever the wait left, the budget is spent within three subscribes.
    let mut error = None;
    for i in 0..4 {
        let id = format!("q{i}");
        ws::send(
            &mut w,
            json!({ "id": id, "type": "subscribe", "payload": { "query": ME } }),
        )
        .await;
        let msg = ws::recv_json(&mut w).await;
        if msg["type"] == "error" {
            error = Some(msg);
            break;
        }
        assert_eq!(msg["type"], "next", "{msg}");
        assert_eq!(ws::recv_json(&mut w).await["type"], "complete");
    }
    let msg = error.expect("an error message once the budget is spent");
    assert_eq!(
        msg["payload"][0]["extensions"]["code"], "RATE_LIMITED",
        "{msg}"
    );
    assert!(
        msg["payload"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // The legacy graphql-ws protocol: each `start` draws a request too, and a refused one
    // is a result of errors without data.
    let b = s.sign_up("Legacy Optics", "ECP", &email("legacy")).await;
    set_budgets(
        &s,
        &pa,
        &b,
        json!({ "user": { "requestsPerMinute": 3, "pointsPerMinute": 100000 } }),
        "\"requests\";q=3;w=60",
    )
    .await;
    let mut w = ws::connect(&s, ws::LEGACY_WS).await;
    ws::init(&mut w, &b.auth()).await;
    let mut refused = None;
    for i in 0..4 {
        let payload = ws::run(&mut w, ws::LEGACY_WS, &format!("l{i}"), ME).await;
        if payload["errors"].is_array() {
            refused = Some(payload);
            break;
        }
        assert!(payload["data"]["me"].is_object(), "{payload}");
    }
    let payload = refused.expect("a refusal once the budget is spent");
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{payload}"
    );
    assert!(payload["data"].is_null(), "{payload}");
    s.finish().await;
}

/// Two replicas on one database and one Redis: one budget, not one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sharing_redis_keep_one_budget() {
    let Some(redis) = ils_tests::redis_url() else {
        eprintln!("TEST_REDIS_URL not set: replicas share budgets only through Redis");
        return;
    };
    let prefix = format!("ils-test-{}", uuid::Uuid::new_v4().simple());
    let p1 = prefix.clone();
    let s1 = started(move |c| c.redis_prefix = p1).await;
    let (url, r2, p2) = (s1.database_url.clone(), redis.clone(), prefix.clone());
    let s2 = TestServer::start_at(url, tempfile::tempdir().unwrap(), move |c| {
        c.rate_limits = true;
        c.redis_url = Some(r2);
        c.redis_prefix = p2;
        c.workers = 0;
    })
    .await;
    let pa = s1.platform_admin().await;
    let a = s1.sign_up("Shared Optics", "ECP", &email("shared")).await;
    const LIMIT: u64 = 200;
    set_budgets(
        &s1,
        &pa,
        &a,
        json!({ "user": { "requestsPerMinute": LIMIT, "pointsPerMinute": 10000000 } }),
        "\"requests\";q=200;w=60",
    )
    .await;
    // Both replicas read the new budgets (the second within its plan cache's 30 s).
    ils_tests::eventually(
        "replica 2 applies them",
        Duration::from_secs(40),
        || async {
            match ask(&s2, &a.auth(), "{ __typename }").await.policy {
                Some(p) if p.contains("q=200;") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    // Spent down to nothing, then 3 × LIMIT requests alternating between the replicas
    // as fast as they answer: what passes is what refills meanwhile (200 a minute).
    while ask(&s1, &a.auth(), "{ __typename }").await.status == 200 {}
    let started_at = std::time::Instant::now();
    let mut passed = 0u64;
    for i in 0..3 * LIMIT {
        let s = if i % 2 == 0 { &s1 } else { &s2 };
        if ask(s, &a.auth(), "{ __typename }").await.status == 200 {
            passed += 1;
        }
    }
    let secs = started_at.elapsed().as_secs_f64();
    let refilled = LIMIT as f64 * secs / 60.0;
    // One budget: what refilled, ±5 % of the limit (and 1 for the moment of each ends).
    let slack = 0.05 * LIMIT as f64 + 1.0;
    eprintln!(
        "{passed} of {} passed in {secs:.1} s; {refilled:.1} refilled",
        3 * LIMIT
    );
    assert!(
        (passed as f64 - refilled).abs() <= slack,
        "{passed} passed, {refilled:.1} refilled in {secs:.1} s: not one shared budget"
    );
    s2.finish().await;
    s1.finish().await;
}

/// Redis gone: each process keeps budgets alone (logged, `/readyz` says so), never none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_budgets_are_per_process_never_none() {
    if !private::require() {
        return;
    }
    let mut redis = PrivateRedis::start();
    let r = redis.url();
    let s = started(move |c| {
        c.redis_url = Some(r);
        c.anonymous_requests_per_minute = 4;
    })
    .await;
    for _ in 0..4 {
        assert_eq!(ask(&s, &Auth::None, "{ __typename }").await.status, 200);
    }
    assert_eq!(ask(&s, &Auth::None, "{ __typename }").await.status, 429);
    redis.down();
    // The fallback starts with whole budgets: 4 pass, then it refuses.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(ask(&s, &Auth::None, "{ __typename }").await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let ready: Value = s
        .http
        .get(s.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["rateLimits"], "degraded: budgets per process",
        "{ready}"
    );
    s.finish().await;
}

const KEY: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }";

async fn plan_of(s: &TestServer, who: &Session) -> Value {
    s.ok(
        &who.auth(),
        "{ me { company { plan requestedPlan includes { apiKeys analytics apiKeyBudget { requestsPerMinute } } } } }",
        json!({}),
    )
    .await["me"]["company"]
        .clone()
}

#[tokio::test]
async fn plans_limit_new_use_name_what_lifts_it_and_never_break_reads() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let p = s.sign_up_free("Plan Optics", "ECP", &email("plan")).await;
    let lab = s.sign_up("Plan Lab", "LAB", &email("plan-lab")).await;

    // The price list, for anyone.
    let plans = s
        .ok(
            &Auth::None,
            "{ plans { plan users apiKeys monthlyOrders analytics } }",
            json!({}),
        )
        .await;
    assert_eq!(plans["plans"][0]["plan"], "FREE_ECP");
    assert_eq!(plans["plans"][0]["apiKeys"], 2);
    assert_eq!(plans["plans"][1]["plan"], "FULL");
    assert_eq!(plans["plans"][1]["monthlyOrders"], Value::Null);

    let c = plan_of(&s, &p).await;
    assert_eq!(c["plan"], "FREE_ECP");
    assert_eq!(c["includes"]["apiKeys"], 2);
    assert_eq!(plan_of(&s, &lab).await["plan"], "FULL");

    // Two keys on the free plan; the third is PLAN_LIMIT, naming the plan that lifts it.
    for n in ["a", "b"] {
        create_key(&s, &p, n).await;
    }
    let input = json!({ "i": { "name": "c", "role": "STAFF" } });
    let e = s.error(&p.auth(), KEY, input.clone()).await;
    assert_eq!(e["extensions"]["code"], "PLAN_LIMIT", "{e}");
    assert_eq!(e["extensions"]["limit"], "apiKeys");
    assert_eq!(e["extensions"]["max"], 2);
    assert_eq!(e["extensions"]["plan"], "FULL");
    // A feature of the full plan: dashboards.
    let e = s
        .error(
            &p.auth(),
            "{ dashboard(period: { from: \"2026-01-01\", to: \"2026-01-31\" }) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "PLAN_LIMIT", "{e}");
    assert_eq!(e["extensions"]["limit"], "analytics");

    // Asking for the full plan waits for a platform admin.
    const REQUEST: &str = "mutation($i: RequestPlanChangeInput!) { requestPlanChange(input: $i) { pending company { plan requestedPlan } } }";
    let r = s
        .ok(&p.auth(), REQUEST, json!({ "i": { "plan": "FULL" } }))
        .await;
    assert_eq!(r["requestPlanChange"]["pending"], true);
    assert_eq!(r["requestPlanChange"]["company"]["plan"], "FREE_ECP");
    assert_eq!(r["requestPlanChange"]["company"]["requestedPlan"], "FULL");
    // Only a platform admin sets it.
    const SET: &str = "mutation($i: SetCompanyPlanInput!) { setCompanyPlan(input: $i) { company { plan requestedPlan } } }";
    let set = json!({ "i": { "companyId": p.company_id, "plan": "FULL" } });
    assert_eq!(s.error_code(&p.auth(), SET, set.clone()).await, "FORBIDDEN");
    let r = s.ok(&pa.auth(), SET, set).await;
    assert_eq!(r["setCompanyPlan"]["company"]["plan"], "FULL");
    assert_eq!(r["setCompanyPlan"]["company"]["requestedPlan"], Value::Null);
    s.ok(&p.auth(), KEY, input.clone()).await;
    s.ok(
        &p.auth(),
        "{ dashboard(period: { from: \"2026-01-01\", to: \"2026-01-31\" }) { kind } }",
        json!({}),
    )
    .await;
    // The plan is a person's choice: an API key, even an admin's, cannot change it.
    let made = s
        .ok(
            &p.auth(),
            "mutation { createApiKey(input: { name: \"admin\", role: COMPANY_ADMIN }) { secret } }",
            json!({}),
        )
        .await;
    let admin_key = Auth::ApiKey(made["createApiKey"]["secret"].as_str().unwrap().to_owned());
    assert_eq!(
        s.error_code(&admin_key, REQUEST, json!({ "i": { "plan": "FREE_ECP" } }))
            .await,
        "FORBIDDEN"
    );

    // Back to the free plan: at once, and the four keys are still there.
    let r = s
        .ok(&p.auth(), REQUEST, json!({ "i": { "plan": "FREE_ECP" } }))
        .await;
    assert_eq!(r["requestPlanChange"]["pending"], false);
    assert_eq!(r["requestPlanChange"]["company"]["plan"], "FREE_ECP");
    let keys = s
        .ok(&p.auth(), "{ apiKeys { nodes { name } } }", json!({}))
        .await;
    assert_eq!(
        keys["apiKeys"]["nodes"].as_array().unwrap().len(),
        4,
        "{keys}"
    );
    let e = s
        .error(
            &p.auth(),
            KEY,
            json!({ "i": { "name": "d", "role": "STAFF" } }),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "PLAN_LIMIT", "{e}");

    // The free plan is for practices.
    let e = s
        .error(&lab.auth(), REQUEST, json!({ "i": { "plan": "FREE_ECP" } }))
        .await;
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
    let e = s
        .error(
            &pa.auth(),
            SET,
            json!({ "i": { "companyId": lab.company_id, "plan": "FREE_ECP" } }),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
    s.finish().await;
}

const USAGE: &str = "query($p: UsagePeriodInput!) { usage(period: $p) {
    caller apiKeyId userId operation requests points refusals errors } }";

#[tokio::test]
async fn usage_is_counted_per_caller_and_operation_and_each_sees_only_its_own() {
    let s = started(|c| c.max_batch = 5).await;
    let a = s.sign_up("Usage Optics", "ECP", &email("usage-a")).await;
    let b = s.sign_up("Nosy Optics", "ECP", &email("usage-b")).await;
    let (key_id, secret) = create_api_key(&s, &a, "partner").await;
    let key = Auth::ApiKey(secret);
    let named = |name: &str| format!("query {name} {{ me {{ company {{ id }} }} }}");
    for _ in 0..3 {
        assert_eq!(ask(&s, &a.auth(), &named("Mine")).await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(ask(&s, &key, &named("Partner")).await.status, 200);
    }
    // A document that fails is an error of its operation.
    ask(&s, &key, "query Broken { me { nope } }").await;
    // One that does not even parse is one too (counted when its request is drawn), and
    // each request of a batch counts once.
    ask_body(
        &s,
        &a.auth(),
        json!({ "query": "query Junk { me ", "operationName": "Junk" }),
    )
    .await;
    let batch = json!([
        { "query": named("BatchOne"), "operationName": "BatchOne" },
        { "query": named("BatchTwo"), "operationName": "BatchTwo" }
    ]);
    assert_eq!(ask_body(&s, &a.auth(), batch).await.status, 200);
    let today = chrono::Utc::now().date_naive().to_string();
    let period = json!({ "p": { "from": today, "to": today } });
    let entries = |v: &Value| v["usage"].as_array().unwrap().clone();
    let all = ils_tests::eventually(
        "the counts are flushed",
        Duration::from_secs(20),
        || async {
            let u = entries(&s.ok(&a.auth(), USAGE, period.clone()).await);
            let partner = u.iter().find(|e| e["operation"] == "Partner");
            match partner {
                Some(p) if p["requests"] == 2 => Ok(u),
                _ => Err(format!("{u:?}")),
            }
        },
    )
    .await;
    let mine = all.iter().find(|e| e["operation"] == "Mine").expect("Mine");
    assert_eq!(mine["caller"], "USER");
    assert_eq!(mine["userId"], a.user_id.as_str());
    assert_eq!(mine["requests"], 3);
    assert!(mine["points"].as_i64().unwrap() >= 9, "{mine}");
    assert_eq!(
        (mine["refusals"].as_i64(), mine["errors"].as_i64()),
        (Some(0), Some(0))
    );
    let partner = all.iter().find(|e| e["operation"] == "Partner").unwrap();
    assert_eq!(partner["caller"], "API_KEY");
    assert_eq!(partner["apiKeyId"], key_id.as_str());
    let broken = all
        .iter()
        .find(|e| e["operation"] == "Broken")
        .expect("Broken");
    assert_eq!(broken["errors"], 1, "{broken}");
    let junk = all.iter().find(|e| e["operation"] == "Junk").expect("Junk");
    assert_eq!(
        (junk["requests"].as_i64(), junk["errors"].as_i64()),
        (Some(1), Some(1)),
        "{junk}"
    );
    for name in ["BatchOne", "BatchTwo"] {
        let e = all.iter().find(|e| e["operation"] == name).expect(name);
        assert_eq!(
            (
                e["requests"].as_i64(),
                e["errors"].as_i64(),
                e["refusals"].as_i64()
            ),
            (Some(1), Some(0), Some(0)),
            "{e}"
        );
    }

    // The key sees its own use only; another company sees none of it; staff nothing.
    let own = entries(&s.ok(&key, USAGE, period.clone()).await);
    assert!(
        !own.is_empty() && own.iter().all(|e| e["apiKeyId"] == key_id.as_str()),
        "{own:?}"
    );
    let theirs = entries(&s.ok(&b.auth(), USAGE, period.clone()).await);
    assert!(
        theirs.iter().all(|e| e["userId"] == b.user_id.as_str()),
        "another company's usage leaked: {theirs:?}"
    );
    let staff = ils_tests::staff_of(&s, &a).await;
    assert_eq!(
        s.error_code(&staff.auth(), USAGE, period).await,
        "FORBIDDEN"
    );
    s.finish().await;
}

/// A plan's count is taken under the company's row lock: six API keys asked for at once by
/// a free practice (two included) give two keys and four PLAN_LIMIT refusals, never three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn additions_at_once_never_pass_the_plan_together() {
    let s = TestServer::start().await;
    let a = s
        .sign_up_free("Racing Optics", "ECP", &email("racing"))
        .await;
    let asks = (0..6).map(|i| {
        let (s, auth) = (&s, a.auth());
        async move {
            s.post(
                &auth,
                "mutation($n: String!) { createApiKey(input: { name: $n, role: STAFF }) { apiKey { id } } }",
                json!({ "n": format!("racer {i}") }),
            )
            .await
            .1
        }
    });
    let answers = futures_util::future::join_all(asks).await;
    let made = answers
        .iter()
        .filter(|b| b["data"]["createApiKey"]["apiKey"]["id"].is_string())
        .count();
    let refused = answers
        .iter()
        .filter(|b| b["errors"][0]["extensions"]["code"] == "PLAN_LIMIT")
        .count();
    assert_eq!((made, refused), (2, 4), "{answers:#?}");
    let keys = s
        .ok(
            &a.auth(),
            "{ apiKeys(first: 10) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        keys["apiKeys"]["nodes"].as_array().unwrap().len(),
        2,
        "{keys}"
    );
}

/// What makes the test above hold whatever the timing: a count against the plan is taken
/// under `plan::hold`, and a second holder of the same company waits until the first
/// transaction ends. On PostgreSQL that is the company row's lock (without it this test
/// fails); on SQLite the one writer already makes every write transaction wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::disallowed_methods)] // two bare transactions hold the same company, below any request
async fn a_second_count_against_the_plan_waits_for_the_first() {
    let s = TestServer::start().await;
    let a = s
        .sign_up_free("Waiting Optics", "ECP", &email("waiting"))
        .await;
    let company = ils_tests::company_uuid(&a);
    let db = s.server.state.db.clone();
    let first = db.system().await.unwrap();
    let plan = ils_common::plan::hold(&first, company).await.unwrap();
    assert_eq!(plan, ils_common::plan::Plan::FreeEcp);
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let tx = db.system().await.unwrap();
            ils_common::plan::hold(&tx, company).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "the second holder did not wait");
    first.commit().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the second holder goes on once the first has ended")
        .unwrap();
}
