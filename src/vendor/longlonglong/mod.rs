//! longlonglong: the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

/// Task reads (detail, list) a second, callform's pace and the emulator's limit.
/// **\[choice\]**: the pages document no rate; 20 a second per account, a pace an API
/// gateway is unlikely to throttle, with the transport backing off from a throttled answer
/// (a read is idempotent) until a live account says otherwise.
pub const READ_QPS: u32 = 20;

use crate::driver::{
    BuildError, Context, Lifecycle, Op, Reading, Rejection, Request, Verb, VerbRule,
};
use crate::emulator::Route;
use crate::manifest::check::Checker;
use crate::manifest::de;
use crate::manifest::path::FieldPath;
use crate::manifest::yaml::Node;
use crate::manifest::Task;
use crate::vendor::{PersonalData, Spec, Vendor, VendorSpec};
use spec::LonglonglongSpec;

/// The vendor.
pub(crate) struct Longlonglong;

impl Vendor for Longlonglong {
    fn build_query(&self, task_id: &str, cx: &Context) -> Result<Request, BuildError> {
        driver::build_query(task_id, cx)
    }

    fn build_find(&self, name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
        driver::build_find(name, page, cx)
    }

    fn read_fields(&self) -> &'static [&'static str] {
        driver::READ_FIELDS
    }

    /// The number list (`driver::build_numbers`).
    fn has_number_list(&self) -> bool {
        true
    }

    fn build_numbers(
        &self,
        task_id: &str,
        page: u32,
        cx: &Context,
    ) -> Result<Option<Request>, BuildError> {
        driver::build_numbers(task_id, page, cx).map(Some)
    }

    /// [`READ_QPS`].
    fn read_qps(&self) -> u32 {
        READ_QPS
    }

    /// The 2.0 task list's items carry `create_datetime` (LL §2.2) \[seen\], Beijing time
    /// \[inferred: the pages name no zone\].
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
        "https://ai.api.longlonglong.cn"
    }

    fn credentials(&self) -> &'static [(&'static str, &'static str)] {
        &[("token", "LONGLONGLONG_TOKEN")]
    }

    fn provider_fields(&self) -> &'static [(&'static str, bool)] {
        &[("user_id", true)]
    }

    fn read_spec(&self, node: &Node, at: &FieldPath) -> de::Partial<Spec> {
        de::read_partial::<LonglonglongSpec>(node, at).map(Spec::from)
    }

    fn personal_data(&self) -> PersonalData {
        PersonalData {
            drop: &[],
            mask: &[],
        }
    }

    /// `phone` plus `name`, `email`, `company` only (LL:45-48); 1,000,000 rows a task
    /// [choice: no limit per task is documented].
    fn callee_rules(&self) -> crate::vendor::CalleeRules {
        crate::vendor::CalleeRules {
            min_rows: 0,
            max_rows: 1_000_000,
            mobile_only: false,
            columns: Some(spec::CALLEE_COLUMNS),
            row: None,
            columns_hint: "longlonglong's number API takes `phone`, `name`, `email` and `company`",
        }
    }

    /// At most 100 rows a call (LL:34); no start API (LL:155-157): callform never starts a
    /// longlonglong task.
    fn steps(&self) -> crate::vendor::StepRules {
        crate::vendor::StepRules {
            batch_rows: driver::NUMBER_BATCH,
            in_create: 0,
            start: crate::vendor::StartKind::None,
            load_after_start: false,
        }
    }

    fn rejections(&self, op: Op) -> &'static [Rejection] {
        driver::rejections(op)
    }

    fn read_answer(&self, op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
        driver::read_answer(op, status, body, target)
    }

    /// A UUID.
    fn emulator_task_id(&self, _n: u64) -> String {
        crate::emulator::uuid_v4()
    }

    fn sandbox_credentials(
        &self,
        sandbox: &crate::emulator::Credentials,
        out: &mut crate::driver::Credentials,
    ) {
        out.token = Some(sandbox.longlonglong_token.clone());
        out.user_id = Some(sandbox.longlonglong_user_id.clone());
    }

    fn init_template(&self) -> crate::vendor::InitTemplate {
        crate::vendor::InitTemplate {
            provider: r#"  longlonglong:
    user_id: 00000000-0000-0000-0000-000000000000   # your main account id (in every URL; not a secret)
    token: "${LONGLONGLONG_TOKEN}"
"#,
            task: include_str!("init.yaml"),
        }
    }

    fn emulator_routes(&self) -> Vec<Route> {
        emulator::routes()
    }
}

impl VendorSpec for LonglonglongSpec {
    fn dialling(&self) -> crate::policy::Dialling {
        use crate::manifest::path::FieldPath;
        use crate::policy::{Dialling, Field, Partial, Pause};
        let x = FieldPath::root().k("spec").k("task_extras");
        let e = &self.task_extras;
        Dialling {
            begin: Some((e.start_time, Field::at(x.k("start_time")))),
            end: Some((e.stop_time, Field::at(x.k("stop_time")))),
            pauses: e
                .holiday
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, h)| Pause {
                    begin: h.begin,
                    end: h.end,
                    field: Field::at(x.k("holiday").i(i)),
                })
                .collect(),
            partial: Some(Partial {
                why: format!(
                    "its daily windows are the calling-time group `dial_time_id: {}` in the longlonglong console",
                    self.dial_time_id
                ),
                field: Some(Field::at(FieldPath::root().k("spec").k("dial_time_id"))),
            }),
            ..Dialling::default()
        }
    }

    fn dials(&self) -> Option<String> {
        None
    }

    fn vendor_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn vendor_name_field(&self) -> &'static str {
        "spec.name"
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
        "PUT /agent-api/new/user/{uid}/task/{id}"
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
