mod mutation;
pub mod node;
mod query;
pub mod types;

pub use mutation::TenancyMutation;
pub use query::TenancyQuery;

use ils_kernel::pagination::PageArgs;

pub(crate) fn page(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
    }
}
