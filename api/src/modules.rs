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
