//! The dashboard over GraphQL: `dashboard(period, granularity)` and a CSV export of any of
//! its series through the file store's signed link.

use crate::dashboard::{self, Granularity, Kind, Unit};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use ils_kernel::files::{Exported, Files};
use ils_kernel::scalars::Date;
use ils_kernel::{AppError, request_parts};

/// How a dashboard's series are bucketed.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "DashboardGranularity")]
pub enum GranularityValue {
    /// One point per day (UTC).
    Day,
    /// One point per ISO week, from Monday.
    Week,
    /// One point per calendar month.
    Month,
}

impl From<GranularityValue> for Granularity {
    fn from(g: GranularityValue) -> Self {
        match g {
            GranularityValue::Day => Granularity::Day,
            GranularityValue::Week => Granularity::Week,
            GranularityValue::Month => Granularity::Month,
        }
    }
}

impl From<Granularity> for GranularityValue {
    fn from(g: Granularity) -> Self {
        match g {
            Granularity::Day => GranularityValue::Day,
            Granularity::Week => GranularityValue::Week,
            Granularity::Month => GranularityValue::Month,
        }
    }
}

/// What a figure counts.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MetricUnit {
    /// A number of things (orders, jobs, units).
    Count,
    /// An average number of days.
    Days,
    /// A percentage, 0 to 100.
    Percent,
    /// An amount of money in the figure's `currency`, in major units (12.5 is 12.50).
    Money,
}

impl From<Unit> for MetricUnit {
    fn from(u: Unit) -> Self {
        match u {
            Unit::Count => MetricUnit::Count,
            Unit::Days => MetricUnit::Days,
            Unit::Percent => MetricUnit::Percent,
            Unit::Money => MetricUnit::Money,
        }
    }
}

/// Which dashboard a company gets, by its type.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DashboardKind {
    /// An eye-care practice's: orders, remakes, labs' turnaround, spend, stock.
    Practice,
    /// A lab's: jobs received, turnaround, on-time and remake rates, work in progress,
    /// customers, spend.
    Lab,
    /// A supplier's: purchase orders received, fill rate, lead time, best-selling items.
    Supplier,
}

/// The days a dashboard covers, both included (at most 731).
#[derive(InputObject)]
pub struct PeriodInput {
    /// The first day (UTC).
    pub from: Date,
    /// The last day (UTC).
    pub to: Date,
}

/// One point of a series.
#[derive(SimpleObject)]
pub struct DashboardPoint {
    /// The first day of the bucket.
    pub start: Date,
    /// The figure for the bucket; null where it is undefined (a rate or an average of
    /// nothing).
    pub value: Option<f64>,
}

/// One line of a chart: a figure per bucket and over the whole period.
#[derive(SimpleObject)]
pub struct DashboardSeries {
    /// What the series measures, stable for clients (`orders`, `remake_rate`,
    /// `turnaround_days`, `spend`…).
    pub key: String,
    /// What it measures, in words.
    pub label: String,
    /// What the values count.
    pub unit: MetricUnit,
    /// What the series is narrowed to: a status, a remake reason, a lab's or supplier's
    /// name; null when it covers everything.
    pub dimension: Option<String>,
    /// The trading partner the dimension names, when it names one. An ID rather than the
    /// company: a partner's company record is not yours to read (a `Company` ID, for
    /// linking to the partner's marketplace profile).
    pub company_id: Option<ID>,
    /// The currency of a money series.
    pub currency: Option<String>,
    /// One point per bucket of the period, in order, empty buckets included.
    pub points: Vec<DashboardPoint>,
    /// The figure over the whole period (a sum, or the rate or average of the period's
    /// sums); null where undefined.
    pub total: Option<f64>,
    /// How many contributions the period's figure is made of (orders, shipped jobs,
    /// purchase orders), to judge how much a rate says.
    pub contributions: i64,
}

/// A figure as it stands now, whatever the period.
#[derive(SimpleObject)]
pub struct DashboardFigure {
    /// Stable for clients (`work_in_progress`, `stock_value`, `low_stock`).
    pub key: String,
    /// What it measures, in words.
    pub label: String,
    /// What the value counts.
    pub unit: MetricUnit,
    /// What the figure is narrowed to (a status or production stage); null for none.
    pub dimension: Option<String>,
    /// The currency of a money figure.
    pub currency: Option<String>,
    /// The figure now.
    pub value: f64,
}

/// One entry of a ranking.
#[derive(SimpleObject)]
pub struct DashboardRankEntry {
    /// The product, catalog item or company, by name.
    pub label: String,
    /// The same as an ID rather than a name, for linking (a `Product`, `CatalogItem` or
    /// `Company` ID).
    pub id: Option<ID>,
    /// Its figure over the period, in the ranking's unit.
    pub value: f64,
}

/// The largest contributors to a figure over the period (at most 10).
#[derive(SimpleObject)]
pub struct DashboardRanking {
    /// Stable for clients (`top_sellers`, `top_customers`, `top_items`).
    pub key: String,
    /// What it ranks by, in words.
    pub label: String,
    /// What the entries' values count.
    pub unit: MetricUnit,
    /// Largest first.
    pub entries: Vec<DashboardRankEntry>,
}

/// Your company's dashboard over a period.
#[derive(SimpleObject)]
pub struct Dashboard {
    /// Which dashboard this is (by your company's type).
    pub kind: DashboardKind,
    /// The period's first day.
    pub from: Date,
    /// The period's last day.
    pub to: Date,
    /// How the series are bucketed.
    pub granularity: GranularityValue,
    /// Every series of the period, each with its points and period total.
    pub series: Vec<DashboardSeries>,
    /// Figures as they stand now: work in progress (labs), stock value and low stock
    /// (practices).
    pub now: Vec<DashboardFigure>,
    /// The period's best sellers (practices), customers (labs) or items (suppliers).
    pub rankings: Vec<DashboardRanking>,
}

fn series_of(s: dashboard::Series) -> DashboardSeries {
    DashboardSeries {
        key: s.key.into(),
        label: s.label.into(),
        unit: s.unit.into(),
        dimension: s.dimension,
        company_id: s
            .company
            .map(|c| ils_kernel::id::encode(ils_common::company::COMPANY, c)),
        currency: s.currency,
        points: s
            .points
            .into_iter()
            .map(|(start, value)| DashboardPoint {
                start: start.into(),
                value,
            })
            .collect(),
        total: s.total,
        contributions: s.contributions,
    }
}

impl From<dashboard::Dashboard> for Dashboard {
    fn from(d: dashboard::Dashboard) -> Self {
        Dashboard {
            kind: match d.kind {
                Kind::Practice => DashboardKind::Practice,
                Kind::Lab => DashboardKind::Lab,
                Kind::Supplier => DashboardKind::Supplier,
            },
            from: d.from.into(),
            to: d.to.into(),
            granularity: d.granularity.into(),
            series: d.series.into_iter().map(series_of).collect(),
            now: d
                .now
                .into_iter()
                .map(|f| DashboardFigure {
                    key: f.key.into(),
                    label: f.label.into(),
                    unit: f.unit.into(),
                    dimension: f.dimension,
                    currency: f.currency,
                    value: f.value,
                })
                .collect(),
            rankings: d
                .rankings
                .into_iter()
                .map(|r| DashboardRanking {
                    key: r.key.into(),
                    label: r.label.into(),
                    unit: r.unit.into(),
                    entries: r
                        .entries
                        .into_iter()
                        .map(|e| DashboardRankEntry {
                            label: e.label,
                            id: e.id,
                            value: e.value,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// Your company's dashboard over a period (company admins and managers): series ready
    /// to chart, figures as they stand now and rankings, all read from rollups kept as
    /// orders and purchase orders change.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days to cover, both included.")] period: PeriodInput,
        #[graphql(desc = "How to bucket the series: by week when left out.")] granularity: Option<
            GranularityValue,
        >,
    ) -> Result<Dashboard> {
        let (tenant, db) = request_parts(ctx)?;
        let granularity = granularity.unwrap_or(GranularityValue::Week);
        let d = dashboard::dashboard(db, tenant, period.from.0, period.to.0, granularity.into())
            .await?;
        Ok(d.into())
    }
}

/// What `exportDashboardSeries` takes.
#[derive(InputObject)]
pub struct ExportDashboardSeriesInput {
    /// The days to cover, both included.
    pub period: PeriodInput,
    /// How to bucket the series: by week when left out.
    pub granularity: Option<GranularityValue>,
    /// The series' `key` (`orders`, `spend`…): every series with that key is exported, one
    /// column per dimension.
    pub key: String,
}

/// A CSV file of dashboard series: a `start` column, then one column per series.
#[derive(SimpleObject)]
pub struct DashboardExport {
    /// The file's name (`orders-20260301-20260331.csv`).
    pub file_name: String,
    /// Rows written (one per bucket), the header not counted.
    pub rows: i64,
    /// A link to download it (good for 15 minutes, no login needed).
    pub download_url: String,
}

/// What `exportDashboardSeries` gives back.
#[derive(SimpleObject)]
pub struct ExportDashboardSeriesPayload {
    /// The file written, with its download link.
    pub dashboard_export: DashboardExport,
}

#[derive(Default)]
pub struct DashboardMutation;

#[Object]
impl DashboardMutation {
    /// Writes the series of your dashboard with one key as a CSV file and returns a link
    /// to download it (company admins and managers).
    async fn export_dashboard_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period, buckets and series to export.")]
        input: ExportDashboardSeriesInput,
    ) -> Result<ExportDashboardSeriesPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let d = dashboard::dashboard(
            db,
            tenant,
            input.period.from.0,
            input.period.to.0,
            input.granularity.unwrap_or(GranularityValue::Week).into(),
        )
        .await?;
        let me = tenant.company_id().unwrap_or_default();
        let Exported {
            file_name,
            rows,
            download_url,
            ..
        } = crate::export::series_csv(files, me, &d, &input.key).await?;
        Ok(ExportDashboardSeriesPayload {
            dashboard_export: DashboardExport {
                file_name,
                rows,
                download_url,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// Market insights and peer figures
// ---------------------------------------------------------------------------------------

/// Why a figure of a release is not published.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SuppressionReason {
    /// Fewer than 11 companies contribute to it.
    TooFewContributors,
    /// One company holds over 50 % of it, or two over 67 %.
    Dominated,
    /// Published, it would let a suppressed figure be worked out from a total.
    Complementary,
}

fn suppression(s: Option<&str>) -> Option<SuppressionReason> {
    match s? {
        "TOO_FEW_CONTRIBUTORS" => Some(SuppressionReason::TooFewContributors),
        "DOMINATED" => Some(SuppressionReason::Dominated),
        _ => Some(SuppressionReason::Complementary),
    }
}

/// One dimension of a published figure.
#[derive(SimpleObject)]
pub struct InsightDimension {
    /// `region`, `index`, `material`, `currency`, `brand` or `design`.
    pub name: String,
    /// Its value; null for a total over every value of the dimension.
    pub value: Option<String>,
}

/// One figure of a release.
#[derive(SimpleObject)]
pub struct InsightCell {
    /// `lens_price`, `frame_brand_units`, `lab_turnaround_days`, `lab_remake_rate` or
    /// `practice_orders`.
    pub measure: String,
    /// What it measures, in words.
    pub label: String,
    /// What the value counts.
    pub unit: MetricUnit,
    /// Where in the measure's table the figure sits.
    pub dimensions: Vec<InsightDimension>,
    /// The figure with its noise; null when suppressed.
    pub value: Option<f64>,
    /// The noise stays within ± this 95 % of the time; null when suppressed.
    pub margin: Option<f64>,
    /// Why the figure is not published; null when it is.
    pub suppressed: Option<SuppressionReason>,
}

/// Quartiles of one figure among the contributing companies of one type.
#[derive(SimpleObject)]
pub struct PeerDistribution {
    /// ECP, LAB or SUPPLIER.
    pub company_type: String,
    /// `remake_rate`, `orders`, `turnaround_days`, `on_time_rate` or `fill_rate`.
    pub key: String,
    /// The 25th, 50th and 75th percentiles (with noise); null when suppressed.
    pub quartiles: Option<Vec<f64>>,
    /// Why it is not published; null when it is.
    pub suppressed: Option<SuppressionReason>,
}

/// A monthly release of market insights (platform admins). Built once; asking again gives
/// the same numbers. No company is named in it.
#[derive(SimpleObject)]
pub struct InsightRelease {
    /// The first day of the month it covers.
    pub month: Date,
    /// The privacy budget the release spent.
    pub epsilon: f64,
    /// How many companies contributed.
    pub contributors: i32,
    /// When it was built.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Every figure, published or suppressed.
    pub cells: Vec<InsightCell>,
    /// The peer distributions companies compare themselves with.
    pub peers: Vec<PeerDistribution>,
}

impl From<crate::insights::Release> for InsightRelease {
    fn from(r: crate::insights::Release) -> Self {
        let measure = |key: &str| crate::insights::MEASURES.iter().find(|m| m.key == key);
        InsightRelease {
            month: r.month.into(),
            epsilon: r.epsilon,
            contributors: r.contributors,
            created_at: r.created_at,
            cells: r
                .body
                .cells
                .into_iter()
                .map(|c| InsightCell {
                    label: measure(&c.measure).map(|m| m.label).unwrap_or("").into(),
                    unit: measure(&c.measure)
                        .map(|m| m.unit)
                        .unwrap_or(Unit::Count)
                        .into(),
                    suppressed: suppression(c.suppressed.as_deref()),
                    measure: c.measure,
                    dimensions: c
                        .dims
                        .into_iter()
                        .map(|(name, value)| InsightDimension { name, value })
                        .collect(),
                    value: c.value,
                    margin: c.margin,
                })
                .collect(),
            peers: r
                .body
                .peers
                .into_iter()
                .map(|p| PeerDistribution {
                    suppressed: suppression(p.suppressed.as_deref()),
                    company_type: p.company_type,
                    key: p.key,
                    quartiles: p.quartiles.map(|q| q.to_vec()),
                })
                .collect(),
        }
    }
}

/// One of your company's figures beside its peers'.
#[derive(SimpleObject)]
pub struct PeerBenchmark {
    /// `remake_rate`, `orders` (practices); `turnaround_days`, `on_time_rate`,
    /// `remake_rate` (labs); `fill_rate` (suppliers).
    pub key: String,
    /// What it measures, in words.
    pub label: String,
    /// What the values count.
    pub unit: MetricUnit,
    /// Your company's own figure for the month; null when it had nothing to count.
    pub yours: Option<f64>,
    /// Your peers' 25th, 50th and 75th percentiles (with noise); null when suppressed.
    pub quartiles: Option<Vec<f64>>,
    /// Why the peers' figure is not published; null when it is.
    pub suppressed: Option<SuppressionReason>,
}

/// Where your company stands among its peers in a monthly release.
#[derive(SimpleObject)]
pub struct PeerBenchmarks {
    /// Whether your company contributes to market insights; one that does not sees no
    /// peer figures.
    pub contributing: bool,
    /// The release's month; null when there is none yet (or you do not contribute).
    pub month: Option<Date>,
    /// Your figures beside your peers', for your company's type.
    pub benchmarks: Vec<PeerBenchmark>,
}

/// Your company's analytics choices.
#[derive(SimpleObject)]
pub struct AnalyticsSettings {
    /// Whether your company's records count towards the platform's anonymised market
    /// insights (true unless an admin opted out). A company that does not contribute sees
    /// no peer figures.
    pub contribute_to_insights: bool,
}

#[derive(Default)]
pub struct InsightsQuery;

#[Object]
impl InsightsQuery {
    /// The market insights of a month, if released (platform admins).
    async fn market_insights(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Any day of the month.")] month: Date,
    ) -> Result<Option<InsightRelease>> {
        let (tenant, db) = request_parts(ctx)?;
        crate::insights::require_platform(db, tenant).await?;
        Ok(crate::insights::release(db, month.0).await?.map(Into::into))
    }

    /// Every release of market insights, newest first (platform admins).
    async fn insight_releases(&self, ctx: &Context<'_>) -> Result<Vec<InsightRelease>> {
        let (tenant, db) = request_parts(ctx)?;
        crate::insights::require_platform(db, tenant).await?;
        Ok(crate::insights::releases(db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Where your company stands among its peers (company admins and managers), in the
    /// release of a month, or the latest.
    async fn peer_benchmarks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Any day of the release's month; the latest release when left out.")]
        month: Option<Date>,
    ) -> Result<PeerBenchmarks> {
        let (tenant, db) = request_parts(ctx)?;
        let s = crate::insights::standing(db, tenant, month.map(|m| m.0)).await?;
        Ok(PeerBenchmarks {
            contributing: s.contributing,
            month: s.month.map(Into::into),
            benchmarks: s
                .benchmarks
                .into_iter()
                .map(|b| PeerBenchmark {
                    key: b.key.into(),
                    label: b.label.into(),
                    unit: b.unit.into(),
                    yours: b.yours,
                    quartiles: b.quartiles.map(|q| q.to_vec()),
                    suppressed: suppression(b.suppressed.as_deref()),
                })
                .collect(),
        })
    }

    /// Your company's analytics choices (any member).
    async fn analytics_settings(&self, ctx: &Context<'_>) -> Result<AnalyticsSettings> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(AnalyticsSettings {
            contribute_to_insights: crate::insights::contributes(db, tenant).await?,
        })
    }
}

/// What `publishInsightRelease` takes.
#[derive(InputObject)]
pub struct PublishInsightReleaseInput {
    /// Any day of the month to release; it must have ended.
    pub month: Date,
    /// The privacy budget to spend (1 when left out); ignored when the month is already
    /// released.
    pub epsilon: Option<f64>,
}

/// What `publishInsightRelease` gives back.
#[derive(SimpleObject)]
pub struct PublishInsightReleasePayload {
    /// The month's release: built now, or the one kept.
    pub release: InsightRelease,
}

/// What `updateAnalyticsSettings` takes.
#[derive(InputObject)]
pub struct UpdateAnalyticsSettingsInput {
    /// Whether your company's records count towards market insights from the next release.
    pub contribute_to_insights: bool,
}

/// What `updateAnalyticsSettings` gives back.
#[derive(SimpleObject)]
pub struct UpdateAnalyticsSettingsPayload {
    /// The settings now.
    pub analytics_settings: AnalyticsSettings,
}

#[derive(Default)]
pub struct InsightsMutation;

#[Object]
impl InsightsMutation {
    /// Builds a month's release of market insights, or gives back the one already built
    /// (platform admins). The monthly job releases each month on the 2nd by itself.
    async fn publish_insight_release(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The month to release.")] input: PublishInsightReleaseInput,
    ) -> Result<PublishInsightReleasePayload> {
        let (tenant, db) = request_parts(ctx)?;
        crate::insights::require_platform(db, tenant).await?;
        let epsilon = input.epsilon.unwrap_or(crate::insights::DEFAULT_EPSILON);
        let r = crate::insights::build(db, input.month.0, epsilon).await?;
        Ok(PublishInsightReleasePayload { release: r.into() })
    }

    /// Whether your company contributes to market insights (company admins).
    async fn update_analytics_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The choice.")] input: UpdateAnalyticsSettingsInput,
    ) -> Result<UpdateAnalyticsSettingsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let c = crate::insights::set_contributes(db, tenant, input.contribute_to_insights).await?;
        Ok(UpdateAnalyticsSettingsPayload {
            analytics_settings: AnalyticsSettings {
                contribute_to_insights: c,
            },
        })
    }
}
