//! Every mutation is audited: actor, company, operation (its top-level fields), the global
//! IDs it named (arguments and variables) or returned, client address, user agent, time and
//! outcome. A step of the request pipeline (`extension.rs`, an async-graphql extension),
//! so HTTP and WebSocket mutations are covered alike.

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Value, Variables};
use ils_kernel::audit::{AuditEntry, record};
use ils_kernel::{ClientInfo, Db, TenantContext, id};
use std::sync::Mutex;

/// What the parse step learnt about the mutation about to run.
#[derive(Default)]
struct Pending {
    fields: Vec<String>,
    targets: Vec<String>,
}

/// One request's audit, as the request pipeline (`extension.rs`) runs it: the mutations
/// its document holds, noted once parsed, written once run or refused.
#[derive(Default)]
pub struct Audit(Mutex<Vec<(Option<String>, Pending)>>);

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
    top_fields(doc, &op.node.selection_set.node, variables, &mut p, 0);
    Some(p)
}

/// The mutation fields a selection set runs, through inline fragments and fragment spreads
/// too (`mutation { ... on Mutation { revokeApiKey(…) } }` is audited like the plain form).
fn top_fields(
    doc: &ExecutableDocument,
    set: &async_graphql::parser::types::SelectionSet,
    variables: &Variables,
    p: &mut Pending,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    for sel in &set.items {
        match &sel.node {
            Selection::Field(f) => {
                let name = f.node.name.node.to_string();
                if name != "__typename" && !p.fields.contains(&name) {
                    p.fields.push(name);
                }
                for (_, arg) in &f.node.arguments {
                    let value = arg
                        .node
                        .clone()
                        .into_const_with(|name| variables.get(&name).cloned().ok_or(()));
                    if let Ok(v) = value {
                        collect_ids(&v, &mut p.targets);
                    }
                }
            }
            Selection::InlineFragment(i) => {
                top_fields(doc, &i.node.selection_set.node, variables, p, depth + 1)
            }
            Selection::FragmentSpread(s) => {
                if let Some(f) = doc.fragments.get(&s.node.fragment_name.node) {
                    top_fields(doc, &f.node.selection_set.node, variables, p, depth + 1);
                }
            }
        }
    }
}

impl Audit {
    /// Once the document is parsed: which operation runs is known at execution, so every
    /// mutation of the document is noted.
    pub fn parsed(&self, doc: &ExecutableDocument, variables: &Variables) {
        let mut pending = vec![];
        for (name, _) in doc.operations.iter() {
            let name = name.map(|n| n.to_string());
            if let Some(p) = mutation_of(doc, name.as_deref(), variables) {
                pending.push((name, p));
            }
        }
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = pending;
    }

    /// A mutation refused in validation (unknown fields, bad variables, depth, complexity,
    /// cost, the text rule) never runs, but the attempt is audited as a failure, with
    /// `code`: the refusal's own.
    pub async fn refused(&self, ctx: &ExtensionContext<'_>, code: &str) {
        let pending = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, p) in pending {
            write(ctx, p, Some(code.to_owned())).await;
        }
    }

    /// Once the operation `operation_name` ran: its entry, when it is a mutation, with the
    /// IDs it returned (in `data`) and its first error's code, if it failed.
    pub async fn executed(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        data: &Value,
        error_code: Option<&str>,
    ) {
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
            return;
        };
        collect_ids(data, &mut pending.targets);
        write(ctx, pending, error_code.map(str::to_owned)).await;
    }
}

/// Records one audited mutation in its own transaction, in the caller's scope. A failure to
/// write is logged and counted (`ils_audit_failures_total`); the caller's answer stands.
///
/// A mutation refused because the database is unavailable is recorded in the background:
/// its client gets the 503 at once instead of waiting out the pool's acquire timeout a
/// second time for the audit entry, which is written if the database is back by then.
async fn write(ctx: &ExtensionContext<'_>, pending: Pending, error_code: Option<String>) {
    let (Some(tenant), Some(db)) = (ctx.data_opt::<TenantContext>(), ctx.data_opt::<Db>()) else {
        return;
    };
    let client = ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default();
    let entry = AuditEntry {
        operation: pending.fields.join(","),
        target_ids: pending.targets,
        error_code,
    };
    if entry.error_code.as_deref() == Some(ils_kernel::error::SERVICE_UNAVAILABLE) {
        let (db, tenant) = (db.clone(), tenant.clone());
        tokio::spawn(async move { write_entry(&db, &tenant, &client, &entry).await });
        return;
    }
    write_entry(db, tenant, &client, &entry).await;
}

async fn write_entry(db: &Db, tenant: &TenantContext, client: &ClientInfo, entry: &AuditEntry) {
    if let Err(e) = record(db, tenant, client, entry).await {
        metrics::counter!("ils_audit_failures_total").increment(1);
        tracing::error!(error = ?e, operation = %entry.operation, "could not write the audit log");
    }
}
