//! SeaORM entities, one file per table, each with its tenant policy (`policy::Guarded`)
//! beside it. No behaviour lives here: the kernel's guard applies the policies and is the
//! only crate allowed to query the tables directly.

pub mod ai_answer;
pub mod ai_conversation;
pub mod ai_message;
pub mod ai_settings;
pub mod ai_spend;
pub mod ai_usage;
pub mod api_key;
pub mod api_key_operation_list;
pub mod audit_entry;
pub mod catalog_item;
pub mod company;
pub mod data_import;
pub mod demand_daily;
pub mod enums;
pub mod event;
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
pub mod user;
pub mod webhook_delivery;
pub mod webhook_endpoint;
