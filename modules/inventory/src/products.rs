//! A company's own products: what it stocks, with the supplier catalog's categories and
//! attributes (one validation for both), cost and price as exact decimals, and its reorder
//! settings.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{
    self, Attributes, CatalogItemInput, Category, ContactLensAttributes, FieldError,
    FrameAttributes, LensBlankAttributes, SpectacleLensAttributes, decimal_to_units,
    price_to_decimal,
};
use ils_common::money::Money;
use ils_common::search;
use ils_entity::{catalog_item, product};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use uuid::Uuid;

pub const PRODUCT: &str = "Product";

/// The largest reorder quantity a product may name.
const MAX_UNITS: i64 = 1_000_000_000;

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

/// A product, checked and ready to store.
pub struct Checked {
    pub(crate) draft: draft::ItemDraft,
    pub(crate) cost_units: Option<i64>,
    pub(crate) price_units: Option<i64>,
    pub(crate) reorder_point: Option<i64>,
    pub(crate) min_quantity: Option<i64>,
    pub(crate) max_quantity: Option<i64>,
    pub(crate) lead_time_days: Option<i32>,
    pub(crate) safety_stock: Option<i64>,
    supplier_item: Option<(Uuid, Uuid)>,
}

/// Every rule at once: the catalog's (SKU, GTIN, name, category attributes, currency) and
/// the product's own (cost, price, reorder settings).
pub(crate) fn validate(input: &ProductInput) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let as_item = CatalogItemInput {
        sku: input.sku.clone(),
        gtin: input.gtin.clone(),
        name: input.name.clone(),
        brand: input.brand.clone(),
        category: input.category,
        price: input.price.unwrap_or(Decimal::ZERO),
        currency: input.currency.clone(),
        min_order_quantity: None,
        lead_time_days: input.lead_time_days,
        active: input.active,
        frame: input.frame.clone(),
        spectacle_lens: input.spectacle_lens.clone(),
        lens_blank: input.lens_blank.clone(),
        contact_lens: input.contact_lens.clone(),
    };
    let draft = match draft::validate(as_item) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let money = |field: &str, v: Option<Decimal>, errors: &mut Vec<FieldError>| match v {
        None => None,
        Some(v) if v.is_sign_negative() => {
            errors.push(FieldError {
                field: field.into(),
                message: "at least 0".into(),
            });
            None
        }
        Some(v) => decimal_to_units(v).or_else(|| {
            errors.push(FieldError {
                field: field.into(),
                message: "at most 4 decimal places and 999,999,999".into(),
            });
            None
        }),
    };
    let cost_units = money("cost", input.cost, &mut errors);
    let price_units = if input.price.is_some() {
        draft.as_ref().map(|d| d.price_units)
    } else {
        None
    };
    let mut units = |field: &str, v: Option<i64>| {
        if let Some(v) = v
            && !(0..=MAX_UNITS).contains(&v)
        {
            errors.push(FieldError {
                field: field.into(),
                message: format!("0..{MAX_UNITS}"),
            });
        }
        v
    };
    let reorder_point = units("reorderPoint", input.reorder_point);
    let min_quantity = units("minQuantity", input.min_quantity);
    let max_quantity = units("maxQuantity", input.max_quantity);
    let safety_stock = units("safetyStock", input.safety_stock);
    match (min_quantity, max_quantity) {
        (Some(min), Some(max)) if max < min => errors.push(FieldError {
            field: "maxQuantity".into(),
            message: "at least minQuantity".into(),
        }),
        (Some(_), None) | (None, Some(_)) => errors.push(FieldError {
            field: "maxQuantity".into(),
            message: "minQuantity and maxQuantity go together".into(),
        }),
        _ => {}
    }
    match (draft, errors.is_empty()) {
        (Some(draft), true) => Ok(Checked {
            draft,
            cost_units,
            price_units,
            reorder_point,
            min_quantity,
            max_quantity,
            lead_time_days: input.lead_time_days,
            safety_stock,
            supplier_item: None,
        }),
        _ => Err(errors),
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

/// The supplier item a product links to: an item the caller can read (a connected
/// supplier's active catalog) and priced in the product's currency (receipts blend its
/// price into the product's average cost), with its supplier.
async fn supplier_item(tx: &Tx, item: &ID, currency: &str) -> AppResult<(Uuid, Uuid)> {
    let item_id = id::decode(ITEM, item, "input.supplierItemId")?;
    let found = tx
        .find::<catalog_item::Entity>(item_id)
        .await?
        .ok_or_else(|| {
            AppError::bad_input(
                "input.supplierItemId",
                "not an item of a supplier you are connected to",
            )
        })?;
    if found.currency != currency {
        return Err(AppError::bad_input(
            "input.currency",
            format!(
                "the supplier item is priced in {}: use {}",
                found.currency, found.currency
            ),
        ));
    }
    Ok((found.id, found.company_id))
}

pub(crate) fn row_of(c: &Checked, mut row: product::ActiveModel) -> product::ActiveModel {
    let d = &c.draft;
    row.sku = Set(d.sku.clone());
    row.gtin = Set(d.gtin.clone());
    row.name = Set(d.name.clone());
    row.brand = Set(d.brand.clone());
    row.category = Set(d.category.as_str().to_owned());
    row.attributes = Set(d.attributes.to_json());
    row.cost_units = Set(c.cost_units);
    row.price_units = Set(c.price_units);
    row.currency = Set(d.currency.clone());
    row.reorder_point = Set(c.reorder_point);
    row.min_quantity = Set(c.min_quantity);
    row.max_quantity = Set(c.max_quantity);
    row.lead_time_days = Set(c.lead_time_days);
    row.safety_stock = Set(c.safety_stock);
    row.supplier_item_id = Set(c.supplier_item.map(|s| s.0));
    row.supplier_company_id = Set(c.supplier_item.map(|s| s.1));
    row.active = Set(d.active);
    row.search_text = Set(search::text_of(
        [d.sku.as_str(), d.name.as_str()]
            .into_iter()
            .chain(d.brand.as_deref())
            .chain(d.gtin.as_deref()),
    ));
    row.updated_at = Set(Utc::now());
    row
}

/// Whether the stored product already says exactly what `c` says (its supplier link
/// aside).
pub(crate) fn same(current: &product::Model, c: &Checked) -> bool {
    let d = &c.draft;
    current.sku == d.sku
        && current.gtin == d.gtin
        && current.name == d.name
        && current.brand == d.brand
        && current.category == d.category.as_str()
        && Attributes::from_json(d.category, &current.attributes).as_ref() == Some(&d.attributes)
        && current.cost_units == c.cost_units
        && current.price_units == c.price_units
        && current.currency == d.currency
        && current.reorder_point == c.reorder_point
        && current.min_quantity == c.min_quantity
        && current.max_quantity == c.max_quantity
        && current.lead_time_days == c.lead_time_days
        && current.safety_stock == c.safety_stock
        && current.active == d.active
}

async fn checked(tx: &Tx, input: ProductInput) -> AppResult<Checked> {
    let mut c = validate(&input).map_err(|errors| AppError::invalid("input", errors))?;
    if let Some(item) = &input.supplier_item_id {
        c.supplier_item = Some(supplier_item(tx, item, &c.draft.currency).await?);
    }
    Ok(c)
}

fn sku_conflict(e: AppError) -> AppError {
    match e {
        AppError::Conflict(_) => {
            AppError::Conflict("you already have a product with this SKU".into())
        }
        e => e,
    }
}

pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    input: ProductInput,
) -> AppResult<product::Model> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    let c = checked(&tx, input).await?;
    let now = Utc::now();
    let row = row_of(
        &c,
        product::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(now),
            ..Default::default()
        },
    );
    let row = tx.insert(row).await.map_err(sku_conflict)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    product_id: Uuid,
    input: ProductInput,
) -> AppResult<product::Model> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    let current = tx.get::<product::Entity>(product_id).await?;
    let c = checked(&tx, input).await?;
    let row = row_of(
        &c,
        product::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(current.id),
            ..Default::default()
        },
    );
    let row = tx.update(row).await.map_err(sku_conflict)?;
    if (row.reorder_point, row.min_quantity) != (current.reorder_point, current.min_quantity) {
        crate::low::refresh_low(&tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
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
    ) -> Result<Connection<String, Product>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let f = filter.unwrap_or_default();
        let tx = db.tenant(tenant).await?;
        let mut select = tx.select::<product::Entity>();
        if let Some(cond) = f
            .text
            .as_deref()
            .and_then(|t| search::condition(db.backend(), t))
        {
            select = select.filter(cond);
        }
        if let Some(c) = f.category {
            select = select.filter(product::Column::Category.eq(c.as_str()));
        }
        if let Some(a) = f.active {
            select = select.filter(product::Column::Active.eq(a));
        }
        let page = PageArgs::new(first, after, last, before);
        let conn = paginate(
            tx.conn(),
            select,
            product::Column::Id,
            page,
            |p| p.id,
            Product,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Product>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let product_id = id::decode(PRODUCT, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        let row = tx.find::<product::Entity>(product_id).await?;
        tx.commit().await?;
        Ok(row.map(Product))
    }
}

#[derive(Default)]
pub struct ProductsMutation;

#[Object]
impl ProductsMutation {
    /// Adds a product (admins and managers).
    async fn create_product(&self, ctx: &Context<'_>, input: ProductInput) -> Result<Product> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(Product(create(db, tenant, input).await?))
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
        Ok(Product(update(db, tenant, product_id, input).await?))
    }
}
