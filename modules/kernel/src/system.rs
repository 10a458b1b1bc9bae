//! Background work acting for a company: the one way module code gets a tenant context
//! that is not its caller's.

use crate::audit::{self, AuditEntry};
use crate::{AppResult, ClientInfo, Db, TenantContext};
use uuid::Uuid;

/// A context for the system acting for `company`: `actor` names the work (a job kind or a
/// module's service, e.g. `orders.mail_practice`), `reason` says why it reads or writes
/// that company's rows. Both go to the company's audit log first (actor kind `SYSTEM`,
/// operation `system:<actor>: <reason>`), so every cross-tenant step of the platform is on
/// record. Banned by clippy outside the few services that need it, each with a reason.
pub async fn act_for(
    db: &Db,
    company: Uuid,
    actor: &'static str,
    reason: &str,
) -> AppResult<TenantContext> {
    let ctx = TenantContext::system_for(Some(company));
    audit::record(
        db,
        &ctx,
        &ClientInfo::default(),
        &AuditEntry {
            operation: format!("system:{actor}: {reason}"),
            target_ids: vec![],
            error_code: None,
        },
    )
    .await?;
    Ok(ctx)
}
