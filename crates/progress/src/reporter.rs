//! The reporter: how a tool tells how far it got, without knowing the bus.

use crate::bus::Bus;
use crate::error::ProgressError;
use crate::event::EventKind;

/// The longest step text kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_STEP_BYTES: usize = 200;

/// Reports one call's progress: the executor hands one to each tool (in its context); the tool
/// calls `progress(0.4, "fetching page 2")`.
///
/// Cheap to clone; reporting never waits and never fails the tool. A [disabled](Reporter::disabled)
/// reporter (a tool run outside a batch, in a test) does nothing. What a tool writes in a step
/// is shown to people: it must not carry secrets.
///
/// ```
/// use volley_progress::Reporter;
///
/// fn fetch_pages(progress: &Reporter) {
///     for page in 1..=4 {
///         progress.progress(page as f64 / 4.0, format!("fetching page {page}"));
///     }
/// }
/// fetch_pages(&Reporter::disabled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    target: Option<(Bus, usize)>,
}

impl Reporter {
    pub(crate) fn new(bus: Bus, call: usize) -> Reporter {
        Reporter {
            target: Some((bus, call)),
        }
    }

    /// A reporter that reports to nobody.
    pub fn disabled() -> Reporter {
        Reporter { target: None }
    }

    /// Whether reports go anywhere (a tool may skip building step texts otherwise).
    pub fn is_enabled(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|(bus, _)| !bus.is_closed())
    }

    /// The id of the call it reports for.
    pub fn call_id(&self) -> Option<&str> {
        let (bus, call) = self.target.as_ref()?;
        bus.roster().id(*call).map(|id| &**id)
    }

    /// Reports the fraction done (clamped to 0–1; NaN is ignored) and what the tool is doing
    /// now (empty for nothing; cut to [`MAX_STEP_BYTES`]).
    pub fn progress(&self, fraction: f64, step: impl AsRef<str>) {
        if fraction.is_nan() {
            return;
        }
        self.send(fraction, step.as_ref());
    }

    /// Reports the fraction done, with no step text.
    pub fn fraction(&self, fraction: f64) {
        self.progress(fraction, "");
    }

    /// Reports as [`progress`](Reporter::progress) does, but refuses a fraction outside 0–1 or
    /// NaN with [`ProgressError::InvalidFraction`] instead of clamping it.
    pub fn try_progress(&self, fraction: f64, step: impl AsRef<str>) -> Result<(), ProgressError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(ProgressError::InvalidFraction {
                call: self.call_id().unwrap_or("").into(),
                fraction,
            });
        }
        self.send(fraction, step.as_ref());
        Ok(())
    }

    fn send(&self, fraction: f64, step: &str) {
        let Some((bus, call)) = &self.target else {
            return;
        };
        let step = truncate(step, MAX_STEP_BYTES);
        bus.emit(*call, EventKind::progress(fraction, Some(step)));
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_character_boundaries() {
        for (text, max, expected) in [
            ("short", 10, "short"),
            ("exactly", 7, "exactly"),
            ("longer text", 6, "longer"),
            ("héllo", 2, "h"), // é is two bytes: never split it
            ("héllo", 3, "hé"),
            ("", 0, ""),
        ] {
            assert_eq!(truncate(text, max), expected, "{text:?} to {max}");
        }
    }

    #[test]
    fn a_disabled_reporter_does_nothing() {
        let reporter = Reporter::disabled();
        assert!(!reporter.is_enabled());
        assert_eq!(reporter.call_id(), None);
        reporter.progress(0.5, "step");
        assert!(reporter.try_progress(0.5, "").is_ok());
        let err = reporter.try_progress(1.5, "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "call `` reported progress 1.5, which is not between 0 and 1"
        );
    }
}
