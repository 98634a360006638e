//! The HTTP client deliveries use, and the optional guard against private
//! destinations.
//!
//! The guard runs where the address is chosen: a custom DNS resolver drops
//! loopback, private, link-local, CGNAT and unspecified addresses from every
//! lookup, so a name that resolves to `127.0.0.1` today (DNS rebinding) is
//! refused on the attempt that would connect to it, not only when the hook was
//! saved. IP literals never reach a resolver, so they are checked before the
//! request. With the guard on, proxies are not used: the check must apply to
//! the address actually connected to, and a proxy would connect on our behalf.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::error::{CoreError, Result};

/// Whether `ip` is a destination the "block private destinations" setting
/// refuses: loopback, RFC 1918 private, link-local, CGNAT (100.64/10),
/// unspecified, broadcast and multicast IPv4; loopback, unspecified, unique
/// local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10) and
/// multicast IPv6; and IPv4-mapped/compatible IPv6 forms of the IPv4 ones.
pub fn is_blocked_destination(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00
                || (seg0 & 0xffc0) == 0xfe80
                || (seg0 & 0xffc0) == 0xfec0
                // IPv4-compatible (::a.b.c.d, deprecated) still reaches IPv4.
                || (v6.segments()[..6].iter().all(|s| *s == 0) && blocked_v4(v4_tail(v6)))
        }
    }
}

fn v4_tail(v6: Ipv6Addr) -> Ipv4Addr {
    let o = v6.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn blocked_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

/// The error a refused destination gives, found again in reqwest's error
/// chain so the delivery log says why.
#[derive(Debug)]
pub(crate) struct BlockedDestination {
    pub host: String,
    pub addr: IpAddr,
}

impl std::fmt::Display for BlockedDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {}, a private or loopback address, and private destinations are blocked \
             (webhook setting block_private_destinations)",
            self.host, self.addr
        )
    }
}

impl std::error::Error for BlockedDestination {}

/// Resolves with the system resolver and keeps only public addresses.
#[derive(Debug, Default)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !is_blocked_destination(a.ip()))
                .collect();
            match (allowed.is_empty(), found.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(first)) => Err(Box::new(BlockedDestination {
                    host,
                    addr: first.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} has no addresses").into()),
            }
        })
    }
}

/// Refuses a URL whose host is a blocked IP literal (those bypass DNS).
pub(crate) fn check_literal(url: &Url) -> std::result::Result<(), BlockedDestination> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_blocked_destination(ip) {
        return Err(BlockedDestination {
            host: ip.to_string(),
            addr: ip,
        });
    }
    Ok(())
}

/// The two clients a worker keeps: with and without the private-address guard.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    open: reqwest::Client,
    guarded: reqwest::Client,
}

impl Clients {
    pub fn new() -> Result<Clients> {
        Ok(Clients {
            open: builder()
                .build()
                .map_err(|e| CoreError::Internal(format!("webhook HTTP client: {e}")))?,
            guarded: builder()
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver))
                .build()
                .map_err(|e| CoreError::Internal(format!("webhook HTTP client: {e}")))?,
        })
    }

    pub fn get(&self, block_private: bool) -> &reqwest::Client {
        if block_private {
            &self.guarded
        } else {
            &self.open
        }
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A 3xx is an answer, not a delivery: following it could send the
        // event (and its headers) somewhere the user never configured.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "HyperSDK-Desktop/",
            env!("CARGO_PKG_VERSION"),
            " (webhooks)"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_blocked_public_ones_are_not() {
        let blocked = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
        ];
        for ip in blocked {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(is_blocked_destination(parsed), "{ip} should be blocked");
        }
        let allowed = [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:8.8.8.8",
        ];
        for ip in allowed {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(!is_blocked_destination(parsed), "{ip} should be allowed");
        }
    }

    #[test]
    fn literal_hosts_are_checked_before_connecting() {
        let url = Url::parse("http://127.0.0.1:9/x").expect("url");
        assert!(check_literal(&url).is_err());
        let url = Url::parse("http://[::1]:9/x").expect("url");
        assert!(check_literal(&url).is_err());
        let url = Url::parse("https://hooks.example.com/x").expect("url");
        assert!(check_literal(&url).is_ok(), "names go to the resolver");
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_loopback() {
        let name: Name = "localhost".parse().expect("name");
        let err = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(
            err.to_string().contains("private destinations are blocked"),
            "{err}"
        );
    }
}
