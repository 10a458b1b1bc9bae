//! `labTurnaround` and `updateLabTurnaround`: a lab's turnaround rules.

use crate::model::LabTurnaround;
use crate::service::turnaround;
use async_graphql::{Context, Object, Result};
use ils_kernel::request_parts;

#[derive(Default)]
pub struct TurnaroundQuery;

#[Object]
impl TurnaroundQuery {
    /// Your lab's turnaround rules (the defaults until you set them).
    async fn lab_turnaround(&self, ctx: &Context<'_>) -> Result<LabTurnaround> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(turnaround::get(db, tenant).await?)
    }
}

#[derive(Default)]
pub struct TurnaroundMutation;

#[Object]
impl TurnaroundMutation {
    /// Replaces your lab's turnaround rules (admins and managers); they set the due date of
    /// every job you receive from now on without a date of your own.
    async fn update_lab_turnaround(
        &self,
        ctx: &Context<'_>,
        input: LabTurnaround,
    ) -> Result<LabTurnaround> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(turnaround::update(db, tenant, input).await?)
    }
}
