//! The `ils` server: configuration, transport, credentials and schema assembly. Domain
//! logic lives in the module crates; this crate only wires them to HTTP.
// Eight modules merged into one schema nest async-graphql's resolver futures deeper than
// the compiler's default query depth (128) allows.
#![recursion_limit = "256"]

pub mod audit;
pub mod background;
pub mod bench;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod db;
pub mod dev_sink;
pub mod extension;
pub mod federation;
pub mod forwarded;
pub mod int_range;
pub mod metrics;
pub mod modules;
pub mod node;
pub mod operations;
pub mod order;
pub mod playground;
pub mod ratelimit;
pub mod redis_bus;
pub mod redis_ratelimit;
pub mod redis_throttle;
pub mod schema;
pub mod seed;
pub mod server;
pub mod shared;
pub mod sockets;
pub mod state;
pub mod text_input;
pub mod transport;
pub mod usage;
pub mod ws;
pub mod ws_protocol;

/// What `modules!` expands to refers to these, so a crate using the macro needs no more
/// than `ils-api` and `async-graphql`.
#[doc(hidden)]
pub mod __private {
    pub use async_graphql;
    pub use ils_kernel::Module;
    pub use ils_kernel::module::{ModuleList, ModuleParts};
}
