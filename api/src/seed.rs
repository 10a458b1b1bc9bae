//! Demo data for a fresh development database, and the platform-admin command.
#![allow(clippy::disallowed_methods)] // seeding acts for the platform, across tenants

use crate::playground::DemoLogin;
use ils_entity::{company, user};
use ils_kernel::{AppResult, Db};
use ils_tenancy::model::{CompanyStatus, CompanyType, PLATFORM_ADMIN_ROLE, UserStatus};
use ils_tenancy::service::auth::{SignUp, sign_up};
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
    for d in &DEMOS {
        let s = sign_up(
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
            let tx = db.system().await?;
            tx.update_many::<company::Entity>(
                vec![(
                    company::Column::Status,
                    Expr::value(CompanyStatus::Active.as_str()),
                )],
                company::Column::Id.eq(c.id),
            )
            .await?;
            tx.commit().await?;
        }
    }
    create_platform_admin(db, PLATFORM_EMAIL, PLATFORM_PASSWORD, "Platform", "Admin").await?;
    Ok(true)
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
        status: Set(UserStatus::Active.as_str().into()),
        is_platform_admin: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}
