//! xfyeta (讯飞 外呼): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

/// Task reads (`task/query`) a second, callform's pace and the emulator's limit.
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
use spec::XfyetaSpec;

/// The vendor.
pub(crate) struct Xfyeta;

impl Vendor for Xfyeta {
    fn default_endpoint(&self) -> &'static str {
        "https://www.xfyeta.com"
    }

    fn credentials(&self) -> &'static [(&'static str, &'static str)] {
        &[("token", "XFYETA_TOKEN")]
    }

    fn read_spec(&self, node: &Node, at: &FieldPath) -> de::Partial<Spec> {
        de::read_partial::<XfyetaSpec>(node, at).map(Spec::from)
    }

    fn personal_data(&self) -> PersonalData {
        PersonalData {
            drop: &[],
            mask: &["line_num"],
        }
    }

    /// Any columns (the script's variables, `call_column[1..]`); mobiles only
    /// ("第一列必须是客户手机号码", XL:42); 1,000,000 rows a task [choice: the page gives no
    /// limit per task].
    fn callee_rules(&self) -> crate::vendor::CalleeRules {
        crate::vendor::CalleeRules {
            min_rows: 0,
            max_rows: 1_000_000,
            mobile_only: true,
            columns: None,
            row: None,
            columns_hint: "",
        }
    }

    /// `task/insert` takes at most 50 rows a call (XL:43) and only before `task/start`
    /// (XL:36-37, XL:106).
    fn steps(&self) -> crate::vendor::StepRules {
        crate::vendor::StepRules {
            batch_rows: driver::INSERT_BATCH,
            in_create: 0,
            start: crate::vendor::StartKind::Request("task/start"),
            load_after_start: false,
        }
    }

    fn rejections(&self, op: Op) -> &'static [Rejection] {
        driver::rejections(op)
    }

    fn read_answer(&self, op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
        driver::read_answer(op, status, body, target)
    }

    fn build_query(&self, task_id: &str, cx: &Context) -> Result<Request, BuildError> {
        driver::build_query(task_id, cx)
    }

    fn build_find(&self, name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
        driver::build_find(name, page, cx)
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

    /// A numeric string.
    fn emulator_task_id(&self, n: u64) -> String {
        (1000 + n).to_string()
    }

    fn sandbox_credentials(
        &self,
        sandbox: &crate::emulator::Credentials,
        out: &mut crate::driver::Credentials,
    ) {
        out.token = Some(sandbox.xfyeta_token.clone());
    }

    fn init_template(&self) -> crate::vendor::InitTemplate {
        crate::vendor::InitTemplate {
            provider: r#"  xfyeta:
    token: "${XFYETA_TOKEN}"
"#,
            task: include_str!("init.yaml"),
        }
    }

    fn emulator_routes(&self) -> Vec<Route> {
        emulator::routes()
    }
}

impl VendorSpec for XfyetaSpec {
    fn dialling(&self) -> crate::policy::Dialling {
        use crate::manifest::path::FieldPath;
        use crate::manifest::time::{parse_window, ClockFormat};
        use crate::policy::{Daily, Dialling, Field};
        let p = FieldPath::root().k("spec");
        Dialling {
            begin: Some((self.time_begin, Field::at(p.k("time_begin")))),
            end: self.time_end.map(|t| (t, Field::at(p.k("time_end")))),
            daily: Some(
                self.time_range
                    .iter()
                    .enumerate()
                    // Validation refused a malformed window already.
                    .filter_map(|(i, w)| {
                        let (begin, end) = parse_window(w, ClockFormat::Seconds)?;
                        Some(Daily {
                            begin,
                            end,
                            field: Field::at(p.k("time_range").i(i)),
                        })
                    })
                    .collect(),
            ),
            ..Dialling::default()
        }
    }

    fn dials(&self) -> Option<String> {
        Some(format!(
            "from {} (time_begin), within {} (time_range)",
            self.time_begin,
            self.time_range.join(", ")
        ))
    }

    fn vendor_name(&self) -> Option<&str> {
        self.task_name.as_deref()
    }

    fn vendor_name_field(&self) -> &'static str {
        "spec.task_name"
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

    /// None: the vendor has no update in place (XL §1.6: no `task/update` found), so every change stays blocked.
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
