//! `labTurnaround` and `updateLabTurnaround`: a lab's turnaround rules.

use crate::model::LabTurnaround;
use crate::service::turnaround;
use async_graphql::{Context, Object, Result, SimpleObject};
use ils_kernel::request_parts;

/// What `updateLabTurnaround` gives back.
#[derive(SimpleObject)]
pub struct UpdateLabTurnaroundPayload {
    /// Your lab's turnaround rules as now kept.
    pub lab_turnaround: LabTurnaround,
}

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
    /// every job you receive from now on without a date of your own. Every refused value
    /// is its own BAD_USER_INPUT error (`input.designDays.0.days`), all at once.
    async fn update_lab_turnaround(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The whole set of rules (what is left out of a list adds no days).")]
        input: LabTurnaround,
    ) -> Result<UpdateLabTurnaroundPayload> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(UpdateLabTurnaroundPayload {
            lab_turnaround: turnaround::update(db, tenant, input).await?,
        })
    }
}
