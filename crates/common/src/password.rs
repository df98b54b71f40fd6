//! Passwords of people who sign in: checked for length, hashed with argon2id (the crate's
//! defaults: 19 MiB, two passes, one lane, as OWASP recommends) into a PHC string, which is all
//! that is stored. Hashing takes tens of milliseconds on purpose: callers run it off the async
//! threads (`spawn_blocking`).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 10;
/// Most bytes a password may have: hashing cost grows with the input.
pub const MAX_BYTES: usize = 1024;

/// Why a new password is refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must have at least {MIN_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_BYTES} bytes")]
    TooLong,
    #[error("the password must not be the email address")]
    IsTheEmail,
}

/// Whether `password` may be chosen by the person with `email`.
pub fn check_new(password: &SecretString, email: &str) -> Result<(), WeakPassword> {
    let password = password.expose_secret();
    if password.len() > MAX_BYTES {
        return Err(WeakPassword::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(WeakPassword::IsTheEmail);
    }
    Ok(())
}

/// An argon2id PHC string (`$argon2id$v=19$m=...`): what is stored of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    /// A stored hash, as read from the database.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString(..)")
    }
}

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &SecretString) -> PasswordHashString {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes are a valid salt");
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .expect("argon2id with its default parameters hashes any input up to MAX_BYTES");
    PasswordHashString(hash.to_string())
}

/// Whether `password` matches `stored`; a stored string that is not a valid hash matches
/// nothing. Without a stored hash (an unknown user, or one who never set a password) the
/// same work is done against a fixed hash, so the answer takes as long either way and does
/// not tell whether the account exists.
pub fn verify(password: &SecretString, stored: Option<&PasswordHashString>) -> bool {
    let Some(stored) = stored else {
        let _ = verify_against(password, &DUMMY);
        return false;
    };
    verify_against(password, stored.as_str())
}

fn verify_against(password: &SecretString, phc: &str) -> bool {
    let candidate = password.expose_secret().as_bytes();
    if candidate.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(candidate, &parsed)
            .is_ok()
    })
}

/// The hash of a random string nobody knows, with the default parameters.
static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut random = [0u8; 24];
    rand::rng().fill_bytes(&mut random);
    hash(&SecretString::from(hex_of(&random))).0
});

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash(&secret("correct horse battery"));
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert!(verify(&secret("correct horse battery"), Some(&stored)));
        assert!(!verify(&secret("correct horse batterY"), Some(&stored)));
        assert!(!verify(&secret("correct horse battery"), None));
        let garbage = PasswordHashString::from_stored("not a hash".to_owned());
        assert!(!verify(&secret("not a hash"), Some(&garbage)));
        // Salted: the same password hashes differently each time.
        assert_ne!(stored, hash(&secret("correct horse battery")));
    }

    #[test]
    fn new_passwords_are_checked() {
        assert_eq!(
            check_new(&secret("short"), "a@b.c"),
            Err(WeakPassword::TooShort)
        );
        assert_eq!(
            check_new(&secret(&"x".repeat(MAX_BYTES + 1)), "a@b.c"),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(
            check_new(&secret("Owner@Example.com"), "owner@example.com"),
            Err(WeakPassword::IsTheEmail)
        );
        // Characters, not bytes: ten accented letters are enough.
        assert_eq!(check_new(&secret("éééééééééé"), "a@b.c"), Ok(()));
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let stored = hash(&secret("correct horse battery"));
        assert_eq!(format!("{stored:?}"), "PasswordHashString(..)");
    }
}
