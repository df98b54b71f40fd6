//! What an account role may do: a closed set of named permissions.
//!
//! The names are part of the API and are stored, so a name never changes meaning; adding a
//! permission means a new variant here and in the `account_roles` check of the migrations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::{UnknownVariant, text_enum};

/// One thing an account role allows, named `area.action` (`campaigns.write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    #[serde(rename = "campaigns.read")]
    CampaignsRead,
    #[serde(rename = "campaigns.write")]
    CampaignsWrite,
    #[serde(rename = "contacts.read")]
    ContactsRead,
    #[serde(rename = "contacts.write")]
    ContactsWrite,
    #[serde(rename = "inboxes.read")]
    InboxesRead,
    #[serde(rename = "inboxes.write")]
    InboxesWrite,
    #[serde(rename = "reports.read")]
    ReportsRead,
    #[serde(rename = "team.manage")]
    TeamManage,
    #[serde(rename = "settings.manage")]
    SettingsManage,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::CampaignsRead,
        Permission::CampaignsWrite,
        Permission::ContactsRead,
        Permission::ContactsWrite,
        Permission::InboxesRead,
        Permission::InboxesWrite,
        Permission::ReportsRead,
        Permission::TeamManage,
        Permission::SettingsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CampaignsRead => "campaigns.read",
            Permission::CampaignsWrite => "campaigns.write",
            Permission::ContactsRead => "contacts.read",
            Permission::ContactsWrite => "contacts.write",
            Permission::InboxesRead => "inboxes.read",
            Permission::InboxesWrite => "inboxes.write",
            Permission::ReportsRead => "reports.read",
            Permission::TeamManage => "team.manage",
            Permission::SettingsManage => "settings.manage",
        }
    }

    /// Parses `names` into a sorted set: duplicates collapse, the first unknown name is the error.
    pub fn parse_set<S: AsRef<str>>(names: &[S]) -> Result<Vec<Permission>, UnknownVariant> {
        let mut set = names
            .iter()
            .map(|name| name.as_ref().parse())
            .collect::<Result<Vec<Permission>, _>>()?;
        set.sort_unstable();
        set.dedup();
        Ok(set)
    }
}

text_enum!(
    Permission,
    "permission",
    [
        Permission::CampaignsRead,
        Permission::CampaignsWrite,
        Permission::ContactsRead,
        Permission::ContactsWrite,
        Permission::InboxesRead,
        Permission::InboxesWrite,
        Permission::ReportsRead,
        Permission::TeamManage,
        Permission::SettingsManage
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for permission in Permission::ALL {
            assert_eq!(
                permission.as_str().parse::<Permission>().unwrap(),
                permission
            );
            assert_eq!(
                serde_json::to_string(&permission).unwrap(),
                format!("\"{permission}\"")
            );
        }
    }

    #[test]
    fn a_set_is_sorted_and_deduplicated_and_names_the_unknown() {
        assert_eq!(
            Permission::parse_set(&["team.manage", "campaigns.read", "team.manage"]).unwrap(),
            [Permission::CampaignsRead, Permission::TeamManage]
        );
        assert_eq!(
            Permission::parse_set(&["campaigns.read", "campaigns.delete"])
                .unwrap_err()
                .to_string(),
            "unknown permission `campaigns.delete`"
        );
    }
}
