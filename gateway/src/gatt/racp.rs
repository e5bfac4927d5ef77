//! Record Access Control Point, 0x2A52 (Glucose Service 1.0 and Pulse Oximeter Service 1.0;
//! GATT Specification Supplement, "Record Access Control Point").
//!
//! A client writes a request; the server answers with the records (as notifications or
//! indications of the measurement characteristic) and then one indication on the control point.
//!
//! | field    | size     | meaning                                                         |
//! |----------|----------|-----------------------------------------------------------------|
//! | op code  | 1        | [`OP_REPORT_STORED_RECORDS`], [`OP_REPORT_NUMBER_OF_RECORDS`]... |
//! | operator | 1        | 0 null, 1 all, 2 ≤, 3 ≥, 4 within range, 5 first, 6 last        |
//! | operand  | variable | for ≤, ≥ and range: a filter type (1 = sequence number, uint16) then one or two values |
//!
//! Answers: "number of stored records response" (op code 5, operator null, uint16 count) and
//! "response code" (op code 6, operator null, the request's op code, a [`ResponseCode`]).
//!
//! Only the sequence-number filter is supported in requests we build or understand (the
//! glucose profile's mandatory one); "user facing time" (filter type 2) is refused with
//! [`RacpError::UnsupportedFilter`]. The pulse oximeter profile uses only "all records".

use serde::Serialize;

use super::characteristic::sig_uuid;

/// The Record Access Control Point's UUID.
pub const RACP_UUID: u128 = sig_uuid(0x2A52);

pub const OP_REPORT_STORED_RECORDS: u8 = 0x01;
pub const OP_DELETE_STORED_RECORDS: u8 = 0x02;
pub const OP_ABORT: u8 = 0x03;
pub const OP_REPORT_NUMBER_OF_RECORDS: u8 = 0x04;
pub const OP_NUMBER_OF_RECORDS_RESPONSE: u8 = 0x05;
pub const OP_RESPONSE_CODE: u8 = 0x06;

const OPERATOR_NULL: u8 = 0x00;
const OPERATOR_ALL: u8 = 0x01;
const OPERATOR_AT_MOST: u8 = 0x02;
const OPERATOR_AT_LEAST: u8 = 0x03;
const OPERATOR_RANGE: u8 = 0x04;
const OPERATOR_FIRST: u8 = 0x05;
const OPERATOR_LAST: u8 = 0x06;

/// Filter type of an operand: the record's sequence number (uint16).
const FILTER_SEQUENCE_NUMBER: u8 = 0x01;

/// Which records a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "operator")]
pub enum Records {
    All,
    /// Sequence number ≤ this.
    AtMost {
        sequence_number: u16,
    },
    /// Sequence number ≥ this.
    AtLeast {
        sequence_number: u16,
    },
    /// Sequence number within `from..=to`.
    Range {
        from: u16,
        to: u16,
    },
    First,
    Last,
}

impl Records {
    /// Whether a record with this sequence number is selected (`First` and `Last` select by
    /// position; the caller handles them).
    pub fn selects(self, sequence_number: u16) -> bool {
        match self {
            Records::All | Records::First | Records::Last => true,
            Records::AtMost { sequence_number: n } => sequence_number <= n,
            Records::AtLeast { sequence_number: n } => sequence_number >= n,
            Records::Range { from, to } => (from..=to).contains(&sequence_number),
        }
    }
}

/// What a client asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Request {
    ReportStoredRecords { records: Records },
    DeleteStoredRecords { records: Records },
    ReportNumberOfStoredRecords { records: Records },
    Abort,
}

/// The result of a request, as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseCode {
    Success,
    OpCodeNotSupported,
    InvalidOperator,
    OperatorNotSupported,
    InvalidOperand,
    NoRecordsFound,
    AbortUnsuccessful,
    ProcedureNotCompleted,
    OperandNotSupported,
    /// A value the specification reserves.
    Reserved(u8),
}

impl ResponseCode {
    pub fn from_u8(v: u8) -> Self {
        use ResponseCode::*;
        match v {
            0x01 => Success,
            0x02 => OpCodeNotSupported,
            0x03 => InvalidOperator,
            0x04 => OperatorNotSupported,
            0x05 => InvalidOperand,
            0x06 => NoRecordsFound,
            0x07 => AbortUnsuccessful,
            0x08 => ProcedureNotCompleted,
            0x09 => OperandNotSupported,
            other => Reserved(other),
        }
    }

    pub fn as_u8(self) -> u8 {
        use ResponseCode::*;
        match self {
            Success => 0x01,
            OpCodeNotSupported => 0x02,
            InvalidOperator => 0x03,
            OperatorNotSupported => 0x04,
            InvalidOperand => 0x05,
            NoRecordsFound => 0x06,
            AbortUnsuccessful => 0x07,
            ProcedureNotCompleted => 0x08,
            OperandNotSupported => 0x09,
            Reserved(v) => v,
        }
    }
}

impl std::fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ResponseCode::*;
        let text = match self {
            Success => "success",
            OpCodeNotSupported => "op code not supported",
            InvalidOperator => "invalid operator",
            OperatorNotSupported => "operator not supported",
            InvalidOperand => "invalid operand",
            NoRecordsFound => "no records found",
            AbortUnsuccessful => "abort unsuccessful",
            ProcedureNotCompleted => "procedure not completed",
            OperandNotSupported => "operand not supported",
            Reserved(v) => return write!(f, "reserved response code {v:#04x}"),
        };
        f.write_str(text)
    }
}

/// What the device indicates on the control point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Response {
    NumberOfStoredRecords { count: u16 },
    ResponseCode { request_op_code: u8, code: ResponseCode },
}

/// Why control point bytes could not be understood. Each maps to the response code a device
/// answers such a request with ([`RacpError::response_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RacpError {
    #[error("record access control point: too short: the {field} field needs {needed} bytes, got {got}")]
    TooShort { field: &'static str, needed: usize, got: usize },
    #[error("record access control point: op code {0:#04x} is not one we understand")]
    UnknownOpCode(u8),
    #[error("record access control point: operator {operator:#04x} is not valid for op code {op_code:#04x}")]
    InvalidOperator { op_code: u8, operator: u8 },
    #[error("record access control point: filter type {0:#04x} is not supported (only 0x01, sequence number)")]
    UnsupportedFilter(u8),
    #[error("record access control point: invalid operand ({0})")]
    InvalidOperand(&'static str),
}

impl RacpError {
    /// The response code a device answers a request that fails this way with.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            RacpError::UnknownOpCode(_) => ResponseCode::OpCodeNotSupported,
            RacpError::InvalidOperator { .. } => ResponseCode::InvalidOperator,
            RacpError::UnsupportedFilter(_) => ResponseCode::OperandNotSupported,
            RacpError::TooShort { .. } | RacpError::InvalidOperand(_) => ResponseCode::InvalidOperand,
        }
    }
}

fn need(bytes: &[u8], field: &'static str, end: usize) -> Result<(), RacpError> {
    if bytes.len() < end { Err(RacpError::TooShort { field, needed: end, got: bytes.len() }) } else { Ok(()) }
}

fn u16_at(bytes: &[u8], at: usize, field: &'static str) -> Result<u16, RacpError> {
    need(bytes, field, at + 2)?;
    Ok(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

impl Request {
    /// The bytes to write.
    pub fn encode(self) -> Vec<u8> {
        let (op, records) = match self {
            Request::ReportStoredRecords { records } => (OP_REPORT_STORED_RECORDS, records),
            Request::DeleteStoredRecords { records } => (OP_DELETE_STORED_RECORDS, records),
            Request::ReportNumberOfStoredRecords { records } => (OP_REPORT_NUMBER_OF_RECORDS, records),
            Request::Abort => return vec![OP_ABORT, OPERATOR_NULL],
        };
        let mut out = vec![op];
        match records {
            Records::All => out.push(OPERATOR_ALL),
            Records::First => out.push(OPERATOR_FIRST),
            Records::Last => out.push(OPERATOR_LAST),
            Records::AtMost { sequence_number } => {
                out.extend([OPERATOR_AT_MOST, FILTER_SEQUENCE_NUMBER]);
                out.extend(sequence_number.to_le_bytes());
            }
            Records::AtLeast { sequence_number } => {
                out.extend([OPERATOR_AT_LEAST, FILTER_SEQUENCE_NUMBER]);
                out.extend(sequence_number.to_le_bytes());
            }
            Records::Range { from, to } => {
                out.extend([OPERATOR_RANGE, FILTER_SEQUENCE_NUMBER]);
                out.extend(from.to_le_bytes());
                out.extend(to.to_le_bytes());
            }
        }
        out
    }

    /// Parses a written request (what a device does; the simulated BlueZ uses it). Bytes after
    /// the operand are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Request, RacpError> {
        need(bytes, "op code", 1)?;
        let op_code = bytes[0];
        need(bytes, "operator", 2)?;
        let operator = bytes[1];
        if op_code == OP_ABORT {
            return if operator == OPERATOR_NULL {
                Ok(Request::Abort)
            } else {
                Err(RacpError::InvalidOperator { op_code, operator })
            };
        }
        if !matches!(op_code, OP_REPORT_STORED_RECORDS | OP_DELETE_STORED_RECORDS | OP_REPORT_NUMBER_OF_RECORDS) {
            return Err(RacpError::UnknownOpCode(op_code));
        }
        let filtered = |bytes: &[u8]| -> Result<(), RacpError> {
            need(bytes, "filter type", 3)?;
            if bytes[2] != FILTER_SEQUENCE_NUMBER {
                return Err(RacpError::UnsupportedFilter(bytes[2]));
            }
            Ok(())
        };
        let records = match operator {
            OPERATOR_ALL => Records::All,
            OPERATOR_FIRST => Records::First,
            OPERATOR_LAST => Records::Last,
            OPERATOR_AT_MOST => {
                filtered(bytes)?;
                Records::AtMost { sequence_number: u16_at(bytes, 3, "sequence number")? }
            }
            OPERATOR_AT_LEAST => {
                filtered(bytes)?;
                Records::AtLeast { sequence_number: u16_at(bytes, 3, "sequence number")? }
            }
            OPERATOR_RANGE => {
                filtered(bytes)?;
                let from = u16_at(bytes, 3, "range start")?;
                let to = u16_at(bytes, 5, "range end")?;
                if from > to {
                    return Err(RacpError::InvalidOperand("range start after range end"));
                }
                Records::Range { from, to }
            }
            _ => return Err(RacpError::InvalidOperator { op_code, operator }),
        };
        Ok(match op_code {
            OP_REPORT_STORED_RECORDS => Request::ReportStoredRecords { records },
            OP_DELETE_STORED_RECORDS => Request::DeleteStoredRecords { records },
            _ => Request::ReportNumberOfStoredRecords { records },
        })
    }

    /// The op code a response to this request names.
    pub fn op_code(self) -> u8 {
        match self {
            Request::ReportStoredRecords { .. } => OP_REPORT_STORED_RECORDS,
            Request::DeleteStoredRecords { .. } => OP_DELETE_STORED_RECORDS,
            Request::ReportNumberOfStoredRecords { .. } => OP_REPORT_NUMBER_OF_RECORDS,
            Request::Abort => OP_ABORT,
        }
    }
}

impl Response {
    /// The bytes a device indicates.
    pub fn encode(self) -> Vec<u8> {
        match self {
            Response::NumberOfStoredRecords { count } => {
                let [lo, hi] = count.to_le_bytes();
                vec![OP_NUMBER_OF_RECORDS_RESPONSE, OPERATOR_NULL, lo, hi]
            }
            Response::ResponseCode { request_op_code, code } => {
                vec![OP_RESPONSE_CODE, OPERATOR_NULL, request_op_code, code.as_u8()]
            }
        }
    }

    /// Parses an indication of the control point. The operator (null in both responses) is not
    /// checked, and bytes after the operand are ignored, as receivers should.
    pub fn decode(bytes: &[u8]) -> Result<Response, RacpError> {
        need(bytes, "op code", 1)?;
        need(bytes, "operator", 2)?;
        match bytes[0] {
            OP_NUMBER_OF_RECORDS_RESPONSE => {
                Ok(Response::NumberOfStoredRecords { count: u16_at(bytes, 2, "number of records")? })
            }
            OP_RESPONSE_CODE => {
                need(bytes, "response code value", 4)?;
                Ok(Response::ResponseCode { request_op_code: bytes[2], code: ResponseCode::from_u8(bytes[3]) })
            }
            other => Err(RacpError::UnknownOpCode(other)),
        }
    }
}
