//! The purchasing agent (issue 20), from outside: seed journey 5 end to end (sales drive a
//! frame below its projected cover, the agent drafts, a manager approves, the supplier
//! acknowledges, a partial receipt, stock recovers, no new draft), one open draft per
//! supplier updated rather than duplicated, the company's limits cutting lines with the
//! reason shown, a person's decline remembered, who may do what, and nothing of one
//! company's agent reaching another.

use ils_tests::{
    Session, TestServer, assert_bad_input, dec, email, eventually, listed_company,
    member_with_email, nodes, staff_of, units,
};
use serde_json::{Value, json};
use std::time::Duration;

const CREATE_ITEM: &str = "mutation($i: CreateCatalogItemInput!) {
    createCatalogItem(input: $i) { catalogItem { id sku orderMultiple } } }";
const CREATE_PRODUCT: &str =
    "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id sku } } }";
const POST: &str = "mutation($i: PostStockMovementInput!) { postStockMovement(input: $i) { stockMovement { id } } }";
const LOCATIONS: &str = "{ stockLocations { id isDefault } }";
const LEVEL: &str = "query($p: ID!) { stockLevels(filter: { productId: $p }, first: 10) { edges { node { onHand available } } } }";
const SETTINGS: &str = "{ agentSettings { enabled maxOrderValue { amount currency } maxUnitsPerLine maxDraftsPerDay reviewDays declineMemoryDays } }";
const UPDATE_SETTINGS: &str = "mutation($i: UpdateAgentSettingsInput!) { updateAgentSettings(input: $i) {
    agentSettings { enabled maxOrderValue { amount currency } maxUnitsPerLine maxDraftsPerDay reviewDays declineMemoryDays } } }";
const PO: &str = "id poNumber status version createdBySystem awaitingApproval supplierName notes cancelReason
    total { amount currency }
    lines { id sku quantity receivedQuantity product { sku } rationale { sentence dailyDemand recentDailyRate
    usualDailyRate ratio available onOrder runsOutInDays leadTimeDays reviewDays forecastUnits safetyStock
    method needed quantity cut } }";
const AUDIT: &str = "{ auditLog(last: 100) { nodes { actorKind operation targetIds } } }";

fn run_op() -> String {
    format!(
        "mutation {{ runPurchasingAgent {{ agentRun {{ drafts {{ {PO} }} unchanged withdrawn considered
        skipped {{ product {{ sku }} reason }} startedAt finishedAt }} }} }}"
    )
}

fn pending_op() -> String {
    format!("{{ pendingApprovals {{ {PO} }} }}")
}

fn change_op(mutation: &str, extra: &str) -> String {
    format!("mutation($id: ID!, $v: Int!{extra}) {{ {mutation} {{ purchaseOrder {{ {PO} }} }} }}")
}

/// A listed supplier and a practice actively connected with it.
async fn trading(s: &TestServer, pa: &Session, practice: &str) -> (Session, Session) {
    let supplier = listed_company(s, pa, "Harbour Frames Ltd", "SUPPLIER", Value::Null).await;
    let buyer = s.sign_up(practice, "ECP", &email("agent")).await;
    ils_tests::connect(s, &buyer, &supplier).await;
    (supplier, buyer)
}

/// A frame of the supplier's at `price` GBP: 14 days' lead time, at least 10, in fives.
async fn frame_item(s: &TestServer, supplier: &Session, sku: &str, price: &str) -> Value {
    let item = s
        .ok(
            &supplier.auth(),
            CREATE_ITEM,
            json!({ "i": {
                "sku": sku, "name": format!("Harbour acetate {sku}"), "brand": "Harbour",
                "category": "FRAME", "price": { "amount": price, "currency": "GBP" },
                "minOrderQuantity": 10, "leadTimeDays": 14, "orderMultiple": 5,
                "frame": { "model": "Harbour", "colour": "Tortoise", "eyeSize": 52, "bridge": 18, "templeLength": 140 }
            } }),
        )
        .await["createCatalogItem"]["catalogItem"]
        .clone();
    assert_eq!(item["orderMultiple"], 5, "{item}");
    item
}

/// The buyer's product linked to `item`, with `stock` received at the main location and a
/// history of `usual` a day for 90 days, then `recent` a day for the 13 days before
/// today. Returns (product, location).
async fn selling(
    s: &TestServer,
    buyer: &Session,
    item: &Value,
    sku: &str,
    stock: i64,
    (usual, recent): (i64, i64),
) -> (Value, Value) {
    let product = s
        .ok(
            &buyer.auth(),
            CREATE_PRODUCT,
            json!({ "i": { "sku": sku, "name": format!("Frame {sku}"), "category": "FRAME",
                "currency": "GBP", "supplierItemId": item["id"],
                "frame": { "model": "Harbour", "colour": "Tortoise", "eyeSize": 52, "bridge": 18, "templeLength": 140 } } }),
        )
        .await["createProduct"]["product"]
        .clone();
    let location = s.ok(&buyer.auth(), LOCATIONS, json!({})).await["stockLocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["isDefault"] == true)
        .unwrap()["id"]
        .clone();
    let mut days = vec![recent; 13];
    days.extend(vec![usual; 90]);
    s.backdate_demand(buyer, &product["id"], &location, &days)
        .await;
    if stock > 0 {
        post(s, buyer, &product, "RECEIPT", stock).await;
    }
    (product, location)
}

async fn post(s: &TestServer, who: &Session, product: &Value, kind: &str, q: i64) {
    let cost = match kind {
        "RECEIPT" => json!({ "amount": "20.00", "currency": "GBP" }),
        _ => Value::Null,
    };
    s.ok(
        &who.auth(),
        POST,
        json!({ "i": { "productId": product["id"], "kind": kind, "quantity": q, "unitCost": cost } }),
    )
    .await;
}

async fn available(s: &TestServer, who: &Session, product: &Value) -> i64 {
    let got = s
        .ok(&who.auth(), LEVEL, json!({ "p": product["id"] }))
        .await;
    nodes(&got["stockLevels"])
        .iter()
        .map(|n| n["available"].as_i64().unwrap())
        .sum()
}

async fn run(s: &TestServer, who: &Session) -> Value {
    s.ok(&who.auth(), &run_op(), json!({})).await["runPurchasingAgent"]["agentRun"].clone()
}

async fn pending(s: &TestServer, who: &Session) -> Vec<Value> {
    s.ok(&who.auth(), &pending_op(), json!({})).await["pendingApprovals"]
        .as_array()
        .unwrap()
        .clone()
}

async fn settings(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(&who.auth(), UPDATE_SETTINGS, json!({ "i": input }))
        .await["updateAgentSettings"]["agentSettings"]
        .clone()
}

async fn change(
    s: &TestServer,
    who: &Session,
    mutation: &str,
    order: &Value,
    extra: Value,
) -> Value {
    let (args, decl) = match extra {
        Value::Object(ref m) if !m.is_empty() => {
            let args: Vec<String> = m.keys().map(|k| format!(", {k}: ${k}")).collect();
            let decl: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    let ty = if v.is_string() {
                        "String"
                    } else {
                        "[ReceiptLineInput!]"
                    };
                    format!(", ${k}: {ty}")
                })
                .collect();
            (args.concat(), decl.concat())
        }
        _ => (String::new(), String::new()),
    };
    let call = format!("{mutation}(input: {{ id: $id, version: $v{args} }})");
    let mut vars = json!({ "id": order["id"], "v": order["version"] });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            vars[k] = v;
        }
    }
    s.ok(&who.auth(), &change_op(&call, &decl), vars).await[mutation]["purchaseOrder"].clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// Seed journey 5: a frame that sold about 1 a day starts selling 4 a day; 40 left run out
/// in 10 days while the supplier needs 14, so the agent drafts, and managers are mailed;
/// drafts are not sent until a manager approves; the supplier acknowledges, part arrives,
/// stock recovers, and the agent drafts nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_journey_5_from_sales_to_a_draft_to_recovered_stock() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, buyer) = trading(&s, &pa, "Brightside Optometry").await;
    let (manager, manager_email) = member_with_email(&s, &buyer, "MANAGER").await;
    let item = frame_item(&s, &supplier, "HB-TORT-52", "20.00").await;
    // Sold 1 a day for 90 days, then 4 a day lately: 52 bought, 12 sold today, 40 left.
    let (frame, _) = selling(&s, &buyer, &item, "TORT-52", 52, (1, 4)).await;
    post(&s, &buyer, &frame, "SALE", 12).await;
    assert_eq!(available(&s, &buyer, &frame).await, 40);

    // Off by default; a manager runs it anyway and sets limits that leave room.
    let before = s.ok(&buyer.auth(), SETTINGS, json!({})).await;
    assert_eq!(before["agentSettings"]["enabled"], false, "{before}");
    assert_eq!(before["agentSettings"]["reviewDays"], 7, "{before}");
    let set = settings(
        &s,
        &manager,
        json!({ "enabled": true, "maxOrderValue": { "amount": "5000", "currency": "GBP" },
            "maxUnitsPerLine": 500, "maxDraftsPerDay": 5 }),
    )
    .await;
    assert_eq!(units(&set["maxOrderValue"]["amount"]), dec("5000"), "{set}");
    assert_eq!(set["declineMemoryDays"], 30, "{set}");

    let done = run(&s, &manager).await;
    assert_eq!(done["considered"], 1, "{done}");
    let drafts = done["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "{done}");
    let draft = drafts[0].clone();
    assert_eq!(draft["status"], "DRAFT");
    assert_eq!(draft["createdBySystem"], true);
    assert_eq!(draft["awaitingApproval"], true);
    assert_eq!(draft["supplierName"], "Harbour Frames Ltd");
    let line = &draft["lines"][0];
    let r = &line["rationale"];
    // The forecast follows the new rate; 40 left last about 10 days, within 14 + 7.
    let rate = f(&r["dailyDemand"]);
    assert!((2.5..=4.5).contains(&rate), "{r}");
    // 13 days of 4 and today's 12 over 14 days: 4.57.
    assert_eq!(f(&r["recentDailyRate"]), 4.57, "{r}");
    assert_eq!(r["usualDailyRate"], 1.0, "{r}");
    assert!(f(&r["ratio"]) >= 3.0, "{r}");
    assert_eq!(r["available"], 40);
    assert_eq!(r["onOrder"], 0);
    let days = r["runsOutInDays"].as_i64().unwrap();
    assert!((8..=21).contains(&days), "{r}");
    assert_eq!(
        (r["leadTimeDays"].clone(), r["reviewDays"].clone()),
        (json!(14), json!(7))
    );
    // What covers 21 days of forecast and the safety stock, less the 40, in fives.
    let needed = r["needed"].as_i64().unwrap();
    let want = f(&r["forecastUnits"]) + f(&r["safetyStock"]) - 40.0;
    assert!(needed % 5 == 0 && needed >= 10, "{r}");
    assert!(
        (needed as f64) >= want - 0.01 && (needed as f64) < want + 5.0,
        "{r}"
    );
    assert_eq!(line["quantity"], r["needed"]);
    assert_eq!(r["cut"], Value::Null);
    let sentence = r["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("sells ")
            && sentence.contains("× its usual rate")
            && sentence.contains(&format!("40 available runs out in {days} days"))
            && sentence.contains("lead time 14 days")
            && sentence.contains(&format!("{needed} covers lead time, review")),
        "{sentence}"
    );

    // Waiting for approval, listed for every member, mailed to the managers.
    let listed = pending(&s, &buyer).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], draft["id"]);
    let number = draft["poNumber"].as_str().unwrap();
    let subject = format!("{number} is drafted for your approval");
    let mails = eventually("the approval mail", Duration::from_secs(20), || async {
        let m: Vec<_> = s
            .mails_to(&manager_email)
            .await
            .into_iter()
            // Sent (in the mail folder), not only queued: the mailer adds the link.
            .filter(|m| m.subject == subject && !m.path.as_os_str().is_empty())
            .collect();
        if m.is_empty() { Err("none yet") } else { Ok(m) }
    })
    .await;
    assert!(
        mails[0]
            .text
            .contains("A purchase order is drafted for your approval")
    );
    assert!(
        mails[0].text.contains("pendingApprovals"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].text.contains("HB-TORT-52"), "{}", mails[0].text);
    // The link, on the server's address.
    let link = format!(
        "{}/playground?tab=PendingApprovals",
        s.url("").trim_end_matches('/')
    );
    assert!(mails[0].text.contains(&link), "{link} in {}", mails[0].text);
    // The audit log names the agent as the author.
    let audit = s.ok(&buyer.auth(), AUDIT, json!({})).await;
    let entries = audit["auditLog"]["nodes"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["actorKind"] == "SYSTEM"
            && e["operation"]
                == format!("system:inventory.purchasing_agent: drafted {number} for approval")
            && e["targetIds"][0] == draft["id"]),
        "{audit}"
    );

    // A second run changes nothing: one open draft per supplier.
    let again = run(&s, &manager).await;
    assert_eq!(again["drafts"], json!([]), "{again}");
    assert_eq!(again["unchanged"], 1, "{again}");
    // More sales: the same draft is updated, not duplicated.
    post(&s, &buyer, &frame, "SALE", 10).await;
    let updated = run(&s, &manager).await;
    let redrafted = &updated["drafts"][0];
    assert_eq!(redrafted["id"], draft["id"], "{updated}");
    assert!(redrafted["version"].as_i64() > draft["version"].as_i64());
    assert_eq!(redrafted["lines"][0]["rationale"]["available"], 30);
    assert!(
        redrafted["lines"][0]["quantity"].as_i64() > line["quantity"].as_i64(),
        "{updated}"
    );
    assert_eq!(pending(&s, &buyer).await.len(), 1);
    let draft = redrafted.clone();
    let ordered = draft["lines"][0]["quantity"].as_i64().unwrap();

    // Nothing leaves before a person approves; the supplier sees nothing yet.
    let code = s
        .error_code(
            &manager.auth(),
            &change_op("submitPurchaseOrder(input: { id: $id, version: $v })", ""),
            json!({ "id": draft["id"], "v": draft["version"] }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let inbox = s
        .ok(
            &supplier.auth(),
            "{ supplierPurchaseOrders(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(nodes(&inbox["supplierPurchaseOrders"]).len(), 0);
    let approved = change(&s, &manager, "approvePurchaseOrder", &draft, json!({})).await;
    assert_eq!(approved["awaitingApproval"], false);
    assert!(pending(&s, &buyer).await.is_empty());
    let sent = change(&s, &manager, "submitPurchaseOrder", &approved, json!({})).await;
    assert_eq!(sent["status"], "SUBMITTED");
    let acked = change(
        &s,
        &supplier,
        "acknowledgePurchaseOrder",
        &sent,
        json!({ "supplierReference": "HB-7781" }),
    )
    .await;
    assert_eq!(acked["status"], "ACKNOWLEDGED");
    // The supplier sees the lines but not why they were drafted (the buyer's stock).
    assert_eq!(acked["lines"][0]["rationale"], Value::Null, "{acked}");

    // Ordered and on its way: the agent drafts nothing more for it.
    let quiet = run(&s, &manager).await;
    assert_eq!(quiet["drafts"], json!([]), "{quiet}");
    // Part arrives, stock recovers; still nothing to draft.
    let buyer_view = s
        .ok(
            &buyer.auth(),
            &format!("query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO} }} }}"),
            json!({ "id": acked["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    let part = ordered / 2;
    let received = change(
        &s,
        &buyer,
        "receivePurchaseOrder",
        &buyer_view,
        json!({ "lines": [{ "lineId": buyer_view["lines"][0]["id"], "quantity": part }] }),
    )
    .await;
    assert_eq!(received["status"], "PARTIALLY_RECEIVED");
    assert_eq!(available(&s, &buyer, &frame).await, 30 + part);
    let after = run(&s, &manager).await;
    assert_eq!(after["drafts"], json!([]), "{after}");
    assert_eq!(after["skipped"], json!([]), "{after}");
    assert!(pending(&s, &buyer).await.is_empty());
    s.finish().await;
}

/// The limits cut lines and say why, a person's decline is remembered with its reason,
/// only managers run the agent or change its settings, and another company sees none of
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_cut_lines_declines_are_remembered_and_companies_stay_apart() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, buyer) = trading(&s, &pa, "Limits Optics").await;
    let fast = frame_item(&s, &supplier, "HB-FAST", "20.00").await;
    let dear = frame_item(&s, &supplier, "HB-DEAR", "100.00").await;
    // FAST has run out and needs more than a line may hold; DEAR runs out in 5 days.
    selling(&s, &buyer, &fast, "FAST", 0, (6, 6)).await;
    selling(&s, &buyer, &dear, "DEAR", 5, (1, 1)).await;

    // Bad settings are refused on their field.
    for (bad, field) in [
        (json!({ "maxUnitsPerLine": 0 }), "maxUnitsPerLine"),
        (json!({ "reviewDays": 0 }), "reviewDays"),
        (json!({ "declineMemoryDays": 400 }), "declineMemoryDays"),
        (json!({ "maxDraftsPerDay": -1 }), "maxDraftsPerDay"),
        (
            json!({ "maxOrderValue": { "amount": "0", "currency": "GBP" } }),
            "maxOrderValue.amount",
        ),
        (
            json!({ "maxOrderValue": { "amount": "10", "currency": "XXQ" } }),
            "maxOrderValue.currency",
        ),
    ] {
        let mut input = bad;
        input["enabled"] = json!(true);
        let err = s
            .error(&buyer.auth(), UPDATE_SETTINGS, json!({ "i": input }))
            .await;
        assert_bad_input(&err, &[&format!("input.{field}")]);
    }

    // At most 50 units a line, and 1,500.00 a draft.
    settings(
        &s,
        &buyer,
        json!({ "enabled": false, "maxUnitsPerLine": 52, "maxOrderValue": { "amount": "1500", "currency": "GBP" } }),
    )
    .await;
    let done = run(&s, &buyer).await;
    let draft = done["drafts"][0].clone();
    let lines = draft["lines"].as_array().unwrap();
    let fast_line = lines
        .iter()
        .find(|l| l["sku"] == "HB-FAST")
        .expect("FAST drafted");
    let r = &fast_line["rationale"];
    // 6 a day over 21 days is 126 and more: cut to the largest five within 52.
    assert!(r["needed"].as_i64().unwrap() > 52, "{r}");
    assert_eq!(fast_line["quantity"], 50, "{r}");
    assert_eq!(
        r["cut"],
        format!("cut from {} to 50: at most 52 units a line", r["needed"]),
        "{r}"
    );
    assert!(
        r["sentence"]
            .as_str()
            .unwrap()
            .ends_with("at most 52 units a line"),
        "{r}"
    );
    // The most urgent first: FAST's 50 x 20.00 = 1,000.00 leaves 500.00, and DEAR (16
    // needed, at least 10 at 100.00) cannot fit: it is left out, saying why.
    let total: f64 = draft["total"]["amount"].as_str().unwrap().parse().unwrap();
    assert_eq!(total, 1000.0, "{draft}");
    assert!(lines.iter().all(|l| l["sku"] != "HB-DEAR"), "{draft}");
    let skipped = done["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|k| k["product"]["sku"] == "DEAR"
            && k["reason"] == "the draft may be worth at most 1500.00 GBP"),
        "{done}"
    );

    // A person declines the draft, saying why: the agent leaves FAST alone, and DEAR,
    // never declined, now has the room: 20 needed, cut to the 15 that 1,500.00 buys.
    let declined = change(
        &s,
        &buyer,
        "cancelPurchaseOrder",
        &draft,
        json!({ "reason": "we are discontinuing Harbour" }),
    )
    .await;
    assert_eq!(declined["status"], "CANCELLED");
    assert_eq!(declined["cancelReason"], "we are discontinuing Harbour");
    let after = run(&s, &buyer).await;
    let why = after["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["product"]["sku"] == "FAST")
        .expect("FAST skipped")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        why.starts_with(&format!(
            "a person declined it in {} on ",
            draft["poNumber"].as_str().unwrap()
        )) && why.ends_with(": we are discontinuing Harbour"),
        "{why}"
    );
    let second = after["drafts"][0].clone();
    assert_ne!(second["id"], draft["id"], "{after}");
    let dear_line = &second["lines"][0];
    assert_eq!(second["lines"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(dear_line["sku"], "HB-DEAR");
    assert_eq!(dear_line["quantity"], 15, "{after}");
    assert_eq!(
        dear_line["rationale"]["cut"],
        "cut from 20 to 15: the draft may be worth at most 1500.00 GBP",
        "{after}"
    );

    // Declined too, and forgotten at once (0 days' memory); no new drafts allowed today:
    // both are left out, saying so.
    change(&s, &buyer, "cancelPurchaseOrder", &second, json!({})).await;
    settings(
        &s,
        &buyer,
        json!({ "enabled": true, "maxDraftsPerDay": 0, "declineMemoryDays": 0 }),
    )
    .await;
    let held = run(&s, &buyer).await;
    assert_eq!(held["drafts"], json!([]), "{held}");
    for sku in ["FAST", "DEAR"] {
        assert!(
            held["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["product"]["sku"] == sku && k["reason"] == "at most 0 new drafts a day"),
            "{held}"
        );
    }

    // Staff read the settings and the pending list, but neither run nor change them.
    let staff = staff_of(&s, &buyer).await;
    assert_eq!(
        s.error_code(&staff.auth(), &run_op(), json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(
            &staff.auth(),
            UPDATE_SETTINGS,
            json!({ "i": { "enabled": false } })
        )
        .await,
        "FORBIDDEN"
    );
    let seen = s.ok(&staff.auth(), SETTINGS, json!({})).await;
    assert_eq!(seen["agentSettings"]["maxDraftsPerDay"], 0);

    // Another practice: its own (default) settings, nothing pending, nothing to consider.
    let other = s.sign_up("Elsewhere Eyecare", "ECP", &email("other")).await;
    let theirs = s.ok(&other.auth(), SETTINGS, json!({})).await;
    assert_eq!(theirs["agentSettings"]["enabled"], false, "{theirs}");
    assert_eq!(theirs["agentSettings"]["maxUnitsPerLine"], Value::Null);
    assert!(pending(&s, &other).await.is_empty());
    let nothing = run(&s, &other).await;
    assert_eq!(nothing["considered"], 0, "{nothing}");
    assert_eq!(nothing["drafts"], json!([]));
    // The declined order is not theirs to read.
    let none = s
        .ok(
            &other.auth(),
            "query($id: ID!) { purchaseOrder(id: $id) { id } }",
            json!({ "id": draft["id"] }),
        )
        .await;
    assert_eq!(none["purchaseOrder"], Value::Null);
    s.finish().await;
}

/// The nightly run (the schedule's job, run now) drafts for each company that enabled its
/// agent, and for no other; the audit log says it was the nightly run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_run_drafts_for_the_companies_that_enabled_it() {
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, keen) = trading(&s, &pa, "Keen Optics").await;
    let item = frame_item(&s, &supplier, "HB-NIGHT", "20.00").await;
    let wary = s.sign_up("Wary Optics", "ECP", &email("wary")).await;
    ils_tests::connect(&s, &wary, &supplier).await;
    // The same product at both, different stock: the agent sees its own company's only.
    for (who, stock) in [(&keen, 3), (&wary, 7)] {
        selling(&s, who, &item, "NIGHT", stock, (2, 2)).await;
    }
    settings(&s, &keen, json!({ "enabled": true })).await;
    settings(&s, &wary, json!({ "enabled": false })).await;
    ils_kernel::jobs::enqueue_system(
        &s.server.state.db,
        ils_kernel::NewJob::of(&ils_inventory::service::agent::RunAgentAll {}),
    )
    .await
    .unwrap();
    let drafted = eventually("the nightly draft", Duration::from_secs(30), || async {
        let p = pending(&s, &keen).await;
        if p.len() == 1 { Ok(p) } else { Err(p) }
    })
    .await;
    assert_eq!(drafted[0]["lines"][0]["sku"], "HB-NIGHT");
    assert_eq!(
        drafted[0]["lines"][0]["rationale"]["available"], 3,
        "{drafted:?}"
    );
    let audit = s.ok(&keen.auth(), AUDIT, json!({})).await;
    assert!(
        audit["auditLog"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"] == "system:inventory.purchasing_agent: nightly run"),
        "{audit}"
    );
    // The other practice enabled nothing: no run, no draft, no audit entry of the agent.
    assert!(pending(&s, &wary).await.is_empty());
    let theirs = s.ok(&wary.auth(), AUDIT, json!({})).await;
    assert!(
        !theirs["auditLog"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"]
                .as_str()
                .is_some_and(|o| o.starts_with("system:inventory.purchasing_agent"))),
        "{theirs}"
    );
    s.finish().await;
}

/// A draft the assistant made at a person's request is never the agent's to change: it
/// counts as on order. The agent's own draft is announced (`purchase_order.drafted`), and
/// withdrawn once stock covers what it ordered, without that counting as a decline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_drafts_are_left_alone_and_a_draft_no_longer_needed_is_withdrawn() {
    use ils_inventory::service::purchasing::{NewLine, NewOrder, system_draft};
    use ils_tests::ws;
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let (supplier, buyer) = trading(&s, &pa, "Careful Optics").await;
    let asked = frame_item(&s, &supplier, "HB-ASKED", "20.00").await;
    let own = frame_item(&s, &supplier, "HB-OWN", "20.00").await;
    selling(&s, &buyer, &asked, "ASKED", 4, (3, 3)).await;
    let (own_p, _) = selling(&s, &buyer, &own, "OWN", 4, (3, 3)).await;
    // The assistant's draft of 10 of ASKED, waiting for approval.
    let assistant = system_draft(
        &s.server.state.db,
        ils_tests::company_uuid(&buyer),
        NewOrder {
            supplier_id: supplier.company_id.clone().unwrap().into(),
            location_id: None,
            lines: vec![NewLine {
                catalog_item_id: asked["id"].as_str().unwrap().into(),
                quantity: 10,
            }],
            notes: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the assistant's draft: {e:?}"));
    let types: &[&str] = &[
        "purchase_order.drafted",
        "purchase_order.cancelled",
        "marketplace.profile_updated",
    ];
    let sentinel = || ws::profile_saved(&s, &buyer);
    let mut socket = ws::subscribe_events_ready(&s, &buyer.auth(), Some(types), sentinel).await;

    let done = run(&s, &buyer).await;
    let draft = done["drafts"][0].clone();
    let assistant_id = ils_kernel::id::encode("PurchaseOrder", assistant.row.id).to_string();
    assert_ne!(draft["id"], json!(assistant_id));
    let lines = draft["lines"].as_array().unwrap();
    let asked_line = lines
        .iter()
        .find(|l| l["sku"] == "HB-ASKED")
        .expect("ASKED drafted");
    assert_eq!(asked_line["rationale"]["onOrder"], 10, "{draft}");
    let ev = ws::next_event(&mut socket).await;
    assert_eq!(ev["type"], "purchase_order.drafted", "{ev}");
    assert_eq!(ev["data"]["purchaseOrderId"], draft["id"], "{ev}");
    assert_eq!(ev["data"]["poNumber"], draft["poNumber"], "{ev}");
    assert_eq!(ev["data"]["lines"], 2, "{ev}");
    assert_eq!(ev["data"]["updated"], false, "{ev}");
    // Both wait for approval; the assistant's is as it was.
    let waiting = pending(&s, &buyer).await;
    assert_eq!(waiting.len(), 2);
    let theirs = waiting
        .iter()
        .find(|p| p["id"] != draft["id"])
        .expect("the assistant's draft");
    assert_eq!(
        (
            theirs["version"].clone(),
            theirs["lines"][0]["quantity"].clone()
        ),
        (json!(1), json!(10))
    );
    assert_eq!(theirs["lines"][0]["rationale"], Value::Null);

    // Plenty arrives outside any order: the agent's draft is no longer needed, and goes.
    post(&s, &buyer, &own_p, "RECEIPT", 500).await;
    let products = s
        .ok(
            &buyer.auth(),
            "{ products(first: 10) { edges { node { id sku } } } }",
            json!({}),
        )
        .await;
    let asked_p = nodes(&products["products"])
        .into_iter()
        .find(|p| p["sku"] == "ASKED")
        .unwrap();
    post(&s, &buyer, &asked_p, "RECEIPT", 500).await;
    let later = run(&s, &buyer).await;
    assert_eq!(later["withdrawn"], json!([draft["poNumber"]]), "{later}");
    assert_eq!(later["drafts"], json!([]), "{later}");
    let ev = ws::next_event(&mut socket).await;
    assert_eq!(ev["type"], "purchase_order.cancelled", "{ev}");
    let gone = s
        .ok(
            &buyer.auth(),
            &format!("query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO} }} }}"),
            json!({ "id": draft["id"] }),
        )
        .await["purchaseOrder"]
        .clone();
    assert_eq!(gone["status"], "CANCELLED");
    assert_eq!(
        gone["cancelReason"],
        "no longer needed: nothing on it needs ordering now"
    );
    // The assistant's draft is still there, untouched.
    let still = pending(&s, &buyer).await;
    assert_eq!(still.len(), 1);
    assert_eq!(still[0]["version"], 1);
    // Withdrawn is not declined: selling it all again drafts again, with no skip.
    post(&s, &buyer, &own_p, "SALE", 504).await;
    let again = run(&s, &buyer).await;
    assert_eq!(again["skipped"], json!([]), "{again}");
    assert!(
        again["drafts"][0]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["sku"] == "HB-OWN"),
        "{again}"
    );
    s.finish().await;
}
