//! The MQTT topic tree. Everything lives under `eldercare/v1/gw/<gateway_id>/...`.
//!
//! | topic | direction | QoS | retained | payload |
//! |---|---|---|---|---|
//! | `eldercare/v1/gw/<id>/readings` | gateway → server | 1 | no | [`crate::ReadingsBatch`] |
//! | `eldercare/v1/gw/<id>/ack` | server → gateway | 1 | no | [`crate::Ack`] |
//! | `eldercare/v1/gw/<id>/status` | gateway → anyone | 1 | yes (also the last will) | [`crate::GatewayStatus`] |
//! | `eldercare/v1/gw/<id>/binding` | server → gateway | 1 | yes | [`crate::GatewayBinding`] |

use thiserror::Error;

pub const ROOT: &str = "eldercare/v1";
/// Maximum length of a gateway id.
pub const MAX_GATEWAY_ID_LEN: usize = 64;

/// The kind of message a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Readings,
    Ack,
    Status,
    /// The household's devices, pushed by the server (retained).
    Binding,
}

impl Channel {
    pub const fn leaf(self) -> &'static str {
        match self {
            Channel::Readings => "readings",
            Channel::Ack => "ack",
            Channel::Status => "status",
            Channel::Binding => "binding",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopicError {
    #[error("topic {0:?} is not under eldercare/v1/gw/<gateway_id>/<channel>")]
    NotOurs(String),
    #[error("gateway id {0:?} is invalid: 1 to 64 characters from A-Z a-z 0-9 - _")]
    BadGatewayId(String),
    #[error("unknown channel {0:?}")]
    UnknownChannel(String),
}

/// Checks a gateway id: 1 to 64 characters of `[A-Za-z0-9_-]`, so it is safe in a topic level.
pub fn validate_gateway_id(id: &str) -> Result<(), TopicError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_GATEWAY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(TopicError::BadGatewayId(id.to_owned())) }
}

/// The topic of `channel` for `gateway_id`.
pub fn topic(gateway_id: &str, channel: Channel) -> String {
    format!("{ROOT}/gw/{gateway_id}/{}", channel.leaf())
}

/// The subscription filter matching `channel` for every gateway.
pub fn filter_all(channel: Channel) -> String {
    format!("{ROOT}/gw/+/{}", channel.leaf())
}

/// The same filter as an MQTT 5 shared subscription, so several server instances split the load.
pub fn shared_filter_all(group: &str, channel: Channel) -> String {
    format!("$share/{group}/{}", filter_all(channel))
}

/// Splits a topic into its gateway id and channel.
pub fn parse(topic: &str) -> Result<(&str, Channel), TopicError> {
    let rest = topic
        .strip_prefix(ROOT)
        .and_then(|r| r.strip_prefix("/gw/"))
        .ok_or_else(|| TopicError::NotOurs(topic.to_owned()))?;
    let (gateway_id, leaf) = rest.split_once('/').ok_or_else(|| TopicError::NotOurs(topic.to_owned()))?;
    validate_gateway_id(gateway_id)?;
    let channel = match leaf {
        "readings" => Channel::Readings,
        "ack" => Channel::Ack,
        "status" => Channel::Status,
        "binding" => Channel::Binding,
        other => return Err(TopicError::UnknownChannel(other.to_owned())),
    };
    Ok((gateway_id, channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse() {
        let t = topic("gw-01", Channel::Readings);
        assert_eq!(t, "eldercare/v1/gw/gw-01/readings");
        assert_eq!(parse(&t), Ok(("gw-01", Channel::Readings)));
        assert_eq!(filter_all(Channel::Ack), "eldercare/v1/gw/+/ack");
        assert_eq!(parse("eldercare/v1/gw/gw-01/binding"), Ok(("gw-01", Channel::Binding)));
        assert_eq!(topic("gw-01", Channel::Binding), "eldercare/v1/gw/gw-01/binding");
        assert_eq!(shared_filter_all("ingest", Channel::Readings), "$share/ingest/eldercare/v1/gw/+/readings");
    }

    #[test]
    fn rejects_foreign_and_bad_topics() {
        assert!(matches!(parse("other/v1/gw/a/readings"), Err(TopicError::NotOurs(_))));
        assert!(matches!(parse("eldercare/v1/gw/a"), Err(TopicError::NotOurs(_))));
        assert!(matches!(parse("eldercare/v1/gw/a b/readings"), Err(TopicError::BadGatewayId(_))));
        assert!(matches!(parse("eldercare/v1/gw/a/x/readings"), Err(TopicError::UnknownChannel(_))));
        assert!(matches!(parse("eldercare/v1/gw/a/foo"), Err(TopicError::UnknownChannel(_))));
        assert!(validate_gateway_id(&"x".repeat(65)).is_err());
        assert!(validate_gateway_id("").is_err());
    }
}
