//! Volcengine voice service (`volcengine`) vms CreateTask 2022-01-01: the spec and its rules.
//!
//! The wire uses PascalCase (`RingAgainTimes`); the manifest uses the same names in
//! snake_case (`ring_again_times`). Per-callee maps (`phone_param_json`, `sms_param_json`)
//! are written as maps and sent as JSON text. The phone list can come from a CSV file.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::check::Checker;
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

/// One number to call, with its per-callee fields.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneItem {
    /// `Phone`: the number to call.
    pub phone: String,
    /// `PhoneParamJson`: template variables for this callee (sent as JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_param_json: Option<BTreeMap<String, String>>,
    /// `SmsParamJson`: SMS template variables for this callee (sent as JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_param_json: Option<BTreeMap<String, String>>,
    /// `TtsContent`: text to speak to this callee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts_content: Option<String>,
    /// `Ext`: your own reference, returned in call records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
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
    /// `Start`: start the task at once. Required: its default is not documented.
    pub start: bool,
    /// `Concurrency`: simultaneous calls, more than 0.
    pub concurrency: i64,
    /// `PhoneList`: the numbers to call (1–10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_list: Option<Vec<PhoneItem>>,
    /// A CSV file with a header row supplying `PhoneList`: columns `phone`, `tts_content`,
    /// `ext`, `param.NAME` (into `PhoneParamJson`) and `sms.NAME` (into `SmsParamJson`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_list_file: Option<String>,
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
    /// `phones` is the resolved phone list length (inline or from the CSV file).
    pub fn check(&self, cx: &mut Checker<'_>, name: &str, phones: Option<usize>) {
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

        match (&self.phone_list, &self.phone_list_file) {
            (None, None) => {
                let d = cx.error(&p, "no numbers to call").expected(
                    "`phone_list: [...]` or `phone_list_file: FILE.csv` (1–10,000 numbers)",
                );
                cx.push(d);
            }
            (Some(_), Some(_)) => {
                let d = cx
                    .error_at_key(
                        &p.k("phone_list_file"),
                        "both `phone_list` and `phone_list_file` are set",
                    )
                    .expected("only one of `phone_list` and `phone_list_file`");
                cx.push(d);
            }
            _ => {}
        }
        if let Some(n) = phones {
            let at = if self.phone_list.is_some() {
                p.k("phone_list")
            } else {
                p.k("phone_list_file")
            };
            cx.list_len(
                &at,
                n,
                1,
                10_000,
                "PhoneList takes at most 10,000 numbers per request",
            );
        }

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
    }
}
