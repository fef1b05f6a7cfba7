//! Numbers in words: durations, ratios, plurals.

use std::borrow::Cow;

/// Who reads a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Units {
    /// A model: exact milliseconds (`3000 ms`), messages whole (the provider text is cut as a
    /// whole later).
    Model,
    /// People: rounded durations (`3 s`), messages capped at [`PEOPLE_MESSAGE_CHARS`].
    People,
}

/// The most characters of an error message a line for people quotes.
pub(crate) const PEOPLE_MESSAGE_CHARS: usize = 160;

/// A duration: `3000 ms` for a model; `250 ms`, `3 s`, `1.5 s`, `2 min 5 s`, `1 h 2 min` for
/// people.
pub(crate) fn duration(ms: u64, units: Units) -> String {
    match units {
        Units::Model => format!("{ms} ms"),
        Units::People => human_ms(ms),
    }
}

/// A duration for people: `250 ms`, `3 s`, `1.5 s`, `12 s`, `2 min 5 s`, `1 h 2 min`.
pub(crate) fn human_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 10_000 {
        let tenths = (ms + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else if ms < 60_000 {
        format!("{} s", (ms + 500) / 1_000)
    } else if ms < 3_600_000 {
        let s = (ms + 500) / 1_000;
        match s % 60 {
            0 => format!("{} min", s / 60),
            rest => format!("{} min {rest} s", s / 60),
        }
    } else {
        let min = (ms + 30_000) / 60_000;
        match min % 60 {
            0 => format!("{} h", min / 60),
            rest => format!("{} h {rest} min", min / 60),
        }
    }
}

/// A message as quoted for `units`: whole for a model, its first characters for people.
pub(crate) fn cap(message: &str, units: Units) -> Cow<'_, str> {
    let message = message.trim_end();
    match units {
        Units::Model => Cow::Borrowed(message),
        Units::People => match message.char_indices().nth(PEOPLE_MESSAGE_CHARS) {
            Some((end, _)) => Cow::Owned(format!("{}…", &message[..end])),
            None => Cow::Borrowed(message),
        },
    }
}

/// `a / b` rounded to 3 decimals; `when_zero` when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64, when_zero: f64) -> f64 {
    if b <= 0.0 {
        return when_zero;
    }
    round3(a / b)
}

/// Rounded to 3 decimals, so JSON shows `2.583`, not `2.5833333333333335`.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1_000.0).round() / 1_000.0
}

/// `1.5×`, `12×`.
pub(crate) fn times(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}×")
    } else {
        format!("{rounded:.1}×")
    }
}

/// `92%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

/// Joins `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        for (ms, text) in [
            (0, "0 ms"),
            (250, "250 ms"),
            (999, "999 ms"),
            (1_000, "1 s"),
            (1_500, "1.5 s"),
            (2_960, "3 s"),
            (3_000, "3 s"),
            (9_949, "9.9 s"),
            (12_400, "12 s"),
            (60_000, "1 min"),
            (125_000, "2 min 5 s"),
            (3_600_000, "1 h"),
            (3_720_000, "1 h 2 min"),
        ] {
            assert_eq!(human_ms(ms), text, "{ms} ms");
        }
        assert_eq!(duration(3_000, Units::Model), "3000 ms");
    }

    #[test]
    fn messages_are_capped_for_people_only() {
        let long = "é".repeat(PEOPLE_MESSAGE_CHARS + 5);
        let capped = cap(&long, Units::People);
        assert_eq!(capped.chars().count(), PEOPLE_MESSAGE_CHARS + 1);
        assert!(capped.ends_with('…'));
        assert_eq!(cap(&long, Units::Model), long.as_str());
        assert_eq!(cap("short\n", Units::People), "short");
    }

    #[test]
    fn ratios_lists_and_figures() {
        assert_eq!(ratio(31.0, 12.0, 1.0), 2.583);
        assert_eq!(ratio(1.0, 0.0, 1.0), 1.0);
        assert_eq!(times(2.58), "2.6×");
        assert_eq!(times(3.0), "3×");
        assert_eq!(percent(0.917), "92%");
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(and_list(&items(&[])), "");
        assert_eq!(and_list(&items(&["a"])), "a");
        assert_eq!(and_list(&items(&["a", "b"])), "a and b");
        assert_eq!(and_list(&items(&["a", "b", "c"])), "a, b and c");
    }
}
