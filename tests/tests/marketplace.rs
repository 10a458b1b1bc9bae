//! The marketplace end to end: the directory of listed labs and suppliers (public fields
//! only, search and filters), connections between companies (request, answer, end, who
//! may do what, and nothing of them for anyone else), and supplier catalogs that only
//! actively connected buyers can browse.

use ils_tests::ws;
use ils_tests::{
    Auth, Session, TestServer, approve, assert_bad_input, email, eventually, listed_company,
    member_of, nodes, staff_of,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------------------

const UPDATE_PROFILE: &str = "mutation($input: UpdateMarketplaceProfileInput!) {
    updateMarketplaceProfile(input: $input) { marketplaceProfile {
        id companyId name type listed description city region country specialties } } }";

const LABS: &str = "query($filter: DirectoryFilter, $first: Int, $after: String) {
    marketplaceLabs(filter: $filter, first: $first, after: $after) {
        edges { cursor node { id companyId name type listed description city region country serviceAreas specialties logoUrl updatedAt } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const SUPPLIERS: &str = "query($filter: DirectoryFilter) {
    marketplaceSuppliers(filter: $filter) { edges { node { companyId name type listed specialties } } } }";

/// Every field of a connection, as the caller sees it.
const CONNECTION_FIELDS: &str = "fragment C on TradeConnection {
    id status direction message requestedAt respondedAt endedAt endedBy { companyId name type } updatedAt
    counterparty { companyId name type } requester { companyId name type } responder { companyId name type } }";

const ITEM_FIELDS: &str = "fragment I on CatalogItem {
    id supplierId sku gtin name brand category price { amount currency } minOrderQuantity leadTimeDays active
    frame { model colour eyeSize bridge templeLength bSize frameType material }
    contactLens { baseCurve diameter power cylinder axis add packSize wearSchedule }
    spectacleLens { design } lensBlank { design } }";

/// The session's company global ID.
fn cid(who: &Session) -> &str {
    who.company_id.as_deref().expect("a company session")
}

fn names(connection: &Value) -> BTreeSet<String> {
    nodes(connection)
        .iter()
        .map(|n| n["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The names of the labs `who` finds with `filter`.
async fn lab_names(s: &TestServer, who: &Session, filter: Value) -> BTreeSet<String> {
    let data = s.ok(&who.auth(), LABS, json!({ "filter": filter })).await;
    names(&data["marketplaceLabs"])
}

/// The names of the suppliers `who` finds with `filter`.
async fn supplier_names(s: &TestServer, who: &Session, filter: Value) -> BTreeSet<String> {
    let data = s
        .ok(&who.auth(), SUPPLIERS, json!({ "filter": filter }))
        .await;
    names(&data["marketplaceSuppliers"])
}

async fn save_profile(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(&who.auth(), UPDATE_PROFILE, json!({ "input": input }))
        .await["updateMarketplaceProfile"]["marketplaceProfile"]
        .clone()
}

const REQUEST: &str = "mutation($c: ID!, $m: String) {
    requestConnection(input: { companyId: $c, message: $m }) { connection { ...C } } }";
const RESPOND: &str = "mutation($id: ID!, $a: Boolean!) {
    respondToConnection(input: { id: $id, accept: $a }) { connection { ...C } } }";
const END: &str =
    "mutation($id: ID!) { endConnection(input: { id: $id }) { connection { ...C } } }";
const CONNECTION: &str = "query($id: ID!) { connection(id: $id) { ...C } }";
const CONNECTIONS: &str =
    "query($f: ConnectionFilter) { connections(filter: $f) { edges { node { ...C } } } }";

/// `query` with the connection fragment appended.
fn with_c(query: &str) -> String {
    format!("{query} {CONNECTION_FIELDS}")
}

/// `who` asks the company `target_company` to connect; returns the new connection.
async fn request(
    s: &TestServer,
    who: &Session,
    target_company: &str,
    message: Option<&str>,
) -> Value {
    s.ok(
        &who.auth(),
        &with_c(REQUEST),
        json!({ "c": target_company, "m": message }),
    )
    .await["requestConnection"]["connection"]
        .clone()
}

/// The error code of `who` asking the company `target_company` to connect.
async fn request_code(s: &TestServer, who: &Session, target_company: &str) -> String {
    s.error_code(
        &who.auth(),
        &with_c(REQUEST),
        json!({ "c": target_company }),
    )
    .await
}

async fn respond(s: &TestServer, who: &Session, id: &Value, accept: bool) -> Value {
    s.ok(
        &who.auth(),
        &with_c(RESPOND),
        json!({ "id": id, "a": accept }),
    )
    .await["respondToConnection"]["connection"]
        .clone()
}

async fn respond_code(s: &TestServer, who: &Session, id: &Value, accept: bool) -> String {
    s.error_code(
        &who.auth(),
        &with_c(RESPOND),
        json!({ "id": id, "a": accept }),
    )
    .await
}

async fn end(s: &TestServer, who: &Session, id: &Value) -> Value {
    s.ok(&who.auth(), &with_c(END), json!({ "id": id })).await["endConnection"]["connection"]
        .clone()
}

async fn end_code(s: &TestServer, who: &Session, id: &Value) -> String {
    s.error_code(&who.auth(), &with_c(END), json!({ "id": id }))
        .await
}

/// `connection(id)` as `who` (null when `who` is not a party).
async fn connection(s: &TestServer, who: &Session, id: &Value) -> Value {
    s.ok(&who.auth(), &with_c(CONNECTION), json!({ "id": id }))
        .await["connection"]
        .clone()
}

/// `who`'s connections matching `filter`.
async fn connections(s: &TestServer, who: &Session, filter: Value) -> Vec<Value> {
    let data = s
        .ok(&who.auth(), &with_c(CONNECTIONS), json!({ "f": filter }))
        .await;
    nodes(&data["connections"])
}

/// A party as `counterparty`/`requester`/`responder` show it.
fn party(company: &Session, name: &str, kind: &str) -> Value {
    json!({ "companyId": cid(company), "name": name, "type": kind })
}

/// A listed lab with the given name and nothing else in its profile.
async fn listed_lab(s: &TestServer, pa: &Session, name: &str) -> Session {
    listed_company(s, pa, name, "LAB", json!({ "specialties": ["SURFACING"] })).await
}

/// A listed supplier with the given name.
async fn listed_supplier(s: &TestServer, pa: &Session, name: &str) -> Session {
    listed_company(
        s,
        pa,
        name,
        "SUPPLIER",
        json!({ "specialties": ["FRAMES"] }),
    )
    .await
}

/// An ECP with an ACTIVE connection to `supplier`; returns the ECP and the connection id.
async fn connected_buyer(s: &TestServer, supplier: &Session, name: &str) -> (Session, Value) {
    let buyer = s.sign_up(name, "ECP", &email("buyer")).await;
    let c = request(s, &buyer, cid(supplier), None).await;
    let c = respond(s, supplier, &c["id"], true).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    (buyer, c["id"].clone())
}

/// A sentinel for `connection.*` subscriptions: a new supplier is listed and `who` asks it
/// to connect (one `connection.requested` that reaches `who`); returns the connection id.
async fn connection_sentinel(s: &TestServer, pa: &Session, who: &Session) -> String {
    let name = format!("Sentinel Supplies {}", uuid::Uuid::new_v4().simple());
    let supplier = listed_supplier(s, pa, &name).await;
    request(s, who, cid(&supplier), None).await["id"]
        .as_str()
        .expect("connection id")
        .to_owned()
}

const CREATE_ITEM: &str = "mutation($input: CreateCatalogItemInput!) {
    createCatalogItem(input: $input) { catalogItem { ...I } } }";
const UPDATE_ITEM: &str = "mutation($input: UpdateCatalogItemInput!) {
    updateCatalogItem(input: $input) { catalogItem { ...I } } }";
const DELETE_ITEM: &str =
    "mutation($id: ID!) { deleteCatalogItem(input: { id: $id }) { deletedId } }";
const MY_CATALOG: &str =
    "query($f: CatalogFilter) { catalogItems(filter: $f) { edges { node { ...I } } } }";
const SUPPLIER_CATALOG: &str = "query($s: ID!, $f: CatalogFilter) { supplierCatalog(supplierId: $s, filter: $f) { edges { node { ...I } } } }";
const ITEM_NODE: &str = "query($id: ID!) { node(id: $id) { id ... on CatalogItem { sku } } }";

fn with_i(query: &str) -> String {
    format!("{query} {ITEM_FIELDS}")
}

/// The variables of `UPDATE_ITEM`: the item `id` and its fields anew.
fn update_vars(id: &Value, mut fields: Value) -> Value {
    fields["id"] = id.clone();
    json!({ "input": fields })
}

/// A titanium aviator frame (price 12.5 "eur" as typed).
fn frame_input(sku: &str) -> Value {
    json!({
        "sku": sku, "gtin": "4006381333931", "name": "Aviator Classic Gold", "brand": "Northwind",
        "category": "FRAME", "price": { "amount": "12.5", "currency": "eur" }, "minOrderQuantity": 2, "leadTimeDays": 3,
        "frame": { "model": "NW-100", "colour": "Gold", "eyeSize": 52, "bridge": 18, "templeLength": 140,
                   "bSize": 40, "frameType": "FULL_RIM", "material": "Titanium" }
    })
}

/// A daily contact lens, 30 a pack.
fn contact_lens_input(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Daily Comfort Moist", "brand": "AquaVue", "category": "CONTACT_LENS",
        "price": { "amount": "24.90", "currency": "EUR" },
        "contactLens": { "baseCurve": "8.6", "diameter": "14.2", "power": "-2.25", "packSize": 30, "wearSchedule": "DAILY" }
    })
}

/// A cleaning cloth (sundries carry no attributes).
fn sundry_input(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Microfibre Cleaning Cloth", "brand": "Northwind", "category": "SUNDRY",
        "price": { "amount": "0.80", "currency": "EUR" }
    })
}

async fn create_item(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(&who.auth(), &with_i(CREATE_ITEM), json!({ "input": input }))
        .await["createCatalogItem"]["catalogItem"]
        .clone()
}

async fn create_item_error(s: &TestServer, who: &Session, input: Value) -> Value {
    let (_, body) = s
        .post(&who.auth(), &with_i(CREATE_ITEM), json!({ "input": input }))
        .await;
    assert!(body["errors"][0].is_object(), "expected an error: {body}");
    body["errors"][0].clone()
}

/// The SKUs of `who`'s own catalog matching `filter`.
async fn my_skus(s: &TestServer, who: &Session, filter: Value) -> BTreeSet<String> {
    let data = s
        .ok(&who.auth(), &with_i(MY_CATALOG), json!({ "f": filter }))
        .await;
    skus(&data["catalogItems"])
}

/// The SKUs `who` sees in `supplier`'s catalog with `filter`.
async fn their_skus(
    s: &TestServer,
    who: &Session,
    supplier: &Session,
    filter: Value,
) -> BTreeSet<String> {
    let data = s
        .ok(
            &who.auth(),
            &with_i(SUPPLIER_CATALOG),
            json!({ "s": cid(supplier), "f": filter }),
        )
        .await;
    skus(&data["supplierCatalog"])
}

async fn supplier_catalog_code(s: &TestServer, who: &Session, supplier: &Session) -> String {
    s.error_code(
        &who.auth(),
        &with_i(SUPPLIER_CATALOG),
        json!({ "s": cid(supplier) }),
    )
    .await
}

fn skus(connection: &Value) -> BTreeSet<String> {
    nodes(connection)
        .iter()
        .map(|n| n["sku"].as_str().expect("a sku").to_owned())
        .collect()
}

/// `node(id)` as `who`.
async fn node(s: &TestServer, who: &Session, id: &Value) -> Value {
    s.ok(&who.auth(), ITEM_NODE, json!({ "id": id })).await["node"].clone()
}

// ---------------------------------------------------------------------------------------
// The directory
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_shows_only_listed_active_companies_and_public_fields() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let ecp = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("ecp"))
        .await;

    // A listed, approved lab.
    let listed = listed_company(
        &s,
        &pa,
        "Clearview Lens Lab",
        "LAB",
        json!({ "description": "Freeform lenses", "city": "Leeds", "region": "Yorkshire",
                "country": "GB", "specialties": ["PROGRESSIVE", "ANTI_REFLECTIVE"],
                "serviceAreas": ["North England"], "logoUrl": "https://clearview.example/logo.png" }),
    )
    .await;
    // An approved lab that is not listed (it saved a profile, but listed: false).
    let unlisted = s.sign_up("Quiet Lens Lab", "LAB", &email("quiet")).await;
    approve(&s, &pa, &unlisted).await;
    let p = save_profile(
        &s,
        &unlisted,
        json!({ "listed": false, "description": "Not for the public" }),
    )
    .await;
    assert_eq!(p["listed"], false, "{p}");
    // A lab that listed itself but still waits for approval.
    let pending = s
        .sign_up("Pending Lens Lab", "LAB", &email("pending"))
        .await;
    let p = save_profile(
        &s,
        &pending,
        json!({ "listed": true, "specialties": ["EDGING"] }),
    )
    .await;
    assert_eq!(p["listed"], true, "{p}");
    // A listed supplier.
    listed_company(
        &s,
        &pa,
        "Northwind Frames",
        "SUPPLIER",
        json!({ "specialties": ["FRAMES"] }),
    )
    .await;

    let data = s.ok(&ecp.auth(), LABS, json!({})).await;
    let labs = nodes(&data["marketplaceLabs"]);
    assert_eq!(labs.len(), 1, "only the listed, active lab: {data}");
    let lab = &labs[0];
    assert_eq!(lab["companyId"], json!(cid(&listed)));
    assert_eq!(lab["name"], "Clearview Lens Lab");
    assert_eq!(lab["type"], "LAB");
    assert_eq!(lab["listed"], true);
    assert_eq!(lab["description"], "Freeform lenses");
    assert_eq!(lab["city"], "Leeds");
    assert_eq!(lab["region"], "Yorkshire");
    assert_eq!(lab["country"], "GB");
    assert_eq!(lab["serviceAreas"], json!(["North England"]));
    assert_eq!(
        lab["specialties"],
        json!(["PROGRESSIVE", "ANTI_REFLECTIVE"])
    );
    assert_eq!(lab["logoUrl"], "https://clearview.example/logo.png");
    // Other companies see the same directory: labs and suppliers too.
    assert_eq!(
        lab_names(&s, &listed, json!({})).await,
        set(&["Clearview Lens Lab"])
    );

    // Suppliers show in their own list only, labs only in theirs.
    assert_eq!(
        supplier_names(&s, &ecp, json!({})).await,
        set(&["Northwind Frames"])
    );
    let sup = s.ok(&ecp.auth(), SUPPLIERS, json!({})).await;
    assert_eq!(
        nodes(&sup["marketplaceSuppliers"])[0]["type"],
        "SUPPLIER",
        "{sup}"
    );
    assert_eq!(
        nodes(&sup["marketplaceSuppliers"])[0]["specialties"],
        json!(["FRAMES"])
    );

    // The pending lab shows once the platform approves it (a background handler refreshes
    // its profile's copy of the company).
    approve(&s, &pa, &pending).await;
    eventually(
        "the approved lab in the directory",
        Duration::from_secs(20),
        || async {
            let found = lab_names(&s, &ecp, json!({})).await;
            if found == set(&["Clearview Lens Lab", "Pending Lens Lab"]) {
                Ok(())
            } else {
                Err(found)
            }
        },
    )
    .await;
    assert_eq!(
        supplier_names(&s, &ecp, json!({})).await,
        set(&["Northwind Frames"])
    );

    // Public fields only: private ones do not exist on the type.
    for field in ["users", "email", "phone", "address", "status", "plan"] {
        let q = format!("{{ marketplaceLabs {{ edges {{ node {{ id {field} }} }} }} }}");
        assert_eq!(
            s.error_code(&ecp.auth(), &q, json!({})).await,
            "GRAPHQL_VALIDATION_FAILED",
            "MarketplaceProfile.{field} exists"
        );
    }
    // Nor does the answer carry anything of the unlisted lab.
    let (_, body) = s.post(&ecp.auth(), LABS, json!({})).await;
    let text = body.to_string();
    assert!(!text.contains("Quiet Lens Lab"), "{text}");
    assert!(!text.contains("Not for the public"), "{text}");
    assert!(
        !text.contains("@test.example"),
        "an email in the directory: {text}"
    );

    // Practices are not listed.
    let (_, body) = s
        .post(
            &ecp.auth(),
            UPDATE_PROFILE,
            json!({ "input": { "listed": true } }),
        )
        .await;
    assert_bad_input(&body["errors"][0], &["input", "listed"]);
    let mine = s
        .ok(
            &ecp.auth(),
            "{ myMarketplaceProfile { listed name type } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["myMarketplaceProfile"],
        json!({ "listed": false, "name": "Bright Eyes Opticians", "type": "ECP" })
    );

    // Anonymous callers see no directory.
    for q in [LABS, SUPPLIERS] {
        assert_eq!(
            s.error_code(&Auth::None, q, json!({})).await,
            "UNAUTHENTICATED",
            "{q}"
        );
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_search_and_filters_find_exactly_the_matching_labs() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let ecp = s.sign_up("Searching Opticians", "ECP", &email("ecp")).await;
    listed_company(
        &s,
        &pa,
        "Clearview Lens Lab",
        "LAB",
        json!({ "description": "Premium freeform lenses", "region": "Yorkshire", "country": "GB",
                "specialties": ["PROGRESSIVE", "ANTI_REFLECTIVE"] }),
    )
    .await;
    // Lower-case country input is accepted and stored upper-cased.
    let northern = s
        .sign_up("Northern Glazing Works", "LAB", &email("northern"))
        .await;
    approve(&s, &pa, &northern).await;
    let p = save_profile(
        &s,
        &northern,
        json!({ "listed": true, "description": "Fast glazing for independents",
                "region": "Lancashire", "country": "gb", "specialties": ["SURFACING", "PHOTOCHROMIC"] }),
    )
    .await;
    assert_eq!(p["country"], "GB", "{p}");
    listed_company(
        &s,
        &pa,
        "Rhein Optik Labor",
        "LAB",
        json!({ "description": "Glazing and tinting service", "region": "Bavaria", "country": "DE",
                "specialties": ["SINGLE_VISION", "TINTING"] }),
    )
    .await;
    listed_company(
        &s,
        &pa,
        "Freeform Frames Supply",
        "SUPPLIER",
        json!({ "description": "Freeform frames", "country": "GB", "specialties": ["FRAMES"] }),
    )
    .await;
    let all = set(&[
        "Clearview Lens Lab",
        "Northern Glazing Works",
        "Rhein Optik Labor",
    ]);
    assert_eq!(lab_names(&s, &ecp, json!({})).await, all);

    // Text: a word of the description, in any case; a specialty word; a name prefix;
    // every word must match.
    for (text, expected) in [
        ("freeform", vec!["Clearview Lens Lab"]),
        ("FREEFORM", vec!["Clearview Lens Lab"]),
        ("Independents", vec!["Northern Glazing Works"]),
        (
            "glazing",
            vec!["Northern Glazing Works", "Rhein Optik Labor"],
        ),
        ("photochromic", vec!["Northern Glazing Works"]),
        ("progressive", vec!["Clearview Lens Lab"]),
        ("clear", vec!["Clearview Lens Lab"]),
        ("glazing tinting", vec!["Rhein Optik Labor"]),
        ("freeform tinting", vec![]),
        ("nonexistentword", vec![]),
    ] {
        assert_eq!(
            lab_names(&s, &ecp, json!({ "text": text })).await,
            set(&expected),
            "text {text:?}"
        );
    }
    // The supplier matching "freeform" is not a lab; it is found among suppliers.
    assert_eq!(
        supplier_names(&s, &ecp, json!({ "text": "freeform" })).await,
        set(&["Freeform Frames Supply"])
    );

    // Specialty.
    assert_eq!(
        lab_names(&s, &ecp, json!({ "specialty": "SURFACING" })).await,
        set(&["Northern Glazing Works"])
    );
    assert_eq!(
        lab_names(&s, &ecp, json!({ "specialty": "TINTING" })).await,
        set(&["Rhein Optik Labor"])
    );
    assert_eq!(
        lab_names(&s, &ecp, json!({ "specialty": "COATING" })).await,
        set(&[])
    );
    // Country, lower case accepted.
    assert_eq!(
        lab_names(&s, &ecp, json!({ "country": "gb" })).await,
        set(&["Clearview Lens Lab", "Northern Glazing Works"])
    );
    assert_eq!(
        lab_names(&s, &ecp, json!({ "country": "DE" })).await,
        set(&["Rhein Optik Labor"])
    );
    assert_eq!(
        lab_names(&s, &ecp, json!({ "country": "FR" })).await,
        set(&[])
    );
    // Region: exact, any case.
    assert_eq!(
        lab_names(&s, &ecp, json!({ "region": "yorkshire" })).await,
        set(&["Clearview Lens Lab"])
    );
    assert_eq!(
        lab_names(&s, &ecp, json!({ "region": "York" })).await,
        set(&[])
    );
    // Filters combine.
    assert_eq!(
        lab_names(&s, &ecp, json!({ "country": "GB", "text": "glazing" })).await,
        set(&["Northern Glazing Works"])
    );
    assert_eq!(
        lab_names(
            &s,
            &ecp,
            json!({ "country": "DE", "specialty": "SURFACING" })
        )
        .await,
        set(&[])
    );

    // Pagination: two pages that together hold every lab once.
    let page1 = s.ok(&ecp.auth(), LABS, json!({ "first": 2 })).await;
    let page1 = &page1["marketplaceLabs"];
    assert_eq!(nodes(page1).len(), 2, "{page1}");
    assert_eq!(page1["pageInfo"]["hasNextPage"], true, "{page1}");
    let cursor = page1["pageInfo"]["endCursor"].as_str().expect("endCursor");
    let page2 = s
        .ok(&ecp.auth(), LABS, json!({ "first": 2, "after": cursor }))
        .await;
    let page2 = &page2["marketplaceLabs"];
    assert_eq!(nodes(page2).len(), 1, "{page2}");
    assert_eq!(page2["pageInfo"]["hasNextPage"], false, "{page2}");
    let mut seen = names(page1);
    seen.extend(names(page2));
    assert_eq!(seen, all, "the pages overlap or miss a lab");
    // Pagination and a filter together.
    let gb = s
        .ok(
            &ecp.auth(),
            LABS,
            json!({ "first": 1, "filter": { "country": "GB" } }),
        )
        .await;
    let gb = &gb["marketplaceLabs"];
    assert_eq!(nodes(gb).len(), 1, "{gb}");
    assert_eq!(gb["pageInfo"]["hasNextPage"], true, "{gb}");
    let rest = s
        .ok(
            &ecp.auth(),
            LABS,
            json!({ "first": 1, "filter": { "country": "GB" }, "after": gb["pageInfo"]["endCursor"] }),
        )
        .await;
    let rest = &rest["marketplaceLabs"];
    assert_eq!(rest["pageInfo"]["hasNextPage"], false, "{rest}");
    let mut seen = names(gb);
    seen.extend(names(rest));
    assert_eq!(seen, set(&["Clearview Lens Lab", "Northern Glazing Works"]));
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_requested_accepted_ended_and_can_be_requested_again() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let ecp = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("ecp"))
        .await;
    let lab = listed_lab(&s, &pa, "Clearview Lens Lab").await;
    let ecp_party = party(&ecp, "Bright Eyes Opticians", "ECP");
    let lab_party = party(&lab, "Clearview Lens Lab", "LAB");

    // Requested: PENDING, outgoing for the practice, incoming for the lab.
    let c = request(&s, &ecp, cid(&lab), Some("We would like to order from you")).await;
    let id = c["id"].clone();
    assert_eq!(c["status"], "PENDING", "{c}");
    assert_eq!(c["direction"], "OUTGOING", "{c}");
    assert_eq!(c["counterparty"], lab_party, "{c}");
    assert_eq!(c["requester"], ecp_party, "{c}");
    assert_eq!(c["responder"], lab_party, "{c}");
    assert_eq!(c["message"], "We would like to order from you", "{c}");
    assert!(c["requestedAt"].is_string(), "{c}");
    assert_eq!(c["respondedAt"], Value::Null, "{c}");
    assert_eq!(c["endedAt"], Value::Null, "{c}");
    assert_eq!(c["endedBy"], Value::Null, "{c}");
    let seen_by_lab = connection(&s, &lab, &id).await;
    assert_eq!(seen_by_lab["status"], "PENDING", "{seen_by_lab}");
    assert_eq!(seen_by_lab["direction"], "INCOMING", "{seen_by_lab}");
    assert_eq!(seen_by_lab["counterparty"], ecp_party, "{seen_by_lab}");
    assert_eq!(seen_by_lab["requester"], ecp_party, "{seen_by_lab}");
    let incoming = connections(&s, &lab, json!({ "direction": "INCOMING" })).await;
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0]["id"], id);
    assert!(
        connections(&s, &lab, json!({ "direction": "OUTGOING" }))
            .await
            .is_empty()
    );
    let outgoing = connections(
        &s,
        &ecp,
        json!({ "direction": "OUTGOING", "statuses": ["PENDING"] }),
    )
    .await;
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0]["direction"], "OUTGOING");

    // A second request for the pair while one is open is a conflict, whoever asks.
    assert_eq!(request_code(&s, &ecp, cid(&lab)).await, "CONFLICT");
    let manager = member_of(&s, &ecp, "MANAGER").await;
    assert_eq!(request_code(&s, &manager, cid(&lab)).await, "CONFLICT");
    // The other way round can never open a second connection either (a lab cannot ask a
    // practice, which is not in the directory).
    let reverse = request_code(&s, &lab, cid(&ecp)).await;
    assert!(
        ["CONFLICT", "NOT_FOUND", "BAD_USER_INPUT"].contains(&reverse.as_str()),
        "{reverse}"
    );
    assert_eq!(connections(&s, &lab, json!({})).await.len(), 1);

    // Only the company asked answers.
    assert_eq!(respond_code(&s, &ecp, &id, true).await, "FORBIDDEN");
    assert_eq!(connection(&s, &ecp, &id).await["status"], "PENDING");

    // Accepted: ACTIVE for both.
    let c = respond(&s, &lab, &id, true).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    assert_eq!(c["direction"], "INCOMING", "{c}");
    assert!(c["respondedAt"].is_string(), "{c}");
    let c = connection(&s, &ecp, &id).await;
    assert_eq!(c["status"], "ACTIVE", "{c}");
    assert_eq!(c["direction"], "OUTGOING", "{c}");
    // Answered once only; and no second request while it is active.
    assert_eq!(respond_code(&s, &lab, &id, true).await, "CONFLICT");
    assert_eq!(respond_code(&s, &lab, &id, false).await, "CONFLICT");
    assert_eq!(request_code(&s, &ecp, cid(&lab)).await, "CONFLICT");

    // Ended by the lab (either party may end).
    let c = end(&s, &lab, &id).await;
    assert_eq!(c["status"], "ENDED", "{c}");
    assert!(c["endedAt"].is_string(), "{c}");
    assert_eq!(c["endedBy"], lab_party, "{c}");
    assert_eq!(connection(&s, &ecp, &id).await["status"], "ENDED");
    assert_eq!(end_code(&s, &ecp, &id).await, "CONFLICT");
    assert_eq!(respond_code(&s, &lab, &id, true).await, "CONFLICT");

    // After ENDED a new request is allowed: a new connection.
    let again = request(&s, &ecp, cid(&lab), None).await;
    assert_eq!(again["status"], "PENDING", "{again}");
    assert_ne!(again["id"], id, "a new connection");
    assert_eq!(again["message"], Value::Null, "{again}");
    // Rejected...
    let c = respond(&s, &lab, &again["id"], false).await;
    assert_eq!(c["status"], "REJECTED", "{c}");
    assert_eq!(end_code(&s, &ecp, &again["id"]).await, "CONFLICT");
    assert_eq!(respond_code(&s, &lab, &again["id"], true).await, "CONFLICT");
    // ...and after REJECTED a new request is allowed too, which the requester withdraws.
    let third = request(&s, &ecp, cid(&lab), None).await;
    assert_eq!(third["status"], "PENDING", "{third}");
    let c = end(&s, &ecp, &third["id"]).await;
    assert_eq!(c["status"], "ENDED", "{c}");
    assert_eq!(c["endedBy"], ecp_party, "{c}");

    // The history, from both sides.
    assert_eq!(connections(&s, &ecp, json!({})).await.len(), 3);
    assert_eq!(
        connections(&s, &lab, json!({ "direction": "INCOMING" }))
            .await
            .len(),
        3
    );
    assert_eq!(
        connections(&s, &ecp, json!({ "direction": "INCOMING" }))
            .await
            .len(),
        0
    );
    assert_eq!(
        connections(&s, &ecp, json!({ "statuses": ["ENDED"] }))
            .await
            .len(),
        2
    );
    assert_eq!(
        connections(&s, &lab, json!({ "statuses": ["REJECTED"] }))
            .await
            .len(),
        1
    );
    assert_eq!(
        connections(&s, &lab, json!({ "statuses": ["PENDING", "ACTIVE"] }))
            .await
            .len(),
        0
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_managers_of_active_companies_request_and_answer_connections() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let ecp = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("ecp"))
        .await;
    let lab = listed_lab(&s, &pa, "Clearview Lens Lab").await;
    let supplier = listed_supplier(&s, &pa, "Northwind Frames").await;

    // Staff may not ask; a manager may.
    let staff = staff_of(&s, &ecp).await;
    assert_eq!(request_code(&s, &staff, cid(&lab)).await, "FORBIDDEN");
    assert!(
        connections(&s, &ecp, json!({})).await.is_empty(),
        "the refused request left a row"
    );
    let manager = member_of(&s, &ecp, "MANAGER").await;
    let c = request(&s, &manager, cid(&lab), None).await;
    assert_eq!(c["status"], "PENDING", "{c}");
    assert_eq!(c["requester"]["companyId"], json!(cid(&ecp)), "{c}");
    // The connection is the company's: staff can read it, not answer or end it.
    let lab_staff = staff_of(&s, &lab).await;
    assert_eq!(
        connection(&s, &lab_staff, &c["id"]).await["status"],
        "PENDING"
    );
    assert_eq!(
        respond_code(&s, &lab_staff, &c["id"], true).await,
        "FORBIDDEN"
    );
    assert_eq!(end_code(&s, &staff, &c["id"]).await, "FORBIDDEN");
    // The lab's manager answers.
    let lab_manager = member_of(&s, &lab, "MANAGER").await;
    assert_eq!(
        respond(&s, &lab_manager, &c["id"], true).await["status"],
        "ACTIVE"
    );

    // A lab still waiting for approval cannot ask a supplier.
    let pending = s
        .sign_up("Pending Lens Lab", "LAB", &email("pending"))
        .await;
    assert_eq!(
        request_code(&s, &pending, cid(&supplier)).await,
        "FORBIDDEN"
    );
    assert!(connections(&s, &supplier, json!({})).await.is_empty());
    // Once approved, it can.
    approve(&s, &pa, &pending).await;
    let c = request(&s, &pending, cid(&supplier), None).await;
    assert_eq!(c["status"], "PENDING", "{c}");
    assert_eq!(
        c["counterparty"],
        party(&supplier, "Northwind Frames", "SUPPLIER")
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_go_from_practices_to_labs_and_suppliers_and_labs_to_suppliers_only() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let ecp = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("ecp"))
        .await;
    let other_ecp = s
        .sign_up("Second Sight Opticians", "ECP", &email("ecp2"))
        .await;
    let lab = listed_lab(&s, &pa, "Clearview Lens Lab").await;
    let supplier = listed_supplier(&s, &pa, "Northwind Frames").await;

    // The allowed directions.
    assert_eq!(
        request(&s, &ecp, cid(&lab), None).await["status"],
        "PENDING"
    );
    assert_eq!(
        request(&s, &ecp, cid(&supplier), None).await["status"],
        "PENDING"
    );
    let c = request(&s, &lab, cid(&supplier), None).await;
    assert_eq!(c["status"], "PENDING", "{c}");
    assert_eq!(c["requester"], party(&lab, "Clearview Lens Lab", "LAB"));

    // A practice is never in the directory, so asking one answers as for a company that
    // does not exist (and says nothing of what the company is).
    assert_eq!(request_code(&s, &ecp, cid(&other_ecp)).await, "NOT_FOUND");
    assert_eq!(request_code(&s, &lab, cid(&ecp)).await, "NOT_FOUND");
    // Other directions to listed companies are bad input; so is asking oneself.
    assert_eq!(
        request_code(&s, &supplier, cid(&lab)).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(request_code(&s, &ecp, cid(&ecp)).await, "BAD_USER_INPUT");
    assert_eq!(request_code(&s, &lab, cid(&lab)).await, "BAD_USER_INPUT");
    // The problem is named at its input path; so is an ID that is not a company's or a
    // connection's.
    let (_, body) = s
        .post(&lab.auth(), &with_c(REQUEST), json!({ "c": cid(&lab) }))
        .await;
    assert_bad_input(&body["errors"][0], &["input", "companyId"]);
    let (_, body) = s
        .post(&ecp.auth(), &with_c(REQUEST), json!({ "c": "not-an-id" }))
        .await;
    assert_bad_input(&body["errors"][0], &["input", "companyId"]);
    let (_, body) = s
        .post(
            &lab.auth(),
            &with_c(RESPOND),
            json!({ "id": cid(&ecp), "a": true }),
        )
        .await;
    assert_bad_input(&body["errors"][0], &["input", "id"]);
    let (_, body) = s
        .post(&ecp.auth(), &with_c(END), json!({ "id": "not-an-id" }))
        .await;
    assert_bad_input(&body["errors"][0], &["input", "id"]);

    // A company not in the directory answers as one that does not exist: unlisted, or
    // listed but not yet approved.
    let unlisted = s.sign_up("Quiet Lens Lab", "LAB", &email("quiet")).await;
    approve(&s, &pa, &unlisted).await;
    assert_eq!(request_code(&s, &ecp, cid(&unlisted)).await, "NOT_FOUND");
    save_profile(
        &s,
        &unlisted,
        json!({ "listed": false, "description": "Private" }),
    )
    .await;
    assert_eq!(request_code(&s, &ecp, cid(&unlisted)).await, "NOT_FOUND");
    let pending = s
        .sign_up("Pending Lens Lab", "LAB", &email("pending"))
        .await;
    save_profile(&s, &pending, json!({ "listed": true })).await;
    assert_eq!(request_code(&s, &ecp, cid(&pending)).await, "NOT_FOUND");
    let missing = {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        URL_SAFE_NO_PAD.encode(format!("Company:{}", uuid::Uuid::now_v7()))
    };
    let (_, unlisted_body) = s
        .post(
            &ecp.auth(),
            &with_c(REQUEST),
            json!({ "c": cid(&unlisted) }),
        )
        .await;
    let (_, missing_body) = s
        .post(&ecp.auth(), &with_c(REQUEST), json!({ "c": missing }))
        .await;
    assert_eq!(
        missing_body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{missing_body}"
    );
    assert_eq!(
        unlisted_body["errors"][0]["message"], missing_body["errors"][0]["message"],
        "an unlisted company answers as a missing one"
    );
    // Only the three allowed requests exist.
    assert_eq!(connections(&s, &ecp, json!({})).await.len(), 2);
    assert_eq!(connections(&s, &supplier, json!({})).await.len(), 2);
    assert!(connections(&s, &other_ecp, json!({})).await.is_empty());
    assert!(connections(&s, &unlisted, json!({})).await.is_empty());
    assert!(connections(&s, &pending, json!({})).await.is_empty());
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_company_sees_nothing_of_a_connection_by_any_path() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let a = s.sign_up("Bright Eyes Opticians", "ECP", &email("a")).await;
    let b = listed_lab(&s, &pa, "Clearview Lens Lab").await;
    let c = s.sign_up("Curious Opticians", "ECP", &email("c")).await;
    let types: &[&str] = &["connection.*"];
    let mut wa = ws::subscribe_events_ready(&s, &a.auth(), Some(types), || {
        connection_sentinel(&s, &pa, &a)
    })
    .await;
    let mut wb = ws::subscribe_events_ready(&s, &b.auth(), Some(types), || {
        connection_sentinel(&s, &pa, &b)
    })
    .await;
    let mut wc = ws::subscribe_events_ready(&s, &c.auth(), Some(types), || {
        connection_sentinel(&s, &pa, &c)
    })
    .await;

    // A asks B; B accepts. Both parties hear of it.
    let conn = request(&s, &a, cid(&b), Some("private note")).await;
    let id = conn["id"].clone();
    let expected = |state: &str| json!({ "connectionId": id, "requesterCompanyId": cid(&a), "responderCompanyId": cid(&b), "state": state });
    for w in [&mut wa, &mut wb] {
        let ev = ws::next_event(w).await;
        assert_eq!(ev["type"], "connection.requested", "{ev}");
        assert_eq!(ev["data"], expected("PENDING"), "{ev}");
    }
    respond(&s, &b, &id, true).await;
    for w in [&mut wa, &mut wb] {
        let ev = ws::next_event(w).await;
        assert_eq!(ev["type"], "connection.accepted", "{ev}");
        assert_eq!(ev["data"], expected("ACTIVE"), "{ev}");
    }

    // The parties read it by id.
    for who in [&a, &b] {
        let n = s
            .ok(
                &who.auth(),
                "query($id: ID!) { node(id: $id) { id ... on TradeConnection { status } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(n["node"], json!({ "id": id, "status": "ACTIVE" }));
    }

    // C: nothing, by any path.
    assert_eq!(connection(&s, &c, &id).await, Value::Null);
    let n = s
        .ok(
            &c.auth(),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(n["node"], Value::Null, "{n}");
    let n = s
        .ok(
            &c.auth(),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [id] }),
        )
        .await;
    assert_eq!(n["nodes"], json!([null]), "{n}");
    let (_, listed) = s.post(&c.auth(), &with_c(CONNECTIONS), json!({})).await;
    let text = listed.to_string();
    assert!(listed["errors"].is_null(), "{listed}");
    assert!(!text.contains(id.as_str().unwrap()), "{text}");
    assert!(!text.contains("private note"), "{text}");
    assert!(!text.contains(cid(&a)), "{text}");
    assert_eq!(respond_code(&s, &c, &id, false).await, "NOT_FOUND");
    assert_eq!(end_code(&s, &c, &id).await, "NOT_FOUND");
    // (A lab that is no party does not get further either.)
    let other_lab = listed_lab(&s, &pa, "Other Lens Lab").await;
    assert_eq!(connection(&s, &other_lab, &id).await, Value::Null);
    assert_eq!(respond_code(&s, &other_lab, &id, false).await, "NOT_FOUND");
    assert_eq!(end_code(&s, &other_lab, &id).await, "NOT_FOUND");
    // Nothing changed.
    assert_eq!(connection(&s, &a, &id).await["status"], "ACTIVE");

    // C heard nothing of it; the parties nothing more.
    ws::assert_no_event(
        &mut [&mut wc],
        "a third company heard of the connection",
        || connection_sentinel(&s, &pa, &c),
    )
    .await;
    ws::assert_no_event(&mut [&mut wa], "A got an extra event", || {
        connection_sentinel(&s, &pa, &a)
    })
    .await;
    ws::assert_no_event(&mut [&mut wb], "B got an extra event", || {
        connection_sentinel(&s, &pa, &b)
    })
    .await;

    for mut w in [wa, wb, wc] {
        w.close(None).await.ok();
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Catalogs
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppliers_create_update_and_delete_their_catalog_items() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let supplier = listed_supplier(&s, &pa, "Northwind Frames").await;

    // A frame, with its attributes; the price as a decimal string, the currency upper-cased.
    let frame = create_item(&s, &supplier, frame_input("FR-1001")).await;
    assert!(frame["id"].is_string(), "{frame}");
    assert_eq!(frame["supplierId"], json!(cid(&supplier)));
    assert_eq!(frame["sku"], "FR-1001");
    assert_eq!(frame["gtin"], "4006381333931");
    assert_eq!(frame["name"], "Aviator Classic Gold");
    assert_eq!(frame["brand"], "Northwind");
    assert_eq!(frame["category"], "FRAME");
    assert_eq!(
        frame["price"],
        json!({ "amount": "12.5", "currency": "EUR" })
    );
    assert_eq!(frame["minOrderQuantity"], 2);
    assert_eq!(frame["leadTimeDays"], 3);
    assert_eq!(frame["active"], true);
    assert_eq!(
        frame["frame"],
        json!({ "model": "NW-100", "colour": "Gold", "eyeSize": 52, "bridge": 18, "templeLength": 140,
                "bSize": 40, "frameType": "FULL_RIM", "material": "Titanium" })
    );
    assert_eq!(frame["contactLens"], Value::Null);
    assert_eq!(frame["spectacleLens"], Value::Null);
    assert_eq!(frame["lensBlank"], Value::Null);

    // A contact lens and a sundry, with defaults.
    let lens = create_item(&s, &supplier, contact_lens_input("CL-2001")).await;
    assert_eq!(lens["category"], "CONTACT_LENS");
    assert_eq!(
        lens["price"],
        json!({ "amount": "24.9", "currency": "EUR" })
    );
    assert_eq!(lens["contactLens"]["baseCurve"], "8.6", "{lens}");
    assert_eq!(lens["contactLens"]["diameter"], "14.2", "{lens}");
    assert_eq!(lens["contactLens"]["power"], "-2.25", "{lens}");
    assert_eq!(lens["contactLens"]["packSize"], 30, "{lens}");
    assert_eq!(lens["contactLens"]["wearSchedule"], "DAILY", "{lens}");
    assert_eq!(lens["frame"], Value::Null);
    assert_eq!(lens["gtin"], Value::Null);
    let sundry = create_item(&s, &supplier, sundry_input("SU-3001")).await;
    assert_eq!(sundry["category"], "SUNDRY");
    assert_eq!(sundry["price"]["amount"], "0.8");
    assert_eq!(sundry["minOrderQuantity"], 1, "default");
    assert_eq!(sundry["leadTimeDays"], 0, "default");
    assert_eq!(sundry["active"], true, "default");
    for block in ["frame", "contactLens", "spectacleLens", "lensBlank"] {
        assert_eq!(sundry[block], Value::Null, "{sundry}");
    }
    assert_eq!(
        my_skus(&s, &supplier, json!({})).await,
        set(&["FR-1001", "CL-2001", "SU-3001"])
    );

    // Refused input, naming the field.
    let mut bad_gtin = frame_input("FR-1009");
    bad_gtin["gtin"] = json!("4006381333932");
    let err = create_item_error(&s, &supplier, bad_gtin).await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(err["extensions"]["field"], json!("input.gtin"), "{err}");
    let mut bad_eye = frame_input("FR-1009");
    bad_eye["frame"]["eyeSize"] = json!(90);
    let err = create_item_error(&s, &supplier, bad_eye).await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(
        err["extensions"]["field"],
        json!("input.frame.eyeSize"),
        "{err}"
    );
    // The price is Money: each problem at its own path, all in one response.
    let mut bad_price = frame_input("FR-1009");
    bad_price["price"] = json!({ "amount": "-1", "currency": "EURO" });
    let (_, body) = s
        .post(
            &supplier.auth(),
            &with_i(CREATE_ITEM),
            json!({ "input": bad_price }),
        )
        .await;
    let fields: BTreeSet<String> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"]
                .as_str()
                .expect("a field")
                .to_owned()
        })
        .collect();
    assert_eq!(
        fields,
        set(&["input.price.amount", "input.price.currency"]),
        "{body}"
    );
    let mut not_iso = sundry_input("SU-3009");
    not_iso["price"]["currency"] = json!("XYZ");
    let err = create_item_error(&s, &supplier, not_iso).await;
    assert_eq!(
        err["extensions"]["field"],
        json!("input.price.currency"),
        "{err}"
    );
    let mut missing_block = frame_input("FR-1009");
    missing_block["frame"] = Value::Null;
    let err = create_item_error(&s, &supplier, missing_block).await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    // A SKU already in the catalog.
    let mut dup = sundry_input("FR-1001");
    dup["name"] = json!("Another item");
    let err = create_item_error(&s, &supplier, dup).await;
    assert_eq!(err["extensions"]["code"], "CONFLICT", "{err}");
    assert_eq!(
        my_skus(&s, &supplier, json!({})).await.len(),
        3,
        "a refused item was stored"
    );

    // Only suppliers have catalogs, and only their admins and managers edit them.
    let ecp = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("ecp"))
        .await;
    let err = create_item_error(&s, &ecp, sundry_input("SU-9001")).await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");
    let lab = listed_lab(&s, &pa, "Clearview Lens Lab").await;
    let err = create_item_error(&s, &lab, sundry_input("SU-9001")).await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");
    let staff = staff_of(&s, &supplier).await;
    let err = create_item_error(&s, &staff, sundry_input("SU-9001")).await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");
    let manager = member_of(&s, &supplier, "MANAGER").await;
    create_item(&s, &manager, sundry_input("SU-3002")).await;
    // Staff read the catalog.
    assert_eq!(
        my_skus(&s, &staff, json!({})).await,
        set(&["FR-1001", "CL-2001", "SU-3001", "SU-3002"])
    );

    // Update replaces the item: a new price.
    let mut input = frame_input("FR-1001");
    input["price"] = json!({ "amount": "15", "currency": "EUR" });
    let updated = s
        .ok(
            &supplier.auth(),
            &with_i(UPDATE_ITEM),
            update_vars(&frame["id"], input),
        )
        .await["updateCatalogItem"]["catalogItem"]
        .clone();
    assert_eq!(updated["id"], frame["id"]);
    assert_eq!(
        updated["price"],
        json!({ "amount": "15", "currency": "EUR" })
    );
    assert_eq!(updated["frame"]["eyeSize"], 52);
    let mine = s
        .ok(
            &supplier.auth(),
            &with_i(MY_CATALOG),
            json!({ "f": { "category": "FRAME" } }),
        )
        .await;
    let frames = nodes(&mine["catalogItems"]);
    assert_eq!(frames.len(), 1, "{mine}");
    assert_eq!(frames[0]["price"]["amount"], "15");
    // Updating into another item's SKU is a conflict.
    let (_, body) = s
        .post(
            &supplier.auth(),
            &with_i(UPDATE_ITEM),
            update_vars(&frame["id"], sundry_input("SU-3001")),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );

    // Delete removes it.
    let deleted = s
        .ok(&supplier.auth(), DELETE_ITEM, json!({ "id": sundry["id"] }))
        .await;
    assert_eq!(deleted["deleteCatalogItem"]["deletedId"], sundry["id"]);
    assert_eq!(
        my_skus(&s, &supplier, json!({})).await,
        set(&["FR-1001", "CL-2001", "SU-3002"])
    );
    assert_eq!(node(&s, &supplier, &sundry["id"]).await, Value::Null);
    assert_eq!(
        s.error_code(&supplier.auth(), DELETE_ITEM, json!({ "id": sundry["id"] }))
            .await,
        "NOT_FOUND"
    );
    // The supplier reads its own item by id.
    assert_eq!(
        node(&s, &supplier, &lens["id"]).await,
        json!({ "id": lens["id"], "sku": "CL-2001" })
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_actively_connected_buyers_see_a_suppliers_active_items() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let supplier = listed_supplier(&s, &pa, "Northwind Frames").await;
    let frame = create_item(&s, &supplier, frame_input("FR-1001")).await;
    let lens = create_item(&s, &supplier, contact_lens_input("CL-2001")).await;
    let sundry = create_item(&s, &supplier, sundry_input("SU-3001")).await;
    let mut hidden = frame_input("FR-1002");
    hidden["name"] = json!("Aviator Classic Tortoise");
    hidden["active"] = json!(false);
    let hidden = create_item(&s, &supplier, hidden).await;
    assert_eq!(hidden["active"], false);

    // Not connected: the catalog answers as a supplier that does not exist.
    let buyer = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("buyer"))
        .await;
    assert_eq!(
        supplier_catalog_code(&s, &buyer, &supplier).await,
        "NOT_FOUND"
    );
    assert_eq!(node(&s, &buyer, &frame["id"]).await, Value::Null);
    // A pending request is not enough.
    let c = request(&s, &buyer, cid(&supplier), None).await;
    assert_eq!(
        supplier_catalog_code(&s, &buyer, &supplier).await,
        "NOT_FOUND"
    );
    assert_eq!(node(&s, &buyer, &frame["id"]).await, Value::Null);

    // Connected: active items only.
    respond(&s, &supplier, &c["id"], true).await;
    assert_eq!(
        their_skus(&s, &buyer, &supplier, json!({})).await,
        set(&["FR-1001", "CL-2001", "SU-3001"])
    );
    let data = s
        .ok(
            &buyer.auth(),
            &with_i(SUPPLIER_CATALOG),
            json!({ "s": cid(&supplier), "f": { "category": "FRAME" } }),
        )
        .await;
    let frames = nodes(&data["supplierCatalog"]);
    assert_eq!(frames.len(), 1, "{data}");
    assert_eq!(
        frames[0]["price"],
        json!({ "amount": "12.5", "currency": "EUR" })
    );
    assert_eq!(frames[0]["frame"]["templeLength"], 140);
    for (filter, expected) in [
        (json!({ "category": "CONTACT_LENS" }), vec!["CL-2001"]),
        (json!({ "category": "LENS_BLANK" }), vec![]),
        (json!({ "brand": "northwind" }), vec!["FR-1001", "SU-3001"]),
        (json!({ "brand": "AquaVue" }), vec!["CL-2001"]),
        (json!({ "text": "aviator" }), vec!["FR-1001"]),
        (json!({ "text": "Comfort" }), vec!["CL-2001"]),
        (json!({ "text": "cleaning northwind" }), vec!["SU-3001"]),
        (json!({ "text": "tortoise" }), vec![]),
    ] {
        assert_eq!(
            their_skus(&s, &buyer, &supplier, filter.clone()).await,
            set(&expected),
            "{filter}"
        );
    }
    // Asking for inactive items does not show them to a buyer.
    let asked = their_skus(&s, &buyer, &supplier, json!({ "active": false })).await;
    assert!(!asked.contains("FR-1002"), "{asked:?}");
    assert_eq!(
        node(&s, &buyer, &lens["id"]).await,
        json!({ "id": lens["id"], "sku": "CL-2001" })
    );
    assert_eq!(node(&s, &buyer, &hidden["id"]).await, Value::Null);
    // The supplier sees its inactive item in its own catalog.
    assert_eq!(
        my_skus(&s, &supplier, json!({})).await,
        set(&["FR-1001", "FR-1002", "CL-2001", "SU-3001"])
    );
    assert_eq!(
        my_skus(&s, &supplier, json!({ "active": false })).await,
        set(&["FR-1002"])
    );
    assert_eq!(
        my_skus(&s, &supplier, json!({ "text": "tortoise" })).await,
        set(&["FR-1002"])
    );
    // The buyer's own catalog is empty, and holds none of the supplier's items.
    assert!(my_skus(&s, &buyer, json!({})).await.is_empty());

    // The buyer cannot change the supplier's items: a practice has no catalog at all.
    let (_, body) = s
        .post(
            &buyer.auth(),
            &with_i(UPDATE_ITEM),
            update_vars(&frame["id"], frame_input("FR-1001")),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(
        s.error_code(&buyer.auth(), DELETE_ITEM, json!({ "id": frame["id"] }))
            .await,
        "FORBIDDEN"
    );
    // Another supplier, even a connected one, finds no such item.
    let rival = listed_supplier(&s, &pa, "Rival Frames").await;
    let (_, body) = s
        .post(
            &rival.auth(),
            &with_i(UPDATE_ITEM),
            update_vars(&frame["id"], frame_input("FR-1001")),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
    assert_eq!(
        s.error_code(&rival.auth(), DELETE_ITEM, json!({ "id": frame["id"] }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        supplier_catalog_code(&s, &rival, &supplier).await,
        "NOT_FOUND"
    );
    assert_eq!(node(&s, &rival, &frame["id"]).await, Value::Null);
    // A connected lab is a buyer too, and cannot change items either.
    let lab = s.sign_up("Clearview Lens Lab", "LAB", &email("lab")).await;
    approve(&s, &pa, &lab).await;
    let lc = request(&s, &lab, cid(&supplier), None).await;
    respond(&s, &supplier, &lc["id"], true).await;
    assert_eq!(their_skus(&s, &lab, &supplier, json!({})).await.len(), 3);
    assert_eq!(
        s.error_code(&lab.auth(), DELETE_ITEM, json!({ "id": sundry["id"] }))
            .await,
        "FORBIDDEN"
    );
    // Nothing changed.
    let kept = s
        .ok(
            &supplier.auth(),
            &with_i(MY_CATALOG),
            json!({ "f": { "category": "FRAME", "active": true } }),
        )
        .await;
    let kept = nodes(&kept["catalogItems"]);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["price"]["amount"], "12.5");

    // The supplier's changes reach the buyer.
    let mut input = frame_input("FR-1001");
    input["price"]["amount"] = json!("13.75");
    s.ok(
        &supplier.auth(),
        &with_i(UPDATE_ITEM),
        update_vars(&frame["id"], input),
    )
    .await;
    s.ok(&supplier.auth(), DELETE_ITEM, json!({ "id": sundry["id"] }))
        .await;
    let data = s
        .ok(
            &buyer.auth(),
            &with_i(SUPPLIER_CATALOG),
            json!({ "s": cid(&supplier) }),
        )
        .await;
    let items = nodes(&data["supplierCatalog"]);
    assert_eq!(items.len(), 2, "{data}");
    let f = items
        .iter()
        .find(|i| i["sku"] == "FR-1001")
        .expect("the frame");
    assert_eq!(f["price"]["amount"], "13.75");

    // Ended: the catalog closes at once.
    let ended = end(&s, &buyer, &c["id"]).await;
    assert_eq!(ended["status"], "ENDED");
    assert_eq!(
        supplier_catalog_code(&s, &buyer, &supplier).await,
        "NOT_FOUND"
    );
    assert_eq!(node(&s, &buyer, &frame["id"]).await, Value::Null);
    // The lab's connection is untouched.
    assert_eq!(their_skus(&s, &lab, &supplier, json!({})).await.len(), 2);

    // A connected buyer of another supplier sees nothing of this one.
    let (other_buyer, _) = connected_buyer(&s, &rival, "Second Sight Opticians").await;
    assert_eq!(
        supplier_catalog_code(&s, &other_buyer, &supplier).await,
        "NOT_FOUND"
    );
    assert!(
        their_skus(&s, &other_buyer, &rival, json!({}))
            .await
            .is_empty()
    );
    s.finish().await;
}

/// A company that renames itself (tenancy's company profile) is shown by its new name in
/// the directory and on both sides of its connections, shortly after (the sync handler).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_company_shows_its_new_name_in_the_directory_and_its_connections() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let lab = listed_lab(&s, &pa, "Old Name Lab").await;
    let practice = s.sign_up("Renaming Optics", "ECP", &email("rn")).await;
    let asked = request(&s, &practice, cid(&lab), None).await;
    s.ok(
        &lab.auth(),
        "mutation { updateCompanyProfile(input: { name: \"New Name Lab\" }) { company { name } } }",
        json!({}),
    )
    .await;
    s.ok(
        &practice.auth(),
        "mutation { updateCompanyProfile(input: { name: \"Renamed Optics\" }) { company { name } } }",
        json!({}),
    )
    .await;
    eventually("the new names", Duration::from_secs(10), || async {
        let seen_by_practice = connection(&s, &practice, &asked["id"]).await;
        let seen_by_lab = connection(&s, &lab, &asked["id"]).await;
        let listed = lab_names(&s, &practice, json!({ "text": "new name" })).await;
        let ok = seen_by_practice["counterparty"]["name"] == "New Name Lab"
            && seen_by_lab["counterparty"]["name"] == "Renamed Optics"
            && listed == set(&["New Name Lab"]);
        if ok {
            Ok(())
        } else {
            Err((seen_by_practice, seen_by_lab, listed))
        }
    })
    .await;
    assert!(
        lab_names(&s, &practice, json!({ "text": "old" }))
            .await
            .is_empty()
    );
    s.finish().await;
}

/// A profile is public only when listed (and its company active): an unlisted profile
/// answers `node` like a missing one for anyone but its own company, which alone edits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_profile_is_nobody_elses_by_any_path() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let quiet = s.sign_up("Quiet Lab", "LAB", &email("quiet")).await;
    approve(&s, &pa, &quiet).await;
    let listed = listed_lab(&s, &pa, "Open Lab").await;
    let other = s.sign_up("Looking Optics", "ECP", &email("look")).await;
    let quiet_profile = save_profile(&s, &quiet, json!({ "description": "private" })).await;
    let open_profile = s
        .ok(&listed.auth(), "{ myMarketplaceProfile { id } }", json!({}))
        .await["myMarketplaceProfile"]["id"]
        .clone();
    const NODE: &str =
        "query($id: ID!) { node(id: $id) { id ... on MarketplaceProfile { name } } }";
    let hidden = s
        .ok(&other.auth(), NODE, json!({ "id": quiet_profile["id"] }))
        .await;
    assert_eq!(hidden["node"], Value::Null);
    let mine = s
        .ok(&quiet.auth(), NODE, json!({ "id": quiet_profile["id"] }))
        .await;
    assert_eq!(mine["node"]["name"], "Quiet Lab");
    let public = s
        .ok(&other.auth(), NODE, json!({ "id": open_profile }))
        .await;
    assert_eq!(public["node"]["name"], "Open Lab");
    assert!(lab_names(&s, &other, json!({})).await.contains("Open Lab"));
    assert!(!lab_names(&s, &other, json!({})).await.contains("Quiet Lab"));
    s.finish().await;
}
