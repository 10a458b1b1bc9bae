//! Lens orders as the API shows them: the order object with its history, the inputs, and
//! the thin resolvers: `orders`, `order`, `labOrders`, the order mutations and
//! `orderUpdated`.

use crate::json::stored;
use crate::lens::LensSpec;
use crate::model::{
    Fit, JobType, ORDER, OrderStatus, PATIENT, PRESCRIPTION, Party, ProductionStage, RemakeReason,
};
use crate::rx::{EyeFit, FrameMeasure, Rx};
use crate::service::orders::{self, DraftJob, Move};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ils_common::company::COMPANY;
use ils_entity::lens_order as order;
use ils_kernel::authz::require_member;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, id, request_parts};
use uuid::Uuid;

#[derive(InputObject)]
pub struct DraftOrderInput {
    /// One of your patients; or give only `patientRef`.
    pub patient_id: Option<ID>,
    /// What the lab sees of the patient (defaults to the patient's external reference).
    pub patient_ref: Option<String>,
    /// Show the patient's name to the lab on this order (default false).
    pub share_patient_name: Option<bool>,
    /// Show the patient's birth date to the lab on this order (default false).
    pub share_patient_birth_date: Option<bool>,
    /// A stored prescription to copy, or `rx`; a draft may wait for either.
    pub prescription_id: Option<ID>,
    pub rx: Option<Rx>,
    /// The lens; a draft may wait for it.
    pub lens: Option<LensSpec>,
    /// The frame's measurements; leave out while the frame is to come.
    pub frame: Option<FrameMeasure>,
    pub right: Option<EyeFit>,
    pub left: Option<EyeFit>,
    pub job_type: Option<JobType>,
    /// For a REMAKE: the earlier order.
    pub remake_of: Option<ID>,
    pub remake_reason: Option<RemakeReason>,
    pub requested_date: Option<NaiveDate>,
    pub notes: Option<String>,
}

impl DraftOrderInput {
    /// The job as the service reads it; an ID is decoded here, and a malformed one is
    /// reported where the service reads it.
    fn job(self) -> DraftJob {
        let decoded = |kind, given: Option<ID>, field| given.map(|g| id::decode(kind, &g, field));
        DraftJob {
            patient_id: decoded(PATIENT, self.patient_id, "input.patientId"),
            patient_ref: self.patient_ref,
            share_patient_name: self.share_patient_name.unwrap_or(false),
            share_patient_birth_date: self.share_patient_birth_date.unwrap_or(false),
            prescription_id: decoded(PRESCRIPTION, self.prescription_id, "input.prescriptionId"),
            rx: self.rx,
            lens: self.lens,
            frame: self.frame,
            fit: Fit {
                right: self.right.unwrap_or_default(),
                left: self.left.unwrap_or_default(),
            },
            job_type: self.job_type,
            remake_of: decoded(ORDER, self.remake_of, "input.remakeOf"),
            remake_reason: self.remake_reason,
            requested_date: self.requested_date,
            notes: self.notes,
        }
    }
}

/// A move of an order, with what that move needs.
#[derive(InputObject)]
pub struct MoveOrderInput {
    pub id: ID,
    /// The version you saw: a move on a changed order is CONFLICT.
    pub version: i32,
    pub to: OrderStatus,
    /// IN_PRODUCTION: the stage.
    pub stage: Option<ProductionStage>,
    /// ON_HOLD: the lab's question.
    pub question: Option<String>,
    /// ON_HOLD -> RECEIVED: the practice's answer.
    pub answer: Option<String>,
    /// REJECTED: why.
    pub reason: Option<String>,
    /// SHIPPED.
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// RECEIVED by the lab: its job number (generated when absent) and due date
    /// (computed from the design and treatments when absent).
    pub lab_job_number: Option<String>,
    pub due_date: Option<NaiveDate>,
}

impl MoveOrderInput {
    /// The move as the service reads it: where to, with what that move needs.
    fn step(self) -> Move {
        use OrderStatus as S;
        match self.to {
            S::Received => Move::Received {
                lab_job_number: self.lab_job_number,
                due_date: self.due_date,
                answer: self.answer,
            },
            S::OnHold => Move::OnHold {
                question: self.question,
            },
            S::InProduction => Move::InProduction { stage: self.stage },
            S::Rejected | S::Cancelled => Move::Ended {
                to: self.to,
                reason: self.reason,
            },
            S::Shipped => Move::Shipped {
                carrier: self.carrier,
                tracking_number: self.tracking_number,
            },
            to => Move::To(to),
        }
    }
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub statuses: Option<Vec<OrderStatus>>,
    /// Due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Words in the order number, patient reference or lab job number.
    pub text: Option<String>,
}

impl From<OrderFilter> for orders::Filter {
    fn from(f: OrderFilter) -> Self {
        orders::Filter {
            statuses: f.statuses,
            due_before: f.due_before,
            text: f.text,
        }
    }
}

#[derive(Clone)]
pub struct LensOrder {
    pub row: order::Model,
    /// The company looking at it.
    pub viewer: Uuid,
}

#[derive(SimpleObject, Clone)]
pub struct StatusChange {
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    /// The company that made the move.
    pub actor_company_id: Option<ID>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[Object]
impl LensOrder {
    pub async fn id(&self) -> ID {
        id::encode(ORDER, self.row.id)
    }
    /// The practice's order number.
    async fn order_number(&self) -> &str {
        &self.row.order_number
    }
    async fn status(&self) -> Option<OrderStatus> {
        Some(self.row.status)
    }
    /// Name it in `moveOrder`.
    async fn version(&self) -> i32 {
        self.row.version
    }
    async fn practice_id(&self) -> ID {
        id::encode(COMPANY, self.row.company_id)
    }
    async fn lab_id(&self) -> Option<ID> {
        self.row.lab_company_id.map(|l| id::encode(COMPANY, l))
    }
    /// The lab's name, as your connection knew it when the order was submitted.
    async fn lab_name(&self) -> Option<&str> {
        self.row.lab_name.as_deref()
    }
    /// The practice's own patient record (the practice only).
    async fn patient_id(&self) -> Option<ID> {
        (self.viewer == self.row.company_id)
            .then_some(self.row.patient_id)
            .flatten()
            .map(|p| id::encode(PATIENT, p))
    }
    async fn patient_ref(&self) -> &str {
        &self.row.patient_ref
    }
    /// Only when the practice chose to share it on this order.
    async fn patient_name(&self) -> Option<&str> {
        self.row.patient_name.as_deref()
    }
    /// Only when the practice chose to share it on this order.
    async fn patient_birth_date(&self) -> Option<NaiveDate> {
        self.row.patient_birth_date
    }
    /// Null while a draft waits for its prescription.
    async fn rx(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx)?)
    }
    /// The prescription in minus-cylinder form, as labs work.
    async fn rx_minus_cyl(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx_minus_cyl)?)
    }
    /// Null while a draft waits for its lens.
    async fn lens(&self) -> Result<Option<LensSpec>> {
        Ok(stored(&self.row.lens)?)
    }
    /// Null while the frame is to come.
    async fn frame(&self) -> Result<Option<FrameMeasure>> {
        Ok(self.row.frame.as_deref().map(stored).transpose()?)
    }
    async fn fit(&self) -> Result<Fit> {
        Ok(stored(&self.row.fit)?)
    }
    async fn job_type(&self) -> Option<JobType> {
        Some(self.row.job_type)
    }
    async fn remake_of(&self) -> Option<ID> {
        self.row.remake_of.map(|o| id::encode(ORDER, o))
    }
    async fn remake_reason(&self) -> Option<RemakeReason> {
        self.row.remake_reason
    }
    async fn requested_date(&self) -> Option<NaiveDate> {
        self.row.requested_date
    }
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }
    async fn lab_job_number(&self) -> Option<&str> {
        self.row.lab_job_number.as_deref()
    }
    async fn due_date(&self) -> Option<NaiveDate> {
        self.row.due_date
    }
    async fn production_stage(&self) -> Option<ProductionStage> {
        self.row.production_stage
    }
    async fn hold_question(&self) -> Option<&str> {
        self.row.hold_question.as_deref()
    }
    async fn hold_answer(&self) -> Option<&str> {
        self.row.hold_answer.as_deref()
    }
    async fn carrier(&self) -> Option<&str> {
        self.row.carrier.as_deref()
    }
    async fn tracking_number(&self) -> Option<&str> {
        self.row.tracking_number.as_deref()
    }
    /// Why the lab rejected the order.
    async fn reject_reason(&self) -> Option<&str> {
        self.row.reject_reason.as_deref()
    }
    /// Why the practice cancelled the order, if it said.
    async fn cancel_reason(&self) -> Option<&str> {
        self.row.cancel_reason.as_deref()
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.row.submitted_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Every move, oldest first, with who made it and when.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<StatusChange>> {
        let (tenant, db) = request_parts(ctx)?;
        let rows = orders::history_of(db, tenant, self.row.id).await?;
        Ok(rows
            .into_iter()
            .filter_map(|c| {
                Some(StatusChange {
                    from_status: c.from_status.as_deref().and_then(OrderStatus::parse),
                    to_status: OrderStatus::parse(&c.to_status)?,
                    actor_company_id: c.actor_company_id.map(|a| id::encode(COMPANY, a)),
                    note: c.note,
                    at: c.created_at,
                })
            })
            .collect())
    }
}

#[derive(Default)]
pub struct LensOrdersQuery;

/// A page of the caller's orders on `side`.
async fn list(
    ctx: &Context<'_>,
    side: Party,
    filter: Option<OrderFilter>,
    page: PageArgs,
) -> Result<Page<LensOrder>> {
    let (tenant, db) = request_parts(ctx)?;
    let me = require_member(tenant)?;
    let filter = filter.map(Into::into).unwrap_or_default();
    let client = ils_kernel::client_info(ctx);
    Ok(
        orders::list(db, tenant, &client, side, filter, page, |row| LensOrder {
            row,
            viewer: me,
        })
        .await?,
    )
}

#[Object]
impl LensOrdersQuery {
    /// Your practice's orders, oldest first (`last: N` for the newest).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<LensOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, Party::Practice, filter, page).await
    }

    /// Your lab's inbox: the orders practices sent you.
    async fn lab_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<LensOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, Party::Lab, filter, page).await
    }

    /// One order you are a party to; null otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row_id = id::decode(ORDER, &id, "id")?;
        let client = ils_kernel::client_info(ctx);
        let found = orders::find(db, tenant, &client, row_id).await?;
        Ok(found.map(|row| LensOrder { row, viewer: me }))
    }
}

#[derive(Default)]
pub struct LensOrdersMutation;

/// An order as the company that wrote it sees it.
fn own(row: order::Model) -> LensOrder {
    LensOrder {
        viewer: row.company_id,
        row,
    }
}

#[Object]
impl LensOrdersMutation {
    /// Starts a lens order (practices). Nothing is checked against the optical rules yet:
    /// `submitOrder` does that.
    async fn create_order_draft(
        &self,
        ctx: &Context<'_>,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(own(orders::draft(db, tenant, input.job(), None).await?))
    }

    /// Replaces the whole job of your practice's DRAFT (like createOrderDraft's input), on
    /// the version you saw: CONFLICT when it changed or was submitted meanwhile.
    async fn update_order_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        Ok(own(orders::update_draft(
            db,
            tenant,
            order_id,
            version,
            input.job(),
        )
        .await?))
    }

    /// Sends a draft to a lab your practice has an ACTIVE connection with. The whole job is
    /// checked first; every problem is its own BAD_USER_INPUT error with its path
    /// (`rx.right.axis`, `right.fittingHeight`, `lens.index`), all reported at once.
    async fn submit_order(&self, ctx: &Context<'_>, id: ID, lab_id: ID) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let lab = id::decode(COMPANY, &lab_id, "labId")?;
        match orders::submit(db, tenant, order_id, lab).await? {
            Ok(row) => Ok(own(row)),
            Err(errors) => Err(AppError::invalid("order", errors).into()),
        }
    }

    /// Moves an order along its workflow; an illegal move is BAD_USER_INPUT listing the
    /// allowed ones, a move on a version that has changed is CONFLICT.
    async fn move_order(&self, ctx: &Context<'_>, input: MoveOrderInput) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &input.id, "input.id")?;
        let version = input.version;
        let row = orders::move_order(db, tenant, order_id, version, input.step()).await?;
        Ok(LensOrder { row, viewer: me })
    }
}

#[derive(Default)]
pub struct LensOrdersSubscription;

#[async_graphql::Subscription]
impl LensOrdersSubscription {
    /// One of your orders, live: its state now, then one update per change by either
    /// party, in order (`status` and `version` say which change; `order` is the order as
    /// read when the update is sent). The stream ends after the order is delivered,
    /// cancelled or rejected. NOT_FOUND for an order you are not a party to. Live streams
    /// are not durable: the order's `history` has every step.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl futures_util::Stream<Item = OrderUpdate> + use<>> {
        use futures_util::StreamExt;
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let bus = ctx
            .data::<ils_kernel::Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        let updates = orders::updates(db, tenant, bus, order_id).await?;
        Ok(updates.map(move |u| OrderUpdate {
            status: u.status,
            version: u.version,
            order: LensOrder {
                row: u.row,
                viewer: me,
            },
        }))
    }
}

/// One change of an order, as `orderUpdated` sends it.
#[derive(SimpleObject, Clone)]
pub struct OrderUpdate {
    /// The status this change moved the order to.
    pub status: OrderStatus,
    /// The version this change made.
    pub version: i32,
    /// The order as read when the update was sent (it may be further along).
    pub order: LensOrder,
}
