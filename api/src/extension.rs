//! The GraphQL-level protections async-graphql lacks (an alias limit) and the one place
//! where every error gets its stable `extensions.code` and the request id.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Protections {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl Default for Protections {
    fn default() -> Self {
        let c = crate::config::Config::default();
        Protections::from(&c)
    }
}

impl From<&crate::config::Config> for Protections {
    fn from(c: &crate::config::Config) -> Self {
        Protections {
            max_depth: c.max_depth,
            max_complexity: c.max_complexity,
            max_aliases: c.max_aliases,
            max_directives: c.max_directives,
        }
    }
}

/// Per-request facts the transport puts in the request data.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    /// "Did you mean …?" hints are removed from messages when false.
    pub suggestions: bool,
}

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

pub struct ProtectionsFactory(pub Protections);

impl ExtensionFactory for ProtectionsFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ProtectionsExtension(self.0.clone()))
    }
}

struct ProtectionsExtension(Protections);

fn with_code(mut e: ServerError, code: &str) -> ServerError {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    e
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count_aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases in the whole document, fragments counted once each (a spread fragment is still
/// bounded by the depth and complexity limits).
pub fn document_aliases(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    ops + frags
}

#[async_trait::async_trait]
impl Extension for ProtectionsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let meta = ctx.data_opt::<RequestMeta>();
        for e in &mut response.errors {
            if !meta.map(|m| m.suggestions).unwrap_or(true)
                && let Some(i) = e.message.find(" Did you mean")
            {
                e.message.truncate(i);
            }
            let ext = e.extensions.get_or_insert_with(Default::default);
            if ext.get("code").is_none() {
                // What reaches here without a code is async-graphql's own argument and
                // variable coercion ("Invalid value for argument …", "Failed to parse …").
                ext.set("code", "BAD_USER_INPUT");
            }
            if let Some(m) = meta {
                ext.set("requestId", m.request_id.clone());
            }
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED))?;
        let aliases = document_aliases(&doc);
        if aliases > self.0.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "Query has too many aliases ({aliases}; at most {})",
                        self.0.max_aliases
                    ),
                    None,
                ),
                VALIDATION_FAILED,
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errs| {
            errs.into_iter()
                .map(|e| with_code(e, VALIDATION_FAILED))
                .collect()
        })
    }
}

/// True when the response failed before execution (parse or validation): a request error
/// in GraphQL-over-HTTP terms.
pub fn is_request_error(r: &Response) -> bool {
    r.data == Value::Null
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| {
                    *c == Value::from(PARSE_FAILED) || *c == Value::from(VALIDATION_FAILED)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { b: user { id } } ...F } fragment F on Query { c: me { roles } }",
        )
        .unwrap();
        assert_eq!(document_aliases(&doc), 3);
    }
}
