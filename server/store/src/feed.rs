//! How far the live feeds may read on PostgreSQL.
//!
//! The feeds poll `readings` by `rowid` and `alert_events` by `event_id`, both increasing. On
//! SQLite one writer at a time commits, so a position becomes visible only after every smaller
//! one: polling `position > cursor` misses nothing. On PostgreSQL transactions take positions
//! from a sequence and commit in any order: position 10 may be visible while 9 is still in
//! flight, and a cursor moved to 10 would skip 9 for ever.
//!
//! So on PostgreSQL a poll reads only up to a *safe horizon*: a position `L` such that every
//! transaction that took a position `<= L` has ended. A transaction takes its id before its
//! first position: alert events through their column default (migration 0002), readings in
//! `StoreTx::insert_batches`, which takes it before inserting (migration 0005). Each poll reads the sequence's last value
//! `L`, then, in a later statement, takes a transaction id `U` of its own (a tiny transaction,
//! committed without waiting for the disk): every transaction holding a position `<= L` got its
//! id before, so below `U`. Once a snapshot's `xmin` (the oldest transaction still running)
//! reaches `U`, they have all ended and `L` is safe. (A snapshot's `xmax` would not do: it is one
//! past the newest *completed* transaction, and running ones above it are not listed.) An idle
//! database is safe at once; under load the feed lags by about one poll.

use std::collections::VecDeque;

use crate::{Dialect, Store, StoreError};

/// Pending horizons, oldest first, at most this many (then the newest is replaced, which only
/// delays the older one).
const MAX_PENDING: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Horizons {
    readings: Horizon,
    events: Horizon,
}

#[derive(Debug, Default)]
struct Horizon {
    /// (transaction id taken after reading the position, last position).
    pending: VecDeque<(u64, i64)>,
    safe: i64,
}

impl Horizon {
    /// `last` position read before transaction `id` was taken; `xmin` of a snapshot taken no
    /// earlier than the position was read.
    fn advance(&mut self, last: i64, id: u64, xmin: u64) -> i64 {
        match self.pending.back() {
            Some(&(_, l)) if l >= last => {}
            _ if self.pending.len() >= MAX_PENDING => {
                *self.pending.back_mut().expect("not empty") = (id, last);
            }
            _ => self.pending.push_back((id, last)),
        }
        while let Some(&(x, l)) = self.pending.front() {
            if x > xmin {
                break;
            }
            self.safe = self.safe.max(l);
            self.pending.pop_front();
        }
        self.safe
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Feed {
    Readings,
    Events,
}

impl Feed {
    /// PostgreSQL: the last position the feed's sequence gave out (0 before the first).
    pub(crate) fn last_position_sql(self) -> &'static str {
        match self {
            Feed::Readings => "select case when is_called then last_value else 0 end from readings_rowid_seq",
            Feed::Events => "select case when is_called then last_value else 0 end from alert_events_event_id_seq",
        }
    }
}

/// The `xmin` of `xmin:xmax:xip,...` (`pg_current_snapshot()::text`).
fn parse_xmin(s: &str) -> Option<u64> {
    s.split(':').next()?.parse().ok()
}

impl Store {
    /// The greatest position the feed may read up to now (`i64::MAX` on SQLite).
    pub(crate) async fn feed_horizon(&self, feed: Feed) -> Result<i64, StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(i64::MAX);
        }
        // The sequence first, the snapshot in a later statement: see the module docs.
        let last: i64 = sqlx::query_scalar(feed.last_position_sql()).fetch_one(&self.pool).await?;
        let (id, xmin) = self.new_xact_id().await?;
        let mut horizons = self.horizons.lock().expect("horizons lock");
        let h = match feed {
            Feed::Readings => &mut horizons.readings,
            Feed::Events => &mut horizons.events,
        };
        Ok(h.advance(last, id, xmin))
    }
}

impl Store {
    /// PostgreSQL: a transaction id of our own (a tiny transaction, committed without waiting
    /// for the disk), and the `xmin` of a snapshot taken after it: the oldest transaction still
    /// running. Every transaction that took its id before ours has ended once some later
    /// snapshot's `xmin` is at least our id.
    pub(crate) async fn new_xact_id(&self) -> Result<(u64, u64), StoreError> {
        let (_, id, snapshot): (String, String, String) = sqlx::query_as(
            "select set_config('synchronous_commit', 'off', true), cast(pg_current_xact_id() as text), \
             cast(pg_current_snapshot() as text)",
        )
        .fetch_one(&self.pool)
        .await?;
        let bad = || StoreError::Invalid(format!("transaction id {id:?} or snapshot {snapshot:?} from the database"));
        let id: u64 = id.parse().map_err(|_| bad())?;
        let xmin = parse_xmin(&snapshot).ok_or_else(bad)?;
        Ok((id, xmin))
    }

    /// PostgreSQL: the `xmin` of a new snapshot (the oldest transaction still running).
    pub(crate) async fn snapshot_xmin(&self) -> Result<u64, StoreError> {
        let snapshot: String =
            sqlx::query_scalar("select cast(pg_current_snapshot() as text)").fetch_one(&self.pool).await?;
        parse_xmin(&snapshot).ok_or_else(|| StoreError::Invalid(format!("snapshot {snapshot:?} from the database")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizon_becomes_safe_when_the_transactions_before_it_end() {
        let mut h = Horizon::default();
        // Positions up to 10 taken; our id 105; transaction 100 still running.
        assert_eq!(h.advance(10, 105, 100), 0);
        // Up to 12; id 108; 103 still running.
        assert_eq!(h.advance(12, 108, 103), 0);
        // Everything below 106 ended: 10 is safe, 12 not yet.
        assert_eq!(h.advance(12, 109, 106), 10);
        assert_eq!(h.advance(12, 110, 110), 12);
        // Idle: safe at once (the snapshot's xmin is our own id).
        assert_eq!(h.advance(20, 111, 111), 20);
        assert_eq!(parse_xmin("100:105:101,103"), Some(100));
        assert_eq!(parse_xmin("7:7:"), Some(7));
    }
}
