//! What was tried to bring the chosen forecasts' bias on the bike sales within the issue's
//! ±10 % (see `chosen_bias_is_within_ten_percent_on_bike_sales` in forecast_quality.rs):
//! other ways `forecast::choose` could pick, each scored exactly as the gate scores
//! `choose` (the same models, origins and horizon; each rule sees only the weeks before each
//! origin and backtests on them the way `choose` does). Ignored, as it is a record of
//! experiments rather than a gate:
//! `cargo test --release -p ils-inventory --test forecast_selection -- --ignored --nocapture`.
//!
//! None of them reaches ±10 % without failing an accuracy gate, and the last line it prints
//! says why no rule that learns from the product's own past can: the methods `choose`
//! picks were about unbiased on the weeks before each origin, and over-forecast only on
//! the weeks after it.

mod common;

use std::collections::BTreeMap;

use common::weekly_demand;
use ils_inventory::forecast::{self, Method};

const HORIZON: usize = 4;
/// The gate's origins: every week of the second half whose next 4 weeks are known.
const ORIGINS: std::ops::RangeInclusive<usize> = 26..=47;

/// A way to forecast: one of the module's methods, or a non-seasonal damped Holt
/// (additive damped trend, Gardner and McKenzie) that the module does not have.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Candidate {
    Fixed(Method),
    DampedHolt { alpha: f64, beta: f64, phi: f64 },
}

impl Candidate {
    fn forecast(self, history: &[f64], horizon: usize) -> Vec<f64> {
        match self {
            Candidate::Fixed(method) => forecast::forecast(method, history, horizon),
            Candidate::DampedHolt { alpha, beta, phi } => {
                // level starts as the running mean (as the module's methods do), trend at 0
                let (mut level, mut trend) = (0.0, 0.0);
                for (t, &y) in history.iter().enumerate() {
                    let a = alpha.max(1.0 / (t + 1) as f64);
                    let previous = level;
                    level = a * y + (1.0 - a) * (previous + phi * trend);
                    if t > 0 {
                        trend = beta * (level - previous) + (1.0 - beta) * phi * trend;
                    }
                }
                (1..=horizon as i32)
                    .map(|k| {
                        let damping: f64 = (1..=k).map(|i| phi.powi(i)).sum();
                        (level + damping * trend).max(0.0)
                    })
                    .collect()
            }
        }
    }
}

/// What a rule ranks candidates by, over its backtest origins (weighted, see `decay`).
#[derive(Clone, Copy)]
enum Score {
    /// Mean RMSSE: what `choose` uses.
    Rmsse,
    /// Mean RMSSE plus the absolute bias (sum of errors over sum sold).
    RmssePlusBias,
    /// Mean RMSSE times one plus the absolute bias.
    RmsseTimesBias,
    /// Root mean square of each origin's window-total error: what an order covering the
    /// horizon gets wrong, so bias counts in full.
    WindowTotal,
}

/// A selection rule.
struct Rule {
    name: &'static str,
    candidates: Vec<Candidate>,
    score: Score,
    /// Weight of an origin per origin older than the latest: 1 weighs all alike.
    decay: f64,
    /// Forecast the mean of this many best-ranked candidates.
    top: usize,
    /// Multiply the forecast by the best candidate's backtest sum sold over sum forecast.
    correct: bool,
}

/// Every candidate of the module's chooser.
fn current() -> Vec<Candidate> {
    forecast::CANDIDATES.map(Candidate::Fixed).to_vec()
}

/// SES, Croston, SBA and TSB (β = α) at each of `alphas`, and naive.
fn grid(alphas: &[f64]) -> Vec<Candidate> {
    let mut methods = vec![];
    for &alpha in alphas {
        methods.extend([
            Method::Ses { alpha },
            Method::Sba { alpha },
            Method::Tsb { alpha, beta: alpha },
            Method::Croston { alpha },
        ]);
    }
    methods.push(Method::Naive);
    methods.into_iter().map(Candidate::Fixed).collect()
}

const HOLT: Candidate = Candidate::DampedHolt {
    alpha: 0.2,
    beta: 0.05,
    phi: 0.9,
};

/// `choose`'s layout of backtest origins for a history of `n`: periods ahead and origins.
fn layout(n: usize) -> Option<(usize, usize)> {
    let start = n.div_ceil(2).max(forecast::MIN_TRAIN);
    let tested = HORIZON.min((n + 1).saturating_sub(start + forecast::MIN_ORIGINS));
    let origins = (n.saturating_sub(tested) + 1)
        .saturating_sub(start)
        .min(forecast::MAX_ORIGINS);
    (tested > 0 && origins >= forecast::MIN_ORIGINS).then_some((tested, origins))
}

/// A candidate's backtest on `history`, origin by origin, as `choose` lays it out:
/// per scored origin its RMSSE, window error sum and window units sold.
fn backtest(candidate: Candidate, history: &[f64]) -> Vec<(f64, f64, f64)> {
    let Some((tested, origins)) = layout(history.len()) else {
        return vec![];
    };
    let last = history.len() - tested;
    let first = (last + 1).saturating_sub(origins).max(1);
    (first..=last)
        .filter_map(|t| {
            let (before, actual) = (&history[..t], &history[t..t + tested]);
            let points = candidate.forecast(before, tested);
            let score = forecast::rmsse(before, actual, &points)?;
            let error: f64 = points.iter().zip(actual).map(|(f, a)| f - a).sum();
            Some((score, error, actual.iter().sum()))
        })
        .collect()
}

impl Rule {
    fn forecast(&self, history: &[f64]) -> Vec<f64> {
        let mut ranked: Vec<(f64, Candidate, f64)> = vec![];
        for &candidate in &self.candidates {
            let origins = backtest(candidate, history);
            if origins.is_empty() {
                continue;
            }
            let count = origins.len();
            let weights: Vec<f64> = (0..count)
                .map(|i| self.decay.powi((count - 1 - i) as i32))
                .collect();
            let total: f64 = weights.iter().sum();
            let mean = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
                origins
                    .iter()
                    .zip(&weights)
                    .map(|(o, w)| f(o) * w)
                    .sum::<f64>()
                    / total
            };
            let rmsse = mean(&|o| o.0);
            let (errors, sold) = (mean(&|o| o.1), mean(&|o| o.2));
            let bias = if sold > 0.0 { errors / sold } else { 0.0 };
            let score = match self.score {
                Score::Rmsse => rmsse,
                Score::RmssePlusBias => rmsse + bias.abs(),
                Score::RmsseTimesBias => rmsse * (1.0 + bias.abs()),
                Score::WindowTotal => mean(&|o| o.1 * o.1).sqrt(),
            };
            let ratio = if sold + errors > 0.0 {
                sold / (sold + errors)
            } else {
                1.0
            };
            ranked.push((score, candidate, ratio));
        }
        if ranked.is_empty() {
            return forecast::choose(history, HORIZON, None).points;
        }
        // stable: ties go to the earlier candidate, as in `choose`
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
        let best = &ranked[..self.top.min(ranked.len())];
        let mut points = vec![0.0; HORIZON];
        for (_, candidate, ratio) in best {
            let factor = if self.correct { *ratio } else { 1.0 };
            for (p, f) in points.iter_mut().zip(candidate.forecast(history, HORIZON)) {
                *p += f * factor / best.len() as f64;
            }
        }
        points
    }
}

/// Mean over models of the mean RMSSE over origins, and pooled bias, of `make`'s forecasts.
fn score(
    demand: &BTreeMap<String, Vec<f64>>,
    make: &dyn Fn(&[f64]) -> Vec<f64>,
) -> (f64, f64, f64) {
    let (mut per_model, mut errors, mut sold, mut absolute, mut points) =
        (vec![], 0.0, 0.0, 0.0, 0);
    for series in demand.values() {
        let mut scores = vec![];
        for t in ORIGINS {
            let (history, actual) = (&series[..t], &series[t..t + HORIZON]);
            if forecast::rmsse(history, actual, &[0.0; HORIZON]).is_none() {
                continue;
            }
            let f = make(history);
            scores.push(forecast::rmsse(history, actual, &f).unwrap());
            for (f, a) in f.iter().zip(actual) {
                errors += f - a;
                absolute += (f - a).abs();
                sold += a;
                points += 1;
            }
        }
        if !scores.is_empty() {
            per_model.push(scores.iter().sum::<f64>() / scores.len() as f64);
        }
    }
    let rmsse = per_model.iter().sum::<f64>() / per_model.len() as f64;
    (rmsse, errors / sold, absolute / points as f64)
}

#[test]
#[ignore = "a record of experiments: run in release mode with --ignored --nocapture"]
fn selection_rules_on_bike_sales() {
    let (_, demand) = weekly_demand();
    let fixed = |method| move |h: &[f64]| forecast::forecast(method, h, HORIZON);
    let naive = score(&demand, &fixed(Method::Naive));
    let sba = score(&demand, &fixed(Method::Sba { alpha: 0.1 }));
    let chosen = score(&demand, &|h: &[f64]| {
        forecast::choose(h, HORIZON, Some(52)).points
    });
    let row = |name: &str, (rmsse, bias, mae): (f64, f64, f64)| {
        let gates = rmsse <= 0.95 * naive.0 && rmsse <= 1.02 * sba.0;
        println!(
            "{name:<52} {rmsse:>10.4} {:>+8.1}% {:>+8.1}% {:>+7.1}% {mae:>7.3}  {}",
            (rmsse / naive.0 - 1.0) * 100.0,
            (rmsse / sba.0 - 1.0) * 100.0,
            bias * 100.0,
            match (gates, bias.abs() <= 0.10) {
                (true, true) => "passes all three",
                (true, false) => "accuracy gates only",
                (false, true) => "bias only",
                (false, false) => "fails",
            }
        );
    };
    println!(
        "\n{:<52} {:>10} {:>9} {:>9} {:>8} {:>7}",
        "rule", "mean RMSSE", "vs naive", "vs SBA", "bias", "MAE"
    );
    row("naive", naive);
    row("SBA (α 0.1)", sba);
    row("forecast::choose as it is", chosen);

    let fixed_extra = [
        (
            "fixed: SES (α 0.5)",
            Candidate::Fixed(Method::Ses { alpha: 0.5 }),
        ),
        (
            "fixed: SBA (α 0.3)",
            Candidate::Fixed(Method::Sba { alpha: 0.3 }),
        ),
        (
            "fixed: SBA (α 0.5)",
            Candidate::Fixed(Method::Sba { alpha: 0.5 }),
        ),
        (
            "fixed: TSB (α 0.3, β 0.3)",
            Candidate::Fixed(Method::Tsb {
                alpha: 0.3,
                beta: 0.3,
            }),
        ),
        ("fixed: damped Holt (α 0.2, β 0.05, φ 0.9)", HOLT),
    ];
    for (name, candidate) in fixed_extra {
        row(
            name,
            score(&demand, &|h: &[f64]| candidate.forecast(h, HORIZON)),
        );
    }

    let alphas = [0.05, 0.1, 0.2, 0.3, 0.5];
    let with_holt = |mut c: Vec<Candidate>| {
        c.push(HOLT);
        c
    };
    let rule = |name, candidates, score, decay, top, correct| Rule {
        name,
        candidates,
        score,
        decay,
        top,
        correct,
    };
    use Score::*;
    let rules = [
        rule("choose, reproduced", current(), Rmsse, 1.0, 1, false),
        rule(
            "1. α fitted: grid of 21",
            grid(&alphas),
            Rmsse,
            1.0,
            1,
            false,
        ),
        rule(
            "1. α fitted, + damped Holt",
            with_holt(grid(&alphas)),
            Rmsse,
            1.0,
            1,
            false,
        ),
        rule("2. RMSSE + |bias|", current(), RmssePlusBias, 1.0, 1, false),
        rule(
            "2. RMSSE x (1 + |bias|)",
            current(),
            RmsseTimesBias,
            1.0,
            1,
            false,
        ),
        rule(
            "2. window-total error",
            current(),
            WindowTotal,
            1.0,
            1,
            false,
        ),
        rule(
            "2. α fitted, RMSSE x (1 + |bias|)",
            grid(&alphas),
            RmsseTimesBias,
            1.0,
            1,
            false,
        ),
        rule(
            "2. α fitted, window-total error",
            grid(&alphas),
            WindowTotal,
            1.0,
            1,
            false,
        ),
        rule(
            "3. recent origins weigh more (0.8)",
            current(),
            Rmsse,
            0.8,
            1,
            false,
        ),
        rule(
            "3. α fitted, recent weigh more (0.8)",
            grid(&alphas),
            Rmsse,
            0.8,
            1,
            false,
        ),
        rule(
            "3. α fitted, recent weigh more (0.7)",
            grid(&alphas),
            Rmsse,
            0.7,
            1,
            false,
        ),
        rule(
            "3. α fitted, + Holt, recent (0.7)",
            with_holt(grid(&alphas)),
            Rmsse,
            0.7,
            1,
            false,
        ),
        rule("4. mean of best 2", current(), Rmsse, 1.0, 2, false),
        rule("4. mean of best 3", current(), Rmsse, 1.0, 3, false),
        rule(
            "4. α fitted, mean of best 3",
            grid(&alphas),
            Rmsse,
            1.0,
            3,
            false,
        ),
        rule(
            "1+3+4. α fitted, recent (0.7), best 3",
            grid(&alphas),
            Rmsse,
            0.7,
            3,
            false,
        ),
        rule(
            "bias-corrected by backtest ratio",
            current(),
            Rmsse,
            1.0,
            1,
            true,
        ),
    ];
    for rule in &rules {
        row(rule.name, score(&demand, &|h: &[f64]| rule.forecast(h)));
    }

    // the harness reproduces choose: the same forecast at every model-origin
    for series in demand.values() {
        for t in ORIGINS {
            let h = &series[..t];
            let (ours, theirs) = (rules[0].forecast(h), forecast::choose(h, HORIZON, Some(52)));
            assert!(
                ours.iter()
                    .zip(&theirs.points)
                    .all(|(a, b)| (a - b).abs() <= 1e-9 * b.max(1.0)),
                "{ours:?} {theirs:?}"
            );
        }
    }

    // why: the bias choose's pick had on the weeks before each origin (its own backtest,
    // pooled over model-origins by units sold in the backtest windows) against after it
    let (mut errors, mut sold) = (0.0, 0.0);
    for series in demand.values() {
        for t in ORIGINS {
            let h = &series[..t];
            let pick = forecast::choose(h, HORIZON, Some(52));
            if pick.backtest.is_none() {
                continue;
            }
            for (_, error, units) in backtest(Candidate::Fixed(pick.method), h) {
                errors += error;
                sold += units;
            }
        }
    }
    println!(
        "\nchoose's pick, bias on its own backtest before each origin {:+.1} %, on the 4 weeks \
         after it {:+.1} %\n",
        errors / sold * 100.0,
        chosen.1 * 100.0
    );
}
