//! A company's dashboard: its rollups over a period, in buckets of a day, a week (ISO,
//! from Monday) or a month, shaped as series ready to chart, each with its period total;
//! figures as they stand now (work in progress, stock value, low stock); and rankings.
//!
//! Which series a company gets follows its type: a practice sees its orders, remakes,
//! labs' turnaround and spend; a lab its jobs, turnaround, on-time and remake rates and
//! work in progress; a supplier the purchase orders it received, fill rate and lead time.
//! Practices and labs also see what they spent with suppliers. Every read goes to the
//! rollups (`analytics_daily`), the stock balances and the daily demand history, all of
//! them maintained summaries: never to the order tables or the stock ledger.

use crate::facts::metric as m;
use chrono::{Datelike, Duration, NaiveDate};
use ils_common::company::{COMPANY, CompanyType};
use ils_entity::{
    analytics_daily as daily, catalog_item, company, demand_daily, product, stock_balance,
};
use ils_kernel::authz::require_manager;
use ils_kernel::connections::partner_names;
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The longest period a dashboard covers, in days.
pub const MAX_DAYS: i64 = 731;
/// Entries in a ranking.
pub const TOP: u64 = 10;
const MONEY_SCALE: f64 = 10_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    /// The first day of the bucket `day` falls in.
    pub fn bucket(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => day,
            Granularity::Week => day - Duration::days(day.weekday().num_days_from_monday() as i64),
            Granularity::Month => day.with_day(1).unwrap_or(day),
        }
    }

    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => start + Duration::days(1),
            Granularity::Week => start + Duration::days(7),
            Granularity::Month => {
                let (y, mo) = if start.month() == 12 {
                    (start.year() + 1, 1)
                } else {
                    (start.year(), start.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, mo, 1).unwrap_or(start + Duration::days(31))
            }
        }
    }

    /// Every bucket's first day from the one holding `from` to the one holding `to`.
    pub fn buckets(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut b = self.bucket(from);
        while b <= to {
            out.push(b);
            b = self.next(b);
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Days,
    Percent,
    Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Practice,
    Lab,
    Supplier,
}

/// One line of a chart: a figure per bucket and over the whole period.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    /// What the series is broken down to (a status, a reason, a lab…), if anything.
    pub dimension: Option<String>,
    /// The trading partner the dimension names, if it names one.
    pub company: Option<Uuid>,
    pub currency: Option<String>,
    /// Null where the figure is undefined (a rate or an average of nothing).
    pub points: Vec<(NaiveDate, Option<f64>)>,
    pub total: Option<f64>,
    /// How many contributions the period total is made of (orders, jobs, shipments…).
    pub contributions: i64,
}

/// A figure as it stands now.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub dimension: Option<String>,
    pub currency: Option<String>,
    pub value: f64,
}

/// The largest contributors to a figure over the period.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub label: String,
    /// The product, catalog item or company ranked, as a global ID.
    pub id: Option<async_graphql::ID>,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    pub kind: Kind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    pub series: Vec<Series>,
    pub now: Vec<Figure>,
    pub rankings: Vec<Ranking>,
}

/// The period a caller asked for, checked: `from` ≤ `to`, at most `MAX_DAYS` days.
pub fn check_period(from: NaiveDate, to: NaiveDate) -> AppResult<()> {
    if to < from {
        return Err(AppError::bad_input(
            "period.to",
            format!("the period ends ({to}) before it starts ({from})"),
        ));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(AppError::bad_input(
            "period",
            format!("a dashboard covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

/// Day rows summed by (metric, dim, day): what a series is made of.
type Rows = BTreeMap<(String, String, NaiveDate), (i64, i64)>;

/// The caller's company's dashboard (company admins and managers).
pub async fn dashboard(
    db: &Db,
    ctx: &TenantContext,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> AppResult<Dashboard> {
    check_period(from, to)?;
    let tx = db.read(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let mine = tx.get::<company::Entity>(me).await?;
    ils_common::plan::check_feature(
        ils_common::plan::Plan::parse(&mine.plan).unwrap_or(ils_common::plan::Plan::FreeEcp),
        ils_common::plan::Feature::Analytics,
    )?;
    let kind = match CompanyType::parse(&mine.company_type) {
        Some(CompanyType::Lab) => Kind::Lab,
        Some(CompanyType::Supplier) => Kind::Supplier,
        _ => Kind::Practice,
    };
    // The per-partner and high-cardinality metrics are read summed instead.
    let rows = period_rows(&tx, from, to, &[m::JOBS, m::ITEM_UNITS, m::WIP]).await?;
    let names = partner_names(&tx, me).await?;
    let name_of = |id: &str| -> (String, Option<Uuid>) {
        match Uuid::parse_str(id) {
            Ok(u) => (
                names
                    .get(&u)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_else(|| "a former partner".into()),
                Some(u),
            ),
            Err(_) => (id.to_owned(), None),
        }
    };
    let b = Build {
        rows: &rows,
        granularity,
        buckets: granularity.buckets(from, to),
    };
    let mut series = Vec::new();
    let mut now = Vec::new();
    let mut rankings = Vec::new();
    match kind {
        Kind::Practice => {
            series.push(b.sum("orders", "Orders submitted", m::ORDERS, None, Unit::Count));
            series.extend(b.each_dim(m::ORDERS_BY_STATUS, |dim| {
                b.sum(
                    "orders_by_status",
                    "Orders by status now",
                    m::ORDERS_BY_STATUS,
                    Some(dim),
                    Unit::Count,
                )
            }));
            series.push(b.ratio("remake_rate", "Remake rate", m::REMAKES, m::MADE));
            series.extend(b.each_dim(m::REMAKES, |dim| {
                b.sum(
                    "remakes",
                    "Remakes by reason",
                    m::REMAKES,
                    Some(dim),
                    Unit::Count,
                )
            }));
            for dim in b.dims(m::TURNAROUND) {
                let (lab, company) = name_of(&dim);
                for mut s in [
                    b.average(
                        "turnaround_days",
                        "Days from submission to shipping",
                        m::TURNAROUND,
                        Some(&dim),
                    ),
                    b.average(
                        "promised_days",
                        "Days promised (to the due date)",
                        m::PROMISED,
                        Some(&dim),
                    ),
                    b.average(
                        "on_time_rate",
                        "Shipped by the due date",
                        m::ON_TIME,
                        Some(&dim),
                    ),
                ] {
                    if s.key == "on_time_rate" {
                        s.unit = Unit::Percent;
                        scale(&mut s, 100.0);
                    }
                    s.dimension = Some(lab.clone());
                    s.company = company;
                    series.push(s);
                }
            }
            now.extend(stock_figures(&tx).await?);
            rankings.push(top_sellers(&tx, from, to).await?);
        }
        Kind::Lab => {
            let jobs = summed_by_day(&tx, m::JOBS, from, to).await?;
            let mut with_jobs = rows.clone();
            for (day, v) in jobs {
                with_jobs.insert((m::JOBS.into(), String::new(), day), v);
            }
            let b = Build {
                rows: &with_jobs,
                granularity,
                buckets: b.buckets.clone(),
            };
            series.push(b.sum("jobs", "Jobs received", m::JOBS, None, Unit::Count));
            series.push(b.ratio("remake_rate", "Remake rate", m::REMAKES, m::JOBS));
            series.extend(b.each_dim(m::REMAKES, |dim| {
                b.sum(
                    "remakes",
                    "Remakes by reason",
                    m::REMAKES,
                    Some(dim),
                    Unit::Count,
                )
            }));
            series.push(b.average(
                "turnaround_days",
                "Days from submission to shipping",
                m::TURNAROUND,
                Some(""),
            ));
            series.push(b.average(
                "promised_days",
                "Days promised (to the due date)",
                m::PROMISED,
                Some(""),
            ));
            let mut on_time = b.average(
                "on_time_rate",
                "Shipped by the due date",
                m::ON_TIME,
                Some(""),
            );
            on_time.unit = Unit::Percent;
            scale(&mut on_time, 100.0);
            series.push(on_time);
            for s in series
                .iter_mut()
                .filter(|s| s.dimension.as_deref() == Some(""))
            {
                s.dimension = None;
            }
            now.extend(work_in_progress(&tx).await?);
            let top = top_dims(&tx, m::JOBS, from, to).await?;
            rankings.push(Ranking {
                key: "top_customers",
                label: "Practices by jobs sent",
                unit: Unit::Count,
                entries: top
                    .into_iter()
                    .map(|(dim, v)| {
                        let (label, company) = name_of(&dim);
                        Entry {
                            label,
                            id: company.map(|c| id::encode(COMPANY, c)),
                            value: v as f64,
                        }
                    })
                    .collect(),
            });
        }
        Kind::Supplier => {
            series.push(b.count_over_dims(
                "purchase_orders",
                "Purchase orders received",
                m::PURCHASE_ORDERS,
            ));
            series.extend(b.each_dim(m::PURCHASE_ORDERS, |dim| {
                let mut s = b.sum(
                    "purchase_order_value",
                    "Value of purchase orders received",
                    m::PURCHASE_ORDERS,
                    Some(dim),
                    Unit::Money,
                );
                s.currency = s.dimension.take();
                s
            }));
            series.push(b.ratio(
                "fill_rate",
                "Units received of units ordered",
                m::UNITS_RECEIVED,
                m::UNITS_ORDERED,
            ));
            let mut lead = b.average(
                "lead_time_days",
                "Days from submission to full receipt",
                m::LEAD_TIME,
                Some(""),
            );
            lead.dimension = None;
            series.push(lead);
            rankings.push(top_items(&tx, from, to).await?);
        }
    }
    if kind != Kind::Supplier {
        for dim in b.dims(m::SPEND) {
            let (partner, currency) = dim.split_once('|').unwrap_or((dim.as_str(), ""));
            let (supplier, company) = name_of(partner);
            let mut s = b.sum(
                "spend",
                "Spend with suppliers",
                m::SPEND,
                Some(&dim),
                Unit::Money,
            );
            s.dimension = Some(supplier);
            s.company = company;
            s.currency = Some(currency.to_owned());
            series.push(s);
        }
    }
    tx.commit().await?;
    Ok(Dashboard {
        kind,
        from,
        to,
        granularity,
        series,
        now,
        rankings,
    })
}

fn scale(s: &mut Series, by: f64) {
    for (_, v) in &mut s.points {
        *v = v.map(|x| x * by);
    }
    s.total = s.total.map(|x| x * by);
}

struct Build<'a> {
    rows: &'a Rows,
    granularity: Granularity,
    buckets: Vec<NaiveDate>,
}

impl Build<'_> {
    /// The dimensions `metric` has in the period, in order.
    fn dims(&self, metric: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .of_metric(metric)
            .map(|((_, d, _), _)| d.clone())
            .collect();
        out.dedup();
        out
    }

    /// The rows of `metric` (at `dim`, when given): one range of the ordered rows, not a
    /// scan of all of them, however many series a dashboard has.
    fn of_metric<'r>(
        &'r self,
        metric: &str,
    ) -> impl Iterator<Item = (&'r (String, String, NaiveDate), &'r (i64, i64))> + 'r {
        let metric = metric.to_owned();
        let start = (metric.clone(), String::new(), NaiveDate::MIN);
        self.rows
            .range(start..)
            .take_while(move |((mm, _, _), _)| *mm == metric)
    }

    fn each_dim(&self, metric: &str, f: impl Fn(&str) -> Series) -> Vec<Series> {
        self.dims(metric).iter().map(|d| f(d)).collect()
    }

    /// (value, count) per bucket and over the period, of `metric` at `dim` (every dim when
    /// none).
    fn collect(&self, metric: &str, dim: Option<&str>) -> (Vec<(i64, i64)>, (i64, i64)) {
        let mut per = vec![(0i64, 0i64); self.buckets.len()];
        let mut total = (0i64, 0i64);
        let mut add = |day: NaiveDate, (v, c): (i64, i64)| {
            let b = self.granularity.bucket(day);
            if let Ok(i) = self.buckets.binary_search(&b) {
                per[i].0 += v;
                per[i].1 += c;
            }
            total.0 += v;
            total.1 += c;
        };
        match dim {
            Some(dim) => {
                let from = (metric.to_owned(), dim.to_owned(), NaiveDate::MIN);
                let to = (metric.to_owned(), dim.to_owned(), NaiveDate::MAX);
                for ((_, _, day), x) in self.rows.range(from..=to) {
                    add(*day, *x);
                }
            }
            None => {
                for ((_, _, day), x) in self.of_metric(metric) {
                    add(*day, *x);
                }
            }
        }
        (per, total)
    }

    fn empty(
        &self,
        key: &'static str,
        label: &'static str,
        unit: Unit,
        dim: Option<&str>,
    ) -> Series {
        Series {
            key,
            label,
            unit,
            dimension: dim.map(str::to_owned),
            company: None,
            currency: None,
            points: Vec::new(),
            total: None,
            contributions: 0,
        }
    }

    fn sum(
        &self,
        key: &'static str,
        label: &'static str,
        metric: &str,
        dim: Option<&str>,
        unit: Unit,
    ) -> Series {
        let (per, total) = self.collect(metric, dim);
        let money = unit == Unit::Money;
        let f = move |(v, _): (i64, i64)| {
            Some(if money {
                v as f64 / MONEY_SCALE
            } else {
                v as f64
            })
        };
        let mut s = self.empty(key, label, unit, dim);
        s.points = self
            .buckets
            .iter()
            .zip(&per)
            .map(|(b, x)| (*b, f(*x)))
            .collect();
        s.total = f(total);
        s.contributions = total.1;
        s
    }

    /// The number of contributions (not their values) over every dimension.
    fn count_over_dims(&self, key: &'static str, label: &'static str, metric: &str) -> Series {
        let (per, total) = self.collect(metric, None);
        let mut s = self.empty(key, label, Unit::Count, None);
        s.points = self
            .buckets
            .iter()
            .zip(&per)
            .map(|(b, x)| (*b, Some(x.1 as f64)))
            .collect();
        s.total = Some(total.1 as f64);
        s.contributions = total.1;
        s
    }

    /// The sum of values over the number of contributions.
    fn average(
        &self,
        key: &'static str,
        label: &'static str,
        metric: &str,
        dim: Option<&str>,
    ) -> Series {
        let (per, total) = self.collect(metric, dim);
        let f = |(v, c): (i64, i64)| (c > 0).then(|| v as f64 / c as f64);
        let mut s = self.empty(key, label, Unit::Days, dim);
        s.points = self
            .buckets
            .iter()
            .zip(&per)
            .map(|(b, x)| (*b, f(*x)))
            .collect();
        s.total = f(total);
        s.contributions = total.1;
        s
    }

    /// `part`'s values over `whole`'s, in percent.
    fn ratio(&self, key: &'static str, label: &'static str, part: &str, whole: &str) -> Series {
        let (p, pt) = self.collect(part, None);
        let (w, wt) = self.collect(whole, None);
        let f = |a: i64, b: i64| (b > 0).then(|| 100.0 * a as f64 / b as f64);
        let mut s = self.empty(key, label, Unit::Percent, None);
        s.points = self
            .buckets
            .iter()
            .zip(p.iter().zip(&w))
            .map(|(b, (x, y))| (*b, f(x.0, y.0)))
            .collect();
        s.total = f(pt.0, wt.0);
        s.contributions = wt.0;
        s
    }
}

/// The period's day rows of every metric but `except`.
async fn period_rows(tx: &Tx, from: NaiveDate, to: NaiveDate, except: &[&str]) -> AppResult<Rows> {
    let rows: Vec<(String, String, NaiveDate, i64, i64)> = tx
        .select::<daily::Entity>()
        .select_only()
        .column(daily::Column::Metric)
        .column(daily::Column::Dim)
        .column(daily::Column::Day)
        .column(daily::Column::Value)
        .column(daily::Column::Count)
        .filter(daily::Column::Day.gte(from))
        .filter(daily::Column::Day.lte(to))
        .filter(daily::Column::Metric.is_not_in(except.iter().copied()))
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.3 != 0 || r.4 != 0)
        .map(|(mm, d, day, v, c)| ((mm, d, day), (v, c)))
        .collect())
}

/// `SUM(expr)` as a BIGINT: PostgreSQL sums BIGINT to NUMERIC, which does not decode as
/// an `i64`. How every sum of the analytics queries is read.
pub(crate) fn bigint_sum(expr: impl Into<SimpleExpr>) -> SimpleExpr {
    Func::cast_as(Func::sum(expr.into()), Alias::new("BIGINT")).into()
}

fn sum_expr(c: daily::Column) -> SimpleExpr {
    bigint_sum(Expr::col(c))
}

/// `metric` over every dimension, per day of the period.
async fn summed_by_day(
    tx: &Tx,
    metric: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(NaiveDate, (i64, i64))>> {
    let rows: Vec<(NaiveDate, Option<i64>, Option<i64>)> = tx
        .select::<daily::Entity>()
        .select_only()
        .column(daily::Column::Day)
        .expr(sum_expr(daily::Column::Value))
        .expr(sum_expr(daily::Column::Count))
        .filter(daily::Column::Metric.eq(metric))
        .filter(daily::Column::Day.gte(from))
        .filter(daily::Column::Day.lte(to))
        .group_by(daily::Column::Day)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(d, v, c)| (d, (v.unwrap_or(0), c.unwrap_or(0))))
        .collect())
}

/// The `TOP` dimensions of `metric` by value over the period.
async fn top_dims(
    tx: &Tx,
    metric: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(String, i64)>> {
    let total = sum_expr(daily::Column::Value);
    let rows: Vec<(String, Option<i64>)> = tx
        .select::<daily::Entity>()
        .select_only()
        .column(daily::Column::Dim)
        .expr(total.clone())
        .filter(daily::Column::Metric.eq(metric))
        .filter(daily::Column::Day.gte(from))
        .filter(daily::Column::Day.lte(to))
        .group_by(daily::Column::Dim)
        .order_by(total, Order::Desc)
        .order_by_asc(daily::Column::Dim)
        .limit(TOP)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(d, v)| (d, v.unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect())
}

/// Jobs the lab has not shipped yet, by status and production stage.
async fn work_in_progress(tx: &Tx) -> AppResult<Vec<Figure>> {
    let rows: Vec<(String, Option<i64>)> = tx
        .select::<daily::Entity>()
        .select_only()
        .column(daily::Column::Dim)
        .expr(sum_expr(daily::Column::Value))
        .filter(daily::Column::Metric.eq(m::WIP))
        .group_by(daily::Column::Dim)
        .order_by_asc(daily::Column::Dim)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, v)| v.unwrap_or(0) != 0)
        .map(|(dim, v)| Figure {
            key: "work_in_progress",
            label: "Jobs in progress by stage",
            unit: Unit::Count,
            dimension: Some(dim),
            currency: None,
            value: v.unwrap_or(0) as f64,
        })
        .collect())
}

/// Stock on hand at average cost (per currency) and the number of low stock levels.
async fn stock_figures(tx: &Tx) -> AppResult<Vec<Figure>> {
    let value = bigint_sum(
        Expr::col(stock_balance::Column::OnHand).mul(Expr::col(stock_balance::Column::AvgCost)),
    );
    let by_product: Vec<(Uuid, Option<i64>)> = tx
        .select::<stock_balance::Entity>()
        .select_only()
        .column(stock_balance::Column::ProductId)
        .expr(value)
        .filter(stock_balance::Column::OnHand.gt(0))
        .group_by(stock_balance::Column::ProductId)
        .into_tuple()
        .all(tx.conn())
        .await?;
    // The currency of every product in stock, in one statement without a bound value per
    // product (a list of thousands of IDs costs the driver more than the query).
    let in_stock = tx
        .select::<stock_balance::Entity>()
        .select_only()
        .column(stock_balance::Column::ProductId)
        .filter(stock_balance::Column::OnHand.gt(0))
        .into_query();
    let currencies: HashMap<Uuid, String> = tx
        .select::<product::Entity>()
        .select_only()
        .column(product::Column::Id)
        .column(product::Column::Currency)
        .filter(product::Column::Id.in_subquery(in_stock))
        .into_tuple::<(Uuid, String)>()
        .all(tx.conn())
        .await?
        .into_iter()
        .collect();
    let mut per_currency: BTreeMap<String, i128> = BTreeMap::new();
    for (p, v) in by_product {
        if let Some(c) = currencies.get(&p) {
            *per_currency.entry(c.clone()).or_default() += i128::from(v.unwrap_or(0));
        }
    }
    let low = tx
        .select::<stock_balance::Entity>()
        .filter(stock_balance::Column::Low.eq(true))
        .count(tx.conn())
        .await?;
    let mut out: Vec<Figure> = per_currency
        .into_iter()
        .map(|(currency, v)| Figure {
            key: "stock_value",
            label: "Stock on hand at average cost",
            unit: Unit::Money,
            dimension: None,
            currency: Some(currency),
            value: v as f64 / MONEY_SCALE,
        })
        .collect();
    out.push(Figure {
        key: "low_stock",
        label: "Stock levels at or below their reorder threshold",
        unit: Unit::Count,
        dimension: None,
        currency: None,
        value: low as f64,
    });
    Ok(out)
}

/// The practice's best sellers by units sold in the period (from the daily demand history).
async fn top_sellers(tx: &Tx, from: NaiveDate, to: NaiveDate) -> AppResult<Ranking> {
    let units = bigint_sum(Expr::col(demand_daily::Column::Units));
    let rows: Vec<(Uuid, Option<i64>)> = tx
        .select::<demand_daily::Entity>()
        .select_only()
        .column(demand_daily::Column::ProductId)
        .expr(units.clone())
        .filter(demand_daily::Column::Day.gte(from))
        .filter(demand_daily::Column::Day.lte(to))
        .group_by(demand_daily::Column::ProductId)
        .order_by(units, Order::Desc)
        .order_by_asc(demand_daily::Column::ProductId)
        .limit(TOP)
        .into_tuple()
        .all(tx.conn())
        .await?;
    let names: HashMap<Uuid, String> = tx
        .find_many::<product::Entity>(rows.iter().map(|(p, _)| *p))
        .await?
        .into_iter()
        .map(|p| (p.id, format!("{} ({})", p.name, p.sku)))
        .collect();
    Ok(Ranking {
        key: "top_sellers",
        label: "Products by units sold",
        unit: Unit::Count,
        entries: rows
            .into_iter()
            .filter(|(_, v)| v.unwrap_or(0) > 0)
            .map(|(p, v)| Entry {
                label: names.get(&p).cloned().unwrap_or_default(),
                id: Some(id::encode("Product", p)),
                value: v.unwrap_or(0) as f64,
            })
            .collect(),
    })
}

/// The supplier's catalog items by units ordered in the period.
async fn top_items(tx: &Tx, from: NaiveDate, to: NaiveDate) -> AppResult<Ranking> {
    let top = top_dims(tx, m::ITEM_UNITS, from, to).await?;
    let ids: Vec<Uuid> = top
        .iter()
        .filter_map(|(d, _)| Uuid::parse_str(d).ok())
        .collect();
    let names: HashMap<Uuid, String> = tx
        .find_many::<catalog_item::Entity>(ids)
        .await?
        .into_iter()
        .map(|i| (i.id, format!("{} ({})", i.name, i.sku)))
        .collect();
    Ok(Ranking {
        key: "top_items",
        label: "Catalog items by units ordered",
        unit: Unit::Count,
        entries: top
            .into_iter()
            .map(|(d, v)| {
                let item = Uuid::parse_str(&d).ok();
                Entry {
                    label: item
                        .and_then(|i| names.get(&i).cloned())
                        .unwrap_or_else(|| "an item no longer in the catalog".into()),
                    id: item.map(|i| id::encode("CatalogItem", i)),
                    value: v as f64,
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, mo: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, day).unwrap()
    }

    #[test]
    fn buckets_start_on_mondays_and_first_days() {
        // 2026-03-04 is a Wednesday.
        assert_eq!(Granularity::Week.bucket(d(2026, 3, 4)), d(2026, 3, 2));
        assert_eq!(Granularity::Month.bucket(d(2026, 3, 4)), d(2026, 3, 1));
        assert_eq!(
            Granularity::Month.buckets(d(2025, 11, 20), d(2026, 2, 1)),
            vec![d(2025, 11, 1), d(2025, 12, 1), d(2026, 1, 1), d(2026, 2, 1)]
        );
        assert_eq!(
            Granularity::Week
                .buckets(d(2026, 3, 4), d(2026, 3, 16))
                .len(),
            3
        );
        assert_eq!(
            Granularity::Day.buckets(d(2026, 3, 4), d(2026, 3, 4)),
            vec![d(2026, 3, 4)]
        );
    }

    #[test]
    fn a_period_must_run_forwards_and_be_at_most_two_years() {
        assert!(check_period(d(2026, 3, 4), d(2026, 3, 3)).is_err());
        assert!(check_period(d(2024, 3, 3), d(2026, 3, 4)).is_err());
        assert!(check_period(d(2024, 3, 4), d(2026, 3, 4)).is_ok());
        assert!(check_period(d(2025, 3, 4), d(2026, 3, 4)).is_ok());
    }

    #[test]
    fn rates_and_averages_are_undefined_without_contributions() {
        let mut rows = Rows::new();
        rows.insert((m::ORDERS.into(), String::new(), d(2026, 3, 2)), (4, 4));
        rows.insert(
            (m::REMAKES.into(), "LAB_ERROR".into(), d(2026, 3, 3)),
            (1, 1),
        );
        rows.insert(
            (m::TURNAROUND.into(), String::new(), d(2026, 3, 10)),
            (9, 2),
        );
        let b = Build {
            rows: &rows,
            granularity: Granularity::Week,
            buckets: Granularity::Week.buckets(d(2026, 3, 2), d(2026, 3, 15)),
        };
        let rate = b.ratio("remake_rate", "Remake rate", m::REMAKES, m::ORDERS);
        assert_eq!(
            rate.points,
            vec![(d(2026, 3, 2), Some(25.0)), (d(2026, 3, 9), None)]
        );
        assert_eq!(rate.total, Some(25.0));
        let t = b.average("turnaround_days", "t", m::TURNAROUND, Some(""));
        assert_eq!(
            t.points,
            vec![(d(2026, 3, 2), None), (d(2026, 3, 9), Some(4.5))]
        );
        assert_eq!(t.contributions, 2);
    }
}
