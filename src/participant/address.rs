//! Host addresses as people type them: `HOST` or `HOST:PORT`.

use std::net::{SocketAddr, ToSocketAddrs};

use super::error::Error;
use crate::protocol::DEFAULT_PORT;

/// Resolves `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address; the port defaults
/// to 5005. IPv4 results are preferred.
pub fn resolve_host(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    let bad = || Error::BadAddress(text.to_owned());
    if text.is_empty() {
        return Err(bad());
    }
    let with_port = if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    } else if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    } else if text
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty())
    {
        text.to_owned()
    } else {
        format!("{}:{DEFAULT_PORT}", text.trim_end_matches(':'))
    };
    let mut candidates: Vec<SocketAddr> = with_port.to_socket_addrs().map_err(|_| bad())?.collect();
    candidates.sort_by_key(|address| !address.is_ipv4());
    candidates.into_iter().next().ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_people_type() {
        let ok = |text: &str| resolve_host(text).ok().map(|a| a.to_string());
        assert_eq!(ok("127.0.0.1"), Some("127.0.0.1:5005".into()));
        assert_eq!(ok("127.0.0.1:6000"), Some("127.0.0.1:6000".into()));
        assert_eq!(ok("::1"), Some("[::1]:5005".into()));
        assert_eq!(ok("[::1]:7"), Some("[::1]:7".into()));
        assert_eq!(ok("localhost:9"), Some("127.0.0.1:9".into()));
        assert!(resolve_host("").is_err());
        assert!(resolve_host("127.0.0.1:notaport").is_err());
    }
}
