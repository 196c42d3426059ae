//! Adoption: an uncertain create resolved by looking its task up at the vendor.
//!
//! A create whose answer was never recorded may or may not have made a task. `plan
//! --refresh` (and `apply` when it plans for itself) looks it up by its vendor-visible
//! name, the names compared exactly on the client; [`decide`] turns what was found into
//! the plan's action, and never guesses:
//!
//! - exactly one task of exactly that name, created within the window the create was sent
//!   in (where the vendor's listing reports a creation time): `adopt` it — apply records
//!   the vendor's id, and sends nothing to create it;
//! - two or more, one created outside the window, or one whose creation time cannot be
//!   read: it stays `uncertain`, the candidates listed for a person;
//! - none: it stays `uncertain` ("not found, but the listing is not proof"). No vendor's
//!   listing proves absence \[choice\]: none of the four documents its name search as
//!   exact and complete (xfyeta's is fuzzy; longlonglong's, Aliyun's and Volcengine's
//!   matches are not stated, and longlonglong lists sub-accounts' tasks elsewhere), so an
//!   uncertain create is never planned as a create again: a person settles it with
//!   `state rm` (it does not exist) or `state import`. A vendor that one day documents a
//!   complete listing needs a create-again decision here and an apply that creates over
//!   an uncertain record (the journal's replay refuses an intent for a name already in
//!   state, `FoldError::AlreadyInState`), both tested, before it plans one;
//! - a lookup that failed: it stays `uncertain`, with the reason.
//!
//! Validation makes vendor-visible names unique per provider, which is what makes "one
//! task of that name" mean "this task" (a person may still create one by hand in the
//! console: the window guards against that where the vendor reports creation times).

use serde::{Deserialize, Serialize};

use crate::driver::{Lifecycle, Observed};
use crate::manifest::Vendor;

/// How far the vendor's clock may be from callform's \[choice\]: a creation time up to this
/// long before the intent was recorded, or after the create's answer could have come, is
/// still in the window.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// How long after its intent a create may have reached the vendor \[choice\]: the longest
/// request timeout callform allows a provider, with room for a slow connect. A create is
/// never retried, so nothing later can be it.
pub const SENT_WITHIN_SECS: i64 = 600;

/// Where a vendor's listing reports a creation time, and the zone of its wall clock, is
/// each vendor's own fact ([`crate::driver::creation_time_utc_offset`]): Aliyun's
/// `createTime` and longlonglong's `create_datetime` (the vendor's clock); xfyeta's rows report
/// start and finish times and Volcengine's its schedule, not creation, so there the name
/// alone decides.
fn creation_zone(vendor: Vendor) -> Option<jiff::tz::TimeZone> {
    crate::driver::creation_time_utc_offset(vendor)
        .map(|h| jiff::tz::TimeZone::fixed(jiff::tz::offset(h)))
}

/// One task a lookup found with exactly the vendor-visible name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub task_id: String,
    pub status: Lifecycle,
    /// The vendor's own status value.
    pub raw: String,
    /// When the vendor says it created the task, as it wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl Candidate {
    pub fn of(o: &Observed) -> Candidate {
        Candidate {
            task_id: o.task_id.clone(),
            status: o.status,
            raw: o.raw.clone(),
            created: o.created.clone(),
        }
    }

    /// `task 42 (running, EXCUTING, created 2026-12-02 10:00:00)`.
    pub fn line(&self) -> String {
        let created = self
            .created
            .as_deref()
            .map(|c| format!(", created {c}"))
            .unwrap_or_default();
        format!(
            "task {} ({}, {}{created})",
            self.task_id, self.status, self.raw
        )
    }
}

/// What a lookup by name found, as a plan carries it (and a saved plan's apply records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Lookup {
    /// The listing answered: the tasks of exactly that name.
    Listed {
        candidates: Vec<Candidate>,
        /// When the lookup was made (RFC 3339 UTC).
        at: String,
    },
    /// The lookup failed: nothing is known.
    Failed { reason: String, at: String },
}

/// What the plan does with an uncertain create, given its lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Record the task with this id; `how` says how it was found.
    Adopt { task_id: String, how: String },
    /// It stays uncertain: why, and the candidates a person should look at.
    Uncertain {
        why: String,
        candidates: Vec<Candidate>,
    },
}

/// Decides an uncertain create of `vendor`, whose intent was recorded at `intent_at`
/// (RFC 3339), by its lookup.
///
/// `recorded` names the ids callform already records (another task's, or a task this one
/// replaced — a replacement has the vendor-visible name of the task it supersedes): such a
/// candidate is never this create, whatever its name.
pub fn decide(
    vendor: Vendor,
    visible: &str,
    intent_at: &str,
    lookup: &Lookup,
    recorded: &dyn Fn(&str) -> Option<String>,
) -> Decision {
    let (candidates, at) = match lookup {
        Lookup::Failed { reason, at } => {
            return Decision::Uncertain {
                why: format!("the lookup by name at {at} failed: {reason}"),
                candidates: Vec::new(),
            }
        }
        Lookup::Listed { candidates, at } => (candidates, at),
    };
    let mut known = Vec::new();
    let candidates: Vec<Candidate> = candidates
        .iter()
        .filter(|c| match recorded(&c.task_id) {
            Some(whose) => {
                known.push(format!("task {} is {whose}", c.task_id));
                false
            }
            None => true,
        })
        .cloned()
        .collect();
    let decision = decide_among(vendor, visible, intent_at, &candidates, at);
    if known.is_empty() {
        return decision;
    }
    let left_out = format!(" (left out, already in the state: {})", known.join("; "));
    match decision {
        Decision::Adopt { task_id, how } => Decision::Adopt {
            task_id,
            how: how + &left_out,
        },
        Decision::Uncertain { why, candidates } => Decision::Uncertain {
            why: why + &left_out,
            candidates,
        },
    }
}

fn decide_among(
    vendor: Vendor,
    visible: &str,
    intent_at: &str,
    candidates: &[Candidate],
    at: &str,
) -> Decision {
    match candidates {
        [] => Decision::Uncertain {
            why: format!(
                "looked up by name at {at}: no task named `{visible}` was found, but the {vendor} listing is not proof that there is none (it may lag or be incomplete)"
            ),
            candidates: Vec::new(),
        },
        [one] => match window(vendor, intent_at, one) {
            Ok(window) => Decision::Adopt {
                task_id: one.task_id.clone(),
                how: format!(
                    "looked up by name at {at}: exactly one {vendor} task is named `{visible}`, task {} ({}){window}",
                    one.task_id, one.status
                ),
            },
            Err(why) => Decision::Uncertain {
                why: format!("looked up by name at {at}: one task named `{visible}`, but {why}"),
                candidates: candidates.to_vec(),
            },
        },
        many => Decision::Uncertain {
            why: format!(
                "looked up by name at {at}: {} tasks are named `{visible}`; callform cannot tell which one (if any) its create made, and never guesses",
                many.len()
            ),
            candidates: candidates.to_vec(),
        },
    }
}

/// Whether `one` was created within the window of a create whose intent is `intent_at`:
/// `Ok` with the words the plan shows, `Err` with why it cannot be taken for it.
fn window(vendor: Vendor, intent_at: &str, one: &Candidate) -> Result<String, String> {
    let Some(zone) = creation_zone(vendor) else {
        return Ok(format!(
            "; the {vendor} listing reports no creation time, so the name alone decides"
        ));
    };
    let intent: jiff::Timestamp = intent_at
        .parse()
        .map_err(|_| format!("the create's time in the state ({intent_at}) cannot be read"))?;
    let Some(created) = one.created.as_deref() else {
        return Err(
            "the vendor reported no creation time for it, so it cannot be placed in the create's window"
                .into(),
        );
    };
    let created_at = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", created)
        .ok()
        .and_then(|c| c.to_zoned(zone).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| format!("its creation time `{created}` cannot be read"))?;
    let from = intent.saturating_sub(jiff::SignedDuration::from_secs(CLOCK_SKEW_SECS));
    let to = intent.saturating_add(jiff::SignedDuration::from_secs(
        SENT_WITHIN_SECS + CLOCK_SKEW_SECS,
    ));
    match (from, to) {
        (Ok(from), Ok(to)) if created_at >= from && created_at <= to => Ok(format!(
            ", created {created} (the vendor's clock), within the window of the create sent at {intent_at}"
        )),
        _ => Err(format!(
            "it was created {created} (the vendor's clock), outside the window of the create sent at {intent_at}: it may be another task of that name"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, created: Option<&str>) -> Candidate {
        Candidate {
            task_id: id.into(),
            status: Lifecycle::NotStarted,
            raw: "INIT".into(),
            created: created.map(str::to_string),
        }
    }

    fn listed(c: Vec<Candidate>) -> Lookup {
        Lookup::Listed {
            candidates: c,
            at: "2026-12-02T10:30:00Z".into(),
        }
    }

    const SENT: &str = "2026-12-02T10:00:00Z";

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_task_the_state_records_is_never_the_create_found() {
        // A replacement has the vendor-visible name of the task it supersedes.
        let old = |id: &str| (id == "7").then(|| "the task `t` replaced".to_string());
        let d = decide(
            Vendor::Xfyeta,
            "n",
            SENT,
            &listed(vec![cand("7", None)]),
            &old,
        );
        assert!(
            matches!(d, Decision::Uncertain { ref why, ref candidates } if candidates.is_empty() && why.contains("task 7 is the task `t` replaced")),
            "{d:?}"
        );
        let d = decide(
            Vendor::Xfyeta,
            "n",
            SENT,
            &listed(vec![cand("7", None), cand("8", None)]),
            &old,
        );
        assert!(
            matches!(d, Decision::Adopt { ref task_id, ref how } if task_id == "8" && how.contains("left out")),
            "{d:?}"
        );
    }

    #[test]
    fn one_match_without_creation_times_is_adopted_by_name() {
        let d = decide(
            Vendor::Xfyeta,
            "n",
            SENT,
            &listed(vec![cand("7", None)]),
            &none,
        );
        assert!(
            matches!(d, Decision::Adopt { ref task_id, ref how } if task_id == "7" && how.contains("name alone"))
        );
    }

    #[test]
    fn one_match_inside_the_window_is_adopted() {
        // 18:01 Beijing is 10:01 UTC.
        let d = decide(
            Vendor::Aliyun,
            "n",
            SENT,
            &listed(vec![cand("9", Some("2026-12-02 18:01:00"))]),
            &none,
        );
        assert!(matches!(d, Decision::Adopt { ref task_id, .. } if task_id == "9"));
    }

    #[test]
    fn one_match_outside_the_window_or_without_a_time_stays_uncertain() {
        for created in [Some("2026-12-01 18:01:00"), Some("garbage"), None] {
            let d = decide(
                Vendor::Longlonglong,
                "n",
                SENT,
                &listed(vec![cand("9", created)]),
                &none,
            );
            assert!(
                matches!(d, Decision::Uncertain { ref candidates, .. } if candidates.len() == 1),
                "{created:?}: {d:?}"
            );
        }
    }

    #[test]
    fn two_matches_stay_uncertain_with_both_listed() {
        let d = decide(
            Vendor::Xfyeta,
            "n",
            SENT,
            &listed(vec![cand("1", None), cand("2", None)]),
            &none,
        );
        assert!(
            matches!(d, Decision::Uncertain { ref candidates, ref why } if candidates.len() == 2 && why.contains("never guesses"))
        );
    }

    #[test]
    fn none_found_is_no_proof() {
        let d = decide(Vendor::Volcengine, "n", SENT, &listed(vec![]), &none);
        assert!(
            matches!(d, Decision::Uncertain { ref why, .. } if why.contains("not proof")),
            "{d:?}"
        );
    }

    #[test]
    fn a_failed_lookup_stays_uncertain_with_its_reason() {
        let d = decide(
            Vendor::Aliyun,
            "n",
            SENT,
            &Lookup::Failed {
                reason: "HTTP 500".into(),
                at: "2026-12-02T10:30:00Z".into(),
            },
            &none,
        );
        assert!(matches!(d, Decision::Uncertain { ref why, .. } if why.contains("HTTP 500")));
    }
}
