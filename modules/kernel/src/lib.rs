//! What every domain needs and no domain owns: the tenant context, the tenant guard over
//! SeaORM (the only way module code reaches tenant tables), errors, typed global IDs,
//! cursor pagination and the `Module` contract.

pub mod audit;
pub mod authz;
mod below;
pub mod coalesce;
pub mod connections;
pub mod context;
pub mod dispatch;
pub mod enums;
/// Closed vocabularies stored as text (see `ils_entity::enums`).
pub use ils_entity::string_enum;
pub mod error;
pub mod event_types;
pub mod events;
pub mod files;
pub mod guard;
pub mod id;
pub mod jobs;
pub mod mail;
pub mod module;
pub mod node;
pub mod onboarding;
pub mod pagination;
pub mod policy;
pub mod ratelimit;
pub mod scalars;
pub mod system;
pub mod throttle;
pub mod tools;
mod tx_conn;

pub use context::{Actor, ClientInfo, Role, TenantContext};
pub use error::{AppError, AppResult, FieldError, FieldErrors};
pub use events::{Bus, DomainEvent, Event};
pub use guard::{Db, Scope, Tx};
pub use jobs::{JobKind, NewJob, Registry, Resources};
pub use module::Module;
pub use policy::{Guarded, Policy};
pub use tx_conn::{StatementObserver, TxConn};

/// The tenant context and guarded database of a GraphQL resolver. `api` puts both into
/// every request's data; a resolver without them is a bug, reported as INTERNAL.
pub fn request_parts<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<(&'a TenantContext, &'a Db), AppError> {
    let tenant = ctx
        .data::<TenantContext>()
        .map_err(|_| AppError::internal("request has no tenant context"))?;
    let db = ctx
        .data::<Db>()
        .map_err(|_| AppError::internal("schema has no database"))?;
    Ok((tenant, db))
}

/// Where a request came from (address, user agent), for the audit log; empty for work
/// that no client started.
pub fn client_info(ctx: &async_graphql::Context<'_>) -> ClientInfo {
    ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default()
}
