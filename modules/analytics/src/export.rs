//! A dashboard's series as a CSV file: the bucket's first day, then one column per series
//! of the key asked for (one per dimension and currency), empty where a figure is
//! undefined. Text cells are neutralised against spreadsheet formulas.

use crate::dashboard::Dashboard;
use ils_common::csv_cell;
use ils_kernel::files::{Exported, Files};
use ils_kernel::{AppError, AppResult};
use uuid::Uuid;

/// The CSV text of `key`'s series, and its rows; BAD_USER_INPUT naming the keys there are
/// when the dashboard has no series of that key.
pub fn csv_of(d: &Dashboard, key: &str) -> AppResult<(String, i64)> {
    let series: Vec<_> = d.series.iter().filter(|s| s.key == key).collect();
    if series.is_empty() {
        let mut keys: Vec<&str> = d.series.iter().map(|s| s.key).collect();
        keys.dedup();
        return Err(AppError::bad_input(
            "input.key",
            format!(
                "this dashboard has no series {key:?} in the period; it has: {}",
                keys.join(", ")
            ),
        ));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["start".to_owned()];
    for s in &series {
        let mut name = s.key.to_owned();
        if let Some(d) = &s.dimension {
            name.push_str(&format!(" {d}"));
        }
        if let Some(c) = &s.currency {
            name.push_str(&format!(" ({c})"));
        }
        header.push(csv_cell::text(&name).into_owned());
    }
    let csv_error = |e: csv::Error| AppError::internal(format!("csv: {e}"));
    w.write_record(&header).map_err(csv_error)?;
    let buckets = series[0].points.len();
    for i in 0..buckets {
        let mut row = vec![series[0].points[i].0.to_string()];
        for s in &series {
            row.push(s.points[i].1.map(|v| v.to_string()).unwrap_or_default());
        }
        w.write_record(&row).map_err(csv_error)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::internal(format!("csv: {e}")))?;
    Ok((String::from_utf8(bytes).unwrap_or_default(), buckets as i64))
}

/// Writes `key`'s series of the dashboard to the file store for `company`.
pub async fn series_csv(
    files: &Files,
    company: Uuid,
    d: &Dashboard,
    key: &str,
) -> AppResult<Exported> {
    let (text, rows) = csv_of(d, key)?;
    let file_name = format!(
        "{}-{}-{}.csv",
        key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-"),
        d.from.format("%Y%m%d"),
        d.to.format("%Y%m%d")
    );
    files
        .export("dashboard-exports", company, file_name, text, rows)
        .await
}
