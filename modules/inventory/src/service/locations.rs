//! Where a company keeps stock. Every company has a default location, "Main", made the
//! first time the company's stock is touched (so a new company has it before it needs it).

use crate::model::LOCATION;
use crate::service::lock_company;
use async_graphql::ID;
use chrono::Utc;
use ils_common::validate;
use ils_entity::stock_location as location;
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// The default location's name.
pub const MAIN: &str = "Main";

/// The company's default location, made on first use (under a lock on the company's row,
/// so two first uses make one).
pub async fn main_location(tx: &Tx, me: Uuid) -> AppResult<location::Model> {
    let find = || {
        tx.select::<location::Entity>()
            .filter(location::Column::IsDefault.eq(true))
    };
    if let Some(l) = find().one(tx.conn()).await? {
        return Ok(l);
    }
    lock_company(tx, me).await?;
    if let Some(l) = find().one(tx.conn()).await? {
        return Ok(l);
    }
    let now = Utc::now();
    tx.insert(location::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        name: Set(MAIN.into()),
        is_default: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
}

/// A location named by the caller (its own), or the default one.
pub async fn location_of(
    tx: &Tx,
    me: Uuid,
    given: Option<&ID>,
    field: &str,
) -> AppResult<location::Model> {
    match given {
        None => main_location(tx, me).await,
        Some(l) => {
            let id = id::decode(LOCATION, l, field)?;
            tx.find::<location::Entity>(id)
                .await?
                .ok_or_else(|| AppError::bad_input(field, "no such location of yours"))
        }
    }
}

/// The company's stock locations, the default first (made if it is missing).
pub async fn list(db: &Db, ctx: &TenantContext) -> AppResult<Vec<location::Model>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    main_location(&tx, me).await?;
    let rows = tx
        .select::<location::Entity>()
        .order_by_desc(location::Column::IsDefault)
        .order_by_asc(location::Column::Id)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Adds a stock location (admins and managers); names are unique in the company.
pub async fn create(db: &Db, ctx: &TenantContext, name: &str) -> AppResult<location::Model> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let name = validate::text(name, "input.name", 100)?;
    main_location(&tx, me).await?;
    let now = Utc::now();
    let row = tx
        .insert(location::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            name: Set(name),
            is_default: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => {
                AppError::Conflict("you already have a location with this name".into())
            }
            e => e,
        })?;
    tx.commit().await?;
    Ok(row)
}

/// The locations among `ids` the caller can see.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<location::Model>> {
    tx.find_many::<location::Entity>(ids).await
}
