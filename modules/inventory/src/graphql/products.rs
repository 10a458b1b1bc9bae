//! Products: the type, its input and filter, the list, one by ID, create and update.

use crate::model::PRODUCT;
use crate::service::products::{self, ProductFields};
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{
    Attributes, CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    LensBlankAttributes, SpectacleLensAttributes, price_to_decimal,
};
use ils_common::money::Money;
use ils_entity::product;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;

/// A product as entered. Exactly the attribute block of its category is given (none for
/// sundries), as for a supplier's catalog item.
#[derive(InputObject, Clone)]
pub struct ProductInput {
    /// Your article number, unique in your company: 1..64 letters, digits or `- _ . /`.
    pub sku: String,
    /// UPC-A, EAN-13, EAN-8 or GTIN-14, with a correct check digit.
    pub gtin: Option<String>,
    pub name: String,
    pub brand: Option<String>,
    pub category: Category,
    /// What a unit costs you (at least 0, at most 4 decimal places).
    pub cost: Option<Decimal>,
    /// What you sell a unit for.
    pub price: Option<Decimal>,
    /// ISO 4217 code of cost and price.
    pub currency: String,
    pub frame: Option<FrameAttributes>,
    pub spectacle_lens: Option<SpectacleLensAttributes>,
    pub lens_blank: Option<LensBlankAttributes>,
    pub contact_lens: Option<ContactLensAttributes>,
    /// Reorder when available stock is at or below this.
    pub reorder_point: Option<i64>,
    /// Min/max policy: when available stock is at or below `minQuantity`, order up to
    /// `maxQuantity`.
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    /// Days from order to arrival, 0..365.
    pub lead_time_days: Option<i32>,
    pub safety_stock: Option<i64>,
    /// The connected supplier's catalog item you buy this as.
    pub supplier_item_id: Option<ID>,
    /// Whether you still stock it (default true).
    pub active: Option<bool>,
}

impl From<ProductInput> for ProductFields {
    fn from(input: ProductInput) -> Self {
        ProductFields {
            item: CatalogItemInput {
                sku: input.sku,
                gtin: input.gtin,
                name: input.name,
                brand: input.brand,
                category: input.category,
                price: Decimal::ZERO,
                currency: input.currency,
                min_order_quantity: None,
                lead_time_days: input.lead_time_days,
                active: input.active,
                frame: input.frame,
                spectacle_lens: input.spectacle_lens,
                lens_blank: input.lens_blank,
                contact_lens: input.contact_lens,
            },
            price: input.price,
            cost: input.cost,
            reorder_point: input.reorder_point,
            min_quantity: input.min_quantity,
            max_quantity: input.max_quantity,
            safety_stock: input.safety_stock,
            supplier_item_id: input.supplier_item_id,
        }
    }
}

#[derive(Clone)]
pub struct Product(pub product::Model);

impl Product {
    fn attributes(&self) -> Option<Attributes> {
        Attributes::stored(&self.0.category, &self.0.attributes)
    }
    fn money(&self, units: Option<i64>) -> Option<Money> {
        units.map(|u| Money {
            amount: price_to_decimal(u),
            currency: self.0.currency.clone(),
        })
    }
}

#[Object]
impl Product {
    pub async fn id(&self) -> ID {
        id::encode(PRODUCT, self.0.id)
    }
    async fn sku(&self) -> &str {
        &self.0.sku
    }
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
    async fn cost(&self) -> Option<Money> {
        self.money(self.0.cost_units)
    }
    async fn price(&self) -> Option<Money> {
        self.money(self.0.price_units)
    }
    async fn frame(&self) -> Option<FrameAttributes> {
        self.attributes().and_then(Attributes::frame)
    }
    async fn spectacle_lens(&self) -> Option<SpectacleLensAttributes> {
        self.attributes().and_then(Attributes::spectacle_lens)
    }
    async fn lens_blank(&self) -> Option<LensBlankAttributes> {
        self.attributes().and_then(Attributes::lens_blank)
    }
    async fn contact_lens(&self) -> Option<ContactLensAttributes> {
        self.attributes().and_then(Attributes::contact_lens)
    }
    async fn reorder_point(&self) -> Option<i64> {
        self.0.reorder_point
    }
    async fn min_quantity(&self) -> Option<i64> {
        self.0.min_quantity
    }
    async fn max_quantity(&self) -> Option<i64> {
        self.0.max_quantity
    }
    async fn lead_time_days(&self) -> Option<i32> {
        self.0.lead_time_days
    }
    async fn safety_stock(&self) -> Option<i64> {
        self.0.safety_stock
    }
    /// The supplier catalog item this product is bought as.
    async fn supplier_item_id(&self) -> Option<ID> {
        self.0.supplier_item_id.map(|i| id::encode(ITEM, i))
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Words in the SKU, name, brand or barcode (every word must match).
    pub text: Option<String>,
    pub category: Option<Category>,
    /// Only active (true) or inactive (false) products.
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct ProductsQuery;

#[Object]
impl ProductsQuery {
    /// Your company's products.
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<Product>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let page = PageArgs::new(ctx, first, after, last, before);
        let text = f.text.as_deref();
        Ok(products::list(db, tenant, text, f.category, f.active, page, Product).await?)
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Product>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(products::get(db, tenant, &id).await?.map(Product))
    }
}

#[derive(Default)]
pub struct ProductsMutation;

#[Object]
impl ProductsMutation {
    /// Adds a product (admins and managers).
    async fn create_product(&self, ctx: &Context<'_>, input: ProductInput) -> Result<Product> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(Product(products::create(db, tenant, input.into()).await?))
    }

    /// Replaces a product's details with `input` (admins and managers); its stock is not
    /// touched.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductInput,
    ) -> Result<Product> {
        let (tenant, db) = request_parts(ctx)?;
        let product_id = id::decode(PRODUCT, &id, "id")?;
        Ok(Product(
            products::update(db, tenant, product_id, input.into()).await?,
        ))
    }
}
