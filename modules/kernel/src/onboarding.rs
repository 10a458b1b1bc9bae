//! The onboarding checklist: what a new company does to get going on ILS (its profile,
//! logo, opening hours, a colleague, a trading partner, a first order or catalog item).
//! Each domain module hands over the steps whose data it owns through
//! `Module::onboarding`; the server gathers them into one `Checklist`, and tenancy's
//! `onboarding` query runs it for the caller's company.
//!
//! A step is never ticked by a button: its check reads the module's own tables, through
//! the caller's guarded transaction, for the trace the real action leaves (a saved logo,
//! an accepted connection, a submitted order). So the list cannot say anything the data
//! does not.

use crate::{AppError, AppResult, Tx};
use ils_entity::company::CompanyType;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = AppResult<bool>> + Send + 'a>>;

/// One step of the checklist.
#[derive(Clone)]
pub struct Step {
    /// Stable, upper case (`LOGO`): what clients key their own texts on.
    pub key: &'static str,
    /// Where it stands in the list (lower first); keys break ties.
    pub position: u16,
    /// A short title, in English.
    pub title: &'static str,
    /// The action that completes it, naming the API field a client calls.
    pub how: &'static str,
    /// The kinds of company the step is for.
    pub for_types: &'static [CompanyType],
    /// Whether the company has done it, read through the caller's guarded transaction.
    pub done: for<'a> fn(&'a Tx, Uuid) -> StepFuture<'a>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step").field("key", &self.key).finish()
    }
}

/// A step's state for one company.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepState {
    pub key: &'static str,
    pub title: &'static str,
    pub how: &'static str,
    pub done: bool,
}

/// Every module's steps, in list order: what the server puts into each request's data.
#[derive(Clone, Debug, Default)]
pub struct Checklist(Arc<Vec<Step>>);

impl Checklist {
    /// The checklist of `steps`. Two steps of one key, or a key that is not upper-case
    /// letters, digits and underscores, are a programming error reported at start.
    pub fn new(mut steps: Vec<Step>) -> AppResult<Checklist> {
        let mut keys = BTreeSet::new();
        for step in &steps {
            let valid = !step.key.is_empty()
                && step
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !valid || !keys.insert(step.key) {
                return Err(AppError::internal(format!(
                    "bad or repeated onboarding step {:?}",
                    step.key
                )));
            }
        }
        steps.sort_by_key(|s| (s.position, s.key));
        Ok(Checklist(Arc::new(steps)))
    }

    /// The steps for a kind of company, in list order.
    pub fn steps_for(&self, kind: CompanyType) -> impl Iterator<Item = &Step> {
        self.0.iter().filter(move |s| s.for_types.contains(&kind))
    }

    /// Runs every step of `kind`'s list for `company` in `tx`, one check after another.
    pub async fn run(
        &self,
        tx: &Tx,
        company: Uuid,
        kind: CompanyType,
    ) -> AppResult<Vec<StepState>> {
        let mut states = Vec::new();
        for step in self.steps_for(kind) {
            states.push(StepState {
                key: step.key,
                title: step.title,
                how: step.how,
                done: (step.done)(tx, company).await?,
            });
        }
        Ok(states)
    }
}

/// Whether `select` finds a row: what most checks ask ("has the company ever …"). Reads
/// one constant, not the row.
pub async fn exists<E: sea_orm::EntityTrait>(
    tx: &Tx,
    select: sea_orm::Select<E>,
) -> AppResult<bool> {
    use sea_orm::{QuerySelect, sea_query::Expr};
    let found: Option<i32> = select
        .select_only()
        .column_as(Expr::val(1), "found")
        .limit(1)
        .into_tuple()
        .one(tx.conn())
        .await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never<'a>(_: &'a Tx, _: Uuid) -> StepFuture<'a> {
        Box::pin(async { Ok(false) })
    }

    fn step(key: &'static str, position: u16, for_types: &'static [CompanyType]) -> Step {
        Step {
            key,
            position,
            title: "t",
            how: "h",
            for_types,
            done: never,
        }
    }

    #[test]
    fn steps_are_ordered_and_filtered_by_company_type() {
        let list = Checklist::new(vec![
            step("CATALOG", 60, &[CompanyType::Supplier]),
            step("LOGO", 20, &[CompanyType::Ecp, CompanyType::Supplier]),
            step("PROFILE", 10, &[CompanyType::Ecp, CompanyType::Lab]),
        ])
        .unwrap();
        let keys = |k| list.steps_for(k).map(|s| s.key).collect::<Vec<_>>();
        assert_eq!(keys(CompanyType::Ecp), ["PROFILE", "LOGO"]);
        assert_eq!(keys(CompanyType::Supplier), ["LOGO", "CATALOG"]);
        assert_eq!(keys(CompanyType::Lab), ["PROFILE"]);
    }

    #[test]
    fn repeated_or_malformed_keys_are_refused() {
        assert!(Checklist::new(vec![step("A", 1, &[]), step("A", 2, &[])]).is_err());
        assert!(Checklist::new(vec![step("first order", 1, &[])]).is_err());
        assert!(Checklist::new(vec![step("", 1, &[])]).is_err());
    }
}
