//! Products: the type, its input and filter, the list, one by ID, create and update.

use crate::model::PRODUCT;
use crate::service::products::{self, ProductFields};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{
    Attributes, CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    LensBlankAttributes, SpectacleLensAttributes, price_to_decimal,
};
use ils_common::money::{Money, MoneyInput};
use ils_entity::product;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;

/// A product as entered: what `createProduct` takes, and `updateProduct` besides the ID.
/// Exactly the attribute block of its category is given (none for sundries), as for a
/// supplier's catalog item.
#[derive(InputObject, Clone)]
pub struct ProductInput {
    /// Your article number, unique in your company: 1..64 letters, digits or `- _ . /`.
    pub sku: String,
    /// The barcode: UPC-A, EAN-13, EAN-8 or GTIN-14, with a correct check digit.
    pub gtin: Option<String>,
    /// The product's name, 1..200 characters.
    pub name: String,
    /// The brand, at most 100 characters.
    pub brand: Option<String>,
    /// What kind of product it is; it decides which attribute block is given.
    pub category: Category,
    /// What a unit costs you: in `currency`, at least 0, at most 4 decimal places.
    pub cost: Option<MoneyInput>,
    /// What you sell a unit for: in `currency`, at least 0, at most 4 decimal places.
    pub price: Option<MoneyInput>,
    /// The ISO 4217 code of the currency the product is kept in (`EUR`): its cost, price
    /// and stock values are in it. A product linked to a supplier item has the item's
    /// currency.
    pub currency: String,
    /// Attributes of a FRAME.
    pub frame: Option<FrameAttributes>,
    /// Attributes of a SPECTACLE_LENS.
    pub spectacle_lens: Option<SpectacleLensAttributes>,
    /// Attributes of a LENS_BLANK.
    pub lens_blank: Option<LensBlankAttributes>,
    /// Attributes of a CONTACT_LENS.
    pub contact_lens: Option<ContactLensAttributes>,
    /// Reorder when available stock is at or below this many units (0..1000000000).
    pub reorder_point: Option<i64>,
    /// Min/max policy: when available stock is at or below `minQuantity` units, order up to
    /// `maxQuantity`. Given together with `maxQuantity`.
    pub min_quantity: Option<i64>,
    /// Min/max policy: the stock to order up to, at least `minQuantity`.
    pub max_quantity: Option<i64>,
    /// Days from order to arrival, 0..365; without it no reorder point is computed.
    pub lead_time_days: Option<i32>,
    /// Units you keep in reserve against uncertain demand (0..1000000000), stored as
    /// entered: `reorderSuggestions` computes its own safety stock from demand.
    pub safety_stock: Option<i64>,
    /// The connected supplier's catalog item (a `CatalogItem` ID) you buy this as;
    /// receipts of its purchase orders come in as this product. Left out: not linked.
    pub supplier_item_id: Option<ID>,
    /// Whether you still stock it (default true).
    pub active: Option<bool>,
}

/// What `createProduct` takes: the product.
#[derive(InputObject)]
pub struct CreateProductInput {
    #[graphql(flatten)]
    pub product: ProductInput,
}

/// What `createProduct` gives back.
#[derive(SimpleObject)]
pub struct CreateProductPayload {
    /// The product added.
    pub product: Product,
}

/// What `updateProduct` takes: the product and its new details, which replace the old
/// (a detail left out is cleared).
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// The product to change (a `Product` ID of yours).
    pub id: ID,
    #[graphql(flatten)]
    pub product: ProductInput,
}

/// What `updateProduct` gives back.
#[derive(SimpleObject)]
pub struct UpdateProductPayload {
    /// The product as it is now.
    pub product: Product,
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
                order_multiple: None,
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

/// A product your company stocks, with its cost, price and reorder settings. Its stock is
/// in `stockLevels`, its history in `stockMovements`.
#[Object]
impl Product {
    /// The product's global ID.
    pub async fn id(&self) -> ID {
        id::encode(PRODUCT, self.0.id)
    }
    /// Your article number, unique in your company.
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    /// The barcode (UPC, EAN or GTIN-14, digits only); null when not given.
    async fn gtin(&self) -> Option<&str> {
        self.0.gtin.as_deref()
    }
    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The brand; null when not given.
    async fn brand(&self) -> Option<&str> {
        self.0.brand.as_deref()
    }
    /// What kind of product it is; the matching attribute block is filled.
    async fn category(&self) -> Result<Category> {
        Ok(Category::parse(&self.0.category)
            .ok_or_else(|| AppError::internal("a product of an unknown category"))?)
    }
    /// What a unit costs you, in the product's currency; null when not given.
    async fn cost(&self) -> Option<Money> {
        self.money(self.0.cost_units)
    }
    /// What you sell a unit for, in the product's currency; null when not given.
    async fn price(&self) -> Option<Money> {
        self.money(self.0.price_units)
    }
    /// Attributes of a FRAME; null for other categories.
    async fn frame(&self) -> Option<FrameAttributes> {
        self.attributes().and_then(Attributes::frame)
    }
    /// Attributes of a SPECTACLE_LENS; null for other categories.
    async fn spectacle_lens(&self) -> Option<SpectacleLensAttributes> {
        self.attributes().and_then(Attributes::spectacle_lens)
    }
    /// Attributes of a LENS_BLANK; null for other categories.
    async fn lens_blank(&self) -> Option<LensBlankAttributes> {
        self.attributes().and_then(Attributes::lens_blank)
    }
    /// Attributes of a CONTACT_LENS; null for other categories.
    async fn contact_lens(&self) -> Option<ContactLensAttributes> {
        self.attributes().and_then(Attributes::contact_lens)
    }
    /// Reorder when available stock is at or below this many units; null: not set.
    async fn reorder_point(&self) -> Option<i64> {
        self.0.reorder_point
    }
    /// Min/max policy: when available stock is at or below this, order up to
    /// `maxQuantity`; null: no min/max policy.
    async fn min_quantity(&self) -> Option<i64> {
        self.0.min_quantity
    }
    /// Min/max policy: the stock to order up to; null: no min/max policy.
    async fn max_quantity(&self) -> Option<i64> {
        self.0.max_quantity
    }
    /// Days from order to arrival; null: not set (no reorder point is computed).
    async fn lead_time_days(&self) -> Option<i32> {
        self.0.lead_time_days
    }
    /// Units you keep in reserve against uncertain demand, as entered; null: not set.
    /// (`reorderSuggestions` computes its own from demand.)
    async fn safety_stock(&self) -> Option<i64> {
        self.0.safety_stock
    }
    /// The supplier catalog item this product is bought as (a `CatalogItem` ID, which
    /// `node(id:)` loads while you are connected to the supplier); null when not linked.
    /// An ID, not the item: the item is the supplier's, readable only while your
    /// connection with it is ACTIVE and the item is active, and inventory refers to the
    /// marketplace's catalog by ID only.
    async fn supplier_item_id(&self) -> Option<ID> {
        self.0.supplier_item_id.map(|i| id::encode(ITEM, i))
    }
    /// Whether you still stock it.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When the product was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the product's details last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Narrows `products`: every field given must match.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Words in the SKU, name, brand or barcode (every word must match).
    pub text: Option<String>,
    /// Only products of this category.
    pub category: Option<Category>,
    /// Only active (true) or inactive (false) products.
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct ProductsQuery;

#[Object]
impl ProductsQuery {
    /// Your company's products, oldest first.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the products that match (all of them when left out).")]
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

    /// One of your company's products; null when you have none with this ID.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's ID.")] id: ID,
    ) -> Result<Option<Product>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(products::get(db, tenant, &id).await?.map(Product))
    }
}

#[derive(Default)]
pub struct ProductsMutation;

#[Object]
impl ProductsMutation {
    /// Adds a product (admins and managers); a SKU you already use is CONFLICT.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] input: CreateProductInput,
    ) -> Result<CreateProductPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row = products::create(db, tenant, input.product.into()).await?;
        Ok(CreateProductPayload {
            product: Product(row),
        })
    }

    /// Replaces a product's details with the input's (admins and managers); its stock is
    /// not touched.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product and its new details.")] input: UpdateProductInput,
    ) -> Result<UpdateProductPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let product_id = id::decode(PRODUCT, &input.id, "input.id")?;
        let row = products::update(db, tenant, product_id, input.product.into()).await?;
        Ok(UpdateProductPayload {
            product: Product(row),
        })
    }
}
