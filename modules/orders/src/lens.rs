//! The lens a job asks for: what the order, the lab's turnaround rules and DCS files share.

use async_graphql::{InputObject, SimpleObject};
use ils_common::catalog::draft::{LensDesign, LensTreatment};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The lens of a job.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "LensSpecInput")]
#[serde(rename_all = "camelCase")]
pub struct LensSpec {
    /// The lens design (single vision, progressive…): it decides what the prescription
    /// and the fitting must give at submission.
    pub design: LensDesign,
    /// Refractive index: 1.50, 1.53, 1.56, 1.59, 1.60, 1.67 or 1.74.
    pub index: Decimal,
    /// Coatings and treatments (none when left out).
    #[serde(default)]
    #[graphql(default)]
    pub treatments: Vec<LensTreatment>,
    /// A tint, as the lab names it.
    pub tint: Option<String>,
    /// The lab's own lens code, when known.
    pub product_code: Option<String>,
}
