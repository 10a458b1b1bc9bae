use crate::model::{CompanyStatus, CompanyType, Plan, UserStatus};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::{AppError, Role, id};

pub use crate::model::{API_KEY, COMPANY, INVITATION, USER};

/// A role stored on a row that always has one (an invitation, an API key).
fn stored_role(text: &str) -> Result<Role> {
    Role::parse(text)
        .ok_or_else(|| AppError::internal(format!("unknown stored role {text}")).into())
}

/// The `User` row, as GraphQL shows it.
pub struct User(pub user::Model);

/// A person who signs in to ILS: a member of one company, with a role there, or a platform
/// admin, who belongs to no company.
#[Object]
impl User {
    /// The user's global ID (opaque; `node(id:)` loads it).
    pub async fn id(&self) -> ID {
        id::encode(USER, self.0.id)
    }
    /// The address the user logs in with, lower-cased; unique on the platform.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Given name, as entered at sign-up or when accepting the invitation.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    /// Family name, as entered at sign-up or when accepting the invitation.
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    /// The user's role in their company; null for platform admins.
    async fn role(&self) -> Option<Role> {
        Role::parse(&self.0.role)
    }
    /// Whether the user may log in: ACTIVE, or DEACTIVATED by a company admin.
    async fn status(&self) -> UserStatus {
        self.0.status
    }
    /// When the account was made (by sign-up or by accepting an invitation).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The `Company` row, as GraphQL shows it.
pub struct Company(pub company::Model);

/// An eye-care practice, lens lab or supplier: a tenant of ILS, whose members, data and
/// API keys are its own.
#[Object]
impl Company {
    /// The company's global ID (opaque; `node(id:)` loads it).
    pub async fn id(&self) -> ID {
        id::encode(COMPANY, self.0.id)
    }
    /// The trading name partners see (at most 200 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the company is (practice, lab or supplier); chosen at sign-up, never changes.
    #[graphql(name = "type")]
    async fn company_type(&self) -> Result<CompanyType> {
        CompanyType::parse(&self.0.company_type).ok_or_else(|| {
            AppError::internal(format!("unknown company type {}", self.0.company_type)).into()
        })
    }
    /// Where the registration stands: practices are ACTIVE at once; labs and suppliers
    /// are PENDING_APPROVAL until the platform approves (ACTIVE) or rejects (REJECTED)
    /// them.
    async fn status(&self) -> CompanyStatus {
        self.0.status
    }
    /// The plan: practices start on FREE_ECP, labs and suppliers on FULL. What it
    /// includes is `includes` (and `plans` lists every plan).
    async fn plan(&self) -> Result<Plan> {
        Plan::parse(&self.0.plan)
            .ok_or_else(|| AppError::internal(format!("unknown plan {}", self.0.plan)).into())
    }
    /// The plan the company asked for with `requestPlanChange`, until a platform admin
    /// sets it; null when none is pending.
    async fn requested_plan(&self) -> Option<Plan> {
        self.0.requested_plan.as_deref().and_then(Plan::parse)
    }
    /// What the company's plan includes, with the rate budgets a platform admin set for
    /// this company in place of the plan's.
    async fn includes(&self) -> Result<PlanIncludes> {
        let plan = Plan::parse(&self.0.plan)
            .ok_or_else(|| AppError::internal(format!("unknown plan {}", self.0.plan)))?;
        let overrides = ils_common::plan::Overrides::parse(self.0.rate_overrides.as_deref());
        Ok(PlanIncludes::of(plan, &overrides))
    }
    /// Why the platform rejected the registration; null unless the status is REJECTED.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// Postal address, free text (at most 500 characters, may hold line breaks); null
    /// when not given.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Phone number as entered (digits, spaces and `+-().`); null when not given.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Web site, an `http://` or `https://` URL; null when not given.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Opening hours, free text such as "Mon-Fri 9:00-17:30"; null when not given.
    async fn opening_hours(&self) -> Option<&str> {
        self.0.opening_hours.as_deref()
    }
    /// When the company signed up.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Where an invitation stands.
#[derive(async_graphql::Enum, Copy, Clone, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Sent and still usable: its token can be passed to `acceptInvitation`.
    Pending,
    /// Used: the invitee joined the company.
    Accepted,
    /// Withdrawn by a company admin with `revokeInvitation`; its token no longer works.
    Revoked,
    /// Not accepted within 7 days; its token no longer works.
    Expired,
}

/// The `Invitation` row, as GraphQL shows it.
pub struct Invitation(pub invitation::Model);

/// An invitation to join the company, sent by email with a one-time token.
#[Object]
impl Invitation {
    /// The invitation's global ID (opaque; `node(id:)` loads it for company admins).
    pub async fn id(&self) -> ID {
        id::encode(INVITATION, self.0.id)
    }
    /// The invitee's address, lower-cased: the token is mailed there, and it becomes the
    /// new user's log-in email.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// The role the invitee gets on accepting.
    async fn role(&self) -> Result<Role> {
        stored_role(&self.0.role)
    }
    /// Where the invitation stands: PENDING, ACCEPTED, REVOKED or EXPIRED.
    async fn status(&self) -> InvitationStatus {
        let i = &self.0;
        if i.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if i.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if i.expires_at <= Utc::now() {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
    /// When the token stops working unless accepted before (7 days after sending).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// When the invitation was sent.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The `ApiKey` row, as GraphQL shows it.
pub struct ApiKey(pub api_key::Model);

/// A partner's API key, sent as the `X-Api-Key` header; it acts for the company that made
/// it, with its own role. The secret itself is shown only once, when it is created.
#[Object]
impl ApiKey {
    /// The key's global ID (opaque; `node(id:)` loads it for company admins).
    pub async fn id(&self) -> ID {
        id::encode(API_KEY, self.0.id)
    }
    /// A label for people, such as the connected system's name (at most 100 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The role requests made with this key act with.
    async fn role(&self) -> Result<Role> {
        stored_role(&self.0.role)
    }
    /// The key may run only persisted operations.
    async fn persisted_only(&self) -> bool {
        self.0.persisted_only
    }
    /// The first characters of the secret, to recognise the key.
    async fn prefix(&self) -> &str {
        &self.0.key_prefix
    }
    /// When the key was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a request last used the key; null if none has.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// When the key was revoked (it is refused from then on); null while it works.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// The names of the operation lists the key may run by ID.
    async fn operation_lists(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let (tenant, db) = ils_kernel::request_parts(ctx)?;
        let lists = crate::service::api_keys::granted_lists(db, tenant, self.0.id).await?;
        Ok(lists.into_iter().map(|l| l.name).collect())
    }
}

/// What `setApiKeyOperationLists` gives: the key, with its lists.
#[derive(SimpleObject)]
pub struct SetApiKeyOperationListsPayload {
    /// The key, with its new lists.
    pub api_key: ApiKey,
}

/// A payload that starts a session: the same fields for `confirmSignUp`, `logIn`,
/// `refreshSession` and `acceptInvitation`.
macro_rules! session_payload {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Send `accessToken` as `Authorization: Bearer …`; trade `refreshToken` for a new
        /// pair with `refreshSession` before `expiresIn` seconds pass.
        #[derive(SimpleObject)]
        pub struct $name {
            /// A signed token for the `Authorization: Bearer …` header (HTTP and the
            /// WebSocket's `connection_init`); valid for `expiresIn` seconds.
            pub access_token: String,
            /// An opaque token for `refreshSession` (which rotates it: each works once) and
            /// `logOut`; keep it secret. Valid for 30 days by default.
            pub refresh_token: String,
            /// Seconds until `accessToken` expires (900 by default).
            pub expires_in: i64,
            /// The signed-in user.
            pub user: User,
            /// The user's company; null for platform admins.
            pub company: Option<Company>,
        }

        impl From<crate::service::Session> for $name {
            fn from(s: crate::service::Session) -> Self {
                $name {
                    access_token: s.access_token,
                    refresh_token: s.refresh_token,
                    expires_in: s.expires_in,
                    user: User(s.user),
                    company: s.company.map(Company),
                }
            }
        }
    };
}

/// What `signUp` gives: where the confirmation went. The answer is the same whether or
/// not the address already has an account; only the mail says which.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    /// The address the mail went to. It holds a sign-up token for `confirmSignUp`, or, when
    /// the address already has an account, a notice saying so.
    pub email: String,
    /// Seconds a sign-up token works (86,400: one day).
    pub expires_in: i64,
}

session_payload!(
    /// What `confirmSignUp` gives: a session for the new company's first admin.
    ConfirmSignUpPayload
);
session_payload!(
    /// What `logIn` gives: a new session.
    LogInPayload
);
session_payload!(
    /// What `refreshSession` gives: the next session of the same log-in.
    RefreshSessionPayload
);
session_payload!(
    /// What `acceptInvitation` gives: a session for the new member.
    AcceptInvitationPayload
);

/// The caller of the request: a signed-in user or an API key, with the company it acts
/// for and the roles it acts with.
#[derive(SimpleObject)]
pub struct Me {
    /// The signed-in user; null when the caller is an API key.
    pub user: Option<User>,
    /// The API key making the request; null for a signed-in user.
    pub api_key: Option<ApiKey>,
    /// The company the caller acts for; null for platform admins.
    pub company: Option<Company>,
    /// The roles the caller acts with: the user's or the key's role; empty for platform
    /// admins.
    pub roles: Vec<Role>,
    /// Whether the caller is the platform operator (who approves companies and sees no
    /// company's data).
    pub platform_admin: bool,
}

/// What `createApiKey` gives.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The new key.
    pub api_key: ApiKey,
    /// The secret, shown this once. Send it as the `X-Api-Key` header.
    pub secret: String,
}

/// What `revokeApiKey` gives.
#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    /// The key, now revoked (`revokedAt` set).
    pub api_key: ApiKey,
}

/// What `inviteUser` gives.
#[derive(SimpleObject)]
pub struct InviteUserPayload {
    /// The new invitation, PENDING.
    pub invitation: Invitation,
    /// The token the invitee passes to `acceptInvitation`, shown this once.
    pub token: String,
}

/// What `revokeInvitation` gives.
#[derive(SimpleObject)]
pub struct RevokeInvitationPayload {
    /// The invitation, now REVOKED.
    pub invitation: Invitation,
}

/// What `changeUserRole` gives.
#[derive(SimpleObject)]
pub struct ChangeUserRolePayload {
    /// The member with their new role.
    pub user: User,
}

/// What `deactivateUser` gives.
#[derive(SimpleObject)]
pub struct DeactivateUserPayload {
    /// The member, now DEACTIVATED.
    pub user: User,
}

/// What `updateCompanyProfile` gives.
#[derive(SimpleObject)]
pub struct UpdateCompanyProfilePayload {
    /// The company with its updated profile.
    pub company: Company,
}

/// What `approveCompany` gives.
#[derive(SimpleObject)]
pub struct ApproveCompanyPayload {
    /// The company, now ACTIVE.
    pub company: Company,
}

/// What `rejectCompany` gives.
#[derive(SimpleObject)]
pub struct RejectCompanyPayload {
    /// The company, now REJECTED, with its `rejectionReason`.
    pub company: Company,
}

/// What `logOut` gives.
#[derive(SimpleObject)]
pub struct LogOutPayload {
    /// Always true: the session of the refresh token is ended (an unknown or already
    /// ended one too). Its access token works until it expires.
    pub logged_out: bool,
}

/// What `logOutEverywhere` gives.
#[derive(SimpleObject)]
pub struct LogOutEverywherePayload {
    /// Always true: every session of the signed-in user is ended. Access tokens already
    /// issued work until they expire.
    pub logged_out: bool,
}

/// One rate budget: requests and cost points (query complexity) a minute.
#[derive(SimpleObject, Clone, Copy)]
pub struct RateBudget {
    /// Requests a minute.
    pub requests_per_minute: u64,
    /// Cost points a minute: each request spends its query's complexity.
    pub points_per_minute: u64,
}

impl From<ils_common::plan::Budget> for RateBudget {
    fn from(b: ils_common::plan::Budget) -> Self {
        RateBudget {
            requests_per_minute: b.requests_per_minute,
            points_per_minute: b.cost_per_minute,
        }
    }
}

/// What a plan includes. A null limit is no limit. An action beyond it answers
/// `PLAN_LIMIT` (with `limit`, `max` and the `plan` that lifts it); reads never do.
#[derive(SimpleObject)]
pub struct PlanIncludes {
    /// The plan.
    pub plan: Plan,
    /// Users, active and invited.
    pub users: Option<u64>,
    /// Active API keys.
    pub api_keys: Option<u64>,
    /// Webhook endpoints.
    pub webhook_endpoints: Option<u64>,
    /// Lens orders submitted in a calendar month (UTC).
    pub monthly_orders: Option<u64>,
    /// Catalog items.
    pub catalog_items: Option<u64>,
    /// The budget of each API key.
    pub api_key_budget: RateBudget,
    /// The budget of each signed-in user.
    pub user_budget: RateBudget,
    /// The budget of the company as a whole (every key and user together).
    pub company_budget: RateBudget,
    /// Whether the assistant may ask a language model (its built-in answers are in every
    /// plan).
    pub assistant_model: bool,
    /// Whether dashboards, their exports and peer benchmarks are included.
    pub analytics: bool,
    /// Whether API keys may be limited to lists of persisted operations (partner
    /// integrations).
    pub partner_operations: bool,
}

impl PlanIncludes {
    pub fn of(plan: Plan, overrides: &ils_common::plan::Overrides) -> PlanIncludes {
        let i = ils_common::plan::includes(plan);
        let b = i.budgets.with(overrides);
        PlanIncludes {
            plan,
            users: i.users,
            api_keys: i.api_keys,
            webhook_endpoints: i.webhook_endpoints,
            monthly_orders: i.monthly_orders,
            catalog_items: i.catalog_items,
            api_key_budget: b.api_key.into(),
            user_budget: b.user.into(),
            company_budget: b.company.into(),
            assistant_model: i.assistant_model,
            analytics: i.analytics,
            partner_operations: i.partner_operations,
        }
    }
}

/// What `requestPlanChange` gives.
#[derive(SimpleObject)]
pub struct RequestPlanChangePayload {
    /// The company: on the smaller plan at once, or with the bigger plan in
    /// `requestedPlan` until a platform admin sets it.
    pub company: Company,
    /// Whether the change waits for a platform admin.
    pub pending: bool,
}

/// What `setCompanyPlan` gives.
#[derive(SimpleObject)]
pub struct SetCompanyPlanPayload {
    /// The company, on its new plan.
    pub company: Company,
}

/// What `setCompanyRateLimits` gives.
#[derive(SimpleObject)]
pub struct SetCompanyRateLimitsPayload {
    /// The company, with its budgets in `includes`.
    pub company: Company,
}

/// Who made the requests of a usage entry.
#[derive(async_graphql::Enum, Copy, Clone, PartialEq, Eq)]
pub enum UsageCaller {
    /// An API key (`apiKeyId`).
    ApiKey,
    /// A signed-in user (`userId`).
    User,
}

/// One caller's use of one operation over a period.
#[derive(SimpleObject)]
pub struct UsageEntry {
    /// An API key or a user.
    pub caller: UsageCaller,
    /// The API key that called (null for a person). An ID rather than the key: a key
    /// revoked since still has its usage.
    pub api_key_id: Option<ID>,
    /// The person who called (null for a key). An ID rather than the user: one who left
    /// still has their usage.
    pub user_id: Option<ID>,
    /// The operation's name as the client sent it ("(anonymous operation)" for none).
    pub operation: String,
    /// Requests, refused ones included.
    pub requests: i64,
    /// Cost points spent (each request's query complexity).
    pub points: i64,
    /// Requests the rate limits refused.
    pub refusals: i64,
    /// Requests that ended with errors.
    pub errors: i64,
}

impl UsageEntry {
    pub fn of(e: crate::service::usage::Entry) -> Option<UsageEntry> {
        let (kind, id) = e.caller.split_once(':')?;
        let id = uuid::Uuid::parse_str(id).ok()?;
        let (caller, api_key_id, user_id) = match kind {
            "key" => (UsageCaller::ApiKey, Some(id::encode(API_KEY, id)), None),
            "user" => (UsageCaller::User, None, Some(id::encode(USER, id))),
            _ => return None,
        };
        Some(UsageEntry {
            caller,
            api_key_id,
            user_id,
            operation: e.operation,
            requests: e.requests,
            points: e.cost,
            refusals: e.refusals,
            errors: e.errors,
        })
    }
}

/// The onboarding checklist of the caller's company: what a new company does to get going,
/// each step ticked by the action itself (never by a button).
#[derive(SimpleObject)]
pub struct Onboarding {
    /// The steps for the company's kind, in order.
    pub steps: Vec<OnboardingStep>,
    /// How many steps are done.
    pub completed: i32,
    /// Whether every step is done.
    pub done: bool,
}

impl Onboarding {
    pub fn of(states: Vec<ils_kernel::onboarding::StepState>) -> Onboarding {
        let completed = states.iter().filter(|s| s.done).count();
        Onboarding {
            done: completed == states.len(),
            completed: i32::try_from(completed).unwrap_or(i32::MAX),
            steps: states
                .into_iter()
                .map(|s| OnboardingStep {
                    key: s.key.to_owned(),
                    title: s.title.to_owned(),
                    how: s.how.to_owned(),
                    done: s.done,
                })
                .collect(),
        }
    }
}

/// One step of the onboarding checklist.
#[derive(SimpleObject)]
pub struct OnboardingStep {
    /// Stable, upper case: PROFILE, LOGO, OPENING_HOURS, COLLEAGUE_INVITED,
    /// FIRST_CONNECTION, then FIRST_ORDER (practices), FIRST_ORDER_ACCEPTED (labs) or
    /// CATALOG (suppliers).
    pub key: String,
    /// A short title, in English.
    pub title: String,
    /// The API call that completes it.
    pub how: String,
    /// Whether the company has done it.
    pub done: bool,
}
