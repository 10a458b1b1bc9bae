//! Where a company keeps stock. Every company has a default location, "Main", made the
//! first time the company's stock is touched (so a new company has it before it needs it).

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::validate;
use ils_entity::{company, stock_location as location};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::{AppError, AppResult, Tx, id, request_parts};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub const LOCATION: &str = "StockLocation";

/// The default location's name.
pub const MAIN: &str = "Main";

#[derive(SimpleObject, Clone)]
#[graphql(complex, name = "StockLocation")]
pub struct Location {
    #[graphql(skip)]
    pub row: location::Model,
    pub name: String,
    /// The location movements go to when none is named.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

#[async_graphql::ComplexObject]
impl Location {
    async fn id(&self) -> ID {
        id::encode(LOCATION, self.row.id)
    }
}

impl From<location::Model> for Location {
    fn from(row: location::Model) -> Self {
        Location {
            name: row.name.clone(),
            is_default: row.is_default,
            created_at: row.created_at,
            row,
        }
    }
}

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
    tx.lock_for_update(
        tx.select::<company::Entity>()
            .filter(company::Column::Id.eq(me)),
    )
    .one(tx.conn())
    .await?;
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

#[derive(Default)]
pub struct LocationsQuery;

#[Object]
impl LocationsQuery {
    /// Your company's stock locations, the default first.
    async fn stock_locations(&self, ctx: &Context<'_>) -> Result<Vec<Location>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let tx = db.tenant(tenant).await?;
        main_location(&tx, me).await?;
        let rows = tx
            .select::<location::Entity>()
            .order_by_desc(location::Column::IsDefault)
            .order_by_asc(location::Column::Id)
            .all(tx.conn())
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Location::from).collect())
    }
}

#[derive(Default)]
pub struct LocationsMutation;

#[Object]
impl LocationsMutation {
    /// Adds a stock location (admins and managers); names are unique in your company.
    async fn create_stock_location(&self, ctx: &Context<'_>, name: String) -> Result<Location> {
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        let me = require_manager(&tx, tenant).await?;
        let name = validate::text(&name, "name", 100)?;
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
        Ok(row.into())
    }
}
