//! Where the broker is: `mqtt://host:port` (TLS, `mqtts://`, arrives with the security issue).

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid MQTT URL {url:?}: {why} (expected mqtt://host:port)")]
pub struct MqttUrlError {
    url: String,
    why: &'static str,
}

impl MqttUrl {
    pub fn parse(url: &str) -> Result<Self, MqttUrlError> {
        let err = |why| MqttUrlError { url: url.to_owned(), why };
        let rest = url.strip_prefix("mqtt://").ok_or_else(|| err("only the mqtt:// scheme is supported"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| err("port is not a number from 1 to 65535"))?),
            None => (rest, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("no host"));
        }
        if port == 0 {
            return Err(err("port 0"));
        }
        Ok(MqttUrl { host: host.to_owned(), port })
    }
}

impl fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "mqtt://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "mqtt://{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for MqttUrl {
    type Err = MqttUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MqttUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(MqttUrl::parse("mqtt://127.0.0.1:1884").unwrap(), MqttUrl { host: "127.0.0.1".into(), port: 1884 });
        assert_eq!(MqttUrl::parse("mqtt://broker").unwrap().port, 1883);
        assert_eq!(MqttUrl::parse("mqtt://[::1]:1885").unwrap().host, "::1");
        assert_eq!(MqttUrl::parse("mqtt://[::1]:1885").unwrap().to_string(), "mqtt://[::1]:1885");
        assert!(MqttUrl::parse("http://x:1").is_err());
        assert!(MqttUrl::parse("mqtt://x:notaport").is_err());
        assert!(MqttUrl::parse("mqtt://:1883").is_err());
    }
}
