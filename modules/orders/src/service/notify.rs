//! Mail to the practice about its orders, through the job queue: a confirmation when it
//! submits, and a message for each thing the lab does that the practice must know or act
//! on (received with its job number and due date, on hold with a question, shipped with
//! tracking, rejected with the reason). Production stages are followed live, not mailed.
//! A message goes to the person who submitted the order, or, when that person is no longer
//! active, to the practice's admins. It names the patient by reference only: mail is not
//! a place for health data.

use crate::events::OrderChange;
use crate::model::{ORDER, OrderStatus};
use ils_common::company::COMPANY;
use ils_entity::user::UserStatus;
use ils_entity::{lens_order as order, order_status_change as change, user};
use ils_kernel::jobs::{JobError, JobKind, JobRun, handler};
use ils_kernel::mail::{Mail, send_once};
use ils_kernel::{AppResult, id};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub const MAIL_PRACTICE: &str = "orders.mail_practice";

pub fn mail_kind() -> JobKind {
    JobKind::new(MAIL_PRACTICE, handler(mail_practice))
        .on_events(&["order.submitted", "order.status_changed"])
}

/// The lab's moves the practice is mailed about.
const MAILED: [OrderStatus; 4] = [
    OrderStatus::Received,
    OrderStatus::OnHold,
    OrderStatus::Shipped,
    OrderStatus::Rejected,
];

async fn mail_practice(run: JobRun) -> Result<(), JobError> {
    let event = run.event()?;
    let change = OrderChange::of(&event)
        .ok_or_else(|| JobError::permanent("not an order event this release can read"))?;
    let (Ok(order_id), Ok(practice), Some(status)) = (
        id::decode(ORDER, &change.order_id, "orderId"),
        id::decode(COMPANY, &change.practice_id, "practiceId"),
        OrderStatus::parse(&change.status),
    ) else {
        return Err(JobError::permanent("an order event without its order"));
    };
    let by_practice = event.company_id == Some(practice);
    let wanted = match event.event_type.as_str() {
        "order.submitted" => true,
        _ => !by_practice && MAILED.contains(&status),
    };
    if !wanted {
        return Ok(());
    }
    let note = change.note;
    send(&run, &event, order_id, practice, status, note)
        .await
        .map_err(JobError::from)
}

async fn send(
    run: &JobRun,
    event: &ils_kernel::Event,
    order_id: Uuid,
    practice: Uuid,
    status: OrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    // The practice is one of the order event's two parties: mail goes to its own people.
    let event_id = event.id;
    let ctx = event.act_for_audience(practice)?;
    let tx = run.db.tenant(&ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let submitter = tx
        .select::<change::Entity>()
        .filter(change::Column::OrderId.eq(order_id))
        .filter(change::Column::ToStatus.eq(OrderStatus::Submitted.as_str()))
        .order_by_asc(change::Column::Id)
        .one(tx.conn())
        .await?
        .and_then(|c| c.actor_user_id);
    let active = |u: &user::Model| u.status == UserStatus::Active && u.company_id == Some(practice);
    let mut to: Vec<user::Model> = match submitter {
        Some(uid) => tx
            .find::<user::Entity>(uid)
            .await?
            .filter(active)
            .into_iter()
            .collect(),
        None => vec![],
    };
    if to.is_empty() {
        to = tx
            .select::<user::Entity>()
            .filter(user::Column::CompanyId.eq(practice))
            .filter(user::Column::Role.eq("COMPANY_ADMIN"))
            .all(tx.conn())
            .await?
            .into_iter()
            .filter(active)
            .collect();
    }
    let mail = message(&row, status, note.as_deref());
    for person in to {
        send_once(
            &tx,
            &Mail {
                to: person.email.clone(),
                ..mail.clone()
            },
            &format!("order-mail:{event_id}:{}", person.id),
        )
        .await?;
    }
    tx.commit().await
}

/// The message for `status` (the status the event announced; the row may be further on,
/// so what the step said, its `note`, comes from the event: a later hold's question does
/// not rewrite an earlier mail).
pub fn message(row: &order::Model, status: OrderStatus, note: Option<&str>) -> Mail {
    let lab = row.lab_name.as_deref().unwrap_or("the lab");
    let number = &row.order_number;
    let reference = &row.patient_ref;
    let (subject, what) = match status {
        OrderStatus::Submitted => (
            format!("sent to {lab}"),
            format!("Your order {number} was sent to {lab}."),
        ),
        OrderStatus::Received => (
            format!("accepted by {lab}"),
            format!(
                "{lab} accepted order {number} as job {} and expects it ready by {}.",
                row.lab_job_number.as_deref().unwrap_or("(no number)"),
                row.due_date
                    .map_or("(no date)".to_owned(), |d| d.format("%Y-%m-%d").to_string()),
            ),
        ),
        OrderStatus::OnHold => (
            format!("{lab} has a question"),
            format!(
                "{lab} put order {number} on hold and asks:\n\n{}\n\nAnswer with moveOrder (to RECEIVED, with your answer).",
                note.or(row.hold_question.as_deref()).unwrap_or("")
            ),
        ),
        OrderStatus::Shipped => (
            format!("shipped by {lab}"),
            format!(
                "{lab} shipped order {number} with {}, tracking number {}.",
                row.carrier.as_deref().unwrap_or("(no carrier)"),
                row.tracking_number.as_deref().unwrap_or("(none)")
            ),
        ),
        OrderStatus::Rejected => (
            format!("rejected by {lab}"),
            format!(
                "{lab} rejected order {number}:\n\n{}",
                note.or(row.reject_reason.as_deref())
                    .unwrap_or("(no reason given)")
            ),
        ),
        other => (
            "an update".to_owned(),
            format!("Order {number} is now {}.", other.as_str()),
        ),
    };
    Mail {
        to: String::new(),
        // The number and the status first, so a mail rule can sort them.
        subject: format!("Order {number} {}: {subject}", status.as_str()),
        text: format!("{what}\n\nPatient reference: {reference}\n"),
        link: None,
    }
}
