//! FHIR R4: Patient, Observation (vital-signs codes and units, blood pressure as a panel), Device,
//! as searchset Bundles in scope. With `FHIR_OUT_DIR` set, every Bundle and resource these
//! tests receive is also written there, for `scripts/fhir-validate` (an independent validator).

use axum::http::{StatusCode, header};
use eldercare_schema::Metric;
use serde_json::Value;

use crate::support::{MINUTE, Reply, T0, World, reading, world};

/// Resident A: heart rate, SpO2, a blood-pressure pair and a lone systolic, temperature,
/// weight, glucose, steps and a battery level (not exported). Resident B: an SpO2.
async fn ingest(w: &World) {
    let a = w.resident_a;
    w.store.register_device("bp-a", "gw-1", a, "blood_pressure_cuff").await.unwrap();
    let t = |m: i64| T0 - m * MINUTE;
    let ox = [
        reading("ox-a", 1, a, Metric::HeartRate, 72.0, t(50)),
        reading("ox-a", 2, a, Metric::Spo2, 95.0, t(50)),
        reading("ox-a", 3, a, Metric::BodyTemperature, 36.8, t(40)),
        reading("ox-a", 4, a, Metric::BodyWeight, 61.5, t(40)),
        reading("ox-a", 5, a, Metric::Glucose, 6.1, t(30)),
        reading("ox-a", 6, a, Metric::Steps, 1234.0, t(30)),
        reading("ox-a", 7, a, Metric::Battery, 80.0, t(30)),
        reading("ox-a", 8, a, Metric::HeartRate, 75.0, t(24 * 60 + 5)),
    ];
    w.store.ingest("gw-1", &ox, &[], T0).await.unwrap();
    let bp = [
        reading("bp-a", 1, a, Metric::BpSystolic, 142.0, t(20)),
        reading("bp-a", 2, a, Metric::BpDiastolic, 91.0, t(20)),
        reading("bp-a", 3, a, Metric::BpSystolic, 150.0, t(10)),
    ];
    w.store.ingest("gw-1", &bp, &[], T0).await.unwrap();
    w.store.ingest("gw-2", &[reading("ox-b", 1, w.resident_b, Metric::Spo2, 88.0, t(5))], &[], T0).await.unwrap();
}

fn save(name: &str, reply: &Reply) {
    if let Ok(dir) = std::env::var("FHIR_OUT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.json")), &reply.body).unwrap();
    }
}

async fn fhir(w: &World, path: &str, token: &str, save_as: &str) -> Value {
    let reply = w.get(path, Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/fhir+json", "{path}");
    save(save_as, &reply);
    reply.json()
}

fn resources(bundle: &Value) -> Vec<&Value> {
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("searchset")));
    bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).collect()
}

fn codes(obs: &Value) -> Vec<&str> {
    obs["code"]["coding"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn observations_carry_the_vital_signs_codes_and_units() {
    let w = world().await;
    ingest(&w).await;
    let token = w.token("family1").await;
    let a = w.resident_a;
    let bundle =
        fhir(&w, &format!("/fhir/r4/Observation?patient=Patient/{a}&date=ge2024-05-01"), &token, "observations").await;
    let obs = resources(&bundle);
    let got: Vec<(Vec<&str>, Option<&str>)> =
        obs.iter().map(|o| (codes(o), o["valueQuantity"]["code"].as_str())).collect();
    assert_eq!(
        got,
        vec![
            (vec!["8867-4"], Some("/min")),
            (vec!["2708-6", "59408-5"], Some("%")),
            (vec!["8310-5"], Some("Cel")),
            (vec!["29463-7"], Some("kg")),
            (vec!["15074-8"], Some("mmol/L")),
            (vec!["55423-8"], Some("/d")),
            (vec!["85354-9"], None),
            (vec!["8480-6"], Some("mm[Hg]")),
        ],
        "oldest first; the battery level is not exported; the diastolic is inside the panel"
    );
    for o in &obs {
        assert_eq!(o["subject"]["reference"], format!("Patient/{a}"));
        assert_eq!(o["status"], "final");
        assert!(o["effectiveDateTime"].as_str().unwrap().starts_with("2024-05-01T07:"));
        if let Some(q) = o.get("valueQuantity") {
            assert_eq!(q["system"], "http://unitsofmeasure.org");
        }
        assert_eq!(o["code"]["coding"][0]["system"], "http://loinc.org");
    }
    let panel = obs[6];
    assert_eq!(panel["category"][0]["coding"][0]["code"], "vital-signs");
    assert_eq!(panel["device"]["reference"], "Device/d-bp-a");
    let comps = panel["component"].as_array().unwrap();
    assert_eq!((codes(&comps[0]), comps[0]["valueQuantity"]["value"].as_f64()), (vec!["8480-6"], Some(142.0)));
    assert_eq!((codes(&comps[1]), comps[1]["valueQuantity"]["value"].as_f64()), (vec!["8462-4"], Some(91.0)));
    assert_eq!(comps[1]["valueQuantity"]["code"], "mm[Hg]");

    // Each can be read on its own, and the Bundle's fullUrl names it.
    let id = obs[1]["id"].as_str().unwrap();
    assert_eq!(bundle["entry"][1]["fullUrl"], format!("http://localhost/fhir/r4/Observation/{id}"));
    let one = fhir(&w, &format!("/fhir/r4/Observation/{id}"), &token, "observation").await;
    assert_eq!(&one, obs[1]);
}

#[tokio::test]
async fn searches_filter_by_date_code_and_category_and_page() {
    let w = world().await;
    ingest(&w).await;
    let token = w.token("caregiver").await;
    let a = w.resident_a;
    let search = |q: String| format!("/fhir/r4/Observation?subject={a}&{q}");
    let count = |b: &Value| resources(b).len();

    let all = fhir(&w, &search("_count=1000".into()), &token, "all").await;
    assert_eq!(count(&all), 9, "yesterday's heart rate too");
    let day = fhir(&w, &search("date=ge2024-05-01T00:00:00Z&date=lt2024-05-01T07:30:00Z".into()), &token, "day").await;
    assert_eq!(count(&day), 4);
    let hr = fhir(&w, &search("code=http://loinc.org|8867-4".into()), &token, "hr").await;
    assert_eq!(count(&hr), 2);
    let spo2 = fhir(&w, &search("code=59408-5".into()), &token, "spo2").await;
    assert_eq!(count(&spo2), 1);
    let panel = fhir(&w, &search("code=85354-9".into()), &token, "bp").await;
    assert_eq!(count(&panel), 1, "the panel, not the lone systolic");
    let vitals = fhir(&w, &search("category=vital-signs".into()), &token, "vitals").await;
    assert_eq!(count(&vitals), 7);

    // Pages of 4, following the next links.
    let mut url = search("_count=4".into());
    let mut ids = Vec::new();
    for page in 0.. {
        let b = fhir(&w, &url, &token, &format!("page{page}")).await;
        ids.extend(resources(&b).iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        let next = b["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next");
        match next {
            Some(l) => url = l["url"].as_str().unwrap().trim_start_matches("http://localhost").to_owned(),
            None => break,
        }
    }
    let all_ids: Vec<String> = resources(&all).iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, all_ids);

    for bad in ["date=sometime", "_count=0", "color=red", "_cursor=x"] {
        let reply = w.get(&search(bad.into()), Some(&token)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/fhir+json");
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    }
}

#[tokio::test]
async fn patients_and_devices_in_scope() {
    let w = world().await;
    ingest(&w).await;
    let son = w.token("family1").await;
    let a = w.resident_a;
    let patients = fhir(&w, "/fhir/r4/Patient", &son, "patients").await;
    assert_eq!(patients["total"], 1);
    let p = resources(&patients)[0];
    assert_eq!(
        (p["id"].as_str(), p["name"][0]["text"].as_str(), p["birthDate"].as_str()),
        (Some(&*a.to_string()), Some("Wang Fang"), Some("1941"))
    );
    assert_eq!(&fhir(&w, &format!("/fhir/r4/Patient/{a}"), &son, "patient").await, p);

    let devices = fhir(&w, &format!("/fhir/r4/Device?patient={a}"), &son, "devices").await;
    let ids: Vec<&str> = resources(&devices).iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["g-gw-1", "d-bp-a", "d-ox-a"], "the gateway, then the wearables");
    let ox = resources(&devices)[2];
    assert_eq!(
        (ox["patient"]["reference"].as_str(), ox["parent"]["reference"].as_str()),
        (Some(&*format!("Patient/{a}")), Some("Device/g-gw-1"))
    );
    fhir(&w, "/fhir/r4/Device/g-gw-1", &son, "gateway").await;
    fhir(&w, "/fhir/r4/Device/d-ox-a", &son, "device").await;
    let meta = w.get("/fhir/r4/metadata", None).await;
    save("metadata", &meta);
    assert_eq!(meta.json()["fhirVersion"], "4.0.1");

    // Out of scope: direct reads are 404, searches come back empty.
    let b = w.resident_b;
    for path in [
        format!("/fhir/r4/Patient/{b}"),
        "/fhir/r4/Device/d-ox-b".into(),
        "/fhir/r4/Device/g-gw-2".into(),
        "/fhir/r4/Patient/nope".into(),
    ] {
        let reply = w.get(&path, Some(&son)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json()["issue"][0]["code"], "not-found");
    }
    let empty = fhir(&w, &format!("/fhir/r4/Observation?patient={b}"), &son, "empty").await;
    assert!(resources(&empty).is_empty());
    let b_obs = fhir(&w, &format!("/fhir/r4/Observation?patient={b}"), &w.token("family2").await, "b").await;
    let b_id = resources(&b_obs)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(w.get(&format!("/fhir/r4/Observation/{b_id}"), Some(&son)).await.status, StatusCode::NOT_FOUND);
    let unauthenticated = w.get("/fhir/r4/Patient", None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthenticated.json()["issue"][0]["code"], "login");

    let trail = w.store.audit_for_resident(a).await.unwrap();
    for action in ["fhir.patient.search", "fhir.patient.read"] {
        assert!(trail.iter().any(|e| e.2 == action), "{action}");
    }
    assert!(w.store.audit_for_resident(b).await.unwrap().iter().any(|e| e.2 == "resident.not_visible"));
}
