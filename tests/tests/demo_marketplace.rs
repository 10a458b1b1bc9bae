//! The demo data and the playground's marketplace examples belong together: on a fresh
//! development database the examples in `playground/operations/marketplace.graphql` and
//! `catalog.graphql` find the demo lab and supplier, the demo practice's connections and
//! the supplier's catalog; the `orders.graphql` examples run between the demo practice
//! and lab. Run here exactly as the playground sends them (by name, from
//! the files), so neither can drift from the other.

use ils_tests::{Auth, TestServer};
use serde_json::{Value, json};

fn operations(file: &str) -> String {
    let path = format!(
        "{}/../playground/operations/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs the operation `name` of `document`; returns its data, failing on any error.
async fn run(s: &TestServer, auth: &Auth, document: &str, name: &str, variables: Value) -> Value {
    let req = reqwest::Client::new().post(s.url("/graphql")).json(&json!({
        "query": document, "operationName": name, "variables": variables
    }));
    let body: Value = auth
        .apply(req)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer");
    assert!(body.get("errors").is_none(), "{name}: {body}");
    body["data"].clone()
}

fn edges(v: &Value) -> Vec<Value> {
    ils_tests::nodes(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marketplace_examples_work_on_the_demo_data() {
    let s = TestServer::start_with(|c| c.seed_demo = true).await;
    let practice = s
        .log_in("admin@brightside.example", "brightside-demo-2026")
        .await
        .auth();
    let market = operations("marketplace.graphql");
    let catalog = operations("catalog.graphql");

    let labs = run(&s, &practice, &market, "FindLabs", json!({})).await;
    let labs = edges(&labs["marketplaceLabs"]);
    assert_eq!(labs.len(), 1, "{labs:?}");
    assert_eq!(labs[0]["name"], "Clearview Lens Lab");

    let suppliers = run(&s, &practice, &market, "FindSuppliers", json!({})).await;
    let suppliers = edges(&suppliers["marketplaceSuppliers"]);
    assert_eq!(suppliers.len(), 1, "{suppliers:?}");
    assert_eq!(suppliers[0]["name"], "Northwind Frames");

    let mine = run(&s, &practice, &market, "MyConnections", json!({})).await;
    let mut partners: Vec<(String, String)> = edges(&mine["connections"])
        .iter()
        .map(|c| {
            (
                c["counterparty"]["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    partners.sort();
    assert_eq!(
        partners,
        [
            ("Clearview Lens Lab".into(), "ACTIVE".into()),
            ("Northwind Frames".into(), "ACTIVE".into())
        ]
    );

    let frames = run(
        &s,
        &practice,
        &catalog,
        "BrowseSupplierCatalog",
        json!({ "supplierId": suppliers[0]["companyId"] }),
    )
    .await;
    let frames = edges(&frames["supplierCatalog"]);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames.iter().all(|f| f["frame"]["bridge"] == 18));
    assert_eq!(
        frames[0]["price"],
        json!({ "amount": "38.50", "currency": "GBP" })
    );

    // A whole SKU finds its item on either database (PostgreSQL's parser would split
    // `-142-M225` oddly if the stored text were not plain words).
    for text in ["NW-DAILY-860-142-M225-30", "m225", "daily 142"] {
        let found = s
            .ok(
                &practice,
                "query($s: ID!, $t: String) { supplierCatalog(supplierId: $s, filter: { text: $t }) { edges { node { sku } } } }",
                json!({ "s": suppliers[0]["companyId"], "t": text }),
            )
            .await;
        let skus: Vec<Value> = edges(&found["supplierCatalog"])
            .iter()
            .map(|n| n["sku"].clone())
            .collect();
        assert_eq!(skus, [json!("NW-DAILY-860-142-M225-30")], "{text}");
    }

    // The supplier's own examples: its catalog, and adding the example item.
    let supplier = s
        .log_in("admin@northwind.example", "northwind-demo-2026")
        .await
        .auth();
    let own = run(&s, &supplier, &catalog, "MyCatalog", json!({})).await;
    assert_eq!(edges(&own["catalogItems"]).len(), 2);
    let added = run(&s, &supplier, &catalog, "AddContactLens", json!({})).await;
    assert_eq!(
        added["createCatalogItem"]["catalogItem"]["price"]["amount"],
        "14.90"
    );
    s.finish().await;
}

/// The orders tab: the demo practice drafts, submits to the demo lab, completes a second
/// draft; the lab sees its inbox, accepts, sets its turnaround and exports the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_examples_work_on_the_demo_data() {
    let s = TestServer::start_with(|c| c.seed_demo = true).await;
    let practice = s
        .log_in("admin@brightside.example", "brightside-demo-2026")
        .await
        .auth();
    let lab = s
        .log_in("admin@clearview.example", "clearview-demo-2026")
        .await
        .auth();
    let market = operations("marketplace.graphql");
    let orders = operations("orders.graphql");
    let labs = run(&s, &practice, &market, "FindLabs", json!({})).await;
    let lab_id = edges(&labs["marketplaceLabs"])[0]["companyId"].clone();

    let draft = run(&s, &practice, &orders, "DraftOrder", json!({})).await;
    let order_id = draft["createOrderDraft"]["id"].clone();
    let submitted = run(
        &s,
        &practice,
        &orders,
        "SubmitOrder",
        json!({ "orderId": order_id, "labId": lab_id }),
    )
    .await;
    assert_eq!(submitted["submitOrder"]["status"], "SUBMITTED");
    let mine = run(&s, &practice, &orders, "MyOrders", json!({})).await;
    assert_eq!(edges(&mine["orders"]).len(), 1);

    // A second draft, completed by the CompleteDraft example.
    let second = run(&s, &practice, &orders, "DraftOrder", json!({})).await;
    let completed = run(
        &s,
        &practice,
        &orders,
        "CompleteDraft",
        json!({ "orderId": second["createOrderDraft"]["id"], "version": 1 }),
    )
    .await;
    assert_eq!(completed["updateOrderDraft"]["version"], 2);

    // The lab: its rules, its inbox, acceptance with a due date from the rules, the file.
    let rules = run(&s, &lab, &orders, "MyTurnaround", json!({})).await;
    assert_eq!(rules["labTurnaround"]["baseDays"], 3);
    let set = run(&s, &lab, &orders, "SetTurnaround", json!({})).await;
    assert_eq!(set["updateLabTurnaround"]["baseDays"], 4);
    let inbox = run(&s, &lab, &orders, "LabInbox", json!({})).await;
    let inbox = edges(&inbox["labOrders"]);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let accepted = run(
        &s,
        &lab,
        &orders,
        "AcceptOrder",
        json!({ "orderId": order_id, "version": inbox[0]["version"] }),
    )
    .await;
    assert_eq!(accepted["moveOrder"]["status"], "RECEIVED");
    assert!(accepted["moveOrder"]["dueDate"].is_string());
    let file = run(
        &s,
        &lab,
        &orders,
        "OrderDcs",
        json!({ "orderId": order_id }),
    )
    .await;
    let link = file["orderDcs"]["downloadUrl"].as_str().unwrap();
    let got = reqwest::get(s.url(link)).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.text().await.unwrap(),
        file["orderDcs"]["content"].as_str().unwrap()
    );
    s.finish().await;
}

/// The inventory tab on the demo data: the practice stocks a frame, sells, counts, plans,
/// reconciles and buys from the demo supplier, who acknowledges from its inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_examples_work_on_the_demo_data() {
    let s = TestServer::start_with(|c| c.seed_demo = true).await;
    let practice = s
        .log_in("admin@brightside.example", "brightside-demo-2026")
        .await
        .auth();
    let supplier = s
        .log_in("admin@northwind.example", "northwind-demo-2026")
        .await
        .auth();
    let market = operations("marketplace.graphql");
    let catalog = operations("catalog.graphql");
    let inv = operations("inventory.graphql");

    let places = run(&s, &practice, &inv, "MyLocations", json!({})).await;
    assert_eq!(places["stockLocations"][0]["name"], "Main");
    let added = run(&s, &practice, &inv, "AddFrameProduct", json!({})).await;
    let product = added["createProduct"]["id"].clone();
    let got = run(
        &s,
        &practice,
        &inv,
        "ReceiveStock",
        json!({ "productId": product }),
    )
    .await;
    assert_eq!(got["postStockMovement"]["onHandAfter"], 5);
    let sold = run(
        &s,
        &practice,
        &inv,
        "SellOne",
        json!({ "productId": product }),
    )
    .await;
    assert_eq!(sold["postStockMovement"]["onHandAfter"], 4);
    let levels = run(&s, &practice, &inv, "StockLevels", json!({})).await;
    assert_eq!(edges(&levels["stockLevels"])[0]["available"], 4);
    run(&s, &practice, &inv, "LowStock", json!({})).await;
    let ledger = run(
        &s,
        &practice,
        &inv,
        "Ledger",
        json!({ "productId": product }),
    )
    .await;
    assert_eq!(edges(&ledger["stockMovements"]).len(), 2);
    let plan = run(&s, &practice, &inv, "ReorderPlan", json!({})).await;
    assert_eq!(plan["reorderSuggestions"].as_array().unwrap().len(), 1);
    run(&s, &practice, &inv, "AbcClasses", json!({})).await;
    let count = run(&s, &practice, &inv, "StartCount", json!({})).await;
    let count_id = count["startStockCount"]["id"].clone();
    run(
        &s,
        &practice,
        &inv,
        "RecordCount",
        json!({ "countId": count_id }),
    )
    .await;
    let posted = run(
        &s,
        &practice,
        &inv,
        "PostCount",
        json!({ "countId": count_id }),
    )
    .await;
    assert_eq!(posted["postStockCount"]["lines"][0]["difference"], -1);
    let rec = run(&s, &practice, &inv, "Reconcile", json!({})).await;
    assert_eq!(rec["reconcileInventory"]["discrepancies"], json!([]));

    // Buying from the demo supplier.
    let suppliers = run(&s, &practice, &market, "FindSuppliers", json!({})).await;
    let supplier_id = edges(&suppliers["marketplaceSuppliers"])[0]["companyId"].clone();
    let items = run(
        &s,
        &practice,
        &catalog,
        "BrowseSupplierCatalog",
        json!({ "supplierId": supplier_id }),
    )
    .await;
    let item = edges(&items["supplierCatalog"])[0]["id"].clone();
    let po = run(
        &s,
        &practice,
        &inv,
        "DraftPurchaseOrder",
        json!({ "supplierId": supplier_id, "itemId": item }),
    )
    .await;
    let po_id = po["createPurchaseOrder"]["id"].clone();
    assert_eq!(po["createPurchaseOrder"]["poNumber"], "PO-000001");
    run(
        &s,
        &practice,
        &inv,
        "SubmitPurchaseOrder",
        json!({ "poId": po_id, "version": 1 }),
    )
    .await;
    let inbox = run(&s, &supplier, &inv, "PurchaseOrderInbox", json!({})).await;
    let inbox = edges(&inbox["supplierPurchaseOrders"]);
    assert_eq!(inbox.len(), 1);
    let acked = run(
        &s,
        &supplier,
        &inv,
        "AcknowledgePurchaseOrder",
        json!({ "poId": po_id, "version": inbox[0]["version"] }),
    )
    .await;
    assert_eq!(acked["acknowledgePurchaseOrder"]["status"], "ACKNOWLEDGED");
    let mine = s
        .ok(
            &practice,
            "query($id: ID!) { purchaseOrder(id: $id) { version lines { id } } }",
            json!({ "id": po_id }),
        )
        .await;
    let received = run(
        &s,
        &practice,
        &inv,
        "ReceivePurchaseOrder",
        json!({
            "poId": po_id,
            "version": mine["purchaseOrder"]["version"],
            "lineId": mine["purchaseOrder"]["lines"][0]["id"],
        }),
    )
    .await;
    assert_eq!(received["receivePurchaseOrder"]["status"], "RECEIVED");

    // Importing products, as the curl line in the tab says, then following the import.
    let (status, body) = s
        .upload(
            &practice,
            "mutation($file: Upload!) { importProducts(input: { file: $file }) { productImport { id status totalRows } } }",
            "products.csv",
            b"sku,name,category,currency,price,reorder_point
DEMO-CLOTH,Lens cloth,SUNDRY,GBP,2.50,10
",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let import_id = body["data"]["importProducts"]["productImport"]["id"].clone();
    assert!(import_id.is_string(), "{body}");
    let done = ils_tests::eventually(
        "the product import",
        std::time::Duration::from_secs(60),
        || async {
            let got = run(
                &s,
                &practice,
                &inv,
                "ProductImport",
                json!({ "importId": import_id }),
            )
            .await;
            match got["productImport"]["status"].as_str() {
                Some("COMPLETED" | "FAILED") => Ok(got),
                _ => Err(got),
            }
        },
    )
    .await;
    assert_eq!(done["productImport"]["status"], "COMPLETED", "{done}");
    assert_eq!(done["productImport"]["created"], 1, "{done}");
    s.finish().await;
}
