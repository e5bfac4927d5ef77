//! Silence scenarios: a device taken off, a gateway offline with five devices; low battery.

use std::collections::BTreeSet;

use super::sim::{HOUR, MIN, T0};
use crate::rules::{DeviceSeen, Effect, GatewaySeen, Level, Subject, Thresholds, evaluate_silence};

fn device(id: &str, kind: &str, last: Option<i64>) -> DeviceSeen {
    DeviceSeen {
        device_id: id.to_owned(),
        resident_id: 1,
        kind: kind.to_owned(),
        gateway_id: "gw-1".to_owned(),
        last_reading_ms: last,
        registered_ms: T0,
        battery_pct: None,
    }
}

fn gateway(online: bool, since_ms: i64) -> GatewaySeen {
    GatewaySeen { gateway_id: "gw-1".to_owned(), household_id: 7, online, since_ms }
}

/// Raises in one sweep, as (subject, condition, level).
fn raises(fx: &[(Subject, Effect)]) -> Vec<(Subject, String, Level)> {
    fx.iter()
        .filter_map(|(s, e)| match e {
            Effect::Raise(f) => Some((*s, f.condition.clone(), f.level)),
            _ => None,
        })
        .collect()
}

fn clears(fx: &[(Subject, Effect)]) -> Vec<(Subject, String)> {
    fx.iter()
        .filter_map(|(s, e)| match e {
            Effect::Clear { condition } => Some((*s, condition.clone())),
            _ => None,
        })
        .collect()
}

/// The band is taken off at 09:00 and put back at 14:00; the oximeter keeps reporting. Sweeps
/// every 10 minutes from 08:00 to 16:00.
fn band_taken_off(th: Thresholds) -> Vec<(i64, Vec<(Subject, Effect)>)> {
    let (off, on) = (T0 + 9 * HOUR, T0 + 14 * HOUR);
    (0..=48)
        .map(|i| {
            let now = T0 + 8 * HOUR + i * 10 * MIN;
            let band_last = if now <= off || now >= on { now } else { off };
            let devices =
                [device("band-1", "heart_rate_band", Some(band_last)), device("ox-1", "pulse_oximeter", Some(now))];
            let th = th.clone();
            (now, evaluate_silence(&move |_| th.clone(), &[gateway(true, T0)], &devices, now))
        })
        .collect()
}

#[test]
fn f_a_band_taken_off_is_no_data_after_2_h_and_cleared_when_readings_resume() {
    let sweeps = band_taken_off(Thresholds::default());
    let mut raised_at = Vec::new();
    for (now, fx) in &sweeps {
        let r = raises(fx);
        if !r.is_empty() {
            assert_eq!(r, vec![(Subject::Resident(1), "no_data:band-1".to_owned(), Level::Info)], "at {now}");
            raised_at.push(*now);
        } else {
            assert!(clears(fx).contains(&(Subject::Resident(1), "no_data:band-1".to_owned())), "at {now}");
        }
    }
    // Every sweep from 11:00 (2 h after the last reading) up to 13:50; cleared at 14:00.
    let expected: Vec<i64> = (0..18).map(|i| T0 + 11 * HOUR + i * 10 * MIN).collect();
    assert_eq!(raised_at, expected);
    let first = sweeps.iter().find(|(now, _)| *now == T0 + 11 * HOUR).unwrap();
    let Effect::Raise(f) = &first.1[0].1 else { panic!("{:?}", first.1) };
    assert_eq!(f.evidence["silent_hours"], 2.0);
    assert_eq!(f.evidence["limit_hours"], 2.0);
}

#[test]
fn f_for_someone_living_alone_no_data_is_urgent() {
    let th = Thresholds::default().with_overrides(&serde_json::json!({"no_data_level": "urgent"})).unwrap();
    let levels: BTreeSet<Level> = band_taken_off(th).iter().flat_map(|(_, fx)| raises(fx)).map(|r| r.2).collect();
    assert_eq!(levels, BTreeSet::from([Level::Urgent]));
}

/// Five devices, all last heard at 10:00, when the gateway went offline; sweeps every 10 minutes
/// for four days (past the scale's 72 h).
fn gateway_down(th: Thresholds) -> Vec<(i64, Vec<(Subject, Effect)>)> {
    let off = T0 + 10 * HOUR;
    let devices = [
        device("band-1", "heart_rate_band", Some(off)),
        device("ox-1", "pulse_oximeter", Some(off)),
        device("thermo-1", "thermometer", Some(off)),
        device("cuff-1", "blood_pressure_cuff", Some(off)),
        device("scale-1", "scale", Some(off)),
    ];
    (0..=4 * 24 * 6)
        .map(|i| {
            let now = off + i * 10 * MIN;
            let th = th.clone();
            (now, evaluate_silence(&move |_| th.clone(), &[gateway(false, off)], &devices, now))
        })
        .collect()
}

#[test]
fn g_a_gateway_offline_with_five_devices_is_one_household_alert_and_no_no_data_alerts() {
    let off = T0 + 10 * HOUR;
    let sweeps = gateway_down(Thresholds::default());
    let mut conditions = BTreeSet::new();
    for (now, fx) in &sweeps {
        let r = raises(fx);
        for (subject, condition, level) in &r {
            assert_eq!(
                (*subject, condition.as_str(), *level),
                (Subject::Household(7), "gateway_offline:gw-1", Level::Info)
            );
            conditions.insert(condition.clone());
        }
        // Raised from 10 minutes offline on; before that, nothing is raised at all.
        assert_eq!(r.len(), usize::from(*now >= off + 10 * MIN), "at {now}");
        // The devices' no-data conditions are cleared (suppressed) on every sweep.
        let c = clears(fx);
        assert_eq!(c.iter().filter(|(_, k)| k.starts_with("no_data:")).count(), 5, "at {now}");
    }
    assert_eq!(conditions, BTreeSet::from(["gateway_offline:gw-1".to_owned()]));
    let last = sweeps.last().unwrap();
    let Some(Effect::Raise(f)) = last.1.iter().map(|x| &x.1).find(|e| matches!(e, Effect::Raise(_))) else { panic!() };
    assert_eq!(f.evidence["devices_past_no_data_limit"].as_array().unwrap().len(), 5);
}

#[test]
fn g_for_someone_living_alone_the_gateway_alert_takes_the_no_data_level() {
    let off = T0 + 10 * HOUR;
    let th = Thresholds::default().with_overrides(&serde_json::json!({"no_data_level": "urgent"})).unwrap();
    for (now, fx) in gateway_down(th) {
        let r = raises(&fx);
        let expected = match now - off {
            d if d < 10 * MIN => vec![],
            // Info until the band would have been silent for its 2 h, then urgent: still one alert.
            d if d < 2 * HOUR => vec![(Subject::Household(7), "gateway_offline:gw-1".to_owned(), Level::Info)],
            _ => vec![(Subject::Household(7), "gateway_offline:gw-1".to_owned(), Level::Urgent)],
        };
        assert_eq!(r, expected, "at {}", now - off);
    }
}

#[test]
fn a_gateway_back_online_clears_its_alert() {
    let fx = evaluate_silence(
        &|_| Thresholds::default(),
        &[gateway(true, T0)],
        &[device("band-1", "heart_rate_band", Some(T0))],
        T0 + MIN,
    );
    assert!(raises(&fx).is_empty());
    assert!(clears(&fx).contains(&(Subject::Household(7), "gateway_offline:gw-1".to_owned())));
}

#[test]
fn low_battery_is_info_with_a_hysteresis_for_clearing() {
    let at = |pct: f64| {
        let mut d = device("band-1", "heart_rate_band", Some(T0));
        d.battery_pct = Some(pct);
        evaluate_silence(&|_| Thresholds::default(), &[gateway(true, T0)], &[d], T0 + MIN)
    };
    assert_eq!(raises(&at(14.0)), vec![(Subject::Resident(1), "low_battery:band-1".to_owned(), Level::Info)]);
    // Between 15 % and 20 %: neither raised nor cleared.
    for pct in [15.0, 19.9] {
        let fx = at(pct);
        assert!(raises(&fx).is_empty());
        assert!(!clears(&fx).iter().any(|(_, k)| k.starts_with("low_battery")));
    }
    assert!(clears(&at(20.0)).contains(&(Subject::Resident(1), "low_battery:band-1".to_owned())));
}

#[test]
fn a_device_that_never_reported_is_silent_from_its_registration() {
    let fx = evaluate_silence(
        &|_| Thresholds::default(),
        &[gateway(true, T0)],
        &[device("thermo-1", "thermometer", None), device("odd-1", "something_new", None)],
        T0 + 24 * HOUR,
    );
    // The thermometer (24 h) and an unknown kind (the 24 h default) are both silent.
    let r: Vec<String> = raises(&fx).into_iter().map(|r| r.1).collect();
    assert_eq!(r, vec!["no_data:thermo-1".to_owned(), "no_data:odd-1".to_owned()]);
    // A kind switched off (0 h) never is.
    let th = Thresholds::default().with_overrides(&serde_json::json!({"no_data_hours": {"thermometer": 0}})).unwrap();
    let fx = evaluate_silence(&move |_| th.clone(), &[], &[device("thermo-1", "thermometer", None)], T0 + 100 * HOUR);
    assert!(raises(&fx).is_empty());
}
