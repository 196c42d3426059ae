//! `longlonglong` task create: one spec for both payloads, and the rules that keep them apart.
//!
//! The vendor has two payloads behind one endpoint: old 2.0 (`task_type: 6`, the vendor's
//! default) and new 2.0 (`task_type: 7`). callform always sends `task_type`, and a field of
//! one payload under the other is an error. `task_extras.line` and `task_extras.holiday` are
//! always sent, `[]` when empty, because the vendor requires them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::check::Checker;
use crate::manifest::codes::{codes, Flag};
use crate::manifest::path::FieldPath;
use crate::manifest::time::{parse_clock, ClockFormat, LocalDateTime};

codes! {
    /// `task_type`: `old` (6, 旧版任务2.0, the vendor default) or `new` (7, 新版任务2.0).
    TaskType {
        Old = 6 => "old",
        New = 7 => "new",
    }
}

codes! {
    /// `is_group_switch`: how dialogue groups are chosen.
    GroupSwitch {
        Uniform = 0 => "uniform",
        ByTime = 1 => "by_time",
        ByVariable = 2 => "by_variable",
        MultiConfig = 3 => "multi_config",
    }
}

codes! {
    /// `enable_type`
    EnableType {
        Regular = 0 => "regular",
        LargeModel = 1 => "large_model",
    }
}

codes! {
    /// `pop_mode`: the order numbers are dialled in.
    PopMode {
        Random = 0 => "random",
        Sequential = 1 => "sequential",
        Reverse = 2 => "reverse",
    }
}

codes! {
    /// `destination_extension_with_variable_list[].mode`
    MatchMode {
        Contains = 0 => "contains",
        Equals = 1 => "equals",
    }
}

codes! {
    /// `destination_extension_multi_config.dial_mode`
    DialMode {
        RoundRobin = 0 => "round_robin",
        Random = 1 => "random",
    }
}

codes! {
    /// `redial_conditions.da_status`: call outcomes that trigger a redial.
    DaStatus {
        CarrierBlocked = 2 => "carrier_blocked",
        Rejected = 3 => "rejected",
        NoAnswer = 4 => "no_answer",
        Vacant = 5 => "vacant",
        PowerOff = 6 => "power_off",
        Suspended = 7 => "suspended",
        Busy = 8 => "busy",
        CallBarred = 9 => "call_barred",
        Arrears = 10 => "arrears",
        UserBlocked = 12 => "user_blocked",
    }
}

/// `group_type`: the dialogue generation the task binds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupType {
    /// 1.0 dialogues (vendor default)
    Group,
    /// 2.0 dialogues
    Robot,
}

/// A `task_extras.line` item: a line id (old 2.0) or `{id, limit}` (new 2.0).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Line {
    Id(String),
    WithLimit { id: String, limit: i64 },
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Line;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a line id (old 2.0) or `{id, limit}` (new 2.0)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Line, E> {
                Ok(Line::Id(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Line, E> {
                Ok(Line::Id(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Line, A::Error> {
                let (mut id, mut limit) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "id" => id = Some(map.next_value::<String>()?),
                        "limit" => limit = Some(map.next_value::<i64>()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(other, &["id", "limit"]))
                        }
                    }
                }
                match (id, limit) {
                    (Some(id), Some(limit)) => Ok(Line::WithLimit { id, limit }),
                    (None, _) => Err(serde::de::Error::missing_field("id")),
                    (_, None) => Err(serde::de::Error::missing_field("limit")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `begin` (`YYYY-MM-DD HH:MM`, project timezone). Some table cells say `start`; the examples and callform send `begin`.
    pub begin: LocalDateTime,
    /// `end` (`YYYY-MM-DD HH:MM`, project timezone)
    pub end: LocalDateTime,
}

/// `task_extras.destination_extension_list` item (new 2.0, `is_group_switch: by_time`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimedExtension {
    /// `begin`: `HH:MM`
    pub begin: String,
    /// `end`: `HH:MM`
    pub end: String,
    /// `destination_extension`: the dialogue group for this window.
    pub destination_extension: i64,
}

/// `task_extras.destination_extension_with_variable_list` item (new 2.0).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableGroup {
    /// `mode`: `contains` (0) or `equals` (1) any keyword.
    pub mode: MatchMode,
    /// `values`: 1–10 distinct, non-empty keywords.
    pub values: Vec<String>,
    /// `destination_extension`: the dialogue group used on a match.
    pub destination_extension: i64,
    /// `sort`: priority; larger sorts later.
    pub sort: i64,
}

/// `task_extras.destination_extension_multi_config` (new 2.0, `is_group_switch: multi_config`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiConfig {
    /// `dial_mode`: `round_robin` (0) or `random` (1).
    pub dial_mode: DialMode,
    /// `list`
    pub list: Vec<MultiConfigItem>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiConfigItem {
    /// `destination_extension`: a dialogue group id (sent as a string, as the vendor's example does).
    pub destination_extension: String,
    /// `sort`: the round-robin order.
    pub sort: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedialConditions {
    /// `da_status`: outcomes that trigger a redial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub da_status: Option<Vec<DaStatus>>,
    /// `pop_mode`: `random` (0), `sequential` (1) or `reverse` (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop_mode: Option<PopMode>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskExtras {
    /// `start_time` (project timezone; sent as Beijing time `YYYY-MM-DD HH:MM:SS`).
    pub start_time: LocalDateTime,
    /// `stop_time` (project timezone; sent as Beijing time).
    pub stop_time: LocalDateTime,
    /// `holiday`: rest periods; always sent (`[]` when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday: Option<Vec<Holiday>>,
    /// `line`: ids (old 2.0) or `{id, limit}` (new 2.0); always sent (`[]` when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<Vec<Line>>,
    /// `interval_time`: pause between calls (vendor default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_time: Option<i64>,
    /// `destination_extension_list` (new 2.0): dialogue groups by time of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_extension_list: Option<Vec<TimedExtension>>,
    /// `destination_extension_with_variable_list` (new 2.0): dialogue groups by callee variable (≤ 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_extension_with_variable_list: Option<Vec<VariableGroup>>,
    /// `destination_extension_multi_config` (new 2.0)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_extension_multi_config: Option<MultiConfig>,
    /// `pop_mode` (new 2.0, required there)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop_mode: Option<PopMode>,
    /// `redial_enabled` (new 2.0, required there); sent as 0/1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redial_enabled: Option<Flag>,
    /// `redial_new_number_policy` (new 2.0): first calls before redials; sent as 0/1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redial_new_number_policy: Option<Flag>,
    /// `redial_interval` (new 2.0): minutes, at most 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redial_interval: Option<i64>,
    /// `redial_max_times` (new 2.0): at most 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redial_max_times: Option<i64>,
    /// `redial_conditions` (new 2.0)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redial_conditions: Option<RedialConditions>,
}

/// `new_call_rules` item (old 2.0).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCallRule {
    /// `re_call_time`: `HH:MM:SS` within 10:00–11:00 or 13:00–22:00.
    pub re_call_time: String,
    /// `call_interval`: minutes, more than 0.
    pub call_interval: i64,
    /// `rule_id`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<i64>,
}

/// `group_switch_rule` item (old 2.0): dialogue groups by time of day.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSwitchRule {
    /// `switch_start`: `HH:MM`
    pub switch_start: String,
    /// `switch_end`: `HH:MM`
    pub switch_end: String,
    /// `group_id`: the dialogue group for this window.
    pub group_id: i64,
    /// `default_group_id`: the dialogue group outside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_group_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LonglonglongSpec {
    /// `name`: the name shown in the console. Defaults to the task's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `task_type`: `old` (6, the vendor default) or `new` (7). Always sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// `sub_user_id`: act for a sub-account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_user_id: Option<String>,
    /// `bridge_group_id`: transfer group; when the key is present it needs a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_group_id: Option<i64>,
    /// `destination_extension`: the dialogue group id.
    pub destination_extension: i64,
    /// `is_group_switch`: `uniform` (0), `by_time` (1), `by_variable` (2, new only), `multi_config` (3, new only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_group_switch: Option<GroupSwitch>,
    /// `dial_time_id`: the calling-time group.
    pub dial_time_id: i64,
    /// `maximumcall`: total concurrency over the lines (0 when `line` is empty).
    pub maximumcall: i64,
    /// `enable_type`: `regular` (0) or `large_model` (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_type: Option<EnableType>,
    /// `group_type`: `group` (1.0 dialogues) or `robot` (2.0 dialogues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<GroupType>,
    /// `is_call_in`: inbound task; sent as 0/1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_call_in: Option<Flag>,
    /// `remark`: description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// `end_action`: pause the task and release concurrency when it ends; sent as 0/1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_action: Option<Flag>,
    /// `background_id`: background sound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_id: Option<i64>,
    /// `llm_intention_id`: large-model quality check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_intention_id: Option<i64>,
    /// `score_scheme_id`: scoring scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_scheme_id: Option<i64>,
    /// `task_extras`
    pub task_extras: TaskExtras,
    /// `new_call_rules` (old 2.0): redial rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_call_rules: Option<Vec<NewCallRule>>,
    /// `group_switch_rule` (old 2.0): dialogue groups by time of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_switch_rule: Option<Vec<GroupSwitchRule>>,
    /// Options of the number upload (`POST …/task/{task_id}/number`), sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_options: Option<NumberOptions>,
}

/// `number_options`: the upload's own options (LL:40-42).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberOptions {
    /// `ignore_crm`: do not add the numbers to the CRM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_crm: Option<bool>,
    /// `skip_error`: skip rows in error instead of stopping at the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_error: Option<bool>,
    /// `number_add_suffix`: let the vendor import a number the task holds again, with a
    /// suffix (a person may then be called twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_add_suffix: Option<bool>,
}

/// The callee columns the number API takes besides `phone` (LL:45-48; the page's field
/// list is cut off after these, so callform maps only them).
pub const CALLEE_COLUMNS: &[&str] = &["name", "email", "company"];

impl LonglonglongSpec {
    pub fn task_type(&self) -> TaskType {
        self.task_type.unwrap_or(TaskType::Old)
    }

    pub fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        let p = cx.spec();
        if self.sub_user_id.is_some() && task.has_callees {
            let d = cx
                .error_at_key(&p.k("sub_user_id"), "a task for a sub-account cannot take callees")
                .expected("no `sub_user_id` when the task has `callees:`")
                .hint("the number API documents no sub-account parameter: create the task under the main account, or load its callees in the console");
            cx.push(d);
        }
        if self
            .number_options
            .as_ref()
            .is_some_and(|o| o.number_add_suffix == Some(true))
        {
            let d = cx
                .warning(
                    &p.k("number_options").k("number_add_suffix"),
                    "number_add_suffix: the vendor imports a number the task already holds again: a person may be called twice",
                )
                .hint("leave it out unless calling someone twice is intended");
            cx.push(d);
        }
        let x = p.k("task_extras");
        let e = &self.task_extras;
        let new = self.task_type() == TaskType::New;
        cx.vendor_name(
            &p.k("name"),
            self.name.as_deref().unwrap_or(name),
            None,
            "longlonglong",
        );

        // Fields of one payload are errors under the other.
        let (only, other) = if new {
            ("old 2.0 (task_type: old)", "new")
        } else {
            ("new 2.0 (task_type: new)", "old")
        };
        let why = format!("it belongs to {only}; this task is {other} 2.0");
        if new {
            cx.forbid(&p.k("new_call_rules"), self.new_call_rules.is_some(), &why);
            cx.forbid(
                &p.k("group_switch_rule"),
                self.group_switch_rule.is_some(),
                &why,
            );
        } else {
            for (field, present) in [
                ("pop_mode", e.pop_mode.is_some()),
                ("redial_enabled", e.redial_enabled.is_some()),
                (
                    "redial_new_number_policy",
                    e.redial_new_number_policy.is_some(),
                ),
                ("redial_interval", e.redial_interval.is_some()),
                ("redial_max_times", e.redial_max_times.is_some()),
                ("redial_conditions", e.redial_conditions.is_some()),
                (
                    "destination_extension_list",
                    e.destination_extension_list.is_some(),
                ),
                (
                    "destination_extension_with_variable_list",
                    e.destination_extension_with_variable_list.is_some(),
                ),
                (
                    "destination_extension_multi_config",
                    e.destination_extension_multi_config.is_some(),
                ),
            ] {
                cx.forbid(&x.k(field), present, &why);
            }
        }
        if new {
            cx.require(
                &x.k("pop_mode"),
                e.pop_mode.is_some(),
                "new 2.0 requires pop_mode: random, sequential or reverse",
            );
            cx.require(
                &x.k("redial_enabled"),
                e.redial_enabled.is_some(),
                "new 2.0 requires redial_enabled: true or false",
            );
        }

        // bridge_group_id: "不传这个键,则表示为空。传了则必填" — a present key needs a value.
        if cx
            .root
            .get("spec")
            .and_then(|s| s.get("bridge_group_id"))
            .is_some_and(|n| n.is_null())
        {
            let d = cx
                .error(
                    &p.k("bridge_group_id"),
                    "bridge_group_id is present but empty",
                )
                .expected("a transfer group id, or no `bridge_group_id` key at all")
                .hint("remove the key to use no transfer group");
            cx.push(d);
        }
        cx.range(
            &p.k("maximumcall"),
            Some(self.maximumcall),
            0,
            None,
            "total concurrency",
        );
        cx.range(
            &x.k("interval_time"),
            e.interval_time,
            0,
            None,
            "a pause between calls",
        );

        // Lines: shape per payload; an empty list means no concurrency.
        let lines = e.line.as_deref().unwrap_or(&[]);
        for (i, line) in lines.iter().enumerate() {
            let at = x.k("line").i(i);
            match (new, line) {
                (true, Line::Id(_)) => {
                    let d = cx
                        .error(&at, "new 2.0 lines are objects")
                        .expected("`{id: LINE_ID, limit: N}`")
                        .hint("write `- {id: ..., limit: ...}`");
                    cx.push(d);
                }
                (false, Line::WithLimit { .. }) => {
                    let d = cx
                        .error(&at, "old 2.0 lines are plain ids")
                        .expected("a line id string")
                        .hint("write `- LINE_ID`, or set `task_type: new`");
                    cx.push(d);
                }
                (_, Line::WithLimit { limit, .. }) => cx.range(
                    &at.k("limit"),
                    Some(*limit),
                    1,
                    None,
                    "concurrency on this line",
                ),
                _ => {}
            }
        }
        if lines.is_empty() && self.maximumcall != 0 {
            let d = cx
                .error(
                    &p.k("maximumcall"),
                    format!(
                        "maximumcall is {} but task_extras.line is empty",
                        self.maximumcall
                    ),
                )
                .expected("0 when no line is given (the vendor's rule)")
                .hint("add lines under task_extras.line, or set maximumcall to 0");
            cx.push(d);
        }

        // is_group_switch and the lists it needs.
        let switch = self.is_group_switch;
        let max_switch = if new { 3 } else { 1 };
        if let Some(s) = switch {
            if s.code() > max_switch {
                let d = cx
                    .error(
                        &p.k("is_group_switch"),
                        format!("`{}` is only available in new 2.0", s.name()),
                    )
                    .expected(if new {
                        "uniform, by_time, by_variable or multi_config"
                    } else {
                        "uniform or by_time (old 2.0)"
                    });
                cx.push(d);
            }
        }
        match switch {
            Some(GroupSwitch::ByTime) => {
                let (field, present) = if new {
                    (
                        x.k("destination_extension_list"),
                        e.destination_extension_list.is_some(),
                    )
                } else {
                    (p.k("group_switch_rule"), self.group_switch_rule.is_some())
                };
                cx.require(
                    &field,
                    present,
                    "is_group_switch by_time needs the time-based list",
                );
            }
            Some(GroupSwitch::ByVariable) if new => cx.require(
                &x.k("destination_extension_with_variable_list"),
                e.destination_extension_with_variable_list.is_some(),
                "is_group_switch by_variable needs the variable groups",
            ),
            Some(GroupSwitch::MultiConfig) if new => cx.require(
                &x.k("destination_extension_multi_config"),
                e.destination_extension_multi_config.is_some(),
                "is_group_switch multi_config needs the multi config",
            ),
            _ => {}
        }

        if let Some(list) = &e.destination_extension_list {
            for (i, item) in list.iter().enumerate() {
                let at = x.k("destination_extension_list").i(i);
                cx.clock_pair(
                    &at.k("begin"),
                    &item.begin,
                    &at.k("end"),
                    &item.end,
                    ClockFormat::Minutes,
                );
            }
        }
        if let Some(groups) = &e.destination_extension_with_variable_list {
            let at = x.k("destination_extension_with_variable_list");
            cx.list_len(&at, groups.len(), 0, 100, "at most 100 variable groups");
            for (i, g) in groups.iter().enumerate() {
                let vp = at.i(i).k("values");
                cx.list_len(&vp, g.values.len(), 1, 10, "1 to 10 keywords");
                for (j, v) in g.values.iter().enumerate() {
                    if v.trim().is_empty() {
                        let d = cx
                            .error(&vp.i(j), "an empty keyword")
                            .expected("a non-empty keyword");
                        cx.push(d);
                    } else if g.values[..j].contains(v) {
                        let d = cx
                            .error(&vp.i(j), "a repeated keyword")
                            .expected("distinct keywords")
                            .hint("remove the repeat");
                        cx.push(d);
                    }
                }
            }
        }
        if let Some(m) = &e.destination_extension_multi_config {
            let at = x.k("destination_extension_multi_config").k("list");
            cx.list_len(
                &at,
                m.list.len(),
                1,
                usize::MAX,
                "at least one dialogue group",
            );
            for (i, item) in m.list.iter().enumerate() {
                if item.destination_extension.trim().is_empty() {
                    let d = cx
                        .error(
                            &at.i(i).k("destination_extension"),
                            "an empty dialogue group id",
                        )
                        .expected("a dialogue group id");
                    cx.push(d);
                }
            }
        }

        cx.range(
            &x.k("redial_interval"),
            e.redial_interval,
            1,
            Some(60),
            "minutes, at most 60",
        );
        cx.range(
            &x.k("redial_max_times"),
            e.redial_max_times,
            0,
            Some(3),
            "at most 3 redials",
        );

        if let Some(holidays) = &e.holiday {
            for (i, h) in holidays.iter().enumerate() {
                let at = x.k("holiday").i(i);
                for (field, t) in [("begin", &h.begin), ("end", &h.end)] {
                    cx.date_time(&at.k(field), t);
                    if t.has_seconds() {
                        let d = cx
                            .error(&at.k(field), "holiday times have minute precision")
                            .expected("`YYYY-MM-DD HH:MM`");
                        cx.push(d);
                    }
                }
                if h.end <= h.begin {
                    let d = cx
                        .error(&at.k("end"), "the holiday ends before it begins")
                        .expected("an end after the begin");
                    cx.push(d);
                }
            }
        }
        cx.date_order(
            &x.k("start_time"),
            Some(&e.start_time),
            &x.k("stop_time"),
            Some(&e.stop_time),
        );

        if let Some(rules) = &self.new_call_rules {
            for (i, r) in rules.iter().enumerate() {
                let at = p.k("new_call_rules").i(i);
                check_recall_time(cx, &at.k("re_call_time"), &r.re_call_time);
                cx.range(
                    &at.k("call_interval"),
                    Some(r.call_interval),
                    1,
                    None,
                    "minutes, more than 0",
                );
            }
        }
        if let Some(rules) = &self.group_switch_rule {
            for (i, r) in rules.iter().enumerate() {
                let at = p.k("group_switch_rule").i(i);
                cx.clock_pair(
                    &at.k("switch_start"),
                    &r.switch_start,
                    &at.k("switch_end"),
                    &r.switch_end,
                    ClockFormat::Minutes,
                );
            }
        }
    }
}

/// `re_call_time` must be `HH:MM:SS` within 10:00–11:00 or 13:00–22:00 (the vendor's rule).
fn check_recall_time(cx: &mut Checker<'_>, at: &FieldPath, text: &str) {
    let allowed = |t: jiff::civil::Time| {
        let m = i32::from(t.hour()) * 3600 + i32::from(t.minute()) * 60 + i32::from(t.second());
        (36_000..=39_600).contains(&m) || (46_800..=79_200).contains(&m)
    };
    match parse_clock(text, ClockFormat::Seconds) {
        None => {
            let d = cx.error(at, "not a clock time").expected("`HH:MM:SS`");
            cx.push(d);
        }
        Some(t) if !allowed(t) => {
            let d = cx
                .error(at, "the redial time is outside the vendor's hours")
                .expected("a time within 10:00:00–11:00:00 or 13:00:00–22:00:00");
            cx.push(d);
        }
        _ => {}
    }
}
