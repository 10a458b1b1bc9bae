//! SeaORM entities, one file per table. No behaviour lives here: the tenant policy of each
//! table is declared in the kernel, which is the only crate allowed to query them directly.

pub mod api_key;
pub mod company;
pub mod invitation;
pub mod refresh_token;
pub mod user;
