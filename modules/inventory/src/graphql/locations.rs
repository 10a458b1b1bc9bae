//! Stock locations: the type, the list and adding one.

use crate::model::LOCATION;
use crate::service::locations;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::stock_location as location;
use ils_kernel::{id, request_parts};

/// A place where your company keeps stock (a shop, a stockroom, a van). Every company has
/// a default location, "Main".
#[derive(SimpleObject, Clone)]
#[graphql(complex, name = "StockLocation")]
pub struct Location {
    #[graphql(skip)]
    pub row: location::Model,
    /// The location's name, unique in your company.
    pub name: String,
    /// Whether this is the location movements, counts and purchase orders use when none
    /// is named.
    pub is_default: bool,
    /// When the location was added.
    pub created_at: DateTime<Utc>,
}

#[async_graphql::ComplexObject]
impl Location {
    /// The location's global ID.
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

/// What `createStockLocation` takes.
#[derive(InputObject)]
pub struct CreateStockLocationInput {
    /// The new location's name: 1..100 characters, unique in your company.
    pub name: String,
}

/// What `createStockLocation` gives back.
#[derive(SimpleObject)]
pub struct CreateStockLocationPayload {
    /// The location added.
    pub stock_location: Location,
}

#[derive(Default)]
pub struct LocationsQuery;

#[Object]
impl LocationsQuery {
    /// Your company's stock locations, the default first.
    async fn stock_locations(&self, ctx: &Context<'_>) -> Result<Vec<Location>> {
        let (tenant, db) = request_parts(ctx)?;
        let rows = locations::list(db, tenant).await?;
        Ok(rows.into_iter().map(Location::from).collect())
    }
}

#[derive(Default)]
pub struct LocationsMutation;

#[Object]
impl LocationsMutation {
    /// Adds a stock location (admins and managers); a name already used is CONFLICT.
    async fn create_stock_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new location.")] input: CreateStockLocationInput,
    ) -> Result<CreateStockLocationPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row = locations::create(db, tenant, &input.name).await?;
        Ok(CreateStockLocationPayload {
            stock_location: row.into(),
        })
    }
}
