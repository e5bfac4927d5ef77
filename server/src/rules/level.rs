//! Alert levels (CLINICAL.md, "Alert levels").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How soon a person must act. Ordered: `Critical` is the highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Equipment and data: low battery, a device not worn, a gateway offline.
    Info,
    /// A trend to look at: weight gain, resting heart rate drifting up, activity falling.
    Warning,
    /// Needs a person today, soon: fever, partial NEWS2 5–6 or a parameter scoring 3, a sustained
    /// deviation from the personal baseline.
    Urgent,
    /// A life may be at risk now: a fall not cancelled, a guard-rail crossed, partial NEWS2 ≥ 7.
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Info, Level::Warning, Level::Urgent, Level::Critical];

    /// The wire and storage name, e.g. `urgent`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Urgent => "urgent",
            Level::Critical => "critical",
        }
    }

    /// The level named `s` (as written by [`Level::as_str`]).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::parse(s).ok_or_else(|| format!("unknown level `{s}` (expected info, warning, urgent or critical)"))
    }
}
