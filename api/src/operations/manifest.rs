//! Reading a manifest of persisted operations, as client tooling writes it, into documents
//! whose IDs are proven: a partner's key runs a document by its ID, so an ID that is not
//! the SHA-256 of its document would let the list say one thing and run another.
//!
//! Pure functions: no database and no schema. Validating the documents against the schema
//! and storing them is the caller's part.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use async_graphql::parser::{self, types::ExecutableDocument};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::lexer;

/// The most documents one manifest may hold. Publishing is checked per document (parse,
/// then validation by the caller); this bounds the work one upload can ask for.
pub const MAX_DOCUMENTS: usize = 10_000;

/// The largest document accepted, in bytes (100 KB). The playground's largest operation is
/// under 2 KB; a document this size is a mistake or an attack on the parser.
pub const MAX_BODY_BYTES: usize = 100 * 1024;

/// The `format` of Apollo's persisted query manifest.
const APOLLO_FORMAT: &str = "apollo-persisted-query-manifest";

/// One document of a manifest: its ID is the lowercase hex SHA-256 of `body` (exact bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub body: String,
    /// The operation's name: Apollo's `name` field, or the first named operation in the body.
    pub name: Option<String>,
}

/// One thing wrong with a manifest; a publish lists every problem, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The document's ID (lowercase hex when it is a SHA-256 ID, else as written).
    pub id: Option<String>,
    /// The operation's name, or for a folder the file's path under the folder.
    pub name: Option<String>,
    pub message: String,
}

impl Problem {
    /// A problem with the manifest as a whole rather than one of its documents.
    fn whole(message: impl Into<String>) -> Self {
        Problem {
            id: None,
            name: None,
            message: message.into(),
        }
    }
}

/// `<id> (<name>): <message>`, leaving out what is not known: one line of a CLI's report.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.id, &self.name) {
            (Some(id), Some(name)) => write!(f, "{id} ({name}): ")?,
            (Some(id), None) => write!(f, "{id}: ")?,
            (None, Some(name)) => write!(f, "{name}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// Reads an uploaded manifest: Apollo's persisted query manifest
/// (`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","name","type","body"}]}`),
/// the `{ "<id>": "<document>" }` map that graphql-codegen's client preset
/// (`persistedDocuments: true`, keys `sha256:<hex>`) and Relay (keys bare hex) write, or a
/// GraphQL text file (one document: the whole file).
///
/// Each document's ID must equal the SHA-256 of its body; an ID listed twice with
/// different bodies, an empty manifest, a body that does not parse, an operation without a
/// name beside others, more than [`MAX_DOCUMENTS`] documents and a body over
/// [`MAX_BODY_BYTES`] are problems. The same document listed twice is kept once. The
/// documents come in the manifest's order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Document>, Vec<Problem>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(vec![Problem::whole("the manifest is not UTF-8 text")]);
    };
    // serde_json refuses a byte order mark; GraphQL ignores it (and hashes it, as written).
    let content = text.trim_start_matches('\u{feff}');
    if content.trim().is_empty() {
        return Err(vec![Problem::whole("the manifest is empty")]);
    }
    if looks_like_json(content) {
        return from_json(content);
    }
    let entry = Entry {
        id: sha256_hex(text),
        body: text.to_owned(),
        name: None,
        file: None,
    };
    verify(vec![entry], Vec::new())
}

/// Every `.graphql` file under `dir` (recursively, sorted by path; symbolic links to
/// folders are not followed, so a loop cannot recur), each file one document whose ID is
/// the SHA-256 of the file's exact text. Problems as for [`parse`], each naming the file
/// (its path under `dir`) in `name`.
pub fn from_folder(dir: &Path) -> Result<Vec<Document>, Vec<Problem>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    graphql_files(dir, &mut files, &mut problems);
    files.sort();
    let empty = format!("no .graphql file under {}", dir.display());
    if let Some(problem) = count_problem(files.len(), &empty) {
        problems.push(problem);
        return Err(problems);
    }
    let mut entries = Vec::with_capacity(files.len());
    for path in files {
        let file = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let problem = |message: String| Problem {
            id: None,
            name: Some(file.clone()),
            message,
        };
        match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(body)) => entries.push(Entry {
                id: sha256_hex(&body),
                body,
                name: None,
                file: Some(file),
            }),
            Ok(Err(_)) => problems.push(problem("the file is not UTF-8 text".into())),
            Err(e) => problems.push(problem(format!("the file cannot be read: {e}"))),
        }
    }
    verify(entries, problems)
}

/// Lowercase hex SHA-256 of the text's UTF-8 bytes.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Accepts a client's document ID: `sha256:<64 hex>` (the GraphQL-over-HTTP persisted
/// documents form) or bare 64 hex, in any case (the prefix too); returns the lowercase hex,
/// or None when it is not such an ID.
pub fn parse_id(id: &str) -> Option<String> {
    let hex = match id.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &id[7..],
        _ => id,
    };
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// A canonical form of a document that ignores whitespace, commas, comments and the order
/// of its top-level definitions, but nothing else: the GraphQL tokens of each definition
/// (as written, see [`lexer::tokens`]) joined by single spaces, the definitions sorted and
/// joined by single spaces. Used by the safelist mode: text is accepted when its form is
/// that of a published document. None when the text does not lex, or its brackets do not
/// nest into definitions each ending with a `{…}` block.
///
/// The grammar is not checked further, and need not be: a text whose form equals that of a
/// published document has that document's tokens, each definition's in the same order, and
/// so parses as the published document did. The form is itself such a text, and its own
/// form.
pub fn canonical(body: &str) -> Option<String> {
    let mut definitions = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    // The open brackets, innermost last. A definition ends when its `{…}` block closes at
    // the top level; a `{` inside parentheses (an input object as a variable's default or
    // a directive's argument in the header) does not start that block.
    let mut open = Vec::new();
    for token in lexer::tokens(body)? {
        current.push(token);
        match token {
            "{" | "(" | "[" => open.push(token),
            "}" | ")" | "]" => {
                let opener = open.pop()?;
                if !matches!((opener, token), ("{", "}") | ("(", ")") | ("[", "]")) {
                    return None;
                }
                if token == "}" && open.is_empty() {
                    definitions.push(current.join(" "));
                    current.clear();
                }
            }
            _ => {}
        }
    }
    if !current.is_empty() || definitions.is_empty() {
        return None;
    }
    definitions.sort_unstable();
    Some(definitions.join(" "))
}

/// A document as a manifest states it, before it is checked.
struct Entry {
    /// The ID as written (for a text or a file, computed from the body).
    id: String,
    body: String,
    /// The name the manifest gives the operation (Apollo's `name`).
    name: Option<String>,
    /// The file it was read from, named in its problems instead of the operation.
    file: Option<String>,
}

/// Checks each entry and turns the good ones into documents; `problems` holds what was
/// found wrong already (entries that could not be read), so every problem is reported once.
fn verify(entries: Vec<Entry>, mut problems: Vec<Problem>) -> Result<Vec<Document>, Vec<Problem>> {
    let mut documents = Vec::with_capacity(entries.len());
    // The SHA-256 of the first body listed under each ID.
    let mut first: HashMap<String, String> = HashMap::with_capacity(entries.len());
    for entry in entries {
        let id = parse_id(&entry.id);
        let shown = id.clone().unwrap_or_else(|| entry.id.clone());
        let problem = |name: Option<&str>, message: String| Problem {
            id: Some(shown.clone()),
            name: entry.file.clone().or_else(|| name.map(str::to_owned)),
            message,
        };
        let declared = entry.name.as_deref();
        if entry.body.len() > MAX_BODY_BYTES {
            let message = format!(
                "the document is {} bytes; at most {MAX_BODY_BYTES} (100 KB) are accepted",
                entry.body.len()
            );
            problems.push(problem(declared, message));
            continue;
        }
        let hash = sha256_hex(&entry.body);
        let mut good = true;
        match &id {
            None => {
                let message =
                    "not a SHA-256 document ID (64 hex digits, optionally after `sha256:`)";
                problems.push(problem(declared, message.into()));
                good = false;
            }
            Some(id) => {
                match first.get(id) {
                    // The same document listed twice: once is enough.
                    Some(earlier) if *earlier == hash => continue,
                    Some(_) => {
                        let message = "the ID is listed twice, with different documents";
                        problems.push(problem(declared, message.into()));
                        good = false;
                    }
                    None => {
                        first.insert(id.clone(), hash.clone());
                    }
                }
                if *id != hash {
                    let message = format!(
                        "the ID is not the SHA-256 of the document, which is {hash}: the \
                         document was changed after it was hashed, or hashed another way"
                    );
                    problems.push(problem(declared, message));
                    good = false;
                }
            }
        }
        let name = match parser::parse_query(&entry.body) {
            Ok(doc) => {
                if let Some(declared) = declared
                    && !doc
                        .operations
                        .iter()
                        .any(|(n, _)| n.is_some_and(|n| n == declared))
                {
                    let message = format!("the document has no operation named {declared:?}");
                    problems.push(problem(Some(declared), message));
                    good = false;
                }
                entry.name.clone().or_else(|| first_operation_name(&doc))
            }
            Err(parser::Error::MultipleOperations { .. }) => {
                let message = "an operation without a name beside other operations: each \
                               operation of a document with several needs a name";
                problems.push(problem(declared, message.into()));
                good = false;
                None
            }
            Err(e) => {
                problems.push(problem(declared, format!("not a GraphQL document: {e}")));
                good = false;
                None
            }
        };
        if good && let Some(id) = id {
            documents.push(Document {
                id,
                body: entry.body,
                name,
            });
        }
    }
    if problems.is_empty() {
        Ok(documents)
    } else {
        Err(problems)
    }
}

/// The name of the document's first named operation, in the order written (the parser
/// keeps named operations in a map, so the order comes from their positions).
fn first_operation_name(doc: &ExecutableDocument) -> Option<String> {
    doc.operations
        .iter()
        .filter_map(|(name, op)| name.map(|name| ((op.pos.line, op.pos.column), name)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, name)| name.to_string())
}

/// A manifest with no documents, or more than [`MAX_DOCUMENTS`], is refused before any is
/// looked at.
fn count_problem(count: usize, empty: &str) -> Option<Problem> {
    if count == 0 {
        Some(Problem::whole(empty))
    } else if count > MAX_DOCUMENTS {
        Some(Problem::whole(format!(
            "the manifest holds {count} documents; at most {MAX_DOCUMENTS} are accepted"
        )))
    } else {
        None
    }
}

/// Whether the upload is meant as JSON rather than GraphQL text. A GraphQL text may start
/// with `{` too (a shorthand query), but a selection never starts with a string or `}`.
fn looks_like_json(text: &str) -> bool {
    let text = text.trim_start();
    if text.starts_with('[') {
        return true;
    }
    text.strip_prefix('{')
        .is_some_and(|inner| matches!(inner.trim_start().chars().next(), Some('"' | '}')))
}

fn from_json(text: &str) -> Result<Vec<Document>, Vec<Problem>> {
    let members: Members = serde_json::from_str(text).map_err(|e| {
        vec![Problem::whole(format!(
            "not a manifest: the JSON does not read as an object ({e})"
        ))]
    })?;
    let apollo = members
        .0
        .iter()
        .any(|(key, _)| matches!(key.as_str(), "format" | "version" | "operations"));
    if apollo {
        from_apollo(members)
    } else {
        from_document_map(members)
    }
}

/// Apollo's persisted query manifest, version 1. Its `type` is not read: the body says
/// what the operation is.
fn from_apollo(members: Members) -> Result<Vec<Document>, Vec<Problem>> {
    let (mut format, mut version, mut operations) = (None, None, None);
    for (key, value) in members.0 {
        match key.as_str() {
            "format" => format = Some(value),
            "version" => version = Some(value),
            "operations" => operations = Some(value),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    if format.as_ref().and_then(Value::as_str) != Some(APOLLO_FORMAT) {
        problems.push(Problem::whole(format!(
            "not a manifest: `format` is {}, not {APOLLO_FORMAT:?}",
            format.unwrap_or(Value::Null)
        )));
    }
    if version.as_ref().and_then(Value::as_u64) != Some(1) {
        problems.push(Problem::whole(format!(
            "version {} of Apollo's manifest is not supported, only version 1",
            version.unwrap_or(Value::Null)
        )));
    }
    let Some(Value::Array(operations)) = operations else {
        problems.push(Problem::whole("the manifest has no `operations` list"));
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some(problem) = count_problem(operations.len(), "the manifest holds no documents") {
        return Err(vec![problem]);
    }
    let mut entries = Vec::with_capacity(operations.len());
    for (i, operation) in operations.into_iter().enumerate() {
        let Value::Object(mut operation) = operation else {
            problems.push(Problem::whole(format!("operations[{i}] is not an object")));
            continue;
        };
        let field = |value: Option<Value>| match value {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(()),
        };
        let id = field(operation.remove("id"));
        let name = field(operation.remove("name"));
        let body = field(operation.remove("body"));
        match (id, name, body) {
            (Ok(Some(id)), Ok(name), Ok(Some(body))) => entries.push(Entry {
                id,
                body,
                name,
                file: None,
            }),
            (id, name, _) => problems.push(Problem {
                id: id.ok().flatten(),
                name: name.ok().flatten(),
                message: format!(
                    "operations[{i}] needs a string `id` and `body` (and `name`, if any)"
                ),
            }),
        }
    }
    verify(entries, problems)
}

/// The `{ "<id>": "<document>" }` map of graphql-codegen and Relay.
fn from_document_map(members: Members) -> Result<Vec<Document>, Vec<Problem>> {
    if let Some(problem) = count_problem(members.0.len(), "the manifest holds no documents") {
        return Err(vec![problem]);
    }
    let mut entries = Vec::with_capacity(members.0.len());
    let mut problems = Vec::new();
    for (id, value) in members.0 {
        match value {
            Value::String(body) => entries.push(Entry {
                id,
                body,
                name: None,
                file: None,
            }),
            _ => problems.push(Problem {
                id: Some(parse_id(&id).unwrap_or(id)),
                name: None,
                message: "the document is not a JSON string".into(),
            }),
        }
    }
    verify(entries, problems)
}

/// A JSON object's members in the order written, repeated keys kept: serde_json's own map
/// keeps the last value of a repeated key, which would hide an ID listed twice.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Members;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Read)
    }
}

/// The `.graphql` files under `dir`, found depth first; what cannot be read is a problem.
fn graphql_files(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let cannot_read = |path: &Path, e: std::io::Error| Problem {
        id: None,
        name: Some(path.display().to_string()),
        message: format!("cannot be read: {e}"),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return problems.push(cannot_read(dir, e)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(cannot_read(dir, e));
                continue;
            }
        };
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => graphql_files(&path, files, problems),
            Ok(_) if path.extension().is_some_and(|e| e == "graphql") => files.push(path),
            Ok(_) => {}
            Err(e) => problems.push(cannot_read(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
