//! An order as a DCS ("OMA") job file, for either party, kept in the file store beside the
//! order.

use super::LINK_TTL;
use crate::model::dcs_job::dcs_of;
use crate::service::orders::audit_identified;
use bytes::Bytes;
use ils_entity::lens_order as order;
use ils_kernel::files::Files;
use ils_kernel::{AppResult, ClientInfo, Db, TenantContext};
use uuid::Uuid;

/// A DCS job file, as written and stored.
pub struct JobFile {
    pub file_name: String,
    /// The file's text.
    pub content: String,
    /// Where the file is kept in the file store.
    pub stored_as: String,
    /// A link to download the file.
    pub download_url: String,
}

/// The DCS job file of an order the caller is a party to (NOT_FOUND otherwise), stored
/// under the order; the read is audited when the order names a patient.
pub async fn order_file(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    files: &Files,
    order_id: Uuid,
) -> AppResult<JobFile> {
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    audit_identified(&tx, ctx, client, std::iter::once(&row)).await?;
    tx.commit().await?;
    let content = dcs_of(&row)?;
    let file_name = format!("{}.oma", row.order_number);
    let key = format!("orders/{}/{}/{file_name}", row.company_id, row.id);
    files.put(&key, Bytes::from(content.clone())).await?;
    Ok(JobFile {
        file_name,
        content,
        download_url: files.link(&key, LINK_TTL)?,
        stored_as: key,
    })
}
