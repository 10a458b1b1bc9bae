//! Lens orders: a practice drafts a job, submits it to a lab it is actively connected to,
//! and both follow it through the lab's workflow to delivery. One row both parties see
//! (the guard's parties and, on PostgreSQL, row-level security); every move names the
//! version it saw, so two racing moves cannot both win; every move is kept in the history.
//!
//! `state` is the lifecycle, `types` the API's shapes, `validation` the job's checks,
//! `service` the work, `events` what changes announce, `graphql` the resolvers.

use crate::json::{enc, stored};
pub use crate::lens::LensSpec;
use crate::patients::{PATIENT, practice_tx};
use crate::prescriptions::PRESCRIPTION;
use crate::rx::{EyeFit, FrameMeasure, Rx, minus_cyl, validate_fit, validate_rx};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ils_common::catalog::draft::{FieldError, LensDesign};
use ils_common::company::COMPANY;
use ils_common::company::{CompanyStatus, CompanyType};
use ils_common::search;
use ils_common::validate;
use ils_entity::prescription;
use ils_entity::{company, lens_order as order, order_status_change as change, patient};
use ils_kernel::authz::require_member;
use ils_kernel::connections::active_partner;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, TenantContext, Tx, id, request_parts};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod events;
mod graphql;
mod service;
mod state;
mod types;
mod validation;

pub use events::*;
pub use graphql::*;
pub use service::*;
pub use state::*;
pub use types::*;
pub use validation::*;
