//! The phrasebook: every sentence template and list word, replaceable for other phrasings or
//! languages.

use std::convert::Infallible;

use crate::error::ProgressError;
use crate::narrate::phrase::ToolPhrase;
use crate::narrate::template::Template;

/// The words and templates of a [`Narrator`](crate::Narrator). [`Phrasebook::english`] is the
/// default; [`Phrasebook::builder`] replaces any part, and checks every template.
///
/// ```
/// use volley_progress::Phrasebook;
///
/// let french = Phrasebook::builder()
///     .start_one("Je vais {action}.")
///     .start_together("Je vais {actions} en même temps.")
///     .and("et")
///     .build()?;
/// # let _ = french;
/// let err = Phrasebook::builder().heartbeat("Still {action}…").build().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "template `heartbeat` uses `{action}`, which it does not know; it may use `{ongoing}`"
/// );
/// # Ok::<(), volley_progress::ProgressError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Phrasebook {
    pub(crate) start_one: Template,
    pub(crate) start_together: Template,
    pub(crate) start_steps: Template,
    pub(crate) then: String,
    pub(crate) heartbeat: Template,
    pub(crate) all_done: Template,
    pub(crate) all_done_with: Template,
    pub(crate) failed: Template,
    pub(crate) skipped: Template,
    pub(crate) stopped: Template,
    pub(crate) but_summaries: Template,
    pub(crate) but_rest: Template,
    pub(crate) clause_separator: String,
    pub(crate) sentence_end: String,
    pub(crate) and: String,
    pub(crate) or: String,
    pub(crate) separator: String,
    pub(crate) serial_comma: bool,
    pub(crate) twice: String,
    pub(crate) times: Template,
    pub(crate) others: Template,
    pub(crate) factor_verbs: bool,
    pub(crate) derive: fn(&str) -> ToolPhrase,
}

impl Default for Phrasebook {
    fn default() -> Self {
        Phrasebook::english()
    }
}

impl Phrasebook {
    /// The English phrasebook (the texts are [`PhrasebookBuilder`]'s defaults).
    pub fn english() -> Phrasebook {
        // Read leniently: the defaults are checked by a test, and a template that failed its
        // checks would read as plain text rather than fail.
        let Ok(book) =
            assemble::<Infallible>(&Config::default(), |name, text, allowed, required| {
                Ok(Template::parse(name, text, allowed, required)
                    .unwrap_or_else(|_| Template::literal(text)))
            });
        book
    }

    /// A builder starting from the English texts.
    pub fn builder() -> PhrasebookBuilder {
        PhrasebookBuilder {
            config: Config::default(),
        }
    }

    /// The default phrase of a tool that supplies none.
    pub fn derive(&self, tool: &str) -> ToolPhrase {
        (self.derive)(tool)
    }
}

#[derive(Debug, Clone)]
struct Config {
    start_one: String,
    start_together: String,
    start_steps: String,
    then: String,
    heartbeat: String,
    all_done: String,
    all_done_with: String,
    failed: String,
    skipped: String,
    stopped: String,
    but_summaries: String,
    but_rest: String,
    clause_separator: String,
    sentence_end: String,
    and: String,
    or: String,
    separator: String,
    serial_comma: bool,
    twice: String,
    times: String,
    others: String,
    factor_verbs: bool,
    derive: fn(&str) -> ToolPhrase,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            start_one: "Let me {action}.".into(),
            start_together: "Let me {actions} at the same time.".into(),
            start_steps: "I'll {steps}.".into(),
            then: ", then ".into(),
            heartbeat: "Still {ongoing}…".into(),
            all_done: "All done.".into(),
            all_done_with: "All done: {summaries}.".into(),
            failed: "I couldn't {failed}".into(),
            skipped: "so I didn't {skipped}".into(),
            stopped: "I stopped before I could {cancelled}".into(),
            but_summaries: "but {summaries}".into(),
            but_rest: "but everything else is done".into(),
            clause_separator: ", ".into(),
            sentence_end: ".".into(),
            and: "and".into(),
            or: "or".into(),
            separator: ", ".into(),
            serial_comma: false,
            twice: "twice".into(),
            times: "{count} times".into(),
            others: "{count} other things".into(),
            factor_verbs: true,
            derive: ToolPhrase::from_tool_name,
        }
    }
}

/// Builds a [`Phrasebook`]; every setter's default is the English text shown.
#[derive(Debug, Clone)]
pub struct PhrasebookBuilder {
    config: Config,
}

macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident;)+) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, text: impl Into<String>) -> &mut PhrasebookBuilder {
                self.config.$name = text.into();
                self
            }
        )+
    };
}

impl PhrasebookBuilder {
    text_setters! {
        /// The start of a batch of one call, with `{action}`. By default, "Let me {action}.".
        start_one;
        /// The start of a batch whose calls all run at once, with `{actions}`. By default,
        /// "Let me {actions} at the same time.".
        start_together;
        /// The start of a batch that runs in steps, with `{steps}`. By default, "I'll {steps}.".
        start_steps;
        /// Between steps. By default, ", then ".
        then;
        /// A heartbeat for calls that run long, with `{ongoing}`. By default, "Still {ongoing}…".
        heartbeat;
        /// The outcome when everything succeeded. By default, "All done.".
        all_done;
        /// The outcome when everything succeeded and some calls gave spoken summaries, with
        /// `{summaries}`. By default, "All done: {summaries}.".
        all_done_with;
        /// The clause naming what failed, with `{failed}`. By default, "I couldn't {failed}".
        failed;
        /// The clause naming what was skipped because of a failure, with `{skipped}`. By
        /// default, "so I didn't {skipped}".
        skipped;
        /// The clause naming what was cancelled, with `{cancelled}`. By default,
        /// "I stopped before I could {cancelled}".
        stopped;
        /// The clause naming the summaries of what succeeded despite problems, with
        /// `{summaries}`. By default, "but {summaries}".
        but_summaries;
        /// The clause for the rest having succeeded, without summaries. By default,
        /// "but everything else is done".
        but_rest;
        /// Between the clauses of an outcome. By default, ", ".
        clause_separator;
        /// After the last clause of an outcome. By default, ".".
        sentence_end;
        /// The last link of a list of things done. By default, "and".
        and;
        /// The last link of a list of things not done. By default, "or".
        or;
        /// Between the other items of a list. By default, ", ".
        separator;
        /// A call made two times. By default, "twice".
        twice;
        /// A call made `{count}` times (3 or more). By default, "{count} times".
        times;
        /// What stands for the items beyond the most a list names, with `{count}`. By default,
        /// "{count} other things".
        others;
    }

    /// Whether lists put a separator before their last link ("a, b, and c").
    ///
    /// By default, this is disabled ("a, b and c"); lists whose items hold a link themselves
    /// always use it.
    pub fn serial_comma(&mut self, yes: bool) -> &mut PhrasebookBuilder {
        self.config.serial_comma = yes;
        self
    }

    /// Whether items of a list that start with the same words share them: "check your calendar
    /// and CRM records" for "check your calendar" and "check your CRM records". Suits languages
    /// that put the verb first.
    ///
    /// By default, this is enabled.
    pub fn factor_verbs(&mut self, yes: bool) -> &mut PhrasebookBuilder {
        self.config.factor_verbs = yes;
        self
    }

    /// How to speak of a tool that supplies no phrase, from its name.
    ///
    /// By default, [`ToolPhrase::from_tool_name`] (English).
    pub fn derive(&mut self, derive: fn(&str) -> ToolPhrase) -> &mut PhrasebookBuilder {
        self.config.derive = derive;
        self
    }

    /// The phrasebook, or the first template that names an unknown placeholder or lacks its own.
    pub fn build(&self) -> Result<Phrasebook, ProgressError> {
        assemble(&self.config, Template::parse)
    }
}

/// A phrasebook from its texts, each template read by `parse(name, text, allowed, required)`.
fn assemble<E>(
    c: &Config,
    parse: impl Fn(&'static str, &str, &[&'static str], Option<&'static str>) -> Result<Template, E>,
) -> Result<Phrasebook, E> {
    let t = |name: &'static str, text: &str, slot: Option<&'static str>| match slot {
        Some(slot) => parse(name, text, &[slot], Some(slot)),
        None => parse(name, text, &[], None),
    };
    Ok(Phrasebook {
        start_one: t("start_one", &c.start_one, Some("action"))?,
        start_together: t("start_together", &c.start_together, Some("actions"))?,
        start_steps: t("start_steps", &c.start_steps, Some("steps"))?,
        then: c.then.clone(),
        heartbeat: t("heartbeat", &c.heartbeat, Some("ongoing"))?,
        all_done: t("all_done", &c.all_done, None)?,
        all_done_with: t("all_done_with", &c.all_done_with, Some("summaries"))?,
        failed: t("failed", &c.failed, Some("failed"))?,
        skipped: t("skipped", &c.skipped, Some("skipped"))?,
        stopped: t("stopped", &c.stopped, Some("cancelled"))?,
        but_summaries: t("but_summaries", &c.but_summaries, Some("summaries"))?,
        but_rest: t("but_rest", &c.but_rest, None)?,
        clause_separator: c.clause_separator.clone(),
        sentence_end: c.sentence_end.clone(),
        and: c.and.clone(),
        or: c.or.clone(),
        separator: c.separator.clone(),
        serial_comma: c.serial_comma,
        twice: c.twice.clone(),
        times: t("times", &c.times, Some("count"))?,
        others: t("others", &c.others, Some("count"))?,
        factor_verbs: c.factor_verbs,
        derive: c.derive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_english_defaults_are_valid() {
        assert!(Phrasebook::builder().build().is_ok());
    }

    #[test]
    fn every_template_is_checked() {
        for (set, expected) in [
            (
                PhrasebookBuilder::start_one
                    as fn(&mut PhrasebookBuilder, String) -> &mut PhrasebookBuilder,
                "template `start_one` must contain `{action}`: \"x\"",
            ),
            (
                PhrasebookBuilder::start_together,
                "template `start_together` must contain `{actions}`: \"x\"",
            ),
            (
                PhrasebookBuilder::start_steps,
                "template `start_steps` must contain `{steps}`: \"x\"",
            ),
            (
                PhrasebookBuilder::heartbeat,
                "template `heartbeat` must contain `{ongoing}`: \"x\"",
            ),
            (
                PhrasebookBuilder::all_done_with,
                "template `all_done_with` must contain `{summaries}`: \"x\"",
            ),
            (
                PhrasebookBuilder::failed,
                "template `failed` must contain `{failed}`: \"x\"",
            ),
            (
                PhrasebookBuilder::skipped,
                "template `skipped` must contain `{skipped}`: \"x\"",
            ),
            (
                PhrasebookBuilder::stopped,
                "template `stopped` must contain `{cancelled}`: \"x\"",
            ),
            (
                PhrasebookBuilder::but_summaries,
                "template `but_summaries` must contain `{summaries}`: \"x\"",
            ),
            (
                PhrasebookBuilder::times,
                "template `times` must contain `{count}`: \"x\"",
            ),
            (
                PhrasebookBuilder::others,
                "template `others` must contain `{count}`: \"x\"",
            ),
        ] {
            let mut builder = Phrasebook::builder();
            set(&mut builder, "x".to_owned());
            assert_eq!(builder.build().unwrap_err().to_string(), expected);
        }
        let err = Phrasebook::builder()
            .all_done("Done {summaries}.")
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "template `all_done` uses `{summaries}`, which it does not know; it may use none"
        );
    }
}
