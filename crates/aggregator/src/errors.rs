//! Errors merged: failures grouped by tool and kind, one line for people, one sentence to say.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use volley_executor::{ErrorKind, Status};

use crate::batch::Batch;
use crate::describe::{Skip, explain};
use crate::human::{Units, and_list, human_ms};

/// How many groups the spoken summary names before `and 2 other calls`.
const SPOKEN_GROUPS: usize = 3;

/// What went wrong in a batch, merged.
///
/// Calls that did not succeed are grouped by tool and error kind, in plan order of each
/// group's first call. A call skipped because its `when` condition was false did what the
/// plan asked and is not counted as a failure here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorSummary {
    /// Calls in the batch.
    pub total: usize,
    /// Calls that did not succeed (condition skips excepted).
    pub unsuccessful: usize,
    /// The groups, in plan order of their first call.
    pub groups: Vec<ErrorGroup>,
    /// One line for people and logs:
    /// `2 of 4 calls failed: get_weather timed out after 3 s; check_crm failed: HTTP 503`.
    pub line: String,
    /// A short sentence a voice agent can say: tool phrases and what happened, never
    /// arguments, outputs or error messages (they may hold secrets):
    /// `2 of 4 calls didn't work: get weather took too long and check crm failed.`
    pub spoken: String,
}

/// Calls of one tool that failed the same way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorGroup {
    /// The tool.
    pub tool: Arc<str>,
    /// The error kind.
    pub kind: ErrorKind,
    /// The status of the group's first call.
    pub status: Status,
    /// The calls, in plan order.
    pub ids: Vec<Arc<str>>,
    /// The group in words: `check_crm failed: HTTP 503 (3 calls)`.
    pub line: String,
}

impl ErrorSummary {
    pub(crate) fn of(batch: &Batch<'_>) -> ErrorSummary {
        let config = batch.config;
        let mut keys: HashMap<(&str, ErrorKind), usize> = HashMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (row, outcome) in batch.iter().enumerate() {
            if outcome.status == Status::Ok
                || (outcome.status == Status::Skipped && Skip::of(outcome) == Skip::Condition)
            {
                continue;
            }
            let kind = outcome.error_kind().unwrap_or(ErrorKind::Permanent);
            let group = *keys.entry((&*outcome.tool, kind)).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            members[group].push(row);
        }
        let groups: Vec<ErrorGroup> = members
            .iter()
            .map(|rows| {
                let first = batch.outcome(rows[0]);
                ErrorGroup {
                    tool: Arc::clone(&first.tool),
                    kind: first.error_kind().unwrap_or(ErrorKind::Permanent),
                    status: first.status,
                    ids: rows
                        .iter()
                        .map(|&row| Arc::clone(&batch.outcome(row).id))
                        .collect(),
                    line: group_line(batch, rows),
                }
            })
            .collect();
        let total = batch.len();
        let unsuccessful: usize = members.iter().map(Vec::len).sum();
        let line = if total == 0 {
            format!("no {} to run", config.plural)
        } else if unsuccessful == 0 {
            let ok = batch.iter().filter(|o| o.status == Status::Ok).count();
            match total - ok {
                0 if total == 1 => format!("the {} succeeded", config.singular),
                0 => format!("all {total} {} succeeded", config.plural),
                skipped => format!(
                    "{ok} of {total} {} succeeded; {skipped} skipped because {} condition was false",
                    config.plural,
                    if skipped == 1 { "its" } else { "their" }
                ),
            }
        } else {
            let lines: Vec<&str> = groups.iter().map(|g| g.line.as_str()).collect();
            format!(
                "{unsuccessful} of {total} {} failed: {}",
                config.noun(total),
                lines.join("; ")
            )
        };
        let spoken = spoken(batch, &groups, total, unsuccessful);
        ErrorSummary {
            total,
            unsuccessful,
            groups,
            line,
            spoken,
        }
    }

    /// Whether every call succeeded (or was skipped by its condition).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

impl fmt::Display for ErrorSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// A group's line: its call's sentence, or its calls' when they all say the same, with how many.
fn group_line(batch: &Batch<'_>, rows: &[usize]) -> String {
    let config = batch.config;
    let first = batch.outcome(rows[0]);
    let sentence = |row| explain(batch, row, Units::People).unwrap_or_default();
    let lead = sentence(rows[0]);
    let n = rows.len();
    if n == 1 {
        return lead;
    }
    if first.status == Status::Timeout && first.error_kind() == Some(ErrorKind::Timeout) {
        let longest = rows
            .iter()
            .map(|&row| batch.outcome(row).duration_ms)
            .max()
            .unwrap_or(0);
        return format!(
            "{} timed out after up to {} ({n} {})",
            first.tool,
            human_ms(longest),
            config.noun(n)
        );
    }
    if rows[1..].iter().all(|&row| sentence(row) == lead) {
        format!("{lead} ({n} {})", config.noun(n))
    } else {
        format!("{lead} (and {} more {})", n - 1, config.noun(n - 1))
    }
}

/// The sentence to say: which tools did not work and how, in plain words.
fn spoken(batch: &Batch<'_>, groups: &[ErrorGroup], total: usize, unsuccessful: usize) -> String {
    let config = batch.config;
    if total == 0 {
        return "There was nothing to do.".to_owned();
    }
    if unsuccessful == 0 {
        return "Everything worked.".to_owned();
    }
    let mut parts: Vec<String> = groups
        .iter()
        .take(SPOKEN_GROUPS)
        .map(|group| {
            let verb = match (group.status, group.kind) {
                (Status::Timeout, _) => "took too long",
                (Status::Cancelled, _) => "was cancelled",
                (Status::Skipped, ErrorKind::DeadlineExceeded) => "ran out of time",
                (Status::Skipped, _) => "couldn't run",
                _ => "failed",
            };
            format!("{} {verb}", config.phrase(&group.tool))
        })
        .collect();
    let named: usize = groups.iter().take(SPOKEN_GROUPS).map(|g| g.ids.len()).sum();
    if unsuccessful > named {
        let rest = unsuccessful - named;
        parts.push(format!("{rest} other {} didn't work", config.noun(rest)));
    }
    let list = and_list(&parts);
    let sentence = if total == 1 {
        format!("The {} didn't work: {list}.", config.singular)
    } else if unsuccessful == total {
        format!("None of the {total} {} worked: {list}.", config.plural)
    } else {
        format!(
            "{unsuccessful} of {total} {} didn't work: {list}.",
            config.plural
        )
    };
    capitalize(sentence)
}

fn capitalize(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
}
