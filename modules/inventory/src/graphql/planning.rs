//! Reorder planning: suggestions and the ABC classification.

use crate::graphql::products::Product;
use crate::reorder::{AbcClass, ServiceLevel};
use crate::service::planning::{self, Ranked, Suggestion};
use async_graphql::{Context, Object, Result, SimpleObject};
use ils_common::money::{Money, MoneyInput};
use ils_kernel::request_parts;

/// A product's reorder plan, from its sales over the period asked.
#[derive(SimpleObject)]
pub struct ReorderSuggestion {
    /// The product planned.
    pub product: Product,
    /// Available now over all locations (on hand less reserved), in units.
    pub available: i64,
    /// Ordered from suppliers and not yet received, in units.
    pub on_order: i64,
    /// Units sold a day on average over the period.
    pub mean_daily_demand: f64,
    /// The standard deviation of daily sales over the period, in units.
    pub demand_std_dev: f64,
    /// The product's lead time in days (null: not set, so no reorder point is computed).
    pub lead_time_days: Option<i32>,
    /// z x sigma x sqrt(lead time), in units (rounded up); null without a lead time.
    pub safety_stock: Option<i64>,
    /// The product's own reorder point when it has one, else mean demand x lead time +
    /// safety stock, in units; null without either.
    pub reorder_point: Option<i64>,
    /// The economic order quantity in units, when the product has a cost and an order cost
    /// in its currency is given; null otherwise.
    pub economic_order_quantity: Option<i64>,
    /// Min/max policy: what to order to reach the maximum, when available <= min; null
    /// otherwise.
    pub order_up_to: Option<i64>,
    /// Available stock plus what is on order is at or below the larger of `reorderPoint`
    /// and the product's min (docs/domain.md's available = on hand + on order - reserved):
    /// the rule `lowStock` follows too.
    pub reorder_now: bool,
    /// What to order now, in units: the min/max quantity, else the EOQ (at least what
    /// brings stock back above the reorder point), else nothing (0).
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

/// A product's place in the ABC classification.
#[derive(SimpleObject)]
pub struct AbcEntry {
    /// The product ranked.
    pub product: Product,
    /// The cost of what was sold over the period, scaled to a year, in the product's
    /// currency (rounded to cents).
    pub annual_value: Money,
    /// Cumulative share of all value up to and including this product (0..1).
    pub cumulative_share: f64,
    /// The product's class.
    pub class: AbcClass,
}

impl From<Ranked> for AbcEntry {
    fn from(r: Ranked) -> Self {
        AbcEntry {
            annual_value: Money {
                amount: r.annual_value,
                currency: r.product.currency.clone(),
            },
            product: Product(r.product),
            cumulative_share: r.cumulative_share,
            class: r.class,
        }
    }
}

#[derive(Default)]
pub struct PlanningQuery;

#[Object]
impl PlanningQuery {
    /// Reorder points, safety stock and order quantities of your active products, from
    /// their sales (any member).
    async fn reorder_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Days of sales to learn demand from, 7..730 (default 90).")] days: Option<
            i32,
        >,
        #[graphql(desc = "How sure to be of not running out during a lead time (default P95).")]
        service_level: Option<ServiceLevel>,
        #[graphql(
            desc = "What placing one order costs, for the economic order quantity of the products kept in its currency; without it no EOQ is computed."
        )]
        order_cost: Option<MoneyInput>,
        #[graphql(
            desc = "A year's holding cost of a unit as a share of its cost, more than 0, at most 5 (default 0.25)."
        )]
        holding_rate: Option<f64>,
    ) -> Result<Vec<ReorderSuggestion>> {
        let (tenant, db) = request_parts(ctx)?;
        let plans =
            planning::suggestions(db, tenant, days, service_level, order_cost, holding_rate)
                .await?;
        Ok(plans.into_iter().map(ReorderSuggestion::from).collect())
    }

    /// Your products ranked by the cost of what was sold over the last `days`, scaled to a
    /// year: A about 80 % of the value, B the next 15 %, C the rest (any member).
    async fn abc_classification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Days of sales to rank by, 7..730 (default 365).")] days: Option<i32>,
    ) -> Result<Vec<AbcEntry>> {
        let (tenant, db) = request_parts(ctx)?;
        let ranked = planning::abc(db, tenant, days).await?;
        Ok(ranked.into_iter().map(AbcEntry::from).collect())
    }
}
