//! The directory: each company's marketplace profile, and the lists of listed labs and
//! suppliers. A profile copies its company's name, type and status (other tenants cannot
//! read `companies`); it is refreshed when the profile is saved and by the handler of
//! tenancy's company events.

use crate::events::MarketplaceProfileUpdated;
use crate::search;
use crate::vocab::Specialty;
use chrono::Utc;
use ils_common::company::COMPANY;
use ils_common::company::{CompanyChange, CompanyStatus, CompanyType};
use ils_common::validate;
use ils_entity::{company, marketplace_profile as profile};
use ils_kernel::authz::{require_member, require_role};
use ils_kernel::jobs::{JobError, JobKind, JobRun, handler};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx, id};
use sea_orm::{ColumnTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

pub const SYNC: &str = "marketplace.sync_profile";

/// One change to a profile (a field absent from an update is no change); an empty text
/// clears the field.
pub enum ProfileEdit {
    /// Show the company in the directory (labs and suppliers only).
    Listed(bool),
    Description(String),
    City(String),
    Region(String),
    /// ISO 3166-1 alpha-2.
    Country(String),
    ServiceAreas(Vec<String>),
    Specialties(Vec<Specialty>),
    LogoUrl(String),
}

/// One condition of a directory search; a profile is listed when it meets them all.
pub enum DirectoryCriterion {
    /// Words to find in the name, description or specialties.
    Text(String),
    Specialty(Specialty),
    /// ISO 3166-1 alpha-2.
    Country(String),
    Region(String),
}

/// The specialties a profile lists (unknown codes are skipped).
pub fn specialties_of(p: &profile::Model) -> Vec<Specialty> {
    serde_json::from_str::<Vec<String>>(&p.specialties)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Specialty::parse(s))
        .collect()
}

/// The caller's company's profile (unlisted defaults until it saves one).
pub async fn mine(db: &Db, ctx: &TenantContext) -> AppResult<profile::Model> {
    let company = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let p = current(&tx, company).await?;
    tx.commit().await?;
    Ok(p)
}

/// The company's profile as stored, or the unlisted defaults built from its company row.
async fn current(tx: &Tx, company_id: Uuid) -> AppResult<profile::Model> {
    match tx.find::<profile::Entity>(company_id).await? {
        Some(p) => Ok(p),
        None => defaults(&tx.get::<company::Entity>(company_id).await?),
    }
}

/// What a profile copies of its company: its name, type and status.
fn copy_of(c: &company::Model) -> AppResult<(String, String, CompanyStatus)> {
    Ok((c.name.clone(), c.company_type.clone(), c.status))
}

/// An unlisted profile for a company that has not saved one.
fn defaults(c: &company::Model) -> AppResult<profile::Model> {
    let now = Utc::now();
    let (name, company_type, status) = copy_of(c)?;
    Ok(profile::Model {
        company_id: c.id,
        search_text: search::text_of([c.name.as_str()]),
        name,
        company_type,
        status,
        listed: false,
        description: None,
        city: None,
        region: None,
        country: None,
        service_areas: "[]".into(),
        specialties: "[]".into(),
        logo_url: None,
        created_at: now,
        updated_at: now,
    })
}

fn country(value: &str, field: &str) -> AppResult<Option<String>> {
    let c = value.trim().to_uppercase();
    if c.is_empty() {
        return Ok(None);
    }
    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(Some(c))
    } else {
        Err(AppError::bad_input(
            field,
            "must be an ISO 3166-1 alpha-2 code, e.g. GB",
        ))
    }
}

/// Saves the caller's company's profile with `edits` applied, in order (company admins).
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    edits: Vec<ProfileEdit>,
) -> AppResult<profile::Model> {
    let tx = db.tenant(ctx).await?;
    let company_id = require_role(&tx, ctx, Role::CompanyAdmin).await?;
    // The company row first, locked: an approval or rename waits for this save, so the
    // sync that follows it finds the profile (and never races a stale copy in).
    let c = tx
        .lock_for_update(
            tx.select::<company::Entity>()
                .filter(company::Column::Id.eq(company_id)),
        )
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    let stored = tx.find::<profile::Entity>(company_id).await?;
    let exists = stored.is_some();
    let mut p = match stored {
        Some(p) => p,
        None => defaults(&c)?,
    };
    // The copy of the company is refreshed on every save.
    let kind = CompanyType::parse(&c.company_type)
        .ok_or_else(|| AppError::internal("company without a known type"))?;
    (p.name, p.company_type, p.status) = copy_of(&c)?;
    for edit in edits {
        apply(&mut p, kind, edit)?;
    }
    p.search_text = search_text(&p);
    p.updated_at = Utc::now();
    let saved = if exists {
        tx.update(as_update(p)).await?
    } else {
        tx.insert(as_insert(p)).await?
    };
    tx.emit(
        &MarketplaceProfileUpdated {
            company_id: id::encode(COMPANY, company_id),
            listed: saved.listed,
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// One edit, checked, on the profile of a company of `kind`.
fn apply(p: &mut profile::Model, kind: CompanyType, edit: ProfileEdit) -> AppResult<()> {
    match edit {
        ProfileEdit::Listed(listed) => {
            if listed && kind == CompanyType::Ecp {
                return Err(AppError::bad_input(
                    "input.listed",
                    "practices are not listed in the directory; labs and suppliers are",
                ));
            }
            p.listed = listed;
        }
        ProfileEdit::Description(d) => {
            p.description = validate::optional_text(Some(&d), "input.description", 2000)?;
        }
        ProfileEdit::City(v) => {
            p.city = validate::optional_text(Some(&v), "input.city", 100)?;
        }
        ProfileEdit::Region(v) => {
            p.region = validate::optional_text(Some(&v), "input.region", 100)?;
        }
        ProfileEdit::Country(v) => {
            p.country = country(&v, "input.country")?;
        }
        ProfileEdit::ServiceAreas(areas) => {
            if areas.len() > 50 {
                return Err(AppError::bad_input(
                    "input.serviceAreas",
                    "at most 50 areas",
                ));
            }
            let mut clean = Vec::new();
            for (i, a) in areas.iter().enumerate() {
                let field = format!("input.serviceAreas.{i}");
                if let Some(a) = validate::optional_text(Some(a), &field, 100)?
                    && !clean.contains(&a)
                {
                    clean.push(a);
                }
            }
            p.service_areas = serde_json::to_string(&clean).unwrap_or_else(|_| "[]".into());
        }
        ProfileEdit::Specialties(list) => {
            let mut clean: Vec<&str> = Vec::new();
            for (i, s) in list.iter().enumerate() {
                if !s.fits(kind) {
                    return Err(AppError::bad_input(
                        &format!("input.specialties.{i}"),
                        format!(
                            "{} is not a specialty a {} lists",
                            s.as_str(),
                            kind.as_str()
                        ),
                    ));
                }
                if !clean.contains(&s.as_str()) {
                    clean.push(s.as_str());
                }
            }
            p.specialties = serde_json::to_string(&clean).unwrap_or_else(|_| "[]".into());
        }
        ProfileEdit::LogoUrl(url) => {
            p.logo_url = validate::website(Some(&url), "input.logoUrl")?;
        }
    }
    Ok(())
}

/// Every column of a profile built in memory, to insert.
fn as_insert(p: profile::Model) -> profile::ActiveModel {
    use sea_orm::{ActiveModelTrait, Iterable};
    let mut m = p.into_active_model();
    for col in profile::Column::iter() {
        m.reset(col);
    }
    m
}

/// Every column but the key (which names the row) and the creation time, to update.
fn as_update(p: profile::Model) -> profile::ActiveModel {
    use sea_orm::{ActiveModelTrait, Iterable};
    let mut m = p.into_active_model();
    for col in profile::Column::iter() {
        if !matches!(col, profile::Column::CompanyId | profile::Column::CreatedAt) {
            m.reset(col);
        }
    }
    m
}

fn search_text(p: &profile::Model) -> String {
    let mut parts = vec![p.name.as_str(), p.description.as_deref().unwrap_or("")];
    parts.extend(specialties_of(p).iter().map(|s| s.as_str()));
    search::text_of(parts)
}

/// One page of the listed, active companies of `kind` that meet every criterion.
pub async fn directory<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    kind: CompanyType,
    criteria: Vec<DirectoryCriterion>,
    page: PageArgs,
    map: impl Fn(profile::Model) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    use profile::Column as C;
    let mut select = tx
        .select::<profile::Entity>()
        .filter(C::CompanyType.eq(kind.as_str()))
        .filter(C::Listed.eq(true))
        .filter(C::Status.eq(CompanyStatus::Active));
    for criterion in criteria {
        match criterion {
            DirectoryCriterion::Text(text) => {
                if let Some(cond) = search::condition(db.backend(), &text) {
                    select = select.filter(cond);
                }
            }
            DirectoryCriterion::Specialty(s) => {
                select = select.filter(C::Specialties.contains(format!("\"{}\"", s.as_str())));
            }
            DirectoryCriterion::Country(c) => {
                if let Some(c) = country(&c, "filter.country")? {
                    select = select.filter(C::Country.eq(c));
                }
            }
            DirectoryCriterion::Region(r) => {
                let r = r.trim();
                if !r.is_empty() {
                    select = select.filter(search::equals_any_case(C::Region, r));
                }
            }
        }
    }
    let conn = paginate(tx.conn(), select, C::CompanyId, page, |p| p.company_id, map).await?;
    tx.commit().await?;
    Ok(conn)
}

/// The profiles of the companies among `ids` the caller may see, for `node`/`nodes`.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<profile::Model>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(tx
        .select::<profile::Entity>()
        .filter(profile::Column::CompanyId.is_in(ids))
        .all(tx.conn())
        .await?)
}

/// Refreshes a profile's copy of its company (name, type, status) after tenancy reports a
/// change: approval, rejection, a new name.
pub fn sync_kind() -> JobKind {
    JobKind::new(SYNC, handler(sync_from_event)).on_events(&[
        "company.updated",
        "company.approved",
        "company.rejected",
    ])
}

async fn sync_from_event(run: JobRun) -> Result<(), JobError> {
    let event = run.event()?;
    let Some(change) = CompanyChange::of(&event) else {
        return Err(JobError::permanent(
            "not a company event this release can read",
        ));
    };
    let company_id = id::decode(COMPANY, &change.company_id, "companyId")
        .map_err(|_| JobError::permanent("event without a company id"))?;
    // The company the event concerns is in its audience: it reads and writes its own copy.
    let ctx = event.act_for_audience(company_id)?;
    refresh(&run.db, &ctx, company_id)
        .await
        .map_err(JobError::from)
}

/// Copies the company's current name, type and status into its profile (if it has one)
/// and its name into its side of its connections. Only the copied columns are written, on
/// the locked profile row, so a profile edit made meanwhile is never overwritten.
pub async fn refresh(db: &Db, ctx: &TenantContext, company_id: Uuid) -> AppResult<()> {
    use ils_entity::trade_connection as conn;
    use sea_orm::sea_query::Expr;
    let tx = db.tenant(ctx).await?;
    let c = tx.get::<company::Entity>(company_id).await?;
    let found = tx
        .lock_for_update(
            tx.select::<profile::Entity>()
                .filter(profile::Column::CompanyId.eq(company_id)),
        )
        .one(tx.conn())
        .await?;
    if let Some(p) = found {
        let mut next = p.clone();
        (next.name, next.company_type, next.status) = copy_of(&c)?;
        next.search_text = search_text(&next);
        if next != p {
            use profile::Column as P;
            tx.update_many::<profile::Entity>(
                vec![
                    (P::Name, Expr::value(next.name)),
                    (P::CompanyType, Expr::value(next.company_type)),
                    (P::Status, Expr::value(next.status)),
                    (P::SearchText, Expr::value(next.search_text)),
                    (P::UpdatedAt, Expr::value(Utc::now())),
                ],
                P::CompanyId.eq(company_id),
            )
            .await?;
        }
    }
    for (mine, name) in [
        (
            conn::Column::RequesterCompanyId,
            conn::Column::RequesterName,
        ),
        (
            conn::Column::ResponderCompanyId,
            conn::Column::ResponderName,
        ),
    ] {
        tx.update_many::<conn::Entity>(
            vec![(name, Expr::value(c.name.clone()))],
            sea_orm::Condition::all()
                .add(mine.eq(company_id))
                .add(name.ne(c.name.clone())),
        )
        .await?;
    }
    tx.commit().await
}
