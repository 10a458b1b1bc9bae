//! Exporting stock levels as a CSV file.

use crate::service::export;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use ils_kernel::files::Exported;
use ils_kernel::files::Files;
use ils_kernel::{AppError, request_parts};

/// A CSV file of stock levels, written to the file store: columns sku, name, location,
/// on_hand, reserved, available, average_cost, value, currency, low.
#[derive(SimpleObject)]
pub struct StockExport {
    /// The file's name (`stock-20261205-093000.csv`).
    pub file_name: String,
    /// Rows written (one per product and location), the header not counted.
    pub rows: i64,
    /// Where the file is kept in the file store.
    pub stored_as: String,
    /// A link to download it (good for 15 minutes, no login needed).
    pub download_url: String,
}

impl From<Exported> for StockExport {
    fn from(e: Exported) -> Self {
        StockExport {
            file_name: e.file_name,
            rows: e.rows,
            stored_as: e.stored_as,
            download_url: e.download_url,
        }
    }
}

/// What `exportStockLevels` takes.
#[derive(InputObject, Default)]
pub struct ExportStockLevelsInput {
    /// Only the stock at this location (a `StockLocation` ID of yours); every location's
    /// when left out.
    pub location_id: Option<ID>,
}

/// What `exportStockLevels` gives back.
#[derive(SimpleObject)]
pub struct ExportStockLevelsPayload {
    /// The file written, with its download link.
    pub stock_export: StockExport,
}

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Writes your stock levels (of one location, or all) as a CSV file and returns a link
    /// to download it (any member).
    async fn export_stock_levels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which stock to export.")] input: ExportStockLevelsInput,
    ) -> Result<ExportStockLevelsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let exported = export::stock_levels(db, tenant, files, input.location_id.as_ref()).await?;
        Ok(ExportStockLevelsPayload {
            stock_export: exported.into(),
        })
    }
}
