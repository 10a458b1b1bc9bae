//! Lens orders as the API shows them: the order object with its history, the inputs, and
//! the thin resolvers: `orders`, `order`, `labOrders`, the order mutations and
//! `orderUpdated`.

use super::patients::Patient;
use crate::json::stored;
use crate::lens::LensSpec;
use crate::model::{
    Fit, JobType, ORDER, OrderStatus, PATIENT, PRESCRIPTION, Party, ProductionStage, RemakeReason,
};
use crate::rx::{EyeFit, FrameMeasure, Rx};
use crate::service::lookup;
use crate::service::orders::{self, DraftJob, Move};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::company::COMPANY;
use ils_entity::lens_order::Eyes;
use ils_entity::{lens_order as order, patient};
use ils_kernel::authz::require_member;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::scalars::Date;
use ils_kernel::{AppError, id, request_parts};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// A lens order's job as the practice describes it (`createOrderDraft`; `updateOrderDraft`
/// replaces the whole job with the same fields). Nothing optical is checked yet beyond
/// refusing absurd magnitudes: `submitOrder` checks the whole job.
#[derive(InputObject)]
pub struct CreateOrderDraftInput {
    /// One of your patients; or give only `patientRef`.
    pub patient_id: Option<ID>,
    /// What the lab sees of the patient, at most 64 characters (defaults to the patient's
    /// external reference, else a random reference).
    pub patient_ref: Option<String>,
    /// Show the patient's name to the lab on this order (default false; needs `patientId`).
    pub share_patient_name: Option<bool>,
    /// Show the patient's birth date to the lab on this order (default false; needs a
    /// `patientId` whose record has a birth date).
    pub share_patient_birth_date: Option<bool>,
    /// A stored prescription of the patient's to copy, or `rx`; a draft may wait for
    /// either.
    pub prescription_id: Option<ID>,
    /// The prescription, written out; or `prescriptionId`. A draft may wait for it.
    pub rx: Option<Rx>,
    /// The lens; a draft may wait for it.
    pub lens: Option<LensSpec>,
    /// The frame's measurements; leave out while the frame is to come.
    pub frame: Option<FrameMeasure>,
    /// How the right lens sits in the frame (its fitting height).
    pub right: Option<EyeFit>,
    /// How the left lens sits in the frame (its fitting height).
    pub left: Option<EyeFit>,
    /// NEW (the default) or REMAKE.
    pub job_type: Option<JobType>,
    /// For a REMAKE: the earlier order of yours (SHIPPED, ARRIVED or DELIVERED) it makes
    /// again.
    pub remake_of_id: Option<ID>,
    /// For a REMAKE: why the job is made again.
    pub remake_reason: Option<RemakeReason>,
    /// The day the practice would like the job back, if it says.
    pub requested_date: Option<Date>,
    /// Notes for the lab, at most 2,000 characters.
    pub notes: Option<String>,
    /// Your own reference for the job (a DCS file's `JOB=`), at most 64 characters: the
    /// order's DCS file names the job by it.
    pub external_ref: Option<String>,
    /// Which lenses the job is for: BOTH (the default), or one eye's (RIGHT, LEFT); the
    /// other eye's prescription and fitting are then not checked.
    pub eyes: Option<Eyes>,
}

impl CreateOrderDraftInput {
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
            remake_of: decoded(ORDER, self.remake_of_id, "input.remakeOfId"),
            remake_reason: self.remake_reason,
            requested_date: self.requested_date.map(|d| d.0),
            notes: self.notes,
            external_ref: self.external_ref,
            eyes: self.eyes,
            dcs_source: None,
        }
    }
}

/// A draft's whole job replaced: the draft, the version you saw, and every field of
/// `createOrderDraft`'s input (what is left out is cleared).
#[derive(InputObject)]
pub struct UpdateOrderDraftInput {
    /// The DRAFT to change (one of your practice's).
    pub id: ID,
    /// The version you saw: CONFLICT when the draft changed or was submitted meanwhile.
    pub version: i32,
    #[graphql(flatten)]
    pub job: CreateOrderDraftInput,
}

/// A draft sent to a lab.
#[derive(InputObject)]
pub struct SubmitOrderInput {
    /// The DRAFT to send (one of your practice's).
    pub id: ID,
    /// The lab (its company's ID): one your practice has an ACTIVE connection with.
    pub lab_id: ID,
}

/// A move of an order, with what that move needs.
#[derive(InputObject)]
pub struct MoveOrderInput {
    /// The order to move (one you are a party to).
    pub id: ID,
    /// The version you saw: a move on a changed order is CONFLICT.
    pub version: i32,
    /// The status to move the order to; what the move needs is in the fields below.
    pub to: OrderStatus,
    /// IN_PRODUCTION: the stage.
    pub stage: Option<ProductionStage>,
    /// ON_HOLD: the lab's question.
    pub question: Option<String>,
    /// ON_HOLD -> RECEIVED: the practice's answer.
    pub answer: Option<String>,
    /// REJECTED: why (required); CANCELLED: why (optional).
    pub reason: Option<String>,
    /// SHIPPED: the carrier.
    pub carrier: Option<String>,
    /// SHIPPED: the carrier's tracking number.
    pub tracking_number: Option<String>,
    /// RECEIVED by the lab: its job number (generated when absent).
    pub lab_job_number: Option<String>,
    /// RECEIVED by the lab: the due date, today or later (computed from the lab's
    /// turnaround rules, the design and the treatments when absent).
    pub due_date: Option<Date>,
}

impl MoveOrderInput {
    /// The move as the service reads it: where to, with what that move needs.
    fn step(self) -> Move {
        use OrderStatus as S;
        match self.to {
            S::Received => Move::Received {
                lab_job_number: self.lab_job_number,
                due_date: self.due_date.map(|d| d.0),
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

/// Which orders to list; every field given narrows the list.
#[derive(InputObject, Default)]
pub struct OrderFilter {
    /// In one of these statuses (any status when left out or empty).
    pub statuses: Option<Vec<OrderStatus>>,
    /// Due on or before this day.
    pub due_before: Option<Date>,
    /// Words in the order number, patient reference or lab job number.
    pub text: Option<String>,
}

impl From<OrderFilter> for orders::Filter {
    fn from(f: OrderFilter) -> Self {
        orders::Filter {
            statuses: f.statuses,
            due_before: f.due_before.map(|d| d.0),
            text: f.text,
        }
    }
}

/// A lens order as one of its parties sees it.
#[derive(Clone)]
pub struct LensOrder {
    pub row: order::Model,
    /// The company looking at it.
    pub viewer: Uuid,
    /// The practice's patients of the orders read together, loaded once for all of them
    /// when one of them asks.
    patients: Arc<PatientBatch>,
}

impl LensOrder {
    /// One order as `viewer` sees it.
    pub fn new(row: order::Model, viewer: Uuid) -> LensOrder {
        Self::in_batch(row, viewer, &Arc::default())
    }

    /// An order as the company that wrote it sees it.
    pub fn own(row: order::Model) -> LensOrder {
        let viewer = row.company_id;
        Self::new(row, viewer)
    }

    /// One of several orders read together (a page, a `nodes` call): their patients load
    /// together.
    pub(crate) fn in_batch(
        row: order::Model,
        viewer: Uuid,
        patients: &Arc<PatientBatch>,
    ) -> LensOrder {
        if viewer == row.company_id
            && let Some(p) = row.patient_id
        {
            patients.want(p);
        }
        LensOrder {
            row,
            viewer,
            patients: patients.clone(),
        }
    }
}

/// The patients of orders read together: their IDs, and the records read (once, in one
/// audited read) when the first order's `patient` is resolved.
#[derive(Default)]
pub(crate) struct PatientBatch {
    ids: Mutex<Vec<Uuid>>,
    loaded: OnceCell<HashMap<Uuid, patient::Model>>,
}

impl PatientBatch {
    fn want(&self, id: Uuid) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    async fn get(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Patient>> {
        let loaded = self
            .loaded
            .get_or_try_init(|| async {
                let (tenant, db) = request_parts(ctx)?;
                let client = ils_kernel::client_info(ctx);
                let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let rows = lookup::patients(db, tenant, &client, ids).await?;
                Ok::<_, AppError>(rows.into_iter().map(|p| (p.id, p)).collect())
            })
            .await?;
        Ok(loaded.get(&id).cloned().map(Patient))
    }
}

/// One step of an order's history.
#[derive(SimpleObject, Clone)]
pub struct StatusChange {
    /// Where the order was; null for its first step (the draft's creation).
    pub from_status: Option<OrderStatus>,
    /// Where the order went.
    pub to_status: OrderStatus,
    /// The company that made the move: the order's practice (`practiceId`) or its lab
    /// (`labId`). An ID, not the company: a company reads only its own company record.
    pub actor_company_id: Option<ID>,
    /// What the move said: the question, answer, production stage, tracking number or
    /// reason, or where a draft came from.
    pub note: Option<String>,
    /// When the move was made.
    pub at: DateTime<Utc>,
}

/// A spectacle lens job from a practice to a lab: one order both parties read (the
/// practice owns it; the lab is a party once it is submitted to it).
#[Object]
impl LensOrder {
    /// The order's global ID.
    pub async fn id(&self) -> ID {
        id::encode(ORDER, self.row.id)
    }
    /// The practice's order number, `ORD-000042` (numbered per practice).
    async fn order_number(&self) -> &str {
        &self.row.order_number
    }
    /// Where the order stands in its workflow.
    async fn status(&self) -> OrderStatus {
        self.row.status
    }
    /// Raised by every change; name it in `updateOrderDraft`, `moveOrder` and `importDcs`.
    async fn version(&self) -> i32 {
        self.row.version
    }
    /// The practice that wrote the order (its company's global ID). An ID, not the
    /// company: a company reads only its own company record, so the lab could not read
    /// the practice's.
    async fn practice_id(&self) -> ID {
        id::encode(COMPANY, self.row.company_id)
    }
    /// The lab the order was submitted to (its company's global ID); null for a draft.
    /// An ID, not the company: a company reads only its own company record, so the
    /// practice could not read the lab's (`labName` names it).
    async fn lab_id(&self) -> Option<ID> {
        self.row.lab_company_id.map(|l| id::encode(COMPANY, l))
    }
    /// The lab's name, as your connection knew it when the order was submitted.
    async fn lab_name(&self) -> Option<&str> {
        self.row.lab_name.as_deref()
    }
    /// The practice's own patient record; null for the lab (patient records are the
    /// practice's only: the lab sees `patientRef`, and the name and birth date when
    /// shared) and when the order names no patient. Reading it is audited like
    /// `patient(id)`.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Option<Patient>> {
        match self.row.patient_id {
            // Boxed, as every resolver here that reads the database: see `remake_of`.
            Some(p) if self.viewer == self.row.company_id => {
                Box::pin(self.patients.get(ctx, p)).await
            }
            _ => Ok(None),
        }
    }
    /// What the lab sees of the patient: the practice's reference, not a name.
    async fn patient_ref(&self) -> &str {
        &self.row.patient_ref
    }
    /// The patient's name; only when the practice chose to share it on this order.
    async fn patient_name(&self) -> Option<&str> {
        self.row.patient_name.as_deref()
    }
    /// The patient's birth date; only when the practice chose to share it on this order.
    async fn patient_birth_date(&self) -> Option<Date> {
        self.row.patient_birth_date.map(Date)
    }
    /// The prescription as entered; null while a draft waits for it.
    async fn rx(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx)?)
    }
    /// The prescription in minus-cylinder form, as labs work.
    async fn rx_minus_cyl(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx_minus_cyl)?)
    }
    /// The lens; null while a draft waits for it.
    async fn lens(&self) -> Result<Option<LensSpec>> {
        Ok(stored(&self.row.lens)?)
    }
    /// The frame's measurements (and trace); null while the frame is to come.
    async fn frame(&self) -> Result<Option<FrameMeasure>> {
        Ok(self.row.frame.as_deref().map(stored).transpose()?)
    }
    /// How each lens sits in the frame (fitting heights).
    async fn fit(&self) -> Result<Fit> {
        Ok(stored(&self.row.fit)?)
    }
    /// NEW, or REMAKE of an earlier order (`remakeOf`).
    async fn job_type(&self) -> JobType {
        self.row.job_type
    }
    /// For a REMAKE: the earlier order made again; null for a NEW job, and when you
    /// cannot read that order (it went to another lab). Reading it is audited like
    /// `order(id)`.
    async fn remake_of(&self, ctx: &Context<'_>) -> Result<Option<LensOrder>> {
        let Some(earlier) = self.row.remake_of else {
            return Ok(None);
        };
        // A read's future is boxed: async-graphql allocates and copies, for every field of
        // every order in a page, a future the size of this type's largest field resolver
        // (5,096 bytes with this read inline, for `id` as for `remakeOf`; README,
        // "Benchmark").
        Box::pin(async move {
            let (tenant, db) = request_parts(ctx)?;
            let client = ils_kernel::client_info(ctx);
            let found = orders::find(db, tenant, &client, earlier).await?;
            Ok(found.map(|row| LensOrder::new(row, self.viewer)))
        })
        .await
    }
    /// For a REMAKE: why the job is made again.
    async fn remake_reason(&self) -> Option<RemakeReason> {
        self.row.remake_reason
    }
    /// The day the practice would like the job back, if it said.
    async fn requested_date(&self) -> Option<Date> {
        self.row.requested_date.map(Date)
    }
    /// The practice's notes for the lab.
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }
    /// The practice's own reference for the job (a DCS file's `JOB=`); the order's DCS
    /// file names the job by it (else by `labJobNumber`, else `orderNumber`).
    async fn external_ref(&self) -> Option<&str> {
        self.row.external_ref.as_deref()
    }
    /// Which lenses the job is for: BOTH, or one eye's.
    async fn eyes(&self) -> Eyes {
        self.row.eyes
    }
    /// The lab's own job number, set when it accepts the order (RECEIVED).
    async fn lab_job_number(&self) -> Option<&str> {
        self.row.lab_job_number.as_deref()
    }
    /// The day the lab promises the job, set when it accepts the order (RECEIVED).
    async fn due_date(&self) -> Option<Date> {
        self.row.due_date.map(Date)
    }
    /// Where the job is in production: the latest stage the lab moved it to.
    async fn production_stage(&self) -> Option<ProductionStage> {
        self.row.production_stage
    }
    /// The lab's question when it put the order ON_HOLD.
    async fn hold_question(&self) -> Option<&str> {
        self.row.hold_question.as_deref()
    }
    /// The practice's answer to the lab's question.
    async fn hold_answer(&self) -> Option<&str> {
        self.row.hold_answer.as_deref()
    }
    /// The carrier the lab shipped with (SHIPPED and after).
    async fn carrier(&self) -> Option<&str> {
        self.row.carrier.as_deref()
    }
    /// The carrier's tracking number (SHIPPED and after).
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
    /// When the practice submitted the order; null for a draft.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.row.submitted_at
    }
    /// When the draft was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the order last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Every move, oldest first, with who made it and when.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<StatusChange>> {
        let (tenant, db) = request_parts(ctx)?;
        // Boxed: see `remake_of`.
        let rows = Box::pin(orders::history_of(db, tenant, self.row.id)).await?;
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
    let patients = Arc::default();
    Ok(
        orders::list(db, tenant, &client, side, filter, page, |row| {
            LensOrder::in_batch(row, me, &patients)
        })
        .await?,
    )
}

#[Object]
impl LensOrdersQuery {
    /// Your practice's orders, oldest first (`last: N` for the newest). Reading orders
    /// that name a patient is audited.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which orders: every field given narrows the list.")] filter: Option<
            OrderFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<LensOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, Party::Practice, filter, page).await
    }

    /// Your lab's inbox: the orders practices sent you, oldest first (`last: N` for the
    /// newest).
    async fn lab_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which orders: every field given narrows the list.")] filter: Option<
            OrderFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<LensOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, Party::Lab, filter, page).await
    }

    /// One order you are a party to (the practice's, or the lab's once submitted to it);
    /// null otherwise.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's global ID.")] id: ID,
    ) -> Result<Option<LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row_id = id::decode(ORDER, &id, "id")?;
        let client = ils_kernel::client_info(ctx);
        let found = orders::find(db, tenant, &client, row_id).await?;
        Ok(found.map(|row| LensOrder::new(row, me)))
    }
}

/// What `createOrderDraft` gives back.
#[derive(SimpleObject)]
pub struct CreateOrderDraftPayload {
    /// The new draft: DRAFT, version 1, numbered for your practice.
    pub order: LensOrder,
}

/// What `updateOrderDraft` gives back.
#[derive(SimpleObject)]
pub struct UpdateOrderDraftPayload {
    /// The draft with its new job and version.
    pub order: LensOrder,
}

/// What `submitOrder` gives back.
#[derive(SimpleObject)]
pub struct SubmitOrderPayload {
    /// The order, now SUBMITTED to the lab.
    pub order: LensOrder,
}

/// What `moveOrder` gives back.
#[derive(SimpleObject)]
pub struct MoveOrderPayload {
    /// The order in its new status, with its new version.
    pub order: LensOrder,
}

#[derive(Default)]
pub struct LensOrdersMutation;

#[Object]
impl LensOrdersMutation {
    /// Starts a lens order (practices). Nothing is checked against the optical rules yet:
    /// `submitOrder` does that.
    async fn create_order_draft(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job: patient, prescription, lens, frame, fitting, notes.")]
        input: CreateOrderDraftInput,
    ) -> Result<CreateOrderDraftPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row = orders::draft(db, tenant, input.job(), None).await?;
        Ok(CreateOrderDraftPayload {
            order: LensOrder::own(row),
        })
    }

    /// Replaces the whole job of your practice's DRAFT (the fields of createOrderDraft's
    /// input), on the version you saw: CONFLICT when it changed or was submitted
    /// meanwhile.
    async fn update_order_draft(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft, the version you saw and its whole new job.")]
        input: UpdateOrderDraftInput,
    ) -> Result<UpdateOrderDraftPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &input.id, "input.id")?;
        let row =
            orders::update_draft(db, tenant, order_id, input.version, input.job.job()).await?;
        Ok(UpdateOrderDraftPayload {
            order: LensOrder::own(row),
        })
    }

    /// Sends a draft to a lab your practice has an ACTIVE connection with. The whole job is
    /// checked first, its PDs included: every job needs the distance PD (`binocularPd`, or
    /// both eyes' `distancePd`; PROGRESSIVE and OFFICE both monos), multifocal and READING
    /// designs the near PD too (`nearBinocularPd`, or both eyes' `nearPd`). Every problem
    /// is its own BAD_USER_INPUT error with its path in the order (`order.rx.right.axis`,
    /// `order.right.fittingHeight`, `order.lens.index`), all reported at once.
    async fn submit_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and the lab.")] input: SubmitOrderInput,
    ) -> Result<SubmitOrderPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &input.id, "input.id")?;
        let lab = id::decode(COMPANY, &input.lab_id, "input.labId")?;
        match orders::submit(db, tenant, order_id, lab).await? {
            Ok(row) => Ok(SubmitOrderPayload {
                order: LensOrder::own(row),
            }),
            Err(errors) => Err(AppError::invalid("order", errors).into()),
        }
    }

    /// Moves an order along its workflow; an illegal move is BAD_USER_INPUT listing the
    /// allowed ones, a move on a version that has changed is CONFLICT.
    async fn move_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, the version you saw, where to, and what the move needs.")]
        input: MoveOrderInput,
    ) -> Result<MoveOrderPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &input.id, "input.id")?;
        let version = input.version;
        let row = orders::move_order(db, tenant, order_id, version, input.step()).await?;
        Ok(MoveOrderPayload {
            order: LensOrder::new(row, me),
        })
    }
}

#[derive(Default)]
pub struct LensOrdersSubscription;

#[async_graphql::Subscription]
impl LensOrdersSubscription {
    /// One of your orders, live: its state now, then one update per change by either
    /// party, in order (`status` and `version` say which change; `order` is the order as
    /// read when the update is sent). The stream ends after the order is delivered,
    /// cancelled or rejected. NOT_FOUND for an order you are not a party to. Each update
    /// carries its `cursor`: subscribe with `after:` the last one you received (after a
    /// dropped connection, an outage or a deploy) to get every change since, in order, in
    /// place of the state now, then the live ones (cursors are kept 7 days by default).
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's global ID.")] id: ID,
        #[graphql(
            desc = "Resume after this update's `cursor`: the changes that followed it are sent first."
        )]
        after: Option<String>,
    ) -> Result<impl futures_util::Stream<Item = OrderUpdate> + use<>> {
        use futures_util::StreamExt;
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let bus = ctx
            .data::<ils_kernel::Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        let after = after
            .map(|c| orders::UpdateCursor::decode(&c, "after"))
            .transpose()?;
        let updates = orders::updates(db, tenant, bus, order_id, after).await?;
        // An update's result depends on its event and the reading company alone (the row
        // is read once per version and company), so every socket following the order with
        // the same document shares one execution of it, as `events` does. Not when the
        // selection reads a patient's record or an earlier order: those reads are audited
        // for each user who makes them.
        let order = ctx.look_ahead().field("order");
        let audited = order.field("patient").exists() || order.field("remakeOf").exists();
        let shared = ctx
            .data_opt::<std::sync::Arc<ils_kernel::events::SharedDelivery>>()
            .filter(|_| !audited)
            .cloned();
        Ok(updates.map(move |u| {
            if let (Some(shared), Some(event)) = (&shared, &u.event) {
                shared.offer(event);
            }
            OrderUpdate {
                status: u.status,
                version: u.version,
                cursor: u.cursor.encode(),
                order: LensOrder::new(u.row, me),
            }
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
    /// Where this update is in the stream of events: `orderUpdated(after:)` resumes after it.
    pub cursor: String,
    /// The order as read when the update was sent (it may be further along).
    pub order: LensOrder,
}
