//! Catalog items as suppliers edit them and connected buyers browse them.

use crate::service::catalog::{self, CatalogCriterion, ITEM};
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{
    self, Attributes, CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    LensBlankAttributes, SpectacleLensAttributes,
};
use ils_common::company::COMPANY;
use ils_common::money::Money;
use ils_entity::catalog_item;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};

#[derive(Clone)]
pub struct CatalogItem(pub catalog_item::Model);

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

impl CatalogFilter {
    /// The conditions given, in field order.
    fn criteria(self) -> Vec<CatalogCriterion> {
        use CatalogCriterion as C;
        [
            self.category.map(C::Category),
            self.brand.map(C::Brand),
            self.text.map(C::Text),
            self.active.map(C::Active),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
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
    ) -> Result<Page<CatalogItem>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        browse(ctx, None, filter, page).await
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
    ) -> Result<Page<CatalogItem>> {
        let supplier = id::decode(COMPANY, &supplier_id, "supplierId")?;
        let page = PageArgs::new(ctx, first, after, last, before);
        browse(ctx, Some(supplier), filter, page).await
    }
}

/// One page of a supplier's catalog (the caller's own when `None`).
async fn browse(
    ctx: &Context<'_>,
    supplier: Option<uuid::Uuid>,
    filter: Option<CatalogFilter>,
    page: PageArgs,
) -> Result<Page<CatalogItem>> {
    let (tenant, db) = request_parts(ctx)?;
    let criteria = filter.unwrap_or_default().criteria();
    Ok(catalog::browse(db, tenant, supplier, criteria, page, CatalogItem).await?)
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
        Ok(CatalogItem(catalog::create(db, tenant, input).await?))
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
        Ok(CatalogItem(
            catalog::update(db, tenant, row_id, input).await?,
        ))
    }

    /// Removes an item from your catalog (suppliers; admins and managers); returns its ID.
    /// To stop selling an item but keep it, set `active: false` instead.
    async fn delete_catalog_item(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(ITEM, &id, "id")?;
        catalog::delete(db, tenant, row_id).await?;
        Ok(id)
    }
}
