//! The workflow: submission (the whole job checked), each party's moves, and new
//! measurements for a draft or a job the lab holds.

use super::{changed, own_draft, party_of, record_step, stale};
use crate::events::{
    OrderMeasured, OrderShipped, OrderStatusChanged, OrderSubmitted, order_change, parties,
};
use crate::json::{enc, stored};
use crate::lens::LensSpec;
use crate::model::{
    Fit, LAB_MEASURES, OrderStatus, Party, ProductionStage, allowed, check_job,
    measures_out_of_range,
};
use crate::rx::{EyeFit, FrameMeasure};
use crate::service::patients::practice_tx;
use crate::service::turnaround::rules_of;
use chrono::{Datelike, NaiveDate, Utc};
use ils_common::catalog::draft::FieldError;
use ils_common::company::{CompanyStatus, CompanyType};
use ils_common::validate;
use ils_entity::{company, lens_order as order};
use ils_kernel::authz::require_member;
use ils_kernel::connections::active_partner;
use ils_kernel::{AppError, AppResult, Db, TenantContext};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// Sends a draft to a lab the practice is actively connected to, after checking the whole
/// job; every problem is reported (`Err(errors)`), each with its input path.
pub async fn submit(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    lab: Uuid,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    let (tx, me) = practice_tx(db, ctx).await?;
    let mine = tx.get::<company::Entity>(me).await?;
    if mine.status != CompanyStatus::Active {
        return Err(AppError::forbidden("your company is not active"));
    }
    let row = own_draft(&tx, me, order_id, "").await?;
    // The plan's orders a month: counted only where the plan has a limit.
    let plan = ils_common::plan::Plan::parse(&mine.plan).unwrap_or(ils_common::plan::Plan::FreeEcp);
    if ils_common::plan::includes(plan).monthly_orders.is_some() {
        // Counted under the company's row lock: two submissions at once cannot both take
        // the month's last place.
        let plan = ils_common::plan::hold(&tx, me).await?;
        use sea_orm::{PaginatorTrait, QueryFilter};
        let today = Utc::now().date_naive();
        let month_start = today
            .with_day(1)
            .unwrap_or(today)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let this_month = tx
            .select::<order::Entity>()
            .filter(order::Column::CompanyId.eq(me))
            .filter(order::Column::SubmittedAt.gte(month_start))
            .count(tx.conn())
            .await?;
        ils_common::plan::check_count(plan, ils_common::plan::Counted::MonthlyOrders, this_month)?;
    }
    // The lab: an ACTIVE connection with a company that was asked as a lab (its side of
    // the connection says what it is; the lab's own rows are not the practice's to read).
    let Some(lab_name) = active_partner(&tx, me, lab, CompanyType::Lab.as_str()).await? else {
        return Err(AppError::bad_input(
            "input.labId",
            "not a lab your practice has an ACTIVE connection with",
        ));
    };
    let errors = check_job(&row, Utc::now().date_naive())?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now();
    let n = tx
        .update_many::<order::Entity>(
            vec![
                (order::Column::LabCompanyId, Expr::value(lab)),
                (order::Column::LabName, Expr::value(lab_name)),
                (order::Column::Status, Expr::value(OrderStatus::Submitted)),
                (
                    order::Column::Version,
                    Expr::col(order::Column::Version).add(1),
                ),
                (order::Column::SubmittedAt, Expr::value(now)),
                (order::Column::UpdatedAt, Expr::value(now)),
            ],
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Status.eq(OrderStatus::Draft)),
        )
        .await?;
    if n == 0 {
        return Err(AppError::Conflict(
            "the order was submitted meanwhile".into(),
        ));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    record_step(
        &tx,
        ctx,
        &row,
        Some(OrderStatus::Draft),
        OrderStatus::Submitted,
        None,
    )
    .await?;
    tx.emit(&OrderSubmitted(order_change(&row, None)), &parties(&row))
        .await?;
    tx.commit().await?;
    Ok(Ok(row))
}

/// A move to another status, with what that move needs (what the caller gave for other
/// moves is not read).
pub enum Move {
    /// To RECEIVED: by the lab, its job number (generated when absent) and due date
    /// (computed from its turnaround rules when absent); by the practice, its answer to
    /// the lab's question.
    Received {
        lab_job_number: Option<String>,
        due_date: Option<NaiveDate>,
        answer: Option<String>,
    },
    /// To ON_HOLD, with the lab's question.
    OnHold { question: Option<String> },
    /// To IN_PRODUCTION, at a stage.
    InProduction { stage: Option<ProductionStage> },
    /// To REJECTED (a reason is required) or CANCELLED (a reason is optional).
    Ended {
        to: OrderStatus,
        reason: Option<String>,
    },
    /// To SHIPPED, with the carrier and tracking number.
    Shipped {
        carrier: Option<String>,
        tracking_number: Option<String>,
    },
    /// To any other status: nothing more is needed.
    To(OrderStatus),
}

impl Move {
    /// Where the move goes.
    pub fn to(&self) -> OrderStatus {
        match self {
            Move::Received { .. } => OrderStatus::Received,
            Move::OnHold { .. } => OrderStatus::OnHold,
            Move::InProduction { .. } => OrderStatus::InProduction,
            Move::Shipped { .. } => OrderStatus::Shipped,
            Move::Ended { to, .. } | Move::To(to) => *to,
        }
    }
}

/// One move of the workflow by the party allowed to make it, on the version the caller saw.
pub async fn move_order(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    step: Move,
) -> AppResult<order::Model> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = party_of(&row, me)?;
    if row.version != version {
        return Err(changed(&row, version));
    }
    let from = row.status;
    let to = step.to();
    let may = allowed(from, party);
    if !may.contains(&to) {
        let list: Vec<&str> = may.iter().map(|s| s.as_str()).collect();
        return Err(AppError::bad_input(
            "input.to",
            if list.is_empty() {
                format!(
                    "you cannot move an order that is {} any further",
                    from.as_str()
                )
            } else {
                format!(
                    "from {} you may move the order to: {}",
                    from.as_str(),
                    list.join(", ")
                )
            },
        ));
    }
    let required = |v: Option<String>, field: &str, max: usize| -> AppResult<String> {
        validate::text(v.as_deref().unwrap_or(""), field, max)
    };
    let now = Utc::now();
    let mut sets: Vec<(order::Column, SimpleExpr)> = vec![
        (order::Column::Status, Expr::value(to)),
        (
            order::Column::Version,
            Expr::col(order::Column::Version).add(1),
        ),
        (order::Column::UpdatedAt, Expr::value(now)),
    ];
    let mut note = None;
    use OrderStatus as S;
    match (from, step) {
        (
            S::Submitted,
            Move::Received {
                lab_job_number,
                due_date,
                ..
            },
        ) => {
            let lens: LensSpec = stored::<Option<LensSpec>>(&row.lens)?
                .ok_or_else(|| AppError::internal("a submitted order without a lens"))?;
            let job = match lab_job_number {
                Some(j) => validate::text(&j, "input.labJobNumber", 40)?,
                None => format!("J-{}", &row.id.simple().to_string()[24..]),
            };
            let today = now.date_naive();
            let due = match due_date {
                Some(d) if d < today => {
                    return Err(AppError::bad_input(
                        "input.dueDate",
                        format!("a due date cannot be in the past (today is {today})"),
                    ));
                }
                Some(d) => d,
                None => rules_of(&tx, me).await?.due(today, &lens),
            };
            sets.push((order::Column::LabJobNumber, Expr::value(job)));
            sets.push((order::Column::DueDate, Expr::value(due)));
        }
        (_, Move::OnHold { question }) => {
            let q = required(question, "input.question", 1000)?;
            sets.push((order::Column::HoldQuestion, Expr::value(q.clone())));
            sets.push((
                order::Column::HoldAnswer,
                Expr::value(Option::<String>::None),
            ));
            note = Some(q);
        }
        (S::OnHold, Move::Received { answer, .. }) => {
            let a = required(answer, "input.answer", 1000)?;
            sets.push((order::Column::HoldAnswer, Expr::value(a.clone())));
            note = Some(a);
        }
        (_, Move::InProduction { stage }) => {
            let stage = stage
                .ok_or_else(|| AppError::bad_input("input.stage", "say which production stage"))?;
            if from == S::InProduction && row.production_stage == Some(stage) {
                return Err(AppError::bad_input(
                    "input.stage",
                    format!("the job is already at {}", stage.as_str()),
                ));
            }
            sets.push((order::Column::ProductionStage, Expr::value(stage)));
            note = Some(stage.as_str().into());
        }
        (_, Move::Ended { reason, .. }) => {
            let why = validate::optional_text(reason.as_deref(), "input.reason", 1000)?;
            if to == S::Rejected && why.is_none() {
                return Err(AppError::bad_input(
                    "input.reason",
                    "say why the order is rejected",
                ));
            }
            let column = if to == S::Rejected {
                order::Column::RejectReason
            } else {
                order::Column::CancelReason
            };
            sets.push((column, Expr::value(why.clone())));
            note = why;
        }
        (
            _,
            Move::Shipped {
                carrier,
                tracking_number,
            },
        ) => {
            let carrier = required(carrier, "input.carrier", 100)?;
            let tracking = required(tracking_number, "input.trackingNumber", 100)?;
            sets.push((order::Column::Carrier, Expr::value(carrier)));
            sets.push((order::Column::TrackingNumber, Expr::value(tracking.clone())));
            note = Some(tracking);
        }
        _ => {}
    }
    let n = tx
        .update_many::<order::Entity>(
            sets,
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(from)),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    let change = order_change(&row, note.as_deref());
    record_step(&tx, ctx, &row, Some(from), to, note).await?;
    tx.emit(&OrderStatusChanged(change.clone()), &parties(&row))
        .await?;
    if to == S::Shipped {
        tx.emit(&OrderShipped(change), &parties(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// New measurements of an order, and where they come from.
pub struct Measured {
    pub frame: FrameMeasure,
    /// The fitting heights, when measured (an eye left out keeps its own).
    pub fit: Option<Fit>,
    /// For the order's history.
    pub note: String,
    /// The text of the DCS file measured from: kept as the order's DCS source when the
    /// order was not made from a file.
    pub source: Option<String>,
}

/// New measurements (the frame, and the fitting heights when given) for the practice's
/// own draft, or for a job the acting lab holds. For the lab they are checked against the
/// job at once (every problem, with its path) and the change is kept in the history and
/// announced to both parties; a draft is checked at submission.
pub async fn remeasure(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    measured: Measured,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    let Measured {
        frame,
        fit,
        note,
        source,
    } = measured;
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = party_of(&row, me)?;
    let status = row.status;
    let open = match party {
        Party::Practice => status == OrderStatus::Draft,
        Party::Lab => LAB_MEASURES.contains(&status),
    };
    if !open {
        return Err(AppError::bad_input(
            "input.orderId",
            match party {
                Party::Practice => format!(
                    "the order is {}: after submission only the lab re-measures it",
                    status.as_str()
                ),
                Party::Lab => format!(
                    "the order is {}: a lab re-measures a job while it holds it \
                     (RECEIVED, ON_HOLD, IN_PRODUCTION)",
                    status.as_str()
                ),
            },
        ));
    }
    if row.version != version {
        return Err(stale(&tx, order_id, version).await);
    }
    // An eye the new measurements leave out keeps its fitting height.
    let kept: Fit = stored(&row.fit)?;
    let fit = match fit {
        Some(f) => Fit {
            right: EyeFit {
                fitting_height: f.right.fitting_height.or(kept.right.fitting_height),
                optical_centre_height: f
                    .right
                    .optical_centre_height
                    .or(kept.right.optical_centre_height),
            },
            left: EyeFit {
                fitting_height: f.left.fitting_height.or(kept.left.fitting_height),
                optical_centre_height: f
                    .left
                    .optical_centre_height
                    .or(kept.left.optical_centre_height),
            },
        },
        None => kept,
    };
    if let Some(e) = measures_out_of_range(Some(&frame), Some(&fit.right), Some(&fit.left)) {
        return Ok(Err(vec![e]));
    }
    let measured = order::Model {
        frame: Some(enc(&frame)?),
        fit: enc(&fit)?,
        ..row.clone()
    };
    if party == Party::Lab {
        let errors: Vec<FieldError> = check_job(&measured, Utc::now().date_naive())?
            .into_iter()
            .filter(|e| {
                ["frame.", "right.", "left."]
                    .iter()
                    .any(|p| e.field.starts_with(p))
            })
            .collect();
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
    }
    let mut sets = vec![
        (order::Column::Frame, Expr::value(measured.frame.clone())),
        (order::Column::Fit, Expr::value(measured.fit.clone())),
        (
            order::Column::Version,
            Expr::col(order::Column::Version).add(1),
        ),
        (order::Column::UpdatedAt, Expr::value(Utc::now())),
    ];
    // The measuring file becomes the order's DCS source when it was not made from one.
    if row.dcs_source.is_none()
        && let Some(source) = source
    {
        sets.push((order::Column::DcsSource, Expr::value(source)));
    }
    let n = tx
        .update_many::<order::Entity>(
            sets,
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(status)),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    if party == Party::Lab {
        record_step(&tx, ctx, &row, Some(status), status, Some(note)).await?;
        tx.emit(&OrderMeasured(order_change(&row, None)), &parties(&row))
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(row))
}
