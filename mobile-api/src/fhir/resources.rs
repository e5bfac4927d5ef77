//! Our rows as FHIR R4 resources. Codes and units come from the metric catalogue
//! (`eldercare_schema::Metric::info()`, which follows CLINICAL.md); what the catalogue does not
//! say (the panel code, profiles, the second SpO2 coding, categories) is here.

use eldercare_schema::{Metric, MetricKind};
use eldercare_store::ResidentRow;
use eldercare_store::admin::{DeviceDetailRow, GatewayStatusRow};
use eldercare_store::fhir::ObservationRow;
use serde_json::{Value, json};

use super::ids;
use crate::ApiError;
use crate::rfc3339::format_ms;

pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const RESIDENT_SYSTEM: &str = "urn:eldercare:resident";
const DEVICE_SYSTEM: &str = "urn:eldercare:device";
const GATEWAY_SYSTEM: &str = "urn:eldercare:gateway";

/// Blood pressure panel and its components (LOINC).
pub(crate) const BP_PANEL: (&str, &str) = ("85354-9", "Blood pressure panel with all children optional");
/// SpO2: the vital-signs profile's code, besides the catalogue's pulse-oximetry code 59408-5.
pub(crate) const SPO2_ARTERIAL: (&str, &str) = ("2708-6", "Oxygen saturation in Arterial blood");

/// The metrics exported as Observations: those with a LOINC code that describe the person.
/// RR intervals, battery levels, falls and help-button presses have no LOINC code of their own
/// in CLINICAL.md and are not exported.
pub(crate) fn exported(metric: Metric) -> bool {
    let info = metric.info();
    info.loinc.is_some() && matches!(info.kind, MetricKind::Vital | MetricKind::Activity)
}

/// The observation category of a metric.
fn category(metric: Metric) -> (&'static str, &'static str) {
    match metric {
        Metric::Steps => ("activity", "Activity"),
        Metric::Glucose => ("laboratory", "Laboratory"),
        _ => ("vital-signs", "Vital Signs"),
    }
}

/// The FHIR vital-signs profile a metric's Observation claims, if any.
fn profile(metric: Metric, panel: bool) -> Option<&'static str> {
    let name = match metric {
        _ if panel => "bp",
        Metric::HeartRate => "heartrate",
        Metric::Spo2 => "oxygensat",
        Metric::BodyTemperature => "bodytemp",
        Metric::BodyWeight => "bodyweight",
        Metric::BpSystolic | Metric::BpDiastolic | Metric::BpMean => "vitalsigns",
        _ => return None,
    };
    Some(match name {
        "bp" => "http://hl7.org/fhir/StructureDefinition/bp",
        "heartrate" => "http://hl7.org/fhir/StructureDefinition/heartrate",
        "oxygensat" => "http://hl7.org/fhir/StructureDefinition/oxygensat",
        "bodytemp" => "http://hl7.org/fhir/StructureDefinition/bodytemp",
        "bodyweight" => "http://hl7.org/fhir/StructureDefinition/bodyweight",
        _ => "http://hl7.org/fhir/StructureDefinition/vitalsigns",
    })
}

/// The LOINC codings of a metric (SpO2 has two).
pub(crate) fn codings(metric: Metric) -> Vec<Value> {
    let info = metric.info();
    let mut out = Vec::new();
    if metric == Metric::Spo2 {
        out.push(json!({"system": LOINC, "code": SPO2_ARTERIAL.0, "display": SPO2_ARTERIAL.1}));
    }
    if let Some(code) = info.loinc {
        out.push(json!({"system": LOINC, "code": code, "display": info.display}));
    }
    out
}

fn quantity(metric: Metric, value: f64) -> Value {
    let ucum = metric.info().ucum;
    json!({"value": value, "unit": ucum, "system": UCUM, "code": ucum})
}

/// A reading as an Observation; a systolic pressure with its diastolic partner as the panel.
pub(crate) fn observation(row: &ObservationRow) -> Result<Value, ApiError> {
    let panel = row.metric == Metric::BpSystolic && row.diastolic.is_some();
    let (cat, cat_display) = category(row.metric);
    let mut obs = json!({
        "resourceType": "Observation",
        "id": row.row_id.to_string(),
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": cat, "display": cat_display}], "text": cat_display}],
        "subject": {"reference": format!("Patient/{}", row.resident_id)},
        "effectiveDateTime": format_ms(row.measured_ms)?,
        "device": {"reference": format!("Device/{}", ids::wearable_id(&row.device_id))},
    });
    if let Some(p) = profile(row.metric, panel) {
        obs["meta"] = json!({"profile": [p]});
    }
    if let (true, Some(diastolic)) = (panel, row.diastolic) {
        obs["code"] =
            json!({"coding": [{"system": LOINC, "code": BP_PANEL.0, "display": BP_PANEL.1}], "text": "Blood pressure"});
        obs["component"] = json!([
            {"code": {"coding": codings(Metric::BpSystolic)}, "valueQuantity": quantity(Metric::BpSystolic, row.value)},
            {"code": {"coding": codings(Metric::BpDiastolic)}, "valueQuantity": quantity(Metric::BpDiastolic, diastolic)},
        ]);
    } else {
        obs["code"] = json!({"coding": codings(row.metric), "text": row.metric.info().display});
        obs["valueQuantity"] = quantity(row.metric, row.value);
    }
    Ok(obs)
}

/// A resident as a Patient.
pub(crate) fn patient(r: &ResidentRow) -> Value {
    let mut p = json!({
        "resourceType": "Patient",
        "id": r.resident_id.to_string(),
        "identifier": [{"system": RESIDENT_SYSTEM, "value": r.resident_id.to_string()}],
        "active": true,
        "name": [{"use": "usual", "text": r.full_name}],
        "managingOrganization": {"display": r.grid_name},
    });
    if let Some(year) = r.birth_year.filter(|y| (1000..=9999).contains(y)) {
        p["birthDate"] = json!(year.to_string());
    }
    p
}

/// A wearable as a Device of its wearer, with its gateway as parent.
pub(crate) fn wearable(d: &DeviceDetailRow, online: bool) -> Value {
    json!({
        "resourceType": "Device",
        "id": ids::wearable_id(&d.device_id),
        "identifier": [{"system": DEVICE_SYSTEM, "value": d.device_id}],
        "status": "active",
        "deviceName": [{"name": d.device_id, "type": "user-friendly-name"}],
        "type": {"text": d.kind},
        "patient": {"reference": format!("Patient/{}", d.resident_id)},
        "parent": {"reference": format!("Device/{}", ids::gateway_id(&d.gateway_id))},
        "property": [{"type": {"text": "online"}, "valueCode": [{"text": if online { "online" } else { "offline" }}]}],
    })
}

/// A home gateway as a Device of its own (the HL7 Personal Health Device guide's model).
pub(crate) fn gateway(g: &GatewayStatusRow) -> Value {
    let status = g.status.as_deref().unwrap_or("unknown");
    json!({
        "resourceType": "Device",
        "id": ids::gateway_id(&g.gateway_id),
        "identifier": [{"system": GATEWAY_SYSTEM, "value": g.gateway_id}],
        "status": "active",
        "deviceName": [{"name": g.gateway_id, "type": "user-friendly-name"}],
        "type": {"text": "home gateway"},
        "property": [{"type": {"text": "status"}, "valueCode": [{"text": status}]}],
    })
}

/// What this server offers.
pub(crate) fn capability_statement(base: &str) -> Value {
    let search = |names: &[(&str, &str)]| -> Value {
        names.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>().into()
    };
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-05-01",
        "kind": "instance",
        "software": {"name": "eldercare"},
        "implementation": {"description": "eldercare FHIR R4 export (read-only)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "OAuth-style bearer tokens from /api/v1/auth/login; the same scope as the API."},
            "resource": [
                {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": search(&[("_id", "token")])},
                {"type": "Observation", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": search(&[("patient", "reference"), ("subject", "reference"), ("date", "date"), ("code", "token"), ("category", "token")])},
                {"type": "Device", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": search(&[("patient", "reference")])},
            ],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: Metric, value: f64, diastolic: Option<f64>) -> ObservationRow {
        ObservationRow {
            row_id: 7,
            resident_id: 3,
            gateway_id: "gw-1".into(),
            device_id: "ox-a".into(),
            metric,
            value,
            measured_ms: 1_714_550_400_000,
            diastolic,
        }
    }

    fn loinc_codes(codeable: &Value) -> Vec<&str> {
        codeable["coding"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect()
    }

    #[test]
    fn vital_signs_carry_loinc_codes_and_ucum_units() {
        let cases = [
            (Metric::HeartRate, "8867-4", "/min"),
            (Metric::BodyTemperature, "8310-5", "Cel"),
            (Metric::BodyWeight, "29463-7", "kg"),
            (Metric::BpMean, "8478-0", "mm[Hg]"),
        ];
        for (metric, loinc, ucum) in cases {
            let o = observation(&row(metric, 1.0, None)).unwrap();
            assert_eq!(loinc_codes(&o["code"]), vec![loinc], "{metric}");
            assert_eq!(o["code"]["coding"][0]["system"], LOINC);
            assert_eq!(o["valueQuantity"]["system"], UCUM);
            assert_eq!(o["valueQuantity"]["code"], ucum, "{metric}");
            assert_eq!(o["category"][0]["coding"][0]["code"], "vital-signs");
            assert_eq!(o["category"][0]["coding"][0]["system"], CATEGORY_SYSTEM);
            assert_eq!(o["status"], "final");
            assert_eq!(o["effectiveDateTime"], "2024-05-01T08:00:00Z");
            assert_eq!(o["subject"]["reference"], "Patient/3");
            assert_eq!(o["device"]["reference"], "Device/d-ox-a");
        }
    }

    #[test]
    fn spo2_has_both_codings() {
        let o = observation(&row(Metric::Spo2, 96.0, None)).unwrap();
        assert_eq!(loinc_codes(&o["code"]), vec!["2708-6", "59408-5"]);
        assert_eq!(
            (o["valueQuantity"]["value"].as_f64(), o["valueQuantity"]["code"].as_str()),
            (Some(96.0), Some("%"))
        );
        assert_eq!(o["meta"]["profile"][0], "http://hl7.org/fhir/StructureDefinition/oxygensat");
    }

    #[test]
    fn blood_pressure_is_a_panel_of_two_components() {
        let o = observation(&row(Metric::BpSystolic, 142.0, Some(91.0))).unwrap();
        assert_eq!(loinc_codes(&o["code"]), vec!["85354-9"]);
        assert!(o.get("valueQuantity").is_none(), "a panel has no value of its own");
        let comps = o["component"].as_array().unwrap();
        assert_eq!(loinc_codes(&comps[0]["code"]), vec!["8480-6"]);
        assert_eq!(loinc_codes(&comps[1]["code"]), vec!["8462-4"]);
        assert_eq!(
            (comps[0]["valueQuantity"]["value"].as_f64(), comps[1]["valueQuantity"]["value"].as_f64()),
            (Some(142.0), Some(91.0))
        );
        for c in comps {
            assert_eq!(
                (c["valueQuantity"]["system"].as_str(), c["valueQuantity"]["code"].as_str()),
                (Some(UCUM), Some("mm[Hg]"))
            );
        }
        assert_eq!(o["meta"]["profile"][0], "http://hl7.org/fhir/StructureDefinition/bp");
        // A systolic reading without its diastolic stays a single observation.
        let alone = observation(&row(Metric::BpSystolic, 142.0, None)).unwrap();
        assert_eq!(loinc_codes(&alone["code"]), vec!["8480-6"]);
        assert_eq!(alone["valueQuantity"]["code"], "mm[Hg]");
    }

    #[test]
    fn glucose_and_steps_are_not_vital_signs() {
        let g = observation(&row(Metric::Glucose, 5.5, None)).unwrap();
        assert_eq!(
            (g["category"][0]["coding"][0]["code"].as_str(), g["valueQuantity"]["code"].as_str()),
            (Some("laboratory"), Some("mmol/L"))
        );
        assert_eq!(loinc_codes(&g["code"]), vec!["15074-8"]);
        let s = observation(&row(Metric::Steps, 1200.0, None)).unwrap();
        assert_eq!(
            (s["category"][0]["coding"][0]["code"].as_str(), s["valueQuantity"]["code"].as_str()),
            (Some("activity"), Some("/d"))
        );
        assert_eq!(loinc_codes(&s["code"]), vec!["55423-8"]);
    }

    #[test]
    fn only_codable_measurements_of_the_person_are_exported() {
        let out: Vec<Metric> = Metric::ALL.into_iter().filter(|m| exported(*m)).collect();
        use Metric::*;
        assert_eq!(
            out,
            vec![HeartRate, Spo2, BpSystolic, BpDiastolic, BpMean, BodyTemperature, BodyWeight, Glucose, Steps]
        );
    }
}
