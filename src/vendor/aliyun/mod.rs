//! Aliyun (阿里云 VMS): the vendor behind `Vendor`, wiring its manifest types (`spec.rs`), its
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
use spec::AliyunSpec;

/// The vendor.
pub(crate) struct Aliyun;

impl Vendor for Aliyun {
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
            summary: Some("callees"),
            mask: &[],
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
    fn vendor_name(&self) -> Option<&str> {
        self.task_name.as_deref()
    }

    fn callees(&self) -> CalleeSource<'_> {
        CalleeSource::Numbers {
            inline: self.callees.as_ref(),
            file: self.callees_file.as_ref(),
            field: "callees_file",
        }
    }

    fn check(&self, cx: &mut Checker<'_>, name: &str, callees: Option<usize>) {
        Self::check(self, cx, name, callees)
    }

    fn build_create(&self, task: &Task, cx: &Context) -> Result<Request, BuildError> {
        driver::build(task, self, cx)
    }
}
