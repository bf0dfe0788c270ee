use std::fmt;

use sha2::{Digest, Sha256};

/// SHA-256 of a migration's up script with CRLF normalised to LF, so that git's
/// line-ending conversion on another machine does not look like an edit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// The checksum of an up script, CRLF read as LF.
    pub fn of_script(script: &str) -> Self {
        let mut hasher = Sha256::new();
        let mut rest = script.as_bytes();
        // Hash in pieces between "\r\n" pairs to avoid copying the script.
        while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
            hasher.update(&rest[..pos]);
            hasher.update(b"\n");
            rest = &rest[pos + 2..];
        }
        hasher.update(rest);
        Self(hasher.finalize().into())
    }

    /// Lower-case hex, as stored in the tracking table.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for byte in self.0 {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        hex
    }

    /// Parses [`Checksum::to_hex`]'s form (either case); `None` unless 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = nibble(bytes[2 * i])? << 4 | nibble(bytes[2 * i + 1])?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", self.to_hex())
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_normalised_and_content_counts() {
        let lf = Checksum::of_script("create table a (id int);\nselect 1;\n");
        let crlf = Checksum::of_script("create table a (id int);\r\nselect 1;\r\n");
        assert_eq!(lf, crlf);
        assert_ne!(
            lf,
            Checksum::of_script("create table a (id bigint);\nselect 1;\n")
        );
        // A lone CR is content, not a line ending.
        assert_ne!(
            lf,
            Checksum::of_script("create table a (id int);\rselect 1;\r")
        );
        assert_eq!(
            Checksum::of_script("").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trip() {
        let c = Checksum::of_script("x");
        assert_eq!(Checksum::from_hex(&c.to_hex()), Some(c));
        assert_eq!(Checksum::from_hex("zz"), None);
    }
}
