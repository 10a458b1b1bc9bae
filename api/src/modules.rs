//! The one list of modules: `modules!` turns a list of `Module` types into everything the
//! server assembles: the merged `Query`, `Mutation` and `Subscription` roots (with `node`
//! and `nodes`), the `Node` interface over every module's node types, and the job registry
//! (job kinds, event handlers, schedules) through `ils_kernel::module::ModuleList`. The
//! platform's list is in `schema.rs`; a test can build its own list with a module of its
//! own (`tests/tests/module_contract.rs`).

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

            impl $crate::__private::ModuleList for Modules {
                fn parts() -> ::std::vec::Vec<$crate::__private::ModuleParts> {
                    ::std::vec![$($crate::__private::ModuleParts::of::<$module>()),+]
                }
            }

            /// What can be read: every module's queries, and `node`/`nodes` for any object by
            /// its global ID.
            #[derive(async_graphql::MergedObject, Default)]
            pub struct Query(
                $crate::node::NodeQuery<Modules>,
                $(<$module as $crate::__private::Module>::Query,)+
                // Last, so asked first: it answers every representation (the derived
                // roots would refuse one without `__typename` in async-graphql's words).
                $crate::federation::Entities<Modules>,
            );

            /// What can be changed: every module's mutations, each taking one `input` and
            /// returning a payload with what it changed.
            #[derive(async_graphql::MergedObject, Default)]
            pub struct Mutation($(<$module as $crate::__private::Module>::Mutation),+);

            /// What can be followed live over the WebSocket (`/graphql/ws`): every module's
            /// subscriptions.
            #[derive(async_graphql::MergedSubscription, Default)]
            pub struct Subscription($(<$module as $crate::__private::Module>::Subscription),+);

            pub type AppSchema = async_graphql::Schema<Query, Mutation, Subscription>;
        }
    };
}
