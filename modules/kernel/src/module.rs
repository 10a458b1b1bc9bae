use crate::AppResult;
use crate::jobs::{JobKind, Registry, Schedule};
use crate::node::{AnyNode, NodeFetch, NodeRequest, NodeType};
use crate::onboarding::Step;
use crate::policy::Guarded;
use crate::tools::Tool;
use async_graphql::registry::{MetaType, Registry as SchemaRegistry};
use async_graphql::{Context, ObjectType, Response, SubscriptionType};
use futures_util::Stream;
use std::borrow::Cow;
use std::pin::Pin;

/// What a domain crate hands the server, all in one place: its GraphQL roots, the object
/// types it resolves from a global ID, its tenant tables, its job kinds (a kind with
/// `on_events` is an event handler) and its schedules. `api` lists every module once (`modules!` in
/// `api/src/schema.rs`) and takes each part from there; a new domain is its crate, its
/// Cargo dependency and one line in that list.
pub trait Module: Send + Sync + 'static {
    /// A short name for logs and metrics.
    const NAME: &'static str;
    type Query: ObjectType + Default + 'static;
    type Mutation: ObjectType + Default + 'static;
    /// `NoSubscription` for a module without subscriptions.
    type Subscription: SubscriptionType + Default + 'static;

    /// The object types this module resolves by global ID; `api` makes each implement
    /// the `Node` interface. Those marked `.federated()` are also entities of the
    /// federation subgraph, looked up by `fetch_nodes` as well.
    fn node_types() -> Vec<NodeType> {
        Vec::new()
    }

    /// Loads the objects of this module's node types named in `req` through the guard,
    /// one slot per ID (`None` for the IDs of other modules, of missing rows and of rows
    /// the caller may not see).
    fn fetch_nodes(req: NodeRequest<'_>) -> NodeFetch<'_> {
        let none = req.none_found();
        Box::pin(async move { Ok(none) })
    }

    /// The tenant tables this module owns, each behind its guard policy (`Table::of`
    /// compiles only for an entity with one). The row-level-security test checks every
    /// one of them on PostgreSQL, and that no tenant table is left without a module.
    fn tables() -> Vec<Table> {
        Vec::new()
    }

    /// The module's job kinds; a kind with `on_events` also handles those events.
    fn jobs() -> Vec<JobKind> {
        Vec::new()
    }

    /// Recurring jobs (cron).
    fn schedules() -> Vec<Schedule> {
        Vec::new()
    }

    /// What the assistant may call on the asking user's behalf (reads, and drafts a
    /// person approves).
    fn tools() -> Vec<Tool> {
        Vec::new()
    }

    /// The steps of a new company's onboarding checklist whose data this module owns,
    /// each checked against that data (never a flag a button sets).
    fn onboarding() -> Vec<Step> {
        Vec::new()
    }
}

/// The subscription root of a module that has none. Unlike async-graphql's
/// `EmptySubscription`, it answers no field (rather than every field with an error), so
/// merged with other modules' roots it leaves their fields to them.
#[derive(Default, Clone, Copy)]
pub struct NoSubscription;

impl SubscriptionType for NoSubscription {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("NoSubscription")
    }

    fn create_type_info(registry: &mut SchemaRegistry) -> String {
        registry
            .create_subscription_type::<Self, _>(|_| empty_object::<Self>("NoSubscription", true))
    }

    fn create_field_stream<'a>(
        &'a self,
        _ctx: &'a Context<'_>,
    ) -> Option<Pin<Box<dyn Stream<Item = Response> + Send + 'a>>> {
        None
    }
}

/// The type of a root part without fields of its own (a module's missing subscription
/// root, the federation part that only resolves `_entities`): merged with the other
/// parts, it leaves every field to them.
pub fn empty_object<T>(name: &str, is_subscription: bool) -> MetaType {
    MetaType::Object {
        name: name.to_owned(),
        description: None,
        fields: Default::default(),
        cache_control: Default::default(),
        extends: false,
        shareable: false,
        resolvable: true,
        keys: None,
        visible: None,
        inaccessible: false,
        interface_object: false,
        tags: Default::default(),
        is_subscription,
        rust_typename: Some(std::any::type_name::<T>()),
        directive_invocations: Default::default(),
        requires_scopes: Default::default(),
    }
}

/// A tenant table a module owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
}

impl Table {
    /// The table of an entity that has a guard policy.
    pub fn of<E: Guarded + Default>() -> Table {
        Table {
            name: E::default().table_name(),
        }
    }
}

/// The kernel's own tenant tables (the job queue and the audit log).
pub fn kernel_tables() -> Vec<Table> {
    use ils_entity::{audit_entry, job};
    vec![
        Table::of::<job::Entity>(),
        Table::of::<audit_entry::Entity>(),
    ]
}

/// What the server takes from one module, its types erased.
pub struct ModuleParts {
    pub name: &'static str,
    pub node_types: fn() -> Vec<NodeType>,
    pub fetch_nodes: for<'a> fn(NodeRequest<'a>) -> NodeFetch<'a>,
    pub tables: fn() -> Vec<Table>,
    pub jobs: fn() -> Vec<JobKind>,
    pub schedules: fn() -> Vec<Schedule>,
    pub tools: fn() -> Vec<Tool>,
    pub onboarding: fn() -> Vec<Step>,
}

impl ModuleParts {
    pub fn of<M: Module>() -> ModuleParts {
        ModuleParts {
            name: M::NAME,
            node_types: M::node_types,
            fetch_nodes: M::fetch_nodes,
            tables: M::tables,
            jobs: M::jobs,
            schedules: M::schedules,
            tools: M::tools,
            onboarding: M::onboarding,
        }
    }
}

/// A list of modules, as `modules!` declares it.
pub trait ModuleList: Send + Sync + 'static {
    fn parts() -> Vec<ModuleParts>;

    /// Every module's node types, in module order.
    fn node_types() -> Vec<NodeType> {
        Self::parts()
            .iter()
            .flat_map(|m| (m.node_types)())
            .collect()
    }

    /// The node types offered as federation entities (`NodeType::federated`), in module
    /// order.
    fn entity_types() -> Vec<NodeType> {
        Self::node_types()
            .into_iter()
            .filter(|t| t.federated)
            .collect()
    }

    /// Every tenant table with the module that owns it (`kernel` for the job queue and
    /// the audit log).
    fn tables() -> Vec<(&'static str, Table)> {
        let mut tables: Vec<(&'static str, Table)> =
            kernel_tables().into_iter().map(|t| ("kernel", t)).collect();
        for module in Self::parts() {
            tables.extend((module.tables)().into_iter().map(|t| (module.name, t)));
        }
        tables
    }

    /// The kernel's built-in jobs, then every module's job kinds, event handlers and
    /// schedules.
    fn registry() -> Registry {
        let mut registry = Registry::with_builtins();
        for module in Self::parts() {
            for kind in (module.jobs)() {
                registry.add(kind);
            }
            for schedule in (module.schedules)() {
                registry.schedule(schedule);
            }
        }
        registry
    }

    /// Every module's assistant tools, in module order.
    fn tools() -> Vec<Tool> {
        Self::parts().iter().flat_map(|m| (m.tools)()).collect()
    }

    /// Every module's onboarding steps.
    fn onboarding() -> Vec<Step> {
        Self::parts()
            .iter()
            .flat_map(|m| (m.onboarding)())
            .collect()
    }

    /// The objects named by decoded global IDs, in the order asked: each module loads the
    /// IDs of its own types through its guard (one pass per module); `None` for the rest.
    fn fetch_nodes(
        req: NodeRequest<'_>,
    ) -> impl std::future::Future<Output = AppResult<Vec<Option<AnyNode>>>> + Send {
        async move {
            let mut found = req.none_found();
            for module in Self::parts() {
                let loaded = (module.fetch_nodes)(req).await?;
                for (slot, node) in found.iter_mut().zip(loaded) {
                    if slot.is_none() {
                        *slot = node;
                    }
                }
            }
            Ok(found)
        }
    }
}
