//! The bike sales fixture (tests/fixtures/forecast/README.md) as weekly demand per model,
//! shared by the forecasting quality gate and its selection experiments.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// Weekly demand per model: quantity summed per 7-day bucket from the first order date,
/// weeks without sales as 0, every model over every week of the data.
pub fn weekly_demand() -> (usize, BTreeMap<String, Vec<f64>>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/forecast/bike_sales_sample.csv"
    );
    let mut reader = csv::Reader::from_path(path).expect("the fixture opens");
    let headers = reader.headers().expect("a header row").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (date, quantity, model) = (column("order_date"), column("quantity"), column("model"));
    let mut lines = vec![];
    for record in reader.records() {
        let record = record.expect("a well-formed line");
        let day = NaiveDate::parse_from_str(&record[date], "%Y-%m-%d").expect("a date");
        let units: f64 = record[quantity].parse().expect("a quantity");
        lines.push((record[model].to_string(), day, units));
    }
    assert_eq!(lines.len(), 2466, "order lines");
    let first = lines.iter().map(|(_, day, _)| *day).min().unwrap();
    let week = |day: NaiveDate| ((day - first).num_days() / 7) as usize;
    let weeks = lines.iter().map(|(_, day, _)| week(*day)).max().unwrap() + 1;
    let mut demand: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (model, day, units) in lines {
        demand.entry(model).or_insert_with(|| vec![0.0; weeks])[week(day)] += units;
    }
    (weeks, demand)
}
