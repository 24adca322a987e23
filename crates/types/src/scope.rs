//! RFC 6749 §3.3 scope: a set of case-sensitive tokens, space-delimited on the wire.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of scope tokens. Order on the wire is not significant, so the set is kept sorted,
/// which also makes stored and emitted values deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope(BTreeSet<String>);

/// A scope string that breaks the RFC 6749 §3.3 grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope tokens must be printable ASCII without spaces, quotes or backslashes")]
pub struct InvalidScope;

impl Scope {
    /// The empty scope.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-delimited scope string per RFC 6749 §3.3:
    /// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. Repeated spaces are tolerated.
    pub fn parse(value: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            if token.len() > 256 || !token.bytes().all(is_scope_char) {
                return Err(InvalidScope);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a scope from tokens that are already known to be valid.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for token in tokens {
            let token = token.as_ref();
            if token.is_empty() || token.len() > 256 || !token.bytes().all(is_scope_char) {
                return Err(InvalidScope);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Whether no token is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `other` is in `self`.
    pub fn is_superset(&self, other: &Scope) -> bool {
        self.0.is_superset(&other.0)
    }

    /// Tokens in both sets.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// Tokens in either set.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// Tokens of `self` missing from `other`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Scope(self.0.difference(&other.0).cloned().collect())
    }

    /// Adds one token (assumed valid).
    pub fn insert(&mut self, token: impl Into<String>) {
        self.0.insert(token.into());
    }

    /// Iterates the tokens in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(token)?;
        }
        Ok(())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Scope::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        let s = Scope::parse("write  read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn rejects_bad_characters() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
        assert!(Scope::parse("a\tb").is_err());
    }

    #[test]
    fn set_algebra() {
        let a = Scope::parse("a b c").unwrap();
        let b = Scope::parse("b c d").unwrap();
        assert_eq!(a.intersection(&b).to_string(), "b c");
        assert!(a.is_superset(&Scope::parse("a c").unwrap()));
        assert_eq!(a.difference(&b).to_string(), "a");
    }
}
