//! Checking documents before they are published, and again whenever the schema changes
//! (`ils operations check`): each operation of each document is validated against the
//! schema and the request limits exactly as a request would be, without running it.

use super::Checked;
use super::manifest::{Document, Problem};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::parser::types::OperationType;
use async_graphql::{Request, ServerError, ValidationResult};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// The message of the error `StopAfterValidation` ends a valid document's request with.
const VALID: &str = "ILS: the document is valid (validation only)";

/// Ends every request after validation: a valid document answers the `VALID` error and
/// runs nothing. Registered first, so the limits and the other checks run inside it.
pub struct StopAfterValidation;

impl ExtensionFactory for StopAfterValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopAfterValidation)
    }
}

#[async_trait::async_trait]
impl Extension for StopAfterValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await?;
        Err(vec![ServerError::new(VALID, None)])
    }
}

/// A schema a request can be run against (the platform's, built by `schema`, which
/// lists this module: the checker takes it rather than naming it).
pub trait Validates: Send + Sync {
    fn run(&self, request: Request) -> BoxFuture<'_, async_graphql::Response>;
}

impl<Q, M, S> Validates for async_graphql::Schema<Q, M, S>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    fn run(&self, request: Request) -> BoxFuture<'_, async_graphql::Response> {
        Box::pin(self.execute(request))
    }
}

/// Validates documents against the platform's schema and limits: give it a schema built
/// with `StopAfterValidation` first (`schema::checker`).
pub struct Checker {
    schema: Box<dyn Validates>,
}

impl Checker {
    pub fn new(schema: impl Validates + 'static) -> Checker {
        Checker {
            schema: Box::new(schema),
        }
    }

    /// Every document checked, or every problem found (a document may have several).
    pub async fn check(&self, docs: Vec<Document>) -> Result<Vec<Checked>, Vec<Problem>> {
        let mut problems = vec![];
        let mut checked = Vec::with_capacity(docs.len());
        for document in docs {
            let problem = |message: String| Problem {
                id: Some(document.id.clone()),
                name: document.name.clone(),
                message,
            };
            let parsed = match async_graphql::parser::parse_query(&document.body) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(problem(format!("does not parse: {e}")));
                    continue;
                }
            };
            let names: Vec<Option<String>> = parsed
                .operations
                .iter()
                .map(|(n, _)| n.map(|n| n.to_string()))
                .collect();
            let mut ok = true;
            for name in &names {
                let mut request = Request::new(document.body.clone());
                if let Some(name) = name {
                    request = request.operation_name(name.clone());
                }
                let response = self.schema.run(request).await;
                for e in response.errors.iter().filter(|e| e.message != VALID) {
                    ok = false;
                    let at = e
                        .locations
                        .first()
                        .map(|l| format!(" (line {}, column {})", l.line, l.column))
                        .unwrap_or_default();
                    let which = name.as_deref().unwrap_or("the operation");
                    problems.push(problem(format!("{which}: {}{at}", e.message)));
                }
            }
            let Some(canonical) = super::manifest::canonical(&document.body) else {
                problems.push(problem("does not parse".into()));
                continue;
            };
            let kind = match super::runtime::operation_type(&parsed, None) {
                Some(OperationType::Query) => "QUERY",
                Some(OperationType::Mutation) => "MUTATION",
                Some(OperationType::Subscription) => "SUBSCRIPTION",
                None => {
                    problems.push(problem("holds no operation".into()));
                    continue;
                }
            };
            if ok {
                checked.push(Checked {
                    document,
                    kind,
                    canonical,
                });
            }
        }
        if problems.is_empty() {
            Ok(checked)
        } else {
            Err(problems)
        }
    }
}
