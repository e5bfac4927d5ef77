//! Latest vitals and history, from readings stored through `Store::ingest`.

use axum::http::StatusCode;
use eldercare_schema::Metric;
use serde_json::{Value, json};

use crate::support::{MINUTE, T0, World, reading, world};

/// Resident A: spo2 97, 95, 93 at T0-30, -20, -10 min, heart rate 72 at T0-5 min, and a spo2 of
/// 99 two days ago. Resident B: spo2 88 (nobody in A's circle may see it).
async fn ingest(w: &World) {
    let a = w.resident_a;
    let readings = [
        reading("ox-a", 1, a, Metric::Spo2, 97.0, T0 - 30 * MINUTE),
        reading("ox-a", 2, a, Metric::Spo2, 95.0, T0 - 20 * MINUTE),
        reading("ox-a", 3, a, Metric::Spo2, 93.0, T0 - 10 * MINUTE),
        reading("ox-a", 4, a, Metric::HeartRate, 72.0, T0 - 5 * MINUTE),
        reading("ox-a", 5, a, Metric::Spo2, 99.0, T0 - 2 * 24 * 60 * MINUTE),
    ];
    let outcome = w.store.ingest("gw-1", &readings, &[], T0).await.unwrap();
    assert_eq!(outcome.inserted, 5);
    let b = [reading("ox-b", 1, w.resident_b, Metric::Spo2, 88.0, T0 - MINUTE)];
    w.store.ingest("gw-2", &b, &[], T0).await.unwrap();
}

fn values(history: &Value) -> Vec<f64> {
    history["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect()
}

#[tokio::test]
async fn latest_vitals_show_values_units_and_times() {
    let w = world().await;
    ingest(&w).await;
    let token = w.token("family1").await;
    let reply = w.get(&format!("/api/v1/residents/{}/vitals/latest", w.resident_a), Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!([
            {"metric": "heart_rate", "value": 72.0, "unit": "/min", "measured_at": "2024-05-01T07:55:00Z", "device_id": "ox-a"},
            {"metric": "spo2", "value": 93.0, "unit": "%", "measured_at": "2024-05-01T07:50:00Z", "device_id": "ox-a"},
        ])
    );
    let empty =
        w.get(&format!("/api/v1/residents/{}/vitals/latest", w.resident_c), Some(&w.token("admin").await)).await;
    assert_eq!(empty.json(), json!([]));
}

#[tokio::test]
async fn history_filters_by_metric_and_range() {
    let w = world().await;
    ingest(&w).await;
    let token = w.token("caregiver").await;
    let a = w.resident_a;

    // Default range: the last 24 hours before the clock's now (T0).
    let day = w.get(&format!("/api/v1/residents/{a}/vitals?metric=spo2"), Some(&token)).await;
    assert_eq!(day.status, StatusCode::OK, "{:?}", day.body);
    let day = day.json();
    assert_eq!(values(&day), vec![97.0, 95.0, 93.0]);
    assert_eq!(day["resident_id"], a);
    assert_eq!((day["metric"].as_str(), day["unit"].as_str()), (Some("spo2"), Some("%")));
    assert_eq!(
        (day["from"].as_str(), day["to"].as_str()),
        (Some("2024-04-30T08:00:00Z"), Some("2024-05-01T08:00:00Z"))
    );
    assert_eq!(day["points"][0]["measured_at"], "2024-05-01T07:30:00Z");

    // from inclusive, to exclusive; offsets accepted (07:30Z == 15:30+08:00).
    let path =
        format!("/api/v1/residents/{a}/vitals?metric=spo2&from=2024-05-01T15:30:00%2B08:00&to=2024-05-01T07:50:00Z");
    assert_eq!(values(&w.get(&path, Some(&token)).await.json()), vec![97.0, 95.0]);

    let week = format!("/api/v1/residents/{a}/vitals?metric=spo2&from=2024-04-24T00:00:00Z&limit=2&resolution=raw");
    assert_eq!(values(&w.get(&week, Some(&token)).await.json()), vec![99.0, 97.0], "oldest first, limited");

    let hr = w.get(&format!("/api/v1/residents/{a}/vitals?metric=heart_rate"), Some(&token)).await.json();
    assert_eq!(values(&hr), vec![72.0]);
    assert_eq!(hr["unit"], "/min");
    let temp = w.get(&format!("/api/v1/residents/{a}/vitals?metric=body_temperature"), Some(&token)).await.json();
    assert_eq!(values(&temp), Vec::<f64>::new());

    // The clock moves: the default window follows it.
    w.advance(24 * 60 * MINUTE - 25 * MINUTE);
    let token = w.token("caregiver").await; // the old one has expired meanwhile
    let later = w.get(&format!("/api/v1/residents/{a}/vitals?metric=spo2"), Some(&token)).await.json();
    assert_eq!(values(&later), vec![95.0, 93.0]);
}

#[tokio::test]
async fn bad_history_queries_are_400_problems_naming_the_parameter() {
    let w = world().await;
    let token = w.token("admin").await;
    let base = format!("/api/v1/residents/{}/vitals", w.resident_a);
    let detail = |reply: crate::support::Reply| reply.problem(400).detail;

    let unknown = detail(w.get(&format!("{base}?metric=pulse"), Some(&token)).await);
    assert!(unknown.starts_with("metric: unknown code \"pulse\""), "{unknown}");
    assert!(unknown.contains("spo2") && unknown.contains("heart_rate"), "lists valid codes: {unknown}");
    assert!(detail(w.get(&base, Some(&token)).await).starts_with("metric is required"));

    let t = "2024-05-01T08:00:00Z";
    let equal = detail(w.get(&format!("{base}?metric=spo2&from={t}&to={t}"), Some(&token)).await);
    assert_eq!(equal, "from must be earlier than to");
    let reversed = format!("{base}?metric=spo2&from=2024-05-02T00:00:00Z&to={t}");
    assert_eq!(detail(w.get(&reversed, Some(&token)).await), "from must be earlier than to");
    let long = format!("{base}?metric=spo2&from=2023-01-01T00:00:00Z&to={t}");
    assert!(detail(w.get(&long, Some(&token)).await).contains("400 days"));
    assert!(detail(w.get(&format!("{base}?metric=spo2&from=yesterday"), Some(&token)).await).starts_with("from:"));
    for limit in ["0", "10001", "many"] {
        let d = detail(w.get(&format!("{base}?metric=spo2&limit={limit}"), Some(&token)).await);
        assert!(d.starts_with("limit:"), "{limit}: {d}");
    }
    // Nothing about a refused query reaches the audit log as a read.
    assert!(w.store.audit_for_resident(w.resident_a).await.unwrap().is_empty());
}

#[tokio::test]
async fn raw_history_pages_by_cursor_without_gaps_or_repeats() {
    let w = world().await;
    let a = w.resident_a;
    // 25 readings, two devices interleaved, some at the same instant.
    let readings: Vec<_> = (0..25)
        .map(|i| {
            let device = if i % 2 == 0 { "ox-a" } else { "ox-a2" };
            reading(device, i, a, Metric::HeartRate, 60.0 + i as f64, T0 - 60 * MINUTE + (i / 2) * MINUTE)
        })
        .collect();
    w.store.register_device("ox-a2", "gw-1", a, "heart_rate_band").await.unwrap();
    w.store.ingest("gw-1", &readings, &[], T0).await.unwrap();
    let token = w.token("family1").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/residents/{a}/vitals?metric=heart_rate&limit=10");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = w.get(&path, Some(&token)).await.json();
        assert_eq!(page["resolution"], "raw");
        seen.extend(values(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<f64> = (0..25).map(|i| 60.0 + i as f64).collect();
    expected.sort_by(f64::total_cmp);
    let mut sorted = seen.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, expected, "every reading exactly once");
    let bad = w.get(&format!("/api/v1/residents/{a}/vitals?metric=heart_rate&cursor=nope"), Some(&token)).await;
    assert!(bad.problem(400).detail.starts_with("cursor:"));
}

#[tokio::test]
async fn long_ranges_come_as_hourly_or_daily_rollups() {
    let w = world().await;
    let a = w.resident_a;
    const HOUR: i64 = 60 * MINUTE;
    // Day 1 (2024-04-20): 90 and 94 in the 08:00 hour, 98 at 10:15. Day 2: 96.
    let day1 = 1_713_600_000_000; // 2024-04-20T08:00:00Z
    let readings = [
        reading("ox-a", 1, a, Metric::Spo2, 90.0, day1 + 5 * MINUTE),
        reading("ox-a", 2, a, Metric::Spo2, 94.0, day1 + 50 * MINUTE),
        reading("ox-a", 3, a, Metric::Spo2, 98.0, day1 + 2 * HOUR + 15 * MINUTE),
        reading("ox-a", 4, a, Metric::Spo2, 96.0, day1 + 24 * HOUR),
    ];
    w.store.ingest("gw-1", &readings, &[], T0).await.unwrap();
    let token = w.token("caregiver").await;
    let base = format!("/api/v1/residents/{a}/vitals?metric=spo2&from=2024-04-20T00:00:00Z");

    let hourly = w.get(&format!("{base}&to=2024-05-01T00:00:00Z"), Some(&token)).await.json();
    assert_eq!(hourly["resolution"], "hour", "11 days: hourly");
    assert_eq!(hourly["points"], json!([]));
    assert_eq!(
        hourly["buckets"],
        json!([
            {"start": "2024-04-20T08:00:00Z", "count": 2, "min": 90.0, "max": 94.0, "mean": 92.0},
            {"start": "2024-04-20T10:00:00Z", "count": 1, "min": 98.0, "max": 98.0, "mean": 98.0},
            {"start": "2024-04-21T08:00:00Z", "count": 1, "min": 96.0, "max": 96.0, "mean": 96.0},
        ])
    );
    let daily = w.get(&format!("{base}&to=2024-05-01T00:00:00Z&resolution=day"), Some(&token)).await.json();
    assert_eq!(
        daily["buckets"],
        json!([
            {"start": "2024-04-20T00:00:00Z", "count": 3, "min": 90.0, "max": 98.0, "mean": 94.0},
            {"start": "2024-04-21T00:00:00Z", "count": 1, "min": 96.0, "max": 96.0, "mean": 96.0},
        ])
    );
    let auto_daily =
        w.get(&format!("/api/v1/residents/{a}/vitals?metric=spo2&from=2024-01-01T00:00:00Z"), Some(&token)).await;
    assert_eq!(auto_daily.json()["resolution"], "day", "four months: daily");
    let raw = w.get(&format!("{base}&to=2024-05-01T00:00:00Z&resolution=raw"), Some(&token)).await.json();
    assert_eq!(values(&raw), vec![90.0, 94.0, 98.0, 96.0]);
}

#[tokio::test]
async fn the_dashboard_shows_everyone_in_scope_at_once() {
    let w = world().await;
    ingest(&w).await;
    let nurse = w.token("caregiver").await;
    let all = w.get("/api/v1/vitals/latest", Some(&nurse)).await.json();
    let ids: Vec<i64> = all.as_array().unwrap().iter().map(|r| r["resident_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![w.resident_a, w.resident_c], "grid 1, by id; B is not in scope");
    assert_eq!(all[0]["vitals"].as_array().unwrap().len(), 2);
    assert_eq!(all[0]["vitals"][1]["value"], 93.0);
    assert_eq!(all[1]["vitals"], json!([]));

    let asked = format!("/api/v1/vitals/latest?resident_ids={},{}", w.resident_b, w.resident_a);
    let some = w.get(&asked, Some(&nurse)).await.json();
    assert_eq!(some.as_array().unwrap().len(), 1, "B is left out as if absent");
    let page = w.get(&format!("/api/v1/vitals/latest?limit=1&after_id={}", w.resident_a), Some(&nurse)).await.json();
    assert_eq!(page[0]["resident_id"], w.resident_c);
    w.get("/api/v1/vitals/latest?resident_ids=1,x", Some(&nurse)).await.problem(400);
    // One audit entry per resident shown.
    for r in [w.resident_a, w.resident_c] {
        assert!(w.store.audit_for_resident(r).await.unwrap().iter().any(|e| e.2 == "vitals.latest.read"));
    }
    assert!(w.store.audit_for_resident(w.resident_b).await.unwrap().is_empty());
}
