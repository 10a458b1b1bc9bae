//! Catalog items: the supplier edits its own catalog; companies with an ACTIVE connection
//! to the supplier browse it (the guard's connected read, mirrored by a PostgreSQL policy),
//! and lose it the moment the connection ends. The validation is the one the CSV import
//! uses too ([`ils_common::catalog::draft`]).

use crate::search;
use chrono::Utc;
use ils_common::catalog::draft::{self, Attributes, CatalogItemInput, Category, ItemDraft};
use ils_common::company::CompanyType;
use ils_entity::{catalog_item as item, company};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::active_between;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, Select};
use uuid::Uuid;

/// The global ID type name of a catalog item.
pub const ITEM: &str = "CatalogItem";

/// One condition of a catalog search; an item is shown when it meets them all.
pub enum CatalogCriterion {
    Category(Category),
    /// Exact brand, any case.
    Brand(String),
    /// Words to find in the SKU, name or brand.
    Text(String),
    /// Active or inactive items (buyers see active items only).
    Active(bool),
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
    {
        use sea_orm::PaginatorTrait;
        let me = require_member(ctx)?;
        let items = async {
            Ok(tx
                .select::<item::Entity>()
                .filter(item::Column::CompanyId.eq(me))
                .count(tx.conn())
                .await?)
        };
        ils_common::plan::allow_one_more(&tx, me, ils_common::plan::Counted::CatalogItems, items)
            .await?;
    }
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

/// Removes an item from the caller's catalog.
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

/// The API's input through the one validation the CSV import uses too. The API takes the
/// price as one `MoneyInput`, so its problems are reported at `input.price.amount` and
/// `input.price.currency`.
fn checked(input: CatalogItemInput) -> AppResult<ItemDraft> {
    draft::validate(input).map_err(|errors| {
        let errors = errors.into_iter().map(|mut e| {
            match e.field.as_str() {
                "price" => e.field = "price.amount".into(),
                "currency" => e.field = "price.currency".into(),
                _ => {}
            }
            e
        });
        AppError::invalid("input", errors)
    })
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
        order_multiple: Set(d.order_multiple),
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
        && current.order_multiple == d.order_multiple
        && current.active == d.active
        && Attributes::from_json(d.category, &current.attributes).as_ref() == Some(&d.attributes)
}

/// One page of `supplier`'s catalog (the caller's own when `None`) as the caller may see
/// it: their own, or a connected supplier's (NOT_FOUND otherwise, as for a supplier that
/// does not exist), meeting every criterion.
pub async fn browse<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    supplier: Option<Uuid>,
    criteria: Vec<CatalogCriterion>,
    page: PageArgs,
    map: impl Fn(item::Model) -> T,
) -> AppResult<Page<T>> {
    let me = require_member(ctx)?;
    let supplier = supplier.unwrap_or(me);
    let tx = db.read(ctx).await?;
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
    let select = filtered(db, select, criteria);
    let conn = paginate(tx.conn(), select, item::Column::Id, page, |r| r.id, map).await?;
    tx.commit().await?;
    Ok(conn)
}

fn filtered(
    db: &Db,
    mut select: Select<item::Entity>,
    criteria: Vec<CatalogCriterion>,
) -> Select<item::Entity> {
    for criterion in criteria {
        match criterion {
            CatalogCriterion::Category(c) => {
                select = select.filter(item::Column::Category.eq(c.as_str()));
            }
            CatalogCriterion::Brand(b) => {
                let b = b.trim();
                if !b.is_empty() {
                    select = select.filter(search::equals_any_case(item::Column::Brand, b));
                }
            }
            CatalogCriterion::Text(text) => {
                if let Some(cond) = search::condition(db.backend(), &text) {
                    select = select.filter(cond);
                }
            }
            CatalogCriterion::Active(active) => {
                select = select.filter(item::Column::Active.eq(active));
            }
        }
    }
    select
}

/// The items among `ids` the caller may see, for `node`/`nodes`: own items, and active
/// items of actively connected suppliers.
pub async fn by_ids(tx: &Tx, me: Uuid, ids: Vec<Uuid>) -> AppResult<Vec<item::Model>> {
    Ok(tx
        .find_many::<item::Entity>(ids)
        .await?
        .into_iter()
        .filter(|r| r.company_id == me || r.active)
        .collect())
}
