//! Consent keywords: the replies that opt a contact out of campaigns, or back in.
//!
//! A reply matches a keyword when the whole message, normalised, is that keyword: case, accents,
//! surrounding punctuation and spacing do not matter (`Sair!`, ` Párar `, `CANCELAR.` all match
//! `SAIR` / `PARAR` / `CANCELAR`), but a sentence that merely contains one does not, so "não
//! vou parar de comprar" opts nobody out.

use unicode_normalization::UnicodeNormalization;

/// Opt-out keywords of a tenant that has not set its own.
pub const DEFAULT_OPT_OUT: &[&str] = &[
    "STOP",
    "SAIR",
    "PARAR",
    "CANCELAR",
    "DESCADASTRAR",
    "UNSUBSCRIBE",
];
/// Opt-in keywords of a tenant that has not set its own: the only way back for a contact who
/// opted out.
pub const DEFAULT_OPT_IN: &[&str] = &["START", "VOLTAR", "RETOMAR"];
/// Most keywords per list.
pub const MAX_KEYWORDS: usize = 50;
/// Longest keyword, in characters (after normalising).
pub const MAX_KEYWORD_CHARS: usize = 40;

/// `text` as keywords are compared: accents removed, upper case, punctuation and symbols at
/// either end removed, inner whitespace collapsed to one space.
pub fn normalise(text: &str) -> String {
    let plain: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_uppercase)
        .collect();
    let trimmed = plain.trim_matches(|c: char| !c.is_alphanumeric());
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentReply {
    OptOut,
    OptIn,
}

/// A tenant's keyword lists, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    pub opt_out: Vec<String>,
    pub opt_in: Vec<String>,
}

impl Default for Keywords {
    fn default() -> Self {
        Self {
            opt_out: DEFAULT_OPT_OUT.iter().map(|k| normalise(k)).collect(),
            opt_in: DEFAULT_OPT_IN.iter().map(|k| normalise(k)).collect(),
        }
    }
}

/// Why a keyword list cannot be used: the list (`optOut`, `optIn`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct KeywordError {
    pub field: &'static str,
    pub message: String,
}

impl Keywords {
    /// Checks and normalises lists as a tenant gives them: each word non-empty once
    /// normalised, at most [`MAX_KEYWORD_CHARS`], at most [`MAX_KEYWORDS`] per list, at least
    /// one opt-out keyword, and no word in both lists. Repeats are dropped.
    pub fn new(opt_out: &[String], opt_in: &[String]) -> Result<Self, KeywordError> {
        let list = |field: &'static str, words: &[String]| {
            if words.len() > MAX_KEYWORDS {
                return Err(KeywordError {
                    field,
                    message: format!("at most {MAX_KEYWORDS} keywords"),
                });
            }
            let mut out: Vec<String> = Vec::with_capacity(words.len());
            for (i, word) in words.iter().enumerate() {
                let normal = normalise(word);
                if normal.is_empty() {
                    return Err(KeywordError {
                        field,
                        message: format!(
                            "keyword {} (`{word}`) is empty once case, accents and punctuation are removed",
                            i + 1
                        ),
                    });
                }
                if normal.chars().count() > MAX_KEYWORD_CHARS {
                    return Err(KeywordError {
                        field,
                        message: format!(
                            "keyword {} is longer than {MAX_KEYWORD_CHARS} characters",
                            i + 1
                        ),
                    });
                }
                if !out.contains(&normal) {
                    out.push(normal);
                }
            }
            Ok(out)
        };
        let keywords = Self {
            opt_out: list("optOut", opt_out)?,
            opt_in: list("optIn", opt_in)?,
        };
        if keywords.opt_out.is_empty() {
            return Err(KeywordError {
                field: "optOut",
                message: "at least one opt-out keyword is needed".into(),
            });
        }
        if let Some(both) = keywords
            .opt_out
            .iter()
            .find(|k| keywords.opt_in.contains(k))
        {
            return Err(KeywordError {
                field: "optIn",
                message: format!("`{both}` cannot opt out and opt in at once"),
            });
        }
        Ok(keywords)
    }

    /// Whether `text`, a whole reply, is one of the keywords.
    pub fn reply(&self, text: &str) -> Option<ConsentReply> {
        let normal = normalise(text);
        if self.opt_out.contains(&normal) {
            Some(ConsentReply::OptOut)
        } else if self.opt_in.contains(&normal) {
            Some(ConsentReply::OptIn)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_match_whole_keywords_whatever_their_case_accents_and_punctuation() {
        let keywords = Keywords::default();
        assert_eq!(keywords.reply("stop"), Some(ConsentReply::OptOut));
        assert_eq!(keywords.reply(" Sair! "), Some(ConsentReply::OptOut));
        assert_eq!(keywords.reply("párar"), Some(ConsentReply::OptOut));
        assert_eq!(keywords.reply("CANCELAR."), Some(ConsentReply::OptOut));
        assert_eq!(keywords.reply("*stop*"), Some(ConsentReply::OptOut));
        assert_eq!(keywords.reply("Voltar"), Some(ConsentReply::OptIn));
        assert_eq!(keywords.reply("não vou parar de comprar"), None);
        assert_eq!(keywords.reply("stop please"), None);
        assert_eq!(keywords.reply(""), None);
    }

    #[test]
    fn tenant_lists_are_checked_and_normalised() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let keywords = Keywords::new(
            &words(&["Não quero", "não  QUERO!", "basta"]),
            &words(&["Sí"]),
        )
        .unwrap();
        assert_eq!(keywords.opt_out, ["NAO QUERO", "BASTA"]);
        assert_eq!(keywords.opt_in, ["SI"]);
        assert_eq!(keywords.reply("nao quero"), Some(ConsentReply::OptOut));

        let error = Keywords::new(&words(&["stop", " !! "]), &[]).unwrap_err();
        assert_eq!(error.field, "optOut");
        assert!(error.message.contains("empty"), "{error}");
        assert_eq!(
            Keywords::new(&[], &words(&["start"])).unwrap_err().field,
            "optOut"
        );
        assert_eq!(
            Keywords::new(&words(&["stop"]), &words(&["Stop!"]))
                .unwrap_err()
                .field,
            "optIn"
        );
        let long = "x".repeat(41);
        assert!(Keywords::new(&words(&[&long]), &[]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("w{i}")).collect();
        assert!(Keywords::new(&many, &[]).is_err());
    }
}
