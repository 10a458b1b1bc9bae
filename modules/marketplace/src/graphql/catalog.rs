//! Catalog items as suppliers edit them and connected buyers browse them.

use crate::service::catalog::{self, CatalogCriterion, ITEM};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{
    self, Attributes, CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    LensBlankAttributes, SpectacleLensAttributes,
};
use ils_common::company::COMPANY;
use ils_common::money::{Money, MoneyInput};
use ils_entity::catalog_item;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, id, request_parts};

#[derive(Clone)]
pub struct CatalogItem(pub catalog_item::Model);

impl CatalogItem {
    fn attributes(&self) -> Option<Attributes> {
        Attributes::stored(&self.0.category, &self.0.attributes)
    }
}

/// An item of a supplier's catalog: what a connected practice or lab can order from it.
/// Exactly the attribute block of its category is set (none for SUNDRY items).
#[Object]
impl CatalogItem {
    /// The item's global ID (what purchase order lines and products name it by).
    pub async fn id(&self) -> ID {
        id::encode(ITEM, self.0.id)
    }
    /// The supplier's company global ID (what `supplierCatalog` and purchase orders take).
    /// An ID rather than the `Company` itself, since a company may read only its own
    /// company record.
    async fn supplier_id(&self) -> ID {
        id::encode(COMPANY, self.0.company_id)
    }
    /// The supplier's article number, unique in its catalog.
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    /// The UPC or EAN (GTIN), check digit verified; digits only. Null when not given.
    async fn gtin(&self) -> Option<&str> {
        self.0.gtin.as_deref()
    }
    /// The product name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The brand; null when not given.
    async fn brand(&self) -> Option<&str> {
        self.0.brand.as_deref()
    }
    /// What kind of product it is; says which attribute block is set.
    async fn category(&self) -> Result<Category> {
        Ok(Category::parse(&self.0.category).ok_or_else(|| {
            AppError::internal(format!(
                "a catalog item of unknown category {}",
                self.0.category
            ))
        })?)
    }
    /// The wholesale price per unit, in the currency the supplier set (at most 4 decimal
    /// places).
    async fn price(&self) -> Money {
        Money {
            amount: draft::price_to_decimal(self.0.price_units),
            currency: self.0.currency.clone(),
        }
    }
    /// The smallest quantity a buyer may order at once.
    async fn min_order_quantity(&self) -> i32 {
        self.0.min_order_quantity
    }
    /// Days between order and dispatch.
    async fn lead_time_days(&self) -> i32 {
        self.0.lead_time_days
    }

    /// The item is sold in multiples of this many units (its pack or carton).
    async fn order_multiple(&self) -> i32 {
        self.0.order_multiple
    }
    /// Whether the item can be ordered. Buyers see active items only; the supplier sees
    /// both.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The frame's measurements and description; set for FRAME items, else null.
    async fn frame(&self) -> Option<FrameAttributes> {
        self.attributes().and_then(Attributes::frame)
    }
    /// The lens's design, material and power range; set for SPECTACLE_LENS items, else
    /// null.
    async fn spectacle_lens(&self) -> Option<SpectacleLensAttributes> {
        self.attributes().and_then(Attributes::spectacle_lens)
    }
    /// The blank's index, design and curve; set for LENS_BLANK items, else null.
    async fn lens_blank(&self) -> Option<LensBlankAttributes> {
        self.attributes().and_then(Attributes::lens_blank)
    }
    /// The contact lens's fit, power and pack; set for CONTACT_LENS items, else null.
    async fn contact_lens(&self) -> Option<ContactLensAttributes> {
        self.attributes().and_then(Attributes::contact_lens)
    }
    /// When the item was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the item last changed (an update that changes nothing leaves it).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Which catalog items to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct CatalogFilter {
    /// Only items of this category.
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
    /// Your company's own catalog (suppliers), active and inactive items, oldest first.
    async fn catalog_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which items: by category, brand, words and active; all when absent.")]
        filter: Option<CatalogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<CatalogItem>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        browse(ctx, None, filter, page).await
    }

    /// A connected supplier's catalog (active items), oldest first. NOT_FOUND unless your
    /// company has an ACTIVE connection with that supplier.
    #[allow(clippy::too_many_arguments)]
    async fn supplier_catalog(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The supplier's company global ID (`ConnectionParty.companyId`).")]
        supplier_id: ID,
        #[graphql(
            desc = "Which items: by category, brand and words; all active items when absent."
        )]
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

/// A catalog item's fields as `createCatalogItem` and `updateCatalogItem` take them
/// (flattened into their inputs). Exactly the attribute block of the category is given
/// (none for SUNDRY).
#[derive(InputObject)]
#[graphql(name = "CatalogItemFieldsInput")]
pub struct CatalogItemFields {
    /// The supplier's article number, unique in your catalog: 1..64 letters, digits or
    /// `- _ . /`.
    pub sku: String,
    /// UPC-A, EAN-13, EAN-8 or GTIN-14, with a correct check digit (spaces and hyphens
    /// are ignored).
    pub gtin: Option<String>,
    /// Product name, 1..200 characters.
    pub name: String,
    /// Brand, at most 100 characters.
    pub brand: Option<String>,
    /// What kind of product this is; decides which attribute block is required.
    pub category: Category,
    /// Wholesale price per unit: at least 0, at most 4 decimal places, at most
    /// 999999999.9999, in an ISO 4217 currency.
    pub price: MoneyInput,
    /// Smallest quantity per order, 1..100000 (default 1).
    pub min_order_quantity: Option<i32>,
    /// Days between order and dispatch, 0..365 (default 0).
    pub lead_time_days: Option<i32>,
    /// The item is sold in multiples of this many units (its pack or carton), 1..10000
    /// (default 1). The purchasing agent rounds what it drafts up to it.
    pub order_multiple: Option<i32>,
    /// Whether the item can be ordered (default true).
    pub active: Option<bool>,
    /// The attributes of a FRAME item (required for one, refused for others).
    pub frame: Option<FrameAttributes>,
    /// The attributes of a SPECTACLE_LENS item (required for one, refused for others).
    pub spectacle_lens: Option<SpectacleLensAttributes>,
    /// The attributes of a LENS_BLANK item (required for one, refused for others).
    pub lens_blank: Option<LensBlankAttributes>,
    /// The attributes of a CONTACT_LENS item (required for one, refused for others).
    pub contact_lens: Option<ContactLensAttributes>,
}

impl From<CatalogItemFields> for CatalogItemInput {
    fn from(f: CatalogItemFields) -> Self {
        CatalogItemInput {
            sku: f.sku,
            gtin: f.gtin,
            name: f.name,
            brand: f.brand,
            category: f.category,
            price: f.price.amount,
            currency: f.price.currency,
            min_order_quantity: f.min_order_quantity,
            lead_time_days: f.lead_time_days,
            order_multiple: f.order_multiple,
            active: f.active,
            frame: f.frame,
            spectacle_lens: f.spectacle_lens,
            lens_blank: f.lens_blank,
            contact_lens: f.contact_lens,
        }
    }
}

/// What `createCatalogItem` takes: the new item's fields.
#[derive(InputObject)]
pub struct CreateCatalogItemInput {
    #[graphql(flatten)]
    pub item: CatalogItemFields,
}

/// What `createCatalogItem` returns.
#[derive(SimpleObject)]
pub struct CreateCatalogItemPayload {
    /// The new item.
    pub catalog_item: CatalogItem,
}

/// What `updateCatalogItem` takes: which item, and all its fields anew (a field left out
/// takes its default, an optional one is cleared).
#[derive(InputObject)]
pub struct UpdateCatalogItemInput {
    /// The global ID of the item of your catalog to replace.
    pub id: ID,
    #[graphql(flatten)]
    pub item: CatalogItemFields,
}

/// What `updateCatalogItem` returns.
#[derive(SimpleObject)]
pub struct UpdateCatalogItemPayload {
    /// The item as it is now.
    pub catalog_item: CatalogItem,
}

/// What `deleteCatalogItem` takes.
#[derive(InputObject)]
pub struct DeleteCatalogItemInput {
    /// The global ID of the item of your catalog to remove.
    pub id: ID,
}

/// What `deleteCatalogItem` returns.
#[derive(SimpleObject)]
pub struct DeleteCatalogItemPayload {
    /// The global ID of the item removed.
    pub deleted_id: ID,
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Adds an item to your catalog (suppliers; admins and managers). Every problem of the
    /// input is reported at once (BAD_USER_INPUT, `extensions.field` such as `input.sku` or
    /// `input.price.currency`); a SKU already in your catalog is CONFLICT.
    async fn create_catalog_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new item's fields.")] input: CreateCatalogItemInput,
    ) -> Result<CreateCatalogItemPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row = catalog::create(db, tenant, input.item.into()).await?;
        Ok(CreateCatalogItemPayload {
            catalog_item: CatalogItem(row),
        })
    }

    /// Replaces an item of your catalog with the input's fields (suppliers; admins and
    /// managers); checked as for `createCatalogItem`. An input identical to the item
    /// changes nothing.
    async fn update_catalog_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which item, and all its fields anew.")] input: UpdateCatalogItemInput,
    ) -> Result<UpdateCatalogItemPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(ITEM, &input.id, "input.id")?;
        let row = catalog::update(db, tenant, row_id, input.item.into()).await?;
        Ok(UpdateCatalogItemPayload {
            catalog_item: CatalogItem(row),
        })
    }

    /// Removes an item from your catalog (suppliers; admins and managers). To stop selling
    /// an item but keep it, set `active: false` instead.
    async fn delete_catalog_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which item to remove.")] input: DeleteCatalogItemInput,
    ) -> Result<DeleteCatalogItemPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(ITEM, &input.id, "input.id")?;
        catalog::delete(db, tenant, row_id).await?;
        Ok(DeleteCatalogItemPayload {
            deleted_id: input.id,
        })
    }
}
