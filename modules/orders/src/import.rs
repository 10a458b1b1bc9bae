//! DCS ("OMA") files into orders: a practice's tracer or practice system file becomes a
//! draft, or re-measures a draft; a lab's tracer file re-measures a job it holds (a frame
//! that was to come, traced at the lab). The file is read with the lossless parser, only
//! the labels ILS understands are taken, and the original is kept in the file store.

use crate::dcs::{self, DcsError, DcsFile};
use crate::orders::{DraftOrderInput, Fit, LensOrder, LensSpec, ORDER};
use crate::patients::practice_tx;
use crate::rx::{EyeFit, EyeRx, FrameMeasure, FrameTrace, Rx};
use async_graphql::{Context, ID, Object, Result, SimpleObject, Upload};
use bytes::Bytes;
use ils_common::catalog::draft::{LensDesign, LensTreatment};
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, AppResult, id, request_parts};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

/// How long a download link stays good.
pub const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What ILS takes from a DCS file.
#[derive(Debug, Default, PartialEq)]
pub struct DcsJob {
    pub patient_ref: Option<String>,
    pub rx: Option<Rx>,
    pub lens: Option<LensSpec>,
    pub frame: Option<FrameMeasure>,
    pub fit: Option<Fit>,
    /// The labels used, in the order first met in the file.
    pub labels_read: Vec<String>,
}

/// The 1-based line of a label's first record.
fn line_of(file: &DcsFile, label: &str) -> usize {
    file.records()
        .iter()
        .position(|r| r.label == label)
        .map_or(0, |i| i + 1)
}

/// A label that carries one value, or a right;left pair taken right first.
fn one(file: &DcsFile, label: &str) -> Result<Option<Decimal>, DcsError> {
    match file.get(label) {
        None => Ok(None),
        Some(v) if v.contains(';') => {
            let (r, l) = file.decimal_pair(label)?;
            Ok(r.or(l))
        }
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => dcs::parse_decimal(v.trim())
            .map(Some)
            .ok_or_else(|| DcsError {
                line: line_of(file, label),
                message: format!("{label}: {v:?} is not a decimal"),
            }),
    }
}

/// A per-eye text label, right side first.
fn text_of<'a>(file: &'a DcsFile, label: &str) -> Option<&'a str> {
    file.get_pair(label)
        .and_then(|(r, l)| r.or(l))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Reads what an order needs from a parsed file. Errors name the line of the label.
pub fn job_of(file: &DcsFile) -> Result<DcsJob, DcsError> {
    let mut job = DcsJob::default();
    let mut read = |label: &str| {
        if !job.labels_read.iter().any(|l| l == label) {
            job.labels_read.push(label.to_owned());
        }
    };
    let patient_ref = match file.get("CLIENT").map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            read("CLIENT");
            Some(c.to_owned())
        }
        None => file
            .get("JOB")
            .map(str::trim)
            .filter(|j| !j.is_empty())
            .map(|j| {
                read("JOB");
                j.to_owned()
            }),
    };

    // The prescription, when the file has spheres.
    let (sph_r, sph_l) = pair(file, "SPH")?;
    let rx = if sph_r.is_some() || sph_l.is_some() {
        // An ILS order is a pair of lenses; a one-eye job would leave the other at plano.
        if let Some(eyes) = file.get("DO").map(str::trim)
            && eyes != "B"
        {
            return Err(DcsError {
                line: line_of(file, "DO"),
                message: format!("DO={eyes}: ILS orders are for both eyes (DO=B)"),
            });
        }
        let (cyl_r, cyl_l) = pair(file, "CYL")?;
        let (ax_r, ax_l) = pair(file, "AX")?;
        let (add_r, add_l) = pair(file, "ADD")?;
        let (ipd_r, ipd_l) = pair(file, "IPD")?;
        let (npd_r, npd_l) = pair(file, "NPD")?;
        let axis = |v: Option<Decimal>| -> Result<Option<i32>, DcsError> {
            match v {
                None => Ok(None),
                Some(a) if a.fract().is_zero() && a.abs() <= Decimal::from(1000) => Ok(a.to_i32()),
                Some(a) => Err(DcsError {
                    line: line_of(file, "AX"),
                    message: format!("AX: {a} is not a whole number of degrees"),
                }),
            }
        };
        for label in ["SPH", "CYL", "AX", "ADD", "IPD", "NPD"] {
            if file.get(label).is_some() {
                read(label);
            }
        }
        let eye = |sph: Option<Decimal>,
                   cyl: Option<Decimal>,
                   ax: Option<i32>,
                   add: Option<Decimal>,
                   ipd: Option<Decimal>,
                   npd: Option<Decimal>| {
            // Practice systems write CYL=0 with AX=0 for a sphere: no cylinder, no axis.
            let cyl = cyl.filter(|c| !c.is_zero());
            EyeRx {
                sphere: sph.unwrap_or(Decimal::ZERO),
                axis: ax.filter(|_| cyl.is_some()),
                cylinder: cyl,
                add,
                distance_pd: ipd,
                near_pd: npd,
                ..EyeRx::default()
            }
        };
        Some(Rx {
            right: eye(sph_r, cyl_r, axis(ax_r)?, add_r, ipd_r, npd_r),
            left: eye(sph_l, cyl_l, axis(ax_l)?, add_l, ipd_l, npd_l),
            ..Rx::default()
        })
    } else {
        None
    };

    // The lens, when the file names one of ILS's designs and an index.
    let design = text_of(file, "LDNAM").and_then(LensDesign::parse);
    let index = one(file, "LIND")?;
    let lens = match (design, index) {
        (Some(design), Some(index)) => {
            read("LDNAM");
            read("LIND");
            let treatments: Vec<LensTreatment> = text_of(file, "ACOAT")
                .map(|c| {
                    c.split(',')
                        .filter_map(|t| LensTreatment::parse(t.trim()))
                        .collect()
                })
                .unwrap_or_default();
            if !treatments.is_empty() {
                read("ACOAT");
            }
            let tint = text_of(file, "TINT").map(str::to_owned);
            if tint.is_some() {
                read("TINT");
            }
            let product_code = text_of(file, "LNAM").map(str::to_owned);
            if product_code.is_some() {
                read("LNAM");
            }
            Some(LensSpec {
                design,
                index,
                treatments,
                tint,
                product_code,
            })
        }
        _ => None,
    };

    // The frame: its box, and the first trace.
    let (a, b, dbl) = (one(file, "HBOX")?, one(file, "VBOX")?, one(file, "DBL")?);
    let frame = match (a, b, dbl) {
        (Some(a), Some(b), Some(dbl)) => {
            let ed = one(file, "FED")?;
            for label in ["HBOX", "VBOX", "DBL"] {
                read(label);
            }
            if ed.is_some() {
                read("FED");
            }
            let trace = file.traces()?.into_iter().next().map(|t| {
                read("TRCFMT");
                read("R");
                FrameTrace {
                    side: t.side.to_string(),
                    format: t.format,
                    radii: t
                        .radii
                        .into_iter()
                        .map(|r| i32::try_from(r).unwrap_or(i32::MAX))
                        .collect(),
                }
            });
            Some(FrameMeasure {
                a,
                b,
                dbl,
                ed,
                trace,
            })
        }
        _ => {
            // A trace without a box is still checked, so a broken file is refused.
            file.traces()?;
            None
        }
    };

    // Fitting heights: segment height, else optical centre height.
    let mut fit = None;
    for label in ["SEGHT", "OCHT"] {
        let (r, l) = pair(file, label)?;
        if r.is_some() || l.is_some() {
            read(label);
            fit = Some(Fit {
                right: EyeFit { fitting_height: r },
                left: EyeFit { fitting_height: l },
            });
            break;
        }
    }
    job.patient_ref = patient_ref;
    job.rx = rx;
    job.lens = lens;
    job.frame = frame;
    job.fit = fit;
    Ok(job)
}

/// [`DcsFile::decimal_pair`], where a single value is the right eye's.
fn pair(file: &DcsFile, label: &str) -> Result<(Option<Decimal>, Option<Decimal>), DcsError> {
    match file.get(label) {
        Some(v) if !v.contains(';') => Ok((one(file, label)?, None)),
        _ => file.decimal_pair(label),
    }
}

/// A DCS file read into ILS.
#[derive(SimpleObject)]
pub struct DcsImport {
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
    /// (practices) it becomes a new draft: the patient reference (CLIENT, else JOB), the
    /// prescription, the lens (when LDNAM names an ILS design and LIND the index), the
    /// frame with its trace, and the fitting heights, as far as the file has them. With
    /// `orderId` and `version` it re-measures an order (frame and trace; fitting heights when
    /// given): your practice's own draft, or, for a lab, a job it holds (RECEIVED, ON_HOLD,
    /// IN_PRODUCTION), checked against the job, kept in its history and announced to the
    /// practice. A malformed file is BAD_USER_INPUT on `file`, naming the line.
    async fn import_dcs(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        order_id: Option<ID>,
        version: Option<i32>,
    ) -> Result<DcsImport> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        // Authorised before the file is read: a new draft is a practice's; an order to
        // re-measure must be one the caller is a party to.
        let target = match (&order_id, version) {
            (Some(o), Some(v)) => {
                let order_id = id::decode(ORDER, o, "orderId")?;
                let tx = db.tenant(tenant).await?;
                tx.get::<ils_entity::lens_order::Entity>(order_id).await?;
                tx.commit().await?;
                Some((order_id, v))
            }
            (Some(_), None) => {
                return Err(AppError::bad_input("version", "name the version you saw").into());
            }
            (None, Some(_)) => {
                return Err(
                    AppError::bad_input("orderId", "a version goes with an orderId").into(),
                );
            }
            (None, None) => {
                let (tx, _) = practice_tx(db, tenant).await?;
                tx.commit().await?;
                None
            }
        };
        let (_, bytes) = Files::read_upload(ctx, file, "file").await?;
        let job = read_file(&bytes)?;
        if target.is_some() && job.frame.is_none() {
            return Err(AppError::bad_input(
                "file",
                "re-measuring needs the frame's box: HBOX, VBOX and DBL",
            )
            .into());
        }

        // The original is kept before the order names it, and removed again if the order
        // is not written.
        let key = format!("dcs-imports/{me}/{}.oma", Uuid::now_v7());
        files.put(&key, Bytes::from(bytes)).await?;
        let written = write(db, tenant, &job, target, &key).await;
        let row = match written {
            Ok(Ok(row)) => row,
            failed => {
                if let Err(e) = files.delete(&key).await {
                    tracing::warn!(error = %e, "an unused DCS upload could not be removed");
                }
                return match failed {
                    Ok(Err(errors)) => Err(AppError::invalid("order", errors).into()),
                    Err(e) => Err(e.into()),
                    Ok(Ok(_)) => unreachable!("handled above"),
                };
            }
        };
        Ok(DcsImport {
            download_url: files.link(&key, LINK_TTL)?,
            stored_as: key,
            labels_read: job.labels_read,
            order: LensOrder { row, viewer: me },
        })
    }
}

/// The order a read file makes or re-measures; problems with the job, every one, as
/// `Ok(Err(_))`. A draft's input problems are reported on `file` (the file is the input).
async fn write(
    db: &ils_kernel::Db,
    tenant: &ils_kernel::TenantContext,
    job: &DcsJob,
    target: Option<(Uuid, i32)>,
    key: &str,
) -> AppResult<Result<ils_entity::lens_order::Model, Vec<ils_common::catalog::draft::FieldError>>> {
    match target {
        None => {
            let input = DraftOrderInput {
                patient_id: None,
                patient_ref: Some(job.patient_ref.clone().unwrap_or_else(|| {
                    format!("DCS-{}", &Uuid::new_v4().simple().to_string()[..8])
                })),
                share_patient_name: None,
                share_patient_birth_date: None,
                prescription_id: None,
                rx: job.rx.clone(),
                lens: job.lens.clone(),
                frame: job.frame.clone(),
                right: job.fit.as_ref().map(|f| f.right.clone()),
                left: job.fit.as_ref().map(|f| f.left.clone()),
                job_type: None,
                remake_of: None,
                remake_reason: None,
                requested_date: None,
                notes: None,
            };
            let note = Some(format!("from the DCS file {key}"));
            crate::orders::draft(db, tenant, input, note)
                .await
                .map(Ok)
                .map_err(|e| match e {
                    AppError::BadUserInput { message, field }
                        if field.first().is_some_and(|f| f == "input") =>
                    {
                        AppError::bad_input("file", format!("{}: {message}", field[1..].join(".")))
                    }
                    e => e,
                })
        }
        Some((order_id, version)) => {
            let frame = job
                .frame
                .clone()
                .ok_or_else(|| AppError::bad_input("file", "the file has no frame box"))?;
            let note = format!(
                "measurements from the DCS file {key} ({})",
                job.labels_read.join(", ")
            );
            crate::orders::remeasure(db, tenant, order_id, version, frame, job.fit.clone(), note)
                .await
        }
    }
}

/// A DCS upload as text, parsed and read; BAD_USER_INPUT on `file` otherwise.
pub fn read_file(bytes: &[u8]) -> AppResult<DcsJob> {
    if bytes.is_empty() {
        return Err(AppError::bad_input("file", "the file is empty"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AppError::bad_input("file", "a DCS file is text (UTF-8 or ASCII)"))?;
    let parsed = dcs::parse(text).map_err(|e| AppError::bad_input("file", e.to_string()))?;
    job_of(&parsed).map_err(|e| AppError::bad_input("file", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_full_job_reads_back() {
        let text = "JOB=ECP1042-0007\r\nDO=B\r\nCLIENT=REF7F3A\r\nLNAM=PAL-A;PAL-A\r\n\
                    SPH=-2.25;-1.75\r\nCYL=-0.75;-0.50\r\nAX=175;10\r\nADD=2.00;2.00\r\n\
                    IPD=31.50;32.00\r\nSEGHT=19.00;19.00\r\nHBOX=52.00;52.00\r\n\
                    VBOX=36.00;36.00\r\nDBL=18.00\r\nACOAT=ANTI_REFLECTIVE,AR1;ANTI_REFLECTIVE\r\n\
                    LDNAM=PROGRESSIVE;PROGRESSIVE\r\nLIND=1.60;1.60\r\n_VEN=keep\r\n";
        let job = read_file(text.as_bytes()).unwrap();
        assert_eq!(job.patient_ref.as_deref(), Some("REF7F3A"));
        let rx = job.rx.unwrap();
        assert_eq!(rx.right.sphere, d("-2.25"));
        assert_eq!(rx.left.axis, Some(10));
        assert_eq!(rx.right.axis, Some(175));
        assert_eq!(rx.left.distance_pd, Some(d("32.00")));
        let lens = job.lens.unwrap();
        assert_eq!(lens.design, LensDesign::Progressive);
        assert_eq!(lens.index, d("1.60"));
        assert_eq!(lens.treatments, [LensTreatment::AntiReflective]);
        assert_eq!(lens.product_code.as_deref(), Some("PAL-A"));
        let frame = job.frame.unwrap();
        assert_eq!((frame.a, frame.b, frame.dbl), (d("52"), d("36"), d("18")));
        assert_eq!(job.fit.unwrap().left.fitting_height, Some(d("19")));
        assert!(!job.labels_read.contains(&"_VEN".to_owned()));
        assert!(!job.labels_read.contains(&"DO".to_owned()));

        // A sphere written with CYL=0 and AX=0 has neither.
        let text = "DO=B\nSPH=-1.00;-1.25\nCYL=0.00;-0.50\nAX=0;90\n";
        let rx = read_file(text.as_bytes()).unwrap().rx.unwrap();
        assert_eq!((rx.right.cylinder, rx.right.axis), (None, None));
        assert_eq!(
            (rx.left.cylinder, rx.left.axis),
            (Some(d("-0.50")), Some(90))
        );
    }

    #[test]
    fn a_tracer_file_is_a_frame() {
        let text = "JOB=T1\nHBOX=50.10;50.10\nVBOX=32.00;32.00\nDBL=17.5\nFED=53.2;53.2\n\
                    TRCFMT=1;4;E;R;F\nR=2500;2400\nR=2300;2450\n";
        let job = read_file(text.as_bytes()).unwrap();
        assert_eq!(job.rx, None);
        assert_eq!(job.lens, None);
        assert_eq!(job.patient_ref.as_deref(), Some("T1"));
        let frame = job.frame.unwrap();
        assert_eq!(frame.ed, Some(d("53.2")));
        let trace = frame.trace.unwrap();
        assert_eq!((trace.side.as_str(), trace.format.as_str()), ("R", "1"));
        assert_eq!(trace.radii, [2500, 2400, 2300, 2450]);
        assert_eq!(
            job.labels_read,
            ["JOB", "HBOX", "VBOX", "DBL", "FED", "TRCFMT", "R"]
        );
    }

    #[test]
    fn broken_files_name_their_line() {
        for (text, line) in [
            ("JOB=1\nSPH=-1.00;x\n", "line 2"),
            ("JOB=1\nAX=90.5;10\nSPH=-1.00;-1.00\n", "line 2"),
            ("JOB=1\nHBOX=5O;50\n", "line 2"),
            ("JOB=1\nno equals\n", "line 2"),
            ("JOB=1\nDO=R\nSPH=-1.00;\n", "line 2"),
            ("JOB=1\nTRCFMT=1;3;E;R;F\nR=1;2\n", "line 2"),
        ] {
            let e = read_file(text.as_bytes()).unwrap_err();
            let AppError::BadUserInput { message, field } = e else {
                panic!("{text}: {e:?}")
            };
            assert_eq!(field, ["file"]);
            assert!(message.starts_with(line), "{text}: {message}");
        }
        assert!(read_file(b"").is_err());
        assert!(read_file(&[0xff, 0xfe, 0x00]).is_err());
    }
}
