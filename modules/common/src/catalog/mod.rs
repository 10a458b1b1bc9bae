//! What a catalog item is, for the supplier's catalog and a company's own products alike:
//! categories and their attributes with one validation (`draft`), GS1 check digits
//! (`gtin`), and the CSV layouts both import through (`csv`).

pub mod csv;
pub mod draft;
pub mod gtin;
