//! The changes of one presence event, shared rather than copied.
//!
//! Presence is the one thing whose volume grows with the square of the number of clients:
//! after a restart every client is told of every other's return. Clients that hear the
//! same stretch of changes get frames with the same content (often one a tail of another:
//! a newcomer hears the end of what everyone else hears). [`Changes`] is a slice of a shared
//! list, so a history can keep one list for all of them ([`Changes::share`] with a
//! [`ChangePool`]) instead of a copy of every name per client.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::Change;

/// Who joined or left, in order: reads as a `[Change]`, clones for the price of a pointer.
///
/// ```
/// use wschaos::client::Changes;
/// use wschaos::protocol::Change;
/// let changes = Changes::from(vec![Change::Joined("a".into()), Change::Left("b".into())]);
/// assert_eq!(changes.len(), 2);
/// assert!(changes[0].joined() && changes[1].client() == "b");
/// ```
#[derive(Clone, Default)]
pub struct Changes {
    all: Arc<[Change]>,
    start: usize,
}

impl Deref for Changes {
    type Target = [Change];

    fn deref(&self) -> &[Change] {
        &self.all[self.start..]
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = std::slice::Iter<'a, Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Owned changes (a copy of each, as the list may be shared).
impl IntoIterator for Changes {
    type Item = Change;
    type IntoIter = std::vec::IntoIter<Change>;

    fn into_iter(self) -> Self::IntoIter {
        Vec::from(&*self).into_iter()
    }
}

impl From<Vec<Change>> for Changes {
    fn from(changes: Vec<Change>) -> Self {
        Changes {
            all: changes.into(),
            start: 0,
        }
    }
}

impl FromIterator<Change> for Changes {
    fn from_iter<I: IntoIterator<Item = Change>>(iter: I) -> Self {
        Changes::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl PartialEq for Changes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Changes {}

impl fmt::Debug for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Changes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Change>::deserialize(deserializer).map(Changes::from)
    }
}

impl Changes {
    /// The same changes, held in `pool`'s copy when it has one (the same list, or one that
    /// ends with them); otherwise this list, added to the pool.
    pub fn share(self, pool: &mut ChangePool) -> Changes {
        pool.share(self)
    }
}

/// Lists of changes already seen, found by content: each list's every tail is indexed by a
/// fingerprint, and a match is confirmed change by change, so sharing never alters what a
/// history says (two different tails with one fingerprint: the later is kept unshared).
/// Deterministic (ordered map, fixed hash), as everything in a run is.
#[derive(Default)]
pub struct ChangePool {
    lists: Vec<Arc<[Change]>>,
    /// Fingerprint of a tail -> (index in `lists`, where the tail starts in it): 16 bytes
    /// a change, as a run of 10,000 clients indexes millions.
    tails: BTreeMap<u64, (u32, u32)>,
}

impl fmt::Debug for ChangePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChangePool({} lists, {} tails)",
            self.lists.len(),
            self.tails.len()
        )
    }
}

impl ChangePool {
    fn share(&mut self, changes: Changes) -> Changes {
        if changes.is_empty() {
            return changes;
        }
        let print = fingerprint(&changes);
        if let Some(&(list, start)) = self.tails.get(&print) {
            let (all, start) = (&self.lists[list as usize], start as usize);
            if all[start..] == *changes {
                return Changes {
                    all: all.clone(),
                    start,
                };
            }
        }
        // A new list: index each of its tails, the whole list included (past u32::MAX lists
        // or changes, a list is kept unshared).
        let all: Arc<[Change]> = changes.iter().cloned().collect();
        let (Ok(list), Ok(_)) = (u32::try_from(self.lists.len()), u32::try_from(all.len())) else {
            return Changes { all, start: 0 };
        };
        self.lists.push(all.clone());
        let mut h = SEED;
        for start in (0..all.len()).rev() {
            h = mix(h, &all[start]);
            self.tails.entry(h).or_insert((list, start as u32));
        }
        Changes { all, start: 0 }
    }
}

const SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// The fingerprint of a list, folded from its last change to its first, so that every tail
/// of a list is fingerprinted on the way.
fn fingerprint(changes: &[Change]) -> u64 {
    changes.iter().rev().fold(SEED, mix)
}

fn mix(h: u64, change: &Change) -> u64 {
    let name = crate::protocol::digest(change.client().as_bytes());
    let kind = if change.joined() { 1 } else { 2 };
    (h ^ name ^ kind)
        .wrapping_mul(0x0100_0000_01b3)
        .rotate_left(17)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Changes {
        names
            .iter()
            .map(|n| match n.strip_prefix('-') {
                Some(left) => Change::Left(left.into()),
                None => Change::Joined((*n).into()),
            })
            .collect()
    }

    fn same_list(a: &Changes, b: &Changes) -> bool {
        Arc::ptr_eq(&a.all, &b.all)
    }

    #[test]
    fn equal_lists_and_tails_share_one_copy_and_read_the_same() {
        let mut pool = ChangePool::default();
        let whole = list(&["a", "b", "-c", "d"]).share(&mut pool);
        let again = list(&["a", "b", "-c", "d"]).share(&mut pool);
        let tail = list(&["-c", "d"]).share(&mut pool);
        assert!(same_list(&whole, &again) && same_list(&whole, &tail));
        assert_eq!(&*tail, &*list(&["-c", "d"]));
        assert_eq!(tail.len(), 2);
    }

    #[test]
    fn lists_that_differ_anywhere_are_not_shared() {
        let mut pool = ChangePool::default();
        let whole = list(&["a", "b", "c"]).share(&mut pool);
        // Same names, a leave instead of a join; a prefix, not a tail; another order.
        for other in [
            list(&["a", "-b", "c"]),
            list(&["a", "b"]),
            list(&["b", "a", "c"]),
        ] {
            let shared = other.clone().share(&mut pool);
            assert!(!same_list(&whole, &shared), "{other:?}");
            assert_eq!(shared, other);
        }
    }

    #[test]
    fn a_fingerprint_collision_is_caught_by_the_comparison() {
        let mut pool = ChangePool::default();
        let a = list(&["a", "b"]).share(&mut pool);
        // Force a collision: file `a, b` under the fingerprint of `x, y`.
        let forged = list(&["x", "y"]);
        pool.tails.insert(fingerprint(&forged), (0, 0));
        let shared = forged.clone().share(&mut pool);
        assert_eq!(shared, forged, "never the colliding list's content");
        assert!(!same_list(&a, &shared));
    }

    #[test]
    fn serialises_as_a_plain_list_and_back() {
        let changes = list(&["a", "-b"]);
        let json = serde_json::to_string(&changes).unwrap();
        assert_eq!(json, r#"[{"joined":"a"},{"left":"b"}]"#);
        let mut pool = ChangePool::default();
        let _whole = list(&["z", "a", "-b"]).share(&mut pool);
        let tail = list(&["a", "-b"]).share(&mut pool);
        assert!(tail.start > 0, "a tail of the pooled list");
        assert_eq!(serde_json::to_string(&tail).unwrap(), json);
        assert_eq!(serde_json::from_str::<Changes>(&json).unwrap(), changes);
    }
}
