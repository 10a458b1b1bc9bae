mod mutation;
pub mod node;
mod query;
pub mod types;

pub use mutation::TenancyMutation;
pub use query::TenancyQuery;
