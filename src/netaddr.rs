//! Who is asking: the client's address and the public origin of a request, believing the
//! `X-Forwarded-*` headers only from trusted proxies (`server.trusted_proxies`).
//!
//! Any client can send `X-Forwarded-For: 1.2.3.4` or `X-Forwarded-Proto: javascript`; only a
//! proxy bidgate was told to trust has earned belief. Bottom layer: pure functions of the
//! peer address and header values; it imports nothing from the crate.

use std::net::IpAddr;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address (`127.0.0.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0-{max}"))?,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may show up as an IPv4-mapped IPv6 address on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// The proxies whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies(Vec<Cidr>);

impl Proxies {
    /// From `server.trusted_proxies` (checked at config load: an entry that does not parse is
    /// left out here).
    pub fn new(list: &[String]) -> Proxies {
        Proxies(list.iter().filter_map(|s| Cidr::parse(s).ok()).collect())
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address. From an untrusted peer, the peer itself. From a trusted proxy,
    /// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy: each proxy
    /// appends the address it saw, so entries to the left of the first untrusted one are
    /// whatever the client chose to send. `forwarded_for` is every `X-Forwarded-For` header
    /// value, in order.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // Garbage where an address should be: nothing further left is believable.
                Err(_) => break,
            }
        }
        client
    }

    /// `scheme://host` a client used to reach bidgate, for URLs handed back to it. The
    /// `X-Forwarded-Proto`/`X-Forwarded-Host` of a trusted proxy count, else the `Host`
    /// header over plain HTTP. Only `http` and `https`, and only a plain host name or
    /// address with an optional port: anything else falls back to `fallback_host`.
    pub fn origin(
        &self,
        peer: Option<IpAddr>,
        header: impl Fn(&str) -> Option<String>,
        fallback_host: &str,
    ) -> String {
        let trusted = peer.is_some_and(|p| self.trusts(p));
        // A proxy chain lists one value per hop; the first is what the client used.
        let forwarded = |name: &str| {
            trusted
                .then(|| header(name))
                .flatten()
                .and_then(|v| v.split(',').next().map(|s| s.trim().to_ascii_lowercase()))
        };
        let scheme = match forwarded("x-forwarded-proto").as_deref() {
            Some("https") => "https",
            _ => "http",
        };
        let host = forwarded("x-forwarded-host")
            .or_else(|| header("host"))
            .filter(|h| is_host(h))
            .unwrap_or_else(|| fallback_host.to_string());
        format!("{scheme}://{host}")
    }
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional port: nothing that
/// could end the authority part of a URL (`/`, `?`, `#`, `@`, spaces, quotes).
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses() {
        let lan = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(lan.contains(ip("10.200.1.1")));
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(lan.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        let odd = Cidr::parse("192.168.4.0/22").unwrap();
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxies = Proxies::new(&["10.0.0.0/8".into()]);
        let xff = |v: &'static str| std::iter::once(v);
        let cases = [
            // An untrusted peer's header is ignored.
            ("203.0.113.9", "1.2.3.4", "203.0.113.9"),
            // Through the proxy: the address it appended, not what the client prepended.
            ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
            // Two trusted hops.
            ("10.0.0.2", "198.51.100.7, 10.0.0.9", "198.51.100.7"),
            ("10.0.0.2", "junk", "10.0.0.2"),
        ];
        for (peer, header, client) in cases {
            assert_eq!(
                proxies.client_ip(ip(peer), xff(header)),
                ip(client),
                "{header}"
            );
        }
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), std::iter::empty()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_origin_believes_proxies_only_and_only_http_or_https() {
        let proxies = Proxies::new(&["127.0.0.1".into()]);
        let headers = |proto: &'static str, host: &'static str| {
            move |name: &str| match name {
                "x-forwarded-proto" => Some(proto.to_string()),
                "x-forwarded-host" => Some("ads.example.com".to_string()),
                "host" => Some(host.to_string()),
                _ => None,
            }
        };
        let proxy = Some(ip("127.0.0.1"));
        let stranger = Some(ip("203.0.113.9"));
        assert_eq!(
            proxies.origin(proxy, headers("https", "x"), "f:1"),
            "https://ads.example.com"
        );
        assert_eq!(
            proxies.origin(proxy, headers("javascript", "x"), "f:1"),
            "http://ads.example.com"
        );
        assert_eq!(
            proxies.origin(stranger, headers("https", "gw.example:8080"), "f:1"),
            "http://gw.example:8080"
        );
        assert_eq!(
            proxies.origin(stranger, headers("https", "evil.example/x?"), "f:1"),
            "http://f:1"
        );
    }
}
