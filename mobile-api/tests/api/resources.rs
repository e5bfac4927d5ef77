//! The organisation, residents, gateways and devices, thresholds and statistics.

use axum::http::{Method, StatusCode};
use eldercare_schema::Metric;
use eldercare_store::Subject;
use eldercare_store::Viewer;
use serde_json::json;

use crate::support::{MINUTE, PASSWORD, T0, reading, world};

#[tokio::test]
async fn staff_see_their_subtree_and_administrators_grow_it() {
    let w = world().await;
    let admin = w.token("admin").await;
    let nurse = w.token("caregiver").await;
    let units = w.get("/api/v1/org-units", Some(&admin)).await.json();
    let names: Vec<&str> = units.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Riverside", "Elm", "Grid 1", "Grid 2"], "parents first");
    assert_eq!(units[0]["parent_id"], json!(null));
    assert_eq!(units[0]["kind"], "district");
    let mine = w.get("/api/v1/org-units", Some(&nurse)).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["name"], "Grid 1");
    // Families: the units their relatives live in, nothing else.
    let theirs = w.get("/api/v1/org-units", Some(&w.token("family1").await)).await.json();
    let names: Vec<&str> = theirs.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Riverside", "Elm", "Grid 1"]);

    let community = units[1]["org_unit_id"].as_i64().unwrap();
    let grid1 = units[2]["org_unit_id"].as_i64().unwrap();
    let new = |parent, kind: &str| json!({"parent_id": parent, "kind": kind, "name": "Grid 3"});
    let made = w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(community, "grid"))).await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["parent_id"], community);
    w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(community, "district"))).await.problem(422);
    w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(grid1, "grid"))).await.problem(422);
    w.call(Method::POST, "/api/v1/org-units", Some(&nurse), Some(new(community, "grid"))).await.problem(404);

    // Staff add households to their grids, and residents to those.
    let hh = json!({"org_unit_id": grid1, "name": "No. 7 Elm Street"});
    let household = w.call(Method::POST, "/api/v1/households", Some(&nurse), Some(hh)).await.json();
    let household_id = household["household_id"].as_i64().unwrap();
    let not_a_grid = json!({"org_unit_id": community, "name": "x"});
    w.call(Method::POST, "/api/v1/households", Some(&admin), Some(not_a_grid)).await.problem(422);
    let body = json!({"household_id": household_id, "full_name": "  Sun Li  ", "birth_year": 1939});
    let resident = w.call(Method::POST, "/api/v1/residents", Some(&nurse), Some(body)).await;
    assert_eq!(resident.status, StatusCode::CREATED);
    let resident = resident.json();
    assert_eq!((resident["full_name"].as_str(), resident["grid_name"].as_str()), (Some("Sun Li"), Some("Grid 1")));
    let id = resident["resident_id"].as_i64().unwrap();
    assert!(w.visible_ids("caregiver").await.contains(&id));

    let bad = json!({"household_id": household_id, "full_name": "X", "birth_year": 1700});
    w.call(Method::POST, "/api/v1/residents", Some(&nurse), Some(bad)).await.problem(422);
    let unknown = json!({"household_id": household_id, "full_name": "X", "nickname": "x"});
    w.call(Method::POST, "/api/v1/residents", Some(&nurse), Some(unknown)).await.problem(422);
}

#[tokio::test]
async fn residents_are_updated_by_staff_in_scope_only() {
    let w = world().await;
    let a = w.resident_a;
    let nurse = w.token("caregiver").await;
    let path = format!("/api/v1/residents/{a}");
    let changed = w.call(Method::PATCH, &path, Some(&nurse), Some(json!({"birth_year": null}))).await.json();
    assert_eq!((changed["full_name"].as_str(), changed["birth_year"].clone()), (Some("Wang Fang"), json!(null)));
    let changed = w.call(Method::PATCH, &path, Some(&nurse), Some(json!({"full_name": "Wang Fang (Fanny)"}))).await;
    assert_eq!(changed.json()["full_name"], "Wang Fang (Fanny)");
    w.call(Method::PATCH, &path, Some(&w.token("family1").await), Some(json!({"birth_year": 1941}))).await.problem(404);
    // Moving to a household outside the caller's scope is refused.
    let other_household = w
        .get(&format!("/api/v1/residents/{}", w.resident_b), Some(&w.token("admin").await))
        .await
        .json()["household_id"]
        .clone();
    let moved = w.call(Method::PATCH, &path, Some(&nurse), Some(json!({"household_id": other_household}))).await;
    moved.problem(404);
    let trail = w.store.audit_for_resident(a).await.unwrap();
    assert!(trail.iter().any(|e| e.2 == "resident.update"));
}

#[tokio::test]
async fn devices_gateways_and_their_status() {
    let w = world().await;
    let a = w.resident_a;
    let nurse = w.token("caregiver").await;
    let son = w.token("family1").await;
    w.store.ingest("gw-1", &[reading("ox-a", 1, a, Metric::Spo2, 96.0, T0 - 10 * MINUTE)], &[], T0).await.unwrap();
    w.store.set_gateway_status("gw-1", "online", T0 - MINUTE).await.unwrap();

    let devices = w.get("/api/v1/devices", Some(&son)).await.json();
    assert_eq!(devices.as_array().unwrap().len(), 1, "only A's");
    let d = &devices[0];
    assert_eq!(
        (d["device_id"].as_str(), d["gateway_id"].as_str(), d["online"].as_bool()),
        (Some("ox-a"), Some("gw-1"), Some(true))
    );
    assert_eq!(d["last_reading_at"], "2024-05-01T07:50:00Z");
    let gw = w.get("/api/v1/gateways/gw-1", Some(&son)).await.json();
    assert_eq!((gw["online"].as_bool(), gw["device_count"].as_i64()), (Some(true), Some(1)));
    w.get("/api/v1/gateways/gw-2", Some(&son)).await.problem(404);

    // Register a scale for A on her household's gateway; not on another household's.
    let scale = json!({"device_id": "sc-a", "kind": "scale", "gateway_id": "gw-1", "resident_id": a});
    let made = w.call(Method::POST, "/api/v1/devices", Some(&nurse), Some(scale.clone())).await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["online"], false);
    w.call(Method::POST, "/api/v1/devices", Some(&nurse), Some(scale)).await.problem(409);
    let wrong = json!({"device_id": "sc-b", "kind": "scale", "gateway_id": "gw-2", "resident_id": a});
    let admin = w.token("admin").await;
    let p = w.call(Method::POST, "/api/v1/devices", Some(&admin), Some(wrong)).await.problem(422);
    assert!(p.detail.starts_with("gateway_id:"), "{}", p.detail);
    let bad_id = json!({"device_id": "has space", "kind": "scale", "gateway_id": "gw-1", "resident_id": a});
    w.call(Method::POST, "/api/v1/devices", Some(&nurse), Some(bad_id)).await.problem(422);

    // A new gateway for household 3 (resident C), and the scale moves there with a new wearer.
    let c_household =
        w.get(&format!("/api/v1/residents/{}", w.resident_c), Some(&nurse)).await.json()["household_id"].clone();
    let gw = json!({"gateway_id": "gw-3", "household_id": c_household});
    assert_eq!(w.call(Method::POST, "/api/v1/gateways", Some(&nurse), Some(gw)).await.status, StatusCode::CREATED);
    let bind = json!({"gateway_id": "gw-3", "resident_id": w.resident_c});
    let moved = w.call(Method::PUT, "/api/v1/devices/sc-a/binding", Some(&nurse), Some(bind.clone())).await.json();
    assert_eq!((moved["resident_id"].as_i64(), moved["gateway_id"].as_str()), (Some(w.resident_c), Some("gw-3")));
    w.call(Method::PUT, "/api/v1/devices/sc-a/binding", Some(&son), Some(bind)).await.problem(404);
    w.get("/api/v1/devices/sc-a", Some(&son)).await.problem(404);
    let c_trail = w.store.audit_for_resident(w.resident_c).await.unwrap();
    assert!(c_trail.iter().any(|e| e.2 == "device.rebind"));
}

#[tokio::test]
async fn thresholds_are_read_by_all_in_scope_changed_by_staff_and_every_change_kept() {
    let w = world().await;
    let a = w.resident_a;
    let path = format!("/api/v1/residents/{a}/thresholds");
    let nurse = w.token("caregiver").await;
    let son = w.token("family1").await;
    let empty = w.get(&path, Some(&son)).await.json();
    assert_eq!(empty, json!({"resident_id": a, "overrides": {}, "updated_at": null, "updated_by": null}));

    let first = json!({"spo2_scale": 2, "fever_single_c": 37.5});
    let put = w.call(Method::PUT, &path, Some(&nurse), Some(first.clone())).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.json()["overrides"], first);
    w.advance(MINUTE);
    let admin = w.token("admin").await;
    let second = json!({"spo2_scale": 2, "no_data_hours": {"scale": 96}});
    w.call(Method::PUT, &path, Some(&admin), Some(second.clone())).await;
    let now = w.get(&path, Some(&son)).await.json();
    assert_eq!((now["overrides"].clone(), now["updated_by"].as_i64()), (second.clone(), Some(w.admin)));
    assert_eq!(now["updated_at"], "2024-05-01T08:01:00Z");
    // What the rules engine reads.
    let stored = w.store.resident_thresholds(a).await.unwrap().unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stored.overrides).unwrap(), second);

    let history = w.get(&format!("{path}/history"), Some(&son)).await.json();
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0]["changed_by"].as_i64(), h[0]["previous"].clone()), (Some(w.admin), first.clone()));
    assert_eq!((h[1]["changed_by"].as_i64(), h[1]["previous"].clone()), (Some(w.caregiver), json!(null)));
    assert_eq!(w.get(&format!("{path}/history?limit=1"), Some(&son)).await.json().as_array().unwrap().len(), 1);

    w.call(Method::PUT, &path, Some(&son), Some(json!({"spo2_scale": 1}))).await.problem(404);
    for bad in [json!([1]), json!({"SpO2": 1}), json!({"a": {"b": {"c": 1}}}), json!(5)] {
        w.call(Method::PUT, &path, Some(&nurse), Some(bad)).await.problem(422);
    }
    w.call(Method::PUT, &format!("/api/v1/residents/{}/thresholds", w.resident_b), Some(&nurse), Some(json!({})))
        .await
        .problem(404);
    let trail = w.store.audit_for_resident(a).await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.2 == "thresholds.update").count(), 2);
}

#[tokio::test]
async fn statistics_of_a_subtree() {
    let w = world().await;
    let (a, b) = (w.resident_a, w.resident_b);
    w.store.ingest("gw-1", &[reading("ox-a", 1, a, Metric::Spo2, 96.0, T0 - 10 * MINUTE)], &[], T0).await.unwrap();
    w.store.ingest("gw-2", &[reading("ox-b", 1, b, Metric::Spo2, 96.0, T0 - 120 * MINUTE)], &[], T0).await.unwrap();
    w.store.set_gateway_status("gw-1", "online", T0).await.unwrap();
    w.store.set_gateway_status("gw-2", "offline", T0).await.unwrap();
    // Alerts: A critical acknowledged after 2 minutes, A warning acknowledged after 6, B urgent open.
    let mut tx = w.store.begin().await.unwrap();
    let crit =
        tx.raise(Subject::Resident(a), "spo2_low", "critical", "t", "{}", T0 - 60 * MINUTE).await.unwrap().alert_id;
    let warn = tx.raise(Subject::Resident(a), "weight", "warning", "t", "{}", T0 - 30 * MINUTE).await.unwrap().alert_id;
    tx.raise(Subject::Resident(b), "fever", "urgent", "t", "{}", T0 - 20 * MINUTE).await.unwrap();
    tx.commit().await.unwrap();
    let admin = Viewer { user_id: w.admin, role: eldercare_store::Role::Admin };
    w.store.acknowledge_alert(&admin, crit, None, T0 - 58 * MINUTE).await.unwrap().unwrap();
    w.store.acknowledge_alert(&admin, warn, None, T0 - 24 * MINUTE).await.unwrap().unwrap();

    let all = w.get("/api/v1/stats", Some(&w.token("admin").await)).await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let all = all.json();
    assert_eq!((all["residents"].as_i64(), all["residents_monitored"].as_i64()), (Some(3), Some(2)));
    assert_eq!((all["devices"].as_i64(), all["devices_online"].as_i64()), (Some(2), Some(1)));
    assert_eq!((all["gateways"].as_i64(), all["gateways_online"].as_i64()), (Some(2), Some(1)));
    assert_eq!(all["alerts_by_level"], json!({"info": 0, "warning": 1, "urgent": 1, "critical": 1}));
    assert_eq!((all["alerts_open"].as_i64(), all["alerts_acknowledged"].as_i64()), (Some(3), Some(2)));
    assert_eq!(all["median_time_to_acknowledge_s"], 240.0, "median of 2 and 6 minutes");

    // The caregiver's grid: only A's household and C's.
    let grid = w.get("/api/v1/stats", Some(&w.token("caregiver").await)).await.json();
    assert_eq!((grid["residents"].as_i64(), grid["devices"].as_i64()), (Some(2), Some(1)));
    assert_eq!(grid["alerts_by_level"], json!({"info": 0, "warning": 1, "urgent": 0, "critical": 1}));
    let window = "/api/v1/stats?from=2024-05-01T07:15:00Z&to=2024-05-01T08:00:00Z";
    let late = w.get(window, Some(&w.token("caregiver").await)).await.json();
    assert_eq!(
        (late["alerts_acknowledged"].as_i64(), late["median_time_to_acknowledge_s"].as_f64()),
        (Some(1), Some(360.0))
    );
    let units = w.get("/api/v1/org-units", Some(&w.token("admin").await)).await.json();
    let grid2 = units[3]["org_unit_id"].as_i64().unwrap();
    w.get(&format!("/api/v1/stats?org_unit_id={grid2}"), Some(&w.token("caregiver").await)).await.problem(404);
    w.get("/api/v1/stats", Some(&w.token("family1").await)).await.problem(404);
    w.get("/api/v1/stats?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z", Some(&w.token("admin").await))
        .await
        .problem(400);
}

#[tokio::test]
async fn administrators_create_accounts_in_their_scope() {
    let w = world().await;
    let admin = w.token("admin").await;
    let units = w.get("/api/v1/org-units", Some(&admin)).await.json();
    let grid2 = units[3]["org_unit_id"].as_i64().unwrap();
    let body = json!({"username": "nurse.li", "display_name": "Nurse Li", "role": "caregiver",
        "password": PASSWORD, "org_unit_ids": [grid2]});
    let made = w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(body.clone())).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert!(!String::from_utf8_lossy(&made.body).contains(PASSWORD));
    assert_eq!(w.visible_ids("nurse.li").await, vec![w.resident_b]);
    w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(body)).await.problem(409);
    let staff_without_units =
        json!({"username": "nurse.wu", "display_name": "W", "role": "caregiver", "password": PASSWORD});
    w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(staff_without_units)).await.problem(422);
    let weak = json!({"username": "fam", "display_name": "F", "role": "family", "password": "short"});
    w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(weak)).await.problem(400);
    let caps = json!({"username": "Bad Name", "display_name": "F", "role": "family", "password": PASSWORD});
    w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(caps)).await.problem(422);
    let by_nurse = json!({"username": "x.y", "display_name": "F", "role": "family", "password": PASSWORD});
    w.call(Method::POST, "/api/v1/accounts", Some(&w.token("caregiver").await), Some(by_nurse)).await.problem(404);
}

#[tokio::test]
async fn the_rules_engine_has_the_last_word_on_thresholds() {
    // The server passes the engine's check in; here, one that knows a single field.
    let w = crate::support::world_with(|s| {
        s.with_threshold_check(|v| match v.as_object().unwrap().keys().find(|k| *k != "spo2_scale") {
            Some(k) => Err(format!("unknown field `{k}`")),
            None => Ok(()),
        })
    })
    .await;
    let path = format!("/api/v1/residents/{}/thresholds", w.resident_a);
    let nurse = w.token("caregiver").await;
    let refused = w.call(Method::PUT, &path, Some(&nurse), Some(json!({"fever_c": 37.5}))).await.problem(422);
    assert_eq!(refused.detail, "unknown field `fever_c`");
    assert!(w.store.resident_thresholds(w.resident_a).await.unwrap().is_none(), "nothing stored");
    let ok = w.call(Method::PUT, &path, Some(&nurse), Some(json!({"spo2_scale": 2}))).await;
    assert_eq!(ok.status, StatusCode::OK);
}
