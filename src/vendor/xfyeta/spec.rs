//! iFlytek (`xfyeta`) task/create: the spec and its rules.
//!
//! Wire facts the driver must honour: the flag is spelled `trubo_mode` on the wire (the
//! manifest says `turbo_mode`), `line_num` travels as one `;`-joined string, `robot_id` as a
//! JSON string, `time_begin`/`time_end` as 13-digit millisecond timestamps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::check::Checker;
use crate::manifest::time::{ClockFormat, LocalDateTime};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XfyetaSpec {
    /// `task_name`: the name shown in the vendor console. Defaults to the task's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// `line_num`: the calling line numbers (at least one); sent `;`-joined.
    pub line_num: Vec<String>,
    /// `robot_id`: the dialogue (话术) id; sent as a string.
    pub robot_id: String,
    /// `recall_count`: redial attempts, 0–3 (vendor default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_count: Option<i64>,
    /// `time_recall_wait`: seconds to wait before a redial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_recall_wait: Option<i64>,
    /// `time_range`: daily calling windows `HH:MM:SS-HH:MM:SS` (vendor local time).
    pub time_range: Vec<String>,
    /// `time_begin`: when the task starts (project timezone); sent as a millisecond timestamp.
    pub time_begin: LocalDateTime,
    /// `time_end`: when the task ends (project timezone); sent as a millisecond timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<LocalDateTime>,
    /// `voice_code`: the TTS voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_code: Option<String>,
    /// `trubo_mode` on the wire (the vendor's spelling): high-performance mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turbo_mode: Option<bool>,
    /// The label of the callee's number in `task/insert`'s `call_column` (its first
    /// column); the other columns are the script's variables. Default `客户手机号码` (the
    /// page's example): it must match the robot's column template, which callform cannot
    /// check offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_column: Option<String>,
}

/// `call_column[0]` when `phone_column` is not set: the label in the page's example (XL:46).
pub const DEFAULT_PHONE_COLUMN: &str = "客户手机号码";

impl XfyetaSpec {
    /// The calling lines normalised as checked (spaces, dashes, `+86` removed); lines that
    /// do not pass are left for [`XfyetaSpec::check`] to report.
    pub fn normalise_lines(&mut self) {
        for line in &mut self.line_num {
            if let Ok(n) = crate::phone::normalize_line(line) {
                *line = n;
            }
        }
    }

    pub fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        let p = cx.spec();
        if let Some(label) = &self.phone_column {
            let at = p.k("phone_column");
            let problem = if label.trim().is_empty() {
                Some("phone_column is empty".to_string())
            } else if label.chars().count() > 40 {
                Some(format!(
                    "phone_column is {} characters long",
                    label.chars().count()
                ))
            } else if task.callees.is_some_and(|c| c.columns.contains(label)) {
                Some("phone_column is also the name of a callee column".to_string())
            } else {
                None
            };
            if let Some(message) = problem {
                let d = cx
                    .error(&at, message)
                    .expected("the label of the number column in the robot's template: 1 to 40 characters, not a variable's name")
                    .hint(if label == DEFAULT_PHONE_COLUMN {
                        "rename the variable, or set phone_column to the label the robot's template gives the number"
                    } else {
                        "leave it out for the default `客户手机号码`, or rename the variable"
                    });
                cx.push(d);
            }
        } else if task
            .callees
            .is_some_and(|c| c.columns.iter().any(|n| n == DEFAULT_PHONE_COLUMN))
        {
            // `call_column` is the number's label, then the variables': a variable named
            // as the default label would send that label twice, and the vendor would read
            // the number's column as the variable or the variable as the number.
            let at = crate::manifest::path::FieldPath::root().k("callees");
            let d = cx
                .error_at_key(
                    &at,
                    format!("the callee column `{DEFAULT_PHONE_COLUMN}` is also the label xfyeta's `call_column` gives the number (spec.phone_column's default)"),
                )
                .expected(format!(
                    "variables named otherwise than the number's label `{DEFAULT_PHONE_COLUMN}`"
                ))
                .hint("rename the variable (in the callee file's header and in `variables`), or set spec.phone_column to the label the robot's template gives the number");
            cx.push(d);
        }
        let task_name = self.task_name.as_deref().unwrap_or(name);
        cx.vendor_name(&p.k("task_name"), task_name, None, "xfyeta");

        let lines = p.k("line_num");
        cx.list_len(
            &lines,
            self.line_num.len(),
            1,
            usize::MAX,
            "at least one calling line",
        );
        for (i, line) in self.line_num.iter().enumerate() {
            if line.contains(';') || line.contains('；') {
                let d = cx
                    .error(&lines.i(i), "a line number contains `;`")
                    .expected("one number per list item: callform joins them with `;`")
                    .hint("split it into separate items");
                cx.push(d);
            } else if line.trim().is_empty() {
                let d = cx
                    .error(&lines.i(i), "an empty line number")
                    .expected("a calling line number");
                cx.push(d);
            } else if let Err(why) = crate::phone::normalize_line(line) {
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
                    .hint("write the line number from the xfyeta console, digits only (spaces, dashes and +86 are removed)");
                cx.push(d);
            }
        }
        if self.robot_id.trim().is_empty() {
            let d = cx
                .error(&p.k("robot_id"), "robot_id is empty")
                .expected("the dialogue id from the console");
            cx.push(d);
        }

        cx.range(
            &p.k("recall_count"),
            self.recall_count,
            0,
            Some(3),
            "the vendor allows at most 3 redials",
        );
        cx.range(
            &p.k("time_recall_wait"),
            self.time_recall_wait,
            0,
            None,
            "seconds",
        );
        if self.time_recall_wait.is_some() && self.recall_count.unwrap_or(0) == 0 {
            let d = cx
                .warning(
                    &p.k("time_recall_wait"),
                    "time_recall_wait has no effect without redials",
                )
                .hint("set recall_count to 1–3, or remove time_recall_wait");
            cx.push(d);
        }

        let ranges = p.k("time_range");
        cx.list_len(
            &ranges,
            self.time_range.len(),
            1,
            usize::MAX,
            "at least one calling window",
        );
        let windows: Vec<_> = self
            .time_range
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                cx.window(&ranges.i(i), w, ClockFormat::Seconds)
                    .map(|w| (i, w))
            })
            .collect();
        cx.no_overlap(&ranges, &windows);

        cx.date_order(
            &p.k("time_begin"),
            Some(&self.time_begin),
            &p.k("time_end"),
            self.time_end.as_ref(),
        );
    }
}
