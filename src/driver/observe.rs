//! What a vendor says about its tasks when asked: the reads (`Op::Query`, `Op::Find`) and
//! the run-state verbs (`Verb`) that act on a created task.
//!
//! Each vendor reports a task's state in its own enumeration (xfyeta's `status` 0–7,
//! Aliyun's `INIT`…`FINISH`, longlonglong's `enable` with `call_status`, Volcengine's
//! `State` integer). A driver maps its vendor's value into the small common set
//! [`Lifecycle`] and keeps the raw value beside it ([`Observed::raw`]), so that a mapping
//! chosen where the vendor's page is silent stays visible and can be corrected.

use serde::{Deserialize, Serialize};

/// A task's state at its vendor, in the common set every vendor's enumeration maps into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Created, never started: nobody is dialled.
    NotStarted,
    /// Started: the vendor dials (or waits for its calling hours, or a scheduled start).
    Running,
    /// Paused (by callform, a person in the console, or the vendor): nobody is dialled
    /// until it is resumed.
    Paused,
    /// Done: every callee was dialled.
    Finished,
    /// Terminated: it never dials again (irreversible on every vendor).
    Stopped,
    /// Deleted, or no longer known to the vendor.
    Deleted,
    /// A value the vendor's pages do not explain.
    Unknown,
}

impl Lifecycle {
    pub fn key(self) -> &'static str {
        match self {
            Lifecycle::NotStarted => "not_started",
            Lifecycle::Running => "running",
            Lifecycle::Paused => "paused",
            Lifecycle::Finished => "finished",
            Lifecycle::Stopped => "stopped",
            Lifecycle::Deleted => "deleted",
            Lifecycle::Unknown => "unknown",
        }
    }

    /// Whether the task can dial again (by itself or when resumed).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Lifecycle::Finished | Lifecycle::Stopped | Lifecycle::Deleted
        )
    }
}

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key().replace('_', " "))
    }
}

/// One task as its vendor reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub task_id: String,
    /// The vendor-visible name, where the answer carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: Lifecycle,
    /// The vendor's own value(s), as text (`"2"`, `"EXCUTING"`,
    /// `"enable=true call_status=false"`).
    pub raw: String,
    /// Callees dialled so far, where the vendor reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called: Option<u64>,
    /// Callees the task holds, where the vendor reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// When the vendor says it created the task, as it wrote it (for a lookup's window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Fields callform manages that the answer returned, keyed by their path in the
    /// canonical spec (`concurrency`, `recall.times`), valued as the canonical form
    /// writes them: what `refresh` compares with the state for drift. Never a callee
    /// number or value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, serde_json::Value)>,
}

/// A read's answer: the tasks it returned and whether more pages follow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub tasks: Vec<Observed>,
    /// A number list's page (`Op::Numbers`): the task's callee numbers on it.
    pub numbers: Numbers,
    /// The vendor's total of matches, where it reports one.
    pub total: Option<u64>,
    /// Whether another page may hold more (a full page, or a total larger than seen).
    pub more: bool,
}

/// Callee numbers as a vendor's number list wrote them, normalised (`+86`, spaces and
/// dashes taken off; a `number_add_suffix` suffix cut), in memory only: compared with
/// the numbers of a batch and dropped. Its `Debug` shows how many, never one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Numbers {
    /// The numbers read as full mainland numbers.
    pub clear: Vec<String>,
    /// Entries that are no full number (masked, encrypted, empty): a list with any of
    /// them cannot prove a number absent.
    pub unreadable: u64,
}

impl std::fmt::Debug for Numbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Numbers({} readable, {} unreadable)",
            self.clear.len(),
            self.unreadable
        )
    }
}

/// A run-state verb: what `status:` changes and `callform stop` send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    /// Stops dialling for now; resumable.
    Pause,
    /// Dials again after a pause.
    Resume,
    /// Ends the task for good: irreversible on every vendor.
    Stop,
}

impl Verb {
    pub fn key(self) -> &'static str {
        match self {
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Stop => "stop",
        }
    }

    /// The state a done verb leaves the task in.
    pub fn leaves(self) -> Lifecycle {
        match self {
            Verb::Pause => Lifecycle::Paused,
            Verb::Resume => Lifecycle::Running,
            Verb::Stop => Lifecycle::Stopped,
        }
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// How a vendor does a verb on a task in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerbRule {
    /// One request: its action or path, and what the plan must say about it (xfyeta's
    /// stop deletes the task).
    Send {
        action: &'static str,
        note: Option<&'static str>,
    },
    /// Nothing to send: the task is already where the verb would leave it.
    Already,
    /// The vendor documents no request for it from this state: why, and what a person can
    /// do instead.
    Missing {
        why: &'static str,
        instead: &'static str,
    },
}

/// The part of a verb's rule every vendor shares, or `None` where the vendor's own table
/// decides (a pause of a running task, a resume of a paused one, a stop of a live one):
/// - from [`Lifecycle::Unknown`] nothing is sent: callform cannot tell what the verb
///   would do there;
/// - a verb that would leave the task where it is is [`VerbRule::Already`];
/// - a stop of a task that is finished or deleted is `Already` too \[choice\]: it dials
///   nobody again, which is all a stop promises, so an orphan or a superseded task that
///   ended by itself needs no request and no person;
/// - a pause or a resume of a finished, stopped or deleted task is `Missing`: it never
///   dials again on any vendor;
/// - a pause of a task never started, or a resume of one, is `Missing`: it dials nobody,
///   and starting it is callform's start step (`status: running`), not a resume.
pub(crate) fn common_rule(verb: Verb, from: Lifecycle) -> Option<VerbRule> {
    if from == Lifecycle::Unknown {
        return Some(VerbRule::Missing {
            why: "the vendor reports a state callform cannot read, so what the verb would do is not known",
            instead: "check the task in the vendor's console (`callform refresh` shows the vendor's raw value)",
        });
    }
    if from == verb.leaves() {
        return Some(VerbRule::Already);
    }
    match (verb, from) {
        (Verb::Stop, f) if f.is_final() => Some(VerbRule::Already),
        (_, f) if f.is_final() => Some(VerbRule::Missing {
            why: "the task is finished, stopped or deleted at its vendor: it never dials again",
            instead: "create a new task (a new name) to call these people again",
        }),
        (Verb::Pause, Lifecycle::NotStarted) => Some(VerbRule::Missing {
            why: "the task was never started: it dials nobody, so there is nothing to pause",
            instead: "leave it; `status: running` starts it when it should dial",
        }),
        (Verb::Resume, Lifecycle::NotStarted) => Some(VerbRule::Missing {
            why: "a resume continues a paused task; this one was never started",
            instead: "`status: running` starts it through callform's start step",
        }),
        _ => None,
    }
}

/// Whether another page may follow page `page` (from 1) of `size` rows that returned
/// `seen` rows: the vendor's total says so when it gives one, a full page otherwise.
pub(crate) fn more_pages(page: u32, size: u64, seen: usize, total: Option<u64>) -> bool {
    match total {
        Some(total) => u64::from(page).saturating_mul(size) < total,
        None => seen as u64 >= size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_rule_leaves_live_transitions_to_the_vendor() {
        use Lifecycle::*;
        assert_eq!(common_rule(Verb::Pause, Running), None);
        assert_eq!(common_rule(Verb::Resume, Paused), None);
        for from in [Running, Paused, NotStarted] {
            assert_eq!(common_rule(Verb::Stop, from), None);
        }
        assert_eq!(common_rule(Verb::Stop, Finished), Some(VerbRule::Already));
        assert!(matches!(
            common_rule(Verb::Resume, Deleted),
            Some(VerbRule::Missing { .. })
        ));
        assert!(matches!(
            common_rule(Verb::Stop, Unknown),
            Some(VerbRule::Missing { .. })
        ));
    }

    #[test]
    fn more_pages_trusts_the_total_then_a_full_page() {
        assert!(more_pages(1, 50, 50, Some(51)));
        assert!(!more_pages(2, 50, 1, Some(51)));
        assert!(!more_pages(1, 50, 3, Some(3)));
        assert!(more_pages(1, 50, 50, None));
        assert!(!more_pages(1, 50, 49, None));
        assert!(!more_pages(u32::MAX, u64::MAX, 0, Some(1)));
    }
}
