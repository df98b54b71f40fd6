//! Template checks the campaign API makes before it accepts a campaign.

use common::template::Template;

/// Variables of `template` that `variables` lacks (missing, null or empty text).
pub fn missing_variables(
    template: &Template,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut missing: Vec<String> = template
        .variables()
        .into_iter()
        .filter(|name| match variables.get(*name) {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::String(s)) => s.is_empty(),
            Some(_) => false,
        })
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}
