//! Which requests the page answers at all, judged by their `Host` header.
//!
//! The page has no password, so it must not be readable by a web site that
//! the person at the box happens to visit. Through DNS rebinding such a
//! site can point its own name at the box's address and read the page as
//! if it were its own; the browser then still sends the site's name as
//! `Host`. A public DNS name is therefore refused: what a person types to
//! reach a box on the LAN is its address, `localhost`, or a local name
//! (`relais`, `relais.local`, `relais.lan`), none of which an outside site
//! can own.

/// Endings of names that only a local network resolves.
const LOCAL_SUFFIXES: [&str; 4] = [".local", ".lan", ".home.arpa", ".internal"];

/// Whether a request with this `Host` header (port included or not) may
/// be answered; a request without one (HTTP/1.0, a probe) comes from no
/// browser and may.
pub fn host_allowed(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return true;
    };
    let name = strip_port(host.trim()).trim_end_matches('.');
    if name.is_empty() {
        return false;
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = name.to_ascii_lowercase();
    !name.contains('.')
        || name.ends_with(".localhost")
        || LOCAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// `host` without its `:port`; an IPv6 literal loses its brackets.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_local_names_are_answered() {
        for host in [
            "127.0.0.1:8080",
            "192.168.1.20:8080",
            "192.168.1.20",
            "[::1]:8080",
            "[fe80::1]",
            "localhost:8080",
            "relais:8080",
            "Relais-Box.local",
            "box.lan:80",
            "relais.home.arpa",
            "relais.site.internal",
            "app.localhost",
        ] {
            assert!(host_allowed(Some(host)), "{host}");
        }
        assert!(host_allowed(None));
    }

    #[test]
    fn public_names_are_refused_so_rebinding_cannot_read_the_page() {
        for host in [
            "attacker.example:8080",
            "rebind.evil.com",
            "127.0.0.1.nip.io",
            "local.attacker.net",
            "",
            ":8080",
        ] {
            assert!(!host_allowed(Some(host)), "{host}");
        }
    }
}
