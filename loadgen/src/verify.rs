//! The exactly-once check: what each gateway published against what the database holds.
//!
//! A gateway of this run published the readings `seq_base .. seq_base + published` (one seq per
//! reading, never reused); nobody else publishes under its id. So each gateway's readings are
//! stored exactly once when the stored rows with `seq >= seq_base` number `published`, are all
//! distinct, and lie in that range.

use serde::Serialize;

use crate::db::{Db, DbError};
use crate::load::LoadOutcome;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Verification {
    /// Readings published at least once.
    pub published: u64,
    /// Distinct readings found in the database.
    pub stored: u64,
    /// Published but not stored.
    pub losses: u64,
    /// Rows beyond the first of the same (gateway, device, seq).
    pub duplicates: u64,
    /// Stored readings with a seq this run never published (must be 0).
    pub unexpected: u64,
    /// Gateways with any of the above, first few.
    pub bad_gateways: Vec<String>,
}

impl Verification {
    pub fn exactly_once(&self) -> bool {
        self.losses == 0 && self.duplicates == 0 && self.unexpected == 0
    }
}

pub async fn verify(db: &Db, prefix: &str, seq_base: u64, load: &LoadOutcome) -> Result<Verification, DbError> {
    let stored = db.stored(prefix, seq_base).await?;
    let mut v = Verification::default();
    for g in &load.gateways {
        v.published += g.published;
        let s = stored.get(&g.gateway_id).copied().unwrap_or_default();
        let distinct = s.distinct.max(0) as u64;
        let last = seq_base as i64 + g.published as i64 - 1;
        let out_of_range = s.rows > 0 && (s.min_seq < seq_base as i64 || s.max_seq > last);
        // Out-of-range rows are counted as unexpected; the in-range ones bound the losses.
        let unexpected = if out_of_range { distinct.saturating_sub(g.published).max(1) } else { 0 };
        let in_range = distinct.saturating_sub(unexpected);
        let losses = g.published.saturating_sub(in_range);
        let duplicates = (s.rows - s.distinct).max(0) as u64;
        v.stored += in_range;
        v.losses += losses;
        v.duplicates += duplicates;
        v.unexpected += unexpected;
        if (losses > 0 || duplicates > 0 || unexpected > 0) && v.bad_gateways.len() < 10 {
            v.bad_gateways.push(g.gateway_id.clone());
        }
    }
    Ok(v)
}
