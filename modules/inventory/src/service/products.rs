//! A company's own products: what it stocks, with the supplier catalog's categories and
//! attributes (one validation for both), cost and price as exact decimals, and its reorder
//! settings.

use crate::model::PRODUCT;
use crate::service::by_global_id;
use crate::service::stock::refresh_low;
use async_graphql::ID;
use chrono::Utc;
use ils_common::catalog::draft::{
    self, Attributes, CatalogItemInput, Category, FieldError, decimal_to_units,
};
use ils_common::money::MoneyInput;
use ils_common::search;
use ils_entity::{catalog_item, product};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, FieldErrors, TenantContext, Tx, id};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use uuid::Uuid;

/// The largest reorder quantity a product may name.
const MAX_UNITS: i64 = 1_000_000_000;

/// A product as entered (through `createProduct` / `updateProduct`, or as a row of a
/// product file): the catalog's fields and the product's own.
#[derive(Clone)]
pub struct ProductFields {
    /// SKU, GTIN, name, brand, category with its attribute block, currency, lead time and
    /// active, checked as for a catalog item (its price and minimum order quantity are not
    /// read: a product has its own optional price).
    pub item: CatalogItemInput,
    /// What a unit sells for, in the product's currency (`item.currency`).
    pub price: Option<MoneyInput>,
    /// What a unit costs, in the product's currency.
    pub cost: Option<MoneyInput>,
    pub reorder_point: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub safety_stock: Option<i64>,
    /// The connected supplier's catalog item the product is bought as.
    pub supplier_item_id: Option<ID>,
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
/// the product's own (cost and price in the product's currency, reorder settings). Paths
/// are the API's: `cost.amount`, `price.currency`, `frame.eyeSize`.
pub(crate) fn validate(input: &ProductFields) -> Result<Checked, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let currency = input.item.currency.trim().to_ascii_uppercase();
    // An amount given as money: an ISO 4217 currency, the product's, and not negative.
    let mut amount = |field: &str, m: &Option<MoneyInput>| {
        let money = m.as_ref()?.check(field, false, &mut errors)?;
        if money.currency != currency {
            errors.add(
                format!("{field}.currency"),
                format!("a product's cost and price are in its currency ({currency})"),
            );
        }
        Some(money.amount)
    };
    let cost = amount("cost", &input.cost);
    let price = amount("price", &input.price);
    let mut errors = errors.into_vec();
    let as_item = CatalogItemInput {
        price: price.unwrap_or(Decimal::ZERO),
        min_order_quantity: None,
        ..input.item.clone()
    };
    let draft = match draft::validate(as_item) {
        Ok(d) => Some(d),
        Err(e) => {
            // The catalog's price is a bare amount; a product's is money.
            errors.extend(e.into_iter().map(|e| match e.field.as_str() {
                "price" => FieldError {
                    field: "price.amount".into(),
                    ..e
                },
                _ => e,
            }));
            None
        }
    };
    let cost_units = cost.and_then(|v| {
        decimal_to_units(v).or_else(|| {
            errors.push(FieldError {
                field: "cost.amount".into(),
                message: "at most 4 decimal places and 999,999,999".into(),
            });
            None
        })
    });
    let price_units = if price.is_some() {
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
            lead_time_days: input.item.lead_time_days,
            safety_stock,
            supplier_item: None,
        }),
        _ => Err(errors),
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

async fn checked(tx: &Tx, input: ProductFields) -> AppResult<Checked> {
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

/// Adds a product (admins and managers).
pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    input: ProductFields,
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

/// Replaces a product's details (admins and managers); its stock is not touched, its
/// balances' low-stock flags follow new reorder settings.
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    product_id: Uuid,
    input: ProductFields,
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
        refresh_low(&tx, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The company's products: words in the SKU, name, brand or barcode (every word must
/// match), a category, active or not; every filter given narrows.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    text: Option<&str>,
    category: Option<Category>,
    active: Option<bool>,
    page: PageArgs,
    map: impl Fn(product::Model) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select::<product::Entity>();
    if let Some(cond) = text.and_then(|t| search::condition(db.backend(), t)) {
        select = select.filter(cond);
    }
    if let Some(c) = category {
        select = select.filter(product::Column::Category.eq(c.as_str()));
    }
    if let Some(a) = active {
        select = select.filter(product::Column::Active.eq(a));
    }
    let conn = paginate(tx.conn(), select, product::Column::Id, page, |p| p.id, map).await?;
    tx.commit().await?;
    Ok(conn)
}

/// One of the company's products; `None` when it has no such product.
pub async fn get(db: &Db, ctx: &TenantContext, product: &ID) -> AppResult<Option<product::Model>> {
    let load = async |tx: &Tx, product_id| tx.get::<product::Entity>(product_id).await;
    by_global_id(db, ctx, PRODUCT, product, load).await
}

/// The products among `ids` the caller can see.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<product::Model>> {
    tx.find_many::<product::Entity>(ids).await
}
