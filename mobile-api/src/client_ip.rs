//! Where a request came from, for the audit log and the per-address login throttle.
//!
//! The peer address comes from axum's `ConnectInfo` (the server must be started with
//! `into_make_service_with_connect_info::<SocketAddr>()`). `X-Forwarded-For` is believed only
//! when the peer is a configured trusted proxy, and then only as far as the chain stays within
//! trusted proxies: the first address from the right that is not one of ours is the client.
//! Anything else in that header could be typed by the client.
//!
//! [`remember`] works the address out once per request and keeps it in a task-local for the
//! request's handler, so every audit entry records it without each handler passing it along.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::ApiState;

const FORWARDED_FOR: &str = "x-forwarded-for";

tokio::task_local! {
    static CLIENT_IP: Option<IpAddr>;
}

/// Middleware: runs the rest of the request with its client address at hand ([`current`]).
pub(crate) async fn remember(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = state.client_ip(&parts);
    CLIENT_IP.scope(ip, next.run(Request::from_parts(parts, body))).await
}

/// The client address of the request being handled, if known.
pub(crate) fn current() -> Option<IpAddr> {
    CLIENT_IP.try_with(|ip| *ip).ok().flatten()
}

/// The client's address, if known.
pub(crate) fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Every header line, in order; each a comma-separated list, the nearest hop last.
    let hops: Vec<&str> = parts
        .headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A malformed entry: nothing beyond it can be trusted.
            break;
        };
        client = ip;
        if !trusted_proxies.contains(&ip) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: &[&str]) -> Parts {
        let mut req = Request::get("/").body(()).unwrap();
        for v in xff {
            req.headers_mut().append(FORWARDED_FOR, v.parse().unwrap());
        }
        req.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        req.into_parts().0
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_peer_unless_it_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(&parts("203.0.113.9", &["1.2.3.4"]), &[proxy]), ip("203.0.113.9"), "not our proxy");
        assert_eq!(client_ip(&parts("10.0.0.1", &["1.2.3.4"]), &[]), ip("10.0.0.1"), "no proxy configured");
        assert_eq!(client_ip(&parts("10.0.0.1", &["1.2.3.4"]), &[proxy]), ip("1.2.3.4"));
        assert_eq!(client_ip(&parts("10.0.0.1", &[]), &[proxy]), ip("10.0.0.1"), "no header");
    }

    #[test]
    fn spoofed_entries_left_of_the_client_are_ignored() {
        let proxies: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        // The client typed "6.6.6.6"; 1.2.3.4 is what our outer proxy saw.
        let p = parts("10.0.0.1", &["6.6.6.6, 1.2.3.4", "10.0.0.2"]);
        assert_eq!(client_ip(&p, &proxies), ip("1.2.3.4"));
        let garbage = parts("10.0.0.1", &["1.2.3.4, not-an-ip"]);
        assert_eq!(client_ip(&garbage, &proxies), ip("10.0.0.1"));
    }

    #[test]
    fn unknown_without_connect_info() {
        let (parts, ()) = Request::get("/").header(FORWARDED_FOR, "1.2.3.4").body(()).unwrap().into_parts();
        assert_eq!(client_ip(&parts, &[]), None);
    }
}
