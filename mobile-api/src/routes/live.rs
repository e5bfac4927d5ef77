//! The live stream: Server-Sent Events of what happens in the caller's scope
//! (`GET /api/v1/live`, `text/event-stream`):
//!
//! * `alert`: alert activity, data `{event_id, alert_id, at_ms, kind, resident_id, household_id,
//!   level, status, condition, title}`;
//! * `vitals`: a new reading, data `{resident_id, metric, value, unit, measured_at, device_id}`
//!   (RR intervals are left out: they come several a second);
//! * `lagged`: the client fell behind and missed this many events (reload what it shows).
//!
//! Each server instance follows the `alert_events` and `readings` tables (new rows since the
//! last seen), so a user connected to any instance sees what every instance stored. The stream
//! is scoped like the API: the caller's visible residents are loaded at connect and refreshed
//! every 30 s.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use eldercare_schema::Metric;
use eldercare_store::escalation::{LiveEventRow, LiveReadingRow};
use eldercare_store::{Store, Viewer};
use futures::Stream;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::{ApiError, ApiState, AuthUser};

/// How often the feed looks for new alert events.
const POLL: Duration = Duration::from_millis(50);
const REFRESH_SCOPE: Duration = Duration::from_secs(30);

/// One item of the feed.
#[derive(Debug)]
enum Item {
    Alert(LiveEventRow),
    Reading(LiveReadingRow),
}

/// Fans alert events and readings out to the connected streams of this instance.
///
/// Alerts and readings have a channel and a follower task each: an alert is read as soon as
/// ingest signals it, never after a poll of thousands of readings, and each stream sends
/// waiting alerts before waiting readings.
#[derive(Clone, Debug)]
pub struct LiveHub {
    alerts: broadcast::Sender<Arc<Item>>,
    readings: broadcast::Sender<Arc<Item>>,
    /// Ends every open stream, so that a graceful shutdown does not wait on them for ever.
    shutdown: CancellationToken,
}

impl LiveHub {
    /// Starts following the alert events (from the newest at start) until `shutdown`.
    pub fn spawn(store: Store, shutdown: CancellationToken) -> LiveHub {
        LiveHub::spawn_with_wake(store, shutdown, Arc::new(Notify::new()))
    }

    /// Like [`LiveHub::spawn`]; `wake` makes it look at once (ingest signals it after a commit
    /// that touched alerts, so alerts raised by this instance are not delayed by the poll).
    pub fn spawn_with_wake(store: Store, shutdown: CancellationToken, wake: Arc<Notify>) -> LiveHub {
        let (alerts, _) = broadcast::channel(4096);
        let (readings, _) = broadcast::channel(4096);
        let hub = LiveHub { alerts: alerts.clone(), readings: readings.clone(), shutdown: shutdown.clone() };
        {
            let (store, shutdown) = (store.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut last = store.last_event_id().await.unwrap_or(0);
                let mut interval = tokio::time::interval(POLL);
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = interval.tick() => {}
                        _ = wake.notified() => {}
                    }
                    // Nobody watching is fine: sends without receivers are dropped by design.
                    match store.live_events_after(last, 500).await {
                        Ok(rows) => {
                            for row in rows {
                                last = row.event_id;
                                let _ = alerts.send(Arc::new(Item::Alert(row)));
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "live stream poll failed; retrying"),
                    }
                }
            });
        }
        tokio::spawn(async move {
            let mut last = store.last_reading_position().await.unwrap_or(0);
            let mut interval = tokio::time::interval(POLL);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = interval.tick() => {}
                }
                if readings.receiver_count() == 0 {
                    // Readings are only worth reading for someone; skip ahead.
                    if let Ok(p) = store.last_reading_position().await {
                        last = p;
                    }
                    continue;
                }
                match store.live_readings_after(last, 2000).await {
                    Ok(rows) => {
                        for row in rows {
                            last = row.position;
                            if row.metric != Metric::RrInterval.code() {
                                let _ = readings.send(Arc::new(Item::Reading(row)));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "live stream poll failed; retrying"),
                }
            }
        });
        hub
    }
}

fn to_event(item: &Item) -> Event {
    let made = match item {
        Item::Alert(e) => Event::default().event("alert").id(e.event_id.to_string()).json_data(e),
        Item::Reading(r) => {
            let unit = Metric::from_code(&r.metric).map(|m| m.info().ucum).unwrap_or("");
            let measured_at = crate::rfc3339::format_ms(r.measured_ms).unwrap_or_default();
            Event::default().event("vitals").json_data(serde_json::json!({
                "resident_id": r.resident_id,
                "metric": r.metric,
                "value": r.value,
                "unit": unit,
                "measured_at": measured_at,
                "device_id": r.device_id,
            }))
        }
    };
    made.unwrap_or_else(|_| Event::default().event("error").data("unserialisable event"))
}

pub(crate) fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/live", get(live))
}

#[derive(Default)]
struct Scope {
    residents: HashSet<i64>,
    households: HashSet<i64>,
}

impl Scope {
    async fn load(store: &Store, viewer: &Viewer) -> Result<Scope, ApiError> {
        let rows = store.visible_residents(viewer).await?;
        Ok(Scope {
            residents: rows.iter().map(|r| r.resident_id).collect(),
            households: rows.iter().map(|r| r.household_id).collect(),
        })
    }

    fn sees(&self, item: &Item) -> bool {
        match item {
            Item::Alert(e) => match e.resident_id {
                Some(r) => self.residents.contains(&r),
                None => self.households.contains(&e.household_id),
            },
            Item::Reading(r) => self.residents.contains(&r.resident_id),
        }
    }
}

/// One stream's receivers.
struct Feeds {
    alerts: broadcast::Receiver<Arc<Item>>,
    readings: broadcast::Receiver<Arc<Item>>,
    stop: CancellationToken,
}

impl Feeds {
    /// The next item, alerts first; `Err(n)` when `n` items were missed (the stream fell
    /// behind); `None` when the server is stopping (the client reconnects elsewhere).
    async fn next(&mut self) -> Option<Result<Arc<Item>, u64>> {
        let received = tokio::select! {
            biased;
            _ = self.stop.cancelled() => return None,
            r = self.alerts.recv() => r,
            r = self.readings.recv() => r,
        };
        match received {
            Ok(item) => Some(Ok(item)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Err(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Alert activity in the caller's scope, as it happens.
#[utoipa::path(
    get,
    path = "/api/v1/live",
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events: `alert` {event_id, alert_id, at_ms, kind, resident_id, household_id, level, status, condition, title}; `vitals` {resident_id, metric, value, unit, measured_at, device_id}; `lagged` (count of missed events)", content_type = "text/event-stream"),
        (status = 401, description = "Missing, invalid or expired token", body = eldercare_schema::api::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The live stream is not enabled on this server", body = eldercare_schema::api::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn live(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let hub = state.live.clone().ok_or_else(|| ApiError::NotReady("live stream".into()))?;
    let viewer = user.viewer();
    let scope = Scope::load(&state.store, &viewer).await?;
    let feeds =
        Feeds { alerts: hub.alerts.subscribe(), readings: hub.readings.subscribe(), stop: hub.shutdown.clone() };
    state.audit(Some(user.user_id), "live.subscribe", None, "").await?;
    let store = state.store.clone();
    let stream = futures::stream::unfold(
        (feeds, scope, Instant::now(), store, viewer),
        |(mut feeds, mut scope, mut loaded, store, viewer)| async move {
            loop {
                let event = match feeds.next().await? {
                    Ok(e) => e,
                    Err(n) => {
                        let ev = Event::default().event("lagged").data(n.to_string());
                        return Some((Ok(ev), (feeds, scope, loaded, store, viewer)));
                    }
                };
                if loaded.elapsed() > REFRESH_SCOPE {
                    if let Ok(s) = Scope::load(&store, &viewer).await {
                        scope = s;
                    }
                    loaded = Instant::now();
                }
                if !scope.sees(&event) {
                    continue;
                }
                return Some((Ok(to_event(&event)), (feeds, scope, loaded, store, viewer)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(position: i64) -> Arc<Item> {
        Arc::new(Item::Reading(LiveReadingRow {
            position,
            resident_id: 1,
            metric: "heart_rate".into(),
            value: 70.0,
            measured_ms: 0,
            device_id: "band".into(),
        }))
    }

    fn alert(event_id: i64) -> Arc<Item> {
        Arc::new(Item::Alert(LiveEventRow {
            event_id,
            alert_id: 1,
            at_ms: 0,
            kind: "opened".into(),
            resident_id: Some(1),
            household_id: 1,
            level: "critical".into(),
            status: "open".into(),
            condition: "spo2_low".into(),
            title: "SpO2 low".into(),
        }))
    }

    fn label(item: &Item) -> String {
        match item {
            Item::Alert(e) => format!("alert {}", e.event_id),
            Item::Reading(r) => format!("reading {}", r.position),
        }
    }

    #[tokio::test]
    async fn a_waiting_alert_goes_out_before_waiting_readings_and_stopping_ends_the_feed() {
        let (alerts, _) = broadcast::channel(16);
        let (readings, _) = broadcast::channel(4);
        let stop = CancellationToken::new();
        let mut feeds = Feeds { alerts: alerts.subscribe(), readings: readings.subscribe(), stop: stop.clone() };
        for p in 1..=3 {
            readings.send(reading(p)).unwrap();
        }
        alerts.send(alert(9)).unwrap();
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(label(&feeds.next().await.unwrap().unwrap()));
        }
        assert_eq!(got, ["alert 9", "reading 1", "reading 2", "reading 3"]);
        // A reader that falls behind is told how much it missed.
        for p in 4..=9 {
            readings.send(reading(p)).unwrap();
        }
        assert_eq!(feeds.next().await.unwrap().unwrap_err(), 2);
        assert_eq!(label(&feeds.next().await.unwrap().unwrap()), "reading 6");
        stop.cancel();
        assert!(feeds.next().await.is_none(), "a stopping server ends the stream");
    }
}
