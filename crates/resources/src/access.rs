//! Access keys: the named locks a request takes, parsed from the planner's `read:KEY` / `write:KEY`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::AccessKeyError;

/// How a lock is held: many readers share it, a writer holds it alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Shared: any number of readers at once, but no writer.
    Read,
    /// Exclusive: one holder, no readers.
    Write,
}

impl LockMode {
    /// `"read"` or `"write"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockMode::Read => "read",
            LockMode::Write => "write",
        }
    }

    /// Whether two holders in these modes may hold the same key at once.
    pub(crate) fn compatible(self, other: LockMode) -> bool {
        self == LockMode::Read && other == LockMode::Read
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named lock and the mode it is wanted in, such as `read:customers.csv`.
///
/// Parse one with [`str::parse`]: `read:KEY` is shared, `write:KEY` is exclusive and a key
/// without either prefix is exclusive too. The prefixes ignore ASCII case; any other text
/// before a colon is part of the key (`s3:bucket/x` locks the key `s3:bucket/x` for writing).
///
/// ```
/// use volley_resources::{AccessKey, LockMode};
///
/// let key: AccessKey = "read:customers.csv".parse()?;
/// assert_eq!((key.key(), key.mode()), ("customers.csv", LockMode::Read));
/// assert_eq!("db".parse::<AccessKey>()?.mode(), LockMode::Write);
/// assert!("read:".parse::<AccessKey>().is_err());
/// # Ok::<(), volley_resources::AccessKeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessKey {
    key: Arc<str>,
    mode: LockMode,
}

impl AccessKey {
    /// A lock on `key` in `mode`.
    ///
    /// # Errors
    /// [`AccessKeyError`] when the key is empty or has surrounding whitespace.
    pub fn new(key: &str, mode: LockMode) -> Result<Self, AccessKeyError> {
        if key.is_empty() {
            return Err(AccessKeyError::EmptyKey {
                input: key.to_owned(),
            });
        }
        if key.trim() != key {
            return Err(AccessKeyError::SurroundingWhitespace {
                input: key.to_owned(),
            });
        }
        Ok(Self {
            key: Arc::from(key),
            mode,
        })
    }

    /// The lock's name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Shared or exclusive.
    pub fn mode(&self) -> LockMode {
        self.mode
    }

    pub(crate) fn key_arc(&self) -> &Arc<str> {
        &self.key
    }

    pub(crate) fn upgrade(&mut self, mode: LockMode) {
        if mode == LockMode::Write {
            self.mode = LockMode::Write;
        }
    }
}

impl FromStr for AccessKey {
    type Err = AccessKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (mode, key) = match s.split_once(':') {
            Some((prefix, key)) if prefix.eq_ignore_ascii_case("read") => (LockMode::Read, key),
            Some((prefix, key)) if prefix.eq_ignore_ascii_case("write") => (LockMode::Write, key),
            _ => (LockMode::Write, s),
        };
        AccessKey::new(key, mode).map_err(|e| e.with_input(s))
    }
}

impl fmt::Display for AccessKey {
    /// Writes the canonical form, `read:KEY` or `write:KEY`, which parses back to `self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.mode, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_planners_access_keys() {
        let cases = [
            ("read:a", Some(("a", LockMode::Read))),
            ("write:a", Some(("a", LockMode::Write))),
            ("a", Some(("a", LockMode::Write))),
            ("READ:a", Some(("a", LockMode::Read))),
            ("read:a:b", Some(("a:b", LockMode::Read))),
            ("s3:bucket/x", Some(("s3:bucket/x", LockMode::Write))),
            ("write:read:x", Some(("read:x", LockMode::Write))),
            ("", None),
            ("read:", None),
            ("write:", None),
            ("read: a", None),
            (" a", None),
        ];
        for (input, expected) in cases {
            let got = input.parse::<AccessKey>();
            match expected {
                Some((key, mode)) => {
                    let got = got.unwrap();
                    assert_eq!((got.key(), got.mode()), (key, mode), "{input:?}");
                }
                None => assert!(got.is_err(), "{input:?} should be rejected"),
            }
        }
    }

    #[test]
    fn errors_name_the_whole_input() {
        let err = "read:".parse::<AccessKey>().unwrap_err();
        assert_eq!(
            err,
            AccessKeyError::EmptyKey {
                input: "read:".into()
            }
        );
        assert!(err.to_string().contains("`read:`"), "{err}");
        let err = "write: x".parse::<AccessKey>().unwrap_err();
        assert!(err.to_string().contains("`write: x`"), "{err}");
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        for input in ["read:a", "write:b", "c", "Read:d"] {
            let key: AccessKey = input.parse().unwrap();
            assert_eq!(key.to_string().parse::<AccessKey>().unwrap(), key);
        }
        assert_eq!("c".parse::<AccessKey>().unwrap().to_string(), "write:c");
    }

    #[test]
    fn only_two_readers_are_compatible() {
        assert!(LockMode::Read.compatible(LockMode::Read));
        assert!(!LockMode::Read.compatible(LockMode::Write));
        assert!(!LockMode::Write.compatible(LockMode::Read));
        assert!(!LockMode::Write.compatible(LockMode::Write));
    }
}
