//! Events from wearables: a fall (with a cancel window for "I'm fine") and the help button.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::level::Level;
use super::state::ResidentState;
use super::{Context, Effect, Finding};

/// How long after a raised fall a late "I'm fine" is still added to its evidence.
const LATE_CANCEL_MS: i64 = 10 * 60_000;

/// A detected fall waiting for its cancel window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingFall {
    pub detected_ms: i64,
    pub due_ms: i64,
}

/// The last fall raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastFall {
    pub device_id: String,
    pub detected_ms: i64,
    pub raised_ms: i64,
}

fn timer_key(device_id: &str) -> String {
    format!("fall:{device_id}")
}

/// A `fall` reading: 1 = detected (start the cancel window), 0 = the wearer cancelled.
pub(crate) fn fall(state: &mut ResidentState, ctx: &Context, device_id: &str, t: i64, v: f64, fx: &mut Vec<Effect>) {
    if v >= 0.5 {
        if state.falls.contains_key(device_id) {
            return; // the same fall reported again: its window is already running
        }
        let due_ms = t.saturating_add(i64::from(ctx.thresholds.fall_cancel_s) * 1000);
        state.falls.insert(device_id.to_owned(), PendingFall { detected_ms: t, due_ms });
        fx.push(Effect::StartTimer { key: timer_key(device_id), due_ms });
        return;
    }
    if let Some(p) = state.falls.remove(device_id) {
        let key = timer_key(device_id);
        // Started and cancelled within one batch (a backlog): neither reaches the caller.
        let started = fx.iter().position(|e| matches!(e, Effect::StartTimer { key: k, .. } if *k == key));
        match started {
            Some(i) => {
                fx.remove(i);
            }
            None => fx.push(Effect::CancelTimer { key }),
        }
        // A cancel later than the window (seen in a backlog, or before a late sweeper fired the
        // timer) does not undo the rule: the fall is raised, with the cancel in its evidence.
        if t > p.due_ms {
            fx.push(Effect::Raise(Finding {
                condition: "fall".to_owned(),
                level: Level::Critical,
                title: format!("Fall not cancelled within {} s (cancelled later)", ctx.thresholds.fall_cancel_s),
                evidence: json!({"device_id": device_id, "detected_ms": p.detected_ms,
                                 "cancel_window_s": ctx.thresholds.fall_cancel_s, "cancelled_ms": t,
                                 "cancelled_after_s": (t - p.detected_ms) / 1000}),
            }));
        }
        return;
    }
    // Cancelled after the window: the alert stands (a person resolves it), with the news added.
    let late = state
        .last_fall
        .take_if(|f| f.device_id == device_id && t >= f.detected_ms && t - f.detected_ms <= LATE_CANCEL_MS);
    if let Some(f) = late {
        fx.push(Effect::Raise(Finding {
            condition: "fall".to_owned(),
            level: Level::Critical,
            title: "Fall not cancelled in time; the wearer cancelled later".to_owned(),
            evidence: json!({"device_id": device_id, "detected_ms": f.detected_ms, "raised_ms": f.raised_ms,
                             "cancelled_ms": t, "cancelled_after_s": (t - f.detected_ms) / 1000}),
        }));
    }
}

/// The fall timer fired: the window passed without a cancel.
pub(crate) fn fall_timer(state: &mut ResidentState, ctx: &Context, device_id: &str) -> Vec<Effect> {
    let Some(p) = state.falls.remove(device_id) else {
        return Vec::new(); // cancelled meanwhile
    };
    state.last_fall =
        Some(LastFall { device_id: device_id.to_owned(), detected_ms: p.detected_ms, raised_ms: ctx.now_ms });
    let window = ctx.thresholds.fall_cancel_s;
    vec![Effect::Raise(Finding {
        condition: "fall".to_owned(),
        level: Level::Critical,
        title: format!("Fall detected and not cancelled within {window} s"),
        evidence: json!({"device_id": device_id, "detected_ms": p.detected_ms, "cancel_window_s": window,
                         "raised_ms": ctx.now_ms}),
    })]
}

/// A help-button press: critical at once, every press.
pub(crate) fn help_button(device_id: &str, t: i64, fx: &mut Vec<Effect>) {
    fx.push(Effect::Raise(Finding {
        condition: "help_button".to_owned(),
        level: Level::Critical,
        title: "Help button pressed".to_owned(),
        evidence: json!({"device_id": device_id, "pressed_ms": t}),
    }));
}
