//! One rule for every text a client sends: no control characters. A NUL byte cannot be
//! stored by PostgreSQL at all (a NUL in an email, a filter or a product's brand used to
//! answer INTERNAL), and a line break in a one-line field (a patient reference, a tint, a
//! lab job number) breaks the files and logs that field is written into. So every string
//! argument of every field (literals and variables, inside input objects and lists, at any
//! depth) is checked before anything runs, against the schema's types:
//!
//! - a NUL and every other control character (Unicode `Cc`) is refused everywhere;
//! - line feed, carriage return and tab are allowed only in the input fields meant for
//!   text of several lines ([`MULTI_LINE`]: notes, messages, reasons, a description, an
//!   address).
//!
//! A refused text is one `BAD_USER_INPUT` error per field, naming its path
//! (`input.email`, `filter.text`, `input.lines.0.note`). The check runs in the validation
//! step, after the document is known to be valid, so GraphQL's own errors come first and
//! the audit log records a refused mutation as it records every refusal.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Pos, ServerError, Value, Variables};

/// The input fields that may hold several lines (`Type.field`), where line feed, carriage
/// return and tab are allowed. Every other text is one line. A test checks that each
/// still names a field of the schema.
pub const MULTI_LINE: &[&str] = &[
    "CreateOrderDraftInput.notes",
    "UpdateOrderDraftInput.notes",
    "CreatePurchaseOrderInput.notes",
    "PostStockMovementInput.note",
    "MoveOrderInput.question",
    "MoveOrderInput.answer",
    "MoveOrderInput.reason",
    "RequestConnectionInput.message",
    "RejectCompanyInput.reason",
    "RejectPurchaseOrderInput.reason",
    "UpdateMarketplaceProfileInput.description",
    "UpdateCompanyProfileInput.address",
    "UpdateCompanyProfileInput.openingHours",
];

/// At most this many refused fields are reported (one error each).
const MAX_PROBLEMS: usize = 20;

/// A refused text: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub field: String,
    pub message: String,
    pub pos: Pos,
}

/// The character that `text` may not hold, if any.
pub fn forbidden_char(text: &str, multi_line: bool) -> Option<char> {
    text.chars()
        .find(|&c| c.is_control() && !(multi_line && matches!(c, '\n' | '\r' | '\t')))
}

fn message(c: char, multi_line: bool) -> String {
    match c {
        '\n' | '\r' | '\t' if !multi_line => format!(
            "must be a single line: no line breaks, tabs or other control characters (found U+{:04X})",
            c as u32
        ),
        _ => format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ),
    }
}

struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    refused: Vec<Refused>,
}

impl<'a> Walk<'a> {
    /// A variable's value: the request's, else a default written in the document.
    fn variable(&self, name: &Name) -> Value {
        if let Some(v) = self.variables.get(name) {
            return v.clone();
        }
        self.doc
            .operations
            .iter()
            .flat_map(|(_, op)| op.node.variable_definitions.iter())
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|d| d.node.clone())
            .unwrap_or(Value::Null)
    }

    fn selection_set(&mut self, set: &SelectionSet, parent: Option<&str>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let field = &f.node;
                    let meta = parent
                        .and_then(|p| self.registry.types.get(p))
                        .and_then(|t| t.field_by_name(field.name.node.as_str()));
                    for (name, value) in &field.arguments {
                        let ty = meta
                            .and_then(|m| m.args.get(name.node.as_str()))
                            .map(|a| MetaTypeName::concrete_typename(&a.ty));
                        let value = value
                            .node
                            .clone()
                            .into_const_with(|v| Ok::<_, ()>(self.variable(&v)))
                            .unwrap_or(Value::Null);
                        self.value(&value, ty, name.node.to_string(), false, name.pos);
                    }
                    let child = meta.map(|m| MetaTypeName::concrete_typename(&m.ty));
                    self.selection_set(&field.selection_set.node, child);
                }
                Selection::InlineFragment(i) => {
                    let ty = i
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    self.selection_set(&i.node.selection_set.node, ty);
                }
                // Every fragment definition is walked once, on its own type.
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// Checks `value`, of the named type `ty` (when known), found at `path`.
    fn value(&mut self, value: &Value, ty: Option<&str>, path: String, multi_line: bool, pos: Pos) {
        if self.refused.len() >= MAX_PROBLEMS {
            return;
        }
        match value {
            Value::String(s) => {
                if let Some(c) = forbidden_char(s, multi_line) {
                    self.refused.push(Refused {
                        field: path,
                        message: message(c, multi_line),
                        pos,
                    });
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, ty, format!("{path}.{i}"), multi_line, pos);
                }
            }
            Value::Object(map) => {
                let fields = match ty.and_then(|t| self.registry.types.get(t)) {
                    Some(MetaType::InputObject { input_fields, .. }) => Some(input_fields),
                    _ => None,
                };
                for (key, v) in map {
                    let key = key.as_str();
                    let (field_ty, multi) = match (fields, ty) {
                        (Some(fields), Some(t)) => (
                            fields
                                .get(key)
                                .map(|f| MetaTypeName::concrete_typename(&f.ty)),
                            MULTI_LINE.contains(&format!("{t}.{key}").as_str()),
                        ),
                        // A scalar holding an object (JSON): its texts are one-line.
                        _ => (None, false),
                    };
                    self.value(v, field_ty, format!("{path}.{key}"), multi, pos);
                }
            }
            _ => {}
        }
    }
}

/// Every refused text of the document's operations and fragments, with these variables.
pub fn check(doc: &ExecutableDocument, variables: &Variables, registry: &Registry) -> Vec<Refused> {
    let mut walk = Walk {
        registry,
        doc,
        variables,
        refused: Vec::new(),
    };
    for (set, parent, _) in crate::order::roots(doc, registry) {
        walk.selection_set(set, parent);
    }
    walk.refused
}

/// The refused texts of a valid document, one `BAD_USER_INPUT` error each: what the
/// request pipeline (`extension.rs`) answers once validation has passed.
pub fn refusals(
    doc: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
) -> Result<(), Vec<ServerError>> {
    let refused = check(doc, variables, registry);
    if refused.is_empty() {
        return Ok(());
    }
    Err(refused
        .into_iter()
        .map(|r| {
            async_graphql::Error::from(ils_kernel::AppError::bad_input(&r.field, r.message))
                .into_server_error(r.pos)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_line_breaks_only_in_multi_line_fields() {
        assert_eq!(forbidden_char("plain text é ✓", false), None);
        assert_eq!(forbidden_char("a\0b", true), Some('\0'));
        assert_eq!(forbidden_char("a\u{7}b", true), Some('\u{7}'));
        assert_eq!(forbidden_char("a\u{85}b", true), Some('\u{85}'));
        assert_eq!(forbidden_char("a\nb", false), Some('\n'));
        assert_eq!(forbidden_char("a\tb", false), Some('\t'));
        assert_eq!(forbidden_char("line 1\r\nline 2\tend", true), None);
        assert!(message('\n', false).contains("single line"));
        assert!(message('\0', true).contains("U+0000"));
    }

    #[test]
    fn every_multi_line_field_is_a_text_field_of_the_schema() {
        let sdl = crate::schema::sdl();
        for entry in MULTI_LINE {
            let (ty, field) = entry.split_once('.').unwrap();
            let start = sdl
                .find(&format!("input {ty} {{"))
                .unwrap_or_else(|| panic!("{entry}: no input type {ty}"));
            let body = &sdl[start..start + sdl[start..].find("\n}").unwrap()];
            assert!(
                body.lines().any(|l| l.trim() == format!("{field}: String")
                    || l.trim() == format!("{field}: String!")),
                "{entry}: no text field {field} in {body}"
            );
        }
    }
}
