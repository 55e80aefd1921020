//! Partner text echoed back in messages (bid ids, serde's quotes of bad values), cut to a
//! bounded length: shared by every edge that reports a partner's words.

/// Partner text echoed in messages is cut to this many characters.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// Partner text cut to `MAX_MESSAGE_CHARS` for echoing in messages.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// The length of `s` as a JSON string body (serde_json's escapes: two bytes for `"`, `\\`
/// and the short escapes, six for other control characters), which is what a string costs
/// inside a tracking token.
pub fn json_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_len_counts_escapes_as_serde_json_writes_them() {
        for s in ["plain", "q\"b\\s", "\n\t\u{1}\u{1f}", "é€"] {
            let written = serde_json::to_string(s).unwrap();
            assert_eq!(super::json_len(s), written.len() - 2, "{s:?}");
        }
    }

    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(super::clip("short"), "short");
        let long = "é".repeat(300);
        let clipped = super::clip(&long);
        assert_eq!(clipped.chars().count(), super::MAX_MESSAGE_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
