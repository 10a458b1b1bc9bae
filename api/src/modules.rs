//! The one list of modules, and what `api` takes from it.
//!
//! `modules!` turns a list of `Module` types into everything the server assembles: the
//! merged `Query`, `Mutation` and `Subscription` roots (with `node` and `nodes`), the
//! `Node` interface over every module's node types, and the job registry (job kinds,
//! event handlers, schedules). The platform's list is in `schema.rs`; a test can build
//! its own list with a module of its own (`api/tests/module_contract.rs`).

use ils_kernel::jobs::{JobKind, Registry, Schedule};
use ils_kernel::module::Table;
use ils_kernel::node::{AnyNode, NodeFetch, NodeRequest, NodeType};
use ils_kernel::{AppResult, Module};

/// What the server takes from one module, its types erased.
pub struct ModuleParts {
    pub name: &'static str,
    pub node_types: fn() -> Vec<NodeType>,
    pub fetch_nodes: for<'a> fn(NodeRequest<'a>) -> NodeFetch<'a>,
    pub tables: fn() -> Vec<Table>,
    pub jobs: fn() -> Vec<JobKind>,
    pub schedules: fn() -> Vec<Schedule>,
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

    /// Every tenant table with the module that owns it (`kernel` for the job queue and
    /// the audit log).
    fn tables() -> Vec<(&'static str, Table)> {
        let mut tables: Vec<(&'static str, Table)> = ils_kernel::module::kernel_tables()
            .into_iter()
            .map(|t| ("kernel", t))
            .collect();
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

/// Declares a list of modules: `modules! { pub mod platform { a::A, b::B } }` makes the
/// module `platform` with `Modules` (the `ModuleList`), the merged `Query`, `Mutation` and
/// `Subscription` roots and `AppSchema`. One line per module; nothing else to edit.
#[macro_export]
macro_rules! modules {
    ($(#[$meta:meta])* $vis:vis mod $name:ident { $($module:ty),+ $(,)? }) => {
        $(#[$meta])*
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::__private::async_graphql;

            /// The modules of this list, in order.
            pub struct Modules;

            impl $crate::modules::ModuleList for Modules {
                fn parts() -> ::std::vec::Vec<$crate::modules::ModuleParts> {
                    ::std::vec![$($crate::modules::ModuleParts::of::<$module>()),+]
                }
            }

            #[derive(async_graphql::MergedObject, Default)]
            pub struct Query(
                $crate::node::NodeQuery<Modules>,
                $(<$module as $crate::__private::Module>::Query),+
            );

            #[derive(async_graphql::MergedObject, Default)]
            pub struct Mutation($(<$module as $crate::__private::Module>::Mutation),+);

            // The description predates `NoSubscription` (every module now takes part); it
            // stays word for word so that the published SDL does not change under a
            // refactoring, and goes with the next change that reworks the schema's docs.
            /// Only modules that have subscriptions take part: async-graphql's `EmptySubscription`
            /// (tenancy's) answers every field with an error, which would end the merged lookup before
            /// the modules after it are asked.
            #[derive(async_graphql::MergedSubscription, Default)]
            pub struct Subscription($(<$module as $crate::__private::Module>::Subscription),+);

            pub type AppSchema = async_graphql::Schema<Query, Mutation, Subscription>;
        }
    };
}
