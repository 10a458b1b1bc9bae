use uuid::Uuid;

/// A company member's role. Platform admins carry none of these.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    CompanyAdmin,
    Manager,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CompanyAdmin => "COMPANY_ADMIN",
            Role::Manager => "MANAGER",
            Role::Staff => "STAFF",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "COMPANY_ADMIN" => Some(Role::CompanyAdmin),
            "MANAGER" => Some(Role::Manager),
            "STAFF" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// Who is acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User(Uuid),
    ApiKey {
        id: Uuid,
        created_by: Uuid,
    },
    /// The server itself: a background job or event handler acting for a company.
    System,
}

/// Everything the data layer needs to know about the caller of one request. Built once by
/// `api` from the credentials presented; domain crates only read it.
#[derive(Clone, Debug)]
pub struct TenantContext {
    pub company_id: Option<Uuid>,
    pub actor: Actor,
    pub roles: Vec<Role>,
    pub platform_admin: bool,
    /// An API key limited to persisted operations.
    pub persisted_only: bool,
}

impl TenantContext {
    pub fn anonymous() -> Self {
        TenantContext {
            company_id: None,
            actor: Actor::Anonymous,
            roles: vec![],
            platform_admin: false,
            persisted_only: false,
        }
    }

    /// The context of background work for `company` (no person, no roles).
    pub fn system_for(company: Option<Uuid>) -> Self {
        TenantContext {
            company_id: company,
            actor: Actor::System,
            ..TenantContext::anonymous()
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.actor == Actor::Anonymous
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }

    /// The person responsible for this request: the user, or the one who made the API key.
    pub fn responsible_user(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User(id) => Some(id),
            Actor::ApiKey { created_by, .. } => Some(created_by),
            Actor::Anonymous | Actor::System => None,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Where a request came from, for throttling and (later) the audit log.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}
