//! Stock counts: start a count of a location (one open count per location), record
//! counted quantities (by product, SKU or barcode; the last recording of a product counts,
//! and its first recording keeps what the books said then), post it: every difference
//! (counted less expected) becomes an ADJUSTMENT in one transaction, so movements since
//! the counting stand, and a count is posted once; or cancel it.

use crate::ledger::{MAX_QUANTITY, Movement, MovementKind};
use crate::model::{COUNT, PRODUCT, StockCountStatus};
use crate::service::by_global_id;
use crate::service::locations::location_of;
use crate::service::stock::{locked_product, parts, post};
use async_graphql::ID;
use chrono::Utc;
use ils_entity::{
    product, stock_balance as balance, stock_count as count, stock_count_line as cline,
};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// The most lines one recording may carry.
const MAX_LINES: usize = 1000;

/// A count with its lines, its location and the lines' products.
pub type Count = super::WithLines<count::Model, cline::Model>;

impl super::HasLines for count::Model {
    type Line = cline::Model;
    fn id(&self) -> Uuid {
        self.id
    }
    fn location_id(&self) -> Uuid {
        self.location_id
    }
    fn product_of(line: &cline::Model) -> Uuid {
        line.product_id
    }
}

/// One product as counted: named by exactly one of its ID, its SKU or its barcode.
pub struct Counted {
    pub product_id: Option<ID>,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub counted: i64,
}

async fn load(tx: &Tx, count_id: Uuid) -> AppResult<Count> {
    let row = tx.get::<count::Entity>(count_id).await?;
    let mut counts = complete(tx, vec![row]).await?;
    counts.pop().ok_or(AppError::NotFound)
}

/// These counts with their lines, locations and products: three statements, whatever the
/// number.
async fn complete(tx: &Tx, rows: Vec<count::Model>) -> AppResult<Vec<Count>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut lines: HashMap<Uuid, Vec<cline::Model>> = HashMap::new();
    for l in tx
        .select::<cline::Entity>()
        .filter(cline::Column::CountId.is_in(rows.iter().map(|r| r.id)))
        .order_by_asc(cline::Column::Id)
        .all(tx.conn())
        .await?
    {
        lines.entry(l.count_id).or_default().push(l);
    }
    let products = lines.values().flatten().map(|l| l.product_id).collect();
    let locations = rows.iter().map(|r| r.location_id).collect();
    let (products, locations) = parts(tx, Some((products, locations))).await?;
    Ok(super::with_lines(rows, lines, &products, &locations))
}

/// The counts among `ids` the caller can see, complete.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Count>> {
    let rows = tx.find_many::<count::Entity>(ids).await?;
    complete(tx, rows).await
}

/// The count as it stands in `tx`, once `tx` has committed.
async fn committed(tx: Tx, count_id: Uuid) -> AppResult<Count> {
    let count = load(&tx, count_id).await?;
    tx.commit().await?;
    Ok(count)
}

/// The product a counted line names.
async fn product_of(tx: &Tx, c: &Counted, field: &str) -> AppResult<product::Model> {
    let given = [c.product_id.is_some(), c.sku.is_some(), c.barcode.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(AppError::bad_input(
            field,
            "name the product by exactly one of productId, sku, barcode",
        ));
    }
    let select = tx.select::<product::Entity>();
    let found = if let Some(p) = &c.product_id {
        let pid = id::decode(PRODUCT, p, &format!("{field}.productId"))?;
        select
            .filter(product::Column::Id.eq(pid))
            .one(tx.conn())
            .await?
    } else if let Some(sku) = &c.sku {
        select
            .filter(product::Column::Sku.eq(sku.trim()))
            .one(tx.conn())
            .await?
    } else {
        let digits: String = c
            .barcode
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        select
            .filter(product::Column::Gtin.eq(digits))
            .one(tx.conn())
            .await?
    };
    found.ok_or_else(|| AppError::bad_input(field, "no such product of yours"))
}

/// The count, locked for this transaction (recording and posting take turns), if open.
async fn open_count(tx: &Tx, count_id: Uuid) -> AppResult<count::Model> {
    let row = tx
        .lock_for_update(
            tx.select::<count::Entity>()
                .filter(count::Column::Id.eq(count_id)),
        )
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    if row.status != StockCountStatus::Open {
        return Err(AppError::Conflict(format!(
            "the count is {} already",
            row.status.as_str().to_lowercase()
        )));
    }
    Ok(row)
}

/// One of the company's counts; `None` when it has no such count.
pub async fn get(db: &Db, ctx: &TenantContext, count: &ID) -> AppResult<Option<Count>> {
    by_global_id(db, ctx, COUNT, count, load).await
}

/// Starts counting a location (the default one when `None`); CONFLICT while the location
/// has an open count.
pub async fn start(db: &Db, ctx: &TenantContext, location_id: Option<&ID>) -> AppResult<Count> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let location = location_of(&tx, me, location_id, "input.locationId").await?;
    let now = Utc::now();
    let row = tx
        .insert(count::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            location_id: Set(location.id),
            status: Set(StockCountStatus::Open),
            posted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => AppError::Conflict(
                "this location has an open count: post or cancel it first".into(),
            ),
            e => e,
        })?;
    tx.commit().await?;
    Ok(Count {
        row,
        lines: vec![],
        location: Some(location),
        products: HashMap::new(),
    })
}

/// Cancels an open count (admins and managers): nothing is adjusted.
pub async fn cancel(db: &Db, ctx: &TenantContext, count_id: Uuid) -> AppResult<Count> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    let c = open_count(&tx, count_id).await?;
    let now = Utc::now();
    tx.update_many::<count::Entity>(
        vec![
            (
                count::Column::Status,
                Expr::value(StockCountStatus::Cancelled),
            ),
            (count::Column::UpdatedAt, Expr::value(now)),
        ],
        count::Column::Id.eq(c.id),
    )
    .await?;
    committed(tx, count_id).await
}

/// Records counted quantities (any member); a product's first recording keeps what the
/// books say at that moment, and recording it again corrects its count.
pub async fn record(
    db: &Db,
    ctx: &TenantContext,
    count_id: Uuid,
    lines: Vec<Counted>,
) -> AppResult<Count> {
    require_member(ctx)?;
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(AppError::bad_input(
            "input.lines",
            format!("1 to {MAX_LINES} lines"),
        ));
    }
    let tx = db.tenant(ctx).await?;
    let c = open_count(&tx, count_id).await?;
    let now = Utc::now();
    for (i, l) in lines.iter().enumerate() {
        let field = format!("input.lines.{i}");
        if !(0..=MAX_QUANTITY).contains(&l.counted) {
            return Err(AppError::bad_input(
                &format!("{field}.counted"),
                "0 or more",
            ));
        }
        let p = product_of(&tx, l, &field).await?;
        // A later recording of the product corrects its count and keeps the moment of the
        // first.
        let n = tx
            .update_many::<cline::Entity>(
                vec![
                    (cline::Column::Counted, Expr::value(l.counted)),
                    (cline::Column::UpdatedAt, Expr::value(now)),
                ],
                Condition::all()
                    .add(cline::Column::CountId.eq(c.id))
                    .add(cline::Column::ProductId.eq(p.id)),
            )
            .await?;
        if n == 0 {
            // What the books say as the product is counted: posting adjusts by the
            // difference, so movements between counting and posting (a sale that
            // afternoon) stand.
            let expected = on_hand(&tx, c.location_id, p.id).await?;
            tx.insert(cline::ActiveModel {
                id: Set(Uuid::now_v7()),
                count_id: Set(c.id),
                company_id: sea_orm::ActiveValue::NotSet,
                product_id: Set(p.id),
                counted: Set(l.counted),
                expected: Set(Some(expected)),
                updated_at: Set(now),
            })
            .await?;
        }
    }
    committed(tx, count_id).await
}

/// On hand at `location` by the books (0 before the product's first movement there).
async fn on_hand(tx: &Tx, location: Uuid, product: Uuid) -> AppResult<i64> {
    Ok(tx
        .select::<balance::Entity>()
        .filter(balance::Column::LocationId.eq(location))
        .filter(balance::Column::ProductId.eq(product))
        .one(tx.conn())
        .await?
        .map_or(0, |b| b.on_hand))
}

/// Posts a count (admins and managers): it is marked POSTED first (a second posting finds
/// it so: CONFLICT), then each counted product's difference (counted less what the books
/// said when it was counted) is written as an ADJUSTMENT, all in one transaction;
/// movements since the counting stand. A count records what is physically there, so its
/// adjustments are taken even where reservations exceed the stock found.
pub async fn post_count(db: &Db, ctx: &TenantContext, count_id: Uuid) -> AppResult<Count> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    let c = open_count(&tx, count_id).await?;
    let now = Utc::now();
    let n = tx
        .update_many::<count::Entity>(
            vec![
                (count::Column::Status, Expr::value(StockCountStatus::Posted)),
                (count::Column::PostedAt, Expr::value(now)),
                (count::Column::UpdatedAt, Expr::value(now)),
            ],
            Condition::all()
                .add(count::Column::Id.eq(c.id))
                .add(count::Column::Status.eq(StockCountStatus::Open)),
        )
        .await?;
    if n == 0 {
        return Err(AppError::Conflict("the count is posted already".into()));
    }
    // Products are locked in one order (by id): no deadlock with a receipt of the same.
    let lines = tx
        .select::<cline::Entity>()
        .filter(cline::Column::CountId.eq(c.id))
        .order_by_asc(cline::Column::ProductId)
        .all(tx.conn())
        .await?;
    let reference = format!("count {}", id::encode(COUNT, c.id).as_str());
    for l in lines {
        let product = locked_product(&tx, l.product_id).await?;
        // (A line recorded before counts kept their expected quantity: the books now.)
        let expected = match l.expected {
            Some(e) => e,
            None => on_hand(&tx, c.location_id, l.product_id).await?,
        };
        let diff = l.counted - expected;
        if diff != 0 {
            post(
                &tx,
                ctx,
                &product,
                c.location_id,
                Movement {
                    kind: MovementKind::Adjustment,
                    quantity: diff,
                    unit_cost: None,
                },
                "input.id",
                true,
                None,
                Some(reference.clone()),
                Some("stock count".into()),
            )
            .await
            .map_err(|e| match e {
                // The count names no quantity: the message names the product.
                AppError::BadUserInput { message, field } => AppError::BadUserInput {
                    message: format!("{}: {message}", product.sku),
                    field,
                },
                e => e,
            })?;
        }
        if l.expected.is_none() {
            tx.update_many::<cline::Entity>(
                vec![(cline::Column::Expected, Expr::value(expected))],
                cline::Column::Id.eq(l.id),
            )
            .await?;
        }
    }
    committed(tx, count_id).await
}
