//! The time zone of organisation units: shown with every unit, inherited by new units, set by
//! administrators for a unit and everything under it, and only to IANA names.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::world;

fn zones(units: &Value) -> Vec<(&str, &str)> {
    units.as_array().unwrap().iter().map(|u| (u["name"].as_str().unwrap(), u["time_zone"].as_str().unwrap())).collect()
}

#[tokio::test]
async fn administrators_set_a_community_zone_that_everyone_below_sees() {
    let w = world().await;
    let admin = w.token("admin").await;
    let units = w.get("/api/v1/org-units", Some(&admin)).await.json();
    assert_eq!(
        zones(&units),
        vec![
            ("Riverside", "Asia/Shanghai"),
            ("Elm", "Asia/Shanghai"),
            ("Grid 1", "Asia/Shanghai"),
            ("Grid 2", "Asia/Shanghai")
        ]
    );
    let community = units[1]["org_unit_id"].as_i64().unwrap();
    let path = format!("/api/v1/org-units/{community}");

    // Garbage is refused with a problem naming the field, and changes nothing.
    for bad in ["Mars/Olympus_Mons", "UTC+8", "../../etc/passwd", "", "Asia/Shanghai\n", "CST-8"] {
        let p = w.call(Method::PATCH, &path, Some(&admin), Some(json!({"time_zone": bad}))).await.problem(422);
        assert!(p.detail.starts_with("time_zone:"), "{bad:?}: {}", p.detail);
    }
    w.call(Method::PATCH, &path, Some(&admin), Some(json!({"time_zone": 8}))).await.problem(422);
    assert_eq!(w.get("/api/v1/org-units", Some(&admin)).await.json(), units);

    // Only administrators in scope change it (404 for anyone else, as for what does not exist).
    let nurse = w.token("caregiver").await;
    let change = json!({"time_zone": "Asia/Urumqi"});
    w.call(Method::PATCH, &path, Some(&nurse), Some(change.clone())).await.problem(404);
    w.call(Method::PATCH, &path, Some(&w.token("family1").await), Some(change.clone())).await.problem(404);
    w.call(Method::PATCH, "/api/v1/org-units/999999", Some(&admin), Some(change.clone())).await.problem(404);

    let changed = w.call(Method::PATCH, &path, Some(&admin), Some(change)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["time_zone"], "Asia/Urumqi");
    assert_eq!(
        zones(&w.get("/api/v1/org-units", Some(&admin)).await.json()),
        vec![
            ("Riverside", "Asia/Shanghai"),
            ("Elm", "Asia/Urumqi"),
            ("Grid 1", "Asia/Urumqi"),
            ("Grid 2", "Asia/Urumqi")
        ],
        "the community and its grids"
    );
    assert_eq!(zones(&w.get("/api/v1/org-units", Some(&nurse)).await.json()), vec![("Grid 1", "Asia/Urumqi")]);
    // A family sees the zone of where their relative lives.
    let family = w.get("/api/v1/org-units", Some(&w.token("family1").await)).await.json();
    assert_eq!(zones(&family), vec![("Riverside", "Asia/Shanghai"), ("Elm", "Asia/Urumqi"), ("Grid 1", "Asia/Urumqi")]);

    // A new grid takes its community's zone, or the one given (in its canonical spelling).
    let new = |zone: Option<&str>| {
        let mut v = json!({"parent_id": community, "kind": "grid", "name": "Grid 3"});
        if let Some(z) = zone {
            v["time_zone"] = json!(z);
        }
        v
    };
    let made = w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(None))).await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["time_zone"], "Asia/Urumqi");
    let made = w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(Some("europe/london")))).await;
    assert_eq!(made.json()["time_zone"], "Europe/London");
    let p = w.call(Method::POST, "/api/v1/org-units", Some(&admin), Some(new(Some("Nowhere/City")))).await.problem(422);
    assert!(p.detail.contains("IANA"), "{}", p.detail);

    // Renaming.
    let renamed = w.call(Method::PATCH, &path, Some(&admin), Some(json!({"name": "Elm Community"}))).await.json();
    assert_eq!((renamed["name"].as_str(), renamed["time_zone"].as_str()), (Some("Elm Community"), Some("Asia/Urumqi")));
    w.call(Method::PATCH, &path, Some(&admin), Some(json!({"name": " "}))).await.problem(422);
}
