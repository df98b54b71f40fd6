//! Platform plans and user roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The platform plan a tenant is on; it sets the tenant's API rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }
}

/// Who a user is on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Operates the platform; belongs to no tenant.
    Superadmin,
    /// Administers one tenant: its users, keys and settings.
    TenantAdmin,
    /// Works inside one tenant: inboxes, contacts, campaigns.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superadmin => "superadmin",
            Role::TenantAdmin => "tenant_admin",
            Role::User => "user",
        }
    }
}

/// A stored enum value that no variant matches: the database and the code disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! text_enum {
    ($ty:ty, $kind:literal, [$($variant:expr),*]) => {
        impl FromStr for $ty {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                [$($variant),*]
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownVariant { kind: $kind, value: s.to_owned() })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(Plan, "plan", [Plan::Free, Plan::Pro, Plan::Enterprise]);
text_enum!(
    Role,
    "role",
    [Role::Superadmin, Role::TenantAdmin, Role::User]
);

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
