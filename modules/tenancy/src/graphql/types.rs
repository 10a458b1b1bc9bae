use crate::model::{CompanyStatus, CompanyType, Plan, UserStatus};
use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::{Role, id};

pub use crate::model::{API_KEY, COMPANY, INVITATION, USER};

/// A person who signs in to ILS.
pub struct User(pub user::Model);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        id::encode(USER, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    /// The user's role in their company; null for platform admins.
    async fn role(&self) -> Option<Role> {
        Role::parse(&self.0.role)
    }
    async fn status(&self) -> Option<UserStatus> {
        Some(self.0.status)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An eye-care practice, lens lab or supplier.
pub struct Company(pub company::Model);

#[Object]
impl Company {
    pub async fn id(&self) -> ID {
        id::encode(COMPANY, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(name = "type")]
    async fn company_type(&self) -> Option<CompanyType> {
        CompanyType::parse(&self.0.company_type)
    }
    async fn status(&self) -> Option<CompanyStatus> {
        Some(self.0.status)
    }
    async fn plan(&self) -> Option<Plan> {
        Plan::parse(&self.0.plan)
    }
    /// Why the platform rejected the registration, when it did.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    async fn opening_hours(&self) -> Option<&str> {
        self.0.opening_hours.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(async_graphql::Enum, Copy, Clone, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation to join the company.
pub struct Invitation(pub invitation::Model);

#[Object]
impl Invitation {
    pub async fn id(&self) -> ID {
        id::encode(INVITATION, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Option<Role> {
        Role::parse(&self.0.role)
    }
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
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A partner's API key. The secret itself is shown only once, when it is created.
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    pub async fn id(&self) -> ID {
        id::encode(API_KEY, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> Option<Role> {
        Role::parse(&self.0.role)
    }
    /// The key may run only persisted operations.
    async fn persisted_only(&self) -> bool {
        self.0.persisted_only
    }
    /// The first characters of the secret, to recognise the key.
    async fn prefix(&self) -> &str {
        &self.0.key_prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new session: send `accessToken` as `Authorization: Bearer …`; trade `refreshToken`
/// for a new pair with `refreshSession` before `expiresIn` seconds pass.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: User,
    /// Null for platform admins.
    pub company: Option<Company>,
}

impl From<crate::service::Session> for AuthPayload {
    fn from(s: crate::service::Session) -> Self {
        AuthPayload {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: s.expires_in,
            user: User(s.user),
            company: s.company.map(Company),
        }
    }
}

/// The caller of the request: a signed-in user or an API key, with the company it acts
/// for and the roles it acts with.
#[derive(SimpleObject)]
pub struct Me {
    /// The signed-in user; null when the caller is an API key.
    pub user: Option<User>,
    /// The API key making the request; null for a signed-in user.
    pub api_key: Option<ApiKey>,
    pub company: Option<Company>,
    pub roles: Vec<Role>,
    pub platform_admin: bool,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// The secret, shown this once. Send it as the `X-Api-Key` header.
    pub secret: String,
}

#[derive(SimpleObject)]
pub struct InviteUserPayload {
    pub invitation: Invitation,
    /// The token the invitee passes to `acceptInvitation`, shown this once.
    pub token: String,
}
