//! Campaign message templates.
//!
//! `Hello {{name}}!` substitutes a contact field or campaign variable; `{Hi|Hello|Hey}` picks one
//! variant at random per message, so a bulk send does not repeat one identical text (which is what
//! gets numbers flagged). A template is parsed once when the campaign is created, so a malformed
//! one is refused at the API instead of failing mid-send.

use rand::Rng;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(String),
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
                let name = inner[..close].trim();
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !valid {
                    return Err(TemplateError::BadVariableName(at));
                }
                flush(&mut text, &mut parts);
                parts.push(Part::Variable(name.to_owned()));
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

    /// Renders the template. `lookup` resolves a variable name; an unknown variable renders as
    /// nothing rather than as `{{name}}`, which would look broken to the person receiving it.
    pub fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
        rng: &mut impl Rng,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(lookup(name).unwrap_or_default()),
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
            if let Part::Variable(name) = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
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

    fn render(source: &str, vars: &[(&str, &str)]) -> String {
        let template = Template::parse(source).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        template.render(
            |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
            &mut rng,
        )
    }

    #[test]
    fn substitutes_variables() {
        assert_eq!(render("Hello {{name}}!", &[("name", "Ana")]), "Hello Ana!");
        assert_eq!(
            render(
                "{{ name }}, your code is {{code}}",
                &[("name", "Bo"), ("code", "42")]
            ),
            "Bo, your code is 42"
        );
        assert_eq!(render("Hi {{missing}}.", &[]), "Hi .");
        assert_eq!(render("no variables", &[]), "no variables");
    }

    #[test]
    fn picks_one_variant() {
        let mut seen = std::collections::HashSet::new();
        let template = Template::parse("{Hi|Hello|Hey} {{name}}").unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let text = template.render(|_| Some("Ana"), &mut rng);
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
}
