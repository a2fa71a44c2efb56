//! The server's Hedera network, as people read it.

/// Tinybars as hbar, exactly (1 hbar is 10^8 tinybars), without trailing zeros: what the CLI
/// prints and the console shows (a JavaScript number cannot hold every `i64` tinybar count).
pub fn hbar(tinybars: i64) -> String {
    const TINYBARS_PER_HBAR: u64 = 100_000_000;
    let sign = if tinybars < 0 { "-" } else { "" };
    let magnitude = tinybars.unsigned_abs();
    let whole = magnitude / TINYBARS_PER_HBAR;
    let fraction = magnitude % TINYBARS_PER_HBAR;
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{fraction:08}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::hbar;

    #[test]
    fn tinybars_read_as_exact_hbar() {
        assert_eq!(hbar(0), "0");
        assert_eq!(hbar(100_000_000), "1");
        assert_eq!(hbar(150_000_000), "1.5");
        assert_eq!(hbar(1), "0.00000001");
        assert_eq!(
            hbar(5_000_000_000_000_000_000),
            "50000000000",
            "Hedera's whole supply, 50 billion hbar, is 5e18 tinybars"
        );
        assert_eq!(hbar(-250_000_000), "-2.5");
        assert_eq!(
            hbar(-50_000_000),
            "-0.5",
            "a debt under one hbar keeps its sign"
        );
        assert_eq!(
            hbar(i64::MIN),
            "-92233720368.54775808",
            "the most negative balance still formats"
        );
    }
}
