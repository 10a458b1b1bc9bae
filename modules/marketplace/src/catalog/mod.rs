//! Supplier catalogs: items, their validation (shared by the API and the CSV import), and
//! the import of a whole catalog from a CSV file.

pub use ils_common::catalog::{csv, draft, gtin};
pub mod import;
pub mod items;
