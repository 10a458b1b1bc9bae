//! DCS ("OMA") files into orders: a practice's tracer or practice system file becomes a
//! draft, or re-measures a draft; a lab's tracer file re-measures a job it holds (a frame
//! that was to come, traced at the lab). The file is read with the lossless parser, only
//! the labels ILS understands are taken, and the original is kept in the file store.

use super::LINK_TTL;
use crate::json::stored;
use crate::model::dcs_job::{DcsJob, FRAME_LABELS, read_text};
use crate::rx::FrameMeasure;
use crate::service::orders::{self, DraftJob};
use crate::service::patients::practice_tx;
use bytes::Bytes;
use ils_common::catalog::draft::FieldError;
use ils_entity::lens_order as order;
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, AppResult, Db, TenantContext};
use uuid::Uuid;

/// A DCS file read into ILS.
pub struct Imported {
    /// The order created or re-measured.
    pub row: order::Model,
    /// Where the uploaded file is kept in the file store.
    pub stored_as: String,
    /// A link to download the uploaded file.
    pub download_url: String,
    /// The labels ILS took from the file.
    pub labels_read: Vec<String>,
}

/// Whether the caller may import a file before it is read: a new draft (no `order_id`) is
/// a practice's; an order to re-measure must be one the caller is a party to.
pub async fn check_may_import(
    db: &Db,
    ctx: &TenantContext,
    order_id: Option<Uuid>,
) -> AppResult<()> {
    match order_id {
        Some(order_id) => {
            let tx = db.tenant(ctx).await?;
            tx.get::<order::Entity>(order_id).await?;
            tx.commit().await
        }
        None => {
            let (tx, _) = practice_tx(db, ctx).await?;
            tx.commit().await
        }
    }
}

/// Reads an uploaded DCS file into a new draft (no `target`) or new measurements for the
/// order and version in `target`, keeping the original in the file store. A malformed
/// file is BAD_USER_INPUT on `input.file`, naming the line; problems with the job are every one
/// reported, on `order`.
pub async fn import(
    db: &Db,
    ctx: &TenantContext,
    files: &Files,
    bytes: Vec<u8>,
    target: Option<(Uuid, i32)>,
) -> AppResult<Imported> {
    let me = require_member(ctx)?;
    let (text, mut job) = read_text(&bytes)?;
    let text = text.to_owned();
    if target.is_some() && job.frame.is_none() {
        return Err(AppError::bad_input(
            "input.file",
            "re-measuring needs the frame: its box (HBOX and VBOX) or a trace (TRCFMT)",
        ));
    }
    if target.is_none() && job.frame.as_ref().is_some_and(|f| f.dbl.is_none()) {
        // A draft's frame needs its bridge; the file's frame records are still kept.
        job.frame = None;
        job.labels_read
            .retain(|l| !FRAME_LABELS.contains(&l.as_str()));
    }

    // The original is kept before the order names it, and removed again if the order
    // is not written.
    let key = format!("dcs-imports/{me}/{}.oma", Uuid::now_v7());
    files.put(&key, Bytes::from(bytes)).await?;
    let written = write(db, ctx, &job, target, &key, text).await;
    let row = match written {
        Ok(Ok(row)) => row,
        failed => {
            if let Err(e) = files.delete(&key).await {
                tracing::warn!(error = %e, "an unused DCS upload could not be removed");
            }
            return match failed {
                Ok(Err(errors)) => Err(AppError::invalid("order", errors)),
                Err(e) => Err(e),
                Ok(Ok(_)) => unreachable!("handled above"),
            };
        }
    };
    Ok(Imported {
        download_url: files.link(&key, LINK_TTL)?,
        stored_as: key,
        labels_read: job.labels_read,
        row,
    })
}

/// The order a read file makes or re-measures; problems with the job, every one, as
/// `Ok(Err(_))`. A draft's input problems are reported on `input.file` (the file is the input).
/// A new draft keeps the file's text (`text`) for its DCS file, as does an order re-measured
/// that was not made from a file.
async fn write(
    db: &Db,
    ctx: &TenantContext,
    job: &DcsJob,
    target: Option<(Uuid, i32)>,
    key: &str,
    text: String,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    match target {
        None => {
            let input = DraftJob {
                patient_ref: Some(job.patient_ref.clone().unwrap_or_else(|| {
                    format!("DCS-{}", &Uuid::new_v4().simple().to_string()[..8])
                })),
                rx: job.rx.clone(),
                lens: job.lens.clone(),
                frame: job.frame.as_ref().and_then(|f| f.measure()),
                fit: job.fit.clone().unwrap_or_default(),
                external_ref: job.external_ref.clone(),
                eyes: Some(job.eyes),
                dcs_source: Some(text),
                ..DraftJob::default()
            };
            let note = Some(format!("from the DCS file {key}"));
            orders::draft(db, ctx, input, note)
                .await
                .map(Ok)
                .map_err(|e| match e {
                    AppError::BadUserInput { message, field } if field.starts_with("input.") => {
                        AppError::bad_input(
                            "input.file",
                            format!("{}: {message}", &field["input.".len()..]),
                        )
                    }
                    e => e,
                })
        }
        Some((order_id, version)) => {
            let reading = job
                .frame
                .clone()
                .ok_or_else(|| AppError::bad_input("input.file", "the file has no frame box"))?;
            // A file without the bridge keeps the order's.
            let frame = match reading.dbl {
                Some(_) => reading.measure(),
                None => {
                    let tx = db.tenant(ctx).await?;
                    let row = tx.get::<order::Entity>(order_id).await?;
                    tx.commit().await?;
                    let kept: Option<FrameMeasure> =
                        row.frame.as_deref().map(stored).transpose()?;
                    kept.map(|k| reading.with_dbl(k.dbl))
                }
            }
            .ok_or_else(|| {
                AppError::bad_input(
                    "input.file",
                    "the file has no DBL and the order no frame to take it from",
                )
            })?;
            let note = format!(
                "measurements from the DCS file {key} ({})",
                job.labels_read.join(", ")
            );
            let measured = orders::Measured {
                frame,
                fit: job.fit.clone(),
                note,
                source: Some(text),
            };
            orders::remeasure(db, ctx, order_id, version, measured).await
        }
    }
}
