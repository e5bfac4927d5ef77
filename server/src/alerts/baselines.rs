//! The personal baselines for the API (`GET /api/v1/residents/{id}/baselines`): the rules
//! engine's own reading of a resident's stored state, with the resident's thresholds, in the
//! API's wire type. Handed to the API with `ApiState::with_baselines`.

use eldercare_mobile_api::Baseline;

use super::apply;

/// A resident's baselines from their stored rule state and threshold overrides (JSON).
pub fn read(resident_id: i64, state: Option<&str>, overrides: Option<&str>) -> Vec<Baseline> {
    let (state, thresholds) = apply::parse(resident_id, state, overrides);
    state
        .baseline_bands(&thresholds)
        .into_iter()
        .map(|b| Baseline {
            metric: b.metric,
            unit: b.metric.info().ucum.to_owned(),
            learning: b.learning,
            learning_days: b.learning_days,
            days: b.days,
            samples: b.samples,
            median: b.median,
            sigma: b.sigma,
            k: b.k,
            min_deviation: b.min_deviation,
            low: b.low,
            high: b.high,
            drift_low: b.drift_low,
            drift_high: b.drift_high,
            alerts_below: b.alerts_below,
            alerts_above: b.alerts_above,
        })
        .collect()
}
