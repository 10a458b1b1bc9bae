//! The thin resolvers of purchasing.
#[allow(unused_imports)]
use super::*;

#[derive(Default)]
pub struct PurchasingQuery;

#[Object]
impl PurchasingQuery {
    /// Your company's purchase orders (as the buyer).
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<PurchaseOrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, PurchaseOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(db, tenant, false, filter.unwrap_or_default(), page).await?)
    }

    /// Purchase orders sent to your company (as the supplier): the inbox.
    async fn supplier_purchase_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<PurchaseOrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, PurchaseOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(db, tenant, true, filter.unwrap_or_default(), page).await?)
    }

    /// A purchase order of yours, as buyer or supplier.
    async fn purchase_order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PurchaseOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let order_id = id::decode(PURCHASE_ORDER, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        let found = match load(&tx, order_id).await {
            Ok(o) => Some(o),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(found)
    }
}

#[derive(Default)]
pub struct PurchasingMutation;

#[Object]
impl PurchasingMutation {
    /// A draft purchase order to a supplier you are actively connected to, with lines from
    /// its catalog at its prices (admins and managers). Each line is received as your
    /// product linked to the item, made from the item when you have none.
    async fn create_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: PurchaseOrderInput,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(create_draft(db, tenant, input, false).await?)
    }

    /// A person's approval of a draft the system made (admins and managers).
    async fn approve_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(approve(db, tenant, id::decode(PURCHASE_ORDER, &id, "id")?, version).await?)
    }

    /// Sends a draft to its supplier (admins and managers).
    async fn submit_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(submit(db, tenant, id::decode(PURCHASE_ORDER, &id, "id")?, version).await?)
    }

    /// The supplier accepts a submitted order, with its own reference.
    async fn acknowledge_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        supplier_reference: Option<String>,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(answer(
            db,
            tenant,
            id::decode(PURCHASE_ORDER, &id, "id")?,
            version,
            true,
            supplier_reference,
        )
        .await?)
    }

    /// The supplier turns a submitted order down, saying why.
    async fn reject_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(answer(
            db,
            tenant,
            id::decode(PURCHASE_ORDER, &id, "id")?,
            version,
            false,
            Some(reason),
        )
        .await?)
    }

    /// The buyer withdraws a draft or a submitted order not yet answered.
    async fn cancel_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(cancel(db, tenant, id::decode(PURCHASE_ORDER, &id, "id")?, version).await?)
    }

    /// Stock that arrived for an acknowledged order: RECEIPT movements at the agreed
    /// prices; more than ordered only with `allowOverReceipt`.
    async fn receive_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        lines: Vec<ReceiptLineInput>,
        allow_over_receipt: Option<bool>,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(receive(
            db,
            tenant,
            id::decode(PURCHASE_ORDER, &id, "id")?,
            version,
            lines,
            allow_over_receipt.unwrap_or(false),
        )
        .await?)
    }
}
