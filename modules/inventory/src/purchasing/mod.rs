//! Purchase orders from a buyer (practice or lab) to a supplier it is actively connected
//! with, with lines from that supplier's catalog: DRAFT -> SUBMITTED -> ACKNOWLEDGED or
//! REJECTED by the supplier -> PARTIALLY_RECEIVED -> RECEIVED as the buyer receives stock
//! (RECEIPT movements at the agreed price, so the moving average follows). A draft made by
//! the system (the assistant) waits for a person's approval before it can be submitted.
//! One row both parties see once submitted, like a lens order; every change names the
//! version it saw.
//!
//! `state` holds the statuses, `types` the API's shapes, `service` the work, `events`
//! what changes announce, `graphql` the resolvers.

use crate::ledger::{Movement, MovementKind};
use crate::locations::{LOCATION, location_of};
use crate::products::PRODUCT;
use crate::stock::{allows_negative, locked_product, post};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::company::COMPANY;
use ils_common::company::CompanyType;
use ils_common::money::Money;
use ils_common::search;
use ils_entity::{catalog_item, company, product};
use ils_entity::{purchase_order as po, purchase_order_line as line};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::active_partner;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

mod events;
mod graphql;
mod service;
mod state;
mod types;

pub use events::*;
pub use graphql::*;
pub use service::*;
pub use state::*;
pub use types::*;
