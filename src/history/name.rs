//! Shared names for the history's records.
//!
//! A run of 1,000 clients records some 600,000 deliveries, each naming its subscriber, its
//! topic and its publisher: three short strings, three heap blocks per record, all copies of
//! the same few thousand names. A [`Name`] is a shared `str`, one pointer wide; the recorder
//! keeps one per distinct name ([`NamePool`]) for every record, so a record holds pointers
//! instead.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// An immutable, shared string: reads as a `&str`, clones for the price of a pointer,
/// compares and orders by content, and serialises as a plain string.
///
/// ```
/// use wschaos::history::Name;
/// let n = Name::from("subs-0");
/// assert_eq!(n, "subs-0");
/// assert!(n.starts_with("subs"));
/// assert_eq!(serde_json::to_string(&n).unwrap(), "\"subs-0\"");
/// assert_eq!(format!("{n:<8}|"), "subs-0  |");
/// ```
///
/// One pointer wide: the history holds millions of these.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<Box<str>>);

impl Name {
    fn text(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.text()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.text()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.text()
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::new(s.into()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::new(s.into_boxed_str()))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.text().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.text() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.text() == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.text()
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.text()
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.text()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.text(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.text())
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text())
    }
}

/// One [`Name`] per distinct string: the same content always gives the same allocation.
#[derive(Debug, Default)]
pub struct NamePool(BTreeSet<Name>);

impl NamePool {
    /// The pool's `Name` for `s`, added on first use.
    ///
    /// ```
    /// use wschaos::history::NamePool;
    /// let mut pool = NamePool::default();
    /// let (a, b) = (pool.name("news"), pool.name("news"));
    /// assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()));
    /// ```
    pub fn name(&mut self, s: &str) -> Name {
        if let Some(known) = self.0.get(s) {
            return known.clone();
        }
        let name = Name::from(s);
        self.0.insert(name.clone());
        name
    }
}
