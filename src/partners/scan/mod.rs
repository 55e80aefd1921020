//! Finding where a JSON string ends, 64 bytes at a time, for the markup reader (`answer`).
//!
//! Why branch-free: markup is nearly all of a partner's answer and has an escaped quote every
//! ~20 bytes. The first version of this scanner took 16-byte blocks and walked each escape
//! with a branch and a read of the body: ~3 instructions a byte, 40% of reading an answer.
//! Here each 64-byte chunk becomes four bit masks (quote, backslash, control, high bit), and
//! which bytes are escaped comes from the backslash mask by integer arithmetic (simdjson's
//! "odd-length backslash run" trick), so an escape costs nothing of its own. Only escapes of
//! something other than a quote or a backslash (`\n`, `\u00e9`…) are looked at one by one.
//! The high-bit mask tells whether the string is plain ASCII, so its UTF-8 check can be
//! skipped. On a CPU with AVX2 (checked at run time) the same loop is compiled for it and
//! takes two 32-byte vectors per chunk instead of four 16-byte ones (callgrind: 1.243 →
//! 1.205 M instructions per auction).

/// Bit `k` of each mask describes byte `k` of a 64-byte chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// Bytes 0x00–0x1F, which a JSON string may not hold raw.
    control: u64,
    /// Bytes ≥ 0x80: not ASCII.
    high: u64,
}

/// Where the JSON string whose text starts at `from` (just after its opening quote) ends:
/// the index of its closing quote, whether its text is all ASCII, and whether it has any
/// escape (so that a caller needs no second look for a backslash). `None` if it is not a
/// valid JSON string: a raw control character, a bad escape, or no end. (Its UTF-8, when
/// not ASCII, is the caller's to check.)
pub(super) fn string_end(body: &[u8], from: usize) -> Option<(usize, bool, bool)> {
    // Most strings are keys and short values: a 16-byte look settles them (no escapes).
    if let Some(Some(end)) = body.get(from..from + 16).map(|b| short(b.try_into().ok()?)) {
        return Some((from + end.0, end.1, false));
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2 (checked just above; the answer is cached by std).
        return unsafe { long_avx2(body, from) };
    }
    long(body, from, masks)
}

/// [`long`] compiled for AVX2, with its 32-byte masks: half the vector work per chunk.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn long_avx2(body: &[u8], from: usize) -> Option<(usize, bool, bool)> {
    long(body, from, |chunk| masks_avx2(chunk))
}

/// The string's end, 64 bytes at a time, each chunk's masks from `masks`.
#[inline(always)]
fn long(
    body: &[u8],
    from: usize,
    masks: impl Fn(&[u8; 64]) -> Masks,
) -> Option<(usize, bool, bool)> {
    let mut at = from;
    // 1 when the first byte of the next chunk is escaped by a backslash at the end of this one.
    let mut carry = 0;
    let mut high = 0;
    let mut backslash = 0;
    loop {
        let m = match body.get(at..at + 64) {
            Some(chunk) => masks(chunk.try_into().ok()?),
            None => {
                // The last, short chunk: padded with spaces, which are nothing special (a
                // string cut short still has no end, and an escaped space is a bad escape).
                let rest = body.get(at..)?;
                let mut padded = [b' '; 64];
                padded[..rest.len()].copy_from_slice(rest);
                masks(&padded)
            }
        };
        let escaped = escaped(m.backslash, &mut carry);
        let ends = m.quote & !escaped;
        // The bytes of the string's text in this chunk.
        // The bits below the lowest end (all of them when there is none), branch-free.
        let text = ends.wrapping_sub(1) & !ends;
        if m.control & text != 0 {
            return None;
        }
        // Escaped quotes and backslashes are fine; anything else escaped is checked alone.
        let other = escaped & text & !m.quote & !m.backslash;
        if other != 0 && !escapes_valid(body, at, other) {
            return None;
        }
        high |= m.high & text;
        backslash |= m.backslash & text;
        if ends != 0 {
            let end = at + ends.trailing_zeros() as usize;
            return (end < body.len()).then_some((end, high == 0, backslash != 0));
        }
        if body.len() <= at + 64 {
            return None;
        }
        at += 64;
    }
}

/// The bytes escaped by a backslash, given the chunk's backslashes. `carry` says whether the
/// chunk's first byte is escaped (by a backslash ending the previous chunk) and is updated
/// for the next chunk. In a run of backslashes every second one escapes the byte after it;
/// which ones depends on whether the run starts on an even or an odd bit, and adding the
/// odd-starting runs' first bits to the backslash mask carries through exactly those runs
/// (simdjson, "Parsing Gigabytes of JSON per Second", §3.1.1).
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows
}

/// Whether each escaped byte in `bits` (relative to `at`) makes a valid escape: one of
/// `/ b f n r t`, or `u` and four hex digits. Cold and out of line: most chunks of markup
/// escape only quotes and backslashes, and the loop's registers are then kept for them.
#[cold]
#[inline(never)]
fn escapes_valid(body: &[u8], at: usize, mut bits: u64) -> bool {
    while bits != 0 {
        let i = at + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        match body.get(i) {
            Some(b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
            Some(b'u') => match body.get(i + 1..i + 5) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {}
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

#[cfg(target_arch = "x86_64")]
fn masks(chunk: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_setzero_si128,
    };
    let mut m = Masks::default();
    // SAFETY: each load reads 16 bytes inside `chunk` (unaligned loads are allowed); SSE2 is
    // part of every x86_64 target, so the intrinsics are available.
    let (control, high) = unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let low = _mm_set1_epi8(0x1F);
        // Control and high bytes are rare: only whether the chunk has any is found here.
        let mut control = _mm_setzero_si128();
        let mut high = _mm_setzero_si128();
        for lane in 0..4 {
            let v = _mm_loadu_si128(chunk.as_ptr().add(16 * lane).cast());
            let bits = |x| u64::from(_mm_movemask_epi8(x) as u16) << (16 * lane);
            m.quote |= bits(_mm_cmpeq_epi8(v, quote));
            m.backslash |= bits(_mm_cmpeq_epi8(v, backslash));
            // v ≤ 0x1F (unsigned) exactly when min(v, 0x1F) == v.
            control = _mm_or_si128(control, _mm_cmpeq_epi8(_mm_min_epu8(v, low), v));
            high = _mm_or_si128(high, v);
        }
        (
            _mm_movemask_epi8(control) != 0,
            _mm_movemask_epi8(high) != 0,
        )
    };
    with_rare_bytes(m, chunk, control || high)
}

/// [`masks`] with two 32-byte AVX2 vectors instead of four 16-byte ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(chunk: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_min_epi8,
        _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    // SAFETY: each load reads 32 bytes inside `chunk` (unaligned loads are allowed).
    let (lo, hi): (__m256i, __m256i) = unsafe {
        (
            _mm256_loadu_si256(chunk.as_ptr().cast()),
            _mm256_loadu_si256(chunk.as_ptr().add(32).cast()),
        )
    };
    let bits = |l: __m256i, h: __m256i| {
        u64::from(_mm256_movemask_epi8(l) as u32) | u64::from(_mm256_movemask_epi8(h) as u32) << 32
    };
    let quote = _mm256_set1_epi8(b'"' as i8);
    let backslash = _mm256_set1_epi8(b'\\' as i8);
    let m = Masks {
        quote: bits(_mm256_cmpeq_epi8(lo, quote), _mm256_cmpeq_epi8(hi, quote)),
        backslash: bits(
            _mm256_cmpeq_epi8(lo, backslash),
            _mm256_cmpeq_epi8(hi, backslash),
        ),
        ..Masks::default()
    };
    // Control and high bytes are rare: only whether the chunk has any is found here, in one
    // test. As signed bytes both are below 0x20 (0x80–0xFF are negative), and the smaller of
    // the two halves' bytes at each position is below 0x20 exactly when either one is.
    let lowest = _mm256_min_epi8(lo, hi);
    let rare = _mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), lowest)) != 0;
    with_rare_bytes(m, chunk, rare)
}

/// Where a string that ends within these 16 bytes, with no backslash or control byte before
/// its end, ends (and whether it is ASCII); `None` sends the caller the long way.
#[cfg(target_arch = "x86_64")]
fn short(block: &[u8; 16]) -> Option<(usize, bool)> {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: the load reads exactly the 16 bytes of `block`; SSE2 is part of x86_64.
    let (quote, special, high) = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
        (
            _mm_movemask_epi8(quote) as u32,
            _mm_movemask_epi8(_mm_or_si128(backslash, control)) as u32,
            _mm_movemask_epi8(v) as u32,
        )
    };
    if quote == 0 {
        return None;
    }
    let end = quote.trailing_zeros();
    let before = (1u32 << end) - 1;
    (special & before == 0).then_some((end as usize, high & before == 0))
}

#[cfg(not(target_arch = "x86_64"))]
fn short(_: &[u8; 16]) -> Option<(usize, bool)> {
    None
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(chunk: &[u8; 64]) -> Masks {
    masks_by_byte(chunk)
}

/// `m` with its control and high-bit masks filled in exactly when the vector pass saw such a
/// byte (`rare`): rare in markup, so only then is the chunk walked byte by byte.
#[cfg(target_arch = "x86_64")]
fn with_rare_bytes(mut m: Masks, chunk: &[u8; 64], rare: bool) -> Masks {
    if rare {
        let exact = rare_masks(chunk);
        m.control = exact.control;
        m.high = exact.high;
    }
    m
}

/// [`masks_by_byte`] kept out of line and marked cold: inlined, its 64 steps sat in the
/// scanner's loop and competed for the registers of the common path.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn rare_masks(chunk: &[u8; 64]) -> Masks {
    masks_by_byte(chunk)
}

/// [`masks`] one byte at a time (the reference, the path off x86_64, and the exact control
/// and high-bit masks of a chunk that has such bytes).
fn masks_by_byte(chunk: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (k, &b) in chunk.iter().enumerate() {
        let bit = 1u64 << k;
        m.quote |= u64::from(b == b'"') * bit;
        m.backslash |= u64::from(b == b'\\') * bit;
        m.control |= u64::from(b <= 0x1F) * bit;
        m.high |= u64::from(b >= 0x80) * bit;
    }
    m
}

#[cfg(test)]
mod tests;
