//! `importDcs`: a DCS (OMA) file uploaded into a new draft or new measurements.

use super::orders::LensOrder;
use crate::model::ORDER;
use crate::service::import;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Upload};
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, id, request_parts};

/// A DCS (OMA) file to read into a new draft, or into an order's measurements.
#[derive(InputObject)]
pub struct ImportDcsInput {
    /// The file: a part of the GraphQL multipart request, whose `map` names the variable
    /// that carries it.
    pub file: Upload,
    /// The order to re-measure; leave out to make a new draft from the file.
    pub order_id: Option<ID>,
    /// With `orderId`: the version you saw (a changed order is CONFLICT).
    pub version: Option<i32>,
}

/// A DCS file read into ILS: what `importDcs` gives back.
#[derive(SimpleObject)]
pub struct ImportDcsPayload {
    /// The order created or re-measured.
    pub order: LensOrder,
    /// Where the uploaded file is kept in the file store.
    pub stored_as: String,
    /// A link to download the uploaded file (good for 15 minutes, no login needed).
    pub download_url: String,
    /// The labels ILS took from the file.
    pub labels_read: Vec<String>,
}

#[derive(Default)]
pub struct DcsImportMutation;

#[Object]
impl DcsImportMutation {
    /// Reads a DCS (OMA) file, uploaded as a GraphQL multipart request. Without `orderId`
    /// (practices) it becomes a new draft: your job reference (JOB, as `externalRef`), the
    /// patient reference (CLIENT, else JOB), the eyes (DO), the prescription (with PRVM/PRVA
    /// prism), the lens (when LDNAM names an ILS design and LIND the index), the frame with
    /// its trace (the box computed from the trace when HBOX/VBOX are absent; a frame needs
    /// DBL), and the fitting heights (SEGHT, OCHT), as far as the file has them; the file is
    /// kept with the order, and `orderDcs` writes it back record for record. With `orderId`
    /// and `version` it re-measures an order (frame and trace; fitting heights when given;
    /// the order's DBL when the file has none): your practice's own draft, or, for a lab, a
    /// job it holds (RECEIVED, ON_HOLD, IN_PRODUCTION), checked against the job (every
    /// problem at its path in the order, `order.frame.a`), kept in its history and
    /// announced to the practice. A malformed file is BAD_USER_INPUT on `input.file`,
    /// naming the line.
    async fn import_dcs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file, and the order to re-measure if any.")] input: ImportDcsInput,
    ) -> Result<ImportDcsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let target = match (&input.order_id, input.version) {
            (Some(o), Some(v)) => Some((id::decode(ORDER, o, "input.orderId")?, v)),
            (Some(_), None) => {
                return Err(
                    AppError::bad_input("input.version", "name the version you saw").into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    AppError::bad_input("input.orderId", "a version goes with an orderId").into(),
                );
            }
            (None, None) => None,
        };
        // Authorised before the file is read.
        import::check_may_import(db, tenant, target.map(|(o, _)| o)).await?;
        let (_, bytes) = Files::read_upload(ctx, input.file, "input.file").await?;
        let done = import::import(db, tenant, files, bytes, target).await?;
        Ok(ImportDcsPayload {
            order: LensOrder::new(done.row, me),
            stored_as: done.stored_as,
            download_url: done.download_url,
            labels_read: done.labels_read,
        })
    }
}
