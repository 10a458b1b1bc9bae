//! What a tenant table's policy can say. Each table declares its own next to its entity
//! (`impl Guarded for Entity` in the entity's file); the kernel's guard applies it. An
//! entity without a `Guarded` impl cannot be read or written through the guard at all:
//! deny by default. The policies mirror the PostgreSQL ones in `migration/src/rls.rs`
//! column for column.

use sea_orm::{Condition, EntityTrait};

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
    /// Platform admins acting for no company write the platform's own rows (a null owner):
    /// published operation lists.
    pub platform_rows: bool,
    /// Rows any signed-in company may read (never change): what a company publishes.
    pub public_read: Option<Condition>,
    /// Rows readable (never changeable) by every company with an ACTIVE connection to
    /// the company this column names: a supplier's catalog for its connected buyers.
    pub connected_read: Option<E::Column>,
    /// On top of the rest, a row is visible and writable only by the user this column
    /// names (set from the acting user on insert): a person's own assistant
    /// conversations, which not even the company's admins read.
    pub private_to: Option<E::Column>,
}

impl<E: EntityTrait> Policy<E> {
    /// Nothing visible to anyone: what each constructor starts from.
    fn none() -> Self {
        Policy {
            owner: None,
            parties: vec![],
            own_rows: None,
            own_rows_writable: false,
            lookup: None,
            platform_visible: false,
            platform_rows: false,
            public_read: None,
            connected_read: None,
            private_to: None,
        }
    }

    /// A table owned by the company named in `column`.
    pub fn owned(column: E::Column) -> Self {
        Policy {
            owner: Some(column),
            parties: vec![column],
            ..Policy::none()
        }
    }

    /// Rows owned by the company in `company` and, within it, private to the user in
    /// `user`: only that user of that company reads or changes them.
    pub fn private(company: E::Column, user: E::Column) -> Self {
        Policy {
            private_to: Some(user),
            ..Policy::owned(company)
        }
    }

    /// Rows no company owns, visible to the companies any of `parties` names (a copy of
    /// a shared row's parties, such as an order's history).
    pub fn shared(parties: Vec<E::Column>) -> Self {
        Policy {
            parties,
            ..Policy::none()
        }
    }

    /// A user's own rows, which that user may also change (sessions).
    pub fn own_rows(column: E::Column) -> Self {
        Policy {
            own_rows: Some(column),
            own_rows_writable: true,
            ..Policy::none()
        }
    }

    /// The company in `column` also sees the row (the other side of a shared row).
    pub fn with_party(mut self, column: E::Column) -> Self {
        self.parties.push(column);
        self
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

/// A table of rows either a company owns or the platform publishes (`column` null): a
/// company reads its own and the platform's and writes its own; platform admins read and
/// write all (their rows get a null owner). Operation lists and their documents.
pub fn platform_or_owned<E: EntityTrait>(column: E::Column) -> Policy<E>
where
    E::Column: sea_orm::ColumnTrait,
{
    use sea_orm::ColumnTrait;
    let mut p = Policy::owned(column)
        .with_public_read(Condition::all().add(column.is_null()))
        .with_platform();
    p.platform_rows = true;
    p
}

pub trait Guarded: EntityTrait {
    fn policy() -> Policy<Self>;
}
