//! The audit log: who, what, when, from where; read by administrators in scope and by guardians.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;

use crate::support::{World, world, world_with};

async fn get_from(w: &World, path: &str, token: &str, peer: &str, forwarded: Option<&str>) -> crate::support::Reply {
    let mut req = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 443)));
    w.send(req).await
}

fn entries(v: &Value) -> Vec<(&str, Option<&str>)> {
    v.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["client_ip"].as_str())).collect()
}

#[tokio::test]
async fn reads_are_recorded_with_where_they_came_from() {
    // Behind our proxy at 10.0.0.1, the client is the address it forwards; anyone else's
    // X-Forwarded-For is ignored.
    let w = world_with(|s| s.with_trusted_proxies(vec!["10.0.0.1".parse().unwrap()])).await;
    let a = w.resident_a;
    let nurse = w.token("caregiver").await;
    let path = format!("/api/v1/residents/{a}/vitals/latest");
    assert_eq!(get_from(&w, &path, &nurse, "10.0.0.1", Some("6.6.6.6, 203.0.113.5")).await.status, StatusCode::OK);
    assert_eq!(get_from(&w, &path, &nurse, "198.51.100.2", Some("203.0.113.5")).await.status, StatusCode::OK);

    let admin = w.token("admin").await;
    let log = w.get(&format!("/api/v1/audit?resident_id={a}&action=vitals."), Some(&admin)).await.json();
    assert_eq!(
        entries(&log),
        vec![("vitals.latest.read", Some("198.51.100.2")), ("vitals.latest.read", Some("203.0.113.5"))]
    );
    let e = &log[0];
    assert_eq!(
        (e["user_id"].as_i64(), e["user_display_name"].as_str(), e["user_role"].as_str()),
        (Some(w.caregiver), Some("Nurse Chen"), Some("caregiver"))
    );
    assert_eq!(e["resident_id"], a);
    assert!(e["at"].as_str().unwrap().starts_with("2024-05-01T08:00:00"));
}

#[tokio::test]
async fn administrators_read_their_part_guardians_their_resident_and_nobody_else() {
    let w = world().await;
    let a = w.resident_a;
    let nurse = w.token("caregiver").await;
    w.get(&format!("/api/v1/residents/{a}"), Some(&nurse)).await;
    w.get(&format!("/api/v1/residents/{}", w.resident_b), Some(&w.token("family2").await)).await;

    let admin = w.token("admin").await;
    let all = w.get("/api/v1/audit?limit=500", Some(&admin)).await.json();
    let actions: Vec<&str> = entries(&all).into_iter().map(|e| e.0).collect();
    for action in ["resident.read", "auth.login"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    // Paging: the second page starts below the first page's last id.
    let first = w.get("/api/v1/audit?limit=2", Some(&admin)).await.json();
    let last_id = first[1]["audit_id"].as_i64().unwrap();
    let next = w.get(&format!("/api/v1/audit?limit=2&before_id={last_id}"), Some(&admin)).await.json();
    assert!(next[0]["audit_id"].as_i64().unwrap() < last_id);
    w.get("/api/v1/audit", Some(&nurse)).await.problem(404);
    w.get("/api/v1/audit?limit=0", Some(&admin)).await.problem(400);

    // A's guardian reads who looked at A (not from where); a plain member cannot.
    let son = w.token("family1").await;
    w.get(&format!("/api/v1/residents/{a}/audit"), Some(&son)).await.problem(404);
    w.store.set_guardian(w.family1, a, true).await.unwrap();
    let trail = w.get(&format!("/api/v1/residents/{a}/audit"), Some(&son)).await.json();
    let first = &trail.as_array().unwrap()[trail.as_array().unwrap().len() - 1];
    assert_eq!((first["action"].as_str(), first["user_id"].as_i64()), (Some("resident.read"), Some(w.caregiver)));
    assert!(trail.as_array().unwrap().iter().all(|e| e["client_ip"].is_null()));
    assert!(trail.as_array().unwrap().iter().all(|e| e["resident_id"] == a));
    // Not about another resident, nor for the caregiver.
    w.get(&format!("/api/v1/residents/{}/audit", w.resident_b), Some(&son)).await.problem(404);
    w.get(&format!("/api/v1/residents/{a}/audit"), Some(&nurse)).await.problem(404);
    // And no route changes it.
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::POST] {
        let req = Request::builder()
            .method(method.clone())
            .uri("/api/v1/audit")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(w.send(req).await.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}
