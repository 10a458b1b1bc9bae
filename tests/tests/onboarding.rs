//! The onboarding checklist (issue 22): each kind of company gets its steps, and each step
//! is ticked by the action itself, done through the API as a person would, never by a
//! button: a half-filled profile ticks nothing, a pending connection ticks nothing, a
//! draft is not an order. Another company's actions never tick a company's list.

use ils_tests::orders::Orders;
use ils_tests::{
    Auth, Session, TestServer, create_api_key, email, first_code, listed_company, progressive_draft,
};
use serde_json::{Value, json};

const ONBOARDING: &str = "{ onboarding { completed done steps { key title how done } } }";
const PROFILE: &str = "mutation($i: UpdateMarketplaceProfileInput!) {
    updateMarketplaceProfile(input: $i) { marketplaceProfile { city } } }";
const ORDERS: Orders = Orders::new("fragment O on LensOrder { id status version }");

async fn checklist(s: &TestServer, auth: &Auth) -> Value {
    s.ok(auth, ONBOARDING, json!({})).await["onboarding"].clone()
}

/// The keys of `who`'s steps, in order, each with whether it is done.
async fn steps(s: &TestServer, who: &Session) -> Vec<(String, bool)> {
    let list = checklist(s, &who.auth()).await;
    let steps: Vec<(String, bool)> = list["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|st| {
            assert!(
                !st["title"].as_str().unwrap().is_empty()
                    && !st["how"].as_str().unwrap().is_empty(),
                "{st}"
            );
            (
                st["key"].as_str().unwrap().to_owned(),
                st["done"].as_bool().unwrap(),
            )
        })
        .collect();
    let done = steps.iter().filter(|(_, d)| *d).count();
    assert_eq!(list["completed"], json!(done), "{list}");
    assert_eq!(list["done"], json!(done == steps.len()), "{list}");
    steps
}

/// The keys done in `who`'s list.
async fn done(s: &TestServer, who: &Session) -> Vec<String> {
    steps(s, who)
        .await
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(k, _)| k)
        .collect()
}

fn keys(steps: &[(String, bool)]) -> Vec<&str> {
    steps.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test]
async fn each_step_is_ticked_by_the_real_action_and_only_for_its_company() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let practice = s.sign_up("Onboard Optics", "ECP", &email("onboard")).await;
    let bystander = s
        .sign_up("Bystander Optics", "ECP", &email("bystander"))
        .await;

    let fresh = steps(&s, &practice).await;
    assert_eq!(
        keys(&fresh),
        [
            "PROFILE",
            "LOGO",
            "OPENING_HOURS",
            "COLLEAGUE_INVITED",
            "FIRST_CONNECTION",
            "FIRST_ORDER"
        ]
    );
    assert!(fresh.iter().all(|(_, d)| !d), "{fresh:?}");

    // The profile counts once description, city and country are all given.
    s.ok(
        &practice.auth(),
        PROFILE,
        json!({ "i": { "description": "Independent opticians since 1962", "city": "Leeds" } }),
    )
    .await;
    assert!(done(&s, &practice).await.is_empty());
    s.ok(
        &practice.auth(),
        PROFILE,
        json!({ "i": { "country": "GB" } }),
    )
    .await;
    assert_eq!(done(&s, &practice).await, ["PROFILE"]);
    // Clearing a field takes the tick back: the list says what the data says.
    s.ok(&practice.auth(), PROFILE, json!({ "i": { "city": "" } }))
        .await;
    assert!(done(&s, &practice).await.is_empty());
    s.ok(
        &practice.auth(),
        PROFILE,
        json!({ "i": { "city": "Leeds" } }),
    )
    .await;

    s.ok(
        &practice.auth(),
        PROFILE,
        json!({ "i": { "logoUrl": "https://onboard.example/logo.png" } }),
    )
    .await;
    s.ok(
        &practice.auth(),
        "mutation { updateCompanyProfile(input: { openingHours: \"Mon-Fri 9-17:30, Sat 9-13\" }) { company { openingHours } } }",
        json!({}),
    )
    .await;
    s.ok(
        &practice.auth(),
        "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
        json!({ "e": email("colleague") }),
    )
    .await;
    assert_eq!(
        done(&s, &practice).await,
        ["PROFILE", "LOGO", "OPENING_HOURS", "COLLEAGUE_INVITED"]
    );

    // A connection counts once accepted, for both companies, and stays counted after it
    // ends; a pending one counts for neither.
    let lab = listed_company(&s, &pa, "Onboard Lens Lab", "LAB", json!({})).await;
    let lab_steps = steps(&s, &lab).await;
    assert_eq!(
        keys(&lab_steps),
        [
            "PROFILE",
            "LOGO",
            "OPENING_HOURS",
            "COLLEAGUE_INVITED",
            "FIRST_CONNECTION",
            "FIRST_ORDER_ACCEPTED"
        ]
    );
    let asked = s
        .ok(
            &practice.auth(),
            "mutation($c: ID!) { requestConnection(input: { companyId: $c }) { connection { id } } }",
            json!({ "c": lab.company_id }),
        )
        .await["requestConnection"]["connection"]["id"]
        .clone();
    assert!(
        !done(&s, &practice)
            .await
            .contains(&"FIRST_CONNECTION".into())
    );
    assert!(done(&s, &lab).await.is_empty());
    s.ok(
        &lab.auth(),
        "mutation($id: ID!) { respondToConnection(input: { id: $id, accept: true }) { connection { status } } }",
        json!({ "id": asked }),
    )
    .await;
    assert_eq!(done(&s, &lab).await, ["FIRST_CONNECTION"]);

    // A draft is not an order; a submitted one is, and the lab's step waits for the lab
    // to accept it.
    let draft = ORDERS
        .draft(&s, &practice, progressive_draft("ONB-1"))
        .await;
    assert!(!done(&s, &practice).await.contains(&"FIRST_ORDER".into()));
    let order = ORDERS.submitted(&s, &practice, &draft, &lab).await;
    assert_eq!(
        done(&s, &practice).await,
        [
            "PROFILE",
            "LOGO",
            "OPENING_HOURS",
            "COLLEAGUE_INVITED",
            "FIRST_CONNECTION",
            "FIRST_ORDER"
        ]
    );
    assert!(checklist(&s, &practice.auth()).await["done"] == true);
    assert_eq!(done(&s, &lab).await, ["FIRST_CONNECTION"]);
    ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    assert_eq!(
        done(&s, &lab).await,
        ["FIRST_CONNECTION", "FIRST_ORDER_ACCEPTED"]
    );
    s.ok(
        &practice.auth(),
        "mutation($id: ID!) { endConnection(input: { id: $id }) { connection { status } } }",
        json!({ "id": asked }),
    )
    .await;
    assert!(
        done(&s, &practice)
            .await
            .contains(&"FIRST_CONNECTION".into())
    );

    // A supplier's last step is its catalog.
    let supplier = listed_company(&s, &pa, "Onboard Supplies", "SUPPLIER", json!({})).await;
    assert_eq!(
        keys(&steps(&s, &supplier).await),
        [
            "PROFILE",
            "LOGO",
            "OPENING_HOURS",
            "COLLEAGUE_INVITED",
            "FIRST_CONNECTION",
            "CATALOG"
        ]
    );
    s.ok(
        &supplier.auth(),
        "mutation($i: CreateCatalogItemInput!) { createCatalogItem(input: $i) { catalogItem { id } } }",
        json!({ "i": {
            "sku": "ONB-FR-1", "name": "Harbour 52", "brand": "Onboard",
            "category": "FRAME", "price": { "amount": "41.00", "currency": "GBP" },
            "minOrderQuantity": 1, "leadTimeDays": 7, "orderMultiple": 1,
            "frame": { "model": "Harbour", "colour": "Tortoise", "eyeSize": 52, "bridge": 18, "templeLength": 140 }
        } }),
    )
    .await;
    assert_eq!(done(&s, &supplier).await, ["CATALOG"]);

    // Nothing the others did ticks the bystander's list.
    let untouched = steps(&s, &bystander).await;
    assert!(untouched.iter().all(|(_, d)| !d), "{untouched:?}");

    // The company's API key reads its list; a person without a company and an anonymous
    // caller get none.
    let (_, key) = create_api_key(&s, &practice, "onboarding reader").await;
    assert_eq!(checklist(&s, &Auth::ApiKey(key)).await["done"], json!(true));
    let (_, body) = s.post(&pa.auth(), ONBOARDING, json!({})).await;
    assert_eq!(first_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");
    let (_, body) = s.post(&Auth::None, ONBOARDING, json!({})).await;
    assert_eq!(
        first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
}
