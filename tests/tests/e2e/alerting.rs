//! Alerts end to end: a critical reading becomes an alert in the same transaction, reaches the
//! caregiver and the family on the live stream, walks the escalation chain on an injected clock
//! (across a restart, with two instances notifying once), stops on acknowledgement, and goes
//! out to webhooks whose every attempt is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eldercare_gateway::gatt::{Characteristic, FallEventKind, encode};
use eldercare_server::alerts::{self, AlertSettings};
use eldercare_store::Role;
use serde_json::{Value, json};

use crate::support::*;

/// An open Server-Sent Events stream.
pub struct Live {
    res: reqwest::Response,
    buf: String,
}

impl Live {
    pub async fn open(http: std::net::SocketAddr, token: &str) -> Live {
        let res =
            reqwest::Client::new().get(format!("http://{http}/api/v1/live")).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Live { res, buf: String::new() }
    }

    /// The next `alert` event's data.
    pub async fn next_alert(&mut self) -> Value {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..end + 2).collect();
                    if frame.lines().any(|l| l == "event: alert") {
                        let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                        return serde_json::from_str(data).unwrap();
                    }
                    continue;
                }
                let chunk = self.res.chunk().await.unwrap().expect("stream open");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an alert event on the live stream")
    }
}

async fn alert_detail(w: &World, token: &str, alert_id: i64) -> Value {
    let (status, body) = get(w.http(), token, &format!("/api/v1/alerts/{alert_id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

async fn post(http: std::net::SocketAddr, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{http}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn user_id(w: &World, username: &str) -> i64 {
    w.server().store.user_by_username(username).await.unwrap().unwrap().user_id
}

/// A critical SpO2 from Wang Jianguo's oximeter; returns the alert's id once it exists.
async fn critical_spo2(w: &World, gw: &TestGateway, token: &str) -> i64 {
    gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(85.0, 72.0, None));
    eventually("the SpO2 alert", || async {
        let (_, list) = get(w.http(), token, "/api/v1/alerts").await;
        list.as_array()?.iter().find(|a| a["condition"] == "spo2_low").map(|a| a["alert_id"].as_i64().unwrap())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_reading_reaches_caregiver_and_family_live_and_no_one_else() {
    let w = World::new().await;
    let http = w.http();
    let (caregiver, family1, family2) =
        (login(http, "caregiver").await, login(http, "family1").await, login(http, "family2").await);
    let mut live_caregiver = Live::open(http, &caregiver).await;
    let mut live_family1 = Live::open(http, &family1).await;
    let mut live_family2 = Live::open(http, &family2).await;

    let wang_gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    wang_gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(85.0, 72.0, None));
    for live in [&mut live_caregiver, &mut live_family1] {
        let e = live.next_alert().await;
        assert_eq!(
            (e["condition"].as_str(), e["level"].as_str(), e["kind"].as_str()),
            (Some("spo2_low"), Some("critical"), Some("opened"))
        );
    }
    // Chen Mei presses her help button: the first thing family2 ever sees is that, not Wang's alert.
    let chen_gw = TestGateway::start("gw-chen", &w.broker, &w.outbox_dir("gw-chen"));
    chen_gw.feed("fp-chen-01", Characteristic::FallEvent, &encode::fall(FallEventKind::HelpButton, None));
    let e = live_family2.next_alert().await;
    assert_eq!((e["condition"].as_str(), e["level"].as_str()), (Some("help_button"), Some("critical")));

    let (_, list) = get(http, &family2, "/api/v1/alerts").await;
    let conditions: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["condition"].as_str().unwrap()).collect();
    assert_eq!(conditions, vec!["help_button"], "family2 sees only Chen Mei's alert");
    let spo2 = list_ids(&w, &family1, "spo2_low").await;
    let (status, _) = get(http, &family2, &format!("/api/v1/alerts/{spo2}")).await;
    assert_eq!(status, 404);

    // The first escalation step went to the caregiver on duty (any caregiver in scope) and the family.
    let (caregiver_id, family1_id) = (user_id(&w, "caregiver").await, user_id(&w, "family1").await);
    let detail = eventually("the first notifications", || async {
        let d = alert_detail(&w, &caregiver, spo2).await;
        (!d["notifications"].as_array().unwrap().is_empty()).then_some(d)
    })
    .await;
    let mut notified: Vec<i64> =
        detail["notifications"].as_array().unwrap().iter().filter_map(|n| n["user_id"].as_i64()).collect();
    notified.sort();
    assert_eq!(notified, vec![caregiver_id, family1_id]);
    wang_gw.stop().await;
    chen_gw.stop().await;

    // A graceful shutdown ends the open live streams instead of waiting on them for ever.
    let mut w = w;
    tokio::time::timeout(PATIENCE, w.stop_server()).await.expect("the server stops with live streams open");
    for live in [live_caregiver, live_family1, live_family2] {
        let mut res = live.res;
        let end = tokio::time::timeout(PATIENCE, async {
            loop {
                match res.chunk().await {
                    Ok(Some(_)) => continue,
                    other => return other.map(|_| ()),
                }
            }
        });
        let _closed_or_cut = end.await.expect("the stream ends");
    }
}

async fn list_ids(w: &World, token: &str, condition: &str) -> i64 {
    let (_, list) = get(w.http(), token, "/api/v1/alerts").await;
    list.as_array().unwrap().iter().find(|a| a["condition"] == condition).unwrap()["alert_id"].as_i64().unwrap()
}

/// Backup and supervisor on duty for Wang Jianguo's grid, around the clock.
async fn duty_roster(w: &World) -> (i64, i64, i64) {
    let store = &w.server().store;
    let hash = eldercare_mobile_api::password::hash_password(PASSWORD).unwrap();
    let backup = store.create_user("backup", &hash, Role::Caregiver, "Backup nurse").await.unwrap();
    let supervisor = store.create_user("supervisor", &hash, Role::Caregiver, "Supervisor").await.unwrap();
    let admin = store.create_user("root", &hash, Role::Admin, "Root").await.unwrap();
    let caregiver = user_id(w, "caregiver").await;
    let grid =
        store.visible_residents(&eldercare_store::Viewer { user_id: caregiver, role: Role::Caregiver }).await.unwrap()
            [0]
        .grid_id;
    for (user, tier) in [(caregiver, "primary"), (backup, "backup"), (supervisor, "supervisor")] {
        store.grant_scope(user, grid).await.unwrap();
        store.add_duty_shift(user, grid, tier, 0, 1440).await.unwrap();
    }
    let _ = admin;
    (caregiver, backup, supervisor)
}

fn step_users(detail: &Value, step: i64) -> Vec<i64> {
    let mut users: Vec<i64> = detail["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["step"] == step && n["channel"] == "live")
        .map(|n| n["user_id"].as_i64().unwrap())
        .collect();
    users.sort();
    users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_walks_the_chain_survives_a_restart_and_stops_on_acknowledgement() {
    let clock = ManualClock::starting_now();
    let mut w = World::seeded(Some(clock.clone())).await;
    let (caregiver_id, backup, supervisor) = duty_roster(&w).await;
    let family1 = user_id(&w, "family1").await;
    let caregiver = login(w.http(), "caregiver").await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    let alert = critical_spo2(&w, &gw, &caregiver).await;

    let detail = eventually("step 0", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        kinds(&d).contains(&"notified".to_owned()).then_some(d)
    })
    .await;
    assert_eq!(step_users(&detail, 0), {
        let mut v = vec![caregiver_id, family1];
        v.sort();
        v
    });

    // Four minutes: not yet. Five: the backup.
    clock.advance_min(4);
    let settings = AlertSettings::new(Arc::new({
        let c = clock.clone();
        move || c.now()
    }));
    assert_eq!(alerts::escalation::run_once(&w.server().store, &settings, clock.now()).await.unwrap(), 0);
    clock.advance_min(1);
    let detail = eventually("step 1", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (kinds(&d).iter().filter(|k| *k == "escalated").count() == 1).then_some(d)
    })
    .await;
    assert_eq!(step_users(&detail, 1), vec![backup]);

    // A restart in between changes nothing: the schedule lives in the database.
    w.stop_server().await;
    w.start_server().await;
    let caregiver = login(w.http(), "caregiver").await;
    clock.advance_min(5);
    let detail = eventually("step 2", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (kinds(&d).iter().filter(|k| *k == "escalated").count() == 2).then_some(d)
    })
    .await;
    assert_eq!(step_users(&detail, 2), vec![supervisor]);

    let (status, acked) =
        post(w.http(), &caregiver, &format!("/api/v1/alerts/{alert}/acknowledge"), json!({"note": "on my way"})).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    clock.advance_min(60);
    // Whatever else is open may escalate (the same reading also scores NEWS2); this one does not.
    alerts::escalation::run_once(&w.server().store, &settings, clock.now()).await.unwrap();
    let detail = alert_detail(&w, &caregiver, alert).await;
    assert_eq!(kinds(&detail).iter().filter(|k| *k == "escalated").count(), 2);
    assert_eq!(
        detail["events"].as_array().unwrap().iter().find(|e| e["kind"] == "acknowledged").unwrap()["note"],
        "on my way"
    );

    // Family may acknowledge but not resolve; resolving needs a note; twice is a conflict.
    let family = login(w.http(), "family1").await;
    assert_eq!(post(w.http(), &family, &format!("/api/v1/alerts/{alert}/resolve"), json!({"note": "ok"})).await.0, 403);
    assert_eq!(
        post(w.http(), &caregiver, &format!("/api/v1/alerts/{alert}/resolve"), json!({"note": "  "})).await.0,
        400
    );
    let (status, resolved) = post(
        w.http(),
        &caregiver,
        &format!("/api/v1/alerts/{alert}/resolve"),
        json!({"note": "oxygen given, GP called"}),
    )
    .await;
    assert_eq!((status, resolved["status"].as_str()), (200, Some("resolved")));
    assert_eq!(
        post(w.http(), &caregiver, &format!("/api/v1/alerts/{alert}/resolve"), json!({"note": "again"})).await.0,
        409
    );
    let family2 = login(w.http(), "family2").await;
    assert_eq!(post(w.http(), &family2, &format!("/api/v1/alerts/{alert}/acknowledge"), json!({})).await.0, 404);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_notify_each_step_once() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let (caregiver_id, backup, _) = duty_roster(&w).await;
    let second = w.another_server("e2e-second").await;
    let caregiver = login(w.http(), "caregiver").await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    let alert = critical_spo2(&w, &gw, &caregiver).await;
    gw.drained().await;
    // Both instances received the reading; only one stored it, so one alert.
    let (_, list) = get(w.http(), &caregiver, "/api/v1/alerts").await;
    assert_eq!(list.as_array().unwrap().iter().filter(|a| a["condition"] == "spo2_low").count(), 1);

    eventually("step 0", || async {
        (!step_users(&alert_detail(&w, &caregiver, alert).await, 0).is_empty()).then_some(())
    })
    .await;
    clock.advance_min(5);
    let detail = eventually("step 1", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (!step_users(&d, 1).is_empty()).then_some(d)
    })
    .await;
    // Let both workers look again: each step stays notified once.
    let settings = AlertSettings::new(Arc::new({
        let c = clock.clone();
        move || c.now()
    }));
    alerts::escalation::run_once(&second.store, &settings, clock.now()).await.unwrap();
    alerts::escalation::run_once(&w.server().store, &settings, clock.now()).await.unwrap();
    let detail2 = alert_detail(&w, &caregiver, alert).await;
    assert_eq!(detail["notifications"], detail2["notifications"]);
    let family1 = user_id(&w, "family1").await;
    let mut step0 = vec![caregiver_id, family1];
    step0.sort();
    assert_eq!(step_users(&detail2, 0), step0);
    assert_eq!(step_users(&detail2, 1), vec![backup]);
    assert_eq!(kinds(&detail2).iter().filter(|k| *k == "notified").count(), 1);
    gw.stop().await;
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fall_not_cancelled_is_critical_after_the_window_and_a_cancelled_one_is_nothing() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let caregiver = login(w.http(), "caregiver").await;
    let settings = AlertSettings::new(Arc::new({
        let c = clock.clone();
        move || c.now()
    }));

    // Zhao Lei falls and cancels within the window: nothing.
    let zhao = TestGateway::start("gw-zhao", &w.broker, &w.outbox_dir("gw-zhao"));
    zhao.feed("fp-zhao-01", Characteristic::FallEvent, &encode::fall(FallEventKind::FallDetected, None));
    zhao.feed("fp-zhao-01", Characteristic::FallEvent, &encode::fall(FallEventKind::FallCancelled, None));
    zhao.drained().await;
    // Chen Mei falls and does not cancel.
    let chen = TestGateway::start("gw-chen", &w.broker, &w.outbox_dir("gw-chen"));
    chen.feed("fp-chen-01", Characteristic::FallEvent, &encode::fall(FallEventKind::FallDetected, None));
    chen.drained().await;
    let (_, list) = get(w.http(), &caregiver, "/api/v1/alerts").await;
    assert!(list.as_array().unwrap().is_empty(), "no alert inside the cancel window: {list}");

    // The falls were measured on the gateways' (real) clocks, which ran on while the test
    // started up: 31 s past the later of the two clocks is past Chen's window on both.
    clock.advance_past_real_s(31);
    let fall = eventually("the fall alert", || async {
        let (_, list) = get(w.http(), &caregiver, "/api/v1/alerts").await;
        list.as_array()?.iter().find(|a| a["condition"] == "fall").cloned()
    })
    .await;
    assert_eq!(fall["level"], "critical");
    let chen_id = resident_id(w.http(), &caregiver, "Chen Mei").await.unwrap();
    assert_eq!(fall["resident_id"].as_i64(), Some(chen_id));
    // Zhao's timer was cancelled: nothing is left to fire, and no other alert exists.
    clock.advance_min(10);
    let fired = alerts::sweeper::fire_timers(&w.server().store, &settings, clock.now()).await.unwrap();
    assert_eq!(fired.opened, 0);
    let (_, list) = get(w.http(), &caregiver, "/api/v1/alerts").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    zhao.stop().await;
    chen.stop().await;
}

/// A webhook receiver: answers the n-th attempt of each delivery with the n-th behaviour,
/// checking signatures.
async fn receiver(behaviours: Vec<&'static str>, secret: &'static str) -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderMap, StatusCode};
    let hits = Arc::new(AtomicUsize::new(0));
    let per_delivery = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let h = hits.clone();
    let behaviours = Arc::new(behaviours);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (h, behaviours, per_delivery) = (h.clone(), behaviours.clone(), per_delivery.clone());
            async move {
                let ts: i64 = headers["x-eldercare-timestamp"].to_str().unwrap().parse().unwrap();
                let sig = headers["x-eldercare-signature"].to_str().unwrap();
                assert_eq!(sig, alerts::webhook::sign(secret, ts, &body), "signature checks out");
                h.fetch_add(1, Ordering::SeqCst);
                let delivery = headers["x-eldercare-delivery"].to_str().unwrap().to_owned();
                let n = {
                    let mut seen = per_delivery.lock().unwrap();
                    let n = seen.entry(delivery).or_insert(0);
                    *n += 1;
                    *n - 1
                };
                match behaviours.get(n).copied().unwrap_or("ok") {
                    "fail" => StatusCode::INTERNAL_SERVER_ERROR,
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(8)).await;
                        StatusCode::OK
                    }
                    _ => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_failures_timeouts_and_a_dead_receiver_and_log_every_attempt() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let store = w.server().store.clone();
    let (flaky_url, flaky_hits) = receiver(vec!["fail", "slow", "ok"], "flaky-secret").await;
    let dead_url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let flaky = store.create_webhook(&flaky_url, "flaky-secret", "urgent", clock.now()).await.unwrap();
    let dead = store.create_webhook(&dead_url, "dead-secret", "urgent", clock.now()).await.unwrap();
    let _warnings_only = store.create_webhook(&dead_url, "x", "critical", clock.now()).await.unwrap();

    let caregiver = login(w.http(), "caregiver").await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    let alert = critical_spo2(&w, &gw, &caregiver).await;
    let webhook_notification = |d: &Value, webhook: i64| -> Value {
        d["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["webhook_id"] == webhook)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // First attempts: the flaky receiver answers 500, the dead one refuses the connection.
    eventually("first attempts", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (webhook_notification(&d, flaky)["attempts"] == 1 && webhook_notification(&d, dead)["attempts"] == 1)
            .then_some(())
    })
    .await;
    // Backoff 2 s: the second attempt times out (the receiver takes 8 s; we wait 5).
    clock.advance_s(3);
    eventually("second attempt", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (webhook_notification(&d, flaky)["attempts"] == 2).then_some(())
    })
    .await;
    let flaky_n =
        webhook_notification(&alert_detail(&w, &caregiver, alert).await, flaky)["notification_id"].as_i64().unwrap();
    eventually("the timed-out attempt to be logged", || async {
        (store.delivery_attempts(flaky_n).await.unwrap().len() == 2).then_some(())
    })
    .await;
    // Backoff 4 s: delivered.
    clock.advance_s(5);
    let d = eventually("delivery", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (webhook_notification(&d, flaky)["status"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(webhook_notification(&d, flaky)["attempts"], 3);
    let attempts = store.delivery_attempts(flaky_n).await.unwrap();
    assert_eq!(attempts[0].1, Some(500));
    assert_eq!(attempts[1].2.as_deref(), Some("timed out"));
    assert_eq!(attempts[2].1, Some(200));
    assert!(flaky_hits.load(Ordering::SeqCst) >= 3);
    let dead_n = webhook_notification(&d, dead);
    assert_eq!(dead_n["status"], "pending", "still retrying the dead receiver");
    let dead_attempts = store.delivery_attempts(dead_n["notification_id"].as_i64().unwrap()).await.unwrap();
    assert!(
        dead_attempts.iter().all(|a| a.1.is_none() && a.2.as_deref() == Some("connection failed")),
        "{dead_attempts:?}"
    );
    // The critical-only webhook got this critical alert too: three webhook notifications.
    assert_eq!(d["notifications"].as_array().unwrap().iter().filter(|n| n["channel"] == "webhook").count(), 3);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_home_is_one_alert_and_a_silent_device_is_its_own() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let caregiver = login(w.http(), "caregiver").await;
    // The Wang home's gateway says goodbye (its offline status, as its last will would).
    let wang = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    wang.feed("hr-wang-01", Characteristic::HeartRateMeasurement, &encode::heart_rate(70, &[], Some(true), None));
    wang.drained().await;
    wang.stop().await;
    let open = |w: &World, token: String| {
        let http = w.http();
        async move {
            let (_, list) = get(http, &token, "/api/v1/alerts").await;
            list.as_array().unwrap().clone()
        }
    };
    eventually("the gateway to be offline", || async {
        let (gateways, _) = w.server().store.silence_inputs().await.unwrap();
        gateways.iter().any(|g| g.gateway_id == "gw-wang" && g.status.as_deref() == Some("offline")).then_some(())
    })
    .await;

    clock.advance_min(15);
    let alerts = eventually("the gateway alert", || async {
        let a = open(&w, caregiver.clone()).await;
        a.iter().any(|a| a["condition"] == "gateway_offline:gw-wang").then_some(a)
    })
    .await;
    let home = alerts.iter().find(|a| a["condition"] == "gateway_offline:gw-wang").unwrap();
    assert!(home["resident_id"].is_null(), "about the home, not one resident");

    // Three hours on: the heart-rate bands elsewhere have gone quiet; the Wang home's five
    // devices raise nothing more than the one gateway alert.
    clock.advance_min(180);
    let alerts = eventually("no-data alerts", || async {
        let a = open(&w, caregiver.clone()).await;
        a.iter().any(|a| a["condition"] == "no_data:hr-chen-01").then_some(a)
    })
    .await;
    let conditions: Vec<&str> = alerts.iter().map(|a| a["condition"].as_str().unwrap()).collect();
    assert_eq!(conditions.iter().filter(|c| c.starts_with("gateway_offline")).count(), 1, "{conditions:?}");
    for wang_device in ["ox-wang-01", "hr-wang-01", "bp-wang-01", "th-li-01", "sc-li-01"] {
        assert!(!conditions.contains(&format!("no_data:{wang_device}").as_str()), "{conditions:?}");
    }
    assert!(conditions.contains(&"no_data:hr-zhao-01"));

    // Chen Mei's band comes back: its alert is marked cleared (a person still resolves it).
    let chen = TestGateway::start("gw-chen", &w.broker, &w.outbox_dir("gw-chen"));
    chen.push_at("hr-chen-01", eldercare_schema::Metric::HeartRate, 72.0, clock.now());
    chen.drained().await;
    clock.advance_min(2);
    eventually("the no-data alert to clear", || async {
        let a = open(&w, caregiver.clone()).await;
        a.iter().find(|a| a["condition"] == "no_data:hr-chen-01").filter(|a| !a["cleared_at"].is_null()).map(|_| ())
    })
    .await;
    chen.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_resident_alerts_but_nobody_is_notified_until_the_silence_ends() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let caregiver = login(w.http(), "caregiver").await;
    let family2 = login(w.http(), "family2").await;
    let chen = resident_id(w.http(), &caregiver, "Chen Mei").await.unwrap();
    let path = format!("/api/v1/residents/{chen}/silences");
    assert_eq!(post(w.http(), &family2, &path, json!({"minutes": 60, "reason": "hospital"})).await.0, 403);
    assert_eq!(post(w.http(), &caregiver, &path, json!({"minutes": 0, "reason": "hospital"})).await.0, 400);
    let (status, silence) = post(w.http(), &caregiver, &path, json!({"minutes": 60, "reason": "in hospital"})).await;
    assert_eq!(status, 201, "{silence}");

    let gw = TestGateway::start("gw-chen", &w.broker, &w.outbox_dir("gw-chen"));
    gw.feed("fp-chen-01", Characteristic::FallEvent, &encode::fall(FallEventKind::HelpButton, None));
    let alert = eventually("the help-button alert", || async {
        let (_, list) = get(w.http(), &caregiver, "/api/v1/alerts").await;
        list.as_array()?.iter().find(|a| a["condition"] == "help_button").map(|a| a["alert_id"].as_i64().unwrap())
    })
    .await;
    eventually("the escalation to be held", || async {
        kinds(&alert_detail(&w, &caregiver, alert).await).contains(&"silenced".to_owned()).then_some(())
    })
    .await;
    assert!(alert_detail(&w, &caregiver, alert).await["notifications"].as_array().unwrap().is_empty());
    clock.advance_min(61);
    let d = eventually("notifications after the silence", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        (!d["notifications"].as_array().unwrap().is_empty()).then_some(d)
    })
    .await;
    assert!(kinds(&d).contains(&"notified".to_owned()));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_resident_thresholds_are_checked_recorded_and_applied() {
    let w = World::new().await;
    let http = w.http();
    let caregiver = login(http, "caregiver").await;
    let wang = resident_id(http, &caregiver, "Wang Jianguo").await.unwrap();
    let path = format!("/api/v1/residents/{wang}/thresholds");
    let put = |body: Value| {
        let (path, token) = (path.clone(), caregiver.clone());
        async move {
            let res = reqwest::Client::new()
                .put(format!("http://{http}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // What the rules engine would not apply is refused, naming the field.
    let (status, problem) = put(json!({"spo2_critical_beloww": 90})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("spo2_critical_beloww"), "{problem}");
    // A clinician raises Wang Jianguo's SpO2 floor to 92 %.
    let (status, body) = put(json!({"spo2_critical_below": 92})).await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = get(http, &caregiver, &format!("{path}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");

    // 91 % is now critical for him (the default floor is 88 %).
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(91.0, 72.0, None));
    let alert = eventually("the SpO2 alert", || async {
        let (_, list) = get(http, &caregiver, "/api/v1/alerts").await;
        list.as_array()?.iter().find(|a| a["condition"] == "spo2_low").cloned()
    })
    .await;
    assert_eq!(alert["level"], "critical");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duty_shifts_follow_the_community_time_zone() {
    let clock = ManualClock::starting_now();
    let w = World::seeded(Some(clock.clone())).await;
    let store = &w.server().store;
    let caregiver_id = user_id(&w, "caregiver").await;
    let grid = store
        .visible_residents(&eldercare_store::Viewer { user_id: caregiver_id, role: Role::Caregiver })
        .await
        .unwrap()[0]
        .grid_id;
    // Wang Jianguo's grid moves to New York time. Two backups: one on shift around the time of
    // the first escalation step in New York, one around that time in Shanghai (the server's
    // default offset): only the first is on duty.
    store.set_subtree_time_zone(grid, "America/New_York").await.unwrap();
    let step_at = clock.now() + 5 * 60_000;
    let local = |zone: &str| {
        let offset = eldercare_server::alerts::zones::Zones::default().offset_minutes(zone, step_at, 0) as i64;
        (step_at / 60_000 + offset).rem_euclid(1440)
    };
    let hash = eldercare_mobile_api::password::hash_password(PASSWORD).unwrap();
    let mut backups = Vec::new();
    for (name, zone) in [("backup-ny", "America/New_York"), ("backup-sh", "Asia/Shanghai")] {
        let user = store.create_user(name, &hash, Role::Caregiver, name).await.unwrap();
        store.grant_scope(user, grid).await.unwrap();
        let m = local(zone);
        store.add_duty_shift(user, grid, "backup", (m - 20).rem_euclid(1440), (m + 20).rem_euclid(1440)).await.unwrap();
        backups.push(user);
    }

    let caregiver = login(w.http(), "caregiver").await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    let alert = critical_spo2(&w, &gw, &caregiver).await;
    eventually("step 0", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        kinds(&d).contains(&"notified".to_owned()).then_some(())
    })
    .await;
    clock.advance_min(5);
    let detail = eventually("step 1", || async {
        let d = alert_detail(&w, &caregiver, alert).await;
        kinds(&d).contains(&"escalated".to_owned()).then_some(d)
    })
    .await;
    assert_eq!(step_users(&detail, 1), vec![backups[0]], "the backup on shift in New York, not in Shanghai");
    gw.stop().await;
}
