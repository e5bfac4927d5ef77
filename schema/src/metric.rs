//! The metric catalogue: every quantity or event a wearable can report.
//!
//! Each metric has one canonical unit (UCUM) in which it travels and is stored; gateways convert
//! device units (°F, lb, kPa, kg/L) before publishing. LOINC codes follow `shared/CLINICAL.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a metric is, which decides how rules and exports treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A vital sign or body measurement.
    Vital,
    /// Activity (steps).
    Activity,
    /// A property of the device, not of the person (battery).
    Device,
    /// Something that happened (a fall, a help-button press); the value says what.
    Event,
}

/// One entry of the catalogue. The wire name is the `snake_case` variant name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Heart rate or pulse rate, beats per minute.
    HeartRate,
    /// One RR interval (time between beats), milliseconds.
    RrInterval,
    /// Oxygen saturation by pulse oximetry, percent.
    Spo2,
    /// Systolic blood pressure, mmHg.
    BpSystolic,
    /// Diastolic blood pressure, mmHg.
    BpDiastolic,
    /// Mean arterial pressure, mmHg.
    BpMean,
    /// Body temperature, degrees Celsius.
    BodyTemperature,
    /// Body weight, kilograms.
    BodyWeight,
    /// Blood glucose, mmol/L.
    Glucose,
    /// Steps counted today so far.
    Steps,
    /// Battery level of the device, percent.
    Battery,
    /// Fall detector: 1 = fall detected, 0 = the wearer cancelled ("I'm fine").
    Fall,
    /// Help button: 1 = pressed.
    HelpButton,
}

/// Static facts about a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    pub metric: Metric,
    pub code: &'static str,
    pub display: &'static str,
    pub kind: MetricKind,
    /// UCUM unit code of the canonical unit.
    pub ucum: &'static str,
    /// LOINC code, where one exists.
    pub loinc: Option<&'static str>,
    /// Values outside `[min, max]` are not physiologically plausible and are refused at ingest.
    pub min: f64,
    pub max: f64,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::HeartRate,
        Metric::RrInterval,
        Metric::Spo2,
        Metric::BpSystolic,
        Metric::BpDiastolic,
        Metric::BpMean,
        Metric::BodyTemperature,
        Metric::BodyWeight,
        Metric::Glucose,
        Metric::Steps,
        Metric::Battery,
        Metric::Fall,
        Metric::HelpButton,
    ];

    pub const fn info(self) -> MetricInfo {
        use Metric::*;
        use MetricKind::*;
        let (code, display, kind, ucum, loinc, min, max) = match self {
            HeartRate => ("heart_rate", "Heart rate", Vital, "/min", Some("8867-4"), 15.0, 300.0),
            RrInterval => ("rr_interval", "RR interval", Vital, "ms", None, 150.0, 4000.0),
            Spo2 => ("spo2", "Oxygen saturation", Vital, "%", Some("59408-5"), 40.0, 100.0),
            BpSystolic => ("bp_systolic", "Systolic blood pressure", Vital, "mm[Hg]", Some("8480-6"), 30.0, 320.0),
            BpDiastolic => ("bp_diastolic", "Diastolic blood pressure", Vital, "mm[Hg]", Some("8462-4"), 10.0, 250.0),
            BpMean => ("bp_mean", "Mean arterial pressure", Vital, "mm[Hg]", Some("8478-0"), 15.0, 280.0),
            BodyTemperature => ("body_temperature", "Body temperature", Vital, "Cel", Some("8310-5"), 25.0, 45.0),
            BodyWeight => ("body_weight", "Body weight", Vital, "kg", Some("29463-7"), 2.0, 400.0),
            Glucose => ("glucose", "Blood glucose", Vital, "mmol/L", Some("15074-8"), 0.5, 60.0),
            Steps => ("steps", "Steps today", Activity, "/d", Some("55423-8"), 0.0, 200_000.0),
            Battery => ("battery", "Battery level", Device, "%", None, 0.0, 100.0),
            Fall => ("fall", "Fall", Event, "1", None, 0.0, 1.0),
            HelpButton => ("help_button", "Help button", Event, "1", None, 1.0, 1.0),
        };
        MetricInfo { metric: self, code, display, kind, ucum, loinc, min, max }
    }

    /// The wire and storage name, e.g. `heart_rate`.
    pub const fn code(self) -> &'static str {
        self.info().code
    }

    pub fn from_code(code: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Whether `value` is a finite number inside the metric's plausible range.
    pub fn is_plausible(self, value: f64) -> bool {
        let info = self.info();
        value.is_finite() && value >= info.min && value <= info.max
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_code(m.code()), Some(m));
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.code()));
        }
        assert_eq!(Metric::from_code("pulse"), None);
    }

    #[test]
    fn loinc_and_units_follow_clinical_reference() {
        assert_eq!(Metric::HeartRate.info().loinc, Some("8867-4"));
        assert_eq!(Metric::HeartRate.info().ucum, "/min");
        assert_eq!(Metric::BpSystolic.info().loinc, Some("8480-6"));
        assert_eq!(Metric::BpDiastolic.info().loinc, Some("8462-4"));
        assert_eq!(Metric::BpSystolic.info().ucum, "mm[Hg]");
        assert_eq!(Metric::BodyTemperature.info().ucum, "Cel");
        assert_eq!(Metric::BodyTemperature.info().loinc, Some("8310-5"));
        assert_eq!(Metric::BodyWeight.info().loinc, Some("29463-7"));
        assert_eq!(Metric::Glucose.info().loinc, Some("15074-8"));
        assert_eq!(Metric::Glucose.info().ucum, "mmol/L");
        assert_eq!(Metric::Steps.info().loinc, Some("55423-8"));
        assert_eq!(Metric::Spo2.info().ucum, "%");
    }

    #[test]
    fn plausibility() {
        assert!(Metric::Spo2.is_plausible(97.0));
        assert!(!Metric::Spo2.is_plausible(101.0));
        assert!(!Metric::HeartRate.is_plausible(f64::NAN));
        assert!(!Metric::BodyTemperature.is_plausible(f64::INFINITY));
        assert!(Metric::Fall.is_plausible(0.0));
        assert!(!Metric::HelpButton.is_plausible(0.0));
    }
}
