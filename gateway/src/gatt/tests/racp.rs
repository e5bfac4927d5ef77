//! Record Access Control Point 0x2A52. Source: Glucose Service 1.0 / Glucose Profile 1.0,
//! section "Record Access Control Point" and its procedure examples, and the GATT Specification
//! Supplement's RACP field tables: op codes 1 report stored records, 2 delete, 3 abort, 4 report
//! number of stored records, 5 number of stored records response, 6 response code; operators
//! 0 null, 1 all, 2 ≤, 3 ≥, 4 within range, 5 first, 6 last; filter type 1 = sequence number
//! (uint16, little-endian); response code values 1 success ... 6 no records found ... 9 operand
//! not supported; responses carry the null operator. Written from those tables; Stanford
//! Spezi's `RecordAccessControlPointTests` exercise the same request and response shapes (as
//! round trips, without byte vectors).

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::gatt::racp::*;

fn req(s: &str) -> Result<Request, RacpError> {
    Request::decode(&hex(s))
}

fn resp(s: &str) -> Result<Response, RacpError> {
    Response::decode(&hex(s))
}

#[test]
fn requests_encode_as_the_profile_shows_them() {
    let all = Request::ReportStoredRecords { records: Records::All };
    assert_eq!(all.encode(), hex("01 01"));
    let from_5 = Request::ReportStoredRecords { records: Records::AtLeast { sequence_number: 5 } };
    assert_eq!(from_5.encode(), hex("01 03 01 05 00"));
    let up_to_258 = Request::ReportStoredRecords { records: Records::AtMost { sequence_number: 0x0102 } };
    assert_eq!(up_to_258.encode(), hex("01 02 01 02 01"));
    let range = Request::ReportStoredRecords { records: Records::Range { from: 10, to: 20 } };
    assert_eq!(range.encode(), hex("01 04 01 0a 00 14 00"));
    assert_eq!(Request::ReportNumberOfStoredRecords { records: Records::All }.encode(), hex("04 01"));
    assert_eq!(Request::ReportStoredRecords { records: Records::Last }.encode(), hex("01 06"));
    assert_eq!(Request::ReportStoredRecords { records: Records::First }.encode(), hex("01 05"));
    assert_eq!(Request::DeleteStoredRecords { records: Records::All }.encode(), hex("02 01"));
    assert_eq!(Request::Abort.encode(), hex("03 00"));
}

#[test]
fn requests_decode() {
    assert_eq!(req("01 01"), Ok(Request::ReportStoredRecords { records: Records::All }));
    assert_eq!(
        req("01 03 01 05 00"),
        Ok(Request::ReportStoredRecords { records: Records::AtLeast { sequence_number: 5 } })
    );
    assert_eq!(req("04 01"), Ok(Request::ReportNumberOfStoredRecords { records: Records::All }));
    assert_eq!(req("03 00"), Ok(Request::Abort));
    // Extra bytes after the operand are ignored.
    assert_eq!(req("01 01 ff"), Ok(Request::ReportStoredRecords { records: Records::All }));
}

#[test]
fn bad_requests_map_to_the_response_a_device_gives() {
    // Op code 0 is reserved; 5 and 6 are responses, not requests.
    for (bytes, code) in [
        ("00 01", ResponseCode::OpCodeNotSupported),
        ("06 00 01 01", ResponseCode::OpCodeNotSupported),
        ("01 00", ResponseCode::InvalidOperator),
        ("01 07", ResponseCode::InvalidOperator),
        ("03 01", ResponseCode::InvalidOperator),
        // Filter type 2, user facing time: not supported here.
        ("01 03 02 e8 07 02 1d 09 0f 00", ResponseCode::OperandNotSupported),
        ("01 03 01 05", ResponseCode::InvalidOperand),
        ("01 04 01 14 00 0a 00", ResponseCode::InvalidOperand),
        ("01", ResponseCode::InvalidOperand),
    ] {
        let e = req(bytes).unwrap_err();
        assert_eq!(e.response_code(), code, "{bytes}: {e}");
        assert!(e.to_string().starts_with("record access control point"), "{e}");
    }
}

#[test]
fn responses_decode() {
    // Success, no records found and "op code not supported" answering "report stored records".
    assert_eq!(resp("06 00 01 01"), Ok(Response::ResponseCode { request_op_code: 1, code: ResponseCode::Success }));
    assert_eq!(
        resp("06 00 01 06"),
        Ok(Response::ResponseCode { request_op_code: 1, code: ResponseCode::NoRecordsFound })
    );
    assert_eq!(
        resp("06 00 04 02"),
        Ok(Response::ResponseCode { request_op_code: 4, code: ResponseCode::OpCodeNotSupported })
    );
    // 0x0103 = 259 stored records.
    assert_eq!(resp("05 00 03 01"), Ok(Response::NumberOfStoredRecords { count: 259 }));
    // A reserved code is kept, not refused.
    assert_eq!(
        resp("06 00 01 f0"),
        Ok(Response::ResponseCode { request_op_code: 1, code: ResponseCode::Reserved(0xF0) })
    );
    assert_eq!(ResponseCode::Reserved(0xF0).to_string(), "reserved response code 0xf0");
    assert_eq!(ResponseCode::NoRecordsFound.to_string(), "no records found");
}

#[test]
fn bad_responses_name_the_field() {
    assert_eq!(resp(""), Err(RacpError::TooShort { field: "op code", needed: 1, got: 0 }));
    assert_eq!(resp("06 00 01"), Err(RacpError::TooShort { field: "response code value", needed: 4, got: 3 }));
    assert_eq!(resp("05 00 03"), Err(RacpError::TooShort { field: "number of records", needed: 4, got: 3 }));
    assert_eq!(resp("01 01"), Err(RacpError::UnknownOpCode(1)));
}

#[test]
fn responses_encode() {
    let ok = Response::ResponseCode { request_op_code: 1, code: ResponseCode::Success };
    assert_eq!(ok.encode(), hex("06 00 01 01"));
    assert_eq!(Response::NumberOfStoredRecords { count: 259 }.encode(), hex("05 00 03 01"));
}

#[test]
fn filters_select_by_sequence_number() {
    assert!(Records::AtLeast { sequence_number: 5 }.selects(5));
    assert!(!Records::AtLeast { sequence_number: 5 }.selects(4));
    assert!(Records::AtMost { sequence_number: 5 }.selects(5));
    assert!(!Records::AtMost { sequence_number: 5 }.selects(6));
    assert!(Records::Range { from: 3, to: 4 }.selects(4));
    assert!(!Records::Range { from: 3, to: 4 }.selects(5));
    assert!(Records::All.selects(0));
}

#[test]
fn glucose_sequence_number_of_a_record() {
    assert_eq!(glucose_sequence_number(&hex("06 2a 00 e8 07 02 1d 09 0f 00 38 c0 12")), Some(42));
    assert_eq!(glucose_sequence_number(&hex("06 2a")), None);
}

fn records() -> impl Strategy<Value = Records> {
    prop_oneof![
        Just(Records::All),
        Just(Records::First),
        Just(Records::Last),
        any::<u16>().prop_map(|n| Records::AtLeast { sequence_number: n }),
        any::<u16>().prop_map(|n| Records::AtMost { sequence_number: n }),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Records::Range { from: a.min(b), to: a.max(b) }),
    ]
}

proptest! {
    #[test]
    fn any_request_bytes_give_a_value_or_an_error(bytes in vec(any::<u8>(), 0..16)) {
        match Request::decode(&bytes) {
            Ok(r) => prop_assert_eq!(r.encode(), bytes[..r.encode().len()].to_vec()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn any_response_bytes_give_a_value_or_an_error(bytes in vec(any::<u8>(), 0..16)) {
        match Response::decode(&bytes) {
            Ok(r) => prop_assert!(serde_json::to_string(&r).is_ok()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn requests_round_trip(records in records(), op in 0usize..3) {
        let r = match op {
            0 => Request::ReportStoredRecords { records },
            1 => Request::DeleteStoredRecords { records },
            _ => Request::ReportNumberOfStoredRecords { records },
        };
        prop_assert_eq!(Request::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn responses_round_trip(count in any::<u16>(), op in any::<u8>(), code in any::<u8>()) {
        let n = Response::NumberOfStoredRecords { count };
        prop_assert_eq!(Response::decode(&n.encode()), Ok(n));
        let c = Response::ResponseCode { request_op_code: op, code: ResponseCode::from_u8(code) };
        prop_assert_eq!(Response::decode(&c.encode()), Ok(c));
    }
}
