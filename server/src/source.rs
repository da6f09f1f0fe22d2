//! Which client addresses count as one source for the per-address limits (login throttling,
//! connections still starting): an IPv4 address on its own, an IPv6 address by its /64 (one
//! site or host usually holds a whole /64, so counting single IPv6 addresses would let it
//! spread a flood over 2^64 of them), an IPv4-mapped IPv6 address as the IPv4 address it
//! carries. Pure arithmetic: nothing here touches a socket.

use std::net::{IpAddr, Ipv6Addr};

/// The source `ip` is counted as.
pub fn of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_by_address_ipv6_by_64_and_mapped_as_ipv4() {
        assert_eq!(of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(of(ip("192.0.2.7")), of(ip("192.0.2.8")));
        assert_eq!(of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(of(ip("2001:db8:1:2::1")), of(ip("2001:db8:1:2:ffff:1:2:3")));
        assert_ne!(of(ip("2001:db8:1:2::1")), of(ip("2001:db8:1:3::1")));
        assert_eq!(of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(of(ip("::1")), ip("::"));
    }
}
