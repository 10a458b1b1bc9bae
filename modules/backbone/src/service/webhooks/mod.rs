//! Webhooks: company admins register endpoints for event types; every matching event that
//! the company may see becomes a delivery, POSTed with a signature
//! (`x-ils-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`), retried with
//! exponential backoff (about a day in all by default), then dead-lettered. Only http(s);
//! in production loopback, private and link-local addresses are refused (at registration
//! and again when connecting, so DNS cannot be turned against us) unless allowed.
//!
//! - `settings`: the HTTP client and retry policy ([`WebhookSettings`]);
//! - `ssrf`: which addresses may be reached ([`check_url`], [`is_public`]);
//! - `signing`: the signature header and signing secrets;
//! - `endpoints`, `deliveries`: what the GraphQL resolvers call;
//! - `fanout`, `deliver`, `prune`: the jobs, with their payloads.

pub mod deliver;
pub mod deliveries;
pub mod endpoints;
pub mod fanout;
pub mod prune;
pub mod settings;
pub mod signing;
pub mod ssrf;

pub use deliver::{DELIVER, Deliver, deliver_kind};
pub use fanout::{FANOUT, fanout_kind};
pub use prune::{KEEP_DELIVERIES_DAYS, PRUNE, PruneDeliveries, prune_kind, prune_schedule};
pub use settings::WebhookSettings;
pub use signing::signature;
pub use ssrf::{check_url, is_public};

use ils_kernel::authz::require_role;
use ils_kernel::{AppResult, Db, Role, TenantContext, Tx};

/// The global ID type name of an endpoint.
pub const ENDPOINT: &str = "WebhookEndpoint";
/// The global ID type name of a delivery.
pub const DELIVERY: &str = "WebhookDelivery";

/// A company admin's transaction.
pub(crate) async fn admin_tx(db: &Db, tenant: &TenantContext) -> AppResult<Tx> {
    let tx = db.tenant(tenant).await?;
    require_role(&tx, tenant, Role::CompanyAdmin).await?;
    Ok(tx)
}
