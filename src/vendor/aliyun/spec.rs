//! Aliyun voice service (`aliyun`) Dyvmsapi CreateRobotTask: the spec and its rules.
//!
//! `Caller` is the calling line: numbers bought in the console, comma-joined ("外呼主叫号码。
//! 必须是已购买的号码", AL:30). The manifest calls it `caller`. The people called are the
//! task's `callees:`, uploaded after the create (`UploadRobotTaskCalledFile`, AL:51-62);
//! an older page this project started from put them in `Caller`, which was wrong.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::check::{Checker, Moved};
use crate::manifest::codes::codes;
use crate::manifest::time::LocalDateTime;

codes! {
    /// `RecallStateCodes`: call outcomes that trigger a redial.
    RecallStateCode {
        PowerOff = 200010 => "power_off",
        OutOfService = 200011 => "out_of_service",
        Busy = 200002 => "busy",
        NoAnswer = 200003 => "no_answer",
        CallLoss = 200012 => "call_loss",
        Unreachable = 200005 => "unreachable",
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliyunSpec {
    /// `TaskName`: at most 30 characters. Defaults to the task's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// `DialogId`: the robot dialogue (话术) id from the console.
    pub dialog_id: i64,
    /// `Caller`: the calling lines, numbers bought in the console (at least one; fixed
    /// lines allowed); sent comma-joined. Not the people called: they are `callees:`.
    pub caller: Vec<String>,
    /// Moved to the task-level `callees:`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub callees: Option<Moved>,
    /// Moved to the task-level `callees: {file: …}`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub callees_file: Option<Moved>,
    /// `CorpName`: must equal the company name in the console (not checkable offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_name: Option<String>,
    /// `IsSelfLine`: use your own lines (vendor default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_self_line: Option<bool>,
    /// `NumberStatusIdent`: early-media number status detection. Required (AL:42).
    pub number_status_ident: bool,
    /// `RetryType`: 1 redials automatically, 0 does not. Required (AL:43).
    pub retry_type: i64,
    /// `RecallTimes`: redial count (at least 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_times: Option<i64>,
    /// `RecallInterval`: minutes between redials, 2 to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_interval: Option<i64>,
    /// `RecallStateCodes`: outcomes that trigger a redial; sent comma-joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_state_codes: Option<Vec<RecallStateCode>>,
    /// `ScheduleTime` of `StartRobotTask` (project timezone): when a `running` task starts
    /// dialling; without it, as soon as it is started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<LocalDateTime>,
}

/// The most callees one task takes (AL:56).
pub const MAX_CALLEES: usize = 300_000;

/// Most bytes one callee takes in an upload's query, URL-encoded: its `CalledNumber` item
/// and its `TtsParam` item [choice: 50 rows a call then stay under 16 KiB, below common
/// request-line limits; the per-call limit is not documented, AL:61].
pub const MAX_ROW_BYTES: usize = 320;

impl AliyunSpec {
    /// The calling lines normalised as checked (spaces, dashes, `+86` removed); lines that
    /// do not pass are left for [`AliyunSpec::check`] to report.
    pub fn normalise_lines(&mut self) {
        for line in &mut self.caller {
            if let Ok(n) = crate::phone::normalize_line(line) {
                *line = n;
            }
        }
    }
}

/// A callee's encoded size in an upload: `137…,` in `CalledNumber`, and
/// `{"number":"137…","params":[…]},` in `TtsParam` when there are variables.
pub fn row_problem(columns: &[String], row: &crate::manifest::callees::Row) -> Option<String> {
    fn encoded(text: &str) -> usize {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    1
                } else {
                    3
                }
            })
            .sum()
    }
    let mut bytes = encoded(&row.phone) + 3;
    if !columns.is_empty() {
        let item = serde_json::json!({"number": row.phone, "params": row.values});
        bytes += encoded(&item.to_string()) + 3;
    }
    (bytes > MAX_ROW_BYTES).then(|| {
        format!("the row takes {bytes} bytes in an upload, more than {MAX_ROW_BYTES}: its values are too long")
    })
}

impl AliyunSpec {
    pub fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        let p = cx.spec();
        let task_name = self.task_name.as_deref().unwrap_or(name);
        cx.vendor_name(&p.k("task_name"), task_name, Some(30), "aliyun");
        cx.range(
            &p.k("dialog_id"),
            Some(self.dialog_id),
            1,
            None,
            "a positive dialogue id",
        );

        let lines = p.k("caller");
        cx.list_len(
            &lines,
            self.caller.len(),
            1,
            usize::MAX,
            "at least one calling line bought in the console",
        );
        let mut seen: Vec<String> = Vec::new();
        for (i, line) in self.caller.iter().enumerate() {
            match crate::phone::normalize_line(line) {
                Ok(n) if seen.contains(&n) => {
                    let d = cx
                        .error(
                            &lines.i(i),
                            format!("calling line {} is listed twice", crate::phone::mask(&n)),
                        )
                        .personal()
                        .hint("remove the repeat");
                    cx.push(d);
                }
                Ok(n) => seen.push(n),
                Err(why) => {
                    let d = cx
                        .error(
                            &lines.i(i),
                            format!(
                                "invalid calling line number {}: {why}",
                                crate::phone::shown_entry(line)
                            ),
                        )
                        .expected(crate::phone::EXPECTED_LINE)
                        .personal()
                        .hint("write a number bought in the Aliyun console, digits only (spaces, dashes and +86 are removed)");
                    cx.push(d);
                }
            }
        }
        if let Some(at) = &self.schedule_time {
            if task.status != crate::manifest::RunStatus::Running {
                let d = cx
                    .error_at_key(&p.k("schedule_time"), "schedule_time is set but the task is not `status: running`")
                    .expected("schedule_time only with `status: running`: it is when the started task dials")
                    .hint("write `status: running`, or remove schedule_time");
                cx.push(d);
            } else {
                cx.date_time(&p.k("schedule_time"), at);
                let past = cx
                    .tz
                    .to_ambiguous_zoned(at.0)
                    .compatible()
                    .is_ok_and(|z| z.timestamp() < cx.now);
                if past {
                    let d = cx
                        .warning(&p.k("schedule_time"), format!("schedule_time {at} is in the past: the task dials as soon as it is started"))
                        .hint("set a time to come, or remove schedule_time");
                    cx.push(d);
                }
            }
        }

        cx.range(
            &p.k("retry_type"),
            Some(self.retry_type),
            0,
            Some(1),
            "1 redials, 0 does not",
        );
        cx.range(
            &p.k("recall_times"),
            self.recall_times,
            0,
            None,
            "a redial count",
        );
        cx.range(
            &p.k("recall_interval"),
            self.recall_interval,
            2,
            Some(30),
            "minutes, more than 1 and at most 30",
        );
        if let Some(codes) = &self.recall_state_codes {
            for (i, code) in codes.iter().enumerate() {
                if codes[..i].contains(code) {
                    let d = cx
                        .error(
                            &p.k("recall_state_codes").i(i),
                            format!("`{}` is listed twice", code.name()),
                        )
                        .hint("remove the repeat");
                    cx.push(d);
                }
            }
        }
        if self.retry_type != 1 {
            for field in ["recall_times", "recall_interval", "recall_state_codes"] {
                if cx.root.get("spec").and_then(|s| s.get(field)).is_some() {
                    let d = cx
                        .warning(
                            &p.k(field),
                            format!("{field} has no effect unless retry_type is 1"),
                        )
                        .hint("set `retry_type: 1`, or remove the redial settings");
                    cx.push(d);
                }
            }
        }
    }
}
