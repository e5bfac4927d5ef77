//! Reading what the rules engine keeps about a resident, for people to see (the engine itself
//! reads and writes it inside the ingest transaction, `StoreTx::rule_inputs`).

use crate::{Store, StoreError};

/// A resident's stored rule state and threshold overrides, both JSON, `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct RuleInputs {
    pub state: Option<String>,
    /// When the state was last saved.
    pub updated_ms: Option<i64>,
    pub overrides: Option<String>,
}

impl Store {
    /// The stored rule state and threshold overrides of a resident (all `None` for a resident
    /// without either, or no such resident: callers check scope first).
    pub async fn rule_inputs_of(&self, resident_id: i64) -> Result<RuleInputs, StoreError> {
        let row: Option<RuleInputs> = sqlx::query_as(
            "select s.state, s.updated_ms, t.overrides from residents r \
             left join resident_rule_state s on s.resident_id = r.resident_id \
             left join resident_thresholds t on t.resident_id = r.resident_id \
             where r.resident_id = $1",
        )
        .bind(resident_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.unwrap_or_default())
    }
}
