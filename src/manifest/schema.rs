//! The JSON Schema of task manifests, for editors (`callform schema`).
//!
//! Generated from the same types the loader reads, so it cannot drift from them. Rules that
//! span fields (limits, fields required together) are checked by `callform validate`, not
//! by the schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::vendor::TaskDocument;

/// What every task document holds around its vendor's spec (the `vendor` tag and the
/// vendor's variant come from `vendor::TaskDocument`, one per vendor).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct Envelope<S> {
    /// callform's key for the task: `[a-z0-9][a-z0-9_-]{0,62}`, unique in the directory.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    name: String,
    /// A provider block in callform.yaml; defaults to the vendor's key.
    provider: Option<String>,
    /// Free-form labels, never sent to the vendor.
    labels: Option<BTreeMap<String, String>>,
    /// The name this task is recorded under now, when it was renamed: the plan moves the
    /// record to `name` (a `rename`) and sends nothing. Remove it once applied.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    moved_from: Option<String>,
    /// Whether the task dials: `paused` (the default: created and loaded, nobody is called)
    /// or `running` (started once its callees are loaded). longlonglong takes `paused`
    /// only: it documents no start API.
    status: Option<crate::manifest::RunStatus>,
    /// The people the task calls: a file (`*.csv` with a header `phone,<variables…>`, any
    /// other name one number a line), or inline `numbers` or `rows`. Each number once.
    callees: Option<crate::manifest::callees::CalleesDoc>,
    /// What the calls are for: `notification`, `marketing`, `collection`, `survey`, or a
    /// purpose `policy.purposes` of callform.yaml names. The policy may require a consent
    /// reference and stricter calling hours for a purpose.
    #[schemars(regex(pattern = r"^[a-z0-9_]{1,40}$"))]
    purpose: Option<String>,
    /// Where the callees' consent is recorded (a consent campaign, a CRM list id): a
    /// reference, never personal data. Required by the policy for some purposes.
    consent: Option<String>,
    /// Rules of the policy this task is excused from, each with the reason a reviewer
    /// reads in every plan.
    exceptions: Option<Vec<ExceptionDoc>>,
    /// The vendor's own parameters, in snake_case.
    spec: S,
}

/// An exception from a policy rule.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ExceptionDoc {
    /// The rule: `calling_hours`, `consent` or `purpose`.
    rule: String,
    /// Why the task may break it (who approved it, a ticket), at least 10 characters.
    #[schemars(length(min = 10))]
    reason: String,
}

/// The schema as pretty JSON.
pub fn json() -> String {
    let schema = schemars::schema_for!(TaskDocument);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_string())
}
