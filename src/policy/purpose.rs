//! Purposes and consent: `purpose:` of a task (notification, marketing, collection,
//! survey, or one `policy.purposes` names), and what the policy requires of a purpose —
//! a `consent:` reference, and stricter calling hours.
//!
//! A purpose the policy does not know is always an error, whatever the rules' levels: a
//! misspelt `markting` would escape the consent and hours marketing is held to.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::hours::{self, WeekWindows};
use super::{ConfigSite, Field, RuleId, TaskFindings};
use crate::diag::Diagnostic;
use crate::manifest::path::FieldPath;

/// The purposes every policy knows (the preset's).
pub const BUILTIN: [&str; 4] = ["notification", "marketing", "collection", "survey"];

/// What a purpose requires.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PurposeRule {
    /// A task of this purpose must carry a `consent:` reference (rule `consent`).
    pub consent: bool,
    /// Its calls are also held to these windows (in the policy's time zone): the allowed
    /// time is what both these and `policy.hours` allow.
    pub hours: Option<WeekWindows>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PurposePolicy {
    pub purposes: BTreeMap<String, PurposeRule>,
}

impl PurposePolicy {
    /// The built-in purposes; `marketing` requires consent (the 2018 action plan on
    /// harassing calls: commercial calls need the callee's consent).
    pub fn preset() -> PurposePolicy {
        PurposePolicy {
            purposes: BUILTIN
                .iter()
                .map(|p| {
                    (
                        p.to_string(),
                        PurposeRule {
                            consent: *p == "marketing",
                            hours: None,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn get(&self, purpose: &str) -> Option<&PurposeRule> {
        self.purposes.get(purpose)
    }

    fn names(&self) -> Vec<&str> {
        self.purposes.keys().map(String::as_str).collect()
    }
}

/// `policy.purposes.NAME` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPurpose {
    /// Whether a task of this purpose needs a `consent:` reference.
    #[serde(default)]
    consent: Option<bool>,
    /// Stricter windows for it (`default`, `monday` … `sunday`, `holiday`).
    #[serde(default)]
    hours: Option<hours::RawHours>,
}

/// Reads `policy.purposes` over the built-in ones.
pub(super) fn resolve(
    raw: Option<BTreeMap<String, RawPurpose>>,
    base: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> PurposePolicy {
    let mut out = PurposePolicy::preset();
    for (name, raw) in raw.unwrap_or_default() {
        let at = base.k("purposes").k(name.clone());
        if !valid_purpose(&name) {
            diags.push(
                site.error(&at, format!("invalid purpose name `{name}`"))
                    .expected("lowercase letters, digits and `_`, at most 40"),
            );
            continue;
        }
        let rule = out.purposes.entry(name).or_default();
        if let Some(c) = raw.consent {
            rule.consent = c;
        }
        if let Some(h) = raw.hours {
            rule.hours = hours::read_week(h, &at.k("hours"), site, diags);
        }
    }
    out
}

/// A purpose's name: `[a-z0-9_]{1,40}`.
pub fn valid_purpose(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Rules `purpose` and `consent` on one task.
pub(super) fn check(found: &mut TaskFindings<'_>) {
    let task = found.task;
    let policy = found.policy;
    let Some(purpose) = &task.policy.purpose else {
        if found.on(RuleId::Purpose) {
            let field = Field {
                path: "purpose".into(),
                line: task.source.line,
            };
            let f = found.push(
                RuleId::Purpose,
                &field,
                "the task declares no purpose".into(),
            );
            f.expected = Some(format!(
                "`purpose:` one of {}",
                policy.purposes.names().join(", ")
            ));
            f.hint = Some(
                "say what the calls are for, so the policy can hold them to that purpose's rules"
                    .into(),
            );
        }
        return;
    };
    let field = Field {
        path: "purpose".into(),
        line: purpose.line,
    };
    let Some(rule) = policy.purposes.get(&purpose.value) else {
        let names = policy.purposes.names();
        let f = found.push(
            RuleId::Purpose,
            &field,
            format!("unknown purpose `{}`", purpose.value),
        );
        // A misspelt purpose escapes its rules: always an error.
        f.severity = super::Level::Error;
        f.firm = true;
        f.expected = Some(format!("one of {}", names.join(", ")));
        f.hint = Some(match crate::manifest::de::closest(&purpose.value, &names) {
            Some(best) => format!("did you mean `{best}`? (or add the purpose under `policy.purposes` in callform.yaml)"),
            None => "use a known purpose, or add it under `policy.purposes` in callform.yaml".into(),
        });
        return;
    };
    if rule.consent && task.policy.consent.is_none() && found.on(RuleId::Consent) {
        let f = found.push(
            RuleId::Consent,
            &field,
            format!(
                "a `{}` task needs a consent reference, and has no `consent:`",
                purpose.value
            ),
        );
        f.expected = Some("`consent:` naming where the callees' consent is recorded (a consent campaign, a CRM list), never personal data".into());
        f.hint = Some("add `consent: REF`, or an exception `{rule: consent, reason: …}` for the reviewer to approve".into());
    }
}
