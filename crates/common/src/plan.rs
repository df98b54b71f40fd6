//! Platform plans and user roles.

crate::text_enum! {
    /// The platform plan a tenant is on; it sets the tenant's API rate limit.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Plan as "plan" {
        Free = "free",
        Pro = "pro",
        Enterprise = "enterprise",
    }
}

crate::text_enum! {
    /// Who a user is on the platform.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Role as "role" {
        /// Operates the platform; belongs to no tenant.
        Superadmin = "superadmin",
        /// Administers one tenant: its users, keys and settings.
        TenantAdmin = "tenant_admin",
        /// Works inside one tenant: inboxes, contacts, campaigns.
        User = "user",
    }
}

/// A stored enum value that no variant matches: the database and the code disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_and_roles_round_trip() {
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().unwrap(), plan);
            assert_eq!(
                serde_json::to_string(&plan).unwrap(),
                format!("\"{}\"", plan.as_str())
            );
        }
        for role in [Role::Superadmin, Role::TenantAdmin, Role::User] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!(
            "gold".parse::<Plan>().unwrap_err().to_string(),
            "unknown plan `gold`"
        );
    }
}
