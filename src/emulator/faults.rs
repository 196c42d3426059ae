//! Fault injection: the global shares in [`Faults`] (drawn per request) and the
//! per-request rules tests add at run time through `POST /_emulator/faults`.
//!
//! Rules are matched on a substring of the vendor-visible task name, so tests running in
//! parallel against one emulator each fault only their own tasks; a load or a start
//! names its task by id, and the rule matches the name of the task with that id. A rule
//! applies to one operation (`op`: `create`, the default, so rules written before loads
//! and starts existed keep their meaning; `load`; `start`; the reads `query` (one task
//! by id) and `find` (a listing; a rule matches the name searched for, or every listing
//! with `""`); the verbs `pause`, `resume`, `stop`, `delete`, `update`; or `any`), to one load call
//! when it gives `batch` (the task's N-th load call from 0, counting the calls that
//! passed every check), and to the next `times` matching requests (unlimited when
//! `times` is absent). Rules win over the global shares, which apply to every operation.
//! Faults are decided only for requests that passed authentication and validation: an
//! invalid or refused request is answered as such and never uses up a rule.
//!
//! What each kind does (see `step.rs`): `throttle` and `business_error` answer the
//! vendor's error and do nothing; `5xx`, `reset` and `hang_after_create` (alias
//! `hang_after_accept`) do the step first — create the task, store the batch, start
//! the task, apply the verb — the cases where a client cannot know whether its step
//! happened. A read changes nothing, so for it they are only a failed answer.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Global faults, applied to every vendor request. `Default` is no fault at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Added before every vendor API request is handled.
    pub latency: Duration,
    /// Share (0..=1) of requests answered HTTP 500 after the step was done (the task
    /// created, the batch stored, the task started).
    pub error_5xx_rate: f64,
    /// Share of requests answered with the vendor's throttling error (nothing done).
    pub throttle_rate: f64,
    /// Share of requests whose connection is reset after the step was done.
    pub reset_rate: f64,
    /// Share of requests answered only after `hang`, the step already done.
    pub hang_after_create_rate: f64,
    /// How long a `hang_after_create` waits before answering.
    pub hang: Duration,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            latency: Duration::ZERO,
            error_5xx_rate: 0.0,
            throttle_rate: 0.0,
            reset_rate: 0.0,
            hang_after_create_rate: 0.0,
            hang: Duration::from_secs(30),
        }
    }
}

impl Faults {
    /// Refuses shares outside 0..=1 (or NaN), naming the field.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, rate) in self.rates() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "emulator fault {name} must be between 0 and 1, got {rate}"
                ));
            }
        }
        Ok(())
    }

    fn rates(&self) -> [(&'static str, f64); 4] {
        [
            ("throttle_rate", self.throttle_rate),
            ("error_5xx_rate", self.error_5xx_rate),
            ("reset_rate", self.reset_rate),
            ("hang_after_create_rate", self.hang_after_create_rate),
        ]
    }

    /// One draw per kind, in the order throttle, 5xx, reset, hang: the first that hits
    /// wins, so a throttled request is never also a 5xx.
    pub(crate) fn draw(&self) -> Option<FaultKind> {
        let kinds = [
            FaultKind::Throttle,
            FaultKind::ServerError,
            FaultKind::Reset,
            FaultKind::HangAfterCreate,
        ];
        kinds
            .into_iter()
            .zip(self.rates())
            .find(|(_, (_, rate))| *rate > 0.0 && random_unit() < *rate)
            .map(|(kind, _)| kind)
    }
}

/// A fault a request can meet. "The step" is what the request asks for: create the
/// task, store the batch, or start the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// Does the step, then answers HTTP 500.
    #[serde(rename = "5xx")]
    ServerError,
    /// Answers the vendor's throttling error; does nothing.
    #[serde(rename = "throttle")]
    Throttle,
    /// Does the step, then drops the connection without an answer.
    #[serde(rename = "reset")]
    Reset,
    /// Does the step, then waits `Faults::hang` before answering.
    #[serde(rename = "hang_after_create", alias = "hang_after_accept")]
    HangAfterCreate,
    /// Answers the vendor's business error; does nothing.
    #[serde(rename = "business_error")]
    BusinessError,
    /// Answers the rule's `status` and `body` as given, after doing the step when the
    /// rule's `create` (alias `apply`) is true (the default) — a vendor answer of any shape.
    #[serde(rename = "answer")]
    Answer,
    /// Does the step, then answers HTTP 200 with the vendor's success followed by
    /// `size` bytes of whitespace (default 64 MiB): an answer larger than a client should read.
    #[serde(rename = "oversized_body")]
    OversizedBody,
}

/// The operation a request is, as fault rules and `GET /_emulator/requests` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOp {
    /// A task create (the default of a rule).
    Create,
    /// A batch of callees (xfyeta `task/insert`, longlonglong `…/number`, Aliyun
    /// `UploadRobotTaskCalledFile`, Volcengine `BatchAppend`).
    Load,
    /// A start (xfyeta `task/start`, Aliyun `StartRobotTask`) of a task never started.
    Start,
    /// A read of one task by id (xfyeta `task/query` with `task_id`, longlonglong
    /// `…/task/{id}/edit`, Aliyun `QueryRobotTaskDetail`).
    Query,
    /// A listing, by name or not (xfyeta `task/query` without `task_id`, longlonglong
    /// `GET …/task`, Aliyun `QueryRobotTaskList`, Volcengine `QueryTaskList`).
    Find,
    /// A pause (xfyeta `task/pause`, longlonglong `task_stop`, Aliyun `StopRobotTask`,
    /// Volcengine `PauseTask`).
    Pause,
    /// A start of a task started before (xfyeta `task/start`, Aliyun `StartRobotTask`),
    /// or Volcengine `ResumeTask`.
    Resume,
    /// A stop for good (Aliyun `CancelRobotTask` and `CancelOrderRobotTask`, Volcengine
    /// `StopTask`).
    Stop,
    /// A delete (xfyeta `task/delete`, longlonglong `DELETE …/task/{id}`, Aliyun
    /// `DeleteRobotTask`).
    Delete,
    /// An update in place (longlonglong `PUT …/task/{id}`, Volcengine `UpdateTask`).
    Update,
    /// A page of a task's number list (longlonglong `GET …/task/{id}/number`).
    Numbers,
    /// A rule only: every operation.
    Any,
}

/// What an `oversized_body` answer adds when the rule gives no `size`.
pub(crate) const DEFAULT_OVERSIZE: usize = 64 * 1024 * 1024;
/// The most an `oversized_body` rule may ask for.
pub(crate) const MAX_OVERSIZE: usize = 1024 * 1024 * 1024;

/// A run-time rule: `{"match": "<substring of the task name>", "kind": "...", "times": N}`,
/// optionally `"op": "create"|"load"|"start"|"query"|"find"|"pause"|"resume"|"stop"|"delete"|"update"|"numbers"|"any"` and, with `load`, `"batch": N`; for
/// `answer` also `"status": 400, "body": "...", "create": false`; for `oversized_body`
/// optionally `"size": BYTES`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Substring of the vendor-visible task name; `""` matches every task.
    #[serde(rename = "match")]
    pub pattern: String,
    pub kind: FaultKind,
    /// How many more matching requests it applies to; `None` = every one.
    #[serde(default)]
    pub times: Option<u64>,
    /// The operation it applies to; `None` = `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<FaultOp>,
    /// With `op: load`: only the task's N-th load call (from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// `answer`: the HTTP status to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `answer`: the body, sent as is (`""` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `answer`: whether the step is done before answering (default true).
    #[serde(default, alias = "apply", skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
    /// `oversized_body`: how many bytes of whitespace follow the success answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
}

/// The rules in force, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct FaultRules {
    rules: Vec<FaultRule>,
}

impl FaultRules {
    pub(crate) fn add(&mut self, rule: FaultRule) -> Result<(), String> {
        if rule.times == Some(0) {
            return Err("times must be at least 1 (leave it out for every request)".to_string());
        }
        let answer = rule.kind == FaultKind::Answer;
        match rule.status {
            None if answer => return Err("an `answer` rule needs a `status`".to_string()),
            Some(s) if !(100..=999).contains(&s) => {
                return Err(format!("status {s} is not an HTTP status (100–999)"))
            }
            _ => {}
        }
        if !answer && (rule.status.is_some() || rule.body.is_some() || rule.create.is_some()) {
            return Err("`status`, `body` and `create` go only with kind `answer`".to_string());
        }
        if rule.size.is_some() && rule.kind != FaultKind::OversizedBody {
            return Err("`size` goes only with kind `oversized_body`".to_string());
        }
        if rule.size.is_some_and(|n| n > MAX_OVERSIZE) {
            return Err(format!("`size` is at most {MAX_OVERSIZE} bytes"));
        }
        if rule.batch.is_some() && rule.op != Some(FaultOp::Load) {
            return Err("`batch` goes only with `\"op\": \"load\"`".to_string());
        }
        self.rules.push(rule);
        Ok(())
    }

    /// Removes the rules whose pattern is `pattern` (all of them when `None`); returns
    /// how many were removed.
    pub(crate) fn clear(&mut self, pattern: Option<&str>) -> usize {
        let before = self.rules.len();
        self.rules
            .retain(|r| pattern.is_some_and(|p| r.pattern != p));
        before - self.rules.len()
    }

    pub(crate) fn list(&self) -> Vec<FaultRule> {
        self.rules.clone()
    }

    /// The first rule matching a request for `op` on `task_name` (for a load, the task's
    /// `batch`-th load call), using up one of its `times`.
    pub(crate) fn take(&mut self, task_name: &str, op: FaultOp, batch: u64) -> Option<FaultRule> {
        let index = self.rules.iter().position(|r| {
            let rule_op = r.op.unwrap_or(FaultOp::Create);
            task_name.contains(&r.pattern)
                && (rule_op == op || rule_op == FaultOp::Any)
                && r.batch.is_none_or(|b| op == FaultOp::Load && b == batch)
        })?;
        let rule = &mut self.rules[index];
        let kind = rule.clone();
        match &mut rule.times {
            Some(1) => {
                self.rules.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(kind)
    }
}

/// 64 random bits. The OS generator can fail only in broken environments; the fallback
/// (clock and a counter) is good enough for fault draws and emulator ids.
pub(crate) fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static FALLBACK: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        FALLBACK.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ nanos
    })
}

/// A uniform draw in [0, 1).
fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, kind: FaultKind, times: Option<u64>) -> FaultRule {
        FaultRule {
            pattern: pattern.into(),
            kind,
            times,
            op: None,
            batch: None,
            status: None,
            body: None,
            create: None,
            size: None,
        }
    }

    #[test]
    fn rule_json_uses_the_documented_names() {
        let parsed: FaultRule =
            serde_json::from_str(r#"{"match":"t1","kind":"5xx","times":2}"#).unwrap();
        assert_eq!(parsed, rule("t1", FaultKind::ServerError, Some(2)));
        let parsed: FaultRule =
            serde_json::from_str(r#"{"match":"","kind":"hang_after_create"}"#).unwrap();
        assert_eq!(parsed.times, None);
        assert!(serde_json::from_str::<FaultRule>(r#"{"match":"x","kind":"explode"}"#).is_err());
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"match":"x","kind":"reset","time":1}"#).is_err()
        );
    }

    #[test]
    fn rules_apply_to_matching_names_times_times() {
        let mut rules = FaultRules::default();
        rules
            .add(rule("alpha", FaultKind::Throttle, Some(2)))
            .unwrap();
        rules.add(rule("beta", FaultKind::Reset, None)).unwrap();
        let take =
            |rules: &mut FaultRules, name| rules.take(name, FaultOp::Create, 0).map(|r| r.kind);
        assert_eq!(take(&mut rules, "gamma"), None);
        assert_eq!(take(&mut rules, "x-alpha-1"), Some(FaultKind::Throttle));
        assert_eq!(take(&mut rules, "x-alpha-1"), Some(FaultKind::Throttle));
        assert_eq!(take(&mut rules, "x-alpha-1"), None);
        for _ in 0..5 {
            assert_eq!(take(&mut rules, "beta"), Some(FaultKind::Reset));
        }
        assert!(rules.add(rule("z", FaultKind::Reset, Some(0))).is_err());
    }

    #[test]
    fn rules_apply_to_their_operation_and_batch() {
        let mut rules = FaultRules::default();
        rules.add(rule("t", FaultKind::Throttle, None)).unwrap();
        let mut load3 = rule("t", FaultKind::ServerError, Some(1));
        load3.op = Some(FaultOp::Load);
        load3.batch = Some(3);
        rules.add(load3).unwrap();
        let mut start = rule("t", FaultKind::Reset, None);
        start.op = Some(FaultOp::Start);
        rules.add(start).unwrap();
        let kind = |rules: &mut FaultRules, op, batch| rules.take("t", op, batch).map(|r| r.kind);
        // A rule without `op` keeps its old meaning: creates only.
        assert_eq!(
            kind(&mut rules, FaultOp::Create, 0),
            Some(FaultKind::Throttle)
        );
        assert_eq!(kind(&mut rules, FaultOp::Load, 2), None);
        assert_eq!(
            kind(&mut rules, FaultOp::Load, 3),
            Some(FaultKind::ServerError)
        );
        assert_eq!(kind(&mut rules, FaultOp::Load, 3), None, "used up");
        assert_eq!(kind(&mut rules, FaultOp::Start, 0), Some(FaultKind::Reset));
        let mut any = rule("u", FaultKind::BusinessError, None);
        any.op = Some(FaultOp::Any);
        rules.add(any).unwrap();
        for op in [FaultOp::Create, FaultOp::Load, FaultOp::Start] {
            assert_eq!(
                rules.take("u", op, 7).map(|r| r.kind),
                Some(FaultKind::BusinessError)
            );
        }
        let mut bad = rule("t", FaultKind::ServerError, None);
        bad.batch = Some(1);
        assert!(rules.add(bad).unwrap_err().contains("batch"));
    }

    #[test]
    fn new_names_and_aliases_parse() {
        let parsed: FaultRule = serde_json::from_str(
            r#"{"match":"t","kind":"hang_after_accept","op":"load","batch":2}"#,
        )
        .unwrap();
        assert_eq!(parsed.kind, FaultKind::HangAfterCreate);
        assert_eq!((parsed.op, parsed.batch), (Some(FaultOp::Load), Some(2)));
        let parsed: FaultRule = serde_json::from_str(
            r#"{"match":"t","kind":"answer","status":200,"body":"{}","apply":false,"op":"start"}"#,
        )
        .unwrap();
        assert_eq!(parsed.create, Some(false));
        for op in [
            "query", "find", "pause", "resume", "stop", "delete", "update", "numbers",
        ] {
            let rule: FaultRule =
                serde_json::from_str(&format!(r#"{{"match":"t","kind":"5xx","op":"{op}"}}"#))
                    .unwrap();
            assert_eq!(serde_json::to_value(rule.op).unwrap(), op);
        }
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"match":"t","kind":"5xx","op":"cancel"}"#)
                .is_err()
        );
    }

    #[test]
    fn answer_rules_carry_a_status_and_only_they_do() {
        let parsed: FaultRule = serde_json::from_str(
            r#"{"match":"t","kind":"answer","status":400,"body":"{\"code\":0}","create":false}"#,
        )
        .unwrap();
        assert_eq!(parsed.status, Some(400));
        assert_eq!(parsed.create, Some(false));
        let mut rules = FaultRules::default();
        assert!(rules.add(parsed).is_ok());
        assert!(rules.add(rule("t", FaultKind::Answer, None)).is_err());
        let mut with_status = rule("t", FaultKind::Reset, None);
        with_status.status = Some(400);
        assert!(rules.add(with_status).is_err());
        let mut sized = rule("t", FaultKind::OversizedBody, None);
        sized.size = Some(MAX_OVERSIZE + 1);
        assert!(rules.add(sized).is_err());
    }

    #[test]
    fn clear_removes_one_pattern_or_all() {
        let mut rules = FaultRules::default();
        rules.add(rule("a", FaultKind::Throttle, None)).unwrap();
        rules.add(rule("b", FaultKind::Throttle, None)).unwrap();
        rules.add(rule("a", FaultKind::Reset, None)).unwrap();
        assert_eq!(rules.clear(Some("a")), 2);
        assert_eq!(rules.list().len(), 1);
        assert_eq!(rules.clear(None), 1);
        assert!(rules.list().is_empty());
    }

    #[test]
    fn global_draws_follow_the_shares() {
        assert_eq!(Faults::default().draw(), None);
        let always_throttle = Faults {
            throttle_rate: 1.0,
            error_5xx_rate: 1.0,
            ..Faults::default()
        };
        assert_eq!(always_throttle.draw(), Some(FaultKind::Throttle));
        let always_hang = Faults {
            hang_after_create_rate: 1.0,
            ..Faults::default()
        };
        assert_eq!(always_hang.draw(), Some(FaultKind::HangAfterCreate));
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused() {
        assert!(Faults::default().check().is_ok());
        let bad = Faults {
            reset_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad.check().unwrap_err().contains("reset_rate"));
        let nan = Faults {
            throttle_rate: f64::NAN,
            ..Faults::default()
        };
        assert!(nan.check().is_err());
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..1000 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
