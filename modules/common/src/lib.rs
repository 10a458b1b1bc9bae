//! The vocabulary two domains share, one crate below the domains (as the kernel is below
//! it): what a company is, optical grids, catalog categories and attributes with their one
//! validation, text checks, search text, the CSV reader, safe CSV cells and the import engine. A domain
//! depends on another domain only for a real relation between them, through that
//! domain's public services; for words, it depends on this crate.

pub mod catalog;
pub mod company;
pub mod csv_cell;
pub mod grid;
pub mod imports;
pub mod money;
pub mod plan;
pub mod search;
pub mod validate;
