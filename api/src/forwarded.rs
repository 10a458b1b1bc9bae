//! The client's address behind the proxies the operator trusts (`ILS_TRUSTED_PROXIES`): a
//! load balancer's own address is not the client's, and every per-address decision (the
//! anonymous rate budget, the log-in throttle, the sign-up limit, the audit log) would
//! otherwise put every client behind it in one bucket. Only a proxy the operator names
//! may speak for the client: `X-Forwarded-For` from anyone else is ignored, since a
//! client can write any header it likes.
//!
//! The address taken is the nearest one not trusted, reading `X-Forwarded-For` from the
//! right (each proxy appends the address it saw): a client that sends its own
//! `X-Forwarded-For` only adds entries to the left of the one the trusted proxy wrote.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses and networks, `10.0.0.0/8` or `192.0.2.7` or `2001:db8::/32`.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{e:?} is not an IP address or network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy; then the nearest
    /// untrusted address of `X-Forwarded-For` (or the farthest one, when every hop is
    /// trusted). An entry that is not an address ends the walk at the last hop known.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.0.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = address(hop) else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, with a port or brackets as some proxies
/// write them (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn address(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:192.0.2.1`) as the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key a per-address budget is kept under: an IPv4 address, or the /64 network of an
/// IPv6 one (one subscriber line usually holds a whole /64, and would otherwise have
/// 2^64 budgets).
pub fn budget_key(address: &str) -> String {
    match address.parse::<IpAddr>().map(canonical) {
        Ok(IpAddr::V6(v6)) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map_or(v6, |n| n.network());
            format!("{net}/64")
        }
        Ok(v4) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_speaks_for_the_client() {
        let t = trusted(&["10.0.0.0/8", "192.0.2.7"]);
        let h = headers(&["203.0.113.5"]);
        assert_eq!(t.client(ip("10.1.2.3"), &h), ip("203.0.113.5"));
        assert_eq!(t.client(ip("192.0.2.7"), &h), ip("203.0.113.5"));
        // Anyone else's header is ignored.
        assert_eq!(t.client(ip("198.51.100.9"), &h), ip("198.51.100.9"));
        // And nobody is trusted by default.
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &h),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_whatever_the_client_wrote() {
        let t = trusted(&["10.0.0.0/8"]);
        // The client forged "1.2.3.4"; the trusted proxies appended what they saw.
        let h = headers(&["1.2.3.4, 203.0.113.5", "10.0.0.2"]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("203.0.113.5"));
        // Every hop trusted: the farthest.
        let h = headers(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(t.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Junk ends the walk at the last hop known.
        let h = headers(&["203.0.113.5, unknown, 10.0.0.2"]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.2"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_read() {
        let t = trusted(&["::1", "127.0.0.1"]);
        let h = headers(&["[2001:db8::1]:4711"]);
        assert_eq!(t.client(ip("::1"), &h), ip("2001:db8::1"));
        let h = headers(&["203.0.113.5:4711"]);
        assert_eq!(t.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.5"));
        assert!(TrustedProxies::parse(&["not-an-address".into()]).is_err());
    }

    #[test]
    fn an_ipv6_client_is_budgeted_by_its_64() {
        assert_eq!(budget_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            budget_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(budget_key("203.0.113.5"), "203.0.113.5");
        assert_eq!(budget_key("::ffff:203.0.113.5"), "203.0.113.5");
    }
}
