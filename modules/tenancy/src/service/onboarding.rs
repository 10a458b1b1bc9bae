//! The onboarding checklist of the caller's company: every module's steps for its kind of
//! company (`ils_kernel::onboarding`), checked in one guarded read; and tenancy's own
//! steps (opening hours, a colleague invited).

use ils_common::company::CompanyType;
use ils_entity::{company, invitation, user};
use ils_kernel::authz::require_member;
use ils_kernel::onboarding::{Checklist, Step, StepFuture, StepState, exists};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// The checklist of the caller's company (any member, or the company's API key), in list
/// order.
pub async fn of_caller(
    db: &Db,
    ctx: &TenantContext,
    checklist: &Checklist,
) -> AppResult<Vec<StepState>> {
    let me = require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let own = tx.get::<company::Entity>(me).await?;
    let kind = CompanyType::parse(&own.company_type)
        .ok_or_else(|| AppError::internal("company of unknown type"))?;
    let steps = checklist.run(&tx, me, kind).await?;
    tx.commit().await?;
    Ok(steps)
}

const EVERY_KIND: &[CompanyType] = &[CompanyType::Ecp, CompanyType::Lab, CompanyType::Supplier];

/// Tenancy's steps.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            key: "OPENING_HOURS",
            position: 30,
            title: "Give your opening hours",
            how: "updateCompanyProfile with openingHours",
            for_types: EVERY_KIND,
            done: opening_hours_given,
        },
        Step {
            key: "COLLEAGUE_INVITED",
            position: 40,
            title: "Invite a colleague",
            how: "inviteUser",
            for_types: EVERY_KIND,
            done: colleague_invited,
        },
    ]
}

fn opening_hours_given(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            tx.select::<company::Entity>()
                .filter(company::Column::Id.eq(company))
                .filter(company::Column::OpeningHours.is_not_null())
                .filter(company::Column::OpeningHours.ne("")),
        )
        .await
    })
}

/// An invitation sent (accepted, pending, expired or revoked: the company did invite), or
/// a second member however they came (an invitation pruned after its acceptance leaves
/// its user).
fn colleague_invited(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        if exists(
            tx,
            tx.select::<invitation::Entity>()
                .filter(invitation::Column::CompanyId.eq(company)),
        )
        .await?
        {
            return Ok(true);
        }
        use sea_orm::PaginatorTrait;
        let members = tx
            .select::<user::Entity>()
            .filter(user::Column::CompanyId.eq(company))
            .count(tx.conn())
            .await?;
        Ok(members > 1)
    })
}
