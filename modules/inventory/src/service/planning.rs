//! Reorder planning from the company's own sales history: reorder points from each
//! product's demand forecast over its lead time, with safety stock from the forecast's
//! backtest error at a chosen service level, EOQ where cost data exists, the min/max
//! policy, and the ABC classification by annual consumption value (docs/domain.md's
//! formulas, in `reorder.rs` and `forecast.rs`). Reads the demand history of the period
//! once (the ABC the ledger's SALE lines, for their cost), and the balances.

use crate::forecast::{self, Method};
use crate::ledger::MovementKind;
use crate::reorder::{self, AbcClass, LeadTimeDemand, Plan, ServiceLevel};
use crate::service::demand::{self, Series};
use crate::service::position::{available, on_order};
use chrono::{Duration, Utc};
use ils_common::money::MoneyInput;
use ils_entity::{catalog_item, product, stock_movement as movement};
use ils_kernel::authz::require_member;
use ils_kernel::{AppError, AppResult, Db, FieldErrors, TenantContext, Tx};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// The longest history a plan reads, in days.
const MAX_DAYS: i32 = 730;

/// Per product, the cost of what was sold over the last `days` (units x the average cost
/// at the time, in ten-thousandths): the ledger's SALE lines, which carry the cost.
async fn sold_value(tx: &Tx, days: i32) -> AppResult<HashMap<Uuid, i128>> {
    let since = Utc::now() - Duration::days(i64::from(days));
    let rows: Vec<(Uuid, i64, i64)> = tx
        .select::<movement::Entity>()
        .select_only()
        .column(movement::Column::ProductId)
        .column(movement::Column::Quantity)
        .column(movement::Column::AvgCostAfter)
        .filter(movement::Column::Kind.eq(MovementKind::Sale.as_str()))
        .filter(movement::Column::CreatedAt.gte(since))
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, i128> = HashMap::new();
    for (product, qty, cost) in rows {
        // a sale's quantity is the negative change of stock
        *out.entry(product).or_default() += i128::from(-qty) * i128::from(cost);
    }
    Ok(out)
}

fn check_days(days: i32) -> AppResult<i32> {
    if !(7..=MAX_DAYS).contains(&days) {
        return Err(AppError::bad_input("days", format!("7..{MAX_DAYS}")));
    }
    Ok(days)
}

/// A product's reorder plan, with what it was made from.
pub struct Suggestion {
    pub product: product::Model,
    /// Available now over all locations.
    pub available: i64,
    /// Ordered and not yet received.
    pub on_order: i64,
    /// Units a day the forecast expects over the lead time (the next day without one).
    pub daily: f64,
    /// The standard deviation of daily sales over the history read.
    pub spread: f64,
    /// The forecasting method chosen for the product.
    pub method: Method,
    /// Units the forecast expects over the lead time plus the review period; `None`
    /// without a lead time.
    pub lead_time_demand: Option<f64>,
    /// The product's lead time, else its linked supplier item's.
    pub lead_time_days: Option<i32>,
    /// The review period planned with.
    pub review_days: i32,
    pub plan: Plan,
}

/// A product's place in the ABC classification (the GraphQL `AbcEntry` says what each
/// number is).
pub struct Ranked {
    pub product: product::Model,
    pub annual_value: Decimal,
    pub cumulative_share: f64,
    pub class: AbcClass,
}

/// Reorder points, safety stock and order quantities of the company's active products,
/// from their demand forecasts over their lead times plus the review period
/// (`review_days`, 0..=60; default the company's agent setting), learnt from the last
/// `days` of sales (default 365, complete days: today's sales so far are not history yet),
/// at a service level (default P95). EOQ uses
/// `order_cost` (per order, for the products kept in its currency) and `holding_rate` (a
/// year's holding cost as a share of the unit cost, default 0.25).
pub async fn suggestions(
    db: &Db,
    ctx: &TenantContext,
    days: Option<i32>,
    review_days: Option<i32>,
    service_level: Option<ServiceLevel>,
    order_cost: Option<MoneyInput>,
    holding_rate: Option<f64>,
) -> AppResult<Vec<Suggestion>> {
    let me = require_member(ctx)?;
    let days = check_days(days.unwrap_or(365))?;
    let z = service_level.unwrap_or(ServiceLevel::P95).z();
    let holding_rate = holding_rate.unwrap_or(0.25);
    if !(holding_rate > 0.0 && holding_rate <= 5.0) {
        return Err(AppError::bad_input("holdingRate", "more than 0, at most 5"));
    }
    let order_cost = match order_cost {
        None => None,
        Some(c) => {
            let mut errors = FieldErrors::default();
            let Some(c) = c.check("orderCost", false, &mut errors) else {
                return Err(AppError::invalid("", errors.into_vec()));
            };
            c.amount.to_f64().map(|amount| (amount, c.currency))
        }
    };
    if let Some(r) = review_days
        && !(0..=60).contains(&r)
    {
        return Err(AppError::bad_input("reviewDays", "0..60"));
    }
    let tx = db.tenant(ctx).await?;
    let review = match review_days {
        Some(r) => r,
        None => {
            crate::service::agent::load_settings(&tx, me)
                .await?
                .review_days
        }
    };
    let products = tx
        .select::<product::Entity>()
        .filter(product::Column::Active.eq(true))
        .all(tx.conn())
        .await?;
    // A product without its own lead time takes its supplier item's, as the agent does.
    let item_lead: HashMap<Uuid, i32> = tx
        .find_many::<catalog_item::Entity>(
            products
                .iter()
                .filter(|p| p.lead_time_days.is_none())
                .filter_map(|p| p.supplier_item_id)
                .collect::<Vec<_>>(),
        )
        .await?
        .into_iter()
        .map(|i| (i.id, i.lead_time_days))
        .collect();
    let today = Utc::now().date_naive();
    // Complete days only: today's sales so far are not history yet.
    let read = Series::ending(today - Duration::days(1), days as usize);
    let sold = demand::daily(&tx, &read, None, None).await?;
    let stock = available(&tx).await?;
    let ordered = on_order(&tx, me).await?;
    tx.commit().await?;
    let none = vec![0.0; read.days];
    let mut out = Vec::new();
    for p in products {
        let all = sold.get(&p.id).unwrap_or(&none);
        let history = demand::own_days(all, read.first, p.created_at.date_naive());
        let lead_time_days = p
            .lead_time_days
            .or_else(|| p.supplier_item_id.and_then(|i| item_lead.get(&i).copied()));
        let lead = lead_time_days.map(|l| (l.max(0) + review) as usize);
        let horizon = lead.unwrap_or(1).max(1);
        let f = forecast::choose(history, horizon, Some(7));
        let lead_demand = lead.map(|l| {
            if l == 0 {
                LeadTimeDemand::default()
            } else {
                LeadTimeDemand {
                    units: f.total,
                    sigma: f.total_sigma(),
                }
            }
        });
        let daily = f.total / horizon as f64;
        let available = stock.get(&p.id).copied().unwrap_or(0);
        let on_order = ordered.get(&p.id).copied().unwrap_or(0);
        let position = available + on_order;
        let settings = reorder::Settings {
            reorder_point: p.reorder_point,
            min_quantity: p.min_quantity,
            max_quantity: p.max_quantity,
        };
        // A year's holding cost of a unit: its cost (in ten-thousandths) at the rate.
        let costs = match (&order_cost, p.cost_units) {
            (Some((s, currency)), Some(cost)) if cost > 0 && *currency == p.currency => {
                Some((*s, holding_rate * cost as f64 / 10_000.0))
            }
            _ => None,
        };
        let plan = reorder::plan(daily, lead_demand, z, &settings, position, costs);
        out.push(Suggestion {
            lead_time_days,
            review_days: review,
            product: p,
            available,
            on_order,
            daily,
            spread: reorder::demand_stats(history).std_dev,
            method: f.method,
            lead_time_demand: lead_demand.map(|l| l.units),
            plan,
        });
    }
    Ok(out)
}

/// The company's products ranked by the cost of what was sold over the last `days`
/// (default 365), scaled to a year: A about 80 % of the value, B the next 15 %, C the rest.
pub async fn abc(db: &Db, ctx: &TenantContext, days: Option<i32>) -> AppResult<Vec<Ranked>> {
    require_member(ctx)?;
    let days = check_days(days.unwrap_or(365))?;
    let tx = db.tenant(ctx).await?;
    let products = tx.select::<product::Entity>().all(tx.conn()).await?;
    let sales = sold_value(&tx, days).await?;
    tx.commit().await?;
    let scale = 365.0 / f64::from(days);
    let values: Vec<(Uuid, f64)> = products
        .iter()
        .map(|p| {
            let units = sales.get(&p.id).copied().unwrap_or(0);
            (p.id, units as f64 / 10_000.0 * scale)
        })
        .collect();
    let by_id: HashMap<Uuid, product::Model> = products.into_iter().map(|p| (p.id, p)).collect();
    let value_of: HashMap<Uuid, f64> = values.iter().copied().collect();
    Ok(reorder::abc(&values)
        .into_iter()
        .filter_map(|(id, class, share)| {
            let value = value_of.get(&id).copied().unwrap_or(0.0);
            Some(Ranked {
                product: by_id.get(&id)?.clone(),
                annual_value: Decimal::from_f64_retain(value)
                    .unwrap_or_default()
                    .round_dp(2),
                cumulative_share: share,
                class,
            })
        })
        .collect())
}
