//! Lossless reader and writer for Vision Council DCS ("OMA") job files.
//!
//! A DCS document is a sequence of records, one `LABEL=value` per line. This module keeps
//! every record (label and raw value text) in file order, including repeated, unknown and
//! vendor-private (`_`-prefixed) labels, so `parse(text)?.write() == text` for every
//! accepted input. Interpretation (per-eye pairs, decimals, traces) happens on demand.
//!
//! Syntax accepted by [`parse`] (anything else is a [`DcsError`] naming its 1-based line):
//! - a label is one or more of `A-Z`, `0-9`, `_` (lowercase is rejected); it ends at the
//!   first `=`; the value is everything after it up to the line end, kept verbatim (it may
//!   contain `=` and `;`, and may be empty);
//! - no control characters except tab anywhere in a line (a lone CR is one);
//! - no blank lines (DCS files have none; rejecting them also makes record *i* sit on line
//!   *i + 1*, so record-level errors name their line exactly);
//! - lines end in LF or CR LF, the same throughout the file (mixed endings are rejected,
//!   because the writer reproduces one detected ending); whether the last line has a
//!   terminator is remembered;
//! - a leading UTF-8 byte-order mark is accepted and written back.
//!
//! Everything here is pure (no I/O, no dependencies beyond `rust_decimal`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

const BOM: char = '\u{FEFF}';

/// A parse or interpretation error, naming the 1-based line it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcsError {
    pub line: usize,
    pub message: String,
}

impl DcsError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for DcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DcsError {}

/// The line terminator of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    #[default]
    Lf,
    CrLf,
}

impl LineEnding {
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Lf => "\n",
            LineEnding::CrLf => "\r\n",
        }
    }
}

/// One `LABEL=value` line; `value` is the raw text after the first `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub label: String,
    pub value: String,
}

/// One frame/lens trace: a `TRCFMT=` record and the `R=` lines that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// `R`, `L` or `B` (both eyes).
    pub side: char,
    /// First TRCFMT field (e.g. `1` = ASCII absolute radii).
    pub format: String,
    /// Number of radii declared by TRCFMT (always equal to `radii.len()`).
    pub count: usize,
    /// Radii in hundredths of a millimetre, in file order.
    pub radii: Vec<u32>,
}

/// A DCS document. Invariant: every label and value satisfies the [`parse`] syntax, so
/// [`DcsFile::write`] always produces text that parses back to an equal document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DcsFile {
    records: Vec<Record>,
    line_ending: LineEnding,
    final_newline: bool,
    bom: bool,
}

/// Parses a DCS document. See the module documentation for the accepted syntax.
pub fn parse(text: &str) -> Result<DcsFile, DcsError> {
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut file = DcsFile {
        records: Vec::new(),
        line_ending: LineEnding::Lf,
        final_newline: false,
        bom,
    };
    let mut detected: Option<LineEnding> = None;
    let mut rest = body;
    let mut line = 0;
    while !rest.is_empty() {
        line += 1;
        let (content, terminated) = match rest.find('\n') {
            Some(i) => {
                let raw = &rest[..i];
                rest = &rest[i + 1..];
                let (content, ending) = match raw.strip_suffix('\r') {
                    Some(c) => (c, LineEnding::CrLf),
                    None => (raw, LineEnding::Lf),
                };
                match detected {
                    None => detected = Some(ending),
                    Some(expected) if expected != ending => {
                        return Err(DcsError::new(
                            line,
                            format!(
                                "mixed line endings (file uses {}, this line {})",
                                ending_name(expected),
                                ending_name(ending)
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                (content, true)
            }
            None => {
                let content = rest;
                rest = "";
                (content, false)
            }
        };
        file.records.push(parse_line(content, line)?);
        file.final_newline = terminated;
    }
    file.line_ending = detected.unwrap_or_default();
    Ok(file)
}

fn ending_name(ending: LineEnding) -> &'static str {
    match ending {
        LineEnding::Lf => "LF",
        LineEnding::CrLf => "CR LF",
    }
}

fn parse_line(content: &str, line: usize) -> Result<Record, DcsError> {
    if content.is_empty() {
        return Err(DcsError::new(line, "blank line"));
    }
    check_text(content, line)?;
    let Some((label, value)) = content.split_once('=') else {
        return Err(DcsError::new(line, "missing '=' (expected LABEL=value)"));
    };
    check_label(label, line)?;
    Ok(Record {
        label: label.to_owned(),
        value: value.to_owned(),
    })
}

fn check_text(text: &str, line: usize) -> Result<(), DcsError> {
    match text.chars().position(|c| c.is_control() && c != '\t') {
        Some(col) => {
            let c = text.chars().nth(col).unwrap_or_default();
            Err(DcsError::new(
                line,
                format!("control character U+{:04X} at column {}", c as u32, col + 1),
            ))
        }
        None => Ok(()),
    }
}

fn check_label(label: &str, line: usize) -> Result<(), DcsError> {
    if label.is_empty() {
        return Err(DcsError::new(line, "empty label"));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(DcsError::new(
            line,
            format!("invalid character {c:?} in label {label:?} (allowed: A-Z 0-9 _)"),
        ));
    }
    Ok(())
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn split_pair(value: &str) -> (Option<&str>, Option<&str>) {
    match value.split_once(';') {
        Some((right, left)) => (non_empty(right), non_empty(left)),
        None => (non_empty(value), None),
    }
}

pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    Decimal::from_str(text).ok()
}

impl DcsFile {
    /// An empty document written with `line_ending`, a final newline and no BOM.
    pub fn new(line_ending: LineEnding) -> Self {
        Self {
            records: Vec::new(),
            line_ending,
            final_newline: true,
            bom: false,
        }
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn line_ending(&self) -> LineEnding {
        self.line_ending
    }

    pub fn final_newline(&self) -> bool {
        self.final_newline
    }

    pub fn has_bom(&self) -> bool {
        self.bom
    }

    /// The text of the document: byte-identical to the parsed input. An empty document
    /// writes as the empty string (plus the BOM, if any).
    pub fn write(&self) -> String {
        let ending = self.line_ending.as_str();
        let size: usize = self
            .records
            .iter()
            .map(|r| r.label.len() + r.value.len() + 1 + ending.len())
            .sum();
        let mut out = String::with_capacity(size + 3);
        if self.bom {
            out.push(BOM);
        }
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push_str(ending);
            }
            out.push_str(&r.label);
            out.push('=');
            out.push_str(&r.value);
        }
        if self.final_newline && !self.records.is_empty() {
            out.push_str(ending);
        }
        out
    }

    /// The raw value of the first record labelled `label`.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.position(label).map(|i| self.records[i].value.as_str())
    }

    /// The first `label` record split as `right;left` at the first `;`; an empty side is
    /// `None`. A value without `;` is taken as the right side only. `None` if absent.
    pub fn get_pair(&self, label: &str) -> Option<(Option<&str>, Option<&str>)> {
        self.get(label).map(split_pair)
    }

    /// Both sides of the first `label` record as decimals (surrounding spaces ignored;
    /// an empty side is `None`; an absent label is `(None, None)`). The value must be a
    /// `right;left` pair of plain decimals (`-2.25`, `+0.50`, `.5`); the error names the
    /// record's line and label.
    pub fn decimal_pair(
        &self,
        label: &str,
    ) -> Result<(Option<Decimal>, Option<Decimal>), DcsError> {
        let Some(i) = self.position(label) else {
            return Ok((None, None));
        };
        let line = i + 1;
        let value = &self.records[i].value;
        let Some((right, left)) = value.split_once(';') else {
            return Err(DcsError::new(
                line,
                format!("{label}: expected right;left, got {value:?}"),
            ));
        };
        let side = |name: &str, text: &str| -> Result<Option<Decimal>, DcsError> {
            let text = text.trim_matches(' ');
            if text.is_empty() {
                return Ok(None);
            }
            parse_decimal(text).map(Some).ok_or_else(|| {
                DcsError::new(
                    line,
                    format!("{label}: {name} value {text:?} is not a decimal"),
                )
            })
        };
        Ok((side("right", right)?, side("left", left)?))
    }

    /// Replaces the value of the first `label` record in place, or appends a record.
    /// Fails (naming the line the record would occupy) if the label or value would not
    /// parse back; the document is then unchanged.
    pub fn set(&mut self, label: &str, value: &str) -> Result<(), DcsError> {
        let index = self.position(label).unwrap_or(self.records.len());
        check_label(label, index + 1)?;
        check_text(value, index + 1)?;
        match self.records.get_mut(index) {
            Some(record) => value.clone_into(&mut record.value),
            None => self.records.push(Record {
                label: label.to_owned(),
                value: value.to_owned(),
            }),
        }
        Ok(())
    }

    /// [`DcsFile::set`] with the value `right;left` (`None` writes an empty side). A side
    /// containing `;` is rejected.
    pub fn set_pair(
        &mut self,
        label: &str,
        right: Option<&str>,
        left: Option<&str>,
    ) -> Result<(), DcsError> {
        let (right, left) = (right.unwrap_or(""), left.unwrap_or(""));
        if right.contains(';') || left.contains(';') {
            let line = self.position(label).unwrap_or(self.records.len()) + 1;
            return Err(DcsError::new(line, format!("{label}: a side contains ';'")));
        }
        self.set(label, &format!("{right};{left}"))
    }

    /// Appends a record even if `label` already exists (e.g. `R=` lines of a trace).
    pub fn push(&mut self, label: &str, value: &str) -> Result<(), DcsError> {
        let line = self.records.len() + 1;
        check_label(label, line)?;
        check_text(value, line)?;
        self.records.push(Record {
            label: label.to_owned(),
            value: value.to_owned(),
        });
        Ok(())
    }

    /// The datasets in file order. A dataset is a header record whose label ends in `FMT`
    /// (`TRCFMT` frame/lens traces, `STHKFMT` thickness, `ZFMT`, any other) followed by
    /// its data records (`R=`, `A=`, `Z=`, `T=`); any other label ends it. An `R=` record
    /// outside a dataset is an error naming its line; `A=`, `Z=` and `T=` outside one are
    /// ordinary records.
    pub fn datasets(&self) -> Result<Vec<Dataset>, DcsError> {
        let mut out: Vec<Dataset> = Vec::new();
        let mut open = false;
        for (i, record) in self.records.iter().enumerate() {
            let label = record.label.as_str();
            if is_dataset_header(label) {
                out.push(Dataset {
                    start: i,
                    end: i + 1,
                });
                open = true;
            } else if open && DATA_LABELS.contains(&label) {
                if let Some(last) = out.last_mut() {
                    last.end = i + 1;
                }
            } else {
                open = false;
                if label == "R" {
                    return Err(DcsError::new(i + 1, "R record outside a trace block"));
                }
            }
        }
        Ok(out)
    }

    /// The traces ILS reads, in file order: `TRCFMT=format;count;spacing;side[;type]`
    /// datasets in format `1` (ASCII absolute radii, 0.01 mm) with equal spacing (`E`),
    /// their `R=` records decoded (`;`-separated; `A=` and `Z=` records skipped). Every
    /// `TRCFMT` header is checked (count, side; fields may be space-padded); the datasets
    /// of other formats (packed, vendor: `TRCFMT=6` carries hex) and of other kinds
    /// (`STHKFMT`, whose `R=`/`T=` records are thickness data) are not decoded here: they
    /// stay records of the file. Errors: malformed TRCFMT, a non-numeric radius, an `R=`
    /// outside a dataset, or a radius count differing from the TRCFMT count (named at the
    /// TRCFMT line).
    pub fn traces(&self) -> Result<Vec<Trace>, DcsError> {
        let mut traces = Vec::new();
        for set in self.datasets()? {
            let header = &self.records[set.start];
            if header.label != "TRCFMT" {
                continue;
            }
            let line = set.start + 1;
            let (mut trace, spacing) = parse_trcfmt(&header.value, line)?;
            if trace.format != "1" || spacing != "E" {
                continue;
            }
            for (i, record) in self.records[set.start + 1..set.end].iter().enumerate() {
                if record.label == "R" {
                    parse_radii(&record.value, set.start + 2 + i, &mut trace.radii)?;
                }
            }
            if trace.radii.len() != trace.count {
                return Err(DcsError::new(
                    line,
                    format!(
                        "TRCFMT declares {} radii but {} were read",
                        trace.count,
                        trace.radii.len()
                    ),
                ));
            }
            traces.push(trace);
        }
        Ok(traces)
    }

    /// A document of `records` written with `line_ending`, a final newline and no BOM;
    /// fails, naming the record's line, on a label or value [`parse`] would refuse.
    pub fn from_records(line_ending: LineEnding, records: Vec<Record>) -> Result<Self, DcsError> {
        for (i, r) in records.iter().enumerate() {
            check_label(&r.label, i + 1)?;
            check_text(&r.value, i + 1)?;
        }
        Ok(Self {
            records,
            line_ending,
            final_newline: true,
            bom: false,
        })
    }

    fn position(&self, label: &str) -> Option<usize> {
        self.records.iter().position(|r| r.label == label)
    }
}

/// Whether a label announces a dataset (`TRCFMT`, `STHKFMT`, `ZFMT`…).
pub fn is_dataset_header(label: &str) -> bool {
    label.len() > 3 && label.ends_with("FMT")
}

/// The labels of a dataset's data records.
pub const DATA_LABELS: [&str; 4] = ["R", "A", "Z", "T"];

/// A dataset's records: the header at `start`, its data records up to `end` (exclusive),
/// as indexes into [`DcsFile::records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    pub start: usize,
    pub end: usize,
}

/// A TRCFMT header as a trace without radii, and its spacing field.
fn parse_trcfmt(value: &str, line: usize) -> Result<(Trace, String), DcsError> {
    let fields: Vec<&str> = value.split(';').map(|f| f.trim_matches(' ')).collect();
    if fields.len() < 4 {
        return Err(DcsError::new(
            line,
            format!("TRCFMT needs format;count;spacing;side, got {value:?}"),
        ));
    }
    let format = fields[0];
    if format.is_empty() {
        return Err(DcsError::new(line, "TRCFMT: empty format"));
    }
    let count = fields[1]
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| fields[1].parse::<usize>().ok())
        .flatten()
        .ok_or_else(|| {
            DcsError::new(
                line,
                format!("TRCFMT: invalid radius count {:?}", fields[1]),
            )
        })?;
    let side = match fields[3] {
        "R" => 'R',
        "L" => 'L',
        "B" => 'B',
        other => {
            return Err(DcsError::new(
                line,
                format!("TRCFMT: side must be R, L or B, got {other:?}"),
            ));
        }
    };
    Ok((
        Trace {
            side,
            format: format.to_owned(),
            count,
            radii: Vec::new(),
        },
        fields[2].to_owned(),
    ))
}

/// The boxing of an equally spaced trace (radius *i* of *n* at 360·i/n degrees from the
/// box centre, in 0.01 mm): the width and height in mm of the rectangle bounding its
/// points, as DCS `HBOX` and `VBOX` give them. `None` for an empty trace.
pub fn trace_box(radii: &[u32]) -> Option<(f64, f64)> {
    let points = trace_points(radii);
    if points.is_empty() {
        return None;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    Some((x1 - x0, y1 - y0))
}

/// The circumference in mm of an equally spaced trace: the perimeter of the closed
/// polygon through its points (a 2-D circumference, as `CIRC` may give it). `None` for
/// an empty trace.
pub fn trace_circumference(radii: &[u32]) -> Option<f64> {
    let points = trace_points(radii);
    let n = points.len();
    (n > 0).then(|| {
        (0..n)
            .map(|i| {
                let (a, b) = (points[i], points[(i + 1) % n]);
                (a.0 - b.0).hypot(a.1 - b.1)
            })
            .sum()
    })
}

/// The points of an equally spaced trace, in mm.
fn trace_points(radii: &[u32]) -> Vec<(f64, f64)> {
    let n = radii.len() as f64;
    radii
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let angle = std::f64::consts::TAU * i as f64 / n;
            let r = f64::from(*r) / 100.0;
            (r * angle.cos(), r * angle.sin())
        })
        .collect()
}

fn parse_radii(value: &str, line: usize, radii: &mut Vec<u32>) -> Result<(), DcsError> {
    for field in value.split(';') {
        let text = field.trim_matches(' ');
        let radius = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| DcsError::new(line, format!("R: invalid radius {field:?}")))?;
        radii.push(radius);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    const EXAMPLE: &str = "JOB=ECP1042-0007\nDO=B\nCLIENT=REF7F3A\nLNAM=PAL-A;PAL-A\n\
        SPH=-2.25;-1.75\nCYL=-0.75;-0.50\nAX=175;10\nADD=2.00;2.00\nIPD=31.50;32.00\n\
        SEGHT=19.00;19.00\nHBOX=52.00;52.00\nVBOX=36.00;36.00\nDBL=18.00\nACOAT=AR1;AR1\n";

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn err_line(text: &str) -> usize {
        parse(text).expect_err(text).line
    }

    #[test]
    fn domain_example_round_trips() {
        let file = parse(EXAMPLE).unwrap();
        assert_eq!(file.records().len(), 14);
        assert_eq!(file.get("JOB"), Some("ECP1042-0007"));
        assert_eq!(file.get_pair("SPH"), Some((Some("-2.25"), Some("-1.75"))));
        assert_eq!(file.get_pair("DBL"), Some((Some("18.00"), None)));
        assert_eq!(file.get_pair("NOPE"), None);
        assert_eq!(file.line_ending(), LineEnding::Lf);
        assert!(file.final_newline());
        assert_eq!(file.write(), EXAMPLE);
        assert_eq!(
            file.decimal_pair("CYL").unwrap(),
            (Some(dec("-0.75")), Some(dec("-0.50")))
        );
        assert_eq!(file.decimal_pair("PRVM").unwrap(), (None, None));
        let e = file.decimal_pair("LNAM").unwrap_err();
        assert_eq!((e.line, e.to_string().contains("LNAM")), (4, true));
        let e = file.decimal_pair("DBL").unwrap_err();
        assert_eq!(e.line, 13);
    }

    #[test]
    fn empty_sides_and_signs() {
        let file = parse("SPH=-2.25;\nCYL=;-1.75\nADD=+2.00; .5\nAX=;\n").unwrap();
        assert_eq!(file.get_pair("SPH"), Some((Some("-2.25"), None)));
        assert_eq!(file.get_pair("CYL"), Some((None, Some("-1.75"))));
        assert_eq!(file.get_pair("AX"), Some((None, None)));
        assert_eq!(
            file.decimal_pair("SPH").unwrap(),
            (Some(dec("-2.25")), None)
        );
        assert_eq!(
            file.decimal_pair("CYL").unwrap(),
            (None, Some(dec("-1.75")))
        );
        assert_eq!(
            file.decimal_pair("ADD").unwrap(),
            (Some(dec("2.00")), Some(dec("0.5")))
        );
        for bad in [
            "SPH=1e2;1\n",
            "SPH=1_0;1\n",
            "SPH=.;1\n",
            "SPH=--1;1\n",
            "SPH=1;x\n",
        ] {
            let e = parse(&format!("JOB=1\n{bad}"))
                .unwrap()
                .decimal_pair("SPH")
                .unwrap_err();
            assert_eq!(e.line, 2, "{bad}");
        }
    }

    #[test]
    fn vendor_unknown_repeated_labels_and_odd_values_survive() {
        let text = "JOB=1\n_LABX=foo;bar=baz\nZZTOP9=\t x \nJOB=2\n_=\nTINT=a=b;c;d\n";
        let file = parse(text).unwrap();
        assert_eq!(file.write(), text);
        assert_eq!(file.get("JOB"), Some("1"));
        assert_eq!(file.get("_LABX"), Some("foo;bar=baz"));
        assert_eq!(file.get("_"), Some(""));
        assert_eq!(file.records()[3].value, "2");
    }

    #[test]
    fn crlf_bom_and_missing_final_newline_preserved() {
        for text in [
            "JOB=1\r\nSPH=1;2\r\n",
            "JOB=1\r\nSPH=1;2",
            "JOB=1\nSPH=1;2",
            "JOB=1",
            "\u{FEFF}JOB=1\r\nDO=B\r\n",
            "\u{FEFF}",
            "",
        ] {
            let file = parse(text).unwrap();
            assert_eq!(file.write(), text, "{text:?}");
        }
        let file = parse("JOB=1\r\nDO=B").unwrap();
        assert_eq!(file.line_ending(), LineEnding::CrLf);
        assert!(!file.final_newline());
        assert!(parse("\u{FEFF}JOB=1\n").unwrap().has_bom());
    }

    #[test]
    fn traces_parsed_and_counted() {
        let text = "JOB=1\nTRCFMT=1;6;E;R;F\nR=2479;2483;2488\nR=2490;2491\nR=2500\n\
            TRCFMT=1;3;E;L;F\nR=1;2;3\nZ=0;0;0\nDBL=18\n";
        let file = parse(text).unwrap();
        assert_eq!(file.write(), text);
        let traces = file.traces().unwrap();
        assert_eq!(
            traces,
            vec![
                Trace {
                    side: 'R',
                    format: "1".into(),
                    count: 6,
                    radii: vec![2479, 2483, 2488, 2490, 2491, 2500],
                },
                Trace {
                    side: 'L',
                    format: "1".into(),
                    count: 3,
                    radii: vec![1, 2, 3],
                },
            ]
        );
        assert_eq!(parse("JOB=1\n").unwrap().traces().unwrap(), vec![]);
    }

    #[test]
    fn trace_errors_name_their_line() {
        let cases = [
            (
                "JOB=1\nTRCFMT=1;4;E;R;F\nR=1;2\nR=3\nDBL=1\n",
                2,
                "declares 4",
            ),
            ("TRCFMT=1;2;E;R;F\nR=1;2\nDBL=1\nR=3\n", 4, "outside"),
            ("TRCFMT=1;2;E;R\nR=1;x\n", 2, "invalid radius"),
            ("TRCFMT=1;2;E;R\nR=1;\n", 2, "invalid radius"),
            ("TRCFMT=1;2;E;R\nR=1;99999999999\n", 2, "invalid radius"),
            ("JOB=1\nTRCFMT=1;2;E\n", 2, "needs"),
            ("TRCFMT=1;two;E;R\n", 1, "count"),
            ("TRCFMT=1;2;E;X\n", 1, "side"),
            ("TRCFMT=;2;E;R\n", 1, "format"),
        ];
        for (text, line, needle) in cases {
            let e = parse(text).unwrap().traces().unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn datasets_of_every_kind_are_kept_apart() {
        // A thickness dataset (R then T records) before the traces; a vendor encoding; a
        // space-padded header.
        let text = "JOB=1\nSTHKFMT=1;4;E;R\nR=2574;2659;2745;2838\nT=0346;0338;0327;0330\n\
            TRCFMT=1;3;E;R;F\nR=10;20;30\nTRCFMT=6;360;E;L;F\nR=6167514141436D71\n\
            ZFMT=1;3;E;R\nZ=1;2;3\nTRCFMT=  1;2 ;E; L;P\nR=5;6\nT=7\nUNI=0;0\n";
        let file = parse(text).unwrap();
        assert_eq!(file.write(), text);
        let sets: Vec<(usize, usize)> = file
            .datasets()
            .unwrap()
            .iter()
            .map(|d| (d.start, d.end))
            .collect();
        assert_eq!(sets, [(1, 4), (4, 6), (6, 8), (8, 10), (10, 13)]);
        let traces = file.traces().unwrap();
        assert_eq!(traces.len(), 2);
        assert_eq!(
            (traces[0].side, &traces[0].radii[..]),
            ('R', &[10, 20, 30][..])
        );
        assert_eq!((traces[1].side, &traces[1].radii[..]), ('L', &[5, 6][..]));
        // T, A and Z outside a dataset are ordinary records; R is not.
        assert_eq!(parse("T=1\nZ=2\n").unwrap().datasets().unwrap(), []);
        let e = parse("JOB=1\nR=1\n").unwrap().datasets().unwrap_err();
        assert_eq!(e.line, 2);
        // A vendor trace is not decoded, so a payload that is no radius list is no error.
        assert_eq!(
            parse("TRCFMT=6;2;E;R;F\nR=ZZ\n").unwrap().traces().unwrap(),
            []
        );
    }

    #[test]
    fn the_box_and_circumference_of_known_shapes() {
        // A circle of radius 25 mm, 360 points: a 50 x 50 box; the polygon's perimeter
        // is 720 x 25 x sin(0.5 degrees).
        let circle = vec![2500u32; 360];
        let (w, h) = trace_box(&circle).unwrap();
        assert!(
            (w - 50.0).abs() < 1e-9 && (h - 50.0).abs() < 1e-9,
            "{w} x {h}"
        );
        let c = trace_circumference(&circle).unwrap();
        let expected = 720.0 * 25.0 * 0.5f64.to_radians().sin();
        assert!((c - expected).abs() < 1e-9, "{c}");
        assert!((c - std::f64::consts::PI * 50.0).abs() < 0.01);
        // A 50 x 30 mm rectangle centred on the origin, radius by radius (0.01 mm, cut
        // down so no point lies outside): the box is exactly the rectangle (the points at
        // 0, 90, 180 and 270 degrees touch its sides).
        let rectangle: Vec<u32> = (0..360)
            .map(|i| {
                let t = f64::from(i).to_radians();
                let r = (25.0 / t.cos().abs()).min(15.0 / t.sin().abs());
                (r * 100.0).floor() as u32
            })
            .collect();
        let (w, h) = trace_box(&rectangle).unwrap();
        assert!(
            (w - 50.0).abs() < 1e-9 && (h - 30.0).abs() < 1e-9,
            "{w} x {h}"
        );
        let c = trace_circumference(&rectangle).unwrap();
        assert!(c < 160.0 && c > 159.8, "{c}"); // corners cut between two points
        // Four points: a diamond of half-diagonal 10 mm.
        let (w, h) = trace_box(&[1000, 1000, 1000, 1000]).unwrap();
        assert!((w - 20.0).abs() < 1e-9 && (h - 20.0).abs() < 1e-9);
        let c = trace_circumference(&[1000, 1000, 1000, 1000]).unwrap();
        assert!((c - 40.0 * 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(trace_box(&[]), None);
        assert_eq!(trace_circumference(&[]), None);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        assert_eq!(err_line("JOB=1\nSPH -2.25\n"), 2);
        assert_eq!(err_line("JOB=1\n=x\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=B\nsph=1;2\n"), 3);
        assert_eq!(err_line("JOB=1\nS-PH=1;2\n"), 2);
        assert_eq!(err_line("JOB=1\n SPH=1;2\n"), 2);
        assert_eq!(err_line("JOB=1\nJÖB=1\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=B\x00\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=\x1bB\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=\u{85}B\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=B\rX\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=B\r"), 2);
        assert_eq!(err_line("JOB=1\n\nDO=B\n"), 2);
        assert_eq!(err_line("JOB=1\r\n\r\nDO=B\r\n"), 2);
        assert_eq!(err_line("\n"), 1);
        assert_eq!(err_line("JOB=1\nDO=B\n\n"), 3);
        assert_eq!(err_line("JOB=1\r\nDO=B\nX=1\r\n"), 2);
        assert_eq!(err_line("JOB=1\nDO=B\r\n"), 2);
        let e = parse("JOB=1\n\nDO=B\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: blank line");
        assert!(parse("JOB=1\nDO=\tB\t\n").is_ok());
    }

    #[test]
    fn set_and_set_pair_touch_only_their_record() {
        let mut file = parse(EXAMPLE).unwrap();
        file.set_pair("SPH", Some("-3.00"), None).unwrap();
        file.set("DBL", "17.50").unwrap();
        let expected = EXAMPLE
            .replace("SPH=-2.25;-1.75", "SPH=-3.00;")
            .replace("DBL=18.00", "DBL=17.50");
        assert_eq!(file.write(), expected);

        file.set_pair("PRVM", None, Some("1.00")).unwrap();
        file.set("_LAB", "x").unwrap();
        assert_eq!(file.write(), format!("{expected}PRVM=;1.00\n_LAB=x\n"));

        let mut dup = parse("A1=1\nB=2\nA1=3").unwrap();
        dup.set("A1", "9").unwrap();
        assert_eq!(dup.write(), "A1=9\nB=2\nA1=3");

        let before = file.clone();
        assert_eq!(file.set("sph", "1").unwrap_err().line, 17);
        assert_eq!(file.set("SPH", "1\n2").unwrap_err().line, 5);
        assert_eq!(file.set("NEW", "\r").unwrap_err().line, 17);
        assert_eq!(file.set_pair("SPH", Some("1;2"), None).unwrap_err().line, 5);
        assert_eq!(file, before);
    }

    #[test]
    fn building_a_file() {
        let mut file = DcsFile::new(LineEnding::CrLf);
        file.set("JOB", "7").unwrap();
        file.set("TRCFMT", "1;3;E;B;F").unwrap();
        file.push("R", "1;2").unwrap();
        file.push("R", "3").unwrap();
        let text = file.write();
        assert_eq!(text, "JOB=7\r\nTRCFMT=1;3;E;B;F\r\nR=1;2\r\nR=3\r\n");
        assert_eq!(parse(&text).unwrap(), file);
        assert_eq!(file.traces().unwrap()[0].radii, vec![1, 2, 3]);
        assert_eq!(DcsFile::default().write(), "");
    }

    // ---- property tests ----

    #[derive(Debug, Clone)]
    enum Item {
        Record(String, String),
        Trace(Trace, Vec<usize>, bool),
    }

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "JOB", "DO", "CLIENT", "SPH", "CYL", "AX", "ADD", "PRVM", "PRVA", "IPD", "NPD",
                "SEGHT", "OCHT", "HBOX", "VBOX", "DBL", "LNAM", "LMATID", "TINT", "ACOAT",
            ])
            .prop_map(str::to_owned),
            "_[A-Z0-9_]{0,8}",
            "[A-Z0-9][A-Z0-9_]{0,8}".prop_filter("dataset labels", |l| {
                !is_dataset_header(l) && !DATA_LABELS.contains(&l.as_str())
            }),
        ]
    }

    fn decimal() -> impl Strategy<Value = String> {
        (-2000i64..2000, 0u32..3).prop_map(|(n, scale)| Decimal::new(n, scale).to_string())
    }

    fn value() -> impl Strategy<Value = String> {
        let side = || prop_oneof![Just(String::new()), decimal(), "[A-Z0-9-]{1,6}"];
        prop_oneof![
            (side(), side()).prop_map(|(r, l)| format!("{r};{l}")),
            decimal(),
            "(\t|[^\\p{Cc}]){0,24}",
        ]
    }

    fn trace() -> impl Strategy<Value = Item> {
        (
            prop::sample::select(vec!['R', 'L', 'B']),
            prop::collection::vec(0u32..100_000, 0..60),
            prop::collection::vec(1usize..20, 1..8),
            any::<bool>(),
        )
            .prop_map(|(side, radii, chunks, z)| {
                let count = radii.len();
                Item::Trace(
                    Trace {
                        side,
                        format: "1".into(),
                        count,
                        radii,
                    },
                    chunks,
                    z,
                )
            })
    }

    fn document() -> impl Strategy<Value = (String, Vec<Trace>)> {
        let item = prop_oneof![
            4 => (label(), value()).prop_map(|(l, v)| Item::Record(l, v)),
            1 => trace(),
        ];
        (
            prop::collection::vec(item, 1..30),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(items, crlf, final_newline, bom)| {
                let mut lines = Vec::new();
                let mut traces = Vec::new();
                for item in items {
                    match item {
                        Item::Record(l, v) => lines.push(format!("{l}={v}")),
                        Item::Trace(t, chunks, z) => {
                            lines.push(format!("TRCFMT={};{};E;{};F", t.format, t.count, t.side));
                            let mut rest = &t.radii[..];
                            let mut sizes = chunks.iter().cycle();
                            while !rest.is_empty() {
                                let n = (*sizes.next().unwrap()).min(rest.len());
                                let line: Vec<String> =
                                    rest[..n].iter().map(u32::to_string).collect();
                                lines.push(format!("R={}", line.join(";")));
                                rest = &rest[n..];
                            }
                            if z {
                                lines.push(format!("Z={}", vec!["0"; t.count.max(1)].join(";")));
                            }
                            traces.push(t);
                        }
                    }
                }
                let ending = if crlf { "\r\n" } else { "\n" };
                let mut text = if bom {
                    "\u{FEFF}".to_owned()
                } else {
                    String::new()
                };
                text.push_str(&lines.join(ending));
                if final_newline {
                    text.push_str(ending);
                }
                (text, traces)
            })
    }

    proptest! {
        #[test]
        fn valid_files_round_trip((text, traces) in document()) {
            let file = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let written = file.write();
            prop_assert_eq!(&written, &text);
            prop_assert_eq!(parse(&written).unwrap(), file.clone());
            prop_assert_eq!(file.traces().unwrap(), traces);
        }

        #[test]
        fn control_character_is_reported_on_its_line(
            (text, _) in document(),
            pick in any::<prop::sample::Index>(),
            c in prop_oneof![0u32..0x09, 0x0bu32..0x0d, 0x0eu32..0x20, 0x7fu32..0xa0]
                .prop_map(|n| char::from_u32(n).unwrap()),
        ) {
            let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let mut lines: Vec<String> = text.split(ending).map(str::to_owned).collect();
            if lines.last().is_some_and(String::is_empty) {
                lines.pop();
            }
            let i = pick.index(lines.len());
            lines[i].push(c);
            let broken = lines.join(ending);
            prop_assert_eq!(parse(&broken).unwrap_err().line, i + 1);
        }
    }
}
