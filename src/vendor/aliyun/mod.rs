//! Aliyun (阿里云 VMS): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

/// Task reads a second, callform's pace and the emulator's limit: "QPS limit: 100 per
/// second per user" for each robot action (AL common facts, LM:97) \[seen\].
pub const READ_QPS: u32 = 100;

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
use spec::AliyunSpec;

/// The vendor.
pub(crate) struct Aliyun;

impl Vendor for Aliyun {
    fn build_query(&self, task_id: &str, cx: &Context) -> Result<Request, BuildError> {
        driver::build_query(task_id, cx)
    }

    fn build_find(&self, name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
        driver::build_find(name, page, cx)
    }

    /// `QueryRobotTaskDetail` reports no callee count.
    fn reports_callee_count(&self) -> bool {
        false
    }

    /// [`READ_QPS`].
    fn read_qps(&self) -> u32 {
        READ_QPS
    }

    /// `QueryRobotTaskList` rows carry `createTime` (AL §3.2) \[seen\], Beijing time
    /// \[inferred: the pages name no zone; the vendor's other wall clocks are Beijing time\].
    fn creation_time_utc_offset(&self) -> Option<i8> {
        Some(8)
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
        "https://dyvmsapi.aliyuncs.com"
    }

    fn credentials(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("access_key_id", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
            ("access_key_secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ]
    }

    fn read_spec(&self, node: &Node, at: &FieldPath) -> de::Partial<Spec> {
        de::read_partial::<AliyunSpec>(node, at).map(Spec::from)
    }

    fn personal_data(&self) -> PersonalData {
        PersonalData {
            drop: &["callees", "callees_file"],
            mask: &["caller"],
        }
    }

    /// Any columns (the script's variables, `TtsParamHead`); 1 to 300,000 rows a task
    /// (AL:56); a row within [`spec::MAX_ROW_BYTES`] encoded.
    fn callee_rules(&self) -> crate::vendor::CalleeRules {
        crate::vendor::CalleeRules {
            min_rows: 1,
            max_rows: spec::MAX_CALLEES,
            mobile_only: false,
            columns: None,
            row: Some(spec::row_problem),
            columns_hint: "",
        }
    }

    /// `UploadRobotTaskCalledFile` in batches of 50 [choice: the per-call limit is not
    /// documented, AL:61], then `StartRobotTask` (AL:98-102). Upload after the start is not
    /// documented (AL:62): not done.
    fn steps(&self) -> crate::vendor::StepRules {
        crate::vendor::StepRules {
            batch_rows: driver::UPLOAD_BATCH,
            in_create: 0,
            start: crate::vendor::StartKind::Request("StartRobotTask"),
            load_after_start: false,
        }
    }

    /// Version 2 digested the numbers as a JSON list of strings.
    fn legacy_callee_json(&self, _columns: &[String], row: &crate::vendor::Row) -> Option<Vec<u8>> {
        serde_json::to_vec(&row.phone).ok()
    }

    /// Versions 1 and 2 sent the callees as `Caller`, which is the calling line (AL:30).
    fn upgrade_reason(&self, version: u32) -> Option<&'static str> {
        (version <= 2).then_some(
            "created by an earlier callform, which sent the callees as `Caller` (the calling line): the vendor refused the task or holds a wrong one; check it in the console",
        )
    }

    fn rejections(&self, op: Op) -> &'static [Rejection] {
        driver::rejections(op)
    }

    fn read_answer(&self, op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
        driver::read_answer(op, status, body, target)
    }

    /// A numeric string.
    fn emulator_task_id(&self, n: u64) -> String {
        (4_001_000_000 + n).to_string()
    }

    fn sandbox_credentials(
        &self,
        sandbox: &crate::emulator::Credentials,
        out: &mut crate::driver::Credentials,
    ) {
        out.access_key_id = Some(sandbox.aliyun_access_key_id.clone());
        out.access_key_secret = Some(sandbox.aliyun_access_key_secret.clone());
    }

    fn init_template(&self) -> crate::vendor::InitTemplate {
        crate::vendor::InitTemplate {
            provider: r#"  aliyun:
    access_key_id: "${ALIBABA_CLOUD_ACCESS_KEY_ID}"
    access_key_secret: "${ALIBABA_CLOUD_ACCESS_KEY_SECRET}"
"#,
            task: include_str!("init.yaml"),
        }
    }

    fn emulator_routes(&self) -> Vec<Route> {
        vec![Route::Signed {
            claims: Some(emulator::claims),
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

impl VendorSpec for AliyunSpec {
    fn dialling(&self) -> crate::policy::Dialling {
        use crate::manifest::path::FieldPath;
        use crate::policy::{Dialling, Field, Partial};
        let spec = FieldPath::root().k("spec");
        Dialling {
            begin: self
                .schedule_time
                .map(|t| (t, Field::at(spec.k("schedule_time")))),
            partial: Some(Partial {
                why: "Aliyun keeps a robot task's calling windows in its console".into(),
                field: None,
            }),
            ..Dialling::default()
        }
    }

    fn dials(&self) -> Option<String> {
        Some(match &self.schedule_time {
            Some(t) => format!("from {t} (schedule_time)"),
            None => "as soon as started".into(),
        })
    }

    fn schedule_time(&self) -> Option<String> {
        self.schedule_time.as_ref().map(|t| t.to_string())
    }

    fn vendor_name(&self) -> Option<&str> {
        self.task_name.as_deref()
    }

    fn vendor_name_field(&self) -> &'static str {
        "spec.task_name"
    }

    fn moved(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "callees",
                "the task-level `callees: {numbers: [...]}` (`caller` is now the calling line)",
            ),
            (
                "callees_file",
                "the task-level `callees: {file: PATH}` (`caller` is now the calling line)",
            ),
        ]
    }

    fn check(&self, cx: &mut Checker<'_>, name: &str, task: &crate::vendor::TaskFacts<'_>) {
        Self::check(self, cx, name, task)
    }

    fn normalise(&mut self) {
        self.normalise_lines();
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

    /// None: the vendor has no update in place (AL §3.9: no edit action in Dyvmsapi 2017-05-25), so every change stays blocked.
    fn updatable(&self) -> &'static [&'static str] {
        &[]
    }

    fn build_update(
        &self,
        _task: &Task,
        _task_id: &str,
        _cx: &Context,
    ) -> Result<Option<Request>, BuildError> {
        Ok(None)
    }
}
