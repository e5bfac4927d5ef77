//! Who is told, in which order and how soon, per alert level (see CLINICAL.md: critical reaches
//! the on-duty caregiver and the family at once and escalates within minutes; urgent reaches the
//! primary caregiver and escalates within the hour; warning and info go to the worklist).

use crate::rules::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The caregiver on duty for the resident's grid (any caregiver in scope when no shift is set).
    Primary,
    Backup,
    Supervisor,
    /// The resident's care circle.
    Family,
}

impl Target {
    pub fn tier(self) -> Option<&'static str> {
        match self {
            Target::Primary => Some("primary"),
            Target::Backup => Some("backup"),
            Target::Supervisor => Some("supervisor"),
            Target::Family => None,
        }
    }
}

/// One step of an escalation chain: whom to notify, and how long to wait for an
/// acknowledgement before the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub targets: &'static [Target],
    pub wait_min: i64,
}

/// The chain of a level, and the reminder interval once the chain is exhausted (None: no
/// reminders).
pub fn chain(level: Level) -> (&'static [Step], Option<i64>) {
    use Target::*;
    match level {
        Level::Critical => (
            &[
                Step { targets: &[Primary, Family], wait_min: 5 },
                Step { targets: &[Backup], wait_min: 5 },
                Step { targets: &[Supervisor], wait_min: 10 },
            ],
            Some(5),
        ),
        Level::Urgent => (
            &[
                Step { targets: &[Primary], wait_min: 60 },
                Step { targets: &[Backup], wait_min: 60 },
                Step { targets: &[Supervisor], wait_min: 60 },
            ],
            Some(30),
        ),
        Level::Warning | Level::Info => (&[Step { targets: &[Primary], wait_min: 0 }], None),
    }
}

/// What to do at escalation step `step` (0-based): whom to notify, and when the next step is
/// due (None: nothing more).
pub fn at_step(level: Level, step: i64) -> (&'static [Target], Option<i64>) {
    let (steps, reminder) = chain(level);
    let i = step.max(0) as usize;
    match steps.get(i) {
        Some(s) => {
            let last = i + 1 == steps.len();
            let next = if last && reminder.is_none() { None } else { Some(s.wait_min) };
            (s.targets, next)
        }
        // Reminders: everyone the chain reached.
        None => (REMINDER_TARGETS, reminder),
    }
}

const REMINDER_TARGETS: &[Target] = &[Target::Primary, Target::Backup, Target::Supervisor];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_walks_the_chain_then_reminds() {
        assert_eq!(at_step(Level::Critical, 0), (&[Target::Primary, Target::Family][..], Some(5)));
        assert_eq!(at_step(Level::Critical, 1), (&[Target::Backup][..], Some(5)));
        assert_eq!(at_step(Level::Critical, 2), (&[Target::Supervisor][..], Some(10)));
        assert_eq!(at_step(Level::Critical, 3).1, Some(5));
    }

    #[test]
    fn warning_goes_to_the_worklist_once() {
        assert_eq!(at_step(Level::Warning, 0), (&[Target::Primary][..], None));
        assert_eq!(at_step(Level::Info, 0).1, None);
    }
}
