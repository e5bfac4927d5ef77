//! Property tests: every decoder is total (any bytes give `Ok` or an error, never a panic), and
//! every encoder's output decodes back to what was encoded.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::*;

/// Any bytes: no panic; if decoded, samples are finite and the whole thing serialises.
fn check_total(ch: Characteristic, bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode(ch, bytes) {
        Ok(d) => {
            prop_assert_eq!(d.characteristic, ch);
            prop_assert!(d.samples.iter().all(|s| s.value.is_finite()), "{:?}", d.samples);
            prop_assert!(serde_json::to_string(&d).is_ok());
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

macro_rules! never_panics {
    ($($name:ident => $ch:expr),* $(,)?) => {
        proptest! {
            $(
                #[test]
                fn $name(bytes in vec(any::<u8>(), 0..64)) {
                    check_total($ch, &bytes)?;
                }
            )*
        }
    };
}

never_panics! {
    heart_rate_never_panics => Characteristic::HeartRateMeasurement,
    blood_pressure_never_panics => Characteristic::BloodPressureMeasurement,
    intermediate_cuff_pressure_never_panics => Characteristic::IntermediateCuffPressure,
    temperature_never_panics => Characteristic::TemperatureMeasurement,
    plx_spot_check_never_panics => Characteristic::PlxSpotCheck,
    plx_continuous_never_panics => Characteristic::PlxContinuous,
    weight_never_panics => Characteristic::WeightMeasurement,
    glucose_never_panics => Characteristic::GlucoseMeasurement,
    battery_never_panics => Characteristic::BatteryLevel,
    fall_never_panics => Characteristic::FallEvent,
}

/// Every strict prefix of a complete fixed-layout packet is too short.
fn prefixes_are_too_short(ch: Characteristic, bytes: &[u8]) -> Result<(), TestCaseError> {
    for len in 0..bytes.len() {
        let result = decode(ch, &bytes[..len]);
        prop_assert!(matches!(result, Err(DecodeError::TooShort { .. })), "{ch} prefix {len}: {result:?}");
    }
    Ok(())
}

/// SFLOAT precision: within half a step of a mantissa of at least 205 (or of 10^-8).
fn sfloat_close(got: f64, want: f64) -> bool {
    (got - want).abs() <= (want.abs() * 0.0025).max(0.5e-8)
}

fn exact(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 1e-12
}

fn tenths(max: u32) -> impl Strategy<Value = f64> {
    (0..=max).prop_map(|t| f64::from(t) / 10.0)
}

/// A time stamp between 1970 and 2100, or none.
fn time() -> impl Strategy<Value = Option<DateTime>> {
    option::of(0i64..4_102_444_800_000).prop_map(|t| t.map(DateTime::from_unix_ms))
}

fn values(d: &Decoded) -> Vec<(Metric, f64)> {
    d.samples.iter().map(|s| (s.metric, s.value)).collect()
}

proptest! {
    #[test]
    fn sfloat_encoding_is_within_precision(v in -2.045e10f64..2.045e10) {
        let got = Float11073::from_sfloat(Float11073::sfloat_bits(v)).value();
        prop_assert!(got.is_some_and(|g| sfloat_close(g, v)), "{} → {:?}", v, got);
    }

    #[test]
    fn every_sfloat_number_survives_re_encoding(raw in any::<u16>()) {
        if let Some(v) = Float11073::from_sfloat(raw).value() {
            let again = Float11073::from_sfloat(Float11073::sfloat_bits(v));
            prop_assert_eq!(again, Float11073::Value(v), "{:#06x}", raw);
        }
    }

    #[test]
    fn every_float_number_survives_re_encoding(raw in any::<u32>()) {
        if let Some(v) = Float11073::from_float(raw).value() {
            let again = Float11073::from_float(Float11073::float_bits(v)).value();
            prop_assert!(again.is_some_and(|a| exact(a, v)), "{:#010x}: {} → {:?}", raw, v, again);
        }
    }

    #[test]
    fn date_time_round_trips(ms in -12_244_089_600_000i64..=253_402_300_799_999) {
        let t = DateTime::from_unix_ms(ms);
        prop_assert_eq!(t.to_unix_ms(), Some(ms.div_euclid(1000) * 1000));
        prop_assert_eq!(DateTime::from_bytes(t.to_bytes()), t);
    }

    #[test]
    fn heart_rate_round_trips(
        bpm in any::<u16>(),
        rr in vec(0.0f64..63_999.0, 0..8),
        contact in option::of(any::<bool>()),
        energy in option::of(any::<u16>()),
    ) {
        let d = decode(
            Characteristic::HeartRateMeasurement,
            &encode::heart_rate(bpm, &rr, contact, energy),
        )?;
        prop_assert_eq!(&d.samples[0], &Sample::new(Metric::HeartRate, f64::from(bpm)));
        prop_assert_eq!(d.samples.len(), 1 + rr.len());
        for (s, ms) in d.samples[1..].iter().zip(&rr) {
            prop_assert_eq!(s.metric, Metric::RrInterval);
            prop_assert!((s.value - ms).abs() <= 0.5 * 1000.0 / 1024.0 + 1e-9);
        }
        let Detail::HeartRate(h) = &d.detail else { panic!("{:?}", d.detail) };
        let want_contact = match contact {
            None => SensorContact::NotSupported,
            Some(false) => SensorContact::NotDetected,
            Some(true) => SensorContact::Detected,
        };
        prop_assert_eq!(h.sensor_contact, want_contact);
        prop_assert_eq!(h.energy_expended_kj, energy);
    }

    #[test]
    fn blood_pressure_round_trips(
        sys in tenths(3000), dia in tenths(2500), map in tenths(2800),
        pulse in option::of(tenths(3000)), time in time(),
    ) {
        let bytes = encode::blood_pressure_mmhg(sys, dia, map, pulse, time);
        prefixes_are_too_short(Characteristic::BloodPressureMeasurement, &bytes)?;
        let d = decode(Characteristic::BloodPressureMeasurement, &bytes)?;
        let mut want = vec![(Metric::BpSystolic, sys), (Metric::BpDiastolic, dia), (Metric::BpMean, map)];
        want.extend(pulse.map(|p| (Metric::HeartRate, p)));
        let got = values(&d);
        prop_assert_eq!(got.len(), want.len());
        for ((gm, gv), (wm, wv)) in got.into_iter().zip(want) {
            prop_assert_eq!(gm, wm);
            prop_assert!(sfloat_close(gv, wv), "{}: {} vs {}", gm, gv, wv);
        }
        prop_assert_eq!(d.device_time_ms, time.and_then(DateTime::to_unix_ms));
    }

    #[test]
    fn temperature_round_trips(hundredths in 2500u32..4500, time in time()) {
        let celsius = f64::from(hundredths) / 100.0;
        let bytes = encode::temperature_celsius(celsius, time);
        prefixes_are_too_short(Characteristic::TemperatureMeasurement, &bytes)?;
        let d = decode(Characteristic::TemperatureMeasurement, &bytes)?;
        prop_assert_eq!(values(&d).len(), 1);
        prop_assert!(exact(d.samples[0].value, celsius), "{} vs {}", d.samples[0].value, celsius);
        prop_assert_eq!(d.device_time_ms, time.and_then(DateTime::to_unix_ms));
    }

    #[test]
    fn plx_round_trips(spo2 in tenths(1000), pulse in tenths(3000), time in time()) {
        let bytes = encode::plx_spot_check(spo2, pulse, time);
        prefixes_are_too_short(Characteristic::PlxSpotCheck, &bytes)?;
        let spot = decode(Characteristic::PlxSpotCheck, &bytes)?;
        prop_assert_eq!(spot.device_time_ms, time.and_then(DateTime::to_unix_ms));
        let bytes = encode::plx_continuous(spo2, pulse);
        prefixes_are_too_short(Characteristic::PlxContinuous, &bytes)?;
        let continuous = decode(Characteristic::PlxContinuous, &bytes)?;
        for d in [spot, continuous] {
            let got = values(&d);
            prop_assert_eq!(got.len(), 2);
            prop_assert_eq!((got[0].0, got[1].0), (Metric::Spo2, Metric::HeartRate));
            prop_assert!(sfloat_close(got[0].1, spo2) && sfloat_close(got[1].1, pulse), "{:?}", got);
        }
    }

    #[test]
    fn weight_round_trips(kg in 0.0f64..327.67, time in time()) {
        let bytes = encode::weight_kg(kg, time);
        prefixes_are_too_short(Characteristic::WeightMeasurement, &bytes)?;
        let d = decode(Characteristic::WeightMeasurement, &bytes)?;
        prop_assert_eq!(d.samples.len(), 1);
        prop_assert!((d.samples[0].value - kg).abs() <= 0.0025 + 1e-9);
        prop_assert_eq!(d.device_time_ms, time.and_then(DateTime::to_unix_ms));
    }

    #[test]
    fn glucose_round_trips(sequence in any::<u16>(), mmol_tenths in 1u32..=600, t in 0i64..4_102_444_800_000) {
        let mmol = f64::from(mmol_tenths) / 10.0;
        let base = DateTime::from_unix_ms(t);
        let bytes = encode::glucose_mmol(sequence, base, mmol);
        prefixes_are_too_short(Characteristic::GlucoseMeasurement, &bytes)?;
        let d = decode(Characteristic::GlucoseMeasurement, &bytes)?;
        prop_assert_eq!(d.samples.len(), 1);
        prop_assert!(exact(d.samples[0].value, mmol), "{} vs {}", d.samples[0].value, mmol);
        prop_assert_eq!(d.device_time_ms, base.to_unix_ms());
        let Detail::Glucose(g) = &d.detail else { panic!("{:?}", d.detail) };
        prop_assert_eq!(g.sequence_number, sequence);
    }

    #[test]
    fn battery_round_trips(percent in 0u8..=100) {
        let d = decode(Characteristic::BatteryLevel, &encode::battery(percent))?;
        prop_assert_eq!(values(&d), vec![(Metric::Battery, f64::from(percent))]);
    }

    #[test]
    fn fall_round_trips(
        event in prop_oneof![
            Just(FallEventKind::FallDetected),
            Just(FallEventKind::FallCancelled),
            Just(FallEventKind::HelpButton),
        ],
        time in time(),
    ) {
        let bytes = encode::fall(event, time);
        prefixes_are_too_short(Characteristic::FallEvent, &bytes)?;
        let d = decode(Characteristic::FallEvent, &bytes)?;
        prop_assert_eq!(&d.samples, &vec![event.sample()]);
        prop_assert_eq!(d.device_time_ms, time.and_then(DateTime::to_unix_ms));
        let Detail::Fall(f) = &d.detail else { panic!("{:?}", d.detail) };
        prop_assert_eq!(f.event, event);
        prop_assert_eq!(f.timestamp, time);
    }
}
