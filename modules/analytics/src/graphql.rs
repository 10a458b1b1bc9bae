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
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
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
pub struct AnalyticsMutation;

#[Object]
impl AnalyticsMutation {
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
