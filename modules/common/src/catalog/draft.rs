//! A catalog item as a supplier enters it (GraphQL input or CSV row) and its validation
//! into an [`ItemDraft`] ready to store. The API and the CSV import both call [`validate`],
//! so an item is accepted or refused for the same reasons whichever way it arrives.
//!
//! Decimals are checked with exact decimal arithmetic (never floats). Accepted values are
//! stored in a canonical form: dioptres with 2 decimals (`-2` → `-2.00`), contact-lens
//! millimetres with 1 decimal (`14` → `14.0`), text trimmed with inner runs of whitespace
//! collapsed to one space.

use std::collections::HashSet;
use std::fmt;
use std::ops::RangeInclusive;

use crate::grid::Grid;
use async_graphql::{Enum, InputObject, SimpleObject};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::gtin::check_gtin;

/// A closed list of codes, spelt the same in GraphQL, in the stored JSON and in a CSV file.
pub(crate) trait Code: Copy + 'static {
    /// Every value, in declaration order.
    fn all() -> &'static [Self];
    /// The value's code, e.g. `SINGLE_VISION`.
    fn code(self) -> &'static str;

    /// Reads a code ignoring case, with spaces or hyphens read as underscores
    /// ("single vision", "Single-Vision" → `SINGLE_VISION`).
    fn from_code(s: &str) -> Option<Self> {
        let key = s
            .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("_")
            .to_ascii_uppercase();
        Self::all().iter().copied().find(|v| v.code() == key)
    }

    /// All codes for a message: "A, B or C".
    fn codes() -> String {
        let codes: Vec<&str> = Self::all().iter().map(|v| v.code()).collect();
        match codes.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => codes.join(""),
        }
    }
}

/// Declares a [`Code`] enum: a GraphQL enum whose serde names are its GraphQL names, with
/// inherent `ALL`, `as_str` and `parse`.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:tt,)+ }
    ) => {
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* #[graphql(name = $code)] #[serde(rename = $code)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The value's code as GraphQL and the stored JSON spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// Reads a code ignoring case, with spaces or hyphens read as underscores.
            pub fn parse(s: &str) -> Option<Self> {
                <Self as Code>::from_code(s)
            }
        }

        impl Code for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }
            fn code(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum! {
    /// What kind of product a catalog item is; decides which attribute block it carries.
    #[graphql(name = "CatalogCategory")]
    Category {
        /// A spectacle frame (one item per model x colour x eye size).
        Frame = "FRAME",
        /// A finished or stock spectacle lens.
        SpectacleLens = "SPECTACLE_LENS",
        /// A semi-finished lens blank, surfaced by a lab.
        LensBlank = "LENS_BLANK",
        /// A contact lens (one item per brand x BC x DIA x power x pack).
        ContactLens = "CONTACT_LENS",
        /// Anything else: cases, cloths, solutions, tools, spare parts.
        Sundry = "SUNDRY",
    }
}

impl Category {
    /// The category a word of a question names ("frames", "blank", "contacts",
    /// "LENS_BLANK"), if any: how the assistant's searches read product words.
    pub fn from_word(word: &str) -> Option<Category> {
        let code = word.trim().to_uppercase().replace([' ', '-'], "_");
        if let Some(c) = Category::parse(&code) {
            return Some(c);
        }
        Some(match code.trim_end_matches('S') {
            "FRAME" => Category::Frame,
            "BLANK" | "LENS_BLANK" => Category::LensBlank,
            "CONTACT" | "CONTACT_LENS" | "CONTACT_LENSE" => Category::ContactLens,
            "SPECTACLE_LENS" | "SPECTACLE_LENSE" => Category::SpectacleLens,
            "SUNDRY" | "SUNDRIE" => Category::Sundry,
            _ => return None,
        })
    }

    /// The input field holding this category's attributes (`None` for sundries, which
    /// have none), e.g. `spectacleLens`.
    pub fn attributes_field(self) -> Option<&'static str> {
        match self {
            Self::Frame => Some("frame"),
            Self::SpectacleLens => Some("spectacleLens"),
            Self::LensBlank => Some("lensBlank"),
            Self::ContactLens => Some("contactLens"),
            Self::Sundry => None,
        }
    }
}

code_enum! {
    /// How the frame holds the lenses.
    FrameType {
        /// A full rim around each lens.
        FullRim = "FULL_RIM",
        /// A rim along the top only; the lens is held below by a nylon cord (supra).
        SemiRimless = "SEMI_RIMLESS",
        /// No rim: the lenses are drilled and screwed to the bridge and temples.
        Rimless = "RIMLESS",
    }
}

code_enum! {
    /// The optical design of a lens or blank.
    LensDesign {
        /// One power over the whole lens.
        SingleVision = "SINGLE_VISION",
        /// Two zones (distance and near) with a visible segment.
        Bifocal = "BIFOCAL",
        /// Three zones (distance, intermediate and near) with visible segments.
        Trifocal = "TRIFOCAL",
        /// Varifocal: the power changes gradually from distance to near, with no line.
        Progressive = "PROGRESSIVE",
        /// Single vision for near work only.
        Reading = "READING",
        /// Occupational: intermediate and near vision (screens, desks).
        Office = "OFFICE",
    }
}

/// Single vision: the default only so that attribute structs can derive `Default`.
impl Default for LensDesign {
    fn default() -> Self {
        Self::SingleVision
    }
}

code_enum! {
    /// A treatment or coating included in a spectacle lens.
    LensTreatment {
        /// Scratch-resistant hard coating.
        HardCoat = "HARD_COAT",
        /// Anti-reflective (AR) multi-coating.
        AntiReflective = "ANTI_REFLECTIVE",
        /// Filters part of the blue light (screens).
        BlueFilter = "BLUE_FILTER",
        /// Darkens in UV light, clears indoors.
        Photochromic = "PHOTOCHROMIC",
        /// A fixed tint (sun or fashion).
        Tint = "TINT",
        /// Polarised: cuts glare reflected from flat surfaces.
        Polarised = "POLARISED",
    }
}

code_enum! {
    /// How long a contact lens is worn before it is replaced.
    WearSchedule {
        /// A new pair every day (daily disposables).
        Daily = "DAILY",
        /// Replaced every two weeks.
        TwoWeekly = "TWO_WEEKLY",
        /// Replaced every month.
        Monthly = "MONTHLY",
        /// Extended wear: may be worn overnight, replaced as the maker says.
        Extended = "EXTENDED",
    }
}

/// A frame's boxing measurements (ISO 8624, printed as `52[]18-140`) and description.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "FrameAttributesInput")]
#[serde(rename_all = "camelCase")]
pub struct FrameAttributes {
    /// Model name or number.
    pub model: Option<String>,
    /// Colour name or code.
    pub colour: Option<String>,
    /// Lens width (A) in mm, 30..70.
    pub eye_size: i32,
    /// Distance between lenses (DBL) in mm, 10..30.
    pub bridge: i32,
    /// Temple (arm) length in mm, 110..160.
    pub temple_length: i32,
    /// Lens height (B) in mm, 15..60.
    pub b_size: Option<i32>,
    /// Full rim, semi-rimless or rimless.
    pub frame_type: Option<FrameType>,
    /// Frame material, e.g. acetate, titanium.
    pub material: Option<String>,
}

/// A spectacle lens: design, material and the power range it is made in.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "SpectacleLensAttributesInput")]
#[serde(rename_all = "camelCase")]
pub struct SpectacleLensAttributes {
    /// Optical design.
    pub design: LensDesign,
    /// Refractive index: 1.50, 1.53, 1.56, 1.59, 1.60, 1.67 or 1.74.
    pub index: Decimal,
    /// Material name, e.g. CR-39, Trivex, polycarbonate.
    pub material: Option<String>,
    /// Treatments included, each at most once.
    #[serde(default)]
    pub treatments: Vec<LensTreatment>,
    /// Lowest sphere made, dioptres, -20.00..+20.00 in 0.25 steps.
    pub sphere_min: Decimal,
    /// Highest sphere made, dioptres, -20.00..+20.00 in 0.25 steps, at least `sphereMin`.
    pub sphere_max: Decimal,
    /// Largest cylinder made, dioptres, -6.00..+6.00 in 0.25 steps.
    pub cylinder_max: Option<Decimal>,
    /// Uncut diameter in mm, 50..90.
    pub diameter: Option<i32>,
}

/// A semi-finished lens blank.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "LensBlankAttributesInput")]
#[serde(rename_all = "camelCase")]
pub struct LensBlankAttributes {
    /// Refractive index: 1.50, 1.53, 1.56, 1.59, 1.60, 1.67 or 1.74.
    pub index: Decimal,
    /// Material name, e.g. CR-39, Trivex, polycarbonate.
    pub material: Option<String>,
    /// Optical design.
    pub design: LensDesign,
    /// Front base curve in dioptres, 0.25..12.00 in 0.25 steps.
    pub base_curve: Decimal,
    /// Diameter in mm, 50..90.
    pub diameter: i32,
}

/// A contact lens: fit (base curve, diameter), power and pack.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[graphql(input_name = "ContactLensAttributesInput")]
#[serde(rename_all = "camelCase")]
pub struct ContactLensAttributes {
    /// Base curve in mm, 8.0..10.0 in 0.1 steps.
    pub base_curve: Decimal,
    /// Diameter in mm, 13.0..15.0 in 0.1 steps.
    pub diameter: Decimal,
    /// Sphere power in dioptres, -20.00..+20.00 in 0.25 steps.
    pub power: Decimal,
    /// Cylinder of a toric lens in dioptres, -6.00..+6.00 in 0.25 steps, not 0.
    pub cylinder: Option<Decimal>,
    /// Cylinder axis in degrees, 1..180; given exactly when `cylinder` is.
    pub axis: Option<i32>,
    /// Near addition of a multifocal lens in dioptres, +0.75..+3.50 in 0.25 steps.
    pub add: Option<Decimal>,
    /// Lenses per pack, 1..360.
    pub pack_size: i32,
    /// Replacement schedule.
    pub wear_schedule: Option<WearSchedule>,
}

/// A catalog item as entered: a CSV row, a product's catalog fields, or (with its price
/// as one `MoneyInput`) `createCatalogItem`'s input. Exactly the attribute block of its
/// category is given (none for sundries). Errors name `price` and `currency` apart.
#[derive(InputObject, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogItemInput {
    /// The supplier's article number: 1..64 letters, digits or `- _ . /`.
    pub sku: String,
    /// UPC-A, EAN-13, EAN-8 or GTIN-14, with a correct check digit.
    pub gtin: Option<String>,
    /// Product name, 1..200 characters.
    pub name: String,
    /// Brand, at most 100 characters.
    pub brand: Option<String>,
    /// What kind of product this is.
    pub category: Category,
    /// Unit price, at least 0, at most 4 decimal places.
    pub price: Decimal,
    /// ISO 4217 currency code, e.g. EUR (any case).
    pub currency: String,
    /// Smallest quantity per order, 1..100000 (default 1).
    pub min_order_quantity: Option<i32>,
    /// Days between order and dispatch, 0..365 (default 0).
    pub lead_time_days: Option<i32>,
    /// The item is sold in multiples of this many units (its pack or carton), 1..10000
    /// (default 1).
    pub order_multiple: Option<i32>,
    /// Whether the item can be ordered (default true).
    pub active: Option<bool>,
    /// Attributes of a FRAME item.
    pub frame: Option<FrameAttributes>,
    /// Attributes of a SPECTACLE_LENS item.
    pub spectacle_lens: Option<SpectacleLensAttributes>,
    /// Attributes of a LENS_BLANK item.
    pub lens_blank: Option<LensBlankAttributes>,
    /// Attributes of a CONTACT_LENS item.
    pub contact_lens: Option<ContactLensAttributes>,
}

/// The validated attributes of an item, one variant per category.
#[derive(Clone, Debug, PartialEq)]
pub enum Attributes {
    Frame(FrameAttributes),
    SpectacleLens(SpectacleLensAttributes),
    LensBlank(LensBlankAttributes),
    ContactLens(ContactLensAttributes),
    Sundry,
}

impl Attributes {
    /// The category these attributes belong to.
    pub fn category(&self) -> Category {
        match self {
            Self::Frame(_) => Category::Frame,
            Self::SpectacleLens(_) => Category::SpectacleLens,
            Self::LensBlank(_) => Category::LensBlank,
            Self::ContactLens(_) => Category::ContactLens,
            Self::Sundry => Category::Sundry,
        }
    }

    /// The attributes as a JSON object (camelCase keys, decimals as strings) for a TEXT
    /// column; `{}` for sundries.
    pub fn to_json(&self) -> String {
        let json = match self {
            Self::Frame(a) => serde_json::to_string(a),
            Self::SpectacleLens(a) => serde_json::to_string(a),
            Self::LensBlank(a) => serde_json::to_string(a),
            Self::ContactLens(a) => serde_json::to_string(a),
            Self::Sundry => return "{}".to_owned(),
        };
        // Plain structs of strings, numbers and enums always serialise.
        json.unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads the attributes a row stores beside its category code (`FRAME`, …); `None`
    /// when either does not read.
    pub fn stored(category: &str, json: &str) -> Option<Attributes> {
        Category::parse(category).and_then(|c| Self::from_json(c, json))
    }

    /// The frame block, when these are a frame's.
    pub fn frame(self) -> Option<FrameAttributes> {
        match self {
            Self::Frame(a) => Some(a),
            _ => None,
        }
    }

    /// The spectacle lens block, when these are a spectacle lens's.
    pub fn spectacle_lens(self) -> Option<SpectacleLensAttributes> {
        match self {
            Self::SpectacleLens(a) => Some(a),
            _ => None,
        }
    }

    /// The lens blank block, when these are a lens blank's.
    pub fn lens_blank(self) -> Option<LensBlankAttributes> {
        match self {
            Self::LensBlank(a) => Some(a),
            _ => None,
        }
    }

    /// The contact lens block, when these are a contact lens's.
    pub fn contact_lens(self) -> Option<ContactLensAttributes> {
        match self {
            Self::ContactLens(a) => Some(a),
            _ => None,
        }
    }

    /// Reads attributes stored by [`Attributes::to_json`] for an item of `category`;
    /// `None` if the JSON does not fit that category.
    pub fn from_json(category: Category, json: &str) -> Option<Attributes> {
        match category {
            Category::Frame => serde_json::from_str(json).ok().map(Self::Frame),
            Category::SpectacleLens => serde_json::from_str(json).ok().map(Self::SpectacleLens),
            Category::LensBlank => serde_json::from_str(json).ok().map(Self::LensBlank),
            Category::ContactLens => serde_json::from_str(json).ok().map(Self::ContactLens),
            Category::Sundry => Some(Self::Sundry),
        }
    }
}

/// A validated catalog item, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemDraft {
    pub sku: String,
    /// Digits only (spaces and hyphens removed).
    pub gtin: Option<String>,
    pub name: String,
    pub brand: Option<String>,
    pub category: Category,
    /// Price in ten-thousandths of the currency unit (12.50 → 125000).
    pub price_units: i64,
    /// Upper-case ISO 4217 code.
    pub currency: String,
    pub min_order_quantity: i32,
    pub lead_time_days: i32,
    pub order_multiple: i32,
    pub active: bool,
    pub attributes: Attributes,
}

pub use ils_kernel::FieldError;

/// The largest accepted price.
fn max_price() -> Decimal {
    Decimal::new(9_999_999_999_999, 4)
}

/// Checks every rule and returns the item ready to store, or every refused field.
pub fn validate(input: CatalogItemInput) -> Result<ItemDraft, Vec<FieldError>> {
    let mut errors = Errors::default();

    let sku = input.sku.trim().to_owned();
    if sku.is_empty() {
        errors.add("sku", "required");
    } else if sku.chars().count() > 64 {
        errors.add("sku", "at most 64 characters");
    } else if !sku
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        errors.add("sku", "only letters A-Z, digits and - _ . / are allowed");
    }

    let gtin = match input.gtin.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(gtin) => check_gtin(gtin)
            .map_err(|message| errors.add("gtin", message))
            .ok(),
    };

    let name = clean_text(&input.name);
    if name.is_empty() {
        errors.add("name", "required");
    } else if name.chars().count() > 200 {
        errors.add("name", "at most 200 characters");
    }
    let brand = errors.optional_text("brand", input.brand.as_deref(), 100);

    let price = input.price;
    let mut price_units = 0;
    if price.is_sign_negative() && !price.is_zero() {
        errors.add("price", "must not be negative");
    } else if price.normalize().scale() > 4 {
        errors.add("price", "at most 4 decimal places");
    } else if price > max_price() {
        errors.add("price", "at most 999999999.9999");
    } else {
        match decimal_to_units(price) {
            Some(units) => price_units = units,
            None => errors.add("price", "at most 999999999.9999"),
        }
    }

    let currency = crate::money::currency(&input.currency)
        .map_err(|message| errors.add("currency", message))
        .unwrap_or_default();

    let min_order_quantity = input.min_order_quantity.unwrap_or(1);
    errors.int_in("minOrderQuantity", min_order_quantity, 1..=100_000, "");
    let lead_time_days = input.lead_time_days.unwrap_or(0);
    errors.int_in("leadTimeDays", lead_time_days, 0..=365, " days");
    let order_multiple = input.order_multiple.unwrap_or(1);
    errors.int_in("orderMultiple", order_multiple, 1..=10_000, "");

    let category = input.category;
    let blocks = [
        (Category::Frame, input.frame.is_some()),
        (Category::SpectacleLens, input.spectacle_lens.is_some()),
        (Category::LensBlank, input.lens_blank.is_some()),
        (Category::ContactLens, input.contact_lens.is_some()),
    ];
    for (block, given) in blocks {
        if let Some(field) = block
            .attributes_field()
            .filter(|_| given && block != category)
        {
            errors.add(field, format!("only for {block} items"));
        }
    }
    let attributes = match category {
        Category::Frame => input.frame.map(|a| Attributes::Frame(errors.frame(a))),
        Category::SpectacleLens => input
            .spectacle_lens
            .map(|a| Attributes::SpectacleLens(errors.spectacle_lens(a))),
        Category::LensBlank => input
            .lens_blank
            .map(|a| Attributes::LensBlank(errors.lens_blank(a))),
        Category::ContactLens => input
            .contact_lens
            .map(|a| Attributes::ContactLens(errors.contact_lens(a))),
        Category::Sundry => Some(Attributes::Sundry),
    };
    if attributes.is_none()
        && let Some(field) = category.attributes_field()
    {
        errors.add(field, format!("required for {category} items"));
    }

    match attributes {
        Some(attributes) if errors.is_empty() => Ok(ItemDraft {
            sku,
            gtin,
            name,
            brand,
            category,
            price_units,
            currency,
            min_order_quantity,
            lead_time_days,
            order_multiple,
            active: input.active.unwrap_or(true),
            attributes,
        }),
        _ => Err(errors.0.into_vec()),
    }
}

/// A price in ten-thousandths of the unit as a decimal with at least 2 decimal places:
/// 125000 → 12.50, 1234567 → 123.4567, 0 → 0.00.
pub fn price_to_decimal(units: i64) -> Decimal {
    let mut price = Decimal::new(units, 4).normalize();
    if price.scale() < 2 {
        price.rescale(2);
    }
    price
}

/// A decimal in ten-thousandths (12.5 → 125000); `None` if it has more than 4 decimal
/// places or does not fit an `i64`.
pub fn decimal_to_units(d: Decimal) -> Option<i64> {
    let units = d.checked_mul(Decimal::from(10_000))?;
    if !units.fract().is_zero() {
        return None;
    }
    units.to_i64()
}

/// The text searched for an item: "sku name brand", lower-cased.
pub fn search_text(draft: &ItemDraft) -> String {
    let mut parts = vec![draft.sku.as_str(), draft.name.as_str()];
    parts.extend(draft.brand.as_deref());
    crate::search::text_of(parts)
}

/// Trims and collapses inner whitespace (including line breaks) to single spaces.
fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The refractive indices lenses and blanks are made in, in hundredths.
const INDICES: [i64; 7] = [150, 153, 156, 159, 160, 167, 174];

impl Grid {
    /// Sphere or power in dioptres: -20.00..+20.00 in 0.25 steps.
    const POWER: Grid = Grid::dioptres(-2000, 2000);
    /// Cylinder in dioptres: -6.00..+6.00 in 0.25 steps.
    const CYLINDER: Grid = Grid::dioptres(-600, 600);
    /// Near addition in dioptres: +0.75..+3.50 in 0.25 steps.
    const ADD: Grid = Grid::dioptres(75, 350);
    /// Lens blank base curve in dioptres: 0.25..12.00 in 0.25 steps (every nominal base
    /// curve of the usual blank series falls on this grid).
    const BLANK_BASE_CURVE: Grid = Grid {
        signed: false,
        ..Grid::dioptres(25, 1200)
    };
    /// Contact lens base curve in mm: 8.0..10.0 in 0.1 steps.
    const CL_BASE_CURVE: Grid = Grid::tenths_mm(80, 100);
    /// Contact lens diameter in mm: 13.0..15.0 in 0.1 steps.
    const CL_DIAMETER: Grid = Grid::tenths_mm(130, 150);
}

/// `value` with exactly `scale` decimal places and no negative zero; only for values
/// already known to have at most `scale` places.
fn canonical(value: Decimal, scale: u32) -> Decimal {
    let mut d = value.normalize();
    if d.is_zero() {
        d = Decimal::ZERO;
    }
    d.rescale(scale);
    d
}

ils_kernel::field_checks!(
    /// The catalog's checks, adding to the one accumulator of field errors.
    Errors
);

impl Errors {
    fn int_in(&mut self, field: &str, value: i32, range: RangeInclusive<i32>, unit: &str) {
        self.0.in_range(field, value, range, unit);
    }

    /// Checks a value against a grid; returns it in canonical form when it fits.
    fn on_grid(&mut self, field: &str, value: Decimal, grid: &Grid) -> Decimal {
        if grid.contains(value) {
            canonical(value, grid.scale)
        } else {
            self.add(field, grid.message());
            value
        }
    }

    fn index(&mut self, field: &str, value: Decimal) -> Decimal {
        if INDICES.iter().any(|i| Decimal::new(*i, 2) == value) {
            canonical(value, 2)
        } else {
            self.add(field, "one of 1.50, 1.53, 1.56, 1.59, 1.60, 1.67, 1.74");
            value
        }
    }

    /// Cleans an optional text; empty becomes `None`.
    fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let text = clean_text(value?);
        if text.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
        }
        (!text.is_empty()).then_some(text)
    }

    fn frame(&mut self, a: FrameAttributes) -> FrameAttributes {
        self.int_in("frame.eyeSize", a.eye_size, 30..=70, " mm");
        self.int_in("frame.bridge", a.bridge, 10..=30, " mm");
        self.int_in("frame.templeLength", a.temple_length, 110..=160, " mm");
        if let Some(b) = a.b_size {
            self.int_in("frame.bSize", b, 15..=60, " mm");
        }
        FrameAttributes {
            model: self.optional_text("frame.model", a.model.as_deref(), 100),
            colour: self.optional_text("frame.colour", a.colour.as_deref(), 100),
            material: self.optional_text("frame.material", a.material.as_deref(), 100),
            ..a
        }
    }

    fn spectacle_lens(&mut self, a: SpectacleLensAttributes) -> SpectacleLensAttributes {
        let index = self.index("spectacleLens.index", a.index);
        let material = self.optional_text("spectacleLens.material", a.material.as_deref(), 100);
        let mut seen = HashSet::new();
        for t in &a.treatments {
            if !seen.insert(*t) {
                self.add("spectacleLens.treatments", format!("{t} is listed twice"));
            }
        }
        let sphere_min = self.on_grid("spectacleLens.sphereMin", a.sphere_min, &Grid::POWER);
        let sphere_max = self.on_grid("spectacleLens.sphereMax", a.sphere_max, &Grid::POWER);
        if sphere_min > sphere_max {
            self.add(
                "spectacleLens.sphereMax",
                "must not be below the minimum sphere",
            );
        }
        let cylinder_max = a
            .cylinder_max
            .map(|c| self.on_grid("spectacleLens.cylinderMax", c, &Grid::CYLINDER));
        if let Some(d) = a.diameter {
            self.int_in("spectacleLens.diameter", d, 50..=90, " mm");
        }
        SpectacleLensAttributes {
            index,
            material,
            sphere_min,
            sphere_max,
            cylinder_max,
            ..a
        }
    }

    fn lens_blank(&mut self, a: LensBlankAttributes) -> LensBlankAttributes {
        self.int_in("lensBlank.diameter", a.diameter, 50..=90, " mm");
        LensBlankAttributes {
            index: self.index("lensBlank.index", a.index),
            material: self.optional_text("lensBlank.material", a.material.as_deref(), 100),
            base_curve: self.on_grid("lensBlank.baseCurve", a.base_curve, &Grid::BLANK_BASE_CURVE),
            ..a
        }
    }

    fn contact_lens(&mut self, a: ContactLensAttributes) -> ContactLensAttributes {
        let base_curve = self.on_grid("contactLens.baseCurve", a.base_curve, &Grid::CL_BASE_CURVE);
        let diameter = self.on_grid("contactLens.diameter", a.diameter, &Grid::CL_DIAMETER);
        let power = self.on_grid("contactLens.power", a.power, &Grid::POWER);
        let cylinder = match a.cylinder {
            Some(c) if c.is_zero() => {
                self.add(
                    "contactLens.cylinder",
                    "must not be 0 (leave it empty for a spherical lens)",
                );
                Some(c)
            }
            Some(c) => Some(self.on_grid("contactLens.cylinder", c, &Grid::CYLINDER)),
            None => None,
        };
        match (cylinder.is_some_and(|c| !c.is_zero()), a.axis) {
            (true, None) => self.add("contactLens.axis", "required with a cylinder"),
            (false, Some(_)) => self.add("contactLens.axis", "only with a cylinder"),
            (true, Some(axis)) => self.int_in("contactLens.axis", axis, 1..=180, " degrees"),
            (false, None) => {}
        }
        let add = a
            .add
            .map(|add| self.on_grid("contactLens.add", add, &Grid::ADD));
        self.int_in("contactLens.packSize", a.pack_size, 1..=360, "");
        ContactLensAttributes {
            base_curve,
            diameter,
            power,
            cylinder,
            add,
            ..a
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn input(category: Category) -> CatalogItemInput {
        CatalogItemInput {
            sku: "RB-5154-2000-49".to_owned(),
            gtin: None,
            name: "Clubmaster".to_owned(),
            brand: Some("Ray-Ban".to_owned()),
            category,
            price: dec("89.90"),
            currency: "EUR".to_owned(),
            min_order_quantity: None,
            lead_time_days: None,
            order_multiple: None,
            active: None,
            frame: None,
            spectacle_lens: None,
            lens_blank: None,
            contact_lens: None,
        }
    }

    fn frame() -> FrameAttributes {
        FrameAttributes {
            model: Some("RB5154".to_owned()),
            colour: Some("Black".to_owned()),
            eye_size: 49,
            bridge: 21,
            temple_length: 140,
            b_size: Some(40),
            frame_type: Some(FrameType::FullRim),
            material: Some("acetate".to_owned()),
        }
    }

    fn spectacle_lens() -> SpectacleLensAttributes {
        SpectacleLensAttributes {
            design: LensDesign::Progressive,
            index: dec("1.6"),
            material: None,
            treatments: vec![LensTreatment::HardCoat, LensTreatment::AntiReflective],
            sphere_min: dec("-8"),
            sphere_max: dec("+6.0"),
            cylinder_max: Some(dec("-4")),
            diameter: Some(70),
        }
    }

    fn lens_blank() -> LensBlankAttributes {
        LensBlankAttributes {
            index: dec("1.50"),
            material: Some("CR-39".to_owned()),
            design: LensDesign::SingleVision,
            base_curve: dec("4.25"),
            diameter: 75,
        }
    }

    fn contact_lens() -> ContactLensAttributes {
        ContactLensAttributes {
            base_curve: dec("8.6"),
            diameter: dec("14.2"),
            power: dec("-2.25"),
            cylinder: Some(dec("-1.25")),
            axis: Some(180),
            add: None,
            pack_size: 6,
            wear_schedule: Some(WearSchedule::TwoWeekly),
        }
    }

    fn errors(input: CatalogItemInput) -> Vec<(String, String)> {
        match validate(input) {
            Ok(draft) => panic!("expected errors, got {draft:?}"),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        }
    }

    fn error(field: &str, message: &str) -> (String, String) {
        (field.to_owned(), message.to_owned())
    }

    #[test]
    fn a_frame_with_defaults() {
        let mut item = input(Category::Frame);
        item.frame = Some(frame());
        item.gtin = Some(" 0360-0029-1452 ".to_owned());
        item.currency = " eur".to_owned();
        let draft = validate(item).expect("valid");
        assert_eq!(
            draft,
            ItemDraft {
                sku: "RB-5154-2000-49".to_owned(),
                gtin: Some("036000291452".to_owned()),
                name: "Clubmaster".to_owned(),
                brand: Some("Ray-Ban".to_owned()),
                category: Category::Frame,
                price_units: 899_000,
                currency: "EUR".to_owned(),
                min_order_quantity: 1,
                lead_time_days: 0,
                order_multiple: 1,
                active: true,
                attributes: Attributes::Frame(frame()),
            }
        );
        assert_eq!(search_text(&draft), "rb 5154 2000 49 clubmaster ray ban");
    }

    #[test]
    fn a_spectacle_lens_in_canonical_form() {
        let mut item = input(Category::SpectacleLens);
        item.spectacle_lens = Some(spectacle_lens());
        item.min_order_quantity = Some(2);
        item.lead_time_days = Some(365);
        item.active = Some(false);
        let draft = validate(item).expect("valid");
        let Attributes::SpectacleLens(lens) = &draft.attributes else {
            panic!("not a lens: {draft:?}");
        };
        assert_eq!(lens.index.to_string(), "1.60");
        assert_eq!(lens.sphere_min.to_string(), "-8.00");
        assert_eq!(lens.sphere_max.to_string(), "6.00");
        assert_eq!(
            lens.cylinder_max.map(|c| c.to_string()).as_deref(),
            Some("-4.00")
        );
        assert_eq!(
            (draft.min_order_quantity, draft.lead_time_days, draft.active),
            (2, 365, false)
        );
    }

    #[test]
    fn a_lens_blank_and_a_contact_lens() {
        let mut item = input(Category::LensBlank);
        item.lens_blank = Some(lens_blank());
        let draft = validate(item).expect("valid blank");
        assert_eq!(draft.attributes, Attributes::LensBlank(lens_blank()));

        let mut item = input(Category::ContactLens);
        item.contact_lens = Some(ContactLensAttributes {
            base_curve: dec("8.60"),
            diameter: dec("14"),
            ..contact_lens()
        });
        let draft = validate(item).expect("valid contact lens");
        let Attributes::ContactLens(lens) = &draft.attributes else {
            panic!("not a contact lens: {draft:?}");
        };
        assert_eq!(lens.base_curve.to_string(), "8.6");
        assert_eq!(lens.diameter.to_string(), "14.0");
        assert_eq!(
            lens.cylinder.map(|c| c.to_string()).as_deref(),
            Some("-1.25")
        );
    }

    #[test]
    fn a_sundry_has_no_attributes() {
        let mut item = input(Category::Sundry);
        item.brand = Some("   ".to_owned());
        item.name = "  Microfibre \n cloth ".to_owned();
        let draft = validate(item).expect("valid");
        assert_eq!(draft.attributes, Attributes::Sundry);
        assert_eq!(draft.brand, None);
        assert_eq!(draft.name, "Microfibre cloth");
        assert_eq!(search_text(&draft), "rb 5154 2000 49 microfibre cloth");
    }

    #[test]
    fn common_fields() {
        type Change = fn(&mut CatalogItemInput);
        let cases: Vec<(Change, (&str, &str))> = vec![
            (|i| i.sku = "  ".into(), ("sku", "required")),
            (|i| i.sku = "A".repeat(65), ("sku", "at most 64 characters")),
            (
                |i| i.sku = "AB 12".into(),
                ("sku", "only letters A-Z, digits and - _ . / are allowed"),
            ),
            (
                |i| i.sku = "ÄB12".into(),
                ("sku", "only letters A-Z, digits and - _ . / are allowed"),
            ),
            (
                |i| i.gtin = Some("036000291453".into()),
                ("gtin", "not a valid UPC/EAN: check digit should be 2"),
            ),
            (
                |i| i.gtin = Some("12345".into()),
                ("gtin", "a UPC/EAN has 8, 12, 13 or 14 digits"),
            ),
            (|i| i.name = " ".into(), ("name", "required")),
            (
                |i| i.name = "é".repeat(201),
                ("name", "at most 200 characters"),
            ),
            (
                |i| i.brand = Some("b".repeat(101)),
                ("brand", "at most 100 characters"),
            ),
            (
                |i| i.price = dec("-0.01"),
                ("price", "must not be negative"),
            ),
            (
                |i| i.price = dec("1.00001"),
                ("price", "at most 4 decimal places"),
            ),
            (
                |i| i.price = dec("1000000000"),
                ("price", "at most 999999999.9999"),
            ),
            (|i| i.currency = "".into(), ("currency", "required")),
            (
                |i| i.currency = "EURO".into(),
                (
                    "currency",
                    "not an ISO 4217 currency code (such as EUR, USD, GBP)",
                ),
            ),
            (
                |i| i.currency = "E1R".into(),
                (
                    "currency",
                    "not an ISO 4217 currency code (such as EUR, USD, GBP)",
                ),
            ),
            (
                |i| i.currency = "XYZ".into(),
                (
                    "currency",
                    "not an ISO 4217 currency code (such as EUR, USD, GBP)",
                ),
            ),
            (
                |i| i.currency = "ÉUR".into(),
                (
                    "currency",
                    "not an ISO 4217 currency code (such as EUR, USD, GBP)",
                ),
            ),
            (
                |i| i.min_order_quantity = Some(0),
                ("minOrderQuantity", "between 1 and 100000"),
            ),
            (
                |i| i.min_order_quantity = Some(100_001),
                ("minOrderQuantity", "between 1 and 100000"),
            ),
            (
                |i| i.lead_time_days = Some(-1),
                ("leadTimeDays", "between 0 and 365 days"),
            ),
            (
                |i| i.lead_time_days = Some(366),
                ("leadTimeDays", "between 0 and 365 days"),
            ),
        ];
        for (change, (field, message)) in cases {
            let mut item = input(Category::Sundry);
            change(&mut item);
            assert_eq!(
                errors(item),
                vec![error(field, message)],
                "{field}: {message}"
            );
        }
    }

    #[test]
    fn accepted_edge_values() {
        let mut item = input(Category::Sundry);
        item.sku = format!("{}/._-", "a".repeat(59));
        item.gtin = Some("".to_owned());
        item.price = dec("999999999.99990");
        item.min_order_quantity = Some(100_000);
        let draft = validate(item).expect("valid");
        assert_eq!(draft.gtin, None);
        assert_eq!(draft.price_units, 9_999_999_999_999);

        let mut item = input(Category::Sundry);
        item.price = dec("-0.00");
        assert_eq!(validate(item).map(|d| d.price_units), Ok(0));
    }

    #[test]
    fn attribute_blocks_must_match_the_category() {
        let mut item = input(Category::Frame);
        assert_eq!(
            errors(item.clone()),
            vec![error("frame", "required for FRAME items")]
        );

        item.frame = Some(frame());
        item.contact_lens = Some(contact_lens());
        assert_eq!(
            errors(item),
            vec![error("contactLens", "only for CONTACT_LENS items")]
        );

        let mut item = input(Category::Sundry);
        item.spectacle_lens = Some(spectacle_lens());
        item.lens_blank = Some(lens_blank());
        assert_eq!(
            errors(item),
            vec![
                error("spectacleLens", "only for SPECTACLE_LENS items"),
                error("lensBlank", "only for LENS_BLANK items"),
            ]
        );

        let item = input(Category::ContactLens);
        assert_eq!(
            errors(item),
            vec![error("contactLens", "required for CONTACT_LENS items")]
        );
    }

    #[test]
    fn frame_rules() {
        let mut item = input(Category::Frame);
        item.frame = Some(FrameAttributes {
            eye_size: 29,
            bridge: 31,
            temple_length: 161,
            b_size: Some(14),
            model: Some("m".repeat(101)),
            ..frame()
        });
        assert_eq!(
            errors(item),
            vec![
                error("frame.eyeSize", "between 30 and 70 mm"),
                error("frame.bridge", "between 10 and 30 mm"),
                error("frame.templeLength", "between 110 and 160 mm"),
                error("frame.bSize", "between 15 and 60 mm"),
                error("frame.model", "at most 100 characters"),
            ]
        );
        let mut item = input(Category::Frame);
        item.frame = Some(FrameAttributes {
            eye_size: 70,
            bridge: 10,
            temple_length: 110,
            b_size: None,
            model: None,
            colour: Some(" ".to_owned()),
            frame_type: None,
            material: None,
        });
        let draft = validate(item).expect("valid");
        let Attributes::Frame(frame) = draft.attributes else {
            panic!("not a frame");
        };
        assert_eq!(frame.colour, None);
    }

    #[test]
    fn spectacle_lens_rules() {
        let mut item = input(Category::SpectacleLens);
        item.spectacle_lens = Some(SpectacleLensAttributes {
            index: dec("1.55"),
            treatments: vec![
                LensTreatment::Tint,
                LensTreatment::HardCoat,
                LensTreatment::Tint,
            ],
            sphere_min: dec("-20.25"),
            sphere_max: dec("2.10"),
            cylinder_max: Some(dec("6.25")),
            diameter: Some(91),
            ..spectacle_lens()
        });
        let power = "between -20.00 and +20.00 in 0.25 steps";
        assert_eq!(
            errors(item),
            vec![
                error(
                    "spectacleLens.index",
                    "one of 1.50, 1.53, 1.56, 1.59, 1.60, 1.67, 1.74"
                ),
                error("spectacleLens.treatments", "TINT is listed twice"),
                error("spectacleLens.sphereMin", power),
                error("spectacleLens.sphereMax", power),
                error(
                    "spectacleLens.cylinderMax",
                    "between -6.00 and +6.00 in 0.25 steps"
                ),
                error("spectacleLens.diameter", "between 50 and 90 mm"),
            ]
        );

        let mut item = input(Category::SpectacleLens);
        item.spectacle_lens = Some(SpectacleLensAttributes {
            sphere_min: dec("2.00"),
            sphere_max: dec("1.75"),
            ..spectacle_lens()
        });
        assert_eq!(
            errors(item),
            vec![error(
                "spectacleLens.sphereMax",
                "must not be below the minimum sphere"
            )]
        );
    }

    #[test]
    fn lens_blank_rules() {
        let mut item = input(Category::LensBlank);
        item.lens_blank = Some(LensBlankAttributes {
            index: dec("1.8"),
            base_curve: dec("4.1"),
            diameter: 49,
            ..lens_blank()
        });
        assert_eq!(
            errors(item),
            vec![
                error("lensBlank.diameter", "between 50 and 90 mm"),
                error(
                    "lensBlank.index",
                    "one of 1.50, 1.53, 1.56, 1.59, 1.60, 1.67, 1.74"
                ),
                error(
                    "lensBlank.baseCurve",
                    "between 0.25 and 12.00 in 0.25 steps"
                ),
            ]
        );
        for bad in ["0", "12.25", "-2"] {
            let mut item = input(Category::LensBlank);
            item.lens_blank = Some(LensBlankAttributes {
                base_curve: dec(bad),
                ..lens_blank()
            });
            assert_eq!(errors(item).len(), 1, "{bad}");
        }
    }

    #[test]
    fn contact_lens_rules() {
        let mut item = input(Category::ContactLens);
        item.contact_lens = Some(ContactLensAttributes {
            base_curve: dec("7.9"),
            diameter: dec("14.25"),
            power: dec("-2.30"),
            cylinder: Some(dec("-0.5")),
            axis: Some(181),
            add: Some(dec("0.5")),
            pack_size: 361,
            wear_schedule: None,
        });
        assert_eq!(
            errors(item),
            vec![
                error(
                    "contactLens.baseCurve",
                    "between 8.0 and 10.0 mm in 0.1 steps"
                ),
                error(
                    "contactLens.diameter",
                    "between 13.0 and 15.0 mm in 0.1 steps"
                ),
                error(
                    "contactLens.power",
                    "between -20.00 and +20.00 in 0.25 steps"
                ),
                error("contactLens.axis", "between 1 and 180 degrees"),
                error("contactLens.add", "between +0.75 and +3.50 in 0.25 steps"),
                error("contactLens.packSize", "between 1 and 360"),
            ]
        );

        let axis_cases = [
            (
                Some("-0.75"),
                None,
                vec![error("contactLens.axis", "required with a cylinder")],
            ),
            (
                None,
                Some(90),
                vec![error("contactLens.axis", "only with a cylinder")],
            ),
            (
                Some("0.00"),
                None,
                vec![error(
                    "contactLens.cylinder",
                    "must not be 0 (leave it empty for a spherical lens)",
                )],
            ),
        ];
        for (cylinder, axis, expected) in axis_cases {
            let mut item = input(Category::ContactLens);
            item.contact_lens = Some(ContactLensAttributes {
                cylinder: cylinder.map(dec),
                axis,
                ..contact_lens()
            });
            assert_eq!(errors(item), expected, "{cylinder:?} {axis:?}");
        }

        let mut item = input(Category::ContactLens);
        item.contact_lens = Some(ContactLensAttributes {
            cylinder: None,
            axis: None,
            add: Some(dec("+2.5")),
            ..contact_lens()
        });
        let draft = validate(item).expect("valid multifocal");
        let Attributes::ContactLens(lens) = draft.attributes else {
            panic!("not a contact lens");
        };
        assert_eq!(lens.add.map(|a| a.to_string()).as_deref(), Some("2.50"));
    }

    #[test]
    fn collects_every_error() {
        let mut item = input(Category::Frame);
        item.sku = String::new();
        item.price = dec("-1");
        item.currency = "euro".to_owned();
        item.frame = Some(FrameAttributes {
            bridge: 5,
            ..frame()
        });
        item.lens_blank = Some(lens_blank());
        let fields: Vec<String> = errors(item).into_iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            ["sku", "price", "currency", "lensBlank", "frame.bridge"]
        );
    }

    #[test]
    fn steps_are_exact_decimals() {
        let sum = dec("0.1") + dec("0.2");
        assert_eq!(sum, dec("0.3"));
        assert!(Grid::CL_BASE_CURVE.contains(dec("8.0") + sum * Decimal::from(2)));
        assert!(Grid::CL_DIAMETER.contains(dec("13.9") + dec("0.1")));
        assert!(!Grid::CL_DIAMETER.contains(dec("13.95")));
        assert!(Grid::POWER.contains(dec("-0.25") * Decimal::from(80)));
        assert!(!Grid::POWER.contains(dec("-20.25")));
        assert!(!Grid::POWER.contains(dec("0.125")));
        assert!(Grid::POWER.contains(dec("0.250000")));
        // A price of 0.1 + 0.2 is exactly 3000 units, not 3000.0000000000004.
        assert_eq!(decimal_to_units(sum), Some(3000));
    }

    #[test]
    fn price_conversion() {
        assert_eq!(price_to_decimal(125_000).to_string(), "12.50");
        assert_eq!(price_to_decimal(1_234_567).to_string(), "123.4567");
        assert_eq!(price_to_decimal(0).to_string(), "0.00");
        assert_eq!(price_to_decimal(10_000).to_string(), "1.00");
        assert_eq!(price_to_decimal(10_500).to_string(), "1.05");
        assert_eq!(
            price_to_decimal(9_999_999_999_999).to_string(),
            "999999999.9999"
        );
        assert_eq!(decimal_to_units(dec("12.5")), Some(125_000));
        assert_eq!(decimal_to_units(dec("0.0001")), Some(1));
        assert_eq!(decimal_to_units(dec("-3.25")), Some(-32_500));
        assert_eq!(decimal_to_units(dec("0.00001")), None);
        assert_eq!(decimal_to_units(Decimal::MAX), None);
        for units in [0, 1, 99, 125_000, 1_234_567, 9_999_999_999_999] {
            assert_eq!(decimal_to_units(price_to_decimal(units)), Some(units));
        }
    }

    #[test]
    fn codes_parse_leniently() {
        assert_eq!(Category::parse("frame"), Some(Category::Frame));
        assert_eq!(
            Category::parse(" SPECTACLE_LENS "),
            Some(Category::SpectacleLens)
        );
        assert_eq!(Category::parse("lens blank"), Some(Category::LensBlank));
        assert_eq!(Category::parse("Contact-Lens"), Some(Category::ContactLens));
        assert_eq!(Category::parse("lens"), None);
        assert_eq!(Category::parse(""), None);
        assert_eq!(
            LensDesign::parse("single  vision"),
            Some(LensDesign::SingleVision)
        );
        assert_eq!(
            WearSchedule::parse("two-weekly"),
            Some(WearSchedule::TwoWeekly)
        );
        for category in Category::ALL {
            assert_eq!(Category::parse(category.as_str()), Some(*category));
        }
        assert_eq!(FrameType::codes(), "FULL_RIM, SEMI_RIMLESS or RIMLESS");
    }

    #[test]
    fn attributes_round_trip_through_json() {
        let all = [
            Attributes::Frame(frame()),
            Attributes::SpectacleLens(spectacle_lens()),
            Attributes::LensBlank(lens_blank()),
            Attributes::ContactLens(contact_lens()),
            Attributes::Sundry,
        ];
        for attributes in all {
            let json = attributes.to_json();
            assert_eq!(
                Attributes::from_json(attributes.category(), &json),
                Some(attributes)
            );
        }
        let json = Attributes::ContactLens(contact_lens()).to_json();
        assert!(json.contains(r#""baseCurve":"8.6""#), "{json}");
        assert!(json.contains(r#""wearSchedule":"TWO_WEEKLY""#), "{json}");
        assert_eq!(Attributes::Sundry.to_json(), "{}");
        assert_eq!(Attributes::from_json(Category::Frame, "{}"), None);
        assert_eq!(Attributes::from_json(Category::Frame, "not json"), None);
    }

    #[tokio::test]
    async fn graphql_names_match_the_error_paths() {
        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

        struct Query;
        #[Object]
        impl Query {
            async fn check(&self, item: CatalogItemInput) -> Vec<String> {
                match validate(item) {
                    Ok(_) => vec![],
                    Err(errors) => errors.iter().map(ToString::to_string).collect(),
                }
            }
            async fn frame(&self) -> FrameAttributes {
                frame()
            }
            async fn lens(&self) -> SpectacleLensAttributes {
                spectacle_lens()
            }
            async fn blank(&self) -> LensBlankAttributes {
                lens_blank()
            }
            async fn contact(&self) -> ContactLensAttributes {
                contact_lens()
            }
        }

        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let sdl = schema.sdl();
        for name in [
            "enum CatalogCategory",
            "input FrameAttributesInput",
            "type FrameAttributes",
            "input ContactLensAttributesInput",
            "type ContactLensAttributes",
            "SINGLE_VISION",
            "TWO_WEEKLY",
        ] {
            assert!(sdl.contains(name), "{name} missing from\n{sdl}");
        }
        let query = r#"{ check(item: {
            sku: "CL-1", name: "Acuvue Oasys", category: CONTACT_LENS, price: "21.5",
            currency: "eur", minOrderQuantity: 0,
            contactLens: { baseCurve: "8.4", diameter: "14.0", power: "-2.1", packSize: 6,
                           cylinder: "-0.75" },
            frame: { eyeSize: 52, bridge: 18, templeLength: 140 }
        }) lens { index sphereMin } }"#;
        let response = schema.execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(
            response.data.into_json().expect("json"),
            serde_json::json!({
                "check": [
                    "minOrderQuantity: between 1 and 100000",
                    "frame: only for FRAME items",
                    "contactLens.power: between -20.00 and +20.00 in 0.25 steps",
                    "contactLens.axis: required with a cylinder",
                ],
                "lens": { "index": "1.6", "sphereMin": "-8" },
            })
        );
    }
}
