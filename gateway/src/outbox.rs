//! The durable outbox: every reading waits here, on local disk, until the server acknowledges it
//! after its database commit.
//!
//! Storage is a `redb` file (copy-on-write B-trees with checksummed commits: a crash, `kill -9`
//! or a power cut leaves the last committed state, never a torn one).
//!
//! ## fsync policy
//!
//! - **`push` is durable**: it returns only after the transaction holding its readings has
//!   committed with `Durability::Immediate`, i.e. after redb's fsync. A reading `push` accepted
//!   survives `kill -9` and power loss.
//! - **Group commit**: concurrent `push` and `remove` calls are merged into one transaction and
//!   one fsync. The first caller to find no commit in progress becomes the leader and commits
//!   everything queued; the others wait for that commit and get their results from it. A
//!   lone caller pays one fsync; twenty devices pushing at once pay one between them. Seq
//!   numbers follow the order of the calls.
//! - **`remove` is not fsynced on its own**: a transaction holding only removals commits with
//!   `Durability::None` and becomes durable with the next durable commit. After a power cut, a
//!   few acknowledged readings may come back and be sent again; the server stores each
//!   `(gateway, device, seq)` once, so that costs a message, never a duplicate row. It halves the
//!   fsyncs of a steady state (one per batch of readings instead of two).
//!
//! Sequence numbers are unique per gateway and never reused: the counter is stored in the same
//! file and a new outbox starts it at the current time in microseconds, so even a gateway whose
//! disk was wiped does not reuse numbers the server has already seen.
//!
//! Bounded: at most `capacity` readings. When full, the oldest readings are evicted to make room
//! (a long outage should keep the most recent picture); every eviction is counted in the file
//! and reported in the gateway status, never silent.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use eldercare_schema::{Metric, Reading, TimeSource};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const READINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("readings");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Per-device positions in their stored records (e.g. the last glucose sequence number
/// forwarded, or which pulse oximeter records were taken), committed in the same transaction as
/// the readings that carried them.
const MARKS: TableDefinition<&str, u64> = TableDefinition::new("record_marks");
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
    /// The shared commit this call was part of failed (the reason is the commit's).
    #[error("outbox write failed: {0}")]
    GroupCommit(String),
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

/// A change to the record marks, committed with readings (see [`Outbox::push_with_updates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkUpdate {
    /// Raise mark `key` to at least `value` (never lowered).
    Raise(String, u64),
    /// Replace every mark whose key starts with `prefix` by `marks` (whose keys must start with
    /// `prefix`): marks that are not in `marks` are deleted, the others set, also lower.
    Replace { prefix: String, marks: Vec<(String, u64)> },
}

enum Op {
    /// Serialised readings, and mark updates to apply in order.
    Push(Vec<Vec<u8>>, Vec<MarkUpdate>),
    Remove(Vec<u64>),
}

enum Done {
    Pushed(Vec<u64>),
    Removed(usize),
}

/// Calls waiting for the next commit, and the results of the last ones.
#[derive(Default)]
struct Group {
    queue: Vec<(u64, Op)>,
    committing: bool,
    next_ticket: u64,
    results: HashMap<u64, Result<Done, OutboxError>>,
}

pub struct Outbox {
    db: Database,
    capacity: u64,
    group: Mutex<Group>,
    committed: Condvar,
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
        let outbox =
            Outbox { db, capacity: capacity.max(1), group: Mutex::new(Group::default()), committed: Condvar::new() };
        let mut tx = outbox.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut meta = tx.open_table(META)?;
            if meta.get(NEXT_SEQ)?.is_none() {
                meta.insert(NEXT_SEQ, now_micros())?;
                meta.insert(EVICTED, 0)?;
            }
            tx.open_table(READINGS)?;
            tx.open_table(MARKS)?;
        }
        tx.commit()?;
        Ok(outbox)
    }

    /// Numbers and stores readings durably; returns their sequence numbers. Blocks until the
    /// commit is on disk (call it from a blocking context).
    pub fn push(&self, readings: &[NewReading]) -> Result<Vec<u64>, OutboxError> {
        self.push_with_marks(readings, &[])
    }

    /// Like [`Outbox::push`], and raises each mark `(key, value)` to at least `value` in the same
    /// durable transaction: a mark says "everything up to here is in the outbox", so it can
    /// never get ahead of the readings (after a crash both are there, or neither).
    pub fn push_with_marks(&self, readings: &[NewReading], marks: &[(String, u64)]) -> Result<Vec<u64>, OutboxError> {
        let updates: Vec<MarkUpdate> = marks.iter().map(|(k, v)| MarkUpdate::Raise(k.clone(), *v)).collect();
        self.push_with_updates(readings, &updates)
    }

    /// Like [`Outbox::push`], and applies the mark updates, in order, in the same durable
    /// transaction.
    pub fn push_with_updates(&self, readings: &[NewReading], updates: &[MarkUpdate]) -> Result<Vec<u64>, OutboxError> {
        if readings.is_empty() && updates.is_empty() {
            return Ok(Vec::new());
        }
        let rows = readings
            .iter()
            .map(|r| {
                let stored = Stored { d: r.device_id.clone(), m: r.metric, v: r.value, t: r.time_ms, s: r.time_source };
                serde_json::to_vec(&stored).expect("outbox entry serialises")
            })
            .collect();
        match self.submit(Op::Push(rows, updates.to_vec()))? {
            Done::Pushed(seqs) => Ok(seqs),
            Done::Removed(_) => unreachable!("a push yields seqs"),
        }
    }

    /// Forgets acknowledged readings; returns how many were still here. Not fsynced on its own
    /// (see the module documentation).
    pub fn remove(&self, seqs: &[u64]) -> Result<usize, OutboxError> {
        if seqs.is_empty() {
            return Ok(0);
        }
        match self.submit(Op::Remove(seqs.to_vec()))? {
            Done::Removed(n) => Ok(n),
            Done::Pushed(_) => unreachable!("a removal yields a count"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `op` for the next commit, leading that commit when none is in progress.
    fn submit(&self, op: Op) -> Result<Done, OutboxError> {
        let mut g = self.lock();
        let ticket = g.next_ticket;
        g.next_ticket += 1;
        g.queue.push((ticket, op));
        loop {
            if let Some(result) = g.results.remove(&ticket) {
                return result;
            }
            if g.committing {
                g = self.committed.wait(g).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            g.committing = true;
            let batch = std::mem::take(&mut g.queue);
            drop(g);
            let tickets: Vec<u64> = batch.iter().map(|(t, _)| *t).collect();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit(batch)))
                .unwrap_or_else(|_| Err(OutboxError::GroupCommit("the commit panicked".into())));
            g = self.lock();
            match outcome {
                Ok(done) => g.results.extend(tickets.into_iter().zip(done.into_iter().map(Ok))),
                Err(e) => {
                    let why = e.to_string();
                    g.results.extend(tickets.into_iter().map(|t| (t, Err(OutboxError::GroupCommit(why.clone())))));
                }
            }
            g.committing = false;
            self.committed.notify_all();
        }
    }

    /// One transaction for everything queued: durable when it holds readings.
    fn commit(&self, batch: Vec<(u64, Op)>) -> Result<Vec<Done>, OutboxError> {
        let mut tx = self.db.begin_write()?;
        let any_push = batch.iter().any(|(_, op)| matches!(op, Op::Push(..)));
        tx.set_durability(if any_push { Durability::Immediate } else { Durability::None })?;
        let mut done = Vec::with_capacity(batch.len());
        {
            let mut meta = tx.open_table(META)?;
            let mut table = tx.open_table(READINGS)?;
            let mut marks = tx.open_table(MARKS)?;
            let mut next = meta.get(NEXT_SEQ)?.map(|g| g.value()).unwrap_or_else(now_micros);
            let first = next;
            for (_, op) in batch {
                match op {
                    Op::Push(rows, updates) => {
                        for update in updates {
                            match update {
                                MarkUpdate::Raise(key, value) => {
                                    let old = marks.get(key.as_str())?.map(|g| g.value());
                                    if old.is_none_or(|old| old < value) {
                                        marks.insert(key.as_str(), value)?;
                                    }
                                }
                                MarkUpdate::Replace { prefix, marks: new } => {
                                    let mut old = Vec::new();
                                    for entry in marks.range(prefix.as_str()..)? {
                                        let (k, _) = entry?;
                                        if !k.value().starts_with(prefix.as_str()) {
                                            break;
                                        }
                                        old.push(k.value().to_owned());
                                    }
                                    for key in old {
                                        marks.remove(key.as_str())?;
                                    }
                                    for (key, value) in new.into_iter().filter(|(k, _)| k.starts_with(prefix.as_str()))
                                    {
                                        marks.insert(key.as_str(), value)?;
                                    }
                                }
                            }
                        }
                        let mut seqs = Vec::with_capacity(rows.len());
                        for row in rows {
                            table.insert(next, row.as_slice())?;
                            seqs.push(next);
                            next += 1;
                        }
                        done.push(Done::Pushed(seqs));
                    }
                    Op::Remove(seqs) => {
                        let mut removed = 0;
                        for seq in seqs {
                            if table.remove(seq)?.is_some() {
                                removed += 1;
                            }
                        }
                        done.push(Done::Removed(removed));
                    }
                }
            }
            if next != first {
                meta.insert(NEXT_SEQ, next)?;
            }
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
        Ok(done)
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

    /// The mark `key` as last committed by [`Outbox::push_with_marks`].
    pub fn mark(&self, key: &str) -> Result<Option<u64>, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(MARKS)?.get(key)?.map(|g| g.value()))
    }

    /// The marks whose keys start with `prefix`, by key, as last committed.
    pub fn marks_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, OutboxError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(MARKS)?;
        let mut out = Vec::new();
        for entry in table.range(prefix..)? {
            let (k, v) = entry?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_owned(), v.value()));
        }
        Ok(out)
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
    fn marks_rise_with_their_readings_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let ob = Outbox::open(dir.path(), 100).unwrap();
            assert_eq!(ob.mark("glucose_seq/g1").unwrap(), None);
            let seqs = ob.push_with_marks(&[r(5.5)], &[("glucose_seq/g1".into(), 7)]).unwrap();
            assert_eq!(seqs.len(), 1);
            // Never lowered; a mark alone (a record that gave no reading) is committed too.
            ob.push_with_marks(&[], &[("glucose_seq/g1".into(), 3)]).unwrap();
            assert_eq!(ob.mark("glucose_seq/g1").unwrap(), Some(7));
            ob.push_with_marks(&[], &[("glucose_seq/g1".into(), 9)]).unwrap();
        }
        let ob = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(ob.mark("glucose_seq/g1").unwrap(), Some(9));
        assert_eq!(ob.mark("glucose_seq/other").unwrap(), None);
        assert_eq!(ob.len().unwrap(), 1);
    }

    #[test]
    fn a_replacement_sets_the_marks_under_its_prefix_and_leaves_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let raise = |k: &str, v| MarkUpdate::Raise(k.into(), v);
        {
            let ob = Outbox::open(dir.path(), 100).unwrap();
            ob.push_with_updates(
                &[r(1.0)],
                &[raise("p/a/01", 2), raise("p/a/02", 1), raise("p/b/01", 5), raise("p/a", 9)],
            )
            .unwrap();
            // In order: the replacement, then a raise after it.
            let replace =
                MarkUpdate::Replace { prefix: "p/a/".into(), marks: vec![("p/a/02".into(), 1), ("p/a/03".into(), 1)] };
            ob.push_with_updates(&[], &[raise("p/a/01", 3), replace, raise("p/a/04", 1)]).unwrap();
        }
        let ob = Outbox::open(dir.path(), 100).unwrap();
        let under = |p: &str| ob.marks_with_prefix(p).unwrap();
        let m = |k: &str, v| (k.to_owned(), v);
        assert_eq!(under("p/a/"), vec![m("p/a/02", 1), m("p/a/03", 1), m("p/a/04", 1)]);
        assert_eq!(under("p/b/"), vec![m("p/b/01", 5)]);
        assert_eq!(ob.mark("p/a").unwrap(), Some(9), "a key that only shares the beginning is not under the prefix");
        assert_eq!(under("q/"), vec![]);
        assert_eq!(ob.len().unwrap(), 1);
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

    #[test]
    fn concurrent_pushes_share_commits_and_keep_every_reading() {
        let dir = tempfile::tempdir().unwrap();
        let ob = std::sync::Arc::new(Outbox::open(dir.path(), 1_000_000).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let ob = ob.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..50 {
                        mine.extend(ob.push(&[r((t * 100 + i) as f64)]).unwrap());
                        if i % 10 == 9 {
                            // Interleave acknowledgements of our own older readings.
                            let done: Vec<u64> = mine.drain(..5).collect();
                            assert_eq!(ob.remove(&done).unwrap(), 5);
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut kept: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        kept.sort();
        let left: Vec<u64> = ob.peek(None, 10_000).unwrap().iter().map(|x| x.seq).collect();
        assert_eq!(left, kept, "exactly the unacknowledged readings remain, each once");
        assert_eq!(left.len(), 8 * 25);
        let mut unique = left.clone();
        unique.dedup();
        assert_eq!(unique.len(), left.len(), "seqs are unique");
    }

    #[test]
    fn removals_alone_become_durable_with_the_next_push() {
        let dir = tempfile::tempdir().unwrap();
        {
            let ob = Outbox::open(dir.path(), 100).unwrap();
            let seqs = ob.push(&[r(1.0), r(2.0), r(3.0)]).unwrap();
            assert_eq!(ob.remove(&seqs[..1]).unwrap(), 1);
            assert_eq!(ob.len().unwrap(), 2, "visible at once");
            ob.push(&[r(4.0)]).unwrap();
        }
        let ob = Outbox::open(dir.path(), 100).unwrap();
        let values: Vec<f64> = ob.peek(None, 10).unwrap().iter().map(|x| x.value).collect();
        assert_eq!(values, vec![2.0, 3.0, 4.0]);
        assert!(ob.push(&[]).unwrap().is_empty());
        assert_eq!(ob.remove(&[]).unwrap(), 0);
    }
}
