//! Catalog items: the supplier edits its own catalog; companies with an ACTIVE connection
//! to the supplier browse it (the guard's connected read, mirrored by a PostgreSQL policy),
//! and lose it the moment the connection ends.

use super::draft::{
    self, Attributes, CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    ItemDraft, LensBlankAttributes, SpectacleLensAttributes,
};
use crate::search;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::company::COMPANY;
use ils_common::company::CompanyType;
use ils_entity::{catalog_item as item, company};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::active_between;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id, request_parts};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, Select};
use uuid::Uuid;

pub const ITEM: &str = "CatalogItem";

pub use ils_common::money::Money;

#[derive(Clone)]
pub struct CatalogItem(pub item::Model);

impl CatalogItem {
    fn attributes(&self) -> Option<Attributes> {
        Attributes::stored(&self.0.category, &self.0.attributes)
    }
}

#[Object]
impl CatalogItem {
    pub async fn id(&self) -> ID {
        id::encode(ITEM, self.0.id)
    }
    /// The supplier's company ID.
    async fn supplier_id(&self) -> ID {
        id::encode(COMPANY, self.0.company_id)
    }
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    /// The UPC or EAN (GTIN), check digit verified.
    async fn gtin(&self) -> Option<&str> {
        self.0.gtin.as_deref()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn brand(&self) -> Option<&str> {
        self.0.brand.as_deref()
    }
    async fn category(&self) -> Option<Category> {
        Category::parse(&self.0.category)
    }
    /// The wholesale price per unit.
    async fn price(&self) -> Money {
        Money {
            amount: draft::price_to_decimal(self.0.price_units),
            currency: self.0.currency.clone(),
        }
    }
    async fn min_order_quantity(&self) -> i32 {
        self.0.min_order_quantity
    }
    async fn lead_time_days(&self) -> i32 {
        self.0.lead_time_days
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Set for frames.
    async fn frame(&self) -> Option<FrameAttributes> {
        self.attributes().and_then(Attributes::frame)
    }
    /// Set for spectacle lenses.
    async fn spectacle_lens(&self) -> Option<SpectacleLensAttributes> {
        self.attributes().and_then(Attributes::spectacle_lens)
    }
    /// Set for lens blanks.
    async fn lens_blank(&self) -> Option<LensBlankAttributes> {
        self.attributes().and_then(Attributes::lens_blank)
    }
    /// Set for contact lenses.
    async fn contact_lens(&self) -> Option<ContactLensAttributes> {
        self.attributes().and_then(Attributes::contact_lens)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject, Default)]
pub struct CatalogFilter {
    pub category: Option<Category>,
    /// Exact brand, any case.
    pub brand: Option<String>,
    /// Words to find in the SKU, name or brand (every word must match).
    pub text: Option<String>,
    /// Your own catalog only: active or inactive items (buyers see active items only).
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Your company's own catalog (suppliers), active and inactive items.
    async fn catalog_items(
        &self,
        ctx: &Context<'_>,
        filter: Option<CatalogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, CatalogItem>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(browse(db, tenant, me, filter.unwrap_or_default(), page).await?)
    }

    /// A connected supplier's catalog (active items). NOT_FOUND unless your company has an
    /// ACTIVE connection with that supplier.
    #[allow(clippy::too_many_arguments)]
    async fn supplier_catalog(
        &self,
        ctx: &Context<'_>,
        supplier_id: ID,
        filter: Option<CatalogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, CatalogItem>> {
        let (tenant, db) = request_parts(ctx)?;
        let supplier = id::decode(COMPANY, &supplier_id, "supplierId")?;
        let page = PageArgs::new(first, after, last, before);
        Ok(browse(db, tenant, supplier, filter.unwrap_or_default(), page).await?)
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Adds an item to your catalog (suppliers; admins and managers).
    async fn create_catalog_item(
        &self,
        ctx: &Context<'_>,
        input: CatalogItemInput,
    ) -> Result<CatalogItem> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(CatalogItem(create(db, tenant, input).await?))
    }

    /// Replaces an item of your catalog with `input` (suppliers; admins and managers).
    async fn update_catalog_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CatalogItemInput,
    ) -> Result<CatalogItem> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(ITEM, &id, "id")?;
        Ok(CatalogItem(update(db, tenant, row_id, input).await?))
    }

    /// Removes an item from your catalog (suppliers; admins and managers); returns its ID.
    /// To stop selling an item but keep it, set `active: false` instead.
    async fn delete_catalog_item(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(ITEM, &id, "id")?;
        delete(db, tenant, row_id).await?;
        Ok(id)
    }
}

/// Adds an item to the caller's catalog.
pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    input: CatalogItemInput,
) -> AppResult<item::Model> {
    // Who may, before what: a caller without the right learns nothing from validation.
    let tx = supplier_tx(db, ctx).await?;
    let d = checked(input)?;
    let row = tx.insert(new_row(&d)).await.map_err(sku_conflict)?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces an item of the caller's catalog; an identical input changes nothing.
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
    input: CatalogItemInput,
) -> AppResult<item::Model> {
    let tx = supplier_tx(db, ctx).await?;
    let d = checked(input)?;
    let me = require_member(ctx)?;
    let current = own_item(&tx, me, id).await?;
    let row = if same(&current, &d) {
        current
    } else {
        tx.update(changed_row(&current, &d))
            .await
            .map_err(sku_conflict)?
    };
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<()> {
    let tx = supplier_tx(db, ctx).await?;
    let me = require_member(ctx)?;
    own_item(&tx, me, id).await?;
    tx.delete_many::<item::Entity>()
        .filter(item::Column::Id.eq(id))
        .exec(tx.conn())
        .await
        .map_err(AppError::from)?;
    tx.commit().await
}

/// The API's input through the one validation the CSV import uses too.
fn checked(input: CatalogItemInput) -> AppResult<ItemDraft> {
    draft::validate(input).map_err(|errors| AppError::invalid("input", errors))
}

fn sku_conflict(e: AppError) -> AppError {
    match e {
        AppError::Conflict(_) => {
            AppError::Conflict("your catalog already has an item with this SKU".into())
        }
        e => e,
    }
}

/// A transaction for changing the caller's catalog: a supplier's admin or manager.
pub async fn supplier_tx(db: &Db, ctx: &TenantContext) -> AppResult<Tx> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let c = tx.get::<company::Entity>(me).await?;
    if c.company_type != CompanyType::Supplier.as_str() {
        return Err(AppError::forbidden("only suppliers have a catalog"));
    }
    Ok(tx)
}

/// An item of the caller's own catalog (a connected buyer can read it, but not change it).
async fn own_item(tx: &Tx, me: Uuid, id: Uuid) -> AppResult<item::Model> {
    tx.select::<item::Entity>()
        .filter(item::Column::Id.eq(id))
        .filter(item::Column::CompanyId.eq(me))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)
}

/// A new row for `d`; the guard sets the supplier from the acting company.
pub fn new_row(d: &ItemDraft) -> item::ActiveModel {
    let now = Utc::now();
    item::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        sku: Set(d.sku.clone()),
        gtin: Set(d.gtin.clone()),
        name: Set(d.name.clone()),
        brand: Set(d.brand.clone()),
        category: Set(d.category.as_str().into()),
        price_units: Set(d.price_units),
        currency: Set(d.currency.clone()),
        min_order_quantity: Set(d.min_order_quantity),
        lead_time_days: Set(d.lead_time_days),
        active: Set(d.active),
        attributes: Set(d.attributes.to_json()),
        search_text: Set(draft::search_text(d)),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// `current` rewritten to say what `d` says.
pub fn changed_row(current: &item::Model, d: &ItemDraft) -> item::ActiveModel {
    let mut m = new_row(d);
    m.id = sea_orm::ActiveValue::Unchanged(current.id);
    m.created_at = sea_orm::ActiveValue::NotSet;
    m
}

/// Whether the stored item already says exactly what `d` says.
pub fn same(current: &item::Model, d: &ItemDraft) -> bool {
    current.sku == d.sku
        && current.gtin == d.gtin
        && current.name == d.name
        && current.brand == d.brand
        && current.category == d.category.as_str()
        && current.price_units == d.price_units
        && current.currency == d.currency
        && current.min_order_quantity == d.min_order_quantity
        && current.lead_time_days == d.lead_time_days
        && current.active == d.active
        && Attributes::from_json(d.category, &current.attributes).as_ref() == Some(&d.attributes)
}

/// One page of `supplier`'s catalog as the caller may see it: their own, or a connected
/// supplier's (NOT_FOUND otherwise, as for a supplier that does not exist).
async fn browse(
    db: &Db,
    ctx: &TenantContext,
    supplier: Uuid,
    f: CatalogFilter,
    page: PageArgs,
) -> AppResult<Connection<String, CatalogItem>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let mut select = tx
        .select::<item::Entity>()
        .filter(item::Column::CompanyId.eq(supplier));
    if supplier != me {
        if !active_between(&tx, me, supplier).await? {
            return Err(AppError::NotFound);
        }
        // Buyers see what can be ordered.
        select = select.filter(item::Column::Active.eq(true));
    }
    let select = filtered(db, select, &f);
    let conn = paginate(
        tx.conn(),
        select,
        item::Column::Id,
        page,
        |r| r.id,
        CatalogItem,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

fn filtered(db: &Db, mut select: Select<item::Entity>, f: &CatalogFilter) -> Select<item::Entity> {
    if let Some(c) = f.category {
        select = select.filter(item::Column::Category.eq(c.as_str()));
    }
    if let Some(b) = f.brand.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        select = select.filter(search::equals_any_case(item::Column::Brand, b));
    }
    if let Some(text) = f.text.as_deref()
        && let Some(cond) = search::condition(db.backend(), text)
    {
        select = select.filter(cond);
    }
    if let Some(active) = f.active {
        select = select.filter(item::Column::Active.eq(active));
    }
    select
}

/// The items among `ids` the caller may see, for `node`/`nodes`: own items, and active
/// items of actively connected suppliers.
pub async fn by_ids(tx: &Tx, me: Uuid, ids: Vec<Uuid>) -> AppResult<Vec<CatalogItem>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(tx
        .select::<item::Entity>()
        .filter(item::Column::Id.is_in(ids))
        .all(tx.conn())
        .await?
        .into_iter()
        .filter(|r| r.company_id == me || r.active)
        .map(CatalogItem)
        .collect())
}
