//! Aliyun voice service (`aliyun`) Dyvmsapi CreateRobotTask: the spec and its rules.
//!
//! The API calls the numbers to be dialled `Caller`; the manifest calls them `callees`
//! (inline) or `callees_file` (one number per line), because that is what they are.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::check::Checker;
use crate::manifest::codes::codes;

codes! {
    /// `RecallStateCodes`: call outcomes that trigger a redial.
    RecallStateCode {
        PowerOff = 200010 => "power_off",
        OutOfService = 200011 => "out_of_service",
        Busy = 200002 => "busy",
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
    /// `Caller` on the wire: the numbers to call (1–1000 mainland numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callees: Option<Vec<String>>,
    /// A file of numbers to call, one per line (`#` comments and blank lines ignored),
    /// relative to the manifest. Sent as `Caller`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callees_file: Option<String>,
    /// `CorpName`: must equal the company name in the console (not checkable offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_name: Option<String>,
    /// `IsSelfLine`: use your own lines (vendor default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_self_line: Option<bool>,
    /// `NumberStatusIdent`: early-media number status detection (vendor default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_status_ident: Option<bool>,
    /// `RetryType`: 1 redials automatically, 0 does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_type: Option<i64>,
    /// `RecallTimes`: redial count (at least 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_times: Option<i64>,
    /// `RecallInterval`: minutes between redials, more than 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_interval: Option<i64>,
    /// `RecallStateCodes`: outcomes that trigger a redial; sent comma-joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_state_codes: Option<Vec<RecallStateCode>>,
}

impl AliyunSpec {
    /// `callees` is the resolved list (inline or from the file), already normalised.
    pub fn check(&self, cx: &mut Checker<'_>, name: &str, callees: Option<usize>) {
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

        match (&self.callees, &self.callees_file) {
            (None, None) => {
                let d = cx
                    .error(&p, "no numbers to call")
                    .expected("`callees: [...]` or `callees_file: FILE` (1–1000 numbers)")
                    .hint("callform requires callees: a task without them calls nobody");
                cx.push(d);
            }
            (Some(_), Some(_)) => {
                let d = cx
                    .error_at_key(
                        &p.k("callees_file"),
                        "both `callees` and `callees_file` are set",
                    )
                    .expected("only one of `callees` and `callees_file`")
                    .hint("keep the list inline or in the file, not both");
                cx.push(d);
            }
            _ => {}
        }
        if let Some(n) = callees {
            let at = if self.callees.is_some() {
                p.k("callees")
            } else {
                p.k("callees_file")
            };
            cx.list_len(&at, n, 1, 1000, "Caller takes 1 to 1000 numbers");
        }

        cx.range(
            &p.k("retry_type"),
            self.retry_type,
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
            None,
            "minutes, more than 1",
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
        if self.retry_type != Some(1) {
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
