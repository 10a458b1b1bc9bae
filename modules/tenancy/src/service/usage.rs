//! What a company's callers asked of the API (the rows the server's usage counts are
//! flushed to): company admins read every caller's, an API key (a partner's integration)
//! its own only.

use chrono::NaiveDate;
use ils_entity::usage_daily as usage;
use ils_kernel::{Actor, AppError, AppResult, Db, Role, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::BTreeMap;

/// The longest period one read covers.
pub const MAX_DAYS: i64 = 366;

/// One caller's use of one operation over the period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// `key:<uuid>` or `user:<uuid>`.
    pub caller: String,
    pub operation: String,
    pub requests: i64,
    pub cost: i64,
    pub refusals: i64,
    pub errors: i64,
}

pub async fn read(
    db: &Db,
    ctx: &TenantContext,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<Entry>> {
    if to < from {
        return Err(AppError::bad_input(
            "period.to",
            "the period ends before it starts",
        ));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(AppError::bad_input(
            "period",
            format!("a period is at most {MAX_DAYS} days"),
        ));
    }
    let tx = db.read(ctx).await?;
    let own_key = match ctx.actor() {
        Actor::ApiKey { id, .. } => {
            ctx.company_id().ok_or_else(AppError::unauthenticated)?;
            Some(format!("key:{id}"))
        }
        _ => {
            super::require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
            None
        }
    };
    let mut select = tx
        .select::<usage::Entity>()
        .filter(usage::Column::Day.gte(from))
        .filter(usage::Column::Day.lte(to));
    if let Some(key) = &own_key {
        select = select.filter(usage::Column::Caller.eq(key.as_str()));
    }
    let rows = select.all(tx.conn()).await?;
    tx.commit().await?;
    let mut sums: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for r in rows {
        let e = sums
            .entry((r.caller.clone(), r.operation.clone()))
            .or_insert_with(|| Entry {
                caller: r.caller.clone(),
                operation: r.operation.clone(),
                ..Entry::default()
            });
        e.requests += r.requests;
        e.cost += r.cost;
        e.refusals += r.refusals;
        e.errors += r.errors;
    }
    Ok(sums.into_values().collect())
}
