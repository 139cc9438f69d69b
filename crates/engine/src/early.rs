//! Reads `verify` makes before the lease that `up` reuses instead of making them again.
//!
//! `up` reads the lease first ([`orchestrate_secrets::lease::peek`], read-only), then runs
//! `verify` (still before any mutating call), which keeps here the deployment's network
//! snapshot, RDS instance and Valkey replication group it read to scope its checks. The lease is then taken by
//! compare-and-swap from the version peeked: when that swap wins
//! ([`orchestrate_secrets::lease::Taken::from_seen`]), no other run wrote the lease between
//! the peek and the take — no other `up` or `teardown` started changing the deployment while
//! `verify` read it — and the kept reads are [`EarlyReads::confirm`]ed for the run. Any other
//! outcome (the lease read again, taken over from a live holder, lost a race) drops them and
//! the run reads afresh.
//!
//! # Guarantees
//! - Only `up` arms the keeping ([`EarlyReads::arm`]); `plan`'s verify keeps nothing and
//!   reads what it always read.
//! - A kept read is handed out at most once ([`EarlyReads::take_network`],
//!   [`EarlyReads::take_database`]) and only once confirmed; `plan` and `teardown` never
//!   confirm, so they never use one.
//! - What the lease cannot rule out — AWS itself changing a resource's status, a change made
//!   by hand — is as possible between verify's read and its use as between any read and its
//!   use; each consumer's `ensure` still decides from a full observation, and a read that
//!   does not prove convergence takes the resource's full path.

use std::sync::{Mutex, MutexGuard, PoisonError};

use orchestrate_cache::ReplicationGroupObserved;
use orchestrate_database::instance::InstanceObserved;
use orchestrate_network::snapshot::Snapshot;

#[derive(Debug, Default)]
struct Kept {
    /// `up` is about to verify: keep what verify reads.
    armed: bool,
    confirmed: bool,
    network: Option<Snapshot>,
    database: Option<Option<InstanceObserved>>,
    cache: Option<Option<ReplicationGroupObserved>>,
}

/// The reads `verify` kept for the run (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct EarlyReads {
    kept: Mutex<Kept>,
}

impl EarlyReads {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets everything, and keeps what `verify` reads from now on (`up`, before it
    /// verifies; `plan` does not arm, so its verify reads what it always read).
    pub(crate) fn arm(&self) {
        *self.lock() = Kept {
            armed: true,
            ..Kept::default()
        };
    }

    /// True between [`EarlyReads::arm`] and the lease being taken.
    pub(crate) fn armed(&self) -> bool {
        self.lock().armed
    }

    /// Keeps the deployment's network snapshot (unconfirmed).
    pub(crate) fn keep_network(&self, snapshot: Snapshot) {
        let mut kept = self.lock();
        if !kept.armed {
            return;
        }
        kept.network = Some(snapshot);
    }

    /// Keeps the RDS instance as read (`None`: absent), unconfirmed.
    pub(crate) fn keep_database(&self, found: Option<InstanceObserved>) {
        let mut kept = self.lock();
        if !kept.armed {
            return;
        }
        kept.database = Some(found);
    }

    /// Keeps the Valkey replication group as read (`None`: absent), unconfirmed.
    pub(crate) fn keep_cache(&self, found: Option<ReplicationGroupObserved>) {
        let mut kept = self.lock();
        if !kept.armed {
            return;
        }
        kept.cache = Some(found);
    }

    /// Confirms the kept reads for the run when `unchanged` (the lease was taken from the
    /// version read before them); drops them otherwise.
    pub(crate) fn confirm(&self, unchanged: bool) {
        let mut kept = self.lock();
        if unchanged && kept.armed {
            kept.armed = false;
            kept.confirmed = true;
        } else {
            *kept = Kept::default();
        }
    }

    /// Drops everything kept.
    pub(crate) fn clear(&self) {
        *self.lock() = Kept::default();
    }

    /// The confirmed network snapshot, once.
    pub(crate) fn take_network(&self) -> Option<Snapshot> {
        let mut kept = self.lock();
        if kept.confirmed {
            kept.network.take()
        } else {
            None
        }
    }

    /// The confirmed RDS instance read (`Some(None)`: absent), once.
    pub(crate) fn take_database(&self) -> Option<Option<InstanceObserved>> {
        let mut kept = self.lock();
        if kept.confirmed {
            kept.database.take()
        } else {
            None
        }
    }

    /// The confirmed replication group read (`Some(None)`: absent), once.
    pub(crate) fn take_cache(&self) -> Option<Option<ReplicationGroupObserved>> {
        let mut kept = self.lock();
        if kept.confirmed {
            kept.cache.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_unless_armed() {
        let early = EarlyReads::default();
        early.keep_network(Snapshot::default());
        early.keep_database(None);
        early.keep_cache(None);
        early.confirm(true);
        assert!(early.take_network().is_none());
        assert!(early.take_database().is_none());
        assert!(early.take_cache().is_none());
    }

    #[test]
    fn kept_reads_are_handed_out_once_and_only_when_confirmed() {
        let early = EarlyReads::default();
        early.arm();
        early.keep_network(Snapshot::default());
        early.keep_database(None);
        assert!(early.take_network().is_none(), "unconfirmed");
        assert!(early.take_database().is_none(), "unconfirmed");
        early.confirm(true);
        assert!(early.take_network().is_some());
        assert!(early.take_network().is_none(), "once");
        assert_eq!(early.take_database(), Some(None));
        assert_eq!(early.take_database(), None, "once");
    }

    #[test]
    fn a_lease_taken_from_another_version_drops_the_kept_reads() {
        let early = EarlyReads::default();
        early.arm();
        early.keep_network(Snapshot::default());
        early.keep_database(Some(InstanceObserved::default()));
        early.confirm(false);
        early.confirm(true);
        assert!(early.take_network().is_none());
        assert!(early.take_database().is_none());
    }
}
