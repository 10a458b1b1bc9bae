//! The live stream of a company's domain events, as the `events` subscription serves it.

use futures_util::Stream;
use ils_kernel::authz::require_member;
use ils_kernel::events::Cursor;
use ils_kernel::{AppResult, Bus, Db, Event, Role, TenantContext};
use std::sync::Arc;

/// The caller's company's events matching `types` (`*` when none are given), after the
/// cursor `after` when one is given (replayed from the outbox, then live). Team and
/// credential events reach company admins only.
pub async fn stream(
    db: &Db,
    tenant: &TenantContext,
    bus: &Bus,
    types: Option<Vec<String>>,
    after: Option<String>,
) -> AppResult<impl Stream<Item = Arc<Event>> + Send + 'static + use<>> {
    let company = require_member(tenant)?;
    let types = types.unwrap_or_else(|| vec!["*".into()]);
    ils_kernel::events::check_patterns(&types, "types")?;
    // Admins-only events (team, credentials) go to sockets of a company admin (the role
    // the credential carried when the socket opened; it closes when that expires).
    let admin = tenant.has_role(Role::CompanyAdmin);
    let after = match after {
        Some(cursor) => {
            let seq = Cursor::decode(&cursor, "after")?;
            ils_kernel::events::check_cursor(db, seq, "after").await?;
            Some(seq)
        }
        None => None,
    };
    Ok(bus.resumable_stream(db.clone(), company, admin, types, after))
}
