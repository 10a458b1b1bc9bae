//! Demand forecasting: a handful of small forecasting methods, a rolling-origin backtest
//! that scores them on a product's own past, and the choice of the one that did best, with
//! prediction intervals and a sentence saying why. Pure functions, no database.
//!
//! A history is one value per period (a day, a week), oldest first, periods without sales
//! included as 0: leaving them out makes a slow seller look like a fast one. Values that are
//! negative (returns) or not finite count as 0. Forecasts are never negative.
//!
//! Every method is a recursion that reads the history once, oldest first, and can forecast
//! from wherever it has got to; its parameters are fixed, not fitted to the history. So the
//! forecast from the first `t` periods is the state after `t` steps, and [`backtest`] scores
//! every origin in one pass over the history, which is what makes choosing per product cheap.
//!
//! The smoothing methods start gently: the `t`-th value a level (or demand size, interval or
//! probability) takes in moves it `max(alpha, 1/t)` of the way, so it is the plain running
//! mean until there are `1/alpha` values, then exponential. The first value does not weigh
//! for the next `1/alpha` periods the way the classic start (level = first value) makes it.

use std::fmt;

/// How a forecast is made. Every variant's forecast is flat (the same for every step ahead)
/// except Holt-Winters'. The parameters the chooser uses are the constants below
/// ([`CANDIDATES`], [`holt_winters`]); a smoothing weight outside 0..=1 is clamped into it,
/// one that is not finite counts as 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// The last period's value, repeated: the benchmark every other method must beat.
    Naive,
    /// Simple exponential smoothing: a level that moves `alpha` of the way to each new
    /// value; the forecast is the level.
    Ses { alpha: f64 },
    /// Croston's method for intermittent demand: the size of a sale and the number of
    /// periods between sales are smoothed separately (with `alpha`, at sales only); the
    /// forecast is size / interval.
    Croston { alpha: f64 },
    /// The Syntetos-Boylan approximation: Croston's forecast times `1 - alpha / 2`, which
    /// removes most of Croston's known over-forecast. On demand with a sale every period it
    /// still deflates by that factor: that is the method as published.
    Sba { alpha: f64 },
    /// Teunter-Syntetos-Babai: the probability of a sale in a period is smoothed every
    /// period (with `beta`), the size of a sale at sales (with `alpha`); the forecast is
    /// probability x size. Unlike Croston it decays when sales stop, so it suits a product
    /// going obsolete.
    Tsb { alpha: f64, beta: f64 },
    /// Holt-Winters with additive seasonality of `period` periods and a damped additive
    /// trend (`phi` < 1). Additive because demand has zero periods, which a multiplicative
    /// season cannot take; damped because an undamped trend, extrapolated 90 days, runs
    /// away on noise (Gardner and McKenzie). It needs two full seasons to start (level,
    /// trend and season are set from them); before that, or with a period below 2, it
    /// forecasts as SES with its `alpha`.
    HoltWinters {
        period: usize,
        alpha: f64,
        beta: f64,
        gamma: f64,
        phi: f64,
    },
}

/// The method used when there is too little history to compare methods on: SES with
/// `alpha` 0.1, which (see the module's note on starting) is the mean of what sold so far
/// until there are 10 periods, then a slowly moving average. The mean is the right
/// forecast under squared error when nothing more is known, intermittent or not.
pub const DEFAULT: Method = Method::Ses { alpha: 0.1 };

/// The methods the chooser compares, Holt-Winters aside: the naive benchmark; SES slow
/// (0.1) and fast (0.3), so a level shift can be followed; Croston, SBA and TSB for
/// intermittent demand, each with the weight 0.1 that studies of intermittent demand
/// (Syntetos and Boylan; Teunter et al.) find robust in the 0.05-0.2 range they recommend.
/// A fixed small set, not a fitted grid: fitting weights per product on short noisy
/// histories overfits, and every candidate costs one more pass per product.
///
/// The order breaks ties: the default first, the benchmark last.
pub const CANDIDATES: [Method; 6] = [
    DEFAULT,
    Method::Sba { alpha: 0.1 },
    Method::Tsb {
        alpha: 0.1,
        beta: 0.1,
    },
    Method::Croston { alpha: 0.1 },
    Method::Ses { alpha: 0.3 },
    Method::Naive,
];

/// Holt-Winters as the chooser uses it, for a season of `period` periods: level 0.2,
/// trend 0.05, season 0.1, damping 0.9. Fixed values in the range found robust for noisy
/// retail series; the trend is damped hard enough that its whole future contribution is
/// at most 9 periods' worth of the current slope.
pub fn holt_winters(period: usize) -> Method {
    Method::HoltWinters {
        period,
        alpha: 0.2,
        beta: 0.05,
        gamma: 0.1,
        phi: 0.9,
    }
}

impl Method {
    /// A stable upper-case code: `NAIVE`, `SES`, `CROSTON`, `SBA`, `TSB`, `HOLT_WINTERS`.
    pub fn code(&self) -> &'static str {
        match self {
            Method::Naive => "NAIVE",
            Method::Ses { .. } => "SES",
            Method::Croston { .. } => "CROSTON",
            Method::Sba { .. } => "SBA",
            Method::Tsb { .. } => "TSB",
            Method::HoltWinters { .. } => "HOLT_WINTERS",
        }
    }

    /// The periods of history Holt-Winters needs before it starts: two seasons. 0 for the
    /// other methods (and for a period below 2, which is no season).
    fn warm_up(&self) -> usize {
        match self {
            Method::HoltWinters { period, .. } if *period >= 2 => 2 * period,
            _ => 0,
        }
    }
}

/// Its name and parameters in words, e.g. `TSB (α 0.1, β 0.1)`.
impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Naive => write!(f, "the naive forecast (the last period repeated)"),
            Method::Ses { alpha } => write!(f, "SES (α {alpha})"),
            Method::Croston { alpha } => write!(f, "Croston (α {alpha})"),
            Method::Sba { alpha } => write!(f, "SBA (α {alpha})"),
            Method::Tsb { alpha, beta } => write!(f, "TSB (α {alpha}, β {beta})"),
            Method::HoltWinters {
                period,
                alpha,
                beta,
                gamma,
                phi,
            } => write!(
                f,
                "Holt-Winters (season {period}, α {alpha}, β {beta}, γ {gamma}, φ {phi})"
            ),
        }
    }
}

/// The point forecast for each of the `horizon` periods after the history, never negative.
/// An empty history forecasts 0.
pub fn forecast(method: Method, history: &[f64], horizon: usize) -> Vec<f64> {
    let mut run = Run::new(method);
    for &y in history {
        run.step(y);
    }
    (1..=horizon).map(|k| run.predict(k)).collect()
}

/// A method's record on a history, over rolling origins: from each origin `t` it forecast
/// `horizon` periods from the first `t` periods alone, and those were compared with what
/// sold. Errors are forecast minus actual.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backtest {
    /// Periods forecast from each origin.
    pub horizon: usize,
    /// Origins scored (see [`rmsse`] for the ones that cannot be).
    pub origins: usize,
    /// Root mean squared scaled error, averaged over the origins: below 1 beats, on
    /// average, the in-sample naive forecast one step ahead.
    pub rmsse: f64,
    /// Sum of errors over sum of what sold, as a fraction: positive is over-forecast, +0.1
    /// forecast 10 % too much. `None` when nothing sold in any test window.
    pub bias: Option<f64>,
    /// Mean absolute error per period, in units.
    pub mae: f64,
    /// Root mean squared error per period, in units.
    pub rmse: f64,
    /// Root mean square of each origin's window total error (the sum of its `horizon`
    /// errors), in units: how far off the total over the horizon was.
    pub total_rmse: f64,
}

/// The scale of a history's errors: the mean squared one-step naive difference (how much
/// it moves from one period to the next). A history that never moves (constant, or a
/// single period) has none; then its mean square, so that errors count relative to its
/// level. `None` for a history with nothing sold, where no relative error means anything.
fn scale(sum_squared_differences: f64, sum_squares: f64, len: usize) -> Option<f64> {
    if len >= 2 && sum_squared_differences > 0.0 {
        Some(sum_squared_differences / (len - 1) as f64)
    } else if sum_squares > 0.0 {
        Some(sum_squares / len as f64)
    } else {
        None
    }
}

/// The root mean squared scaled error of `forecast` against `actual` (compared pairwise,
/// up to the shorter), scaled by `history`, the periods before them: the square root of
/// the forecast's mean squared error over the in-sample mean squared one-step naive
/// difference (as in the M5 competition). When the history never moves the scale is its
/// mean square instead; `None` when nothing sold in it or there is nothing to compare.
pub fn rmsse(history: &[f64], actual: &[f64], forecast: &[f64]) -> Option<f64> {
    let (mut differences, mut squares) = (0.0, 0.0);
    for (i, &y) in history.iter().enumerate() {
        let y = clean(y);
        if i > 0 {
            differences += (y - clean(history[i - 1])).powi(2);
        }
        squares += y * y;
    }
    let scale = scale(differences, squares, history.len())?;
    let pairs = actual.len().min(forecast.len());
    let errors: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| (clean(*f) - clean(*a)).powi(2))
        .sum();
    (pairs > 0).then(|| (errors / pairs as f64 / scale).sqrt())
}

/// Backtests `method` on `history` from its last `origins` rolling origins, one period
/// apart, the last `horizon` periods before the end (so its window ends with the history).
/// Origins start at 1 (a forecast needs a period to go on); an origin whose history has
/// nothing sold is not scored. `None` when no origin is scored (or `horizon` or `origins`
/// is 0). The same as forecasting from each origin with [`forecast`] and scoring it with
/// [`rmsse`], in one pass.
pub fn backtest(
    method: Method,
    history: &[f64],
    horizon: usize,
    origins: usize,
) -> Option<Backtest> {
    let n = history.len();
    if horizon == 0 || origins == 0 || n <= horizon {
        return None;
    }
    let last = n - horizon;
    let first = (last + 1).saturating_sub(origins).max(1);
    let mut run = Run::new(method);
    let (mut differences, mut squares) = (0.0, 0.0);
    let mut scored = 0;
    let (mut rmsse_sum, mut error_sum, mut actual_sum) = (0.0, 0.0, 0.0);
    let (mut absolute_sum, mut squared_sum, mut total_squared_sum) = (0.0, 0.0, 0.0);
    for (t, &y) in history.iter().enumerate() {
        // `run` has read the first `t` periods: `t` is an origin
        if (first..=last).contains(&t)
            && let Some(scale) = scale(differences, squares, t)
        {
            let mut window_squared = 0.0;
            let mut window_error = 0.0;
            for (k, &actual) in history[t..t + horizon].iter().enumerate() {
                let actual = clean(actual);
                let error = run.predict(k + 1) - actual;
                window_squared += error * error;
                window_error += error;
                absolute_sum += error.abs();
                actual_sum += actual;
            }
            scored += 1;
            rmsse_sum += (window_squared / horizon as f64 / scale).sqrt();
            error_sum += window_error;
            squared_sum += window_squared;
            total_squared_sum += window_error * window_error;
        }
        let y = clean(y);
        if t > 0 {
            differences += (y - clean(history[t - 1])).powi(2);
        }
        squares += y * y;
        run.step(y);
    }
    if scored == 0 {
        return None;
    }
    let points = (scored * horizon) as f64;
    Some(Backtest {
        horizon,
        origins: scored,
        rmsse: rmsse_sum / scored as f64,
        bias: (actual_sum > 0.0).then(|| error_sum / actual_sum),
        mae: absolute_sum / points,
        rmse: (squared_sum / points).sqrt(),
        total_rmse: (total_squared_sum / scored as f64).sqrt(),
    })
}

/// The standard normal quantile of a two-sided 80 % interval.
pub const Z80: f64 = 1.2816;
/// The standard normal quantile of a two-sided 95 % interval.
pub const Z95: f64 = 1.96;

/// A range of units, `lower` never below 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// The 80 % and 95 % prediction intervals around one forecast.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Intervals {
    pub p80: Interval,
    pub p95: Interval,
}

impl Intervals {
    /// Normal intervals of standard deviation `sigma` around `point`, cut at 0 below.
    fn around(point: f64, sigma: f64) -> Self {
        let sigma = clean(sigma);
        let at = |z: f64| Interval {
            lower: (point - z * sigma).max(0.0),
            upper: point + z * sigma,
        };
        Intervals {
            p80: at(Z80),
            p95: at(Z95),
        }
    }
}

/// What a forecast rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// No history: the forecast is 0.
    NoHistory,
    /// Nothing sold in the history: the forecast is 0.
    NoSales,
    /// Too little history to compare methods on: [`DEFAULT`].
    TooShort,
    /// History enough, but nothing sold before any backtest origin (a product that only
    /// started selling lately): [`DEFAULT`].
    TooRecent,
    /// The method with the lowest backtest RMSSE of the candidates compared.
    Backtest,
}

/// A product's forecast, as [`choose`] makes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// The method that made it.
    pub method: Method,
    /// The point forecast per period ahead.
    pub points: Vec<f64>,
    /// Their sum: the forecast over the whole horizon.
    pub total: f64,
    /// The intervals per period ahead, beside `points`.
    pub intervals: Vec<Intervals>,
    /// The intervals of `total`.
    pub total_intervals: Intervals,
    /// The chosen method's backtest; `None` unless `basis` is [`Basis::Backtest`].
    pub backtest: Option<Backtest>,
    /// The naive forecast's backtest over the same origins, for comparison.
    pub naive: Option<Backtest>,
    /// How many methods were compared.
    pub compared: usize,
    pub basis: Basis,
    /// Periods of history.
    pub history_len: usize,
    /// The share of periods with nothing sold, 0 to 1 (0 for no history).
    pub zero_share: f64,
}

/// The history before the first backtest origin, at least: half of it and this.
pub const MIN_TRAIN: usize = 6;
/// Fewer origins than this are too few to choose on: [`DEFAULT`] instead.
pub const MIN_ORIGINS: usize = 3;
/// At most this many origins (the latest ones), which bounds the work per product.
pub const MAX_ORIGINS: usize = 60;
/// Demand is intermittent when the mean number of periods from one sale to the next
/// exceeds this (Syntetos, Boylan and Croston's cut-off), i.e. when more than about 24 %
/// of periods have no sale.
pub const INTERMITTENT_INTERVAL: f64 = 1.32;

/// Forecasts `horizon` periods after `history` with the method that forecast its own past
/// best, and says why.
///
/// The candidates are [`CANDIDATES`], plus [`holt_winters`] when `period` is given and the
/// history before the first origin holds two full seasons of it. Each is backtested over
/// rolling origins one period apart in the second half of the history (at least
/// [`MIN_TRAIN`] periods before the first, at most the latest [`MAX_ORIGINS`]), forecasting
/// `horizon` periods from each, or fewer when the history is too short for
/// [`MIN_ORIGINS`] origins of that many; the lowest mean RMSSE wins (ties: the earlier in
/// the list). A history too short for [`MIN_ORIGINS`] origins one period ahead gets
/// [`DEFAULT`]; one with nothing sold, 0.
///
/// Intervals are normal, from the chosen method's backtest errors: per period `±z x` its
/// RMSE (errors pooled over every origin and step ahead, so bias widens them too); for the
/// total `±z x` the larger of the RMS window-total error (scaled up in proportion when the
/// backtest horizon was shorter) and the per-period RMSE `x sqrt(horizon)`, which is what
/// independent errors would give: smoothing errors are correlated (a wrong level is wrong
/// every period), so the window totals are the better guide, but they are never taken
/// narrower than independence would make them. Without a backtest the per-period spread is the RMS one-step change
/// of the history (or the single period's value). Lower bounds are cut at 0.
pub fn choose(history: &[f64], horizon: usize, period: Option<usize>) -> Forecast {
    let n = history.len();
    let zeros = history.iter().filter(|y| clean(**y) == 0.0).count();
    let zero_share = if n == 0 { 0.0 } else { zeros as f64 / n as f64 };
    let mut chosen = Forecast {
        method: DEFAULT,
        points: vec![0.0; horizon],
        total: 0.0,
        intervals: vec![Intervals::default(); horizon],
        total_intervals: Intervals::default(),
        backtest: None,
        naive: None,
        compared: 0,
        basis: Basis::NoHistory,
        history_len: n,
        zero_share,
    };
    if n == 0 {
        return chosen;
    }
    if zeros == n {
        chosen.basis = Basis::NoSales;
        return chosen;
    }

    // origins in the second half, `tested` periods ahead from each
    let start = n.div_ceil(2).max(MIN_TRAIN);
    let tested = horizon.min((n + 1).saturating_sub(start + MIN_ORIGINS));
    let origins = (n.saturating_sub(tested) + 1)
        .saturating_sub(start)
        .min(MAX_ORIGINS);
    let mut best: Option<(Method, Backtest)> = None;
    if tested > 0 && origins >= MIN_ORIGINS {
        let first_origin = n - tested + 1 - origins;
        let seasonal = period
            .map(holt_winters)
            .filter(|hw| hw.warm_up() > 0 && first_origin >= hw.warm_up());
        for method in CANDIDATES.into_iter().chain(seasonal) {
            let Some(score) = backtest(method, history, tested, origins) else {
                continue;
            };
            chosen.compared += 1;
            if method == Method::Naive {
                chosen.naive = Some(score);
            }
            if best.is_none_or(|(_, b)| score.rmsse < b.rmsse) {
                best = Some((method, score));
            }
        }
    }

    let (sigma, total_sigma) = match best {
        Some((method, score)) => {
            chosen.method = method;
            chosen.backtest = Some(score);
            chosen.basis = Basis::Backtest;
            let stretch = horizon as f64 / score.horizon as f64;
            let independent = score.rmse * (horizon as f64).sqrt();
            (score.rmse, (score.total_rmse * stretch).max(independent))
        }
        None => {
            chosen.basis = if tested > 0 && origins >= MIN_ORIGINS {
                Basis::TooRecent
            } else {
                Basis::TooShort
            };
            let sigma = if n >= 2 {
                let squares: f64 = history
                    .windows(2)
                    .map(|w| (clean(w[1]) - clean(w[0])).powi(2))
                    .sum();
                (squares / (n - 1) as f64).sqrt()
            } else {
                clean(history[0])
            };
            (sigma, sigma * (horizon as f64).sqrt())
        }
    };
    chosen.points = forecast(chosen.method, history, horizon);
    chosen.total = chosen.points.iter().sum();
    chosen.intervals = chosen
        .points
        .iter()
        .map(|p| Intervals::around(*p, sigma))
        .collect();
    chosen.total_intervals = Intervals::around(chosen.total, total_sigma);
    chosen
}

impl Forecast {
    /// The standard deviation of the error of [`Forecast::total`] (what its 95 % interval
    /// is made of): what safety stock over the whole horizon covers.
    pub fn total_sigma(&self) -> f64 {
        (self.total_intervals.p95.upper - self.total).max(0.0) / Z95
    }

    /// The chosen method's backtest RMSSE, when it was chosen by backtest.
    pub fn rmsse(&self) -> Option<f64> {
        self.backtest.map(|b| b.rmsse)
    }

    /// The chosen method's backtest bias (positive: over-forecast), when there is one.
    pub fn bias(&self) -> Option<f64> {
        self.backtest.and_then(|b| b.bias)
    }

    /// Whether demand is intermittent: more than [`INTERMITTENT_INTERVAL`] periods from one
    /// sale to the next on average.
    pub fn intermittent(&self) -> bool {
        let sold = self.history_len as f64 * (1.0 - self.zero_share);
        sold > 0.0 && self.history_len as f64 / sold > INTERMITTENT_INTERVAL
    }

    /// One plain-English sentence saying why this forecast, its periods called `unit`
    /// (plural: "days", "weeks"). For example: "Demand is intermittent (no sale on 71 % of
    /// days); TSB (α 0.1, β 0.1) had the lowest backtest error of the 6 methods compared
    /// over 60 origins, 12 % below the naive forecast's."
    pub fn reason(&self, unit: &str) -> String {
        let n = self.history_len;
        match self.basis {
            Basis::NoHistory => "There is no sales history yet, so the forecast is 0.".into(),
            Basis::NoSales => {
                format!("Nothing sold in the {n} {unit} of history, so the forecast is 0.")
            }
            Basis::TooShort => format!(
                "With only {n} {unit} of history there is too little to compare methods on, \
                 so the forecast is the smoothed average of what sold, {}.",
                self.method
            ),
            Basis::TooRecent => format!(
                "Sales began too lately in the {n} {unit} of history to compare methods on, \
                 so the forecast is the smoothed average of the whole history, {}.",
                self.method
            ),
            Basis::Backtest => {
                let demand = if self.intermittent() {
                    format!(
                        "Demand is intermittent (no sale on {} % of {unit})",
                        percent(self.zero_share)
                    )
                } else {
                    format!(
                        "Demand is regular (a sale on {} % of {unit})",
                        percent(1.0 - self.zero_share)
                    )
                };
                let origins = self.backtest.map_or(0, |b| b.origins);
                let gain = self
                    .backtest
                    .zip(self.naive)
                    .filter(|(_, naive)| naive.rmsse > 0.0 && self.method != Method::Naive)
                    .map(|(own, naive)| percent(1.0 - own.rmsse / naive.rmsse));
                let versus = match gain {
                    None => String::new(),
                    Some(0) => ", level with the naive forecast's".into(),
                    Some(gain) => format!(", {gain} % below the naive forecast's"),
                };
                format!(
                    "{demand}; {} had the lowest backtest error of the {} methods compared \
                     over {origins} origins{versus}.",
                    self.method, self.compared
                )
            }
        }
    }
}

/// A fraction as a whole percentage, rounded.
fn percent(fraction: f64) -> i64 {
    (fraction * 100.0).round() as i64
}

/// `x` when it is a finite number above 0, else 0: a period's demand, or a forecast.
fn clean(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// A smoothing weight clamped into 0..=1; not finite: 0.
fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The weight the `count`-th value gets: `alpha`, but the plain running mean's `1/count`
/// while that is larger (see the module's note on starting).
fn weight(alpha: f64, count: usize) -> f64 {
    unit(alpha).max(1.0 / count.max(1) as f64)
}

/// A method part way through a history: what it has read and the state it forecasts from.
struct Run {
    method: Method,
    /// Periods read.
    seen: usize,
    /// Naive: the last period.
    last: f64,
    /// SES, and Holt-Winters (which runs as SES until it starts): the level.
    level: f64,
    /// Croston, SBA and TSB: the smoothed size of a sale, and the number of sales so far.
    size: f64,
    sales: usize,
    /// Croston and SBA: the smoothed periods between sales, and the periods since the last.
    interval: f64,
    since: usize,
    /// TSB: the smoothed probability of a sale in a period.
    probability: f64,
    /// Holt-Winters: the trend, and the season by position (`t % period`) once started;
    /// before that, the periods read so far.
    trend: f64,
    season: Vec<f64>,
    started: bool,
}

impl Run {
    fn new(method: Method) -> Self {
        Run {
            method,
            seen: 0,
            last: 0.0,
            level: 0.0,
            size: 0.0,
            sales: 0,
            interval: 0.0,
            since: 0,
            probability: 0.0,
            trend: 0.0,
            season: Vec::with_capacity(method.warm_up()),
            started: false,
        }
    }

    /// Reads the next period.
    fn step(&mut self, y: f64) {
        let y = clean(y);
        self.seen += 1;
        match self.method {
            Method::Naive => self.last = y,
            Method::Ses { alpha } => self.level += weight(alpha, self.seen) * (y - self.level),
            Method::Croston { alpha } | Method::Sba { alpha } => {
                self.since += 1;
                if y > 0.0 {
                    self.sales += 1;
                    let w = weight(alpha, self.sales);
                    self.size += w * (y - self.size);
                    self.interval += w * (self.since as f64 - self.interval);
                    self.since = 0;
                }
            }
            Method::Tsb { alpha, beta } => {
                let sold = if y > 0.0 { 1.0 } else { 0.0 };
                self.probability += weight(beta, self.seen) * (sold - self.probability);
                if y > 0.0 {
                    self.sales += 1;
                    self.size += weight(alpha, self.sales) * (y - self.size);
                }
            }
            Method::HoltWinters { period, alpha, .. } => {
                if self.started {
                    self.seasonal_step(y, self.seen - 1);
                    return;
                }
                self.level += weight(alpha, self.seen) * (y - self.level);
                let warm_up = self.method.warm_up();
                if warm_up > 0 {
                    self.season.push(y);
                    if self.season.len() == warm_up {
                        self.start(period);
                    }
                }
            }
        }
    }

    /// Holt-Winters' start from its first two seasons (in `season`): the trend from the
    /// change in mean between the two, the level at the end of the first from its mean (which
    /// sits mid-season) and the trend, the season from each position's mean deviation from
    /// that straight line; then the second season is read as usual.
    fn start(&mut self, period: usize) {
        let first = std::mem::take(&mut self.season);
        let m = period as f64;
        let mean_1 = first[..period].iter().sum::<f64>() / m;
        let mean_2 = first[period..].iter().sum::<f64>() / m;
        let trend = (mean_2 - mean_1) / m;
        let middle = (m - 1.0) / 2.0;
        self.trend = trend;
        self.level = mean_1 + trend * middle;
        self.season = (0..period)
            .map(|i| {
                let line = trend * (i as f64 - middle);
                ((first[i] - mean_1 - line) + (first[period + i] - mean_2 - line)) / 2.0
            })
            .collect();
        self.started = true;
        for (i, &y) in first.iter().enumerate().skip(period) {
            self.seasonal_step(y, i);
        }
    }

    /// Holt-Winters' update (damped additive trend, additive season) with period `t`.
    fn seasonal_step(&mut self, y: f64, t: usize) {
        let Method::HoltWinters {
            alpha,
            beta,
            gamma,
            phi,
            ..
        } = self.method
        else {
            return;
        };
        let (alpha, beta, gamma, phi) = (unit(alpha), unit(beta), unit(gamma), unit(phi));
        let position = t % self.season.len();
        let season = self.season[position];
        let previous = self.level;
        self.level = alpha * (y - season) + (1.0 - alpha) * (previous + phi * self.trend);
        self.trend = beta * (self.level - previous) + (1.0 - beta) * phi * self.trend;
        self.season[position] = gamma * (y - self.level) + (1.0 - gamma) * season;
    }

    /// The forecast `k` periods (1 or more) past what has been read, never negative.
    fn predict(&self, k: usize) -> f64 {
        let value = match self.method {
            Method::Naive => self.last,
            Method::Ses { .. } => self.level,
            Method::Croston { .. } | Method::Sba { .. } if self.sales == 0 => 0.0,
            Method::Croston { .. } => self.size / self.interval,
            Method::Sba { alpha } => (1.0 - unit(alpha) / 2.0) * self.size / self.interval,
            Method::Tsb { .. } => self.probability * self.size,
            Method::HoltWinters { phi, .. } if self.started => {
                let phi = unit(phi);
                // phi + phi^2 + ... + phi^k: the damped trend's steps
                let damping = if phi < 1.0 {
                    phi * (1.0 - phi.powf(k as f64)) / (1.0 - phi)
                } else {
                    k as f64
                };
                let position = (self.seen + k - 1) % self.season.len();
                self.level + damping * self.trend + self.season[position]
            }
            Method::HoltWinters { .. } => self.level,
        };
        clean(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    fn all_close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(*x, *y))
    }

    /// Every method the module has, Holt-Winters with a season of `period`.
    fn every_method(period: usize) -> Vec<Method> {
        CANDIDATES
            .into_iter()
            .chain([holt_winters(period)])
            .collect()
    }

    #[test]
    fn each_method_by_hand() {
        assert_eq!(forecast(Method::Naive, &[1.0, 2.0, 3.0], 2), [3.0, 3.0]);
        // 4, then half way to 8 = 6, then half way to 2 = 4
        assert_eq!(
            forecast(Method::Ses { alpha: 0.5 }, &[4.0, 8.0, 2.0], 1),
            [4.0]
        );
        // fewer than 1/alpha periods: the running mean
        assert!(close(forecast(DEFAULT, &[2.0, 4.0, 6.0], 1)[0], 4.0));

        // sales of 3 (interval 3) then 5 (interval 2): size 4, interval 2.5 at alpha 0.5
        let lumpy = [0.0, 0.0, 3.0, 0.0, 5.0];
        assert!(close(
            forecast(Method::Croston { alpha: 0.5 }, &lumpy, 1)[0],
            1.6
        ));
        assert!(close(
            forecast(Method::Sba { alpha: 0.5 }, &lumpy, 1)[0],
            1.6 * 0.75
        ));
        // probability 0, 0, 0.5, 0.25, 0.625; size 3 then 4
        let tsb = Method::Tsb {
            alpha: 0.5,
            beta: 0.5,
        };
        assert!(close(forecast(tsb, &lumpy, 3)[2], 2.5));

        // nothing read: 0, whatever the method
        for method in every_method(3) {
            assert_eq!(forecast(method, &[], 2), [0.0, 0.0], "{method}");
            assert_eq!(forecast(method, &[0.0; 9], 2), [0.0, 0.0], "{method}");
            assert!(forecast(method, &[1.0], 0).is_empty());
        }
        // returns and garbage count as no sale
        assert_eq!(forecast(Method::Naive, &[4.0, -2.0], 1), [0.0]);
        let garbage = [f64::NAN, 4.0, f64::INFINITY, -1.0];
        assert!(close(forecast(DEFAULT, &garbage, 1)[0], 1.0));
    }

    #[test]
    fn tsb_lets_go_of_a_product_that_stopped_selling_and_croston_does_not() {
        let mut history = vec![5.0; 40];
        history.extend([0.0; 30]);
        let croston = forecast(Method::Croston { alpha: 0.1 }, &history, 1)[0];
        let tsb = forecast(CANDIDATES[2], &history, 1)[0];
        // Croston updates only at sales: it still expects 5 a period
        assert!(close(croston, 5.0));
        // TSB's probability has decayed by 0.9^30
        assert!(close(tsb, 5.0 * 0.9f64.powi(30)), "{tsb}");
    }

    #[test]
    fn holt_winters_repeats_a_season_and_damps_a_trend() {
        let season = [1.0, 5.0, 3.0];
        let history: Vec<f64> = season.iter().copied().cycle().take(9).collect();
        let f = forecast(holt_winters(3), &history, 4);
        assert!(all_close(&f, &[1.0, 5.0, 3.0, 1.0]), "{f:?}");
        // short of two seasons it is SES (here the running mean)
        assert!(close(forecast(holt_winters(3), &history[..5], 1)[0], 3.0));
        // no season: SES
        let no_season = Method::HoltWinters {
            period: 1,
            alpha: 0.2,
            beta: 0.05,
            gamma: 0.1,
            phi: 0.9,
        };
        assert!(close(forecast(no_season, &history[..5], 1)[0], 3.0));

        // a straight line up (10 to 33): the forecast follows it up over the next season,
        // lagging, and the damped trend adds at most phi / (1 - phi) = 9 slopes however far
        let line: Vec<f64> = (0..24).map(|t| 10.0 + t as f64).collect();
        let f = forecast(holt_winters(4), &line, 4);
        assert!(f[0] > 30.0 && f[3] > f[0], "{f:?}");
        for (k, x) in f.iter().enumerate() {
            assert!(*x < 34.0 + k as f64, "{f:?}");
        }
        let far = forecast(holt_winters(4), &line, 1000)[999];
        assert!(far > f[3] && far < 33.0 + 9.0, "{far}");
    }

    #[test]
    fn rmsse_by_hand() {
        // scale: the one-step change of 1 -> 3 squared is 4; error 2
        assert_eq!(rmsse(&[1.0, 3.0], &[3.0], &[1.0]), Some(1.0));
        assert_eq!(
            rmsse(&[1.0, 3.0], &[3.0, 3.0], &[1.0, 3.0]),
            Some(0.5f64.sqrt())
        );
        // a history that never moves: scaled by its mean square, 4
        assert_eq!(rmsse(&[2.0, 2.0], &[4.0], &[2.0]), Some(1.0));
        assert_eq!(rmsse(&[2.0], &[2.0], &[2.0]), Some(0.0));
        // nothing sold before, or nothing to compare: no score
        assert_eq!(rmsse(&[0.0, 0.0], &[1.0], &[0.0]), None);
        assert_eq!(rmsse(&[], &[1.0], &[0.0]), None);
        assert_eq!(rmsse(&[1.0, 3.0], &[], &[]), None);
    }

    #[test]
    fn backtest_by_hand() {
        // from origins 2 and 3 the naive forecast is 1 short; the scale is 1 at both
        let b = backtest(Method::Naive, &[1.0, 2.0, 3.0, 4.0], 1, 2).unwrap();
        assert_eq!(
            b,
            Backtest {
                horizon: 1,
                origins: 2,
                rmsse: 1.0,
                bias: Some(-2.0 / 7.0),
                mae: 1.0,
                rmse: 1.0,
                total_rmse: 1.0,
            }
        );
        // as many origins as fit: 1, 2, 3 (at 1 the scale is the mean square, 1)
        let b = backtest(Method::Naive, &[1.0, 2.0, 3.0, 4.0], 1, 10).unwrap();
        assert_eq!((b.origins, b.rmsse, b.bias), (3, 1.0, Some(-3.0 / 9.0)));
        // two periods ahead from origin 2: errors -1 and -2, window total -3
        let b = backtest(Method::Naive, &[1.0, 2.0, 3.0, 4.0], 2, 1).unwrap();
        assert_eq!(b.origins, 1);
        assert!(close(b.rmsse, 2.5f64.sqrt()));
        assert!(close(b.total_rmse, 3.0) && close(b.mae, 1.5));
        // nothing sold in any test window: no bias
        let b = backtest(Method::Naive, &[1.0, 0.0, 0.0], 1, 1).unwrap();
        assert_eq!(b.bias, None);

        assert_eq!(backtest(Method::Naive, &[1.0, 2.0, 3.0], 0, 2), None);
        assert_eq!(backtest(Method::Naive, &[1.0, 2.0, 3.0], 1, 0), None);
        assert_eq!(backtest(Method::Naive, &[1.0, 2.0, 3.0], 3, 2), None);
        assert_eq!(backtest(Method::Naive, &[0.0; 8], 1, 4), None);
        // origins before the first sale are not scored
        let b = backtest(Method::Naive, &[0.0, 0.0, 0.0, 2.0, 2.0], 1, 4).unwrap();
        assert_eq!(b.origins, 1);
    }

    /// A deterministic stream of numbers in 0..1 (a linear congruential generator).
    fn noise(seed: u64) -> impl Iterator<Item = f64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    #[test]
    fn choose_finds_a_weekly_season_when_told_the_period() {
        let week = [10.0, 12.0, 11.0, 13.0, 20.0, 30.0, 5.0];
        let history: Vec<f64> = week
            .iter()
            .cycle()
            .zip(noise(7))
            .take(200)
            .map(|(y, e)| (y + 4.0 * (e - 0.5)).round())
            .collect();
        let seasonal = choose(&history, 14, Some(7));
        assert_eq!(seasonal.basis, Basis::Backtest);
        assert_eq!(seasonal.method, holt_winters(7));
        assert_eq!(seasonal.compared, 7);
        // it forecasts the pattern: the week's sixth day is the peak
        let peak = seasonal.points[(5 + 7 - 200 % 7) % 7];
        assert!(
            seasonal.points[..7].iter().all(|p| *p <= peak),
            "{:?}",
            seasonal.points
        );
        assert!((peak - 30.0).abs() < 3.0, "{peak}");
        let plain = choose(&history, 14, None);
        assert_eq!(plain.compared, 6);
        assert!(!matches!(plain.method, Method::HoltWinters { .. }));
        assert!(seasonal.rmsse().unwrap() < plain.rmsse().unwrap() / 2.0);
        let reason = seasonal.reason("days");
        assert!(
            reason.starts_with(
                "Demand is regular (a sale on 100 % of days); Holt-Winters (season 7,"
            ),
            "{reason}"
        );
        assert!(
            reason.contains("of the 7 methods compared over 60 origins, "),
            "{reason}"
        );
        assert!(
            reason.ends_with(" % below the naive forecast's."),
            "{reason}"
        );
        // a season needs two of them before the first origin: of 26 days, 13 come before it
        assert_eq!(choose(&history[..26], 7, Some(7)).compared, 6);
        assert_eq!(choose(&history[..30], 7, Some(7)).compared, 7);
    }

    #[test]
    fn choose_on_intermittent_demand() {
        // a sale on about a quarter of days, of 1 to 4 units
        let history: Vec<f64> = noise(11)
            .zip(noise(12))
            .take(365)
            .map(|(sale, size)| {
                if sale < 0.25 {
                    (1.0 + 4.0 * size).floor()
                } else {
                    0.0
                }
            })
            .collect();
        let f = choose(&history, 7, None);
        assert_eq!(f.basis, Basis::Backtest);
        assert!(f.intermittent());
        let b = f.backtest.unwrap();
        assert_eq!((b.origins, b.horizon), (60, 7));
        // the naive forecast is a poor one here, and it was beaten
        assert!(b.rmsse < f.naive.unwrap().rmsse * 0.9);
        assert_ne!(f.method, Method::Naive);
        let zero = percent(f.zero_share);
        let reason = f.reason("days");
        assert!(
            reason.starts_with(&format!(
                "Demand is intermittent (no sale on {zero} % of days); "
            )),
            "{reason}"
        );
        // about a quarter of a day's 2.5 units a day, a week ahead
        assert!(f.total > 7.0 * 0.25 * 2.5 * 0.5 && f.total < 7.0 * 0.25 * 2.5 * 1.5);
        assert!(close(f.total, f.points.iter().sum()));
        // the total's interval is at least as wide as independent days would make it
        let day = f.intervals[0].p95.upper - f.points[0];
        let week = f.total_intervals.p95.upper - f.total;
        assert!(week >= day * 7f64.sqrt() - 1e-9);
    }

    #[test]
    fn choose_without_enough_history() {
        let none = choose(&[], 3, Some(7));
        assert_eq!(
            (none.basis, none.points.clone()),
            (Basis::NoHistory, vec![0.0; 3])
        );
        assert_eq!(
            none.reason("days"),
            "There is no sales history yet, so the forecast is 0."
        );

        let quiet = choose(&[0.0; 30], 2, None);
        assert_eq!((quiet.basis, quiet.total), (Basis::NoSales, 0.0));
        assert_eq!(quiet.total_intervals, Intervals::default());
        assert_eq!(
            quiet.reason("weeks"),
            "Nothing sold in the 30 weeks of history, so the forecast is 0."
        );

        let short = choose(&[3.0, 0.0, 5.0], 2, None);
        assert_eq!(
            (short.basis, short.method, short.compared),
            (Basis::TooShort, DEFAULT, 0)
        );
        assert!(all_close(&short.points, &[8.0 / 3.0; 2]));
        // spread: the RMS one-step change, sqrt((9 + 25) / 2)
        let sigma = 17f64.sqrt();
        assert!(close(short.intervals[0].p95.upper, 8.0 / 3.0 + Z95 * sigma));
        assert_eq!(short.intervals[0].p95.lower, 0.0);
        assert!(close(
            short.total_intervals.p80.upper,
            16.0 / 3.0 + Z80 * sigma * 2f64.sqrt()
        ));
        assert!(
            short
                .reason("days")
                .starts_with("With only 3 days of history there is too little")
        );
        assert!(choose(&[3.0], 1, None).intervals[0].p80.upper > 3.0);

        // the first sale on the last day: no origin has a sale before it
        let mut new = vec![0.0; 40];
        new.push(6.0);
        let recent = choose(&new, 7, None);
        assert_eq!(
            (recent.basis, recent.method, recent.compared),
            (Basis::TooRecent, DEFAULT, 0)
        );
        assert!(close(recent.points[0], 6.0 * 0.1));
        assert!(
            recent
                .reason("days")
                .starts_with("Sales began too lately in the 41 days")
        );

        // the backtest horizon shrinks to fit: 20 periods, 90 ahead, 8 tested from 3 origins
        let history: Vec<f64> = (0..20).map(|t| (t % 3) as f64).collect();
        let f = choose(&history, 90, None);
        assert_eq!(f.basis, Basis::Backtest);
        let b = f.backtest.unwrap();
        assert_eq!((b.horizon, b.origins, f.points.len()), (8, 3, 90));
        assert!(choose(&history, 0, None).points.is_empty());
    }

    /// Histories of units, a good share of them zero.
    fn histories(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![2 => Just(0.0), 3 => 0.0f64..100.0, 1 => (0u8..20).prop_map(f64::from)],
            len,
        )
    }

    proptest! {
        #[test]
        fn forecasts_are_finite_and_not_negative(
            history in histories(0..80),
            horizon in 0usize..30,
            period in 2usize..9,
        ) {
            for method in every_method(period) {
                let f = forecast(method, &history, horizon);
                prop_assert_eq!(f.len(), horizon);
                prop_assert!(f.iter().all(|x| x.is_finite() && *x >= 0.0), "{} {:?}", method, f);
            }
            let chosen = choose(&history, horizon, Some(period));
            let mut every = chosen.points.iter().chain([&chosen.total]);
            prop_assert!(every.all(|x| x.is_finite() && *x >= 0.0));
        }

        #[test]
        fn a_constant_forecasts_the_constant(
            c in prop_oneof![Just(0.0), 0.001f64..1000.0],
            len in 1usize..60,
            horizon in 1usize..20,
            period in 2usize..6,
        ) {
            let history = vec![c; len];
            for method in every_method(period) {
                let want = match method {
                    // SBA deflates by design
                    Method::Sba { alpha } => c * (1.0 - alpha / 2.0),
                    _ => c,
                };
                let f = forecast(method, &history, horizon);
                prop_assert!(f.iter().all(|x| close(*x, want)), "{} {:?}", method, f);
            }
            let chosen = choose(&history, horizon, Some(period));
            prop_assert!(chosen.points.iter().all(|x| close(*x, c)), "{:?}", chosen);
        }

        #[test]
        fn intervals_hold_the_forecast_and_nest(
            history in histories(0..120),
            horizon in 1usize..20,
            period in prop::option::of(2usize..8),
        ) {
            let f = choose(&history, horizon, period);
            prop_assert_eq!(f.intervals.len(), horizon);
            let bands = f.points.iter().zip(&f.intervals).chain([(&f.total, &f.total_intervals)]);
            for (point, i) in bands {
                prop_assert!(0.0 <= i.p95.lower && i.p95.lower <= i.p80.lower);
                prop_assert!(i.p80.lower <= *point && *point <= i.p80.upper);
                prop_assert!(i.p80.upper <= i.p95.upper && i.p95.upper.is_finite());
            }
            let reason = f.reason("days");
            prop_assert!(reason.ends_with('.') && !reason.contains("NaN"), "{}", reason);
        }

        #[test]
        fn scaling_the_history_scales_the_forecast(
            history in histories(0..80),
            horizon in 1usize..15,
            k in 0.01f64..100.0,
            power in -4i32..10,
        ) {
            let scaled: Vec<f64> = history.iter().map(|y| y * k).collect();
            for method in every_method(4) {
                let want: Vec<f64> = forecast(method, &history, horizon).iter().map(|y| y * k).collect();
                let f = forecast(method, &scaled, horizon);
                prop_assert!(
                    f.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-9 * b.abs().max(k)),
                    "{} {:?} {:?}", method, f, want
                );
            }
            // by a power of 2 every step is exact, so the choice is the same and so is all else
            let two = 2f64.powi(power);
            let scaled: Vec<f64> = history.iter().map(|y| y * two).collect();
            let (a, b) = (choose(&history, horizon, Some(4)), choose(&scaled, horizon, Some(4)));
            prop_assert_eq!(a.method, b.method);
            prop_assert_eq!(a.rmsse(), b.rmsse());
            prop_assert_eq!(a.total * two, b.total);
            prop_assert_eq!(a.total_intervals.p95.upper * two, b.total_intervals.p95.upper);
            for (x, y) in a.points.iter().zip(&b.points) {
                prop_assert_eq!(x * two, *y);
            }
        }

        /// The one-pass backtest is what forecasting from each origin and scoring it gives.
        #[test]
        fn backtest_is_forecasting_from_each_origin(
            history in histories(0..40),
            horizon in 1usize..6,
            origins in 1usize..12,
            period in 2usize..5,
        ) {
            for method in every_method(period) {
                let n = history.len();
                let mut scores = vec![];
                if n > horizon {
                    let last = n - horizon;
                    for t in (last + 1).saturating_sub(origins).max(1)..=last {
                        let f = forecast(method, &history[..t], horizon);
                        scores.extend(rmsse(&history[..t], &history[t..t + horizon], &f));
                    }
                }
                let b = backtest(method, &history, horizon, origins);
                prop_assert_eq!(b.is_some(), !scores.is_empty());
                if let Some(b) = b {
                    prop_assert_eq!(b.origins, scores.len());
                    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                    prop_assert!(close(b.rmsse, mean), "{} {} {}", method, b.rmsse, mean);
                }
            }
        }

        #[test]
        fn any_input_is_taken_without_panic(
            history in prop::collection::vec(
                prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), -1e3f64..1e3],
                0..12,
            ),
            horizon in 0usize..10,
            period in prop::option::of(0usize..5),
            alpha in prop_oneof![Just(f64::NAN), -2.0f64..2.0],
        ) {
            let f = choose(&history, horizon, period);
            prop_assert!(f.points.iter().all(|x| x.is_finite() && *x >= 0.0));
            prop_assert!(f.reason("days").ends_with('.'));
            let odd = [
                Method::Ses { alpha },
                Method::Sba { alpha },
                Method::Croston { alpha },
                Method::Tsb { alpha, beta: alpha },
                Method::HoltWinters { period: period.unwrap_or(0), alpha, beta: alpha, gamma: alpha, phi: alpha },
            ];
            for method in odd {
                let f = forecast(method, &history, horizon);
                prop_assert!(f.iter().all(|x| x.is_finite() && *x >= 0.0), "{} {:?}", method, f);
                let _ = backtest(method, &history, horizon, 5);
            }
        }
    }
}
