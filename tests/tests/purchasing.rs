//! Purchasing and stock counts: a purchase order from a practice to a supplier it is
//! actively connected with (draft, submission, the supplier's answer, receipts in parts
//! at the agreed prices, every change on the version it saw, live events for both
//! parties), nothing of it for anyone else, rejection and cancellation, a system draft
//! that waits for a person's approval, a stock count whose differences are posted once
//! as adjustments, and concurrent drafts and receipts that take turns.

use ils_inventory::service::purchasing::{NewLine, NewOrder, system_draft};
use ils_tests::ws;
use ils_tests::{
    Auth, Session, TestServer, assert_bad_input, company_uuid, dec, email, listed_company, nodes,
    staff_of, units,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

const PO_FIELDS: &str = "fragment PO on PurchaseOrder { id poNumber status version buyerId
    supplierId supplierName location { id } currency createdBySystem approvedAt submittedAt
    supplierReference rejectReason notes total { amount currency }
    lines { id catalogItemId product { id } sku name quantity unitPrice { amount currency } receivedQuantity } }";

const CREATE: &str = "mutation($i: CreatePurchaseOrderInput!) {
    createPurchaseOrder(input: $i) { purchaseOrder { ...PO } } }";
const APPROVE: &str = "mutation($id: ID!, $v: Int!) {
    approvePurchaseOrder(input: { id: $id, version: $v }) { purchaseOrder { ...PO } } }";
const SUBMIT: &str = "mutation($id: ID!, $v: Int!) {
    submitPurchaseOrder(input: { id: $id, version: $v }) { purchaseOrder { ...PO } } }";
const ACKNOWLEDGE: &str = "mutation($id: ID!, $v: Int!, $r: String) {
    acknowledgePurchaseOrder(input: { id: $id, version: $v, supplierReference: $r }) {
    purchaseOrder { ...PO } } }";
const REJECT: &str = "mutation($id: ID!, $v: Int!, $r: String!) {
    rejectPurchaseOrder(input: { id: $id, version: $v, reason: $r }) { purchaseOrder { ...PO } } }";
const CANCEL: &str = "mutation($id: ID!, $v: Int!) {
    cancelPurchaseOrder(input: { id: $id, version: $v }) { purchaseOrder { ...PO } } }";
const RECEIVE: &str = "mutation($id: ID!, $v: Int!, $l: [ReceiptLineInput!]!, $over: Boolean) {
    receivePurchaseOrder(input: { id: $id, version: $v, lines: $l, allowOverReceipt: $over }) {
    purchaseOrder { ...PO } } }";
const ORDERS: &str = "{ purchaseOrders(first: 100) { edges { node { ...PO } } } }";
const INBOX: &str = "{ supplierPurchaseOrders(first: 100) { edges { node { ...PO } } } }";
const ONE: &str = "query($id: ID!) { purchaseOrder(id: $id) { ...PO } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on PurchaseOrder { poNumber status version lines { sku product { id } } } } }";

const CREATE_ITEM: &str = "mutation($i: CreateCatalogItemInput!) {
    createCatalogItem(input: $i) { catalogItem { id sku } } }";
const CREATE_PRODUCT: &str =
    "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id sku gtin } } }";
const PRODUCTS: &str = "{ products(first: 100) { edges { node { id sku supplierItemId } } } }";
const POST_MOVEMENT: &str = "mutation($i: PostStockMovementInput!) {
    postStockMovement(input: $i) { stockMovement { id kind quantity onHandAfter } } }";
const LEVELS: &str = "query($f: StockFilter) { stockLevels(filter: $f, first: 100) { edges { node {
    id onHand reserved averageCost { amount currency } product { id sku } location { id isDefault } } } } }";
const MOVEMENTS: &str =
    "query($f: MovementFilter) { stockMovements(filter: $f, first: 100) { edges { node {
    id kind product { id } location { id } quantity unitCost { amount currency } onHandAfter reference note } } } }";
const LOCATIONS: &str = "{ stockLocations { id name isDefault } }";

const COUNT_FIELDS: &str = "fragment SC on StockCount { id location { id } status postedAt
    lines { product { id } counted expected difference } }";
const START_COUNT: &str = "mutation { startStockCount(input: {}) { stockCount { ...SC } } }";
const RECORD_COUNT: &str = "mutation($id: ID!, $l: [CountedInput!]!) {
    recordStockCount(input: { id: $id, lines: $l }) { stockCount { ...SC } } }";
const POST_COUNT: &str =
    "mutation($id: ID!) { postStockCount(input: { id: $id }) { stockCount { ...SC } } }";
const ONE_COUNT: &str = "query($id: ID!) { stockCount(id: $id) { ...SC } }";
const CANCEL_COUNT: &str =
    "mutation($id: ID!) { cancelStockCount(input: { id: $id }) { stockCount { ...SC } } }";

fn po(query: &str) -> String {
    format!("{query} {PO_FIELDS}")
}

fn sc(query: &str) -> String {
    format!("{query} {COUNT_FIELDS}")
}

/// The session's company global ID.
fn cid(who: &Session) -> &str {
    who.company_id.as_deref().expect("a company session")
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// A cleaning cloth at 0.45 GBP, sold in tens.
fn sundry_item(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Microfibre Cleaning Cloth", "brand": "Northwind", "category": "SUNDRY",
        "price": { "amount": "0.45", "currency": "GBP" }, "minOrderQuantity": 10, "leadTimeDays": 2
    })
}

/// A daily contact lens, 30 a pack, at 14.90 GBP.
fn lens_item(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Daily Comfort Moist", "brand": "AquaVue", "category": "CONTACT_LENS",
        "price": { "amount": "14.90", "currency": "GBP" },
        "contactLens": { "baseCurve": "8.6", "diameter": "14.2", "power": "-2.25", "packSize": 30, "wearSchedule": "DAILY" }
    })
}

/// Creates a catalog item of the supplier; returns `{ id sku }`.
async fn create_item(s: &TestServer, supplier: &Session, input: Value) -> Value {
    s.ok(&supplier.auth(), CREATE_ITEM, json!({ "i": input }))
        .await["createCatalogItem"]["catalogItem"]
        .clone()
}

/// A listed supplier with a sundry (min. 10) and a contact lens in its catalog, and a
/// practice actively connected with it. Returns (supplier, practice, sundry, lens).
async fn trading_pair(s: &TestServer, pa: &Session) -> (Session, Session, Value, Value) {
    let supplier = listed_company(
        s,
        pa,
        "Northwind Optical Supplies",
        "SUPPLIER",
        json!({ "specialties": ["CONTACT_LENSES"] }),
    )
    .await;
    let sundry = create_item(s, &supplier, sundry_item("NW-CLOTH-01")).await;
    let lens = create_item(s, &supplier, lens_item("AV-DAILY-225")).await;
    let practice = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("buyer"))
        .await;
    ils_tests::connect(s, &practice, &supplier).await;
    (supplier, practice, sundry, lens)
}

/// The input of a purchase order to `supplier` with `(item, quantity)` lines.
fn order_input(supplier: &Session, lines: &[(&Value, i64)]) -> Value {
    json!({
        "supplierId": cid(supplier),
        "lines": lines
            .iter()
            .map(|(item, q)| json!({ "catalogItemId": item["id"], "quantity": q }))
            .collect::<Vec<_>>(),
    })
}

/// `query` as `who` (for requests sent at once).
async fn post_as(s: &TestServer, who: &Session, query: String, vars: Value) -> (u16, Value) {
    s.post(&who.auth(), &query, vars).await
}

/// `query` as `who`, which must succeed; returns `data` at `path` (dotted: a payload's
/// field).
async fn done(s: &TestServer, who: &Session, query: &str, vars: Value, path: &str) -> Value {
    let data = s.ok(&who.auth(), &po(query), vars).await;
    path.split('.').fold(data, |v, key| v[key].clone())
}

/// The error code of a purchase order operation as `who`.
/// The variables `{ id, v }` naming `order` at its current version.
fn at_version(order: &Value) -> Value {
    json!({ "id": order["id"], "v": order["version"] })
}

async fn code_of(s: &TestServer, who: &Session, query: &str, vars: Value) -> String {
    s.error(&who.auth(), &po(query), vars).await["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code for {query}"))
        .to_owned()
}

async fn create(s: &TestServer, who: &Session, input: Value) -> Value {
    done(
        s,
        who,
        CREATE,
        json!({ "i": input }),
        "createPurchaseOrder.purchaseOrder",
    )
    .await
}

async fn submit(s: &TestServer, who: &Session, order: &Value) -> Value {
    done(
        s,
        who,
        SUBMIT,
        at_version(order),
        "submitPurchaseOrder.purchaseOrder",
    )
    .await
}

async fn acknowledge(s: &TestServer, who: &Session, order: &Value, reference: &str) -> Value {
    done(
        s,
        who,
        ACKNOWLEDGE,
        json!({ "id": order["id"], "v": order["version"], "r": reference }),
        "acknowledgePurchaseOrder.purchaseOrder",
    )
    .await
}

/// Variables of `RECEIVE` for `order` at its version, with `(line index, quantity)`.
fn receipt(order: &Value, lines: &[(usize, i64)], over: Option<bool>) -> Value {
    json!({
        "id": order["id"],
        "v": order["version"],
        "l": lines
            .iter()
            .map(|(i, q)| json!({ "lineId": order["lines"][*i]["id"], "quantity": q }))
            .collect::<Vec<_>>(),
        "over": over,
    })
}

async fn receive(s: &TestServer, who: &Session, vars: Value) -> Value {
    done(s, who, RECEIVE, vars, "receivePurchaseOrder.purchaseOrder").await
}

/// `who`'s purchase orders as the buyer.
async fn orders_of(s: &TestServer, who: &Session) -> Vec<Value> {
    nodes(&done(s, who, ORDERS, json!({}), "purchaseOrders").await)
}

/// The purchase orders sent to `who` as the supplier.
async fn inbox_of(s: &TestServer, who: &Session) -> Vec<Value> {
    nodes(&done(s, who, INBOX, json!({}), "supplierPurchaseOrders").await)
}

async fn one(s: &TestServer, who: &Session, id: &Value) -> Value {
    done(s, who, ONE, json!({ "id": id }), "purchaseOrder").await
}

/// `who`'s products by SKU.
async fn products_of(s: &TestServer, who: &Session) -> BTreeMap<String, Value> {
    nodes(&s.ok(&who.auth(), PRODUCTS, json!({})).await["products"])
        .into_iter()
        .map(|p| (p["sku"].as_str().expect("a sku").to_owned(), p))
        .collect()
}

async fn levels(s: &TestServer, who: &Session, filter: Value) -> Vec<Value> {
    nodes(&s.ok(&who.auth(), LEVELS, json!({ "f": filter })).await["stockLevels"])
}

async fn movements(s: &TestServer, who: &Session, filter: Value) -> Vec<Value> {
    nodes(&s.ok(&who.auth(), MOVEMENTS, json!({ "f": filter })).await["stockMovements"])
}

/// The one stock level of `product`; `None` when it has never moved.
async fn level_of(s: &TestServer, who: &Session, product: &Value) -> Option<Value> {
    let mut found = levels(s, who, json!({ "productId": product })).await;
    assert!(found.len() <= 1, "one location only: {found:?}");
    found.pop()
}

async fn default_location(s: &TestServer, who: &Session) -> Value {
    let data = s.ok(&who.auth(), LOCATIONS, json!({})).await;
    data["stockLocations"]
        .as_array()
        .expect("locations")
        .iter()
        .find(|l| l["isDefault"] == true)
        .unwrap_or_else(|| panic!("a default location: {data}"))["id"]
        .clone()
}

/// Fires `who`'s sentinel and returns every `purchase_order.*` event that arrived on
/// `socket` before it, as (type, purchaseOrderId, status, version).
async fn purchase_events_before_sentinel(
    s: &TestServer,
    who: &Session,
    socket: &mut ws::Ws,
) -> Vec<(String, Value, Value, Value)> {
    let token = ws::profile_saved(s, who).await;
    let mut seen = vec![];
    loop {
        let ev = ws::next_event(socket).await;
        let t = ev["type"].as_str().expect("an event type").to_owned();
        if t.starts_with("purchase_order.") {
            seen.push((
                t,
                ev["data"]["purchaseOrderId"].clone(),
                ev["data"]["status"].clone(),
                ev["data"]["version"].clone(),
            ));
        } else if ev["data"].to_string().contains(&token) {
            return seen;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The journey
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_order_goes_from_practice_to_supplier_and_is_received_in_parts() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, lens) = trading_pair(&s, &pa).await;

    // Both parties follow purchase orders live.
    let types: &[&str] = &["purchase_order.*", "marketplace.profile_updated"];
    let mut practice_socket = ws::subscribe_events_ready(&s, &practice.auth(), Some(types), || {
        ws::profile_saved(&s, &practice)
    })
    .await;
    let mut supplier_socket = ws::subscribe_events_ready(&s, &supplier.auth(), Some(types), || {
        ws::profile_saved(&s, &supplier)
    })
    .await;

    // Below the supplier's minimum: refused, and nothing is made.
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[(&sundry, 5), (&lens, 3)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "0", "quantity"]);
    assert!(orders_of(&s, &practice).await.is_empty());

    // The draft: 20 cloths at 0.45 and 3 packs at 14.90.
    let mut input = order_input(&supplier, &[(&sundry, 20), (&lens, 3)]);
    input["notes"] = json!("Deliver to the back door");
    let order = create(&s, &practice, input).await;
    assert_eq!(order["status"], "DRAFT", "{order}");
    assert_eq!(order["poNumber"], "PO-000001", "{order}");
    assert_eq!(order["version"], 1, "{order}");
    assert_eq!(order["buyerId"], cid(&practice), "{order}");
    assert_eq!(order["supplierId"], cid(&supplier), "{order}");
    assert_eq!(
        order["supplierName"], "Northwind Optical Supplies",
        "{order}"
    );
    assert_eq!(order["currency"], "GBP", "{order}");
    assert_eq!(order["createdBySystem"], false, "{order}");
    assert_eq!(order["notes"], "Deliver to the back door", "{order}");
    assert!(order["submittedAt"].is_null(), "{order}");
    assert_eq!(order["total"]["currency"], "GBP", "{order}");
    assert_eq!(
        units(&order["total"]["amount"]),
        dec("53.70"),
        "20 x 0.45 + 3 x 14.90: {order}"
    );
    assert_eq!(
        order["location"]["id"],
        default_location(&s, &practice).await,
        "received at the default location: {order}"
    );
    let lines = order["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{order}");
    assert_eq!(lines[0]["catalogItemId"], sundry["id"], "{order}");
    assert_eq!(lines[0]["sku"], "NW-CLOTH-01", "{order}");
    assert_eq!(lines[0]["quantity"], 20, "{order}");
    assert_eq!(lines[0]["receivedQuantity"], 0, "{order}");
    assert_eq!(units(&lines[0]["unitPrice"]["amount"]), dec("0.45"));
    assert_eq!(lines[1]["catalogItemId"], lens["id"], "{order}");
    assert_eq!(lines[1]["sku"], "AV-DAILY-225", "{order}");
    assert_eq!(lines[1]["quantity"], 3, "{order}");
    assert_eq!(units(&lines[1]["unitPrice"]["amount"]), dec("14.90"));

    // The lines are received as the practice's products, made from the items.
    let products = products_of(&s, &practice).await;
    assert_eq!(products.len(), 2, "{products:?}");
    for (i, (sku, item)) in [("NW-CLOTH-01", &sundry), ("AV-DAILY-225", &lens)]
        .into_iter()
        .enumerate()
    {
        let p = products
            .get(sku)
            .unwrap_or_else(|| panic!("a product {sku}: {products:?}"));
        assert_eq!(p["supplierItemId"], item["id"], "{p}");
        assert_eq!(order["lines"][i]["product"]["id"], p["id"], "{order}");
    }

    // By global ID, for the buyer.
    let node = s
        .ok(&practice.auth(), NODE, json!({ "id": order["id"] }))
        .await["node"]
        .clone();
    assert_eq!(node["poNumber"], "PO-000001", "{node}");
    assert_eq!(node["status"], "DRAFT", "{node}");
    assert_eq!(
        node["lines"][0]["product"]["id"], order["lines"][0]["product"]["id"],
        "{node}"
    );

    // The supplier sees nothing of a draft.
    assert!(inbox_of(&s, &supplier).await.is_empty());
    assert!(one(&s, &supplier, &order["id"]).await.is_null());
    let node = s
        .ok(&supplier.auth(), NODE, json!({ "id": order["id"] }))
        .await;
    assert!(node["node"].is_null(), "{node}");
    assert_eq!(
        code_of(
            &s,
            &supplier,
            ACKNOWLEDGE,
            json!({ "id": order["id"], "v": 1, "r": "SO-1" })
        )
        .await,
        "NOT_FOUND"
    );

    // Submission names the version it saw.
    assert_eq!(
        code_of(&s, &practice, SUBMIT, json!({ "id": order["id"], "v": 7 })).await,
        "CONFLICT"
    );
    let order = submit(&s, &practice, &order).await;
    assert_eq!(order["status"], "SUBMITTED", "{order}");
    assert_eq!(order["version"], 2, "{order}");
    assert!(order["submittedAt"].is_string(), "{order}");
    // Submitted once: again is refused.
    assert_eq!(
        s.error(&practice.auth(), &po(SUBMIT), at_version(&order))
            .await["extensions"]["code"],
        "BAD_USER_INPUT"
    );

    // Now the supplier has it in its inbox, with its lines (not the buyer's products or
    // location).
    let inbox = inbox_of(&s, &supplier).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let theirs = &inbox[0];
    assert_eq!(theirs["id"], order["id"], "{theirs}");
    assert_eq!(theirs["poNumber"], "PO-000001", "{theirs}");
    assert_eq!(theirs["status"], "SUBMITTED", "{theirs}");
    assert_eq!(theirs["buyerId"], cid(&practice), "{theirs}");
    assert_eq!(units(&theirs["total"]["amount"]), dec("53.70"));
    assert!(theirs["location"].is_null(), "{theirs}");
    let their_lines = theirs["lines"].as_array().expect("lines");
    assert_eq!(their_lines.len(), 2, "{theirs}");
    assert_eq!(their_lines[0]["sku"], "NW-CLOTH-01", "{theirs}");
    assert_eq!(their_lines[0]["quantity"], 20, "{theirs}");
    assert_eq!(their_lines[1]["sku"], "AV-DAILY-225", "{theirs}");
    assert!(
        their_lines.iter().all(|l| l["product"].is_null()),
        "{theirs}"
    );
    assert_eq!(one(&s, &supplier, &order["id"]).await["id"], order["id"]);
    let node = s
        .ok(&supplier.auth(), NODE, json!({ "id": order["id"] }))
        .await["node"]
        .clone();
    assert_eq!(node["status"], "SUBMITTED", "{node}");
    assert_eq!(node["lines"][1]["sku"], "AV-DAILY-225", "{node}");
    assert!(node["lines"][0]["product"].is_null(), "{node}");
    // The supplier's inbox is not the practice's list, and the other way round.
    assert!(orders_of(&s, &supplier).await.is_empty());
    assert!(inbox_of(&s, &practice).await.is_empty());

    // Only the supplier answers.
    assert_eq!(
        code_of(
            &s,
            &practice,
            ACKNOWLEDGE,
            json!({ "id": order["id"], "v": order["version"], "r": "SELF" })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_of(
            &s,
            &supplier,
            ACKNOWLEDGE,
            json!({ "id": order["id"], "v": 1, "r": "SO-4411" })
        )
        .await,
        "CONFLICT"
    );
    // Nothing arrives before the supplier has accepted.
    assert_eq!(
        s.error(
            &practice.auth(),
            &po(RECEIVE),
            receipt(&order, &[(0, 1)], None)
        )
        .await["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let order = acknowledge(&s, &supplier, &order, "SO-4411").await;
    assert_eq!(order["status"], "ACKNOWLEDGED", "{order}");
    assert_eq!(order["version"], 3, "{order}");
    assert_eq!(order["supplierReference"], "SO-4411", "{order}");
    assert_eq!(
        one(&s, &practice, &order["id"]).await["status"],
        "ACKNOWLEDGED"
    );

    // The supplier does not receive the buyer's stock.
    assert_eq!(
        code_of(&s, &supplier, RECEIVE, receipt(&order, &[(0, 1)], None)).await,
        "NOT_FOUND"
    );

    // Part of the cloths arrive: a RECEIPT at the agreed price, named by the PO number.
    let cloth = products["NW-CLOTH-01"]["id"].clone();
    let contacts = products["AV-DAILY-225"]["id"].clone();
    let order = receive(&s, &practice, receipt(&order, &[(0, 8)], None)).await;
    assert_eq!(order["status"], "PARTIALLY_RECEIVED", "{order}");
    assert_eq!(order["version"], 4, "{order}");
    assert_eq!(order["lines"][0]["receivedQuantity"], 8, "{order}");
    assert_eq!(order["lines"][1]["receivedQuantity"], 0, "{order}");
    let level = level_of(&s, &practice, &cloth).await.expect("cloth stock");
    assert_eq!(level["onHand"], 8, "{level}");
    assert_eq!(
        units(&level["averageCost"]["amount"]),
        dec("0.45"),
        "{level}"
    );
    assert_eq!(level["location"]["isDefault"], true, "{level}");
    let moved = movements(&s, &practice, json!({ "productId": cloth })).await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["kind"], "RECEIPT", "{moved:?}");
    assert_eq!(moved[0]["quantity"], 8, "{moved:?}");
    assert_eq!(moved[0]["reference"], "PO-000001", "{moved:?}");
    assert_eq!(
        units(&moved[0]["unitCost"]["amount"]),
        dec("0.45"),
        "{moved:?}"
    );
    assert_eq!(
        moved[0]["location"]["id"], order["location"]["id"],
        "{moved:?}"
    );

    // More than ordered, without saying so: refused, and nothing of the receipt stays
    // (not even its first, acceptable line).
    let err = s
        .error(
            &practice.auth(),
            &po(RECEIVE),
            receipt(&order, &[(1, 3), (0, 13)], None),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "1", "quantity"]);
    let unchanged = one(&s, &practice, &order["id"]).await;
    assert_eq!(unchanged["version"], 4, "{unchanged}");
    assert_eq!(unchanged["status"], "PARTIALLY_RECEIVED", "{unchanged}");
    assert_eq!(unchanged["lines"][0]["receivedQuantity"], 8, "{unchanged}");
    assert_eq!(unchanged["lines"][1]["receivedQuantity"], 0, "{unchanged}");
    assert_eq!(
        level_of(&s, &practice, &cloth).await.expect("cloth stock")["onHand"],
        8
    );
    assert!(level_of(&s, &practice, &contacts).await.is_none());
    assert_eq!(movements(&s, &practice, json!({})).await.len(), 1);

    // A receipt names the version it saw.
    let mut stale = receipt(&order, &[(0, 1)], None);
    stale["v"] = json!(3);
    assert_eq!(code_of(&s, &practice, RECEIVE, stale).await, "CONFLICT");
    assert_eq!(movements(&s, &practice, json!({})).await.len(), 1);

    // With allowOverReceipt the extra cloths are taken (21 of 20).
    let order = receive(&s, &practice, receipt(&order, &[(0, 13)], Some(true))).await;
    assert_eq!(order["status"], "PARTIALLY_RECEIVED", "{order}");
    assert_eq!(order["version"], 5, "{order}");
    assert_eq!(order["lines"][0]["receivedQuantity"], 21, "{order}");
    let level = level_of(&s, &practice, &cloth).await.expect("cloth stock");
    assert_eq!(level["onHand"], 21, "{level}");
    assert_eq!(
        units(&level["averageCost"]["amount"]),
        dec("0.45"),
        "{level}"
    );

    // The lenses complete the order.
    let order = receive(&s, &practice, receipt(&order, &[(1, 3)], None)).await;
    assert_eq!(order["status"], "RECEIVED", "{order}");
    assert_eq!(order["version"], 6, "{order}");
    assert_eq!(order["lines"][1]["receivedQuantity"], 3, "{order}");
    let level = level_of(&s, &practice, &contacts)
        .await
        .expect("lens stock");
    assert_eq!(level["onHand"], 3, "{level}");
    assert_eq!(
        units(&level["averageCost"]["amount"]),
        dec("14.90"),
        "{level}"
    );
    let receipts = movements(&s, &practice, json!({ "kinds": ["RECEIPT"] })).await;
    assert_eq!(receipts.len(), 3, "{receipts:?}");
    assert!(
        receipts.iter().all(|m| m["reference"] == "PO-000001"),
        "{receipts:?}"
    );

    // Received: nothing more arrives for it, even with allowOverReceipt.
    let err = s
        .error(
            &practice.auth(),
            &po(RECEIVE),
            receipt(&order, &[(1, 1)], Some(true)),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(movements(&s, &practice, json!({})).await.len(), 3);
    // The supplier sees where it stands.
    let theirs = one(&s, &supplier, &order["id"]).await;
    assert_eq!(theirs["status"], "RECEIVED", "{theirs}");
    assert_eq!(theirs["lines"][0]["receivedQuantity"], 21, "{theirs}");
    // And still none of the buyer's products or stock.
    assert!(products_of(&s, &supplier).await.is_empty());
    assert!(levels(&s, &supplier, json!({})).await.is_empty());

    // Live, for both parties, in order: submitted, acknowledged, three receipts (and
    // nothing of the refused ones).
    let expected: Vec<(String, Value, Value, Value)> = [
        ("purchase_order.submitted", "SUBMITTED", 2),
        ("purchase_order.acknowledged", "ACKNOWLEDGED", 3),
        ("purchase_order.received", "PARTIALLY_RECEIVED", 4),
        ("purchase_order.received", "PARTIALLY_RECEIVED", 5),
        ("purchase_order.received", "RECEIVED", 6),
    ]
    .into_iter()
    .map(|(t, st, v)| (t.to_owned(), order["id"].clone(), json!(st), json!(v)))
    .collect();
    assert_eq!(
        purchase_events_before_sentinel(&s, &practice, &mut practice_socket).await,
        expected,
        "the practice's events"
    );
    assert_eq!(
        purchase_events_before_sentinel(&s, &supplier, &mut supplier_socket).await,
        expected,
        "the supplier's events"
    );
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_company_sees_nothing_of_a_purchase_order() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, lens) = trading_pair(&s, &pa).await;
    let other_supplier = listed_company(
        &s,
        &pa,
        "Contoso Lens Wholesale",
        "SUPPLIER",
        json!({ "specialties": ["CONTACT_LENSES"] }),
    )
    .await;
    create_item(&s, &other_supplier, sundry_item("CT-CLOTH-01")).await;
    let other_practice = s
        .sign_up("Second Sight Opticians", "ECP", &email("other"))
        .await;
    // The other practice trades with the same supplier, and with the other one.
    ils_tests::connect(&s, &other_practice, &supplier).await;
    ils_tests::connect(&s, &other_practice, &other_supplier).await;
    let lab = listed_company(&s, &pa, "Clearview Lens Lab", "LAB", json!({})).await;
    ils_tests::connect(&s, &practice, &lab).await;
    let outsiders = [&other_supplier, &other_practice, &lab];

    // A draft, then one submitted and acknowledged with stock received.
    let draft = create(&s, &practice, order_input(&supplier, &[(&sundry, 10)])).await;
    let order = create(
        &s,
        &practice,
        order_input(&supplier, &[(&sundry, 20), (&lens, 2)]),
    )
    .await;
    let order = submit(&s, &practice, &order).await;

    for who in outsiders {
        for o in [&draft, &order] {
            assert!(one(&s, who, &o["id"]).await.is_null(), "{o}");
            let node = s.ok(&who.auth(), NODE, json!({ "id": o["id"] })).await;
            assert!(node["node"].is_null(), "{node}");
            let v = at_version(o);
            for q in [SUBMIT, APPROVE, CANCEL] {
                assert_eq!(code_of(&s, who, q, v.clone()).await, "NOT_FOUND", "{q}");
            }
            let answer = json!({ "id": o["id"], "v": o["version"], "r": "no" });
            assert_eq!(
                code_of(&s, who, ACKNOWLEDGE, answer.clone()).await,
                "NOT_FOUND"
            );
            assert_eq!(code_of(&s, who, REJECT, answer).await, "NOT_FOUND");
        }
        assert!(orders_of(&s, who).await.is_empty());
        assert!(inbox_of(&s, who).await.is_empty());
    }

    // The supplier acknowledges; the practice receives part of it.
    let order = acknowledge(&s, &supplier, &order, "SO-1").await;
    for who in outsiders {
        assert_eq!(
            code_of(&s, who, RECEIVE, receipt(&order, &[(0, 5)], Some(true))).await,
            "NOT_FOUND"
        );
    }
    let order = receive(&s, &practice, receipt(&order, &[(0, 5)], None)).await;
    assert_eq!(order["status"], "PARTIALLY_RECEIVED", "{order}");

    // The two parties find it by global ID.
    for who in [&practice, &supplier] {
        let node = s.ok(&who.auth(), NODE, json!({ "id": order["id"] })).await["node"].clone();
        assert_eq!(node["id"], order["id"], "{node}");
        assert_eq!(node["status"], "PARTIALLY_RECEIVED", "{node}");
    }
    // Several at once: each as its caller may see it.
    let many = s
        .ok(
            &supplier.auth(),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [order["id"], draft["id"]] }),
        )
        .await;
    assert_eq!(
        many["nodes"],
        json!([{ "id": order["id"] }, null]),
        "{many}"
    );

    // Still nothing for anyone else, in any state.
    for who in outsiders {
        assert!(one(&s, who, &order["id"]).await.is_null());
        let node = s.ok(&who.auth(), NODE, json!({ "id": order["id"] })).await;
        assert!(node["node"].is_null(), "{node}");
        assert!(orders_of(&s, who).await.is_empty());
        assert!(inbox_of(&s, who).await.is_empty());
        assert!(products_of(&s, who).await.is_empty());
        assert!(levels(&s, who, json!({})).await.is_empty());
        assert!(movements(&s, who, json!({})).await.is_empty());
        let v = at_version(&order);
        assert_eq!(code_of(&s, who, CANCEL, v).await, "NOT_FOUND");
        assert_eq!(
            code_of(&s, who, RECEIVE, receipt(&order, &[(0, 1)], Some(true))).await,
            "NOT_FOUND"
        );
    }
    // Nor are the practice's products anybody else's: the other practice ordering the
    // same item gets its own product, and its own number sequence.
    let theirs = create(
        &s,
        &other_practice,
        order_input(&supplier, &[(&sundry, 10)]),
    )
    .await;
    assert_eq!(theirs["poNumber"], "PO-000001", "{theirs}");
    let mine = products_of(&s, &practice).await;
    let their_products = products_of(&s, &other_practice).await;
    assert_eq!(their_products.len(), 1, "{their_products:?}");
    assert_ne!(
        their_products["NW-CLOTH-01"]["id"], mine["NW-CLOTH-01"]["id"],
        "one product per buyer"
    );
    assert_eq!(
        theirs["lines"][0]["product"]["id"],
        their_products["NW-CLOTH-01"]["id"]
    );
    // The other practice's draft is not the supplier's to see either.
    assert!(one(&s, &supplier, &theirs["id"]).await.is_null());
    assert_eq!(inbox_of(&s, &supplier).await.len(), 1);

    // The supplier, a party to the order, never sees the buyer's products or stock.
    assert!(products_of(&s, &supplier).await.is_empty());
    assert!(levels(&s, &supplier, json!({})).await.is_empty());
    assert!(movements(&s, &supplier, json!({})).await.is_empty());
    let node = s
        .ok(
            &supplier.auth(),
            NODE,
            json!({ "id": mine["NW-CLOTH-01"]["id"] }),
        )
        .await;
    assert!(node["node"].is_null(), "{node}");
    // The practice still sees all of its own.
    assert_eq!(orders_of(&s, &practice).await.len(), 2);
    assert_eq!(
        level_of(&s, &practice, &mine["NW-CLOTH-01"]["id"])
            .await
            .expect("cloth stock")["onHand"],
        5
    );
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Rejection, cancellation, and who may order from whom
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_cancelled_orders() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, lens) = trading_pair(&s, &pa).await;
    let both = [(&sundry, 10), (&lens, 1)];

    // A product of the practice with the item's SKU but not linked to it: the order says
    // so (and nothing is made); once linked, the order receives into that product.
    let own = json!({ "sku": "NW-CLOTH-01", "name": "Cloth (own)", "category": "SUNDRY", "currency": "GBP" });
    let mine = s
        .ok(
            &practice.auth(),
            CREATE_PRODUCT,
            json!({ "i": own.clone() }),
        )
        .await["createProduct"]["product"]
        .clone();
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[(&lens, 1), (&sundry, 10)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "1", "catalogItemId"]);
    assert!(orders_of(&s, &practice).await.is_empty());
    assert_eq!(
        products_of(&s, &practice).await.len(),
        1,
        "the lens product of the refused order is not kept"
    );
    let mut linked = own;
    linked["id"] = mine["id"].clone();
    linked["supplierItemId"] = sundry["id"].clone();
    s.ok(
        &practice.auth(),
        "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id supplierItemId } } }",
        json!({ "i": linked }),
    )
    .await;

    // Rejected, with a reason.
    let rejected = submit(
        &s,
        &practice,
        &create(&s, &practice, order_input(&supplier, &both)).await,
    )
    .await;
    for reason in ["", "   "] {
        let err = s
            .error(
                &supplier.auth(),
                &po(REJECT),
                json!({ "id": rejected["id"], "v": rejected["version"], "r": reason }),
            )
            .await;
        assert_bad_input(&err, &["input", "reason"]);
    }
    assert_eq!(
        code_of(
            &s,
            &practice,
            REJECT,
            json!({ "id": rejected["id"], "v": rejected["version"], "r": "changed my mind" })
        )
        .await,
        "NOT_FOUND",
        "the buyer does not answer its own order"
    );
    assert_eq!(
        code_of(
            &s,
            &supplier,
            REJECT,
            json!({ "id": rejected["id"], "v": 1, "r": "Discontinued" })
        )
        .await,
        "CONFLICT"
    );
    let rejected = done(
        &s,
        &supplier,
        REJECT,
        json!({ "id": rejected["id"], "v": rejected["version"], "r": "Discontinued: order AV-DAILY-250" }),
        "rejectPurchaseOrder.purchaseOrder",
    )
    .await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["version"], 3, "{rejected}");
    assert_eq!(
        rejected["rejectReason"], "Discontinued: order AV-DAILY-250",
        "{rejected}"
    );
    let seen = one(&s, &practice, &rejected["id"]).await;
    assert_eq!(seen["status"], "REJECTED", "{seen}");
    assert_eq!(seen["rejectReason"], "Discontinued: order AV-DAILY-250");
    // Rejected is final: no acknowledgement, cancellation or receipt.
    let at = at_version(&rejected);
    assert_eq!(
        code_of(&s, &supplier, ACKNOWLEDGE, at.clone()).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(code_of(&s, &practice, CANCEL, at).await, "BAD_USER_INPUT");
    assert_eq!(
        code_of(&s, &practice, RECEIVE, receipt(&rejected, &[(0, 10)], None)).await,
        "BAD_USER_INPUT"
    );

    // A draft is withdrawn before the supplier ever sees it.
    let draft = create(&s, &practice, order_input(&supplier, &both)).await;
    assert_eq!(
        code_of(&s, &practice, CANCEL, json!({ "id": draft["id"], "v": 2 })).await,
        "CONFLICT"
    );
    let draft = done(
        &s,
        &practice,
        CANCEL,
        at_version(&draft),
        "cancelPurchaseOrder.purchaseOrder",
    )
    .await;
    assert_eq!(draft["status"], "CANCELLED", "{draft}");
    assert_eq!(draft["version"], 2, "{draft}");
    assert!(one(&s, &supplier, &draft["id"]).await.is_null());
    assert_eq!(
        code_of(&s, &practice, SUBMIT, at_version(&draft)).await,
        "BAD_USER_INPUT",
        "a cancelled draft is not sent"
    );

    // A submitted order is withdrawn before the supplier answers; it sees that.
    let withdrawn = submit(
        &s,
        &practice,
        &create(&s, &practice, order_input(&supplier, &both)).await,
    )
    .await;
    let withdrawn = done(
        &s,
        &practice,
        CANCEL,
        at_version(&withdrawn),
        "cancelPurchaseOrder.purchaseOrder",
    )
    .await;
    assert_eq!(withdrawn["status"], "CANCELLED", "{withdrawn}");
    assert_eq!(withdrawn["version"], 3, "{withdrawn}");
    assert_eq!(
        one(&s, &supplier, &withdrawn["id"]).await["status"],
        "CANCELLED"
    );
    assert_eq!(
        code_of(&s, &supplier, ACKNOWLEDGE, at_version(&withdrawn)).await,
        "BAD_USER_INPUT",
        "a cancelled order is not acknowledged"
    );

    // Once acknowledged, the buyer can no longer cancel.
    let accepted = submit(
        &s,
        &practice,
        &create(&s, &practice, order_input(&supplier, &both)).await,
    )
    .await;
    let accepted = acknowledge(&s, &supplier, &accepted, "SO-77").await;
    let err = s
        .error(&practice.auth(), &po(CANCEL), at_version(&accepted))
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(
        one(&s, &practice, &accepted["id"]).await["status"],
        "ACKNOWLEDGED"
    );

    // Every order had a number of its own, and all used the same two products.
    let numbers: Vec<Value> = orders_of(&s, &practice)
        .await
        .iter()
        .map(|o| o["poNumber"].clone())
        .collect();
    assert_eq!(
        numbers,
        json!(["PO-000001", "PO-000002", "PO-000003", "PO-000004"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(products_of(&s, &practice).await.len(), 2);
    for o in orders_of(&s, &practice).await {
        assert_eq!(
            o["lines"][0]["product"]["id"], mine["id"],
            "the linked product: {o}"
        );
    }
    let statuses: Vec<Value> = inbox_of(&s, &supplier)
        .await
        .iter()
        .map(|o| o["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!("REJECTED"), json!("CANCELLED"), json!("ACKNOWLEDGED")],
        "the supplier's inbox holds what was submitted to it"
    );

    // Only a supplier the practice has an ACTIVE connection with.
    let stranger = listed_company(
        &s,
        &pa,
        "Fabrikam Frames",
        "SUPPLIER",
        json!({ "specialties": ["FRAMES"] }),
    )
    .await;
    let strangers_item = create_item(&s, &stranger, sundry_item("FB-CLOTH-01")).await;
    let to_stranger = order_input(&stranger, &[(&strangers_item, 10)]);
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": to_stranger.clone() }),
        )
        .await;
    assert_bad_input(&err, &["input", "supplierId"]);
    // A connection asked for but not answered is not enough.
    s.ok(
        &practice.auth(),
        "mutation($c: ID!) { requestConnection(input: { companyId: $c }) { connection { id } } }",
        json!({ "c": cid(&stranger) }),
    )
    .await;
    let err = s
        .error(&practice.auth(), &po(CREATE), json!({ "i": to_stranger }))
        .await;
    assert_bad_input(&err, &["input", "supplierId"]);
    // A connected lab is not a supplier.
    let lab = listed_company(&s, &pa, "Clearview Lens Lab", "LAB", json!({})).await;
    ils_tests::connect(&s, &practice, &lab).await;
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&lab, &[(&sundry, 10)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "supplierId"]);
    // Nor an item of another supplier on an order to this one.
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[(&strangers_item, 10)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "0", "catalogItemId"]);
    // Nor one item twice, nor two currencies on one order.
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[(&sundry, 10), (&sundry, 20)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "1", "catalogItemId"]);
    let mut in_euros = lens_item("AV-DAILY-300");
    in_euros["price"]["currency"] = json!("EUR");
    let euro_item = create_item(&s, &supplier, in_euros).await;
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[(&sundry, 10), (&euro_item, 1)]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines", "1", "catalogItemId"]);
    // Nor an order without lines.
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &[]) }),
        )
        .await;
    assert_bad_input(&err, &["input", "lines"]);

    // STAFF of the practice neither create nor send orders (nor withdraw them).
    let staff = staff_of(&s, &practice).await;
    assert_eq!(
        code_of(
            &s,
            &staff,
            CREATE,
            json!({ "i": order_input(&supplier, &both) })
        )
        .await,
        "FORBIDDEN"
    );
    let pending = create(&s, &practice, order_input(&supplier, &both)).await;
    let at = at_version(&pending);
    assert_eq!(code_of(&s, &staff, SUBMIT, at.clone()).await, "FORBIDDEN");
    assert_eq!(code_of(&s, &staff, CANCEL, at).await, "FORBIDDEN");
    let still = one(&s, &practice, &pending["id"]).await;
    assert_eq!(still["status"], "DRAFT", "{still}");
    assert_eq!(still["version"], 1, "{still}");
    // STAFF of the supplier do not answer for it either.
    let sent = submit(&s, &practice, &pending).await;
    let supplier_staff = staff_of(&s, &supplier).await;
    let answer = json!({ "id": sent["id"], "v": sent["version"], "r": "no" });
    assert_eq!(
        code_of(&s, &supplier_staff, ACKNOWLEDGE, answer.clone()).await,
        "FORBIDDEN"
    );
    assert_eq!(
        code_of(&s, &supplier_staff, REJECT, answer).await,
        "FORBIDDEN"
    );
    // A draft is not sent once the connection has ended.
    let draft = create(&s, &practice, order_input(&supplier, &both)).await;
    let link = nodes(
        &s.ok(
            &practice.auth(),
            "{ connections(first: 100) { edges { node { id status counterparty { companyId } } } } }",
            json!({}),
        )
        .await["connections"],
    )
    .into_iter()
    .find(|c| c["counterparty"]["companyId"] == cid(&supplier) && c["status"] == "ACTIVE")
    .expect("the ACTIVE connection with the supplier");
    s.ok(
        &supplier.auth(),
        "mutation($id: ID!) { endConnection(input: { id: $id }) { connection { status } } }",
        json!({ "id": link["id"] }),
    )
    .await;
    let err = s
        .error(&practice.auth(), &po(SUBMIT), at_version(&draft))
        .await;
    assert_bad_input(&err, &["input", "id"]);
    assert!(one(&s, &supplier, &draft["id"]).await.is_null());
    let err = s
        .error(
            &practice.auth(),
            &po(CREATE),
            json!({ "i": order_input(&supplier, &both) }),
        )
        .await;
    assert_bad_input(&err, &["input", "supplierId"]);
    // Anonymous callers get nothing.
    let (_, body) = s
        .post(&Auth::None, &po(ONE), json!({ "id": sent["id"] }))
        .await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// A draft by the system
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_draft_waits_for_a_person() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, _lens) = trading_pair(&s, &pa).await;

    let input = |supplier: &Session, item: &Value, quantity: i64| NewOrder {
        supplier_id: cid(supplier).to_owned().into(),
        location_id: None,
        lines: vec![NewLine {
            catalog_item_id: item["id"].as_str().expect("item id").to_owned().into(),
            quantity,
        }],
        notes: None,
    };
    let drafted = system_draft(
        &s.server.state.db,
        company_uuid(&practice),
        input(&supplier, &sundry, 10),
    )
    .await
    .unwrap_or_else(|e| panic!("a system draft: {e:?}"));
    assert!(drafted.row.created_by_system);
    assert_eq!(drafted.row.company_id, company_uuid(&practice));
    assert_eq!(drafted.row.po_number, "PO-000001");
    assert_eq!(drafted.row.status.as_str(), "DRAFT");
    assert!(drafted.row.approved_at.is_none());
    // The system keeps to the same rules as a person: below the minimum is refused, and
    // only for a supplier the company is actively connected with.
    assert!(
        system_draft(
            &s.server.state.db,
            company_uuid(&practice),
            input(&supplier, &sundry, 9)
        )
        .await
        .is_err()
    );
    let stranger = listed_company(
        &s,
        &pa,
        "Fabrikam Frames",
        "SUPPLIER",
        json!({ "specialties": ["FRAMES"] }),
    )
    .await;
    let strangers_item = create_item(&s, &stranger, sundry_item("FB-CLOTH-01")).await;
    assert!(
        system_draft(
            &s.server.state.db,
            company_uuid(&practice),
            input(&stranger, &strangers_item, 10)
        )
        .await
        .is_err()
    );

    // Over GraphQL, the practice sees one draft, marked as the system's.
    let listed = orders_of(&s, &practice).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let order = listed[0].clone();
    assert_eq!(order["createdBySystem"], true, "{order}");
    assert_eq!(order["status"], "DRAFT", "{order}");
    assert_eq!(order["poNumber"], "PO-000001", "{order}");
    assert!(order["approvedAt"].is_null(), "{order}");
    assert_eq!(order["lines"][0]["quantity"], 10, "{order}");
    assert_eq!(units(&order["total"]["amount"]), dec("4.50"), "{order}");
    assert!(inbox_of(&s, &supplier).await.is_empty());

    // It is not sent before a person approved it.
    let err = s
        .error(&practice.auth(), &po(SUBMIT), at_version(&order))
        .await;
    assert_bad_input(&err, &["input", "id"]);
    assert!(inbox_of(&s, &supplier).await.is_empty());

    // STAFF may not approve; an admin may, on the version they saw.
    let staff = staff_of(&s, &practice).await;
    let at = at_version(&order);
    assert_eq!(code_of(&s, &staff, APPROVE, at.clone()).await, "FORBIDDEN");
    assert_eq!(
        code_of(&s, &practice, APPROVE, json!({ "id": order["id"], "v": 5 })).await,
        "CONFLICT"
    );
    assert_eq!(
        code_of(&s, &supplier, APPROVE, at.clone()).await,
        "NOT_FOUND"
    );
    let approved = done(
        &s,
        &practice,
        APPROVE,
        at,
        "approvePurchaseOrder.purchaseOrder",
    )
    .await;
    assert_eq!(approved["status"], "DRAFT", "{approved}");
    assert!(approved["approvedAt"].is_string(), "{approved}");
    assert_eq!(
        approved["version"].as_i64(),
        order["version"].as_i64().map(|v| v + 1),
        "{approved}"
    );
    assert_eq!(approved["createdBySystem"], true, "{approved}");
    // Approved once.
    assert_eq!(
        code_of(&s, &practice, APPROVE, at_version(&approved)).await,
        "CONFLICT"
    );

    // Now it is sent, and the supplier has it.
    assert_eq!(
        code_of(&s, &practice, SUBMIT, at_version(&order)).await,
        "CONFLICT",
        "the version before the approval is stale"
    );
    let sent = submit(&s, &practice, &approved).await;
    assert_eq!(sent["status"], "SUBMITTED", "{sent}");
    assert!(sent["approvedAt"].is_string(), "{sent}");
    let inbox = inbox_of(&s, &supplier).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["id"], order["id"]);
    assert_eq!(inbox[0]["createdBySystem"], true);
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Stock counts
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_count_posts_its_differences_once() {
    let s = TestServer::start().await;
    let admin = s
        .sign_up("Bright Eyes Opticians", "ECP", &email("count"))
        .await;
    let staff = staff_of(&s, &admin).await;
    let main = default_location(&s, &admin).await;

    // Ten cloths at Main; a spray with a barcode and no stock yet.
    let cloth = s
        .ok(
            &admin.auth(),
            CREATE_PRODUCT,
            json!({ "i": { "sku": "CLOTH-01", "name": "Microfibre Cleaning Cloth",
                           "category": "SUNDRY", "cost": { "amount": "0.40", "currency": "GBP" }, "currency": "GBP" } }),
        )
        .await["createProduct"]["product"]
        .clone();
    let spray = s
        .ok(
            &admin.auth(),
            CREATE_PRODUCT,
            json!({ "i": { "sku": "SPRAY-30", "gtin": "4006381333931", "name": "Lens Cleaning Spray 30 ml",
                           "category": "SUNDRY", "cost": { "amount": "1.20", "currency": "GBP" }, "currency": "GBP" } }),
        )
        .await["createProduct"]["product"]
        .clone();
    let received = s
        .ok(
            &admin.auth(),
            POST_MOVEMENT,
            json!({ "i": { "productId": cloth["id"], "kind": "RECEIPT", "quantity": 10, "unitCost": { "amount": "0.40", "currency": "GBP" } } }),
        )
        .await;
    assert_eq!(
        received["postStockMovement"]["stockMovement"]["onHandAfter"], 10,
        "{received}"
    );

    // A count of the default location.
    let count =
        s.ok(&admin.auth(), &sc(START_COUNT), json!({})).await["startStockCount"]["stockCount"]
            .clone();
    assert_eq!(count["status"], "OPEN", "{count}");
    assert_eq!(count["location"]["id"], main, "{count}");
    assert_eq!(count["lines"], json!([]), "{count}");
    assert!(count["postedAt"].is_null(), "{count}");
    let id = count["id"].clone();
    let record = |who: &Session, lines: Value| {
        let auth = who.auth();
        let vars = json!({ "id": id, "l": lines });
        let s = &s;
        async move { s.post(&auth, &sc(RECORD_COUNT), vars).await }
    };

    // 7 cloths by product, then 8 by SKU (the last one counts), and the spray by barcode
    // (STAFF count too).
    let (_, body) = record(&admin, json!([{ "productId": cloth["id"], "counted": 7 }])).await;
    let lines = &body["data"]["recordStockCount"]["stockCount"]["lines"];
    assert_eq!(
        lines,
        &json!([{ "product": { "id": cloth["id"] }, "counted": 7, "expected": 10, "difference": -3 }]),
        "{body}"
    );
    let (_, body) = record(&staff, json!([{ "sku": "CLOTH-01", "counted": 8 }])).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = record(
        &staff,
        json!([{ "barcode": "4006381333931", "counted": 3 }]),
    )
    .await;
    let lines = &body["data"]["recordStockCount"]["stockCount"]["lines"];
    assert_eq!(
        lines,
        &json!([
            { "product": { "id": cloth["id"] }, "counted": 8, "expected": 10, "difference": -2 },
            { "product": { "id": spray["id"] }, "counted": 3, "expected": 0, "difference": 3 },
        ]),
        "{body}"
    );

    // A line names its product exactly once, and one of yours.
    for (bad, field) in [
        (
            json!({ "productId": cloth["id"], "sku": "CLOTH-01", "counted": 1 }),
            vec!["input", "lines", "0"],
        ),
        (
            json!({ "sku": "CLOTH-01", "barcode": "4006381333931", "counted": 1 }),
            vec!["input", "lines", "0"],
        ),
        (json!({ "counted": 1 }), vec!["input", "lines", "0"]),
        (
            json!({ "sku": "NO-SUCH-SKU", "counted": 1 }),
            vec!["input", "lines", "0"],
        ),
        (
            json!({ "sku": "CLOTH-01", "counted": -1 }),
            vec!["input", "lines", "0", "counted"],
        ),
    ] {
        let (_, body) = record(&admin, json!([bad])).await;
        assert!(body["errors"][0].is_object(), "{bad}: {body}");
        assert_bad_input(&body["errors"][0], &field);
    }
    // An empty recording says nothing.
    let (_, body) = record(&admin, json!([])).await;
    assert_bad_input(&body["errors"][0], &["input", "lines"]);
    // A refused recording changed nothing (not even its good lines).
    let (_, body) = record(
        &admin,
        json!([{ "sku": "CLOTH-01", "counted": 50 }, { "counted": 1 }]),
    )
    .await;
    assert_bad_input(&body["errors"][0], &["input", "lines", "1"]);
    let now = s
        .ok(&admin.auth(), &sc(ONE_COUNT), json!({ "id": id }))
        .await["stockCount"]
        .clone();
    assert_eq!(now["lines"][0]["counted"], 8, "{now}");
    assert_eq!(now["status"], "OPEN", "{now}");
    // Counting changed no stock yet.
    assert_eq!(
        level_of(&s, &admin, &cloth["id"])
            .await
            .expect("cloth stock")["onHand"],
        10
    );
    assert!(level_of(&s, &admin, &spray["id"]).await.is_none());

    // A cloth is sold after the counting: the sale stands when the count is posted. A
    // later recording corrects the count, not the moment it was taken (expected stays 10).
    s.ok(
        &admin.auth(),
        POST_MOVEMENT,
        json!({ "i": { "productId": cloth["id"], "kind": "SALE", "quantity": 1 } }),
    )
    .await;
    let (_, body) = record(&staff, json!([{ "sku": "CLOTH-01", "counted": 8 }])).await;
    assert_eq!(
        body["data"]["recordStockCount"]["stockCount"]["lines"][0],
        json!({ "product": { "id": cloth["id"] }, "counted": 8, "expected": 10, "difference": -2 }),
        "{body}"
    );

    // STAFF do not post.
    let (_, body) = s
        .post(&staff.auth(), &sc(POST_COUNT), json!({ "id": id }))
        .await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("FORBIDDEN"),
        "{body}"
    );

    // Posted: expected 10 / 0 when counted, differences -2 / +3; the cloth ends at 7
    // (8 counted, 1 sold since).
    let posted = s
        .ok(&admin.auth(), &sc(POST_COUNT), json!({ "id": id }))
        .await["postStockCount"]["stockCount"]
        .clone();
    assert_eq!(posted["status"], "POSTED", "{posted}");
    assert!(posted["postedAt"].is_string(), "{posted}");
    assert_eq!(
        posted["lines"],
        json!([
            { "product": { "id": cloth["id"] }, "counted": 8, "expected": 10, "difference": -2 },
            { "product": { "id": spray["id"] }, "counted": 3, "expected": 0, "difference": 3 },
        ]),
        "{posted}"
    );
    let cloth_level = level_of(&s, &admin, &cloth["id"])
        .await
        .expect("cloth stock");
    assert_eq!(cloth_level["onHand"], 7, "{cloth_level}");
    assert_eq!(
        units(&cloth_level["averageCost"]["amount"]),
        dec("0.40"),
        "an adjustment leaves the average: {cloth_level}"
    );
    let spray_level = level_of(&s, &admin, &spray["id"])
        .await
        .expect("spray stock");
    assert_eq!(spray_level["onHand"], 3, "{spray_level}");
    assert_eq!(spray_level["location"]["id"], main, "{spray_level}");
    let adjustments = movements(&s, &admin, json!({ "kinds": ["ADJUSTMENT"] })).await;
    assert_eq!(adjustments.len(), 2, "{adjustments:?}");
    let by_product: BTreeMap<String, &Value> = adjustments
        .iter()
        .map(|m| (m["product"]["id"].as_str().unwrap().to_owned(), m))
        .collect();
    let c = by_product[cloth["id"].as_str().unwrap()];
    assert_eq!(c["quantity"], -2, "{c}");
    assert_eq!(c["onHandAfter"], 7, "{c}");
    assert_eq!(c["location"]["id"], main, "{c}");
    let p = by_product[spray["id"].as_str().unwrap()];
    assert_eq!(p["quantity"], 3, "{p}");
    assert_eq!(p["onHandAfter"], 3, "{p}");
    assert_eq!(movements(&s, &admin, json!({})).await.len(), 4);

    // Posted once: again is a CONFLICT that moves nothing; so is recording on it.
    let (_, body) = s
        .post(&admin.auth(), &sc(POST_COUNT), json!({ "id": id }))
        .await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("CONFLICT"),
        "{body}"
    );
    assert_eq!(movements(&s, &admin, json!({})).await.len(), 4);
    let (_, body) = record(&staff, json!([{ "sku": "CLOTH-01", "counted": 1 }])).await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("CONFLICT"),
        "{body}"
    );
    let (_, body) = record(&admin, json!([{ "sku": "SPRAY-30", "counted": 9 }])).await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("CONFLICT"),
        "{body}"
    );
    let after = s
        .ok(&admin.auth(), &sc(ONE_COUNT), json!({ "id": id }))
        .await["stockCount"]
        .clone();
    assert_eq!(after, posted, "a posted count stays as posted");
    assert_eq!(
        level_of(&s, &admin, &cloth["id"])
            .await
            .expect("cloth stock")["onHand"],
        7
    );
    assert_eq!(
        level_of(&s, &admin, &spray["id"])
            .await
            .expect("spray stock")["onHand"],
        3
    );

    // Two managers posting one count at once: it is posted once.
    let second =
        s.ok(&admin.auth(), &sc(START_COUNT), json!({})).await["startStockCount"]["stockCount"]["id"].clone();
    let (_, body) = s
        .post(
            &admin.auth(),
            &sc(RECORD_COUNT),
            json!({ "id": second, "l": [{ "sku": "CLOTH-01", "counted": 5 }] }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let manager = ils_tests::member_of(&s, &admin, "MANAGER").await;
    let outcomes = futures_util::future::join_all(
        [&admin, &manager, &admin, &manager]
            .into_iter()
            .map(|who| post_as(&s, who, sc(POST_COUNT), json!({ "id": second }))),
    )
    .await;
    let codes: Vec<Option<String>> = outcomes
        .iter()
        .map(|(_, body)| ils_tests::first_code(body))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "one posting: {outcomes:?}"
    );
    assert!(
        codes.iter().flatten().all(|c| c == "CONFLICT"),
        "the others are CONFLICT: {outcomes:?}"
    );
    let adjustments = movements(&s, &admin, json!({ "kinds": ["ADJUSTMENT"] })).await;
    assert_eq!(adjustments.len(), 3, "{adjustments:?}");
    assert_eq!(adjustments[2]["quantity"], -2, "{adjustments:?}");
    assert_eq!(
        level_of(&s, &admin, &cloth["id"])
            .await
            .expect("cloth stock")["onHand"],
        5
    );

    // One open count per location: another is CONFLICT until it is posted or cancelled;
    // a cancelled count adjusts nothing and takes no more recordings.
    let third =
        s.ok(&admin.auth(), &sc(START_COUNT), json!({})).await["startStockCount"]["stockCount"]["id"].clone();
    let (_, body) = s.post(&staff.auth(), &sc(START_COUNT), json!({})).await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("CONFLICT"),
        "{body}"
    );
    let (_, body) = s
        .post(
            &admin.auth(),
            &sc(RECORD_COUNT),
            json!({ "id": third, "l": [{ "sku": "CLOTH-01", "counted": 1 }] }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = s
        .post(&staff.auth(), &sc(CANCEL_COUNT), json!({ "id": third }))
        .await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("FORBIDDEN"),
        "{body}"
    );
    let cancelled = s
        .ok(&admin.auth(), &sc(CANCEL_COUNT), json!({ "id": third }))
        .await["cancelStockCount"]["stockCount"]
        .clone();
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
    for q in [CANCEL_COUNT, POST_COUNT] {
        let (_, body) = s.post(&admin.auth(), &sc(q), json!({ "id": third })).await;
        assert_eq!(
            ils_tests::first_code(&body).as_deref(),
            Some("CONFLICT"),
            "{q}: {body}"
        );
    }
    assert_eq!(
        level_of(&s, &admin, &cloth["id"])
            .await
            .expect("cloth stock")["onHand"],
        5,
        "a cancelled count adjusts nothing"
    );

    // Another company sees nothing of the count and cannot touch it.
    let other = s
        .sign_up("Second Sight Opticians", "ECP", &email("other"))
        .await;
    let theirs = s
        .ok(&other.auth(), &sc(ONE_COUNT), json!({ "id": id }))
        .await;
    assert!(theirs["stockCount"].is_null(), "{theirs}");
    let open =
        s.ok(&admin.auth(), &sc(START_COUNT), json!({})).await["startStockCount"]["stockCount"]["id"].clone();
    for q in [RECORD_COUNT, POST_COUNT] {
        let (_, body) = s
            .post(
                &other.auth(),
                &sc(q),
                json!({ "id": open, "l": [{ "counted": 0, "sku": "CLOTH-01" }] }),
            )
            .await;
        assert_eq!(
            ils_tests::first_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{q}: {body}"
        );
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_get_their_own_numbers_and_a_receipt_is_taken_once() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, lens) = trading_pair(&s, &pa).await;
    let manager = ils_tests::member_of(&s, &practice, "MANAGER").await;

    // Six drafts at once, by two people: six numbers, no gaps, no repeats, and one
    // product per item.
    let made = futures_util::future::join_all((0..6).map(|i| {
        let who = if i % 2 == 0 { &practice } else { &manager };
        post_as(
            &s,
            who,
            po(CREATE),
            json!({ "i": order_input(&supplier, &[(&sundry, 10), (&lens, 2)]) }),
        )
    }))
    .await;
    let mut numbers: Vec<String> = made
        .iter()
        .map(|(_, body)| {
            assert!(body.get("errors").is_none(), "{body}");
            body["data"]["createPurchaseOrder"]["purchaseOrder"]["poNumber"]
                .as_str()
                .expect("a number")
                .to_owned()
        })
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=6).map(|n| format!("PO-{n:06}")).collect::<Vec<_>>()
    );
    assert_eq!(products_of(&s, &practice).await.len(), 2);

    // One of them, acknowledged, received in part by four people at once on the same
    // version: one receipt is taken, the others are told the order changed.
    let order = made[0].1["data"]["createPurchaseOrder"]["purchaseOrder"].clone();
    let order = submit(&s, &practice, &order).await;
    let order = acknowledge(&s, &supplier, &order, "SO-9").await;
    let staff = staff_of(&s, &practice).await;
    let outcomes =
        futures_util::future::join_all([&practice, &manager, &staff, &practice].into_iter().map(
            |who| {
                post_as(
                    &s,
                    who,
                    po(RECEIVE),
                    receipt(&order, &[(0, 4), (1, 1)], None),
                )
            },
        ))
        .await;
    let codes: Vec<Option<String>> = outcomes
        .iter()
        .map(|(_, body)| ils_tests::first_code(body))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "one receipt: {outcomes:?}"
    );
    assert!(
        codes.iter().flatten().all(|c| c == "CONFLICT"),
        "the others are CONFLICT: {outcomes:?}"
    );
    let now = one(&s, &practice, &order["id"]).await;
    assert_eq!(now["status"], "PARTIALLY_RECEIVED", "{now}");
    assert_eq!(now["version"], 4, "{now}");
    assert_eq!(now["lines"][0]["receivedQuantity"], 4, "{now}");
    assert_eq!(now["lines"][1]["receivedQuantity"], 1, "{now}");
    let receipts = movements(&s, &practice, json!({ "kinds": ["RECEIPT"] })).await;
    assert_eq!(receipts.len(), 2, "{receipts:?}");
    for (line, qty) in [(0, 4), (1, 1)] {
        let level = level_of(&s, &practice, &now["lines"][line]["product"]["id"])
            .await
            .expect("stock");
        assert_eq!(level["onHand"], qty, "{level}");
    }
    s.finish().await;
}

/// docs/domain.md's available stock counts what is on order: an open purchase order keeps the
/// reorder plan from ordering the same stock twice, until it is received or cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_on_order_counts_in_the_reorder_plan() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, _lens) = trading_pair(&s, &pa).await;
    const PLAN: &str =
        "{ reorderSuggestions { product { sku } available onOrder reorderNow suggestedQuantity } }";
    let order = create(&s, &practice, order_input(&supplier, &[(&sundry, 20)])).await;
    // The product the line is received as, given a minimum: reorder when at or below 5.
    let products = s.ok(&practice.auth(), PRODUCTS, json!({})).await;
    let product = nodes(&products["products"])[0].clone();
    s.ok(
        &practice.auth(),
        "mutation($id: ID!) { updateProduct(input: { id: $id, sku: \"NW-CLOTH-01\", name: \"Cloth\", category: SUNDRY, currency: \"GBP\", minQuantity: 5, maxQuantity: 30 }) { product { id } } }",
        json!({ "id": product["id"] }),
    )
    .await;
    let plan = |data: &Value| data["reorderSuggestions"][0].clone();
    let before = plan(&s.ok(&practice.auth(), PLAN, json!({})).await);
    assert_eq!(before["onOrder"], 0, "a draft is not on order: {before}");
    assert_eq!(before["reorderNow"], true, "{before}");
    assert_eq!(before["suggestedQuantity"], 30, "{before}");
    submit(&s, &practice, &order).await;
    let after = plan(&s.ok(&practice.auth(), PLAN, json!({})).await);
    assert_eq!(after["onOrder"], 20, "{after}");
    assert_eq!(after["available"], 0, "{after}");
    assert_eq!(
        after["reorderNow"], false,
        "20 on order is above the minimum: {after}"
    );
    assert_eq!(after["suggestedQuantity"], 0, "{after}");
    s.finish().await;
}

const LINE_NODE: &str = "query($id: ID!) { node(id: $id) { __typename id ... on PurchaseOrderLine {
    sku quantity receivedQuantity catalogItemId product { id sku } unitPrice { amount currency } } } }";

/// A purchase order line loads through `node(id:)`: for the buyer with its product; for
/// the supplier once the order is submitted, without the buyer's product; for anyone
/// else never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_lines_load_by_global_id_for_the_parties_only() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, practice, sundry, _lens) = trading_pair(&s, &pa).await;
    let stranger = s
        .sign_up("Passing Opticians", "ECP", &email("line-stranger"))
        .await;
    let order = create(&s, &practice, order_input(&supplier, &[(&sundry, 10)])).await;
    let line = order["lines"][0].clone();
    let node_as = |who: &Session| {
        let (s, auth, id) = (&s, who.auth(), line["id"].clone());
        async move { s.ok(&auth, LINE_NODE, json!({ "id": id })).await["node"].clone() }
    };

    let mine = node_as(&practice).await;
    assert_eq!(mine["__typename"], "PurchaseOrderLine", "{mine}");
    assert_eq!(mine["id"], line["id"], "{mine}");
    assert_eq!(mine["sku"], "NW-CLOTH-01", "{mine}");
    assert_eq!(mine["catalogItemId"], sundry["id"], "{mine}");
    assert_eq!(mine["product"]["id"], line["product"]["id"], "{mine}");
    assert_eq!(mine["product"]["sku"], "NW-CLOTH-01", "{mine}");
    assert_eq!(
        (
            units(&mine["unitPrice"]["amount"]),
            &mine["unitPrice"]["currency"]
        ),
        (dec("0.45"), &json!("GBP")),
        "{mine}"
    );
    // A draft's lines are the buyer's alone.
    assert!(node_as(&supplier).await.is_null());
    assert!(node_as(&stranger).await.is_null());

    submit(&s, &practice, &order).await;
    let theirs = node_as(&supplier).await;
    assert_eq!(theirs["id"], line["id"], "{theirs}");
    assert_eq!(theirs["quantity"], 10, "{theirs}");
    assert!(
        theirs["product"].is_null(),
        "not the buyer's product: {theirs}"
    );
    assert!(node_as(&stranger).await.is_null());
    s.finish().await;
}
