//! Personal baselines through the API are the rules engine's: readings go in through a gateway,
//! MQTT and ingest, and `GET /residents/{id}/baselines` answers the numbers the engine computes
//! from the same readings.

use eldercare_schema::Metric;
use eldercare_server::rules::{self, Context, Observation, ResidentState, Thresholds};

use crate::support::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// The servers of these tests run at UTC+8.
const OFFSET: i64 = 8 * HOUR;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_the_baseline_the_rules_learnt_from_the_readings() {
    let w = World::new().await;
    let http = w.http();
    let caregiver = login(http, "caregiver").await;
    let chen = resident_id(http, &caregiver, "Chen Mei").await.unwrap();
    let path = format!("/api/v1/residents/{chen}/baselines");

    // 16 days of daytime pulse (08:00–19:00 local, hourly), one local day at a time, each
    // committed before the next; the same readings through the engine directly.
    let today = (eldercare_gateway::now_ms() + OFFSET).div_euclid(DAY);
    let gw = TestGateway::start("gw-chen", &w.broker, &w.outbox_dir("gw-chen"));
    let th = Thresholds::default();
    let mut state = ResidentState::default();
    for day in today - 16..today {
        let mut obs = Vec::new();
        for h in 8..20 {
            let t = day * DAY - OFFSET + h * HOUR;
            let v = [66.0, 70.0, 74.0, 70.0, 71.0, 69.0][(h % 6) as usize] + (day % 3) as f64;
            gw.push_at("hr-chen-01", Metric::HeartRate, v, t);
            obs.push(Observation { device_id: "hr-chen-01".into(), metric: Metric::HeartRate, value: v, time_ms: t });
        }
        let ctx = Context { thresholds: &th, now_ms: obs[0].time_ms, utc_offset_minutes: 480 };
        rules::evaluate(&mut state, &ctx, &obs);
        gw.drained().await;
        if day == today - 10 {
            // Still learning: six closed days.
            let (status, got) = get(http, &caregiver, &path).await;
            assert_eq!(status, 200, "{got}");
            let b = &got["baselines"][0];
            assert_eq!((b["metric"].as_str(), b["learning"].as_bool()), (Some("heart_rate"), Some(true)), "{got}");
            assert_eq!((b["days"].as_u64(), b["samples"].as_u64()), (Some(6), Some(72)));
            assert!(b["median"].is_null() && b["low"].is_null() && b["high"].is_null(), "{got}");
        }
    }
    gw.stop().await;

    let expected = state.baseline_bands(&th).into_iter().find(|b| b.metric == Metric::HeartRate).unwrap();
    assert!(!expected.learning);
    let (status, got) = get(http, &caregiver, &path).await;
    assert_eq!(status, 200, "{got}");
    assert!(got["updated_at"].is_string(), "{got}");
    let list = got["baselines"].as_array().unwrap();
    assert_eq!(list.len(), 1, "pulse only: {got}");
    let b = &list[0];
    assert_eq!((b["learning"].as_bool(), b["unit"].as_str()), (Some(false), Some("/min")));
    assert_eq!(b["days"].as_u64(), Some(u64::from(expected.days)));
    assert_eq!(b["samples"].as_u64(), Some(expected.samples));
    assert_eq!(b["learning_days"].as_u64(), Some(14));
    assert_eq!(expected.days, 15, "the closed days of the 28-day window");
    for (field, want) in [
        ("median", expected.median),
        ("sigma", expected.sigma),
        ("low", expected.low),
        ("high", expected.high),
        ("drift_low", expected.drift_low),
        ("drift_high", expected.drift_high),
    ] {
        assert_eq!(b[field].as_f64(), want, "{field}: {got}");
    }
    assert_eq!((b["k"].as_f64(), b["min_deviation"].as_f64()), (Some(3.0), Some(10.0)));
    assert_eq!((b["alerts_below"].as_bool(), b["alerts_above"].as_bool()), (Some(true), Some(true)));
    // The numbers themselves: a usual pulse of 71 (daily medians 70–72), a band of ±10 /min.
    assert_eq!(expected.median, Some(71.0));
    assert_eq!((expected.low, expected.high), (Some(61.0), Some(81.0)));

    // A family outside Chen Mei's circle gets 404.
    let family1 = login(http, "family1").await;
    assert_eq!(get(http, &family1, &path).await.0, 404);
}
