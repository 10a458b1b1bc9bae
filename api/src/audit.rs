//! Every mutation is audited: actor, company, operation (its top-level fields), the global
//! IDs it named (arguments and variables) or returned, client address, user agent, time and
//! outcome. An async-graphql extension, so HTTP and WebSocket mutations are covered alike.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Response, ServerResult, Value, Variables};
use ils_kernel::audit::{AuditEntry, record};
use ils_kernel::{ClientInfo, Db, TenantContext, id};
use std::sync::{Arc, Mutex};

pub struct AuditFactory;

impl ExtensionFactory for AuditFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditExtension::default())
    }
}

/// What the parse step learnt about the mutation about to run.
#[derive(Default)]
struct Pending {
    fields: Vec<String>,
    targets: Vec<String>,
}

#[derive(Default)]
struct AuditExtension(Mutex<Vec<(Option<String>, Pending)>>);

/// At most this many target IDs per entry.
const MAX_TARGETS: usize = 50;

fn push_id(targets: &mut Vec<String>, s: &str) {
    if targets.len() < MAX_TARGETS && id::decode_any(s).is_some() && !targets.iter().any(|t| t == s)
    {
        targets.push(s.to_owned());
    }
}

/// Every string in `v` that is one of our global IDs.
fn collect_ids(v: &Value, targets: &mut Vec<String>) {
    match v {
        Value::String(s) => push_id(targets, s),
        Value::List(items) => items.iter().for_each(|i| collect_ids(i, targets)),
        Value::Object(map) => map.values().for_each(|i| collect_ids(i, targets)),
        _ => {}
    }
}

fn mutation_of(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<Pending> {
    let op = match operation_name {
        Some(name) => {
            doc.operations
                .iter()
                .find(|(n, _)| n.map(|n| n.as_str()) == Some(name))?
                .1
        }
        None => doc.operations.iter().next()?.1,
    };
    if op.node.ty != OperationType::Mutation {
        return None;
    }
    let mut p = Pending::default();
    for sel in &op.node.selection_set.node.items {
        if let Selection::Field(f) = &sel.node {
            p.fields.push(f.node.name.node.to_string());
            for (_, arg) in &f.node.arguments {
                if let Ok(v) = arg
                    .node
                    .clone()
                    .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
                {
                    collect_ids(&v, &mut p.targets);
                }
            }
        }
    }
    Some(p)
}

#[async_trait::async_trait]
impl Extension for AuditExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        // Which operation runs is known at execution; note every mutation of the document.
        let mut pending = vec![];
        for (name, _) in doc.operations.iter() {
            let name = name.map(|n| n.to_string());
            if let Some(p) = mutation_of(&doc, name.as_deref(), variables) {
                pending.push((name, p));
            }
        }
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = pending;
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        let pending = {
            let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let found = match operation_name {
                Some(n) => all.iter().position(|(name, _)| name.as_deref() == Some(n)),
                None if all.len() == 1 => Some(0),
                None => None,
            };
            found.map(|i| all.swap_remove(i).1)
        };
        let Some(mut pending) = pending else {
            return response;
        };
        collect_ids(&response.data, &mut pending.targets);
        let error_code = response.errors.first().map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "INTERNAL".into())
        });
        let (Some(tenant), Some(db)) = (ctx.data_opt::<TenantContext>(), ctx.data_opt::<Db>())
        else {
            return response;
        };
        let client = ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default();
        let entry = AuditEntry {
            operation: pending.fields.join(","),
            target_ids: pending.targets,
            error_code,
        };
        if let Err(e) = record(db, tenant, &client, &entry).await {
            metrics::counter!("ils_audit_failures_total").increment(1);
            tracing::error!(error = ?e, operation = %entry.operation, "could not write the audit log");
        }
        response
    }
}
