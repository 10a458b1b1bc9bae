use super::types::{
    API_KEY, ApiKey, AuthPayload, COMPANY, Company, CreateApiKeyPayload, INVITATION, Invitation,
    InviteUserPayload, USER, User,
};
use crate::model::CompanyType;
use crate::service::{api_keys, auth, company, platform, team};
use crate::tokens::TokenSettings;
use async_graphql::{Context, ID, InputObject, Object, Result};
use ils_kernel::throttle::Throttle;
use ils_kernel::{AppError, Role, id, request_parts};
use std::sync::Arc;

#[derive(Default)]
pub struct TenancyMutation;

#[derive(InputObject)]
pub struct SignUpInput {
    pub company_name: String,
    pub company_type: CompanyType,
    pub email: String,
    /// At least 10 characters, and not a commonly used password.
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// Fields to change; omitted fields stay as they are, an empty string clears one.
#[derive(InputObject)]
pub struct UpdateCompanyProfileInput {
    pub name: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub opening_hours: Option<String>,
}

fn tokens<'a>(ctx: &Context<'a>) -> Result<&'a TokenSettings> {
    ctx.data::<TokenSettings>()
        .map_err(|_| AppError::internal("no token settings").into())
}

#[Object]
impl TenancyMutation {
    /// Registers a company with its first admin and signs that admin in. Practices are
    /// active at once; labs and suppliers wait for the platform's approval.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let (_, db) = request_parts(ctx)?;
        let session = auth::sign_up(
            db,
            tokens(ctx)?,
            auth::SignUp {
                company_name: input.company_name,
                company_type: input.company_type,
                email: input.email,
                password: input.password,
                first_name: input.first_name,
                last_name: input.last_name,
            },
        )
        .await?;
        Ok(session.into())
    }

    /// Signs in. An unknown email and a wrong password fail alike; repeated failures are
    /// throttled per email and per client address.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let (_, db) = request_parts(ctx)?;
        let throttle = ctx
            .data::<Arc<dyn Throttle>>()
            .map_err(|_| AppError::internal("no throttle"))?;
        let client = ils_kernel::client_info(ctx);
        let session = auth::log_in(
            db,
            tokens(ctx)?,
            throttle.as_ref(),
            &client,
            &email,
            &password,
        )
        .await?;
        Ok(session.into())
    }

    /// Trades a refresh token for a new session; each refresh token works once.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload> {
        let (_, db) = request_parts(ctx)?;
        Ok(auth::refresh(db, tokens(ctx)?, &refresh_token)
            .await?
            .into())
    }

    /// Ends the session of this refresh token.
    async fn log_out(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let (_, db) = request_parts(ctx)?;
        Ok(auth::log_out(db, &refresh_token).await?)
    }

    /// Ends every session of the signed-in user.
    async fn log_out_everywhere(&self, ctx: &Context<'_>) -> Result<bool> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(auth::log_out_everywhere(db, tenant).await?)
    }

    /// Invites someone to the company (company admins).
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        role: Role,
    ) -> Result<InviteUserPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let (inv, token) = team::invite(db, tenant, &email, role).await?;
        Ok(InviteUserPayload {
            invitation: Invitation(inv),
            token,
        })
    }

    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<Invitation> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(INVITATION, &id, "id")?;
        Ok(Invitation(team::revoke_invitation(db, tenant, id).await?))
    }

    /// Joins the inviting company and signs in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
        first_name: String,
        last_name: String,
    ) -> Result<AuthPayload> {
        let (_, db) = request_parts(ctx)?;
        let input = team::Acceptance {
            token,
            password,
            first_name,
            last_name,
        };
        Ok(team::accept(db, tokens(ctx)?, input).await?.into())
    }

    /// Changes a member's role (company admins; the last admin cannot be demoted).
    async fn change_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<User> {
        let (tenant, db) = request_parts(ctx)?;
        let user_id = id::decode(USER, &user_id, "userId")?;
        Ok(User(team::change_role(db, tenant, user_id, role).await?))
    }

    /// Deactivates a member (company admins; the last admin cannot be deactivated).
    async fn deactivate_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let (tenant, db) = request_parts(ctx)?;
        let user_id = id::decode(USER, &user_id, "userId")?;
        Ok(User(team::deactivate(db, tenant, user_id).await?))
    }

    /// Updates the acting company's profile (company admins).
    async fn update_company_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateCompanyProfileInput,
    ) -> Result<Company> {
        let (tenant, db) = request_parts(ctx)?;
        let change = company::ProfileChange {
            name: input.name,
            address: input.address,
            phone: input.phone,
            website: input.website,
            opening_hours: input.opening_hours,
        };
        Ok(Company(company::update_profile(db, tenant, change).await?))
    }

    /// Creates an API key for a partner; the secret is in the answer and nowhere else.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        role: Role,
        #[graphql(default = false)] persisted_only: bool,
    ) -> Result<CreateApiKeyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let (key, secret) = api_keys::create(db, tenant, &name, role, persisted_only).await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(API_KEY, &id, "id")?;
        Ok(ApiKey(api_keys::revoke(db, tenant, id).await?))
    }

    /// Approves a lab or supplier's registration (platform admins).
    async fn approve_company(&self, ctx: &Context<'_>, id: ID) -> Result<Company> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &id, "id")?;
        Ok(Company(platform::decide(db, tenant, id, true, None).await?))
    }

    /// Rejects a registration with a reason the company will see (platform admins).
    async fn reject_company(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Company> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &id, "id")?;
        Ok(Company(
            platform::decide(db, tenant, id, false, Some(reason)).await?,
        ))
    }
}
