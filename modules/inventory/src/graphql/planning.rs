//! Reorder planning: suggestions and the ABC classification.

use crate::graphql::products::Product;
use crate::reorder::{AbcClass, ServiceLevel};
use crate::service::planning::{self, Ranked, Suggestion};
use async_graphql::{Context, Object, Result, SimpleObject};
use ils_kernel::request_parts;
use rust_decimal::Decimal;

/// A product's reorder plan.
#[derive(SimpleObject)]
pub struct ReorderSuggestion {
    pub product: Product,
    /// Available now over all locations (on hand less reserved).
    pub available: i64,
    /// Ordered from suppliers and not yet received.
    pub on_order: i64,
    pub mean_daily_demand: f64,
    pub demand_std_dev: f64,
    /// The product's lead time (null: not set, so no reorder point is computed).
    pub lead_time_days: Option<i32>,
    /// z x sigma x sqrt(lead time), in units (rounded up).
    pub safety_stock: Option<i64>,
    /// Mean demand x lead time + safety stock.
    pub reorder_point: Option<i64>,
    /// The economic order quantity, when the product has a cost and an order cost is given.
    pub economic_order_quantity: Option<i64>,
    /// Min/max policy: what to order to reach the maximum, when available <= min.
    pub order_up_to: Option<i64>,
    /// Available stock plus what is on order is at or below the computed reorder point
    /// (or the min): docs/domain.md's available = on hand + on order - reserved.
    pub reorder_now: bool,
    /// What to order now: the min/max quantity, else the EOQ (at least what brings stock
    /// back above the reorder point), else nothing.
    pub suggested_quantity: i64,
}

impl From<Suggestion> for ReorderSuggestion {
    fn from(s: Suggestion) -> Self {
        ReorderSuggestion {
            product: Product(s.product),
            available: s.available,
            on_order: s.on_order,
            mean_daily_demand: s.demand.mean,
            demand_std_dev: s.demand.std_dev,
            lead_time_days: s.lead_time_days,
            safety_stock: s.plan.safety_stock,
            reorder_point: s.plan.reorder_point,
            economic_order_quantity: s.plan.eoq,
            order_up_to: s.plan.order_up_to,
            reorder_now: s.plan.reorder_now,
            suggested_quantity: s.plan.suggested,
        }
    }
}

#[derive(SimpleObject)]
pub struct AbcEntry {
    pub product: Product,
    /// The cost of what was sold over the period, scaled to a year.
    pub annual_value: Decimal,
    /// Cumulative share of all value up to and including this product (0..1).
    pub cumulative_share: f64,
    pub class: AbcClass,
}

impl From<Ranked> for AbcEntry {
    fn from(r: Ranked) -> Self {
        AbcEntry {
            product: Product(r.product),
            annual_value: r.annual_value,
            cumulative_share: r.cumulative_share,
            class: r.class,
        }
    }
}

#[derive(Default)]
pub struct PlanningQuery;

#[Object]
impl PlanningQuery {
    /// Reorder points, safety stock and order quantities of your active products, from the
    /// last `days` of sales (default 90) at a service level (default P95). EOQ uses
    /// `orderCost` (per order) and `holdingRate` (a year's holding cost as a share of the
    /// unit cost, default 0.25).
    async fn reorder_suggestions(
        &self,
        ctx: &Context<'_>,
        days: Option<i32>,
        service_level: Option<ServiceLevel>,
        order_cost: Option<Decimal>,
        holding_rate: Option<f64>,
    ) -> Result<Vec<ReorderSuggestion>> {
        let (tenant, db) = request_parts(ctx)?;
        let plans =
            planning::suggestions(db, tenant, days, service_level, order_cost, holding_rate)
                .await?;
        Ok(plans.into_iter().map(ReorderSuggestion::from).collect())
    }

    /// Your products ranked by the cost of what was sold over the last `days` (default
    /// 365), scaled to a year: A about 80 % of the value, B the next 15 %, C the rest.
    async fn abc_classification(
        &self,
        ctx: &Context<'_>,
        days: Option<i32>,
    ) -> Result<Vec<AbcEntry>> {
        let (tenant, db) = request_parts(ctx)?;
        let ranked = planning::abc(db, tenant, days).await?;
        Ok(ranked.into_iter().map(AbcEntry::from).collect())
    }
}
