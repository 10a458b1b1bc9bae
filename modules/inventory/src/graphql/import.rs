//! Product imports: the GraphQL fields every import target has (one import, the list,
//! the upload, the progress subscription), over [`ils_common::imports`].

use crate::service::import::Products;
use ils_common::imports::{Import, ImportProgress};

pub type ProductImport = Import<Products>;
pub type ProductImportProgress = ImportProgress<Products>;

ils_common::import_fields! {
    target: Products,
    what: "product",
    query: ProductImportQuery { product_import, product_imports },
    mutation: ProductImportMutation {
        /// Imports products from a CSV file sent as a GraphQL multipart request (admins and
        /// managers), upserting by SKU. The file is checked first: one that is not a
        /// product CSV is refused with BAD_USER_INPUT and nothing is stored. Otherwise the
        /// import is queued and its progress can be followed with `productImport` or
        /// `productImportProgress`; a bad row is reported with its line and column and does
        /// not stop the others. Columns: sku, name, category, currency (required), gtin (or
        /// upc / ean), brand, cost, price, reorder_point, min_quantity, max_quantity,
        /// lead_time_days, safety_stock, active, and the category's attributes (as in a
        /// catalog file). Like `updateProduct`, a row replaces a product's details (a column
        /// left out or empty clears that detail, `active` defaults to true), but the
        /// product's supplier link stays, and the row must keep the currency of the
        /// supplier item it is bought as.
        import_products
    },
    subscription: ProductImportSubscription { product_import_progress },
}
