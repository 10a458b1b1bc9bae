//! Reorder planning: suggestions, the ABC classification and demand forecasts.

use crate::forecast::{Interval, Intervals};
use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::reorder::{AbcClass, ServiceLevel};
use crate::service::demand::{self, ProductForecast, Spiking};
use crate::service::planning::{self, Ranked, Suggestion};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use ils_common::money::{Money, MoneyInput};
use ils_kernel::request_parts;
use ils_kernel::scalars::Date;

/// A product's reorder plan, from its demand forecast over its lead time.
#[derive(SimpleObject)]
pub struct ReorderSuggestion {
    /// The product planned.
    pub product: Product,
    /// Available now over all locations (on hand less reserved), in units.
    pub available: i64,
    /// Ordered from suppliers and not yet received, in units.
    pub on_order: i64,
    /// Units a day the product's demand forecast expects over its lead time plus review
    /// (over the next day without a lead time).
    pub mean_daily_demand: f64,
    /// The standard deviation of daily sales over the history read, in units.
    pub demand_std_dev: f64,
    /// The forecasting method chosen for the product (as `demandForecast` names it).
    pub forecast_method: String,
    /// Units the forecast expects over the lead time plus the review period; null without
    /// a lead time.
    pub lead_time_demand: Option<f64>,
    /// The lead time in days: the product's, else its linked supplier item's (null:
    /// neither, so no reorder point is computed).
    pub lead_time_days: Option<i32>,
    /// The review period planned with, in days.
    pub review_days: i32,
    /// z x the standard deviation of the forecast's error over the lead time plus review
    /// (from its backtest), in units (rounded up); null without a lead time.
    pub safety_stock: Option<i64>,
    /// The product's own reorder point when it has one, else `leadTimeDemand` plus safety
    /// stock, in units; null without either.
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
            mean_daily_demand: demand::hundredths(s.daily),
            demand_std_dev: demand::hundredths(s.spread),
            forecast_method: s.method.code().to_owned(),
            lead_time_demand: s.lead_time_demand.map(demand::hundredths),
            lead_time_days: s.lead_time_days,
            review_days: s.review_days,
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

/// A forecast quantity with its 80 % and 95 % prediction intervals (units; lower bounds
/// never below 0).
#[derive(SimpleObject)]
pub struct ForecastRange {
    /// The point forecast, in units.
    pub units: f64,
    /// The 80 % interval's lower bound.
    pub low80: f64,
    /// The 80 % interval's upper bound.
    pub high80: f64,
    /// The 95 % interval's lower bound.
    pub low95: f64,
    /// The 95 % interval's upper bound.
    pub high95: f64,
}

impl ForecastRange {
    fn of(units: f64, i: &Intervals) -> Self {
        let r = demand::hundredths;
        let (
            Interval {
                lower: l80,
                upper: h80,
            },
            Interval {
                lower: l95,
                upper: h95,
            },
        ) = (i.p80, i.p95);
        ForecastRange {
            units: r(units),
            low80: r(l80),
            high80: r(h80),
            low95: r(l95),
            high95: r(h95),
        }
    }
}

/// One day's forecast.
#[derive(SimpleObject)]
pub struct ForecastDay {
    /// The day (UTC).
    pub date: Date,
    /// The units forecast to sell that day, with intervals.
    pub demand: ForecastRange,
}

/// Units sold on one day (UTC).
#[derive(SimpleObject)]
pub struct DailyDemand {
    /// The day (UTC).
    pub date: Date,
    /// Units sold.
    pub units: i64,
}

/// A product's daily demand forecast: the method that forecast its own past best in a
/// rolling-origin backtest, what it forecasts, how wrong it was, and why it was chosen.
#[derive(SimpleObject)]
pub struct DemandForecast {
    /// The product forecast.
    pub product: Product,
    /// The location forecast; null: all your locations together.
    pub location: Option<Location>,
    /// Days forecast, from today.
    pub horizon_days: i32,
    /// The method's code: NAIVE, SES, CROSTON, SBA, TSB or HOLT_WINTERS.
    pub method: String,
    /// The method with its parameters, in words (for example "TSB (α 0.1, β 0.1)").
    pub method_description: String,
    /// One sentence saying why this method was chosen.
    pub why: String,
    /// Each day's forecast, today first.
    pub days: Vec<ForecastDay>,
    /// The forecast over the whole horizon, with its intervals.
    pub total: ForecastRange,
    /// The chosen method's backtest error: root mean squared scaled error (below 1:
    /// better than a naive forecast made inside the history); null when there was too
    /// little history to compare methods.
    pub backtest_error: Option<f64>,
    /// The naive forecast's backtest error over the same origins, for comparison.
    pub naive_backtest_error: Option<f64>,
    /// The chosen method's backtest bias: (forecast - actual) / actual over the backtest,
    /// positive when it over-forecast; null without a backtest or sales in it.
    pub backtest_bias: Option<f64>,
    /// How many methods were compared (0: too little history, a default was used).
    pub methods_compared: i32,
    /// Days of history the forecast learned from (complete days, up to 730).
    pub history_days: i32,
    /// Whether demand is intermittent (no sale on more than about a quarter of days).
    pub intermittent: bool,
    /// Units sold on each of the last 28 days, today last (today so far).
    pub recent_demand: Vec<DailyDemand>,
}

impl From<ProductForecast> for DemandForecast {
    fn from(p: ProductForecast) -> Self {
        let f = &p.forecast;
        let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
        DemandForecast {
            horizon_days: f.points.len() as i32,
            method: f.method.code().to_owned(),
            method_description: f.method.to_string(),
            why: f.reason("days"),
            days: f
                .points
                .iter()
                .zip(&f.intervals)
                .enumerate()
                .map(|(i, (u, iv))| ForecastDay {
                    date: Date(p.first_day + chrono::Duration::days(i as i64)),
                    demand: ForecastRange::of(*u, iv),
                })
                .collect(),
            total: ForecastRange::of(f.total, &f.total_intervals),
            backtest_error: f.rmsse().map(round),
            naive_backtest_error: f.naive.map(|b| round(b.rmsse)),
            backtest_bias: f.bias().map(round),
            methods_compared: f.compared as i32,
            history_days: f.history_len as i32,
            intermittent: f.intermittent(),
            recent_demand: p
                .recent
                .iter()
                .map(|(d, u)| DailyDemand {
                    date: Date(*d),
                    units: *u,
                })
                .collect(),
            product: Product(p.product),
            location: p.location.map(Location::from),
        }
    }
}

/// A product selling at least three times its usual rate at a location: over the last 14
/// days (today included) against the 90 days before them, with at least 10 units sold
/// recently. `inventory.demand_spike` announces each spike once, on the sale that starts
/// it.
#[derive(SimpleObject)]
#[graphql(name = "DemandSpike")]
pub struct SpikeEntry {
    /// The product selling faster.
    pub product: Product,
    /// Where it sells faster.
    pub location: Location,
    /// Units sold over the last 14 days.
    pub recent_units: i64,
    /// Units a day over the last 14 days.
    pub recent_daily_rate: f64,
    /// Units a day over the 90 days before them (fewer for a product added since, at
    /// least 28).
    pub usual_daily_rate: f64,
    /// How many times the usual rate it sells now.
    pub ratio: f64,
}

impl From<Spiking> for SpikeEntry {
    fn from(s: Spiking) -> Self {
        let round = demand::hundredths;
        SpikeEntry {
            product: Product(s.product),
            location: Location::from(s.location),
            recent_units: s.spike.recent_units as i64,
            recent_daily_rate: round(s.spike.recent_rate),
            usual_daily_rate: round(s.spike.usual_rate),
            ratio: round(s.spike.ratio),
        }
    }
}

#[derive(Default)]
pub struct PlanningQuery;

#[Object]
impl PlanningQuery {
    /// Reorder points, safety stock and order quantities of your active products, from
    /// their demand forecasts over their lead times plus the review period (any member).
    async fn reorder_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Days of sales to learn demand from, 7..730 (default 365).")] days: Option<
            i32,
        >,
        #[graphql(
            desc = "Days between two orders of a product (the review period), 0..60: stock must last the lead time plus these. Default: your agentSettings.reviewDays."
        )]
        review_days: Option<i32>,
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
        let plans = planning::suggestions(
            db,
            tenant,
            days,
            review_days,
            service_level,
            order_cost,
            holding_rate,
        )
        .await?;
        Ok(plans.into_iter().map(ReorderSuggestion::from).collect())
    }

    /// A product's daily demand forecast from its own sales history (any member): the
    /// method that forecast the product's past best, with 80 % and 95 % intervals and why.
    async fn demand_forecast(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to forecast.")] product_id: ID,
        #[graphql(desc = "A location to forecast alone; omitted: all your locations together.")]
        location_id: Option<ID>,
        #[graphql(desc = "Days to forecast from today, 1..90 (default 7).")] horizon_days: Option<
            i32,
        >,
    ) -> Result<DemandForecast> {
        let (tenant, db) = request_parts(ctx)?;
        let f =
            demand::forecast(db, tenant, &product_id, location_id.as_ref(), horizon_days).await?;
        Ok(f.into())
    }

    /// Your products selling at least three times their usual rate at a location now, the
    /// steepest first (any member).
    async fn demand_spikes(&self, ctx: &Context<'_>) -> Result<Vec<SpikeEntry>> {
        let (tenant, db) = request_parts(ctx)?;
        let found = demand::spikes(db, tenant).await?;
        Ok(found.into_iter().map(SpikeEntry::from).collect())
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
