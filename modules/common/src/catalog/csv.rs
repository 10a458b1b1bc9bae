//! Reading catalog-like CSV files: a supplier's catalog ([`CATALOG`]) and, through the same
//! reader with its own [`Layout`], a company's products (the inventory module's).
//!
//! [`open`] checks the whole file first and refuses it with one message (shown to the user
//! as is) when it cannot be read at all. [`CsvFile::rows`] then gives each data row as the
//! layout's value or that row's errors. A row becomes the API's input ([`Cells::item`] for
//! the catalog fields every layout shares) and is checked by the same validation as an
//! input sent to the API; its field errors are reported on the CSV columns through one
//! table (each [`Column`]'s input paths).
//!
//! Header names are matched ignoring case, spaces, hyphens and underscores (`Eye Size`,
//! `EYE_SIZE` and `eye_size` are the same column); a header cell left empty marks a column
//! that is ignored. The delimiter is a comma, or a semicolon or tab when the header row has
//! no comma (spreadsheets in many European locales save "CSV" with semicolons).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use csv::{ReaderBuilder, StringRecord};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::draft::{
    self, CatalogItemInput, Category, Code, ContactLensAttributes, FieldError, FrameAttributes,
    ItemDraft, LensBlankAttributes, LensTreatment, SpectacleLensAttributes,
};

/// One error in one data row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: usize,
    /// The column as named in the file's header (`None`: the whole row).
    pub column: Option<String>,
    /// A short message for the user.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "row {}, {column}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// What a kind of CSV file holds: its columns, the ones every file must have, and how a
/// data row becomes a checked value (its field errors are mapped onto the columns).
pub struct Layout<T: 'static> {
    /// The layout's columns, in the order they are listed to the user; the category
    /// attribute columns ([`ATTRIBUTE_COLUMNS`]) follow in every layout.
    pub columns: &'static [&'static Column],
    /// Columns every file must have.
    pub required: &'static [&'static Column],
    pub read: fn(&mut Cells<'_>) -> Result<T, Vec<FieldError>>,
}

impl<T> Layout<T> {
    /// What is wrong with the column table, if anything: two columns answering to one
    /// header name, or an input path that two columns fill. (For the layouts' tests.)
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen: HashMap<String, &str> = HashMap::new();
        for column in every(self.columns) {
            for name in std::iter::once(&column.name).chain(column.aliases) {
                if let Some(other) = seen.insert(header_key(name), column.name) {
                    problems.push(format!(
                        "{other} and {} share the header {name}",
                        column.name
                    ));
                }
            }
            for field in column.fields {
                let found = column_of_field(self.columns, field).map(|c| c.name);
                if found != Some(column.name) {
                    problems.push(format!(
                        "{field} is read from {found:?}, not {}",
                        column.name
                    ));
                }
            }
        }
        for required in self.required {
            if !every(self.columns).any(|c| c.name == required.name) {
                problems.push(format!("{} is required but not a column", required.name));
            }
        }
        problems
    }
}

/// A CSV file that passed the file checks, held in memory.
pub struct CsvFile<T: 'static> {
    layout: &'static Layout<T>,
    /// For each known column in the file (by canonical name): its position and the header
    /// name shown in errors (the alias used, e.g. `upc`).
    columns: HashMap<&'static str, (usize, &'static str)>,
    /// Number of fields in the header row.
    width: usize,
    /// Data rows with their spreadsheet row numbers.
    rows: Vec<(usize, StringRecord)>,
}

impl<T> CsvFile<T> {
    /// Number of data rows (blank lines not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the file has a header but no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each data row with its spreadsheet row number (the header is row 1): the validated
    /// value, or every error found in the row.
    pub fn rows(&self) -> impl Iterator<Item = (usize, Result<T, Vec<RowError>>)> + '_ {
        self.rows
            .iter()
            .map(|(row, record)| (*row, self.read_row(*row, record)))
    }

    fn read_row(&self, row: usize, record: &StringRecord) -> Result<T, Vec<RowError>> {
        if record.len() != self.width {
            return Err(vec![RowError {
                row,
                column: None,
                message: format!(
                    "this row has {} values but the header has {} columns",
                    record.len(),
                    self.width
                ),
            }]);
        }
        let mut cells = Cells {
            columns: &self.columns,
            known: self.layout.columns,
            record,
            errors: Vec::new(),
            left_out: None,
        };
        match (self.layout.read)(&mut cells) {
            Ok(value) if cells.errors.is_empty() => return Ok(value),
            Ok(_) => {}
            Err(errors) => {
                for error in errors {
                    if cells.left_out == Some(error.field.as_str()) {
                        continue;
                    }
                    match column_of_field(self.layout.columns, &error.field) {
                        Some(column) if cells.has_error(column) => {}
                        Some(column) => cells.fail(column, error.message),
                        None => cells.errors.push((None, error.to_string())),
                    }
                }
            }
        }
        Err(cells.into_row_errors(row))
    }
}

/// Reads and checks a whole CSV file of `layout` (UTF-8, optionally with a BOM). The error
/// is one short message for the user about the file as a whole; problems in single rows
/// are reported later by [`CsvFile::rows`].
pub fn open<T>(bytes: &[u8], layout: &'static Layout<T>) -> Result<CsvFile<T>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err("the file is UTF-16 text: save it as CSV UTF-8".to_owned());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty".to_owned());
    }
    if bytes.iter().any(|b| matches!(b, 0x00..=0x08 | 0x0E..=0x1F)) {
        return Err("the file is not text (binary content)".to_owned());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_at(bytes, e.valid_up_to());
        format!("the file is not UTF-8 text (invalid bytes on line {line})")
    })?;
    let delimiter = sniff_delimiter(text);
    if let Some(line) = unterminated_quote(text, delimiter) {
        return Err(format!(
            "the quoted value starting on line {line} is never closed (unterminated quote)"
        ));
    }

    let reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut header = None;
    let mut rows = Vec::new();
    let mut lines = Lines::new(text);
    // Line breaks inside quoted values: a spreadsheet shows such a record as one row.
    let mut inner_line_breaks = 0;
    for record in reader.into_records() {
        let record = record.map_err(|e| format!("the file is not valid CSV: {e}"))?;
        let offset = record.position().map_or(0, |p| p.byte());
        let row = lines
            .record_start(usize::try_from(offset).unwrap_or(usize::MAX))
            .saturating_sub(inner_line_breaks);
        inner_line_breaks += record
            .iter()
            .map(|f| f.matches('\n').count())
            .sum::<usize>();
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        if header.is_none() {
            header = Some(record);
        } else {
            rows.push((row, record));
        }
    }
    let header = header.ok_or("the file is empty")?;
    Ok(CsvFile {
        layout,
        columns: read_header(&header, layout)?,
        width: header.len(),
        rows,
    })
}

/// Maps the header row to known columns, or says what is wrong with it.
fn read_header<T>(
    header: &StringRecord,
    layout: &Layout<T>,
) -> Result<HashMap<&'static str, (usize, &'static str)>, String> {
    let mut columns = HashMap::new();
    let mut written: HashMap<&'static str, &str> = HashMap::new();
    let mut unknown = Vec::new();
    let mut duplicate = None;
    for (position, cell) in header.iter().enumerate() {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        match find_column(layout.columns, cell) {
            None => unknown.push(quoted(cell)),
            Some((column, shown)) => match written.get(column.name) {
                Some(first) => {
                    duplicate.get_or_insert((*first, cell, column.name));
                }
                None => {
                    written.insert(column.name, cell);
                    columns.insert(column.name, (position, shown));
                }
            },
        }
    }
    let required = || {
        let names: Vec<&str> = layout.required.iter().map(|c| c.name).collect();
        names.join(", ")
    };
    if columns.is_empty() {
        return Err(format!(
            "the first row must be a header with column names such as {}",
            required()
        ));
    }
    if !unknown.is_empty() {
        let allowed: Vec<String> = every(layout.columns)
            .map(|c| match c.aliases {
                [] => c.name.to_owned(),
                aliases => format!("{} (or {})", c.name, aliases.join(", ")),
            })
            .collect();
        let s = if unknown.len() == 1 { "" } else { "s" };
        // A message, not an echo: at most ten names, each shortened.
        let more = match unknown.len() {
            n if n > 10 => format!(" and {} more", n - 10),
            _ => String::new(),
        };
        unknown.truncate(10);
        return Err(format!(
            "unknown column{s} {}{more}; the columns are: {}",
            unknown.join(", "),
            allowed.join(", ")
        ));
    }
    if let Some((first, second, name)) = duplicate {
        return Err(if header_key(first) == header_key(second) {
            format!("the column {} appears twice", quoted(first))
        } else {
            format!(
                "the columns {} and {} are the same column ({name}): keep one",
                quoted(first),
                quoted(second)
            )
        });
    }
    let missing: Vec<&str> = layout
        .required
        .iter()
        .filter(|c| !columns.contains_key(c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(format!(
            "missing required column{s}: {}",
            missing.join(", ")
        ));
    }
    Ok(columns)
}

/// A column a layout understands.
#[derive(Debug)]
pub struct Column {
    /// Canonical header name (snake_case).
    name: &'static str,
    /// Other accepted header names for the same column.
    aliases: &'static [&'static str],
    /// The input paths ([`draft::FieldError::field`]) this column fills. Attribute paths
    /// (`frame.eyeSize`) tie the column to the categories owning those blocks.
    fields: &'static [&'static str],
}

impl Column {
    /// A column named `name` in the header (snake_case), filling the input paths `fields`.
    pub const fn new(name: &'static str, fields: &'static [&'static str]) -> Column {
        Column {
            name,
            aliases: &[],
            fields,
        }
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether rows of `category` use this column: every row uses the common columns.
    fn used_by(&self, category: Category) -> bool {
        self.fields.iter().any(|field| match field.split_once('.') {
            None => true,
            Some((block, _)) => Some(block) == category.attributes_field(),
        })
    }
}

pub const SKU: Column = Column::new("sku", &["sku"]);
pub const GTIN: Column = Column {
    aliases: &["upc", "ean"],
    ..Column::new("gtin", &["gtin"])
};
pub const NAME: Column = Column::new("name", &["name"]);
pub const BRAND: Column = Column::new("brand", &["brand"]);
pub const CATEGORY: Column = Column::new("category", &["category"]);
pub const PRICE: Column = Column::new("price", &["price"]);
pub const CURRENCY: Column = Column::new("currency", &["currency"]);
pub const MIN_ORDER_QUANTITY: Column = Column::new("min_order_quantity", &["minOrderQuantity"]);
pub const LEAD_TIME_DAYS: Column = Column::new("lead_time_days", &["leadTimeDays"]);
pub const ORDER_MULTIPLE: Column = Column::new("order_multiple", &["orderMultiple"]);
pub const ACTIVE: Column = Column::new("active", &["active"]);
pub const MODEL: Column = Column::new("model", &["frame.model"]);
pub const COLOUR: Column = Column {
    aliases: &["color"],
    ..Column::new("colour", &["frame.colour"])
};
pub const EYE_SIZE: Column = Column::new("eye_size", &["frame.eyeSize"]);
pub const BRIDGE: Column = Column::new("bridge", &["frame.bridge"]);
pub const TEMPLE_LENGTH: Column = Column::new("temple_length", &["frame.templeLength"]);
pub const B_SIZE: Column = Column::new("b_size", &["frame.bSize"]);
pub const FRAME_TYPE: Column = Column::new("frame_type", &["frame.frameType"]);
pub const MATERIAL: Column = Column::new(
    "material",
    &[
        "frame.material",
        "spectacleLens.material",
        "lensBlank.material",
    ],
);
pub const DESIGN: Column = Column::new("design", &["spectacleLens.design", "lensBlank.design"]);
pub const INDEX: Column = Column::new("index", &["spectacleLens.index", "lensBlank.index"]);
pub const TREATMENTS: Column = Column::new("treatments", &["spectacleLens.treatments"]);
pub const SPHERE_MIN: Column = Column::new("sphere_min", &["spectacleLens.sphereMin"]);
pub const SPHERE_MAX: Column = Column::new("sphere_max", &["spectacleLens.sphereMax"]);
pub const CYLINDER_MAX: Column = Column::new("cylinder_max", &["spectacleLens.cylinderMax"]);
pub const DIAMETER: Column = Column::new(
    "diameter",
    &["spectacleLens.diameter", "lensBlank.diameter"],
);
pub const BASE_CURVE: Column = Column::new(
    "base_curve",
    &["lensBlank.baseCurve", "contactLens.baseCurve"],
);
pub const CL_DIAMETER: Column = Column::new("cl_diameter", &["contactLens.diameter"]);
pub const POWER: Column = Column::new("power", &["contactLens.power"]);
pub const CYLINDER: Column = Column::new("cylinder", &["contactLens.cylinder"]);
pub const AXIS: Column = Column::new("axis", &["contactLens.axis"]);
pub const ADD: Column = Column::new("add", &["contactLens.add"]);
pub const PACK_SIZE: Column = Column::new("pack_size", &["contactLens.packSize"]);
pub const WEAR_SCHEDULE: Column = Column::new("wear_schedule", &["contactLens.wearSchedule"]);

/// The category attribute columns (every category's), which every layout has after its
/// own and [`Cells::item`] reads.
pub const ATTRIBUTE_COLUMNS: &[&Column] = &[
    &MODEL,
    &COLOUR,
    &EYE_SIZE,
    &BRIDGE,
    &TEMPLE_LENGTH,
    &B_SIZE,
    &FRAME_TYPE,
    &MATERIAL,
    &DESIGN,
    &INDEX,
    &TREATMENTS,
    &SPHERE_MIN,
    &SPHERE_MAX,
    &CYLINDER_MAX,
    &DIAMETER,
    &BASE_CURVE,
    &CL_DIAMETER,
    &POWER,
    &CYLINDER,
    &AXIS,
    &ADD,
    &PACK_SIZE,
    &WEAR_SCHEDULE,
];

/// A layout's columns and then the attribute columns.
fn every(own: &'static [&'static Column]) -> impl Iterator<Item = &'static Column> {
    own.iter().chain(ATTRIBUTE_COLUMNS).copied()
}

/// A supplier's catalog: the columns of [`CatalogItemInput`].
pub const CATALOG: Layout<ItemDraft> = Layout {
    columns: &[
        &SKU,
        &GTIN,
        &NAME,
        &BRAND,
        &CATEGORY,
        &PRICE,
        &CURRENCY,
        &MIN_ORDER_QUANTITY,
        &LEAD_TIME_DAYS,
        &ORDER_MULTIPLE,
        &ACTIVE,
    ],
    required: &[&SKU, &NAME, &CATEGORY, &PRICE, &CURRENCY],
    read: read_catalog_item,
};

/// A catalog row: an item exactly as `createCatalogItem` checks it.
fn read_catalog_item(cells: &mut Cells<'_>) -> Result<ItemDraft, Vec<FieldError>> {
    cells.require(&[&CATEGORY, &PRICE], "required");
    let mut input = cells.item();
    input.price = cells.decimal(&PRICE).unwrap_or_default();
    draft::validate(input)
}

/// The column a header cell names, with the name (or alias) it matched.
fn find_column(
    known: &'static [&'static Column],
    header: &str,
) -> Option<(&'static Column, &'static str)> {
    let key = header_key(header);
    every(known).find_map(|column| {
        std::iter::once(&column.name)
            .chain(column.aliases)
            .find(|name| header_key(name) == key)
            .map(|name| (column, *name))
    })
}

/// A header name reduced to lower-case letters and digits.
fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The column an input path is read from (`frame.eyeSize` → `eye_size`).
fn column_of_field(known: &'static [&'static Column], field: &str) -> Option<&'static Column> {
    every(known).find(|column| column.fields.contains(&field))
}

/// The cells of one data row being read, and the errors found in them.
pub struct Cells<'a> {
    /// The file's columns: position and the header name shown.
    columns: &'a HashMap<&'static str, (usize, &'static str)>,
    /// The layout's columns.
    known: &'static [&'static Column],
    record: &'a StringRecord,
    /// Errors with their column (`None`: the whole row).
    errors: Vec<(Option<&'static Column>, String)>,
    /// The attribute block [`Cells::item`] left out for a missing required cell: the
    /// cells' errors say why, so validation's "required for … items" is not repeated.
    left_out: Option<&'static str>,
}

impl<'a> Cells<'a> {
    /// The trimmed cell of a column; `None` when empty or the column is absent.
    pub fn get(&self, column: &Column) -> Option<&'a str> {
        let (position, _) = self.columns.get(column.name)?;
        let record: &'a StringRecord = self.record;
        Some(record.get(*position)?.trim()).filter(|cell| !cell.is_empty())
    }

    pub fn text(&self, column: &Column) -> Option<String> {
        self.get(column).map(str::to_owned)
    }

    /// Parses a cell; an unreadable one is an error on its column.
    fn parse<T>(
        &mut self,
        column: &'static Column,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(self.get(column)?) {
            Ok(value) => Some(value),
            Err(message) => {
                self.fail(column, message);
                None
            }
        }
    }

    pub fn decimal(&mut self, column: &'static Column) -> Option<Decimal> {
        self.parse(column, parse_decimal)
    }

    pub fn int(&mut self, column: &'static Column) -> Option<i32> {
        self.parse(column, parse_int)
    }

    /// A whole number of any size (quantities).
    pub fn whole(&mut self, column: &'static Column) -> Option<i64> {
        self.parse(column, parse_whole)
    }

    pub fn boolean(&mut self, column: &'static Column) -> Option<bool> {
        self.parse(column, parse_bool)
    }

    fn code<T: Code>(&mut self, column: &'static Column) -> Option<T> {
        self.parse(column, parse_code::<T>)
    }

    pub fn fail(&mut self, column: &'static Column, message: impl Into<String>) {
        self.errors.push((Some(column), message.into()));
    }

    fn has_error(&self, column: &Column) -> bool {
        self.errors
            .iter()
            .any(|(c, _)| c.is_some_and(|c| c.name == column.name))
    }

    /// An error on each of `columns` whose cell is empty.
    pub fn require(&mut self, columns: &[&'static Column], message: &str) {
        for column in columns {
            if self.get(column).is_none() {
                self.fail(column, message);
            }
        }
    }

    /// An error on each filled attribute cell that `category` does not use.
    fn refuse_other_attributes(&mut self, category: Category) {
        for column in every(self.known) {
            if !column.used_by(category) && self.get(column).is_some() {
                self.fail(column, format!("not used for {category} items"));
            }
        }
    }

    /// The catalog fields every layout shares, as an item input: the common columns and the
    /// row's category block (price left at zero: each layout reads its own). A block
    /// missing a required cell is left out, and its cells' errors say why.
    pub fn item(&mut self) -> CatalogItemInput {
        let category = self.parse(&CATEGORY, parse_code::<Category>);
        let mut input = CatalogItemInput {
            sku: self.text(&SKU).unwrap_or_default(),
            gtin: self.text(&GTIN),
            name: self.text(&NAME).unwrap_or_default(),
            brand: self.text(&BRAND),
            // Without a category no attributes are read, so SUNDRY checks the rest.
            category: category.unwrap_or(Category::Sundry),
            price: Decimal::ZERO,
            currency: self.text(&CURRENCY).unwrap_or_default(),
            min_order_quantity: self.parse(&MIN_ORDER_QUANTITY, parse_int),
            lead_time_days: self.parse(&LEAD_TIME_DAYS, parse_int),
            order_multiple: self.parse(&ORDER_MULTIPLE, parse_int),
            active: self.parse(&ACTIVE, parse_bool),
            frame: None,
            spectacle_lens: None,
            lens_blank: None,
            contact_lens: None,
        };
        if let Some(category) = category {
            self.refuse_other_attributes(category);
            match category {
                Category::Frame => input.frame = self.frame(),
                Category::SpectacleLens => input.spectacle_lens = self.spectacle_lens(),
                Category::LensBlank => input.lens_blank = self.lens_blank(),
                Category::ContactLens => input.contact_lens = self.contact_lens(),
                Category::Sundry => {}
            }
            let given = input.frame.is_some()
                || input.spectacle_lens.is_some()
                || input.lens_blank.is_some()
                || input.contact_lens.is_some();
            if !given {
                self.left_out = category.attributes_field();
            }
        }
        input
    }

    // The attribute blocks. Every cell is read first so that all its errors are reported;
    // the block is built only when its required cells are all readable.

    fn frame(&mut self) -> Option<FrameAttributes> {
        self.require(
            &[&EYE_SIZE, &BRIDGE, &TEMPLE_LENGTH],
            "required for FRAME items",
        );
        let (eye_size, bridge) = (self.int(&EYE_SIZE), self.int(&BRIDGE));
        let temple_length = self.int(&TEMPLE_LENGTH);
        let (b_size, frame_type) = (self.int(&B_SIZE), self.code(&FRAME_TYPE));
        let (Some(eye_size), Some(bridge), Some(temple_length)) = (eye_size, bridge, temple_length)
        else {
            return None;
        };
        Some(FrameAttributes {
            model: self.text(&MODEL),
            colour: self.text(&COLOUR),
            eye_size,
            bridge,
            temple_length,
            b_size,
            frame_type,
            material: self.text(&MATERIAL),
        })
    }

    fn spectacle_lens(&mut self) -> Option<SpectacleLensAttributes> {
        let required = [&DESIGN, &INDEX, &SPHERE_MIN, &SPHERE_MAX];
        self.require(&required, "required for SPECTACLE_LENS items");
        let (design, index) = (self.code(&DESIGN), self.decimal(&INDEX));
        let treatments = self.parse(&TREATMENTS, parse_treatments);
        let (sphere_min, sphere_max) = (self.decimal(&SPHERE_MIN), self.decimal(&SPHERE_MAX));
        let cylinder_max = self.decimal(&CYLINDER_MAX);
        let diameter = self.int(&DIAMETER);
        let (Some(design), Some(index), Some(sphere_min), Some(sphere_max)) =
            (design, index, sphere_min, sphere_max)
        else {
            return None;
        };
        Some(SpectacleLensAttributes {
            design,
            index,
            material: self.text(&MATERIAL),
            treatments: treatments.unwrap_or_default(),
            sphere_min,
            sphere_max,
            cylinder_max,
            diameter,
        })
    }

    fn lens_blank(&mut self) -> Option<LensBlankAttributes> {
        let required = [&INDEX, &DESIGN, &BASE_CURVE, &DIAMETER];
        self.require(&required, "required for LENS_BLANK items");
        let (index, design) = (self.decimal(&INDEX), self.code(&DESIGN));
        let (base_curve, diameter) = (self.decimal(&BASE_CURVE), self.int(&DIAMETER));
        let (Some(index), Some(design), Some(base_curve), Some(diameter)) =
            (index, design, base_curve, diameter)
        else {
            return None;
        };
        Some(LensBlankAttributes {
            index,
            material: self.text(&MATERIAL),
            design,
            base_curve,
            diameter,
        })
    }

    fn contact_lens(&mut self) -> Option<ContactLensAttributes> {
        let required = [&BASE_CURVE, &CL_DIAMETER, &POWER, &PACK_SIZE];
        self.require(&required, "required for CONTACT_LENS items");
        let (base_curve, diameter) = (self.decimal(&BASE_CURVE), self.decimal(&CL_DIAMETER));
        let (power, cylinder) = (self.decimal(&POWER), self.decimal(&CYLINDER));
        let (add, pack_size) = (self.decimal(&ADD), self.int(&PACK_SIZE));
        let wear_schedule = self.code(&WEAR_SCHEDULE);
        // The axis goes with the cylinder: with an unreadable cylinder, checking the axis
        // against "no cylinder" would report a second, misleading error.
        let axis = self.int(&AXIS).filter(|_| !self.has_error(&CYLINDER));
        let (Some(base_curve), Some(diameter), Some(power), Some(pack_size)) =
            (base_curve, diameter, power, pack_size)
        else {
            return None;
        };
        Some(ContactLensAttributes {
            base_curve,
            diameter,
            power,
            cylinder,
            axis,
            add,
            pack_size,
            wear_schedule,
        })
    }

    /// The errors as [`RowError`]s, in the order of the file's columns.
    fn into_row_errors(self, row: usize) -> Vec<RowError> {
        let columns = self.columns;
        let mut errors: Vec<(usize, RowError)> = self
            .errors
            .into_iter()
            .map(|(column, message)| {
                let place = column.and_then(|c| columns.get(c.name));
                let error = RowError {
                    row,
                    column: column.map(|c| place.map_or(c.name, |(_, shown)| *shown).to_owned()),
                    message,
                };
                let order = match (column, place) {
                    (None, _) => 0,
                    (Some(_), Some((position, _))) => position + 1,
                    (Some(_), None) => usize::MAX,
                };
                (order, error)
            })
            .collect();
        errors.sort_by_key(|(order, _)| *order);
        errors.into_iter().map(|(_, error)| error).collect()
    }
}

/// A cell's value quoted for a message, shortened if long.
fn quoted(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() > MAX {
        let start: String = value.chars().take(MAX).collect();
        format!("\"{start}…\"")
    } else {
        format!("\"{value}\"")
    }
}

/// A plain decimal number: digits, an optional sign and decimal point.
fn parse_decimal(cell: &str) -> Result<Decimal, String> {
    let plain = cell
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'));
    match Decimal::from_str(cell) {
        Ok(value) if plain => Ok(value),
        _ if cell.contains(',') && Decimal::from_str(&cell.replace(',', ".")).is_ok() => Err(
            format!("{} is not a number: use a point for decimals", quoted(cell)),
        ),
        _ => Err(format!("{} is not a number", quoted(cell))),
    }
}

/// A whole number of any size; `12.0` is accepted as 12.
fn parse_whole(cell: &str) -> Result<i64, String> {
    if let Ok(value) = cell.parse::<i64>() {
        return Ok(value);
    }
    let value = parse_decimal(cell)?;
    if !value.fract().is_zero() {
        return Err(format!("{} is not a whole number", quoted(cell)));
    }
    value
        .to_i64()
        .ok_or_else(|| format!("{} is too large", quoted(cell)))
}

/// A whole number; `52.0` is accepted as 52.
fn parse_int(cell: &str) -> Result<i32, String> {
    if let Ok(value) = cell.parse::<i32>() {
        return Ok(value);
    }
    let value = parse_decimal(cell)?;
    if !value.fract().is_zero() {
        return Err(format!("{} is not a whole number", quoted(cell)));
    }
    value
        .to_i32()
        .ok_or_else(|| format!("{} is too large", quoted(cell)))
}

fn parse_bool(cell: &str) -> Result<bool, String> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!(
            "{} is not one of true, false, yes, no, 1, 0",
            quoted(cell)
        )),
    }
}

fn parse_code<T: Code>(cell: &str) -> Result<T, String> {
    T::from_code(cell).ok_or_else(|| format!("unknown value {}: use {}", quoted(cell), T::codes()))
}

/// Treatments separated by `|`, `;` or `,`.
fn parse_treatments(cell: &str) -> Result<Vec<LensTreatment>, String> {
    cell.split(['|', ';', ','])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_code)
        .collect()
}

/// Finds the line a record starts on, moving forward through the text.
///
/// (The csv crate's record position is where reading started: it can be on the line
/// break ending the previous record or on blank lines before the record.)
struct Lines<'a> {
    text: &'a [u8],
    /// A byte offset already counted, and its line.
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of the first byte after `offset` that is not a line break.
    fn record_start(&mut self, offset: usize) -> usize {
        let rest = self.text.get(offset..).unwrap_or_default();
        let start = offset
            + rest
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        if let Some(between) = self.text.get(self.offset..start) {
            self.line += between.iter().filter(|b| **b == b'\n').count();
            self.offset = start;
        }
        self.line
    }
}

/// The 1-based line of a byte offset.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    let before = bytes.get(..offset).unwrap_or(bytes);
    before.iter().filter(|b| **b == b'\n').count() + 1
}

/// Comma, unless the first non-blank line has none but has a semicolon or a tab.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    if first.contains(',') {
        b','
    } else if first.contains(';') {
        b';'
    } else if first.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// The line where a quoted value that never closes starts. (The csv crate reads such a
/// value to the end of the file without complaint.)
fn unterminated_quote(text: &str, delimiter: u8) -> Option<usize> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted value: closes it, or escapes a second quote.
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let (mut line, mut opened) = (1, 1);
    for b in text.bytes() {
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::FieldStart, b'"') => {
                opened = line;
                State::Quoted
            }
            (_, b'\n' | b'\r') => State::FieldStart,
            (_, b) if b == delimiter => State::FieldStart,
            _ => State::Unquoted,
        };
        if b == b'\n' {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::draft::{Attributes, LensDesign, WearSchedule};

    const HEADER: &str = "sku,gtin,name,brand,category,price,currency,min_order_quantity,\
        lead_time_days,active,model,colour,eye_size,bridge,temple_length,b_size,frame_type,\
        material,design,index,treatments,sphere_min,sphere_max,cylinder_max,diameter,\
        base_curve,cl_diameter,power,cylinder,axis,add,pack_size,wear_schedule";

    /// A data line for [`HEADER`] with the given cells filled.
    fn line(cells: &[(&str, &str)]) -> String {
        for (column, _) in cells {
            assert!(HEADER.split(',').any(|c| c == *column), "{column}");
        }
        let values: Vec<&str> = HEADER
            .split(',')
            .map(|column| {
                cells
                    .iter()
                    .find(|(c, _)| *c == column)
                    .map_or("", |(_, v)| *v)
            })
            .collect();
        values.join(",")
    }

    fn rows(csv: &str) -> Vec<(usize, Result<ItemDraft, Vec<RowError>>)> {
        open(csv.as_bytes(), &CATALOG)
            .expect("file opens")
            .rows()
            .collect()
    }

    fn row_errors(csv: &str) -> Vec<(usize, Option<String>, String)> {
        rows(csv)
            .into_iter()
            .flat_map(|(row, result)| {
                let errors = result.err().unwrap_or_default();
                errors.into_iter().map(move |e| {
                    assert_eq!(e.row, row);
                    (e.row, e.column, e.message)
                })
            })
            .collect()
    }

    fn err(row: usize, column: &str, message: &str) -> (usize, Option<String>, String) {
        (row, Some(column.to_owned()), message.to_owned())
    }

    fn open_err(bytes: &[u8]) -> String {
        match open(bytes, &CATALOG) {
            Ok(_) => panic!("file opened"),
            Err(e) => e,
        }
    }

    #[test]
    fn one_row_per_category() {
        let lines = [
            HEADER.to_owned(),
            line(&[
                ("sku", "RB5154-2000-49"),
                ("gtin", "036000291452"),
                ("name", "Clubmaster"),
                ("brand", "Ray-Ban"),
                ("category", "FRAME"),
                ("price", "89.9"),
                ("currency", "eur"),
                ("model", "RB5154"),
                ("colour", "Black"),
                ("eye_size", "49"),
                ("bridge", "21"),
                ("temple_length", "140"),
                ("b_size", "40"),
                ("frame_type", "full rim"),
                ("material", "acetate"),
            ]),
            line(&[
                ("sku", "VX-CMF-160"),
                ("gtin", "4006381333931"),
                ("name", "Varilux Comfort"),
                ("brand", "Essilor"),
                ("category", "spectacle lens"),
                ("price", "120"),
                ("currency", "EUR"),
                ("min_order_quantity", "2"),
                ("lead_time_days", "5"),
                ("active", "yes"),
                ("design", "progressive"),
                ("index", "1.60"),
                ("treatments", "HARD_COAT|anti-reflective"),
                ("sphere_min", "-8"),
                ("sphere_max", "6"),
                ("cylinder_max", "-4"),
                ("diameter", "70"),
            ]),
            line(&[
                ("sku", "BLK-150-4"),
                ("name", "Orma blank"),
                ("brand", "Essilor"),
                ("category", "LENS_BLANK"),
                ("price", "6.5"),
                ("currency", "EUR"),
                ("min_order_quantity", "10"),
                ("material", "CR-39"),
                ("design", "single vision"),
                ("index", "1.5"),
                ("diameter", "75"),
                ("base_curve", "4.25"),
            ]),
            line(&[
                ("sku", "AO-86-145"),
                ("gtin", "96385074"),
                ("name", "Acuvue Oasys for Astigmatism"),
                ("brand", "Acuvue"),
                ("category", "CONTACT_LENS"),
                ("price", "24.0"),
                ("currency", "EUR"),
                ("active", "0"),
                ("base_curve", "8.6"),
                ("cl_diameter", "14.5"),
                ("power", "-2.25"),
                ("cylinder", "-1.25"),
                ("axis", "180"),
                ("pack_size", "6"),
                ("wear_schedule", "two-weekly"),
            ]),
            line(&[
                ("sku", "CLOTH-1"),
                ("gtin", "10012345678902"),
                ("name", "Microfibre cloth"),
                ("category", "SUNDRY"),
                ("price", "0.8"),
                ("currency", "EUR"),
                ("min_order_quantity", "100"),
            ]),
        ];
        let csv = lines.join("\n");
        let rows = rows(&csv);
        assert_eq!(
            rows.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6]
        );
        let drafts: Vec<ItemDraft> = rows
            .into_iter()
            .map(|(row, result)| result.unwrap_or_else(|e| panic!("row {row}: {e:?}")))
            .collect();

        let Attributes::Frame(frame) = &drafts[0].attributes else {
            panic!("not a frame")
        };
        assert_eq!(
            (frame.eye_size, frame.bridge, frame.temple_length),
            (49, 21, 140)
        );
        assert_eq!(frame.frame_type, Some(draft::FrameType::FullRim));
        assert_eq!(drafts[0].currency, "EUR");
        assert_eq!(drafts[0].price_units, 899_000);

        let Attributes::SpectacleLens(lens) = &drafts[1].attributes else {
            panic!("not a lens")
        };
        assert_eq!(lens.design, LensDesign::Progressive);
        assert_eq!(
            lens.treatments,
            [LensTreatment::HardCoat, LensTreatment::AntiReflective]
        );
        assert_eq!(lens.sphere_min.to_string(), "-8.00");
        assert_eq!(
            (drafts[1].min_order_quantity, drafts[1].lead_time_days),
            (2, 5)
        );

        let Attributes::LensBlank(blank) = &drafts[2].attributes else {
            panic!("not a blank")
        };
        assert_eq!(
            (blank.index.to_string(), blank.diameter),
            ("1.50".to_owned(), 75)
        );
        assert_eq!(blank.material.as_deref(), Some("CR-39"));

        let Attributes::ContactLens(cl) = &drafts[3].attributes else {
            panic!("not a CL")
        };
        assert_eq!(cl.diameter.to_string(), "14.5");
        assert_eq!((cl.axis, cl.pack_size), (Some(180), 6));
        assert_eq!(cl.wear_schedule, Some(WearSchedule::TwoWeekly));
        assert!(!drafts[3].active);

        assert_eq!(drafts[4].attributes, Attributes::Sundry);
        assert_eq!(drafts[4].gtin.as_deref(), Some("10012345678902"));
    }

    #[test]
    fn only_the_columns_in_use_are_needed() {
        let csv = "SKU, Name ,Category,Price,Currency,UPC,Eye Size,Bridge,Temple-Length,Color\n\
            F-1,Frame one,frame,10,USD,036000291452,52,18,145,Havana\n";
        let file = open(csv.as_bytes(), &CATALOG).expect("opens");
        assert_eq!(file.len(), 1);
        let (row, result) = file.rows().next().expect("a row");
        let item = result.expect("valid");
        assert_eq!(row, 2);
        let Attributes::Frame(frame) = item.attributes else {
            panic!("not a frame")
        };
        assert_eq!(frame.colour.as_deref(), Some("Havana"));
        assert_eq!(item.gtin.as_deref(), Some("036000291452"));
    }

    #[test]
    fn bom_blank_lines_and_crlf() {
        let csv = "\u{FEFF}sku,name,category,price,currency\r\n\r\nA-1,One,SUNDRY,1,EUR\r\n,,,,\r\n\r\nA-2,Two,SUNDRY,2,EUR\r\n";
        let file = open(csv.as_bytes(), &CATALOG).expect("opens");
        assert_eq!(file.len(), 2);
        let rows: Vec<(usize, String)> = file
            .rows()
            .map(|(row, result)| (row, result.expect("valid").sku))
            .collect();
        assert_eq!(rows, [(3, "A-1".to_owned()), (6, "A-2".to_owned())]);
    }

    #[test]
    fn quoted_values_with_commas_quotes_and_line_breaks() {
        let csv = "sku,name,category,price,currency\n\
            A-1,\"Case, hard, \"\"premium\"\"\",SUNDRY,1,EUR\n\
            A-2,\"Cloth\nlarge\n\",SUNDRY,2,EUR\n\
            \n\
            A-3,Spray,SUNDRY,x,EUR\n";
        let rows = rows(csv);
        assert_eq!(rows.len(), 3);
        let name = |i: usize| rows[i].1.as_ref().map(|d| d.name.clone());
        assert_eq!(name(0), Ok("Case, hard, \"premium\"".to_owned()));
        assert_eq!(name(1), Ok("Cloth large".to_owned()));
        // The third record starts on line 7 of the file but is row 5 in a spreadsheet.
        assert_eq!(rows[2].0, 5);
        assert_eq!(
            rows[2].1,
            Err(vec![RowError {
                row: 5,
                column: Some("price".to_owned()),
                message: "\"x\" is not a number".to_owned(),
            }])
        );
    }

    #[test]
    fn row_errors_name_their_row_and_column() {
        let csv = "sku,ean,name,category,price,currency,eye_size,bridge,temple_length,power,diameter,min_order_quantity,index,design,sphere_min,sphere_max\n\
            F-1,,Frame,FRAME,abc,EUR,52,18,140,,,,,,,\n\
            F-2,4006381333930,Frame,FRAME,12.5,EUR,52,18,140,,,,,,,\n\
            F-3,,Frame,FRAME,12.5,EUR,52,18,140,-2.00,,,,,,\n\
            F-4,,Frame,FRAME,12.5,EUR,,18,140,,,,,,,\n\
            F-5,,Frame,FRAME,12.5\n\
            F-6,,Frame,FRAME,12.5,EUR,52,9,140,,,0,,,,\n\
            L-1,,Lens,SPECTACLE_LENS,12.5,EUR,,,,,91,,1.6,single vision,+2,-2\n\
            F-7,,Frame,FRAME,1\u{2009}0,EUR,wide,18.5,140,,,,,,,\n\
            L-2,,Lens,LENS,\"12,50\",dollars,,,,,,,1.6,single vision,0,0\n";
        assert_eq!(
            row_errors(csv),
            [
                err(2, "price", "\"abc\" is not a number"),
                err(3, "ean", "not a valid UPC/EAN: check digit should be 1"),
                err(4, "power", "not used for FRAME items"),
                err(5, "eye_size", "required for FRAME items"),
                (
                    6,
                    None,
                    "this row has 5 values but the header has 16 columns".to_owned()
                ),
                err(7, "bridge", "between 10 and 30 mm"),
                err(7, "min_order_quantity", "between 1 and 100000"),
                err(8, "diameter", "between 50 and 90 mm"),
                err(8, "sphere_max", "must not be below the minimum sphere"),
                err(9, "price", "\"1\u{2009}0\" is not a number"),
                err(9, "eye_size", "\"wide\" is not a number"),
                err(9, "bridge", "\"18.5\" is not a whole number"),
                err(
                    10,
                    "category",
                    "unknown value \"LENS\": use FRAME, SPECTACLE_LENS, LENS_BLANK, \
                     CONTACT_LENS or SUNDRY"
                ),
                err(
                    10,
                    "price",
                    "\"12,50\" is not a number: use a point for decimals"
                ),
                err(
                    10,
                    "currency",
                    "not an ISO 4217 currency code (such as EUR, USD, GBP)"
                ),
            ]
        );
    }

    #[test]
    fn attribute_rules_reach_the_csv_columns() {
        let csv = "sku,name,category,price,currency,base_curve,cl_diameter,power,cylinder,axis,add,pack_size,wear_schedule,active,treatments,material\n\
            C-1,CL,CONTACT_LENS,9,EUR,7.5,16,-2.30,,90,4,0,weekly,maybe,,\n\
            C-2,CL,CONTACT_LENS,9,EUR,8.6,14.2,-2.25,-0.75,,,6,,,HARD_COAT,PMMA\n\
            C-3,CL,CONTACT_LENS,,,,,,,,,,,,,\n\
            C-4,CL,CONTACT_LENS,9,EUR,8.6,14.2,-2.25,0,,,6,,,,\n\
            C-5,CL,CONTACT_LENS,9,EUR,8.6,14.2,-2.25,-1.x,90,,6,,,,\n";
        assert_eq!(
            row_errors(csv),
            [
                err(2, "base_curve", "between 8.0 and 10.0 mm in 0.1 steps"),
                err(2, "cl_diameter", "between 13.0 and 15.0 mm in 0.1 steps"),
                err(2, "power", "between -20.00 and +20.00 in 0.25 steps"),
                err(2, "axis", "only with a cylinder"),
                err(2, "add", "between +0.75 and +3.50 in 0.25 steps"),
                err(2, "pack_size", "between 1 and 360"),
                err(
                    2,
                    "wear_schedule",
                    "unknown value \"weekly\": use DAILY, TWO_WEEKLY, MONTHLY or EXTENDED"
                ),
                err(
                    2,
                    "active",
                    "\"maybe\" is not one of true, false, yes, no, 1, 0"
                ),
                err(3, "axis", "required with a cylinder"),
                err(3, "treatments", "not used for CONTACT_LENS items"),
                err(3, "material", "not used for CONTACT_LENS items"),
                err(4, "price", "required"),
                err(4, "currency", "required"),
                err(4, "base_curve", "required for CONTACT_LENS items"),
                err(4, "cl_diameter", "required for CONTACT_LENS items"),
                err(4, "power", "required for CONTACT_LENS items"),
                err(4, "pack_size", "required for CONTACT_LENS items"),
                err(
                    5,
                    "cylinder",
                    "must not be 0 (leave it empty for a spherical lens)"
                ),
                // and not also "axis: only with a cylinder"
                err(6, "cylinder", "\"-1.x\" is not a number"),
            ]
        );
    }

    #[test]
    fn a_missing_category_still_checks_the_common_cells() {
        let csv = "sku,name,category,price,currency,eye_size\nbad sku,,,5,EUR,52\n";
        assert_eq!(
            row_errors(csv),
            [
                err(2, "sku", "only letters A-Z, digits and - _ . / are allowed"),
                err(2, "name", "required"),
                err(2, "category", "required"),
            ]
        );
    }

    #[test]
    fn semicolon_files() {
        let csv = "sku;name;category;price;currency;treatments;design;index;sphere_min;sphere_max\n\
            L-1;Lens;SPECTACLE_LENS;12.50;EUR;\"TINT;POLARISED\";SINGLE_VISION;1.5;-6;+4\n";
        let rows = rows(csv);
        let item = rows[0].1.as_ref().expect("valid");
        let Attributes::SpectacleLens(lens) = &item.attributes else {
            panic!("not a lens")
        };
        assert_eq!(
            lens.treatments,
            [LensTreatment::Tint, LensTreatment::Polarised]
        );
    }

    #[test]
    fn file_level_failures() {
        assert_eq!(open_err(b""), "the file is empty");
        assert_eq!(open_err(b"\xEF\xBB\xBF \r\n\n"), "the file is empty");
        assert_eq!(open_err(b",,,\n,,\n"), "the file is empty");
        assert_eq!(
            open_err(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
            "the file is not text (binary content)"
        );
        assert_eq!(
            open_err(b"sku,name\x00"),
            "the file is not text (binary content)"
        );
        assert_eq!(
            open_err(b"\xFF\xFEs\x00k\x00u\x00"),
            "the file is UTF-16 text: save it as CSV UTF-8"
        );
        assert_eq!(
            open_err(b"sku,name,category,price,currency\nA-1,Caf\xe9,SUNDRY,1,EUR\n"),
            "the file is not UTF-8 text (invalid bytes on line 2)"
        );
        let header = "the first row must be a header with column names such as \
            sku, name, category, price, currency";
        assert_eq!(open_err(b"A-1,Cloth,SUNDRY,1,EUR\n"), header);
        assert_eq!(open_err(b"foo,bar\n1,2\n"), header);
        let unknown = open_err(b"sku,name,category,price,currency,Notes, colour code \n");
        assert!(
            unknown.starts_with(
                "unknown columns \"Notes\", \"colour code\"; the columns are: sku, gtin (or upc, ean), name,"
            ),
            "{unknown}"
        );
        assert!(
            unknown.contains("colour (or color)") && unknown.ends_with("wear_schedule"),
            "{unknown}"
        );
        assert_eq!(
            open_err(b"sku,name,category,price,currency,SKU\n"),
            "the column \"sku\" appears twice"
        );
        assert_eq!(
            open_err(b"sku,upc,name,category,price,currency,EAN\n"),
            "the columns \"upc\" and \"EAN\" are the same column (gtin): keep one"
        );
        assert_eq!(
            open_err(b"sku,name,category\n"),
            "missing required columns: price, currency"
        );
        assert_eq!(
            open_err(b"sku,name,category,currency\n"),
            "missing required column: price"
        );
        assert_eq!(
            open_err(b"sku,name,category,price,currency\nA-1,\"Cloth,SUNDRY,1,EUR\nA-2,Spray,SUNDRY,1,EUR\n"),
            "the quoted value starting on line 2 is never closed (unterminated quote)"
        );
    }

    #[test]
    fn a_header_alone_has_no_rows() {
        let file = open(b"sku,name,category,price,currency,\n", &CATALOG).expect("opens");
        assert!(file.is_empty());
        assert_eq!(file.len(), 0);
    }

    #[test]
    fn the_sample_file_imports_cleanly() {
        let bytes = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/catalog-sample.csv"
        ));
        let file = open(bytes, &CATALOG).expect("sample opens");
        assert_eq!(file.len(), 12);
        let mut categories = Vec::new();
        for (row, result) in file.rows() {
            let item = result.unwrap_or_else(|e| panic!("row {row}: {e:?}"));
            if !categories.contains(&item.category) {
                categories.push(item.category);
            }
        }
        assert_eq!(categories, Category::ALL);
    }

    #[test]
    fn the_column_table_is_consistent() {
        assert_eq!(CATALOG.problems(), Vec::<String>::new());
        // Every attribute field the input has is read from some column.
        let sdl = async_graphql::Schema::build(
            Probe,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        )
        .finish()
        .sdl();
        let mut block = None;
        for line in sdl.lines() {
            let line = line.trim();
            if let Some(name) = line
                .strip_prefix("input ")
                .and_then(|l| l.strip_suffix(" {"))
            {
                block = match name {
                    "CatalogItemInput" => Some(""),
                    "FrameAttributesInput" => Some("frame."),
                    "SpectacleLensAttributesInput" => Some("spectacleLens."),
                    "LensBlankAttributesInput" => Some("lensBlank."),
                    "ContactLensAttributesInput" => Some("contactLens."),
                    _ => None,
                };
            } else if line == "}" {
                block = None;
            } else if let (Some(prefix), Some((field, _))) = (block, line.split_once(':'))
                && field.chars().all(|c| c.is_ascii_alphanumeric())
            {
                let path = format!("{prefix}{field}");
                let is_block = Category::ALL
                    .iter()
                    .any(|c| c.attributes_field() == Some(field));
                assert!(
                    is_block || column_of_field(CATALOG.columns, &path).is_some(),
                    "no column for {path}"
                );
            }
        }
    }

    struct Probe;

    #[async_graphql::Object]
    impl Probe {
        async fn probe(&self, _item: CatalogItemInput) -> bool {
            true
        }
    }

    #[test]
    fn unterminated_quotes_are_found() {
        assert_eq!(unterminated_quote("a,\"b\"\"c\",d\n", b','), None);
        assert_eq!(unterminated_quote("a,b\"c,d\n", b','), None);
        assert_eq!(unterminated_quote("a\n\"b\nc\n", b','), Some(2));
        assert_eq!(unterminated_quote("a,\"b\"\"\n", b','), Some(1));
        assert_eq!(unterminated_quote("a;\"b", b';'), Some(1));
    }
}
