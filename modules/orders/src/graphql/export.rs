//! `orderDcs`: an order as a DCS (OMA) job file.

use crate::model::ORDER;
use crate::service::export;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, id, request_parts};

/// An order as a DCS (OMA) job file, for a lab's machines.
#[derive(SimpleObject)]
pub struct DcsJobFile {
    /// A file name for the download: the order number with `.oma`.
    pub file_name: String,
    /// The file's text (`LABEL=value` lines, right;left pairs).
    pub content: String,
    /// Where the file is kept in the file store.
    pub stored_as: String,
    /// A link to download the file (good for 15 minutes, no login needed).
    pub download_url: String,
}

#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// An order as a DCS (OMA) job file, for either party; also kept in the file store.
    /// An order made from a DCS file is written as that file, every record kept in order,
    /// with only the records of what changed on the order replaced (and JOB, HBOX, VBOX,
    /// CIRC added when the file has none). NOT_FOUND for an order you are not a party to.
    async fn order_dcs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's global ID.")] id: ID,
    ) -> Result<DcsJobFile> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let client = ils_kernel::client_info(ctx);
        let file = export::order_file(db, tenant, &client, files, order_id).await?;
        Ok(DcsJobFile {
            file_name: file.file_name,
            content: file.content,
            stored_as: file.stored_as,
            download_url: file.download_url,
        })
    }
}
