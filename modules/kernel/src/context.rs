use uuid::Uuid;

/// A company member's role. Platform admins carry none of these.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Runs the company's account: members, roles, API keys, webhooks, settings, and
    /// everything a manager may do.
    CompanyAdmin,
    /// Runs the daily trade: orders, purchasing, stock settings and counts, and
    /// everything staff may do.
    Manager,
    /// Works with the company's data: patients, order drafts, stock movements.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
/// the credential flows (`for_user`, `for_api_key`: banned by clippy elsewhere); domain
/// crates only read it. Background work acting for a company gets its context from
/// the kernel: an event handler for a company its event was addressed to
/// (`Event::act_for_audience`), a job for its own company (`JobRun::tenant`), anything
/// else through `ils_kernel::system::act_for`, which names who acts and why in the audit
/// log.
#[derive(Clone, Debug)]
pub struct TenantContext {
    company_id: Option<Uuid>,
    actor: Actor,
    roles: Vec<Role>,
    platform_admin: bool,
    /// An API key limited to persisted operations.
    persisted_only: bool,
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

    /// A signed-in user: a member of `company` with `roles`, or (with no company) the
    /// platform operator when `platform_admin`.
    pub fn for_user(
        company: Option<Uuid>,
        user: Uuid,
        roles: Vec<Role>,
        platform_admin: bool,
    ) -> Self {
        TenantContext {
            company_id: company,
            actor: Actor::User(user),
            roles,
            platform_admin: platform_admin && company.is_none(),
            persisted_only: false,
        }
    }

    /// An API key of `company`, made by `created_by`, acting with `roles`.
    pub fn for_api_key(
        company: Uuid,
        key: Uuid,
        created_by: Uuid,
        roles: Vec<Role>,
        persisted_only: bool,
    ) -> Self {
        TenantContext {
            company_id: Some(company),
            actor: Actor::ApiKey {
                id: key,
                created_by,
            },
            roles,
            platform_admin: false,
            persisted_only,
        }
    }

    /// The context of background work for `company` (no person, no roles). Kernel only:
    /// a job's own company (`JobRun::tenant`), an event's audience
    /// (`Event::act_for_audience`), or `system::act_for`, which audits it.
    pub(crate) fn system_for(company: Option<Uuid>) -> Self {
        TenantContext {
            company_id: company,
            actor: Actor::System,
            ..TenantContext::anonymous()
        }
    }

    /// The acting company, if any.
    pub fn company_id(&self) -> Option<Uuid> {
        self.company_id
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The platform operator (never a member of a company at the same time).
    pub fn is_platform_admin(&self) -> bool {
        self.platform_admin
    }

    /// An API key limited to persisted operations.
    pub fn is_persisted_only(&self) -> bool {
        self.persisted_only
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
