//! The one schema: every module's parts merged, plus the Relay `Node` entry points.

use crate::extension::Protections;
use async_graphql::{
    Context, ID, Interface, MergedObject, MergedSubscription, Object, Result, Schema, SchemaBuilder,
};
use ils_backbone::Backbone;
use ils_inventory::Inventory;
use ils_inventory::node::{self as inventory_node, InventoryNode};
use ils_kernel::{Module, id, request_parts};
use ils_marketplace::Marketplace;
use ils_marketplace::node::{self as marketplace_node, MarketplaceNode};
use ils_orders::Orders;
use ils_orders::node::{self as orders_node, OrdersNode};
use ils_tenancy::Tenancy;
use ils_tenancy::graphql::{node as tenancy_node, types as t};

#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    <Tenancy as Module>::Query,
    <Backbone as Module>::Query,
    <Marketplace as Module>::Query,
    <Orders as Module>::Query,
    <Inventory as Module>::Query,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    <Tenancy as Module>::Mutation,
    <Backbone as Module>::Mutation,
    <Marketplace as Module>::Mutation,
    <Orders as Module>::Mutation,
    <Inventory as Module>::Mutation,
);

/// Only modules that have subscriptions take part: async-graphql's `EmptySubscription`
/// (tenancy's) answers every field with an error, which would end the merged lookup before
/// the modules after it are asked.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    <Backbone as Module>::Subscription,
    <Marketplace as Module>::Subscription,
    <Orders as Module>::Subscription,
    <Inventory as Module>::Subscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Every type with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
#[allow(clippy::large_enum_variant)] // short-lived resolver values; boxing buys nothing
pub enum Node {
    User(t::User),
    Company(t::Company),
    Invitation(t::Invitation),
    ApiKey(t::ApiKey),
    MarketplaceProfile(ils_marketplace::profile::MarketplaceProfile),
    TradeConnection(ils_marketplace::connections::TradeConnection),
    CatalogItem(ils_marketplace::catalog::items::CatalogItem),
    CatalogImport(ils_marketplace::catalog::import::CatalogImport),
    Patient(ils_orders::patients::Patient),
    LensOrder(ils_orders::orders::LensOrder),
    Product(ils_inventory::products::Product),
    PurchaseOrder(ils_inventory::purchasing::PurchaseOrder),
    ProductImport(ils_inventory::import::ProductImport),
}

impl From<InventoryNode> for Node {
    fn from(n: InventoryNode) -> Self {
        match n {
            InventoryNode::Product(v) => Node::Product(v),
            InventoryNode::PurchaseOrder(v) => Node::PurchaseOrder(v),
            InventoryNode::Import(v) => Node::ProductImport(v),
        }
    }
}

impl From<OrdersNode> for Node {
    fn from(n: OrdersNode) -> Self {
        match n {
            OrdersNode::Patient(v) => Node::Patient(v),
            OrdersNode::Order(v) => Node::LensOrder(*v),
        }
    }
}

impl From<MarketplaceNode> for Node {
    fn from(n: MarketplaceNode) -> Self {
        match n {
            MarketplaceNode::Profile(v) => Node::MarketplaceProfile(v),
            MarketplaceNode::Connection(v) => Node::TradeConnection(v),
            MarketplaceNode::Item(v) => Node::CatalogItem(v),
            MarketplaceNode::Import(v) => Node::CatalogImport(v),
        }
    }
}

impl From<tenancy_node::TenancyNode> for Node {
    fn from(n: tenancy_node::TenancyNode) -> Self {
        use tenancy_node::TenancyNode as T;
        match n {
            T::User(v) => Node::User(v),
            T::Company(v) => Node::Company(v),
            T::Invitation(v) => Node::Invitation(v),
            T::ApiKey(v) => Node::ApiKey(v),
        }
    }
}

/// At most this many IDs in one `nodes` call.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist or is not yours.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(resolve_nodes(ctx, &[id]).await?.pop().flatten())
    }

    /// Several objects by global ID, in the order asked; null for each one not found.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(
                ils_kernel::AppError::bad_input("ids", format!("at most {MAX_NODES} IDs")).into(),
            );
        }
        Ok(resolve_nodes(ctx, &ids).await?)
    }
}

/// Decodes global IDs and loads them through each module's guard, in one pass per module.
/// An ID that is not ours resolves to null, like a row that is not there.
async fn resolve_nodes(ctx: &Context<'_>, ids: &[ID]) -> ils_kernel::AppResult<Vec<Option<Node>>> {
    let (tenant, db) = request_parts(ctx)?;
    let nil = (String::new(), uuid::Uuid::nil());
    let decoded: Vec<(String, uuid::Uuid)> = ids
        .iter()
        .map(|id| id::decode_any(id).unwrap_or_else(|| nil.clone()))
        .collect();
    let client = ctx
        .data::<ils_kernel::ClientInfo>()
        .cloned()
        .unwrap_or_default();
    let tenancy = tenancy_node::fetch_many(db, tenant, &decoded).await?;
    let marketplace = marketplace_node::fetch_many(db, tenant, &decoded).await?;
    let orders = orders_node::fetch_many(db, tenant, &client, &decoded).await?;
    let inventory = inventory_node::fetch_many(db, tenant, &decoded).await?;
    Ok(tenancy
        .into_iter()
        .zip(marketplace)
        .zip(orders)
        .zip(inventory)
        .map(|(((t, m), o), i)| {
            t.map(Node::from)
                .or(m.map(Node::from))
                .or(o.map(Node::from))
                .or(i.map(Node::from))
        })
        .collect())
}

/// The schema with its limits; `data` is added by the caller (database, token settings…).
pub fn builder(limits: &Protections) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_directives(limits.max_directives)
    .limit_recursive_depth(limits.max_depth.max(32))
    .extension(crate::extension::ProtectionsFactory(limits.clone()))
    .extension(crate::audit::AuditFactory)
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    builder(&Protections::default()).finish().sdl()
}
