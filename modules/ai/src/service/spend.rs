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
pub struct Call<'a> {
    pub message_id: Uuid,
    pub provider: &'a str,
    pub model: &'a str,
    pub usage: crate::provider::Usage,
    pub cost_micros: i64,
}

/// Records a call and adds its cost to the month's total, in one transaction. Two first
/// calls of a month at once may both try to start the total; the loser tries again.
pub async fn record(db: &Db, ctx: &TenantContext, call: Call<'_>) -> AppResult<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match record_once(db, ctx, &call).await {
            Err(AppError::Conflict(_)) if attempt < 3 => continue,
            other => return other,
        }
    }
}

async fn record_once(db: &Db, ctx: &TenantContext, call: &Call<'_>) -> AppResult<()> {
    use sea_orm::sea_query::ExprTrait;
    let now = chrono::Utc::now();
    let tx = db.tenant(ctx).await?;
    tx.insert(usage::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(Uuid::nil()),
        user_id: Set(ctx.user_id().unwrap_or_default()),
        message_id: Set(call.message_id),
        provider: Set(call.provider.into()),
        model: Set(call.model.into()),
        input_tokens: Set(Ord::min(call.usage.input_tokens, i64::MAX as u64) as i64),
        output_tokens: Set(Ord::min(call.usage.output_tokens, i64::MAX as u64) as i64),
        cost_micros: Set(call.cost_micros),
        created_at: Set(now),
    })
    .await?;
    let month = month_key(now);
    let added = tx
        .update_many::<spend::Entity>(
            vec![
                (
                    spend::Column::CostMicros,
                    Expr::col(spend::Column::CostMicros).add(call.cost_micros),
                ),
                (spend::Column::UpdatedAt, Expr::value(now)),
            ],
            spend::Column::Month.eq(month.clone()),
        )
        .await?;
    if added == 0 {
        tx.insert(spend::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: Set(Uuid::nil()),
            month: Set(month),
            cost_micros: Set(call.cost_micros),
            updated_at: Set(now),
        })
        .await?;
    }
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
