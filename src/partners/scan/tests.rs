use super::*;

/// The obvious byte-by-byte reading of a JSON string, to compare with.
fn reference(body: &[u8], from: usize) -> Option<(usize, bool, bool)> {
    let mut i = from;
    let mut ascii = true;
    let mut escaped = false;
    loop {
        let b = *body.get(i)?;
        match b {
            b'"' => return Some((i, ascii, escaped)),
            0..=0x1F => return None,
            b'\\' => {
                escaped = true;
                match *body.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' if body.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                    _ => return None,
                }
                continue;
            }
            0x80.. => ascii = false,
            _ => {}
        }
        i += 1;
    }
}

#[test]
fn the_masks_match_the_byte_by_byte_ones() {
    let mut chunk = [b'a'; 64];
    for (k, b) in [
        (0, b'"'),
        (3, b'\\'),
        (7, 0x1F),
        (9, 0),
        (15, b'"'),
        (16, b'\\'),
    ] {
        chunk[k] = b;
    }
    for (k, b) in [(31, 0x20), (32, 0xff), (47, 0x80), (48, 0x7f), (63, b'"')] {
        chunk[k] = b;
    }
    assert_eq!(masks(&chunk), masks_by_byte(&chunk));
    assert_eq!(masks(&chunk).quote, 1 | 1 << 15 | 1 << 63);
    assert_eq!(masks(&chunk).high, 1 << 32 | 1 << 47);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn the_avx2_masks_match_the_byte_by_byte_ones() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        // The path is never taken on this CPU; `ends_are_found…` covers the portable one.
        eprintln!("no AVX2 on this CPU: its masks are not exercised here");
        return;
    }
    let bytes = [b'a', b'"', b'\\', 0x1F, 0, 0x20, 0x7F, 0x80, 0xFF, b'/'];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..5_000 {
        let mut chunk = [0u8; 64];
        for b in &mut chunk {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = bytes[(seed % bytes.len() as u64) as usize];
        }
        // SAFETY: AVX2 is present (checked above).
        let got = unsafe { masks_avx2(&chunk) };
        let want = masks_by_byte(&chunk);
        assert_eq!((got.quote, got.backslash), (want.quote, want.backslash));
        // Control and high bytes are exact whenever the chunk has any.
        if want.control != 0 || want.high != 0 {
            assert_eq!(got, want);
        }
    }
}

#[test]
fn ends_are_found_as_a_byte_by_byte_reader_finds_them() {
    // Strings built from the bytes that matter, at every length and offset around the
    // chunk edges: runs of backslashes of each parity, escaped and bare quotes, `\u`
    // escapes good and bad, control and non-ASCII bytes.
    let alphabet: &[&[u8]] = &[
        b"a",
        b"\\",
        b"\\\\",
        b"\\\"",
        b"\"",
        b"\\u00e9",
        b"\\u0g00",
        b"\\n",
        b"\\x",
        b"\n",
        "é".as_bytes(),
        b"/",
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..20_000 {
        let mut body = Vec::new();
        let filler = (next() % 130) as usize;
        body.extend(std::iter::repeat_n(b'x', filler));
        let pieces = 1 + next() % 12;
        for _ in 0..pieces {
            // Mostly plain bytes, so that ends often lie beyond the first chunk.
            let piece: &[u8] = match next() % 4 {
                0 => alphabet[(next() % alphabet.len() as u64) as usize],
                _ => b"abcdefghijklmnopqrstu",
            };
            body.extend_from_slice(piece);
        }
        if round % 3 == 0 {
            body.push(b'"');
        }
        let from = (next() as usize) % (body.len() + 1);
        let want = reference(&body, from);
        let shown = String::from_utf8_lossy(&body);
        assert_eq!(string_end(&body, from), want, "{shown:?} from {from}");
        // The portable path too, where the CPU would take the AVX2 one.
        assert_eq!(long(&body, from, masks), want, "{shown:?} from {from}");
    }
}

#[test]
fn escapes_are_checked() {
    let s = br#"a\"b\\\u00e9\/c" rest"#;
    assert_eq!(string_end(s, 0), Some((15, true, true)));
    assert_eq!(string_end(br#"a\x""#, 0), None);
    assert_eq!(string_end(br#"a\u12g4""#, 0), None);
    assert_eq!(string_end(br#"a\u12""#, 0), None);
    assert_eq!(string_end(b"abc", 0), None);
    assert_eq!(string_end(b"a\tb\"", 0), None);
    assert_eq!(string_end("é\"".as_bytes(), 0), Some((2, false, false)));
    assert_eq!(string_end(b"plain\" rest", 0), Some((5, true, false)));
    let long = [&[b'a'; 70][..], b"\\n\""].concat();
    assert_eq!(string_end(&long, 0), Some((72, true, true)));
}

#[test]
fn backslash_runs_across_chunk_edges_escape_the_right_byte() {
    for run in 1..6 {
        for start in 58..66 {
            let mut body = vec![b'a'; start];
            body.extend(std::iter::repeat_n(b'\\', run));
            body.extend_from_slice(b"\"tail\"");
            let want = reference(&body, 0);
            assert_eq!(string_end(&body, 0), want, "run {run} at {start}");
            // An odd run escapes the quote, so the string ends at the second one.
            let first_quote = start + run;
            let end = if run % 2 == 1 {
                body.len() - 1
            } else {
                first_quote
            };
            assert_eq!(want, Some((end, true, true)), "run {run} at {start}");
        }
    }
}
