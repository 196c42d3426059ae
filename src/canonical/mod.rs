//! The canonical form of a task: what the plan compares and the state keeps.
//!
//! It is the typed spec as JSON (only the keys the manifest sets: defaults are never filled
//! in, so a newer callform that learns a default does not turn unchanged tasks into
//! changes), plus the vendor, the provider and the project timezone (date-times are wall
//! clock in it, so changing the zone changes when calls happen).
//!
//! It holds the spec only: a task's callees and its run state (`status:`) are not part of
//! it, but steps of the task that the state records one by one ([`callees`] makes the
//! digests those records keep). Personal data never appears in it: numbers (calling lines)
//! are masked with a short keyed tag, so a change of any digit still changes the form. The
//! spec digest is the SHA-256 of this form's canonical JSON (sorted keys), so it needs no
//! key of its own.
//!
//! The form has a version. A change to it must bump [`CANONICAL_VERSION`] and teach
//! [`upgrade`] to bring older stored forms up to date, so that old state plans no change.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::manifest::{Spec, Task};
use crate::phone;
use crate::vendor::PersonalData;

pub mod callees;
mod sorted;

/// 3: the spec only. Callees (Aliyun `spec.callees`, Volcengine `spec.phone_list`, each a
/// `{count, digest}` summary in version 2) and Volcengine's `spec.start` left the spec for
/// the task-level `callees:` and `status:`, and Aliyun's `caller` (the calling line, a
/// masked list like xfyeta's `line_num`) is new. [`upgrade`] takes them out of older
/// forms, so an unchanged xfyeta, longlonglong or volcengine task plans no change; an
/// Aliyun form of version 2 or older never matches (it has no `caller`: the task was
/// created with the callees as its calling line), see [`upgrade_reason`].
///
/// 2: phone-shaped runs in free text (task names, remarks, TTS text: every string of the
/// spec) are masked in the stored form. The digest is unchanged from 1: it is taken over
/// the unmasked form, so a changed digit still changes it, and a form of version 1
/// digests as its version-2 counterpart does.
pub const CANONICAL_VERSION: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    pub form: Value,
    pub digest: String,
}

/// HMAC-SHA256 of `data` keyed with the state's salt, as hex.
pub fn keyed_hex(salt: &str, data: &[u8]) -> String {
    // Any key length is valid for HMAC, so this cannot fail; fall back to a plain hash
    // rather than panic if the library ever says otherwise.
    match Hmac::<Sha256>::new_from_slice(salt.as_bytes()) {
        Ok(mut mac) => {
            mac.update(data);
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => hex(&Sha256::digest([salt.as_bytes(), data].concat())),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `sha256:<hex>` of the canonical JSON of `form`.
pub fn digest(form: &Value) -> String {
    // serde_json's Map is a BTreeMap here (no preserve_order), so keys come out sorted.
    let bytes = serde_json::to_vec(form).unwrap_or_default();
    format!("sha256:{}", hex(&Sha256::digest(&bytes)))
}

/// A masked number with a keyed tag: `055****1407#3fa29c`.
fn tagged(salt: &str, number: &str) -> String {
    let tag = keyed_hex(salt, number.as_bytes());
    format!("{}#{}", phone::mask(number), &tag[..6])
}

/// What the canonical form changes in a vendor's spec: declared by each vendor
/// (`Vendor::personal_data`), in one place for both ways of writing it ([`canonical`]
/// and [`spec_digest`]).
pub(crate) fn edits(spec: &Spec) -> PersonalData {
    spec.vendor().def().personal_data()
}

/// The canonical form of `task` and its digest. `salt` is the state's.
pub fn canonical(task: &Task, timezone: &str, salt: &str) -> Canonical {
    let mut spec = match serde_json::to_value(&task.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let edits = edits(&task.spec);
    for key in edits.drop {
        spec.remove(*key);
    }
    for key in edits.mask {
        mask_list(&mut spec, key, salt);
    }
    let mut form = json!({
        "vendor": task.vendor.key(),
        "provider": task.provider,
        "timezone": timezone,
        "spec": Value::Object(spec),
    });
    // The form kept and shown holds no number, and the digest covers that form, not the
    // text as written: a digest of the hidden digits stored beside the masked text would
    // give them back to anyone who tries the 10,000 candidates (the salt is in the same
    // file). The price: a change to only the hidden digits of a free-text number is not
    // seen, which `validate` warns about where such a number is written.
    if let Some(spec) = form.get_mut("spec") {
        mask_free_text(spec);
    }
    let digest = digest(&form);
    Canonical { form, digest }
}

/// Masks phone-shaped runs in every string of `value` (not in keys: they are field names).
pub fn mask_free_text(value: &mut Value) {
    match value {
        Value::String(s) if phone::may_hold_number(s) => {
            let masked = phone::mask_phones_in_text(s);
            if masked != *s {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_free_text),
        Value::Object(map) => map.values_mut().for_each(mask_free_text),
        _ => {}
    }
}

fn mask_list(spec: &mut Map<String, Value>, key: &str, salt: &str) {
    if let Some(Value::Array(items)) = spec.get_mut(key) {
        for item in items.iter_mut() {
            if let Value::String(s) = item {
                *item = Value::String(mask_number(salt, s));
            }
        }
    }
}

fn mask_number(salt: &str, raw: &str) -> String {
    let number = phone::normalize(raw)
        .map(|(n, _)| n)
        .unwrap_or_else(|_| raw.to_string());
    tagged(salt, &number)
}

/// The digest [`canonical`] gives `task`, computed without building the form: what a
/// no-change plan compares with the state, for every task. `None` if the spec holds
/// something the direct writer does not take (the caller then uses [`canonical`]).
///
/// Both ways apply the same `Edits`; they differ only in how the JSON is written. The
/// plan trusts this digest only when it equals the stored one, so a task is declared
/// unchanged only if these bytes are exactly the stored form's. Were the writer to leave
/// something out, a change to that alone would go unseen: every valid case of
/// `tests/validate.rs` (every field of every vendor) checks that both ways agree.
pub fn spec_digest(task: &Task, timezone: &str, salt: &str) -> Option<String> {
    let edits = edits(&task.spec);
    let masker = |raw: &str| mask_number(salt, raw);
    let top = sorted::Top {
        drop: edits.drop,
        mask: edits.mask,
        masker: &masker,
        extra: &[],
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"provider\":");
    serde_json::to_writer(&mut out, &task.provider).ok()?;
    out.extend_from_slice(b",\"spec\":");
    sorted::write(&task.spec, &mut out, top).ok()?;
    out.extend_from_slice(b",\"timezone\":");
    serde_json::to_writer(&mut out, timezone).ok()?;
    out.extend_from_slice(b",\"vendor\":");
    serde_json::to_writer(&mut out, task.vendor.key()).ok()?;
    out.push(b'}');
    Some(format!("sha256:{}", hex(&Sha256::digest(&out))))
}

/// Brings a stored canonical form of `version` up to [`CANONICAL_VERSION`]. `None` when
/// the version is unknown (a newer callform wrote it).
///
/// The result is what [`digest`] compares with a current task's digest: version 1 kept
/// free text as written, version 2 masks it; versions 1 and 2 kept the callees (and
/// Volcengine's `start`) in the spec, version 3 does not.
pub fn upgrade(form: &Value, version: u32) -> Option<Value> {
    match version {
        1 => {
            let mut form = form.clone();
            if let Some(spec) = form.get_mut("spec") {
                mask_free_text(spec);
            }
            upgrade(&form, 2)
        }
        2 => {
            // The keys that left the spec are the ones each vendor's form drops.
            let mut form = form.clone();
            let vendor = form
                .get("vendor")
                .and_then(Value::as_str)
                .and_then(crate::manifest::Vendor::from_key);
            if let (Some(vendor), Some(Value::Object(spec))) = (vendor, form.get_mut("spec")) {
                for key in vendor.def().personal_data().drop {
                    spec.remove(*key);
                }
            }
            Some(form)
        }
        3 => Some(form.clone()),
        _ => None,
    }
}

/// Why a task recorded with a form of `version` cannot be taken as unchanged, whatever its
/// manifest says now, when the reason is not a change of the spec: a vendor whose older
/// requests meant something else. The plan shows it instead of "the spec changed".
pub fn upgrade_reason(vendor: &str, version: u32) -> Option<&'static str> {
    crate::manifest::Vendor::from_key(vendor)?
        .def()
        .upgrade_reason(version)
}

/// Flattens a canonical form into `path = value` lines, for review and diffs. Lists of
/// scalars stay on one line; lists of mappings are expanded by index.
pub fn flatten(form: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(form, String::new(), &mut out);
    out
}

fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(child, p, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{i}]"), out);
            }
        }
        _ => out.push((path, v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Source, Vendor};
    use crate::vendor::aliyun::spec::AliyunSpec;

    fn task(callers: &[&str], interval: Option<i64>) -> Task {
        Task {
            name: "t".into(),
            vendor: Vendor::Aliyun,
            provider: "aliyun".into(),
            labels: Default::default(),
            spec: Spec::Aliyun(AliyunSpec {
                task_name: None,
                dialog_id: 1,
                caller: callers.iter().map(|s| s.to_string()).collect(),
                callees: None,
                callees_file: None,
                corp_name: None,
                is_self_line: None,
                number_status_ident: true,
                retry_type: 1,
                recall_times: None,
                recall_interval: interval,
                recall_state_codes: None,
                schedule_time: None,
            }),
            status: Default::default(),
            callees: None,
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        }
    }

    #[test]
    fn no_personal_data_and_stable() {
        let a = canonical(&task(&["13700000001"], None), "Asia/Shanghai", "salt");
        let text = a.form.to_string();
        assert!(!text.contains("13700000001"), "{text}");
        assert!(
            a.form["spec"]["caller"][0]
                .as_str()
                .is_some_and(|s| s.starts_with("137****0001#")),
            "{text}"
        );
        assert_eq!(
            a,
            canonical(&task(&["13700000001"], None), "Asia/Shanghai", "salt")
        );
        // Any change of number, spec, zone or salt changes the digest.
        assert_ne!(
            a.digest,
            canonical(&task(&["13700000002"], None), "Asia/Shanghai", "salt").digest
        );
        assert_ne!(
            a.digest,
            canonical(&task(&["13700000001"], Some(5)), "Asia/Shanghai", "salt").digest
        );
        assert_ne!(
            a.digest,
            canonical(&task(&["13700000001"], None), "UTC", "salt").digest
        );
        assert_ne!(
            a.digest,
            canonical(&task(&["13700000001"], None), "Asia/Shanghai", "other").digest
        );
    }

    #[test]
    fn numbers_in_free_text_are_masked_and_digested_masked() {
        let named = |name: &str| {
            let mut t = task(&["13700000001"], None);
            if let Spec::Aliyun(s) = &mut t.spec {
                s.task_name = Some(name.into());
            }
            t
        };
        let a = canonical(&named("回访tel13912345678"), "Asia/Shanghai", "salt");
        let text = a.form.to_string();
        assert!(!text.contains("12345678"), "{text}");
        assert_eq!(a.form["spec"]["task_name"], "回访tel139****5678");
        // The same spelling masked, other hidden digits: the same digest, so nothing kept
        // beside the masked text tells the hidden digits. A digit that shows changes it.
        let b = canonical(&named("回访tel13912245678"), "Asia/Shanghai", "salt");
        assert_eq!(a.form, b.form);
        assert_eq!(a.digest, b.digest);
        let c = canonical(&named("回访tel13912345679"), "Asia/Shanghai", "salt");
        assert_ne!(a.digest, c.digest);
        // The fast path agrees, and a form of version 1 (unmasked) digests the same.
        let t = named("回访tel13912345678");
        assert_eq!(
            spec_digest(&t, "Asia/Shanghai", "salt"),
            Some(a.digest.clone())
        );
        let mut v1 = a.form.clone();
        v1["spec"]["task_name"] = json!("回访tel13912345678");
        assert_eq!(digest(&upgrade(&v1, 1).unwrap()), a.digest);
    }

    #[test]
    fn flattens_for_review() {
        let v = json!({"spec": {"a": 1, "list": [1, 2], "objs": [{"x": "y"}]}});
        assert_eq!(
            flatten(&v),
            [
                ("spec.a".to_string(), "1".to_string()),
                ("spec.list".to_string(), "[1,2]".to_string()),
                ("spec.objs[0].x".to_string(), "\"y\"".to_string())
            ]
        );
    }
}
