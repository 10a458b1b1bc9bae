//! The Relay `Node` interface and its entry points, `node` and `nodes`, over every node
//! type of a module list.

use async_graphql::parser::types::Field;
use async_graphql::registry::{MetaField, MetaType, MetaTypeId, Registry};
use async_graphql::resolver_utils::{ContainerType, Fields, resolve_container};
use async_graphql::{
    Context, ContextSelectionSet, ID, InterfaceType, Object, OutputType, Positioned, Result,
    ServerResult, Value,
};
use ils_kernel::module::ModuleList;
use ils_kernel::node::{AnyNode, NodeRequest};
use ils_kernel::{AppError, AppResult, ClientInfo, id, request_parts};
use std::borrow::Cow;
use std::marker::PhantomData;

/// At most this many IDs in one `nodes` call.
pub const MAX_NODES: usize = 100;

/// Every type with a global ID: the `Node` interface of the modules in `L`.
pub struct Node<L>(AnyNode, PhantomData<L>);

impl<L> Node<L> {
    pub(crate) fn new(node: AnyNode) -> Self {
        Node(node, PhantomData)
    }
}

impl<L: ModuleList> ContainerType for Node<L> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        self.0.resolve_field(ctx).await
    }

    fn collect_all_fields<'a>(
        &'a self,
        ctx: &ContextSelectionSet<'a>,
        fields: &mut Fields<'a>,
    ) -> ServerResult<()> {
        self.0.collect_all_fields(ctx, fields)
    }
}

impl<L: ModuleList> OutputType for Node<L> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("Node")
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        registry.create_output_type::<Self, _>(MetaTypeId::Interface, |registry| {
            let mut possible_types = async_graphql::indexmap::IndexSet::new();
            for ty in L::node_types() {
                (ty.register)(registry);
                let name = (ty.name)();
                registry.add_implements(&name, "Node");
                possible_types.insert(name.into_owned());
            }
            let mut fields = async_graphql::indexmap::IndexMap::new();
            fields.insert(
                "id".to_string(),
                MetaField {
                    name: "id".to_string(),
                    description: Some("The object's global ID: opaque, stable, and naming its type; `node(id:)` loads it.".to_string()),
                    args: Default::default(),
                    ty: <ID as OutputType>::create_type_info(registry),
                    deprecation: Default::default(),
                    cache_control: Default::default(),
                    external: false,
                    requires: None,
                    provides: None,
                    visible: None,
                    shareable: false,
                    inaccessible: false,
                    tags: vec![],
                    override_from: None,
                    compute_complexity: None,
                    directive_invocations: vec![],
                    requires_scopes: vec![],
                },
            );
            MetaType::Interface {
                name: "Node".to_string(),
                description: Some("Every type with a global ID.".to_string()),
                fields,
                possible_types,
                extends: false,
                keys: None,
                visible: None,
                inaccessible: false,
                tags: vec![],
                rust_typename: Some(std::any::type_name::<Self>()),
                directive_invocations: vec![],
                requires_scopes: vec![],
            }
        })
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<L: ModuleList> InterfaceType for Node<L> {}

/// `node` and `nodes`, merged into the `Query` root of a module list.
pub struct NodeQuery<L>(PhantomData<L>);

impl<L> Default for NodeQuery<L> {
    fn default() -> Self {
        NodeQuery(PhantomData)
    }
}

#[Object]
impl<L: ModuleList> NodeQuery<L> {
    /// Any object by its global ID; null when it does not exist or is not yours.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID, as any object's `id` gives it.")] id: ID,
    ) -> Result<Option<Node<L>>> {
        Ok(resolve_nodes::<L>(ctx, &[id]).await?.pop().flatten())
    }

    /// Several objects by global ID, in the order asked; null for each one not found.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node<L>>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::bad_input("ids", format!("at most {MAX_NODES} IDs")).into());
        }
        Ok(resolve_nodes::<L>(ctx, &ids).await?)
    }
}

/// Decodes global IDs and loads them through each module's guard. An ID that is not ours
/// resolves to null, like a row that is not there.
async fn resolve_nodes<L: ModuleList>(
    ctx: &Context<'_>,
    ids: &[ID],
) -> AppResult<Vec<Option<Node<L>>>> {
    let (tenant, db) = request_parts(ctx)?;
    let decoded: Vec<(String, uuid::Uuid)> = ids
        .iter()
        .map(|id| id::decode_any(id).unwrap_or_else(|| (String::new(), uuid::Uuid::nil())))
        .collect();
    let client = ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default();
    let found = L::fetch_nodes(NodeRequest {
        db,
        tenant,
        client: &client,
        ids: &decoded,
    })
    .await?;
    Ok(found.into_iter().map(|n| n.map(Node::new)).collect())
}
