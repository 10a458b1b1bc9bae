//! The assistant's tools over stock and purchasing: stock levels, what runs out when, what
//! to reorder, purchase orders, and a draft purchase order for a person to approve. Each
//! calls the same service function as its GraphQL field (`stockLevels` and `products`,
//! `reorderSuggestions`, `purchaseOrders` and `supplierPurchaseOrders`,
//! `createPurchaseOrder`), so the same role checks and tenant guard apply.

use crate::graphql::products::Product;
use crate::graphql::purchasing::PurchaseOrder;
use crate::graphql::stock::StockLevel;
use crate::model::PurchaseOrderStatus;
use crate::service::planning::{self, Suggestion};
use crate::service::purchasing::{self, NewLine, NewOrder, Order};
use crate::service::{products, stock};
use chrono::{Duration, NaiveDate, Utc};
use ils_common::catalog::draft::Category;
use ils_common::company::COMPANY;
use ils_entity::{catalog_item, product, trade_connection};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::{ConnectionStatus, partner_names};
use ils_kernel::tools::{
    Effect, Tool, ToolCall, args, every, json, limit, name_matches, search_words,
};
use ils_kernel::{AppError, AppResult, id};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The most rows one tool call reads (pages of 100).
const MAX_SCANNED: usize = 2000;

/// The inventory module's tools.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "inventory_stock",
            description: "Stock levels of the company's active products, summed over its locations. Arguments (optional): query (words of the SKU, name or brand, e.g. \"1.67 blank\"), lowOnly (true: only products at or below their reorder point), limit (1..50, default 20). Result: {count, truncated, products: [{sku, name, onHand, available, reorderPoint, low}]}, low ones first.",
            parameters: stock_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_stock(call)),
        },
        Tool {
            name: "inventory_runs_out",
            description: "The products whose available stock runs out within a horizon at their mean daily sales over the last 90 days. Arguments (optional): days (horizon in days from today, default 14) or before (a date YYYY-MM-DD: runs out before that day), limit. Result: {today, until, count, truncated, products: [{sku, name, available, onOrder, meanDailyDemand, daysLeft, runsOutOn}]}, soonest first. Products without sales never run out.",
            parameters: runs_out_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_runs_out(call)),
        },
        Tool {
            name: "inventory_reorder",
            description: "The products to reorder now (reorder planning over the last 90 days of sales: available plus on order at or below the reorder point). Arguments (optional): query (SKU or name words), limit. Result: {count, truncated, products: [{sku, name, available, onOrder, reorderPoint, suggestedQuantity}]}.",
            parameters: reorder_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_reorder(call)),
        },
        Tool {
            name: "inventory_purchase_orders",
            description: "Purchase orders: the company's own as the buyer (partner = the supplier) and, for a supplier, those sent to it (partner = the buyer). Arguments (optional): statuses (array of DRAFT, SUBMITTED, ACKNOWLEDGED, REJECTED, PARTIALLY_RECEIVED, RECEIVED, CANCELLED; default the open ones: DRAFT, SUBMITTED, ACKNOWLEDGED, PARTIALLY_RECEIVED), all (true: every status), awaitingApproval (true: only drafts the assistant prepared that wait for a person's approval), partner (part of the supplier's or buyer's name), limit. Result: {count, truncated, purchaseOrders: [{poNumber, side, status, awaitingApproval, partner, total, currency, lines, updatedAt}]}, newest first.",
            parameters: purchase_orders_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_purchase_orders(call)),
        },
        Tool {
            name: "inventory_draft_purchase_order",
            description: "Prepare a DRAFT purchase order to a connected supplier, at its catalog prices, for a person to review, approve and submit (it is never submitted here). Managers and admins only. Arguments: supplier (part of the supplier's name, or its company ID), lines (array of {sku, quantity}: the supplier's catalog SKU or your product's SKU linked to it), notes (optional). Result: {poNumber, status, awaitingApproval, supplier, total, currency, lines: [{sku, name, quantity, unitPrice}]}.",
            parameters: draft_schema,
            effect: Effect::Draft,
            personal: &[],
            run: |call| Box::pin(run_draft(call)),
        },
    ]
}

fn stock_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "SKU, name or brand words."},
            "lowOnly": {"type": "boolean"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn runs_out_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "days": {"type": "integer", "minimum": 1, "maximum": 365, "description": "Horizon in days from today (default 14)."},
            "before": {"type": "string", "format": "date", "description": "Runs out before this day (instead of days)."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn reorder_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn purchase_orders_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "statuses": {"type": "array", "items": {"type": "string", "enum": [
                "DRAFT", "SUBMITTED", "ACKNOWLEDGED", "REJECTED", "PARTIALLY_RECEIVED", "RECEIVED", "CANCELLED"]}},
            "all": {"type": "boolean"},
            "awaitingApproval": {"type": "boolean"},
            "partner": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn draft_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "supplier": {"type": "string", "description": "Part of the supplier's name, or its company ID."},
            "lines": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
                "required": ["sku", "quantity"]
            }},
            "notes": {"type": "string"}
        },
        "required": ["supplier", "lines"],
        "additionalProperties": false
    })
}

/// An amount in ten-thousandths as a decimal text with two places ("12.50").
fn money(units: i128) -> String {
    Decimal::from_i128_with_scale(units, 4)
        .round_dp(2)
        .to_string()
}

/// The words of a search without the ones that name a category, and the first such
/// category: the second try of a search that found nothing.
fn category_search(words: &str) -> Option<(String, Category)> {
    let category = words.split(' ').find_map(Category::from_word)?;
    let rest: Vec<&str> = words
        .split(' ')
        .filter(|w| !w.is_empty() && Category::from_word(w).is_none())
        .collect();
    Some((rest.join(" "), category))
}

/// Whether a product matches the words of `query` (every word in its SKU, name or brand).
fn product_matches(p: &product::Model, query: &str) -> bool {
    let hay = format!("{} {} {}", p.sku, p.name, p.brand.as_deref().unwrap_or("")).to_lowercase();
    search_words(query)
        .split(' ')
        .filter(|w| !w.is_empty())
        .all(|w| hay.contains(w))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StockArgs {
    query: Option<String>,
    low_only: Option<bool>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StockRow {
    sku: String,
    name: String,
    on_hand: i64,
    available: i64,
    reorder_point: Option<i64>,
    low: bool,
}

async fn run_stock(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: StockArgs = args(&call)?;
    let (db, ctx) = (call.db, call.ctx);
    let words = a
        .query
        .as_deref()
        .map(search_words)
        .filter(|w| !w.is_empty());
    let (mut found, mut more_products) = every(MAX_SCANNED, |page| {
        products::list(db, ctx, words.as_deref(), None, Some(true), page, Product)
    })
    .await?;
    // "tortoise frames": a word that names a category is tried as the category.
    if found.is_empty()
        && let Some((rest, category)) = words.as_deref().and_then(category_search)
    {
        let rest = (!rest.is_empty()).then_some(rest);
        (found, more_products) = every(MAX_SCANNED, |page| {
            products::list(
                db,
                ctx,
                rest.as_deref(),
                Some(category),
                Some(true),
                page,
                Product,
            )
        })
        .await?;
    }
    let (levels, more_levels) = every(MAX_SCANNED, |page| {
        stock::levels(db, ctx, None, None, false, page, StockLevel)
    })
    .await?;
    let mut totals: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for l in levels {
        let t = totals.entry(l.0.row.product_id).or_default();
        t.0 += l.0.row.on_hand;
        t.1 += l.0.row.on_hand - l.0.row.reserved;
    }
    let mut rows: Vec<StockRow> = found
        .into_iter()
        .map(|Product(p)| {
            let (on_hand, available) = totals.get(&p.id).copied().unwrap_or_default();
            StockRow {
                low: stock::threshold_of(&p).is_some_and(|t| available <= t),
                reorder_point: p.reorder_point,
                sku: p.sku,
                name: p.name,
                on_hand,
                available,
            }
        })
        .filter(|r| r.low || !a.low_only.unwrap_or(false))
        .collect();
    rows.sort_by(|x, y| y.low.cmp(&x.low).then_with(|| x.sku.cmp(&y.sku)));
    let count = rows.len();
    let n = limit(a.limit, 20);
    rows.truncate(n);
    Ok(json!({
        "count": count,
        "truncated": count > n || more_products || more_levels,
        "products": json(&rows)?,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunsOutArgs {
    days: Option<i64>,
    before: Option<NaiveDate>,
    limit: Option<u32>,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct RunsOutRow {
    sku: String,
    name: String,
    available: i64,
    on_order: i64,
    mean_daily_demand: f64,
    days_left: f64,
    runs_out_on: NaiveDate,
}

/// When a product's `available` stock runs out at `mean` units a day, counted from
/// `today`: (days left, to one decimal; the day it runs out). `None` without demand.
fn runs_out(available: i64, mean: f64, today: NaiveDate) -> Option<(f64, NaiveDate)> {
    if mean <= 0.0 {
        return None;
    }
    let left = (available.max(0) as f64 / mean).max(0.0);
    // Stock for longer than the calendar can count never runs out, as far as anyone asks.
    let on = today.checked_add_days(chrono::Days::new(left.floor().min(1e6) as u64))?;
    Some(((left * 10.0).floor() / 10.0, on))
}

/// The last day of the horizon: `before` less one day, else `days` from today (14).
fn horizon(days: Option<i64>, before: Option<NaiveDate>, today: NaiveDate) -> AppResult<NaiveDate> {
    match (before, days) {
        (Some(b), _) => Ok(b.pred_opt().unwrap_or(b)),
        (None, Some(d)) if !(0..=3650).contains(&d) => Err(AppError::bad_input("days", "0..3650")),
        (None, d) => Ok(today + Duration::days(d.unwrap_or(14))),
    }
}

/// The most lines a drafted purchase order may have.
const MAX_DRAFT_LINES: usize = 50;

async fn run_runs_out(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: RunsOutArgs = args(&call)?;
    let today = Utc::now().date_naive();
    let until = horizon(a.days, a.before, today)?;
    let plans = planning::suggestions(call.db, call.ctx, Some(90), None, None, None, None).await?;
    let mut rows: Vec<RunsOutRow> = plans
        .into_iter()
        .filter_map(|s| {
            let (days_left, on) = runs_out(s.available, s.daily, today)?;
            (on <= until).then(|| RunsOutRow {
                sku: s.product.sku,
                name: s.product.name,
                available: s.available,
                on_order: s.on_order,
                mean_daily_demand: (s.daily * 100.0).round() / 100.0,
                days_left,
                runs_out_on: on,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        x.days_left
            .total_cmp(&y.days_left)
            .then_with(|| x.sku.cmp(&y.sku))
    });
    let count = rows.len();
    let n = limit(a.limit, 20);
    rows.truncate(n);
    Ok(json!({
        "today": today,
        "until": until,
        "count": count,
        "truncated": count > n,
        "products": json(&rows)?,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReorderArgs {
    query: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReorderRow {
    sku: String,
    name: String,
    available: i64,
    on_order: i64,
    reorder_point: Option<i64>,
    suggested_quantity: i64,
}

async fn run_reorder(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: ReorderArgs = args(&call)?;
    let plans = planning::suggestions(call.db, call.ctx, Some(90), None, None, None, None).await?;
    let mut rows: Vec<ReorderRow> = plans
        .into_iter()
        .filter(|s: &Suggestion| s.plan.reorder_now)
        .filter(|s| {
            a.query
                .as_deref()
                .is_none_or(|q| product_matches(&s.product, q))
        })
        .map(|s| ReorderRow {
            sku: s.product.sku,
            name: s.product.name,
            available: s.available,
            on_order: s.on_order,
            reorder_point: s.plan.reorder_point,
            suggested_quantity: s.plan.suggested,
        })
        .collect();
    rows.sort_by(|x, y| x.sku.cmp(&y.sku));
    let count = rows.len();
    let n = limit(a.limit, 20);
    rows.truncate(n);
    Ok(json!({"count": count, "truncated": count > n, "products": json(&rows)?}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PurchaseOrderArgs {
    statuses: Option<Vec<String>>,
    all: Option<bool>,
    awaiting_approval: Option<bool>,
    partner: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseOrderRow {
    po_number: String,
    side: &'static str,
    status: &'static str,
    awaiting_approval: bool,
    partner: String,
    total: String,
    currency: String,
    lines: usize,
    updated_at: String,
}

/// The open statuses: what a buyer still waits for.
const OPEN: [PurchaseOrderStatus; 4] = [
    PurchaseOrderStatus::Draft,
    PurchaseOrderStatus::Submitted,
    PurchaseOrderStatus::Acknowledged,
    PurchaseOrderStatus::PartiallyReceived,
];

fn po_statuses(
    given: Option<Vec<String>>,
    all: bool,
) -> AppResult<Option<Vec<PurchaseOrderStatus>>> {
    if all {
        return Ok(None);
    }
    match given.filter(|g| !g.is_empty()) {
        None => Ok(Some(OPEN.to_vec())),
        Some(list) => list
            .iter()
            .map(|s| {
                PurchaseOrderStatus::parse(&s.trim().to_uppercase().replace([' ', '-'], "_"))
                    .ok_or_else(|| AppError::bad_input("statuses", format!("unknown status {s:?}")))
            })
            .collect::<AppResult<Vec<_>>>()
            .map(Some),
    }
}

fn awaiting_approval(o: &Order) -> bool {
    crate::model::awaiting_approval(&o.row)
}

fn total_of(o: &Order) -> i128 {
    o.lines
        .iter()
        .map(|l| i128::from(l.quantity) * i128::from(l.unit_price))
        .sum()
}

async fn run_purchase_orders(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: PurchaseOrderArgs = args(&call)?;
    let me = require_member(call.ctx)?;
    let (db, ctx) = (call.db, call.ctx);
    let statuses = po_statuses(a.statuses, a.all.unwrap_or(false))?;
    let names = {
        let tx = db.read(ctx).await?;
        let names = partner_names(&tx, me).await?;
        tx.commit().await?;
        names
    };
    let mut rows: Vec<(Order, bool)> = Vec::new();
    let mut truncated = false;
    for as_supplier in [false, true] {
        let (found, more) = every(MAX_SCANNED, |page| {
            purchasing::list(db, ctx, as_supplier, statuses.clone(), page, PurchaseOrder)
        })
        .await?;
        truncated |= more;
        rows.extend(found.into_iter().map(|o| (o.0, as_supplier)));
    }
    let mut out: Vec<(chrono::DateTime<Utc>, PurchaseOrderRow)> = rows
        .into_iter()
        .filter(|(o, _)| !a.awaiting_approval.unwrap_or(false) || awaiting_approval(o))
        .map(|(o, as_supplier)| {
            let partner = if as_supplier {
                names
                    .get(&o.row.company_id)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default()
            } else {
                o.row.supplier_name.clone()
            };
            (
                o.row.updated_at,
                PurchaseOrderRow {
                    po_number: o.row.po_number.clone(),
                    side: if as_supplier { "SUPPLIER" } else { "BUYER" },
                    status: o.row.status.as_str(),
                    awaiting_approval: awaiting_approval(&o),
                    partner,
                    total: money(total_of(&o)),
                    currency: o.row.currency.clone(),
                    lines: o.lines.len(),
                    updated_at: o.row.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                },
            )
        })
        .filter(|(_, r)| {
            a.partner
                .as_deref()
                .is_none_or(|p| name_matches(&r.partner, p))
        })
        .collect();
    out.sort_by(|x, y| {
        y.0.cmp(&x.0)
            .then_with(|| y.1.po_number.cmp(&x.1.po_number))
    });
    let count = out.len();
    let n = limit(a.limit, 20);
    truncated |= count > n;
    out.truncate(n);
    let list: Vec<PurchaseOrderRow> = out.into_iter().map(|(_, r)| r).collect();
    let by_status: BTreeMap<&str, usize> = list.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.status).or_default() += 1;
        m
    });
    Ok(json!({
        "count": count,
        "truncated": truncated,
        "byStatus": by_status,
        "purchaseOrders": json(&list)?,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DraftArgs {
    supplier: String,
    lines: Vec<DraftLine>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DraftLine {
    sku: String,
    quantity: i64,
}

async fn run_draft(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: DraftArgs = args(&call)?;
    let (db, ctx) = (call.db, call.ctx);
    let tx = db.read(ctx).await?;
    // As for createPurchaseOrder: the company's admins and managers.
    let me = require_manager(&tx, ctx).await?;
    // The supplier: an ACTIVE connection to a supplier, by ID or by name.
    let links = tx
        .select::<trade_connection::Entity>()
        .filter(trade_connection::Column::State.eq(ConnectionStatus::Active))
        .all(tx.conn())
        .await?;
    let given = a.supplier.trim();
    let by_id = id::decode_any(given).map(|(_, u)| u);
    let suppliers: Vec<(Uuid, String)> = links
        .into_iter()
        .map(|c| {
            if c.requester_company_id == me {
                (c.responder_company_id, c.responder_name, c.responder_type)
            } else {
                (c.requester_company_id, c.requester_name, c.requester_type)
            }
        })
        .filter(|(_, _, kind)| kind == "SUPPLIER")
        .filter(|(u, name, _)| Some(*u) == by_id || (by_id.is_none() && name_matches(name, given)))
        .map(|(u, n, _)| (u, n))
        .collect();
    let (supplier, supplier_name) = match suppliers.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(AppError::bad_input(
                "supplier",
                format!("no supplier with an ACTIVE connection to your company matches {given:?}"),
            ));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(_, n)| n.as_str()).collect();
            return Err(AppError::bad_input(
                "supplier",
                format!("{given:?} matches several suppliers: {}", names.join(", ")),
            ));
        }
    };
    if a.lines.is_empty() || a.lines.len() > MAX_DRAFT_LINES {
        return Err(AppError::bad_input(
            "lines",
            format!("1 to {MAX_DRAFT_LINES} lines"),
        ));
    }
    // Each SKU: the supplier's catalog SKU, else the buyer's product linked to its item.
    let mut lines = Vec::new();
    for (i, l) in a.lines.iter().enumerate() {
        let sku = l.sku.trim();
        let field = format!("lines.{i}.sku");
        let items = tx
            .select::<catalog_item::Entity>()
            .filter(catalog_item::Column::CompanyId.eq(supplier))
            .filter(catalog_item::Column::Active.eq(true))
            .all(tx.conn())
            .await?;
        let mut item = items.iter().find(|it| it.sku.eq_ignore_ascii_case(sku));
        if item.is_none() {
            let own = tx
                .select::<product::Entity>()
                .filter(product::Column::SupplierCompanyId.eq(supplier))
                .all(tx.conn())
                .await?;
            let linked = own
                .iter()
                .find(|p| p.sku.eq_ignore_ascii_case(sku))
                .and_then(|p| p.supplier_item_id);
            item = items.iter().find(|it| Some(it.id) == linked);
        }
        let Some(item) = item else {
            return Err(AppError::bad_input(
                &field,
                format!("{supplier_name} has no active catalog item {sku:?}"),
            ));
        };
        lines.push(NewLine {
            catalog_item_id: id::encode(ITEM, item.id),
            quantity: l.quantity,
        });
    }
    tx.commit().await?;
    // Marked as the system's draft: a person approves it before anyone can submit it.
    let order = purchasing::create_draft(
        db,
        ctx,
        NewOrder {
            supplier_id: id::encode(COMPANY, supplier),
            location_id: None,
            lines,
            notes: a.notes,
        },
        true,
    )
    .await?;
    let lines: Vec<serde_json::Value> = order
        .lines
        .iter()
        .map(|l| {
            json!({
                "sku": l.sku,
                "name": l.name,
                "quantity": l.quantity,
                "unitPrice": money(i128::from(l.unit_price)),
            })
        })
        .collect();
    Ok(json!({
        "poNumber": order.row.po_number,
        "status": order.row.status.as_str(),
        "awaitingApproval": awaiting_approval(&order),
        "supplier": order.row.supplier_name,
        "total": money(total_of(&order)),
        "currency": order.row.currency,
        "lines": lines,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn stock_runs_out_at_the_mean_demand() {
        let today = day("2026-03-02");
        assert_eq!(runs_out(10, 2.0, today), Some((5.0, day("2026-03-07"))));
        assert_eq!(runs_out(7, 2.0, today), Some((3.5, day("2026-03-05"))));
        assert_eq!(runs_out(-3, 1.0, today), Some((0.0, today)));
        assert_eq!(runs_out(10, 0.0, today), None);
    }

    #[test]
    fn the_horizon_is_days_or_the_day_before() {
        let today = day("2026-03-02");
        assert_eq!(horizon(None, None, today).unwrap(), day("2026-03-16"));
        assert_eq!(horizon(Some(3), None, today).unwrap(), day("2026-03-05"));
        assert_eq!(
            horizon(None, Some(day("2026-03-06")), today).unwrap(),
            day("2026-03-05")
        );
        assert!(horizon(Some(-1), None, today).is_err());
    }

    #[test]
    fn purchase_orders_default_to_the_open_ones() {
        assert_eq!(po_statuses(None, false).unwrap(), Some(OPEN.to_vec()));
        assert_eq!(po_statuses(None, true).unwrap(), None);
        assert_eq!(
            po_statuses(Some(vec!["partially received".into()]), false).unwrap(),
            Some(vec![PurchaseOrderStatus::PartiallyReceived])
        );
        assert!(po_statuses(Some(vec!["LOST".into()]), false).is_err());
        assert_eq!(money(1_234_500), "123.45");
    }

    #[test]
    fn a_category_word_becomes_the_category() {
        assert_eq!(
            category_search("tortoise frame"),
            Some(("tortoise".to_owned(), Category::Frame))
        );
        assert_eq!(category_search("solution"), None);
    }

    #[test]
    fn the_tools_read_but_one_drafts() {
        let tools = tools();
        let names: Vec<_> = tools.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "inventory_stock",
                "inventory_runs_out",
                "inventory_reorder",
                "inventory_purchase_orders",
                "inventory_draft_purchase_order"
            ]
        );
        for t in &tools {
            let draft = t.name == "inventory_draft_purchase_order";
            assert_eq!(t.effect == Effect::Draft, draft, "{}", t.name);
            assert_eq!((t.parameters)()["type"], "object");
        }
    }
}
