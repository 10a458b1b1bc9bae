//! Each tenant table's policy is declared next to its entity (`ils_entity`); the guard in
//! this crate applies it.

pub use ils_entity::policy::{Guarded, Policy};
