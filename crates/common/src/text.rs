//! Checks on text before it reaches the database.
//!
//! PostgreSQL cannot store the NUL character (`\u0000`) in `text` or `jsonb`, and refuses the
//! whole statement when one is there. Input is checked for it up front so the caller hears
//! which field to fix instead of getting an internal error.

use serde_json::Value;

/// Whether `text` contains a NUL character.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// The path of the first string value or object key in `value` that contains a NUL character,
/// or `None` when there is none. Object keys are joined with `.` and array positions written
/// `[i]`: `name`, `fields.city`, `contactIds[2]`; the empty path is `value` itself. A NUL in a key
/// is shown as `\u0000` in the path.
///
/// ```
/// use serde_json::json;
/// let body = json!({"name": "ok", "fields": {"city": "Re\u{0}cife"}});
/// assert_eq!(common::text::nul_path(&body).as_deref(), Some("fields.city"));
/// assert_eq!(common::text::nul_path(&json!({"tags": ["a", "\u{0}"]})).as_deref(), Some("tags[1]"));
/// assert_eq!(common::text::nul_path(&json!({"name": "ok"})), None);
/// ```
pub fn nul_path(value: &Value) -> Option<String> {
    let mut path = String::new();
    find(value, &mut path).then_some(path)
}

fn find(value: &Value, path: &mut String) -> bool {
    match value {
        Value::String(text) => has_nul(text),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find(item, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(key, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key.replace('\0', "\\u0000"));
            let found = has_nul(key) || find(item, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_at_any_depth_in_values_and_keys() {
        assert_eq!(nul_path(&json!("a\u{0}")).as_deref(), Some(""));
        assert_eq!(nul_path(&json!({"name": "\u{0}"})).as_deref(), Some("name"));
        assert_eq!(
            nul_path(&json!({"a": {"b": [1, {"c": "x\u{0}y"}]}})).as_deref(),
            Some("a.b[1].c")
        );
        assert_eq!(
            nul_path(&json!({"fields": {"ci\u{0}ty": "Recife"}})).as_deref(),
            Some("fields.ci\\u0000ty")
        );
        assert_eq!(
            nul_path(&json!({"a": ["ok", "fine"], "b": {"c": null, "d": 1, "e": true}})),
            None
        );
        // The text `\u0000` (backslash, u, zeros) is not a NUL character.
        assert_eq!(nul_path(&json!({"a": "\\u0000"})), None);
        assert!(has_nul("x\0"));
        assert!(!has_nul("x0"));
    }
}
