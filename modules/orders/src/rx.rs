//! Spectacle prescriptions (Rx) and frame fitting: the typed input, its validation, and
//! plus-cyl / minus-cyl transposition. Pure functions, no database.
//!
//! Values are checked with exact decimal arithmetic (never floats) and every refused field
//! is reported at once, as [`FieldError`]s whose paths are the GraphQL input names
//! (`right.axis`, `binocularPd`); the caller prefixes them with where the Rx sits (`rx.`).
//!
//! [`LensDesign`] and [`FieldError`] are the catalog's own types (re-exported), so a lens
//! product's design can be passed straight in and a GraphQL schema holding both the catalog
//! and orders has one `LensDesign` enum (async-graphql refuses two Rust types with the same
//! GraphQL name).

use async_graphql::{InputObject, SimpleObject};
use chrono::NaiveDate;
use ils_common::grid::Grid;
use ils_kernel::scalars::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use ils_common::catalog::draft::{FieldError, LensDesign};

/// What a lens design asks of a prescription and a fitting.
pub trait LensDesignExt {
    /// Whether the lens has more than one power zone (bifocal, trifocal, progressive,
    /// office), so it needs a near addition and a fitting (or segment) height.
    fn multifocal(self) -> bool;
    /// Whether the Rx must carry a near addition: multifocal designs and reading lenses.
    fn needs_add(self) -> bool;
}

impl LensDesignExt for LensDesign {
    fn multifocal(self) -> bool {
        matches!(
            self,
            Self::Bifocal | Self::Trifocal | Self::Progressive | Self::Office
        )
    }

    fn needs_add(self) -> bool {
        self.multifocal() || self == Self::Reading
    }
}

ils_kernel::string_enum!(
    /// Where a prism's base points, seen from the wearer: IN (towards the nose) or OUT for
    /// a horizontal prism, UP or DOWN for a vertical one.
    PrismBase {
        /// Base up (vertical prism).
        Up = "UP",
        /// Base down (vertical prism).
        Down = "DOWN",
        /// Base in, towards the nose (horizontal prism).
        In = "IN",
        /// Base out, towards the temple (horizontal prism).
        Out = "OUT",
    }
);

impl PrismBase {
    /// Whether this is a horizontal base (IN or OUT).
    pub fn horizontal(self) -> bool {
        matches!(self, Self::In | Self::Out)
    }
}

/// One eye's prescription. Dioptres for powers and prism, whole degrees for the axis,
/// millimetres for pupillary distances (mono: from the bridge centre to this pupil).
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "EyeRxInput")]
#[serde(rename_all = "camelCase")]
pub struct EyeRx {
    /// Sphere (SPH), -20.00..+20.00 in 0.25 steps; plano is 0.00.
    pub sphere: Decimal,
    /// Cylinder (CYL), signed, -10.00..+10.00 in 0.25 steps; absent or 0 means none.
    pub cylinder: Option<Decimal>,
    /// Cylinder axis (AX), 1..180 degrees; given exactly when the cylinder is not 0.
    pub axis: Option<i32>,
    /// Near addition (ADD), +0.75..+4.00 in 0.25 steps; for multifocal and reading designs.
    pub add: Option<Decimal>,
    /// Horizontal prism in prism dioptres, more than 0 and at most 10.00, in 0.25 steps.
    pub prism_horizontal: Option<Decimal>,
    /// Base of the horizontal prism: IN or OUT; given exactly with `prismHorizontal`.
    pub prism_horizontal_base: Option<PrismBase>,
    /// Vertical prism in prism dioptres, more than 0 and at most 10.00, in 0.25 steps.
    pub prism_vertical: Option<Decimal>,
    /// Base of the vertical prism: UP or DOWN; given exactly with `prismVertical`.
    pub prism_vertical_base: Option<PrismBase>,
    /// Distance mono PD in mm, 20.0..40.0 in 0.5 steps.
    pub distance_pd: Option<Decimal>,
    /// Near mono PD in mm, 20.0..40.0 in 0.5 steps, less than `distancePd`.
    pub near_pd: Option<Decimal>,
}

/// A spectacle prescription, right eye first, as written by the prescriber.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "RxInput")]
#[serde(rename_all = "camelCase")]
pub struct Rx {
    /// Right eye (OD).
    pub right: EyeRx,
    /// Left eye (OS).
    pub left: EyeRx,
    /// Distance binocular PD in mm, 40.0..80.0 in 0.5 steps; within 1 mm of the two eyes'
    /// `distancePd` added up, when both are given.
    pub binocular_pd: Option<Decimal>,
    /// Near binocular PD in mm, 40.0..80.0 in 0.5 steps, less than `binocularPd`; within
    /// 1 mm of the two eyes' `nearPd` added up, when both are given.
    pub near_binocular_pd: Option<Decimal>,
    /// When the Rx was written; not in the future.
    pub issued_on: Option<Date>,
    /// When the Rx expires; after `issuedOn`.
    pub expires_on: Option<Date>,
    /// Who wrote the Rx, at most 200 characters.
    pub prescriber: Option<String>,
}

/// A frame's boxing measurements (ISO 8624) in mm, to at most 0.01 mm.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "FrameMeasureInput")]
#[serde(rename_all = "camelCase")]
pub struct FrameMeasure {
    /// Lens width (A), 30..70 mm.
    pub a: Decimal,
    /// Lens height (B), 15..60 mm.
    pub b: Decimal,
    /// Distance between lenses (DBL), 10..30 mm.
    pub dbl: Decimal,
    /// Effective diameter (ED), from A to A + 15 mm.
    pub ed: Option<Decimal>,
    /// The frame's shape as a tracer measured it, when traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<FrameTrace>,
}

/// A frame tracer's shape: radii from the box centre at equal angles, as the DCS `TRCFMT`
/// block carries them.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "FrameTraceInput")]
#[serde(rename_all = "camelCase")]
pub struct FrameTrace {
    /// R, L or B (both eyes, mirrored).
    pub side: String,
    /// The DCS trace format (`1`: absolute radii in ASCII), 1 to 8 of A-Z and 0-9.
    pub format: String,
    /// Radii in 0.01 mm, 1 to 10,000 of them, each 1..10,000 (0.01 to 100 mm).
    pub radii: Vec<i32>,
}

/// The most radii a trace may have (tracers take 400 to 1,000).
pub const MAX_TRACE_RADII: usize = 10_000;

/// Checks a trace's form; paths are relative to the frame (`trace.radii`).
pub fn validate_trace(trace: &FrameTrace) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut add = |field: &str, message: &str| {
        errors.push(FieldError {
            field: format!("trace.{field}"),
            message: message.into(),
        })
    };
    if !matches!(trace.side.as_str(), "R" | "L" | "B") {
        add("side", "R, L or B");
    }
    if trace.format.is_empty()
        || trace.format.len() > 8
        || !trace
            .format
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        add("format", "1 to 8 of A-Z and 0-9");
    }
    if trace.radii.is_empty() || trace.radii.len() > MAX_TRACE_RADII {
        add("radii", "1 to 10000 radii");
    } else if trace.radii.iter().any(|r| !(1..=10_000).contains(r)) {
        add("radii", "each radius 1..10000 (0.01 mm)");
    }
    errors
}

/// How one lens is placed in the frame.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "EyeFitInput")]
#[serde(rename_all = "camelCase")]
pub struct EyeFit {
    /// Millimetres up from the lowest point of the lens shape, to at most 0.01 mm: the
    /// fitting height (fitting cross) of a PROGRESSIVE or OFFICE lens, the segment height
    /// of a BIFOCAL or TRIFOCAL, the optical centre height otherwise. More than 0, at most
    /// the frame's B, and at least [`MIN_PROGRESSIVE_FITTING_HEIGHT_MM`] for a PROGRESSIVE.
    pub fitting_height: Option<Decimal>,
    /// Millimetres up from the lowest point of the lens shape to the optical centre (the
    /// prism reference point), to at most 0.01 mm, when it is measured apart from the
    /// fitting height (a DCS file's `OCHT`, beside `SEGHT`). More than 0, at most the
    /// frame's B.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optical_centre_height: Option<Decimal>,
}

/// The lowest fitting height a progressive lens accepts, in mm: below it the corridor from
/// the distance to the near zone would be too short to make (short-corridor designs start
/// at about 14 mm).
pub const MIN_PROGRESSIVE_FITTING_HEIGHT_MM: i64 = 14;

/// How far, in mm, a binocular PD may be from the sum of the two mono PDs (distance or
/// near) when all three are given: further, one of them is mis-measured or mis-typed.
pub const MAX_PD_SUM_DIFFERENCE_MM: i64 = 1;

/// The grids prescriptions and fittings are checked on.
mod grids {
    use super::Grid;

    /// Sphere: -20.00..+20.00 D in 0.25 steps.
    pub const SPHERE: Grid = Grid::dioptres(-2000, 2000);
    /// Cylinder: -10.00..+10.00 D in 0.25 steps (0 allowed: no cylinder).
    pub const CYLINDER: Grid = Grid::dioptres(-1000, 1000);
    /// Near addition: +0.75..+4.00 D in 0.25 steps.
    pub const ADD: Grid = Grid::dioptres(75, 400);
    /// Prism: more than 0 and at most 10 prism dioptres in 0.25 steps.
    pub const PRISM: Grid = Grid {
        signed: false,
        ..Grid::dioptres(25, 1000)
    };
    /// Mono PD: 20.0..40.0 mm in 0.5 steps.
    pub const MONO_PD: Grid = Grid::half_mm(200, 400);
    /// Binocular PD: 40.0..80.0 mm in 0.5 steps.
    pub const BINOCULAR_PD: Grid = Grid::half_mm(400, 800);
    /// Frame A: 30..70 mm to 0.01 mm.
    pub const FRAME_A: Grid = Grid::mm(3000, 7000);
    /// Frame B: 15..60 mm to 0.01 mm.
    pub const FRAME_B: Grid = Grid::mm(1500, 6000);
    /// Frame DBL: 10..30 mm to 0.01 mm.
    pub const FRAME_DBL: Grid = Grid::mm(1000, 3000);
}

ils_kernel::field_checks!(
    /// The prescription and fit checks, adding to the one accumulator of field errors.
    Errors
);

impl Errors {
    /// Checks a value against a grid; true when it fits.
    fn on_grid(&mut self, field: &str, value: Decimal, grid: &Grid) -> bool {
        let ok = grid.contains(value);
        if !ok {
            self.add(field, grid.message());
        }
        ok
    }

    /// Checks an optional value against a grid; returns it when given and valid.
    fn optional_on_grid(
        &mut self,
        field: &str,
        value: Option<Decimal>,
        grid: &Grid,
    ) -> Option<Decimal> {
        value.filter(|v| self.on_grid(field, *v, grid))
    }

    /// A near PD must be less than the distance PD (both already valid).
    fn near_below_distance(&mut self, field: &str, near: Option<Decimal>, far: Option<Decimal>) {
        if let (Some(near), Some(far)) = (near, far)
            && near >= far
        {
            self.add(
                field,
                format!("must be less than the distance PD ({far} mm)"),
            );
        }
    }

    /// A binocular PD (already valid) must be within [`MAX_PD_SUM_DIFFERENCE_MM`] of the
    /// sum of the two mono PDs (each on its grid) when all three are given: the
    /// binocular field and both mono fields are refused, each message naming the others.
    fn pd_sum(
        &mut self,
        (binocular_field, binocular): (&str, Option<Decimal>),
        (mono_name, right, left): (&str, Option<Decimal>, Option<Decimal>),
    ) {
        let on = |v: Option<Decimal>| v.filter(|v| grids::MONO_PD.contains(*v));
        let (Some(binocular), Some(right), Some(left)) = (binocular, on(right), on(left)) else {
            return;
        };
        let sum = right + left;
        if (binocular - sum).abs() <= Decimal::from(MAX_PD_SUM_DIFFERENCE_MM) {
            return;
        }
        let (r, l) = (format!("right.{mono_name}"), format!("left.{mono_name}"));
        self.add(
            binocular_field,
            format!(
                "{binocular} mm differs by more than {MAX_PD_SUM_DIFFERENCE_MM} mm from \
                 {r} + {l} ({right} + {left} = {sum} mm)"
            ),
        );
        for (field, other) in [(&r, &l), (&l, &r)] {
            self.add(
                field.as_str(),
                format!(
                    "with {other}, adds up to {sum} mm: more than \
                     {MAX_PD_SUM_DIFFERENCE_MM} mm from {binocular_field} ({binocular} mm)"
                ),
            );
        }
    }

    /// A PD the job needs: the binocular one, or both monos. Nothing given is refused on
    /// the binocular field; one mono alone on the other eye's mono field.
    fn pd_needed(
        &mut self,
        what: &str,
        (binocular_field, binocular): (&str, Option<Decimal>),
        (mono_name, right, left): (&str, Option<Decimal>, Option<Decimal>),
    ) {
        if binocular.is_some() {
            return;
        }
        let (r, l) = (format!("right.{mono_name}"), format!("left.{mono_name}"));
        match (right, left) {
            (Some(_), Some(_)) => {}
            (None, None) => self.add(
                binocular_field,
                format!("{what} is required: give {binocular_field}, or both {r} and {l}"),
            ),
            (Some(_), None) => self.add(
                l.as_str(),
                format!("required with {r} (both mono PDs), or give {binocular_field}"),
            ),
            (None, Some(_)) => self.add(
                r.as_str(),
                format!("required with {l} (both mono PDs), or give {binocular_field}"),
            ),
        }
    }

    fn eye(&mut self, side: &str, eye: &EyeRx, design: Option<LensDesign>) {
        let path = |name: &str| format!("{side}.{name}");

        self.on_grid(&path("sphere"), eye.sphere, &grids::SPHERE);

        if let Some(cylinder) = eye.cylinder {
            self.on_grid(&path("cylinder"), cylinder, &grids::CYLINDER);
        }
        let has_cylinder = eye.cylinder.is_some_and(|c| !c.is_zero());
        match (has_cylinder, eye.axis) {
            (true, None) => self.add(path("axis"), "required with a cylinder"),
            (false, Some(_)) => self.add(path("axis"), "only with a cylinder other than 0"),
            (true, Some(axis)) if !(1..=180).contains(&axis) => {
                self.add(path("axis"), "between 1 and 180 degrees")
            }
            _ => {}
        }

        if let Some(add) = eye.add {
            self.on_grid(&path("add"), add, &grids::ADD);
        }
        match (design, eye.add) {
            (Some(design), Some(_)) if !design.needs_add() => self.add(
                path("add"),
                format!("only for multifocal or reading lenses, not {design}"),
            ),
            (Some(design), None) if design.needs_add() => {
                self.add(path("add"), format!("required for {design} lenses"))
            }
            _ => {}
        }

        self.prism(
            side,
            ("prismHorizontal", eye.prism_horizontal),
            ("prismHorizontalBase", eye.prism_horizontal_base),
            true,
        );
        self.prism(
            side,
            ("prismVertical", eye.prism_vertical),
            ("prismVerticalBase", eye.prism_vertical_base),
            false,
        );

        let far = self.optional_on_grid(&path("distancePd"), eye.distance_pd, &grids::MONO_PD);
        let near = self.optional_on_grid(&path("nearPd"), eye.near_pd, &grids::MONO_PD);
        self.near_below_distance(&path("nearPd"), near, far);
    }

    fn prism(
        &mut self,
        side: &str,
        (amount_name, amount): (&str, Option<Decimal>),
        (base_name, base): (&str, Option<PrismBase>),
        horizontal: bool,
    ) {
        let (kind, bases) = if horizontal {
            ("horizontal", "IN or OUT")
        } else {
            ("vertical", "UP or DOWN")
        };
        let base_path = format!("{side}.{base_name}");
        if let Some(amount) = amount {
            self.on_grid(&format!("{side}.{amount_name}"), amount, &grids::PRISM);
        }
        match (amount, base) {
            (Some(_), None) => self.add(base_path, format!("required with a {kind} prism")),
            (None, Some(_)) => self.add(base_path, format!("only with a {kind} prism amount")),
            (Some(_), Some(base)) if base.horizontal() != horizontal => {
                self.add(base_path, format!("{bases} for a {kind} prism"))
            }
            _ => {}
        }
    }

    /// Checks a frame's measurements; returns its B when valid.
    fn frame(&mut self, frame: &FrameMeasure) -> Option<Decimal> {
        let a_ok = self.on_grid("frame.a", frame.a, &grids::FRAME_A);
        let b_ok = self.on_grid("frame.b", frame.b, &grids::FRAME_B);
        self.on_grid("frame.dbl", frame.dbl, &grids::FRAME_DBL);
        if let Some(ed) = frame.ed {
            let max = frame.a + Decimal::from(15);
            if ed < frame.a || ed > max || !hundredths(ed) {
                let bounds = if a_ok {
                    format!("between A ({}) and A + 15 ({max}) mm", frame.a)
                } else {
                    "between A and A + 15 mm".to_owned()
                };
                self.add("frame.ed", format!("{bounds} to 0.01 mm"));
            }
        }
        if let Some(trace) = &frame.trace {
            for e in validate_trace(trace) {
                self.add(format!("frame.{}", e.field), e.message);
            }
        }
        b_ok.then_some(frame.b)
    }
}

/// Whether a value has at most 2 decimal places (0.01 mm, the DCS file resolution).
fn hundredths(value: Decimal) -> bool {
    (value * Decimal::ONE_HUNDRED).fract().is_zero()
}

/// Checks a prescription; returns every refused field (empty when it is valid).
///
/// `design` is the lens design ordered, when known: an add is then required (each eye) for
/// multifocal and READING designs and refused for SINGLE_VISION; without a design an add is
/// only range-checked. `today` is the date an issue date may not be later than. Near PDs
/// are compared with distance PDs only when both are valid.
pub fn validate_rx(rx: &Rx, design: Option<LensDesign>, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Errors::default();
    errors.eye("right", &rx.right, design);
    errors.eye("left", &rx.left, design);

    let far = errors.optional_on_grid("binocularPd", rx.binocular_pd, &grids::BINOCULAR_PD);
    let near = errors.optional_on_grid(
        "nearBinocularPd",
        rx.near_binocular_pd,
        &grids::BINOCULAR_PD,
    );
    errors.near_below_distance("nearBinocularPd", near, far);
    errors.pd_sum(
        ("binocularPd", far),
        ("distancePd", rx.right.distance_pd, rx.left.distance_pd),
    );
    errors.pd_sum(
        ("nearBinocularPd", near),
        ("nearPd", rx.right.near_pd, rx.left.near_pd),
    );

    if let Some(Date(issued)) = rx.issued_on
        && issued > today
    {
        errors.add("issuedOn", "must not be in the future");
    }
    if let (Some(Date(issued)), Some(Date(expires))) = (rx.issued_on, rx.expires_on)
        && expires <= issued
    {
        errors.add(
            "expiresOn",
            format!("must be after the issue date ({issued})"),
        );
    }
    if let Some(prescriber) = &rx.prescriber
        && prescriber.trim().chars().count() > 200
    {
        errors.add("prescriber", "at most 200 characters");
    }
    errors.0.into_vec()
}

/// Checks the frame and the lens placement for a design; returns every refused field.
///
/// Paths are relative to an order input holding `frame`, `right` and `left` (the
/// [`EyeFit`]s): `frame.a`, `right.fittingHeight`.
/// - Multifocal designs need a fitting height on each eye; any fitting height given must be
///   more than 0, at most the frame's B (when the frame is measured and its B valid), to
///   0.01 mm, and for PROGRESSIVE at least [`MIN_PROGRESSIVE_FITTING_HEIGHT_MM`].
/// - The PDs the design needs are [`validate_pd`]'s; the blank size is not checked here
///   (see [`min_blank_mm`]).
pub fn validate_fit(
    design: LensDesign,
    frame: Option<&FrameMeasure>,
    right: &EyeFit,
    left: &EyeFit,
) -> Vec<FieldError> {
    let mut errors = Errors::default();
    let b = frame.and_then(|frame| errors.frame(frame));
    let min_progressive = Decimal::from(MIN_PROGRESSIVE_FITTING_HEIGHT_MM);

    for (side, fit) in [("right", right), ("left", left)] {
        let field = format!("{side}.fittingHeight");
        match fit.fitting_height {
            None if design.multifocal() => {
                errors.add(field, format!("required for {design} lenses"))
            }
            None => {}
            Some(height) => {
                if height <= Decimal::ZERO {
                    errors.add(field.as_str(), "must be more than 0 mm");
                } else if design == LensDesign::Progressive && height < min_progressive {
                    errors.add(
                        field.as_str(),
                        format!(
                            "at least {min_progressive} mm for a progressive lens \
                             (a shorter corridor cannot be made)"
                        ),
                    );
                } else if !hundredths(height) {
                    errors.add(field.as_str(), "at most 2 decimal places (0.01 mm)");
                }
                if let Some(b) = b
                    && height > b
                {
                    errors.add(field, format!("at most the frame's B ({b} mm)"));
                }
            }
        }
        if let Some(height) = fit.optical_centre_height {
            let field = format!("{side}.opticalCentreHeight");
            if height <= Decimal::ZERO {
                errors.add(field.as_str(), "must be more than 0 mm");
            } else if !hundredths(height) {
                errors.add(field.as_str(), "at most 2 decimal places (0.01 mm)");
            }
            if let Some(b) = b
                && height > b
            {
                errors.add(field, format!("at most the frame's B ({b} mm)"));
            }
        }
    }
    errors.0.into_vec()
}

/// Whether a design needs each eye's own distance mono PD: a PROGRESSIVE or OFFICE
/// corridor is centred on each pupil, and a binocular PD cannot tell an asymmetric face.
pub fn needs_mono_pd(design: LensDesign) -> bool {
    matches!(design, LensDesign::Progressive | LensDesign::Office)
}

/// The PDs a job needs; returns every missing one, at its path in the Rx (`binocularPd`,
/// `left.distancePd`). `design` is the lens ordered, when known.
/// - Every job needs the distance PD: `binocularPd`, or both eyes' `distancePd`
///   (PROGRESSIVE and OFFICE: both eyes' `distancePd`, see [`needs_mono_pd`]).
/// - Multifocal and READING designs ([`LensDesignExt::needs_add`]) also need the near PD:
///   `nearBinocularPd`, or both eyes' `nearPd`.
///
/// Nothing given is refused on the binocular field; one mono PD without the other on the
/// missing eye's field. The values themselves, and a binocular PD against the sum of the
/// monos, are [`validate_rx`]'s.
pub fn validate_pd(rx: &Rx, design: Option<LensDesign>) -> Vec<FieldError> {
    let mut errors = Errors::default();
    match design {
        Some(design) if needs_mono_pd(design) => {
            for (side, eye) in [("right", &rx.right), ("left", &rx.left)] {
                if eye.distance_pd.is_none() {
                    errors.add(
                        format!("{side}.distancePd"),
                        format!("required for {design} lenses (mono PD per eye)"),
                    );
                }
            }
        }
        _ => errors.pd_needed(
            "the distance PD",
            ("binocularPd", rx.binocular_pd),
            ("distancePd", rx.right.distance_pd, rx.left.distance_pd),
        ),
    }
    if design.is_some_and(|d| d.needs_add()) {
        let design = design.map(|d| d.to_string()).unwrap_or_default();
        errors.pd_needed(
            &format!("for {design} lenses the near PD"),
            ("nearBinocularPd", rx.near_binocular_pd),
            ("nearPd", rx.right.near_pd, rx.left.near_pd),
        );
    }
    errors.0.into_vec()
}

/// The smallest uncut lens blank, in mm, for one eye of a frame: ED + 2 x decentration + 2,
/// with decentration = (A + DBL - 2 x monoPD) / 2, i.e. docs/domain.md's (A + DBL - PD) / 2 with the
/// binocular PD taken as twice this eye's mono PD, so each eye gets its own blank. The
/// decentration counts by its size (a pupil outside the box centre needs as much extra
/// blank as one inside). `None` when the frame's ED is not measured.
pub fn min_blank_mm(frame: &FrameMeasure, mono_pd: Decimal) -> Option<Decimal> {
    let ed = frame.ed?;
    let two = Decimal::TWO;
    let decentration = ((frame.a + frame.dbl - two * mono_pd) / two).abs();
    Some(ed + two * decentration + two)
}

/// The largest uncut blank labs stock, in mm.
pub const MAX_BLANK_MM: i64 = 80;

/// Whether each eye's lens can be cut from a stock blank: [`min_blank_mm`] at most
/// [`MAX_BLANK_MM`]. An eye's mono PD is its own, else half the binocular PD; nothing is
/// checked without a measured ED or a PD. Errors are on `frame.ed`, naming the eye.
pub fn validate_blank(frame: &FrameMeasure, rx: &Rx) -> Vec<FieldError> {
    let max = Decimal::from(MAX_BLANK_MM);
    [("right", &rx.right), ("left", &rx.left)]
        .into_iter()
        .filter_map(|(side, eye)| {
            let pd = eye
                .distance_pd
                .or_else(|| rx.binocular_pd.map(|b| b / Decimal::TWO))?;
            let need = min_blank_mm(frame, pd)?;
            (need > max).then(|| FieldError {
                field: "frame.ed".into(),
                message: format!(
                    "the {side} lens needs a {need} mm blank; the largest is {max} mm \
                     (choose a smaller frame)"
                ),
            })
        })
        .collect()
}

/// The cylinder as a number: 0 when absent.
fn cylinder_of(eye: &EyeRx) -> Decimal {
    eye.cylinder.unwrap_or(Decimal::ZERO)
}

/// The same lens written with the cylinder's sign flipped: S' = S + C, C' = -C,
/// A' = A + 90 if A <= 90 else A - 90. Unchanged when there is no cylinder (absent or 0).
/// Its own inverse for axes 1..180.
pub fn transpose(eye: &EyeRx) -> EyeRx {
    let cylinder = cylinder_of(eye);
    if cylinder.is_zero() {
        return eye.clone();
    }
    EyeRx {
        sphere: eye.sphere + cylinder,
        cylinder: Some(-cylinder),
        axis: eye.axis.map(|a| if a <= 90 { a + 90 } else { a - 90 }),
        ..eye.clone()
    }
}

/// The eye in minus-cylinder form, as labs work: transposed when the cylinder is positive,
/// unchanged otherwise (no cylinder, or already negative).
/// -3.00 +2.00 x30 becomes -1.00 -2.00 x120.
pub fn minus_cyl(eye: &EyeRx) -> EyeRx {
    if cylinder_of(eye) > Decimal::ZERO {
        transpose(eye)
    } else {
        eye.clone()
    }
}

/// The whole prescription in minus-cylinder form (both eyes; the rest as it is).
pub fn rx_minus_cyl(rx: &Rx) -> Rx {
    Rx {
        right: minus_cyl(&rx.right),
        left: minus_cyl(&rx.left),
        ..rx.clone()
    }
}

/// The eye in plus-cylinder form: transposed when the cylinder is negative, unchanged
/// otherwise.
pub fn plus_cyl(eye: &EyeRx) -> EyeRx {
    if cylinder_of(eye) < Decimal::ZERO {
        transpose(eye)
    } else {
        eye.clone()
    }
}

/// Spherical equivalent, S + C / 2 (the same in either cylinder form).
pub fn spherical_equivalent(eye: &EyeRx) -> Decimal {
    eye.sphere + cylinder_of(eye) / Decimal::TWO
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn date(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        date(2025, 6, 1)
    }

    fn eye(sphere: &str, cylinder: Option<&str>, axis: Option<i32>) -> EyeRx {
        EyeRx {
            sphere: d(sphere),
            cylinder: cylinder.map(d),
            axis,
            ..EyeRx::default()
        }
    }

    fn single_vision() -> Rx {
        Rx {
            right: EyeRx {
                distance_pd: Some(d("32.0")),
                near_pd: Some(d("30.5")),
                ..eye("-2.25", Some("-0.75"), Some(175))
            },
            left: EyeRx {
                distance_pd: Some(d("31.5")),
                near_pd: Some(d("30")),
                ..eye("-1.75", Some("-0.50"), Some(10))
            },
            binocular_pd: Some(d("63.5")),
            near_binocular_pd: Some(d("60.5")),
            issued_on: Some(Date(date(2025, 5, 20))),
            expires_on: Some(Date(date(2027, 5, 20))),
            prescriber: Some("Dr. A. Optom".to_owned()),
        }
    }

    fn progressive() -> Rx {
        let mut rx = single_vision();
        rx.right.add = Some(d("2.00"));
        rx.left.add = Some(d("2.00"));
        rx.right.prism_horizontal = Some(d("1.5"));
        rx.right.prism_horizontal_base = Some(PrismBase::In);
        rx.left.prism_vertical = Some(d("0.75"));
        rx.left.prism_vertical_base = Some(PrismBase::Down);
        rx
    }

    fn frame() -> FrameMeasure {
        FrameMeasure {
            a: d("52"),
            b: d("36"),
            dbl: d("18"),
            ed: Some(d("54.5")),
            trace: None,
        }
    }

    fn fit(height: &str) -> EyeFit {
        EyeFit {
            fitting_height: Some(d(height)),
            ..EyeFit::default()
        }
    }

    /// The fields refused, in order.
    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// Validates a good Rx changed by `change` and returns the refused fields.
    fn rx_fields(design: Option<LensDesign>, change: impl FnOnce(&mut Rx)) -> Vec<String> {
        // The progressive Rx (adds, prisms) is valid with any design but single vision.
        let mut rx = if design == Some(LensDesign::SingleVision) {
            single_vision()
        } else {
            progressive()
        };
        change(&mut rx);
        validate_rx(&rx, design, today())
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn good_prescriptions_pass() {
        let sv = single_vision();
        assert_eq!(
            validate_rx(&sv, Some(LensDesign::SingleVision), today()),
            []
        );
        assert_eq!(validate_rx(&sv, None, today()), []);
        let pal = progressive();
        assert_eq!(
            validate_rx(&pal, Some(LensDesign::Progressive), today()),
            []
        );
        assert_eq!(validate_rx(&pal, None, today()), []);
        // Plano, no cylinder, cylinder written as 0 without an axis, minimal Rx.
        let plano = Rx {
            right: eye("0", Some("0"), None),
            left: eye("+20.00", None, None),
            ..Rx::default()
        };
        assert_eq!(validate_rx(&plano, None, today()), []);
        // Issued today; plus cylinder; range ends.
        let edges = Rx {
            right: EyeRx {
                add: Some(d("4.00")),
                distance_pd: Some(d("40")),
                near_pd: Some(d("20")),
                ..eye("-20", Some("+10.00"), Some(180))
            },
            left: EyeRx {
                add: Some(d("0.75")),
                prism_horizontal: Some(d("10")),
                prism_horizontal_base: Some(PrismBase::Out),
                ..eye("1.250", Some("-10"), Some(1))
            },
            binocular_pd: Some(d("80")),
            near_binocular_pd: Some(d("40")),
            issued_on: Some(Date(today())),
            ..Rx::default()
        };
        assert_eq!(validate_rx(&edges, Some(LensDesign::Reading), today()), []);
    }

    #[test]
    fn sphere_range_and_grid() {
        assert_eq!(
            rx_fields(None, |rx| rx.right.sphere = d("-20.25")),
            ["right.sphere"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.sphere = d("1.12")),
            ["left.sphere"]
        );
        let errors = validate_rx(
            &Rx {
                left: eye("20.5", None, None),
                ..Rx::default()
            },
            None,
            today(),
        );
        assert_eq!(errors[0].field, "left.sphere");
        assert_eq!(errors[0].message, "between -20.00 and +20.00 in 0.25 steps");
    }

    #[test]
    fn cylinder_and_axis() {
        assert_eq!(
            rx_fields(None, |rx| rx.right.cylinder = Some(d("-10.25"))),
            ["right.cylinder"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.cylinder = Some(d("0.1"))),
            ["left.cylinder"]
        );
        // Cylinder without axis.
        assert_eq!(rx_fields(None, |rx| rx.right.axis = None), ["right.axis"]);
        // Axis without cylinder, or with a 0 cylinder.
        assert_eq!(rx_fields(None, |rx| rx.left.cylinder = None), ["left.axis"]);
        assert_eq!(
            rx_fields(None, |rx| rx.left.cylinder = Some(d("0.00"))),
            ["left.axis"]
        );
        // Axis out of range.
        assert_eq!(
            rx_fields(None, |rx| rx.right.axis = Some(0)),
            ["right.axis"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.axis = Some(181)),
            ["left.axis"]
        );
        let errors = validate_rx(
            &Rx {
                right: eye("-1", Some("-1"), None),
                ..Rx::default()
            },
            None,
            today(),
        );
        assert_eq!(errors[0].message, "required with a cylinder");
    }

    #[test]
    fn add_range_and_design() {
        use LensDesign::*;
        // Range, with or without a design.
        assert_eq!(
            rx_fields(None, |rx| rx.right.add = Some(d("0.50"))),
            ["right.add"]
        );
        assert_eq!(
            rx_fields(Some(Progressive), |rx| rx.left.add = Some(d("4.25"))),
            ["left.add"]
        );
        assert_eq!(
            rx_fields(Some(Bifocal), |rx| rx.left.add = Some(d("2.10"))),
            ["left.add"]
        );
        // Without a design an add is accepted.
        assert_eq!(
            rx_fields(None, |rx| rx.right.add = Some(d("2.50"))),
            Vec::<String>::new()
        );
        // Single vision refuses an add.
        assert_eq!(
            rx_fields(Some(SingleVision), |rx| rx.left.add = Some(d("1.00"))),
            ["left.add"]
        );
        // Every multifocal and reading design needs an add on each eye.
        for design in [Bifocal, Trifocal, Progressive, Office, Reading] {
            assert_eq!(
                rx_fields(Some(design), |_| {}),
                Vec::<String>::new(),
                "{design}"
            );
            assert_eq!(
                rx_fields(Some(design), |rx| rx.right.add = None),
                ["right.add"]
            );
            assert_eq!(
                rx_fields(Some(design), |rx| {
                    rx.right.add = None;
                    rx.left.add = None;
                }),
                ["right.add", "left.add"]
            );
        }
        let errors = validate_rx(&single_vision(), Some(Office), today());
        assert_eq!(errors[0].message, "required for OFFICE lenses");
    }

    #[test]
    fn design_helpers() {
        use LensDesign::*;
        let multifocal: Vec<_> = LensDesign::ALL.iter().filter(|d| d.multifocal()).collect();
        assert_eq!(multifocal, [&Bifocal, &Trifocal, &Progressive, &Office]);
        assert!(Reading.needs_add() && !Reading.multifocal());
        assert!(!SingleVision.needs_add());
        assert_eq!(PrismBase::parse("IN"), Some(PrismBase::In));
        assert_eq!(PrismBase::Down.as_str(), "DOWN");
    }

    #[test]
    fn prism_amount_and_base() {
        // Amount range and grid.
        assert_eq!(
            rx_fields(None, |rx| rx.right.prism_horizontal = Some(d("0"))),
            ["right.prismHorizontal"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.right.prism_horizontal = Some(d("10.25"))),
            ["right.prismHorizontal"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.prism_vertical = Some(d("0.5"))),
            Vec::<String>::new()
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.prism_vertical = Some(d("0.3"))),
            ["left.prismVertical"]
        );
        // Base required with an amount, refused without one.
        assert_eq!(
            rx_fields(None, |rx| rx.right.prism_horizontal_base = None),
            ["right.prismHorizontalBase"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.prism_vertical = None),
            ["left.prismVerticalBase"]
        );
        // Wrong direction.
        assert_eq!(
            rx_fields(None, |rx| rx.right.prism_horizontal_base =
                Some(PrismBase::Up)),
            ["right.prismHorizontalBase"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.prism_vertical_base =
                Some(PrismBase::Out)),
            ["left.prismVerticalBase"]
        );
        let mut rx = progressive();
        rx.left.prism_vertical_base = Some(PrismBase::In);
        let errors = validate_rx(&rx, None, today());
        assert_eq!(errors[0].message, "UP or DOWN for a vertical prism");
    }

    #[test]
    fn pupillary_distances() {
        assert_eq!(
            rx_fields(None, |rx| rx.right.distance_pd = Some(d("19.5"))),
            ["right.distancePd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.distance_pd = Some(d("32.2"))),
            ["left.distancePd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.left.near_pd = Some(d("40.5"))),
            ["left.nearPd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.binocular_pd = Some(d("39.5"))),
            ["binocularPd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.binocular_pd = Some(d("64.25"))),
            ["binocularPd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.near_binocular_pd = Some(d("80.5"))),
            ["nearBinocularPd"]
        );
        // Near not less than distance (without the other near PDs, which would not add up).
        let near_monos_only = |rx: &mut Rx| rx.near_binocular_pd = None;
        let near_binocular_only = |rx: &mut Rx| {
            rx.right.near_pd = None;
            rx.left.near_pd = None;
        };
        assert_eq!(
            rx_fields(None, |rx| {
                near_monos_only(rx);
                rx.right.near_pd = Some(d("32"));
            }),
            ["right.nearPd"]
        );
        assert_eq!(
            rx_fields(None, |rx| {
                near_monos_only(rx);
                rx.left.near_pd = Some(d("33"));
            }),
            ["left.nearPd"]
        );
        assert_eq!(
            rx_fields(None, |rx| {
                near_binocular_only(rx);
                rx.near_binocular_pd = Some(d("64"));
            }),
            ["nearBinocularPd"]
        );
        let mut rx = single_vision();
        near_binocular_only(&mut rx);
        rx.near_binocular_pd = Some(d("63.5"));
        let errors = validate_rx(&rx, None, today());
        assert_eq!(
            errors[0].message,
            "must be less than the distance PD (63.5 mm)"
        );
    }

    #[test]
    fn dates_and_prescriber() {
        assert_eq!(
            rx_fields(None, |rx| rx.issued_on = Some(Date(date(2025, 6, 2)))),
            ["issuedOn"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.expires_on = Some(Date(date(2025, 5, 20)))),
            ["expiresOn"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.expires_on = Some(Date(date(2025, 5, 1)))),
            ["expiresOn"]
        );
        // An expiry without an issue date is accepted; so is an expired Rx.
        assert_eq!(
            rx_fields(None, |rx| rx.issued_on = None),
            Vec::<String>::new()
        );
        assert_eq!(
            rx_fields(None, |rx| rx.expires_on = Some(Date(date(2025, 5, 31)))),
            Vec::<String>::new()
        );
        assert_eq!(
            rx_fields(None, |rx| rx.prescriber = Some("x".repeat(201))),
            ["prescriber"]
        );
    }

    #[test]
    fn reports_every_error_at_once() {
        let rx = Rx {
            right: EyeRx {
                add: Some(d("5")),
                prism_horizontal: Some(d("2")),
                distance_pd: Some(d("30")),
                near_pd: Some(d("31")),
                ..eye("-20.13", Some("2"), None)
            },
            left: EyeRx {
                prism_vertical_base: Some(PrismBase::Up),
                ..eye("1", None, Some(90))
            },
            binocular_pd: Some(d("90")),
            near_binocular_pd: Some(d("41")),
            issued_on: Some(Date(date(2026, 1, 1))),
            expires_on: Some(Date(date(2025, 1, 1))),
            prescriber: None,
        };
        let errors = validate_rx(&rx, Some(LensDesign::Progressive), today());
        assert_eq!(
            fields(&errors),
            [
                "right.sphere",
                "right.axis",
                "right.add",
                "right.prismHorizontalBase",
                "right.nearPd",
                "left.axis",
                "left.add",
                "left.prismVerticalBase",
                "binocularPd",
                "issuedOn",
                "expiresOn",
            ]
        );
    }

    #[test]
    fn transposition_example_from_domain() {
        let plus = eye("-3.00", Some("+2.00"), Some(30));
        let minus = minus_cyl(&plus);
        assert_eq!(minus, eye("-1.00", Some("-2.00"), Some(120)));
        assert_eq!(minus.sphere.to_string(), "-1.00");
        assert_eq!(plus_cyl(&minus), plus);
        assert_eq!(spherical_equivalent(&plus), d("-2"));
        assert_eq!(spherical_equivalent(&minus), d("-2"));
        // Axis above 90 goes down; 90 goes to 180.
        assert_eq!(transpose(&eye("1", Some("1"), Some(150))).axis, Some(60));
        assert_eq!(transpose(&eye("1", Some("1"), Some(90))).axis, Some(180));
        assert_eq!(transpose(&eye("1", Some("1"), Some(180))).axis, Some(90));
        // Already minus, or no cylinder: unchanged; other fields carried over.
        let already = EyeRx {
            add: Some(d("2")),
            ..eye("-1", Some("-0.5"), Some(10))
        };
        assert_eq!(minus_cyl(&already), already);
        let sphere_only = eye("-1", Some("0"), None);
        assert_eq!(minus_cyl(&sphere_only), sphere_only);
        assert_eq!(transpose(&sphere_only), sphere_only);
        assert_eq!(spherical_equivalent(&eye("-1", None, None)), d("-1"));
    }

    #[test]
    fn good_fittings_pass() {
        let f = frame();
        assert_eq!(
            validate_fit(LensDesign::Progressive, Some(&f), &fit("18"), &fit("18.5")),
            []
        );
        assert_eq!(
            validate_fit(LensDesign::Bifocal, Some(&f), &fit("12"), &fit("12")),
            []
        );
        // Single vision needs no height, and no frame measurements.
        let none = EyeFit::default();
        assert_eq!(
            validate_fit(LensDesign::SingleVision, None, &none, &none),
            []
        );
        // A height equal to B, and ED at either end.
        let edge = FrameMeasure {
            ed: Some(d("67")),
            ..frame()
        };
        assert_eq!(
            validate_fit(LensDesign::Progressive, Some(&edge), &fit("36"), &fit("14")),
            []
        );
    }

    #[test]
    fn fitting_heights() {
        use LensDesign::*;
        let f = frame();
        let none = EyeFit::default();
        let check = |design, right: &EyeFit, left: &EyeFit| {
            validate_fit(design, Some(&f), right, left)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        for design in [Bifocal, Trifocal, Progressive, Office] {
            assert_eq!(check(design, &none, &fit("18")), ["right.fittingHeight"]);
            assert_eq!(
                check(design, &none, &none),
                ["right.fittingHeight", "left.fittingHeight"]
            );
        }
        assert_eq!(
            check(Bifocal, &fit("0"), &fit("12")),
            ["right.fittingHeight"]
        );
        assert_eq!(
            check(Trifocal, &fit("12"), &fit("-1")),
            ["left.fittingHeight"]
        );
        assert_eq!(
            check(Bifocal, &fit("36.5"), &fit("12")),
            ["right.fittingHeight"]
        );
        assert_eq!(
            check(SingleVision, &fit("36.01"), &none),
            ["right.fittingHeight"]
        );
        assert_eq!(
            check(Office, &fit("18.125"), &fit("18")),
            ["right.fittingHeight"]
        );
        // Progressive: at least 14 mm; bifocal and office accept lower.
        assert_eq!(
            check(Progressive, &fit("18"), &fit("13.5")),
            ["left.fittingHeight"]
        );
        assert_eq!(
            check(Office, &fit("13.5"), &fit("13.5")),
            Vec::<String>::new()
        );
        let errors = validate_fit(Progressive, Some(&f), &fit("18"), &fit("40"));
        assert_eq!(errors[0].message, "at most the frame's B (36 mm)");
        let errors = validate_fit(Progressive, Some(&f), &fit("13"), &fit("18"));
        assert!(errors[0].message.starts_with("at least 14 mm"));
        // Without a frame only the lower bounds apply.
        assert_eq!(validate_fit(Progressive, None, &fit("50"), &fit("50")), []);
    }

    /// The PD fields `validate_pd` refuses for `rx` changed by `change`.
    fn pd_fields(design: Option<LensDesign>, change: impl FnOnce(&mut Rx)) -> Vec<String> {
        let mut rx = progressive();
        change(&mut rx);
        validate_pd(&rx, design)
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn every_job_needs_the_distance_pd() {
        use LensDesign::*;
        let none: Vec<String> = Vec::new();
        let no_pd = |rx: &mut Rx| {
            rx.binocular_pd = None;
            rx.right.distance_pd = None;
            rx.left.distance_pd = None;
        };
        // Binocular, both monos, or all three: enough.
        assert_eq!(pd_fields(Some(SingleVision), |_| {}), none);
        assert_eq!(pd_fields(None, |rx| rx.binocular_pd = None), none);
        assert_eq!(
            pd_fields(Some(SingleVision), |rx| {
                rx.right.distance_pd = None;
                rx.left.distance_pd = None;
            }),
            none
        );
        // No PD at all: refused on the binocular field, whatever the design (or none).
        for design in [None, Some(SingleVision), Some(Reading), Some(Bifocal)] {
            assert_eq!(pd_fields(design, no_pd), ["binocularPd"], "{design:?}");
        }
        let mut rx = progressive();
        no_pd(&mut rx);
        let errors = validate_pd(&rx, Some(SingleVision));
        assert_eq!(
            errors[0].message,
            "the distance PD is required: give binocularPd, or both right.distancePd and \
             left.distancePd"
        );
        // One mono alone: refused on the other eye's.
        let right_only = |rx: &mut Rx| {
            rx.binocular_pd = None;
            rx.left.distance_pd = None;
        };
        assert_eq!(
            pd_fields(Some(SingleVision), right_only),
            ["left.distancePd"]
        );
        assert_eq!(
            pd_fields(Some(SingleVision), |rx| {
                rx.binocular_pd = None;
                rx.right.distance_pd = None;
            }),
            ["right.distancePd"]
        );
        rx = progressive();
        right_only(&mut rx);
        assert_eq!(
            validate_pd(&rx, Some(SingleVision))[0].message,
            "required with right.distancePd (both mono PDs), or give binocularPd"
        );
        // PROGRESSIVE and OFFICE: each eye's own mono PD, a binocular one is not enough.
        for design in [Progressive, Office] {
            assert_eq!(
                pd_fields(Some(design), |rx| rx.left.distance_pd = None),
                ["left.distancePd"]
            );
            assert_eq!(
                pd_fields(Some(design), no_pd),
                ["right.distancePd", "left.distancePd"]
            );
        }
        assert_eq!(
            pd_fields(Some(Bifocal), |rx| rx.left.distance_pd = None),
            none
        );
    }

    #[test]
    fn multifocal_and_reading_need_the_near_pd() {
        use LensDesign::*;
        let none: Vec<String> = Vec::new();
        let no_near = |rx: &mut Rx| {
            rx.near_binocular_pd = None;
            rx.right.near_pd = None;
            rx.left.near_pd = None;
        };
        for design in [Bifocal, Trifocal, Progressive, Office, Reading] {
            assert_eq!(
                pd_fields(Some(design), no_near),
                ["nearBinocularPd"],
                "{design}"
            );
            assert_eq!(
                pd_fields(Some(design), |rx| {
                    rx.near_binocular_pd = None;
                    rx.right.near_pd = None;
                }),
                ["right.nearPd"],
                "{design}"
            );
            assert_eq!(
                pd_fields(Some(design), |rx| rx.near_binocular_pd = None),
                none
            );
            assert_eq!(
                pd_fields(Some(design), |rx| {
                    rx.right.near_pd = None;
                    rx.left.near_pd = None;
                }),
                none
            );
        }
        // Single vision, or a design not known yet: no near PD needed.
        assert_eq!(pd_fields(Some(SingleVision), no_near), none);
        assert_eq!(pd_fields(None, no_near), none);
        let mut rx = progressive();
        no_near(&mut rx);
        assert_eq!(
            validate_pd(&rx, Some(Reading))[0].message,
            "for READING lenses the near PD is required: give nearBinocularPd, or both \
             right.nearPd and left.nearPd"
        );
    }

    #[test]
    fn binocular_pd_must_match_the_monos() {
        let none: Vec<String> = Vec::new();
        // 32.0 + 31.5 = 63.5: up to 1 mm either way is accepted.
        for pd in ["62.5", "63", "64", "64.5"] {
            assert_eq!(
                rx_fields(None, |rx| rx.binocular_pd = Some(d(pd))),
                none,
                "{pd}"
            );
        }
        assert_eq!(
            rx_fields(None, |rx| rx.binocular_pd = Some(d("65"))),
            ["binocularPd", "right.distancePd", "left.distancePd"]
        );
        let mut rx = single_vision();
        rx.binocular_pd = Some(d("62"));
        let errors = validate_rx(&rx, None, today());
        assert_eq!(
            errors[0].message,
            "62 mm differs by more than 1 mm from right.distancePd + left.distancePd \
             (32.0 + 31.5 = 63.5 mm)"
        );
        assert_eq!(
            errors[1].message,
            "with left.distancePd, adds up to 63.5 mm: more than 1 mm from binocularPd (62 mm)"
        );
        // The near PDs likewise: 30.5 + 30 = 60.5.
        assert_eq!(
            rx_fields(None, |rx| rx.near_binocular_pd = Some(d("59"))),
            ["nearBinocularPd", "right.nearPd", "left.nearPd"]
        );
        // Not compared while a mono is missing or any of the three is off its grid.
        assert_eq!(
            rx_fields(None, |rx| {
                rx.binocular_pd = Some(d("70"));
                rx.left.distance_pd = None;
            }),
            none
        );
        assert_eq!(
            rx_fields(None, |rx| {
                rx.binocular_pd = Some(d("70"));
                rx.left.distance_pd = Some(d("31.3"));
            }),
            ["left.distancePd"]
        );
        assert_eq!(
            rx_fields(None, |rx| rx.binocular_pd = Some(d("90"))),
            ["binocularPd"]
        );
    }

    #[test]
    fn frame_measurements() {
        let none = EyeFit::default();
        let check = |frame: FrameMeasure| {
            validate_fit(LensDesign::SingleVision, Some(&frame), &none, &none)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            check(FrameMeasure {
                a: d("29.99"),
                ed: None,
                ..frame()
            }),
            ["frame.a"]
        );
        assert_eq!(
            check(FrameMeasure {
                a: d("70.5"),
                ed: None,
                ..frame()
            }),
            ["frame.a"]
        );
        assert_eq!(
            check(FrameMeasure {
                b: d("14"),
                ..frame()
            }),
            ["frame.b"]
        );
        assert_eq!(
            check(FrameMeasure {
                b: d("60.01"),
                ..frame()
            }),
            ["frame.b"]
        );
        assert_eq!(
            check(FrameMeasure {
                dbl: d("9.5"),
                ..frame()
            }),
            ["frame.dbl"]
        );
        assert_eq!(
            check(FrameMeasure {
                dbl: d("30.5"),
                ..frame()
            }),
            ["frame.dbl"]
        );
        assert_eq!(
            check(FrameMeasure {
                dbl: d("18.005"),
                ..frame()
            }),
            ["frame.dbl"]
        );
        assert_eq!(
            check(FrameMeasure {
                ed: Some(d("51.5")),
                ..frame()
            }),
            ["frame.ed"]
        );
        assert_eq!(
            check(FrameMeasure {
                ed: Some(d("67.01")),
                ..frame()
            }),
            ["frame.ed"]
        );
        assert_eq!(
            check(FrameMeasure {
                ed: Some(d("52")),
                ..frame()
            }),
            Vec::<String>::new()
        );
        // Several at once, fitting heights included.
        let bad = FrameMeasure {
            a: d("80"),
            b: d("10"),
            dbl: d("5"),
            ed: Some(d("79")),
            trace: None,
        };
        let errors = validate_fit(LensDesign::Progressive, Some(&bad), &none, &fit("5"));
        assert_eq!(
            fields(&errors),
            [
                "frame.a",
                "frame.b",
                "frame.dbl",
                "frame.ed",
                "right.fittingHeight",
                "left.fittingHeight",
            ]
        );
    }

    #[test]
    fn minimum_blank() {
        // 52[]18, ED 54.5, mono PD 32: decentration (52 + 18 - 64) / 2 = 3.
        assert_eq!(min_blank_mm(&frame(), d("32")), Some(d("62.5")));
        // Decentration 2.75 for mono PD 32.25.
        assert_eq!(min_blank_mm(&frame(), d("32.25")), Some(d("62")));
        // A pupil outside the box centre (mono PD 36 > 35) still needs extra blank.
        assert_eq!(min_blank_mm(&frame(), d("36")), Some(d("58.5")));
        assert_eq!(min_blank_mm(&frame(), d("35")), Some(d("56.5")));
        // 52[]18 ED 54.5 with mono PD 32 needs 62.5; a wide frame with a narrow PD does not fit.
        let rx = Rx {
            right: EyeRx {
                distance_pd: Some(d("32")),
                ..EyeRx::default()
            },
            left: EyeRx::default(),
            binocular_pd: Some(d("50")),
            ..Rx::default()
        };
        assert!(validate_blank(&frame(), &rx).is_empty());
        let wide = FrameMeasure {
            a: d("62"),
            dbl: d("22"),
            ed: Some(d("70")),
            ..frame()
        };
        // Right: 70 + 2 x |62 + 22 - 64| / 2 + 2 = 92; left (PD 25): 70 + 34 + 2 = 106.
        let errors = validate_blank(&wide, &rx);
        assert_eq!(fields(&errors), ["frame.ed", "frame.ed"]);
        assert!(
            errors[0].message.contains("right lens needs a 92 mm"),
            "{errors:?}"
        );
        let no_ed = FrameMeasure {
            ed: None,
            ..frame()
        };
        assert_eq!(min_blank_mm(&no_ed, d("32")), None);
    }

    #[test]
    fn serde_and_graphql_names() {
        let json = serde_json::to_value(progressive()).unwrap();
        assert_eq!(json["right"]["distancePd"], "32.0");
        assert_eq!(json["right"]["prismHorizontalBase"], "IN");
        assert_eq!(json["nearBinocularPd"], "60.5");
        assert_eq!(json["issuedOn"], "2025-05-20");
        let back: Rx = serde_json::from_value(json).unwrap();
        assert_eq!(back, progressive());
        let minimal: Rx =
            serde_json::from_str(r#"{"right":{"sphere":"-1.00"},"left":{"sphere":"0"}}"#).unwrap();
        assert_eq!(minimal.right.sphere, d("-1"));
        assert_eq!(
            <EyeRx as async_graphql::InputType>::type_name(),
            "EyeRxInput"
        );
        assert_eq!(<Rx as async_graphql::InputType>::type_name(), "RxInput");
        assert_eq!(<Rx as async_graphql::OutputType>::type_name(), "Rx");
        assert_eq!(
            <FrameMeasure as async_graphql::InputType>::type_name(),
            "FrameMeasureInput"
        );
        assert_eq!(
            <EyeFit as async_graphql::InputType>::type_name(),
            "EyeFitInput"
        );
    }

    /// A sphere on the 0.25 grid, -20..+20.
    fn sphere() -> impl Strategy<Value = Decimal> {
        (-80i64..=80).prop_map(|q| Decimal::new(q * 25, 2))
    }

    /// A positive cylinder on the 0.25 grid, +0.25..+10.
    fn plus_cylinder() -> impl Strategy<Value = Decimal> {
        (1i64..=40).prop_map(|q| Decimal::new(q * 25, 2))
    }

    /// Any eye: cylinder absent, 0, positive or negative, with a valid axis when present.
    fn any_eye() -> impl Strategy<Value = EyeRx> {
        (sphere(), -40i64..=40, 1i32..=180, any::<bool>()).prop_map(
            |(sphere, cyl, axis, absent)| {
                let cylinder = Decimal::new(cyl * 25, 2);
                EyeRx {
                    sphere,
                    cylinder: (!absent).then_some(cylinder),
                    axis: (!absent && !cylinder.is_zero()).then_some(axis),
                    ..EyeRx::default()
                }
            },
        )
    }

    proptest! {
        #[test]
        fn plus_cyl_round_trips(sphere in sphere(), cyl in plus_cylinder(), axis in 1i32..=180) {
            let plus = EyeRx { sphere, cylinder: Some(cyl), axis: Some(axis), ..EyeRx::default() };
            let minus = minus_cyl(&plus);
            prop_assert!(minus.cylinder.unwrap() < Decimal::ZERO);
            prop_assert!((1..=180).contains(&minus.axis.unwrap()));
            prop_assert_eq!(&plus_cyl(&minus), &plus);
            prop_assert_eq!(&transpose(&transpose(&plus)), &plus);
        }

        #[test]
        fn minus_cyl_is_never_plus_and_keeps_the_equivalent(eye in any_eye()) {
            let minus = minus_cyl(&eye);
            prop_assert!(minus.cylinder.is_none_or(|c| c <= Decimal::ZERO));
            prop_assert_eq!(minus_cyl(&minus), minus.clone());
            prop_assert_eq!(spherical_equivalent(&minus), spherical_equivalent(&eye));
            prop_assert_eq!(spherical_equivalent(&transpose(&eye)), spherical_equivalent(&eye));
            prop_assert_eq!(transpose(&transpose(&eye)), eye);
        }
    }
}
