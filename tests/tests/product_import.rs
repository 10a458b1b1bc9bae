//! Products from CSV through the marketplace's import pipeline, end to end over GraphQL
//! multipart uploads: a valid file lands with every category's attributes, cost, price and
//! reorder settings, and its progress streams over `productImportProgress` and
//! `product.import.*` events; bad rows are reported by line and column while the others
//! land; the same file again changes nothing, and a changed one updates (low-stock flags
//! follow new reorder points); an import keeps a product's supplier link and refuses a
//! currency that link cannot take; a file that is not a product CSV is refused whole; only
//! admins and managers import, and nobody else sees a company's imports by any path.

use base64::Engine as _;
use ils_tests::imports::{PRODUCTS, WAIT};
use ils_tests::ws;
use ils_tests::{
    Auth, Session, TestServer, assert_bad_input, email, listed_company, nodes, staff_of,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const PRODUCT_LIST: &str = "{ products(first: 100) { edges { node {
    id sku gtin name brand category cost { amount currency } price { amount currency }
    frame { model colour eyeSize bridge templeLength frameType material }
    contactLens { baseCurve diameter power cylinder axis packSize wearSchedule }
    reorderPoint minQuantity maxQuantity leadTimeDays safetyStock supplierItemId active } } } }";

const NODE: &str =
    "query($id: ID!) { node(id: $id) { id ... on ProductImport { status created } } }";

const HEADER: &str = "sku,gtin,name,brand,category,cost,price,currency,reorder_point,min_quantity,max_quantity,lead_time_days,safety_stock,active,model,colour,eye_size,bridge,temple_length,frame_type,material,base_curve,cl_diameter,power,cylinder,axis,pack_size,wear_schedule";

/// A valid file: a frame, a toric contact lens and a sundry.
fn good_file() -> String {
    format!(
        "{HEADER}\n\
         FR-AV-52,4006381333931,Aviator Classic,Raybeam,FRAME,41.5,129.00,EUR,3,2,8,10,1,yes,AV-1,Gold,52,18,140,FULL_RIM,Metal,,,,,,,\n\
         CL-TOR-30,,Toric Daily,AquaVue,CONTACT_LENS,18.25,39.90,EUR,6,,,5,2,,,,,,,,,8.6,14.5,-2.25,-1.25,180,30,DAILY\n\
         SU-CLOTH,,Microfibre Cloth,,SUNDRY,0.35,,EUR,,,,,,true,,,,,,,,,,,,,,\n"
    )
}

/// Uploads `bytes` and waits for the import to complete with `counts`.
async fn imported(
    s: &TestServer,
    who: &Session,
    bytes: &[u8],
    counts: (i64, i64, i64, i64),
) -> Value {
    let imp = PRODUCTS.start(s, who, "products.csv", bytes).await;
    PRODUCTS
        .completed(s, who, imp["id"].as_str().unwrap(), counts)
        .await
}

async fn products_by_sku(s: &TestServer, who: &Session) -> BTreeMap<String, Value> {
    nodes(&s.ok(&who.auth(), PRODUCT_LIST, json!({})).await["products"])
        .into_iter()
        .map(|p| (p["sku"].as_str().unwrap().to_owned(), p))
        .collect()
}

/// The (row, column, message) of each error of an import.
fn errors_of(imp: &Value) -> Vec<(i64, Option<String>, String)> {
    imp["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().map(str::to_owned),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn err(row: i64, column: &str, message: &str) -> (i64, Option<String>, String) {
    (row, Some(column.to_owned()), message.to_owned())
}

/// The same row id under another type's name (`CatalogImport:<uuid>`).
fn retyped(id: &str, type_name: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(b64.decode(id).expect("base64 id")).expect("utf-8 id");
    let (_, uuid) = text.split_once(':').expect("type:uuid");
    b64.encode(format!("{type_name}:{uuid}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_file_lands_with_its_reorder_settings_and_reports_progress() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Import Opticians", "ECP", &email("prod-imp"))
        .await;
    let mut events = ws::subscribe_events(&s, &shop.auth(), Some(&["product.import.*"])).await;

    let bytes = good_file().into_bytes();
    let imp = PRODUCTS.start(&s, &shop, "products.csv", &bytes).await;
    assert_eq!(imp["fileName"], "products.csv", "{imp}");
    assert_eq!(imp["byteSize"], bytes.len(), "{imp}");
    assert_eq!(imp["totalRows"], 3, "{imp}");
    assert!(
        matches!(
            imp["status"].as_str(),
            Some("QUEUED" | "RUNNING" | "COMPLETED")
        ),
        "{imp}"
    );
    let id = imp["id"].as_str().unwrap().to_owned();

    // The progress subscription: the state now, then to COMPLETED, where it ends.
    let msgs = PRODUCTS.follow(&s, &shop.auth(), &id, WAIT).await;
    assert_eq!(
        msgs.last().map(|m| m["type"].clone()),
        Some(json!("complete")),
        "the progress stream did not end: {msgs:?}"
    );
    let reports: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["type"] == "next")
        .map(|m| &m["payload"]["data"]["productImportProgress"])
        .collect();
    let last = reports.last().expect("a progress report");
    assert_eq!(last["import"]["id"], id.as_str(), "{last}");
    assert_eq!(last["status"], "COMPLETED", "{last}");
    assert_eq!(
        (&last["processedRows"], &last["created"], &last["failed"]),
        (&json!(3), &json!(3), &json!(0)),
        "{last}"
    );
    PRODUCTS.completed(&s, &shop, &id, (3, 0, 0, 0)).await;

    // The events subscription hears the same import finish.
    let finished = loop {
        let ev = ws::next_event(&mut events).await;
        assert!(
            ev["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("product.import.")),
            "{ev}"
        );
        if ev["type"] == "product.import.completed" {
            break ev;
        }
    };
    assert_eq!(finished["data"]["importId"], id.as_str(), "{finished}");
    assert_eq!(finished["data"]["created"], 3, "{finished}");

    let products = products_by_sku(&s, &shop).await;
    assert_eq!(
        products.keys().collect::<Vec<_>>(),
        ["CL-TOR-30", "FR-AV-52", "SU-CLOTH"]
    );
    let frame = &products["FR-AV-52"];
    assert_eq!(frame["gtin"], "4006381333931", "{frame}");
    assert_eq!(frame["category"], "FRAME", "{frame}");
    assert_eq!(frame["brand"], "Raybeam", "{frame}");
    assert_eq!(
        frame["cost"],
        json!({ "amount": "41.5", "currency": "EUR" }),
        "{frame}"
    );
    assert_eq!(
        frame["price"],
        json!({ "amount": "129", "currency": "EUR" }),
        "{frame}"
    );
    assert_eq!(
        frame["frame"],
        json!({ "model": "AV-1", "colour": "Gold", "eyeSize": 52, "bridge": 18,
                "templeLength": 140, "frameType": "FULL_RIM", "material": "Metal" }),
        "{frame}"
    );
    assert_eq!(
        [
            &frame["reorderPoint"],
            &frame["minQuantity"],
            &frame["maxQuantity"],
            &frame["leadTimeDays"],
            &frame["safetyStock"]
        ],
        [&json!(3), &json!(2), &json!(8), &json!(10), &json!(1)],
        "{frame}"
    );
    let lens = &products["CL-TOR-30"];
    assert_eq!(lens["contactLens"]["axis"], 180, "{lens}");
    assert_eq!(lens["contactLens"]["wearSchedule"], "DAILY", "{lens}");
    assert_eq!(lens["reorderPoint"], 6, "{lens}");
    assert!(lens["minQuantity"].is_null(), "{lens}");
    let cloth = &products["SU-CLOTH"];
    assert!(cloth["price"].is_null(), "no price given: {cloth}");
    assert_eq!(cloth["active"], true, "{cloth}");
    assert!(cloth["supplierItemId"].is_null(), "{cloth}");

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_reported_the_rest_land_and_the_same_file_again_changes_nothing() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Careful Opticians", "ECP", &email("prod-imp-bad"))
        .await;
    let file = "sku,name,category,currency,cost,price,reorder_point,min_quantity,max_quantity,gtin,eye_size,bridge,temple_length,power\n\
                OK-1,Cloth,SUNDRY,EUR,0.40,1.50,5,,,,,,,\n\
                BAD-COST,Cloth,SUNDRY,EUR,-1,,,,,,,,,\n\
                BAD-FRAME,Frame,FRAME,EUR,,,,,,,52,,140,-2.00\n\
                OK-1,Cloth again,SUNDRY,EUR,,,,,,,,,,\n\
                BAD-MINMAX,Cloth,SUNDRY,EUR,,,x,5,2,,,,,\n\
                BAD-GTIN,Cloth,SUNDRY,EUR,,,,,,4006381333932,,,,\n\
                bad sku!,Cloth,SUNDRY,EUR,,,,,,,,,,\n\
                OK-2,Case,SUNDRY,EUR,2,4.5,,1,3,,,,,\n";
    let imp = imported(&s, &shop, file.as_bytes(), (2, 0, 0, 6)).await;
    let errors = errors_of(&imp);
    let want = [
        err(3, "cost", "must not be negative"),
        err(4, "bridge", "required for FRAME items"),
        err(4, "power", "not used for FRAME items"),
        err(5, "sku", "SKU OK-1 is already on line 2"),
        err(6, "reorder_point", "\"x\" is not a number"),
        err(6, "max_quantity", "at least minQuantity"),
    ];
    assert_eq!(&errors[..want.len()], &want, "{imp}");
    let rows: Vec<i64> = errors.iter().map(|e| e.0).collect();
    assert!(
        rows.windows(2).all(|w| w[0] <= w[1]),
        "file order: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.0 == 7 && e.1.as_deref() == Some("gtin")),
        "a wrong check digit: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.0 == 8 && e.1.as_deref() == Some("sku")),
        "a SKU with a space and '!': {errors:?}"
    );
    let products = products_by_sku(&s, &shop).await;
    assert_eq!(products.keys().collect::<Vec<_>>(), ["OK-1", "OK-2"]);
    assert_eq!(
        products["OK-1"]["name"], "Cloth",
        "the first OK-1 row counts"
    );
    assert_eq!(products["OK-2"]["maxQuantity"], 3);

    // The same file again: nothing changes, the same rows are refused.
    let again = imported(&s, &shop, file.as_bytes(), (0, 0, 2, 6)).await;
    assert_eq!(errors_of(&again), errors);
    assert_eq!(products_by_sku(&s, &shop).await, products);

    // Stock under a new reorder point turns low when the import raises the point.
    let cloth = &products["OK-1"];
    s.ok(
        &shop.auth(),
        "mutation($i: PostStockMovementInput!) { postStockMovement(input: $i) { stockMovement { id } } }",
        json!({ "i": { "productId": cloth["id"], "kind": "RECEIPT", "quantity": 4,
                       "unitCost": { "amount": "0.40", "currency": "EUR" } } }),
    )
    .await;
    const LOW: &str = "{ lowStock(first: 10) { edges { node { product { sku } available } } } }";
    let low = || async {
        nodes(&s.ok(&shop.auth(), LOW, json!({})).await["lowStock"])
            .iter()
            .map(|n| n["product"]["sku"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        low().await,
        vec!["OK-1"],
        "4 is at or below the reorder point 5"
    );
    let changed = "sku,name,category,currency,cost,price,reorder_point\n\
                   OK-1,Cloth,SUNDRY,EUR,0.40,1.50,2\n\
                   OK-2,Hard Case,SUNDRY,EUR,2,4.5,\n";
    imported(&s, &shop, changed.as_bytes(), (0, 2, 0, 0)).await;
    assert!(low().await.is_empty(), "4 is above the new reorder point 2");
    let products = products_by_sku(&s, &shop).await;
    assert_eq!(products["OK-1"]["reorderPoint"], 2);
    assert_eq!(products["OK-2"]["name"], "Hard Case");
    assert!(
        products["OK-2"]["maxQuantity"].is_null(),
        "a row replaces the product's details, as updateProduct does"
    );

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_keeps_a_products_supplier_link_and_its_currency() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let supplier = listed_company(&s, &pa, "Linked Supplies", "SUPPLIER", json!({})).await;
    let item = s
        .ok(
            &supplier.auth(),
            "mutation($i: CreateCatalogItemInput!) { createCatalogItem(input: $i) { catalogItem { id } } }",
            json!({ "i": { "sku": "LS-CLOTH", "name": "Cloth", "category": "SUNDRY",
                           "price": { "amount": "0.45", "currency": "GBP" } } }),
        )
        .await["createCatalogItem"]["catalogItem"]
        .clone();
    let shop = s
        .sign_up("Linked Opticians", "ECP", &email("prod-imp-link"))
        .await;
    ils_tests::connect(&s, &shop, &supplier).await;
    // A product is linked only in the item's currency (receipts blend the item's price
    // into its cost).
    let (_, body) = s
        .post(
            &shop.auth(),
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }",
            json!({ "i": { "sku": "CLOTH", "name": "Cloth", "category": "SUNDRY", "currency": "EUR",
                           "supplierItemId": item["id"] } }),
        )
        .await;
    assert_bad_input(&body["errors"][0], &["input", "currency"]);
    assert_eq!(
        body["errors"][0]["message"], "the supplier item is priced in GBP: use GBP",
        "{body}"
    );
    let product = s
        .ok(
            &shop.auth(),
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id supplierItemId } } }",
            json!({ "i": { "sku": "CLOTH", "name": "Cloth", "category": "SUNDRY", "currency": "GBP",
                           "supplierItemId": item["id"] } }),
        )
        .await["createProduct"]["product"]
        .clone();
    assert_eq!(product["supplierItemId"], item["id"], "{product}");

    let renamed = "sku,name,category,currency\nCLOTH,Lens Cloth,SUNDRY,GBP\n";
    imported(&s, &shop, renamed.as_bytes(), (0, 1, 0, 0)).await;
    let cloth = &products_by_sku(&s, &shop).await["CLOTH"];
    assert_eq!(cloth["name"], "Lens Cloth", "{cloth}");
    assert_eq!(
        cloth["supplierItemId"], item["id"],
        "the link stays: {cloth}"
    );

    let euros = "sku,name,category,currency\nCLOTH,Lens Cloth,SUNDRY,EUR\nNEW,New,SUNDRY,EUR\n";
    let imp = imported(&s, &shop, euros.as_bytes(), (1, 0, 0, 1)).await;
    assert_eq!(
        errors_of(&imp),
        vec![err(
            2,
            "currency",
            "the product is bought as a supplier item priced in GBP: use GBP"
        )],
        "{imp}"
    );
    let products = products_by_sku(&s, &shop).await;
    assert_eq!(products["CLOTH"]["price"], Value::Null);
    assert_eq!(products["CLOTH"]["name"], "Lens Cloth");
    assert!(products.contains_key("NEW"));

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_managers_import_and_nobody_else_sees_a_companys_imports() {
    let s = TestServer::start().await;
    let shop = s
        .sign_up("Private Opticians", "ECP", &email("prod-imp-own"))
        .await;
    let other = s
        .sign_up("Curious Opticians", "ECP", &email("prod-imp-other"))
        .await;
    let staff = staff_of(&s, &shop).await;
    let bytes = b"sku,name,category,currency\nP-1,Cloth,SUNDRY,EUR\n";

    let e = PRODUCTS.refused(&s, &staff.auth(), bytes).await.1["errors"][0].clone();
    assert_eq!(e["extensions"]["code"], "FORBIDDEN", "{e}");
    let e = PRODUCTS.refused(&s, &Auth::None, bytes).await.1["errors"][0].clone();
    assert_eq!(e["extensions"]["code"], "UNAUTHENTICATED", "{e}");

    // Not a product file: refused whole, nothing stored.
    for (case, file) in [
        (
            "no currency column",
            &b"sku,name,category\nP-1,Cloth,SUNDRY\n"[..],
        ),
        (
            "a catalog-only column",
            b"sku,name,category,currency,min_order_quantity\nP-1,Cloth,SUNDRY,EUR,1\n",
        ),
        ("empty", b""),
    ] {
        let e = PRODUCTS.refused(&s, &shop.auth(), file).await.1["errors"][0].clone();
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{case}: {e}");
        assert_eq!(e["extensions"]["field"], json!("input.file"), "{case}: {e}");
    }
    assert!(
        PRODUCTS.ids(&s, &shop).await.is_empty(),
        "a refused file left an import"
    );
    assert!(products_by_sku(&s, &shop).await.is_empty());

    let imp = PRODUCTS.start(&s, &shop, "products.csv", bytes).await;
    let id = imp["id"].as_str().unwrap().to_owned();
    PRODUCTS.completed(&s, &shop, &id, (1, 0, 0, 0)).await;
    let mine = s.ok(&shop.auth(), NODE, json!({ "id": id })).await;
    assert_eq!(mine["node"]["status"], "COMPLETED", "{mine}");
    assert_eq!(
        PRODUCTS.by_id(&s, &staff, &id).await["id"],
        id.as_str(),
        "staff read it"
    );
    assert_eq!(PRODUCTS.ids(&s, &shop).await, vec![id.clone()]);
    // A product import is not a catalog import, whatever its ID says.
    let as_catalog = retyped(&id, "CatalogImport");
    let got = s
        .ok(
            &shop.auth(),
            "query($id: ID!) { catalogImport(id: $id) { id } }",
            json!({ "id": as_catalog }),
        )
        .await;
    assert!(got["catalogImport"].is_null(), "{got}");
    let got = s.ok(&shop.auth(), NODE, json!({ "id": as_catalog })).await;
    assert!(got["node"].is_null(), "{got}");

    // Another company: not by ID, not by node, not in its list, not by subscription.
    assert!(PRODUCTS.by_id(&s, &other, &id).await.is_null());
    let node = s.ok(&other.auth(), NODE, json!({ "id": id })).await;
    assert!(node["node"].is_null(), "{node}");
    assert!(PRODUCTS.ids(&s, &other).await.is_empty());
    assert!(products_by_sku(&s, &other).await.is_empty());
    PRODUCTS.assert_cannot_follow(&s, &other, &id).await;

    s.finish().await;
}
