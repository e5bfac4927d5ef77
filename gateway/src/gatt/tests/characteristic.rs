//! UUIDs and names. Source: Bluetooth SIG Assigned Numbers (16-bit UUIDs for services and
//! characteristics) and the Core Specification's Base UUID `00000000-0000-1000-8000-00805F9B34FB`.

use super::*;

#[test]
fn sig_uuids_live_in_the_base_uuid() {
    let hr = Characteristic::HeartRateMeasurement;
    assert_eq!(uuid_string(hr.uuid()), "00002a37-0000-1000-8000-00805f9b34fb");
    assert_eq!(uuid_string(hr.service_uuid()), "0000180d-0000-1000-8000-00805f9b34fb");
    let assigned = [
        (Characteristic::BloodPressureMeasurement, 0x2A35, 0x1810),
        (Characteristic::IntermediateCuffPressure, 0x2A36, 0x1810),
        (Characteristic::TemperatureMeasurement, 0x2A1C, 0x1809),
        (Characteristic::PlxSpotCheck, 0x2A5E, 0x1822),
        (Characteristic::PlxContinuous, 0x2A5F, 0x1822),
        (Characteristic::WeightMeasurement, 0x2A9D, 0x181D),
        (Characteristic::GlucoseMeasurement, 0x2A18, 0x1808),
        (Characteristic::BatteryLevel, 0x2A19, 0x180F),
    ];
    for (c, uuid, service) in assigned {
        assert_eq!(c.uuid(), sig_uuid(uuid), "{c}");
        assert_eq!(c.service_uuid(), sig_uuid(service), "{c}");
    }
}

#[test]
fn fall_uuids_are_ours() {
    let c = Characteristic::FallEvent;
    assert_eq!(uuid_string(c.uuid()), "4e0f0002-8c3a-4b8e-9f1d-6c2e5a7b9d10");
    assert_eq!(uuid_string(c.service_uuid()), "4e0f0001-8c3a-4b8e-9f1d-6c2e5a7b9d10");
}

#[test]
fn from_uuid_round_trips_and_refuses_others() {
    for c in Characteristic::ALL {
        assert_eq!(Characteristic::from_uuid(c.uuid()), Some(c));
    }
    assert_eq!(Characteristic::from_uuid(sig_uuid(0x2A38)), None); // Body Sensor Location
    assert_eq!(Characteristic::from_uuid(FALL_SERVICE_UUID), None);
}

#[test]
fn parse_accepts_what_people_type() {
    let hr = Ok(Characteristic::HeartRateMeasurement);
    for text in [
        "2a37",
        "2A37",
        "0x2A37",
        " 0x2a37 ",
        "00002a37-0000-1000-8000-00805f9b34fb",
        "00002A37-0000-1000-8000-00805F9B34FB",
        "heart_rate_measurement",
        "Heart Rate Measurement",
    ] {
        assert_eq!(Characteristic::parse(text), hr, "{text:?}");
    }
    assert_eq!(Characteristic::parse("fall_event"), Ok(Characteristic::FallEvent));
    assert_eq!(Characteristic::parse("4E0F0002-8C3A-4B8E-9F1D-6C2E5A7B9D10"), Ok(Characteristic::FallEvent));
    for c in Characteristic::ALL {
        assert_eq!(c.name().parse::<Characteristic>(), Ok(c));
        assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.name()));
    }
}

#[test]
fn parse_refuses_unknown_and_malformed_text() {
    for text in [
        "",
        "2a38",
        "2a3",
        "+a37",
        "0x",
        "heart_rate",
        "00002a37-0000-1000-8000-00805f9b34f",
        "00002a37000010008000-00805f9b34fb",
        "0000180d-0000-1000-8000-00805f9b34fb", // a service, not a characteristic
    ] {
        assert_eq!(Characteristic::parse(text), Err(DecodeError::UnknownCharacteristic(text.to_string())), "{text:?}");
    }
    let message = Characteristic::parse("pulse").unwrap_err().to_string();
    assert!(message.contains("\"pulse\"") && message.contains("2a37"), "{message}");
}

#[test]
fn decode_uuid_names_an_unknown_uuid() {
    let err = decode_uuid(sig_uuid(0x2A38), &[1]).unwrap_err();
    assert_eq!(err, DecodeError::UnknownCharacteristic("00002a38-0000-1000-8000-00805f9b34fb".into()));
}
