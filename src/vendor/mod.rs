//! The vendors: each one a folder, all of them in one list (`vendors!` below).
//!
//! Everything a vendor is sits behind `Vendor` (the vendor as a whole: endpoint,
//! credentials, canonical edits, answers, emulator routes) and `VendorSpec` (its
//! manifest parameters: rules, callees, request builder). The shared kits — `manifest`,
//! `driver`, `emulator`, `canonical` — ask through these traits and name no vendor.
//!
//! Each folder `vendor/<name>/` holds:
//! - `spec.rs`: the manifest types and their rules;
//! - `driver.rs`: the request builder and the answer reader, from the vendor page;
//! - `emulator.rs`: the emulator's routes, an independent reading of the same page (it
//!   never imports `spec.rs` or `driver.rs`; `layout.rs` checks it);
//! - `mod.rs`: `impl Vendor` and `impl VendorSpec`, wiring the three together.
//!
//! A new vendor is a new folder and one line in the list.

pub mod aliyun;
pub mod longlonglong;
pub mod volcengine;
pub mod xfyeta;

#[cfg(test)]
mod layout;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::driver::{
    BuildError, Context, Lifecycle, Op, Reading, Rejection, Request, Verb, VerbRule,
};
use crate::emulator::Route;
use crate::manifest::callees::CalleeList;
use crate::manifest::check::Checker;
use crate::manifest::de;
use crate::manifest::path::FieldPath;
use crate::manifest::schema::Envelope;
use crate::manifest::yaml::Node;
use crate::manifest::{RunStatus, Task};

/// The one list of vendors: `/// title` then `Id = "key" => module::SpecType`. It makes
/// [`VendorId`] (with [`VendorId::ALL`]), the [`Spec`] enum, the manifest schema's
/// [`TaskDocument`] (the title is its description) and the dispatch from either to the
/// vendor's impls.
macro_rules! vendors {
    ($(#[doc = $title:literal] $id:ident = $key:literal => $module:ident :: $spec:ident),+ $(,)?) => {
        /// The supported vendors.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
            JsonSchema,
        )]
        #[schemars(rename = "Vendor")]
        pub enum VendorId {
            $(#[serde(rename = $key)] $id,)+
        }

        impl VendorId {
            pub const ALL: [VendorId; [$($key),+].len()] = [$(VendorId::$id),+];

            pub fn key(self) -> &'static str {
                match self {
                    $(VendorId::$id => $key,)+
                }
            }

            /// The vendor itself.
            pub(crate) fn def(self) -> &'static dyn Vendor {
                match self {
                    $(VendorId::$id => &$module::$id,)+
                }
            }
        }

        /// A vendor's own parameters.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Spec {
            $($id($module::spec::$spec),)+
        }

        impl Spec {
            pub fn vendor(&self) -> VendorId {
                match self {
                    $(Spec::$id(_) => VendorId::$id,)+
                }
            }

            /// The spec as its vendor reads it.
            pub(crate) fn def(&self) -> &dyn VendorSpec {
                match self {
                    $(Spec::$id(s) => s,)+
                }
            }

            pub(crate) fn def_mut(&mut self) -> &mut dyn VendorSpec {
                match self {
                    $(Spec::$id(s) => s,)+
                }
            }
        }

        /// A callform task: one YAML document in a manifest directory.
        #[derive(JsonSchema)]
        #[serde(tag = "vendor")]
        #[allow(dead_code)]
        pub(crate) enum TaskDocument {
            $(#[doc = $title] #[serde(rename = $key)] $id(Envelope<$module::spec::$spec>),)+
        }

        $(
            impl From<$module::spec::$spec> for Spec {
                fn from(spec: $module::spec::$spec) -> Spec {
                    Spec::$id(spec)
                }
            }
        )+
    };
}

vendors! {
    /// iFlytek task/create
    Xfyeta = "xfyeta" => xfyeta::XfyetaSpec,
    /// longlonglong task create (old and new 2.0)
    Longlonglong = "longlonglong" => longlonglong::LonglonglongSpec,
    /// Aliyun Dyvmsapi CreateRobotTask
    Aliyun = "aliyun" => aliyun::AliyunSpec,
    /// Volcengine vms CreateTask
    Volcengine = "volcengine" => volcengine::VolcengineSpec,
}

impl VendorId {
    pub fn from_key(key: &str) -> Option<VendorId> {
        VendorId::ALL.into_iter().find(|v| v.key() == key)
    }
}

impl fmt::Display for VendorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What the canonical form changes in a vendor's spec (personal data): in one place for
/// both ways of writing it (`canonical::canonical` and `canonical::spec_digest`).
pub(crate) struct PersonalData {
    /// Fields taken out: keys that moved out of the spec (`callees`, `phone_list`, …),
    /// refused by validation, and never part of the form.
    pub drop: &'static [&'static str],
    /// Lists of numbers whose items are masked with a keyed tag (calling lines).
    pub mask: &'static [&'static str],
}

/// What a vendor takes as callees (`callees:` of a task), checked offline by `validate`.
pub(crate) struct CalleeRules {
    /// Fewest rows a task may have (1 where the vendor refuses an empty task; 0 where a
    /// task without callees is only warned about).
    pub min_rows: usize,
    /// Most rows a task may have.
    pub max_rows: usize,
    /// Only mobile numbers (xfyeta: "第一列必须是客户手机号码").
    pub mobile_only: bool,
    /// The only columns besides `phone` the vendor takes, or `None` for any (each one a
    /// script variable).
    pub columns: Option<&'static [&'static str]>,
    /// A vendor limit on one row (its encoded size, a field's length): the problem, in
    /// words that quote no value.
    pub row: Option<RowCheck>,
    /// What to write in a column's place when it is refused.
    pub columns_hint: &'static str,
}

/// A vendor's limit on one callee row: the row's columns, the row, and the problem if any.
pub(crate) type RowCheck = fn(&[String], &Row) -> Option<String>;

/// How a task of this vendor is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    /// A request of its own after the callees are loaded (its action or path).
    Request(&'static str),
    /// A flag in the create request; no start afterwards.
    AtCreate,
    /// callform never starts it (no start API is documented).
    None,
}

/// The steps of a task at this vendor: create, callee batches, start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRules {
    /// Rows per load request.
    pub batch_rows: usize,
    /// Rows sent in the create request itself (volcengine's `PhoneList`).
    pub in_create: usize,
    pub start: StartKind,
    /// Whether callees may be added once the task is started.
    pub load_after_start: bool,
}

/// One callee row of a task's `callees:` (see `manifest::callees`).
pub use crate::manifest::callees::Row;

/// The task-level fields a vendor's rules may depend on.
pub struct TaskFacts<'a> {
    pub status: RunStatus,
    /// The callees, when `callees:` is set and could be read.
    pub callees: Option<&'a CalleeList>,
    /// Whether `callees:` is set (read or not).
    pub has_callees: bool,
}

/// A vendor as a whole. One unit struct per vendor implements it (in `vendor/<name>/mod.rs`).
pub(crate) trait Vendor: Sync {
    /// The vendor's production endpoint.
    fn default_endpoint(&self) -> &'static str;

    /// The credential fields it takes in callform.yaml, each with the conventional
    /// environment variable read when a provider has no block there (and by the emulator).
    fn credentials(&self) -> &'static [(&'static str, &'static str)];

    /// Provider fields beside the credentials (`region`, `user_id`), and whether each is
    /// required.
    fn provider_fields(&self) -> &'static [(&'static str, bool)] {
        &[]
    }

    /// Reads the manifest's `spec` mapping: every problem, and what could be read around
    /// them ([`de::read_partial`]).
    fn read_spec(&self, node: &Node, at: &FieldPath) -> de::Partial<Spec>;

    /// The personal-data edits of its canonical form.
    fn personal_data(&self) -> PersonalData;

    /// What it takes as callees.
    fn callee_rules(&self) -> CalleeRules;

    /// One callee as a canonical form of version 2 or older digested it (inside a JSON
    /// list), for vendors whose older forms held a callee digest: what lets a state written
    /// by that version be compared with the manifest's callees now.
    fn legacy_callee_json(&self, _columns: &[String], _row: &Row) -> Option<Vec<u8>> {
        None
    }

    /// Why a task recorded with a canonical form of `version` is never taken as unchanged,
    /// when an older callform's request for this vendor meant something else.
    fn upgrade_reason(&self, _version: u32) -> Option<&'static str> {
        None
    }

    /// Its steps: batch sizes and how a task is started.
    fn steps(&self) -> StepRules;

    /// The codes its pages document as a rejection of `op` (nothing created, loaded or
    /// started), each with its source; per op, since a code that proves "not loaded" for
    /// one API may mean nothing of the kind for another.
    fn rejections(&self, op: Op) -> &'static [Rejection];

    /// What an answer to `op` says (judged by `driver::answer`). `target`: the task a load
    /// or a start acted on, which its answer must name where the vendor's answer names one.
    fn read_answer(&self, op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading;

    /// The request that reads the created task `task_id` back (`Op::Query`).
    fn build_query(&self, task_id: &str, cx: &Context) -> Result<Request, BuildError>;

    /// The request that lists this vendor's tasks named `name`, page `page` (from 1)
    /// (`Op::Find`). The vendor's match may be fuzzy: callers compare names exactly.
    fn build_find(&self, name: &str, page: u32, cx: &Context) -> Result<Request, BuildError>;

    /// Whether its read of a task reports how many callees the task holds
    /// (`Observed::total`): what can settle an uncertain batch as loaded.
    fn reports_callee_count(&self) -> bool {
        true
    }

    /// Whether its read of a task reports a status callform can map (not only
    /// `Lifecycle::Unknown`): what can settle an uncertain start or verb by reading back.
    fn reads_status(&self) -> bool {
        true
    }

    /// The top-level canonical spec keys its read of a created task (`Op::Query`) returns
    /// (`Observed::fields`): what can settle an uncertain update by reading the task back.
    fn read_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether it reports the callee numbers a created task holds (`Op::Numbers`).
    fn has_number_list(&self) -> bool {
        false
    }

    /// The request that reads page `page` (from 1) of the numbers the created task
    /// `task_id` holds; `None` where [`Vendor::has_number_list`] is false.
    fn build_numbers(
        &self,
        _task_id: &str,
        _page: u32,
        _cx: &Context,
    ) -> Result<Option<Request>, BuildError> {
        Ok(None)
    }

    /// Where the lookup's listing reports when each task was created (`Observed.created`,
    /// `yyyy-MM-dd HH:mm:ss`): the hours from UTC of that wall clock. `None`: the listing
    /// reports no creation time, and an adoption is decided by the name alone
    /// ([`crate::plan::adopt`]).
    fn creation_time_utc_offset(&self) -> Option<i8> {
        None
    }

    /// The documented rate of reads this vendor accepts, per second: `refresh`'s pace.
    fn read_qps(&self) -> u32;

    /// How `verb` is done on a task that is `from` at this vendor.
    fn verb(&self, verb: Verb, from: Lifecycle) -> VerbRule;

    /// The request of `verb` on the created task `task_id`, which is `from`
    /// ([`Vendor::verb`] says `Send`).
    fn build_verb(
        &self,
        verb: Verb,
        task_id: &str,
        from: Lifecycle,
        cx: &Context,
    ) -> Result<Request, BuildError>;

    /// The id the emulator gives its `n`-th task (from 1), shaped like the vendor's own.
    fn emulator_task_id(&self, n: u64) -> String;

    /// Puts the emulator's sandbox credentials for this vendor into `out` (`--sandbox`
    /// sends them whatever callform.yaml says).
    fn sandbox_credentials(
        &self,
        sandbox: &crate::emulator::Credentials,
        out: &mut crate::driver::Credentials,
    );

    /// How the emulator receives its requests: the create, the callee loads and the start
    /// its pages document.
    fn emulator_routes(&self) -> Vec<Route>;

    /// What `callform init` writes for it: the provider block of callform.yaml (indented
    /// under `providers:`) and a commented task manifest (`{{START}}` and `{{END}}` stand
    /// for dates, `YYYY-MM-DD`).
    fn init_template(&self) -> InitTemplate;
}

/// A vendor's part of a new project (`callform init`).
pub(crate) struct InitTemplate {
    /// Lines of callform.yaml under `providers:`.
    pub provider: &'static str,
    /// A task manifest.
    pub task: &'static str,
}

/// A vendor's manifest parameters, as the shared code needs them.
pub(crate) trait VendorSpec {
    /// The vendor's own name parameter, if set.
    fn vendor_name(&self) -> Option<&str>;

    /// That parameter's path in a manifest (`spec.task_name`), for diagnostics.
    fn vendor_name_field(&self) -> &'static str;

    /// When a started task dials, in words, for the plan (`None`: callform never starts it).
    fn dials(&self) -> Option<String>;

    /// When the task may dial, as its fields say, for the calling-hours policy
    /// ([`crate::policy::hours`]): its period, daily windows, forbidden times and pauses,
    /// or that its windows are kept at the vendor.
    fn dialling(&self) -> crate::policy::Dialling;

    /// The time the start request schedules the task for (Aliyun's `ScheduleTime`).
    fn schedule_time(&self) -> Option<String> {
        None
    }

    /// Keys of the spec that moved elsewhere, each with what to write instead: set in the
    /// manifest, they are refused with that hint (never read as an alias).
    fn moved(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// The vendor's rules; `task` holds the task-level fields the rules depend on.
    fn check(&self, cx: &mut Checker<'_>, name: &str, task: &TaskFacts<'_>);

    /// Normalises the spec once it passed its rules.
    fn normalise(&mut self) {}

    /// The request that loads `rows` (with the list's `columns`, in order) into the created
    /// task `task_id`: at most `steps().batch_rows` rows, every number and value of them
    /// in `Request::redact`.
    fn build_load(
        &self,
        task: &Task,
        task_id: &str,
        columns: &[String],
        rows: &[Row],
        cx: &Context,
    ) -> Result<Request, BuildError>;

    /// The request that starts the created task `task_id` (`None`: started at create, or
    /// never by callform).
    fn build_start(
        &self,
        task: &Task,
        task_id: &str,
        cx: &Context,
    ) -> Result<Option<Request>, BuildError>;

    /// Builds the create request for `task` (whose spec this is).
    fn build_create(&self, task: &Task, cx: &Context) -> Result<Request, BuildError>;

    /// The fields of the canonical spec (top-level keys) this vendor changes in place on a
    /// created task (`Op::Update`); empty where it has no update. A change of any other
    /// field stays blocked.
    fn updatable(&self) -> &'static [&'static str];

    /// The request an update in place is sent as, as a plan names it (`UpdateTask`);
    /// empty where the vendor has no update.
    fn update_via(&self) -> &'static str {
        ""
    }

    /// The request that changes the created task `task_id` to this spec in place (`None`:
    /// the vendor has no update).
    fn build_update(
        &self,
        task: &Task,
        task_id: &str,
        cx: &Context,
    ) -> Result<Option<Request>, BuildError>;
}
