//! What an account role may do: a closed set of named permissions.
//!
//! The names are part of the API and are stored, so a name never changes meaning; adding a
//! permission means a new variant here and in the `account_roles` check of the migrations.

use crate::plan::UnknownVariant;

crate::text_enum! {
    /// One thing an account role allows, named `area.action` (`campaigns.write`).
    #[derive(PartialOrd, Ord)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Permission as "permission" {
        CampaignsRead = "campaigns.read",
        CampaignsWrite = "campaigns.write",
        ContactsRead = "contacts.read",
        ContactsWrite = "contacts.write",
        InboxesRead = "inboxes.read",
        InboxesWrite = "inboxes.write",
        ReportsRead = "reports.read",
        TeamManage = "team.manage",
        SettingsManage = "settings.manage",
    }
}

impl Permission {
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
