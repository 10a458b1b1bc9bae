//! Reorder planning from the company's own sales history: reorder points with safety
//! stock for a chosen service level, EOQ where cost data exists, the min/max policy, and
//! the ABC classification by annual consumption value (docs/domain.md's formulas, in
//! `reorder.rs`). Reads the ledger's SALE lines of the period once, and the balances.

use crate::ledger::MovementKind;
use crate::model::PurchaseOrderStatus;
use crate::reorder::{self, AbcClass, DemandStats, Plan, ServiceLevel};
use chrono::{Duration, NaiveDate, Utc};
use ils_common::money::MoneyInput;
use ils_entity::{product, stock_balance as balance, stock_movement as movement};
use ils_kernel::authz::require_member;
use ils_kernel::{AppError, AppResult, Db, FieldErrors, TenantContext, Tx};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// The longest history a plan reads, in days.
const MAX_DAYS: i32 = 730;

/// Per product: units sold per day of the period (zero days included) and the cost of
/// what was sold (units x the average cost at the time, in ten-thousandths).
struct Sales {
    daily: HashMap<NaiveDate, f64>,
    value_units: i128,
}

async fn sales(tx: &Tx, days: i32) -> AppResult<HashMap<Uuid, Sales>> {
    let since = Utc::now() - Duration::days(i64::from(days));
    let rows: Vec<(Uuid, i64, i64, chrono::DateTime<Utc>)> = tx
        .select::<movement::Entity>()
        .select_only()
        .column(movement::Column::ProductId)
        .column(movement::Column::Quantity)
        .column(movement::Column::AvgCostAfter)
        .column(movement::Column::CreatedAt)
        .filter(movement::Column::Kind.eq(MovementKind::Sale.as_str()))
        .filter(movement::Column::CreatedAt.gte(since))
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, Sales> = HashMap::new();
    for (product, qty, cost, at) in rows {
        let s = out.entry(product).or_insert_with(|| Sales {
            daily: HashMap::new(),
            value_units: 0,
        });
        let sold = -qty; // a sale's quantity is the negative change of stock
        *s.daily.entry(at.date_naive()).or_default() += sold as f64;
        s.value_units += i128::from(sold) * i128::from(cost);
    }
    Ok(out)
}

/// Available stock per product over all locations (balances, not the ledger).
async fn available(tx: &Tx) -> AppResult<HashMap<Uuid, i64>> {
    let rows: Vec<(Uuid, i64, i64)> = tx
        .select::<balance::Entity>()
        .select_only()
        .column(balance::Column::ProductId)
        .column(balance::Column::OnHand)
        .column(balance::Column::Reserved)
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for (p, on, res) in rows {
        *out.entry(p).or_default() += on - res;
    }
    Ok(out)
}

/// Units on order per product: what open purchase orders (submitted, acknowledged, partly
/// received) of the company have not delivered yet.
async fn on_order(tx: &Tx, me: Uuid) -> AppResult<HashMap<Uuid, i64>> {
    use PurchaseOrderStatus as S;
    use ils_entity::{purchase_order as po, purchase_order_line as line};
    let open: Vec<Uuid> = tx
        .select::<po::Entity>()
        .select_only()
        .column(po::Column::Id)
        .filter(po::Column::CompanyId.eq(me))
        .filter(po::Column::Status.is_in([S::Submitted, S::Acknowledged, S::PartiallyReceived]))
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    if open.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, i64, i64)> = tx
        .select::<line::Entity>()
        .select_only()
        .column(line::Column::ProductId)
        .column(line::Column::Quantity)
        .column(line::Column::ReceivedQuantity)
        .filter(line::Column::OrderId.is_in(open))
        .into_tuple()
        .all(tx.conn())
        .await?;
    for (p, ordered, received) in rows {
        *out.entry(p).or_default() += (ordered - received).max(0);
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
    /// Daily sales over the period.
    pub demand: DemandStats,
    pub lead_time_days: Option<i32>,
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
/// from the last `days` of sales (default 90) at a service level (default P95). EOQ uses
/// `order_cost` (per order, for the products kept in its currency) and `holding_rate` (a
/// year's holding cost as a share of the unit cost, default 0.25).
pub async fn suggestions(
    db: &Db,
    ctx: &TenantContext,
    days: Option<i32>,
    service_level: Option<ServiceLevel>,
    order_cost: Option<MoneyInput>,
    holding_rate: Option<f64>,
) -> AppResult<Vec<Suggestion>> {
    let me = require_member(ctx)?;
    let days = check_days(days.unwrap_or(90))?;
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
    let tx = db.tenant(ctx).await?;
    let products = tx
        .select::<product::Entity>()
        .filter(product::Column::Active.eq(true))
        .all(tx.conn())
        .await?;
    let sales = sales(&tx, days).await?;
    let stock = available(&tx).await?;
    let ordered = on_order(&tx, me).await?;
    tx.commit().await?;
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for p in products {
        let series: Vec<f64> = (0..days)
            .map(|d| {
                let day = today - Duration::days(i64::from(d));
                sales
                    .get(&p.id)
                    .and_then(|s| s.daily.get(&day).copied())
                    .unwrap_or(0.0)
            })
            .collect();
        let stats = reorder::demand_stats(&series);
        let available = stock.get(&p.id).copied().unwrap_or(0);
        let on_order = ordered.get(&p.id).copied().unwrap_or(0);
        let position = available + on_order;
        let settings = reorder::Settings {
            reorder_point: p.reorder_point,
            min_quantity: p.min_quantity,
            max_quantity: p.max_quantity,
            lead_time_days: p.lead_time_days.map(f64::from),
        };
        // A year's holding cost of a unit: its cost (in ten-thousandths) at the rate.
        let costs = match (&order_cost, p.cost_units) {
            (Some((s, currency)), Some(cost)) if cost > 0 && *currency == p.currency => {
                Some((*s, holding_rate * cost as f64 / 10_000.0))
            }
            _ => None,
        };
        let plan = reorder::plan(&stats, z, &settings, position, costs);
        out.push(Suggestion {
            lead_time_days: p.lead_time_days,
            product: p,
            available,
            on_order,
            demand: stats,
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
    let sales = sales(&tx, days).await?;
    tx.commit().await?;
    let scale = 365.0 / f64::from(days);
    let values: Vec<(Uuid, f64)> = products
        .iter()
        .map(|p| {
            let units = sales.get(&p.id).map_or(0, |s| s.value_units);
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
