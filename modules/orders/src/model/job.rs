//! A job's parts beside the prescription and the lens (the fitting heights), and checking
//! a job: every problem at once, with its input path.

use crate::json::stored;
use crate::lens::LensSpec;
use crate::rx::{
    EyeFit, FrameMeasure, Rx, validate_blank, validate_fit, validate_pd, validate_rx,
    validate_trace,
};
use async_graphql::SimpleObject;
use chrono::NaiveDate;
use ils_common::catalog::draft::{FieldError, LensDesign};
use ils_entity::lens_order::{self as order, Eyes};
use ils_kernel::AppError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How each lens is placed in the frame: the fitting heights per eye.
#[derive(SimpleObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    /// The right eye's lens (OD).
    pub right: EyeFit,
    /// The left eye's lens (OS).
    pub left: EyeFit,
}

/// The refractive indices a lens may have.
pub(crate) const INDICES: [&str; 7] = ["1.50", "1.53", "1.56", "1.59", "1.60", "1.67", "1.74"];

/// Everything `submitOrder` checks, all at once, with input paths: the prescription's
/// values, the PDs the lens design needs (`validate_pd`), the fitting, the blank and the
/// index. A one-eye job (`eyes` RIGHT or LEFT) is not checked for the other eye's
/// prescription, PDs and fitting.
pub fn check_job(row: &order::Model, today: NaiveDate) -> Result<Vec<FieldError>, AppError> {
    let other = match row.eyes {
        Eyes::Both => return check_pair(row, today),
        Eyes::Right => "left.",
        Eyes::Left => "right.",
    };
    let errors = check_pair(row, today)?;
    Ok(errors
        .into_iter()
        .filter(|e| {
            let path = e.field.strip_prefix("rx.").unwrap_or(&e.field);
            !path.starts_with(other)
        })
        .collect())
}

/// [`check_job`] for a pair of lenses.
fn check_pair(row: &order::Model, today: NaiveDate) -> Result<Vec<FieldError>, AppError> {
    let rx: Option<Rx> = stored(&row.rx)?;
    let lens: Option<LensSpec> = stored(&row.lens)?;
    let fit: Fit = stored(&row.fit)?;
    let frame: Option<FrameMeasure> = row.frame.as_deref().map(stored).transpose()?;
    let (rx, lens) = match (rx, lens) {
        (Some(rx), Some(lens)) => (rx, lens),
        (rx, lens) => {
            let mut missing = Vec::new();
            if rx.is_none() {
                missing.push(FieldError {
                    field: "rx".into(),
                    message: "the order needs a prescription".into(),
                });
            }
            if lens.is_none() {
                missing.push(FieldError {
                    field: "lens".into(),
                    message: "the order needs a lens".into(),
                });
            }
            // What can be checked without the missing part is checked too.
            if let Some(rx) = &rx {
                // Without a lens: the PDs every job needs, not a design's.
                missing.extend(prefixed("rx.", validate_rx(rx, None, today)));
                missing.extend(prefixed("rx.", validate_pd(rx, None)));
            }
            if let Some(frame) = &frame {
                let fit_errors =
                    validate_fit(LensDesign::SingleVision, Some(frame), &fit.right, &fit.left);
                missing.extend(fit_errors);
            }
            return Ok(missing);
        }
    };
    let mut errors = prefixed("rx.", validate_rx(&rx, Some(lens.design), today));
    errors.extend(prefixed("rx.", validate_pd(&rx, Some(lens.design))));
    if rx.expires_on.is_some_and(|d| d.0 < today) {
        errors.push(FieldError {
            field: "rx.expiresOn".into(),
            message: "the prescription has expired".into(),
        });
    }
    errors.extend(validate_fit(
        lens.design,
        frame.as_ref(),
        &fit.right,
        &fit.left,
    ));
    if let Some(frame) = &frame {
        errors.extend(validate_blank(frame, &rx));
    }
    if !INDICES
        .iter()
        .any(|i| i.parse::<Decimal>().ok() == Some(lens.index))
    {
        errors.push(FieldError {
            field: "lens.index".into(),
            message: format!("must be one of {}", INDICES.join(", ")),
        });
    }
    Ok(errors)
}

/// Errors with a path prefix (`rx.` + `right.axis`).
pub(crate) fn prefixed(prefix: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError {
            field: format!("{prefix}{}", e.field),
            message: e.message,
        })
        .collect()
}

/// The first measurement far outside anything optical (refused before any arithmetic on
/// it), or a trace that is not one (the one list a client could make huge); paths are
/// relative (`frame.a`, `right.fittingHeight`, `frame.trace.radii`).
pub fn measures_out_of_range(
    frame: Option<&FrameMeasure>,
    right: Option<&EyeFit>,
    left: Option<&EyeFit>,
) -> Option<FieldError> {
    let limit = Decimal::from(1000);
    let mut values: Vec<(String, Decimal)> = Vec::new();
    if let Some(f) = frame {
        values.push(("frame.a".into(), f.a));
        values.push(("frame.b".into(), f.b));
        values.push(("frame.dbl".into(), f.dbl));
        values.extend(f.ed.map(|v| ("frame.ed".to_owned(), v)));
    }
    for (side, fit) in [("right", right), ("left", left)] {
        if let Some(h) = fit.and_then(|f| f.fitting_height) {
            values.push((format!("{side}.fittingHeight"), h));
        }
        if let Some(h) = fit.and_then(|f| f.optical_centre_height) {
            values.push((format!("{side}.opticalCentreHeight"), h));
        }
    }
    if let Some((field, _)) = values.into_iter().find(|(_, v)| v.abs() > limit) {
        return Some(FieldError {
            field,
            message: "out of range".into(),
        });
    }
    let trace = frame.and_then(|f| f.trace.as_ref())?;
    validate_trace(trace)
        .into_iter()
        .next()
        .map(|e| FieldError {
            field: format!("frame.{}", e.field),
            message: e.message,
        })
}
