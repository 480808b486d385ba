//! The simulator's wall clock, a leaf every other module may read.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in seconds. A clock before 1970 is a broken test machine, and
/// tokens dated 1970 will make that obvious.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default()
}
