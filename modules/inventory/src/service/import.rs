//! Products from a CSV file, through the marketplace's import pipeline
//! ([`ils_common::imports`]): the file is checked whole, then imported by a job in
//! batches, upserting by SKU with an error per bad row, and the same file twice changes
//! nothing. A row is checked exactly like `createProduct`'s input (the catalog's columns and
//! category attributes, plus cost and the reorder settings).

use crate::model::IMPORT;
use crate::service::products::{self, Checked, ProductFields};
use crate::service::stock::refresh_low;
use chrono::Utc;
use ils_common::catalog::csv::{self, Cells, Column, Layout, RowError};
use ils_common::catalog::draft::FieldError;
use ils_common::imports::{self, Applied, ImportTarget};
use ils_common::money::MoneyInput;
use ils_entity::{catalog_item, product};
use ils_kernel::authz::require_manager;
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A company's products as an import target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Products;

pub const COST: Column = Column::new("cost", &["cost"]);
pub const REORDER_POINT: Column = Column::new("reorder_point", &["reorderPoint"]);
pub const MIN_QUANTITY: Column = Column::new("min_quantity", &["minQuantity"]);
pub const MAX_QUANTITY: Column = Column::new("max_quantity", &["maxQuantity"]);
pub const SAFETY_STOCK: Column = Column::new("safety_stock", &["safetyStock"]);

/// The columns of a product file: `createProduct`'s input without the supplier link (an
/// import keeps a product's link as it is).
pub const PRODUCTS: Layout<Checked> = Layout {
    columns: &[
        &csv::SKU,
        &csv::GTIN,
        &csv::NAME,
        &csv::BRAND,
        &csv::CATEGORY,
        &COST,
        &csv::PRICE,
        &csv::CURRENCY,
        &REORDER_POINT,
        &MIN_QUANTITY,
        &MAX_QUANTITY,
        &csv::LEAD_TIME_DAYS,
        &SAFETY_STOCK,
        &csv::ACTIVE,
    ],
    required: &[&csv::SKU, &csv::NAME, &csv::CATEGORY, &csv::CURRENCY],
    read: read_product,
};

fn read_product(cells: &mut Cells<'_>) -> Result<Checked, Vec<FieldError>> {
    cells.require(&[&csv::CATEGORY], "required");
    let item = cells.item();
    // A row's amounts are in its currency.
    let money = |amount: Option<Decimal>| {
        amount.map(|amount| MoneyInput {
            amount,
            currency: item.currency.clone(),
        })
    };
    let input = ProductFields {
        cost: money(cells.decimal(&COST)),
        price: money(cells.decimal(&csv::PRICE)),
        item,
        reorder_point: cells.whole(&REORDER_POINT),
        min_quantity: cells.whole(&MIN_QUANTITY),
        max_quantity: cells.whole(&MAX_QUANTITY),
        safety_stock: cells.whole(&SAFETY_STOCK),
        supplier_item_id: None,
    };
    products::validate(&input).map_err(|errors| errors.into_iter().map(in_file).collect())
}

/// A problem as the file has it: an amount is its column (`cost.amount` is `cost`), a
/// currency the row's `currency`.
fn in_file(e: FieldError) -> FieldError {
    let field = match e.field.split_once('.') {
        Some((money @ ("cost" | "price"), "amount")) => money.to_owned(),
        Some(("cost" | "price", "currency")) => "currency".to_owned(),
        _ => e.field,
    };
    FieldError { field, ..e }
}

impl ImportTarget for Products {
    const NAME: &'static str = IMPORT;
    const ERROR_NAME: &'static str = "ProductImportError";
    const PROGRESS_NAME: &'static str = "ProductImportProgress";
    const TARGET: &'static str = "PRODUCTS";
    const JOB: &'static str = "inventory.product_import";
    const PROGRESS_EVENT: &'static str = "product.import.progress";
    const COMPLETED_EVENT: &'static str = "product.import.completed";
    const FAILED_EVENT: &'static str = "product.import.failed";
    const FOLDER: &'static str = "product-imports";
    const FILE_NAME: &'static str = "products.csv";
    const BUSY: &'static str =
        "an import of your products is already under way; start the next one when it has finished";

    type Row = Checked;

    fn layout() -> &'static Layout<Checked> {
        &PRODUCTS
    }

    fn sku(row: &Checked) -> &str {
        &row.draft.sku
    }

    async fn authorise(db: &Db, ctx: &TenantContext) -> AppResult<Tx> {
        let tx = db.tenant(ctx).await?;
        require_manager(&tx, ctx).await?;
        Ok(tx)
    }

    /// New SKUs inserted in one statement; a changed product updated (its low-stock flags
    /// follow new reorder settings, as with `updateProduct`); an identical one left alone.
    /// The batch's existing products are locked first, in id order like receipts, counts
    /// and reconciliation lock them: no deadlock with those, and no movement or edit of
    /// them in between.
    async fn apply(tx: &Tx, rows: &[(usize, &Checked)]) -> AppResult<Applied> {
        let skus: HashSet<&str> = rows.iter().map(|(_, c)| c.draft.sku.as_str()).collect();
        let existing: HashMap<String, product::Model> = if skus.is_empty() {
            HashMap::new()
        } else {
            tx.lock_for_update(
                tx.select::<product::Entity>()
                    .filter(product::Column::Sku.is_in(skus))
                    .order_by_asc(product::Column::Id),
            )
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|m| (m.sku.clone(), m))
            .collect()
        };
        // The currencies of the supplier items the linked products are bought as (those the
        // company can still read: an ended connection hides its catalog).
        let linked: Vec<Uuid> = existing
            .values()
            .filter_map(|p| p.supplier_item_id)
            .collect();
        let item_currency: HashMap<Uuid, String> = if linked.is_empty() {
            HashMap::new()
        } else {
            tx.select::<catalog_item::Entity>()
                .filter(catalog_item::Column::Id.is_in(linked))
                .all(tx.conn())
                .await?
                .into_iter()
                .map(|i| (i.id, i.currency))
                .collect()
        };
        let mut applied = Applied::default();
        let mut created = Vec::new();
        let now = Utc::now();
        for (line, c) in rows {
            let Some(current) = existing.get(&c.draft.sku) else {
                created.push(products::row_of(
                    c,
                    product::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        created_at: Set(now),
                        ..Default::default()
                    },
                ));
                continue;
            };
            let bought_in = current
                .supplier_item_id
                .and_then(|item| item_currency.get(&item));
            if let Some(currency) = bought_in.filter(|c2| **c2 != c.draft.currency) {
                applied.refused.push(RowError {
                    row: *line,
                    column: Some("currency".into()),
                    message: format!(
                        "the product is bought as a supplier item priced in {currency}: use {currency}"
                    ),
                });
                continue;
            }
            if products::same(current, c) {
                applied.unchanged += 1;
                continue;
            }
            let mut row = products::row_of(
                c,
                product::ActiveModel {
                    id: sea_orm::ActiveValue::Unchanged(current.id),
                    ..Default::default()
                },
            );
            // The supplier link is not in the file: it stays as it is.
            row.supplier_item_id = NotSet;
            row.supplier_company_id = NotSet;
            let row = tx.update(row).await?;
            if (row.reorder_point, row.min_quantity)
                != (current.reorder_point, current.min_quantity)
            {
                refresh_low(tx, &row).await?;
            }
            applied.updated += 1;
        }
        applied.created = created.len() as i32;
        tx.insert_many(created).await.map_err(|e| match e {
            // Another writer took one of these SKUs since the batch read them: the job
            // runs the batch again and finds it.
            AppError::Conflict(_) => AppError::internal("a SKU was added during the import"),
            e => e,
        })?;
        Ok(applied)
    }
}

pub fn import_kind() -> ils_kernel::JobKind {
    imports::job_kind::<Products>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(usize, Result<Checked, Vec<RowError>>)> {
        match csv::open(text.as_bytes(), &PRODUCTS) {
            Ok(file) => file.rows().collect(),
            Err(e) => panic!("file refused: {e}"),
        }
    }

    fn refused(text: &str) -> String {
        match csv::open(text.as_bytes(), &PRODUCTS) {
            Ok(_) => panic!("file opened"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_column_table_is_consistent() {
        assert_eq!(PRODUCTS.problems(), Vec::<String>::new());
    }

    #[test]
    fn a_row_is_a_product_as_create_product_checks_it() {
        let read = rows(
            "sku,name,category,currency,cost,price,reorder_point,min_quantity,max_quantity,lead_time_days,safety_stock,eye_size,bridge,temple_length\n\
             F-1,Aviator,FRAME,EUR,12.5,49.90,4,2,10,7,1,52,18,140\n\
             S-1,Cloth,SUNDRY,EUR,,,,,,,,,,\n",
        );
        let (line, first) = &read[0];
        assert_eq!(*line, 2);
        let c = first.as_ref().expect("a valid frame");
        assert_eq!(c.draft.sku, "F-1");
        assert_eq!(c.cost_units, Some(125_000));
        assert_eq!(c.price_units, Some(499_000));
        assert_eq!(
            (c.reorder_point, c.min_quantity, c.max_quantity),
            (Some(4), Some(2), Some(10))
        );
        assert_eq!((c.lead_time_days, c.safety_stock), (Some(7), Some(1)));
        let sundry = read[1].1.as_ref().expect("a valid sundry");
        assert_eq!((sundry.cost_units, sundry.price_units), (None, None));
    }

    #[test]
    fn every_problem_of_a_row_is_named_by_its_column() {
        let read = rows(
            "SKU,Name,Category,Currency,Cost,Min Quantity,Max Quantity,Reorder Point,Eye Size,Bridge,Temple Length,Power\n\
             F-2,Frame,FRAME,EUR,-1,5,2,x,52,,140,-2.00\n",
        );
        let errors = read[0].1.as_ref().err().expect("refused");
        let said: Vec<(Option<&str>, &str)> = errors
            .iter()
            .map(|e| (e.column.as_deref(), e.message.as_str()))
            .collect();
        assert_eq!(
            said,
            vec![
                (Some("cost"), "must not be negative"),
                (Some("max_quantity"), "at least minQuantity"),
                (Some("reorder_point"), "\"x\" is not a number"),
                (Some("bridge"), "required for FRAME items"),
                (Some("power"), "not used for FRAME items"),
            ]
        );
        assert!(errors.iter().all(|e| e.row == 2));
    }

    #[test]
    fn a_file_without_the_product_columns_is_refused_whole() {
        assert_eq!(
            refused("sku,name,category\nA,B,SUNDRY\n"),
            "missing required column: currency"
        );
        let unknown = refused("sku,name,category,currency,min_order_quantity\n");
        assert!(
            unknown.starts_with("unknown column \"min_order_quantity\"; the columns are: sku, gtin (or upc, ean), name"),
            "{unknown}"
        );
        assert!(unknown.contains("reorder_point"), "{unknown}");
    }
}
