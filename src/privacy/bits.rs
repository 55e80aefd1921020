//! The IAB encodings' common layer: a string of base64url characters read as a stream of bits.
//!
//! The TCF and GPP encoders pad their bit strings to a multiple of 6, not 8, so a byte-wise
//! base64 decoder would drop the last bits of a string whose length is not a multiple of 4
//! (a GPP US section of 60 bits is 10 characters: 7 whole bytes and 4 bits nobody reads).
//! Each character is therefore decoded to its own 6 bits. Both alphabets are accepted (`-_`
//! and `+/`: some CMPs emit the latter) and trailing `=` is ignored; they cannot be confused.

/// The input ended before the field being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short;

/// A character outside both base64 alphabets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotBase64;

/// A cursor over the bits of a base64url string, most significant bit of each character first.
pub struct Bits {
    sextets: Vec<u8>,
    pos: usize,
}

impl Bits {
    /// Decodes `s` (one byte per character: callers cap the length first).
    pub fn decode(s: &str) -> Result<Bits, NotBase64> {
        let sextets = s
            .trim_end_matches('=')
            .bytes()
            .map(sextet)
            .collect::<Option<Vec<u8>>>()
            .ok_or(NotBase64)?;
        Ok(Bits { sextets, pos: 0 })
    }

    /// Bits not read yet.
    pub fn remaining(&self) -> usize {
        self.sextets.len() * 6 - self.pos
    }

    pub fn bit(&mut self) -> Result<bool, Short> {
        let sextet = *self.sextets.get(self.pos / 6).ok_or(Short)?;
        let bit = sextet >> (5 - self.pos % 6) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    /// An unsigned big-endian integer of `n` ≤ 64 bits.
    pub fn int(&mut self, n: u32) -> Result<u64, Short> {
        debug_assert!(n <= 64);
        if self.remaining() < n as usize {
            return Err(Short);
        }
        (0..n).try_fold(0u64, |acc, _| Ok(acc << 1 | u64::from(self.bit()?)))
    }

    pub fn skip(&mut self, n: usize) -> Result<(), Short> {
        if self.remaining() < n {
            return Err(Short);
        }
        self.pos += n;
        Ok(())
    }

    /// The next `n` bits packed into bytes (bit `i` is `bytes[i / 8] >> (7 - i % 8)`). The
    /// length is checked against the input first, so a hostile `n` allocates nothing.
    pub fn bitfield(&mut self, n: usize) -> Result<Vec<u8>, Short> {
        if self.remaining() < n {
            return Err(Short);
        }
        let mut bytes = vec![0u8; n.div_ceil(8)];
        for i in 0..n {
            if self.bit()? {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        Ok(bytes)
    }

    /// A Fibonacci-coded integer (GPP): Zeckendorf digits for 1, 2, 3, 5, 8, … least
    /// significant first, ended by a second consecutive `1`. At most `max_digits` digits are
    /// read, so a run of alternating bits cannot overflow: `None` when longer (or cut short).
    pub fn fibonacci(&mut self, max_digits: usize) -> Option<u64> {
        let (mut value, mut prev) = (0u64, false);
        let (mut a, mut b) = (1u64, 2u64);
        for _ in 0..=max_digits {
            let bit = self.bit().ok()?;
            if bit && prev {
                return Some(value);
            }
            if bit {
                value += a;
            }
            prev = bit;
            (a, b) = (b, a.saturating_add(b));
        }
        None
    }
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    }
}

/// The encoding side, for building test vectors with chosen contents.
#[cfg(test)]
pub mod writer {
    #[derive(Default)]
    pub struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        pub fn bit(&mut self, b: bool) -> &mut Self {
            self.bits.push(b);
            self
        }

        pub fn int(&mut self, n: u32, value: u64) -> &mut Self {
            assert!(n == 64 || value < 1 << n, "{value} does not fit {n} bits");
            for i in (0..n).rev() {
                self.bits.push(value >> i & 1 == 1);
            }
            self
        }

        pub fn fibonacci(&mut self, value: u64) -> &mut Self {
            assert!(value > 0);
            let mut fibs = vec![1u64, 2];
            while fibs[fibs.len() - 1] + fibs[fibs.len() - 2] <= value {
                fibs.push(fibs[fibs.len() - 1] + fibs[fibs.len() - 2]);
            }
            let mut digits = vec![false; fibs.len()];
            let mut rest = value;
            for (i, f) in fibs.iter().enumerate().rev() {
                if *f <= rest {
                    digits[i] = true;
                    rest -= f;
                }
            }
            let last = digits.iter().rposition(|d| *d).unwrap();
            self.bits.extend(&digits[..=last]);
            self.bits.push(true);
            self
        }

        pub fn len(&self) -> usize {
            self.bits.len()
        }

        /// Base64url without padding, the last character padded with zero bits.
        pub fn finish(&self) -> String {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            self.bits
                .chunks(6)
                .map(|c| {
                    let v =
                        (0..6).fold(0, |acc, i| acc << 1 | usize::from(c.get(i) == Some(&true)));
                    ALPHABET[v] as char
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::writer::BitWriter;
    use super::*;

    #[test]
    fn reads_across_character_boundaries() {
        // "DBAB" = 000011 000001 000000 000001.
        let mut b = Bits::decode("DBAB").unwrap();
        assert_eq!(b.int(6), Ok(3));
        assert_eq!(b.int(6), Ok(1));
        assert_eq!(b.int(12), Ok(1));
        assert_eq!(b.remaining(), 0);
        assert_eq!(b.bit(), Err(Short));
        assert_eq!(Bits::decode("DB@B").err(), Some(NotBase64));
    }

    #[test]
    fn both_alphabets_and_padding_are_accepted() {
        let mut a = Bits::decode("-_+/==").unwrap();
        assert_eq!(a.int(24), Ok(0xFBFFBF));
    }

    #[test]
    fn fibonacci_round_trips_and_is_bounded() {
        let mut w = BitWriter::default();
        for v in 1..=200 {
            w.fibonacci(v);
        }
        let mut b = Bits::decode(&w.finish()).unwrap();
        for v in 1..=200 {
            assert_eq!(b.fibonacci(16), Some(v));
        }
        // 1010…: never terminates within the digit cap.
        assert_eq!(Bits::decode("qqqqqq").unwrap().fibonacci(16), None);
        assert_eq!(Bits::decode("").unwrap().fibonacci(16), None);
    }

    #[test]
    fn a_huge_bitfield_is_refused_before_allocating() {
        let mut b = Bits::decode("AAAA").unwrap();
        assert_eq!(b.bitfield(usize::MAX), Err(Short));
        assert_eq!(b.bitfield(24).map(|v| v.len()), Ok(3));
    }
}
