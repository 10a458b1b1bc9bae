//! The orders module's steps of the onboarding checklist: a practice's first lens order
//! sent, a lab's first order accepted.

use ils_common::company::CompanyType;
use ils_entity::{lens_order as order, order_status_change as change};
use ils_kernel::Tx;
use ils_kernel::onboarding::{Step, StepFuture, exists};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

pub fn steps() -> Vec<Step> {
    vec![
        Step {
            key: "FIRST_ORDER",
            position: 60,
            title: "Send your first lens order to a lab",
            how: "submitOrder (of a draft from createOrderDraft or importDcs)",
            for_types: &[CompanyType::Ecp],
            done: order_sent,
        },
        Step {
            key: "FIRST_ORDER_ACCEPTED",
            position: 60,
            title: "Accept your first lens order from a practice",
            how: "moveOrder to RECEIVED",
            for_types: &[CompanyType::Lab],
            done: order_accepted,
        },
    ]
}

/// An order the practice submitted, whatever became of it since.
fn order_sent(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            tx.select::<order::Entity>()
                .filter(order::Column::CompanyId.eq(company))
                .filter(order::Column::SubmittedAt.is_not_null()),
        )
        .await
    })
}

/// An order the lab moved to RECEIVED, whatever became of it since.
fn order_accepted(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            tx.select::<change::Entity>()
                .filter(change::Column::LabCompanyId.eq(company))
                .filter(change::Column::ToStatus.eq("RECEIVED"))
                .filter(change::Column::ActorCompanyId.eq(company)),
        )
        .await
    })
}
