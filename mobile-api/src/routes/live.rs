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
#[derive(Clone, Debug)]
pub struct LiveHub {
    tx: broadcast::Sender<Arc<Item>>,
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
        let (tx, _) = broadcast::channel(4096);
        let hub = LiveHub { tx: tx.clone(), shutdown: shutdown.clone() };
        tokio::spawn(async move {
            let mut last = store.last_event_id().await.unwrap_or(0);
            let mut last_reading = store.last_reading_position().await.unwrap_or(0);
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
                            let _ = tx.send(Arc::new(Item::Alert(row)));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "live stream poll failed; retrying"),
                }
                if tx.receiver_count() == 0 {
                    // Readings are only worth reading for someone; skip ahead.
                    if let Ok(p) = store.last_reading_position().await {
                        last_reading = p;
                    }
                    continue;
                }
                match store.live_readings_after(last_reading, 2000).await {
                    Ok(rows) => {
                        for row in rows {
                            last_reading = row.position;
                            if row.metric != Metric::RrInterval.code() {
                                let _ = tx.send(Arc::new(Item::Reading(row)));
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
    let rx = hub.tx.subscribe();
    state.audit(Some(user.user_id), "live.subscribe", None, "").await?;
    let store = state.store.clone();
    let stop = hub.shutdown.clone();
    let stream = futures::stream::unfold(
        (rx, scope, Instant::now(), store, viewer),
        move |(mut rx, mut scope, mut loaded, store, viewer)| {
            let stop = stop.clone();
            async move {
                loop {
                    let received = tokio::select! {
                        // The server is stopping: end the stream (the client reconnects elsewhere).
                        _ = stop.cancelled() => return None,
                        r = rx.recv() => r,
                    };
                    let event = match received {
                        Ok(e) => e,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            let ev = Event::default().event("lagged").data(n.to_string());
                            return Some((Ok(ev), (rx, scope, loaded, store, viewer)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
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
                    return Some((Ok(to_event(&event)), (rx, scope, loaded, store, viewer)));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
