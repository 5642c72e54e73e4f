//! Sizes as people write them on a command line: `4096`, `4KiB`, `16MiB`, `1GiB`.

use crate::error::{Error, Result};

/// Parses `123`, `4KiB`, `16MiB`, `1GiB` (also `K`, `M`, `G`).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| Error::invalid(format!("'{text}' is not a number or size")))?;
    let shift = match unit.trim() {
        "" => 0,
        "K" | "KiB" | "k" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        other => {
            return Err(Error::invalid(format!(
                "unknown size unit '{other}' in '{text}'"
            )));
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| Error::invalid(format!("'{text}' is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
