//! The catalog import's GraphQL fields: the pipeline's resolvers
//! ([`import_fields!`](ils_common::import_fields)) for the catalog target.

use crate::imports::{Import, ImportProgress};
use crate::service::import::Catalog;

pub type CatalogImport = Import<Catalog>;
pub type CatalogImportProgress = ImportProgress<Catalog>;

ils_common::import_fields! {
    target: Catalog,
    what: "catalog",
    query: ImportQuery { catalog_import, catalog_imports },
    mutation: ImportMutation {
        /// Imports your catalog from a CSV file sent as a GraphQL multipart request
        /// (suppliers; admins and managers). The file is checked first: one that is not a
        /// catalog CSV is refused with BAD_USER_INPUT and nothing is stored. Otherwise the
        /// import is queued and its progress can be followed with `catalogImport` or
        /// `catalogImportProgress`. Columns: sku, name, category, price, currency
        /// (required), gtin (or upc / ean), brand, min_order_quantity, lead_time_days,
        /// active, and the category's attributes.
        import_catalog
    },
    subscription: ImportSubscription { catalog_import_progress },
}
