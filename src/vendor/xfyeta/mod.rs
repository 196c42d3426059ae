//! xfyeta (讯飞 外呼): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

use crate::driver::{BuildError, Context, Reading, Rejection, Request};
use crate::emulator::Route;
use crate::manifest::check::Checker;
use crate::manifest::de;
use crate::manifest::path::FieldPath;
use crate::manifest::yaml::Node;
use crate::manifest::Task;
use crate::vendor::{PersonalData, Spec, Vendor, VendorSpec};
use axum::routing::post;
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
            summary: None,
            mask: &["line_num"],
        }
    }

    fn create_rejections(&self) -> &'static [Rejection] {
        driver::CREATE_REJECTIONS
    }

    fn read_create(&self, status: u16, body: &[u8]) -> Reading {
        driver::read(status, body)
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
        vec![
            Route::Post(
                "/openapi/outbound/v1/task/create",
                Box::new(post(emulator::create)),
            ),
            Route::Post(
                "/openapi/outbound/v1/task/insert",
                Box::new(post(emulator::insert)),
            ),
            Route::Post(
                "/openapi/outbound/v1/task/start",
                Box::new(post(emulator::start)),
            ),
        ]
    }
}

impl VendorSpec for XfyetaSpec {
    fn vendor_name(&self) -> Option<&str> {
        self.task_name.as_deref()
    }

    fn check(&self, cx: &mut Checker<'_>, name: &str, _callees: Option<usize>) {
        Self::check(self, cx, name)
    }

    fn normalise(&mut self) {
        self.normalise_lines();
    }

    fn build_create(&self, task: &Task, cx: &Context) -> Result<Request, BuildError> {
        driver::build(task, self, cx)
    }
}
