//! A bound on the request bytes the gateway works on at once. Each request reserves its size
//! before its body is read and gives it back when its answer is made, so what requests cost in
//! memory stays bounded however many arrive together. That cost is a multiple of the size: a
//! body of many tiny arguments (`["DEL",1,1,1,...]`) takes about 22 bytes per body byte while
//! it is parsed and sent to Redis (the redis crate keeps 16 bytes per argument), ordinary
//! bodies about 6. Without the bound, 256 clients sending such 1 MiB bodies together would
//! need some 6 GB.
//!
//! Only authenticated requests reserve (the token is checked first), so a client without a
//! token cannot take the budget from others.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reservations are counted in KiB, so that a `u32` of permits covers any body size.
const UNIT: usize = 1024;

pub struct Budget {
    units: Arc<Semaphore>,
    total: u32,
}

/// Bytes reserved for one request, given back on drop.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        let total = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        Budget {
            units: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Reserves `bytes` (at least one unit, at most the whole budget), waiting up to `wait` for
    /// earlier requests to finish; `None` when they did not. Waiters are served in order, so a
    /// large request is not starved by a stream of small ones.
    pub async fn reserve(&self, bytes: usize, wait: Duration) -> Option<Reservation> {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        let acquire = self.units.clone().acquire_many_owned(units);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Some(Reservation { _permit: permit }),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_room_then_gives_up() {
        let budget = Budget::new(4 * UNIT);
        let wait = Duration::from_millis(50);
        let big = budget.reserve(3 * UNIT + 1, wait).await.expect("fits");
        assert!(
            budget.reserve(1, wait).await.is_none(),
            "the budget is full"
        );
        drop(big);
        let _small = budget.reserve(0, wait).await.expect("one unit");
        // More than the whole budget is clamped to it: it waits for everything, then runs.
        assert!(budget.reserve(100 * UNIT, wait).await.is_none());
        drop(_small);
        assert!(budget.reserve(100 * UNIT, wait).await.is_some());
    }
}
