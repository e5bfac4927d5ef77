//! Names in alerts: who acknowledged, resolved or was notified, by display name where the caller
//! may know it (staff names for anyone who sees the alert; a family's names only within the care
//! circles the caller shares).

use axum::http::Method;
use eldercare_store::Role;
use eldercare_store::Subject;
use serde_json::{Value, json};

use crate::support::{PASSWORD, T0, world};

fn name_of<'a>(rows: &'a Value, user_id: i64) -> Vec<Option<&'a str>> {
    rows.as_array().unwrap().iter().filter(|r| r["user_id"] == user_id).map(|r| r["user_name"].as_str()).collect()
}

#[tokio::test]
async fn staff_names_reach_the_family_and_family_names_stay_within_shared_circles() {
    let w = world().await;
    let s = &w.store;
    let a = w.resident_a;
    // Another resident of A's home, followed by another family.
    let home = w.get(&format!("/api/v1/residents/{a}"), Some(&w.token("caregiver").await)).await.json();
    let household = home["household_id"].as_i64().unwrap();
    let d = s.create_resident(household, "Wang Li", Some(1945)).await.unwrap();
    let hash = eldercare_mobile_api::password::hash_password(PASSWORD).unwrap();
    let family4 = s.create_user("family4", &hash, Role::Family, "Wang Hua").await.unwrap();
    s.add_to_care_circle(family4, d, "daughter").await.unwrap();

    let mut tx = s.begin().await.unwrap();
    let on_a = tx.raise(Subject::Resident(a), "spo2_low", "critical", "SpO2 low", "{}", T0).await.unwrap().alert_id;
    let home_alert = tx
        .raise(Subject::Household(household), "gateway_offline:gw-1", "info", "Gateway offline", "{}", T0)
        .await
        .unwrap()
        .alert_id;
    for (alert, user) in [(on_a, w.caregiver), (on_a, w.family1), (home_alert, w.family1), (home_alert, family4)] {
        tx.add_notification(alert, 1, "live", Some(user), None, "{}", T0).await.unwrap();
    }
    tx.commit().await.unwrap();

    // The caregiver acknowledges A's alert; family4 acknowledges the home's.
    let nurse = w.token("caregiver").await;
    let acked =
        w.call(Method::POST, &format!("/api/v1/alerts/{on_a}/acknowledge"), Some(&nurse), Some(json!({}))).await;
    assert_eq!(acked.json()["acknowledged_by_name"], "Nurse Chen");
    let f4 = w.token("family4").await;
    let path = format!("/api/v1/alerts/{home_alert}/acknowledge");
    assert_eq!(
        w.call(Method::POST, &path, Some(&f4), Some(json!({}))).await.json()["acknowledged_by_name"],
        "Wang Hua"
    );

    // family1 sees the nurse's name, and their own, on A's alert.
    let f1 = w.token("family1").await;
    let detail = w.get(&format!("/api/v1/alerts/{on_a}"), Some(&f1)).await.json();
    assert_eq!(detail["alert"]["acknowledged_by"], w.caregiver);
    assert_eq!(detail["alert"]["acknowledged_by_name"], "Nurse Chen");
    assert_eq!(name_of(&detail["events"], w.caregiver), vec![Some("Nurse Chen")], "the acknowledgement");
    assert_eq!(name_of(&detail["notifications"], w.caregiver), vec![Some("Nurse Chen")]);
    assert_eq!(name_of(&detail["notifications"], w.family1), vec![Some("Wang Jun")]);

    // On the home's alert, family1 learns that someone acknowledged, not another family's name.
    let detail = w.get(&format!("/api/v1/alerts/{home_alert}"), Some(&f1)).await.json();
    assert_eq!(detail["alert"]["acknowledged_by"], family4);
    assert_eq!(detail["alert"]["acknowledged_by_name"], Value::Null);
    assert_eq!(name_of(&detail["notifications"], family4), vec![None]);
    assert_eq!(name_of(&detail["events"], family4), vec![None]);
    assert!(!detail.to_string().contains("Wang Hua"), "{detail}");
    let list = w.get("/api/v1/alerts", Some(&f1)).await.json();
    assert!(!list.to_string().contains("Wang Hua"), "{list}");
    assert!(list.to_string().contains("Nurse Chen"), "{list}");

    // Staff see everyone's names; family4 their own.
    let detail = w.get(&format!("/api/v1/alerts/{home_alert}"), Some(&nurse)).await.json();
    assert_eq!(detail["alert"]["acknowledged_by_name"], "Wang Hua");
    assert_eq!(name_of(&detail["notifications"], w.family1), vec![Some("Wang Jun")]);
    let detail = w.get(&format!("/api/v1/alerts/{home_alert}"), Some(&f4)).await.json();
    assert_eq!(name_of(&detail["notifications"], w.family1), vec![None], "family1 is not in family4's circle");

    // Resolving names the resolver too.
    let path = format!("/api/v1/alerts/{on_a}/resolve");
    let resolved = w.call(Method::POST, &path, Some(&nurse), Some(json!({"note": "oxygen on"}))).await.json();
    assert_eq!(resolved["resolved_by_name"], "Nurse Chen");
    let list = w.get(&format!("/api/v1/alerts?status=resolved&resident_id={a}"), Some(&f1)).await.json();
    assert_eq!(list[0]["resolved_by_name"], "Nurse Chen");
}
