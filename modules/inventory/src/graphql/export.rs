//! Exporting stock levels as a CSV file.

use crate::service::export::{self, Exported};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use ils_kernel::files::Files;
use ils_kernel::{AppError, request_parts};

#[derive(SimpleObject)]
pub struct StockExport {
    pub file_name: String,
    /// Rows written (one per product and location).
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

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Writes your stock levels (of one location, or all) as a CSV file and returns a link
    /// to download it.
    async fn export_stock_levels(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<StockExport> {
        let (tenant, db) = request_parts(ctx)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        Ok(
            export::stock_levels(db, tenant, files, location_id.as_ref())
                .await?
                .into(),
        )
    }
}
