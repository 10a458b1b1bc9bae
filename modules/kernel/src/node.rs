//! Objects resolved from a global ID, whatever module they come from.
//!
//! A module names the GraphQL object types it resolves by global ID (`NodeType::of`) and
//! loads them (`Module::fetch_nodes`) as `AnyNode`s: a value of any of its object types,
//! with the type erased. `api` builds the `Node` interface from every module's list, so a
//! new domain adds node types without touching `api`.

use crate::{AppResult, ClientInfo, Db, TenantContext};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, Fields};
use async_graphql::{Context, ContextSelectionSet, ObjectType, OutputType, ServerResult, Value};
use futures_util::future::BoxFuture;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// A GraphQL object type that implements `Node`.
#[derive(Clone, Copy)]
pub struct NodeType {
    /// Its GraphQL name.
    pub name: fn() -> Cow<'static, str>,
    /// Registers the object (and what it uses) in the schema; returns its type reference.
    pub register: fn(&mut Registry) -> String,
    /// Offered to an Apollo Federation gateway as an entity keyed by its global ID
    /// (`@key(fields: "id")` on the subgraph endpoint), looked up by the same
    /// `Module::fetch_nodes` as `node(id:)`.
    pub federated: bool,
}

impl NodeType {
    pub fn of<T: ObjectType + 'static>() -> NodeType {
        NodeType {
            name: <T as OutputType>::type_name,
            register: <T as OutputType>::create_type_info,
            federated: false,
        }
    }

    /// The same node type, also a federation entity: another subgraph may extend it and
    /// reference it by `id`.
    pub fn federated(self) -> NodeType {
        NodeType {
            federated: true,
            ..self
        }
    }
}

/// What a module is asked to load: global IDs decoded to (type, row id), in the order the
/// client gave them, with the caller's context.
#[derive(Clone, Copy)]
pub struct NodeRequest<'a> {
    pub db: &'a Db,
    pub tenant: &'a TenantContext,
    pub client: &'a ClientInfo,
    pub ids: &'a [(String, Uuid)],
}

impl NodeRequest<'_> {
    /// An answer with nothing found, one slot per ID.
    pub fn none_found(&self) -> Vec<Option<AnyNode>> {
        self.ids.iter().map(|_| None).collect()
    }

    /// The row ids asked for with this type.
    pub fn ids_of(&self, ty: &str) -> Vec<Uuid> {
        self.ids
            .iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Whether any ID names one of `types`: a module asked for none of its own types
    /// answers without opening a transaction.
    pub fn asks_for(&self, types: &[&str]) -> bool {
        self.ids.iter().any(|(t, _)| types.contains(&t.as_str()))
    }

    /// The objects found, one slot per ID in the order asked (an ID asked twice gets the
    /// object twice).
    pub fn answer(&self, found: Found) -> Vec<Option<AnyNode>> {
        self.ids
            .iter()
            .map(|(ty, id)| found.0.get(&(ty.clone(), *id)).cloned())
            .collect()
    }
}

/// The objects a module found, by (type, row id).
#[derive(Default)]
pub struct Found(HashMap<(String, Uuid), AnyNode>);

impl Found {
    pub fn insert<T: ObjectType + 'static>(&mut self, ty: &str, id: Uuid, object: T) {
        self.0.insert((ty.to_owned(), id), AnyNode::new(object));
    }
}

/// The result of `Module::fetch_nodes`: one slot per ID asked, `None` where the row does
/// not exist, is not this module's or is not the caller's (indistinguishable by design).
pub type NodeFetch<'a> = BoxFuture<'a, AppResult<Vec<Option<AnyNode>>>>;

/// A value of one of the node object types, its type erased.
#[derive(Clone)]
pub struct AnyNode(Arc<dyn ErasedObject>);

impl AnyNode {
    pub fn new<T: ObjectType + 'static>(object: T) -> AnyNode {
        AnyNode(Arc::new(object))
    }

    /// The GraphQL name of the object's type.
    pub fn type_name(&self) -> Cow<'static, str> {
        self.0.type_name()
    }

    /// Resolves one field of the object (as `ContainerType::resolve_field`).
    pub fn resolve_field<'a>(
        &'a self,
        ctx: &'a Context<'_>,
    ) -> BoxFuture<'a, ServerResult<Option<Value>>> {
        self.0.resolve_field(ctx)
    }

    /// Collects the selection's fields against the object (as
    /// `ContainerType::collect_all_fields`), so fragments on the object's type apply.
    pub fn collect_all_fields<'a>(
        &'a self,
        ctx: &ContextSelectionSet<'a>,
        fields: &mut Fields<'a>,
    ) -> ServerResult<()> {
        self.0.collect_all_fields(ctx, fields)
    }
}

trait ErasedObject: Send + Sync {
    fn type_name(&self) -> Cow<'static, str>;
    fn resolve_field<'a>(
        &'a self,
        ctx: &'a Context<'_>,
    ) -> BoxFuture<'a, ServerResult<Option<Value>>>;
    fn collect_all_fields<'a>(
        &'a self,
        ctx: &ContextSelectionSet<'a>,
        fields: &mut Fields<'a>,
    ) -> ServerResult<()>;
}

impl<T: ObjectType + 'static> ErasedObject for T {
    fn type_name(&self) -> Cow<'static, str> {
        <T as OutputType>::type_name()
    }

    fn resolve_field<'a>(
        &'a self,
        ctx: &'a Context<'_>,
    ) -> BoxFuture<'a, ServerResult<Option<Value>>> {
        Box::pin(ContainerType::resolve_field(self, ctx))
    }

    fn collect_all_fields<'a>(
        &'a self,
        ctx: &ContextSelectionSet<'a>,
        fields: &mut Fields<'a>,
    ) -> ServerResult<()> {
        ContainerType::collect_all_fields(self, ctx, fields)
    }
}
