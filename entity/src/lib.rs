//! SeaORM entities, one file per table, each with its tenant policy (`policy::Guarded`)
//! beside it. No behaviour lives here: the kernel's guard applies the policies and is the
//! only crate allowed to query the tables directly.

pub mod agent_settings;
pub mod ai_answer;
pub mod ai_conversation;
pub mod ai_message;
pub mod ai_settings;
pub mod ai_spend;
pub mod ai_usage;
pub mod analytics_daily;
pub mod analytics_settings;
pub mod analytics_source;
pub mod api_key;
pub mod api_key_operation_list;
pub mod audit_entry;
pub mod catalog_item;
pub mod company;
pub mod data_import;
pub mod demand_daily;
pub mod enums;
pub mod event;
pub mod insight_release;
pub mod inventory_settings;
pub mod invitation;
pub mod job;
pub mod lab_turnaround;
pub mod lens_order;
pub mod marketplace_profile;
pub mod operation_list;
pub mod operation_list_version;
pub mod operation_usage;
pub mod order_status_change;
pub mod patient;
pub mod persisted_document;
pub mod policy;
pub mod prescription;
pub mod product;
pub mod purchase_order;
pub mod purchase_order_line;
pub mod refresh_token;
pub mod sign_up_request;
pub mod stock_balance;
pub mod stock_count;
pub mod stock_count_line;
pub mod stock_discrepancy;
pub mod stock_location;
pub mod stock_movement;
pub mod trade_connection;
pub mod usage_daily;
pub mod user;
pub mod webhook_delivery;
pub mod webhook_endpoint;

/// `Model::from_row` (and `ByPosition`, for `Select::into_model`): a model read by the
/// position of its columns, for a select that lists the entity's columns in
/// `Column::iter()` order (as SeaORM's own selects do, and `PageArgs::lazy`'s);
/// `Model::FIELDS` is the order it reads them in. SeaORM's derived decoding looks every
/// column up by name (a hash of the name a column) and formats an error message for every
/// NULL it reads: 15 % of the server's CPU for a page of 50 orders (README, "Benchmark"). A
/// nullable field is written `name: nullable`: its NULL is seen before SeaORM reads it. The
/// fields are named in the model's order: a missing one does not compile, `nullable` on a
/// field that is not an `Option` does not either, and each entity's test checks the order.
#[macro_export]
macro_rules! by_position {
    ($($field:ident $(: $nullable:ident)?),+ $(,)?) => {
        impl Model {
            /// The fields `from_row` reads, in the order of the select's columns.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];

            /// The model from a row whose columns are the entity's, in `Column::iter()`
            /// order.
            #[allow(unused_assignments)]
            pub fn from_row(row: &sea_orm::QueryResult) -> Result<Model, sea_orm::DbErr> {
                $crate::columns_are(row, Self::FIELDS)?;
                let mut at = 0usize;
                Ok(Model {
                    $($field: {
                        let value = $crate::by_position!(@read row, at $($nullable)?);
                        at += 1;
                        value
                    }),+
                })
            }
        }

        /// The model read by position (`Model::from_row`), for `Select::into_model`.
        pub struct ByPosition(pub Model);

        impl sea_orm::FromQueryResult for ByPosition {
            fn from_query_result(
                row: &sea_orm::QueryResult,
                _prefix: &str,
            ) -> Result<Self, sea_orm::DbErr> {
                Model::from_row(row).map(ByPosition)
            }
        }
    };
    (@read $row:ident, $at:ident nullable) => {
        if $crate::null_at($row, $at) {
            None
        } else {
            Some($row.try_get_by_index($at)?)
        }
    };
    (@read $row:ident, $at:ident) => {
        $row.try_get_by_index($at)?
    };
}

/// `$e` on the sqlx row under a SeaORM `QueryResult`, as `$r`, whichever backend it came
/// from (false for a row of neither).
macro_rules! on_sqlx_row {
    ($row:expr, $r:ident => $e:expr) => {
        if let Some($r) = $row.try_as_pg_row() {
            $e
        } else if let Some($r) = $row.try_as_sqlite_row() {
            $e
        } else {
            false
        }
    };
}

/// Refuses a row whose columns are not `fields`, in that order: a select that added or
/// moved a column would otherwise shift every field after it into its neighbour.
#[doc(hidden)]
pub fn columns_are(row: &sea_orm::QueryResult, fields: &[&str]) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sqlx::{Column as _, Row as _};
    let same =
        on_sqlx_row!(row, r => r.columns().iter().map(|c| c.name()).eq(fields.iter().copied()));
    if same {
        Ok(())
    } else {
        Err(sea_orm::DbErr::Type(
            "a row read by position has other columns than its model".to_owned(),
        ))
    }
}

/// Whether the row's column at `at` is NULL (false when there is no such column: reading
/// it reports that).
#[doc(hidden)]
pub fn null_at(row: &sea_orm::QueryResult, at: usize) -> bool {
    use sea_orm::sqlx::{Row as _, ValueRef as _};
    on_sqlx_row!(row, r => r.try_get_raw(at).is_ok_and(|v| v.is_null()))
}
