//! ILS as an Apollo Federation v2 subgraph, served on its own path (`/subgraph`) so the
//! public schema (`/graphql`, `schema.graphql`) carries no federation fields.
//!
//! The subgraph is the platform's schema with `_service { sdl }` and `_entities`. Its
//! entities are the node types the modules mark `.federated()`, each keyed by its global
//! ID (`@key(fields: "id")`), and `_entities` loads them through the modules'
//! `fetch_nodes`, the guarded look-up behind `node(id:)`: another company's row, a
//! missing row and an ID of another type all resolve to null, as `node(id:)` does.

use crate::node::{MAX_NODES, Node};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::parser::types::Field;
use async_graphql::registry::{MetaTypeId, Registry};
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, SchemaBuilder, ServerResult,
    SubscriptionType, Value,
};
use ils_kernel::module::ModuleList;
use ils_kernel::node::{AnyNode, NodeRequest};
use ils_kernel::{AppError, ClientInfo, Db, TenantContext, id, request_parts};
use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use uuid::Uuid;

/// The key every entity is referenced by.
pub const KEY: &str = "id";

/// Makes a schema of the modules in `L` a federation subgraph: `_service`, `_entities`,
/// and `@key(fields: "id")` on every federated node type.
pub fn federate<L, Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    L: ModuleList,
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    builder
        .enable_federation()
        .register_output_type::<EntityKeys<L>>()
}

/// The SDL a gateway composes: the schema with its federation directives, as
/// `_service { sdl }` answers it.
pub fn subgraph_sdl<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}

/// Adds the `@key` of every federated node type. Registered after the roots (as
/// `DescribeConnections` is), it sees every type and adds none of its own.
struct EntityKeys<L>(PhantomData<L>);

impl<L: ModuleList> OutputType for EntityKeys<L> {
    fn type_name() -> Cow<'static, str> {
        "Query".into()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        for ty in L::entity_types() {
            let name = (ty.name)();
            assert!(
                registry.types.contains_key(name.as_ref()),
                "federated type {name} is not in the schema"
            );
            registry.add_keys(&name, KEY);
        }
        "Query".into()
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::Null)
    }
}

/// The part of the merged `Query` root that answers `_entities`: it has no field of its
/// own, and async-graphql asks it only in a schema made by `federate`.
pub struct Entities<L>(PhantomData<L>);

impl<L> Default for Entities<L> {
    fn default() -> Self {
        Entities(PhantomData)
    }
}

impl<L: ModuleList> ContainerType for Entities<L> {
    async fn resolve_field(&self, _ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        Ok(None)
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        let found = find::<L>(ctx, params)
            .await
            .map_err(|e| ctx.set_error_path(e.into_server_error(ctx.item.pos)))?;
        let Some(node) = found else {
            return Ok(Some(Value::Null));
        };
        let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
        OutputType::resolve(&Node::<L>::new(node), &selection, ctx.item)
            .await
            .map(Some)
    }
}

impl<L: ModuleList> OutputType for Entities<L> {
    fn type_name() -> Cow<'static, str> {
        "FederationEntities".into()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        registry.create_output_type::<Self, _>(MetaTypeId::Object, |_| {
            ils_kernel::module::empty_object::<Self>(&Self::type_name(), false)
        })
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        async_graphql::resolver_utils::resolve_container(ctx, self).await
    }
}

impl<L: ModuleList> ObjectType for Entities<L> {}

/// One representation (`{__typename, id}`) to the object it names, or `None` when the
/// caller may not see it. A type that is not an entity here, or a representation without
/// its key, is the gateway's mistake: `BAD_USER_INPUT`.
async fn find<L: ModuleList>(
    ctx: &Context<'_>,
    representation: &Value,
) -> async_graphql::Result<Option<AnyNode>> {
    let bad = |m: String| AppError::bad_input("representations", m);
    let Value::Object(fields) = representation else {
        return Err(bad("a representation is an object with `__typename` and `id`".into()).into());
    };
    let Some(Value::String(typename)) = fields.get("__typename") else {
        return Err(bad("a representation needs its `__typename`".into()).into());
    };
    let entities = L::entity_types();
    if !entities.iter().any(|t| (t.name)() == typename.as_str()) {
        let names: Vec<_> = entities.iter().map(|t| (t.name)()).collect();
        return Err(bad(format!(
            "`{typename}` is not an entity of this subgraph (its entities: {})",
            names.join(", ")
        ))
        .into());
    }
    let Some(Value::String(global_id)) = fields.get(KEY) else {
        return Err(bad(format!("a `{typename}` representation needs its `{KEY}`")).into());
    };
    // An ID that does not decode, or names another type, is no row: null, as in `node`.
    let Some(key) = id::decode_any(global_id).filter(|(ty, _)| ty == typename) else {
        return Ok(None);
    };
    if let Some(loader) = ctx.data_opt::<DataLoader<EntityLoader<L>>>() {
        // As `nodes(ids:)`: one request resolves at most MAX_NODES entities.
        let seen = loader
            .loader()
            .seen
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if seen >= MAX_NODES {
            return Err(bad(format!("at most {MAX_NODES} representations per request")).into());
        }
        return loader.load_one(key).await;
    }
    let (tenant, db) = request_parts(ctx)?;
    let client = ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default();
    let ids = [key];
    let mut found = L::fetch_nodes(NodeRequest {
        db,
        tenant,
        client: &client,
        ids: &ids,
    })
    .await?;
    Ok(found.pop().flatten())
}

/// The representations of one `_entities` call, loaded together: a gateway sends every
/// entity of a step of its plan in one call, and each module then reads its own in one
/// transaction (at most `MAX_NODES` IDs a batch) instead of one per representation.
/// Built per request, for the request's caller.
pub struct EntityLoader<L> {
    db: Db,
    tenant: TenantContext,
    client: ClientInfo,
    /// Representations asked for so far in this request.
    seen: std::sync::atomic::AtomicUsize,
    modules: PhantomData<fn() -> L>,
}

/// The per-request loader `_entities` uses (`transport` adds it on the subgraph path).
pub fn entity_loader<L: ModuleList>(
    db: Db,
    tenant: TenantContext,
    client: ClientInfo,
) -> DataLoader<EntityLoader<L>> {
    DataLoader::new(
        EntityLoader {
            db,
            tenant,
            client,
            seen: Default::default(),
            modules: PhantomData,
        },
        tokio::spawn,
    )
    .max_batch_size(MAX_NODES)
}

impl<L: ModuleList> Loader<(String, Uuid)> for EntityLoader<L> {
    type Value = AnyNode;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(String, Uuid)],
    ) -> Result<HashMap<(String, Uuid), AnyNode>, Self::Error> {
        let found = L::fetch_nodes(NodeRequest {
            db: &self.db,
            tenant: &self.tenant,
            client: &self.client,
            ids: keys,
        })
        .await?;
        Ok(keys
            .iter()
            .cloned()
            .zip(found)
            .filter_map(|(key, node)| node.map(|n| (key, n)))
            .collect())
    }
}
