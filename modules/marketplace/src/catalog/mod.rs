//! Supplier catalogs: items, their validation (shared by the API and the CSV import), and
//! the import of a whole catalog from a CSV file.

pub mod csv;
pub mod draft;
pub mod gtin;
pub mod import;
pub mod items;
