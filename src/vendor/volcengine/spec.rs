//! Volcengine voice service (`volcengine`) vms CreateTask 2022-01-01: the spec and its rules.
//!
//! The wire uses PascalCase (`RingAgainTimes`); the manifest uses the same names in
//! snake_case (`ring_again_times`). `PhoneList` comes from the task's `callees:`: each row's
//! columns become the item's fields ([`phone_fields`]), the maps sent as JSON text.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::callees::Row;
use crate::manifest::check::{Checker, Moved};
use crate::manifest::codes::codes;
use crate::manifest::time::{ClockFormat, LocalDateTime};

codes! {
    /// `Type`: what the task plays.
    TaskType {
        AudioFile = 0 => "audio_file",
        TtsTemplate = 1 => "tts_template",
        Ivr = 2 => "ivr",
        Tts = 3 => "tts",
    }
}

codes! {
    /// `SelectNumberType`: where the calling number comes from.
    SelectNumberType {
        Pool = 0 => "pool",
        NumberList = 1 => "number_list",
    }
}

codes! {
    /// `Weekdays` in `ForbidTimeList`: 1 = Sunday … 7 = Saturday (the vendor's convention).
    Weekday {
        Sunday = 1 => "sunday",
        Monday = 2 => "monday",
        Tuesday = 3 => "tuesday",
        Wednesday = 4 => "wednesday",
        Thursday = 5 => "thursday",
        Friday = 6 => "friday",
        Saturday = 7 => "saturday",
    }
}

/// A callee row as `PhoneList` takes it: `tts_content` → `TtsContent`, `ext` → `Ext`,
/// `sms.NAME` → `SmsParamJson`, any other column `NAME` (or the older spelling
/// `param.NAME`) → `PhoneParamJson`. Empty values are left out.
pub struct PhoneFields<'r> {
    pub phone: &'r str,
    pub params: BTreeMap<&'r str, &'r str>,
    pub sms: BTreeMap<&'r str, &'r str>,
    pub tts_content: Option<&'r str>,
    pub ext: Option<&'r str>,
}

/// The `PhoneList` fields of `row`, whose values are in `columns`' order.
pub fn phone_fields<'r>(columns: &'r [String], row: &'r Row) -> PhoneFields<'r> {
    let mut out = PhoneFields {
        phone: &row.phone,
        params: BTreeMap::new(),
        sms: BTreeMap::new(),
        tts_content: None,
        ext: None,
    };
    for (name, value) in columns.iter().zip(&row.values) {
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "tts_content" => out.tts_content = Some(value),
            "ext" => out.ext = Some(value),
            _ => {
                if let Some(k) = name.strip_prefix("sms.") {
                    out.sms.insert(k, value);
                } else {
                    out.params
                        .insert(name.strip_prefix("param.").unwrap_or(name), value);
                }
            }
        }
    }
    out
}

/// Where a column goes in a `PhoneList` item: `None` for `TtsContent` and `Ext`, else the
/// JSON map and its key.
fn wire_key(name: &str) -> Option<(&'static str, &str)> {
    match name {
        "tts_content" | "ext" => None,
        n => Some(match n.strip_prefix("sms.") {
            Some(k) => ("SmsParamJson", k),
            None => ("PhoneParamJson", n.strip_prefix("param.").unwrap_or(n)),
        }),
    }
}

/// Two columns that become one key on the wire (`name` and `param.name` in
/// `PhoneParamJson`), or a `param.`/`sms.` column without a name: one value would be lost
/// without a word. Column names are no personal data; they may be quoted. It runs for
/// every row: a few columns are compared pairwise, allocating nothing; many through a map,
/// so that a wide header stays linear.
fn column_clash(columns: &[String]) -> Option<String> {
    let clash = |first: &str, name: &str, key: (&str, &str)| {
        format!(
            "columns `{first}` and `{name}` both become {} key `{}`: one value would be lost; keep one of them",
            key.0, key.1
        )
    };
    let mut seen: std::collections::HashMap<(&str, &str), &str> = Default::default();
    for (i, name) in columns.iter().enumerate() {
        let Some(key) = wire_key(name) else { continue };
        if key.1.is_empty() {
            return Some(format!("column `{name}` names no {} key", key.0));
        }
        if columns.len() <= 8 {
            if let Some(first) = columns[..i].iter().find(|c| wire_key(c) == Some(key)) {
                return Some(clash(first, name, key));
            }
        } else if let Some(first) = seen.insert(key, name) {
            return Some(clash(first, name, key));
        }
    }
    None
}

/// Characters `text` takes as a JSON string, quotes included (as serde_json escapes it).
fn json_chars(text: &str) -> usize {
    2 + text
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if u32::from(c) < 0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Characters of the `PhoneParamJson` text of a row's variables, counted without writing
/// it: what `serde_json::to_string(&phone_fields(..).params)` makes (the keys are distinct
/// once [`column_clash`] passed).
fn params_chars(columns: &[String], row: &Row) -> usize {
    let mut n: usize = 0;
    let mut chars = 2;
    for (name, value) in columns.iter().zip(&row.values) {
        if value.is_empty() {
            continue;
        }
        if let Some(("PhoneParamJson", key)) = wire_key(name) {
            chars += json_chars(key) + 1 + json_chars(value);
            n += 1;
        }
    }
    chars + n.saturating_sub(1)
}

/// `PhoneParamJson` text at most 2,048 characters, `TtsContent` and `Ext` at most 250
/// (VL:42-44).
pub fn row_problem(columns: &[String], row: &Row) -> Option<String> {
    if let Some(problem) = column_clash(columns) {
        return Some(problem);
    }
    for (name, value) in columns.iter().zip(&row.values) {
        let field = match name.as_str() {
            "tts_content" => "TtsContent",
            "ext" => "Ext",
            _ => continue,
        };
        // Bytes bound characters from above: most values are never counted.
        let chars = if value.len() > 250 {
            value.chars().count()
        } else {
            0
        };
        if chars > 250 {
            return Some(format!(
                "{name} is {chars} characters long; {field} takes at most 250"
            ));
        }
    }
    let params = params_chars(columns, row);
    if params > 2048 {
        return Some(format!("the variables make a PhoneParamJson text of {params} characters; it takes at most 2,048"));
    }
    None
}

/// `ForbidTimeList` item: times of the week when no call may be made.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForbidTime {
    /// `Times`: windows `HH:MM-HH:MM`.
    pub times: Vec<String>,
    /// `Weekdays`: `sunday`…`saturday`, or the vendor's 1 (Sunday) to 7 (Saturday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<Weekday>>,
}

/// `SmsConfig` item: the SMS sent after a call ends.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// `TemplateId`
    pub template_id: String,
    /// `Sign`: the SMS signature, e.g. `【ABCD】`.
    pub sign: String,
    /// `StatusSet`: call statuses that send the SMS.
    pub status_set: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolcengineSpec {
    /// `Name`: the name shown in the console. Defaults to the task's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Resource`: the audio file, TTS template or IVR flow id.
    pub resource: String,
    /// `NumberPoolNo`: the number pool.
    pub number_pool_no: String,
    /// `Type`: `audio_file` (0), `tts_template` (1), `ivr` (2) or `tts` (3).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// `StartTime` (project timezone; sent as Beijing time `yyyy-MM-dd HH:mm:ss`).
    pub start_time: LocalDateTime,
    /// `EndTime` (project timezone; sent as Beijing time).
    pub end_time: LocalDateTime,
    /// Moved to the task-level `status: running | paused` (sent as `Start`).
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub start: Option<Moved>,
    /// `Concurrency`: simultaneous calls, more than 0.
    pub concurrency: i64,
    /// Moved to the task-level `callees:`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub phone_list: Option<Moved>,
    /// Moved to the task-level `callees: {file: PATH}`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub phone_list_file: Option<Moved>,
    /// `ForbidTimeList`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_time_list: Option<Vec<ForbidTime>>,
    /// `SmsConfig`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_config: Option<Vec<SmsConfig>>,
    /// `SelectNumberType`: `pool` (0) or `number_list` (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_number_type: Option<SelectNumberType>,
    /// `NumberList`: calling numbers to choose from; only with `select_number_type: number_list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_list: Option<Vec<String>>,
    /// `SelectNumberRule`: only 5 (nearest region first); not with `select_number_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_number_rule: Option<i64>,
    /// `MaxRingDuration`: seconds, more than 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ring_duration: Option<i64>,
    /// `RingAgainTimes`: redials, 0–5 (vendor default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_again_times: Option<i64>,
    /// `RingAgainInterval`: minutes between redials, 5–1440 (vendor default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_again_interval: Option<i64>,
    /// `FinishWhenListEnd`: end the task when the list is done (vendor default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_when_list_end: Option<bool>,
    /// `Unique`: drop duplicate numbers (vendor default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    /// `CallRecordPostUrl`: https URL for call records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_record_post_url: Option<String>,
    /// `AudioPostUrl`: https URL for recordings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_post_url: Option<String>,
}

impl VolcengineSpec {
    pub fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        let p = cx.spec();
        cx.vendor_name(
            &p.k("name"),
            self.name.as_deref().unwrap_or(name),
            None,
            "volcengine",
        );
        for (field, value) in [
            ("resource", &self.resource),
            ("number_pool_no", &self.number_pool_no),
        ] {
            if value.trim().is_empty() {
                let d = cx
                    .error(&p.k(field), format!("{field} is empty"))
                    .expected("an id from the console");
                cx.push(d);
            }
        }
        cx.range(
            &p.k("concurrency"),
            Some(self.concurrency),
            1,
            None,
            "simultaneous calls; at most 50 tasks run at once per account",
        );
        cx.date_order(
            &p.k("start_time"),
            Some(&self.start_time),
            &p.k("end_time"),
            Some(&self.end_time),
        );

        cx.range(
            &p.k("ring_again_times"),
            self.ring_again_times,
            0,
            Some(5),
            "at most 5 redials",
        );
        cx.range(
            &p.k("ring_again_interval"),
            self.ring_again_interval,
            5,
            Some(1440),
            "minutes",
        );
        cx.range(
            &p.k("max_ring_duration"),
            self.max_ring_duration,
            1,
            None,
            "seconds, more than 0",
        );

        let list_path = p.k("number_list");
        match (self.select_number_type, &self.number_list) {
            (Some(SelectNumberType::NumberList), None) => cx.require(
                &list_path,
                false,
                "select_number_type `number_list` needs the numbers to choose from",
            ),
            (Some(SelectNumberType::NumberList), Some(list)) => {
                cx.list_len(
                    &list_path,
                    list.len(),
                    1,
                    1000,
                    "at most 1,000 (SelectNumberOverLimit)",
                );
                cx.phones(&list_path, list);
            }
            (_, Some(_)) => cx.forbid(
                &list_path,
                true,
                "number_list is only used with `select_number_type: number_list`",
            ),
            _ => {}
        }
        if let Some(rule) = self.select_number_rule {
            cx.range(
                &p.k("select_number_rule"),
                Some(rule),
                5,
                Some(5),
                "the vendor supports only rule 5",
            );
            cx.forbid(
                &p.k("select_number_rule"),
                self.select_number_type.is_some(),
                "selecting by rule leaves select_number_type unset",
            );
        }

        if let Some(list) = &self.forbid_time_list {
            for (i, item) in list.iter().enumerate() {
                let at = p.k("forbid_time_list").i(i);
                cx.list_len(
                    &at.k("times"),
                    item.times.len(),
                    1,
                    usize::MAX,
                    "at least one window",
                );
                for (j, t) in item.times.iter().enumerate() {
                    cx.window(&at.k("times").i(j), t, ClockFormat::Minutes);
                }
            }
        }
        if let Some(list) = &self.sms_config {
            for (i, item) in list.iter().enumerate() {
                let at = p.k("sms_config").i(i);
                for (field, value) in [("template_id", &item.template_id), ("sign", &item.sign)] {
                    if value.trim().is_empty() {
                        let d = cx
                            .error(&at.k(field), format!("{field} is empty"))
                            .expected("a value from the SMS console");
                        cx.push(d);
                    }
                }
                cx.list_len(
                    &at.k("status_set"),
                    item.status_set.len(),
                    1,
                    usize::MAX,
                    "the statuses that send the SMS",
                );
            }
        }
        cx.https_url(
            &p.k("call_record_post_url"),
            self.call_record_post_url.as_deref(),
        );
        cx.https_url(&p.k("audio_post_url"), self.audio_post_url.as_deref());
        if let Some(list) = task.callees {
            if task.status == crate::manifest::RunStatus::Running && list.len() > 10_000 {
                let d = cx
                    .warning(
                        &crate::manifest::path::FieldPath::root().k("status"),
                        format!("`status: running` with {} callees: the task dials from start_time with the first 10,000, before the rest are appended", list.len()),
                    )
                    .hint("write `status: paused` and start it in the console once every callee is loaded, if the order matters");
                cx.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row check counts the `PhoneParamJson` text without writing it, for every one
    /// of a million rows: the count must be what the driver sends.
    #[test]
    fn the_params_text_is_counted_as_serde_json_writes_it() {
        let columns: Vec<String> = ["name", "param.金额", "sms.code", "tts_content", "ext", "q"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        for values in [
            ["张三", "100", "A1", "您好", "o-1", "a\"b\\c"],
            ["", "", "", "", "", ""],
            ["x\u{1}\u{1f}\u{7f}", "", "s", "", "", "\n\t\r\u{8}\u{c}"],
            ["", "一", "", "", "", ""],
        ] {
            let row = Row {
                phone: "13700000001".into(),
                values: values.iter().map(|v| v.to_string()).collect(),
            };
            let written = serde_json::to_string(&phone_fields(&columns, &row).params).unwrap();
            assert_eq!(
                params_chars(&columns, &row),
                written.chars().count(),
                "{written}"
            );
        }
    }

    #[test]
    fn row_limits_and_clashes_are_found_for_few_and_many_columns() {
        let row = |columns: &[String], values: Vec<String>| {
            row_problem(
                columns,
                &Row {
                    phone: "13700000001".into(),
                    values,
                },
            )
        };
        let few: Vec<String> = vec!["tts_content".into(), "name".into()];
        assert_eq!(
            row(&few, vec!["长".repeat(251), "a".into()]).as_deref(),
            Some("tts_content is 251 characters long; TtsContent takes at most 250")
        );
        assert_eq!(row(&few, vec!["长".repeat(250), "a".into()]), None);
        assert!(row(&few, vec![String::new(), "长".repeat(2100)])
            .is_some_and(|p| p.contains("PhoneParamJson text of 2111")));
        for n in [3, 20] {
            let mut columns: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            columns.push("param.v1".into());
            let values = vec![String::new(); columns.len()];
            assert_eq!(
                row(&columns, values).as_deref(),
                Some("columns `v1` and `param.v1` both become PhoneParamJson key `v1`: one value would be lost; keep one of them"),
                "{n} columns"
            );
        }
    }
}
