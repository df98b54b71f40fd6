//! Phone numbers as WhatsApp wants them: E.164 digits without the `+`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form, stored as its digits only (country code first, no `+`).
///
/// Parsing accepts what people type (`+55 (11) 99999-9999`, `55.11.99999.9999`) and rejects
/// anything that cannot be a number, so the rest of the system never sees a bad one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "5511999999999"))]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "phone number may contain only digits, spaces, dots, dashes, parentheses and a leading +"
    )]
    InvalidCharacter,
    #[error("phone number must have 8 to 15 digits including the country code (E.164), got {0}")]
    WrongLength(usize),
    #[error("phone number cannot start with 0: begin with the country code")]
    LeadingZero,
}

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(PhoneError::InvalidCharacter),
            }
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneError::WrongLength(digits.len()));
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        Ok(Self(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_people_type() {
        for input in [
            "5511999999999",
            "+5511999999999",
            " +55 (11) 99999-9999 ",
            "55.11.99999.9999",
        ] {
            assert_eq!(
                PhoneNumber::parse(input).unwrap().digits(),
                "5511999999999",
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_what_cannot_be_a_number() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("55a11"),
            Err(PhoneError::InvalidCharacter)
        );
        assert_eq!(
            PhoneNumber::parse("1234567"),
            Err(PhoneError::WrongLength(7))
        );
        assert_eq!(
            PhoneNumber::parse("1234567890123456"),
            Err(PhoneError::WrongLength(16))
        );
        assert_eq!(
            PhoneNumber::parse("011999999999"),
            Err(PhoneError::LeadingZero)
        );
        assert!(PhoneNumber::parse("++5511999999999").is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<PhoneNumber>("\"+5511999999999\"").is_ok());
        assert!(serde_json::from_str::<PhoneNumber>("\"abc\"").is_err());
    }
}
