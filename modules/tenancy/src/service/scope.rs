//! The credential flows' scopes. Everything else in ILS acts for the caller of a request
//! (`Db::tenant`); only these functions open a transaction for a credential being looked
//! up or for the company and user a flow has just established. Clippy bans `Db::open` and
//! `Tx::assume` everywhere else, so this file is the whole list.
#![allow(clippy::disallowed_methods)]

use ils_kernel::guard::Scope;
use ils_kernel::{AppResult, Db, Tx};
use uuid::Uuid;

/// Reads the rows that carry `value` (an email, a token digest) and nothing else.
pub(crate) async fn open_lookup(db: &Db, value: &str) -> AppResult<Tx> {
    db.open(Scope::lookup(value)).await
}

/// Acts for `company` and `user`, once a flow has verified that they are who acts.
pub(crate) async fn open_acting(
    db: &Db,
    company: Option<Uuid>,
    user: Option<Uuid>,
) -> AppResult<Tx> {
    db.open(Scope::acting(company, user)).await
}

/// Switches an open transaction to a verified company and user.
pub(crate) async fn assume(
    tx: &mut Tx,
    company: Option<Uuid>,
    user: Option<Uuid>,
) -> AppResult<()> {
    tx.assume(company, user).await
}
