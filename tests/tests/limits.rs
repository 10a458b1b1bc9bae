//! Query limits (depth, complexity, aliases, directives, fragment cycles) and the
//! introspection and suggestion rules. A refused document runs nothing (a refused mutation
//! leaves only its audit record).

#![allow(clippy::disallowed_methods)] // reads the audit table below the guard

use ils_api::config::{Environment, Introspection};
use ils_tests::{Auth, TestServer, email, first_code, sign_up_input};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const REQUEST_ERRORS: [&str; 2] = ["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"];

/// Asserts the request was refused before execution: a request-error code and no data.
fn assert_refused(body: &Value, what: &str) {
    let code = first_code(body);
    assert!(
        code.as_deref().is_some_and(|c| REQUEST_ERRORS.contains(&c)),
        "{what}: expected a request error, got {body}"
    );
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "{what}: refused but returned data: {body}"
    );
}

/// `__schema { types { fields { type { ofType … { name } } } } }`: 5 + `of_types` levels.
fn introspection_depth(of_types: usize) -> String {
    let mut inner = "name".to_owned();
    for _ in 0..of_types {
        inner = format!("ofType {{ {inner} }}");
    }
    format!("{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}")
}

/// The same nesting beside a data field: the document is measured by the data limits.
fn mixed_depth(of_types: usize) -> String {
    introspection_depth(of_types).replacen("{ __schema", "{ me { user { id } } __schema", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_limit() {
    let s = TestServer::start().await;
    let session = s.sign_up("Deep Optics", "ECP", &email("depth")).await;
    // 12 levels: at the limit, allowed.
    let data = s.ok(&session.auth(), &mixed_depth(7), json!({})).await;
    assert!(
        data["__schema"]["types"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(data["me"]["user"]["id"].is_string(), "{data}");

    for of_types in [8, 10, 40] {
        let (_, body) = s
            .post(&session.auth(), &mixed_depth(of_types), json!({}))
            .await;
        assert_refused(&body, &format!("depth {}", 5 + of_types));
    }

    // The same bomb through a chain of fragments.
    let mut doc = "{ me { user { id } } __schema { types { ...F0 } } }".to_owned();
    for i in 0..12 {
        doc.push_str(&format!(
            " fragment F{i} on __Type {{ name ofType {{ ...F{} }} }}",
            i + 1
        ));
    }
    doc.push_str(" fragment F12 on __Type { name }");
    let (status, body) = s.post(&Auth::None, &doc, json!({})).await;
    assert_eq!(status, 200);
    assert_refused(&body, "depth through fragments");

    // The Relay shapes of the schema stay well within the limit.
    let data = s
        .ok(
            &session.auth(),
            "{ users(first: 5) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } }
               me { user { id } company { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["users"]["edges"].as_array().map(Vec::len), Some(1));

    // With application/graphql-response+json a refused document is an HTTP 400.
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": mixed_depth(10) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_refused(&body, "depth, graphql-response+json");
    s.finish().await;
}

/// The query GraphiQL and graphql-codegen send (graphql-js 16's `getIntrospectionQuery`
/// with every option on): 13 levels deep, about 100 fields.
const STANDARD_INTROSPECTION: &str =
    include_str!("../fixtures/graphql/introspection-query.graphql");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_has_limits_of_its_own() {
    let s = TestServer::start().await;
    // A default development server answers the standard query to anyone, in full.
    let (status, body) = s.post(&Auth::None, STANDARD_INTROSPECTION, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "LensOrder"), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

    // Pure introspection up to 20 levels is answered; beyond, refused.
    let data = s.ok(&Auth::None, &introspection_depth(15), json!({})).await;
    assert!(data["__schema"]["types"].is_array());
    for of_types in [16, 40] {
        let (_, body) = s
            .post(&Auth::None, &introspection_depth(of_types), json!({}))
            .await;
        assert_refused(&body, &format!("introspection depth {}", 5 + of_types));
    }

    // Its complexity is bounded too: 40 spreads of a 15-field fragment (600) is refused.
    let doc = format!(
        "{{ __schema {{ {} }} }} fragment F on __Schema {{ {} }}",
        "...F ".repeat(40),
        "types { name kind description } ".repeat(5)
    );
    let (_, body) = s.post(&Auth::None, &doc, json!({})).await;
    assert_refused(&body, "introspection complexity");

    // A root fragment spread is not looked into: measured as data, refused at depth 13.
    let doc = format!(
        "{{ ...Q }} fragment Q on Query {{ {} }}",
        &introspection_depth(8)[2..introspection_depth(8).len() - 2]
    );
    let (_, body) = s.post(&Auth::None, &doc, json!({})).await;
    assert_refused(&body, "introspection behind a root spread, depth 13");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_limit_refuses_a_mutation_without_running_it() {
    let s = TestServer::start_with(|c| c.max_depth = 2).await;
    let mail = email("deep-mutation");
    let (_, body) = s
        .post(
            &Auth::None,
            "mutation($input: SignUpInput!) { confirmSignUp(input: { token: \"x\" }) { user { id } } signUp(input: $input) { email } }",
            sign_up_input("Limits Optics", "ECP", &mail),
        )
        .await;
    assert_refused(&body, "depth 3 with max_depth 2");
    s.assert_no_account(&mail).await;

    // Within the limit the same mutation runs.
    sign_up_within_tiny_limits(&s, &mail).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_limit() {
    let s = TestServer::start().await;
    let aliases = |n: usize| {
        (0..n)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let data = s
        .ok(&Auth::None, &format!("{{ {} }}", aliases(30)), json!({}))
        .await;
    assert_eq!(data["a29"], "Query");

    for n in [31, 500] {
        let (_, body) = s
            .post(&Auth::None, &format!("{{ {} }}", aliases(n)), json!({}))
            .await;
        assert_refused(&body, &format!("{n} aliases"));
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED")
        );
    }

    // Aliases in fragments count too.
    let doc = format!(
        "{{ {} ...F }} fragment F on Query {{ {} }}",
        aliases(20),
        (0..11)
            .map(|i| format!("f{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (_, body) = s.post(&Auth::None, &doc, json!({})).await;
    assert_refused(&body, "aliases in a fragment");

    // A mutation with too many aliases does not run.
    let mail = email("alias-mutation");
    let fields = (0..31)
        .map(|i| format!("t{i}: email"))
        .collect::<Vec<_>>()
        .join(" ");
    let (_, body) = s
        .post(
            &Auth::None,
            &format!("mutation($input: SignUpInput!) {{ signUp(input: $input) {{ {fields} }} }}"),
            sign_up_input("Limits Optics", "ECP", &mail),
        )
        .await;
    assert_refused(&body, "31 aliases in a mutation");
    s.assert_no_account(&mail).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directive_limit() {
    let s = TestServer::start().await;
    let directives = |n: usize| " @include(if: true)".repeat(n);
    let data = s
        .ok(
            &Auth::None,
            &format!("{{ __typename{} }}", directives(50)),
            json!({}),
        )
        .await;
    assert_eq!(data["__typename"], "Query");

    for n in [51, 1000] {
        let (_, body) = s
            .post(
                &Auth::None,
                &format!("{{ __typename{} }}", directives(n)),
                json!({}),
            )
            .await;
        assert_refused(&body, &format!("{n} directives"));
    }

    // Unknown directives by the thousand (directive overloading) are refused too.
    let (_, body) = s
        .post(
            &Auth::None,
            &format!("{{ __typename{} }}", " @x".repeat(5000)),
            json!({}),
        )
        .await;
    assert_refused(&body, "5000 unknown directives");

    // Inside a fragment.
    let (_, body) = s
        .post(
            &Auth::None,
            &format!(
                "{{ ...F }} fragment F on Query {{ __typename{} }}",
                directives(51)
            ),
            json!({}),
        )
        .await;
    assert_refused(&body, "51 directives in a fragment");

    // A mutation with a directive flood does not run.
    let mail = email("directive-mutation");
    let (_, body) = s
        .post(
            &Auth::None,
            &format!(
                "mutation($input: SignUpInput!) {{ signUp(input: $input) {{ email{} }} }}",
                directives(51)
            ),
            sign_up_input("Limits Optics", "ECP", &mail),
        )
        .await;
    assert_refused(&body, "51 directives in a mutation");
    s.assert_no_account(&mail).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circular_fragments_are_refused() {
    let s = TestServer::start().await;
    let mail = email("cycle");
    let docs = [
        "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { __typename ...A }"
            .to_owned(),
        "query { ...A } fragment A on Query { __typename ...A }".to_owned(),
        "query { me { ...M } } fragment M on Me { roles ...N } fragment N on Me { platformAdmin ...M }"
            .to_owned(),
    ];
    for doc in &docs {
        let (status, body) = s.post(&Auth::None, doc, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_refused(&body, doc);
    }

    // A cycle next to a mutation: nothing runs.
    let (_, body) = s
        .post(
            &Auth::None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { ...P } }
             fragment P on SignUpPayload { email ...Q }
             fragment Q on SignUpPayload { expiresIn ...P }",
            sign_up_input("Limits Optics", "ECP", &mail),
        )
        .await;
    assert_refused(&body, "cyclic fragments in a mutation");
    s.assert_no_account(&mail).await;
    s.finish().await;
}

/// 14 fields per repetition.
const ME_FIELDS: &str = "me { user { id email firstName lastName role status createdAt } \
                         roles platformAdmin company { id name } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_limit() {
    let s = TestServer::start().await;
    let session = s.sign_up("Complex Optics", "ECP", &email("complex")).await;
    let query = |n: usize| format!("{{ {} }}", ME_FIELDS.repeat(n));

    // 60 × 14 = 840: allowed.
    let data = s.ok(&session.auth(), &query(60), json!({})).await;
    assert!(data["me"]["user"]["email"].is_string(), "{data}");

    // 80 × 14 = 1120 and far beyond: refused.
    for n in [80, 2000] {
        let (_, body) = s.post(&session.auth(), &query(n), json!({})).await;
        assert_refused(&body, &format!("complexity {}", n * 14));
    }

    // Repeated fragment spreads count each time.
    let doc = format!(
        "{{ {} }} fragment F on Query {{ {} }}",
        "...F ".repeat(30),
        ME_FIELDS.repeat(3)
    );
    let (_, body) = s.post(&session.auth(), &doc, json!({})).await;
    assert_refused(&body, "complexity through fragment spreads");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_limit_refuses_a_mutation_without_running_it() {
    let s = TestServer::start_with(|c| c.max_complexity = 5).await;
    let mail = email("complex-mutation");
    let before = s.statements();
    let (_, body) = s
        .post(
            &Auth::None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { email expiresIn }
                a: signUp(input: $input) { email expiresIn } b: signUp(input: $input) { email } }",
            sign_up_input("Limits Optics", "ECP", &mail),
        )
        .await;
    assert_refused(&body, "complexity 8 with max_complexity 5");
    // Nothing ran but the audit record of the refused attempt: one insert (on PostgreSQL
    // after the statement that opens the guarded scope).
    let audit_statements = if s.is_postgres() { 2 } else { 1 };
    assert_eq!(
        s.statements() - before,
        audit_statements,
        "a refused document reached the database"
    );
    s.assert_no_account(&mail).await;
    let conn = s.owner_connection().await;
    let refused = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT count(*) FROM audit_log WHERE operation = 'signUp' \
             AND outcome = 'FAILURE' AND error_code = 'GRAPHQL_VALIDATION_FAILED'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(refused, 1, "the refused mutation is audited");

    // Within the limit the same mutation runs.
    sign_up_within_tiny_limits(&s, &mail).await;
    s.finish().await;
}

/// True when the body carries no introspection data at all.
fn no_schema_data(body: &Value) -> bool {
    body["data"]["__schema"].is_null() && body["data"]["__type"].is_null()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_in_production_needs_a_signed_in_caller() {
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::Auto;
    })
    .await;
    let schema_query = "{ __schema { queryType { name } types { name } } }";
    let type_query = "{ __type(name: \"User\") { fields { name } } }";

    for q in [schema_query, type_query] {
        let (_, body) = s.post(&Auth::None, q, json!({})).await;
        assert!(
            no_schema_data(&body),
            "anonymous introspection in production: {body}"
        );
    }

    // Ordinary anonymous queries still work.
    let data = s.ok(&Auth::None, "{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");

    let session = s.sign_up("Intro Optics", "ECP", &email("intro")).await;
    let data = s.ok(&session.auth(), schema_query, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let data = s.ok(&session.auth(), type_query, json!({})).await;
    assert!(
        data["__type"]["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["name"] == "email")),
        "{data}"
    );
    s.finish().await;
}

/// A refused introspection must say so: an error, not a silent `null` for the non-null
/// `__schema` field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_introspection_is_reported_as_an_error() {
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::Auto;
    })
    .await;
    let mut silent = vec![];
    for q in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"User\") { name } }",
    ] {
        let (_, body) = s.post(&Auth::None, q, json!({})).await;
        assert!(no_schema_data(&body), "{body}");
        if body["errors"].as_array().is_none_or(Vec::is_empty) {
            silent.push(format!("{q} -> {body}"));
        }
    }
    s.finish().await;
    assert!(
        silent.is_empty(),
        "introspection refused without an error:\n{}",
        silent.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_settings_override_the_default() {
    // Off: nobody introspects, not even a signed-in user in development.
    let s = TestServer::start_with(|c| c.introspection = Introspection::Off).await;
    let session = s.sign_up("Off Optics", "ECP", &email("intro-off")).await;
    let (_, body) = s
        .post(
            &session.auth(),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert!(no_schema_data(&body), "{body}");
    s.finish().await;

    // On: anonymous callers introspect even in production.
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::On;
    })
    .await;
    let data = s
        .ok(
            &Auth::None,
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    s.finish().await;

    // Auto in development: anonymous callers introspect.
    let s = TestServer::start().await;
    let data = s
        .ok(
            &Auth::None,
            "{ __schema { mutationType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["__schema"]["mutationType"]["name"], "Mutation");
    s.finish().await;
}

/// Misspellings close enough for async-graphql to suggest a fix.
const MISSPELLED: [&str; 4] = [
    "{ nodee(id: \"x\") { id } }",
    "{ me { usr { id } } }",
    "{ userss { pageInfo { hasNextPage } } }",
    "{ users(firstt: 1) { pageInfo { hasNextPage } } }",
];

fn suggestion_messages(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("Did you mean"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_are_shown_in_development() {
    let s = TestServer::start().await;
    for q in MISSPELLED {
        let (_, body) = s.post(&Auth::None, q, json!({})).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{q}: {body}"
        );
        assert!(
            !suggestion_messages(&body).is_empty(),
            "{q}: no suggestion in {body}"
        );
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_are_hidden_from_anonymous_callers_in_production() {
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::Auto;
    })
    .await;
    let mut leaked = vec![];
    for q in MISSPELLED {
        let (_, body) = s.post(&Auth::None, q, json!({})).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{q}: {body}"
        );
        let msg = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(msg.starts_with("Unknown"), "{q}: {body}");
        leaked.extend(
            suggestion_messages(&body)
                .into_iter()
                .map(|m| format!("{q}: {m}")),
        );
    }

    // Signed-in callers may introspect, so they get the hints.
    let session = s.sign_up("Hint Optics", "ECP", &email("hint")).await;
    let (_, body) = s.post(&session.auth(), MISSPELLED[0], json!({})).await;
    assert!(!suggestion_messages(&body).is_empty(), "signed in: {body}");
    s.finish().await;
    assert!(
        leaked.is_empty(),
        "suggestions shown to anonymous callers in production:\n{}",
        leaked.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_that_double_themselves_are_refused_before_they_expand() {
    let s = TestServer::start().await;
    // 1 KB that expands to 2^30 fields; without the memoised pre-check the server spent
    // minutes of CPU on it before answering.
    let mut q = String::from("query { ...F0 } ");
    for i in 0..30 {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }} ",
            n = i + 1
        ));
    }
    q.push_str("fragment F30 on Query { __typename }");
    let (status, body) = s.post(&Auth::None, &q, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        first_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expanded"),
        "{body}"
    );
    assert!(body.get("data").is_none_or(Value::is_null));
    // An ordinary query with fragments still runs.
    let ok = s.ok(&Auth::None, "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { alias: __typename }", json!({})).await;
    assert_eq!(ok["__typename"], "Query");
    assert_eq!(ok["alias"], "Query");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doubling_into_an_unknown_fragment_and_long_chains_are_refused() {
    let s = TestServer::start().await;
    // Doubling that ends in an undefined fragment: no field anywhere, 2^31 spreads.
    let mut bomb = String::from("query { ...F0 } ");
    for i in 0..31 {
        bomb.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }} ",
            n = i + 1
        ));
    }
    bomb.push_str("fragment F31 on Query { ...Nope }");
    // A chain of 20,000 fragments, each spreading the next.
    let mut chain = String::from("query { ...C0 } ");
    for i in 0..20_000 {
        chain.push_str(&format!("fragment C{i} on Query {{ ...C{} }} ", i + 1));
    }
    chain.push_str("fragment C20000 on Query { __typename }");
    for (name, q) in [("unknown leaf", bomb), ("long chain", chain)] {
        let (_, body) = s.post(&Auth::None, &q, json!({})).await;
        assert_eq!(
            first_code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{name}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expanded"),
            "{name}: {body}"
        );
    }
    // The server is still there.
    assert_eq!(
        s.ok(&Auth::None, "{ __typename }", json!({})).await["__typename"],
        "Query"
    );
    s.finish().await;
}

/// Signs `mail` up with documents small enough for the lowered limits (depth 2, complexity
/// 2 each), and checks the account exists: the mutation a refused document held runs.
async fn sign_up_within_tiny_limits(s: &TestServer, mail: &str) {
    let (_, body) = s
        .post(
            &Auth::None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { email } }",
            sign_up_input("Limits Optics", "ECP", mail),
        )
        .await;
    assert_eq!(body["data"]["signUp"]["email"], json!(mail), "{body}");
    let token = s.sign_up_token(mail).await;
    s.ok(
        &Auth::None,
        ils_tests::TINY_CONFIRM_SIGN_UP,
        json!({ "token": token }),
    )
    .await;
    s.assert_account(mail).await;
}
