//! The purchasing agent: every night for each company that enabled it, and on a manager's
//! request, it looks at each active product linked to an item of a supplier the company
//! is ACTIVELY connected with, forecasts its demand over the supplier's lead time plus the
//! review period, and projects the day its stock (available plus on order) runs out. When
//! that day falls within lead time plus review, it drafts the quantity that covers the
//! forecast over them plus safety stock (from the forecast's backtest error), less the
//! stock position, rounded up to the item's minimum order and order multiple.
//!
//! One open draft per supplier awaits approval: the agent updates it rather than making a
//! second, withdraws it when nothing on it is needed any more, and leaves alone a product
//! whose draft a person declined (`cancelPurchaseOrder`) within the remembered days. The
//! company's limits (`agentSettings`) cut lines, each cut saying why. It never submits: a
//! manager approves with `approvePurchaseOrder`. It acts as the company's system actor
//! through the guard (it reads nothing of another company), and the audit log names it.

use crate::events::PoDrafted;
use crate::forecast;
use crate::model::{PURCHASE_ORDER, PurchaseOrderStatus, awaiting_approval};
use crate::reorder::{self, ServiceLevel};
use crate::service::demand::{self, HISTORY_DAYS, Series};
use crate::service::locations::main_location;
use crate::service::lock_company;
use crate::service::position;
use crate::service::purchasing::{self, DraftLine, Head, Order};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::company::CompanyType;
use ils_common::money::MoneyInput;
use ils_entity::user::UserStatus;
use ils_entity::{agent_settings as settings, catalog_item, product, user};
use ils_entity::{purchase_order as po, purchase_order_line as line};
use ils_kernel::audit::{AuditEntry, record_in};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::active_partners;
use ils_kernel::jobs::{JobError, JobKind, JobRun, NewJob, Schedule, handler};
use ils_kernel::mail::{Mail, send_once};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, FieldErrors, Role, TenantContext, Tx, id};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The agent's actor name, in the audit log and its jobs.
pub const AGENT: &str = "inventory.purchasing_agent";
/// The nightly job that starts each enabled company's run.
pub const AGENT_ALL: &str = "inventory.purchasing_agent_all";

ils_kernel::empty_job_payload!(
    /// Runs one company's purchasing agent (the job's company).
    RunAgent,
    AGENT
);
ils_kernel::empty_job_payload!(
    /// Enqueues a run for every company that enabled its agent.
    RunAgentAll,
    AGENT_ALL
);

/// The review period when a company has not set one: the agent looks once a day, but a
/// draft covers a week beyond the lead time, so one order is not followed by another
/// the next day.
pub const DEFAULT_REVIEW_DAYS: i32 = 7;
/// How long a declined product is left alone when a company has not said.
pub const DEFAULT_DECLINE_MEMORY_DAYS: i32 = 30;
/// The service level of the agent's safety stock.
pub const SERVICE_LEVEL: ServiceLevel = ServiceLevel::P95;
/// Days of the recent rate the rationale compares with the usual one.
const RECENT_DAYS: usize = demand::SPIKE_RECENT_DAYS;
/// Days of the usual rate before them.
const USUAL_DAYS: usize = demand::SPIKE_USUAL_DAYS;

/// A company's agent settings (the defaults when it has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSettings {
    /// Whether the agent runs every night.
    pub enabled: bool,
    /// The most one draft may be worth: (ten-thousandths, currency).
    pub max_order_value: Option<(i64, String)>,
    pub max_units_per_line: Option<i64>,
    pub max_drafts_per_day: Option<i32>,
    pub review_days: i32,
    pub decline_memory_days: i32,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            enabled: false,
            max_order_value: None,
            max_units_per_line: None,
            max_drafts_per_day: None,
            review_days: DEFAULT_REVIEW_DAYS,
            decline_memory_days: DEFAULT_DECLINE_MEMORY_DAYS,
        }
    }
}

impl From<settings::Model> for AgentSettings {
    fn from(m: settings::Model) -> Self {
        AgentSettings {
            enabled: m.enabled,
            max_order_value: m.max_order_value_units.zip(m.max_order_value_currency),
            max_units_per_line: m.max_units_per_line,
            max_drafts_per_day: m.max_drafts_per_day,
            review_days: m.review_days,
            decline_memory_days: m.decline_memory_days,
        }
    }
}

/// New settings, all of them (a limit left out is no limit).
pub struct SettingsInput {
    pub enabled: bool,
    pub max_order_value: Option<MoneyInput>,
    pub max_units_per_line: Option<i64>,
    pub max_drafts_per_day: Option<i32>,
    pub review_days: Option<i32>,
    pub decline_memory_days: Option<i32>,
}

pub(crate) async fn load_settings(tx: &Tx, me: Uuid) -> AppResult<AgentSettings> {
    Ok(tx
        .find::<settings::Entity>(me)
        .await?
        .map(AgentSettings::from)
        .unwrap_or_default())
}

/// The company's agent settings (any member).
pub async fn settings_of(db: &Db, ctx: &TenantContext) -> AppResult<AgentSettings> {
    let me = require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let s = load_settings(&tx, me).await?;
    tx.commit().await?;
    Ok(s)
}

/// Replaces the company's agent settings (admins and managers).
pub async fn update_settings(
    db: &Db,
    ctx: &TenantContext,
    input: SettingsInput,
) -> AppResult<AgentSettings> {
    let mut errors = FieldErrors::default();
    let max_order_value = match &input.max_order_value {
        None => None,
        Some(m) => m
            .check("input.maxOrderValue", false, &mut errors)
            .and_then(|m| {
                let units =
                    ils_common::catalog::draft::decimal_to_units(m.amount).filter(|u| *u > 0);
                if units.is_none() {
                    errors.add(
                        "input.maxOrderValue.amount",
                        "more than 0, at most 4 decimal places",
                    );
                }
                units.map(|u| (u, m.currency))
            }),
    };
    if let Some(n) = input.max_units_per_line {
        errors.in_range(
            "input.maxUnitsPerLine",
            n,
            1..=purchasing::MAX_LINE_QUANTITY,
            "",
        );
    }
    if let Some(n) = input.max_drafts_per_day {
        errors.in_range("input.maxDraftsPerDay", n, 0..=100, "");
    }
    let review_days = input.review_days.unwrap_or(DEFAULT_REVIEW_DAYS);
    errors.in_range("input.reviewDays", review_days, 1..=60, " days");
    let memory = input
        .decline_memory_days
        .unwrap_or(DEFAULT_DECLINE_MEMORY_DAYS);
    errors.in_range("input.declineMemoryDays", memory, 0..=365, " days");
    if !errors.is_empty() {
        return Err(AppError::invalid("", errors.into_vec()));
    }
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let now = Utc::now();
    let (value, currency) = max_order_value.clone().unzip();
    let n = tx
        .update_many::<settings::Entity>(
            vec![
                (settings::Column::Enabled, Expr::value(input.enabled)),
                (settings::Column::MaxOrderValueUnits, Expr::value(value)),
                (
                    settings::Column::MaxOrderValueCurrency,
                    Expr::value(currency.clone()),
                ),
                (
                    settings::Column::MaxUnitsPerLine,
                    Expr::value(input.max_units_per_line),
                ),
                (
                    settings::Column::MaxDraftsPerDay,
                    Expr::value(input.max_drafts_per_day),
                ),
                (settings::Column::ReviewDays, Expr::value(review_days)),
                (settings::Column::DeclineMemoryDays, Expr::value(memory)),
                (settings::Column::UpdatedAt, Expr::value(now)),
            ],
            settings::Column::CompanyId.eq(me),
        )
        .await?;
    if n == 0 {
        tx.insert(settings::ActiveModel {
            company_id: Set(me),
            enabled: Set(input.enabled),
            max_order_value_units: Set(value),
            max_order_value_currency: Set(currency),
            max_units_per_line: Set(input.max_units_per_line),
            max_drafts_per_day: Set(input.max_drafts_per_day),
            review_days: Set(review_days),
            decline_memory_days: Set(memory),
            updated_at: Set(now),
        })
        .await?;
    }
    let s = load_settings(&tx, me).await?;
    tx.commit().await?;
    Ok(s)
}

/// Why the agent drafted a line, in numbers and one sentence (stored with the line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rationale {
    pub sentence: String,
    /// Units a day the forecast expects over lead time and review.
    pub daily_demand: f64,
    /// Units a day over the last 14 days (today included).
    pub recent_daily_rate: f64,
    /// Units a day over the 90 days before them; `None` without sales then.
    pub usual_daily_rate: Option<f64>,
    /// `recent_daily_rate / usual_daily_rate`.
    pub ratio: Option<f64>,
    pub available: i64,
    pub on_order: i64,
    /// Whole days the stock position lasts at the forecast rate.
    pub runs_out_in_days: i64,
    pub lead_time_days: i32,
    pub review_days: i32,
    /// Units the forecast expects over lead time and review.
    pub forecast_units: f64,
    pub safety_stock: i64,
    /// The forecasting method (as `demandForecast` names it).
    pub method: String,
    /// What covering lead time, review and safety stock takes, in whole packs.
    pub needed: i64,
    /// What the line orders: `needed`, unless a limit cut it.
    pub quantity: i64,
    /// Why the line orders less than `needed`.
    pub cut: Option<String>,
}

/// A product the agent left out, and why.
pub struct Skipped {
    pub product: product::Model,
    pub reason: String,
}

/// What a run did.
pub struct Run {
    /// The drafts made or changed, complete.
    pub drafts: Vec<Order>,
    /// Open drafts left as they were (nothing changed).
    pub unchanged: usize,
    /// Drafts withdrawn because nothing on them is needed any more (PO numbers).
    pub withdrawn: Vec<String>,
    /// Products looked at: active, linked to an item of an ACTIVELY connected supplier.
    pub considered: usize,
    /// Products that needed ordering but were left out, with why.
    pub skipped: Vec<Skipped>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Runs the agent now, for the caller's company (admins and managers), whether or not the
/// nightly run is enabled; the limits apply either way.
pub async fn run_now(db: &Db, ctx: &TenantContext) -> AppResult<Run> {
    let tx = db.read(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    tx.commit().await?;
    let who = ctx
        .responsible_user()
        .map(|u| id::encode("User", u).to_string())
        .unwrap_or_else(|| "a manager".into());
    run_for(db, me, &format!("run at the request of {who}")).await
}

/// One run for `company`, as its system actor (recorded in its audit log).
pub async fn run_for(db: &Db, company: Uuid, why: &str) -> AppResult<Run> {
    #[allow(clippy::disallowed_methods)] // the agent acts for the company, drafting only
    let ctx = ils_kernel::system::act_for(db, company, AGENT, why).await?;
    let started_at = Utc::now();
    let tx = db.tenant(&ctx).await?;
    // One run at a time per company; purchase order numbers are taken under it too.
    lock_company(&tx, company).await?;
    let settings = load_settings(&tx, company).await?;
    let mut out = plan_and_write(&tx, &ctx, company, &settings, started_at).await?;
    let ids: Vec<Uuid> = out.drafts.iter().map(|d| d.row.id).collect();
    out.drafts = purchasing::by_ids(&tx, ids).await?;
    tx.commit().await?;
    out.finished_at = Utc::now();
    Ok(out)
}

/// A line the agent wants, before limits.
struct Want {
    product: product::Model,
    item: catalog_item::Model,
    rationale: Rationale,
}

/// What the agent knows of the company's stock position.
struct Position {
    available: HashMap<Uuid, i64>,
    on_order: HashMap<Uuid, i64>,
    /// Per supplier, its open draft awaiting approval, with its lines.
    open: HashMap<Uuid, (po::Model, Vec<line::Model>)>,
    /// Products declined by a person lately: (PO number, day, reason).
    declined: HashMap<Uuid, (String, NaiveDate, Option<String>)>,
    /// New system drafts made today.
    made_today: u64,
}

async fn position(
    tx: &Tx,
    me: Uuid,
    settings: &AgentSettings,
    now: DateTime<Utc>,
) -> AppResult<Position> {
    let available = position::available(tx).await?;
    let mut on_order = position::on_order(tx, me).await?;
    let drafts = tx
        .select::<po::Entity>()
        .filter(po::Column::CompanyId.eq(me))
        .filter(po::Column::Status.eq(PurchaseOrderStatus::Draft))
        .order_by_asc(po::Column::Id)
        .all(tx.conn())
        .await?;
    let since = now - Duration::days(i64::from(settings.decline_memory_days));
    // A person cancelling the agent's draft before approving it declines its products
    // (the latest decline first).
    let declined_orders = if settings.decline_memory_days > 0 {
        tx.select::<po::Entity>()
            .filter(po::Column::CompanyId.eq(me))
            .filter(po::Column::DraftedByAgent.eq(true))
            .filter(po::Column::ApprovedAt.is_null())
            .filter(po::Column::Status.eq(PurchaseOrderStatus::Cancelled))
            .filter(po::Column::CancelledBy.is_not_null())
            .filter(po::Column::UpdatedAt.gte(since))
            .order_by_desc(po::Column::UpdatedAt)
            .all(tx.conn())
            .await?
    } else {
        vec![]
    };
    let ids: Vec<Uuid> = drafts
        .iter()
        .chain(&declined_orders)
        .map(|o| o.id)
        .collect();
    let mut lines: HashMap<Uuid, Vec<line::Model>> = HashMap::new();
    if !ids.is_empty() {
        for l in tx
            .select::<line::Entity>()
            .filter(line::Column::OrderId.is_in(ids))
            .all(tx.conn())
            .await?
        {
            lines.entry(l.order_id).or_default().push(l);
        }
    }
    let mut open: HashMap<Uuid, (po::Model, Vec<line::Model>)> = HashMap::new();
    for d in drafts {
        let its = lines.remove(&d.id).unwrap_or_default();
        if d.drafted_by_agent && awaiting_approval(&d) && !open.contains_key(&d.supplier_id) {
            open.insert(d.supplier_id, (d, its));
        } else {
            // A person's draft, one a person approved, or one the assistant made at a
            // person's request: as good as on order, and never the agent's to change.
            for l in its {
                *on_order.entry(l.product_id).or_default() += l.quantity;
            }
        }
    }
    let mut declined = HashMap::new();
    for o in declined_orders {
        for l in lines.remove(&o.id).unwrap_or_default() {
            declined.entry(l.product_id).or_insert_with(|| {
                (
                    o.po_number.clone(),
                    o.updated_at.date_naive(),
                    o.cancel_reason.clone(),
                )
            });
        }
    }
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let made_today = tx
        .select::<po::Entity>()
        .filter(po::Column::CompanyId.eq(me))
        .filter(po::Column::DraftedByAgent.eq(true))
        .filter(po::Column::CreatedAt.gte(midnight))
        .count(tx.conn())
        .await?;
    Ok(Position {
        available,
        on_order,
        open,
        declined,
        made_today,
    })
}

/// Rounds for a sentence: one decimal below 10, whole above.
fn say(x: f64) -> String {
    if x.abs() < 10.0 {
        format!("{:.1}", x)
    } else {
        format!("{:.0}", x)
    }
}

/// The rationale's sentence.
fn sentence(r: &Rationale) -> String {
    let mut s = format!("sells {} a day", say(r.daily_demand));
    if let Some(ratio) = r.ratio.filter(|x| *x >= 1.5 || *x <= 0.67) {
        s.push_str(&format!(", {}× its usual rate", say(ratio)));
    }
    let stock = if r.on_order > 0 {
        format!("{} available and {} on order", r.available, r.on_order)
    } else {
        format!("{} available", r.available)
    };
    let runs_out = match r.runs_out_in_days {
        0 => "runs out today".to_owned(),
        1 => "runs out tomorrow".to_owned(),
        d => format!("runs out in {d} days"),
    };
    s.push_str(&format!(
        "; {stock} {runs_out}; lead time {} days; {} covers lead time, review ({} days) and safety stock ({})",
        r.lead_time_days, r.needed, r.review_days, r.safety_stock
    ));
    if let Some(cut) = &r.cut {
        s.push_str(&format!("; {cut}"));
    }
    s
}

/// What one product needs, if it runs out within lead time plus review: the line's
/// rationale with `needed` (and `quantity`) set, before limits.
fn need(
    p: &product::Model,
    item: &catalog_item::Model,
    days: &[f64],
    first: NaiveDate,
    available: i64,
    on_order: i64,
    review_days: i32,
) -> Option<Rationale> {
    // `days` ends with today, whose sales so far are not history yet.
    let past = &days[..days.len().checked_sub(1)?];
    let history = demand::own_days(past, first, p.created_at.date_naive());
    let lead = p.lead_time_days.unwrap_or(item.lead_time_days).max(0);
    let horizon = (lead + review_days).max(1) as usize;
    let f = forecast::choose(history, horizon, Some(7));
    if f.total <= 0.0 {
        return None;
    }
    let position = available + on_order;
    // Today's forecast is a whole day; what sold today already left `available`, so
    // only the rest of today's forecast is still to come.
    let sold_today = days.last().copied().unwrap_or(0.0);
    let sold = sold_today.min(f.points.first().copied().unwrap_or(0.0));
    let to_come = f.total - sold;
    let mut cum = -sold;
    let runs_out = if position <= 0 {
        Some(0)
    } else {
        f.points.iter().position(|x| {
            cum += x;
            cum > position as f64
        })
    }? as i64;
    let safety = (SERVICE_LEVEL.z() * f.total_sigma()).ceil() as i64;
    let needed = reorder::order_quantity(
        to_come + safety as f64 - position as f64,
        i64::from(item.min_order_quantity),
        i64::from(item.order_multiple),
    );
    if needed == 0 {
        return None;
    }
    // Recent and usual rates, over the product's own days (today included).
    let own = demand::own_days(days, first, p.created_at.date_naive());
    let recent = &own[own.len().saturating_sub(RECENT_DAYS)..];
    let usual = &own[own.len().saturating_sub(RECENT_DAYS + USUAL_DAYS)..own.len() - recent.len()];
    let recent_rate = recent.iter().sum::<f64>() / RECENT_DAYS as f64;
    let usual_sum: f64 = usual.iter().sum();
    let usual_rate = (usual_sum > 0.0).then(|| usual_sum / usual.len() as f64);
    let mut r = Rationale {
        sentence: String::new(),
        daily_demand: demand::hundredths(f.total / horizon as f64),
        recent_daily_rate: demand::hundredths(recent_rate),
        usual_daily_rate: usual_rate.map(demand::hundredths),
        ratio: usual_rate.map(|u| demand::hundredths(recent_rate / u)),
        available,
        on_order,
        runs_out_in_days: runs_out,
        lead_time_days: lead,
        review_days,
        forecast_units: demand::hundredths(to_come),
        safety_stock: safety,
        method: f.method.code().to_owned(),
        needed,
        quantity: needed,
        cut: None,
    };
    r.sentence = sentence(&r);
    Some(r)
}

/// Cuts `w` to at most `limit` units (in whole packs, at least the minimum order), saying
/// `why`; `false` when nothing fits (the line is dropped).
fn cut_to(w: &mut Want, limit: i64, why: &str) -> bool {
    let r = &mut w.rationale;
    if r.quantity <= limit {
        return true;
    }
    match reorder::at_most(
        limit,
        i64::from(w.item.min_order_quantity),
        i64::from(w.item.order_multiple),
    ) {
        Some(q) => {
            r.cut = Some(format!("cut from {} to {q}: {why}", r.needed));
            r.quantity = q;
            r.sentence = sentence(r);
            true
        }
        None => false,
    }
}

/// Applies the company's limits to one supplier's lines (the most urgent first): at most
/// [`purchasing::MAX_LINES`] lines, each at most `max_units_per_line`, the draft at most
/// `max_order_value`. Returns the lines kept and what was left out.
fn within_limits(
    mut wants: Vec<Want>,
    settings: &AgentSettings,
    skipped: &mut Vec<Skipped>,
) -> Vec<Want> {
    wants.sort_by(|a, b| {
        a.rationale
            .runs_out_in_days
            .cmp(&b.rationale.runs_out_in_days)
            .then_with(|| a.product.sku.cmp(&b.product.sku))
    });
    let mut kept: Vec<Want> = Vec::new();
    let mut value_left = settings
        .max_order_value
        .as_ref()
        .map(|(v, _)| i128::from(*v));
    // One currency a draft: the value limit's when there is one, else the most urgent
    // line's.
    let currency = match &settings.max_order_value {
        Some((_, c)) => Some(c.clone()),
        None => wants.first().map(|w| w.item.currency.clone()),
    };
    let mut items: HashSet<Uuid> = HashSet::new();
    for mut w in wants {
        let mut skip = |w: Want, reason: String| {
            skipped.push(Skipped {
                product: w.product,
                reason,
            })
        };
        if Some(&w.item.currency) != currency.as_ref() {
            let reason = match &settings.max_order_value {
                Some((_, c)) => format!(
                    "the order value limit is in {c}; the item is sold in {}",
                    w.item.currency
                ),
                None => format!(
                    "the supplier's other items on this draft are in {}; this one is in {}",
                    currency.as_deref().unwrap_or(""),
                    w.item.currency
                ),
            };
            skip(w, reason);
            continue;
        }
        if items.contains(&w.item.id) {
            let reason = format!(
                "another of your products is linked to the supplier's item {} too",
                w.item.sku
            );
            skip(w, reason);
            continue;
        }
        if kept.len() >= purchasing::MAX_LINES {
            let reason = format!("a draft has at most {} lines", purchasing::MAX_LINES);
            skip(w, reason);
            continue;
        }
        let (max, why) = match settings.max_units_per_line {
            Some(max) => (max, format!("at most {max} units a line")),
            None => (
                purchasing::MAX_LINE_QUANTITY,
                format!("a line orders at most {}", purchasing::MAX_LINE_QUANTITY),
            ),
        };
        if !cut_to(&mut w, max, &why) {
            let reason = format!(
                "{why}, and the supplier sells it in at least {} (multiples of {})",
                w.item.min_order_quantity, w.item.order_multiple
            );
            skip(w, reason);
            continue;
        }
        if let Some(left) = value_left.as_mut() {
            let price = i128::from(w.item.price_units);
            if price > 0 && price * i128::from(w.rationale.quantity) > *left {
                let fits = i64::try_from(*left / price).unwrap_or(i64::MAX);
                let (limit, currency) = settings.max_order_value.clone().unwrap_or_default();
                let why = format!(
                    "the draft may be worth at most {} {currency}",
                    price_to_decimal(limit)
                );
                if !cut_to(&mut w, fits, &why) {
                    skip(w, why);
                    continue;
                }
            }
            *left -= price * i128::from(w.rationale.quantity);
        }
        items.insert(w.item.id);
        kept.push(w);
    }
    kept
}

/// Whether `lines` already order exactly what `wants` would.
fn same_lines(lines: &[line::Model], wants: &[Want]) -> bool {
    let have: BTreeMap<Uuid, (Uuid, i64, i64)> = lines
        .iter()
        .map(|l| (l.catalog_item_id, (l.product_id, l.quantity, l.unit_price)))
        .collect();
    let want: BTreeMap<Uuid, (Uuid, i64, i64)> = wants
        .iter()
        .map(|w| {
            let line = (w.product.id, w.rationale.quantity, w.item.price_units);
            (w.item.id, line)
        })
        .collect();
    lines.len() == have.len() && have == want
}

async fn plan_and_write(
    tx: &Tx,
    ctx: &TenantContext,
    me: Uuid,
    settings: &AgentSettings,
    now: DateTime<Utc>,
) -> AppResult<Run> {
    let products = tx
        .select::<product::Entity>()
        .filter(product::Column::Active.eq(true))
        .filter(product::Column::SupplierItemId.is_not_null())
        .all(tx.conn())
        .await?;
    let items: HashMap<Uuid, catalog_item::Model> = tx
        .find_many::<catalog_item::Entity>(
            products
                .iter()
                .filter_map(|p| p.supplier_item_id)
                .collect::<Vec<_>>(),
        )
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| (i.id, i))
        .collect();
    let suppliers = active_partners(tx, me, CompanyType::Supplier.as_str()).await?;
    let pos = position(tx, me, settings, now).await?;
    let today = now.date_naive();
    let read = Series::ending(today, HISTORY_DAYS + 1);
    let sold = demand::daily(tx, &read, None, None).await?;
    let none = vec![0.0; read.days];

    let mut run = Run {
        drafts: vec![],
        unchanged: 0,
        withdrawn: vec![],
        considered: 0,
        skipped: vec![],
        started_at: now,
        finished_at: now,
    };
    let mut by_supplier: BTreeMap<Uuid, Vec<Want>> = BTreeMap::new();
    for p in products {
        let Some(item) = p.supplier_item_id.and_then(|i| items.get(&i)) else {
            continue;
        };
        if !suppliers.contains_key(&item.company_id) {
            continue;
        }
        run.considered += 1;
        let available = pos.available.get(&p.id).copied().unwrap_or(0);
        let on_order = pos.on_order.get(&p.id).copied().unwrap_or(0);
        let days = sold.get(&p.id).unwrap_or(&none);
        let Some(rationale) = need(
            &p,
            item,
            days,
            read.first,
            available,
            on_order,
            settings.review_days,
        ) else {
            continue;
        };
        if let Some((number, day, reason)) = pos.declined.get(&p.id) {
            let reason = match reason {
                Some(r) => format!("a person declined it in {number} on {day}: {r}"),
                None => format!("a person declined it in {number} on {day}"),
            };
            run.skipped.push(Skipped { product: p, reason });
            continue;
        }
        by_supplier.entry(item.company_id).or_default().push(Want {
            item: item.clone(),
            product: p,
            rationale,
        });
    }
    let mut open = pos.open;
    let mut made_today = pos.made_today;
    let mut location = None;
    let managers = managers(tx, me).await?;
    // Suppliers whose open draft is no longer needed at all.
    let idle: Vec<Uuid> = open
        .keys()
        .filter(|s| !by_supplier.contains_key(s))
        .copied()
        .collect();
    for s in idle {
        if let Some((order, _)) = open.remove(&s) {
            let why = "no longer needed: nothing on it needs ordering now";
            withdraw(tx, ctx, &order, why).await?;
            run.withdrawn.push(order.po_number);
        }
    }
    // The most urgent supplier first (its soonest stock-out), so that a limit on new
    // drafts leaves out the least urgent.
    let mut by_supplier: Vec<(Uuid, Vec<Want>)> = by_supplier.into_iter().collect();
    let soonest = |wants: &[Want]| {
        wants
            .iter()
            .map(|w| w.rationale.runs_out_in_days)
            .min()
            .unwrap_or(i64::MAX)
    };
    by_supplier.sort_by_key(|(_, wants)| soonest(wants));
    for (supplier, wants) in by_supplier {
        let wants = within_limits(wants, settings, &mut run.skipped);
        let existing = open.remove(&supplier);
        if wants.is_empty() {
            if let Some((order, _)) = existing {
                withdraw(tx, ctx, &order, "nothing on it fits the limits any more").await?;
                run.withdrawn.push(order.po_number);
            }
            continue;
        }
        let notes = Some(format!(
            "Drafted by the purchasing agent on {today} for a person's approval."
        ));
        let lines: Vec<DraftLine> = wants
            .iter()
            .map(|w| DraftLine {
                item: w.item.clone(),
                product: w.product.clone(),
                quantity: w.rationale.quantity,
                rationale: serde_json::to_string(&w.rationale).ok(),
            })
            .collect();
        let (row, updated) = match existing {
            Some((_, have)) if same_lines(&have, &wants) => {
                run.unchanged += 1;
                continue;
            }
            Some((order, _)) => {
                let currency = wants[0].item.currency.clone();
                let row = purchasing::replace_lines(tx, &order, &currency, lines, notes).await?;
                (row, true)
            }
            None => {
                if let Some(max) = settings.max_drafts_per_day
                    && made_today >= max.max(0) as u64
                {
                    for w in wants {
                        run.skipped.push(Skipped {
                            product: w.product,
                            reason: format!("at most {max} new drafts a day"),
                        });
                    }
                    continue;
                }
                if location.is_none() {
                    location = Some(main_location(tx, me).await?.id);
                }
                let head = Head {
                    supplier,
                    supplier_name: suppliers.get(&supplier).cloned().unwrap_or_default(),
                    location: location.unwrap_or_default(),
                    currency: wants[0].item.currency.clone(),
                    by_system: true,
                    by_agent: true,
                    notes,
                };
                made_today += 1;
                (purchasing::insert_order(tx, me, head, lines).await?, false)
            }
        };
        let total: i128 = wants
            .iter()
            .map(|w| i128::from(w.rationale.quantity) * i128::from(w.item.price_units))
            .sum();
        let total = price_to_decimal(i64::try_from(total).unwrap_or(i64::MAX));
        let drafted = PoDrafted {
            purchase_order_id: id::encode(PURCHASE_ORDER, row.id),
            po_number: row.po_number.clone(),
            version: row.version,
            supplier_name: row.supplier_name.clone(),
            lines: wants.len() as i64,
            total: total.to_string(),
            currency: row.currency.clone(),
            updated,
        };
        tx.emit(&drafted, &[]).await?;
        for person in &managers {
            send_once(
                tx,
                &approval_mail(person, &row, &wants, &drafted),
                &format!("po-drafted:{}:{}:{}", row.id, row.version, person.id),
            )
            .await?;
        }
        let what = if updated { "updated" } else { "drafted" };
        audit(
            tx,
            ctx,
            &format!("{what} {} for approval", row.po_number),
            row.id,
        )
        .await?;
        run.drafts.push(Order {
            row,
            lines: vec![],
            location: None,
            products: HashMap::new(),
        });
    }
    Ok(run)
}

/// Records what the agent did to an order in the company's audit log, the agent named as
/// its author.
async fn audit(tx: &Tx, ctx: &TenantContext, what: &str, order: Uuid) -> AppResult<()> {
    record_in(
        tx,
        ctx,
        &ClientInfo::default(),
        &AuditEntry {
            operation: format!("system:{AGENT}: {what}"),
            target_ids: vec![id::encode(PURCHASE_ORDER, order).to_string()],
            error_code: None,
        },
    )
    .await
}

/// Withdraws the agent's own draft, saying why, in the audit log too.
async fn withdraw(tx: &Tx, ctx: &TenantContext, order: &po::Model, why: &str) -> AppResult<()> {
    purchasing::withdraw(tx, order, why).await?;
    audit(
        tx,
        ctx,
        &format!("withdrew {}: {why}", order.po_number),
        order.id,
    )
    .await
}

/// The company's active admins and managers: who approves a draft.
async fn managers(tx: &Tx, me: Uuid) -> AppResult<Vec<user::Model>> {
    Ok(tx
        .select::<user::Entity>()
        .filter(user::Column::CompanyId.eq(me))
        .filter(user::Column::Role.is_in([Role::CompanyAdmin.as_str(), Role::Manager.as_str()]))
        .all(tx.conn())
        .await?
        .into_iter()
        .filter(|u| u.status == UserStatus::Active)
        .collect())
}

/// Where the approval mail points: the playground's pending-approvals example.
pub const PENDING_APPROVALS_LINK: &str = "/playground?tab=PendingApprovals";

/// The mail that asks a manager to approve a draft.
fn approval_mail(person: &user::Model, row: &po::Model, wants: &[Want], e: &PoDrafted) -> Mail {
    let mut text = format!(
        "A purchase order is drafted for your approval.\n\n\
         {} to {}: {} line(s), {} {}{}.\n\n",
        row.po_number,
        row.supplier_name,
        e.lines,
        e.total,
        e.currency,
        if e.updated { " (updated)" } else { "" }
    );
    for w in wants.iter().take(20) {
        text.push_str(&format!(
            "- {} x {} ({}): {}\n",
            w.rationale.quantity, w.item.name, w.item.sku, w.rationale.sentence
        ));
    }
    if wants.len() > 20 {
        text.push_str(&format!("- and {} more line(s)\n", wants.len() - 20));
    }
    text.push_str(
        "\nNothing is sent to the supplier until a manager approves it. The \
         pendingApprovals query lists the drafts waiting for you; approvePurchaseOrder then \
         submitPurchaseOrder send one, cancelPurchaseOrder with a reason declines it. In \
         the playground:\n",
    );
    Mail {
        to: person.email.clone(),
        subject: format!("{} is drafted for your approval", row.po_number),
        text,
        link: Some(PENDING_APPROVALS_LINK.into()),
    }
}

/// The system drafts waiting for a person's approval (any member), oldest first.
pub async fn pending(db: &Db, ctx: &TenantContext) -> AppResult<Vec<Order>> {
    let me = require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let rows = tx
        .select::<po::Entity>()
        .filter(po::Column::CompanyId.eq(me))
        .filter(po::Column::Status.eq(PurchaseOrderStatus::Draft))
        .filter(po::Column::CreatedBySystem.eq(true))
        .filter(po::Column::ApprovedAt.is_null())
        .limit(500)
        .all(tx.conn())
        .await?;
    let mut out = purchasing::by_ids(&tx, rows.into_iter().map(|r| r.id).collect()).await?;
    tx.commit().await?;
    out.sort_by_key(|o| o.row.id);
    Ok(out)
}

/// Runs one company's agent (the job's company), when its nightly run is enabled.
pub fn agent_kind() -> JobKind {
    JobKind::new(
        AGENT,
        handler(|run: JobRun| async move {
            let Some(company) = run.company_id else {
                return Err(JobError::permanent("an agent run names its company"));
            };
            let enabled = {
                let tx = run.db.read(&run.tenant()).await?;
                let s = load_settings(&tx, company).await?;
                tx.commit().await?;
                s.enabled
            };
            if enabled {
                let done = run_for(&run.db, company, "nightly run").await?;
                tracing::info!(
                    %company,
                    drafts = done.drafts.len(),
                    considered = done.considered,
                    skipped = done.skipped.len(),
                    "purchasing agent ran"
                );
            }
            Ok(())
        }),
    )
    .max_attempts(3)
}

/// Every company that enabled its agent gets its run (one per company per night).
pub fn agent_all_kind() -> JobKind {
    JobKind::new(
        AGENT_ALL,
        handler(|run: JobRun| async move {
            #[allow(clippy::disallowed_methods)]
            // a cross-tenant worker: it only lists which companies enabled the agent
            let tx = run.db.system().await?;
            let companies: Vec<Uuid> = tx
                .select::<settings::Entity>()
                .select_only()
                .column(settings::Column::CompanyId)
                .filter(settings::Column::Enabled.eq(true))
                .into_tuple()
                .all(tx.conn())
                .await
                .map_err(AppError::from)?;
            tx.enqueue_tonight_for(companies, &RunAgent {}).await?;
            tx.commit().await?;
            Ok(())
        }),
    )
    .max_attempts(3)
}

/// Every night, after the reconciliation.
pub fn agent_schedule() -> Schedule {
    Schedule {
        name: "purchasing-agent",
        cron: "41 2 * * *",
        job: || NewJob::of(&RunAgentAll {}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rationale() -> Rationale {
        Rationale {
            sentence: String::new(),
            daily_demand: 4.1,
            recent_daily_rate: 4.5,
            usual_daily_rate: Some(1.4),
            ratio: Some(3.2),
            available: 33,
            on_order: 0,
            runs_out_in_days: 8,
            lead_time_days: 14,
            review_days: 7,
            forecast_units: 86.1,
            safety_stock: 12,
            method: "SES".into(),
            needed: 70,
            quantity: 70,
            cut: None,
        }
    }

    #[test]
    fn the_sentence_says_the_numbers() {
        let r = rationale();
        assert_eq!(
            sentence(&r),
            "sells 4.1 a day, 3.2× its usual rate; 33 available runs out in 8 days; lead time \
             14 days; 70 covers lead time, review (7 days) and safety stock (12)"
        );
        let r = Rationale {
            ratio: Some(1.1),
            on_order: 10,
            runs_out_in_days: 0,
            cut: Some("cut from 70 to 40: at most 40 units a line".into()),
            quantity: 40,
            ..rationale()
        };
        assert_eq!(
            sentence(&r),
            "sells 4.1 a day; 33 available and 10 on order runs out today; lead time 14 days; 70 \
             covers lead time, review (7 days) and safety stock (12); cut from 70 to 40: at \
             most 40 units a line"
        );
    }
}
