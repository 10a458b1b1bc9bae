//! An order as a DCS ("OMA") job file: what a lab's machines read. Built from the order's
//! minus-cylinder prescription, lens, frame and fitting, written by the lossless DCS
//! writer, and kept in the file store beside the order.

use crate::dcs::{DcsFile, LineEnding};
use crate::json::stored;
use crate::orders::{Fit, LensSpec, ORDER};
use crate::rx::{EyeRx, FrameMeasure, Rx};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use bytes::Bytes;
use ils_entity::lens_order as order;
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, AppResult, id, request_parts};
use rust_decimal::Decimal;

/// A DCS job file.
#[derive(SimpleObject)]
pub struct DcsJobFile {
    pub file_name: String,
    /// The file's text (`LABEL=value` lines, right;left pairs).
    pub content: String,
    /// Where the file is kept in the file store.
    pub stored_as: String,
    /// A link to download the file (good for 15 minutes, no login needed).
    pub download_url: String,
}

/// Two decimals, as DCS writes powers and millimetres.
fn d2(v: Decimal) -> String {
    format!("{:.2}", v.round_dp(2))
}

/// The DCS text of an order.
pub fn dcs_of(row: &order::Model) -> AppResult<String> {
    let rx: Rx = stored::<Option<Rx>>(&row.rx_minus_cyl)?.unwrap_or_default();
    let lens: Option<LensSpec> = stored(&row.lens)?;
    let fit: Fit = stored(&row.fit)?;
    let frame: Option<FrameMeasure> = row.frame.as_deref().map(stored).transpose()?;
    let mut f = DcsFile::new(LineEnding::CrLf);
    let bad = |e: crate::dcs::DcsError| AppError::internal(format!("dcs: {e}"));
    let job = row.lab_job_number.as_deref().unwrap_or(&row.order_number);
    f.set("JOB", job).map_err(bad)?;
    f.set("DO", "B").map_err(bad)?;
    f.set("CLIENT", &row.patient_ref).map_err(bad)?;
    let has_rx = row.rx_minus_cyl != "null";
    let pair = |f: &mut DcsFile, label: &str, get: &dyn Fn(&EyeRx) -> Option<String>| {
        if !has_rx {
            return Ok(());
        }
        let (r, l) = (get(&rx.right), get(&rx.left));
        if r.is_some() || l.is_some() {
            f.set_pair(label, r.as_deref(), l.as_deref()).map_err(bad)?;
        }
        Ok::<_, AppError>(())
    };
    if let Some(code) = lens.as_ref().and_then(|l| l.product_code.as_ref()) {
        f.set_pair("LNAM", Some(code), Some(code)).map_err(bad)?;
    }
    pair(&mut f, "SPH", &|e| Some(d2(e.sphere)))?;
    pair(&mut f, "CYL", &|e| e.cylinder.map(d2))?;
    pair(&mut f, "AX", &|e| e.axis.map(|a| a.to_string()))?;
    pair(&mut f, "ADD", &|e| e.add.map(d2))?;
    pair(&mut f, "IPD", &|e| e.distance_pd.map(d2))?;
    pair(&mut f, "NPD", &|e| e.near_pd.map(d2))?;
    let (r, l) = (
        fit.right.fitting_height.map(d2),
        fit.left.fitting_height.map(d2),
    );
    if r.is_some() || l.is_some() {
        f.set_pair("SEGHT", r.as_deref(), l.as_deref())
            .map_err(bad)?;
    }
    if let Some(fr) = &frame {
        f.set_pair("HBOX", Some(&d2(fr.a)), Some(&d2(fr.a)))
            .map_err(bad)?;
        f.set_pair("VBOX", Some(&d2(fr.b)), Some(&d2(fr.b)))
            .map_err(bad)?;
        f.set("DBL", &d2(fr.dbl)).map_err(bad)?;
        if let Some(ed) = fr.ed {
            f.set_pair("FED", Some(&d2(ed)), Some(&d2(ed)))
                .map_err(bad)?;
        }
    }
    let Some(lens) = lens else {
        write_trace(&mut f, frame.as_ref()).map_err(bad)?;
        return Ok(f.write());
    };
    let index = d2(lens.index);
    f.set_pair("LIND", Some(&index), Some(&index))
        .map_err(bad)?;
    f.set_pair(
        "LDNAM",
        Some(lens.design.as_str()),
        Some(lens.design.as_str()),
    )
    .map_err(bad)?;
    if !lens.treatments.is_empty() {
        let coat: Vec<&str> = lens.treatments.iter().map(|t| t.as_str()).collect();
        let coat = coat.join(",");
        f.set_pair("ACOAT", Some(&coat), Some(&coat)).map_err(bad)?;
    }
    if let Some(t) = &lens.tint {
        f.set_pair("TINT", Some(t), Some(t)).map_err(bad)?;
    }
    write_trace(&mut f, frame.as_ref()).map_err(bad)?;
    Ok(f.write())
}

/// A frame's trace as a `TRCFMT` block: absolute radii, equally spaced, ten per `R=` line.
fn write_trace(f: &mut DcsFile, frame: Option<&FrameMeasure>) -> Result<(), crate::dcs::DcsError> {
    let Some(trace) = frame.and_then(|fr| fr.trace.as_ref()) else {
        return Ok(());
    };
    f.push(
        "TRCFMT",
        &format!("{};{};E;{};F", trace.format, trace.radii.len(), trace.side),
    )?;
    for chunk in trace.radii.chunks(10) {
        let line: Vec<String> = chunk.iter().map(i32::to_string).collect();
        f.push("R", &line.join(";"))?;
    }
    Ok(())
}

#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// An order as a DCS (OMA) job file, for either party; also kept in the file store.
    /// NOT_FOUND for an order you are not a party to.
    async fn order_dcs(&self, ctx: &Context<'_>, id: ID) -> Result<DcsJobFile> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let tx = db.tenant(tenant).await?;
        let row = tx.get::<order::Entity>(order_id).await?;
        crate::orders::audit_identified(
            &tx,
            tenant,
            &ctx.data::<ils_kernel::ClientInfo>()
                .cloned()
                .unwrap_or_default(),
            std::iter::once(&row),
        )
        .await?;
        tx.commit().await?;
        let content = dcs_of(&row)?;
        let file_name = format!("{}.oma", row.order_number);
        let key = format!("orders/{}/{}/{file_name}", row.company_id, row.id);
        files.put(&key, Bytes::from(content.clone())).await?;
        Ok(DcsJobFile {
            file_name,
            content,
            download_url: files.link(&key, crate::import::LINK_TTL)?,
            stored_as: key,
        })
    }
}
