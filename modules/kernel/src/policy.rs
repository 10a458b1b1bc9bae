//! Each tenant table's visibility, declared once. An entity without a `Guarded` impl cannot
//! be read or written through the guard at all: deny by default. These mirror the
//! PostgreSQL policies in `migration/src/rls.rs` column for column.

use ils_entity::{
    api_key, audit_entry, catalog_item, company, data_import, inventory_settings, invitation, job,
    lab_turnaround, lens_order, marketplace_profile, order_status_change, patient, prescription,
    product, purchase_order, purchase_order_line, refresh_token, stock_balance, stock_count,
    stock_count_line, stock_discrepancy, stock_location, stock_movement, trade_connection, user,
    webhook_delivery, webhook_endpoint,
};
use sea_orm::{ColumnTrait, Condition, EntityTrait};

pub struct Policy<E: EntityTrait> {
    /// Set from the acting company on insert; never from client input.
    pub owner: Option<E::Column>,
    /// A row is visible when any of these columns names the acting company.
    pub parties: Vec<E::Column>,
    /// A row is visible to the user it names (a user's own row, own sessions).
    pub own_rows: Option<E::Column>,
    /// Whether those own rows may also be changed (sessions yes, a user's row no: it is
    /// changed only within its company, as the SQL policy's WITH CHECK says).
    pub own_rows_writable: bool,
    /// A row is visible to a credential look-up that presents this column's value.
    pub lookup: Option<E::Column>,
    /// Platform admins see every row (companies only).
    pub platform_visible: bool,
    /// Rows any signed-in company may read (never change): what a company publishes.
    pub public_read: Option<Condition>,
    /// Rows readable (never changeable) by every company with an ACTIVE connection to
    /// the company this column names: a supplier's catalog for its connected buyers.
    pub connected_read: Option<E::Column>,
}

impl<E: EntityTrait> Policy<E> {
    /// A table owned by the company named in `column`.
    pub fn owned(column: E::Column) -> Self {
        Policy {
            owner: Some(column),
            parties: vec![column],
            own_rows: None,
            own_rows_writable: false,
            lookup: None,
            platform_visible: false,
            public_read: None,
            connected_read: None,
        }
    }

    /// Rows matching `rows` become readable by any signed-in company.
    pub fn with_public_read(mut self, rows: Condition) -> Self {
        self.public_read = Some(rows);
        self
    }

    /// Rows become readable by the companies actively connected to the one in `column`.
    pub fn with_connected_read(mut self, column: E::Column) -> Self {
        self.connected_read = Some(column);
        self
    }

    pub fn with_own_rows(mut self, column: E::Column) -> Self {
        self.own_rows = Some(column);
        self
    }

    /// Platform admins see every row.
    pub fn with_platform(mut self) -> Self {
        self.platform_visible = true;
        self
    }

    pub fn with_lookup(mut self, column: E::Column) -> Self {
        self.lookup = Some(column);
        self
    }
}

pub trait Guarded: EntityTrait {
    fn policy() -> Policy<Self>;
}

impl Guarded for company::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(company::Column::Id).with_platform()
    }
}

impl Guarded for user::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(user::Column::CompanyId)
            .with_own_rows(user::Column::Id)
            .with_lookup(user::Column::Email)
    }
}

impl Guarded for invitation::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(invitation::Column::CompanyId).with_lookup(invitation::Column::TokenHash)
    }
}

impl Guarded for api_key::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(api_key::Column::CompanyId).with_lookup(api_key::Column::KeyHash)
    }
}

impl Guarded for refresh_token::Entity {
    fn policy() -> Policy<Self> {
        Policy {
            owner: None,
            parties: vec![],
            own_rows: Some(refresh_token::Column::UserId),
            own_rows_writable: true,
            lookup: Some(refresh_token::Column::TokenHash),
            platform_visible: false,
            public_read: None,
            connected_read: None,
        }
    }
}

/// Company admins see their company's jobs; platform admins see every job.
impl Guarded for job::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(job::Column::CompanyId).with_platform()
    }
}

impl Guarded for webhook_endpoint::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(webhook_endpoint::Column::CompanyId)
    }
}

impl Guarded for webhook_delivery::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(webhook_delivery::Column::CompanyId)
    }
}

/// Read through the guard; written only by `audit::record` (append-only).
impl Guarded for audit_entry::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(audit_entry::Column::CompanyId).with_platform()
    }
}

/// The directory: a company's own profile, and every listed profile of an ACTIVE company.
impl Guarded for marketplace_profile::Entity {
    fn policy() -> Policy<Self> {
        use marketplace_profile::Column as C;
        Policy::owned(C::CompanyId).with_public_read(
            Condition::all()
                .add(C::Listed.eq(true))
                .add(C::Status.eq("ACTIVE")),
        )
    }
}

/// A connection is one row both parties see and change; the requester creates it.
impl Guarded for trade_connection::Entity {
    fn policy() -> Policy<Self> {
        use trade_connection::Column as C;
        let mut p = Policy::owned(C::RequesterCompanyId);
        p.parties.push(C::ResponderCompanyId);
        p
    }
}

/// A supplier's catalog: its own to change, readable by actively connected companies.
impl Guarded for catalog_item::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(catalog_item::Column::CompanyId)
            .with_connected_read(catalog_item::Column::CompanyId)
    }
}

impl Guarded for data_import::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(data_import::Column::CompanyId)
    }
}

/// Health data: the practice's own, nobody else's (a lab sees an order's patient reference,
/// never these rows).
impl Guarded for patient::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(patient::Column::CompanyId)
    }
}

impl Guarded for prescription::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(prescription::Column::CompanyId)
    }
}

impl Guarded for lab_turnaround::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(lab_turnaround::Column::CompanyId)
    }
}

impl Guarded for stock_location::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_location::Column::CompanyId)
    }
}

impl Guarded for product::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(product::Column::CompanyId)
    }
}

impl Guarded for stock_balance::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_balance::Column::CompanyId)
    }
}

impl Guarded for stock_movement::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_movement::Column::CompanyId)
    }
}

impl Guarded for inventory_settings::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(inventory_settings::Column::CompanyId)
    }
}

/// A purchase order: the buyer owns it; the supplier is the other party once submitted.
impl Guarded for purchase_order::Entity {
    fn policy() -> Policy<Self> {
        let mut p = Policy::owned(purchase_order::Column::CompanyId);
        p.parties.push(purchase_order::Column::SupplierCompanyId);
        p
    }
}

impl Guarded for purchase_order_line::Entity {
    fn policy() -> Policy<Self> {
        let mut p = Policy::owned(purchase_order_line::Column::CompanyId);
        p.parties
            .push(purchase_order_line::Column::SupplierCompanyId);
        p
    }
}

impl Guarded for stock_count::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_count::Column::CompanyId)
    }
}

impl Guarded for stock_count_line::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_count_line::Column::CompanyId)
    }
}

impl Guarded for stock_discrepancy::Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(stock_discrepancy::Column::CompanyId)
    }
}

/// A lens order: the practice owns it; the lab it was sent to is the other party.
impl Guarded for lens_order::Entity {
    fn policy() -> Policy<Self> {
        let mut p = Policy::owned(lens_order::Column::CompanyId);
        p.parties.push(lens_order::Column::LabCompanyId);
        p
    }
}

/// An order's history: both parties read it; each step names both, copied from the order.
impl Guarded for order_status_change::Entity {
    fn policy() -> Policy<Self> {
        use order_status_change::Column as C;
        Policy {
            owner: None,
            parties: vec![C::CompanyId, C::LabCompanyId],
            own_rows: None,
            own_rows_writable: false,
            lookup: None,
            platform_visible: false,
            public_read: None,
            connected_read: None,
        }
    }
}
