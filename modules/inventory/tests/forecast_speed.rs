//! A measurement, not a test: how long `forecast::choose` takes over a large catalogue,
//! 10,000 products with 730 days of history each, on 2 threads (the purchasing agent's
//! budget is 30 s for all of its work). It prints the time and asserts only that the
//! forecasts are sane; ignored by default, meaningful in release mode:
//! `cargo test --release -p ils-inventory --test forecast_speed -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use ils_inventory::forecast;

const PRODUCTS: usize = 10_000;
const DAYS: usize = 730;
const THREADS: usize = 2;

/// A deterministic stream of numbers in 0..1 (a linear congruential generator).
fn noise(seed: u64) -> impl Iterator<Item = f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    std::iter::repeat_with(move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Product `i`'s daily sales: from one sale a month to dozens a day, a third of them with
/// a weekly pattern, whole units.
fn history(i: usize) -> Vec<f64> {
    let mut draws = noise(i as u64);
    let rate = 0.03 * 1000f64.powf(draws.next().unwrap());
    let weekly = i.is_multiple_of(3);
    (0..DAYS)
        .map(|day| {
            let season = if weekly && day % 7 >= 5 { 2.0 } else { 1.0 };
            let mean = rate * season;
            let u = draws.next().unwrap();
            // a sale on a day with probability min(mean, 1), of about mean / probability
            let chance = mean.min(1.0);
            if u < chance {
                (mean / chance * 2.0 * draws.next().unwrap())
                    .round()
                    .max(1.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Chooses and forecasts `horizon` days for every product on [`THREADS`] threads; returns
/// the time taken and a checksum of the totals (so nothing is optimised away).
fn run(histories: &[Vec<f64>], horizon: usize) -> (Duration, f64) {
    let started = Instant::now();
    let chunk = histories.len().div_ceil(THREADS);
    let total: f64 = std::thread::scope(|scope| {
        let workers: Vec<_> = histories
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|h| forecast::choose(h, horizon, Some(7)).total)
                        .sum::<f64>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    (started.elapsed(), total)
}

#[test]
#[ignore = "a measurement: run in release mode with --ignored"]
fn measure_choose_over_ten_thousand_products_of_two_years() {
    let histories: Vec<Vec<f64>> = (0..PRODUCTS).map(history).collect();
    for horizon in [7, 90] {
        let (took, total) = run(&histories, horizon);
        println!(
            "forecast::choose, {PRODUCTS} products x {DAYS} days, {horizon} days ahead, \
             {THREADS} threads: {:.2} s (sum of totals {total:.0})",
            took.as_secs_f64()
        );
        assert!(total.is_finite() && total > 0.0);
    }
}
