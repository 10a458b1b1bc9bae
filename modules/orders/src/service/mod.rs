//! Orders services: plain async functions over the tenant guard, and the mail job.
//! Resolvers call these and do nothing else; nothing here knows GraphQL beyond the
//! `Connection` that pagination returns.

pub mod export;
pub mod import;
pub mod lookup;
pub mod notify;
pub mod orders;
pub mod patients;
pub mod prescriptions;
pub mod turnaround;

use async_graphql::OutputType;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate_rows};
use ils_kernel::{AppResult, Tx};
use sea_orm::{EntityTrait, FromQueryResult, Select};
use std::sync::Mutex;
use uuid::Uuid;

/// How long a download link to a stored DCS file stays good.
pub const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// One page of `select`, each row read as `R`, made a model by `model` and mapped by `map`, with the global
/// IDs `audited` names among the page's rows (in page order): what a read of patient data
/// must audit.
#[allow(clippy::too_many_arguments)] // `paginate_rows`'s, and what to audit
pub(crate) async fn audited_page<E: EntityTrait<Model: Sync>, T: OutputType, R: FromQueryResult>(
    tx: &Tx,
    select: Select<E>,
    id: E::Column,
    page: PageArgs,
    id_of: impl Fn(&E::Model) -> Uuid,
    model: impl Fn(R) -> E::Model,
    audited: impl Fn(&E::Model) -> Option<String>,
    map: impl Fn(E::Model) -> T,
) -> AppResult<(Page<T>, Vec<String>)> {
    let read = Mutex::new(Vec::new());
    let conn = paginate_rows(tx.conn(), select, id, page, id_of, model, |row| {
        if let Some(id) = audited(&row) {
            read.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        }
        map(row)
    })
    .await?;
    let read = read.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok((conn, read))
}
