use super::types::{
    API_KEY, AcceptInvitationPayload, ApiKey, ApproveCompanyPayload, COMPANY,
    ChangeUserRolePayload, Company, ConfirmSignUpPayload, CreateApiKeyPayload,
    DeactivateUserPayload, INVITATION, Invitation, InviteUserPayload, LogInPayload,
    LogOutEverywherePayload, LogOutPayload, RefreshSessionPayload, RejectCompanyPayload,
    RequestPlanChangePayload, RevokeApiKeyPayload, RevokeInvitationPayload,
    SetApiKeyOperationListsPayload, SetCompanyPlanPayload, SetCompanyRateLimitsPayload,
    SignUpPayload, USER, UpdateCompanyProfilePayload, User,
};
use crate::model::{CompanyType, Plan};
use crate::service::{api_keys, auth, company, plans, platform, team};
use crate::tokens::TokenSettings;
use async_graphql::{Context, ID, InputObject, Object, Result};
use ils_kernel::throttle::Throttle;
use ils_kernel::{AppError, Role, id, request_parts};
use std::sync::Arc;

#[derive(Default)]
pub struct TenancyMutation;

/// The plan a company admin asks for.
#[derive(InputObject)]
pub struct RequestPlanChangeInput {
    /// FREE_ECP (practices only) applies at once; FULL waits for a platform admin.
    pub plan: Plan,
}

/// A company's plan, set by a platform admin.
#[derive(InputObject)]
pub struct SetCompanyPlanInput {
    /// The company's ID.
    pub company_id: ID,
    /// The plan (FREE_ECP is for practices only).
    pub plan: Plan,
}

/// One rate budget a platform admin gives a company's callers.
#[derive(InputObject, Clone, Copy)]
pub struct RateBudgetInput {
    /// Requests a minute (positive).
    pub requests_per_minute: u64,
    /// Cost points (query complexity) a minute (positive).
    pub points_per_minute: u64,
}

impl From<RateBudgetInput> for ils_common::plan::Budget {
    fn from(b: RateBudgetInput) -> Self {
        ils_common::plan::Budget::new(b.requests_per_minute, b.points_per_minute)
    }
}

/// A company's rate budgets in place of its plan's: each one left out (or null) is the
/// plan's.
#[derive(InputObject)]
pub struct SetCompanyRateLimitsInput {
    /// The company's ID.
    pub company_id: ID,
    /// Each API key's budget.
    pub api_key: Option<RateBudgetInput>,
    /// Each signed-in user's budget.
    pub user: Option<RateBudgetInput>,
    /// The company's budget, all callers together.
    pub company: Option<RateBudgetInput>,
}

/// A new company and its first user, who becomes its COMPANY_ADMIN.
#[derive(InputObject)]
pub struct SignUpInput {
    /// The company's trading name (at most 200 characters).
    pub company_name: String,
    /// What the company is: ECP (a practice, active at once), LAB or SUPPLIER (both wait
    /// for the platform's approval). It never changes.
    pub company_type: CompanyType,
    /// The admin's log-in email, where the sign-up token is mailed; it must not belong to
    /// another account by the time the sign-up is confirmed.
    pub email: String,
    /// At least 10 characters, and not a commonly used password.
    pub password: String,
    /// The admin's given name (at most 100 characters).
    pub first_name: String,
    /// The admin's family name (at most 100 characters).
    pub last_name: String,
}

/// The sign-up token `signUp` mailed.
#[derive(InputObject)]
pub struct ConfirmSignUpInput {
    /// The token from the mail; it works once, for a day.
    pub token: String,
}

/// Credentials to log in with.
#[derive(InputObject)]
pub struct LogInInput {
    /// The account's email, in any case.
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// The refresh token to trade for a new session.
#[derive(InputObject)]
pub struct RefreshSessionInput {
    /// The `refreshToken` of the last session payload; it works once.
    pub refresh_token: String,
}

/// The session to end.
#[derive(InputObject)]
pub struct LogOutInput {
    /// The `refreshToken` of the session to end.
    pub refresh_token: String,
}

/// Whom to invite, and as what.
#[derive(InputObject)]
pub struct InviteUserInput {
    /// The invitee's email: the token is mailed there, and it becomes their log-in email.
    /// It must not have another pending invitation.
    pub email: String,
    /// The role the invitee gets on accepting.
    pub role: Role,
}

/// The invitation to withdraw.
#[derive(InputObject)]
pub struct RevokeInvitationInput {
    /// The invitation's ID; an accepted one cannot be revoked.
    pub id: ID,
}

/// An invitation token and the new member's account details.
#[derive(InputObject)]
pub struct AcceptInvitationInput {
    /// The token from the invitation email (or `inviteUser`'s answer).
    pub token: String,
    /// The new account's password: at least 10 characters, not a commonly used one.
    pub password: String,
    /// The new member's given name (at most 100 characters).
    pub first_name: String,
    /// The new member's family name (at most 100 characters).
    pub last_name: String,
}

/// The member whose role changes, and the new role.
#[derive(InputObject)]
pub struct ChangeUserRoleInput {
    /// The member's user ID (a member of the acting company).
    pub user_id: ID,
    /// The new role.
    pub role: Role,
}

/// The member to deactivate.
#[derive(InputObject)]
pub struct DeactivateUserInput {
    /// The member's user ID (a member of the acting company).
    pub user_id: ID,
}

/// Fields to change; omitted fields stay as they are, an empty string clears one.
#[derive(InputObject)]
pub struct UpdateCompanyProfileInput {
    /// The trading name (at most 200 characters; cannot be cleared).
    pub name: Option<String>,
    /// Postal address, free text (at most 500 characters).
    pub address: Option<String>,
    /// Phone number: at least 5 digits, and only digits, spaces and `+-().` (at most 40
    /// characters).
    pub phone: Option<String>,
    /// Web site: an `http://` or `https://` URL (at most 300 characters).
    pub website: Option<String>,
    /// Opening hours, free text (at most 1000 characters).
    pub opening_hours: Option<String>,
}

/// The API key to create.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// A label for people, such as the connected system's name (at most 100 characters).
    pub name: String,
    /// The role requests made with the key act with.
    pub role: Role,
    /// Limit the key to persisted operations (false when omitted): it then runs only the
    /// documents of its `operationLists`, by ID, and any query text is FORBIDDEN.
    #[graphql(default = false)]
    pub persisted_only: bool,
    /// The operation lists the key may run by ID (every ACTIVE version of each): your
    /// company's own list of that name, or else the platform's. None when omitted.
    #[graphql(default)]
    pub operation_lists: Vec<String>,
}

/// The operation lists an API key may run.
#[derive(InputObject)]
pub struct SetApiKeyOperationListsInput {
    /// The key's ID.
    pub api_key_id: ID,
    /// The lists, by name (your company's own, or else the platform's); they replace the
    /// key's lists. An empty list takes them all away.
    pub lists: Vec<String>,
}

/// The API key to revoke.
#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    /// The key's ID. Revoking a revoked key changes nothing.
    pub id: ID,
}

/// The registration to approve.
#[derive(InputObject)]
pub struct ApproveCompanyInput {
    /// The company's ID; it must be PENDING_APPROVAL.
    pub id: ID,
}

/// The registration to reject, and why.
#[derive(InputObject)]
pub struct RejectCompanyInput {
    /// The company's ID; it must be PENDING_APPROVAL.
    pub id: ID,
    /// Why, shown to the company as `rejectionReason` (at most 1000 characters).
    pub reason: String,
}

fn tokens<'a>(ctx: &Context<'a>) -> Result<&'a TokenSettings> {
    ctx.data::<TokenSettings>()
        .map_err(|_| AppError::internal("no token settings").into())
}

#[Object]
impl TenancyMutation {
    /// Asks to register a company with its first admin. ILS mails the address a sign-up
    /// token, which `confirmSignUp` trades for the new company and a session; nothing is
    /// created before. The answer is the same whether or not the address already has an
    /// account (that address gets a notice instead of a token), so it tells nobody which
    /// addresses have accounts. Malformed input is BAD_USER_INPUT as usual. One client
    /// address may attempt 10 sign-ups an hour (`ILS_SIGN_UPS_PER_ADDRESS`; RATE_LIMITED
    /// with `retryAfter` beyond).
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company and its first admin.")] input: SignUpInput,
    ) -> Result<SignUpPayload> {
        let (_, db) = request_parts(ctx)?;
        let throttle = ctx
            .data::<Arc<dyn Throttle>>()
            .map_err(|_| AppError::internal("no throttle"))?;
        let limit = ctx
            .data_opt::<auth::SignUpLimit>()
            .copied()
            .unwrap_or_default();
        auth::count_sign_up(throttle.as_ref(), &ils_kernel::client_info(ctx), limit).await?;
        let requested = auth::request_sign_up(
            db,
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
        Ok(SignUpPayload {
            email: requested.email,
            expires_in: requested.expires_in,
        })
    }

    /// Confirms a sign-up with the token mailed by `signUp`: creates the company and its
    /// first admin, and signs the admin in. Practices are active at once; labs and
    /// suppliers wait for the platform's approval. A token works once, for a day; an
    /// unknown, used or expired one is BAD_USER_INPUT on `input.token`.
    async fn confirm_sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The sign-up token from the mail.")] input: ConfirmSignUpInput,
    ) -> Result<ConfirmSignUpPayload> {
        let (_, db) = request_parts(ctx)?;
        let session = auth::confirm_sign_up(db, tokens(ctx)?, &input.token).await?;
        Ok(session.into())
    }

    /// Signs in. An unknown email and a wrong password fail alike (UNAUTHENTICATED); a
    /// malformed email is BAD_USER_INPUT. After five failures for one email from one
    /// client address, each further attempt from there waits 1 s, then 2, 4, … up to
    /// 15 minutes (RATE_LIMITED with `retryAfter`); other addresses are not held back. A
    /// client address may fail 100 times in 15 minutes over all emails.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Email and password.")] input: LogInInput,
    ) -> Result<LogInPayload> {
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
            &input.email,
            &input.password,
        )
        .await?;
        Ok(session.into())
    }

    /// Trades a refresh token for a new session; each refresh token works once, and
    /// presenting a used one ends the whole log-in (UNAUTHENTICATED).
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token to trade.")] input: RefreshSessionInput,
    ) -> Result<RefreshSessionPayload> {
        let (_, db) = request_parts(ctx)?;
        Ok(auth::refresh(db, tokens(ctx)?, &input.refresh_token)
            .await?
            .into())
    }

    /// Ends the session of this refresh token.
    async fn log_out(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's refresh token.")] input: LogOutInput,
    ) -> Result<LogOutPayload> {
        let (_, db) = request_parts(ctx)?;
        let logged_out = auth::log_out(db, &input.refresh_token).await?;
        Ok(LogOutPayload { logged_out })
    }

    /// Ends every session of the signed-in user.
    async fn log_out_everywhere(&self, ctx: &Context<'_>) -> Result<LogOutEverywherePayload> {
        let (tenant, db) = request_parts(ctx)?;
        let logged_out = auth::log_out_everywhere(db, tenant).await?;
        Ok(LogOutEverywherePayload { logged_out })
    }

    /// Invites someone to the company by email (company admins).
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitee's email and role.")] input: InviteUserInput,
    ) -> Result<InviteUserPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let (inv, token) = team::invite(db, tenant, &input.email, input.role).await?;
        Ok(InviteUserPayload {
            invitation: Invitation(inv),
            token,
        })
    }

    /// Withdraws a pending invitation, so its token no longer works (company admins).
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation to withdraw.")] input: RevokeInvitationInput,
    ) -> Result<RevokeInvitationPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(INVITATION, &input.id, "input.id")?;
        let invitation = Invitation(team::revoke_invitation(db, tenant, id).await?);
        Ok(RevokeInvitationPayload { invitation })
    }

    /// Joins the inviting company with a new account and signs in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation token and the new account.")] input: AcceptInvitationInput,
    ) -> Result<AcceptInvitationPayload> {
        let (_, db) = request_parts(ctx)?;
        let input = team::Acceptance {
            token: input.token,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
        };
        Ok(team::accept(db, tokens(ctx)?, input).await?.into())
    }

    /// Changes a member's role (company admins; the last admin cannot be demoted).
    async fn change_user_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member and their new role.")] input: ChangeUserRoleInput,
    ) -> Result<ChangeUserRolePayload> {
        let (tenant, db) = request_parts(ctx)?;
        let user_id = id::decode(USER, &input.user_id, "input.userId")?;
        let user = User(team::change_role(db, tenant, user_id, input.role).await?);
        Ok(ChangeUserRolePayload { user })
    }

    /// Deactivates a member, who can no longer log in (company admins; the last admin
    /// cannot be deactivated).
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to deactivate.")] input: DeactivateUserInput,
    ) -> Result<DeactivateUserPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let user_id = id::decode(USER, &input.user_id, "input.userId")?;
        let user = User(team::deactivate(db, tenant, user_id).await?);
        Ok(DeactivateUserPayload { user })
    }

    /// Updates the acting company's profile (company admins).
    async fn update_company_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile fields to change.")] input: UpdateCompanyProfileInput,
    ) -> Result<UpdateCompanyProfilePayload> {
        let (tenant, db) = request_parts(ctx)?;
        let change = company::ProfileChange {
            name: input.name,
            address: input.address,
            phone: input.phone,
            website: input.website,
            opening_hours: input.opening_hours,
        };
        let company = Company(company::update_profile(db, tenant, change).await?);
        Ok(UpdateCompanyProfilePayload { company })
    }

    /// Creates an API key for a partner (company admins); the secret is in the answer and
    /// nowhere else.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's name, role and limits.")] input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let (key, secret) = api_keys::create(
            db,
            tenant,
            &input.name,
            input.role,
            input.persisted_only,
            &input.operation_lists,
        )
        .await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    /// Sets the operation lists an API key may run by ID (company admins); a persisted-only
    /// key runs nothing else. Takes effect within a second on every server.
    async fn set_api_key_operation_lists(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key and its lists.")] input: SetApiKeyOperationListsInput,
    ) -> Result<SetApiKeyOperationListsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(API_KEY, &input.api_key_id, "input.apiKeyId")?;
        let (key, _) = api_keys::set_operation_lists(db, tenant, id, &input.lists).await?;
        Ok(SetApiKeyOperationListsPayload {
            api_key: ApiKey(key),
        })
    }

    /// Revokes an API key: requests with it are refused from now on, and its open
    /// WebSocket connections close (company admins).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to revoke.")] input: RevokeApiKeyInput,
    ) -> Result<RevokeApiKeyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(API_KEY, &input.id, "input.id")?;
        let api_key = ApiKey(api_keys::revoke(db, tenant, id).await?);
        Ok(RevokeApiKeyPayload { api_key })
    }

    /// Asks for another plan (company admins). A smaller plan applies at once and keeps
    /// everything the company has (only new use beyond it is refused); a bigger one waits
    /// in `requestedPlan` until a platform admin sets it. Asking for the current plan
    /// withdraws a pending request.
    async fn request_plan_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan asked for.")] input: RequestPlanChangeInput,
    ) -> Result<RequestPlanChangePayload> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(match plans::request_change(db, tenant, input.plan).await? {
            plans::Requested::Changed(c) => RequestPlanChangePayload {
                company: Company(c),
                pending: false,
            },
            plans::Requested::Pending(c) => RequestPlanChangePayload {
                company: Company(c),
                pending: true,
            },
        })
    }

    /// Sets a company's plan (platform admins); clears what it asked for.
    async fn set_company_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company and its plan.")] input: SetCompanyPlanInput,
    ) -> Result<SetCompanyPlanPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &input.company_id, "input.companyId")?;
        let company = Company(plans::set_plan(db, tenant, id, input.plan).await?);
        Ok(SetCompanyPlanPayload { company })
    }

    /// Gives a company rate budgets in place of its plan's (platform admins); every
    /// replica applies them on the `company.updated` event, moments after, and within
    /// 30 s at most.
    async fn set_company_rate_limits(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company and its budgets.")] input: SetCompanyRateLimitsInput,
    ) -> Result<SetCompanyRateLimitsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &input.company_id, "input.companyId")?;
        let overrides = ils_common::plan::Overrides {
            api_key: input.api_key.map(Into::into),
            user: input.user.map(Into::into),
            company: input.company.map(Into::into),
        };
        let company = Company(plans::set_rate_limits(db, tenant, id, overrides).await?);
        Ok(SetCompanyRateLimitsPayload { company })
    }

    /// Approves a lab or supplier's registration (platform admins).
    async fn approve_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company to approve.")] input: ApproveCompanyInput,
    ) -> Result<ApproveCompanyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &input.id, "input.id")?;
        let company = Company(platform::decide(db, tenant, id, true, None).await?);
        Ok(ApproveCompanyPayload { company })
    }

    /// Rejects a registration with a reason the company will see (platform admins). Its
    /// users can no longer log in.
    async fn reject_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company to reject, and why.")] input: RejectCompanyInput,
    ) -> Result<RejectCompanyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(COMPANY, &input.id, "input.id")?;
        let company = Company(platform::decide(db, tenant, id, false, Some(input.reason)).await?);
        Ok(RejectCompanyPayload { company })
    }
}
