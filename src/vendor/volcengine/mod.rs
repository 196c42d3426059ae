//! Volcengine (火山引擎 VMS): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

/// Task reads (`QueryTaskList`) a second, callform's pace and the emulator's limit.
/// **\[choice\]**: no rate is documented; 20 a second per account. The gateway throttles
/// with 429 (`RequestLimitExceeded`, limits.md), which the transport backs off from (a read
/// is idempotent).
pub const READ_QPS: u32 = 20;

use crate::driver::{
    BuildError, Context, Lifecycle, Op, Reading, Rejection, Request, Verb, VerbRule,
};
use crate::emulator::{ConnHandle, Emulator, Incoming, Route, SignedFuture};
use crate::manifest::check::Checker;
use crate::manifest::de;
use crate::manifest::path::FieldPath;
use crate::manifest::yaml::Node;
use crate::manifest::Task;
use crate::vendor::{PersonalData, Spec, Vendor, VendorSpec};
use spec::VolcengineSpec;

/// The vendor.
pub(crate) struct Volcengine;

impl Vendor for Volcengine {
    fn build_query(&self, task_id: &str, cx: &Context) -> Result<Request, BuildError> {
        driver::build_query(task_id, cx)
    }

    fn build_find(&self, name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
        driver::build_find(name, page, cx)
    }

    /// Only once `driver::STATES` maps a `State` value (none is documented yet).
    fn reads_status(&self) -> bool {
        !driver::STATES.is_empty()
    }

    /// `resource` only (`driver::observed`): none of the fields `UpdateTask` sets.
    fn read_fields(&self) -> &'static [&'static str] {
        &["resource"]
    }

    /// [`READ_QPS`].
    fn read_qps(&self) -> u32 {
        READ_QPS
    }

    fn verb(&self, verb: Verb, from: Lifecycle) -> VerbRule {
        driver::verb(verb, from)
    }

    fn build_verb(
        &self,
        verb: Verb,
        task_id: &str,
        from: Lifecycle,
        cx: &Context,
    ) -> Result<Request, BuildError> {
        driver::build_verb(verb, task_id, from, cx)
    }

    fn default_endpoint(&self) -> &'static str {
        "https://cloud-vms.volcengineapi.com"
    }

    fn credentials(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("access_key", "VOLCENGINE_ACCESS_KEY"),
            ("secret_key", "VOLCENGINE_SECRET_KEY"),
        ]
    }

    fn provider_fields(&self) -> &'static [(&'static str, bool)] {
        &[("region", false)]
    }

    fn read_spec(&self, node: &Node, at: &FieldPath) -> de::Partial<Spec> {
        de::read_partial::<VolcengineSpec>(node, at).map(Spec::from)
    }

    fn personal_data(&self) -> PersonalData {
        PersonalData {
            drop: &["phone_list", "phone_list_file", "start"],
            mask: &["number_list"],
        }
    }

    /// `phone` plus `tts_content`, `ext`, `sms.NAME` and the variables ([`spec::phone_fields`]);
    /// 1 to 1,000,000 rows a task [choice: 10,000 a request (VL:38), no limit per task is
    /// documented].
    fn callee_rules(&self) -> crate::vendor::CalleeRules {
        crate::vendor::CalleeRules {
            min_rows: 1,
            max_rows: 1_000_000,
            mobile_only: false,
            columns: None,
            row: Some(spec::row_problem),
            columns_hint: "",
        }
    }

    /// The first 10,000 rows in CreateTask's `PhoneList` (VC:77-82), the rest by
    /// `BatchAppend`, 10,000 a call (VL:38); `Start` at create is the only start
    /// (no StartTask, VL:92-94); appending to a started task is allowed.
    fn steps(&self) -> crate::vendor::StepRules {
        crate::vendor::StepRules {
            batch_rows: driver::APPEND_BATCH,
            in_create: driver::IN_CREATE,
            start: crate::vendor::StartKind::AtCreate,
            load_after_start: true,
        }
    }

    /// Version 2 digested `PhoneList` as the JSON of its items, fields in this order.
    fn legacy_callee_json(&self, columns: &[String], row: &crate::vendor::Row) -> Option<Vec<u8>> {
        use std::collections::BTreeMap;
        #[derive(serde::Serialize)]
        struct Item<'r> {
            phone: &'r str,
            #[serde(skip_serializing_if = "Option::is_none")]
            phone_param_json: Option<&'r BTreeMap<&'r str, &'r str>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sms_param_json: Option<&'r BTreeMap<&'r str, &'r str>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            tts_content: Option<&'r str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ext: Option<&'r str>,
        }
        let f = spec::phone_fields(columns, row);
        serde_json::to_vec(&Item {
            phone: f.phone,
            phone_param_json: (!f.params.is_empty()).then_some(&f.params),
            sms_param_json: (!f.sms.is_empty()).then_some(&f.sms),
            tts_content: f.tts_content,
            ext: f.ext,
        })
        .ok()
    }

    fn rejections(&self, op: Op) -> &'static [Rejection] {
        driver::rejections(op)
    }

    fn read_answer(&self, op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
        driver::read_answer(op, status, body, target)
    }

    /// An opaque string; a number in a range of its own keeps ids distinct across vendors.
    fn emulator_task_id(&self, n: u64) -> String {
        (7_000_000 + n).to_string()
    }

    fn sandbox_credentials(
        &self,
        sandbox: &crate::emulator::Credentials,
        out: &mut crate::driver::Credentials,
    ) {
        out.access_key = Some(sandbox.volcengine_access_key.clone());
        out.secret_key = Some(sandbox.volcengine_secret_key.clone());
    }

    fn init_template(&self) -> crate::vendor::InitTemplate {
        crate::vendor::InitTemplate {
            provider: r#"  volcengine:
    access_key: "${VOLCENGINE_ACCESS_KEY}"
    secret_key: "${VOLCENGINE_SECRET_KEY}"
    region: cn-north-1
"#,
            task: include_str!("init.yaml"),
        }
    }

    fn emulator_routes(&self) -> Vec<Route> {
        vec![Route::Signed {
            // Every signed request at `/` that no other vendor claims.
            claims: None,
            handle: signed_handle,
        }]
    }
}

fn signed_handle<'a>(
    emu: &'a Emulator,
    conn: &'a ConnHandle,
    incoming: Incoming,
) -> SignedFuture<'a> {
    Box::pin(emulator::handle(emu, conn, incoming))
}

impl VendorSpec for VolcengineSpec {
    fn dialling(&self) -> crate::policy::Dialling {
        use crate::manifest::path::FieldPath;
        use crate::manifest::time::{parse_window, ClockFormat};
        use crate::policy::{Dialling, Field, Forbidden};
        use spec::Weekday as W;
        let p = FieldPath::root().k("spec");
        let mut forbidden = Vec::new();
        for (i, f) in self.forbid_time_list.iter().flatten().enumerate() {
            let days: Vec<jiff::civil::Weekday> = f
                .weekdays
                .iter()
                .flatten()
                .map(|d| match d {
                    W::Sunday => jiff::civil::Weekday::Sunday,
                    W::Monday => jiff::civil::Weekday::Monday,
                    W::Tuesday => jiff::civil::Weekday::Tuesday,
                    W::Wednesday => jiff::civil::Weekday::Wednesday,
                    W::Thursday => jiff::civil::Weekday::Thursday,
                    W::Friday => jiff::civil::Weekday::Friday,
                    W::Saturday => jiff::civil::Weekday::Saturday,
                })
                .collect();
            for (j, w) in f.times.iter().enumerate() {
                // Validation refused a malformed window already.
                if let Some((begin, end)) = parse_window(w, ClockFormat::Minutes) {
                    forbidden.push(Forbidden {
                        days: days.clone(),
                        begin,
                        end,
                        field: Field::at(p.k("forbid_time_list").i(i).k("times").i(j)),
                    });
                }
            }
        }
        Dialling {
            begin: Some((self.start_time, Field::at(p.k("start_time")))),
            end: Some((self.end_time, Field::at(p.k("end_time")))),
            daily: None,
            forbidden,
            ..Dialling::default()
        }
    }

    fn dials(&self) -> Option<String> {
        Some(format!(
            "from {} to {} (start_time to end_time; Start in the create)",
            self.start_time, self.end_time
        ))
    }

    fn vendor_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn vendor_name_field(&self) -> &'static str {
        "spec.name"
    }

    fn moved(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("phone_list", "the task-level `callees: {rows: [...]}`"),
            ("phone_list_file", "the task-level `callees: {file: PATH}`"),
            (
                "start",
                "the task-level `status: running` (Start: true) or `status: paused`",
            ),
        ]
    }

    fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        Self::check(self, cx, name, task)
    }

    fn build_create(&self, task: &Task, cx: &Context) -> Result<Request, BuildError> {
        driver::build(task, self, cx)
    }

    fn build_load(
        &self,
        task: &Task,
        task_id: &str,
        columns: &[String],
        rows: &[crate::vendor::Row],
        cx: &Context,
    ) -> Result<Request, BuildError> {
        driver::build_load(task, self, task_id, columns, rows, cx)
    }

    fn build_start(
        &self,
        task: &Task,
        task_id: &str,
        cx: &Context,
    ) -> Result<Option<Request>, BuildError> {
        driver::build_start(task, self, task_id, cx)
    }

    fn update_via(&self) -> &'static str {
        "UpdateTask"
    }

    fn updatable(&self) -> &'static [&'static str] {
        driver::UPDATABLE
    }

    fn build_update(
        &self,
        task: &Task,
        task_id: &str,
        cx: &Context,
    ) -> Result<Option<Request>, BuildError> {
        driver::build_update(task, self, task_id, cx)
    }
}
