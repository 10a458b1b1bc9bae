//! Connections between companies are access grants: other modules ask whether two
//! companies are actively connected (a lab takes orders only from connected practices), and
//! the guard opens a supplier's catalog to the companies connected to it.

use crate::{AppResult, Tx};
use ils_entity::trade_connection::{self, Column as C};
use sea_orm::sea_query::{IntoCondition, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub use ils_entity::trade_connection::ConnectionStatus;

/// One key per unordered pair of companies, whichever side asked.
pub fn pair_key(a: Uuid, b: Uuid) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// Whether `a` and `b` have an ACTIVE connection, as the transaction's scope sees it (the
/// acting company must be one of the two, or nothing is visible and the answer is no).
pub async fn active_between(tx: &Tx, a: Uuid, b: Uuid) -> AppResult<bool> {
    let n = tx
        .select::<trade_connection::Entity>()
        .filter(C::PairKey.eq(pair_key(a, b)))
        .filter(C::State.eq(ConnectionStatus::Active))
        .count(tx.conn())
        .await?;
    Ok(n > 0)
}

/// The name `other` goes by on its ACTIVE connection with `me`, when its side of the
/// connection says it is a company of `kind` (`LAB`, `SUPPLIER`): the partner check of
/// anything sent to another company (a lens order to a lab, a purchase order to a
/// supplier). The partner's own rows are not `me`'s to read; its side of the connection is.
pub async fn active_partner(
    tx: &Tx,
    me: Uuid,
    other: Uuid,
    kind: &str,
) -> AppResult<Option<String>> {
    let link = tx
        .select::<trade_connection::Entity>()
        .filter(C::PairKey.eq(pair_key(me, other)))
        .filter(C::State.eq(ConnectionStatus::Active))
        .one(tx.conn())
        .await?;
    Ok(link
        .and_then(|c| other_side(c, me))
        .filter(|(id, their_type, _)| *id == other && their_type == kind)
        .map(|(_, _, name)| name))
}

/// [`active_partner`] for every partner of `kind` at once, in one statement: partner
/// company -> the name it goes by on its ACTIVE connection with `me`.
pub async fn active_partners(
    tx: &Tx,
    me: Uuid,
    kind: &str,
) -> AppResult<std::collections::HashMap<Uuid, String>> {
    let rows = tx
        .select::<trade_connection::Entity>()
        .filter(C::State.eq(ConnectionStatus::Active))
        .filter(
            Condition::any()
                .add(C::RequesterCompanyId.eq(me))
                .add(C::ResponderCompanyId.eq(me)),
        )
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|c| other_side(c, me))
        .filter(|(_, their_type, _)| their_type == kind)
        .map(|(id, _, name)| (id, name))
        .collect())
}

/// The other company of a connection `me` is one side of: (its id, type, name as the
/// connection records them); `None` when `me` is neither side.
fn other_side(c: trade_connection::Model, me: Uuid) -> Option<(Uuid, String, String)> {
    if c.requester_company_id == me {
        Some((c.responder_company_id, c.responder_type, c.responder_name))
    } else if c.responder_company_id == me {
        Some((c.requester_company_id, c.requester_type, c.requester_name))
    } else {
        None
    }
}

/// A company's trade partners as its connections name them (any status, the latest
/// connection's name winning): partner company -> (name, type). What the assistant's tools
/// show for "the practice" of a lab's order or "the buyer" of a supplier's purchase order,
/// since neither side may read the other's company row.
pub async fn partner_names(
    tx: &Tx,
    me: Uuid,
) -> AppResult<std::collections::HashMap<Uuid, (String, String)>> {
    let rows = tx
        .select::<trade_connection::Entity>()
        .order_by_asc(C::Id)
        .all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|c| other_side(c, me))
        .map(|(id, their_type, name)| (id, (name, their_type)))
        .collect())
}

/// The rows whose `column` names a company with an ACTIVE connection to `company`: two
/// indexed sub-selects over the connections table, one per side of the pair.
pub(crate) fn connected_to<Col: ColumnTrait>(column: Col, company: Uuid) -> Condition {
    let side = |mine: C, theirs: C| -> SimpleExpr {
        let sub = Query::select()
            .column(theirs)
            .from(trade_connection::Entity)
            .and_where(C::State.eq(ConnectionStatus::Active))
            .and_where(mine.eq(company))
            .to_owned();
        column.in_subquery(sub)
    };
    Condition::any()
        .add(side(C::RequesterCompanyId, C::ResponderCompanyId))
        .add(side(C::ResponderCompanyId, C::RequesterCompanyId))
        .into_condition()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_key_whichever_side_asks() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(pair_key(a, b), pair_key(b, a));
        assert_ne!(pair_key(a, b), pair_key(a, Uuid::now_v7()));
    }
}
