//! The marketplace's steps of the onboarding checklist: the directory profile, the logo,
//! a first trading partner and (suppliers) a first catalog item.

use ils_common::company::CompanyType;
use ils_entity::trade_connection::ConnectionStatus;
use ils_entity::{catalog_item, marketplace_profile as profile, trade_connection as conn};
use ils_kernel::Tx;
use ils_kernel::onboarding::{Step, StepFuture, exists};
use sea_orm::{ColumnTrait, Condition, QueryFilter};
use uuid::Uuid;

const EVERY_KIND: &[CompanyType] = &[CompanyType::Ecp, CompanyType::Lab, CompanyType::Supplier];

pub fn steps() -> Vec<Step> {
    vec![
        Step {
            key: "PROFILE",
            position: 10,
            title: "Complete your profile: a description, your city and country",
            how: "updateMarketplaceProfile with description, city and country",
            for_types: EVERY_KIND,
            done: profile_completed,
        },
        Step {
            key: "LOGO",
            position: 20,
            title: "Add your logo",
            how: "updateMarketplaceProfile with logoUrl",
            for_types: EVERY_KIND,
            done: logo_given,
        },
        Step {
            key: "FIRST_CONNECTION",
            position: 50,
            title: "Connect with a first trading partner",
            how: "requestConnection, accepted by the other company (or respondToConnection)",
            for_types: EVERY_KIND,
            done: connected_once,
        },
        Step {
            key: "CATALOG",
            position: 60,
            title: "Publish your first catalog item",
            how: "createCatalogItem or importCatalog",
            for_types: &[CompanyType::Supplier],
            done: catalog_started,
        },
    ]
}

fn own_profile(tx: &Tx, company: Uuid) -> sea_orm::Select<profile::Entity> {
    tx.select::<profile::Entity>()
        .filter(profile::Column::CompanyId.eq(company))
}

fn profile_completed(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        let select = [
            profile::Column::Description,
            profile::Column::City,
            profile::Column::Country,
        ]
        .into_iter()
        .fold(own_profile(tx, company), |s, c| {
            s.filter(c.is_not_null()).filter(c.ne(""))
        });
        exists(tx, select).await
    })
}

fn logo_given(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            own_profile(tx, company)
                .filter(profile::Column::LogoUrl.is_not_null())
                .filter(profile::Column::LogoUrl.ne("")),
        )
        .await
    })
}

/// A connection accepted once, asked for by the company or by the other: active now, or
/// ended after it was accepted (a request withdrawn or declined never was).
fn connected_once(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            tx.select::<conn::Entity>()
                .filter(
                    Condition::any()
                        .add(conn::Column::RequesterCompanyId.eq(company))
                        .add(conn::Column::ResponderCompanyId.eq(company)),
                )
                .filter(
                    Condition::any()
                        .add(conn::Column::State.eq(ConnectionStatus::Active))
                        .add(
                            Condition::all()
                                .add(conn::Column::State.eq(ConnectionStatus::Ended))
                                .add(conn::Column::RespondedAt.is_not_null()),
                        ),
                ),
        )
        .await
    })
}

fn catalog_started(tx: &Tx, company: Uuid) -> StepFuture<'_> {
    Box::pin(async move {
        exists(
            tx,
            tx.select::<catalog_item::Entity>()
                .filter(catalog_item::Column::CompanyId.eq(company)),
        )
        .await
    })
}
