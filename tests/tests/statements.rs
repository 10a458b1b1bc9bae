//! What operations cost in SQL statements, counted (transaction control not included).

use ils_tests::{Auth, TestServer, email};
use serde_json::json;

async fn cost(s: &TestServer, auth: &Auth, query: &str) -> u64 {
    let before = s.statements();
    s.ok(auth, query, json!({})).await;
    s.statements() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_costs_at_most_two_statements() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let a = s.sign_up("Counting Optics", "ECP", &email("count")).await;
    let n = cost(&s, &a.auth(), "{ me { user { id email firstName lastName } company { id name type status plan } roles } }").await;
    // PostgreSQL: the tenant settings and the check that the user is still active (sent
    // with BEGIN, one message) and one join; SQLite: the user's check and the join.
    let expected = 2;
    assert_eq!(n, expected, "me cost {n} statements");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_scope_travels_with_begin_and_a_typed_credential_is_bound() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    if !s.is_postgres() {
        eprintln!("the scope's settings are PostgreSQL's; nothing to check on SQLite");
        s.finish().await;
        return;
    }
    let mail = email("o'begin");
    let a = s.sign_up("Begin Optics", "ECP", &mail).await;
    s.server.statements.record();
    s.ok(&a.auth(), "{ me { company { name type } } }", json!({}))
        .await;
    let sent = s.server.statements.take_recorded();
    // One message opens the transaction with every setting inlined; nothing else sets
    // the scope, and the query follows: two round trips before the answer, not three.
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let opening = &sent[0].sql;
    assert!(
        opening.starts_with("BEGIN; SELECT set_config('role', E'ils_app', true), "),
        "{opening}"
    );
    for setting in [
        "app.company_id",
        "app.user_id",
        "app.lookup",
        "app.platform_admin",
        "transaction_read_only', E'on'",
        // The user's active check travels in the same message, after the scope.
        "; SELECT ils_require_active_user('",
    ] {
        assert!(opening.contains(setting), "{setting} in {opening}");
    }
    assert!(sent[0].values.is_none(), "inlined, not bound");
    assert!(!sent[1].sql.contains("set_config"), "{}", sent[1].sql);

    // A log-in looks up an email the caller typed: that scope is set with bound values,
    // never inlined into SQL text.
    s.server.statements.record();
    let data = s
        .ok(
            &Auth::None,
            ils_tests::TINY_LOG_IN,
            json!({ "email": mail, "password": ils_tests::PASSWORD }),
        )
        .await;
    assert!(data["logIn"]["accessToken"].is_string(), "{data}");
    let sent = s.server.statements.take_recorded();
    assert!(
        sent.iter()
            .all(|st| !st.sql.contains("o''begin") && !st.sql.contains("o'begin")),
        "the email appears in SQL text: {sent:#?}"
    );
    assert!(
        sent.iter()
            .any(|st| st.sql.starts_with("SELECT set_config('role', $1, true)")),
        "{sent:#?}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_users_costs_the_same_whatever_its_size() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let a = s.sign_up("Paging Optics", "ECP", &email("page")).await;
    for i in 0..12 {
        let inv = s
            .ok(
                &a.auth(),
                "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
                json!({ "e": email(&format!("p{i}")) }),
            )
            .await;
        s.ok(
            &Auth::None,
            "mutation($t: String!) { acceptInvitation(input: { token: $t, password: \"Correct-Horse-42\", firstName: \"P\", lastName: \"Q\" }) { user { id } } }",
            json!({ "t": inv["inviteUser"]["token"] }),
        )
        .await;
    }
    let one = cost(
        &s,
        &a.auth(),
        "{ users(first: 1) { edges { node { id email } } pageInfo { hasNextPage } } }",
    )
    .await;
    let all = cost(
        &s,
        &a.auth(),
        "{ users(first: 50) { edges { node { id email } } pageInfo { hasNextPage } } }",
    )
    .await;
    assert_eq!(one, all, "page of 1: {one} statements, page of 13: {all}");
    assert!(all <= 2, "{all}");

    // totalCount costs one more statement, and only when it is selected; it counts every
    // page (the filter applies, the cursor does not).
    let counted = cost(
        &s,
        &a.auth(),
        "{ users(first: 1) { totalCount edges { node { id email } } pageInfo { hasNextPage } } }",
    )
    .await;
    assert_eq!(counted, one + 1, "{counted} statements with totalCount");
    let page = s
        .ok(
            &a.auth(),
            "{ users(first: 2) { totalCount edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["users"]["totalCount"], 13);
    let cursor = page["users"]["edges"][1]["cursor"].clone();
    let later = s
        .ok(
            &a.auth(),
            "query($a: String) { users(first: 2, after: $a) { totalCount edges { cursor } } }",
            json!({ "a": cursor }),
        )
        .await;
    assert_eq!(later["users"]["totalCount"], 13);

    // Walking the pages in both directions visits every member once.
    let mut seen = vec![];
    let mut after: Option<String> = None;
    loop {
        let page = s
            .ok(&a.auth(), "query($a: String) { users(first: 5, after: $a) { edges { cursor node { email } } pageInfo { hasNextPage endCursor } } }", json!({ "a": after }))
            .await;
        for e in page["users"]["edges"].as_array().unwrap() {
            seen.push(e["node"]["email"].as_str().unwrap().to_owned());
        }
        if !page["users"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["users"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen.len(), 13);
    let last = s
        .ok(
            &a.auth(),
            "{ users(last: 3) { edges { node { email } } pageInfo { hasPreviousPage } } }",
            json!({}),
        )
        .await;
    let tail: Vec<_> = last["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tail, seen[10..].to_vec());
    assert_eq!(last["users"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(
        s.error_code(
            &a.auth(),
            "{ users(first: 101) { edges { cursor } } }",
            json!({})
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        s.error_code(
            &a.auth(),
            "{ users(after: \"garbage\") { edges { cursor } } }",
            json!({})
        )
        .await,
        "BAD_USER_INPUT"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_cost_one_query_per_type_whatever_the_number_of_ids() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let a = s.sign_up("Batch Optics", "ECP", &email("batch")).await;
    let mut ids = vec![a.user_id.clone()];
    for i in 0..12 {
        let inv = s
            .ok(&a.auth(), "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { invitation { id } } }", json!({ "e": email(&format!("n{i}")) }))
            .await;
        ids.push(
            inv["inviteUser"]["invitation"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    let cost_of = |ids: Vec<String>| {
        let s = &s;
        let auth = a.auth();
        async move {
            let before = s.statements();
            let data = s.ok(&auth, q, json!({ "ids": ids })).await;
            (s.statements() - before, data)
        }
    };
    let (few, _) = cost_of(ids[..2].to_vec()).await;
    let (all, data) = cost_of(ids.clone()).await;
    assert_eq!(
        few, all,
        "a user and 1 invitation: {few} statements; a user and 12 invitations: {all}"
    );
    let got: Vec<_> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids, "every node found, in the order asked");
    s.finish().await;
}

/// A connected buyer's page of a supplier's catalog: the connection check and one page
/// query (plus the scope: the tenant settings and user check), whether the page holds 1 item or 30; the
/// directory: one page query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_and_directory_pages_cost_the_same_whatever_their_size() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let pa = s.platform_admin().await;
    let supplier =
        ils_tests::listed_company(&s, &pa, "Counting Frames", "SUPPLIER", json!({})).await;
    let buyer = s.sign_up("Counting Optics", "ECP", &email("buyer")).await;
    for i in 0..30 {
        s.ok(
            &supplier.auth(),
            "mutation($sku: String!) { createCatalogItem(input: { sku: $sku, name: \"Cloth\", category: SUNDRY, price: { amount: \"0.45\", currency: \"GBP\" } }) { catalogItem { id } } }",
            json!({ "sku": format!("CLOTH-{i}") }),
        )
        .await;
    }
    ils_tests::connect(&s, &buyer, &supplier).await;
    let page = |n: u32| {
        format!(
            "{{ supplierCatalog(supplierId: \"{}\", first: {n}) {{ edges {{ node {{ id sku price {{ amount currency }} }} }} pageInfo {{ hasNextPage }} }} }}",
            supplier.company_id.as_deref().unwrap()
        )
    };
    let one = cost(&s, &buyer.auth(), &page(1)).await;
    let thirty = cost(&s, &buyer.auth(), &page(30)).await;
    // The scope: PostgreSQL's settings with the user's active check (one message with
    // BEGIN), or SQLite's check of the user alone.
    let settings = 1;
    assert_eq!(
        one, thirty,
        "page of 1: {one} statements, page of 30: {thirty}"
    );
    assert_eq!(thirty, 2 + settings, "{thirty}");

    let directory = cost(
        &s,
        &buyer.auth(),
        "{ marketplaceSuppliers(filter: { text: \"counting\" }, first: 50) { edges { node { name specialties } } } }",
    )
    .await;
    assert_eq!(directory, 1 + settings, "{directory}");
    s.finish().await;
}

/// The practice's page of orders with the lab's name, the patient reference and the
/// status: one page query (plus the scope: the tenant settings and user check), for 1 order or 50.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_orders_costs_the_same_whatever_its_size() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let pa = s.platform_admin().await;
    let lab = ils_tests::listed_company(&s, &pa, "Counting Lab", "LAB", json!({})).await;
    let practice = s.sign_up("Counting Optics", "ECP", &email("orders")).await;
    ils_tests::connect(&s, &practice, &lab).await;
    for i in 0..50 {
        let d = s
            .ok(
                &practice.auth(),
                "mutation($r: String!) { createOrderDraft(input: { patientRef: $r, rx: { right: { sphere: \"-1.00\" }, left: { sphere: \"-1.25\" }, binocularPd: \"63.0\" }, lens: { design: SINGLE_VISION, index: \"1.50\" } }) { order { id } } }",
                json!({ "r": format!("REF-{i}") }),
            )
            .await;
        s.ok(
            &practice.auth(),
            "mutation($id: ID!, $lab: ID!) { submitOrder(input: { id: $id, labId: $lab }) { order { status } } }",
            json!({ "id": d["createOrderDraft"]["order"]["id"], "lab": lab.company_id }),
        )
        .await;
    }
    let page = |n: u32| {
        format!(
            "{{ orders(first: {n}) {{ edges {{ node {{ orderNumber status labName patientRef dueDate }} }} }} }}"
        )
    };
    let one = cost(&s, &practice.auth(), &page(1)).await;
    let fifty = cost(&s, &practice.auth(), &page(50)).await;
    assert_eq!(
        one, fifty,
        "page of 1: {one} statements, page of 50: {fifty}"
    );
    // The page query and the scope (PostgreSQL's settings with the user's check, sent with
    // BEGIN; SQLite's check of the user).
    assert_eq!(fifty, 2, "{fifty}");
    let listed = s.ok(&practice.auth(), &page(50), json!({})).await;
    let nodes = ils_tests::nodes(&listed["orders"]);
    assert_eq!(nodes.len(), 50);
    assert!(
        nodes
            .iter()
            .all(|n| n["labName"] == "Counting Lab" && n["status"] == "SUBMITTED")
    );

    // The job's documents (Rx, lens, frame, fit) are read only when their fields are
    // selected, whether through `nodes`, `edges { node }` or a fragment.
    let columns = |sql: &str| -> Vec<&'static str> {
        ["rx", "rx_minus_cyl", "lens", "frame", "fit", "notes"]
            .into_iter()
            .filter(|c| sql.contains(&format!("\"lens_orders\".\"{c}\"")))
            .collect()
    };
    let read = |query: &'static str| {
        let s = &s;
        let practice = &practice;
        async move {
            s.server.statements.record();
            let data = s.ok(&practice.auth(), query, json!({})).await;
            let sent = s.server.statements.take_recorded();
            let page: Vec<_> = sent
                .iter()
                .filter(|st| st.sql.contains("FROM \"lens_orders\"") && st.sql.contains(" LIMIT "))
                .collect();
            assert_eq!(page.len(), 1, "{sent:#?}");
            (data, columns(&page[0].sql))
        }
    };
    let (_, none) = read("{ orders(last: 50) { nodes { id orderNumber status labName } } }").await;
    assert_eq!(none, Vec::<&str>::new());
    let (data, some) = read(
        "{ orders(last: 50) { edges { node { id ...Eyes } } } } fragment Eyes on LensOrder { rx { right { sphere } left { sphere } } lens { index } }",
    )
    .await;
    assert_eq!(some, vec!["rx", "lens"]);
    let first = &data["orders"]["edges"][0]["node"];
    assert_eq!(first["rx"]["left"]["sphere"], "-1.25", "{data}");
    assert_eq!(first["lens"]["index"], "1.5", "{data}");
    s.finish().await;
}
