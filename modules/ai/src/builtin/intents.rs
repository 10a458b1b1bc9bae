//! The questions the built-in assistant recognises, and its answers.

use super::Outcome;
use chrono::NaiveDate;
use serde_json::Value;

/// A recognised question: the tools to call (name, arguments), and what to answer with.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub intent: Intent,
    pub calls: Vec<(String, Value)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// Counts of the company's orders by status.
    OrderCounts,
}

/// The plan for `question`, or `None` when the question is not one the built-in
/// assistant knows.
pub fn recognise(question: &str, _today: NaiveDate) -> Option<Plan> {
    let q = question.to_lowercase();
    if q.contains("how many orders") {
        return Some(Plan {
            intent: Intent::OrderCounts,
            calls: vec![("orders_counts".into(), serde_json::json!({}))],
        });
    }
    None
}

/// The answer to `plan` from its tools' outcomes (in call order).
pub fn render(plan: &Plan, outcomes: &[Outcome]) -> String {
    match (&plan.intent, outcomes.first()) {
        (_, Some(Err(e))) => format!("I could not read that: {e}"),
        (Intent::OrderCounts, Some(Ok(v))) => format!("Your orders by status: {v}"),
        (_, None) => "I found nothing to answer with.".into(),
    }
}
