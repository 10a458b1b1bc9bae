//! The assistant's tools: what a domain module lets the assistant read (and draft) on the
//! asking user's behalf. Each module hands its tools over through `Module::tools`, the
//! server gathers them into one `Toolbox`, and the assistant (`ils_ai`) calls them by name
//! with the asking user's `TenantContext`: the same role checks and tenant guard as the
//! GraphQL fields, because a tool calls the same service functions.

use crate::{AppError, AppResult, ClientInfo, Db, TenantContext};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What running a tool may change. There is no third kind: the assistant never submits,
/// approves or deletes anything; a person acts on the drafts it prepares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Prepares a draft (a draft purchase order) that a person reviews and submits.
    Draft,
}

/// One call of a tool, as the assistant makes it.
pub struct ToolCall<'a> {
    pub db: &'a Db,
    /// The asking user's context: the tool acts as that user, never as the system.
    pub ctx: &'a TenantContext,
    pub client: &'a ClientInfo,
    /// The arguments the model (or the built-in assistant) chose, checked by the tool.
    pub args: serde_json::Value,
}

pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = AppResult<serde_json::Value>> + Send + 'a>>;

/// A tool: a name models call it by, what it does (told to the model), the JSON schema of
/// its arguments, and its handler.
#[derive(Clone)]
pub struct Tool {
    /// Letters, digits and underscores (what every provider accepts), unique platform-wide.
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON schema of the arguments (an object schema).
    pub parameters: fn() -> serde_json::Value,
    pub effect: Effect,
    /// The keys in its result that hold patient data (names, birth dates, contact
    /// details): replaced before a result leaves for an external model unless the
    /// company shares patient data with it.
    pub personal: &'static [&'static str],
    pub run: for<'a> fn(ToolCall<'a>) -> ToolFuture<'a>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("effect", &self.effect)
            .finish()
    }
}

/// Every module's tools by name: what the server puts into each request's data for the
/// assistant.
#[derive(Clone, Debug, Default)]
pub struct Toolbox(Arc<BTreeMap<&'static str, Tool>>);

impl Toolbox {
    /// The toolbox of `tools`. Two tools of one name, or a name a provider would refuse,
    /// are a programming error, reported here rather than at the first question.
    pub fn new(tools: Vec<Tool>) -> AppResult<Toolbox> {
        let mut map = BTreeMap::new();
        for tool in tools {
            let valid = !tool.name.is_empty()
                && tool.name.len() <= 64
                && tool
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(AppError::internal(format!("bad tool name {:?}", tool.name)));
            }
            if map.insert(tool.name, tool).is_some() {
                return Err(AppError::internal("two tools share a name"));
            }
        }
        Ok(Toolbox(Arc::new(map)))
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tool> {
        self.0.values()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads a tool's arguments into `T`; what does not fit is a BAD_USER_INPUT the model is
/// told about (it may try again).
pub fn args<T: serde::de::DeserializeOwned>(call: &ToolCall<'_>) -> AppResult<T> {
    let value = if call.args.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        call.args.clone()
    };
    serde_json::from_value(value)
        .map_err(|e| AppError::bad_input("arguments", format!("do not fit the tool: {e}")))
}

/// Every row of a paged service call (pages of 100, through the caller's own list
/// function, so its guard, role checks and audit apply), up to about `max` rows; `true`
/// when there were more.
pub async fn every<T, F, Fut>(max: usize, mut page: F) -> AppResult<(Vec<T>, bool)>
where
    F: FnMut(crate::pagination::PageArgs) -> Fut,
    Fut: Future<Output = AppResult<crate::pagination::Page<T>>>,
    T: async_graphql::OutputType,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let conn = page(crate::pagination::PageArgs {
            first: Some(100),
            after: after.take(),
            ..Default::default()
        })
        .await?;
        let more = conn.has_next_page;
        after = conn.edges.last().map(|e| e.cursor.clone());
        out.extend(conn.edges.into_iter().map(|e| e.node));
        if !more || after.is_none() {
            return Ok((out, false));
        }
        if out.len() >= max {
            return Ok((out, true));
        }
    }
}

/// A result as JSON.
pub fn json<T: serde::Serialize>(value: &T) -> AppResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| AppError::internal(e.to_string()))
}

/// The most rows a tool returns, whatever it is asked: models pay per token.
pub const MAX_ROWS: usize = 50;

/// How many rows to return: `asked` (default `default`), 1..=[`MAX_ROWS`].
pub fn limit(asked: Option<u32>, default: usize) -> usize {
    asked.map_or(default, |n| n as usize).clamp(1, MAX_ROWS)
}

/// Whether `name` contains `part`, ignoring case and surrounding blanks (an empty `part`
/// matches every name): how tools match a partner named in a question.
pub fn name_matches(name: &str, part: &str) -> bool {
    let part = part.trim().to_lowercase();
    part.is_empty() || name.to_lowercase().contains(&part)
}

/// The words of a product search as a person types them ("1.67 blanks", "the tortoise
/// frames"), made to find stored names: filler words dropped and plurals made singular
/// ("blanks" finds "Blank", "lenses" finds "Lens"), since every word must match.
pub fn search_words(text: &str) -> String {
    const FILLER: &[&str] = &[
        "a", "an", "the", "of", "any", "some", "our", "my", "we", "do", "for", "in", "and", "or",
        "with", "all", "stock", "item", "items", "product", "products",
    ];
    text.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()))
        .map(|w| {
            if w.len() > 4 && w.ends_with("ses") {
                w[..w.len() - 2].to_owned()
            } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
                w[..w.len() - 1].to_owned()
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &'static str) -> Tool {
        Tool {
            name,
            description: "",
            parameters: || serde_json::json!({"type": "object"}),
            effect: Effect::Read,
            personal: &[],
            run: |_| Box::pin(async { Ok(serde_json::Value::Null) }),
        }
    }

    #[test]
    fn names_are_unique_and_plain() {
        assert!(Toolbox::new(vec![tool("a_b1"), tool("c")]).is_ok());
        assert!(Toolbox::new(vec![tool("a"), tool("a")]).is_err());
        assert!(Toolbox::new(vec![tool("a.b")]).is_err());
        assert!(Toolbox::new(vec![tool("")]).is_err());
    }

    #[test]
    fn limits_and_names() {
        assert_eq!(limit(None, 20), 20);
        assert_eq!(limit(Some(0), 20), 1);
        assert_eq!(limit(Some(500), 20), MAX_ROWS);
        assert!(name_matches("Clearview Lens Lab", " clearview "));
        assert!(name_matches("Clearview Lens Lab", ""));
        assert!(!name_matches("Clearview Lens Lab", "northwind"));
    }

    #[test]
    fn search_words_find_singular_names() {
        assert_eq!(search_words("1.67 blanks"), "1.67 blank");
        assert_eq!(search_words("the tortoise frames"), "tortoise frame");
        assert_eq!(search_words("Lenses, glasses"), "lens glass");
        assert_eq!(search_words("any stock"), "");
    }
}
