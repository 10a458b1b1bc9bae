//! The purchasing agent: its settings, a run on request, what it drafted and why, and the
//! drafts waiting for a person's approval.

use crate::graphql::products::Product;
use crate::graphql::purchasing::PurchaseOrder;
use crate::service::agent::{self, AgentSettings as Settings, Rationale, Run, SettingsInput};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::money::{Money, MoneyInput};
use ils_kernel::request_parts;

/// Your company's purchasing agent settings: whether it runs every night, and the limits
/// of what it may draft.
#[derive(SimpleObject)]
pub struct AgentSettings {
    /// Whether the agent runs every night (a manager may run it any time with
    /// `runPurchasingAgent`).
    pub enabled: bool,
    /// The most one draft may be worth; lines are cut (the most urgent kept) to stay
    /// within it, and a supplier selling in another currency gets no draft. Null: no
    /// limit.
    pub max_order_value: Option<Money>,
    /// The most units one draft line may order; null: no limit.
    pub max_units_per_line: Option<i64>,
    /// The most new drafts the agent makes in a day (UTC); updating its open draft for a
    /// supplier does not count. Null: no limit.
    pub max_drafts_per_day: Option<i32>,
    /// Days a draft covers beyond the supplier's lead time (the review period).
    pub review_days: i32,
    /// Days the agent leaves a product alone after a person declined its draft
    /// (`cancelPurchaseOrder`).
    pub decline_memory_days: i32,
}

impl From<Settings> for AgentSettings {
    fn from(s: Settings) -> Self {
        AgentSettings {
            enabled: s.enabled,
            max_order_value: s.max_order_value.map(|(units, currency)| Money {
                amount: price_to_decimal(units),
                currency,
            }),
            max_units_per_line: s.max_units_per_line,
            max_drafts_per_day: s.max_drafts_per_day,
            review_days: s.review_days,
            decline_memory_days: s.decline_memory_days,
        }
    }
}

/// What `updateAgentSettings` takes: every setting (a limit left out is no limit).
#[derive(InputObject)]
pub struct UpdateAgentSettingsInput {
    /// Whether the agent runs every night.
    pub enabled: bool,
    /// The most one draft may be worth, more than 0.
    pub max_order_value: Option<MoneyInput>,
    /// The most units one line may order, 1..1000000.
    pub max_units_per_line: Option<i64>,
    /// The most new drafts a day, 0..100.
    pub max_drafts_per_day: Option<i32>,
    /// Days a draft covers beyond the lead time, 1..60 (default 7).
    pub review_days: Option<i32>,
    /// Days a declined product is left alone, 0..365 (default 30).
    pub decline_memory_days: Option<i32>,
}

/// What `updateAgentSettings` gives back.
#[derive(SimpleObject)]
pub struct UpdateAgentSettingsPayload {
    /// The settings now.
    pub agent_settings: AgentSettings,
}

/// Why the purchasing agent drafted a line: the numbers, and one sentence made of them.
#[derive(SimpleObject)]
pub struct DraftRationale {
    /// The numbers in one sentence, e.g. "sells 4.1 a day, 3.2× its usual rate; 33
    /// available runs out in 8 days; lead time 14 days; 70 covers lead time, review (7
    /// days) and safety stock (12)".
    pub sentence: String,
    /// Units a day the forecast expects over lead time and review.
    pub daily_demand: f64,
    /// Units sold a day over the last 14 days (today included).
    pub recent_daily_rate: f64,
    /// Units sold a day over the 90 days before them; null without sales then.
    pub usual_daily_rate: Option<f64>,
    /// The recent rate over the usual one; null without a usual rate.
    pub ratio: Option<f64>,
    /// Available (on hand less reserved) over all locations when drafted.
    pub available: i64,
    /// On order when drafted: open purchase orders not received yet, and drafts a person
    /// made or approved.
    pub on_order: i64,
    /// Whole days available plus on order lasts at the forecast rate.
    pub runs_out_in_days: i64,
    /// The lead time used: the product's own, else the supplier item's.
    pub lead_time_days: i32,
    /// The review period used.
    pub review_days: i32,
    /// Units the forecast expects over lead time and review.
    pub forecast_units: f64,
    /// Safety stock: 1.645 x the standard deviation of the forecast's error over lead
    /// time and review (95 % service), in units.
    pub safety_stock: i64,
    /// The forecasting method (as `demandForecast` names it).
    pub method: String,
    /// What covering lead time, review and safety stock takes, less available and on
    /// order, rounded up to the item's minimum order and order multiple.
    pub needed: i64,
    /// What the line orders: `needed`, unless a limit cut it.
    pub quantity: i64,
    /// Why the line orders less than needed (the limit); null when it does not.
    pub cut: Option<String>,
}

impl From<Rationale> for DraftRationale {
    fn from(r: Rationale) -> Self {
        DraftRationale {
            sentence: r.sentence,
            daily_demand: r.daily_demand,
            recent_daily_rate: r.recent_daily_rate,
            usual_daily_rate: r.usual_daily_rate,
            ratio: r.ratio,
            available: r.available,
            on_order: r.on_order,
            runs_out_in_days: r.runs_out_in_days,
            lead_time_days: r.lead_time_days,
            review_days: r.review_days,
            forecast_units: r.forecast_units,
            safety_stock: r.safety_stock,
            method: r.method,
            needed: r.needed,
            quantity: r.quantity,
            cut: r.cut,
        }
    }
}

/// A product the agent would have ordered but left out, and why.
#[derive(SimpleObject)]
pub struct AgentSkip {
    /// The product.
    pub product: Product,
    /// Why: a person declined it lately, a limit left no room, the day's new drafts are
    /// used up.
    pub reason: String,
}

/// What one run of the purchasing agent did.
#[derive(SimpleObject)]
pub struct PurchasingAgentRun {
    /// The drafts made or changed, waiting for approval.
    pub drafts: Vec<PurchaseOrder>,
    /// Open drafts that already ordered what is needed, left as they were.
    pub unchanged: i32,
    /// Drafts withdrawn (CANCELLED) because nothing on them is needed any more: their PO
    /// numbers.
    pub withdrawn: Vec<String>,
    /// Products looked at: active, linked to an item of a supplier you are ACTIVELY
    /// connected with.
    pub considered: i32,
    /// Products that needed ordering but were left out.
    pub skipped: Vec<AgentSkip>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

impl From<Run> for PurchasingAgentRun {
    fn from(r: Run) -> Self {
        PurchasingAgentRun {
            drafts: r.drafts.into_iter().map(PurchaseOrder).collect(),
            unchanged: r.unchanged as i32,
            withdrawn: r.withdrawn,
            considered: r.considered as i32,
            skipped: r
                .skipped
                .into_iter()
                .map(|s| AgentSkip {
                    product: Product(s.product),
                    reason: s.reason,
                })
                .collect(),
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// What `runPurchasingAgent` gives back.
#[derive(SimpleObject)]
pub struct RunPurchasingAgentPayload {
    /// What the run did.
    pub agent_run: PurchasingAgentRun,
}

#[derive(Default)]
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    /// Your company's purchasing agent settings (any member).
    async fn agent_settings(&self, ctx: &Context<'_>) -> Result<AgentSettings> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(agent::settings_of(db, tenant).await?.into())
    }

    /// Purchase orders the system drafted that wait for a person's approval (any member;
    /// admins and managers approve), oldest first, at most 500. Each line says why it
    /// was drafted (`rationale`).
    async fn pending_approvals(&self, ctx: &Context<'_>) -> Result<Vec<PurchaseOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(agent::pending(db, tenant)
            .await?
            .into_iter()
            .map(PurchaseOrder)
            .collect())
    }
}

#[derive(Default)]
pub struct AgentMutation;

#[Object]
impl AgentMutation {
    /// Replaces your company's purchasing agent settings (admins and managers).
    async fn update_agent_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Every setting.")] input: UpdateAgentSettingsInput,
    ) -> Result<UpdateAgentSettingsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let s = agent::update_settings(
            db,
            tenant,
            SettingsInput {
                enabled: input.enabled,
                max_order_value: input.max_order_value,
                max_units_per_line: input.max_units_per_line,
                max_drafts_per_day: input.max_drafts_per_day,
                review_days: input.review_days,
                decline_memory_days: input.decline_memory_days,
            },
        )
        .await?;
        Ok(UpdateAgentSettingsPayload {
            agent_settings: s.into(),
        })
    }

    /// Runs the purchasing agent now (admins and managers), enabled or not: it drafts
    /// purchase orders for what runs out within lead time plus review, within your
    /// limits, for a manager to approve. It never submits anything.
    async fn run_purchasing_agent(&self, ctx: &Context<'_>) -> Result<RunPurchasingAgentPayload> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(RunPurchasingAgentPayload {
            agent_run: agent::run_now(db, tenant).await?.into(),
        })
    }
}
