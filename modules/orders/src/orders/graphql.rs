//! The thin resolvers: `orders`, `order`, `labOrders`, the order mutations and `orderUpdated`.
#[allow(unused_imports)]
use super::*;

#[derive(Default)]
pub struct LensOrdersQuery;

#[Object]
impl LensOrdersQuery {
    /// Your practice's orders, oldest first (`last: N` for the newest).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(
            db,
            tenant,
            &ils_kernel::client_info(ctx),
            Party::Practice,
            filter.unwrap_or_default(),
            page,
        )
        .await?)
    }

    /// Your lab's inbox: the orders practices sent you.
    async fn lab_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(
            db,
            tenant,
            &ils_kernel::client_info(ctx),
            Party::Lab,
            filter.unwrap_or_default(),
            page,
        )
        .await?)
    }

    /// One order you are a party to; null otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row_id = id::decode(ORDER, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        let found = tx.find::<order::Entity>(row_id).await?;
        audit_identified(&tx, tenant, &ils_kernel::client_info(ctx), found.iter()).await?;
        tx.commit().await?;
        Ok(found.map(|row| LensOrder { row, viewer: me }))
    }
}

#[derive(Default)]
pub struct LensOrdersMutation;

#[Object]
impl LensOrdersMutation {
    /// Starts a lens order (practices). Nothing is checked against the optical rules yet:
    /// `submitOrder` does that.
    async fn create_order_draft(
        &self,
        ctx: &Context<'_>,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let row = draft(db, tenant, input, None).await?;
        Ok(LensOrder {
            viewer: row.company_id,
            row,
        })
    }

    /// Replaces the whole job of your practice's DRAFT (like createOrderDraft's input), on
    /// the version you saw: CONFLICT when it changed or was submitted meanwhile.
    async fn update_order_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let row = update_draft(db, tenant, order_id, version, input).await?;
        Ok(LensOrder {
            viewer: row.company_id,
            row,
        })
    }

    /// Sends a draft to a lab your practice has an ACTIVE connection with. The whole job is
    /// checked first; every problem is its own BAD_USER_INPUT error with its path
    /// (`rx.right.axis`, `right.fittingHeight`, `lens.index`), all reported at once.
    async fn submit_order(&self, ctx: &Context<'_>, id: ID, lab_id: ID) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let lab = id::decode(COMPANY, &lab_id, "labId")?;
        match submit(db, tenant, order_id, lab).await? {
            Ok(row) => Ok(LensOrder {
                viewer: row.company_id,
                row,
            }),
            Err(errors) => Err(AppError::invalid("order", errors).into()),
        }
    }

    /// Moves an order along its workflow; an illegal move is BAD_USER_INPUT listing the
    /// allowed ones, a move on a version that has changed is CONFLICT.
    async fn move_order(&self, ctx: &Context<'_>, input: MoveOrderInput) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row = move_order(db, tenant, input).await?;
        Ok(LensOrder { row, viewer: me })
    }
}

#[derive(Default)]
pub struct LensOrdersSubscription;

#[async_graphql::Subscription]
impl LensOrdersSubscription {
    /// One of your orders, live: its state now, then one update per change by either
    /// party, in order (`status` and `version` say which change; `order` is the order as
    /// read when the update is sent). The stream ends after the order is delivered,
    /// cancelled or rejected. NOT_FOUND for an order you are not a party to. Live streams
    /// are not durable: the order's `history` has every step.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl futures_util::Stream<Item = OrderUpdate> + use<>> {
        use futures_util::StreamExt;
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let bus = ctx
            .data::<ils_kernel::Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        // Listening before reading, so no change falls between the two.
        let live = bus.visible_stream(me, false, vec!["order.*".into()]);
        let now = read(db, tenant, order_id).await?;
        let first = OrderUpdate::of(now);
        let (db, tenant) = (db.clone(), tenant.clone());
        let wanted = id.to_string();
        let changes = live.filter_map(move |ev| {
            // order.shipped repeats its status change's version: the version check drops it.
            let change = OrderChange::of(&ev)
                .filter(|c| c.order_id.as_str() == wanted)
                .and_then(|c| Some((OrderStatus::parse(&c.status)?, c.version)));
            let (db, tenant) = (db.clone(), tenant.clone());
            async move {
                let (status, version) = change?;
                let order = read(&db, &tenant, order_id).await.ok()?;
                Some(OrderUpdate {
                    status,
                    version,
                    order,
                })
            }
        });
        let stream = futures_util::stream::once(async move { first }).chain(changes);
        // One update per version, in order; stop after a final status.
        Ok(futures_util::stream::unfold(
            (Box::pin(stream), 0, false),
            |(mut s, mut seen, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let u = s.next().await?;
                    if u.version <= seen {
                        continue;
                    }
                    seen = u.version;
                    let finished = u.status.finished();
                    return Some((u, (s, seen, finished)));
                }
            },
        ))
    }
}

/// One change of an order, as `orderUpdated` sends it.
#[derive(SimpleObject, Clone)]
pub struct OrderUpdate {
    /// The status this change moved the order to.
    pub status: OrderStatus,
    /// The version this change made.
    pub version: i32,
    /// The order as read when the update was sent (it may be further along).
    pub order: LensOrder,
}

impl OrderUpdate {
    fn of(order: LensOrder) -> OrderUpdate {
        OrderUpdate {
            status: OrderStatus::parse(&order.row.status).unwrap_or(OrderStatus::Draft),
            version: order.row.version,
            order,
        }
    }
}

pub(crate) async fn read(db: &Db, ctx: &TenantContext, order_id: Uuid) -> AppResult<LensOrder> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(LensOrder { row, viewer: me })
}
