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

#[cfg(test)]
mod tests {
    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(super::clip("short"), "short");
        let long = "é".repeat(300);
        let clipped = super::clip(&long);
        assert_eq!(clipped.chars().count(), super::MAX_MESSAGE_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
