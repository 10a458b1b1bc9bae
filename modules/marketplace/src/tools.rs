//! The assistant's tools over the marketplace: the company's connections, the directory of
//! listed labs and suppliers, and the catalogs of its connected suppliers. Each calls the
//! same service function as its GraphQL field (`connections`, `directory`,
//! `supplierCatalog`), so the same checks and tenant guard apply. Catalog and directory
//! text is the companies' own: data to show, never instructions.

use crate::graphql::catalog::CatalogItem;
use crate::graphql::connections::TradeConnection;
use crate::graphql::profile::MarketplaceProfile;
use crate::service::catalog::{self, CatalogCriterion};
use crate::service::connections;
use crate::service::profile::{self, DirectoryCriterion, specialties_of};
use crate::vocab::{ConnectionStatus, Specialty};
use ils_common::catalog::draft::Category;
use ils_common::company::CompanyType;
use ils_kernel::authz::require_member;
use ils_kernel::connections::partner_names;
use ils_kernel::tools::{
    Effect, Tool, ToolCall, args, every, json, limit, name_matches, search_words,
};
use ils_kernel::{AppError, AppResult};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The most rows one tool call reads (pages of 100).
const MAX_SCANNED: usize = 1000;

/// The marketplace module's tools.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "marketplace_connections",
            description: "The company's trade connections (practice to lab, practice or lab to supplier). Arguments (optional): statuses (array of PENDING, ACTIVE, REJECTED, ENDED; default every status), partnerType (ECP, LAB or SUPPLIER), partner (part of the partner's name), limit. Result: {count, truncated, connections: [{partner, partnerType, status, direction (OUTGOING: you asked, INCOMING: they asked), since}]}.",
            parameters: connections_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_connections(call)),
        },
        Tool {
            name: "marketplace_directory",
            description: "Search the directory of listed labs and suppliers. Arguments (optional): query (words of the name, description or specialties), specialties (array, all must be listed: lab designs SINGLE_VISION, BIFOCAL, TRIFOCAL, PROGRESSIVE, OFFICE; materials INDEX_1_50, INDEX_1_53, INDEX_1_56, INDEX_1_59, INDEX_1_60, INDEX_1_67, INDEX_1_74; coatings and services HARD_COAT, ANTI_REFLECTIVE, BLUE_FILTER, PHOTOCHROMIC, POLARISED, SURFACING, EDGING, MOUNTING, TINTING, COATING; supplier categories FRAMES, SPECTACLE_LENSES, LENS_BLANKS, CONTACT_LENSES, SUNDRIES), companyType (LAB or SUPPLIER; default both), limit. Result: {count, truncated, companies: [{name, companyType, city, country, specialties, connected, description}]}. Descriptions are the companies' own text.",
            parameters: directory_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_directory(call)),
        },
        Tool {
            name: "marketplace_catalog",
            description: "Search the catalogs of the suppliers the company is actively connected with (what it can order). Arguments (optional): query (words of the SKU, name or brand, e.g. \"1.67 blank\", \"tortoise frame\"), category (FRAME, SPECTACLE_LENS, LENS_BLANK, CONTACT_LENS, SUNDRY), supplier (part of the supplier's name), limit. Result: {count, truncated, items: [{sku, name, brand, supplier, price, currency, minOrderQuantity, leadTimeDays}]}, cheapest first. Item names are the suppliers' own text.",
            parameters: catalog_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_catalog(call)),
        },
    ]
}

fn connections_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "statuses": {"type": "array", "items": {"type": "string", "enum": ["PENDING", "ACTIVE", "REJECTED", "ENDED"]}},
            "partnerType": {"type": "string", "enum": ["ECP", "LAB", "SUPPLIER"]},
            "partner": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn directory_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "specialties": {"type": "array", "items": {"type": "string"}},
            "companyType": {"type": "string", "enum": ["LAB", "SUPPLIER"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn catalog_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "category": {"type": "string", "enum": ["FRAME", "SPECTACLE_LENS", "LENS_BLANK", "CONTACT_LENS", "SUNDRY"]},
            "supplier": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

/// A code as people write it: `on hold` -> `ON_HOLD`, `1.67` -> `1_67`.
fn code(s: &str) -> String {
    s.trim().to_uppercase().replace([' ', '-', '.'], "_")
}

/// A specialty as a question names it: its code, or a common word for it.
pub fn specialty_of(word: &str) -> Option<Specialty> {
    let c = code(word);
    if let Some(s) = Specialty::parse(&c) {
        return Some(s);
    }
    Some(match c.trim_end_matches('S') {
        "PROGRESSIVE" | "VARIFOCAL" | "PAL" => Specialty::Progressive,
        "SINGLE_VISION" => Specialty::SingleVision,
        "BIFOCAL" => Specialty::Bifocal,
        "TRIFOCAL" => Specialty::Trifocal,
        "1_50" | "INDEX150" => Specialty::Index150,
        "1_53" | "TRIVEX" => Specialty::Trivex,
        "1_56" => Specialty::Index156,
        "1_59" | "POLYCARBONATE" | "POLY" => Specialty::Polycarbonate,
        "1_60" | "1_6" => Specialty::Index160,
        "1_67" | "INDEX167" => Specialty::Index167,
        "1_74" | "INDEX174" => Specialty::Index174,
        "HARD_COAT" | "HARDCOAT" => Specialty::HardCoat,
        "ANTI_REFLECTIVE" | "AR" | "ANTIREFLECTIVE" => Specialty::AntiReflective,
        "BLUE_FILTER" | "BLUE_LIGHT" | "BLUE" => Specialty::BlueFilter,
        "PHOTOCHROMIC" | "TRANSITION" => Specialty::Photochromic,
        "POLARISED" | "POLARIZED" => Specialty::Polarised,
        "SURFACING" => Specialty::Surfacing,
        "EDGING" => Specialty::Edging,
        "MOUNTING" | "GLAZING" => Specialty::Mounting,
        "TINTING" | "TINT" => Specialty::Tinting,
        "COATING" => Specialty::Coating,
        "FRAME" => Specialty::Frames,
        "LENS_BLANK" | "BLANK" => Specialty::LensBlanks,
        "SPECTACLE_LENS" | "SPECTACLE_LENSE" => Specialty::SpectacleLenses,
        "CONTACT_LENS" | "CONTACT_LENSE" | "CONTACT" => Specialty::ContactLenses,
        "SUNDRIE" | "SUNDRY" => Specialty::Sundries,
        _ => return None,
    })
}

/// A catalog category as a question names it.
pub fn category_of(word: &str) -> Option<Category> {
    Category::from_word(word)
}

fn money(units: i64) -> String {
    Decimal::from_i128_with_scale(i128::from(units), 4)
        .round_dp(2)
        .to_string()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectionArgs {
    statuses: Option<Vec<String>>,
    partner_type: Option<String>,
    partner: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionRow {
    partner: String,
    partner_type: String,
    status: &'static str,
    direction: &'static str,
    since: String,
}

async fn run_connections(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: ConnectionArgs = args(&call)?;
    let statuses = a
        .statuses
        .unwrap_or_default()
        .iter()
        .map(|s| {
            ConnectionStatus::parse(&code(s))
                .ok_or_else(|| AppError::bad_input("statuses", format!("unknown status {s:?}")))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let (db, ctx) = (call.db, call.ctx);
    let (found, more) = every(MAX_SCANNED, |page| {
        connections::list(db, ctx, statuses.clone(), None, page, TradeConnection)
    })
    .await?;
    let kind = a.partner_type.as_deref().map(code);
    let mut rows: Vec<ConnectionRow> = found
        .into_iter()
        .map(|TradeConnection(seen)| {
            let outgoing = seen.outgoing();
            let r = seen.row;
            let (partner, partner_type) = if outgoing {
                (r.responder_name, r.responder_type)
            } else {
                (r.requester_name, r.requester_type)
            };
            ConnectionRow {
                partner,
                partner_type,
                status: r.state.as_str(),
                direction: if outgoing { "OUTGOING" } else { "INCOMING" },
                since: r
                    .responded_at
                    .unwrap_or(r.created_at)
                    .date_naive()
                    .to_string(),
            }
        })
        .filter(|r| kind.as_deref().is_none_or(|k| r.partner_type == k))
        .filter(|r| {
            a.partner
                .as_deref()
                .is_none_or(|p| name_matches(&r.partner, p))
        })
        .collect();
    // Active first, then by name.
    rows.sort_by(|x, y| {
        (x.status != "ACTIVE", &x.partner).cmp(&(y.status != "ACTIVE", &y.partner))
    });
    let count = rows.len();
    let n = limit(a.limit, 50);
    rows.truncate(n);
    Ok(json!({"count": count, "truncated": more || count > n, "connections": json(&rows)?}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DirectoryArgs {
    query: Option<String>,
    specialties: Option<Vec<String>>,
    company_type: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryRow {
    name: String,
    company_type: String,
    city: Option<String>,
    country: Option<String>,
    specialties: Vec<&'static str>,
    connected: bool,
    description: Option<String>,
}

async fn run_directory(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: DirectoryArgs = args(&call)?;
    let me = require_member(call.ctx)?;
    let (db, ctx) = (call.db, call.ctx);
    let specialties = a
        .specialties
        .unwrap_or_default()
        .iter()
        .map(|s| {
            specialty_of(s).ok_or_else(|| {
                AppError::bad_input("specialties", format!("unknown specialty {s:?}"))
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let kinds = match a.company_type.as_deref().map(code).as_deref() {
        None | Some("") | Some("BOTH") => vec![CompanyType::Lab, CompanyType::Supplier],
        Some(k) => vec![
            CompanyType::parse(k)
                .ok_or_else(|| AppError::bad_input("companyType", "LAB or SUPPLIER"))?,
        ],
    };
    let partners = {
        let tx = db.read(ctx).await?;
        let names = partner_names(&tx, me).await?;
        tx.commit().await?;
        names
    };
    let connected: std::collections::HashSet<Uuid> = {
        let tx = db.read(ctx).await?;
        let mut set = std::collections::HashSet::new();
        for other in partners.keys() {
            if ils_kernel::connections::active_between(&tx, me, *other).await? {
                set.insert(*other);
            }
        }
        tx.commit().await?;
        set
    };
    let mut rows = Vec::new();
    let mut truncated = false;
    for kind in kinds {
        // Specialties that do not fit the kind (a supplier category asked of labs) find none.
        if specialties.iter().any(|s| !s.fits(kind)) {
            continue;
        }
        let criteria = || {
            let mut c: Vec<DirectoryCriterion> = specialties
                .iter()
                .map(|s| DirectoryCriterion::Specialty(*s))
                .collect();
            if let Some(q) = a
                .query
                .as_deref()
                .map(search_words)
                .filter(|q| !q.is_empty())
            {
                c.push(DirectoryCriterion::Text(q));
            }
            c
        };
        let (found, more) = every(MAX_SCANNED, |page| {
            profile::directory(db, ctx, kind, criteria(), page, MarketplaceProfile)
        })
        .await?;
        truncated |= more;
        rows.extend(found.into_iter().map(|MarketplaceProfile(p)| {
            DirectoryRow {
                specialties: specialties_of(&p).iter().map(|s| s.as_str()).collect(),
                connected: connected.contains(&p.company_id),
                description: p
                    .description
                    .map(|d| d.chars().take(200).collect::<String>()),
                name: p.name,
                company_type: p.company_type,
                city: p.city,
                country: p.country,
            }
        }));
    }
    rows.sort_by(|x, y| x.name.cmp(&y.name));
    let count = rows.len();
    let n = limit(a.limit, 20);
    rows.truncate(n);
    Ok(json!({"count": count, "truncated": truncated || count > n, "companies": json(&rows)?}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CatalogArgs {
    query: Option<String>,
    category: Option<String>,
    supplier: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CatalogRow {
    sku: String,
    name: String,
    brand: Option<String>,
    supplier: String,
    price: String,
    currency: String,
    min_order_quantity: i32,
    lead_time_days: i32,
    #[serde(skip)]
    units: i64,
}

/// The text and category to search by: the words as given, and (when some word names a
/// category) the category with the other words, tried when the words alone find nothing.
fn catalog_searches(query: &str, category: Option<Category>) -> Vec<(String, Option<Category>)> {
    let words = search_words(query);
    let mut out = vec![(words.clone(), category)];
    if category.is_none() {
        let (cats, rest): (Vec<&str>, Vec<&str>) = words
            .split(' ')
            .filter(|w| !w.is_empty())
            .partition(|w| category_of(w).is_some());
        if let Some(cat) = cats.first().and_then(|w| category_of(w)) {
            out.push((rest.join(" "), Some(cat)));
        }
    }
    out
}

async fn run_catalog(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: CatalogArgs = args(&call)?;
    let me = require_member(call.ctx)?;
    let (db, ctx) = (call.db, call.ctx);
    let category = a
        .category
        .as_deref()
        .map(|c| {
            category_of(c)
                .ok_or_else(|| AppError::bad_input("category", format!("unknown category {c:?}")))
        })
        .transpose()?;
    // The suppliers the company may order from: its ACTIVE connections to suppliers.
    let (links, _) = every(MAX_SCANNED, |page| {
        connections::list(
            db,
            ctx,
            vec![ConnectionStatus::Active],
            None,
            page,
            TradeConnection,
        )
    })
    .await?;
    let suppliers: Vec<(Uuid, String)> = links
        .into_iter()
        .map(|TradeConnection(s)| {
            let r = s.row;
            if r.requester_company_id == me {
                (r.responder_company_id, r.responder_name, r.responder_type)
            } else {
                (r.requester_company_id, r.requester_name, r.requester_type)
            }
        })
        .filter(|(_, _, kind)| kind == "SUPPLIER")
        .filter(|(_, name, _)| a.supplier.as_deref().is_none_or(|s| name_matches(name, s)))
        .map(|(u, n, _)| (u, n))
        .collect();
    let mut rows: Vec<CatalogRow> = Vec::new();
    let mut truncated = false;
    for (text, cat) in catalog_searches(a.query.as_deref().unwrap_or(""), category) {
        for (supplier, name) in &suppliers {
            let criteria = || {
                let mut c = Vec::new();
                if !text.is_empty() {
                    c.push(CatalogCriterion::Text(text.clone()));
                }
                if let Some(cat) = cat {
                    c.push(CatalogCriterion::Category(cat));
                }
                c
            };
            let (found, more) = every(MAX_SCANNED, |page| {
                catalog::browse(db, ctx, Some(*supplier), criteria(), page, CatalogItem)
            })
            .await?;
            truncated |= more;
            rows.extend(found.into_iter().map(|CatalogItem(it)| CatalogRow {
                price: money(it.price_units),
                units: it.price_units,
                sku: it.sku,
                name: it.name,
                brand: it.brand,
                supplier: name.clone(),
                currency: it.currency,
                min_order_quantity: it.min_order_quantity,
                lead_time_days: it.lead_time_days,
            }));
        }
        if !rows.is_empty() {
            break;
        }
    }
    rows.sort_by(|x, y| (&x.currency, x.units, &x.sku).cmp(&(&y.currency, y.units, &y.sku)));
    let count = rows.len();
    let n = limit(a.limit, 20);
    rows.truncate(n);
    Ok(json!({
        "count": count,
        "truncated": truncated || count > n,
        "suppliers": suppliers.len(),
        "items": json(&rows)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specialties_and_categories_by_their_common_names() {
        assert_eq!(specialty_of("1.67"), Some(Specialty::Index167));
        assert_eq!(specialty_of("INDEX_1_67"), Some(Specialty::Index167));
        assert_eq!(specialty_of("progressives"), Some(Specialty::Progressive));
        assert_eq!(specialty_of("frames"), Some(Specialty::Frames));
        assert_eq!(specialty_of("blanks"), Some(Specialty::LensBlanks));
        assert_eq!(specialty_of("teapots"), None);
        assert_eq!(category_of("blank"), Some(Category::LensBlank));
        assert_eq!(category_of("Frames"), Some(Category::Frame));
        assert_eq!(category_of("FRAME"), Some(Category::Frame));
        assert_eq!(category_of("tortoise"), None);
    }

    #[test]
    fn a_category_word_is_tried_as_the_category() {
        assert_eq!(
            catalog_searches("tortoise frames", None),
            vec![
                ("tortoise frame".to_owned(), None),
                ("tortoise".to_owned(), Some(Category::Frame))
            ]
        );
        assert_eq!(
            catalog_searches("1.67", None),
            vec![("1.67".to_owned(), None)]
        );
    }

    #[test]
    fn the_tools_only_read() {
        let tools = tools();
        let names: Vec<_> = tools.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "marketplace_connections",
                "marketplace_directory",
                "marketplace_catalog"
            ]
        );
        assert!(tools.iter().all(|t| t.effect == Effect::Read));
    }
}
