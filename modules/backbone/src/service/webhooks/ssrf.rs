//! The SSRF check: in production, loopback, private and link-local addresses are refused
//! at registration (`check_url`) and again when connecting (`PublicOnly`, and
//! `host_refused` for IP literals), so DNS cannot be turned against us.

use ils_kernel::{AppError, AppResult};
use std::net::{IpAddr, SocketAddr};

/// Whether an address is on the public internet (not loopback, private, link-local,
/// carrier-grade NAT, documentation, reserved, multicast or unspecified). IPv6 forms that
/// carry an IPv4 address (mapped, compatible, 6to4) are judged by that address; NAT64
/// prefixes and site-local addresses are refused outright.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                // 240.0.0.0/4, reserved (the broadcast address included).
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // IPv4-compatible ::a.b.c.d (deprecated ::/96; :: and ::1 land here too).
            if seg[..6] == [0; 6] {
                return is_public(embedded(seg[6], seg[7]));
            }
            // 6to4, 2002:AABB:CCDD::/48 routes to the IPv4 address AA.BB.CC.DD.
            if seg[0] == 0x2002 {
                return is_public(embedded(seg[1], seg[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // NAT64: 64:ff9b::/96 and 64:ff9b:1::/48 reach IPv4 through a translator.
                || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || seg[..3] == [0x64, 0xff9b, 1]
                // Documentation, 2001:db8::/32.
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0)
        }
    }
}

/// Whether a URL's host is refused without asking DNS: an IP literal that is not public,
/// or a name that only means this machine or its local network. Used at registration and
/// again at delivery (IP literals never reach the resolver that filters names).
pub(crate) fn host_refused(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => !is_public(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => !is_public(IpAddr::V6(*ip)),
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
    }
}

/// A DNS resolver that drops non-public addresses, so a public name that resolves to a
/// private address (DNS rebinding) cannot be reached.
pub(crate) struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let iter: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(iter)
        })
    }
}

/// Checks a receiver URL: http(s) with a host, and (unless allowed) not a loopback,
/// private or link-local address.
pub async fn check_url(url: &str, allow_private: bool) -> AppResult<String> {
    let bad = |m: &str| AppError::bad_input("input.url", m);
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("not a valid URL"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(bad("only http and https URLs are allowed"));
    }
    if url.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let Some(host) = parsed.host() else {
        return Err(bad("the URL has no host"));
    };
    if !allow_private {
        let refused = || bad("loopback, private and link-local addresses are not allowed");
        if host_refused(&host) {
            return Err(refused());
        }
        if let url::Host::Domain(d) = host {
            // Resolvable names must resolve to public addresses now; the delivery client
            // checks again at every connection.
            if let Ok(addrs) = tokio::net::lookup_host((d.to_ascii_lowercase().as_str(), 0)).await
                && addrs.into_iter().any(|a| !is_public(a.ip()))
            {
                return Err(refused());
            }
        }
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // Reserved IPv4: 192.0.0.0/24, 240.0.0.0/4 and the broadcast address.
            "192.0.0.1",
            "192.0.0.170",
            "240.0.0.1",
            "255.255.255.255",
            "198.51.100.7",
            // NAT64 (even of a public address: the translator may be ours).
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::1",
            // IPv4-compatible ::a.b.c.d, judged by the IPv4 address.
            "::7f00:1",
            "::a00:1",
            "::a9fe:a9fe",
            "::",
            // 6to4 of private addresses.
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::1",
            // Site-local and documentation.
            "fec0::1",
            "feff::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "::808:808",
            "2002:808:808::1",
            "192.0.1.1",
            "223.255.255.254",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn hosts_are_refused_without_dns() {
        let host = |u: &str| {
            let url = reqwest::Url::parse(u).unwrap();
            host_refused(&url.host().unwrap())
        };
        for u in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[fec0::1]/",
            "http://240.1.2.3/",
            "http://0x7f000001/",
            "http://LocalHost./",
            "http://printer.local/",
        ] {
            assert!(host(u), "{u}");
        }
        for u in [
            "http://8.8.8.8/",
            "http://[2606:4700::1111]/",
            "http://example.com/",
        ] {
            assert!(!host(u), "{u}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        assert!(check_url("ftp://example.com/x", true).await.is_err());
        assert!(check_url("not a url", true).await.is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).await.is_ok());
        for u in [
            "http://127.0.0.1:9/x",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://localhost/",
            "http://169.254.169.254/",
        ] {
            let e = check_url(u, false).await.unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT", "{u}");
        }
    }
}
