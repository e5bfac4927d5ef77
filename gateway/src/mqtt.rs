//! Where the broker is (`mqtt://host:port`, or `mqtts://host:port` for TLS) and how to log in:
//! the rumqttc options of a link, with TLS through rustls (the `ring` provider) verifying the
//! broker's certificate against a CA file or the system's roots.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: TLS, the broker's certificate verified.
    pub tls: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid MQTT URL {url:?}: {why} (expected mqtt://host:port or mqtts://host:port)")]
pub struct MqttUrlError {
    url: String,
    why: &'static str,
}

impl MqttUrl {
    pub fn parse(url: &str) -> Result<Self, MqttUrlError> {
        let err = |why| MqttUrlError { url: url.to_owned(), why };
        let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (rest, true)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (rest, false)
        } else {
            return Err(err("only the mqtt:// and mqtts:// schemes are supported"));
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if tls { 8883 } else { 1883 };
        // An IPv6 address is bracketed: [::1]:1883.
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') && (h.starts_with('[') || !h.contains(':')) => {
                (h, p.parse::<u16>().map_err(|_| err("port is not a number from 1 to 65535"))?)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(err("no host"));
        }
        if port == 0 {
            return Err(err("port 0"));
        }
        Ok(MqttUrl { host: host.to_owned(), port, tls })
    }
}

impl fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for MqttUrl {
    type Err = MqttUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MqttUrl::parse(s)
    }
}

/// A password that does not print (`Debug` and `Display` say `[hidden]`).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Login and trust for the broker link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerAuth {
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// PEM file of the CA(s) that sign the broker's certificate (`mqtts://` only). When absent,
    /// the system's roots are trusted.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("cannot read the broker CA file {path}: {source}")]
    ReadCa { path: String, source: std::io::Error },
    #[error("the broker CA file {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: String },
    #[error("the broker CA file {path} is not valid PEM: {why}")]
    BadPem { path: String, why: String },
    #[error("the broker CA file {path} holds a certificate rustls refuses as a trust anchor: {why}")]
    BadCa { path: String, why: String },
    #[error("no trusted root certificates found on this system; give the broker's CA in mqtt_ca_file")]
    NoSystemRoots,
    #[error("a CA file is set, but the broker URL {0} is not mqtts://")]
    CaWithoutTls(String),
    #[error("TLS setup: {0}")]
    Rustls(String),
}

/// The trust anchors in a PEM file.
pub fn load_ca(path: &Path) -> Result<rustls::RootCertStore, TlsSetupError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TlsSetupError::ReadCa { path: shown.clone(), source })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::BadPem { path: shown.clone(), why: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate { path: shown });
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| TlsSetupError::BadCa { path: shown.clone(), why: e.to_string() })?;
    }
    Ok(roots)
}

/// The rustls client configuration for `mqtts://`: the CA file's roots, or the system's.
pub fn tls_config(auth: &BrokerAuth) -> Result<rustls::ClientConfig, TlsSetupError> {
    let roots = match &auth.ca_file {
        Some(path) => load_ca(path)?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(TlsSetupError::NoSystemRoots);
            }
            roots
        }
    };
    // The provider is named, not taken from process defaults, so another TLS user in the same
    // binary cannot change (or make ambiguous) what the broker link uses.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The rumqttc options for a link to `url` as `client_id`: credentials when given, TLS for
/// `mqtts://`. Fails (with the reason) when the TLS trust cannot be set up.
pub fn options(client_id: impl Into<String>, url: &MqttUrl, auth: &BrokerAuth) -> Result<MqttOptions, TlsSetupError> {
    let mut opts = MqttOptions::new(client_id, url.host.clone(), url.port);
    if let Some(user) = &auth.username {
        opts.set_credentials(user.clone(), auth.password.as_ref().map_or("", |p| p.expose()));
    }
    if url.tls {
        let config = tls_config(auth)?;
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(config))));
    } else if auth.ca_file.is_some() {
        return Err(TlsSetupError::CaWithoutTls(url.to_string()));
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn parses() {
        let plain = MqttUrl { host: "127.0.0.1".into(), port: 1884, tls: false };
        assert_eq!(MqttUrl::parse("mqtt://127.0.0.1:1884").unwrap(), plain);
        assert_eq!(MqttUrl::parse("mqtt://broker").unwrap().port, 1883);
        assert_eq!(MqttUrl::parse("mqtt://[::1]:1885").unwrap().host, "::1");
        assert_eq!(MqttUrl::parse("mqtt://[::1]:1885").unwrap().to_string(), "mqtt://[::1]:1885");
        assert_eq!(MqttUrl::parse("mqtt://[::1]").unwrap().port, 1883);
        let tls = MqttUrl::parse("mqtts://broker.example").unwrap();
        assert_eq!((tls.host.as_str(), tls.port, tls.tls), ("broker.example", 8883, true));
        assert_eq!(MqttUrl::parse("mqtts://b:9883").unwrap().to_string(), "mqtts://b:9883");
        assert!(MqttUrl::parse("http://x:1").is_err());
        assert!(MqttUrl::parse("mqtt://x:notaport").is_err());
        assert!(MqttUrl::parse("mqtt://:1883").is_err());
    }

    #[test]
    fn a_ca_file_is_loaded_for_mqtts() {
        let auth = BrokerAuth {
            username: Some("gw-wang".into()),
            password: Some(Secret::new("s3cret")),
            ca_file: Some(fixture("test-ca.pem")),
        };
        assert_eq!(load_ca(auth.ca_file.as_ref().unwrap()).unwrap().len(), 1);
        let url = MqttUrl::parse("mqtts://broker.example:8883").unwrap();
        let opts = options("gw", &url, &auth).unwrap();
        assert!(matches!(opts.transport(), Transport::Tls(TlsConfiguration::Rustls(_))));
        let login = opts.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("gw-wang", "s3cret"));
        assert!(!format!("{auth:?}").contains("s3cret"), "the password is never printed");
        // Plain mqtt:// stays plain.
        let plain = options("gw", &MqttUrl::parse("mqtt://b").unwrap(), &BrokerAuth::default()).unwrap();
        assert!(matches!(plain.transport(), Transport::Tcp));
    }

    #[test]
    fn bad_ca_files_get_clear_errors() {
        let url = MqttUrl::parse("mqtts://b").unwrap();
        let with = |p: PathBuf| BrokerAuth { ca_file: Some(p), ..BrokerAuth::default() };
        let missing = options("gw", &url, &with(fixture("no-such-ca.pem"))).unwrap_err();
        assert!(missing.to_string().contains("cannot read the broker CA file"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "just some text\n").unwrap();
        let err = options("gw", &url, &with(not_pem)).unwrap_err();
        assert!(err.to_string().contains("holds no PEM certificate"), "{err}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let err = options("gw", &url, &with(garbage)).unwrap_err();
        assert!(err.to_string().contains("broker CA file"), "{err}");
        let plain = MqttUrl::parse("mqtt://b").unwrap();
        let err = options("gw", &plain, &with(fixture("test-ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("not mqtts://"), "{err}");
    }
}
