//! Demo data for a fresh development database, and the platform-admin command.
#![allow(clippy::disallowed_methods)] // seeding acts for the platform, across tenants

use crate::playground::DemoLogin;
use ils_entity::{company, user};
use ils_kernel::{AppResult, Db, Role, TenantContext};
use ils_tenancy::model::{CompanyStatus, CompanyType, PLATFORM_ADMIN_ROLE, UserStatus};
use ils_tenancy::service::auth::{SignUp, register};
use ils_tenancy::tokens::TokenSettings;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, PaginatorTrait};
use uuid::Uuid;

struct Demo {
    company: &'static str,
    kind: CompanyType,
    email: &'static str,
    password: &'static str,
    first: &'static str,
    last: &'static str,
}

const DEMOS: [Demo; 3] = [
    Demo {
        company: "Brightside Optometry",
        kind: CompanyType::Ecp,
        email: "admin@brightside.example",
        password: "brightside-demo-2026",
        first: "Maya",
        last: "Patel",
    },
    Demo {
        company: "Clearview Lens Lab",
        kind: CompanyType::Lab,
        email: "admin@clearview.example",
        password: "clearview-demo-2026",
        first: "Tom",
        last: "Okafor",
    },
    Demo {
        company: "Northwind Frames",
        kind: CompanyType::Supplier,
        email: "admin@northwind.example",
        password: "northwind-demo-2026",
        first: "Ines",
        last: "Larsen",
    },
];
const PLATFORM_EMAIL: &str = "platform@ils.example";
const PLATFORM_PASSWORD: &str = "platform-demo-2026";

/// The demo logins, to print and to show in the playground.
pub fn demo_logins() -> Vec<DemoLogin> {
    let mut v: Vec<DemoLogin> = DEMOS
        .iter()
        .map(|d| DemoLogin {
            label: d.company.into(),
            email: d.email.into(),
            password: d.password.into(),
        })
        .collect();
    v.push(DemoLogin {
        label: "Platform admin".into(),
        email: PLATFORM_EMAIL.into(),
        password: PLATFORM_PASSWORD.into(),
    });
    v
}

/// Seeds the demo companies when the database has no company yet. Returns whether it did.
pub async fn seed_if_empty(db: &Db, tokens: &TokenSettings) -> AppResult<bool> {
    let tx = db.system().await?;
    let companies = tx.select::<company::Entity>().count(tx.conn()).await?;
    tx.commit().await?;
    if companies > 0 {
        return Ok(false);
    }
    let mut admins = Vec::new();
    for d in &DEMOS {
        let s = register(
            db,
            tokens,
            SignUp {
                company_name: d.company.into(),
                company_type: d.kind,
                email: d.email.into(),
                password: d.password.into(),
                first_name: d.first.into(),
                last_name: d.last.into(),
            },
        )
        .await?;
        if let Some(c) = s.company {
            // Every demo company is approved and on the full plan (the practice as one that
            // upgraded), so the playground shows every feature.
            let tx = db.system().await?;
            tx.update_many::<company::Entity>(
                vec![
                    (company::Column::Status, Expr::value(CompanyStatus::Active)),
                    (
                        company::Column::Plan,
                        Expr::value(ils_common::plan::Plan::Full.as_str()),
                    ),
                ],
                company::Column::Id.eq(c.id),
            )
            .await?;
            tx.commit().await?;
            admins.push(TenantContext::for_user(
                Some(c.id),
                s.user.id,
                vec![Role::CompanyAdmin],
                false,
            ));
        }
    }
    if let [practice, lab, supplier] = admins.as_slice() {
        seed_marketplace(db, practice, lab, supplier).await?;
    }
    create_platform_admin(db, PLATFORM_EMAIL, PLATFORM_PASSWORD, "Platform", "Admin").await?;
    Ok(true)
}

/// The demo lab and supplier listed in the directory, the practice connected to both, and
/// a small supplier catalog: enough for every marketplace example in the playground.
async fn seed_marketplace(
    db: &Db,
    practice: &TenantContext,
    lab: &TenantContext,
    supplier: &TenantContext,
) -> AppResult<()> {
    use ils_marketplace::catalog::draft::{
        CatalogItemInput, Category, ContactLensAttributes, FrameAttributes,
    };
    use ils_marketplace::service::profile::{ProfileEdit as E, update};
    use ils_marketplace::service::{catalog, connections};
    use ils_marketplace::vocab::Specialty as S;
    let profile = |description: &str, city: &str, region: &str, specialties: Vec<S>| {
        vec![
            E::Listed(true),
            E::Description(description.into()),
            E::City(city.into()),
            E::Region(region.into()),
            E::Country("GB".into()),
            E::ServiceAreas(vec!["England".into(), "Wales".into()]),
            E::Specialties(specialties),
        ]
    };
    update(
        db,
        lab,
        profile(
            "Free-form surfacing, AR coating and edging; progressives in three days.",
            "Leeds",
            "West Yorkshire",
            vec![
                S::SingleVision,
                S::Progressive,
                S::Index167,
                S::AntiReflective,
                S::Surfacing,
                S::Edging,
                S::Mounting,
            ],
        ),
    )
    .await?;
    update(
        db,
        supplier,
        profile(
            "Acetate and titanium frames, monthly and daily contact lenses, shop sundries.",
            "Manchester",
            "Greater Manchester",
            vec![S::Frames, S::ContactLenses, S::Sundries],
        ),
    )
    .await?;
    for (partner, message) in [
        (lab, "We would like to send you our lens jobs."),
        (
            supplier,
            "We would like to order frames and contact lenses.",
        ),
    ] {
        let partner_id = partner.company_id().unwrap_or_default();
        let asked = connections::request(db, practice, partner_id, Some(message.into())).await?;
        connections::respond(db, partner, asked.row.id, true).await?;
    }
    let base = |sku: &str, name: &str, category: Category, price: &str| CatalogItemInput {
        sku: sku.into(),
        gtin: None,
        name: name.into(),
        brand: Some("Northwind".into()),
        category,
        price: price.parse().unwrap_or_default(),
        currency: "GBP".into(),
        min_order_quantity: None,
        lead_time_days: Some(2),
        order_multiple: None,
        active: None,
        frame: None,
        spectacle_lens: None,
        lens_blank: None,
        contact_lens: None,
    };
    let frame = |colour: &str, eye: i32| FrameAttributes {
        model: Some("Harbour".into()),
        colour: Some(colour.into()),
        eye_size: eye,
        bridge: 18,
        temple_length: 140,
        ..Default::default()
    };
    let items = [
        CatalogItemInput {
            gtin: Some("5012345678900".into()),
            frame: Some(frame("Tortoise", 52)),
            ..base(
                "NW-HARB-TOR-52",
                "Harbour acetate, tortoise 52[]18-140",
                Category::Frame,
                "38.50",
            )
        },
        CatalogItemInput {
            frame: Some(frame("Black", 54)),
            ..base(
                "NW-HARB-BLK-54",
                "Harbour acetate, black 54[]18-140",
                Category::Frame,
                "38.50",
            )
        },
        CatalogItemInput {
            contact_lens: Some(ContactLensAttributes {
                base_curve: "8.6".parse().unwrap_or_default(),
                diameter: "14.2".parse().unwrap_or_default(),
                power: "-2.25".parse().unwrap_or_default(),
                pack_size: 30,
                ..Default::default()
            }),
            ..base(
                "NW-DAILY-860-142-M225-30",
                "Northwind Daily 30 pack, -2.25",
                Category::ContactLens,
                "11.20",
            )
        },
        CatalogItemInput {
            min_order_quantity: Some(10),
            ..base(
                "NW-CLOTH-MICRO",
                "Microfibre cleaning cloth",
                Category::Sundry,
                "0.45",
            )
        },
    ];
    let mut created = Vec::new();
    for item in items {
        created.push(catalog::create(db, supplier, item).await?);
    }
    if let Some(frame) = created.first() {
        seed_sales(db, practice, frame).await?;
    }
    Ok(())
}

/// The practice's stock of the supplier's first frame: a product linked to the item, four
/// months of daily sales (about one a day, then three times that over the last two weeks)
/// and 8 left, so that `demandForecast` has a history to learn from, `demandSpikes` lists
/// it, and `runPurchasingAgent` drafts a purchase order for a manager to approve (the
/// playground's forecast and approval tabs). The past days are written into the demand
/// history directly: the ledger cannot be posted to in the past.
async fn seed_sales(
    db: &Db,
    practice: &TenantContext,
    item: &ils_entity::catalog_item::Model,
) -> AppResult<()> {
    use ils_inventory::ledger::MovementKind;
    use ils_inventory::service::{locations, products, stock};
    use ils_marketplace::catalog::draft::{CatalogItemInput, Category, FrameAttributes};
    use sea_orm::ActiveValue::{NotSet, Set};
    let product = products::create(
        db,
        practice,
        products::ProductFields {
            item: CatalogItemInput {
                sku: "HARBOUR-TORT-52".into(),
                gtin: None,
                name: "Harbour acetate frame, tortoise 52".into(),
                brand: Some("Northwind".into()),
                category: Category::Frame,
                price: Default::default(),
                currency: item.currency.clone(),
                min_order_quantity: None,
                lead_time_days: None,
                order_multiple: None,
                active: None,
                frame: Some(FrameAttributes {
                    model: Some("Harbour".into()),
                    colour: Some("Tortoise".into()),
                    eye_size: 52,
                    bridge: 18,
                    temple_length: 140,
                    ..Default::default()
                }),
                spectacle_lens: None,
                lens_blank: None,
                contact_lens: None,
            },
            price: None,
            cost: None,
            reorder_point: None,
            min_quantity: None,
            max_quantity: None,
            safety_stock: None,
            supplier_item_id: Some(ils_kernel::id::encode(
                ils_marketplace::catalog::items::ITEM,
                item.id,
            )),
        },
    )
    .await?;
    let product_id = ils_kernel::id::encode(ils_inventory::model::PRODUCT, product.id);
    stock::post_movement(
        db,
        practice,
        stock::NewMovement {
            product_id,
            location_id: None,
            kind: MovementKind::Receipt,
            quantity: 8,
            unit_cost: Some(ils_common::money::MoneyInput {
                amount: rust_decimal::Decimal::new(item.price_units, 4),
                currency: item.currency.clone(),
            }),
            reference: Some("Opening stock".into()),
            note: None,
        },
    )
    .await?;
    let location = locations::list(db, practice)
        .await?
        .into_iter()
        .find(|l| l.is_default)
        .ok_or_else(|| ils_kernel::AppError::internal("the demo practice has no location"))?;
    // Units by weekday (Monday first), three times as many over the last 13 days.
    const WEEK: [i64; 7] = [1, 0, 1, 2, 1, 3, 0];
    let today = chrono::Utc::now().date_naive();
    let days: Vec<ils_entity::demand_daily::ActiveModel> = (1..=120)
        .filter_map(|back| {
            let day = today - chrono::Duration::days(back);
            let weekday = chrono::Datelike::weekday(&day).num_days_from_monday() as usize;
            let units = WEEK[weekday] * if back <= 13 { 3 } else { 1 };
            (units > 0).then(|| ils_entity::demand_daily::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: NotSet,
                product_id: Set(product.id),
                location_id: Set(location.id),
                day: Set(day),
                units: Set(units),
            })
        })
        .collect();
    let tx = db.tenant(practice).await?;
    tx.insert_many::<ils_entity::demand_daily::Entity, _>(days)
        .await?;
    tx.commit().await
}

pub async fn create_platform_admin(
    db: &Db,
    email: &str,
    password: &str,
    first: &str,
    last: &str,
) -> AppResult<()> {
    let email = ils_tenancy::service::validate::email(email, "email")?;
    ils_tenancy::password::validate(password, "password")?;
    let hash = ils_tenancy::password::hash(password).await?;
    let now = chrono::Utc::now();
    let tx = db.system().await?;
    tx.insert(user::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(None),
        email: Set(email),
        password_hash: Set(hash),
        first_name: Set(first.into()),
        last_name: Set(last.into()),
        role: Set(PLATFORM_ADMIN_ROLE.into()),
        status: Set(UserStatus::Active),
        is_platform_admin: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}
