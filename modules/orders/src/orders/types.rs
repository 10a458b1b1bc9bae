//! What an order looks like to the API: the job's parts, the inputs, the order object.
#[allow(unused_imports)]
use super::*;

/// Fitting heights per eye.
#[derive(SimpleObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    pub right: EyeFit,
    pub left: EyeFit,
}

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
        OrderStatus::parse(&self.row.status)
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
        JobType::parse(&self.row.job_type)
    }
    async fn remake_of(&self) -> Option<ID> {
        self.row.remake_of.map(|o| id::encode(ORDER, o))
    }
    async fn remake_reason(&self) -> Option<RemakeReason> {
        self.row
            .remake_reason
            .as_deref()
            .and_then(RemakeReason::parse)
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
        self.row
            .production_stage
            .as_deref()
            .and_then(ProductionStage::parse)
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
        let tx = db.tenant(tenant).await?;
        let rows = tx
            .select::<change::Entity>()
            .filter(change::Column::OrderId.eq(self.row.id))
            .order_by_asc(change::Column::Id)
            .all(tx.conn())
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
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
