//! What the assistant costs: every model call's tokens and cost (`ai_usage`), the
//! company's spend this month against its cap, and the company's settings.

use ils_entity::{ai_settings as settings, ai_spend as spend, ai_usage as usage};
use ils_kernel::authz::require_member;
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// A company's settings, or the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub share_patient_data: bool,
    /// The company's own cap, when it set one (at most the platform's).
    pub monthly_cap_micros: Option<i64>,
}

pub async fn settings(tx: &Tx) -> AppResult<Settings> {
    let row = tx.select::<settings::Entity>().one(tx.conn()).await?;
    Ok(match row {
        Some(r) => Settings {
            share_patient_data: r.share_patient_data,
            monthly_cap_micros: r.monthly_cap_micros,
        },
        None => Settings {
            share_patient_data: false,
            monthly_cap_micros: None,
        },
    })
}

/// Whether the caller may change the assistant's settings (a company admin; checked
/// again against the database when changing them).
pub fn may_change_settings(ctx: &TenantContext) -> AppResult<()> {
    require_member(ctx)?;
    if !ctx.has_role(Role::CompanyAdmin) {
        return Err(AppError::forbidden(
            "only company admins change the assistant's settings",
        ));
    }
    Ok(())
}

/// Whether the caller may read the assistant's usage (a company admin, checked again
/// against the database, or a platform admin).
pub fn may_read_usage(ctx: &TenantContext) -> AppResult<()> {
    if ctx.is_anonymous() {
        return Err(AppError::unauthenticated());
    }
    if !ctx.is_platform_admin() && !ctx.has_role(Role::CompanyAdmin) {
        return Err(AppError::forbidden(
            "only company admins read the assistant's usage",
        ));
    }
    Ok(())
}

/// Changes the company's settings (company admins only). A cap above the platform's is
/// refused; `None` for a field leaves it as it is; `clear_cap` goes back to the
/// platform's cap.
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    platform_cap: i64,
    share_patient_data: Option<bool>,
    cap: Option<i64>,
    clear_cap: bool,
) -> AppResult<Settings> {
    may_change_settings(ctx)?;
    if let Some(c) = cap
        && !(0..=platform_cap).contains(&c)
    {
        return Err(AppError::bad_input(
            "input.monthlyCap",
            format!(
                "between 0 and the platform's cap of {}",
                crate::graphql::usd(platform_cap)
            ),
        ));
    }
    let tx = db.tenant(ctx).await?;
    ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin).await?;
    let current = tx.select::<settings::Entity>().one(tx.conn()).await?;
    let now = chrono::Utc::now();
    let out = match current {
        Some(row) => {
            let mut am: settings::ActiveModel = row.into();
            if let Some(s) = share_patient_data {
                am.share_patient_data = Set(s);
            }
            if cap.is_some() || clear_cap {
                am.monthly_cap_micros = Set(cap);
            }
            am.updated_at = Set(now);
            tx.update(am).await?
        }
        None => {
            tx.insert(settings::ActiveModel {
                company_id: Set(Uuid::nil()),
                share_patient_data: Set(share_patient_data.unwrap_or(false)),
                monthly_cap_micros: Set(cap),
                updated_at: Set(now),
            })
            .await?
        }
    };
    tx.commit().await?;
    Ok(Settings {
        share_patient_data: out.share_patient_data,
        monthly_cap_micros: out.monthly_cap_micros,
    })
}

/// The first instant of the current calendar month (UTC).
pub fn month_start(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, TimeZone};
    chrono::Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// A month's key in `ai_spend`: `YYYY-MM` (UTC).
pub fn month_key(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// What the acting company spent in the calendar month of `at`, in micro-dollars: one row.
pub async fn spent_in_month(tx: &Tx, at: chrono::DateTime<chrono::Utc>) -> AppResult<i64> {
    let row = tx
        .select::<spend::Entity>()
        .filter(spend::Column::Month.eq(month_key(at)))
        .one(tx.conn())
        .await?;
    Ok(row.map_or(0, |r| r.cost_micros))
}

/// One model call to record.
#[derive(Clone, Debug)]
pub struct Call {
    pub provider: String,
    pub model: String,
    pub usage: crate::provider::Usage,
    pub cost_micros: i64,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Records calls in `tx` (the one that stores their answer): a usage row each, in one
/// statement, and their cost added to the month's running total, started when it is the
/// month's first (an upsert: two first calls at once both count, neither fails).
/// `message_id` is the answer's.
pub async fn record(tx: &Tx, message_id: Uuid, calls: &[Call]) -> AppResult<()> {
    let Some(last) = calls.last() else {
        return Ok(());
    };
    let user = tx.scope().user().unwrap_or_default();
    tx.insert_many::<usage::Entity, _>(
        calls
            .iter()
            .map(|c| usage::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(Uuid::nil()),
                user_id: Set(user),
                message_id: Set(message_id),
                provider: Set(c.provider.clone()),
                model: Set(c.model.clone()),
                input_tokens: Set(Ord::min(c.usage.input_tokens, i64::MAX as u64) as i64),
                output_tokens: Set(Ord::min(c.usage.output_tokens, i64::MAX as u64) as i64),
                cost_micros: Set(c.cost_micros),
                created_at: Set(c.at),
            })
            .collect(),
    )
    .await?;
    // Each month's calls go to that month's total (an answer may straddle midnight).
    let mut months: Vec<(String, i64)> = Vec::new();
    for c in calls {
        let month = month_key(c.at);
        match months.iter_mut().find(|(m, _)| *m == month) {
            Some((_, cost)) => *cost = cost.saturating_add(c.cost_micros),
            None => months.push((month, c.cost_micros)),
        }
    }
    for (month, cost) in months {
        use sea_orm::sea_query::ExprTrait;
        tx.upsert::<spend::Entity, _>(
            spend::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(Uuid::nil()),
                month: Set(month),
                cost_micros: Set(cost),
                updated_at: Set(last.at),
            },
            &[spend::Column::Month],
            vec![
                (
                    spend::Column::CostMicros,
                    Tx::existing::<spend::Entity>(spend::Column::CostMicros).add(Tx::proposed::<
                        spend::Entity,
                    >(
                        spend::Column::CostMicros,
                    )),
                ),
                (
                    spend::Column::UpdatedAt,
                    Tx::proposed::<spend::Entity>(spend::Column::UpdatedAt),
                ),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Records calls in a transaction of their own (calls whose answer was never stored).
pub async fn record_apart(
    db: &Db,
    ctx: &TenantContext,
    message_id: Uuid,
    calls: &[Call],
) -> AppResult<()> {
    let tx = db.tenant(ctx).await?;
    record(&tx, message_id, calls).await?;
    tx.commit().await
}

/// Usage over a period, summed by company, user, provider and model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub model: String,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

/// The usage a company admin (their company's) or a platform admin (every company's)
/// may read, between `from` and `to`.
pub async fn report(
    db: &Db,
    ctx: &TenantContext,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<Line>> {
    may_read_usage(ctx)?;
    let tx = db.read(ctx).await?;
    if !ctx.is_platform_admin() {
        ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin).await?;
    }
    type Row = (
        Uuid,
        Uuid,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let sum = |c: usage::Column| Func::cast_as(Func::sum(Expr::col(c)), Alias::new("BIGINT"));
    let rows: Vec<Row> = tx
        .select::<usage::Entity>()
        .select_only()
        .column(usage::Column::CompanyId)
        .column(usage::Column::UserId)
        .column(usage::Column::Provider)
        .column(usage::Column::Model)
        .expr(Func::cast_as(
            Func::count(Expr::col(usage::Column::Id)),
            Alias::new("BIGINT"),
        ))
        .expr(sum(usage::Column::InputTokens))
        .expr(sum(usage::Column::OutputTokens))
        .expr(sum(usage::Column::CostMicros))
        .filter(usage::Column::CreatedAt.gte(from))
        .filter(usage::Column::CreatedAt.lt(to))
        .group_by(usage::Column::CompanyId)
        .group_by(usage::Column::UserId)
        .group_by(usage::Column::Provider)
        .group_by(usage::Column::Model)
        .into_tuple()
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(
            |(company_id, user_id, provider, model, calls, i, o, c)| Line {
                company_id,
                user_id,
                provider,
                model,
                calls: calls.unwrap_or(0),
                input_tokens: i.unwrap_or(0),
                output_tokens: o.unwrap_or(0),
                cost_micros: c.unwrap_or(0),
            },
        )
        .collect())
}
