//! CSV import of a supplier's catalog, through the import pipeline ([`crate::imports`]):
//! the rows are catalog items checked like `createCatalogItem`'s, upserted by SKU.

use super::catalog::{changed_row, new_row, same, supplier_tx};
use crate::imports::{self, Applied, ImportTarget};
use ils_common::catalog::csv::{CATALOG, Layout, RowError};
use ils_common::catalog::draft::ItemDraft;
use ils_common::plan::{Counted, Plan, check_count, hold_if_limited};
use ils_entity::catalog_item as item;
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::{HashMap, HashSet};

/// A supplier's catalog as an import target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Catalog;

pub const IMPORT: &str = Catalog::NAME;
pub const IMPORT_JOB: &str = Catalog::JOB;

impl ImportTarget for Catalog {
    const NAME: &'static str = "CatalogImport";
    const ERROR_NAME: &'static str = "CatalogImportError";
    const PROGRESS_NAME: &'static str = "CatalogImportProgress";
    const TARGET: &'static str = "CATALOG";
    const JOB: &'static str = "marketplace.catalog_import";
    const PROGRESS_EVENT: &'static str = "catalog.import.progress";
    const COMPLETED_EVENT: &'static str = "catalog.import.completed";
    const FAILED_EVENT: &'static str = "catalog.import.failed";
    const FOLDER: &'static str = "catalog-imports";
    const FILE_NAME: &'static str = "catalog.csv";
    const BUSY: &'static str =
        "an import of your catalog is already under way; start the next one when it has finished";

    type Row = ItemDraft;

    fn layout() -> &'static Layout<ItemDraft> {
        &CATALOG
    }

    fn sku(row: &ItemDraft) -> &str {
        &row.sku
    }

    async fn authorise(db: &Db, ctx: &TenantContext) -> AppResult<Tx> {
        supplier_tx(db, ctx).await
    }

    /// New SKUs inserted in one statement, changed items updated, identical ones left
    /// alone.
    async fn apply(tx: &Tx, rows: &[(usize, &ItemDraft)]) -> AppResult<Applied> {
        let me = tx
            .scope()
            .company()
            .ok_or_else(|| AppError::internal("an import without a company"))?;
        let skus: HashSet<&str> = rows.iter().map(|(_, d)| d.sku.as_str()).collect();
        let existing: HashMap<String, item::Model> = if skus.is_empty() {
            HashMap::new()
        } else {
            tx.select::<item::Entity>()
                .filter(item::Column::CompanyId.eq(me))
                .filter(item::Column::Sku.is_in(skus))
                .all(tx.conn())
                .await?
                .into_iter()
                .map(|m| (m.sku.clone(), m))
                .collect()
        };
        let mut applied = Applied::default();
        let mut created = Vec::new();
        let mut room = PlanRoom::of(tx, me).await?;
        for (line, d) in rows {
            match existing.get(&d.sku) {
                None => match room.take() {
                    Ok(()) => created.push(new_row(d)),
                    Err(refusal) => applied.refused.push(RowError {
                        row: *line,
                        column: Some("sku".into()),
                        message: refusal.to_string(),
                    }),
                },
                Some(current) if same(current, d) => applied.unchanged += 1,
                Some(current) => {
                    tx.update(changed_row(current, d)).await?;
                    applied.updated += 1;
                }
            }
        }
        applied.created = created.len() as i32;
        tx.insert_many(created).await?;
        Ok(applied)
    }
}

/// What the supplier's plan leaves room for: new items are taken in file order while it
/// lasts, and the rest refused with the `PLAN_LIMIT` message (changes to items already in
/// the catalog are never refused).
struct PlanRoom {
    /// The plan, when it limits catalog items.
    plan: Option<Plan>,
    /// Items in the catalog (counted only when the plan has a limit).
    used: u64,
}

impl PlanRoom {
    async fn of(tx: &Tx, me: uuid::Uuid) -> AppResult<PlanRoom> {
        use sea_orm::PaginatorTrait;
        let Some(plan) = hold_if_limited(tx, me, Counted::CatalogItems).await? else {
            return Ok(PlanRoom {
                plan: None,
                used: 0,
            });
        };
        let used = tx
            .select::<item::Entity>()
            .filter(item::Column::CompanyId.eq(me))
            .count(tx.conn())
            .await?;
        Ok(PlanRoom {
            plan: Some(plan),
            used,
        })
    }

    /// Room for one more new item, taken; or the plan's refusal.
    fn take(&mut self) -> AppResult<()> {
        if let Some(plan) = self.plan {
            check_count(plan, Counted::CatalogItems, self.used)?;
            self.used += 1;
        }
        Ok(())
    }
}

/// The job kind that runs catalog imports.
pub fn import_kind() -> ils_kernel::JobKind {
    imports::job_kind::<Catalog>()
}
