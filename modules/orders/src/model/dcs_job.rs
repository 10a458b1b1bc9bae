//! An order's job and DCS ("OMA") files, both ways. Reading: the labels ILS understands
//! are taken from a parsed file (a practice's tracer or practice system file, a lab's
//! tracer file) as the parts of a job. Writing: an order as the job file a lab's machines
//! read, from its minus-cylinder prescription, lens, frame and fitting. The files
//! themselves are read and written losslessly by `crate::dcs`.

use super::Fit;
use crate::dcs::{self, DcsError, DcsFile, LineEnding};
use crate::json::stored;
use crate::lens::LensSpec;
use crate::rx::{EyeFit, EyeRx, FrameMeasure, FrameTrace, Rx};
use ils_common::catalog::draft::{LensDesign, LensTreatment};
use ils_entity::lens_order as order;
use ils_kernel::{AppError, AppResult};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

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

/// A DCS upload as text, parsed and read; BAD_USER_INPUT on `input.file` otherwise.
pub fn read_file(bytes: &[u8]) -> AppResult<DcsJob> {
    if bytes.is_empty() {
        return Err(AppError::bad_input("input.file", "the file is empty"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AppError::bad_input("input.file", "a DCS file is text (UTF-8 or ASCII)"))?;
    let parsed = dcs::parse(text).map_err(|e| AppError::bad_input("input.file", e.to_string()))?;
    job_of(&parsed).map_err(|e| AppError::bad_input("input.file", e.to_string()))
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
    let bad = |e: DcsError| AppError::internal(format!("dcs: {e}"));
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
fn write_trace(f: &mut DcsFile, frame: Option<&FrameMeasure>) -> Result<(), DcsError> {
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
            assert_eq!(field, "input.file");
            assert!(message.starts_with(line), "{text}: {message}");
        }
        assert!(read_file(b"").is_err());
        assert!(read_file(&[0xff, 0xfe, 0x00]).is_err());
    }
}
