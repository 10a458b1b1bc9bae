//! A lab's turnaround rules as stored: read (the defaults until the lab saves its own) and
//! replaced by the lab's admins and managers.

use crate::json::{enc, stored};
use crate::model::LabTurnaround;
use chrono::Utc;
use ils_common::company::CompanyType;
use ils_entity::{company, lab_turnaround};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// The rules of the lab acting in `tx` (its own row, or the defaults).
pub async fn rules_of(tx: &Tx, lab: Uuid) -> AppResult<LabTurnaround> {
    match tx.find::<lab_turnaround::Entity>(lab).await? {
        Some(row) => stored(&row.rules),
        None => Ok(LabTurnaround::default()),
    }
}

/// The acting company, which must be a lab.
async fn lab_of(tx: &Tx, me: Uuid) -> AppResult<()> {
    let c = tx.get::<company::Entity>(me).await?;
    if c.company_type != CompanyType::Lab.as_str() {
        return Err(AppError::forbidden("only labs have turnaround rules"));
    }
    Ok(())
}

/// The acting lab's rules (the defaults until it sets them).
pub async fn get(db: &Db, ctx: &TenantContext) -> AppResult<LabTurnaround> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    lab_of(&tx, me).await?;
    let rules = rules_of(&tx, me).await?;
    tx.commit().await?;
    Ok(rules)
}

/// Replaces the acting lab's rules (admins and managers); every refused field at once.
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    input: LabTurnaround,
) -> AppResult<LabTurnaround> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    lab_of(&tx, me).await?;
    // Saves of one lab's rules take turns (the first two at once would both insert).
    tx.lock_for_update(
        tx.select::<company::Entity>()
            .filter(company::Column::Id.eq(me)),
    )
    .one(tx.conn())
    .await
    .map_err(AppError::from)?;
    let errors = input.validate();
    if !errors.is_empty() {
        return Err(AppError::invalid("input", errors));
    }
    let (rules, now) = (enc(&input)?, Utc::now());
    // The owner column is the key here, and the guard never writes an owner column in
    // an update: the row is replaced by its key instead.
    let updated = tx
        .update_many::<lab_turnaround::Entity>(
            vec![
                (lab_turnaround::Column::Rules, Expr::value(rules.clone())),
                (lab_turnaround::Column::UpdatedAt, Expr::value(now)),
            ],
            lab_turnaround::Column::CompanyId.eq(me),
        )
        .await?;
    if updated == 0 {
        tx.insert(lab_turnaround::ActiveModel {
            company_id: Set(me),
            rules: Set(rules),
            updated_at: Set(now),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(input)
}
