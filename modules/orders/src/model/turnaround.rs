//! A lab's turnaround rules: the due date it promises when it receives a job. Working days
//! (Monday to Friday) after the day of receipt: a base, plus the design's extra days, plus
//! the largest extra among the lens's treatments (they run together in one coating run),
//! plus the tint's days when the lens is tinted. Each lab sets its own; until it does,
//! docs/domain.md's typical promise holds (3 days for stock single vision, more for multifocals
//! and coatings).

use crate::lens::LensSpec;
use async_graphql::{InputObject, SimpleObject};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use ils_common::catalog::draft::{FieldError, LensDesign, LensTreatment};
use serde::{Deserialize, Serialize};

/// The most days any one rule may add.
const MAX_DAYS: i32 = 60;

/// The most entries a list of rules may have (there are six designs and six treatments).
const MAX_RULES: usize = 6;

/// The working days a lens design adds to a lab's base turnaround.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "DesignDaysInput")]
#[serde(rename_all = "camelCase")]
pub struct DesignDays {
    /// The design these days are for (each design at most once).
    pub design: LensDesign,
    /// Extra working days, 0..60.
    pub days: i32,
}

/// The working days a lens treatment adds to a lab's base turnaround.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "TreatmentDaysInput")]
#[serde(rename_all = "camelCase")]
pub struct TreatmentDays {
    /// The treatment these days are for (each treatment at most once).
    pub treatment: LensTreatment,
    /// Extra working days, 0..60.
    pub days: i32,
}

/// How many working days a lab promises.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "UpdateLabTurnaroundInput")]
#[serde(rename_all = "camelCase")]
pub struct LabTurnaround {
    /// Working days for a stock single-vision job, 0..60.
    pub base_days: i32,
    /// Extra days by design (a design not listed adds none).
    pub design_days: Vec<DesignDays>,
    /// Extra days by treatment; the largest of a lens's treatments counts.
    pub treatment_days: Vec<TreatmentDays>,
    /// Extra days for a tinted lens, 0..60.
    pub tint_days: i32,
}

impl Default for LabTurnaround {
    fn default() -> Self {
        use LensDesign as D;
        use LensTreatment as T;
        LabTurnaround {
            base_days: 3,
            design_days: [D::Bifocal, D::Trifocal, D::Progressive, D::Office]
                .into_iter()
                .map(|design| DesignDays { design, days: 2 })
                .collect(),
            treatment_days: [
                T::AntiReflective,
                T::BlueFilter,
                T::Photochromic,
                T::Polarised,
                T::Tint,
            ]
            .into_iter()
            .map(|treatment| TreatmentDays { treatment, days: 1 })
            .collect(),
            tint_days: 1,
        }
    }
}

impl LabTurnaround {
    /// Every refused field (paths relative to the input).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        // One entry per design or treatment at most (and no list to search at length).
        for (field, len) in [
            ("designDays", self.design_days.len()),
            ("treatmentDays", self.treatment_days.len()),
        ] {
            if len > MAX_RULES {
                return vec![FieldError {
                    field: field.into(),
                    message: format!("at most {MAX_RULES} entries"),
                }];
            }
        }
        let mut days = |field: String, d: i32| {
            if !(0..=MAX_DAYS).contains(&d) {
                errors.push(FieldError {
                    field,
                    message: format!("0 to {MAX_DAYS} days"),
                });
            }
        };
        days("baseDays".into(), self.base_days);
        days("tintDays".into(), self.tint_days);
        for (i, d) in self.design_days.iter().enumerate() {
            days(format!("designDays.{i}.days"), d.days);
        }
        for (i, t) in self.treatment_days.iter().enumerate() {
            days(format!("treatmentDays.{i}.days"), t.days);
        }
        for (i, d) in self.design_days.iter().enumerate() {
            if self.design_days[..i].iter().any(|e| e.design == d.design) {
                errors.push(FieldError {
                    field: format!("designDays.{i}.design"),
                    message: format!("{} is listed twice", d.design.as_str()),
                });
            }
        }
        for (i, t) in self.treatment_days.iter().enumerate() {
            if self.treatment_days[..i]
                .iter()
                .any(|e| e.treatment == t.treatment)
            {
                errors.push(FieldError {
                    field: format!("treatmentDays.{i}.treatment"),
                    message: format!("{} is listed twice", t.treatment.as_str()),
                });
            }
        }
        errors
    }

    /// The working days these rules promise for a lens.
    pub fn days_for(&self, lens: &LensSpec) -> i64 {
        let design = self
            .design_days
            .iter()
            .find(|d| d.design == lens.design)
            .map_or(0, |d| d.days);
        let treatment = lens
            .treatments
            .iter()
            .filter_map(|t| self.treatment_days.iter().find(|d| d.treatment == *t))
            .map(|d| d.days)
            .max()
            .unwrap_or(0);
        let tint = if lens.tint.is_some() {
            self.tint_days
        } else {
            0
        };
        i64::from(self.base_days) + i64::from(design) + i64::from(treatment) + i64::from(tint)
    }

    /// The due date of a lens received on `day`.
    pub fn due(&self, day: NaiveDate, lens: &LensSpec) -> NaiveDate {
        add_working_days(day, self.days_for(lens))
    }
}

/// `day` plus `n` working days (Saturdays and Sundays are not counted; a job received at
/// the weekend starts counting on Monday).
pub fn add_working_days(day: NaiveDate, n: i64) -> NaiveDate {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d += Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn lens(design: LensDesign, treatments: Vec<LensTreatment>, tint: bool) -> LensSpec {
        LensSpec {
            design,
            index: Decimal::new(160, 2),
            treatments,
            tint: tint.then(|| "GREY 50".to_owned()),
            product_code: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn working_days_skip_weekends() {
        // 2026-11-20 is a Friday.
        assert_eq!(add_working_days(day("2026-11-20"), 0), day("2026-11-20"));
        assert_eq!(add_working_days(day("2026-11-20"), 1), day("2026-11-23"));
        assert_eq!(add_working_days(day("2026-11-20"), 5), day("2026-11-27"));
        // Received on a Saturday: Monday is the first working day.
        assert_eq!(add_working_days(day("2026-11-21"), 1), day("2026-11-23"));
        assert_eq!(add_working_days(day("2026-11-23"), 3), day("2026-11-26"));
    }

    #[test]
    fn the_defaults_follow_the_domain() {
        use LensTreatment as T;
        let r = LabTurnaround::default();
        assert!(r.validate().is_empty());
        assert_eq!(
            r.days_for(&lens(LensDesign::SingleVision, vec![], false)),
            3
        );
        assert_eq!(r.days_for(&lens(LensDesign::Progressive, vec![], false)), 5);
        // Treatments run together: the largest counts, not the sum.
        let coated = lens(
            LensDesign::Progressive,
            vec![T::AntiReflective, T::BlueFilter, T::HardCoat],
            true,
        );
        assert_eq!(r.days_for(&coated), 7);
        assert_eq!(
            r.due(
                day("2026-11-23"),
                &lens(LensDesign::SingleVision, vec![], false)
            ),
            day("2026-11-26")
        );
    }

    #[test]
    fn rules_are_checked() {
        let mut r = LabTurnaround {
            base_days: 61,
            tint_days: -1,
            ..LabTurnaround::default()
        };
        r.design_days.push(DesignDays {
            design: LensDesign::Progressive,
            days: 1,
        });
        let fields: Vec<String> = r.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["baseDays", "tintDays", "designDays.4.design"]);
        let long = LabTurnaround {
            treatment_days: vec![
                TreatmentDays {
                    treatment: LensTreatment::Tint,
                    days: 1,
                };
                7
            ],
            ..LabTurnaround::default()
        };
        let fields: Vec<String> = long.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["treatmentDays"]);
    }
}
