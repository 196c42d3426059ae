//! Volcengine (火山引擎 VMS): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
//! driver (`driver.rs`) and its emulator routes (`emulator.rs`) into the shared code.

pub mod driver;
pub(crate) mod emulator;
pub mod spec;

use crate::driver::{BuildError, Context, Reading, Rejection, Request};
use crate::emulator::{ConnHandle, Emulator, Incoming, Route, SignedFuture};
use crate::manifest::check::Checker;
use crate::manifest::de;
use crate::manifest::path::FieldPath;
use crate::manifest::yaml::Node;
use crate::manifest::Task;
use crate::vendor::{CalleeSource, PersonalData, Spec, Vendor, VendorSpec};
use spec::VolcengineSpec;

/// The vendor.
pub(crate) struct Volcengine;

impl Vendor for Volcengine {
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
            drop: &["phone_list", "phone_list_file"],
            summary: Some("phone_list"),
            mask: &["number_list"],
        }
    }

    fn create_rejections(&self) -> &'static [Rejection] {
        driver::CREATE_REJECTIONS
    }

    fn read_create(&self, status: u16, body: &[u8]) -> Reading {
        driver::read(status, body)
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
    fn vendor_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn callees(&self) -> CalleeSource<'_> {
        CalleeSource::Items {
            inline: self.phone_list.as_ref(),
            file: self.phone_list_file.as_ref(),
            field: "phone_list_file",
        }
    }

    fn check(&self, cx: &mut Checker<'_>, name: &str, callees: Option<usize>) {
        Self::check(self, cx, name, callees)
    }

    fn build_create(&self, task: &Task, cx: &Context) -> Result<Request, BuildError> {
        driver::build(task, self, cx)
    }
}
