//! Market insights: monthly releases of figures about the market that never reveal one
//! company, and each company's place among its peers.
//!
//! A release is built once per month (by the monthly job, or a platform admin asking
//! for it) from the contributing companies' records of that month, and kept: asking again
//! gives the same numbers. Its dimensions are fixed and published (no free filters):
//!
//! - `lens_price`: suppliers' catalog price of spectacle lenses by index, material,
//!   currency and region (the average over suppliers of each supplier's average price);
//! - `frame_brand_units`: frames sold by practices, by brand;
//! - `lab_turnaround_days` and `lab_remake_rate`: labs' days from submission to shipping
//!   and share of remakes, by region and lens design (averages over labs);
//! - `practice_orders`: lens orders practices submitted, by region.
//!
//! The region is the one a company gives in its marketplace profile; a company without
//! one is in no regional cell. Every figure goes through `disclosure`: at least 11
//! contributing companies, the largest at most 50 % and the two largest at most 67 % of
//! the cell's total, complementary suppression along every published total, each
//! company's contribution clipped and the figure moved by Laplace noise keyed by a secret
//! drawn for the release and then forgotten. The release's ε (default 1) is split evenly
//! over the five parts a company can be in at most (a lab: two tables and three peer
//! distributions), and within a part over the cells one company may touch (its largest
//! ones; the rest are left out). An average is a noisy sum over a noisy count, each with
//! half of its cell's budget. No company name or ID is ever part of a release.
//!
//! Peer figures: for each company type, the distribution of one figure per company
//! (practices' remake rate and orders, labs' turnaround, on-time and remake rates,
//! suppliers' fill rate) as a histogram of 40 fixed bins with Laplace noise on every
//! count, from which the quartiles are read: a company moves one count by one, whatever
//! its value. A distribution of fewer than 11 companies is not published. A company that
//! does not contribute sees no peer figures.

use crate::dashboard::Unit;
use crate::dashboard::bigint_sum;
use crate::disclosure::{self, Noise, Published, Rules, Suppression, Table};
use crate::facts::metric as m;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use ils_common::company::CompanyType;
use ils_entity::company::CompanyStatus;
use ils_entity::{
    analytics_daily as daily, analytics_settings as settings, catalog_item, company, demand_daily,
    insight_release as release, lens_order, marketplace_profile, order_status_change, product,
};
use ils_kernel::{AppError, AppResult, Db, Tx};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// The parts of a release one company can be in at most: the budget is split over them.
const PARTS: f64 = 5.0;
/// Bins of a peer histogram.
const BINS: usize = 10;

/// The default privacy budget of a release.
pub const DEFAULT_EPSILON: f64 = 1.0;

/// One published figure of a release (or why it is not published).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub measure: String,
    /// Each dimension's value; `None` for a total over that dimension.
    pub dims: Vec<(String, Option<String>)>,
    pub value: Option<f64>,
    /// Half the width of the interval the noise stays in 95 % of the time.
    pub margin: Option<f64>,
    pub suppressed: Option<String>,
}

/// The quartiles of one figure among the companies of one type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peers {
    pub company_type: String,
    pub key: String,
    pub quartiles: Option<[f64; 3]>,
    pub suppressed: Option<String>,
}

/// What a release holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    pub cells: Vec<Cell>,
    pub peers: Vec<Peers>,
}

/// A release as kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub month: NaiveDate,
    pub epsilon: f64,
    pub contributors: i32,
    pub created_at: chrono::DateTime<Utc>,
    pub body: Body,
}

fn release_of(row: release::Model) -> AppResult<Release> {
    Ok(Release {
        month: row.month,
        epsilon: row.epsilon,
        contributors: row.contributors,
        created_at: row.created_at,
        body: serde_json::from_str(&row.body)
            .map_err(|_| AppError::internal("a release this version cannot read"))?,
    })
}

/// The measures of a release: name, words, unit, clip (the most one company adds to one
/// cell) and the most cells one company may touch.
pub struct Measure {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub mean: bool,
    pub clip: f64,
    pub max_cells: usize,
    /// The names of the row and column dimensions (a column key joins several with '|').
    pub rows: &'static str,
    pub columns: &'static [&'static str],
}

pub const MEASURES: [Measure; 5] = [
    Measure {
        key: "lens_price",
        label: "Suppliers' catalog price of a spectacle lens",
        unit: Unit::Money,
        mean: true,
        clip: 1_000.0,
        max_cells: 8,
        rows: "region",
        columns: &["index", "material", "currency"],
    },
    Measure {
        key: "frame_brand_units",
        label: "Frames sold by practices",
        unit: Unit::Count,
        mean: false,
        clip: 500.0,
        max_cells: 8,
        rows: "all",
        columns: &["brand"],
    },
    Measure {
        key: "lab_turnaround_days",
        label: "Labs' days from submission to shipping",
        unit: Unit::Days,
        mean: true,
        clip: 60.0,
        max_cells: 4,
        rows: "region",
        columns: &["design"],
    },
    Measure {
        key: "lab_remake_rate",
        label: "Labs' share of remakes",
        unit: Unit::Percent,
        mean: true,
        clip: 100.0,
        max_cells: 4,
        rows: "region",
        columns: &["design"],
    },
    Measure {
        key: "practice_orders",
        label: "Lens orders practices submitted",
        unit: Unit::Count,
        mean: false,
        clip: 300.0,
        max_cells: 1,
        rows: "all",
        columns: &["region"],
    },
];

/// The peer figures: company type, key, words, unit and the top of its histogram.
pub const PEER_FIGURES: [(CompanyType, &str, &str, Unit, f64); 6] = [
    (
        CompanyType::Ecp,
        "remake_rate",
        "Remake rate",
        Unit::Percent,
        20.0,
    ),
    (
        CompanyType::Ecp,
        "orders",
        "Lens orders submitted",
        Unit::Count,
        400.0,
    ),
    (
        CompanyType::Lab,
        "turnaround_days",
        "Days from submission to shipping",
        Unit::Days,
        20.0,
    ),
    (
        CompanyType::Lab,
        "on_time_rate",
        "Shipped by the due date",
        Unit::Percent,
        100.0,
    ),
    (
        CompanyType::Lab,
        "remake_rate",
        "Remake rate",
        Unit::Percent,
        20.0,
    ),
    (
        CompanyType::Supplier,
        "fill_rate",
        "Units received of units ordered",
        Unit::Percent,
        100.0,
    ),
];

/// One company's contribution to one cell of a measure.
#[derive(Clone, Debug)]
pub struct Contribution {
    pub company: Uuid,
    pub row: String,
    pub column: String,
    pub value: f64,
}

/// The first day of `day`'s month, and of the next.
pub fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first + Duration::days(31));
    (first, next)
}

fn reason(s: Suppression) -> String {
    match s {
        Suppression::TooFewContributors => "TOO_FEW_CONTRIBUTORS",
        Suppression::Dominated => "DOMINATED",
        Suppression::Complementary => "COMPLEMENTARY",
    }
    .to_owned()
}

/// 95 % of Laplace draws of scale `b` are within `b · ln 20`.
fn margin95(b: f64) -> f64 {
    b * 20f64.ln()
}

/// Publishes one measure, each figure checked, noised and named by its dimensions
/// (`release` names the release in the noise's key):
///
/// - a sum measure: its cells, row totals and column totals through `disclosure::protect`
///   (primary and complementary suppression);
/// - an average: its cells only, each the average over its companies of each company's
///   value, published when at least `min_contributors` companies are in it (a company's
///   weight in an average is one, so no company dominates one that has enough of them).
///   Totals of averages are not published: nothing can be worked out from them.
///
/// A row or column whose label fewer than `min_contributors` companies share anywhere in
/// the measure is left out altogether (a brand or a region of one company would name it);
/// its figures still count in the totals they fall under.
pub fn publish_measure(
    measure: &Measure,
    contributions: &[Contribution],
    rules: &Rules,
    epsilon: f64,
    secret: [u8; 32],
    release: &str,
) -> Vec<Cell> {
    // Each company's value per cell (summed), clipped, and only its largest cells.
    let mut per: BTreeMap<Uuid, BTreeMap<(String, String), f64>> = BTreeMap::new();
    for c in contributions {
        *per.entry(c.company)
            .or_default()
            .entry((c.row.clone(), c.column.clone()))
            .or_default() += c.value;
    }
    let labels = |pick: fn(&Contribution) -> &String| -> Vec<String> {
        contributions
            .iter()
            .map(|c| pick(c).clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let rows = labels(|c| &c.row);
    let columns = labels(|c| &c.column);
    let part = epsilon / PARTS;
    // Every figure a company feeds spends from its budget: its cells, and for a sum its
    // cells' row and column totals too; an average spends half on the sum, half on the
    // count.
    let (figures_per_cell, share) = if measure.mean {
        (1, part / 2.0)
    } else {
        (1 + usize::from(measure.rows != "all") + 1, part)
    };
    let sums = Noise {
        epsilon: share,
        clip: measure.clip,
        cells_per_company: measure.max_cells * figures_per_cell,
        secret,
    };
    let counts = Noise {
        clip: 1.0,
        ..sums.clone()
    };
    let mut table = Table {
        cells: vec![vec![Vec::new(); columns.len()]; rows.len()],
    };
    let mut heads = Table {
        cells: vec![vec![Vec::new(); columns.len()]; rows.len()],
    };
    for (number, cells) in per.values().enumerate() {
        let mut mine: Vec<(&(String, String), f64)> =
            cells.iter().map(|(k, v)| (k, sums.clipped(*v))).collect();
        mine.sort_by(|a, b| b.1.total_cmp(&a.1));
        for ((row, column), v) in mine.into_iter().take(measure.max_cells) {
            let (Ok(r), Ok(c)) = (rows.binary_search(row), columns.binary_search(column)) else {
                continue;
            };
            table.cells[r][c].push((number as u32, v));
            heads.cells[r][c].push((number as u32, 1.0));
        }
    }
    // Companies under some cells (each once, however many of them it feeds).
    let companies = |cells: Vec<&Vec<(u32, f64)>>| {
        cells
            .iter()
            .flat_map(|v| v.iter().map(|(n, _)| *n))
            .collect::<BTreeSet<u32>>()
            .len()
    };
    let row_cells = |r: usize| heads.cells[r].iter().collect::<Vec<_>>();
    let column_cells = |c: usize| heads.cells.iter().map(|row| &row[c]).collect::<Vec<_>>();
    let shown_row: Vec<bool> = (0..rows.len())
        .map(|r| companies(row_cells(r)) >= rules.min_contributors)
        .collect();
    let shown_column: Vec<bool> = (0..columns.len())
        .map(|c| companies(column_cells(c)) >= rules.min_contributors)
        .collect();
    let published = if measure.mean {
        // Cells only, each checked on its companies (one weight each).
        Published {
            cells: heads
                .cells
                .iter()
                .zip(&table.cells)
                .map(|(h, t)| {
                    h.iter()
                        .zip(t)
                        .map(|(h, t)| match disclosure::primary(&weights(h), rules) {
                            None => Ok(t.iter().map(|(_, v)| *v).sum()),
                            Some(why) => Err(why),
                        })
                        .collect()
                })
                .collect(),
            row_totals: Vec::new(),
            column_totals: Vec::new(),
        }
    } else {
        disclosure::protect(&table, rules)
    };
    let mut out = Vec::new();
    let name = |row: Option<&str>, column: Option<&str>| -> Vec<(String, Option<String>)> {
        let mut dims = Vec::new();
        if measure.rows != "all" {
            dims.push((measure.rows.to_owned(), row.map(str::to_owned)));
        }
        let parts: Vec<Option<&str>> = match column {
            Some(c) => c.split('|').map(Some).collect(),
            None => vec![None; measure.columns.len()],
        };
        for (d, v) in measure.columns.iter().zip(parts) {
            dims.push(((*d).to_owned(), v.map(str::to_owned)));
        }
        dims
    };
    let mut emit =
        |dims: Vec<(String, Option<String>)>, figure: &Result<f64, Suppression>, n: usize| {
            // The figure's name in the noise's key: its measure and dimensions as JSON, so
            // no two figures share a key whatever their labels hold.
            let key = serde_json::to_string(&(measure.key, &dims)).unwrap_or_default();
            let cell = match figure {
                Err(why) => Cell {
                    measure: measure.key.to_owned(),
                    dims,
                    value: None,
                    margin: None,
                    suppressed: Some(reason(*why)),
                },
                Ok(sum) => {
                    let noisy_sum = sums.publish(release, &format!("{key}/sum"), *sum).max(0.0);
                    let (value, margin) = if measure.mean {
                        let noisy_n = counts
                            .publish(release, &format!("{key}/n"), n as f64)
                            .max(1.0);
                        (noisy_sum / noisy_n, margin95(sums.scale()) / noisy_n)
                    } else {
                        (noisy_sum, margin95(sums.scale()))
                    };
                    Cell {
                        measure: measure.key.to_owned(),
                        dims,
                        value: Some(value),
                        margin: Some(margin),
                        suppressed: None,
                    }
                }
            };
            out.push(cell);
        };
    let Published {
        cells,
        row_totals,
        column_totals,
    } = &published;
    for (r, row) in rows.iter().enumerate() {
        for (c, column) in columns.iter().enumerate() {
            if heads.cells[r][c].is_empty() || !shown_row[r] || !shown_column[c] {
                continue;
            }
            emit(
                name(Some(row), Some(column)),
                &cells[r][c],
                companies(vec![&heads.cells[r][c]]),
            );
        }
    }
    // A one-row table's column totals are its cells; a one-column table's row totals too.
    if rows.len() > 1 {
        for (c, column) in columns.iter().enumerate() {
            if let (Some(total), true) = (column_totals.get(c), shown_column[c]) {
                emit(name(None, Some(column)), total, companies(column_cells(c)));
            }
        }
    }
    if columns.len() > 1 {
        for (r, row) in rows.iter().enumerate() {
            if let (Some(total), true) = (row_totals.get(r), shown_row[r]) {
                emit(name(Some(row), None), total, companies(row_cells(r)));
            }
        }
    }
    out
}

/// One weight per company of a cell (its contributions' companies, each once).
fn weights(cell: &[(u32, f64)]) -> Vec<f64> {
    cell.iter()
        .map(|(n, _)| *n)
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .map(|_| 1.0)
        .collect()
}

/// Quartiles of `values` (each clipped to `[0, top]`) read from a histogram of `BINS` bins
/// with Laplace noise of scale 1/ε on every count: the noisy counts are summed as they are
/// (clamping each at 0 would add phantom companies and pull the quartiles towards the
/// middle of the range), the running sum made non-decreasing, and each quartile read
/// where it crosses its share, linearly within the bin. Suppressed for fewer than 11
/// companies (the count itself is not published).
pub fn peer_quartiles(
    values: &[f64],
    top: f64,
    rules: &Rules,
    epsilon: f64,
    secret: [u8; 32],
    name: &str,
) -> Result<[f64; 3], Suppression> {
    if values.len() < rules.min_contributors {
        return Err(Suppression::TooFewContributors);
    }
    let width = top / BINS as f64;
    let mut counts = [0f64; BINS];
    for v in values {
        let v = if v.is_finite() {
            v.clamp(0.0, top)
        } else {
            0.0
        };
        let i = ((v / width) as usize).min(BINS - 1);
        counts[i] += 1.0;
    }
    let noise = Noise {
        epsilon,
        clip: 1.0,
        cells_per_company: 1,
        secret,
    };
    let mut running = 0f64;
    let mut cumulative = [0f64; BINS];
    let mut highest = 0f64;
    for (i, c) in counts.iter().enumerate() {
        running += noise.publish(name, &format!("bin{i}"), *c);
        highest = highest.max(running);
        cumulative[i] = highest;
    }
    let total = cumulative[BINS - 1].max(1.0);
    let mut out = [top; 3];
    for (q, slot) in [0.25, 0.5, 0.75].iter().zip(out.iter_mut()) {
        let want = q * total;
        let mut before = 0f64;
        for (i, at) in cumulative.iter().enumerate() {
            if *at >= want {
                let within = if at > &before {
                    ((want - before) / (at - before)).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                *slot = (i as f64 + within) * width;
                break;
            }
            before = *at;
        }
    }
    Ok(out)
}

/// A company's peer figures from its rollups of a month: `(metric, value, count)` sums.
pub fn peer_values(
    kind: CompanyType,
    sums: &HashMap<&str, (i64, i64)>,
) -> Vec<(&'static str, f64)> {
    let get = |k: &str| sums.get(k).copied().unwrap_or((0, 0));
    let ratio = |a: i64, b: i64| (b > 0).then(|| 100.0 * a as f64 / b as f64);
    let mut out = Vec::new();
    let mut push = |k: &'static str, v: Option<f64>| {
        if let Some(v) = v {
            out.push((k, v));
        }
    };
    match kind {
        CompanyType::Ecp => {
            let orders = get(m::ORDERS).0;
            push("remake_rate", ratio(get(m::REMAKES).0, get(m::MADE).0));
            push("orders", (orders > 0).then_some(orders as f64));
        }
        CompanyType::Lab => {
            let (t, n) = get(m::TURNAROUND);
            push("turnaround_days", (n > 0).then(|| t as f64 / n as f64));
            let (on, shipped) = get(m::ON_TIME);
            push("on_time_rate", ratio(on, shipped));
            push("remake_rate", ratio(get(m::REMAKES).0, get(m::JOBS).0));
        }
        CompanyType::Supplier => {
            push(
                "fill_rate",
                ratio(get(m::UNITS_RECEIVED).0, get(m::UNITS_ORDERED).0),
            );
        }
    }
    out
}

/// A month's release: the kept one, or (`build`) built now.
pub async fn release(db: &Db, month: NaiveDate) -> AppResult<Option<Release>> {
    #[allow(clippy::disallowed_methods)] // the platform's own rows, read by the platform
    let tx = db.system().await?;
    let row = tx
        .select::<release::Entity>()
        .filter(release::Column::CompanyId.is_null())
        .filter(release::Column::Month.eq(month_of(month).0))
        .one(tx.conn())
        .await?;
    tx.commit().await?;
    row.map(release_of).transpose()
}

/// Every release, newest first (the body left out).
pub async fn releases(db: &Db) -> AppResult<Vec<Release>> {
    use sea_orm::QueryOrder;
    #[allow(clippy::disallowed_methods)] // the platform's own rows, read by the platform
    let tx = db.system().await?;
    let rows = tx
        .select::<release::Entity>()
        .filter(release::Column::CompanyId.is_null())
        .order_by_desc(release::Column::Month)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    rows.into_iter().map(release_of).collect()
}

/// Builds the release of `month` unless there is one (then that one is returned, as kept).
/// Only months that have ended can be released.
pub async fn build(db: &Db, month: NaiveDate, epsilon: f64) -> AppResult<Release> {
    let (first, next) = month_of(month);
    if next > Utc::now().date_naive() {
        return Err(AppError::bad_input(
            "input.month",
            format!("{first} has not ended yet: a month is released once it is over"),
        ));
    }
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(AppError::bad_input("input.epsilon", "ε must be above 0"));
    }
    if let Some(r) = release(db, first).await? {
        return Ok(r);
    }
    // A cross-tenant worker by nature: every contributing company's records of the month.
    #[allow(clippy::disallowed_methods)]
    let tx = db.system().await?;
    let secret = {
        let mut s = [0u8; 32];
        s[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        s[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        s
    };
    let rules = Rules::default();
    let name = first.format("%Y-%m").to_string();
    let who = contributors(&tx).await?;
    let mut body = Body::default();
    let from_rollups = rollup_sums(&tx, first, next).await?;
    let (turnaround, remakes) = lab_figures(&tx, &who, first, next).await?;
    // In the order of MEASURES.
    let inputs = [
        lens_prices(&tx, &who).await?,
        frame_brands(&tx, &who, first, next).await?,
        turnaround,
        remakes,
        practice_orders(&who, &from_rollups),
    ];
    for (measure, contributions) in MEASURES.iter().zip(&inputs) {
        body.cells.extend(publish_measure(
            measure,
            contributions,
            &rules,
            epsilon,
            secret,
            &name,
        ));
    }
    for (kind, key, _, _, top) in PEER_FIGURES {
        let values: Vec<f64> = who
            .iter()
            .filter(|(_, c)| c.kind == kind)
            .filter_map(|(id, _)| {
                let sums = from_rollups.get(id)?;
                peer_values(kind, sums)
                    .into_iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v)
            })
            .collect();
        let q = peer_quartiles(
            &values,
            top,
            &rules,
            epsilon / PARTS,
            secret,
            &format!("{name}/peers/{}/{key}", kind.as_str()),
        );
        body.peers.push(Peers {
            company_type: kind.as_str().to_owned(),
            key: key.to_owned(),
            quartiles: q.ok(),
            suppressed: q.err().map(reason),
        });
    }
    let contributors_n = who.len() as i32;
    let now = Utc::now();
    let kept = tx
        .insert::<release::Entity, _>(release::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: Set(None),
            month: Set(first),
            epsilon: Set(epsilon),
            contributors: Set(contributors_n),
            body: Set(serde_json::to_string(&body).unwrap_or_default()),
            created_at: Set(now),
        })
        .await;
    match kept {
        Ok(_) => tx.commit().await?,
        // Built meanwhile by another call: that one stands.
        Err(AppError::Conflict(_)) => drop(tx),
        Err(e) => return Err(e),
    }
    // Two builds at once: the first kept wins, and both answer with it.
    release(db, first)
        .await?
        .ok_or_else(|| AppError::internal("a release vanished"))
}

/// A contributing company: its type and region.
struct Who {
    kind: CompanyType,
    region: Option<String>,
}

/// ACTIVE companies that have not opted out, with their profile's region.
async fn contributors(tx: &Tx) -> AppResult<HashMap<Uuid, Who>> {
    let out_of: BTreeSet<Uuid> = tx
        .select::<settings::Entity>()
        .filter(settings::Column::Contribute.eq(false))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|s| s.company_id)
        .collect();
    let regions: HashMap<Uuid, String> = tx
        .select::<marketplace_profile::Entity>()
        .all(tx.conn())
        .await?
        .into_iter()
        .filter_map(|p| {
            p.region
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .map(|r| (p.company_id, r))
        })
        .collect();
    Ok(tx
        .select::<company::Entity>()
        .filter(company::Column::Status.eq(CompanyStatus::Active))
        .all(tx.conn())
        .await?
        .into_iter()
        .filter(|c| !out_of.contains(&c.id))
        .filter_map(|c| {
            Some((
                c.id,
                Who {
                    kind: CompanyType::parse(&c.company_type)?,
                    region: regions.get(&c.id).cloned(),
                },
            ))
        })
        .collect())
}

type Sums = HashMap<Uuid, HashMap<&'static str, (i64, i64)>>;

/// Every company's rollup sums of the month, by metric.
async fn rollup_sums(tx: &Tx, first: NaiveDate, next: NaiveDate) -> AppResult<Sums> {
    let sum = |c: daily::Column| bigint_sum(Expr::col(c));
    let rows: Vec<(Uuid, String, Option<i64>, Option<i64>)> = tx
        .select::<daily::Entity>()
        .select_only()
        .column(daily::Column::CompanyId)
        .column(daily::Column::Metric)
        .expr(sum(daily::Column::Value))
        .expr(sum(daily::Column::Count))
        .filter(daily::Column::Day.gte(first))
        .filter(daily::Column::Day.lt(next))
        .group_by(daily::Column::CompanyId)
        .group_by(daily::Column::Metric)
        .into_tuple()
        .all(tx.conn())
        .await?;
    let known = [
        m::ORDERS,
        m::MADE,
        m::REMAKES,
        m::TURNAROUND,
        m::ON_TIME,
        m::JOBS,
        m::UNITS_ORDERED,
        m::UNITS_RECEIVED,
    ];
    let mut out: Sums = HashMap::new();
    for (company, metric, v, c) in rows {
        if let Some(k) = known.iter().find(|k| **k == metric) {
            out.entry(company)
                .or_default()
                .insert(k, (v.unwrap_or(0), c.unwrap_or(0)));
        }
    }
    Ok(out)
}

/// Suppliers' average catalog price of each kind of spectacle lens.
async fn lens_prices(tx: &Tx, who: &HashMap<Uuid, Who>) -> AppResult<Vec<Contribution>> {
    let items = tx
        .select::<catalog_item::Entity>()
        .filter(catalog_item::Column::Category.eq("SPECTACLE_LENS"))
        .filter(catalog_item::Column::Active.eq(true))
        .all(tx.conn())
        .await?;
    let mut per: BTreeMap<(Uuid, String, String), (f64, f64)> = BTreeMap::new();
    for item in items {
        let Some(Who {
            kind: CompanyType::Supplier,
            region: Some(region),
        }) = who.get(&item.company_id)
        else {
            continue;
        };
        let attrs: serde_json::Value = serde_json::from_str(&item.attributes).unwrap_or_default();
        let index = attrs["index"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| attrs["index"].as_f64().map(|f| f.to_string()));
        let Some(index) = index else { continue };
        let material = attrs["material"]
            .as_str()
            .map(|s| s.trim().to_uppercase())
            .unwrap_or_else(|| "UNSPECIFIED".into());
        let column = format!("{index}|{material}|{}", item.currency);
        let slot = per
            .entry((item.company_id, region.clone(), column))
            .or_default();
        slot.0 += item.price_units as f64 / 10_000.0;
        slot.1 += 1.0;
    }
    Ok(per
        .into_iter()
        .map(|((company, row, column), (sum, n))| Contribution {
            company,
            row,
            column,
            value: sum / n,
        })
        .collect())
}

/// Frames each practice sold in the month, by brand.
async fn frame_brands(
    tx: &Tx,
    who: &HashMap<Uuid, Who>,
    first: NaiveDate,
    next: NaiveDate,
) -> AppResult<Vec<Contribution>> {
    let units = bigint_sum(Expr::col(demand_daily::Column::Units));
    let sold: Vec<(Uuid, Uuid, Option<i64>)> = tx
        .select::<demand_daily::Entity>()
        .select_only()
        .column(demand_daily::Column::CompanyId)
        .column(demand_daily::Column::ProductId)
        .expr(units)
        .filter(demand_daily::Column::Day.gte(first))
        .filter(demand_daily::Column::Day.lt(next))
        .group_by(demand_daily::Column::CompanyId)
        .group_by(demand_daily::Column::ProductId)
        .into_tuple()
        .all(tx.conn())
        .await?;
    let brands: HashMap<Uuid, String> = tx
        .find_many::<product::Entity>(sold.iter().map(|(_, p, _)| *p))
        .await?
        .into_iter()
        .filter(|p| p.category == "FRAME")
        .filter_map(|p| {
            p.brand
                .map(|b| b.trim().to_uppercase())
                .filter(|b| !b.is_empty())
                .map(|b| (p.id, b))
        })
        .collect();
    Ok(sold
        .into_iter()
        .filter(|(c, _, _)| who.get(c).is_some_and(|w| w.kind == CompanyType::Ecp))
        .filter_map(|(company, p, u)| {
            Some(Contribution {
                company,
                row: "all".into(),
                column: brands.get(&p)?.clone(),
                value: u.unwrap_or(0) as f64,
            })
        })
        .collect())
}

/// Lens orders each practice submitted in the month, by its region.
fn practice_orders(who: &HashMap<Uuid, Who>, sums: &Sums) -> Vec<Contribution> {
    sums.iter()
        .filter_map(|(company, s)| {
            let w = who.get(company)?;
            if w.kind != CompanyType::Ecp {
                return None;
            }
            Some(Contribution {
                company: *company,
                row: "all".into(),
                column: w.region.clone()?,
                value: s.get(m::ORDERS)?.0 as f64,
            })
        })
        .collect()
}

/// Each lab's average days from submission to shipping of the jobs it shipped in the
/// month, and its share of remakes among the jobs submitted to it in the month, by its
/// region and the lens design.
async fn lab_figures(
    tx: &Tx,
    who: &HashMap<Uuid, Who>,
    first: NaiveDate,
    next: NaiveDate,
) -> AppResult<(Vec<Contribution>, Vec<Contribution>)> {
    let start = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let design = |o: &lens_order::Model| -> String {
        serde_json::from_str::<serde_json::Value>(&o.lens)
            .ok()
            .and_then(|l| l["design"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "UNSPECIFIED".into())
    };
    let lab_region = |o: &lens_order::Model| -> Option<(Uuid, String)> {
        let lab = o.lab_company_id?;
        let w = who.get(&lab)?;
        (w.kind == CompanyType::Lab)
            .then(|| (lab, w.region.clone()))?
            .1
            .map(|r| (lab, r))
    };
    // Remakes among the jobs submitted in the month.
    let submitted = tx
        .select::<lens_order::Entity>()
        .filter(lens_order::Column::SubmittedAt.gte(start))
        .filter(lens_order::Column::SubmittedAt.lt(end))
        .all(tx.conn())
        .await?;
    let mut jobs: BTreeMap<(Uuid, String, String), (f64, f64)> = BTreeMap::new();
    // A job cancelled or rejected was never made: no job of the lab's and no remake (as
    // on the dashboards), so a practice cannot raise a lab's rate with remakes it cancels.
    let made = submitted.iter().filter(|o| {
        !matches!(
            o.status,
            ils_entity::lens_order::OrderStatus::Cancelled
                | ils_entity::lens_order::OrderStatus::Rejected
        )
    });
    for o in made {
        if let Some((lab, region)) = lab_region(o) {
            let slot = jobs.entry((lab, region, design(o))).or_default();
            slot.1 += 1.0;
            if o.job_type == ils_entity::lens_order::JobType::Remake {
                slot.0 += 1.0;
            }
        }
    }
    // Turnaround of the jobs shipped in the month.
    let shipped = tx
        .select::<order_status_change::Entity>()
        .filter(order_status_change::Column::ToStatus.eq("SHIPPED"))
        .filter(order_status_change::Column::CreatedAt.gte(start))
        .filter(order_status_change::Column::CreatedAt.lt(end))
        .all(tx.conn())
        .await?;
    let orders: HashMap<Uuid, lens_order::Model> = tx
        .find_many::<lens_order::Entity>(shipped.iter().map(|s| s.order_id))
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut days: BTreeMap<(Uuid, String, String), (f64, f64)> = BTreeMap::new();
    for s in &shipped {
        let Some(o) = orders.get(&s.order_id) else {
            continue;
        };
        let (Some((lab, region)), Some(at)) = (lab_region(o), o.submitted_at) else {
            continue;
        };
        let slot = days.entry((lab, region, design(o))).or_default();
        slot.0 += (s.created_at.date_naive() - at.date_naive()).num_days() as f64;
        slot.1 += 1.0;
    }
    let mean = |m: BTreeMap<(Uuid, String, String), (f64, f64)>, scale: f64| -> Vec<Contribution> {
        m.into_iter()
            .filter(|(_, (_, n))| *n > 0.0)
            .map(|((company, row, column), (sum, n))| Contribution {
                company,
                row,
                column,
                value: scale * sum / n,
            })
            .collect()
    };
    Ok((mean(days, 1.0), mean(jobs, 100.0)))
}

/// Refuses anyone but a platform admin (market insights are the platform's to publish).
pub async fn require_platform(db: &Db, ctx: &ils_kernel::TenantContext) -> AppResult<()> {
    let tx = db.read(ctx).await?;
    ils_kernel::authz::require_platform_admin(&tx, ctx).await?;
    tx.commit().await
}

/// The monthly job: builds last month's release.
pub const RELEASE_JOB: &str = "analytics.insight_release";

ils_kernel::empty_job_payload!(
    /// Builds the release of the month that ended last (nothing when it exists).
    BuildLastMonth,
    RELEASE_JOB
);

pub fn release_kind() -> ils_kernel::JobKind {
    use ils_kernel::jobs::{JobRun, handler};
    ils_kernel::JobKind::new(
        RELEASE_JOB,
        handler(|run: JobRun| async move {
            let last = month_of(Utc::now().date_naive()).0 - Duration::days(1);
            build(&run.db, last, DEFAULT_EPSILON).await?;
            Ok(())
        }),
    )
}

/// On the 2nd of every month at 03:17 UTC, once every late event of the month is in.
pub fn release_schedule() -> ils_kernel::jobs::Schedule {
    ils_kernel::jobs::Schedule {
        name: "insight-release",
        cron: "17 3 2 * *",
        job: || ils_kernel::jobs::NewJob::of(&BuildLastMonth {}),
    }
}

/// Whether the caller's company contributes to market insights (any member may ask).
pub async fn contributes(db: &Db, ctx: &ils_kernel::TenantContext) -> AppResult<bool> {
    let me = ils_kernel::authz::require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let row = tx.find::<settings::Entity>(me).await?;
    tx.commit().await?;
    Ok(row.is_none_or(|r| r.contribute))
}

/// Sets whether the caller's company contributes (company admins). From the next release
/// on: releases already built keep what they counted.
pub async fn set_contributes(
    db: &Db,
    ctx: &ils_kernel::TenantContext,
    contribute: bool,
) -> AppResult<bool> {
    let tx = db.tenant(ctx).await?;
    ils_kernel::authz::require_role(&tx, ctx, ils_kernel::Role::CompanyAdmin).await?;
    tx.upsert::<settings::Entity, _>(
        settings::ActiveModel {
            company_id: Set(Uuid::nil()),
            contribute: Set(contribute),
            updated_at: Set(Utc::now()),
        },
        &[],
        vec![
            (settings::Column::Contribute, Expr::value(contribute)),
            (settings::Column::UpdatedAt, Expr::value(Utc::now())),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(contribute)
}

/// One of a company's peer figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Benchmark {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    /// The company's own figure for the month (none when it had nothing to count).
    pub yours: Option<f64>,
    pub quartiles: Option<[f64; 3]>,
    pub suppressed: Option<String>,
}

/// Where the caller's company stands among its peers in a release.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub contributing: bool,
    /// The release's month (none when there is no release yet).
    pub month: Option<NaiveDate>,
    pub benchmarks: Vec<Benchmark>,
}

/// The caller's company among its peers in the release of `month` (the latest when none;
/// company admins and managers). A company that does not contribute sees no peer figures.
pub async fn standing(
    db: &Db,
    ctx: &ils_kernel::TenantContext,
    month: Option<NaiveDate>,
) -> AppResult<Standing> {
    use sea_orm::QueryOrder;
    let tx = db.read(ctx).await?;
    let me = ils_kernel::authz::require_manager(&tx, ctx).await?;
    ils_common::plan::require(&tx, me, ils_common::plan::Feature::Analytics).await?;
    let contributing = tx
        .find::<settings::Entity>(me)
        .await?
        .is_none_or(|r| r.contribute);
    if !contributing {
        tx.commit().await?;
        return Ok(Standing {
            contributing,
            month: None,
            benchmarks: Vec::new(),
        });
    }
    let mut select = tx
        .select::<release::Entity>()
        .filter(release::Column::CompanyId.is_null())
        .order_by_desc(release::Column::Month);
    if let Some(m) = month {
        select = select.filter(release::Column::Month.eq(month_of(m).0));
    }
    let Some(row) = select.one(tx.conn()).await? else {
        tx.commit().await?;
        return Ok(Standing {
            contributing,
            month: None,
            benchmarks: Vec::new(),
        });
    };
    let release = release_of(row)?;
    let mine = tx.get::<company::Entity>(me).await?;
    let kind = CompanyType::parse(&mine.company_type).unwrap_or(CompanyType::Ecp);
    let (first, next) = month_of(release.month);
    let own = rollup_sums(&tx, first, next).await?;
    tx.commit().await?;
    let values = own
        .get(&me)
        .map(|s| peer_values(kind, s))
        .unwrap_or_default();
    let benchmarks = PEER_FIGURES
        .iter()
        .filter(|(k, ..)| *k == kind)
        .map(|(_, key, label, unit, _)| {
            let peers = release
                .body
                .peers
                .iter()
                .find(|p| p.company_type == kind.as_str() && p.key == *key);
            Benchmark {
                key,
                label,
                unit: *unit,
                yours: values.iter().find(|(k, _)| k == key).map(|(_, v)| *v),
                quartiles: peers.and_then(|p| p.quartiles),
                suppressed: peers.and_then(|p| p.suppressed.clone()),
            }
        })
        .collect();
    Ok(Standing {
        contributing,
        month: Some(release.month),
        benchmarks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contributions(companies: usize, row: &str, column: &str, value: f64) -> Vec<Contribution> {
        (0..companies)
            .map(|i| Contribution {
                company: Uuid::from_u128(i as u128 + 1_000 * value as u128 + row.len() as u128 * 7),
                row: row.into(),
                column: column.into(),
                value,
            })
            .collect()
    }

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn a_region_of_ten_companies_is_not_shown_and_cannot_be_had_from_the_total() {
        let practice = &MEASURES[4];
        let mut c = contributions(10, "all", "North", 20.0);
        c.extend(contributions(12, "all", "South", 30.0));
        c.extend(contributions(14, "all", "East", 40.0));
        let cells = publish_measure(practice, &c, &Rules::default(), 1.0, SECRET, "2026-11");
        let region = |r: Option<&str>| {
            cells
                .iter()
                .find(|c| c.dims == vec![("region".to_owned(), r.map(str::to_owned))])
        };
        // A region of ten practices is not even named: its label would say it exists.
        assert!(region(Some("North")).is_none(), "{cells:?}");
        // The total over regions less South and East would be North: one of them goes.
        let others: Vec<&Cell> = [region(Some("South")), region(Some("East")), region(None)]
            .into_iter()
            .map(|c| c.unwrap_or_else(|| panic!("{cells:?}")))
            .collect();
        assert!(
            others
                .iter()
                .any(|c| c.suppressed.as_deref() == Some("COMPLEMENTARY")),
            "{cells:?}"
        );
        let shown: Vec<&&Cell> = others.iter().filter(|c| c.value.is_some()).collect();
        assert!(!shown.is_empty(), "{cells:?}");
        // A sum's noise: scale clip / (ε / 5 / 2 figures a company feeds: its region and
        // the total) = 300 / 0.1 = 3000.
        for c in shown {
            assert!((c.margin.unwrap() - 3_000.0 * 20f64.ln()).abs() < 1e-6);
        }
        // No figure names a company.
        let text = serde_json::to_string(&cells).unwrap();
        for company in c.iter().map(|c| c.company.to_string()) {
            assert!(!text.contains(&company));
        }
    }

    #[test]
    fn a_release_asked_twice_with_its_secret_gives_the_same_numbers() {
        let measure = &MEASURES[2];
        let mut c = contributions(15, "North", "PROGRESSIVE", 6.0);
        c.extend(contributions(15, "North", "SINGLE_VISION", 3.0));
        let a = publish_measure(measure, &c, &Rules::default(), 1.0, SECRET, "2026-11");
        let b = publish_measure(measure, &c, &Rules::default(), 1.0, SECRET, "2026-11");
        assert_eq!(a, b);
        let other = publish_measure(measure, &c, &Rules::default(), 1.0, [8; 32], "2026-11");
        assert_ne!(a, other, "another secret, other noise");
    }

    #[test]
    fn a_dominant_company_suppresses_its_cell() {
        let measure = &MEASURES[1];
        let mut c = contributions(12, "all", "RAY-BAN", 10.0);
        c[0].value = 400.0;
        let cells = publish_measure(measure, &c, &Rules::default(), 1.0, SECRET, "2026-11");
        assert_eq!(
            cells[0].suppressed.as_deref(),
            Some("DOMINATED"),
            "{cells:?}"
        );
    }

    #[test]
    fn an_average_of_too_few_labs_is_suppressed_and_averages_have_no_totals() {
        // Region North: PROGRESSIVE with 12 labs, SINGLE_VISION with 5; South: 12 each.
        // Averages are published cell by cell: no total of averages to work one out from.
        let measure = &MEASURES[2];
        let mut c = contributions(12, "North", "PROGRESSIVE", 6.0);
        c.extend(contributions(5, "North", "SINGLE_VISION", 3.0));
        c.extend(contributions(12, "South", "PROGRESSIVE", 5.0));
        c.extend(contributions(12, "South", "SINGLE_VISION", 2.0));
        let cells = publish_measure(measure, &c, &Rules::default(), 1.0, SECRET, "2026-11");
        assert!(
            cells
                .iter()
                .all(|c| c.dims.iter().all(|(_, v)| v.is_some())),
            "{cells:?}"
        );
        let at = |region: &str, design: &str| {
            cells
                .iter()
                .find(|c| {
                    c.dims[0].1.as_deref() == Some(region) && c.dims[1].1.as_deref() == Some(design)
                })
                .unwrap_or_else(|| panic!("{region} {design} in {cells:?}"))
        };
        assert_eq!(
            at("North", "SINGLE_VISION").suppressed.as_deref(),
            Some("TOO_FEW_CONTRIBUTORS")
        );
        // Labs whose turnaround is 0 days still count as labs: a cell of twelve is shown.
        let mut zero = contributions(12, "North", "PROGRESSIVE", 0.0);
        zero.extend(contributions(12, "South", "PROGRESSIVE", 0.0));
        let cells = publish_measure(measure, &zero, &Rules::default(), 1.0, SECRET, "2026-11");
        assert!(cells.iter().all(|c| c.value.is_some()), "{cells:?}");
        assert_eq!(at("South", "PROGRESSIVE").suppressed, None);
    }

    #[test]
    fn peer_quartiles_need_eleven_companies_and_land_near_the_truth() {
        let rules = Rules::default();
        let ten: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(
            peer_quartiles(&ten, 20.0, &rules, 0.2, SECRET, "x"),
            Err(Suppression::TooFewContributors)
        );
        // 400 labs spread evenly over 0..20 days: quartiles near 5, 10, 15.
        let many: Vec<f64> = (0..400).map(|i| i as f64 / 20.0).collect();
        let q = peer_quartiles(&many, 20.0, &rules, 0.2, SECRET, "x").unwrap();
        for (got, want) in q.iter().zip([5.0, 10.0, 15.0]) {
            assert!((got - want).abs() < 1.5, "{q:?}");
        }
        assert!(q[0] <= q[1] && q[1] <= q[2], "{q:?}");
    }

    #[test]
    fn peer_quartiles_of_few_companies_are_not_pulled_to_the_middle() {
        // Fifteen practices with a remake rate of 1 % (top of the histogram 20 %): the
        // median read over 500 releases (each its own secret) stays near the truth on
        // average. Clamping every noisy bin at 0 before summing, as a first version did,
        // put it near 7 %: the phantom counts of the empty bins pull it up.
        let rules = Rules::default();
        let values = vec![1.0; 15];
        let mut medians = Vec::new();
        for k in 0..500u32 {
            let mut secret = [0u8; 32];
            secret[..4].copy_from_slice(&k.to_le_bytes());
            let q = peer_quartiles(&values, 20.0, &rules, 0.2, secret, "x").unwrap();
            assert!(q[0] <= q[1] && q[1] <= q[2], "{q:?}");
            medians.push(q[1]);
        }
        let mean = medians.iter().sum::<f64>() / medians.len() as f64;
        assert!(mean < 4.0, "mean median {mean}");
    }

    #[test]
    fn months_run_from_their_first_day() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(
            month_of(d),
            (
                NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
            )
        );
    }
}
