//! An order's job and DCS ("OMA") files, both ways.
//!
//! Reading ([`job_of`]): the labels ILS understands are taken from a parsed file (a
//! practice's tracer or practice system file, a lab's tracer file) as the parts of a job:
//! the practice's job id (`JOB`), the patient reference (`CLIENT`, else `JOB`), which eyes
//! (`DO`), the prescription (`SPH`, `CYL`, `AX`, `ADD`, `PRVM`/`PRVA`, `IPD`, `NPD`), the
//! lens (`LDNAM`, `LIND`, `ACOAT`, `TINT`, `LNAM`), the frame (`HBOX`, `VBOX`, `DBL`,
//! `FED`, the first ASCII trace) and the fitting (`SEGHT`, `OCHT`). A file with a trace
//! but no box has its box computed from the trace.
//!
//! Writing ([`dcs_of`]): an order as the job file a lab's machines read. An order made
//! from a file keeps that file (`dcs_source`): its records are written back in their
//! order, verbatim (unknown and `_` vendor labels, repeated labels, every dataset: both
//! eyes' traces, thickness data, vendor encodings), and only what differs between the
//! order and what the file said is replaced, added or removed ([`overlay`]). Added only
//! when the file has none: `JOB` (the order's reference), and `HBOX`, `VBOX`, `CIRC`
//! computed from the file's traces. The files themselves are read and written losslessly
//! by `crate::dcs`.

use super::Fit;
use crate::dcs::{self, DcsError, DcsFile, LineEnding, Record};
use crate::json::stored;
use crate::lens::LensSpec;
use crate::rx::{EyeFit, EyeRx, FrameMeasure, FrameTrace, PrismBase, Rx, rx_minus_cyl};
use ils_common::catalog::draft::{LensDesign, LensTreatment};
use ils_entity::lens_order::{self as order, Eyes};
use ils_kernel::{AppError, AppResult};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// A frame as a file gives it: the box (from `HBOX`/`VBOX`, else computed from the
/// trace), and the bridge (`DBL`) when the file has one.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReading {
    pub a: Decimal,
    pub b: Decimal,
    pub dbl: Option<Decimal>,
    pub ed: Option<Decimal>,
    pub trace: Option<FrameTrace>,
    /// Whether A or B was computed from the trace (the file has no `HBOX` or `VBOX`).
    pub box_computed: bool,
}

impl FrameReading {
    /// The frame with the bridge `dbl`.
    pub fn with_dbl(&self, dbl: Decimal) -> FrameMeasure {
        FrameMeasure {
            a: self.a,
            b: self.b,
            dbl,
            ed: self.ed,
            trace: self.trace.clone(),
        }
    }

    /// The frame, when the file gives its bridge.
    pub fn measure(&self) -> Option<FrameMeasure> {
        self.dbl.map(|dbl| self.with_dbl(dbl))
    }
}

/// The labels of a frame, for [`DcsJob::labels_read`].
pub const FRAME_LABELS: [&str; 6] = ["HBOX", "VBOX", "DBL", "FED", "TRCFMT", "R"];

/// What ILS takes from a DCS file.
#[derive(Debug, PartialEq)]
pub struct DcsJob {
    pub patient_ref: Option<String>,
    /// The practice's own job id (`JOB`).
    pub external_ref: Option<String>,
    /// `DO`: B (or absent) is both eyes.
    pub eyes: Eyes,
    pub rx: Option<Rx>,
    pub lens: Option<LensSpec>,
    pub frame: Option<FrameReading>,
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

/// A trimmed, non-empty single value.
fn single<'a>(file: &'a DcsFile, label: &str) -> Option<&'a str> {
    file.get(label).map(str::trim).filter(|v| !v.is_empty())
}

/// Decimal millimetres from a float, to 0.01 mm.
fn mm(v: f64) -> Decimal {
    hundredths(v)
}

/// A float to 0.01 (halves away from zero), written with two decimals.
fn hundredths(v: f64) -> Decimal {
    (v * 100.0)
        .round()
        .to_i64()
        .map_or(Decimal::ZERO, |n| Decimal::new(n, 2))
}

/// One component of a prism: its amount in prism dioptres and its base.
pub type PrismPart = Option<(Decimal, PrismBase)>;

/// A prism given as an amount and a base angle (DCS `PRVM`/`PRVA`: degrees counter-
/// clockwise as the wearer is seen from the front, 0 towards the wearer's left, 90 up) as
/// ILS's horizontal and vertical components, each rounded to 0.01 prism dioptre; a
/// component that rounds to 0 is none. For the right eye 0 degrees is base IN (towards
/// the nose), for the left eye base OUT.
pub fn prism_components(
    amount: Decimal,
    angle: Decimal,
    right_eye: bool,
) -> (PrismPart, PrismPart) {
    let m = amount.to_f64().unwrap_or_default();
    let t = angle.to_f64().unwrap_or_default().to_radians();
    let (h, v) = (hundredths(m * t.cos()), hundredths(m * t.sin()));
    let horizontal = (!h.is_zero()).then(|| {
        let towards_left = h > Decimal::ZERO;
        let base = if towards_left == right_eye {
            PrismBase::In
        } else {
            PrismBase::Out
        };
        (h.abs(), base)
    });
    let vertical = (!v.is_zero()).then(|| {
        let base = if v > Decimal::ZERO {
            PrismBase::Up
        } else {
            PrismBase::Down
        };
        (v.abs(), base)
    });
    (horizontal, vertical)
}

/// An eye's prism as DCS `PRVM` and `PRVA` text (the inverse of [`prism_components`]);
/// `None` without a prism. A prism along one axis is its amount (0.01) at 0, 90, 180 or
/// 270 degrees; a combined one is the resultant to 0.001 at an angle to 0.01 degree,
/// which reads back to the same components.
pub fn prism_text(eye: &EyeRx, right_eye: bool) -> Option<(String, String)> {
    let signed = |amount: Option<Decimal>, base: Option<PrismBase>| {
        let amount = amount.filter(|a| !a.is_zero())?;
        let positive = match base? {
            PrismBase::Up => true,
            PrismBase::Down => false,
            PrismBase::In => right_eye,
            PrismBase::Out => !right_eye,
        };
        Some(if positive { amount } else { -amount })
    };
    let h = signed(eye.prism_horizontal, eye.prism_horizontal_base);
    let v = signed(eye.prism_vertical, eye.prism_vertical_base);
    match (h, v) {
        (None, None) => None,
        (Some(h), None) => Some((
            d2(h.abs()),
            if h > Decimal::ZERO { "0" } else { "180" }.into(),
        )),
        (None, Some(v)) => Some((
            d2(v.abs()),
            if v > Decimal::ZERO { "90" } else { "270" }.into(),
        )),
        (Some(h), Some(v)) => {
            let (x, y) = (
                h.to_f64().unwrap_or_default(),
                v.to_f64().unwrap_or_default(),
            );
            let m = Decimal::from_f64(x.hypot(y))
                .unwrap_or_default()
                .round_dp(3);
            let t = Decimal::from_f64(y.atan2(x).to_degrees().rem_euclid(360.0))
                .unwrap_or_default()
                .round_dp(2);
            let m = if m.round_dp(2) == m {
                d2(m)
            } else {
                m.normalize().to_string()
            };
            Some((m, t.normalize().to_string()))
        }
    }
}

/// Reads what an order needs from a parsed file. Errors name the line of the label.
pub fn job_of(file: &DcsFile) -> Result<DcsJob, DcsError> {
    let mut labels_read: Vec<String> = Vec::new();
    let mut read = |label: &str| {
        if !labels_read.iter().any(|l| l == label) {
            labels_read.push(label.to_owned());
        }
    };
    let external_ref = single(file, "JOB").map(str::to_owned);
    if external_ref.is_some() {
        read("JOB");
    }
    let patient_ref = match single(file, "CLIENT") {
        Some(c) => {
            read("CLIENT");
            Some(c.to_owned())
        }
        None => external_ref.clone(),
    };
    let eyes = match single(file, "DO") {
        None | Some("B") => Eyes::Both,
        Some("R") => Eyes::Right,
        Some("L") => Eyes::Left,
        Some(other) => {
            return Err(DcsError {
                line: line_of(file, "DO"),
                message: format!("DO={other}: expected B (both eyes), R or L"),
            });
        }
    };
    if file.get("DO").is_some() {
        read("DO");
    }

    // The prescription, when the file has spheres.
    let (sph_r, sph_l) = pair(file, "SPH")?;
    let rx = if sph_r.is_some() || sph_l.is_some() {
        let (cyl_r, cyl_l) = pair(file, "CYL")?;
        let (ax_r, ax_l) = pair(file, "AX")?;
        let (add_r, add_l) = pair(file, "ADD")?;
        let (ipd_r, ipd_l) = pair(file, "IPD")?;
        let (npd_r, npd_l) = pair(file, "NPD")?;
        let (prvm_r, prvm_l) = pair(file, "PRVM")?;
        let (prva_r, prva_l) = pair(file, "PRVA")?;
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
        let prism = |m: Option<Decimal>, a: Option<Decimal>, right: bool, side: &str| match (
            m.filter(|m| !m.is_zero()),
            a,
        ) {
            (None, _) => Ok((None, None)),
            (Some(m), Some(a))
                if m.abs() <= Decimal::from(100) && a.abs() <= Decimal::from(1000) =>
            {
                Ok(prism_components(m, a, right))
            }
            (Some(_), Some(a)) => Err(DcsError {
                line: line_of(file, "PRVA"),
                message: format!("PRVM/PRVA: the {side} prism ({a} degrees) is out of range"),
            }),
            (Some(_), None) => Err(DcsError {
                line: line_of(file, "PRVM"),
                message: format!("PRVM: the {side} prism has no base angle (PRVA)"),
            }),
        };
        for label in ["SPH", "CYL", "AX", "ADD", "PRVM", "PRVA", "IPD", "NPD"] {
            if file.get(label).is_some() {
                read(label);
            }
        }
        let eye = |sph: Option<Decimal>,
                   cyl: Option<Decimal>,
                   ax: Option<i32>,
                   add: Option<Decimal>,
                   (h, v): (PrismPart, PrismPart),
                   ipd: Option<Decimal>,
                   npd: Option<Decimal>| {
            // Practice systems write CYL=0 with AX=0 for a sphere: no cylinder, no axis.
            let cyl = cyl.filter(|c| !c.is_zero());
            EyeRx {
                sphere: sph.unwrap_or(Decimal::ZERO),
                axis: ax.filter(|_| cyl.is_some()),
                cylinder: cyl,
                add,
                prism_horizontal: h.map(|p| p.0),
                prism_horizontal_base: h.map(|p| p.1),
                prism_vertical: v.map(|p| p.0),
                prism_vertical_base: v.map(|p| p.1),
                distance_pd: ipd,
                near_pd: npd,
            }
        };
        let prism_r = prism(prvm_r, prva_r, true, "right")?;
        let prism_l = prism(prvm_l, prva_l, false, "left")?;
        Some(Rx {
            right: eye(sph_r, cyl_r, axis(ax_r)?, add_r, prism_r, ipd_r, npd_r),
            left: eye(sph_l, cyl_l, axis(ax_l)?, add_l, prism_l, ipd_l, npd_l),
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

    // The frame: its box (else the first trace's), bridge, ED and first ASCII trace.
    let (a, b, dbl, ed) = (
        one(file, "HBOX")?,
        one(file, "VBOX")?,
        one(file, "DBL")?,
        one(file, "FED")?,
    );
    let trace = file.traces()?.into_iter().next();
    let traced_box = trace
        .as_ref()
        .and_then(|t| dcs::trace_box(&t.radii))
        .map(|(w, h)| (mm(w), mm(h)));
    let frame = match (a.or(traced_box.map(|t| t.0)), b.or(traced_box.map(|t| t.1))) {
        (Some(fa), Some(fb)) => {
            for (label, given) in [
                ("HBOX", a.is_some()),
                ("VBOX", b.is_some()),
                ("DBL", dbl.is_some()),
                ("FED", ed.is_some()),
            ] {
                if given {
                    read(label);
                }
            }
            let trace = trace.map(|t| {
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
            Some(FrameReading {
                a: fa,
                b: fb,
                dbl,
                ed,
                trace,
                box_computed: a.is_none() || b.is_none(),
            })
        }
        _ => None,
    };

    // Fitting heights: the segment (fitting) height, and the optical centre height, which
    // is also the fitting height when the file gives no segment height.
    let (seg_r, seg_l) = pair(file, "SEGHT")?;
    let (oc_r, oc_l) = pair(file, "OCHT")?;
    for (label, given) in [
        ("SEGHT", seg_r.is_some() || seg_l.is_some()),
        ("OCHT", oc_r.is_some() || oc_l.is_some()),
    ] {
        if given {
            read(label);
        }
    }
    let fit = [seg_r, seg_l, oc_r, oc_l]
        .iter()
        .any(Option::is_some)
        .then(|| Fit {
            right: EyeFit {
                fitting_height: seg_r.or(oc_r),
                optical_centre_height: oc_r,
            },
            left: EyeFit {
                fitting_height: seg_l.or(oc_l),
                optical_centre_height: oc_l,
            },
        });
    Ok(DcsJob {
        patient_ref,
        external_ref,
        eyes,
        rx,
        lens,
        frame,
        fit,
        labels_read,
    })
}

/// [`DcsFile::decimal_pair`], where a single value is the right eye's.
fn pair(file: &DcsFile, label: &str) -> Result<(Option<Decimal>, Option<Decimal>), DcsError> {
    match file.get(label) {
        Some(v) if !v.contains(';') => Ok((one(file, label)?, None)),
        _ => file.decimal_pair(label),
    }
}

/// A DCS upload as text, parsed and read; BAD_USER_INPUT on `input.file` otherwise.
pub fn read_file(bytes: &[u8]) -> AppResult<DcsJob> {
    read_text(bytes).map(|(_, job)| job)
}

/// [`read_file`], with the file's text.
pub fn read_text(bytes: &[u8]) -> AppResult<(&str, DcsJob)> {
    if bytes.is_empty() {
        return Err(AppError::bad_input("input.file", "the file is empty"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AppError::bad_input("input.file", "a DCS file is text (UTF-8 or ASCII)"))?;
    let parsed = dcs::parse(text).map_err(|e| AppError::bad_input("input.file", e.to_string()))?;
    let job = job_of(&parsed).map_err(|e| AppError::bad_input("input.file", e.to_string()))?;
    Ok((text, job))
}

/// Two decimals, as DCS writes powers and millimetres.
fn d2(v: Decimal) -> String {
    format!("{:.2}", v.round_dp(2))
}

/// `text` as a DCS value: every control character (a line break would end the record, a
/// NUL or other control character is refused by readers) becomes a space, and `;` (which
/// separates the eyes of a per-eye record) a `,`. Inputs refuse these characters; this
/// keeps text stored before that from turning an export into an error.
pub fn dcs_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            ';' => ',',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// What an order's DCS file says: the parts of a job ILS writes.
#[derive(Debug, Clone, PartialEq)]
pub struct JobParts {
    /// `JOB`: the practice's reference, else the lab's job number, else the order number.
    pub job: String,
    /// `CLIENT`.
    pub patient_ref: String,
    /// `DO`.
    pub eyes: Eyes,
    /// The prescription in minus-cylinder form.
    pub rx: Option<Rx>,
    pub lens: Option<LensSpec>,
    pub frame: Option<FrameMeasure>,
    pub fit: Fit,
}

impl JobParts {
    /// The parts of a stored order, its texts made fit for a DCS record ([`dcs_text`]):
    /// a line break stored before inputs were refused it must not break the file.
    pub fn of_row(row: &order::Model) -> AppResult<JobParts> {
        let rx: Option<Rx> = stored(&row.rx_minus_cyl)?;
        let lens: Option<LensSpec> = stored(&row.lens)?;
        let lens = lens.map(|mut l| {
            l.tint = l.tint.as_deref().map(dcs_text);
            l.product_code = l.product_code.as_deref().map(dcs_text);
            l
        });
        Ok(JobParts {
            job: dcs_text(
                row.external_ref
                    .as_deref()
                    .or(row.lab_job_number.as_deref())
                    .unwrap_or(&row.order_number),
            ),
            patient_ref: dcs_text(&row.patient_ref),
            eyes: row.eyes,
            rx,
            lens,
            frame: row.frame.as_deref().map(stored).transpose()?,
            fit: stored(&row.fit)?,
        })
    }

    /// The parts of an order as a file read into it makes them (a draft's: what
    /// `importDcs` stores), with `order`'s job reference and patient reference where the
    /// file has none.
    pub fn of_job(job: &DcsJob, order: &JobParts) -> JobParts {
        JobParts {
            job: job
                .external_ref
                .clone()
                .unwrap_or_else(|| order.job.clone()),
            patient_ref: job
                .patient_ref
                .clone()
                .unwrap_or_else(|| order.patient_ref.clone()),
            eyes: job.eyes,
            rx: job.rx.as_ref().map(rx_minus_cyl),
            lens: job.lens.clone(),
            frame: job.frame.as_ref().and_then(FrameReading::measure),
            fit: job.fit.clone().unwrap_or_default(),
        }
    }
}

/// The labels [`records_of`] writes, apart from the trace.
pub const MODELLED_LABELS: [&str; 22] = [
    "JOB", "DO", "CLIENT", "LNAM", "SPH", "CYL", "AX", "ADD", "PRVM", "PRVA", "IPD", "NPD",
    "SEGHT", "OCHT", "HBOX", "VBOX", "DBL", "FED", "LIND", "LDNAM", "ACOAT", "TINT",
];

/// An order's job as DCS records, without a source file: the labels of
/// [`MODELLED_LABELS`] it has a value for, then the trace as a `TRCFMT` block. Per-eye
/// labels of a one-eye job leave the other side empty.
pub fn records_of(p: &JobParts) -> Result<Vec<Record>, DcsError> {
    let (right_on, left_on) = match p.eyes {
        Eyes::Both => (true, true),
        Eyes::Right => (true, false),
        Eyes::Left => (false, true),
    };
    let mut w = Writer {
        out: Vec::new(),
        right_on,
        left_on,
    };
    w.single("JOB", p.job.clone());
    let eyes = match p.eyes {
        Eyes::Both => "B",
        Eyes::Right => "R",
        Eyes::Left => "L",
    };
    w.single("DO", eyes.into());
    w.single("CLIENT", p.patient_ref.clone());
    let code = p.lens.as_ref().and_then(|l| l.product_code.clone());
    w.eyes("LNAM", code.clone(), code)?;
    if let Some(rx) = &p.rx {
        let (r, l) = (&rx.right, &rx.left);
        w.eyes("SPH", Some(d2(r.sphere)), Some(d2(l.sphere)))?;
        w.eyes("CYL", r.cylinder.map(d2), l.cylinder.map(d2))?;
        let axis = |e: &EyeRx| e.axis.map(|a| a.to_string());
        w.eyes("AX", axis(r), axis(l))?;
        w.eyes("ADD", r.add.map(d2), l.add.map(d2))?;
        let (pr, pl) = (prism_text(r, true), prism_text(l, false));
        let (mr, ml) = (
            pr.as_ref().map(|p| p.0.clone()),
            pl.as_ref().map(|p| p.0.clone()),
        );
        w.eyes("PRVM", mr, ml)?;
        w.eyes("PRVA", pr.map(|p| p.1), pl.map(|p| p.1))?;
        w.eyes("IPD", r.distance_pd.map(d2), l.distance_pd.map(d2))?;
        w.eyes("NPD", r.near_pd.map(d2), l.near_pd.map(d2))?;
    }
    // The segment height, unless it is the optical centre height (OCHT alone says both).
    let seg = |f: &EyeFit| {
        f.fitting_height
            .filter(|h| f.optical_centre_height != Some(*h))
            .map(d2)
    };
    w.eyes("SEGHT", seg(&p.fit.right), seg(&p.fit.left))?;
    let oc = |f: &EyeFit| f.optical_centre_height.map(d2);
    w.eyes("OCHT", oc(&p.fit.right), oc(&p.fit.left))?;
    if let Some(fr) = &p.frame {
        w.both("HBOX", Some(d2(fr.a)), Some(d2(fr.a)))?;
        w.both("VBOX", Some(d2(fr.b)), Some(d2(fr.b)))?;
        w.single("DBL", d2(fr.dbl));
        w.both("FED", fr.ed.map(d2), fr.ed.map(d2))?;
    }
    if let Some(lens) = &p.lens {
        let index = d2(lens.index);
        w.eyes("LIND", Some(index.clone()), Some(index))?;
        let design = lens.design.as_str().to_owned();
        w.eyes("LDNAM", Some(design.clone()), Some(design))?;
        if !lens.treatments.is_empty() {
            let coat: Vec<&str> = lens.treatments.iter().map(|t| t.as_str()).collect();
            let coat = coat.join(",");
            w.eyes("ACOAT", Some(coat.clone()), Some(coat))?;
        }
        w.eyes("TINT", lens.tint.clone(), lens.tint.clone())?;
    }
    w.out.extend(trace_records(p.frame.as_ref()));
    Ok(w.out)
}

/// Records written in order, per-eye ones masked to the job's eyes.
struct Writer {
    out: Vec<Record>,
    right_on: bool,
    left_on: bool,
}

impl Writer {
    fn single(&mut self, label: &str, value: String) {
        self.out.push(Record {
            label: label.to_owned(),
            value,
        });
    }

    /// `label=right;left` (an absent side empty), unless both are absent.
    fn both(&mut self, label: &str, r: Option<String>, l: Option<String>) -> Result<(), DcsError> {
        if r.is_none() && l.is_none() {
            return Ok(());
        }
        let (r, l) = (r.unwrap_or_default(), l.unwrap_or_default());
        if r.contains(';') || l.contains(';') {
            return Err(DcsError {
                line: self.out.len() + 1,
                message: format!("{label}: a side contains ';'"),
            });
        }
        self.single(label, format!("{r};{l}"));
        Ok(())
    }

    /// [`Writer::both`] with the side of an eye the job is not for left empty.
    fn eyes(&mut self, label: &str, r: Option<String>, l: Option<String>) -> Result<(), DcsError> {
        let (r, l) = (r.filter(|_| self.right_on), l.filter(|_| self.left_on));
        self.both(label, r, l)
    }
}

/// A frame's trace as a `TRCFMT` block: absolute radii, equally spaced, ten per `R=` line.
fn trace_records(frame: Option<&FrameMeasure>) -> Vec<Record> {
    let Some(trace) = frame.and_then(|fr| fr.trace.as_ref()) else {
        return Vec::new();
    };
    let mut out = vec![Record {
        label: "TRCFMT".into(),
        value: format!("{};{};E;{};F", trace.format, trace.radii.len(), trace.side),
    }];
    for chunk in trace.radii.chunks(10) {
        let line: Vec<String> = chunk.iter().map(i32::to_string).collect();
        out.push(Record {
            label: "R".into(),
            value: line.join(";"),
        });
    }
    out
}

/// The DCS text of an order (CR LF): the records of the file it was made from with the
/// order overlaid ([`overlay`], then [`add_missing`]), or, without such a file, the
/// order's own records ([`records_of`]).
pub fn dcs_of(row: &order::Model) -> AppResult<String> {
    let bad = |e: DcsError| AppError::internal(format!("dcs: {e}"));
    let parts = JobParts::of_row(row)?;
    let fresh = records_of(&parts).map_err(bad)?;
    // Empty is no file (a page leaves the column out as '': see `read::list`).
    let records = match row.dcs_source.as_deref().filter(|text| !text.is_empty()) {
        None => fresh,
        Some(text) => {
            let from_source = || -> Result<Vec<Record>, DcsError> {
                let source = dcs::parse(text)?;
                let job = job_of(&source)?;
                let baseline = records_of(&JobParts::of_job(&job, &parts))?;
                let mut records = overlay(&source, &baseline, &fresh)?;
                add_missing(&mut records, &parts.job)?;
                DcsFile::from_records(LineEnding::CrLf, records.clone())?;
                Ok(records)
            };
            // A stored file that no longer reads (it was checked when imported) costs its
            // verbatim records, not the export: the order's own records are written.
            from_source().unwrap_or_else(|e| {
                tracing::warn!(order = %row.id, error = %e, "the order's DCS source does not read; writing the order's own records");
                fresh
            })
        }
    };
    Ok(DcsFile::from_records(LineEnding::CrLf, records)
        .map_err(bad)?
        .write())
}

/// The first value of `label` among `records`.
fn first_value(records: &[Record], label: &str) -> Option<String> {
    records
        .iter()
        .find(|r| r.label == label)
        .map(|r| r.value.clone())
}

/// Where a record added to `records` goes: `JOB` first, anything else before the first
/// dataset (or at the end).
fn insertion_point(records: &[Record], label: &str) -> usize {
    if label == "JOB" {
        return 0;
    }
    records
        .iter()
        .position(|r| dcs::is_dataset_header(&r.label))
        .unwrap_or(records.len())
}

/// A source file's records with an order's changes: `baseline` is what the order said
/// when it was read from `source` ([`records_of`] of [`JobParts::of_job`]), `fresh` what
/// it says now. A label of [`MODELLED_LABELS`] whose value is the same in both keeps the
/// file's record(s) verbatim; one that changed has its first record's value replaced, is
/// added (before the first dataset) or removed. When the trace changed, the file's
/// `TRCFMT` datasets (both eyes) give way to the order's, where the first one was; other
/// datasets (thickness, …) and every other record stay as they are, in order.
pub fn overlay(
    source: &DcsFile,
    baseline: &[Record],
    fresh: &[Record],
) -> Result<Vec<Record>, DcsError> {
    let mut out: Vec<Record> = source.records().to_vec();
    for label in MODELLED_LABELS {
        let (was, now) = (first_value(baseline, label), first_value(fresh, label));
        if was == now {
            continue;
        }
        let at = out.iter().position(|r| r.label == label);
        match (at, now) {
            (Some(i), Some(value)) => out[i].value = value,
            (Some(i), None) => {
                out.remove(i);
            }
            (None, Some(value)) => {
                let i = insertion_point(&out, label);
                out.insert(
                    i,
                    Record {
                        label: label.to_owned(),
                        value,
                    },
                );
            }
            (None, None) => {}
        }
    }
    let trace_of = |records: &[Record]| -> Vec<Record> {
        records
            .iter()
            .skip_while(|r| r.label != "TRCFMT")
            .cloned()
            .collect()
    };
    let now = trace_of(fresh);
    if trace_of(baseline) != now {
        let file = DcsFile::from_records(LineEnding::Lf, out.clone())?;
        let traces: Vec<dcs::Dataset> = file
            .datasets()?
            .into_iter()
            .filter(|d| out[d.start].label == "TRCFMT")
            .collect();
        let at = traces.first().map_or(out.len(), |d| d.start);
        for d in traces.iter().rev() {
            out.drain(d.start..d.end);
        }
        out.splice(at..at, now);
    }
    Ok(out)
}

/// The records ILS adds to a file's when it has none: `JOB` (the order's `job`), and
/// `HBOX`, `VBOX` and `CIRC` computed per eye from the ASCII traces (the box of the traced
/// shape, the perimeter of its polygon; see [`dcs::trace_box`]), each before the first
/// dataset. A record the file has is never replaced.
pub fn add_missing(records: &mut Vec<Record>, job: &str) -> Result<(), DcsError> {
    if !records.iter().any(|r| r.label == "JOB") {
        records.insert(
            0,
            Record {
                label: "JOB".into(),
                value: job.to_owned(),
            },
        );
    }
    let traces = DcsFile::from_records(LineEnding::Lf, records.clone())?.traces()?;
    let right = traces.iter().find(|t| t.side != 'L');
    let left = traces.iter().find(|t| t.side != 'R');
    let per_eye = |f: &dyn Fn(&[u32]) -> Option<f64>| -> Option<String> {
        let value = |t: Option<&dcs::Trace>| t.and_then(|t| f(&t.radii)).map(|v| d2(mm(v)));
        let (r, l) = (value(right), value(left));
        (r.is_some() || l.is_some())
            .then(|| format!("{};{}", r.unwrap_or_default(), l.unwrap_or_default()))
    };
    let computed = [
        ("HBOX", per_eye(&|r| dcs::trace_box(r).map(|b| b.0))),
        ("VBOX", per_eye(&|r| dcs::trace_box(r).map(|b| b.1))),
        ("CIRC", per_eye(&dcs::trace_circumference)),
    ];
    for (label, value) in computed {
        if let Some(value) = value
            && !records.iter().any(|r| r.label == label)
        {
            let at = insertion_point(records, label);
            records.insert(
                at,
                Record {
                    label: label.to_owned(),
                    value,
                },
            );
        }
    }
    Ok(())
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
        assert_eq!(
            (frame.a, frame.b, frame.dbl),
            (d("52"), d("36"), Some(d("18")))
        );
        assert!(!frame.box_computed);
        assert_eq!(job.fit.unwrap().left.fitting_height, Some(d("19")));
        assert_eq!(job.external_ref.as_deref(), Some("ECP1042-0007"));
        assert_eq!(job.eyes, Eyes::Both);
        assert!(!job.labels_read.contains(&"_VEN".to_owned()));
        assert!(job.labels_read.contains(&"DO".to_owned()));

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
            ("JOB=1\nDO=X\nSPH=-1.00;\n", "line 2"),
            ("JOB=1\nSPH=-1.00;\nPRVM=1.00;\n", "line 3"),
            ("JOB=1\nTRCFMT=1;3;E;R;F\nR=1;2\n", "line 2"),
        ] {
            let e = read_file(text.as_bytes()).unwrap_err();
            let AppError::BadUserInput { message, field } = e else {
                panic!("{text}: {e:?}")
            };
            assert_eq!(field, "input.file");
            assert!(message.starts_with(line), "{text}: {message}");
        }
        assert!(read_file(b"").is_err());
        assert!(read_file(&[0xff, 0xfe, 0x00]).is_err());
    }

    // ---- the field corpus (tests/fixtures/dcs) ----

    /// Every file of the field corpus: (name, text).
    pub(crate) fn corpus() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/dcs/eeng-lens_protocol");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "oma"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        assert_eq!(files.len(), 10, "the field corpus has 10 files");
        files
    }

    #[test]
    fn stored_text_with_line_breaks_still_writes_a_file() {
        assert_eq!(dcs_text(" A\nB\r\0C;D\t"), "A B  C,D");
        let mut parts = order_parts();
        parts.patient_ref = dcs_text("DOE\nJANE");
        parts.job = dcs_text("LAB\r\n42");
        let records = records_of(&parts).unwrap();
        let text = DcsFile::from_records(LineEnding::CrLf, records)
            .unwrap()
            .write();
        assert!(text.contains("CLIENT=DOE JANE\r\n"), "{text}");
        assert!(text.starts_with("JOB=LAB  42\r\n"), "{text}");
        dcs::parse(&text).unwrap();
    }

    fn corpus_file(name: &str) -> String {
        corpus().into_iter().find(|(n, _)| n == name).unwrap().1
    }

    /// A stand-in for the order a file is read into (its references when the file has none).
    fn order_parts() -> JobParts {
        JobParts {
            job: "ORD-000001".into(),
            patient_ref: "DCS-1".into(),
            eyes: Eyes::Both,
            rx: None,
            lens: None,
            frame: None,
            fit: Fit::default(),
        }
    }

    /// What an unchanged order made from `text` writes: the file's records with ILS's
    /// additions, and the labels added.
    fn unchanged_export(text: &str) -> (Vec<Record>, Vec<Record>) {
        let source = dcs::parse(text).unwrap();
        let job = job_of(&source).unwrap();
        let mut parts = JobParts::of_job(&job, &order_parts());
        if job.frame.as_ref().is_some_and(|f| f.dbl.is_none()) {
            parts.frame = None; // a draft takes no frame without its bridge
        }
        let baseline = records_of(&JobParts::of_job(&job, &order_parts())).unwrap();
        let fresh = records_of(&parts).unwrap();
        let mut out = overlay(&source, &baseline, &fresh).unwrap();
        add_missing(&mut out, &parts.job).unwrap();
        let added: Vec<Record> = out
            .iter()
            .filter(|r| {
                ["JOB", "HBOX", "VBOX", "CIRC"].contains(&r.label.as_str())
                    && source.get(&r.label).is_none()
            })
            .cloned()
            .collect();
        (out, added)
    }

    #[test]
    fn every_corpus_file_is_read_and_written_back_record_for_record() {
        for (name, text) in corpus() {
            let source = dcs::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(source.write(), text, "{name}");
            read_file(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let (out, added) = unchanged_export(&text);
            let kept: Vec<&Record> = out.iter().filter(|r| !added.contains(r)).collect();
            let original: Vec<&Record> = source.records().iter().collect();
            assert_eq!(kept, original, "{name}");
            // What is added is only what the file lacks.
            for r in &added {
                assert!(source.get(&r.label).is_none(), "{name}: {r:?}");
            }
        }
    }

    #[test]
    fn hand_checked_corpus_values() {
        // R360_3.oma (SOURCES.md, "Hand-checked expected parse" 1).
        let job = read_file(corpus_file("R360_3.oma").as_bytes()).unwrap();
        assert_eq!(job.external_ref.as_deref(), Some("L424775600"));
        assert_eq!(job.eyes, Eyes::Both);
        let rx = job.rx.unwrap();
        assert_eq!(
            (
                rx.right.sphere,
                rx.right.cylinder,
                rx.right.axis,
                rx.right.add
            ),
            (d("-0.50"), Some(d("-1.25")), Some(140), Some(d("1.25")))
        );
        assert_eq!(
            (rx.left.sphere, rx.left.cylinder, rx.left.axis, rx.left.add),
            (d("0.50"), Some(d("-3.00")), Some(15), Some(d("1.25")))
        );
        assert_eq!(rx.right.distance_pd, Some(d("31.00")));
        assert_eq!(rx.right.near_pd, None);
        assert_eq!(rx.right.prism_horizontal, None); // no PRVM/PRVA in the file
        let fit = job.fit.unwrap();
        assert_eq!(fit.right.optical_centre_height, Some(d("16.00")));
        assert_eq!(fit.right.fitting_height, Some(d("16.00")));
        assert!(job.labels_read.contains(&"OCHT".to_owned()));
        assert!(!job.labels_read.contains(&"SEGHT".to_owned()));
        let frame = job.frame.unwrap();
        assert_eq!(
            (frame.a, frame.b, frame.dbl, frame.box_computed),
            (d("51.00"), d("44.01"), Some(d("20.00")), false)
        );
        let trace = frame.trace.unwrap();
        assert_eq!((trace.side.as_str(), trace.radii.len()), ("R", 360));
        assert_eq!(&trace.radii[..3], [2482, 2493, 2503]);
        assert_eq!(trace.radii.last(), Some(&2473));
        assert_eq!(job.lens, None); // LDNAM=NTBifocal_FH15 is no ILS design

        // STHKFMT.oma (2): the thickness datasets come first and are not the trace.
        let text = corpus_file("STHKFMT.oma");
        let file = dcs::parse(&text).unwrap();
        let sets = file.datasets().unwrap();
        let headers: Vec<(&str, usize)> = sets
            .iter()
            .map(|d| (file.records()[d.start].value.as_str(), d.start + 1))
            .collect();
        assert_eq!(
            headers,
            [
                ("1;72;E;R", 135),
                ("1;72;E;L", 152),
                ("1;360;E;R;F", 184),
                ("1;360;E;L;F", 221)
            ]
        );
        assert_eq!((sets[0].end, sets[1].end), (151, 168));
        let traces = file.traces().unwrap();
        assert_eq!(traces.len(), 2);
        assert_eq!(&traces[0].radii[..3], [2574, 2591, 2609]);
        assert_eq!(traces[0].radii.last(), Some(&2558));
        assert_eq!(&traces[1].radii[..3], [2655, 2667, 2678]);
        assert_eq!(traces[1].radii.last(), Some(&2644));
        let job = job_of(&file).unwrap();
        assert_eq!(job.external_ref.as_deref(), Some("L438942100"));
        let rx = job.rx.unwrap();
        assert_eq!((rx.right.sphere, rx.left.sphere), (d("2.50"), d("2.00")));
        assert_eq!((rx.right.axis, rx.left.axis), (Some(65), Some(135)));
        assert_eq!(
            (rx.right.distance_pd, rx.left.distance_pd),
            (Some(d("30.00")), Some(d("29.00")))
        );
        let frame = job.frame.unwrap();
        assert_eq!(
            (frame.a, frame.b, frame.dbl),
            (d("54.96"), d("39.01"), Some(d("19.00")))
        );
        assert_eq!(
            job.fit.unwrap().left.optical_centre_height,
            Some(d("22.00"))
        );

        // TRCFMT6.oma (3): a vendor trace encoding, both heights.
        let job = read_file(corpus_file("TRCFMT6.oma").as_bytes()).unwrap();
        assert_eq!((job.external_ref, job.patient_ref), (None, None));
        assert_eq!(job.rx, None); // IPD and NPD, but no spheres
        let frame = job.frame.unwrap();
        assert_eq!(
            (frame.a, frame.b, frame.dbl, frame.ed),
            (d("53.99"), d("36.00"), Some(d("17.00")), Some(d("57.18")))
        );
        assert_eq!(frame.trace, None); // format 6 is kept, not decoded
        let fit = job.fit.unwrap();
        assert_eq!(
            (fit.right.fitting_height, fit.right.optical_centre_height),
            (Some(d("22.00")), Some(d("22.00")))
        );

        // R1000_3.oma (4): pattern traces, no box: the box is computed.
        let job = read_file(corpus_file("R1000_3.oma").as_bytes()).unwrap();
        assert_eq!((job.external_ref, job.rx, job.fit), (None, None, None));
        let frame = job.frame.unwrap();
        assert!(frame.box_computed);
        assert_eq!(frame.dbl, Some(d("19")));
        let trace = frame.trace.unwrap();
        assert_eq!(trace.radii.len(), 1000);
        assert_eq!(&trace.radii[..3], [2360, 2362, 2365]);
        assert_eq!(trace.radii.last(), Some(&2357));
        assert!(!job.labels_read.contains(&"HBOX".to_owned()));
    }

    #[test]
    fn the_computed_box_matches_the_files_that_have_one() {
        for name in ["R360_3.oma", "STHKFMT.oma"] {
            let file = dcs::parse(&corpus_file(name)).unwrap();
            let (a, b) = (
                one(&file, "HBOX").unwrap().unwrap(),
                one(&file, "VBOX").unwrap().unwrap(),
            );
            let circ = one(&file, "CIRC").unwrap().unwrap();
            for trace in file.traces().unwrap() {
                let (w, h) = dcs::trace_box(&trace.radii).unwrap();
                let c = dcs::trace_circumference(&trace.radii).unwrap();
                assert_eq!((mm(w), mm(h)), (a, b), "{name} {}", trace.side);
                let off = (Decimal::from_f64(c).unwrap() - circ).abs();
                assert!(off < d("0.005"), "{name}: CIRC {circ}, computed {c}");
            }
        }
        // A file without a box has it added, per eye, from its traces.
        let (out, added) = unchanged_export(&corpus_file("R360_2.oma"));
        let labels: Vec<&str> = added.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["HBOX", "VBOX", "CIRC"]);
        assert_eq!(out[1].label, "HBOX", "the box goes before the first trace");
        // The R1000 files carry their own CIRC: it is never replaced.
        let (out, added) = unchanged_export(&corpus_file("R1000_1.oma"));
        let labels: Vec<&str> = added.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["JOB", "HBOX", "VBOX"]);
        assert_eq!(first_value(&out, "CIRC").as_deref(), Some("150.85"));
        assert_eq!(first_value(&out, "JOB").as_deref(), Some("ORD-000001"));
    }

    // ---- prism, heights, one eye ----

    #[test]
    fn prism_from_amount_and_angle() {
        use PrismBase::*;
        let c = |m: &str, a: &str, right: bool| prism_components(d(m), d(a), right);
        assert_eq!(c("2", "0", true), (Some((d("2"), In)), None));
        assert_eq!(c("2", "0", false), (Some((d("2"), Out)), None));
        assert_eq!(c("2", "180", true), (Some((d("2"), Out)), None));
        assert_eq!(c("1.5", "90", true), (None, Some((d("1.5"), Up))));
        assert_eq!(c("1.5", "270", false), (None, Some((d("1.5"), Down))));
        assert_eq!(c("0.12", "270", true), (None, Some((d("0.12"), Down))));
        // RPRVM/RPRVA-like values from the field: 1.19 at 119 degrees.
        assert_eq!(
            c("1.19", "119", true),
            (Some((d("0.58"), Out)), Some((d("1.04"), Up)))
        );
        let eye = |h: Option<(&str, PrismBase)>, v: Option<(&str, PrismBase)>| EyeRx {
            prism_horizontal: h.map(|p| d(p.0)),
            prism_horizontal_base: h.map(|p| p.1),
            prism_vertical: v.map(|p| d(p.0)),
            prism_vertical_base: v.map(|p| p.1),
            ..EyeRx::default()
        };
        let text = |e: &EyeRx, right| prism_text(e, right).map(|(m, a)| format!("{m}@{a}"));
        assert_eq!(text(&eye(None, None), true), None);
        assert_eq!(
            text(&eye(Some(("1.50", In)), None), true).as_deref(),
            Some("1.50@0")
        );
        assert_eq!(
            text(&eye(Some(("1.50", In)), None), false).as_deref(),
            Some("1.50@180")
        );
        assert_eq!(
            text(&eye(None, Some(("0.75", Down))), true).as_deref(),
            Some("0.75@270")
        );
        assert_eq!(
            text(&eye(Some(("3", Out)), Some(("4", Up))), true).as_deref(),
            Some("5.00@126.87")
        );
        // Every prism on ILS's grid (0.25 to 10 each way, both bases, both eyes) reads
        // back exactly from the text written for it.
        let amounts: Vec<Option<Decimal>> = std::iter::once(None)
            .chain((1..=40).map(|q| Some(Decimal::new(q * 25, 2))))
            .collect();
        for right in [true, false] {
            for h in &amounts {
                for v in &amounts {
                    for (hb, vb) in [(In, Up), (Out, Down), (In, Down), (Out, Up)] {
                        let e = EyeRx {
                            prism_horizontal: *h,
                            prism_horizontal_base: h.map(|_| hb),
                            prism_vertical: *v,
                            prism_vertical_base: v.map(|_| vb),
                            ..EyeRx::default()
                        };
                        let Some((m, a)) = prism_text(&e, right) else {
                            assert!(h.is_none() && v.is_none());
                            continue;
                        };
                        let (gh, gv) = prism_components(d(&m), d(&a), right);
                        assert_eq!(gh, h.map(|x| (x, hb)), "{m}@{a}");
                        assert_eq!(gv, v.map(|x| (x, vb)), "{m}@{a}");
                    }
                }
            }
        }
    }

    #[test]
    fn prism_reads_from_prvm_prva_and_keeps_the_files_text() {
        let text = "JOB=P1\nDO=B\nSPH=-1.00;-1.00\nPRVM=1.19;2.00\nPRVA=119;270\n_X=1\n";
        let job = read_file(text.as_bytes()).unwrap();
        let rx = job.rx.clone().unwrap();
        assert_eq!(
            (rx.right.prism_horizontal, rx.right.prism_horizontal_base),
            (Some(d("0.58")), Some(PrismBase::Out))
        );
        assert_eq!(
            (rx.left.prism_vertical, rx.left.prism_vertical_base),
            (Some(d("2.00")), Some(PrismBase::Down))
        );
        // Unchanged, the file's own PRVM/PRVA text is written back.
        let (out, added) = unchanged_export(text);
        assert!(added.is_empty());
        assert_eq!(out, dcs::parse(text).unwrap().records());
        // Changed, the new prism replaces it in place.
        let source = dcs::parse(text).unwrap();
        let mut parts = JobParts::of_job(&job, &order_parts());
        let baseline = records_of(&parts).unwrap();
        if let Some(rx) = parts.rx.as_mut() {
            rx.right.prism_horizontal = Some(d("1.00"));
            rx.right.prism_horizontal_base = Some(PrismBase::In);
            rx.right.prism_vertical = None;
            rx.right.prism_vertical_base = None;
        }
        let out = overlay(&source, &baseline, &records_of(&parts).unwrap()).unwrap();
        assert_eq!(first_value(&out, "PRVM").as_deref(), Some("1.00;2.00"));
        assert_eq!(first_value(&out, "PRVA").as_deref(), Some("0;270"));
        assert_eq!(out.len(), source.records().len());
    }

    #[test]
    fn segment_and_optical_centre_heights_stay_apart() {
        let text = "JOB=H1\nSEGHT=18.00;19.00\nOCHT=22.00;22.00\n";
        let fit = read_file(text.as_bytes()).unwrap().fit.unwrap();
        assert_eq!(fit.right.fitting_height, Some(d("18")));
        assert_eq!(fit.left.fitting_height, Some(d("19")));
        assert_eq!(fit.right.optical_centre_height, Some(d("22")));
        let parts = JobParts {
            fit: fit.clone(),
            ..order_parts()
        };
        let out = records_of(&parts).unwrap();
        assert_eq!(first_value(&out, "SEGHT").as_deref(), Some("18.00;19.00"));
        assert_eq!(first_value(&out, "OCHT").as_deref(), Some("22.00;22.00"));
        // OCHT alone is the fitting height too, and is written back as OCHT only.
        let fit = read_file(b"OCHT=16.00;16.00\n").unwrap().fit.unwrap();
        assert_eq!(fit.left.fitting_height, Some(d("16")));
        let out = records_of(&JobParts {
            fit,
            ..order_parts()
        })
        .unwrap();
        assert_eq!(first_value(&out, "SEGHT"), None);
        assert_eq!(first_value(&out, "OCHT").as_deref(), Some("16.00;16.00"));
    }

    #[test]
    fn one_eye_jobs_are_read_and_written() {
        let text = "JOB=R1\nDO=R\nSPH=-1.00;\nCYL=-0.50;\nAX=90;\nIPD=31.00;\n";
        let job = read_file(text.as_bytes()).unwrap();
        assert_eq!(job.eyes, Eyes::Right);
        let rx = job.rx.clone().unwrap();
        assert_eq!((rx.right.sphere, rx.right.axis), (d("-1.00"), Some(90)));
        assert_eq!(rx.left, EyeRx::default());
        let out = records_of(&JobParts::of_job(&job, &order_parts())).unwrap();
        assert_eq!(first_value(&out, "DO").as_deref(), Some("R"));
        assert_eq!(first_value(&out, "SPH").as_deref(), Some("-1.00;"));
        let job = read_file(b"DO=L\nSPH=;+2.00\n").unwrap();
        assert_eq!(job.eyes, Eyes::Left);
        let out = records_of(&JobParts::of_job(&job, &order_parts())).unwrap();
        assert_eq!(first_value(&out, "SPH").as_deref(), Some(";2.00"));
        assert_eq!(first_value(&out, "DO").as_deref(), Some("L"));
    }

    #[test]
    fn an_order_changed_after_import_changes_only_its_records() {
        let text = corpus_file("R360_3.oma");
        let source = dcs::parse(&text).unwrap();
        let job = job_of(&source).unwrap();
        let base = JobParts::of_job(&job, &order_parts());
        let baseline = records_of(&base).unwrap();
        let mut parts = base.clone();
        if let Some(rx) = parts.rx.as_mut() {
            rx.right.sphere = d("-0.75");
        }
        parts.fit.left.optical_centre_height = None;
        parts.fit.left.fitting_height = Some(d("17.00"));
        parts.job = "MY-JOB".into();
        let out = overlay(&source, &baseline, &records_of(&parts).unwrap()).unwrap();
        assert_eq!(first_value(&out, "SPH").as_deref(), Some("-0.75;0.50"));
        assert_eq!(first_value(&out, "OCHT").as_deref(), Some("16.00;"));
        assert_eq!(first_value(&out, "SEGHT").as_deref(), Some(";17.00"));
        assert_eq!(first_value(&out, "JOB").as_deref(), Some("MY-JOB"));
        assert_eq!(out.len(), source.records().len() + 1);
        // A new trace replaces both eyes' TRCFMT datasets, where the first one was.
        let mut frame = parts.frame.clone().unwrap();
        frame.trace = Some(FrameTrace {
            side: "B".into(),
            format: "1".into(),
            radii: vec![2500; 4],
        });
        parts.frame = Some(frame);
        let out = overlay(&source, &baseline, &records_of(&parts).unwrap()).unwrap();
        let file = DcsFile::from_records(LineEnding::Lf, out.clone()).unwrap();
        let traces = file.traces().unwrap();
        assert_eq!(traces.len(), 1);
        assert_eq!((traces[0].side, traces[0].radii.len()), ('B', 4));
        let at = out.iter().position(|r| r.label == "TRCFMT").unwrap();
        assert_eq!(out[at - 1].label, "SEGHT", "added before the first dataset");
        assert_eq!(out[at - 2].label, "TPERR");
        assert_eq!(out[at + 2].label, "UNI");
    }

    // ---- export then import ----

    fn grid(lo: i64, hi: i64, step: i64, scale: u32) -> impl Strategy<Value = Decimal> {
        (0..=(hi - lo) / step).prop_map(move |i| Decimal::new(lo + i * step, scale))
    }

    fn prism_part(bases: [PrismBase; 2]) -> impl Strategy<Value = Option<(Decimal, PrismBase)>> {
        prop::option::of((grid(25, 1000, 25, 2), prop::sample::select(bases.to_vec())))
    }

    fn eye_rx() -> impl Strategy<Value = EyeRx> {
        (
            grid(-2000, 2000, 25, 2),
            prop::option::of((grid(-1000, -25, 25, 2), 1i32..=180)),
            prop::option::of(grid(75, 400, 25, 2)),
            prism_part([PrismBase::In, PrismBase::Out]),
            prism_part([PrismBase::Up, PrismBase::Down]),
            prop::option::of(grid(200, 400, 5, 1)),
            prop::option::of(grid(200, 400, 5, 1)),
        )
            .prop_map(|(sphere, cyl, add, h, v, distance_pd, near_pd)| EyeRx {
                sphere,
                cylinder: cyl.map(|c| c.0),
                axis: cyl.map(|c| c.1),
                add,
                prism_horizontal: h.map(|p| p.0),
                prism_horizontal_base: h.map(|p| p.1),
                prism_vertical: v.map(|p| p.0),
                prism_vertical_base: v.map(|p| p.1),
                distance_pd,
                near_pd,
            })
    }

    fn eye_fit() -> impl Strategy<Value = EyeFit> {
        prop::option::of((
            grid(1000, 4000, 1, 2),
            prop::option::of(grid(1000, 4000, 1, 2)),
        ))
        .prop_map(|h| EyeFit {
            fitting_height: h.map(|h| h.0),
            optical_centre_height: h.and_then(|h| h.1),
        })
    }

    fn lens() -> impl Strategy<Value = LensSpec> {
        let text = || prop::option::of("[A-Z0-9]([A-Z0-9 ._-]{0,10}[A-Z0-9])?");
        (
            prop::sample::select(LensDesign::ALL.to_vec()),
            prop::sample::select(super::super::job::INDICES.to_vec()),
            prop::sample::subsequence(LensTreatment::ALL.to_vec(), 0..=LensTreatment::ALL.len()),
            text(),
            text(),
        )
            .prop_map(|(design, index, treatments, tint, product_code)| LensSpec {
                design,
                index: d(index),
                treatments,
                tint,
                product_code,
            })
    }

    fn frame() -> impl Strategy<Value = FrameMeasure> {
        (
            grid(3000, 7000, 1, 2),
            grid(1500, 6000, 1, 2),
            grid(1000, 3000, 1, 2),
            prop::option::of(grid(0, 1500, 1, 2)),
            prop::option::of((
                prop::sample::select(vec!["R", "L", "B"]),
                prop::collection::vec(1i32..=10_000, 1..60),
            )),
        )
            .prop_map(|(a, b, dbl, ed, trace)| FrameMeasure {
                a,
                b,
                dbl,
                ed: ed.map(|e| a + e),
                trace: trace.map(|(side, radii)| FrameTrace {
                    side: side.into(),
                    format: "1".into(),
                    radii,
                }),
            })
    }

    /// The parts of a valid order a DCS file carries. What DCS has no label for (the
    /// binocular PDs, the Rx's dates and prescriber) is left out; a one-eye job's other
    /// eye is empty; an optical centre height comes with a fitting height (a file's
    /// OCHT alone is read as both).
    fn job_parts() -> impl Strategy<Value = JobParts> {
        (
            "[A-Z0-9][A-Z0-9-]{0,15}",
            "[A-Z0-9][A-Z0-9-]{0,15}",
            prop::sample::select(vec![Eyes::Both, Eyes::Right, Eyes::Left]),
            prop::option::of((eye_rx(), eye_rx())),
            prop::option::of(lens()),
            prop::option::of(frame()),
            (eye_fit(), eye_fit()),
        )
            .prop_map(|(job, patient_ref, eyes, rx, lens, frame, (fr, fl))| {
                let (keep_right, keep_left) = (eyes != Eyes::Left, eyes != Eyes::Right);
                let rx = rx.map(|(r, l)| Rx {
                    right: if keep_right { r } else { EyeRx::default() },
                    left: if keep_left { l } else { EyeRx::default() },
                    ..Rx::default()
                });
                let fit = Fit {
                    right: if keep_right { fr } else { EyeFit::default() },
                    left: if keep_left { fl } else { EyeFit::default() },
                };
                JobParts {
                    job,
                    patient_ref,
                    eyes,
                    rx,
                    lens,
                    frame,
                    fit,
                }
            })
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn export_then_import_gives_the_same_order(parts in job_parts()) {
            let records = records_of(&parts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let text = DcsFile::from_records(LineEnding::CrLf, records).unwrap().write();
            let job = read_file(text.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
            let other = JobParts { job: "X".into(), patient_ref: "Y".into(), ..order_parts() };
            prop_assert_eq!(JobParts::of_job(&job, &other), parts, "{}", text);
        }
    }
}
