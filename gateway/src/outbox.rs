//! The durable outbox: every reading waits here, on local disk, until the server acknowledges it
//! after its database commit.
//!
//! Storage is a `redb` file. Every write transaction commits with `Durability::Immediate`, i.e.
//! the file is fsynced before `push` or `remove` returns: a reading that `push` accepted survives
//! `kill -9` and power loss.
//!
//! Sequence numbers are unique per gateway and never reused: the counter is stored in the same
//! file and a new outbox starts it at the current time in microseconds, so even a gateway whose
//! disk was wiped does not reuse numbers the server has already seen.
//!
//! Bounded: at most `capacity` readings. When full, the oldest readings are evicted to make room
//! (a long outage should keep the most recent picture); every eviction is counted in the file
//! and reported in the gateway status, never silent.

use std::path::Path;
use std::sync::Mutex;

use eldercare_schema::{Metric, Reading, TimeSource};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const READINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("readings");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const NEXT_SEQ: &str = "next_seq";
const EVICTED: &str = "evicted";

/// The default bound: a week of a busy household's readings.
pub const DEFAULT_CAPACITY: u64 = 1_000_000;

#[derive(Debug, Error)]
pub enum OutboxError {
    #[error("outbox file: {0}")]
    Database(#[from] redb::DatabaseError),
    #[error("outbox transaction: {0}")]
    Transaction(#[from] redb::TransactionError),
    #[error("outbox table: {0}")]
    Table(#[from] redb::TableError),
    #[error("outbox storage: {0}")]
    Storage(#[from] redb::StorageError),
    #[error("outbox commit: {0}")]
    Commit(#[from] redb::CommitError),
    #[error("outbox durability: {0}")]
    Durability(#[from] redb::SetDurabilityError),
    #[error("outbox entry {seq} is corrupt: {why}")]
    Corrupt { seq: u64, why: String },
    #[error("outbox directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
}

/// A reading before the outbox numbered it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    pub device_id: String,
    pub metric: Metric,
    pub value: f64,
    pub time_ms: i64,
    pub time_source: TimeSource,
}

/// The stored form (the seq is the key).
#[derive(Serialize, Deserialize)]
struct Stored {
    d: String,
    m: Metric,
    v: f64,
    t: i64,
    s: TimeSource,
}

pub struct Outbox {
    db: Database,
    capacity: u64,
    /// Serialises writers so seq assignment and eviction stay consistent.
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(1)
}

impl Outbox {
    /// Opens or creates the outbox in directory `dir` (file `outbox.redb`).
    pub fn open(dir: &Path, capacity: u64) -> Result<Self, OutboxError> {
        std::fs::create_dir_all(dir).map_err(|source| OutboxError::Dir { path: dir.display().to_string(), source })?;
        let db = Database::create(dir.join("outbox.redb"))?;
        let outbox = Outbox { db, capacity: capacity.max(1), write_lock: Mutex::new(()) };
        let mut tx = outbox.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut meta = tx.open_table(META)?;
            if meta.get(NEXT_SEQ)?.is_none() {
                meta.insert(NEXT_SEQ, now_micros())?;
                meta.insert(EVICTED, 0)?;
            }
            tx.open_table(READINGS)?;
        }
        tx.commit()?;
        Ok(outbox)
    }

    /// Numbers and stores readings durably; returns their sequence numbers.
    pub fn push(&self, readings: &[NewReading]) -> Result<Vec<u64>, OutboxError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        let mut seqs = Vec::with_capacity(readings.len());
        {
            let mut meta = tx.open_table(META)?;
            let mut table = tx.open_table(READINGS)?;
            let mut next = meta.get(NEXT_SEQ)?.map(|g| g.value()).unwrap_or_else(now_micros);
            for r in readings {
                let stored = Stored { d: r.device_id.clone(), m: r.metric, v: r.value, t: r.time_ms, s: r.time_source };
                let bytes = serde_json::to_vec(&stored).expect("outbox entry serialises");
                table.insert(next, bytes.as_slice())?;
                seqs.push(next);
                next += 1;
            }
            meta.insert(NEXT_SEQ, next)?;
            let over = table.len()?.saturating_sub(self.capacity);
            if over > 0 {
                for _ in 0..over {
                    table.pop_first()?;
                }
                let evicted = meta.get(EVICTED)?.map(|g| g.value()).unwrap_or(0);
                meta.insert(EVICTED, evicted + over)?;
                tracing::error!(evicted = over, capacity = self.capacity, "outbox full: oldest readings evicted");
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// Up to `max` readings with a sequence number above `after` (all when `None`), oldest first.
    pub fn peek(&self, after: Option<u64>, max: usize) -> Result<Vec<Reading>, OutboxError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(READINGS)?;
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for entry in table.range(start..)?.take(max) {
            let (k, v) = entry?;
            let seq = k.value();
            let s: Stored =
                serde_json::from_slice(v.value()).map_err(|e| OutboxError::Corrupt { seq, why: e.to_string() })?;
            out.push(Reading { seq, device_id: s.d, metric: s.m, value: s.v, time_ms: s.t, time_source: s.s });
        }
        Ok(out)
    }

    /// Forgets acknowledged readings; returns how many were still here.
    pub fn remove(&self, seqs: &[u64]) -> Result<usize, OutboxError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        let mut removed = 0;
        {
            let mut table = tx.open_table(READINGS)?;
            for seq in seqs {
                if table.remove(seq)?.is_some() {
                    removed += 1;
                }
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Readings waiting for an acknowledgement.
    pub fn len(&self) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(READINGS)?.len()?)
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// Readings evicted from a full outbox since it was created.
    pub fn evicted(&self) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(META)?.get(EVICTED)?.map(|g| g.value()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: f64) -> NewReading {
        NewReading {
            device_id: "d1".into(),
            metric: Metric::HeartRate,
            value: v,
            time_ms: 1,
            time_source: TimeSource::Device,
        }
    }

    #[test]
    fn push_peek_remove_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let seqs = {
            let ob = Outbox::open(dir.path(), 100).unwrap();
            let seqs = ob.push(&[r(60.0), r(61.0), r(62.0)]).unwrap();
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
            assert_eq!(ob.remove(&[seqs[1]]).unwrap(), 1);
            assert_eq!(ob.remove(&[seqs[1]]).unwrap(), 0);
            seqs
        };
        // Reopened (as after a crash): the unacknowledged readings are still there, in order.
        let ob = Outbox::open(dir.path(), 100).unwrap();
        let left = ob.peek(None, 10).unwrap();
        assert_eq!(left.iter().map(|x| x.seq).collect::<Vec<_>>(), vec![seqs[0], seqs[2]]);
        assert_eq!(left[1].value, 62.0);
        assert_eq!(ob.peek(Some(seqs[0]), 10).unwrap().len(), 1);
        // Numbers continue after a reopen, never reused.
        let more = ob.push(&[r(63.0)]).unwrap();
        assert!(more[0] > seqs[2]);
        assert_eq!(ob.len().unwrap(), 3);
    }

    #[test]
    fn full_outbox_evicts_oldest_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path(), 3).unwrap();
        let seqs = ob.push(&[r(1.0), r(2.0), r(3.0), r(4.0), r(5.0)]).unwrap();
        assert_eq!(ob.len().unwrap(), 3);
        assert_eq!(ob.evicted().unwrap(), 2);
        let left: Vec<u64> = ob.peek(None, 10).unwrap().iter().map(|x| x.seq).collect();
        assert_eq!(left, seqs[2..].to_vec());
    }
}
