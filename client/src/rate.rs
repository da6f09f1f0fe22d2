//! `--limit-rate`: parses the rate (K, M, G suffixes), and paces a transfer to it with
//! [`RateLimiter`], the pacer both sides share ([`ftp_proto::pace`]): an upload is read and
//! sent in chunks of an eighth of a second's worth, and a download is asked of the server at
//! that pace (it paces its sending; the client paces its taking too). A rate below the
//! server's minimum transfer rate is refused before any transfer starts (see
//! [`crate::connection::Client::check_limit_rate`]).

/// Paces a stream of bytes to an average rate (the shared pacer).
pub use ftp_proto::pace::Pacer as RateLimiter;

/// Parses a `--limit-rate` value such as `500K` or `10M` (bytes per second).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    match ftp_proto::units::parse_bytes(text)? {
        0 => Err(format!("--limit-rate {text}: the rate must be above 0")),
        rate => Ok(rate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_people_write() {
        assert!(parse_rate("0").is_err());
        assert_eq!(parse_rate("2M"), Ok(2 << 20));
        assert_eq!(parse_rate("1k"), Ok(1024));
    }
}
