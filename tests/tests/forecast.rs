//! Demand forecasts (issue 20), from outside: every sale adds to its day's demand as it is
//! posted; `demandForecast` learns from a product's days (a backdated history written
//! below the guard, as if the product had sold for months), picks a method by backtest,
//! and gives each day's forecast with intervals, why, and the recent days it saw; bad input
//! is refused on its argument, and another company's product is NOT_FOUND.

#![allow(clippy::disallowed_methods)] // the backdated history is written below the guard on purpose

use ils_tests::ws;
use ils_tests::{Session, TestServer, assert_bad_input, email};
use serde_json::{Value, json};

const CREATE_PRODUCT: &str =
    "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id sku } } }";
const POST: &str = "mutation($i: PostStockMovementInput!) { postStockMovement(input: $i) { stockMovement { id } } }";
const LOCATIONS: &str = "{ stockLocations { id name isDefault } }";
const FORECAST: &str = "query($p: ID!, $l: ID, $h: Int) { demandForecast(productId: $p, locationId: $l, horizonDays: $h) {
    product { sku } location { name } horizonDays method methodDescription why
    days { date demand { units low80 high80 low95 high95 } }
    total { units low80 high80 low95 high95 }
    backtestError naiveBacktestError backtestBias methodsCompared historyDays intermittent
    recentDemand { date units } } }";

/// The location named in `q`'s forecast and its units sold yesterday.
async fn yesterday_at(s: &TestServer, who: &Session, q: Value) -> (Value, Value) {
    let got = s.ok(&who.auth(), FORECAST, q).await["demandForecast"].clone();
    (
        got["location"]["name"].clone(),
        got["recentDemand"][26]["units"].clone(),
    )
}

/// Units sold on each day of the week, oldest first: a weekly pattern with quiet days.
const WEEK: [i64; 7] = [3, 0, 2, 5, 1, 0, 4];

async fn product(s: &TestServer, who: &Session, sku: &str) -> Value {
    s.ok(
        &who.auth(),
        CREATE_PRODUCT,
        json!({ "i": { "sku": sku, "name": "Microfibre Cleaning Cloth", "category": "SUNDRY",
            "cost": { "amount": "0.40", "currency": "EUR" }, "currency": "EUR" } }),
    )
    .await["createProduct"]["product"]
        .clone()
}

/// Posts a movement of `q` units of `product` at the main location (a receipt at 0.40).
async fn post(s: &TestServer, who: &Session, product: &Value, kind: &str, q: i64) {
    let cost = match kind {
        "RECEIPT" => json!({ "amount": "0.40", "currency": "EUR" }),
        _ => Value::Null,
    };
    s.ok(
        &who.auth(),
        POST,
        json!({ "i": { "productId": product["id"], "kind": kind, "quantity": q, "unitCost": cost } }),
    )
    .await;
}

fn uuid_of(v: &Value) -> uuid::Uuid {
    ils_kernel::id::decode_any(v.as_str().unwrap()).unwrap().1
}

/// Writes `days` days of history before today (yesterday = the last), `WEEK` repeated.
async fn backdate(s: &TestServer, who: &Session, product: &Value, location: &Value, days: i64) {
    let units: Vec<i64> = (1..=days)
        .map(|back| WEEK[((days - back) % 7) as usize])
        .collect();
    s.backdate_demand(who, &product["id"], &location["id"], &units)
        .await;
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forecast_learns_from_the_products_days_and_says_why() {
    let s = TestServer::start().await;
    let shop = s.sign_up("Forecast Optics", "ECP", &email("fc")).await;
    let cloth = product(&s, &shop, "CLOTH").await;
    let main = s.ok(&shop.auth(), LOCATIONS, json!({})).await["stockLocations"][0].clone();
    backdate(&s, &shop, &cloth, &main, 120).await;
    // Today's sales count as they are posted (two sales of one day add up), and show as
    // today's demand; they are not history until the day is over.
    post(&s, &shop, &cloth, "RECEIPT", 50).await;
    for q in [2, 1] {
        post(&s, &shop, &cloth, "SALE", q).await;
    }

    let got = s
        .ok(&shop.auth(), FORECAST, json!({ "p": cloth["id"], "h": 14 }))
        .await["demandForecast"]
        .clone();
    assert_eq!(got["product"]["sku"], "CLOTH");
    assert_eq!(got["location"], Value::Null, "all locations");
    assert_eq!(got["horizonDays"], 14);
    assert_eq!(
        got["historyDays"], 120,
        "from the first sale, before the product was added: {got}"
    );
    assert!(got["methodsCompared"].as_i64().unwrap() >= 5, "{got}");
    assert!(got["backtestError"].is_number(), "{got}");
    assert!(got["naiveBacktestError"].is_number(), "{got}");
    let method = got["method"].as_str().unwrap();
    assert!(
        ["NAIVE", "SES", "CROSTON", "SBA", "TSB", "HOLT_WINTERS"].contains(&method),
        "{method}"
    );
    let why = got["why"].as_str().unwrap();
    assert!(why.ends_with('.') && why.len() > 40, "{why}");
    // 2 quiet days of 7 is past the intermittence cut-off (about a quarter of days).
    assert_eq!(got["intermittent"], true, "{got}");

    // Fourteen days from today, each inside its intervals; the total is their sum.
    let today = chrono::Utc::now().date_naive();
    let days = got["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[0]["date"], today.to_string());
    assert_eq!(
        days[13]["date"],
        (today + chrono::Duration::days(13)).to_string()
    );
    let mut sum = 0.0;
    for d in days.iter().map(|d| &d["demand"]).chain([&got["total"]]) {
        let (u, l80, h80, l95, h95) = (
            f(&d["units"]),
            f(&d["low80"]),
            f(&d["high80"]),
            f(&d["low95"]),
            f(&d["high95"]),
        );
        assert!(
            0.0 <= l95 && l95 <= l80 && l80 <= u && u <= h80 && h80 <= h95,
            "{d}"
        );
    }
    for d in days {
        sum += f(&d["demand"]["units"]);
    }
    let total = f(&got["total"]["units"]);
    assert!((total - sum).abs() < 0.1, "total {total}, days {sum}");
    // The history sells 15 a week: two weeks forecast between half and one and a half
    // times that.
    assert!((15.0..=45.0).contains(&total), "{total}");

    // The last 28 days as seen, today's two sales included.
    let recent = got["recentDemand"].as_array().unwrap();
    assert_eq!(recent.len(), 28);
    assert_eq!(recent[27]["date"], today.to_string());
    assert_eq!(recent[27]["units"], 3, "2 + 1 sold today");
    // The days before as written (day `back` before today sold WEEK[(120 - back) % 7]).
    for back in 1..=27 {
        assert_eq!(
            recent[27 - back]["units"],
            WEEK[(120 - back) % 7],
            "{back} days ago"
        );
    }

    // One location alone: here the same history.
    let at = s
        .ok(
            &shop.auth(),
            FORECAST,
            json!({ "p": cloth["id"], "l": main["id"], "h": 14 }),
        )
        .await["demandForecast"]
        .clone();
    assert_eq!(at["location"]["name"], main["name"]);
    assert_eq!(at["total"], got["total"]);
    // The default horizon is a week.
    let week = s
        .ok(&shop.auth(), FORECAST, json!({ "p": cloth["id"] }))
        .await["demandForecast"]
        .clone();
    assert_eq!(week["days"].as_array().unwrap().len(), 7);

    // A second location with a history of its own: each location alone, and together.
    let van = s
        .ok(
            &shop.auth(),
            "mutation { createStockLocation(input: { name: \"Van\" }) { stockLocation { id name } } }",
            json!({}),
        )
        .await["createStockLocation"]["stockLocation"]
        .clone();
    s.backdate_demand(&shop, &cloth["id"], &van["id"], &[10; 30])
        .await;
    let main_yesterday = WEEK[(120 - 1) % 7];
    assert_eq!(
        yesterday_at(&s, &shop, json!({ "p": cloth["id"], "l": van["id"] })).await,
        (json!("Van"), json!(10))
    );
    assert_eq!(
        yesterday_at(&s, &shop, json!({ "p": cloth["id"], "l": main["id"] })).await,
        (main["name"].clone(), json!(main_yesterday))
    );
    assert_eq!(
        yesterday_at(&s, &shop, json!({ "p": cloth["id"] })).await,
        (Value::Null, json!(10 + main_yesterday))
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forecast_refuses_bad_input_and_another_companys_product() {
    let s = TestServer::start().await;
    let shop = s.sign_up("Careful Optics", "ECP", &email("fc")).await;
    let cloth = product(&s, &shop, "CLOTH").await;
    // A product that never sold: nothing to learn from, a forecast of 0 that says so.
    let none = s
        .ok(&shop.auth(), FORECAST, json!({ "p": cloth["id"] }))
        .await["demandForecast"]
        .clone();
    assert_eq!(f(&none["total"]["units"]), 0.0);
    assert_eq!(none["methodsCompared"], 0);
    assert_eq!(none["backtestError"], Value::Null);
    assert!(none["why"].as_str().unwrap().contains("no sales"), "{none}");
    for (h, field) in [(0, "horizonDays"), (91, "horizonDays")] {
        let err = s
            .error(&shop.auth(), FORECAST, json!({ "p": cloth["id"], "h": h }))
            .await;
        assert_bad_input(&err, &[field]);
    }
    let err = s
        .error(&shop.auth(), FORECAST, json!({ "p": "not-an-id" }))
        .await;
    assert_bad_input(&err, &["productId"]);
    let err = s
        .error(
            &shop.auth(),
            FORECAST,
            json!({ "p": cloth["id"], "l": cloth["id"] }),
        )
        .await;
    assert_bad_input(&err, &["locationId"]);
    // Another company's product, with a history: not found, the same as no product.
    let other = s.sign_up("Other Optics", "ECP", &email("fc")).await;
    let theirs = product(&s, &other, "THEIRS").await;
    let main = s.ok(&other.auth(), LOCATIONS, json!({})).await["stockLocations"][0].clone();
    backdate(&s, &other, &theirs, &main, 30).await;
    let err = s
        .error(&shop.auth(), FORECAST, json!({ "p": theirs["id"] }))
        .await;
    assert_eq!(err["extensions"]["code"], "NOT_FOUND", "{err}");
    // Nor does their location name a place of ours.
    let err = s
        .error(
            &shop.auth(),
            FORECAST,
            json!({ "p": cloth["id"], "l": main["id"] }),
        )
        .await;
    assert_bad_input(&err, &["locationId"]);
    // Unauthenticated: refused.
    let (_, body) = s
        .post(
            &ils_tests::Auth::None,
            FORECAST,
            json!({ "p": cloth["id"] }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    s.finish().await;
}

/// The migration that adds the demand history sums the sales the ledger already holds,
/// by product, location and day: a database upgraded with months of sales forecasts
/// from them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_sums_the_sales_already_in_the_ledger() {
    use ils_migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    let s = TestServer::start().await;
    let shop = s.sign_up("Upgraded Optics", "ECP", &email("fc")).await;
    let cloth = product(&s, &shop, "CLOTH").await;
    let main = s.ok(&shop.auth(), LOCATIONS, json!({})).await["stockLocations"][0].clone();
    post(&s, &shop, &cloth, "RECEIPT", 50).await;
    for q in [2, 1] {
        post(&s, &shop, &cloth, "SALE", q).await;
    }
    // Sales of three and four days ago, in the ledger only (as before the upgrade).
    let owner = s.owner_connection().await;
    let lit = |u: uuid::Uuid| s.sql_uuid(u);
    for (days, q) in [(3, 4), (3, 1), (4, 6)] {
        let when = if s.is_postgres() {
            format!("now() - interval '{days} days'")
        } else {
            format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-{days} days')")
        };
        // The system scope for this statement's transaction only: the migration below
        // must find its own way through the ledger's row-level security.
        let system = if s.is_postgres() {
            "SELECT set_config('app.system', 'on', true); "
        } else {
            ""
        };
        owner
            .execute_unprepared(&format!(
                "{system}INSERT INTO stock_movements (id, company_id, location_id, product_id, kind, quantity, \
                 reserved_delta, on_hand_after, avg_cost_after, created_at) VALUES ({}, {}, {}, {}, \
                 'SALE', -{q}, 0, 0, 4000, {when})",
                lit(uuid::Uuid::now_v7()),
                lit(ils_tests::company_uuid(&shop)),
                lit(uuid_of(&main["id"])),
                lit(uuid_of(&cloth["id"])),
            ))
            .await
            .unwrap();
    }
    // Back to before the demand history (and every migration after it), and up again:
    // the upgrade.
    let after_demand = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m0019_demand")
        .expect("the demand history's migration")
        + 1;
    Migrator::down(&owner, Some(after_demand as u32))
        .await
        .unwrap();
    Migrator::up(&owner, None).await.unwrap();
    let got = s
        .ok(&shop.auth(), FORECAST, json!({ "p": cloth["id"] }))
        .await["demandForecast"]
        .clone();
    let recent: Vec<i64> = got["recentDemand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["units"].as_i64().unwrap())
        .collect();
    assert_eq!(&recent[23..], [6, 5, 0, 0, 3], "{got}");
    s.finish().await;
}

const SPIKES: &str = "{ demandSpikes { product { sku } location { name } recentUnits recentDailyRate usualDailyRate ratio } }";

/// A product selling three times its usual rate is announced once, on the sale that makes
/// it so, and listed while it lasts; another company hears and sees nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demand_spike_is_announced_once_and_listed() {
    let s = TestServer::start().await;
    let shop = s.sign_up("Spike Optics", "ECP", &email("fc")).await;
    let other = s.sign_up("Calm Optics", "ECP", &email("fc")).await;
    let frame = product(&s, &shop, "FRAME").await;
    let main = s.ok(&shop.auth(), LOCATIONS, json!({})).await["stockLocations"][0].clone();
    // One a day for 103 days: 13 in the recent days (today's to come), 90 usual.
    s.backdate_demand(&shop, &frame["id"], &main["id"], &[1; 103])
        .await;
    post(&s, &shop, &frame, "RECEIPT", 100).await;
    let sell = |q: i64| post(&s, &shop, &frame, "SALE", q);
    let types: &[&str] = &["inventory.demand_spike", "marketplace.profile_updated"];
    let sentinel = || ws::profile_saved(&s, &shop);
    let mut socket = ws::subscribe_events_ready(&s, &shop.auth(), Some(types), sentinel).await;
    let other_sentinel = || ws::profile_saved(&s, &other);
    let mut bystander =
        ws::subscribe_events_ready(&s, &other.auth(), Some(types), other_sentinel).await;

    // 13 + 15 = 28 in 14 days: twice the usual rate, no spike.
    sell(15).await;
    ws::assert_no_event(&mut [&mut socket], "twice the usual rate", sentinel).await;
    assert_eq!(
        s.ok(&shop.auth(), SPIKES, json!({})).await["demandSpikes"],
        json!([])
    );
    // 13 + 15 + 14 = 42: three times.
    sell(14).await;
    let ev = ws::next_event(&mut socket).await;
    assert_eq!(ev["type"], "inventory.demand_spike", "{ev}");
    let d = &ev["data"];
    assert_eq!(d["productId"], frame["id"], "{ev}");
    assert_eq!(d["sku"], "FRAME", "{ev}");
    assert_eq!(d["locationId"], main["id"], "{ev}");
    assert_eq!(d["recentUnits"], 42, "{ev}");
    assert_eq!(d["recentDailyRate"], 3.0, "{ev}");
    assert_eq!(d["usualDailyRate"], 1.0, "{ev}");
    assert_eq!(d["ratio"], 3.0, "{ev}");
    // Still spiking: no second event.
    sell(5).await;
    ws::assert_no_event(&mut [&mut socket], "one event per spike", sentinel).await;
    let listed = s.ok(&shop.auth(), SPIKES, json!({})).await["demandSpikes"].clone();
    assert_eq!(
        listed,
        json!([{ "product": { "sku": "FRAME" }, "location": { "name": main["name"] },
            "recentUnits": 47, "recentDailyRate": 3.36, "usualDailyRate": 1.0, "ratio": 3.36 }])
    );
    // Nobody else hears of it, or sees it.
    ws::assert_no_event(
        &mut [&mut bystander],
        "another company's spike",
        other_sentinel,
    )
    .await;
    assert_eq!(
        s.ok(&other.auth(), SPIKES, json!({})).await["demandSpikes"],
        json!([])
    );
    s.finish().await;
}
