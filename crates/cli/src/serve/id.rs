//! Batch ids: 128 random bits from the operating system, as 32 lowercase hex digits.

use std::fmt;

/// A batch's id: unguessable, so that knowing one batch's id tells nothing of another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BatchId([u8; 16]);

impl BatchId {
    /// A fresh random id.
    pub(crate) fn random() -> Result<BatchId, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(BatchId(bytes))
    }

    /// Reads an id as [`Display`](fmt::Display) writes it; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<BatchId> {
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(BatchId(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_read_back() {
        let id = BatchId::random().unwrap();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(BatchId::parse(&text), Some(id));
        assert_ne!(BatchId::random().unwrap(), id);
    }

    #[test]
    fn anything_else_is_not_an_id() {
        for text in [
            "",
            "0123",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcdef0",
            "../../../../../../../etc/passwd00",
        ] {
            assert_eq!(BatchId::parse(text), None, "{text}");
        }
    }
}
