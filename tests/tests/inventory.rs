//! Inventory: a company's own products (checked like catalog items, kept per company), the
//! perpetual stock ledger (balances always equal to the sum of their movements, moving
//! average cost, reservations, negative stock only when allowed), transfers between
//! locations (both halves or neither), low-stock announcements on a downward crossing, and
//! concurrent movements that never lose an update; reconciliation of drift written below
//! the guard, reorder planning from a backdated history, and the CSV export.

#![allow(clippy::disallowed_methods)] // drift and history are written below the guard on purpose

use ils_tests::ws;
use ils_tests::{Session, TestServer, assert_bad_input, dec, email, nodes, staff_of, units};
use serde_json::{Value, json};
use std::collections::HashMap;

const PRODUCT_FIELDS: &str = "fragment P on Product { id sku gtin name brand category
    cost { amount currency } price { amount currency }
    frame { model colour eyeSize bridge templeLength bSize frameType material }
    contactLens { baseCurve diameter power packSize wearSchedule }
    spectacleLens { design } lensBlank { design }
    reorderPoint minQuantity maxQuantity leadTimeDays safetyStock supplierItemId active }";

const LEVEL_FIELDS: &str = "fragment L on StockLevel { id onHand reserved available
    averageCost { amount currency } value { amount currency } low product { id sku }
    location { id name isDefault } }";

const MOVEMENT_FIELDS: &str = "fragment M on StockMovement { id kind product { id } location { id }
    quantity reservedChange unitCost { amount currency } onHandAfter
    averageCostAfter { amount currency } counterpart { id kind location { id } } reference note }";

const CREATE_PRODUCT: &str =
    "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { ...P } } }";
const UPDATE_PRODUCT: &str =
    "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { ...P } } }";
const PRODUCTS: &str =
    "query($f: ProductFilter) { products(filter: $f, first: 100) { edges { node { ...P } } } }";
const PRODUCT: &str = "query($id: ID!) { product(id: $id) { ...P } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on Product { sku } } }";
const POST: &str = "mutation($i: PostStockMovementInput!) {
    postStockMovement(input: $i) { stockMovement { ...M } } }";
const TRANSFER: &str = "mutation($i: TransferStockInput!) {
    transferStock(input: $i) { stockMovements { ...M } } }";
const LEVELS: &str =
    "query($f: StockFilter, $after: String) { stockLevels(filter: $f, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { ...L } } } }";
const LOW_STOCK: &str = "{ lowStock(first: 100) { edges { node { ...L } } } }";
const MOVEMENTS: &str = "query($f: MovementFilter, $after: String) { stockMovements(filter: $f, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { ...M } } } }";
const LOCATIONS: &str = "{ stockLocations { id name isDefault } }";
const CREATE_LOCATION: &str = "mutation($n: String!) {
    createStockLocation(input: { name: $n }) { stockLocation { id name isDefault } } }";
const SETTINGS: &str = "{ inventorySettings { allowNegativeStock } }";
const UPDATE_SETTINGS: &str = "mutation($a: Boolean!) {
    updateInventorySettings(input: { allowNegativeStock: $a }) { inventorySettings { allowNegativeStock } } }";

fn with(query: &str, fragment: &str) -> String {
    format!("{query} {fragment}")
}

/// An amount in euros, as `MoneyInput`.
fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// The variables of `UPDATE_PRODUCT`: the product's ID and its new details.
fn update_vars(id: &Value, details: Value) -> Value {
    let mut input = details;
    input["id"] = id.clone();
    json!({ "i": input })
}

// ---------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------

/// A titanium aviator frame with cost and price.
fn frame_input(sku: &str) -> Value {
    json!({
        "sku": sku, "gtin": "4006381333931", "name": "Aviator Classic Gold", "brand": "Northwind",
        "category": "FRAME", "cost": eur("12.50"), "price": eur("39.90"), "currency": "EUR",
        "reorderPoint": 3, "leadTimeDays": 5,
        "frame": { "model": "NW-100", "colour": "Gold", "eyeSize": 52, "bridge": 18, "templeLength": 140,
                   "bSize": 40, "frameType": "FULL_RIM", "material": "Titanium" }
    })
}

/// A daily contact lens, 30 a pack, with a min/max policy.
fn contact_lens_input(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Daily Comfort Moist", "brand": "AquaVue", "category": "CONTACT_LENS",
        "cost": eur("8.2500"), "price": eur("24.90"), "currency": "EUR",
        "minQuantity": 4, "maxQuantity": 20, "safetyStock": 2,
        "contactLens": { "baseCurve": "8.6", "diameter": "14.2", "power": "-2.25", "packSize": 30, "wearSchedule": "DAILY" }
    })
}

/// A cleaning cloth (sundries carry no attributes).
fn sundry_input(sku: &str) -> Value {
    json!({
        "sku": sku, "name": "Microfibre Cleaning Cloth", "category": "SUNDRY",
        "cost": eur("0.40"), "price": eur("2.00"), "currency": "EUR"
    })
}

async fn create_product(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(
        &who.auth(),
        &with(CREATE_PRODUCT, PRODUCT_FIELDS),
        json!({ "i": input }),
    )
    .await["createProduct"]["product"]
        .clone()
}

/// The SKUs of `who`'s products matching `filter`, in list order.
async fn skus(s: &TestServer, who: &Session, filter: Value) -> Vec<String> {
    let data = s
        .ok(
            &who.auth(),
            &with(PRODUCTS, PRODUCT_FIELDS),
            json!({ "f": filter }),
        )
        .await;
    let mut out: Vec<String> = nodes(&data["products"])
        .iter()
        .map(|p| p["sku"].as_str().expect("a sku").to_owned())
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// Stock
// ---------------------------------------------------------------------------------------

/// A movement of `product` at the default location.
fn mv(product: &Value, kind: &str, quantity: i64) -> Value {
    json!({ "productId": product["id"], "kind": kind, "quantity": quantity })
}

/// A receipt of `quantity` at `unit_cost` (default location).
fn receipt(product: &Value, quantity: i64, unit_cost: &str) -> Value {
    json!({ "productId": product["id"], "kind": "RECEIPT", "quantity": quantity, "unitCost": eur(unit_cost) })
}

/// Posts a movement that must be accepted; returns it.
async fn posted(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(
        &who.auth(),
        &with(POST, MOVEMENT_FIELDS),
        json!({ "i": input }),
    )
    .await["postStockMovement"]["stockMovement"]
        .clone()
}

/// Posts a movement that must be refused; returns the error.
async fn refused(s: &TestServer, who: &Session, input: Value) -> Value {
    s.error(
        &who.auth(),
        &with(POST, MOVEMENT_FIELDS),
        json!({ "i": input }),
    )
    .await
}

/// Every page of a connection query taking `$after`, with `vars` besides.
async fn all_pages(
    s: &TestServer,
    who: &Session,
    query: &str,
    field: &str,
    vars: Value,
) -> Vec<Value> {
    let mut out = vec![];
    let mut after = Value::Null;
    loop {
        let mut v = vars.clone();
        v["after"] = after;
        let data = s.ok(&who.auth(), query, v).await;
        let conn = &data[field];
        out.extend(nodes(conn));
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "{conn}");
    }
}

/// Every movement matching `filter`, oldest first.
async fn movements(s: &TestServer, who: &Session, filter: Value) -> Vec<Value> {
    all_pages(
        s,
        who,
        &with(MOVEMENTS, MOVEMENT_FIELDS),
        "stockMovements",
        json!({ "f": filter }),
    )
    .await
}

/// Every stock level matching `filter`.
async fn levels(s: &TestServer, who: &Session, filter: Value) -> Vec<Value> {
    all_pages(
        s,
        who,
        &with(LEVELS, LEVEL_FIELDS),
        "stockLevels",
        json!({ "f": filter }),
    )
    .await
}

/// The stock level of `product` at `location`; `Null` when it has seen no movement.
async fn level(s: &TestServer, who: &Session, product: &Value, location: &Value) -> Value {
    let found = levels(
        s,
        who,
        json!({ "productId": product["id"], "locationId": location["id"] }),
    )
    .await;
    assert!(
        found.len() <= 1,
        "one level per product and location: {found:?}"
    );
    found.into_iter().next().unwrap_or(Value::Null)
}

/// Asserts a level's numbers: on hand, reserved, available = on hand - reserved, the
/// average cost and the value = average x on hand.
fn assert_level(l: &Value, on_hand: i64, reserved: i64, avg: &str, what: &str) {
    assert_eq!(l["onHand"], on_hand, "{what}: {l}");
    assert_eq!(l["reserved"], reserved, "{what}: {l}");
    assert_eq!(l["available"], on_hand - reserved, "{what}: {l}");
    assert_eq!(units(&l["averageCost"]["amount"]), dec(avg), "{what}: {l}");
    assert_eq!(l["averageCost"]["currency"], "EUR", "{what}: {l}");
    assert_eq!(
        units(&l["value"]["amount"]),
        dec(avg) * i128::from(on_hand),
        "{what}: {l}"
    );
}

/// The company's locations, the default first.
async fn locations(s: &TestServer, who: &Session) -> Vec<Value> {
    s.ok(&who.auth(), LOCATIONS, json!({})).await["stockLocations"]
        .as_array()
        .expect("a list of locations")
        .clone()
}

/// The default location ("Main").
async fn main_location(s: &TestServer, who: &Session) -> Value {
    let all = locations(s, who).await;
    let main = all[0].clone();
    assert_eq!(main["name"], "Main", "{all:?}");
    assert_eq!(main["isDefault"], true, "{all:?}");
    assert_eq!(
        all.iter().filter(|l| l["isDefault"] == true).count(),
        1,
        "one default location: {all:?}"
    );
    main
}

/// Asserts every balance equals its ledger: on hand is the sum of its movements' quantities
/// and reserved the sum of their reserved changes; the last movement's `onHandAfter` is the
/// balance; and no movement is outside a balance.
async fn assert_balances_equal_the_ledger(s: &TestServer, who: &Session) {
    let all_levels = levels(s, who, json!({})).await;
    let all_moves = movements(s, who, json!({})).await;
    let mut sums: HashMap<(String, String), (i64, i64, i64, usize)> = HashMap::new();
    for m in &all_moves {
        let key = (
            m["product"]["id"].as_str().unwrap().to_owned(),
            m["location"]["id"].as_str().unwrap().to_owned(),
        );
        let e = sums.entry(key).or_default();
        e.0 += m["quantity"].as_i64().unwrap();
        e.1 += m["reservedChange"].as_i64().unwrap();
        e.2 = m["onHandAfter"].as_i64().unwrap();
        e.3 += 1;
    }
    assert_eq!(
        sums.len(),
        all_levels.len(),
        "one level per (product, location) moved: {all_levels:?}"
    );
    for l in &all_levels {
        let key = (
            l["product"]["id"].as_str().unwrap().to_owned(),
            l["location"]["id"].as_str().unwrap().to_owned(),
        );
        let (on_hand, reserved, last_after, n) = sums
            .get(&key)
            .unwrap_or_else(|| panic!("a level without movements: {l}"));
        assert!(*n > 0);
        assert_eq!(l["onHand"], *on_hand, "on hand = sum of the ledger: {l}");
        assert_eq!(
            l["reserved"], *reserved,
            "reserved = sum of the ledger: {l}"
        );
        assert_eq!(l["onHand"], *last_after, "the last onHandAfter: {l}");
    }
}

// ---------------------------------------------------------------------------------------
// 1. Products
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_checked_and_kept_per_company() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Northside Opticians", "ECP", &email("inv-shop"))
        .await;

    // A frame, with its attributes, exact money and reorder settings.
    let frame = create_product(&s, &shop, frame_input("NW-AVI-52")).await;
    assert_eq!(frame["sku"], "NW-AVI-52", "{frame}");
    assert_eq!(frame["gtin"], "4006381333931", "{frame}");
    assert_eq!(frame["name"], "Aviator Classic Gold", "{frame}");
    assert_eq!(frame["brand"], "Northwind", "{frame}");
    assert_eq!(frame["category"], "FRAME", "{frame}");
    assert_eq!(units(&frame["cost"]["amount"]), dec("12.50"), "{frame}");
    assert_eq!(frame["cost"]["currency"], "EUR", "{frame}");
    assert_eq!(units(&frame["price"]["amount"]), dec("39.90"), "{frame}");
    assert_eq!(frame["price"]["currency"], "EUR", "{frame}");
    assert_eq!(
        frame["frame"],
        json!({ "model": "NW-100", "colour": "Gold", "eyeSize": 52, "bridge": 18, "templeLength": 140,
                "bSize": 40, "frameType": "FULL_RIM", "material": "Titanium" }),
        "{frame}"
    );
    for other in [
        "contactLens",
        "spectacleLens",
        "lensBlank",
        "supplierItemId",
    ] {
        assert_eq!(frame[other], Value::Null, "{other}: {frame}");
    }
    assert_eq!(frame["reorderPoint"], 3, "{frame}");
    assert_eq!(frame["leadTimeDays"], 5, "{frame}");
    assert_eq!(frame["minQuantity"], Value::Null, "{frame}");
    assert_eq!(frame["active"], true, "{frame}");

    // A contact lens, with its own block and a min/max policy.
    let lens = create_product(&s, &shop, contact_lens_input("AQ-DAILY-30")).await;
    assert_eq!(lens["category"], "CONTACT_LENS", "{lens}");
    assert_eq!(units(&lens["cost"]["amount"]), dec("8.25"), "{lens}");
    assert_eq!(units(&lens["price"]["amount"]), dec("24.9"), "{lens}");
    let cl = &lens["contactLens"];
    assert_eq!(units(&cl["baseCurve"]), dec("8.6"), "{lens}");
    assert_eq!(units(&cl["diameter"]), dec("14.2"), "{lens}");
    assert_eq!(units(&cl["power"]), dec("-2.25"), "{lens}");
    assert_eq!(cl["packSize"], 30, "{lens}");
    assert_eq!(cl["wearSchedule"], "DAILY", "{lens}");
    assert_eq!(lens["frame"], Value::Null, "{lens}");
    assert_eq!(
        (
            &lens["minQuantity"],
            &lens["maxQuantity"],
            &lens["safetyStock"]
        ),
        (&json!(4), &json!(20), &json!(2)),
        "{lens}"
    );
    assert_ne!(frame["id"], lens["id"]);

    // Refused input names the field under `input`, and stores nothing.
    let create = with(CREATE_PRODUCT, PRODUCT_FIELDS);
    let bad = |change: &dyn Fn(&mut Value)| {
        let mut input = frame_input("NW-BAD-1");
        change(&mut input);
        json!({ "i": input })
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            bad(&|i| i["gtin"] = json!("4006381333932")),
            vec!["input", "gtin"],
        ),
        (
            bad(&|i| i["cost"] = eur("-1.00")),
            vec!["input", "cost", "amount"],
        ),
        (
            bad(&|i| i["cost"] = eur("1.23456")),
            vec!["input", "cost", "amount"],
        ),
        (
            bad(&|i| i["price"] = eur("39.90001")),
            vec!["input", "price", "amount"],
        ),
        // Cost and price are in the product's currency, an ISO 4217 one.
        (
            bad(&|i| i["cost"] = json!({ "amount": "12.50", "currency": "USD" })),
            vec!["input", "cost", "currency"],
        ),
        (
            bad(&|i| i["price"] = json!({ "amount": "39.90", "currency": "EURO" })),
            vec!["input", "price", "currency"],
        ),
        (
            bad(&|i| i["frame"]["eyeSize"] = json!(90)),
            vec!["input", "frame", "eyeSize"],
        ),
        (
            bad(&|i| i["reorderPoint"] = json!(-1)),
            vec!["input", "reorderPoint"],
        ),
        (
            bad(&|i| i["minQuantity"] = json!(5)),
            vec!["input", "maxQuantity"],
        ),
        (
            bad(&|i| i["sku"] = json!("no spaces allowed")),
            vec!["input", "sku"],
        ),
    ];
    for (vars, field) in cases {
        let err = s.error(&shop.auth(), &create, vars.clone()).await;
        assert_bad_input(&err, &field);
        assert!(
            err["extensions"]["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("input.")),
            "{err}"
        );
    }
    // A missing attribute block is refused too (whatever field it names, under input).
    let err = s
        .error(&shop.auth(), &create, bad(&|i| i["frame"] = Value::Null))
        .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert!(
        err["extensions"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("input.")),
        "{err}"
    );

    // One SKU per company.
    let mut dup = contact_lens_input("NW-AVI-52");
    dup["name"] = json!("Another name, same SKU");
    let err = s.error(&shop.auth(), &create, json!({ "i": dup })).await;
    assert_eq!(err["extensions"]["code"], "CONFLICT", "{err}");
    assert_eq!(
        skus(&s, &shop, json!({})).await,
        vec!["AQ-DAILY-30", "NW-AVI-52"],
        "refused products were not stored"
    );

    // Staff read products and post movements, but do not create or change products.
    let staff = staff_of(&s, &shop).await;
    let code = s
        .error_code(
            &staff.auth(),
            &create,
            json!({ "i": sundry_input("CLOTH-1") }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let code = s
        .error_code(
            &staff.auth(),
            &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
            update_vars(&frame["id"], sundry_input("CLOTH-1")),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(
        skus(&s, &staff, json!({})).await,
        vec!["AQ-DAILY-30", "NW-AVI-52"]
    );
    let m = posted(&s, &staff, receipt(&frame, 5, "12.50")).await;
    assert_eq!(m["kind"], "RECEIPT", "{m}");
    assert_eq!(m["quantity"], 5, "{m}");

    // Finding by the words of a SKU (or name, brand, barcode).
    assert_eq!(
        skus(&s, &shop, json!({ "text": "avi" })).await,
        vec!["NW-AVI-52"]
    );
    assert_eq!(
        skus(&s, &shop, json!({ "text": "NW-AVI-52" })).await,
        vec!["NW-AVI-52"]
    );
    assert_eq!(
        skus(&s, &shop, json!({ "text": "aq daily" })).await,
        vec!["AQ-DAILY-30"]
    );
    assert_eq!(
        skus(&s, &shop, json!({ "text": "4006381333931" })).await,
        vec!["NW-AVI-52"]
    );
    assert!(
        skus(&s, &shop, json!({ "text": "avi daily" }))
            .await
            .is_empty()
    );
    assert!(skus(&s, &shop, json!({ "text": "zzzz" })).await.is_empty());
    assert_eq!(
        skus(&s, &shop, json!({ "category": "CONTACT_LENS" })).await,
        vec!["AQ-DAILY-30"]
    );

    // An update replaces the product: what is left out is cleared.
    let replacement = json!({
        "sku": "NW-AVI-52S", "name": "Aviator Classic Silver", "category": "FRAME",
        "cost": eur("13.00"), "currency": "EUR", "active": false,
        "frame": { "colour": "Silver", "eyeSize": 54, "bridge": 17, "templeLength": 145 }
    });
    let updated = s
        .ok(
            &shop.auth(),
            &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
            update_vars(&frame["id"], replacement),
        )
        .await["updateProduct"]["product"]
        .clone();
    assert_eq!(updated["id"], frame["id"], "{updated}");
    assert_eq!(updated["sku"], "NW-AVI-52S", "{updated}");
    assert_eq!(updated["name"], "Aviator Classic Silver", "{updated}");
    for cleared in ["gtin", "brand", "price", "reorderPoint", "leadTimeDays"] {
        assert_eq!(updated[cleared], Value::Null, "{cleared}: {updated}");
    }
    assert_eq!(units(&updated["cost"]["amount"]), dec("13"), "{updated}");
    assert_eq!(updated["active"], false, "{updated}");
    assert_eq!(
        updated["frame"],
        json!({ "model": null, "colour": "Silver", "eyeSize": 54, "bridge": 17, "templeLength": 145,
                "bSize": null, "frameType": null, "material": null }),
        "{updated}"
    );
    let read = s
        .ok(
            &shop.auth(),
            &with(PRODUCT, PRODUCT_FIELDS),
            json!({ "id": frame["id"] }),
        )
        .await["product"]
        .clone();
    assert_eq!(read, updated, "product(id) reads what was saved");
    // Search follows the new words; the old brand and barcode no longer find it.
    assert_eq!(
        skus(&s, &shop, json!({ "text": "silver" })).await,
        vec!["NW-AVI-52S"]
    );
    assert!(
        skus(&s, &shop, json!({ "text": "northwind" }))
            .await
            .is_empty()
    );
    assert!(
        skus(&s, &shop, json!({ "text": "4006381333931" }))
            .await
            .is_empty()
    );
    assert_eq!(
        skus(&s, &shop, json!({ "active": false })).await,
        vec!["NW-AVI-52S"]
    );
    // Renaming onto another product's SKU is a conflict, and changes nothing.
    let mut clash = contact_lens_input("AQ-DAILY-30");
    clash["category"] = json!("CONTACT_LENS");
    let err = s
        .error(
            &shop.auth(),
            &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
            update_vars(&frame["id"], clash),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "CONFLICT", "{err}");
    // The stock was not touched by the update.
    let main = main_location(&s, &shop).await;
    assert_level(
        &level(&s, &shop, &frame, &main).await,
        5,
        0,
        "12.50",
        "after the update",
    );

    // Another company sees none of it and cannot move its stock.
    let other = s
        .sign_up("Southside Eyecare", "ECP", &email("inv-other"))
        .await;
    let read = s
        .ok(
            &other.auth(),
            &with(PRODUCT, PRODUCT_FIELDS),
            json!({ "id": frame["id"] }),
        )
        .await;
    assert_eq!(read["product"], Value::Null, "{read}");
    let read = s
        .ok(&other.auth(), NODE, json!({ "id": frame["id"] }))
        .await;
    assert_eq!(read["node"], Value::Null, "{read}");
    let mine = s.ok(&shop.auth(), NODE, json!({ "id": frame["id"] })).await;
    assert_eq!(mine["node"]["sku"], "NW-AVI-52S", "{mine}");
    assert!(skus(&s, &other, json!({})).await.is_empty());
    assert!(
        skus(&s, &other, json!({ "text": "silver" }))
            .await
            .is_empty()
    );
    for input in [receipt(&frame, 7, "1.00"), mv(&frame, "SALE", 1)] {
        let err = refused(&s, &other, input).await;
        assert_bad_input(&err, &["input", "productId"]);
    }
    let err = s
        .error(
            &other.auth(),
            &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
            update_vars(&frame["id"], sundry_input("TAKEN-OVER")),
        )
        .await;
    assert_ne!(err["extensions"]["code"], Value::Null, "{err}");
    // Nothing changed for either company.
    assert_level(
        &level(&s, &shop, &frame, &main).await,
        5,
        0,
        "12.50",
        "after the other's tries",
    );
    assert_eq!(movements(&s, &shop, json!({})).await.len(), 1);
    assert!(levels(&s, &other, json!({})).await.is_empty());
    assert!(movements(&s, &other, json!({})).await.is_empty());
    let read = s
        .ok(
            &shop.auth(),
            &with(PRODUCT, PRODUCT_FIELDS),
            json!({ "id": frame["id"] }),
        )
        .await["product"]
        .clone();
    assert_eq!(read, updated, "the other company's update changed nothing");

    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// 2. The ledger
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movements_keep_balances_equal_to_the_ledger() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Ledger Opticians", "ECP", &email("inv-ledger"))
        .await;
    let staff = staff_of(&s, &shop).await;
    let lens = create_product(&s, &shop, contact_lens_input("AQ-DAILY-30")).await;

    // One default location, made on first use; asking again makes no other.
    let main = main_location(&s, &shop).await;
    assert_eq!(locations(&s, &shop).await.len(), 1);
    assert_eq!(main_location(&s, &staff).await, main);
    assert_eq!(
        level(&s, &shop, &lens, &main).await,
        Value::Null,
        "no stock yet"
    );

    let mut sale = mv(&lens, "SALE", 5);
    sale["reference"] = json!("SALE-1001");
    sale["note"] = json!("walk-in customer");
    // (who, movement, its quantity, its reserved change, then on hand, reserved, average)
    type Step<'a> = (&'a Session, Value, i64, i64, i64, i64, &'a str);
    let steps: Vec<Step> = vec![
        (&shop, receipt(&lens, 10, "2.00"), 10, 0, 10, 0, "2.00"),
        (&staff, receipt(&lens, 30, "3.00"), 30, 0, 40, 0, "2.75"),
        (&staff, sale, -5, 0, 35, 0, "2.75"),
        (&staff, mv(&lens, "BREAKAGE", 1), -1, 0, 34, 0, "2.75"),
        (&shop, mv(&lens, "ADJUSTMENT", -2), -2, 0, 32, 0, "2.75"),
        (&shop, mv(&lens, "ADJUSTMENT", 3), 3, 0, 35, 0, "2.75"),
        (&staff, mv(&lens, "RETURN", 1), 1, 0, 36, 0, "2.75"),
        (&staff, mv(&lens, "RESERVE", 4), 0, 4, 36, 4, "2.75"),
        (&staff, mv(&lens, "RELEASE", 1), 0, -1, 36, 3, "2.75"),
    ];
    let n_steps = steps.len();
    for (n, (who, input, quantity, reserved_change, on_hand, reserved, avg)) in
        steps.into_iter().enumerate()
    {
        let what = format!("step {n}: {input}");
        let m = posted(&s, who, input.clone()).await;
        assert_eq!(m["kind"], input["kind"], "{what}: {m}");
        assert_eq!(m["product"]["id"], lens["id"], "{what}: {m}");
        assert_eq!(m["location"]["id"], main["id"], "{what}: {m}");
        assert_eq!(m["quantity"], quantity, "{what}: {m}");
        assert_eq!(m["reservedChange"], reserved_change, "{what}: {m}");
        assert_eq!(m["onHandAfter"], on_hand, "{what}: {m}");
        assert_eq!(
            units(&m["averageCostAfter"]["amount"]),
            dec(avg),
            "{what}: {m}"
        );
        assert_eq!(m["averageCostAfter"]["currency"], "EUR", "{what}: {m}");
        assert_eq!(m["counterpart"], Value::Null, "{what}: {m}");
        assert_eq!(
            m["reference"],
            input.get("reference").cloned().unwrap_or(Value::Null),
            "{what}: {m}"
        );
        assert_eq!(
            m["note"],
            input.get("note").cloned().unwrap_or(Value::Null),
            "{what}: {m}"
        );
        if input["kind"] == "RECEIPT" {
            assert_eq!(
                units(&m["unitCost"]["amount"]),
                units(&input["unitCost"]["amount"]),
                "{what}: {m}"
            );
            assert_eq!(m["unitCost"]["currency"], "EUR", "{what}: {m}");
        } else {
            assert_eq!(m["unitCost"], Value::Null, "{what}: {m}");
        }
        let l = level(&s, &shop, &lens, &main).await;
        assert_level(&l, on_hand, reserved, avg, &what);
        assert_eq!(l["product"]["sku"], "AQ-DAILY-30", "{l}");
        assert_eq!(l["location"]["id"], main["id"], "{l}");
    }
    // 40 @ 2.75 was 110 before anything left.
    assert_eq!(dec("2.75") * 40, dec("110"));

    // Now 36 on hand, 3 reserved, 33 available. Each of these is refused and writes nothing.
    let refusals: Vec<(Value, Vec<&str>)> = vec![
        (mv(&lens, "SALE", 34), vec!["input", "quantity"]),
        (mv(&lens, "BREAKAGE", 34), vec!["input", "quantity"]),
        (mv(&lens, "ADJUSTMENT", -34), vec!["input", "quantity"]),
        (mv(&lens, "RESERVE", 34), vec!["input", "quantity"]),
        (mv(&lens, "RELEASE", 4), vec!["input", "quantity"]),
        (mv(&lens, "SALE", 0), vec!["input", "quantity"]),
        (mv(&lens, "SALE", -1), vec!["input", "quantity"]),
        (mv(&lens, "RETURN", 0), vec!["input", "quantity"]),
        (mv(&lens, "ADJUSTMENT", 0), vec!["input", "quantity"]),
        (mv(&lens, "RESERVE", 0), vec!["input", "quantity"]),
        (mv(&lens, "RELEASE", 0), vec!["input", "quantity"]),
        (receipt(&lens, 0, "2.00"), vec!["input", "quantity"]),
        (
            receipt(&lens, 1, "-2.00"),
            vec!["input", "unitCost", "amount"],
        ),
        (
            receipt(&lens, 1, "2.00001"),
            vec!["input", "unitCost", "amount"],
        ),
        // A cost is in the product's currency, an ISO 4217 one.
        (
            json!({ "productId": lens["id"], "kind": "RECEIPT", "quantity": 1,
                    "unitCost": { "amount": "2.00", "currency": "USD" } }),
            vec!["input", "unitCost", "currency"],
        ),
        (
            json!({ "productId": lens["id"], "kind": "RECEIPT", "quantity": 1,
                    "unitCost": { "amount": "2.00", "currency": "EURO" } }),
            vec!["input", "unitCost", "currency"],
        ),
        // 36 on hand + 10^9 is more than a location may hold.
        (
            receipt(&lens, 1_000_000_000, "2.00"),
            vec!["input", "quantity"],
        ),
    ];
    for (input, field) in refusals {
        let err = refused(&s, &staff, input.clone()).await;
        assert_eq!(
            err["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {err}"
        );
        assert_eq!(
            err["extensions"]["field"],
            json!(field.join(".")),
            "{input}: {err}"
        );
    }
    // A receipt without its unit cost.
    let err = refused(
        &s,
        &staff,
        json!({ "productId": lens["id"], "kind": "RECEIPT", "quantity": 1 }),
    )
    .await;
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert!(
        err["extensions"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("input.")),
        "{err}"
    );
    assert_level(
        &level(&s, &shop, &lens, &main).await,
        36,
        3,
        "2.75",
        "after the refusals",
    );
    assert_eq!(
        movements(&s, &shop, json!({})).await.len(),
        n_steps,
        "refused movements are not written"
    );

    // Negative stock: off by default, changed by admins and managers only.
    let settings = s.ok(&staff.auth(), SETTINGS, json!({})).await;
    assert_eq!(settings["inventorySettings"]["allowNegativeStock"], false);
    let code = s
        .error_code(&staff.auth(), UPDATE_SETTINGS, json!({ "a": true }))
        .await;
    assert_eq!(code, "FORBIDDEN");
    let settings = s.ok(&shop.auth(), SETTINGS, json!({})).await;
    assert_eq!(settings["inventorySettings"]["allowNegativeStock"], false);
    assert_bad_input(
        &refused(&s, &staff, mv(&lens, "SALE", 40)).await,
        &["input", "quantity"],
    );
    let set = s
        .ok(&shop.auth(), UPDATE_SETTINGS, json!({ "a": true }))
        .await;
    assert_eq!(
        set["updateInventorySettings"]["inventorySettings"]["allowNegativeStock"],
        true
    );
    let settings = s.ok(&staff.auth(), SETTINGS, json!({})).await;
    assert_eq!(settings["inventorySettings"]["allowNegativeStock"], true);

    // Now a sale may take stock below zero; the average stays.
    let m = posted(&s, &staff, mv(&lens, "SALE", 40)).await;
    assert_eq!(m["quantity"], -40, "{m}");
    assert_eq!(m["onHandAfter"], -4, "{m}");
    assert_level(
        &level(&s, &shop, &lens, &main).await,
        -4,
        3,
        "2.75",
        "sold below zero",
    );
    // A reservation never exceeds available stock, negatives allowed or not.
    assert_bad_input(
        &refused(&s, &staff, mv(&lens, "RESERVE", 1)).await,
        &["input", "quantity"],
    );
    posted(&s, &staff, mv(&lens, "RELEASE", 3)).await;
    assert_level(
        &level(&s, &shop, &lens, &main).await,
        -4,
        0,
        "2.75",
        "released",
    );

    // Switched off again (an update of the stored setting): issuing is refused, a count
    // correction upwards is not.
    let set = s
        .ok(&shop.auth(), UPDATE_SETTINGS, json!({ "a": false }))
        .await;
    assert_eq!(
        set["updateInventorySettings"]["inventorySettings"]["allowNegativeStock"],
        false
    );
    let settings = s.ok(&staff.auth(), SETTINGS, json!({})).await;
    assert_eq!(settings["inventorySettings"]["allowNegativeStock"], false);
    assert_bad_input(
        &refused(&s, &staff, mv(&lens, "SALE", 1)).await,
        &["input", "quantity"],
    );
    posted(&s, &shop, mv(&lens, "ADJUSTMENT", 5)).await;
    assert_level(
        &level(&s, &shop, &lens, &main).await,
        1,
        0,
        "2.75",
        "counted back up",
    );

    // Every balance is the sum of its ledger.
    let all = movements(&s, &shop, json!({ "productId": lens["id"] })).await;
    assert_eq!(all.len(), n_steps + 3, "{all:?}");
    assert_eq!(
        all.iter()
            .map(|m| m["quantity"].as_i64().unwrap())
            .sum::<i64>(),
        1
    );
    let kinds = movements(&s, &shop, json!({ "kinds": ["RESERVE", "RELEASE"] })).await;
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_balances_equal_the_ledger(&s, &shop).await;

    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// 3. Transfers
// ---------------------------------------------------------------------------------------

async fn transfer(s: &TestServer, who: &Session, input: Value) -> (u16, Value) {
    s.post(
        &who.auth(),
        &with(TRANSFER, MOVEMENT_FIELDS),
        json!({ "i": input }),
    )
    .await
}

fn transfer_input(product: &Value, from: &Value, to: &Value, quantity: i64) -> Value {
    json!({ "productId": product["id"], "fromLocationId": from["id"], "toLocationId": to["id"], "quantity": quantity })
}

/// The stock of `product` at each of `at`, and the number of movements in all.
async fn snapshot(
    s: &TestServer,
    who: &Session,
    product: &Value,
    at: &[&Value],
) -> (Vec<Value>, usize) {
    let mut out = vec![];
    for l in at {
        out.push(level(s, who, product, l).await);
    }
    (out, movements(s, who, json!({})).await.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_move_stock_atomically() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Transfer Opticians", "ECP", &email("inv-transfer"))
        .await;
    let staff = staff_of(&s, &shop).await;
    let frame = create_product(&s, &shop, frame_input("NW-AVI-52")).await;
    let main = main_location(&s, &shop).await;

    // A second location; names are unique, and only admins and managers add one.
    let van = s
        .ok(&shop.auth(), CREATE_LOCATION, json!({ "n": "Van" }))
        .await["createStockLocation"]["stockLocation"]
        .clone();
    assert_eq!(van["name"], "Van", "{van}");
    assert_eq!(van["isDefault"], false, "{van}");
    assert_ne!(van["id"], main["id"]);
    let code = s
        .error_code(&shop.auth(), CREATE_LOCATION, json!({ "n": "Van" }))
        .await;
    assert_eq!(code, "CONFLICT");
    let code = s
        .error_code(&shop.auth(), CREATE_LOCATION, json!({ "n": "Main" }))
        .await;
    assert_eq!(code, "CONFLICT");
    let code = s
        .error_code(&staff.auth(), CREATE_LOCATION, json!({ "n": "Back room" }))
        .await;
    assert_eq!(code, "FORBIDDEN");
    let ids: Vec<Value> = locations(&s, &shop)
        .await
        .iter()
        .map(|l| l["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![main["id"].clone(), van["id"].clone()],
        "the default first"
    );

    posted(&s, &shop, receipt(&frame, 10, "2.00")).await;
    posted(&s, &shop, receipt(&frame, 10, "3.00")).await;
    assert_level(
        &level(&s, &shop, &frame, &main).await,
        20,
        0,
        "2.50",
        "received",
    );

    // 4 to the van: both halves, one transfer id, at the source's average cost.
    let mut input = transfer_input(&frame, &main, &van, 4);
    input["reference"] = json!("VAN-STOCK-1");
    let (_, body) = transfer(&s, &staff, input).await;
    assert!(body.get("errors").is_none(), "{body}");
    let halves = body["data"]["transferStock"]["stockMovements"]
        .as_array()
        .expect("the two halves")
        .clone();
    assert_eq!(halves.len(), 2, "{body}");
    let (out, inn) = (&halves[0], &halves[1]);
    assert_eq!(out["kind"], "TRANSFER_OUT", "{out}");
    assert_eq!(out["quantity"], -4, "{out}");
    assert_eq!(out["location"]["id"], main["id"], "{out}");
    assert_eq!(out["onHandAfter"], 16, "{out}");
    assert_eq!(inn["kind"], "TRANSFER_IN", "{inn}");
    assert_eq!(inn["quantity"], 4, "{inn}");
    assert_eq!(inn["location"]["id"], van["id"], "{inn}");
    assert_eq!(inn["onHandAfter"], 4, "{inn}");
    assert_eq!(units(&inn["unitCost"]["amount"]), dec("2.50"), "{inn}");
    for half in [out, inn] {
        assert_eq!(half["product"]["id"], frame["id"], "{half}");
        assert_eq!(half["reservedChange"], 0, "{half}");
        assert_eq!(half["reference"], "VAN-STOCK-1", "{half}");
    }
    // Each half names the other.
    assert_eq!(out["counterpart"]["id"], inn["id"], "{out}");
    assert_eq!(out["counterpart"]["kind"], "TRANSFER_IN", "{out}");
    assert_eq!(out["counterpart"]["location"]["id"], van["id"], "{out}");
    assert_eq!(inn["counterpart"]["id"], out["id"], "{inn}");
    let from = level(&s, &shop, &frame, &main).await;
    let to = level(&s, &shop, &frame, &van).await;
    assert_level(&from, 16, 0, "2.50", "main after the transfer");
    assert_level(&to, 4, 0, "2.50", "van after the transfer");
    assert_eq!(
        units(&to["averageCost"]["amount"]),
        units(&from["averageCost"]["amount"])
    );
    assert_eq!(to["location"]["name"], "Van", "{to}");
    let ledger = movements(
        &s,
        &shop,
        json!({ "kinds": ["TRANSFER_OUT", "TRANSFER_IN"] }),
    )
    .await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    // The ledger names each half's counterpart too (read as a page).
    assert_eq!(
        ledger[0]["counterpart"]["id"], ledger[1]["id"],
        "{ledger:?}"
    );
    assert_eq!(
        ledger[1]["counterpart"]["id"], ledger[0]["id"],
        "{ledger:?}"
    );
    let at_van = movements(&s, &shop, json!({ "locationId": van["id"] })).await;
    assert_eq!(at_van.len(), 1, "{at_van:?}");

    // Into stock that is already there, a transfer blends like a receipt:
    // main 16 @ 2.50 + 4 @ 4.00 = 20 @ 2.80; the van 4 @ 2.50 + 5 @ 2.80 = 9 @ 2.6667.
    posted(&s, &shop, receipt(&frame, 4, "4.00")).await;
    let (_, body) = transfer(&s, &staff, transfer_input(&frame, &main, &van, 5)).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_level(
        &level(&s, &shop, &frame, &main).await,
        15,
        0,
        "2.80",
        "main",
    );
    assert_level(&level(&s, &shop, &frame, &van).await, 9, 0, "2.6667", "van");

    // Refused transfers write nothing and change neither balance.
    posted(&s, &staff, mv(&frame, "RESERVE", 10)).await; // main: 15 on hand, 5 available
    let before = snapshot(&s, &shop, &frame, &[&main, &van]).await;
    let other = s
        .sign_up("Elsewhere Optics", "ECP", &email("inv-elsewhere"))
        .await;
    let theirs = main_location(&s, &other).await;
    let cases: Vec<(&Session, Value, Vec<&str>)> = vec![
        (
            &staff,
            transfer_input(&frame, &main, &van, 6),
            vec!["input", "quantity"],
        ),
        (
            &staff,
            transfer_input(&frame, &van, &main, 10),
            vec!["input", "quantity"],
        ),
        (
            &staff,
            transfer_input(&frame, &main, &van, 0),
            vec!["input", "quantity"],
        ),
        (
            &staff,
            transfer_input(&frame, &main, &van, -3),
            vec!["input", "quantity"],
        ),
        (
            &staff,
            transfer_input(&frame, &main, &main, 1),
            vec!["input", "toLocationId"],
        ),
        (
            &shop,
            transfer_input(&frame, &main, &theirs, 1),
            vec!["input", "toLocationId"],
        ),
        (
            &shop,
            transfer_input(&frame, &theirs, &main, 1),
            vec!["input", "fromLocationId"],
        ),
        (
            &other,
            transfer_input(&frame, &theirs, &theirs, 1),
            vec!["input", "productId"],
        ),
    ];
    for (who, input, field) in cases {
        let (_, body) = transfer(&s, who, input.clone()).await;
        let err = &body["errors"][0];
        assert_eq!(
            err["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {body}"
        );
        assert_eq!(
            err["extensions"]["field"],
            json!(field.join(".")),
            "{input}: {body}"
        );
        assert_eq!(body["data"], Value::Null, "{input}: {body}");
    }
    // Transfers have their own mutation.
    for kind in ["TRANSFER_IN", "TRANSFER_OUT"] {
        let err = refused(
            &s,
            &staff,
            json!({ "productId": frame["id"], "kind": kind, "quantity": 1, "unitCost": eur("2.00") }),
        )
        .await;
        assert_bad_input(&err, &["input", "kind"]);
    }
    // Another company's location is not one of yours.
    let mut elsewhere = receipt(&frame, 1, "1.00");
    elsewhere["locationId"] = theirs["id"].clone();
    assert_bad_input(
        &refused(&s, &shop, elsewhere).await,
        &["input", "locationId"],
    );
    assert_eq!(
        snapshot(&s, &shop, &frame, &[&main, &van]).await,
        before,
        "refused transfers changed nothing"
    );
    assert!(levels(&s, &other, json!({})).await.is_empty());
    assert!(movements(&s, &other, json!({})).await.is_empty());
    posted(&s, &staff, mv(&frame, "RELEASE", 10)).await;

    // Everything back from the van: main 15 @ 2.80 + 9 @ 2.6667 = 24 @ 2.75.
    let (_, body) = transfer(&s, &staff, transfer_input(&frame, &van, &main, 9)).await;
    assert!(body.get("errors").is_none(), "{body}");
    let main_level = level(&s, &shop, &frame, &main).await;
    let van_level = level(&s, &shop, &frame, &van).await;
    assert_level(&main_level, 24, 0, "2.75", "all back at main");
    assert_eq!(van_level["onHand"], 0, "{van_level}");
    assert_eq!(van_level["available"], 0, "{van_level}");
    // Units are conserved: 24 received, 24 on hand.
    let total: i64 = levels(&s, &shop, json!({ "productId": frame["id"] }))
        .await
        .iter()
        .map(|l| l["onHand"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 24);
    // Three transfers: each movement and its counterpart make one pair.
    let transfer_ids: std::collections::BTreeSet<(String, String)> = movements(
        &s,
        &shop,
        json!({ "kinds": ["TRANSFER_OUT", "TRANSFER_IN"] }),
    )
    .await
    .iter()
    .map(|m| {
        let pair = [
            m["id"].as_str().unwrap().to_owned(),
            m["counterpart"]["id"].as_str().unwrap().to_owned(),
        ];
        (
            pair.iter().min().unwrap().clone(),
            pair.iter().max().unwrap().clone(),
        )
    })
    .collect();
    assert_eq!(transfer_ids.len(), 3, "three transfers of two halves each");
    assert_eq!(
        movements(
            &s,
            &shop,
            json!({ "kinds": ["TRANSFER_OUT", "TRANSFER_IN"] })
        )
        .await
        .len(),
        6
    );
    assert_balances_equal_the_ledger(&s, &shop).await;

    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// 4. Low stock
// ---------------------------------------------------------------------------------------

/// The SKUs `lowStock` lists.
async fn low_skus(s: &TestServer, who: &Session) -> Vec<String> {
    let data = s
        .ok(&who.auth(), &with(LOW_STOCK, LEVEL_FIELDS), json!({}))
        .await;
    let listed = nodes(&data["lowStock"]);
    assert!(listed.iter().all(|l| l["low"] == true), "{data}");
    listed
        .iter()
        .map(|l| l["product"]["sku"].as_str().unwrap().to_owned())
        .collect()
}

/// The SKUs `stockLevels(filter: { lowOnly: true })` lists.
async fn low_only_skus(s: &TestServer, who: &Session) -> Vec<String> {
    levels(s, who, json!({ "lowOnly": true }))
        .await
        .iter()
        .map(|l| l["product"]["sku"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_is_announced_once_per_downward_crossing() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Reorder Opticians", "ECP", &email("inv-low"))
        .await;
    let other = s
        .sign_up("Bystander Optics", "ECP", &email("inv-bystander"))
        .await;
    let mut input = sundry_input("CLOTH-ROP5");
    input["reorderPoint"] = json!(5);
    let cloth = create_product(&s, &shop, input).await;
    assert_eq!(cloth["reorderPoint"], 5, "{cloth}");
    // Without a reorder point a product is never low.
    let plain = create_product(&s, &shop, sundry_input("CLOTH-PLAIN")).await;
    let main = main_location(&s, &shop).await;

    let types: &[&str] = &["inventory.low_stock", "marketplace.profile_updated"];
    let sentinel = || ws::profile_saved(&s, &shop);
    let mut socket = ws::subscribe_events_ready(&s, &shop.auth(), Some(types), sentinel).await;
    let other_sentinel = || ws::profile_saved(&s, &other);
    let mut bystander =
        ws::subscribe_events_ready(&s, &other.auth(), Some(types), other_sentinel).await;

    let expect_low = |ev: &Value, available: i64| {
        assert_eq!(ev["type"], "inventory.low_stock", "{ev}");
        let d = &ev["data"];
        assert_eq!(d["productId"], cloth["id"], "{ev}");
        assert_eq!(d["sku"], "CLOTH-ROP5", "{ev}");
        assert_eq!(d["locationId"], main["id"], "{ev}");
        assert_eq!(d["available"], available, "{ev}");
        assert_eq!(d["threshold"], 5, "{ev}");
    };
    let low_flag = || async { level(&s, &shop, &cloth, &main).await["low"].clone() };

    posted(&s, &shop, receipt(&cloth, 10, "0.40")).await;
    posted(&s, &shop, mv(&cloth, "SALE", 3)).await; // 7
    ws::assert_no_event(&mut [&mut socket], "7 is above the reorder point", sentinel).await;
    assert_eq!(low_flag().await, false);
    assert!(low_skus(&s, &shop).await.is_empty());

    posted(&s, &shop, mv(&cloth, "SALE", 3)).await; // 4: crossed
    let ev = ws::next_event(&mut socket).await;
    expect_low(&ev, 4);
    ws::assert_no_event(&mut [&mut socket], "one event per crossing", sentinel).await;
    assert_eq!(low_flag().await, true);
    assert_eq!(low_skus(&s, &shop).await, vec!["CLOTH-ROP5"]);
    assert_eq!(low_only_skus(&s, &shop).await, vec!["CLOTH-ROP5"]);

    posted(&s, &shop, mv(&cloth, "SALE", 1)).await; // 3: still low
    // A product without a reorder point runs out silently.
    posted(&s, &shop, receipt(&plain, 1, "0.40")).await;
    posted(&s, &shop, mv(&plain, "SALE", 1)).await;
    ws::assert_no_event(&mut [&mut socket], "already low: no second event", sentinel).await;
    assert_eq!(low_flag().await, true);
    assert_eq!(low_skus(&s, &shop).await, vec!["CLOTH-ROP5"]);

    posted(&s, &shop, receipt(&cloth, 10, "0.40")).await; // 13: recovered
    ws::assert_no_event(&mut [&mut socket], "a recovery is not announced", sentinel).await;
    assert_eq!(low_flag().await, false);
    assert!(low_skus(&s, &shop).await.is_empty());
    assert!(low_only_skus(&s, &shop).await.is_empty());

    posted(&s, &shop, mv(&cloth, "SALE", 9)).await; // 4: crossed again
    let ev = ws::next_event(&mut socket).await;
    expect_low(&ev, 4);
    ws::assert_no_event(&mut [&mut socket], "one event per crossing", sentinel).await;
    assert_eq!(low_skus(&s, &shop).await, vec!["CLOTH-ROP5"]);
    assert_eq!(low_only_skus(&s, &shop).await, vec!["CLOTH-ROP5"]);

    // Nobody else hears of it, or sees it.
    ws::assert_no_event(
        &mut [&mut bystander],
        "another company's low stock",
        other_sentinel,
    )
    .await;
    assert!(low_skus(&s, &other).await.is_empty());

    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// 5. Concurrency
// ---------------------------------------------------------------------------------------

const CLIENTS: i64 = 8;
const RECEIPTS_EACH: i64 = 10;
const SALES_EACH: i64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_movements_never_lose_an_update() {
    let s = TestServer::start().await;
    let shop = s.sign_up("Busy Opticians", "ECP", &email("inv-busy")).await;
    let cloth = create_product(&s, &shop, sundry_input("CLOTH-BUSY")).await;
    let main = main_location(&s, &shop).await;
    // Enough stock first that no interleaving of the sales below can run out.
    posted(&s, &shop, receipt(&cloth, 100, "2.00")).await;

    let query = with(POST, MOVEMENT_FIELDS);
    let mut clients = vec![];
    for client in 0..CLIENTS {
        let http = s.http.clone();
        let url = s.url("/graphql");
        let auth = shop.auth();
        let query = query.clone();
        let product = cloth["id"].clone();
        clients.push(tokio::spawn(async move {
            let mut failures = vec![];
            for i in 0..RECEIPTS_EACH + SALES_EACH {
                let reference = format!("c{client}-{i}");
                let input = if i % 3 == 2 {
                    json!({ "productId": product, "kind": "SALE", "quantity": 1, "reference": reference })
                } else {
                    json!({ "productId": product, "kind": "RECEIPT", "quantity": 3,
                            "unitCost": { "amount": "2.00", "currency": "EUR" }, "reference": reference })
                };
                let req = http
                    .post(&url)
                    .json(&json!({ "query": query, "variables": { "i": input } }));
                match auth.apply(req).send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
                        if status != 200 || body.get("errors").is_some() {
                            failures.push(format!("{reference}: {status} {body}"));
                        }
                    }
                    Err(e) => failures.push(format!("{reference}: {e}")),
                }
            }
            failures
        }));
    }
    // Meanwhile a manager reconciles again and again: movements committing while it reads
    // must never look like drift.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reconciler = {
        let (http, url, auth, stop) =
            (s.http.clone(), s.url("/graphql"), shop.auth(), stop.clone());
        tokio::spawn(async move {
            let (mut runs, mut false_alarms) = (0, vec![]);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let req = http.post(&url).json(&json!({ "query": RECONCILE }));
                let body = auth
                    .apply(req)
                    .send()
                    .await
                    .expect("reconcile sent")
                    .json::<Value>()
                    .await
                    .unwrap_or(Value::Null);
                let found =
                    &body["data"]["reconcileInventory"]["reconciliationReport"]["discrepancies"];
                if found != &json!([]) {
                    false_alarms.push(body);
                }
                runs += 1;
            }
            (runs, false_alarms)
        })
    };
    let mut failures = vec![];
    for c in clients {
        failures.extend(c.await.expect("a client task"));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, false_alarms) = reconciler.await.expect("the reconciler task");
    assert!(runs > 0);
    assert!(
        false_alarms.is_empty(),
        "{} of {runs} reconciliations during the movements reported drift: {false_alarms:#?}",
        false_alarms.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} concurrent movements failed: {failures:#?}",
        failures.len(),
        CLIENTS * (RECEIPTS_EACH + SALES_EACH)
    );

    let expected = 100 + CLIENTS * RECEIPTS_EACH * 3 - CLIENTS * SALES_EACH;
    assert_eq!(expected, 300);
    let l = level(&s, &shop, &cloth, &main).await;
    assert_level(&l, expected, 0, "2.00", "after the concurrent phase");

    let all = movements(&s, &shop, json!({ "productId": cloth["id"] })).await;
    assert_eq!(
        all.len() as i64,
        1 + CLIENTS * (RECEIPTS_EACH + SALES_EACH),
        "one movement per request"
    );
    assert_eq!(
        all.iter()
            .map(|m| m["quantity"].as_i64().unwrap())
            .sum::<i64>(),
        expected,
        "the ledger sums to the balance"
    );
    // Each movement saw the balance its predecessor left: none was lost or applied twice.
    let mut running = 0;
    for m in &all {
        running += m["quantity"].as_i64().unwrap();
        assert_eq!(m["onHandAfter"], running, "{m}");
        assert_eq!(units(&m["averageCostAfter"]["amount"]), dec("2.00"), "{m}");
    }
    let references: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|m| m["reference"].as_str()).collect();
    assert_eq!(
        references.len() as i64,
        CLIENTS * (RECEIPTS_EACH + SALES_EACH)
    );
    assert_balances_equal_the_ledger(&s, &shop).await;

    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Reconciliation, and what follows the reorder settings
// ---------------------------------------------------------------------------------------

const RECONCILE: &str = "mutation { reconcileInventory { reconciliationReport {
    balancesChecked discrepancies { id product { id } location { id } balanceOnHand ledgerOnHand
    balanceReserved ledgerReserved status } } } }";
const DISCREPANCIES: &str = "{ stockDiscrepancies { id status balanceOnHand ledgerOnHand } }";
const APPROVE: &str = "mutation($id: ID!) {
    approveStockDiscrepancy(input: { id: $id }) { stockDiscrepancy { id status resolvedAt } } }";

/// A balance that drifted from its ledger (written below the guard, as a bug or a hand
/// edit would) is reported, not overwritten; the approved fix is an ADJUSTMENT in the
/// ledger, after which ledger and balance agree and nothing is reported; the nightly job
/// finds the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reports_drift_and_a_manager_approves_the_fix() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Drift Optics", "ECP", &email("drift")).await;
    let staff = staff_of(&s, &admin).await;
    let p = create_product(&s, &admin, sundry_input("DRIFT-1")).await;
    posted(&s, &admin, receipt(&p, 10, "1.00")).await;
    posted(&s, &admin, mv(&p, "SALE", 3)).await;

    // All agree at first.
    let report = s.ok(&admin.auth(), RECONCILE, json!({})).await;
    assert_eq!(
        report["reconcileInventory"]["reconciliationReport"]["balancesChecked"],
        1
    );
    assert_eq!(
        report["reconcileInventory"]["reconciliationReport"]["discrepancies"],
        json!([])
    );
    assert_eq!(
        s.error_code(&staff.auth(), RECONCILE, json!({})).await,
        "FORBIDDEN"
    );

    // The balance drifts by +5 below the guard.
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    let sql = if s.is_postgres() {
        "SELECT set_config('app.system', 'on', false); UPDATE stock_balances SET on_hand = on_hand + 5"
    } else {
        "UPDATE stock_balances SET on_hand = on_hand + 5"
    };
    owner.execute_unprepared(sql).await.unwrap();

    let report = s.ok(&admin.auth(), RECONCILE, json!({})).await;
    let found = report["reconcileInventory"]["reconciliationReport"]["discrepancies"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(found.len(), 1, "{report}");
    let d = &found[0];
    assert_eq!(d["product"]["id"], p["id"]);
    assert_eq!(
        (d["balanceOnHand"].clone(), d["ledgerOnHand"].clone()),
        (json!(12), json!(7))
    );
    assert_eq!(d["status"], "OPEN");
    // Reported, never overwritten: the balance still shows 12.
    let l = levels(&s, &admin, json!({ "productId": p["id"] })).await;
    assert_eq!(l[0]["onHand"], 12);
    // A second run reports the same discrepancy, not a new one.
    let again = s.ok(&admin.auth(), RECONCILE, json!({})).await;
    assert_eq!(
        again["reconcileInventory"]["reconciliationReport"]["discrepancies"][0]["id"],
        d["id"]
    );
    let open = s.ok(&admin.auth(), DISCREPANCIES, json!({})).await;
    assert_eq!(open["stockDiscrepancies"].as_array().unwrap().len(), 1);

    // Only a manager approves; the fix is one ADJUSTMENT of +5 in the ledger.
    assert_eq!(
        s.error_code(&staff.auth(), APPROVE, json!({ "id": d["id"] }))
            .await,
        "FORBIDDEN"
    );
    let approved = s.ok(&admin.auth(), APPROVE, json!({ "id": d["id"] })).await;
    assert_eq!(
        approved["approveStockDiscrepancy"]["stockDiscrepancy"]["status"],
        "APPROVED"
    );
    assert_eq!(
        s.error_code(&admin.auth(), APPROVE, json!({ "id": d["id"] }))
            .await,
        "CONFLICT"
    );
    let ledger = movements(&s, &admin, json!({ "productId": p["id"] })).await;
    let last = ledger.last().unwrap();
    assert_eq!(last["kind"], "ADJUSTMENT", "{last}");
    assert_eq!(last["quantity"], 5, "{last}");
    let sum: i64 = ledger.iter().map(|m| m["quantity"].as_i64().unwrap()).sum();
    assert_eq!(sum, 12);
    let report = s.ok(&admin.auth(), RECONCILE, json!({})).await;
    assert_eq!(
        report["reconcileInventory"]["reconciliationReport"]["discrepancies"],
        json!([])
    );
    let open = s.ok(&admin.auth(), DISCREPANCIES, json!({})).await;
    assert_eq!(open["stockDiscrepancies"], json!([]));

    // The nightly job (the schedule's job, run now) finds a new drift for this company.
    owner
        .execute_unprepared(if s.is_postgres() {
            "SELECT set_config('app.system', 'on', false); UPDATE stock_balances SET reserved = reserved + 1"
        } else {
            "UPDATE stock_balances SET reserved = reserved + 1"
        })
        .await
        .unwrap();
    ils_kernel::jobs::enqueue_system(
        &s.server.state.db,
        ils_kernel::NewJob::of(&ils_inventory::service::reconcile::ReconcileAll {}),
    )
    .await
    .unwrap();
    ils_tests::eventually(
        "the nightly reconciliation",
        std::time::Duration::from_secs(20),
        || async {
            let open = s.ok(&admin.auth(), DISCREPANCIES, json!({})).await;
            if open["stockDiscrepancies"]
                .as_array()
                .is_some_and(|d| d.len() == 1)
            {
                Ok(())
            } else {
                Err(open)
            }
        },
    )
    .await;
    s.finish().await;
}

/// Reconciliations running at once (the nightly one and a manager's, say) record each
/// drift once: every report names the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reconciliations_record_each_drift_once() {
    const PRODUCTS: usize = 40;
    const RUNS: usize = 6;
    let s = TestServer::start().await;
    let admin = s
        .sign_up("Twice Optics", "ECP", &email("drift-twice"))
        .await;
    for i in 0..PRODUCTS {
        let p = create_product(&s, &admin, sundry_input(&format!("TWICE-{i:02}"))).await;
        posted(&s, &admin, receipt(&p, 10, "1.00")).await;
    }
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    let sql = if s.is_postgres() {
        "SELECT set_config('app.system', 'on', false); UPDATE stock_balances SET on_hand = on_hand + 2"
    } else {
        "UPDATE stock_balances SET on_hand = on_hand + 2"
    };
    owner.execute_unprepared(sql).await.unwrap();

    let mut runs = vec![];
    for _ in 0..RUNS {
        let (http, url, auth) = (s.http.clone(), s.url("/graphql"), admin.auth());
        runs.push(tokio::spawn(async move {
            let req = http.post(&url).json(&json!({ "query": RECONCILE }));
            let resp = auth.apply(req).send().await.expect("reconcile sent");
            resp.json::<Value>().await.expect("a JSON answer")
        }));
    }
    let mut reported = std::collections::BTreeSet::new();
    for run in runs {
        let body = run.await.expect("a reconcile task");
        let found = body["data"]["reconcileInventory"]["reconciliationReport"]["discrepancies"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(found.len(), PRODUCTS, "every drift reported: {body}");
        reported.extend(found.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        reported.len(),
        PRODUCTS,
        "one record per drift across {RUNS} runs"
    );
    let open = s.ok(&admin.auth(), DISCREPANCIES, json!({})).await;
    assert_eq!(
        open["stockDiscrepancies"].as_array().unwrap().len(),
        PRODUCTS,
        "{open}"
    );

    s.finish().await;
}

/// The low flag follows a change of the reorder settings, not only movements; a cost
/// goes only with a movement that takes one, and a missing one is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_settings_and_costs_are_kept_straight() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Flag Optics", "ECP", &email("flag")).await;
    let mut input = sundry_input("FLAG-1");
    let p = create_product(&s, &admin, input.clone()).await;
    posted(&s, &admin, receipt(&p, 4, "1.00")).await;
    assert_eq!(
        levels(&s, &admin, json!({ "productId": p["id"] })).await[0]["low"],
        false
    );
    input["reorderPoint"] = json!(5);
    s.ok(
        &admin.auth(),
        &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
        update_vars(&p["id"], input.clone()),
    )
    .await;
    assert_eq!(
        levels(&s, &admin, json!({ "productId": p["id"] })).await[0]["low"],
        true
    );
    let low = s
        .ok(&admin.auth(), &with(LOW_STOCK, LEVEL_FIELDS), json!({}))
        .await;
    assert_eq!(nodes(&low["lowStock"]).len(), 1);
    input["reorderPoint"] = json!(2);
    s.ok(
        &admin.auth(),
        &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
        update_vars(&p["id"], input.clone()),
    )
    .await;
    assert_eq!(
        levels(&s, &admin, json!({ "productId": p["id"] })).await[0]["low"],
        false
    );

    let err = refused(&s, &admin, mv(&p, "RECEIPT", 1)).await;
    assert_bad_input(&err, &["input", "unitCost"]);
    let mut sale = mv(&p, "SALE", 1);
    sale["unitCost"] = eur("9.99");
    let err = refused(&s, &admin, sale).await;
    assert_bad_input(&err, &["input", "unitCost"]);
    s.finish().await;
}

const SUGGESTIONS: &str = "query($d: Int, $r: Int, $s: ServiceLevel, $c: MoneyInput) {
    reorderSuggestions(days: $d, reviewDays: $r, serviceLevel: $s, orderCost: $c) {
    product { sku } available meanDailyDemand demandStdDev forecastMethod leadTimeDemand leadTimeDays reviewDays safetyStock reorderPoint
    economicOrderQuantity orderUpTo reorderNow suggestedQuantity } }";
const ABC: &str = "{ abcClassification { product { sku } annualValue { amount currency } cumulativeShare class } }";

/// The one plan of `reorderSuggestions` for `sku`.
async fn suggestion_for(s: &TestServer, who: &Session, sku: &str) -> Value {
    suggestion_with(s, who, sku, json!({})).await
}

/// The plan of `reorderSuggestions` for `sku`, asked with `vars`.
async fn suggestion_with(s: &TestServer, who: &Session, sku: &str, vars: Value) -> Value {
    let got = s.ok(&who.auth(), SUGGESTIONS, vars).await;
    got["reorderSuggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"]["sku"] == sku)
        .unwrap_or_else(|| panic!("no suggestion for {sku}: {got}"))
        .clone()
}

/// Issue 16: one rule decides "needs reordering" for `lowStock` and `reorderSuggestions`.
/// A product with its own reorder point 10 (safety stock 4, no lead time, no sales) and 5
/// on hand is low, and the planner orders it back above that reorder point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_and_reorder_suggestions_follow_one_rule() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Rule Optics", "ECP", &email("rule")).await;
    let mut input = sundry_input("OWN-ROP");
    input["reorderPoint"] = json!(10);
    input["safetyStock"] = json!(4);
    let product = create_product(&s, &admin, input).await;
    posted(&s, &admin, receipt(&product, 5, "0.40")).await;
    assert_eq!(low_skus(&s, &admin).await, ["OWN-ROP"]);
    let plan = suggestion_for(&s, &admin, "OWN-ROP").await;
    assert_eq!(plan["leadTimeDays"], Value::Null, "{plan}");
    assert_eq!(plan["available"], 5, "{plan}");
    assert_eq!(plan["reorderPoint"], 10, "the product's own: {plan}");
    assert_eq!(plan["reorderNow"], true, "{plan}");
    // Back above the reorder point: 10 + 1 - 5.
    assert_eq!(plan["suggestedQuantity"], 6, "{plan}");

    // Received up to the reorder point it is still low and still due; one more, neither.
    posted(&s, &admin, receipt(&product, 5, "0.40")).await;
    assert_eq!(low_skus(&s, &admin).await, ["OWN-ROP"]);
    let plan = suggestion_for(&s, &admin, "OWN-ROP").await;
    assert_eq!(
        (&plan["reorderNow"], &plan["suggestedQuantity"]),
        (&json!(true), &json!(1)),
        "{plan}"
    );
    posted(&s, &admin, receipt(&product, 1, "0.40")).await;
    assert!(low_skus(&s, &admin).await.is_empty());
    let plan = suggestion_for(&s, &admin, "OWN-ROP").await;
    assert_eq!(
        (&plan["reorderNow"], &plan["suggestedQuantity"]),
        (&json!(false), &json!(0)),
        "{plan}"
    );

    // The product's own reorder point wins over the computed one: with a lead time and
    // no sales the computed point would be 0, and 11 on hand would not be due.
    s.ok(
        &admin.auth(),
        &with(UPDATE_PRODUCT, PRODUCT_FIELDS),
        update_vars(
            &product["id"],
            json!({ "sku": "OWN-ROP", "name": "Cloth", "category": "SUNDRY", "currency": "EUR",
                    "reorderPoint": 12, "leadTimeDays": 5 }),
        ),
    )
    .await;
    assert_eq!(low_skus(&s, &admin).await, ["OWN-ROP"]);
    let plan = suggestion_for(&s, &admin, "OWN-ROP").await;
    assert_eq!(plan["leadTimeDays"], 5, "{plan}");
    assert_eq!(plan["safetyStock"], 0, "{plan}");
    assert_eq!(plan["reorderPoint"], 12, "{plan}");
    assert_eq!(
        (&plan["reorderNow"], &plan["suggestedQuantity"]),
        (&json!(true), &json!(2)),
        "{plan}"
    );
    s.finish().await;
}

/// Reorder points from the sales history (docs/domain.md: ROP = d x L + z x sigma x sqrt(L)),
/// EOQ from costs, min/max, and the ABC ranking by consumption value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_points_and_abc_come_from_the_sales_history() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Plan Optics", "ECP", &email("plan")).await;
    let mut steady = sundry_input("STEADY");
    steady["leadTimeDays"] = json!(3);
    steady["cost"] = eur("10.00");
    let steady = create_product(&s, &admin, steady).await;
    posted(&s, &admin, receipt(&steady, 10, "10.00")).await;
    // Seven days of 2 sales a day, written into the ledger's past below the guard.
    let company = ils_tests::company_uuid(&admin);
    let location =
        s.ok(&admin.auth(), LOCATIONS, json!({})).await["stockLocations"][0]["id"].clone();
    let uuid = |v: &Value| {
        let (_, u) = ils_kernel::id::decode_any(v.as_str().unwrap()).unwrap();
        u
    };
    let (product_id, location_id) = (uuid(&steady["id"]), uuid(&location));
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    let lit = |u: uuid::Uuid| s.sql_uuid(u);
    for day in 0..7 {
        let when = if s.is_postgres() {
            format!("now() - interval '{day} days'")
        } else {
            format!("datetime('now', '-{day} days')")
        };
        let system = if s.is_postgres() {
            "SELECT set_config('app.system', 'on', false); "
        } else {
            ""
        };
        owner
            .execute_unprepared(&format!(
                "{system}INSERT INTO stock_movements (id, company_id, location_id, product_id, kind, quantity, \
                 reserved_delta, on_hand_after, avg_cost_after, created_at) VALUES ({}, {}, {}, {}, \
                 'SALE', -2, 0, 0, 100000, {when})",
                lit(uuid::Uuid::now_v7()),
                lit(company),
                lit(location_id),
                lit(product_id),
            ))
            .await
            .unwrap();
    }
    // The same days in the demand history forecasts learn from (today's sales so far are
    // not history yet): 2 a day for the 6 days before today.
    s.backdate_demand(&admin, &steady["id"], &location, &[2; 6])
        .await;
    let plan = suggestion_with(
        &s,
        &admin,
        "STEADY",
        json!({ "d": 7, "r": 0, "s": "P95", "c": eur("50.00") }),
    )
    .await;
    // Too short a history to compare methods: the default, SES, which forecasts 2 a day;
    // no error seen, so no safety stock.
    assert_eq!(plan["meanDailyDemand"], 2.0, "{plan}");
    assert_eq!(plan["forecastMethod"], "SES", "{plan}");
    assert_eq!(plan["leadTimeDemand"], 6.0, "{plan}");
    assert_eq!(plan["demandStdDev"], 0.0, "{plan}");
    assert_eq!(plan["safetyStock"], 0, "{plan}");
    assert_eq!(plan["reorderPoint"], 6, "{plan}");
    // EOQ = sqrt(2 x (2 x 365) x 50 / (0.25 x 10)) = sqrt(29200) = 170.9 -> 171.
    assert_eq!(plan["economicOrderQuantity"], 171, "{plan}");
    assert_eq!(plan["available"], 10);
    assert_eq!(plan["reorderNow"], false, "{plan}");
    assert_eq!(plan["suggestedQuantity"], 0);
    // By default stock must also last the review period (agentSettings.reviewDays, 7):
    // 2 a day over 3 + 7 days.
    let plan = suggestion_with(&s, &admin, "STEADY", json!({ "d": 7 })).await;
    assert_eq!(plan["reviewDays"], 7, "{plan}");
    assert_eq!(plan["leadTimeDemand"], 20.0, "{plan}");
    assert_eq!(plan["reorderPoint"], 20, "{plan}");
    assert_eq!(plan["reorderNow"], true, "{plan}");
    let err = s
        .error(&admin.auth(), SUGGESTIONS, json!({ "r": 61 }))
        .await;
    assert_bad_input(&err, &["reviewDays"]);
    // Sold down to 5: at or below the reorder point, order the EOQ.
    posted(&s, &admin, mv(&steady, "SALE", 5)).await;
    let plan = suggestion_with(
        &s,
        &admin,
        "STEADY",
        json!({ "d": 7, "r": 0, "s": "P95", "c": eur("50.00") }),
    )
    .await;
    // Today's sale is not history yet: the forecast stands, the stock does not.
    assert_eq!(plan["reorderNow"], true, "{plan}");
    assert_eq!(plan["meanDailyDemand"], 2.0, "{plan}");
    assert_eq!(
        plan["suggestedQuantity"], plan["economicOrderQuantity"],
        "{plan}"
    );
    assert!(
        plan["suggestedQuantity"].as_i64() > Some(plan["reorderPoint"].as_i64().unwrap() - 5),
        "{plan}"
    );
    // Out-of-range periods are refused.
    let err = s
        .error(&admin.auth(), SUGGESTIONS, json!({ "d": 5000 }))
        .await;
    assert_bad_input(&err, &["days"]);

    // Min/max: at or below the minimum, order up to the maximum.
    let mut minmax = sundry_input("MINMAX");
    minmax["minQuantity"] = json!(4);
    minmax["maxQuantity"] = json!(20);
    let minmax = create_product(&s, &admin, minmax).await;
    posted(&s, &admin, receipt(&minmax, 3, "1.00")).await;
    let plan = suggestion_with(&s, &admin, "MINMAX", json!({})).await;
    assert_eq!(plan["orderUpTo"], 17, "{plan}");
    assert_eq!(plan["suggestedQuantity"], 17, "{plan}");

    // ABC over today's sales: 800, 150 and 50 of value (80 %, 15 %, 5 %).
    for (sku, sold) in [("ABC-A", 80), ("ABC-B", 15), ("ABC-C", 5)] {
        let p = create_product(&s, &admin, sundry_input(sku)).await;
        posted(&s, &admin, receipt(&p, 100, "10.00")).await;
        posted(&s, &admin, mv(&p, "SALE", sold)).await;
    }
    let ranked = s.ok(&admin.auth(), ABC, json!({})).await;
    let classes: HashMap<String, String> = ranked["abcClassification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["product"]["sku"].as_str().unwrap().to_owned(),
                e["class"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // STEADY's backdated sales (14 x 10.00 = 140) and today's 5 (50) count too.
    assert_eq!(classes["ABC-A"], "A", "{ranked}");
    assert_eq!(classes["MINMAX"], "C", "{ranked}");
    let first = &ranked["abcClassification"][0];
    assert_eq!(first["product"]["sku"], "ABC-A");
    assert_eq!(units(&first["annualValue"]["amount"]), dec("800.00"));
    assert_eq!(first["annualValue"]["currency"], "EUR");
    s.finish().await;
}

/// Stock levels export as a CSV file, downloadable once through its signed link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_levels_export_to_csv() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Export Optics", "ECP", &email("export")).await;
    let a = create_product(&s, &admin, sundry_input("EXP-A")).await;
    let b = create_product(&s, &admin, sundry_input("EXP-B")).await;
    posted(&s, &admin, receipt(&a, 10, "2.50")).await;
    posted(&s, &admin, receipt(&b, 4, "1.00")).await;
    posted(&s, &admin, mv(&b, "RESERVE", 1)).await;
    let got = s
        .ok(
            &admin.auth(),
            "mutation { exportStockLevels(input: {}) { stockExport { fileName rows storedAs downloadUrl } } }",
            json!({}),
        )
        .await;
    let e = &got["exportStockLevels"]["stockExport"];
    assert_eq!(e["rows"], 2, "{got}");
    let url = s.url(e["downloadUrl"].as_str().unwrap());
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("sku,name,location,on_hand,reserved,available,average_cost,value,currency,low")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.contains(&"EXP-A,Microfibre Cleaning Cloth,Main,10,0,10,2.50,25.00,EUR,false"),
        "{text}"
    );
    assert!(
        rows.contains(&"EXP-B,Microfibre Cleaning Cloth,Main,4,1,3,1.00,4.00,EUR,false"),
        "{text}"
    );
    // A changed link opens nothing.
    let res = reqwest::get(format!("{url}0")).await.unwrap();
    assert_eq!(res.status(), 403);
    s.finish().await;
}

/// The export's text cells cannot become spreadsheet formulas: a name, SKU or location
/// starting with `=`, `+`, `-` or `@` is written with a leading `'`; numbers (a negative
/// quantity too) stay numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_export_cells_cannot_become_formulas() {
    let s = TestServer::start().await;
    let admin = s.sign_up("Formula Optics", "ECP", &email("formula")).await;
    s.ok(
        &admin.auth(),
        "mutation { updateInventorySettings(input: { allowNegativeStock: true }) { inventorySettings { allowNegativeStock } } }",
        json!({}),
    )
    .await;
    let mut input = sundry_input("-SKU1");
    input["name"] = json!("=HYPERLINK(\"http://evil.example\",\"x\")");
    let p = create_product(&s, &admin, input).await;
    posted(&s, &admin, mv(&p, "SALE", 3)).await;
    let mut plain = sundry_input("PLAIN-1");
    plain["name"] = json!("Cloth @ 2 for 1");
    let q = create_product(&s, &admin, plain).await;
    posted(&s, &admin, receipt(&q, 2, "1.00")).await;
    let got = s
        .ok(
            &admin.auth(),
            "mutation { exportStockLevels(input: {}) { stockExport { downloadUrl } } }",
            json!({}),
        )
        .await;
    let url = s.url(
        got["exportStockLevels"]["stockExport"]["downloadUrl"]
            .as_str()
            .unwrap(),
    );
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(
        rows.contains(
            &"'-SKU1,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",Main,-3,0,-3,0.00,0,EUR,false"
        ),
        "{text}"
    );
    assert!(
        rows.contains(&"PLAIN-1,Cloth @ 2 for 1,Main,2,0,2,1.00,2.00,EUR,false"),
        "{text}"
    );
    s.finish().await;
}

/// Exporting another company's location is NOT_FOUND, as every other ID of another
/// company is (it used to answer an empty file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_another_companys_location_is_not_found() {
    let s = TestServer::start().await;
    let mine = s.sign_up("Export Mine", "ECP", &email("exp-mine")).await;
    let theirs = s
        .sign_up("Export Theirs", "ECP", &email("exp-theirs"))
        .await;
    let p = create_product(&s, &theirs, sundry_input("THEIRS-1")).await;
    posted(&s, &theirs, receipt(&p, 5, "1.00")).await;
    let their_main = main_location(&s, &theirs).await;
    let query = "mutation($l: ID!) { exportStockLevels(input: { locationId: $l }) { stockExport { rows } } }";
    let err = s
        .error(&mine.auth(), query, json!({ "l": their_main["id"] }))
        .await;
    assert_eq!(err["extensions"]["code"], "NOT_FOUND", "{err}");
    // The owner exports it.
    let got = s
        .ok(&theirs.auth(), query, json!({ "l": their_main["id"] }))
        .await;
    assert_eq!(got["exportStockLevels"]["stockExport"]["rows"], 1, "{got}");
    s.finish().await;
}

/// Discrepancies and inventory settings are each company's own: another company neither
/// lists nor approves the first one's discrepancy, and keeps its own settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discrepancies_and_settings_are_kept_per_company() {
    let s = TestServer::start().await;
    let admin = s
        .sign_up("Own Drift Optics", "ECP", &email("own-drift"))
        .await;
    let other = s
        .sign_up("Other Drift Optics", "ECP", &email("other-drift"))
        .await;
    let p = create_product(&s, &admin, sundry_input("OWN-1")).await;
    posted(&s, &admin, receipt(&p, 3, "1.00")).await;
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    owner
        .execute_unprepared(if s.is_postgres() {
            "SELECT set_config('app.system', 'on', false); UPDATE stock_balances SET on_hand = on_hand + 2"
        } else {
            "UPDATE stock_balances SET on_hand = on_hand + 2"
        })
        .await
        .unwrap();
    let report = s.ok(&admin.auth(), RECONCILE, json!({})).await;
    let d = report["reconcileInventory"]["reconciliationReport"]["discrepancies"][0].clone();
    assert_eq!(d["status"], "OPEN", "{report}");
    // The other company: nothing to see, nothing to approve, nothing of its own found.
    let theirs = s.ok(&other.auth(), DISCREPANCIES, json!({})).await;
    assert_eq!(theirs["stockDiscrepancies"], json!([]));
    assert_eq!(
        s.error_code(&other.auth(), APPROVE, json!({ "id": d["id"] }))
            .await,
        "NOT_FOUND"
    );
    let theirs = s.ok(&other.auth(), RECONCILE, json!({})).await;
    assert_eq!(
        theirs["reconcileInventory"]["reconciliationReport"]["balancesChecked"],
        0
    );
    let still = s.ok(&admin.auth(), DISCREPANCIES, json!({})).await;
    assert_eq!(still["stockDiscrepancies"][0]["status"], "OPEN");

    // Settings: one company allowing negative stock leaves the other's as it was.
    s.ok(&admin.auth(), UPDATE_SETTINGS, json!({ "a": true }))
        .await;
    let mine = s.ok(&admin.auth(), SETTINGS, json!({})).await;
    assert_eq!(mine["inventorySettings"]["allowNegativeStock"], true);
    let theirs = s.ok(&other.auth(), SETTINGS, json!({})).await;
    assert_eq!(theirs["inventorySettings"]["allowNegativeStock"], false);
    s.finish().await;
}

const START_COUNT: &str = "mutation { startStockCount(input: {}) { stockCount { id } } }";
const NODE_OF_ANY: &str = "query($id: ID!) { node(id: $id) { __typename id
    ... on StockLocation { name }
    ... on StockLevel { onHand product { sku } location { name } }
    ... on StockMovement { kind product { sku } location { name } counterpart { id } }
    ... on StockCount { status location { name } }
    ... on StockDiscrepancy { status product { sku } location { name } } } }";
const NODES_OF_ANY: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }";

/// Stock locations, levels, movements, counts and discrepancies load through `node(id:)`
/// and `nodes(ids:)` for their own company, with their product and location; for another
/// company every one of them is null.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_objects_load_by_global_id_for_their_company_only() {
    let s = TestServer::start().await;
    let shop = s.sign_up("Node Opticians", "ECP", &email("inv-node")).await;
    let other = s.sign_up("Nosy Opticians", "ECP", &email("inv-nosy")).await;
    let p = create_product(&s, &shop, sundry_input("NODE-1")).await;
    let main = main_location(&s, &shop).await;
    let van = s
        .ok(&shop.auth(), CREATE_LOCATION, json!({ "n": "Van" }))
        .await["createStockLocation"]["stockLocation"]
        .clone();
    let received = posted(&s, &shop, receipt(&p, 10, "1.00")).await;
    let (_, body) = transfer(&s, &shop, transfer_input(&p, &main, &van, 2)).await;
    let halves = body["data"]["transferStock"]["stockMovements"].clone();
    let (out, inn) = (&halves[0], &halves[1]);
    let level = level(&s, &shop, &p, &main).await;
    let count =
        s.ok(&shop.auth(), START_COUNT, json!({})).await["startStockCount"]["stockCount"].clone();
    // A drift below the guard, found by a reconciliation.
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    owner
        .execute_unprepared(if s.is_postgres() {
            "SELECT set_config('app.system', 'on', false); UPDATE stock_balances SET on_hand = on_hand + 1"
        } else {
            "UPDATE stock_balances SET on_hand = on_hand + 1"
        })
        .await
        .unwrap();
    let report = s.ok(&shop.auth(), RECONCILE, json!({})).await;
    let drift = report["reconcileInventory"]["reconciliationReport"]["discrepancies"][0].clone();
    assert!(drift["id"].is_string(), "{report}");

    let cases = [
        (&van, "StockLocation"),
        (&level, "StockLevel"),
        (&received, "StockMovement"),
        (out, "StockMovement"),
        (&count, "StockCount"),
        (&drift, "StockDiscrepancy"),
    ];
    for (object, type_name) in cases {
        let got = s
            .ok(&shop.auth(), NODE_OF_ANY, json!({ "id": object["id"] }))
            .await["node"]
            .clone();
        assert_eq!(got["__typename"], type_name, "{got}");
        assert_eq!(got["id"], object["id"], "{got}");
        let theirs = s
            .ok(&other.auth(), NODE_OF_ANY, json!({ "id": object["id"] }))
            .await;
        assert_eq!(theirs["node"], Value::Null, "{type_name}: {theirs}");
    }
    // What each node carries: its parts, read with it.
    let node = |id: &Value| {
        let (s, auth) = (&s, shop.auth());
        let id = id.clone();
        async move { s.ok(&auth, NODE_OF_ANY, json!({ "id": id })).await["node"].clone() }
    };
    assert_eq!(node(&van["id"]).await["name"], "Van");
    let l = node(&level["id"]).await;
    assert_eq!(
        (&l["product"]["sku"], &l["location"]["name"]),
        (&json!("NODE-1"), &json!("Main")),
        "{l}"
    );
    let m = node(&out["id"]).await;
    assert_eq!(m["kind"], "TRANSFER_OUT", "{m}");
    assert_eq!(m["counterpart"]["id"], inn["id"], "{m}");
    assert_eq!(m["product"]["sku"], "NODE-1", "{m}");
    let m = node(&received["id"]).await;
    assert_eq!(m["counterpart"], Value::Null, "{m}");
    let c = node(&count["id"]).await;
    assert_eq!(
        (&c["status"], &c["location"]["name"]),
        (&json!("OPEN"), &json!("Main")),
        "{c}"
    );
    let d = node(&drift["id"]).await;
    assert_eq!(
        (&d["status"], &d["product"]["sku"], &d["location"]["name"]),
        (&json!("OPEN"), &json!("NODE-1"), &json!("Main")),
        "{d}"
    );
    // All at once: the owner gets each, in the order asked; the other company none.
    let ids: Vec<Value> = cases.iter().map(|(o, _)| o["id"].clone()).collect();
    let mine = s
        .ok(&shop.auth(), NODES_OF_ANY, json!({ "ids": ids }))
        .await;
    let got: Vec<Value> = mine["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(got, ids, "{mine}");
    let theirs = s
        .ok(&other.auth(), NODES_OF_ANY, json!({ "ids": ids }))
        .await;
    assert!(
        theirs["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null),
        "{theirs}"
    );
    // A counterpart read on its own finds its other half again.
    let round = s
        .ok(
            &shop.auth(),
            "query($id: ID!) { node(id: $id) { ... on StockMovement { counterpart { counterpart { id } } } } }",
            json!({ "id": inn["id"] }),
        )
        .await;
    assert_eq!(
        round["node"]["counterpart"]["counterpart"]["id"], inn["id"],
        "{round}"
    );

    // Inputs that name a location or a name are refused at their path under `input`.
    for (query, field) in [
        (
            "mutation { startStockCount(input: { locationId: \"bm9wZQ\" }) { stockCount { id } } }",
            "input.locationId",
        ),
        (
            "mutation { exportStockLevels(input: { locationId: \"bm9wZQ\" }) { stockExport { rows } } }",
            "input.locationId",
        ),
        (
            "mutation { createStockLocation(input: { name: \"  \" }) { stockLocation { id } } }",
            "input.name",
        ),
    ] {
        let err = s.error(&shop.auth(), query, json!({})).await;
        assert_eq!(
            err["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {err}"
        );
        assert_eq!(err["extensions"]["field"], field, "{query}: {err}");
    }
    s.finish().await;
}
