//! The audit log: who did what, for which company, from where, and how it ended. Rows are
//! only ever added (no API changes or deletes them; triggers refuse it on both backends,
//! and on PostgreSQL the application role has no UPDATE or DELETE privilege).

use crate::{Actor, AppResult, ClientInfo, Db, TenantContext, Tx};
use chrono::Utc;
use ils_entity::audit_entry;
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

/// One thing to record.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// The operation: mutation field names (`inviteUser`), or a named read (`patient.read`).
    pub operation: String,
    /// Global IDs the operation named or returned.
    pub target_ids: Vec<String>,
    /// None on success; the error code otherwise.
    pub error_code: Option<String>,
}

fn row(ctx: &TenantContext, client: &ClientInfo, e: &AuditEntry) -> audit_entry::ActiveModel {
    let (kind, user, key) = match ctx.actor() {
        Actor::User(u) => ("USER", Some(u), None),
        Actor::ApiKey { id, created_by } => ("API_KEY", Some(created_by), Some(id)),
        Actor::System => ("SYSTEM", None, None),
        Actor::Anonymous => ("ANONYMOUS", None, None),
    };
    let cap = |s: &Option<String>, n: usize| s.as_ref().map(|v| v.chars().take(n).collect());
    audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(ctx.company_id()),
        actor_kind: Set(kind.into()),
        actor_user_id: Set(user),
        actor_api_key_id: Set(key),
        operation: Set(e.operation.chars().take(200).collect()),
        target_ids: Set(serde_json::to_string(&e.target_ids).unwrap_or_else(|_| "[]".into())),
        client_address: Set(cap(&client.address, 64)),
        user_agent: Set(cap(&client.user_agent, 300)),
        outcome: Set(if e.error_code.is_none() {
            "SUCCESS"
        } else {
            "FAILURE"
        }
        .into()),
        error_code: Set(e.error_code.clone()),
        occurred_at: Set(Utc::now()),
    }
}

/// Records an entry inside `tx` (a read of patient data, audited with the read itself).
pub async fn record_in(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    e: &AuditEntry,
) -> AppResult<()> {
    crate::below::insert_audit(row(ctx, client, e))
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

/// Records an entry in its own transaction, in the caller's scope (which may be anonymous:
/// such a row is write-only for the application role).
pub async fn record(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    e: &AuditEntry,
) -> AppResult<()> {
    let tx = db.tenant(ctx).await?;
    record_in(&tx, ctx, client, e).await?;
    tx.commit().await
}
