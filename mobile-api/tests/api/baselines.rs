//! `GET /residents/{id}/baselines`: scope, audit, and the hand-over to the rules engine's reading
//! (the server's; here a stand-in that echoes what it was given). That the values are the ones
//! the rules computed is checked end to end in `tests/` (`e2e::baselines`), where the real
//! engine runs.

use axum::http::{Method, StatusCode};
use eldercare_mobile_api::Baseline;
use eldercare_schema::Metric;
use serde_json::{Value, json};

use crate::support::{T0, world, world_with};

/// A stand-in for the engine: one baseline whose numbers say what it was handed.
fn echo(resident_id: i64, state: Option<&str>, overrides: Option<&str>) -> Vec<Baseline> {
    let state: Value = state.map_or(Value::Null, |s| serde_json::from_str(s).unwrap());
    let overrides: Value = overrides.map_or(Value::Null, |s| serde_json::from_str(s).unwrap());
    vec![Baseline {
        metric: Metric::HeartRate,
        unit: "/min".into(),
        learning: state.is_null(),
        learning_days: 14,
        days: resident_id as u32,
        samples: state["samples"].as_u64().unwrap_or(0),
        median: state["median"].as_f64(),
        sigma: None,
        k: overrides["hampel_k"].as_f64().unwrap_or(3.0),
        min_deviation: 10.0,
        low: None,
        high: None,
        drift_low: None,
        drift_high: None,
        alerts_below: true,
        alerts_above: true,
    }]
}

#[tokio::test]
async fn the_engine_reads_the_stored_state_with_the_residents_thresholds() {
    let w = world_with(|s| s.with_baselines(echo)).await;
    let a = w.resident_a;
    let path = format!("/api/v1/residents/{a}/baselines");
    let f1 = w.token("family1").await;

    // Nothing stored yet.
    let got = w.get(&path, Some(&f1)).await;
    assert_eq!(got.status, StatusCode::OK);
    let got = got.json();
    assert_eq!((got["resident_id"].as_i64(), &got["updated_at"]), (Some(a), &Value::Null));
    assert_eq!(got["baselines"][0]["learning"], true);
    assert_eq!(got["baselines"][0]["days"], a, "the resident's id is handed over");

    // A stored state and overrides reach the engine as stored.
    let mut tx = w.store.begin().await.unwrap();
    tx.save_rule_state(a, r#"{"samples": 168, "median": 70.5}"#, T0 - 1000).await.unwrap();
    tx.commit().await.unwrap();
    let nurse = w.token("caregiver").await;
    let th_path = format!("/api/v1/residents/{a}/thresholds");
    let put = w.call(Method::PUT, &th_path, Some(&nurse), Some(json!({"hampel_k": 4}))).await;
    assert_eq!(put.status, StatusCode::OK);
    let got = w.get(&path, Some(&f1)).await.json();
    assert_eq!(got["updated_at"], "2024-05-01T07:59:59Z");
    let b = &got["baselines"][0];
    assert_eq!((b["learning"].as_bool(), b["samples"].as_u64()), (Some(false), Some(168)));
    assert_eq!((b["median"].as_f64(), b["k"].as_f64()), (Some(70.5), Some(4.0)));
    assert_eq!((b["metric"].as_str(), b["unit"].as_str()), (Some("heart_rate"), Some("/min")));

    // Out of scope, or no such resident: 404, and nothing handed over.
    let f2 = w.token("family2").await;
    w.get(&path, Some(&f2)).await.problem(404);
    w.get("/api/v1/residents/999999/baselines", Some(&nurse)).await.problem(404);
    w.get(&format!("/api/v1/residents/{}/baselines", w.resident_b), Some(&nurse)).await.problem(404);

    // A read of health data: audited, per resident.
    let admin = w.token("admin").await;
    let log = w.get(&format!("/api/v1/audit?resident_id={a}&action=baselines."), Some(&admin)).await.json();
    let who: Vec<i64> = log.as_array().unwrap().iter().map(|e| e["user_id"].as_i64().unwrap()).collect();
    assert_eq!(who, vec![w.family1, w.family1]);
}

#[tokio::test]
async fn without_a_rules_engine_the_route_says_so_after_the_scope_check() {
    let w = world().await;
    let f1 = w.token("family1").await;
    let p = w.get(&format!("/api/v1/residents/{}/baselines", w.resident_a), Some(&f1)).await.problem(503);
    assert!(p.detail.contains("rules engine"), "{}", p.detail);
    w.get(&format!("/api/v1/residents/{}/baselines", w.resident_b), Some(&f1)).await.problem(404);
}
