//! Expiry in amortised steps, for the crate's in-process maps that must not
//! grow without bound: [`SpentIds`] (the single-use guard of login states and
//! grants) and the built-in record store (`records::local_store`).
//!
//! Each entry carries its own expiry. An [`ExpiryQueue`] keeps the entries
//! ordered by expiry (a min-heap), and every call to the map pops at most
//! [`PRUNE_STEP`] of the entries due, so no single call scans the map under
//! its lock, however large it is, while expired entries still leave at least
//! as fast as new ones arrive (one push per insert, up to `PRUNE_STEP` pops
//! per call).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;

/// How many due entries one call removes at most: more than the one entry a
/// call can add, so the queue drains, and few enough that a call's work is
/// bounded.
pub(crate) const PRUNE_STEP: usize = 4;

/// Keys ordered by their expiry (unix seconds, or any monotone unit).
#[derive(Debug)]
pub(crate) struct ExpiryQueue<K: Ord> {
    heap: BinaryHeap<Reverse<(i64, K)>>,
}

impl<K: Ord> Default for ExpiryQueue<K> {
    fn default() -> Self {
        ExpiryQueue { heap: BinaryHeap::new() }
    }
}

impl<K: Ord + Clone> ExpiryQueue<K> {
    /// Remembers that `key` expires at `expiry`. A key pushed twice (its
    /// expiry changed) is in the queue twice; the owner decides at pop time
    /// whether the entry it holds is still due.
    pub(crate) fn push(&mut self, key: K, expiry: i64) {
        self.heap.push(Reverse((expiry, key)));
    }

    /// Pops up to [`PRUNE_STEP`] keys whose expiry is at or before `now`,
    /// handing each to `remove` with the expiry it was queued with. Returns
    /// how many were popped.
    pub(crate) fn pop_due(&mut self, now: i64, mut remove: impl FnMut(K, i64)) -> usize {
        let mut popped = 0;
        while popped < PRUNE_STEP {
            match self.heap.peek() {
                Some(Reverse((expiry, _))) if *expiry <= now => {}
                _ => break,
            }
            let Some(Reverse((expiry, key))) = self.heap.pop() else { break };
            remove(key, expiry);
            popped += 1;
        }
        popped
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Ids used once in this process, each until its own expiry. Closes the race
/// of two concurrent requests on one session both spending one login state
/// or one single-use grant (each loads its own copy of the session); the
/// shared store's create-once record closes it across instances.
#[derive(Debug, Default)]
pub(crate) struct SpentIds(Mutex<Spent>);

#[derive(Debug, Default)]
struct Spent {
    until: HashMap<String, i64>,
    queue: ExpiryQueue<String>,
}

impl SpentIds {
    /// Marks `id` spent until `until` (unix seconds); `false` if it already
    /// was and that has not expired at `now`.
    pub(crate) fn spend(&self, id: &str, until: i64, now: i64) -> bool {
        let mut spent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        spent.prune(now);
        if spent.until.get(id).is_some_and(|expiry| *expiry > now) {
            return false;
        }
        spent.until.insert(id.to_owned(), until);
        spent.queue.push(id.to_owned(), until);
        true
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let spent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (spent.until.len(), spent.queue.len())
    }
}

impl Spent {
    fn prune(&mut self, now: i64) -> usize {
        let Spent { until, queue } = self;
        queue.pop_due(now, |id, expiry| {
            // Only the entry queued with the id's current expiry removes it.
            if until.get(&id) == Some(&expiry) {
                until.remove(&id);
            }
        })
    }
}

/// A map whose values carry an expiry, pruned in amortised steps.
#[derive(Debug)]
pub(crate) struct ExpiringMap<K: Ord + Hash + Clone, V> {
    entries: HashMap<K, (i64, V)>,
    queue: ExpiryQueue<K>,
}

impl<K: Ord + Hash + Clone, V> Default for ExpiringMap<K, V> {
    fn default() -> Self {
        ExpiringMap { entries: HashMap::new(), queue: ExpiryQueue::default() }
    }
}

impl<K: Ord + Hash + Clone, V> ExpiringMap<K, V> {
    /// Removes up to [`PRUNE_STEP`] entries that expired at or before `now`.
    pub(crate) fn prune(&mut self, now: i64) -> usize {
        let ExpiringMap { entries, queue } = self;
        queue.pop_due(now, |key, expiry| {
            if entries.get(&key).is_some_and(|(current, _)| *current == expiry) {
                entries.remove(&key);
            }
        })
    }

    pub(crate) fn insert(&mut self, key: K, expiry: i64, value: V) {
        let changed = self.entries.get(&key).is_none_or(|(current, _)| *current != expiry);
        self.entries.insert(key.clone(), (expiry, value));
        if changed {
            self.queue.push(key, expiry);
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(_, value)| value)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.entries.len(), self.queue.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_spent_once_until_its_own_expiry() {
        let spent = SpentIds::default();
        assert!(spent.spend("a", 100, 10));
        assert!(!spent.spend("a", 100, 99), "still spent before its expiry");
        assert!(spent.spend("b", 20, 10));
        assert!(spent.spend("b", 200, 21), "b expired at 20: a new spend is a new entry");
        assert!(!spent.spend("b", 200, 150), "and that one holds until 200");
        assert!(spent.spend("a", 300, 100), "a expired at 100");
    }

    #[test]
    fn a_hundred_thousand_entries_drain_in_bounded_steps() {
        let spent = SpentIds::default();
        for i in 0..100_000 {
            assert!(spent.spend(&format!("id-{i}"), 1_000, 0));
        }
        assert_eq!(spent.len(), (100_000, 100_000));
        // Past their expiry, each call removes at most PRUNE_STEP of them
        // (bounded work per call, whatever the size) ...
        let mut inner = spent.0.lock().unwrap();
        for _ in 0..10 {
            assert_eq!(inner.prune(1_000), PRUNE_STEP);
        }
        drop(inner);
        assert_eq!(spent.len(), (100_000 - 10 * PRUNE_STEP, 100_000 - 10 * PRUNE_STEP));
        // ... and new spends drain them faster than they add: the map
        // shrinks with every call until only live entries are left.
        let calls = 100_000 / (PRUNE_STEP - 1) + 1;
        for i in 0..calls {
            assert!(spent.spend(&format!("new-{i}"), 5_000, 1_000));
        }
        assert_eq!(spent.len(), (calls, calls), "only the live entries remain");
    }

    #[test]
    fn a_re_inserted_key_is_kept_until_its_newest_expiry() {
        let mut map: ExpiringMap<u32, &str> = ExpiringMap::default();
        map.insert(1, 10, "first");
        map.insert(1, 50, "second");
        assert_eq!(map.prune(20), 1, "the stale queue entry is popped ...");
        assert_eq!(map.get(&1), Some(&"second"), "... without removing the newer value");
        assert_eq!(map.prune(50), 1);
        assert_eq!(map.get(&1), None);
        assert_eq!(map.len(), (0, 0));
    }

    #[test]
    fn an_entry_not_due_stops_the_pruning() {
        let mut map: ExpiringMap<u32, ()> = ExpiringMap::default();
        for key in 0..10 {
            map.insert(key, i64::from(key), ());
        }
        assert_eq!(map.prune(1), 2, "keys 0 and 1 are due, 2 is not");
        assert!(map.contains_key(&2));
    }
}
