//! Priorities: who is served first when capacity frees up.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParsePriorityError;

/// How urgent a request is: waiters are served most urgent first, then in arrival order.
///
/// The ordering follows urgency: `Priority::Critical > Priority::Background`.
/// Serialized in lowercase (`"critical"` … `"background"`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Served last: work nobody is waiting for.
    Background,
    /// Below normal.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Above normal.
    High,
    /// Served before everything else.
    Critical,
}

impl Priority {
    /// Every priority, most urgent first: the order in which waiters are served.
    pub const ALL: [Priority; 5] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
        Priority::Background,
    ];

    /// The lowercase name, as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
            Priority::Background => "background",
        }
    }

    /// Index into the wait queues: 0 is served first.
    pub(crate) const fn rank(self) -> usize {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
            Priority::Background => 4,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = ParsePriorityError;

    /// Parses a lowercase name such as `"critical"` (ASCII case is ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParsePriorityError {
                input: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_urgency_and_rank_serves_critical_first() {
        assert!(Priority::Critical > Priority::High);
        assert!(Priority::Low > Priority::Background);
        let ranks: Vec<_> = Priority::ALL.iter().map(|p| p.rank()).collect();
        assert_eq!(ranks, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for p in Priority::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), p);
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), p);
        }
        assert_eq!("HIGH".parse::<Priority>().unwrap(), Priority::High);
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(err.input, "urgent");
        assert!(err.to_string().contains("urgent"));
    }
}
