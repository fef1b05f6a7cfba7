//! Truncation: one large output must not fill the model's context.
//!
//! A text longer than the limit keeps its beginning, cut at a character boundary, followed by
//! a marker saying how much was cut: `\n[truncated: cut 48213 of 80213 bytes]`. The whole,
//! marker included, fits the limit whenever the limit is larger than the marker (about 40
//! bytes); below that, the text is the marker alone.

use std::borrow::Cow;
use std::io;

use serde::Serialize;

/// The default limit on one output's text: 32 KiB, about 8,000 tokens.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 32 * 1024;

/// Cuts `text` to at most `max_bytes` bytes, marker included, when it is longer.
///
/// ```
/// use volley_aggregator::truncate;
///
/// let long = "a".repeat(100);
/// let cut = truncate(&long, 60);
/// assert!(cut.len() <= 60);
/// assert!(cut.ends_with("[truncated: cut 74 of 100 bytes]"));
/// assert_eq!(truncate("short", 60), "short");
/// ```
pub fn truncate(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    Cow::Owned(cut(text.as_bytes(), text.len(), max_bytes))
}

/// The beginning of `prefix` (the first bytes of a UTF-8 text of `total` bytes), cut so that
/// it and its marker fit `max_bytes`.
fn cut(prefix: &[u8], total: usize, max_bytes: usize) -> String {
    // The marker is longest when the most is cut: size it for `total` and the kept part can
    // only get shorter, so the real marker (fewer or as many digits) still fits.
    let room = max_bytes.saturating_sub(marker(total, total).len());
    let mut keep = room.min(prefix.len());
    // Step back to the start of a character (never into the middle of a UTF-8 sequence).
    while keep > 0 && prefix.get(keep).is_some_and(|b| b & 0xC0 == 0x80) {
        keep -= 1;
    }
    let kept = match std::str::from_utf8(&prefix[..keep]) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&prefix[..keep]),
    };
    let mut out = String::with_capacity(max_bytes.max(keep + 48));
    out.push_str(&kept);
    out.push_str(&marker(total - keep, total));
    out
}

fn marker(cut: usize, total: usize) -> String {
    format!("\n[truncated: cut {cut} of {total} bytes]")
}

/// A value as compact JSON text, cut to `max_bytes` (marker included) when longer. Strings are
/// their own text, unquoted: a tool that returns prose gives the model prose.
pub(crate) fn json_text(value: &serde_json::Value, max_bytes: usize) -> String {
    match value {
        serde_json::Value::String(text) => truncate(text, max_bytes).into_owned(),
        other => {
            let mut writer = Limited::new(max_bytes);
            write_json(&mut writer, other);
            writer.finish()
        }
    }
}

/// How many bytes `value`'s compact JSON takes, counted up to `limit + 1` (enough to know
/// whether it fits), without keeping them.
pub(crate) fn json_len_within(value: &serde_json::Value, limit: usize) -> usize {
    let mut counter = Counter {
        count: 0,
        stop_after: limit,
    };
    // The counter stops the serializer with an error once past the limit: that is the answer.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.count
}

fn write_json<T: Serialize + ?Sized>(writer: &mut Limited, value: &T) {
    // Writing to memory cannot fail and a `Value` always serializes (its keys are strings).
    let _ = serde_json::to_writer(writer, value);
}

/// Keeps the first `max` bytes written and counts the rest.
struct Limited {
    kept: Vec<u8>,
    total: usize,
    max: usize,
}

impl Limited {
    fn new(max: usize) -> Limited {
        Limited {
            kept: Vec::with_capacity(max.min(128)),
            total: 0,
            max,
        }
    }

    fn finish(self) -> String {
        if self.total <= self.max {
            // Everything was kept: it is serde_json's own UTF-8 output.
            return String::from_utf8(self.kept)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        }
        cut(&self.kept, self.total, self.max)
    }
}

impl io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.max.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        self.total += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts bytes and fails once past `stop_after`.
struct Counter {
    count: usize,
    stop_after: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count += buf.len();
        if self.count > self.stop_after {
            return Err(io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
