//! The work: drafts, submission, moves, re-measurement, lists and reads, through the guard.
#[allow(unused_imports)]
use super::*;

/// A new draft for the acting practice; `note` goes on its first history step (where it
/// came from, say).
pub async fn draft(
    db: &Db,
    ctx: &TenantContext,
    input: DraftOrderInput,
    note: Option<String>,
) -> AppResult<order::Model> {
    let (tx, me) = practice_tx(db, ctx).await?;
    // One draft at a time per practice takes a number: the practice's row is locked
    // (PostgreSQL; SQLite writes one at a time anyway), so numbers never collide.
    tx.lock_for_update(
        tx.select::<company::Entity>()
            .filter(company::Column::Id.eq(me)),
    )
    .one(tx.conn())
    .await?;
    let job = job_of(&tx, me, input).await?;
    let row = new_draft(&tx, ctx, me, &job, note).await?;
    tx.commit().await?;
    Ok(row)
}

/// Inserts a draft of `job`, numbered by counting the practice's orders (under the lock on
/// the practice's row its caller took), with its first history step.
pub(crate) async fn new_draft(
    tx: &Tx,
    ctx: &TenantContext,
    me: Uuid,
    job: &Job,
    note: Option<String>,
) -> AppResult<order::Model> {
    let now = Utc::now();
    let n = tx
        .select::<order::Entity>()
        .filter(order::Column::CompanyId.eq(me))
        .count(tx.conn())
        .await?;
    let mut row = order::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        lab_company_id: Set(None),
        lab_name: Set(None),
        order_number: Set(format!("ORD-{:06}", n + 1)),
        status: Set(OrderStatus::Draft.as_str().into()),
        version: Set(1),
        lab_job_number: Set(None),
        due_date: Set(None),
        production_stage: Set(None),
        hold_question: Set(None),
        hold_answer: Set(None),
        carrier: Set(None),
        tracking_number: Set(None),
        reject_reason: Set(None),
        submitted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    for (column, value) in job.columns()? {
        sea_orm::ActiveModelTrait::set(&mut row, column, value);
    }
    let row = tx.insert(row).await?;
    history(tx, ctx, &row, None, OrderStatus::Draft, note).await?;
    Ok(row)
}

/// Replaces the whole job of the practice's own DRAFT, on the version the caller saw.
pub async fn update_draft(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    input: DraftOrderInput,
) -> AppResult<order::Model> {
    let (tx, me) = practice_tx(db, ctx).await?;
    own_draft(&tx, me, order_id, ": its job can no longer change").await?;
    let job = job_of(&tx, me, input).await?;
    if job.remake_of == Some(order_id) {
        return Err(AppError::bad_input(
            "input.remakeOf",
            "an order cannot remake itself",
        ));
    }
    let mut sets: Vec<(order::Column, SimpleExpr)> = job
        .columns()?
        .into_iter()
        .map(|(c, v)| (c, Expr::value(v)))
        .collect();
    sets.push((
        order::Column::Version,
        Expr::col(order::Column::Version).add(1),
    ));
    sets.push((order::Column::UpdatedAt, Expr::value(Utc::now())));
    let n = tx
        .update_many::<order::Entity>(
            sets,
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(OrderStatus::Draft.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The CONFLICT for a write that found the order changed since `version`.
pub(crate) async fn stale(tx: &Tx, order_id: Uuid, version: i32) -> AppError {
    match tx.get::<order::Entity>(order_id).await {
        Ok(now) => AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {version})",
            now.status, now.version
        )),
        Err(e) => e,
    }
}

/// Numbers far outside anything optical are refused before any arithmetic on them (the
/// optical grids are checked at submission; this keeps a draft from overflowing).
pub(crate) fn check_magnitudes(input: &DraftOrderInput) -> AppResult<()> {
    let limit = Decimal::from(1000);
    let mut values: Vec<(String, Decimal)> = Vec::new();
    if let Some(rx) = &input.rx {
        for (side, eye) in [("right", &rx.right), ("left", &rx.left)] {
            for (name, v) in [
                ("sphere", Some(eye.sphere)),
                ("cylinder", eye.cylinder),
                ("add", eye.add),
                ("prismHorizontal", eye.prism_horizontal),
                ("prismVertical", eye.prism_vertical),
                ("distancePd", eye.distance_pd),
                ("nearPd", eye.near_pd),
            ] {
                if let Some(v) = v {
                    values.push((format!("input.rx.{side}.{name}"), v));
                }
            }
            if eye.axis.is_some_and(|a| !(-1000..=1000).contains(&a)) {
                return Err(AppError::bad_input(
                    &format!("input.rx.{side}.axis"),
                    "out of range",
                ));
            }
        }
        values.extend(
            rx.binocular_pd
                .map(|v| ("input.rx.binocularPd".to_owned(), v)),
        );
        values.extend(
            rx.near_binocular_pd
                .map(|v| ("input.rx.nearBinocularPd".to_owned(), v)),
        );
    }
    if let Some(e) = measures_out_of_range(
        input.frame.as_ref(),
        input.right.as_ref(),
        input.left.as_ref(),
    ) {
        return Err(AppError::bad_input(
            &format!("input.{}", e.field),
            e.message,
        ));
    }
    if let Some(lens) = &input.lens {
        values.push(("input.lens.index".into(), lens.index));
    }
    for (field, v) in values {
        if v.abs() > limit {
            return Err(AppError::bad_input(&field, "out of range"));
        }
    }
    if let Some(lens) = &input.lens {
        let _ = text(lens.tint.clone(), "input.lens.tint", 100)?;
        let _ = text(lens.product_code.clone(), "input.lens.productCode", 64)?;
    }
    Ok(())
}

/// The first measurement far outside anything optical (refused before any arithmetic on
/// it), or a trace that is not one (the one list a client could make huge); paths are
/// relative (`frame.a`, `right.fittingHeight`, `frame.trace.radii`).
pub(crate) fn measures_out_of_range(
    frame: Option<&FrameMeasure>,
    right: Option<&EyeFit>,
    left: Option<&EyeFit>,
) -> Option<FieldError> {
    let limit = Decimal::from(1000);
    let mut values: Vec<(String, Decimal)> = Vec::new();
    if let Some(f) = frame {
        values.push(("frame.a".into(), f.a));
        values.push(("frame.b".into(), f.b));
        values.push(("frame.dbl".into(), f.dbl));
        values.extend(f.ed.map(|v| ("frame.ed".to_owned(), v)));
    }
    for (side, fit) in [("right", right), ("left", left)] {
        if let Some(h) = fit.and_then(|f| f.fitting_height) {
            values.push((format!("{side}.fittingHeight"), h));
        }
    }
    if let Some((field, _)) = values.into_iter().find(|(_, v)| v.abs() > limit) {
        return Some(FieldError {
            field,
            message: "out of range".into(),
        });
    }
    let trace = frame.and_then(|f| f.trace.as_ref())?;
    crate::rx::validate_trace(trace)
        .into_iter()
        .next()
        .map(|e| FieldError {
            field: format!("frame.{}", e.field),
            message: e.message,
        })
}

/// A value for a JSON text column.
pub(crate) async fn history(
    tx: &Tx,
    ctx: &TenantContext,
    row: &order::Model,
    from: Option<OrderStatus>,
    to: OrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    tx.insert(change::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(row.id),
        company_id: Set(row.company_id),
        lab_company_id: Set(row.lab_company_id),
        from_status: Set(from.map(|f| f.as_str().into())),
        to_status: Set(to.as_str().into()),
        actor_company_id: Set(ctx.company_id()),
        actor_user_id: Set(ctx.responsible_user()),
        note: Set(note),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

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
    // The lab: an ACTIVE connection with a company that was asked as a lab (its side of
    // the connection says what it is; the lab's own rows are not the practice's to read).
    let Some(lab_name) = active_partner(&tx, me, lab, CompanyType::Lab.as_str()).await? else {
        return Err(AppError::bad_input(
            "labId",
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
                (
                    order::Column::Status,
                    Expr::value(OrderStatus::Submitted.as_str()),
                ),
                (
                    order::Column::Version,
                    Expr::col(order::Column::Version).add(1),
                ),
                (order::Column::SubmittedAt, Expr::value(now)),
                (order::Column::UpdatedAt, Expr::value(now)),
            ],
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Status.eq(OrderStatus::Draft.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(AppError::Conflict(
            "the order was submitted meanwhile".into(),
        ));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    history(
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

/// One move of the workflow by the party allowed to make it, on the version the caller saw.
pub async fn move_order(
    db: &Db,
    ctx: &TenantContext,
    input: MoveOrderInput,
) -> AppResult<order::Model> {
    let me = require_member(ctx)?;
    let order_id = id::decode(ORDER, &input.id, "input.id")?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = if row.company_id == me {
        Party::Practice
    } else if row.lab_company_id == Some(me) {
        Party::Lab
    } else {
        return Err(AppError::NotFound);
    };
    if row.version != input.version {
        return Err(AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {})",
            row.status, row.version, input.version
        )));
    }
    let from = OrderStatus::parse(&row.status)
        .ok_or_else(|| AppError::internal(format!("order status {}", row.status)))?;
    let to = input.to;
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
        (order::Column::Status, Expr::value(to.as_str())),
        (
            order::Column::Version,
            Expr::col(order::Column::Version).add(1),
        ),
        (order::Column::UpdatedAt, Expr::value(now)),
    ];
    let mut note = None;
    use OrderStatus as S;
    match (from, to) {
        (S::Submitted, S::Received) => {
            let lens: LensSpec = stored::<Option<LensSpec>>(&row.lens)?
                .ok_or_else(|| AppError::internal("a submitted order without a lens"))?;
            let job = match input.lab_job_number {
                Some(j) => validate::text(&j, "input.labJobNumber", 40)?,
                None => format!("J-{}", &row.id.simple().to_string()[24..]),
            };
            let today = now.date_naive();
            let due = match input.due_date {
                Some(d) if d < today => {
                    return Err(AppError::bad_input(
                        "input.dueDate",
                        format!("a due date cannot be in the past (today is {today})"),
                    ));
                }
                Some(d) => d,
                None => crate::turnaround::rules_of(&tx, me)
                    .await?
                    .due(today, &lens),
            };
            sets.push((order::Column::LabJobNumber, Expr::value(job)));
            sets.push((order::Column::DueDate, Expr::value(due)));
        }
        (_, S::OnHold) => {
            let q = required(input.question, "input.question", 1000)?;
            sets.push((order::Column::HoldQuestion, Expr::value(q.clone())));
            sets.push((
                order::Column::HoldAnswer,
                Expr::value(Option::<String>::None),
            ));
            note = Some(q);
        }
        (S::OnHold, S::Received) => {
            let a = required(input.answer, "input.answer", 1000)?;
            sets.push((order::Column::HoldAnswer, Expr::value(a.clone())));
            note = Some(a);
        }
        (_, S::InProduction) => {
            let stage = input
                .stage
                .ok_or_else(|| AppError::bad_input("input.stage", "say which production stage"))?;
            if from == S::InProduction && row.production_stage.as_deref() == Some(stage.as_str()) {
                return Err(AppError::bad_input(
                    "input.stage",
                    format!("the job is already at {}", stage.as_str()),
                ));
            }
            sets.push((order::Column::ProductionStage, Expr::value(stage.as_str())));
            note = Some(stage.as_str().into());
        }
        (_, S::Rejected) | (_, S::Cancelled) => {
            let why = validate::optional_text(input.reason.as_deref(), "input.reason", 1000)?;
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
        (_, S::Shipped) => {
            let carrier = required(input.carrier, "input.carrier", 100)?;
            let tracking = required(input.tracking_number, "input.trackingNumber", 100)?;
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
                .add(order::Column::Version.eq(input.version))
                .add(order::Column::Status.eq(from.as_str())),
        )
        .await?;
    if n == 0 {
        let now = tx.get::<order::Entity>(order_id).await?;
        return Err(AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {})",
            now.status, now.version, input.version
        )));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    let change = order_change(&row, note.as_deref());
    history(&tx, ctx, &row, Some(from), to, note).await?;
    tx.emit(&OrderStatusChanged(change.clone()), &parties(&row))
        .await?;
    if to == S::Shipped {
        tx.emit(&OrderShipped(change), &parties(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Where the lab may re-measure a job: while it holds it, before quality check.
pub(crate) const LAB_MEASURES: [OrderStatus; 3] = [
    OrderStatus::Received,
    OrderStatus::OnHold,
    OrderStatus::InProduction,
];

/// New measurements (the frame, and the fitting heights when given) for the practice's
/// own draft, or for a job the acting lab holds. For the lab they are checked against the
/// job at once (every problem, with its path) and the change is kept in the history and
/// announced to both parties; a draft is checked at submission.
pub async fn remeasure(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    frame: FrameMeasure,
    fit: Option<Fit>,
    note: String,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = if row.company_id == me {
        Party::Practice
    } else if row.lab_company_id == Some(me) {
        Party::Lab
    } else {
        return Err(AppError::NotFound);
    };
    let status = OrderStatus::parse(&row.status)
        .ok_or_else(|| AppError::internal(format!("order status {}", row.status)))?;
    let open = match party {
        Party::Practice => status == OrderStatus::Draft,
        Party::Lab => LAB_MEASURES.contains(&status),
    };
    if !open {
        return Err(AppError::bad_input(
            "orderId",
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
            },
            left: EyeFit {
                fitting_height: f.left.fitting_height.or(kept.left.fitting_height),
            },
        },
        None => kept,
    };
    if let Some(e) = measures_out_of_range(Some(&frame), Some(&fit.right), Some(&fit.left)) {
        return Ok(Err(vec![e]));
    }
    let changed = order::Model {
        frame: Some(enc(&frame)?),
        fit: enc(&fit)?,
        ..row.clone()
    };
    if party == Party::Lab {
        let errors: Vec<FieldError> = check_job(&changed, Utc::now().date_naive())?
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
    let n = tx
        .update_many::<order::Entity>(
            vec![
                (order::Column::Frame, Expr::value(changed.frame.clone())),
                (order::Column::Fit, Expr::value(changed.fit.clone())),
                (
                    order::Column::Version,
                    Expr::col(order::Column::Version).add(1),
                ),
                (order::Column::UpdatedAt, Expr::value(Utc::now())),
            ],
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(status.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    if party == Party::Lab {
        history(&tx, ctx, &row, Some(status), status, Some(note)).await?;
        tx.emit(&OrderMeasured(order_change(&row, None)), &parties(&row))
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(row))
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub statuses: Option<Vec<OrderStatus>>,
    /// Due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Words in the order number, patient reference or lab job number.
    pub text: Option<String>,
}

pub(crate) async fn list(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    side: Party,
    f: OrderFilter,
    page: PageArgs,
) -> AppResult<Connection<String, LensOrder>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let mut select = tx.select::<order::Entity>();
    select = match side {
        Party::Practice => select.filter(order::Column::CompanyId.eq(me)),
        // A lab's inbox: what was sent to it (never another practice's drafts).
        Party::Lab => select.filter(order::Column::LabCompanyId.eq(me)),
    };
    if let Some(states) = f.statuses.filter(|s| !s.is_empty()) {
        select = select.filter(order::Column::Status.is_in(states.iter().map(|s| s.as_str())));
    }
    if let Some(d) = f.due_before {
        select = select.filter(order::Column::DueDate.lte(d));
    }
    if let Some(t) = f.text {
        let words = search::words(&t);
        for w in words {
            let like = format!("%{w}%");
            select = select.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::OrderNumber)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::PatientRef)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::LabJobNumber))).like(like),
                    ),
            );
        }
    }
    let conn = paginate(
        tx.conn(),
        select,
        order::Column::Id,
        page,
        |r| r.id,
        |row| LensOrder { row, viewer: me },
    )
    .await?;
    audit_identified(&tx, ctx, client, conn.edges.iter().map(|e| &e.node.row)).await?;
    tx.commit().await?;
    Ok(conn)
}

/// Orders that name a patient (linked to the practice's record, or with the name shared)
/// are patient data: reading them is audited like reading the record.
pub async fn audit_identified<'a>(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    rows: impl Iterator<Item = &'a order::Model>,
) -> AppResult<()> {
    let ids: Vec<String> = rows
        .filter(|r| {
            r.patient_id.is_some() || r.patient_name.is_some() || r.patient_birth_date.is_some()
        })
        .map(|r| id::encode(ORDER, r.id).to_string())
        .collect();
    crate::patients::audit_read(tx, ctx, client, ids).await
}

/// The caller's own order, still a DRAFT: another company's order is NOT_FOUND, one past
/// DRAFT is CONFLICT (`why` finishes that message).
async fn own_draft(tx: &Tx, me: Uuid, order_id: Uuid, why: &str) -> AppResult<order::Model> {
    let row = tx.get::<order::Entity>(order_id).await?;
    if row.company_id != me {
        return Err(AppError::NotFound);
    }
    if row.status != OrderStatus::Draft.as_str() {
        return Err(AppError::Conflict(format!(
            "the order is {}, not DRAFT{why}",
            row.status
        )));
    }
    Ok(row)
}
