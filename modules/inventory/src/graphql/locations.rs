//! Stock locations: the type, the list and adding one.

use crate::model::LOCATION;
use crate::service::locations;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::stock_location as location;
use ils_kernel::{id, request_parts};

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
    /// Adds a stock location (admins and managers); names are unique in your company.
    async fn create_stock_location(&self, ctx: &Context<'_>, name: String) -> Result<Location> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(locations::create(db, tenant, &name).await?.into())
    }
}
