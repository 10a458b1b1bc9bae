//! The live stream of a company's domain events, as the `events` subscription serves it.

use futures_util::Stream;
use ils_kernel::authz::require_member;
use ils_kernel::{AppResult, Bus, Event, Role, TenantContext};
use std::sync::Arc;

/// The caller's company's events matching `types` (`*` when none are given). Team and
/// credential events reach company admins only.
pub fn stream(
    tenant: &TenantContext,
    bus: &Bus,
    types: Option<Vec<String>>,
) -> AppResult<impl Stream<Item = Arc<Event>> + Send + 'static + use<>> {
    let company = require_member(tenant)?;
    let types = types.unwrap_or_else(|| vec!["*".into()]);
    ils_kernel::events::check_patterns(&types, "types")?;
    // Admins-only events (team, credentials) go to sockets of a company admin (the role
    // the credential carried when the socket opened; it closes when that expires).
    let admin = tenant.has_role(Role::CompanyAdmin);
    Ok(bus.visible_stream(company, admin, types))
}
