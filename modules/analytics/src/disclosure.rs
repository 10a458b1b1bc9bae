//! Disclosure control: the one place that decides whether a market figure may be
//! published, and what it is published as. Every insight cell is a sum over contributing
//! companies (a count, units, a value); an average is published as two such cells.
//!
//! - **Primary suppression** ([`primary`]): a cell needs at least
//!   [`Rules::min_contributors`] companies (11), its largest contributor at most
//!   [`Rules::max_top1_share`] of its total (50 %) and its two largest at most
//!   [`Rules::max_top2_share`] (67 %).
//! - **Complementary suppression** ([`protect`]): a table is published with its row and
//!   column totals, so a suppressed cell alone in its row or column could be recovered as
//!   the total less the cells shown. Until no published total has exactly one suppressed
//!   cell under it, the smallest shown cell beside a lone suppressed one is suppressed too
//!   (or, when there is none, the total itself).
//! - **Clipping and noise** ([`Noise`]): each company's contribution to a cell is clipped
//!   to `[0, clip]`, so one company moves a cell's sum by at most `clip`, and each published
//!   figure carries Laplace noise of scale `clip / ε_cell`. `ε_cell` is the release's ε
//!   divided by the most cells one company contributes to (sequential composition), so a
//!   whole release costs each company at most ε. The noise is drawn from a keyed hash of
//!   the release's secret, the release and the cell: asking again gives the same figure,
//!   and nobody without the secret can predict or remove it.
//!
//! It never sees company names or IDs: contributions come tagged with opaque numbers, so
//! that a total sums each company's contributions before it is checked (a company in
//! eleven cells of a row is one contributor of the row's total, not eleven). The caller
//! spends the noise budget on every figure a company feeds, totals included
//! (`insights`). What it does not do: complementary suppression checks the one-line
//! attack (a total less the cells shown), not a full audit of the table's equations;
//! several totals combined (two rows less two columns around a block of hidden cells) can
//! isolate a sum of hidden cells in some patterns. Every figure carries noise, so such a
//! combination gives an estimate no better than the noise of the figures it combines,
//! never the exact value. It also counts suppressed cells, not their companies: a total
//! less its shown cells gives the (noisy) sum of two or more hidden cells, whose
//! companies together may be fewer than 11; and an empty cell counts as suppressed, which
//! matters where a reader can tell it is empty. The releases' tables of sums have one row
//! and never show an empty cell; a two-dimensional one would need both closed first.

use sha2::{Digest, Sha256};

/// The thresholds every published cell meets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// The fewest contributing companies a cell may have.
    pub min_contributors: usize,
    /// The largest share of a cell's total one company may hold.
    pub max_top1_share: f64,
    /// The largest share the two largest companies may hold together.
    pub max_top2_share: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_contributors: 11,
            max_top1_share: 0.50,
            max_top2_share: 0.67,
        }
    }
}

/// Why a cell (or a total) is not published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppression {
    /// Fewer contributing companies than the rules ask.
    TooFewContributors,
    /// One company, or two, hold too much of the total.
    Dominated,
    /// Published, it would let a suppressed cell be worked out from a total.
    Complementary,
}

/// Primary suppression of one cell from its contributions, one per company (each already
/// summed over the company's rows and clipped): `None` when it may be published.
/// Negative and non-finite contributions count as 0, and a company contributing 0 is not
/// a contributor.
pub fn primary(contributions: &[f64], rules: &Rules) -> Option<Suppression> {
    // A company that added nothing does not make a cell safer.
    let contributing = contributions
        .iter()
        .filter(|v| non_negative(**v) > 0.0)
        .count();
    if contributing < rules.min_contributors {
        return Some(Suppression::TooFewContributors);
    }
    let mut values: Vec<f64> = contributions.iter().map(|v| non_negative(*v)).collect();
    values.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = values.iter().sum();
    let top1 = values.first().copied().unwrap_or(0.0);
    let top2 = top1 + values.get(1).copied().unwrap_or(0.0);
    // At a limit is within it: float noise of a part in a billion is forgiven.
    let over = |part: f64, share: f64| part > (share + 1e-9) * total;
    if over(top1, rules.max_top1_share) || over(top2, rules.max_top2_share) {
        return Some(Suppression::Dominated);
    }
    None
}

/// A table to publish: per cell its contributions, each tagged with an opaque number
/// standing for its company (never a name or an ID); rows and columns are published with
/// totals over all their companies, where a company's contributions are summed first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// `cells[row][column]`: `(company number, contribution)` of the companies in that
    /// cell (empty: no company). Every row has the same number of columns.
    pub cells: Vec<Vec<Vec<(u32, f64)>>>,
}

impl Table {
    /// A table whose every contribution is a different company's.
    pub fn distinct(cells: Vec<Vec<Vec<f64>>>) -> Table {
        let mut n = 0u32;
        Table {
            cells: cells
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|cell| {
                            cell.into_iter()
                                .map(|v| {
                                    n += 1;
                                    (n, v)
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// One contribution per company: each company's contributions summed.
fn per_company<'a>(entries: impl Iterator<Item = &'a (u32, f64)>) -> Vec<f64> {
    let mut sums: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    for (company, v) in entries {
        *sums.entry(*company).or_default() += non_negative(*v);
    }
    sums.into_values().collect()
}

/// What may be published of a [`Table`]: each cell, row total and column total, or why
/// not. Figures are the true sums; [`Noise`] is added after.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub cells: Vec<Vec<Result<f64, Suppression>>>,
    pub row_totals: Vec<Result<f64, Suppression>>,
    pub column_totals: Vec<Result<f64, Suppression>>,
}

/// A sum of contributions, clipped values as given.
fn sum(values: &[f64]) -> f64 {
    values.iter().map(|v| non_negative(*v)).sum()
}

/// Primary and complementary suppression of a table. Cells, row totals and column totals
/// are each checked with [`primary`] over one contribution per company: a company in two
/// cells of a row counts once in the row's total, with both contributions summed, so it
/// neither makes the total look safer nor hides its share of it.
pub fn protect(table: &Table, rules: &Rules) -> Published {
    let rows = table.cells.len();
    let columns = table.cells.first().map_or(0, Vec::len);
    let cell = |r: usize, c: usize| table.cells[r].get(c).map_or(&[][..], Vec::as_slice);
    let checked = |values: Vec<f64>| match primary(&values, rules) {
        None => Ok(sum(&values)),
        Some(why) => Err(why),
    };
    let mut cells: Vec<Vec<Result<f64, Suppression>>> = (0..rows)
        .map(|r| {
            (0..columns)
                .map(|c| checked(per_company(cell(r, c).iter())))
                .collect()
        })
        .collect();
    let mut row_totals: Vec<Result<f64, Suppression>> = (0..rows)
        .map(|r| checked(per_company((0..columns).flat_map(|c| cell(r, c).iter()))))
        .collect();
    let mut column_totals: Vec<Result<f64, Suppression>> = (0..columns)
        .map(|c| checked(per_company((0..rows).flat_map(|r| cell(r, c).iter()))))
        .collect();
    // A published total with exactly one suppressed cell under it gives that cell away:
    // suppress the smallest shown cell beside it (or the total, when none is shown), and
    // repeat until no total does. Each step suppresses something, so this ends.
    loop {
        let mut changed = false;
        for (r, total) in row_totals.iter_mut().enumerate() {
            changed |= complement(total, (0..columns).map(|c| (r, c)).collect(), &mut cells);
        }
        for (c, total) in column_totals.iter_mut().enumerate() {
            changed |= complement(total, (0..rows).map(|r| (r, c)).collect(), &mut cells);
        }
        if !changed {
            break;
        }
    }
    Published {
        cells,
        row_totals,
        column_totals,
    }
}

/// One step of complementary suppression along one line (a row or a column) of cells
/// under `total`; whether it suppressed anything.
fn complement(
    total: &mut Result<f64, Suppression>,
    line: Vec<(usize, usize)>,
    cells: &mut [Vec<Result<f64, Suppression>>],
) -> bool {
    if total.is_err() {
        return false;
    }
    let suppressed = line.iter().filter(|(r, c)| cells[*r][*c].is_err()).count();
    if suppressed != 1 {
        return false;
    }
    let smallest = line
        .iter()
        .filter_map(|(r, c)| cells[*r][*c].as_ref().ok().map(|v| (*v, *r, *c)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    match smallest {
        Some((_, r, c)) => cells[r][c] = Err(Suppression::Complementary),
        None => *total = Err(Suppression::Complementary),
    }
    true
}

/// Laplace noise for a release: each company's contribution clipped to `[0, clip]`, and
/// each figure moved by a Laplace draw of scale `clip / epsilon_per_cell`, keyed by the
/// release's secret, so that the same release and cell always get the same draw.
#[derive(Clone, Debug)]
pub struct Noise {
    /// The privacy budget of the whole release (recorded with it).
    pub epsilon: f64,
    /// The most one company may add to one cell.
    pub clip: f64,
    /// The most cells one company contributes to in the release (at least 1).
    pub cells_per_company: usize,
    /// The release's secret: never published.
    pub secret: [u8; 32],
}

impl Noise {
    /// The budget each cell spends: the release's, split over the cells one company can
    /// touch.
    pub fn epsilon_per_cell(&self) -> f64 {
        self.epsilon / self.cells_per_company.max(1) as f64
    }

    /// The scale of each cell's Laplace noise: `clip / epsilon_per_cell`.
    pub fn scale(&self) -> f64 {
        self.clip / self.epsilon_per_cell()
    }

    /// A company's contribution as the release counts it.
    pub fn clipped(&self, value: f64) -> f64 {
        non_negative(value).min(self.clip)
    }

    /// The published figure of `cell` (a stable name within the release, such as
    /// "lens_price_sum/north/1.67") whose true (clipped) sum is `value`.
    pub fn publish(&self, release: &str, cell: &str, value: f64) -> f64 {
        value + laplace(self.scale(), uniform(&self.secret, release, cell))
    }
}

/// A number in (-0.5, 0.5) from a keyed hash of the release and the cell.
fn uniform(secret: &[u8; 32], release: &str, cell: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(secret);
    h.update((release.len() as u64).to_le_bytes());
    h.update(release.as_bytes());
    h.update(cell.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    // 52 random bits, then the middle of their interval: exact in an f64, so never
    // -0.5 or 0.5 (where the Laplace draw would be infinite).
    let bits = u64::from_le_bytes(bytes) >> 12;
    (bits as f64 + 0.5) / (1u64 << 52) as f64 - 0.5
}

/// The Laplace distribution's inverse CDF at `u` in (-0.5, 0.5), scale `b`.
fn laplace(b: f64, u: f64) -> f64 {
    -b * u.signum() * (1.0 - 2.0 * u.abs()).ln()
}

/// `x` when it is a finite number above 0, else 0.
fn non_negative(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn even(n: usize) -> Vec<f64> {
        vec![10.0; n]
    }

    #[test]
    fn a_cell_of_ten_companies_is_suppressed_and_of_eleven_published() {
        let rules = Rules::default();
        assert_eq!(
            primary(&even(10), &rules),
            Some(Suppression::TooFewContributors)
        );
        assert_eq!(primary(&even(11), &rules), None);
        assert_eq!(primary(&[], &rules), Some(Suppression::TooFewContributors));
    }

    #[test]
    fn one_dominant_company_or_two_suppress_the_cell() {
        let rules = Rules::default();
        // 11 companies, one holding 60 of 110: over half.
        let mut one = vec![5.0; 10];
        one.push(60.0);
        assert_eq!(primary(&one, &rules), Some(Suppression::Dominated));
        // Two holding 35 + 35 of 100 (70 %), neither over half.
        let mut two = vec![3.0; 10];
        two.extend([35.0, 35.0]);
        assert_eq!(primary(&two, &rules), Some(Suppression::Dominated));
        // Exactly at the limits is published: 50 of 100, and 50 + 17 = 67 of 100.
        let mut at = vec![3.3; 10];
        at.extend([50.0, 17.0]);
        let total: f64 = at.iter().sum();
        let scaled: Vec<f64> = at.iter().map(|v| v * 100.0 / total).collect();
        assert_eq!(primary(&scaled, &rules), None, "{scaled:?}");
        // Companies that added nothing are not contributors: 10 and two zeros are too few.
        let mut zeros = even(10);
        zeros.extend([0.0, 0.0]);
        assert_eq!(
            primary(&zeros, &rules),
            Some(Suppression::TooFewContributors)
        );
    }

    /// A 2 x 3 table: one cell has 10 companies; the rest 12 each.
    fn table_with_one_small_cell() -> Table {
        Table::distinct(vec![
            vec![even(12), vec![7.0; 10], even(12)],
            vec![even(12), vec![9.0; 12], even(12)],
        ])
    }

    #[test]
    fn a_suppressed_cell_cannot_be_worked_out_from_its_totals() {
        let published = protect(&table_with_one_small_cell(), &Rules::default());
        assert_eq!(published.cells[0][1], Err(Suppression::TooFewContributors));
        // Its row and its column each hide a second cell: the smallest shown ones.
        let hidden_in_row: Vec<usize> =
            (0..3).filter(|c| published.cells[0][*c].is_err()).collect();
        assert_eq!(hidden_in_row.len(), 2, "{published:?}");
        let hidden_in_column = (0..2).filter(|r| published.cells[*r][1].is_err()).count();
        assert_eq!(hidden_in_column, 2, "{published:?}");
        // The attacker's best: a total less the cells shown is a sum of two unknowns.
        let row_total = published.row_totals[0].unwrap();
        let shown: f64 = published.cells[0].iter().filter_map(|c| c.ok()).sum();
        let two_hidden = row_total - shown;
        assert_eq!(
            two_hidden,
            70.0 + 120.0,
            "the small cell and its complement together"
        );
        assert_invariant(&published);
    }

    #[test]
    fn a_company_in_many_cells_is_one_contributor_of_their_total() {
        // One company in each of eleven cells of a row: every cell is suppressed (one
        // contributor), and the row's total, one company's total, must be too.
        let table = Table {
            cells: vec![(0..11).map(|_| vec![(7, 5.0)]).collect()],
        };
        let published = protect(&table, &Rules::default());
        assert_eq!(
            published.row_totals[0],
            Err(Suppression::TooFewContributors)
        );
        // Eleven companies, one of which is in two cells with 60 % of the total between
        // them: dominated, though no single contribution is over half.
        let mut row: Vec<Vec<(u32, f64)>> = (1..=10).map(|n| vec![(n, 4.0)]).collect();
        row[0].push((99, 30.0));
        row[1].push((99, 30.0));
        let published = protect(&Table { cells: vec![row] }, &Rules::default());
        assert_eq!(published.row_totals[0], Err(Suppression::Dominated));
    }

    #[test]
    fn a_lone_cell_under_a_total_takes_the_total_with_it() {
        // One column: the row total is the cell itself.
        let table = Table::distinct(vec![vec![vec![5.0; 10]], vec![even(12)]]);
        let published = protect(&table, &Rules::default());
        assert_eq!(published.cells[0][0], Err(Suppression::TooFewContributors));
        // Its row total is primary-suppressed too (10 companies); the column total (22
        // companies) would give it away with the other cell shown, so the other cell goes.
        assert_eq!(
            published.row_totals[0],
            Err(Suppression::TooFewContributors)
        );
        assert_eq!(published.cells[1][0], Err(Suppression::Complementary));
        // Now the second row's total is its only (hidden) cell: the total goes too.
        assert_eq!(published.row_totals[1], Err(Suppression::Complementary));
        assert_invariant(&published);
    }

    /// No published total has exactly one suppressed cell under it.
    fn assert_invariant(p: &Published) {
        for (r, total) in p.row_totals.iter().enumerate() {
            if total.is_ok() {
                let hidden = p.cells[r].iter().filter(|c| c.is_err()).count();
                assert_ne!(hidden, 1, "row {r}: {p:?}");
            }
        }
        for (c, total) in p.column_totals.iter().enumerate() {
            if total.is_ok() {
                let hidden = p.cells.iter().filter(|row| row[c].is_err()).count();
                assert_ne!(hidden, 1, "column {c}: {p:?}");
            }
        }
    }

    #[test]
    fn noise_is_the_same_for_the_same_release_and_cell_and_unpredictable_otherwise() {
        let noise = Noise {
            epsilon: 1.0,
            clip: 100.0,
            cells_per_company: 1,
            secret: [7; 32],
        };
        let a = noise.publish("2026-11", "frames/north", 5_000.0);
        assert_eq!(a, noise.publish("2026-11", "frames/north", 5_000.0));
        assert_ne!(a, noise.publish("2026-12", "frames/north", 5_000.0));
        assert_ne!(a, noise.publish("2026-11", "frames/south", 5_000.0));
        let other = Noise {
            secret: [8; 32],
            ..noise.clone()
        };
        assert_ne!(a, other.publish("2026-11", "frames/north", 5_000.0));
        assert_eq!(noise.clipped(250.0), 100.0);
        assert_eq!(noise.clipped(-3.0), 0.0);
        assert_eq!(noise.clipped(f64::NAN), 0.0);
        // Five cells per company: each spends a fifth of ε, so the noise is five times wider.
        let split = Noise {
            cells_per_company: 5,
            ..noise.clone()
        };
        assert_eq!(split.epsilon_per_cell(), 0.2);
        assert_eq!(split.scale(), 500.0);
    }

    /// Differencing across releases: a company arrives between two monthly releases, and
    /// an attacker takes the difference of a published cell as its value. With ε = 1 per
    /// release, one cell per company and its contribution clipped to `clip`, each figure's
    /// noise is Laplace of scale b = clip, so the difference is off by the difference of
    /// two such draws: on average 1.5 b, and within b / 10 of the truth with probability
    /// 5.0 % only. The bound checked, over 4,000 pairs of releases: the mean error is
    /// within 10 % of 1.5 b, and at most 7 % of the estimates come within b / 10.
    #[test]
    fn comparing_two_releases_around_one_companys_arrival_tells_no_more_than_the_noise() {
        let clip = 100.0;
        let noise = Noise {
            epsilon: 1.0,
            clip,
            cells_per_company: 1,
            secret: [42; 32],
        };
        let others: Vec<f64> = (0..20).map(|i| 40.0 + i as f64).collect();
        let newcomer = noise.clipped(180.0); // its true value, clipped to 100
        let before_sum: f64 = others.iter().map(|v| noise.clipped(*v)).sum();
        let after_sum = before_sum + newcomer;
        let rules = Rules::default();
        assert_eq!(primary(&others, &rules), None);
        let trials = 4_000;
        let (mut total_error, mut close) = (0.0, 0);
        for t in 0..trials {
            let before = noise.publish(&format!("{t}-a"), "cell", before_sum);
            let after = noise.publish(&format!("{t}-b"), "cell", after_sum);
            let error = ((after - before) - newcomer).abs();
            total_error += error;
            if error < clip / 10.0 {
                close += 1;
            }
        }
        let mean = total_error / trials as f64;
        assert!(
            (1.35 * clip..=1.65 * clip).contains(&mean),
            "mean error {mean}, expected about {}",
            1.5 * clip
        );
        let share = close as f64 / trials as f64;
        assert!(
            share <= 0.07,
            "{share} of estimates within a tenth of the clip"
        );
    }

    proptest! {
        /// Whatever the table, no published cell breaks the rules, and no published total
        /// has a lone suppressed cell under it.
        #[test]
        fn every_published_cell_meets_the_rules_and_no_total_gives_one_away(
            shape in (1usize..5, 1usize..5),
            seed in prop::collection::vec((0usize..16, 0.0f64..100.0, 0.0f64..1.0), 25),
        ) {
            let (rows, columns) = shape;
            let table = Table::distinct((0..rows)
                    .map(|r| {
                        (0..columns)
                            .map(|c| {
                                let (n, v, skew) = seed[(r * columns + c) % seed.len()];
                                let mut values = vec![v; n];
                                if let Some(first) = values.first_mut() {
                                    *first += skew * 50.0 * v;
                                }
                                values
                            })
                            .collect()
                    })
                    .collect());
            let rules = Rules::default();
            let published = protect(&table, &rules);
            for r in 0..rows {
                for c in 0..columns {
                    if published.cells[r][c].is_ok() {
                        let values: Vec<f64> = table.cells[r][c].iter().map(|(_, v)| *v).collect();
                        prop_assert_eq!(primary(&values, &rules), None);
                    }
                }
            }
            assert_invariant(&published);
        }
    }
}
