//! Narratives for voice: what the agent says while tools run, from the plan and the snapshot.

mod heartbeat;
mod list;
mod phrase;
mod phrasebook;
mod template;

use std::collections::HashMap;

use volley_planner::{Dag, Plan};

use crate::snapshot::{BatchSnapshot, CallSnapshot, CallStatus};
use list::Link;

pub use heartbeat::{Heartbeat, Heartbeats};
pub use phrase::{ToolPhrase, english_gerund};
pub use phrasebook::{Phrasebook, PhrasebookBuilder};

/// Narrator settings.
#[derive(Debug, Clone)]
struct Config {
    book: Phrasebook,
    phrases: HashMap<String, ToolPhrase>,
    max_items: usize,
    max_steps: usize,
}

/// Says what is happening, for a voice agent that cannot stay silent while tools run.
///
/// - [`start`](Narrator::start): one sentence from the plan, shaped by its waves: "Let me check
///   your calendar, search your contacts and get the weather at the same time." or "I'll look up
///   the contact, then check your calendar and CRM records, then send the invite."
/// - [`heartbeat`](Narrator::heartbeat) (timed by [`Heartbeats`]): "Still getting the weather…"
/// - [`outcome`](Narrator::outcome): "All done." or "I couldn't reach the weather service, but
///   your calendar is clear."
///
/// Sentences name tools by their spoken phrases ([`ToolPhrase`]), never arguments or outputs.
/// Words and templates come from a [`Phrasebook`].
///
/// ```
/// use volley_planner::{Call, Plan, Planner};
/// use volley_progress::{Narrator, ToolPhrase};
/// use serde_json::json;
///
/// let plan = Plan::new(vec![
///     Call::new("check_calendar", json!({})),
///     Call::new("search_contacts", json!({})),
///     Call::new("get_weather", json!({})),
/// ]);
/// let dag = Planner::new().plan(&plan).unwrap();
/// let narrator = Narrator::builder()
///     .phrase("check_calendar", ToolPhrase::new("check your calendar"))
///     .phrase("search_contacts", ToolPhrase::new("search your contacts"))
///     .build();
/// assert_eq!(
///     narrator.start(&plan, &dag),
///     "Let me check your calendar, search your contacts and get the weather at the same time."
/// );
/// assert_eq!(narrator.heartbeat(["get_weather"]), "Still getting the weather…");
/// ```
#[derive(Debug, Clone)]
pub struct Narrator {
    config: Config,
}

impl Default for Narrator {
    fn default() -> Self {
        Narrator::new()
    }
}

/// Builds a [`Narrator`].
#[derive(Debug, Clone)]
pub struct NarratorBuilder {
    config: Config,
}

impl NarratorBuilder {
    /// How to speak of `tool` (a tool's own phrase).
    ///
    /// By default, tools have none and the phrasebook derives one from the tool's name.
    pub fn phrase(&mut self, tool: impl Into<String>, phrase: ToolPhrase) -> &mut NarratorBuilder {
        self.config.phrases.insert(tool.into(), phrase);
        self
    }

    /// The words and templates.
    ///
    /// By default, [`Phrasebook::english`].
    pub fn phrasebook(&mut self, book: Phrasebook) -> &mut NarratorBuilder {
        self.config.book = book;
        self
    }

    /// The most items a list names; the rest are counted ("and 3 other things").
    ///
    /// By default, this is 4.
    pub fn max_items(&mut self, items: usize) -> &mut NarratorBuilder {
        self.config.max_items = items.max(1);
        self
    }

    /// The most steps a start sentence names; the calls of later steps are counted.
    ///
    /// By default, this is 4.
    pub fn max_steps(&mut self, steps: usize) -> &mut NarratorBuilder {
        self.config.max_steps = steps.max(1);
        self
    }

    /// The narrator.
    pub fn build(&self) -> Narrator {
        Narrator {
            config: self.config.clone(),
        }
    }
}

impl Narrator {
    /// An English narrator deriving every tool's phrase from its name.
    pub fn new() -> Narrator {
        Narrator::builder().build()
    }

    /// A builder with English defaults.
    pub fn builder() -> NarratorBuilder {
        NarratorBuilder {
            config: Config {
                book: Phrasebook::english(),
                phrases: HashMap::new(),
                max_items: 4,
                max_steps: 4,
            },
        }
    }

    /// How `tool` is spoken of: its own phrase, or one derived from its name.
    pub fn phrase(&self, tool: &str) -> ToolPhrase {
        self.config
            .phrases
            .get(tool)
            .cloned()
            .unwrap_or_else(|| self.config.book.derive(tool))
    }

    /// What the agent says as the batch starts: the calls wave by wave. Empty for an empty plan.
    pub fn start(&self, plan: &Plan, dag: &Dag) -> String {
        let book = &self.config.book;
        let phrases: Vec<ToolPhrase> = plan.calls.iter().map(|c| self.phrase(&c.tool)).collect();
        let waves: Vec<Vec<&str>> = dag
            .waves()
            .iter()
            .map(|wave| {
                wave.iter()
                    .filter_map(|&i| phrases.get(i as usize).map(ToolPhrase::action))
                    .collect::<Vec<&str>>()
            })
            .filter(|wave| !wave.is_empty())
            .collect();
        let sentence = match waves.as_slice() {
            [] => return String::new(),
            [only] if only.len() == 1 => book.start_one.fill(only[0]),
            [only] => book.start_together.fill(&self.list(only, Link::And, true)),
            several => {
                let max_steps = self.config.max_steps;
                let mut steps: Vec<String> = several
                    .iter()
                    .take(if several.len() > max_steps {
                        max_steps - 1
                    } else {
                        max_steps
                    })
                    .map(|wave| self.list(wave, Link::And, true))
                    .collect();
                if several.len() > max_steps {
                    let rest: usize = several[max_steps - 1..].iter().map(Vec::len).sum();
                    steps.push(book.others.fill(&rest.to_string()));
                }
                book.start_steps.fill(&steps.join(&book.then))
            }
        };
        capitalize(&sentence)
    }

    /// "Still getting the weather…": for calls of these tools that run long.
    pub fn heartbeat<'a>(&self, tools: impl IntoIterator<Item = &'a str>) -> String {
        let phrases: Vec<ToolPhrase> = tools.into_iter().map(|t| self.phrase(t)).collect();
        let ongoing: Vec<&str> = phrases.iter().map(ToolPhrase::ongoing).collect();
        if ongoing.is_empty() {
            return String::new();
        }
        capitalize(
            &self
                .config
                .book
                .heartbeat
                .fill(&self.list(&ongoing, Link::And, false)),
        )
    }

    /// What the agent says when the batch is over: "All done.", or what failed and what did not.
    pub fn outcome(&self, snapshot: &BatchSnapshot) -> String {
        self.outcome_with(snapshot, |_| None)
    }

    /// The outcome, with spoken summaries of successful calls ("your calendar is clear") from
    /// `summary`, which the caller derives from the results it chose to speak of. Calls still
    /// running are left out.
    ///
    /// - everything succeeded: "All done." or "All done: {summaries}."
    /// - otherwise: "I couldn't {failed}" (failed and timed-out calls), ", so I didn't
    ///   {skipped}" (calls skipped, when something failed), "I stopped before I could
    ///   {cancelled}", then ", but {summaries}" or ", but everything else is done" when some
    ///   calls succeeded.
    pub fn outcome_with(
        &self,
        snapshot: &BatchSnapshot,
        summary: impl Fn(&CallSnapshot) -> Option<String>,
    ) -> String {
        let book = &self.config.book;
        let mut failed: Vec<ToolPhrase> = Vec::new();
        let mut skipped: Vec<ToolPhrase> = Vec::new();
        let mut cancelled: Vec<ToolPhrase> = Vec::new();
        let mut summaries: Vec<String> = Vec::new();
        let mut succeeded = false;
        for call in &snapshot.calls {
            match call.status {
                CallStatus::Completed => {
                    succeeded = true;
                    if let Some(text) = summary(call).filter(|t| !t.trim().is_empty()) {
                        summaries.push(text.trim().to_owned());
                    }
                }
                CallStatus::Failed | CallStatus::TimedOut => failed.push(self.phrase(&call.tool)),
                CallStatus::Skipped => skipped.push(self.phrase(&call.tool)),
                CallStatus::Cancelled => cancelled.push(self.phrase(&call.tool)),
                _ => {}
            }
        }
        let summary_refs: Vec<&str> = summaries.iter().map(String::as_str).collect();
        if failed.is_empty() && cancelled.is_empty() {
            // Calls skipped by their conditions are no problem.
            let sentence = if summaries.is_empty() {
                book.all_done.fill("")
            } else {
                book.all_done_with
                    .fill(&self.list(&summary_refs, Link::And, false))
            };
            return capitalize(&sentence);
        }
        let mut clauses: Vec<String> = Vec::new();
        if !failed.is_empty() {
            let what: Vec<&str> = failed.iter().map(ToolPhrase::failure).collect();
            clauses.push(book.failed.fill(&self.list(&what, Link::Or, false)));
            if !skipped.is_empty() {
                let what: Vec<&str> = skipped.iter().map(ToolPhrase::action).collect();
                clauses.push(book.skipped.fill(&self.list(&what, Link::Or, false)));
            }
        }
        if !cancelled.is_empty() {
            let what: Vec<&str> = cancelled.iter().map(ToolPhrase::action).collect();
            clauses.push(book.stopped.fill(&self.list(&what, Link::Or, false)));
        }
        if succeeded {
            clauses.push(if summaries.is_empty() {
                book.but_rest.fill("")
            } else {
                book.but_summaries
                    .fill(&self.list(&summary_refs, Link::And, false))
            });
        }
        let mut sentence = clauses.join(&book.clause_separator);
        sentence.push_str(&book.sentence_end);
        capitalize(&sentence)
    }

    fn list(&self, phrases: &[&str], link: Link, count: bool) -> String {
        list::speak(
            &self.config.book,
            phrases,
            link,
            count,
            self.config.max_items,
        )
    }
}

/// The text with its first letter in upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
