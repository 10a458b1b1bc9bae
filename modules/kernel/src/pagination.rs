//! Relay cursor connections over UUIDv7 primary keys: ids grow with time, so "after this
//! cursor" is "id greater than", and a page is one indexed range scan.

use crate::{AppError, AppResult};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, Order,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use std::collections::HashSet;
use uuid::Uuid;

/// Items in a page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 20;
/// The most `first` or `last` may ask for.
pub const MAX_PAGE: u64 = 100;

/// What every connection adds to Relay's `edges`, `nodes` and `pageInfo`.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct Counted {
    /// How many items match, over all pages (the filter applies, the cursors do not).
    /// Counted only when selected.
    pub total_count: i64,
}

/// A page of a Relay connection: the one list shape of the API (`edges`, `nodes`,
/// `pageInfo`, `totalCount`).
pub type Page<T> = Connection<String, T, Counted>;

/// The four Relay arguments, as GraphQL received them, and whether the caller selected
/// `totalCount`.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    /// Run the count (`totalCount` is in the selection).
    pub count: bool,
    /// The fields the query selects on the connection's nodes (at `nodes { … }` and
    /// `edges { node { … } }`, fragments included): a page reads its large columns only
    /// when their fields are asked for (`PageArgs::lazy`).
    pub node_fields: HashSet<String>,
}

impl PageArgs {
    /// The four arguments as a resolver receives them; `ctx` tells whether `totalCount`
    /// is selected, so the count runs only when a client asks for it.
    pub fn new(
        ctx: &async_graphql::Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> PageArgs {
        let mut node_fields = HashSet::new();
        let mut collect = |node: async_graphql::SelectionField<'_>| {
            node_fields.extend(node.selection_set().map(|f| f.name().to_owned()));
        };
        for f in ctx.field().selection_set() {
            match f.name() {
                "nodes" => collect(f),
                "edges" => f
                    .selection_set()
                    .filter(|e| e.name() == "node")
                    .for_each(&mut collect),
                _ => {}
            }
        }
        PageArgs {
            first,
            after,
            last,
            before,
            count: ctx.look_ahead().field("totalCount").exists(),
            node_fields,
        }
    }

    /// `select` reading each of the `lazy` columns (large text: JSON documents, notes)
    /// only when the field named with it is selected on the nodes; the others come back
    /// as empty text, which no resolver reads because their fields are not asked for.
    pub fn lazy<E: EntityTrait>(&self, select: Select<E>, lazy: &[(&str, E::Column)]) -> Select<E> {
        let skipped: Vec<&str> = lazy
            .iter()
            .filter(|(field, _)| !self.node_fields.contains(*field))
            .map(|(_, col)| col.as_str())
            .collect();
        if skipped.is_empty() {
            return select;
        }
        let mut select = select.select_only();
        for col in E::Column::iter() {
            select = if skipped.contains(&col.as_str()) {
                select.column_as(Expr::val(""), col.as_str())
            } else {
                select.column(col)
            };
        }
        select
    }
}

fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("c:{id}"))
}

fn decode_cursor(cursor: &str, field: &str) -> AppResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("c:").and_then(|u| Uuid::parse_str(u).ok()))
        .ok_or_else(|| AppError::bad_input(field, "invalid cursor"))
}

fn page_size(n: Option<i32>, field: &str) -> AppResult<Option<u64>> {
    match n {
        None => Ok(None),
        Some(n) if n < 0 => Err(AppError::bad_input(field, "must not be negative")),
        Some(n) if n as u64 > MAX_PAGE => Err(AppError::bad_input(
            field,
            format!("at most {MAX_PAGE} per page"),
        )),
        Some(n) => Ok(Some(n as u64)),
    }
}

/// Runs one page of `select` (already guarded) ordered by the UUIDv7 column `id`.
pub async fn paginate<E, C, T, F>(
    conn: &C,
    select: Select<E>,
    id: E::Column,
    args: PageArgs,
    id_of: impl Fn(&E::Model) -> Uuid,
    map: F,
) -> AppResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
    T: OutputType,
    F: Fn(E::Model) -> T,
{
    paginate_rows(conn, select, id, args, id_of, std::convert::identity, map).await
}

/// [`paginate`], with each row read as `R` and made a model by `model`: an entity's
/// `ByPosition`, which reads the columns by position (`ils_entity::by_position!`).
pub async fn paginate_rows<E, C, T, F, R>(
    conn: &C,
    select: Select<E>,
    id: E::Column,
    args: PageArgs,
    id_of: impl Fn(&E::Model) -> Uuid,
    model: impl Fn(R) -> E::Model,
    map: F,
) -> AppResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
    T: OutputType,
    F: Fn(E::Model) -> T,
    R: FromQueryResult,
{
    let first = page_size(args.first, "first")?;
    let last = page_size(args.last, "last")?;
    if first.is_some() && last.is_some() {
        return Err(AppError::bad_input(
            "last",
            "use either first or last, not both",
        ));
    }
    let total_count = if args.count {
        sea_orm::PaginatorTrait::count(select.clone(), conn).await? as i64
    } else {
        0
    };
    let mut select = select;
    if let Some(after) = &args.after {
        select = select.filter(id.gt(decode_cursor(after, "after")?));
    }
    if let Some(before) = &args.before {
        select = select.filter(id.lt(decode_cursor(before, "before")?));
    }
    let backwards = last.is_some();
    let limit = last.or(first).unwrap_or(DEFAULT_PAGE);
    let order = if backwards { Order::Desc } else { Order::Asc };
    let mut rows: Vec<E::Model> = select
        .order_by(id, order)
        .limit(limit + 1)
        .into_model::<R>()
        .all(conn)
        .await?
        .into_iter()
        .map(model)
        .collect();
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if backwards {
        rows.reverse();
    }
    let (has_previous, has_next) = if backwards {
        (more, args.before.is_some())
    } else {
        (args.after.is_some(), more)
    };
    let mut connection =
        Connection::with_additional_fields(has_previous, has_next, Counted { total_count });
    connection.edges.extend(rows.into_iter().map(|row| {
        let cursor = encode_cursor(id_of(&row));
        Edge::new(cursor, map(row))
    }));
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let u = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(u), "after").unwrap(), u);
        assert_eq!(
            decode_cursor("zzz", "after").unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(Some(5), "first").unwrap(), Some(5));
        assert!(page_size(Some(-1), "first").is_err());
        assert!(page_size(Some(101), "first").is_err());
    }
}
