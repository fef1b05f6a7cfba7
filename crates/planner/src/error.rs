//! Errors and warnings: each names the call, the field and the problem.

use std::fmt;

use serde::Serialize;

/// What kind of problem a [`PlanError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not JSON at all.
    Json,
    /// The input's shape is not a plan nor a provider response Volley knows.
    Format,
    /// A field has the wrong JSON type.
    WrongType,
    /// A required field is missing.
    MissingField,
    /// A field Volley does not know (often a typo).
    UnknownField,
    /// A value is out of its allowed set or range.
    InvalidValue,
    /// A call id is empty or contains a reserved character.
    InvalidId,
    /// Two calls share one id.
    DuplicateId,
    /// A `$` reference that cannot be parsed.
    MalformedReference,
    /// A reference or `depends_on` entry names no call of the plan.
    UnknownCall,
    /// A call depends on itself.
    SelfDependency,
    /// The dependencies form a cycle.
    Cycle,
}

/// Where a problem lies: the call's position in the plan and, when known, its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallLocation {
    /// 0-based position in the plan's `calls` array.
    pub index: usize,
    /// The call's id, when it has a usable one.
    pub id: Option<String>,
}

/// One problem in a plan.
///
/// Displays as `PATH (call `ID`): MESSAGE`, for example
/// ``calls[2].args.contact_id (call `send_invite`): unknown call `find_contac` in reference `$find_contac.id`; did you mean `find_contact`?``
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanError {
    /// The kind of problem.
    pub kind: ErrorKind,
    /// JSON path of the offending value, such as `calls[2].args.contact_id` (empty for the whole input).
    pub path: String,
    /// The call involved, if any.
    pub call: Option<CallLocation>,
    /// What is wrong, for a person (and a model) to act on.
    pub message: String,
}

impl PlanError {
    pub(crate) fn new(
        kind: ErrorKind,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PlanError {
            kind,
            path: path.into(),
            call: None,
            message: message.into(),
        }
    }

    pub(crate) fn at_call(mut self, index: usize, id: Option<&str>) -> Self {
        self.call = Some(CallLocation {
            index,
            id: id.map(str::to_owned),
        });
        self
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "input"
        } else {
            self.path.as_str()
        };
        match self.call.as_ref().and_then(|c| c.id.as_deref()) {
            Some(id) => write!(f, "{path} (call `{id}`): {}", self.message),
            None => write!(f, "{path}: {}", self.message),
        }
    }
}

impl std::error::Error for PlanError {}

/// Every problem found in a plan, in the order of the calls they concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct PlanErrors(pub Vec<PlanError>);

impl PlanErrors {
    /// The problems, one per entry.
    pub fn iter(&self) -> std::slice::Iter<'_, PlanError> {
        self.0.iter()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no problems (never true for an error returned by the planner).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<PlanError> for PlanErrors {
    fn from(error: PlanError) -> Self {
        PlanErrors(vec![error])
    }
}

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a PlanErrors {
    type Item = &'a PlanError;
    type IntoIter = std::slice::Iter<'a, PlanError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Something legal but probably not what the author meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// JSON path of the value concerned (empty for the whole plan).
    pub path: String,
    /// What looks wrong.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The closest of `candidates` to `name` by edit distance, if any is close enough to be a
/// plausible typo. Used for "did you mean" hints on unknown ids, fields and tools.
pub fn closest_names<'a, I>(name: &str, candidates: I, max: usize) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &'a str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let d = edit_distance(name, c);
            // A name inside the other counts too (`crm` for `check_crm`), if it is not too short.
            let (short, long) = if c.len() < name.len() {
                (c, name)
            } else {
                (name, c)
            };
            let contains = short.chars().count() >= 3 && long.contains(short);
            (d <= limit || contains).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(max).map(|(_, c)| c).collect()
}

/// Levenshtein distance over chars, in O(len(a) * len(b)) time and O(len(b)) space.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Formats a "did you mean" suffix, or nothing when there is no close name.
pub(crate) fn did_you_mean<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let close = closest_names(name, candidates, 3);
    match close.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            let list: Vec<String> = many.iter().map(|c| format!("`{c}`")).collect();
            format!("; did you mean one of {}?", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        for (a, b, d) in [
            ("", "", 0),
            ("abc", "abc", 0),
            ("abc", "abd", 1),
            ("abc", "ab", 1),
            ("ab", "abc", 1),
            ("kitten", "sitting", 3),
            ("depends_on", "dependson", 1),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} vs {b}");
        }
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["find_contact", "check_crm", "send_invite"];
        assert_eq!(closest_names("find_contac", names, 3), vec!["find_contact"]);
        assert_eq!(closest_names("weather", names, 3), Vec::<&str>::new());
        assert_eq!(
            did_you_mean("check_cmr", names),
            "; did you mean `check_crm`?"
        );
        assert_eq!(did_you_mean("zzz", names), "");
    }

    #[test]
    fn display_names_path_call_and_problem() {
        let e = PlanError::new(
            ErrorKind::UnknownCall,
            "calls[2].args.x",
            "unknown call `y`",
        )
        .at_call(2, Some("send"));
        assert_eq!(
            e.to_string(),
            "calls[2].args.x (call `send`): unknown call `y`"
        );
        let e = PlanError::new(ErrorKind::Json, "", "invalid JSON at line 1, column 2");
        assert_eq!(e.to_string(), "input: invalid JSON at line 1, column 2");
    }
}
