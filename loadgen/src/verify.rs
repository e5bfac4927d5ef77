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
    /// Published but not stored. When the drain ran out first these may still be queued in the
    /// broker or unacknowledged (the gateways keep them): the report then says "not stored yet".
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::GatewayOutcome;
    use crate::histogram::Histogram;
    use std::time::Duration;

    fn outcome(published: &[(&str, u64)]) -> LoadOutcome {
        LoadOutcome {
            gateways: published
                .iter()
                .map(|(g, n)| GatewayOutcome {
                    gateway_id: (*g).into(),
                    published: *n,
                    acked: *n,
                    never_published: 0,
                    latency_us: Histogram::default(),
                })
                .collect(),
            latency_us: Histogram::default(),
            measuring: Duration::from_secs(1),
            total: Duration::from_secs(1),
            drained: true,
        }
    }

    async fn insert(db: &Db, gw: &str, seq: i64) {
        let Db::Sqlite(p) = db else { unreachable!() };
        sqlx::query(
            "insert into readings (gateway_id, device_id, seq, resident_id, metric, value, measured_ms, received_ms, time_source) \
             values (?, ?, ?, 1, 'heart_rate', 70, 0, 0, 'device')",
        )
        .bind(gw)
        .bind(format!("{gw}-r0-hr"))
        .bind(seq)
        .execute(p)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn finds_losses_and_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("v.db").display());
        eldercare_store::Store::open(&url).await.unwrap().close().await;
        let db = Db::connect(&url).await.unwrap();
        let base = 1_000;
        // An earlier run's reading (below the base) and another prefix's gateway are ignored.
        insert(&db, "p-g0", 5).await;
        insert(&db, "q-g0", base).await;
        for s in 0..3 {
            insert(&db, "p-g0", base + s).await;
        }
        insert(&db, "p-g1", base).await;
        let v = verify(&db, "p", base as u64, &outcome(&[("p-g0", 3), ("p-g1", 1)])).await.unwrap();
        assert!(v.exactly_once(), "{v:?}");
        assert_eq!((v.published, v.stored), (4, 4));

        // p-g1 published two, one arrived.
        let v = verify(&db, "p", base as u64, &outcome(&[("p-g0", 3), ("p-g1", 2)])).await.unwrap();
        assert_eq!((v.losses, v.stored, v.bad_gateways.clone()), (1, 4, vec!["p-g1".to_owned()]));

        // A seq the run never published is not counted as stored.
        insert(&db, "p-g1", base + 7).await;
        let v = verify(&db, "p", base as u64, &outcome(&[("p-g0", 3), ("p-g1", 1)])).await.unwrap();
        assert!(!v.exactly_once());
        assert_eq!(v.unexpected, 1, "{v:?}");
        db.close().await;
    }
}
