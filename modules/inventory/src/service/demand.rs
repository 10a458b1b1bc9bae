//! Demand history: units sold per product, location and day (UTC), kept in
//! `demand_daily` with each sale (in the transaction that posts it), and read in bulk as
//! daily series for forecasts, zero days included.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ils_entity::demand_daily as demand;
use ils_kernel::{AppResult, Tx};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// Adds a sale of `units` at `at` to its day (an upsert: two sales of one day at once both
/// count).
pub(crate) async fn record_sale(
    tx: &Tx,
    product: Uuid,
    location: Uuid,
    units: i64,
    at: DateTime<Utc>,
) -> AppResult<()> {
    tx.upsert::<demand::Entity, _>(
        demand::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: Set(Uuid::nil()),
            product_id: Set(product),
            location_id: Set(location),
            day: Set(at.date_naive()),
            units: Set(units),
        },
        &[
            demand::Column::ProductId,
            demand::Column::LocationId,
            demand::Column::Day,
        ],
        vec![(
            demand::Column::Units,
            Tx::existing::<demand::Entity>(demand::Column::Units)
                .add(Tx::proposed::<demand::Entity>(demand::Column::Units)),
        )],
    )
    .await
}

/// Daily series of `days` days ending with `last` (oldest first), zero days included.
pub struct Series {
    pub first: NaiveDate,
    pub days: usize,
}

impl Series {
    pub fn ending(last: NaiveDate, days: usize) -> Series {
        Series {
            first: last - Duration::days(days.saturating_sub(1) as i64),
            days,
        }
    }

    fn index(&self, day: NaiveDate) -> Option<usize> {
        let i = (day - self.first).num_days();
        (0..self.days as i64).contains(&i).then_some(i as usize)
    }
}

/// The days of `series` sold, as (product, location, day, units): one range read of the
/// company's days (or one product's, one location's), whatever the number of products.
async fn days_sold(
    tx: &Tx,
    series: &Series,
    product: Option<Uuid>,
    location: Option<Uuid>,
) -> AppResult<Vec<(Uuid, Uuid, NaiveDate, i64)>> {
    let last = series.first + Duration::days(series.days as i64 - 1);
    let mut q = tx
        .select::<demand::Entity>()
        .select_only()
        .column(demand::Column::ProductId)
        .column(demand::Column::LocationId)
        .column(demand::Column::Day)
        .column(demand::Column::Units)
        .filter(demand::Column::Day.gte(series.first))
        .filter(demand::Column::Day.lte(last));
    if let Some(p) = product {
        q = q.filter(demand::Column::ProductId.eq(p));
    }
    if let Some(l) = location {
        q = q.filter(demand::Column::LocationId.eq(l));
    }
    Ok(q.into_tuple().all(tx.conn()).await?)
}

/// Daily series keyed by `key` of each row's product and location.
fn series_by<K: std::hash::Hash + Eq>(
    series: &Series,
    rows: Vec<(Uuid, Uuid, NaiveDate, i64)>,
    key: impl Fn(Uuid, Uuid) -> K,
) -> HashMap<K, Vec<f64>> {
    let mut out: HashMap<K, Vec<f64>> = HashMap::new();
    for (p, l, day, units) in rows {
        if let Some(i) = series.index(day) {
            out.entry(key(p, l))
                .or_insert_with(|| vec![0.0; series.days])[i] += units as f64;
        }
    }
    out
}

/// Per product (all locations together, or `location`'s alone), its daily demand over
/// `series`. Products without a sale in the period are absent.
pub async fn daily(
    tx: &Tx,
    series: &Series,
    product: Option<Uuid>,
    location: Option<Uuid>,
) -> AppResult<HashMap<Uuid, Vec<f64>>> {
    let rows = days_sold(tx, series, product, location).await?;
    Ok(series_by(series, rows, |p, _| p))
}

/// Per product and location, its daily demand over `series` (absent: no sale).
pub async fn daily_by_location(
    tx: &Tx,
    series: &Series,
    product: Option<Uuid>,
    location: Option<Uuid>,
) -> AppResult<HashMap<(Uuid, Uuid), Vec<f64>>> {
    let rows = days_sold(tx, series, product, location).await?;
    Ok(series_by(series, rows, |p, l| (p, l)))
}

/// A rate or quantity as shown (events, GraphQL): rounded to hundredths.
pub(crate) fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Days of the recent rate a spike compares (today included).
pub const SPIKE_RECENT_DAYS: usize = 14;
/// Days of the usual rate, just before the recent ones.
pub const SPIKE_USUAL_DAYS: usize = 90;
/// How many times the usual rate the recent rate must be.
pub const SPIKE_RATIO: f64 = 3.0;
/// The fewest units sold in the recent days for a spike (three sales instead of one are
/// no spike).
pub const SPIKE_MIN_UNITS: f64 = 10.0;
/// The fewest days of usual rate a spike is measured against (a product added last week
/// has no usual rate yet).
pub const SPIKE_MIN_USUAL_DAYS: usize = 28;

/// A product selling much faster than usual.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spike {
    /// Units sold over the recent [`SPIKE_RECENT_DAYS`] days.
    pub recent_units: f64,
    /// Units a day over the recent days.
    pub recent_rate: f64,
    /// Units a day over the [`SPIKE_USUAL_DAYS`] days before them.
    pub usual_rate: f64,
    /// `recent_rate / usual_rate`.
    pub ratio: f64,
}

/// The spike in `daily` (up to the last [`SPIKE_USUAL_DAYS`] + [`SPIKE_RECENT_DAYS`] days of
/// the product, today last), if the recent rate is at least [`SPIKE_RATIO`] times the
/// usual one (over the days before the recent ones, at least [`SPIKE_MIN_USUAL_DAYS`]) and
/// at least [`SPIKE_MIN_UNITS`] were sold recently. A product that sold nothing in the
/// usual days has no usual rate to compare: a launch, not a spike.
pub fn spike(daily: &[f64]) -> Option<Spike> {
    let n = daily.len();
    let recent_days = &daily[n.saturating_sub(SPIKE_RECENT_DAYS)..];
    let usual_days =
        &daily[n.saturating_sub(SPIKE_RECENT_DAYS + SPIKE_USUAL_DAYS)..n - recent_days.len()];
    let sum = |d: &[f64]| {
        d.iter()
            .map(|x| f64::max(*x, 0.0))
            .filter(|x| x.is_finite())
            .sum::<f64>()
    };
    let recent_units = sum(recent_days);
    let usual_units = sum(usual_days);
    if usual_days.len() < SPIKE_MIN_USUAL_DAYS
        || usual_units <= 0.0
        || recent_units < SPIKE_MIN_UNITS
    {
        return None;
    }
    let recent_rate = recent_units / SPIKE_RECENT_DAYS as f64;
    let usual_rate = usual_units / usual_days.len() as f64;
    let ratio = recent_rate / usual_rate;
    (ratio >= SPIKE_RATIO).then_some(Spike {
        recent_units,
        recent_rate,
        usual_rate,
        ratio,
    })
}

/// A product's own days of `days` (a series starting on `first`): from [`own_start`].
pub fn own_days(days: &[f64], first: NaiveDate, added: NaiveDate) -> &[f64] {
    &days[own_start(days, first, added)..]
}

/// Where a product's days begin in `days` (a series starting on `first`): the day it was
/// added, or its first sale when that is earlier (sales imported with it). Days before
/// are not days without sales.
fn own_start(days: &[f64], first: NaiveDate, added: NaiveDate) -> usize {
    let added = (added - first).num_days().clamp(0, days.len() as i64) as usize;
    days.iter()
        .position(|u| *u != 0.0)
        .map_or(added, |sold| sold.min(added))
}

/// The spike of one product at one location as of today (its sales up to now included,
/// `just_sold` of them by the sale being posted), and whether it was spiking just before
/// that sale.
pub(crate) async fn spike_of(
    tx: &Tx,
    product: &ils_entity::product::Model,
    location: Uuid,
    just_sold: i64,
) -> AppResult<(Option<Spike>, bool)> {
    let series = Series::ending(
        Utc::now().date_naive(),
        SPIKE_RECENT_DAYS + SPIKE_USUAL_DAYS,
    );
    let mut days = daily(tx, &series, Some(product.id), Some(location))
        .await?
        .remove(&product.id)
        .unwrap_or_else(|| vec![0.0; series.days]);
    let start = own_start(&days, series.first, product.created_at.date_naive());
    let now = spike(&days[start..]);
    if let Some(today) = days.last_mut() {
        *today -= just_sold as f64;
    }
    let before = spike(&days[start..]).is_some();
    Ok((now, before))
}

/// A product spiking at a location now.
pub struct Spiking {
    pub product: ils_entity::product::Model,
    pub location: ils_entity::stock_location::Model,
    pub spike: Spike,
}

/// Every product selling at least [`SPIKE_RATIO`] times its usual rate at a location
/// today (any member), the steepest first: one read of the company's last 104 days.
pub async fn spikes(
    db: &ils_kernel::Db,
    ctx: &ils_kernel::TenantContext,
) -> AppResult<Vec<Spiking>> {
    ils_kernel::authz::require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let series = Series::ending(
        Utc::now().date_naive(),
        SPIKE_RECENT_DAYS + SPIKE_USUAL_DAYS,
    );
    let sold = daily_by_location(&tx, &series, None, None).await?;
    let products: HashMap<Uuid, ils_entity::product::Model> = tx
        .find_many::<ils_entity::product::Entity>(sold.keys().map(|(p, _)| *p).collect::<Vec<_>>())
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let found: Vec<((Uuid, Uuid), Spike)> = sold
        .into_iter()
        .filter_map(|((p, l), days)| {
            let added = products.get(&p)?.created_at.date_naive();
            let start = own_start(&days, series.first, added);
            spike(&days[start..]).map(|s| ((p, l), s))
        })
        .collect();
    let locations: HashMap<Uuid, ils_entity::stock_location::Model> = tx
        .find_many::<ils_entity::stock_location::Entity>(
            found.iter().map(|((_, l), _)| *l).collect::<Vec<_>>(),
        )
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    tx.commit().await?;
    let mut out: Vec<Spiking> = found
        .into_iter()
        .filter_map(|((p, l), spike)| {
            Some(Spiking {
                product: products.get(&p)?.clone(),
                location: locations.get(&l)?.clone(),
                spike,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.spike
            .ratio
            .total_cmp(&a.spike.ratio)
            .then_with(|| a.product.sku.cmp(&b.product.sku))
    });
    Ok(out)
}

/// The longest history a forecast reads, in days.
pub const HISTORY_DAYS: usize = 730;
/// Days of recent demand shown beside a forecast (today included).
pub const RECENT_DAYS: usize = 28;
/// The longest forecast, in days.
pub const MAX_HORIZON: i32 = 90;

/// A product's demand forecast, with what it was made from.
pub struct ProductForecast {
    pub product: ils_entity::product::Model,
    /// The location forecast; `None`: all locations together.
    pub location: Option<ils_entity::stock_location::Model>,
    /// The first day forecast (today; today's sales so far are not history yet).
    pub first_day: NaiveDate,
    pub forecast: crate::forecast::Forecast,
    /// Units sold on each of the last [`RECENT_DAYS`] days, today last.
    pub recent: Vec<(NaiveDate, i64)>,
}

/// The daily demand forecast of one product (any member), at one location or all of
/// them, `horizon` days from today (1..=90, default 7). The history is the product's
/// complete days of sales, up to two years, from the day it was added or its first sale,
/// whichever is earlier (days before it existed are not days without sales); weekly
/// seasonality is a candidate once there are two weeks before the first backtest origin.
pub async fn forecast(
    db: &ils_kernel::Db,
    ctx: &ils_kernel::TenantContext,
    product_id: &async_graphql::ID,
    location_id: Option<&async_graphql::ID>,
    horizon: Option<i32>,
) -> AppResult<ProductForecast> {
    use crate::model::{LOCATION, PRODUCT};
    use ils_kernel::{AppError, id};
    ils_kernel::authz::require_member(ctx)?;
    let horizon = horizon.unwrap_or(7);
    if !(1..=MAX_HORIZON).contains(&horizon) {
        return Err(AppError::bad_input(
            "horizonDays",
            format!("1..{MAX_HORIZON}"),
        ));
    }
    let product = id::decode(PRODUCT, product_id, "productId")?;
    let location = match location_id {
        Some(l) => Some(id::decode(LOCATION, l, "locationId")?),
        None => None,
    };
    let tx = db.read(ctx).await?;
    let product = tx
        .find::<ils_entity::product::Entity>(product)
        .await?
        .ok_or(AppError::NotFound)?;
    let location = match location {
        Some(l) => Some(
            tx.find::<ils_entity::stock_location::Entity>(l)
                .await?
                .ok_or_else(|| AppError::bad_input("locationId", "no such location of yours"))?,
        ),
        None => None,
    };
    let today = Utc::now().date_naive();
    // One read: up to two years before today, and today.
    let read = Series::ending(today, HISTORY_DAYS + 1);
    let mut all = daily(
        &tx,
        &read,
        Some(product.id),
        location.as_ref().map(|l| l.id),
    )
    .await?
    .remove(&product.id)
    .unwrap_or_else(|| vec![0.0; read.days]);
    tx.commit().await?;
    let recent: Vec<(NaiveDate, i64)> = (read.days - RECENT_DAYS..read.days)
        .map(|i| (read.first + Duration::days(i as i64), all[i] as i64))
        .collect();
    all.pop(); // today's sales so far
    let start = own_start(&all, read.first, product.created_at.date_naive());
    let history = &all[start..];
    let forecast = crate::forecast::choose(history, horizon as usize, Some(7));
    Ok(ProductForecast {
        product,
        location,
        first_day: today,
        forecast,
        recent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `usual` units a day for the usual days, then `recent` a day for the recent ones.
    fn days(usual: f64, recent: f64) -> Vec<f64> {
        let mut d = vec![usual; SPIKE_USUAL_DAYS];
        d.extend(vec![recent; SPIKE_RECENT_DAYS]);
        d
    }

    #[test]
    fn a_spike_is_three_times_the_usual_rate_with_some_volume() {
        let s = spike(&days(1.0, 3.0)).expect("exactly three times");
        assert_eq!(s.recent_units, 42.0);
        assert_eq!((s.recent_rate, s.usual_rate, s.ratio), (3.0, 1.0, 3.0));
        assert_eq!(spike(&days(1.0, 2.9)), None, "under three times");
        // Three times, but a handful of units: 0.2 a day usually, 0.6 recently (8.4 units).
        assert_eq!(spike(&days(0.2, 0.6)), None, "too few units");
        assert!(spike(&days(0.2, 0.75)).is_some(), "10.5 units");
        // Nothing sold before: a launch, not a spike.
        assert_eq!(spike(&days(0.0, 5.0)), None);
        // Too short a history has no usual rate: 6 usual days.
        let mut short = vec![0.1; 6];
        short.extend([5.0; 14]);
        assert_eq!(spike(&short), None);
        // 30 usual days are enough, at their own rate.
        let mut month = vec![1.0; 30];
        month.extend([3.0; 14]);
        assert_eq!(spike(&month).map(|s| s.usual_rate), Some(1.0));
        assert_eq!(spike(&[]), None);
        assert_eq!(spike(&[f64::NAN, -4.0, 50.0]), None, "no usual sales");
    }

    #[test]
    fn a_series_counts_its_days_back_from_the_last() {
        let last = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let s = Series::ending(last, 3);
        assert_eq!(s.first, NaiveDate::from_ymd_opt(2026, 2, 27).unwrap());
        assert_eq!(s.index(s.first), Some(0));
        assert_eq!(s.index(last), Some(2));
        assert_eq!(s.index(last + Duration::days(1)), None);
        assert_eq!(s.index(s.first - Duration::days(1)), None);
    }
}
