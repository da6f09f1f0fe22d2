//! Byte quantities as people write them: `500`, `64K`, `1.5M`, `10G`, `2T` (binary multiples,
//! as curl's `--limit-rate` reads them). Used by the client's `--limit-rate` and the server's
//! `max_file_size`; [`exact_bytes`] writes one back. Also on/off values as environment variables hold them ([`parse_switch`]).

/// Parses a byte quantity with an optional K, M, G or T suffix (powers of 1024; a trailing `B`
/// or `iB` is allowed, case does not matter).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, multiplier) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let bad = || format!("{trimmed:?} is not a size such as 500, 64K, 1.5M or 10G");
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    let bytes = value * multiplier as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("{trimmed:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// A byte quantity in the largest binary unit that holds it exactly (`512 B`, `1 KiB`,
/// `1536 KiB`, `10 MiB`), so a figure in a message is one that [`parse_bytes`] reads back as
/// the same number.
pub fn exact_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        let size = 1u64 << shift;
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

/// A byte quantity for people, to one decimal in its largest binary unit (`9.5 GiB`, `10 GiB`,
/// `512 B`): what the quota's messages and `ftp df` show.
pub fn approx_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        let size = 1u64 << shift;
        if bytes >= size {
            let text = format!("{:.1}", bytes as f64 / size as f64);
            let text = text.strip_suffix(".0").unwrap_or(&text);
            return format!("{text} {unit}");
        }
    }
    format!("{bytes} B")
}

/// A count of files for people: `1 file`, `12 files`.
pub fn files(count: u64) -> String {
    match count {
        1 => "1 file".to_owned(),
        _ => format!("{count} files"),
    }
}

/// Parses an on/off value such as an environment variable holds: `1`/`0`, `true`/`false`,
/// `yes`/`no`, `on`/`off` (or `y`/`n`, `t`/`f`; case does not matter); empty is off.
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        _ => Err(format!(
            "{text:?} is neither on nor off (use 1/0, true/false, yes/no or on/off)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_is_singular() {
        assert_eq!(
            [files(0), files(1), files(2)],
            ["0 files", "1 file", "2 files"]
        );
    }

    #[test]
    fn sizes_people_write() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("500"), Ok(500));
        assert_eq!(parse_bytes("64K"), Ok(65536));
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert_eq!(parse_bytes("1.5M"), Ok(1_572_864));
        assert_eq!(parse_bytes("10G"), Ok(10 << 30));
        assert_eq!(parse_bytes("2TiB"), Ok(2 << 40));
        assert_eq!(parse_bytes(" 8 MB "), Ok(8 << 20));
        for bad in [
            "",
            "K",
            "-1",
            "1.2.3",
            "ten",
            "1X",
            "nan",
            "inf",
            "99999999999T",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exact_figures_read_back_the_same() {
        assert_eq!(exact_bytes(0), "0 B");
        assert_eq!(exact_bytes(512), "512 B");
        assert_eq!(exact_bytes(1024), "1 KiB");
        assert_eq!(exact_bytes(1000), "1000 B");
        assert_eq!(exact_bytes(1536 << 10), "1536 KiB");
        assert_eq!(exact_bytes(64 << 20), "64 MiB");
        assert_eq!(exact_bytes(3 << 40), "3 TiB");
        for bytes in [1, 1023, 1025, 65536, 1 << 30, (1 << 30) + 4096] {
            let text = exact_bytes(bytes);
            assert_eq!(parse_bytes(&text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn switches_read_1_0_true_false_yes_no_on_off_and_empty_is_off() {
        for on in ["1", "true", "YES", "on", "y", "T"] {
            assert_eq!(parse_switch(on), Ok(true), "{on}");
        }
        for off in ["", "0", "False", "no", "OFF", "n", "f"] {
            assert_eq!(parse_switch(off), Ok(false), "{off}");
        }
        assert!(parse_switch("bogus").is_err());
        assert!(parse_switch("2").is_err());
    }
}
