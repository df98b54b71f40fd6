//! Campaign message templates.
//!
//! `Hello {{name}}!` substitutes a contact field or campaign variable; `{{name|there}}` does the
//! same but falls back to `there` when the contact has no `name` (or it is empty or null);
//! `{Hi|Hello|Hey}` picks one variant at random per message, so a bulk send does not repeat one
//! identical text (which is what gets numbers flagged). A template is parsed once when the
//! campaign is created, so a malformed one is refused at the API instead of failing mid-send.
//!
//! Variables come from a JSON object (a contact's fields): strings render as they are, numbers
//! and booleans as JSON writes them (`42`, `3.5`, `true`), and null, objects and arrays as empty
//! text.

use rand::Rng;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable {
        name: String,
        /// `{{name|default}}`; `Some("")` for `{{name|}}`, an explicit empty default.
        default: Option<String>,
    },
    Variants(Vec<String>),
}

/// A parsed template, ready to render per recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template is empty")]
    Empty,
    #[error("`{{{{` at byte {0} is never closed with `}}}}`")]
    UnclosedVariable(usize),
    #[error("variable name at byte {0} must be letters, digits, `_`, `-` or `.`")]
    BadVariableName(usize),
    #[error("`{{` at byte {0} is never closed with `}}`")]
    UnclosedVariants(usize),
    #[error("variation at byte {0} needs at least two options separated by `|`")]
    SingleVariant(usize),
}

pub const MAX_TEMPLATE_LEN: usize = 4096;

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if source.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let at = offset + open;
            let after = &rest[open..];
            let consumed = if let Some(inner) = after.strip_prefix("{{") {
                let close = inner
                    .find("}}")
                    .ok_or(TemplateError::UnclosedVariable(at))?;
                let (name, default) = match inner[..close].split_once('|') {
                    Some((name, default)) => (name.trim(), Some(default.trim().to_owned())),
                    None => (inner[..close].trim(), None),
                };
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !valid {
                    return Err(TemplateError::BadVariableName(at));
                }
                flush(&mut text, &mut parts);
                parts.push(Part::Variable {
                    name: name.to_owned(),
                    default,
                });
                2 + close + 2
            } else {
                let inner = &after[1..];
                let close = inner.find('}').ok_or(TemplateError::UnclosedVariants(at))?;
                let body = &inner[..close];
                if body.contains('{') {
                    return Err(TemplateError::UnclosedVariants(at));
                }
                let options: Vec<String> = body.split('|').map(str::to_owned).collect();
                if options.len() < 2 {
                    return Err(TemplateError::SingleVariant(at));
                }
                flush(&mut text, &mut parts);
                parts.push(Part::Variants(options));
                1 + close + 1
            };
            rest = &after[consumed..];
            offset = at + consumed;
        }
        text.push_str(rest);
        flush(&mut text, &mut parts);
        Ok(Self { parts })
    }

    /// Renders the template for one recipient from `variables`, a contact's fields:
    /// `template.render(&fields, &mut rng)` with `fields: &serde_json::Map<String, Value>`.
    ///
    /// A variable that `variables` lacks (or holds as null, an empty string, an object or an
    /// array) renders as its default, or as nothing rather than as `{{name}}`, which would look
    /// broken to the person receiving it.
    pub fn render(&self, variables: &Map<String, Value>, rng: &mut impl Rng) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Variable { name, default } => {
                    let before = out.len();
                    if let Some(value) = variables.get(name) {
                        out.push_str(&value_text(value));
                    }
                    if out.len() == before {
                        out.push_str(default.as_deref().unwrap_or_default());
                    }
                }
                Part::Variants(options) => {
                    out.push_str(&options[rng.random_range(0..options.len())]);
                }
            }
        }
        out
    }

    /// Variable names the template uses, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Variable { name, .. } = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Variables without a default that `variables` lacks (missing, or rendering as empty text:
    /// null, `""`, an object or an array), in order of first use: what would render as nothing.
    /// A variable used both with and without a default is listed when any use has none.
    pub fn missing_variables<'a>(&'a self, variables: &Map<String, Value>) -> Vec<&'a str> {
        let mut missing: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Variable {
                name,
                default: None,
            } = part
                && !missing.contains(&name.as_str())
                && variables.get(name).is_none_or(|v| value_text(v).is_empty())
            {
                missing.push(name);
            }
        }
        missing
    }
}

/// A variable's text: strings as they are, numbers and booleans as JSON writes them, anything
/// else as nothing.
fn value_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(text) => std::borrow::Cow::Borrowed(text),
        Value::Number(number) => std::borrow::Cow::Owned(number.to_string()),
        Value::Bool(flag) => std::borrow::Cow::Borrowed(if *flag { "true" } else { "false" }),
        Value::Null | Value::Array(_) | Value::Object(_) => std::borrow::Cow::Borrowed(""),
    }
}

fn flush(text: &mut String, parts: &mut Vec<Part>) {
    if !text.is_empty() {
        parts.push(Part::Text(std::mem::take(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn render(source: &str, variables: Value) -> String {
        let template = Template::parse(source).unwrap();
        template.render(&vars(variables), &mut StdRng::seed_from_u64(7))
    }

    #[test]
    fn substitutes_variables() {
        assert_eq!(
            render("Hello {{name}}!", json!({"name": "Ana"})),
            "Hello Ana!"
        );
        assert_eq!(
            render(
                "{{ name }}, your code is {{code}}",
                json!({"name": "Bo", "code": "42"})
            ),
            "Bo, your code is 42"
        );
        assert_eq!(render("Hi {{missing}}.", json!({})), "Hi .");
        assert_eq!(render("no variables", json!({})), "no variables");
    }

    #[test]
    fn numbers_and_booleans_render_as_json_writes_them() {
        let fields = json!({
            "age": 42, "price": 3.5, "neg": -7, "big": 12345678901234567_u64,
            "vip": true, "churned": false, "none": null, "obj": {"a": 1}, "list": [1, 2],
        });
        assert_eq!(
            render(
                "{{age}}|{{price}}|{{neg}}|{{big}}|{{vip}}|{{churned}}",
                fields.clone()
            ),
            "42|3.5|-7|12345678901234567|true|false"
        );
        assert_eq!(render("[{{none}}][{{obj}}][{{list}}]", fields), "[][][]");
    }

    #[test]
    fn defaults_fill_missing_empty_and_null_variables() {
        let source = "Hello {{name|there}}, from {{ city | your city }}!";
        assert_eq!(
            render(source, json!({"name": "Ana", "city": "Recife"})),
            "Hello Ana, from Recife!"
        );
        assert_eq!(render(source, json!({})), "Hello there, from your city!");
        assert_eq!(
            render(source, json!({"name": "", "city": null})),
            "Hello there, from your city!"
        );
        assert_eq!(
            render(source, json!({"name": 0, "city": false})),
            "Hello 0, from false!"
        );
        assert_eq!(render("a{{x|}}b", json!({})), "ab");
        assert_eq!(render("{{x|a|b}}", json!({})), "a|b");
        assert_eq!(
            Template::parse("{{|there}}"),
            Err(TemplateError::BadVariableName(0))
        );
    }

    #[test]
    fn missing_variables_are_those_without_a_default_or_value() {
        let template =
            Template::parse("{{name}} {{city|somewhere}} {{code}} {{age}} {{name}} {{vip}}")
                .unwrap();
        assert_eq!(template.variables(), ["name", "city", "code", "age", "vip"]);
        assert_eq!(
            template.missing_variables(&vars(json!({}))),
            ["name", "code", "age", "vip"]
        );
        assert_eq!(
            template.missing_variables(&vars(
                json!({"name": "Ana", "code": "", "age": 0, "vip": null})
            )),
            ["code", "vip"]
        );
        let mixed = Template::parse("{{name|you}} {{name}}").unwrap();
        assert_eq!(mixed.missing_variables(&vars(json!({}))), ["name"]);
        let defaulted = Template::parse("{{name|you}}").unwrap();
        assert!(defaulted.missing_variables(&vars(json!({}))).is_empty());
    }

    #[test]
    fn picks_one_variant() {
        let mut seen = std::collections::HashSet::new();
        let template = Template::parse("{Hi|Hello|Hey} {{name}}").unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let variables = vars(json!({"name": "Ana"}));
        for _ in 0..200 {
            let text = template.render(&variables, &mut rng);
            assert!(
                ["Hi Ana", "Hello Ana", "Hey Ana"].contains(&text.as_str()),
                "{text}"
            );
            seen.insert(text);
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn refuses_malformed_templates() {
        assert_eq!(Template::parse(" "), Err(TemplateError::Empty));
        assert_eq!(
            Template::parse("Hello {{name"),
            Err(TemplateError::UnclosedVariable(6))
        );
        assert_eq!(
            Template::parse("Hello {{na me}}"),
            Err(TemplateError::BadVariableName(6))
        );
        assert_eq!(
            Template::parse("{a|b"),
            Err(TemplateError::UnclosedVariants(0))
        );
        assert_eq!(
            Template::parse("x {alone}"),
            Err(TemplateError::SingleVariant(2))
        );
    }

    #[test]
    fn lists_variables_once() {
        let template = Template::parse("{{name}} {{city}} {{name}}").unwrap();
        assert_eq!(template.variables(), ["name", "city"]);
    }

    /// Property: a template assembled from random pieces renders exactly the text the pieces
    /// predict for a random set of variables, and lists exactly the variables that render empty
    /// without a default as missing.
    #[test]
    fn random_templates_render_as_their_pieces_predict() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let names = ["name", "city", "code", "vip", "x.y"];
        let texts = ["", "a", "Olá ", "x|y", "}", " 1 ", "\n"];
        for round in 0..2_000 {
            let mut variables = Map::new();
            for name in names {
                let value = match rng.random_range(0..7) {
                    0 => continue,
                    1 => Value::Null,
                    2 => json!(""),
                    3 => json!(rng.random_range(-1000..1000)),
                    4 => json!(rng.random_bool(0.5)),
                    5 => json!(f64::from(rng.random_range(-100..100)) / 4.0),
                    _ => json!(format!("v{}", rng.random_range(0..100))),
                };
                variables.insert(name.to_owned(), value);
            }
            let mut source = String::new();
            let mut expected = String::new();
            let mut missing: Vec<&str> = Vec::new();
            for _ in 0..rng.random_range(1..8) {
                match rng.random_range(0..3) {
                    0 => {
                        let text = texts[rng.random_range(0..texts.len())];
                        source.push_str(text);
                        expected.push_str(text);
                    }
                    1 => {
                        let name = names[rng.random_range(0..names.len())];
                        let value = variables.get(name).map(value_text).unwrap_or_default();
                        let default = ["", "there", "a b"][rng.random_range(0..3)];
                        let with_default = rng.random_bool(0.5);
                        if with_default {
                            source.push_str(&format!("{{{{ {name} | {default} }}}}"));
                        } else {
                            source.push_str(&format!("{{{{{name}}}}}"));
                        }
                        if !value.is_empty() {
                            expected.push_str(&value);
                        } else if with_default {
                            expected.push_str(default);
                        } else if !missing.contains(&name) {
                            missing.push(name);
                        }
                    }
                    _ => {
                        // One option repeated: whichever the rng picks renders the same.
                        let option = ["hi", "", "x y"][rng.random_range(0..3)];
                        source.push_str(&format!("{{{option}|{option}}}"));
                        expected.push_str(option);
                    }
                }
            }
            if source.trim().is_empty() {
                continue;
            }
            let template = Template::parse(&source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
            assert_eq!(
                template.render(&variables, &mut rng),
                expected,
                "round {round}: {source:?} with {variables:?}"
            );
            let mut listed = template.missing_variables(&variables);
            let mut predicted = missing.clone();
            listed.sort_unstable();
            predicted.sort_unstable();
            assert_eq!(
                listed, predicted,
                "round {round}: {source:?} with {variables:?}"
            );
        }
    }

    /// Property: parsing arbitrary text never panics, and error offsets point inside it.
    #[test]
    fn parsing_random_text_never_panics() {
        let mut rng = StdRng::seed_from_u64(42);
        let alphabet = ['{', '}', '|', 'a', ' ', '.', 'é', '\u{0}'];
        for _ in 0..20_000 {
            let source: String = (0..rng.random_range(0..16))
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            match Template::parse(&source) {
                Ok(template) => {
                    let _ = template.render(&Map::new(), &mut rng);
                    let _ = template.missing_variables(&Map::new());
                }
                Err(
                    TemplateError::UnclosedVariable(at)
                    | TemplateError::BadVariableName(at)
                    | TemplateError::UnclosedVariants(at)
                    | TemplateError::SingleVariant(at),
                ) => assert!(
                    at < source.len() && source.is_char_boundary(at),
                    "{source:?}"
                ),
                Err(TemplateError::Empty) => assert!(source.trim().is_empty()),
            }
        }
    }
}
