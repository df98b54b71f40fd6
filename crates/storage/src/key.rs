//! Where an object lives: a checked, `/`-separated path that cannot leave the store's root.

use std::fmt;
use std::str::FromStr;

/// The longest segment, so every segment is also a valid file name on the local filesystem.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// The longest key; S3 refuses keys over 1024 bytes, and the URL's prefix counts too.
pub const MAX_KEY_BYTES: usize = 900;

/// The name of an object, such as `tenants/0190c2d4-…/imports/0190c2d5-….csv`.
///
/// Built from segments that each hold only ASCII letters, digits, `-`, `_` and `.`, and are
/// never empty, `.` or `..`; so a key can neither climb out of the storage root nor be read
/// differently by the local filesystem and S3. Keys are made by services from ids they trust;
/// a name a user typed belongs in the database next to the key, not in it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("a storage key needs at least one segment")]
    Empty,
    #[error("storage key {key:?} starts with `/`; keys are relative to the storage root")]
    Absolute { key: String },
    #[error("storage key {key:?} has an empty segment")]
    EmptySegment { key: String },
    #[error("storage key {key:?} has a `.` or `..` segment")]
    DotSegment { key: String },
    #[error(
        "storage key {key:?} contains {found:?}; segments hold only ASCII letters, digits, `-`, `_` and `.`"
    )]
    Character { key: String, found: char },
    #[error("a storage key segment is {len} bytes long; at most {MAX_SEGMENT_BYTES} are allowed")]
    SegmentTooLong { len: usize },
    #[error("a storage key is {len} bytes long; at most {MAX_KEY_BYTES} are allowed")]
    TooLong { len: usize },
}

impl StorageKey {
    /// A key from its segments, such as `["tenants", &tenant_id, "imports", &file_name]`.
    pub fn new<I, S>(segments: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut key = String::new();
        for segment in segments {
            let segment = segment.as_ref();
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(segment);
            check_segment(segment, &key)?;
        }
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        check_length(&key)?;
        Ok(Self(key))
    }

    /// A key written with `/` between segments, such as one read back from the database.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.starts_with('/') {
            return Err(KeyError::Absolute {
                key: key.to_owned(),
            });
        }
        for segment in key.split('/') {
            check_segment(segment, key)?;
        }
        check_length(key)?;
        Ok(Self(key.to_owned()))
    }

    /// This key with one more segment at the end.
    pub fn join(&self, segment: impl AsRef<str>) -> Result<Self, KeyError> {
        Self::new(self.segments().chain([segment.as_ref()]))
    }

    /// `inner` under this key. Both are valid, so only their joint length is unchecked; a store
    /// refuses a key that is too long.
    pub(crate) fn nested(&self, inner: &StorageKey) -> Self {
        Self(format!("{}/{}", self.0, inner.0))
    }

    /// The segments, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The key with `/` between segments: what [`StorageKey::parse`] takes back.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_segment(segment: &str, key: &str) -> Result<(), KeyError> {
    if segment.is_empty() {
        return Err(KeyError::EmptySegment {
            key: key.to_owned(),
        });
    }
    if segment == "." || segment == ".." {
        return Err(KeyError::DotSegment {
            key: key.to_owned(),
        });
    }
    // Also refuses `/` and `\` inside a segment, and `#`, which the local store uses for the
    // files of uploads in progress.
    if let Some(found) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(KeyError::Character {
            key: key.to_owned(),
            found,
        });
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err(KeyError::SegmentTooLong { len: segment.len() });
    }
    Ok(())
}

fn check_length(key: &str) -> Result<(), KeyError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong { len: key.len() });
    }
    Ok(())
}

impl FromStr for StorageKey {
    type Err = KeyError;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

impl AsRef<str> for StorageKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_built_from_segments_or_parsed() {
        let key = StorageKey::new(["tenants", "t-1", "imports", "file_01.csv"]).unwrap();
        assert_eq!(key.as_str(), "tenants/t-1/imports/file_01.csv");
        assert_eq!(StorageKey::parse(key.as_str()).unwrap(), key);
        assert_eq!(
            key.segments().collect::<Vec<_>>(),
            ["tenants", "t-1", "imports", "file_01.csv"]
        );
        let child = StorageKey::parse("exports").unwrap().join("a.csv").unwrap();
        assert_eq!(child.to_string(), "exports/a.csv");
    }

    #[test]
    fn traversal_and_odd_keys_are_refused() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "a/./b",
            "..",
            ".",
            "/etc/passwd",
            "a//b",
            "a/",
            "",
            "a\\..\\b",
            "C:\\x",
            "a b",
            "a#1",
            "a%2e%2e",
            "é",
            "a\nb",
        ] {
            assert!(StorageKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            StorageKey::new(["a", ".."]),
            Err(KeyError::DotSegment { key: "a/..".into() })
        );
        assert!(matches!(
            StorageKey::new(["a/b"]),
            Err(KeyError::Character { found: '/', .. })
        ));
        assert!(matches!(
            StorageKey::new(["", "a"]),
            Err(KeyError::EmptySegment { .. })
        ));
        assert_eq!(StorageKey::new(Vec::<&str>::new()), Err(KeyError::Empty));
        assert!(matches!(
            StorageKey::parse("/abs"),
            Err(KeyError::Absolute { .. })
        ));
        assert!(StorageKey::parse("ok").unwrap().join("../escape").is_err());
    }

    #[test]
    fn lengths_are_bounded() {
        let long_segment = "a".repeat(MAX_SEGMENT_BYTES + 1);
        assert_eq!(
            StorageKey::new([long_segment.as_str()]),
            Err(KeyError::SegmentTooLong {
                len: MAX_SEGMENT_BYTES + 1
            })
        );
        let segment = "a".repeat(200);
        let many = vec![segment.as_str(); 5];
        assert!(matches!(
            StorageKey::new(many),
            Err(KeyError::TooLong { .. })
        ));
    }
}
