//! Digests of a task's callees, for the state: what lets a plan tell which callees are
//! loaded without the state holding any number.
//!
//! A phone number has about 31 bits of entropy, and the state's salt sits in the same file
//! as anything keyed with it: a keyed hash of one number, or of one small batch, is
//! reversed by trying every number. So no digest here covers a batch alone. [`through`]
//! covers **every row from the first** up to a batch's end: reversing it needs every
//! loaded number at once, and no record ever covers only the rows of one append. What it
//! does not protect: a whole list of 1–2 numbers (validation warns), and confirming a
//! guessed complete list.
//!
//! `through(end) = "h1:" + hex(HMAC-SHA256(K, name ‖ 0x00 ‖ fp_0 ‖ … ‖ fp_{end-1} ‖
//! u64be(end))[..16])`, `K = HMAC-SHA256(salt, "callform/callees/v1")`, `fp_i` the rows'
//! fingerprints (`manifest::callees::fingerprint`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::hex;
use crate::manifest::callees::{CalleeList, Fingerprint, RowsError};
use crate::manifest::Vendor;

type HmacSha256 = Hmac<Sha256>;

/// The key of a state's callee digests, derived from its salt (so that it is used for
/// nothing else).
pub fn callee_key(salt: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = HmacSha256::new_from_slice(salt.as_bytes()) {
        mac.update(b"callform/callees/v1");
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// [`through`] built row by row: [`Through::at`] gives the digest at every boundary
/// without starting over (a million rows take one pass).
#[derive(Clone)]
pub struct Through {
    mac: HmacSha256,
    rows: u64,
}

impl Through {
    /// For the task `name` (a list moved to another task digests differently).
    pub fn new(key: &[u8; 32], name: &str) -> Through {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(key) {
            Ok(mac) => mac,
            Err(_) => unreachable_key(),
        };
        mac.update(name.as_bytes());
        mac.update(&[0]);
        Through { mac, rows: 0 }
    }

    pub fn push(&mut self, fp: &Fingerprint) {
        self.mac.update(fp);
        self.rows += 1;
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The digest of the rows pushed so far.
    pub fn at(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(&self.rows.to_be_bytes());
        let full = mac.finalize().into_bytes();
        format!("h1:{}", hex(&full[..16]))
    }
}

#[cold]
fn unreachable_key() -> HmacSha256 {
    // `new_from_slice` refuses no key length for HMAC; an empty key still works.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// The digest of the task `name`'s first `fps.len()` rows.
pub fn through(key: &[u8; 32], name: &str, fps: &[Fingerprint]) -> String {
    let mut t = Through::new(key, name);
    for fp in fps {
        t.push(fp);
    }
    t.at()
}

/// The callee digest a version-2 canonical form held (`spec.callees.digest` of Aliyun,
/// `spec.phone_list.digest` of Volcengine): `hmac-sha256:` + HMAC(salt, the JSON of the
/// list as that version typed it). What a state written by that version is compared with,
/// to know whether the list it loaded is the manifest's list now. `None` for a vendor whose
/// form held none.
pub fn legacy_v2_digest(
    salt: &str,
    vendor: Vendor,
    list: &CalleeList,
) -> Option<Result<String, RowsError>> {
    let def = vendor.def();
    let probe = crate::manifest::callees::Row {
        phone: String::new(),
        values: vec![String::new(); list.columns.len()],
    };
    def.legacy_callee_json(&list.columns, &probe)?;
    let mut mac = match HmacSha256::new_from_slice(salt.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable_key(),
    };
    mac.update(b"[");
    const CHUNK: usize = 10_000;
    let mut from = 0;
    while from < list.len() {
        let rows = match list.rows(from, CHUNK) {
            Ok(rows) => rows,
            Err(e) => return Some(Err(e)),
        };
        for (i, row) in rows.iter().enumerate() {
            if from + i > 0 {
                mac.update(b",");
            }
            mac.update(
                &def.legacy_callee_json(&list.columns, row)
                    .unwrap_or_default(),
            );
        }
        from += rows.len().max(1);
    }
    mac.update(b"]");
    Some(Ok(format!(
        "hmac-sha256:{}",
        hex(&mac.finalize().into_bytes())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::callees::{fingerprint, Row};
    use jiff::tz::TimeZone;
    use std::path::Path;

    fn row(phone: &str, values: &[&str]) -> Row {
        Row {
            phone: phone.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn fingerprints_are_stable_and_see_every_part_of_a_row() {
        let cols = vec!["姓名".to_string(), "amount".to_string()];
        let a = fingerprint(&row("13700000001", &["张三", "100"]), &cols);
        assert_eq!(a, fingerprint(&row("13700000001", &["张三", "100"]), &cols));
        for other in [
            fingerprint(&row("13700000002", &["张三", "100"]), &cols),
            fingerprint(&row("13700000001", &["张四", "100"]), &cols),
            fingerprint(&row("13700000001", &["100", "张三"]), &cols),
            fingerprint(
                &row("13700000001", &["张三", "100"]),
                &["姓名".to_string(), "amt".to_string()],
            ),
            // Lengths are in the encoding: moving a character between values is seen.
            fingerprint(&row("13700000001", &["张三1", "00"]), &cols),
        ] {
            assert_ne!(a, other);
        }
        assert_eq!(
            format!("{:?}", row("13700000001", &["张三"])),
            "Row { phone: 137****0001, values: 1 }"
        );
    }

    #[test]
    fn through_row_by_row_equals_at_once_and_depends_on_key_name_and_rows() {
        let cols: Vec<String> = Vec::new();
        let fps: Vec<Fingerprint> = (0..120)
            .map(|i| fingerprint(&row(&format!("137{i:08}"), &[]), &cols))
            .collect();
        let key = callee_key("salt");
        let mut t = Through::new(&key, "task");
        let mut at = Vec::new();
        for (i, fp) in fps.iter().enumerate() {
            t.push(fp);
            if (i + 1) % 50 == 0 || i + 1 == fps.len() {
                at.push(t.at());
            }
        }
        assert_eq!(at[0], through(&key, "task", &fps[..50]));
        assert_eq!(at[1], through(&key, "task", &fps[..100]));
        assert_eq!(at[2], through(&key, "task", &fps));
        assert!(
            at[2].starts_with("h1:") && at[2].len() == 3 + 32,
            "{}",
            at[2]
        );
        assert_ne!(at[2], through(&callee_key("other"), "task", &fps));
        assert_ne!(at[2], through(&key, "other-task", &fps));
        let mut swapped = fps.clone();
        swapped.swap(3, 4);
        assert_ne!(at[2], through(&key, "task", &swapped));
        assert_ne!(through(&key, "task", &[]), through(&key, "task", &fps[..1]));
    }

    /// The version-2 digests of the state fixture written by an earlier callform, made again
    /// from the callee files in the new model.
    #[test]
    fn legacy_digests_match_a_state_written_by_the_previous_version() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1");
        let salt = "9d96054b42fc0b5b16dee09d923d462a";
        let load = |vendor: &str, file: &str| {
            let manifest = fixture.join("tasks/probe.yaml");
            let text = match vendor {
                "aliyun" => format!("name: t\nvendor: aliyun\ncallees: {{file: {file}}}\nspec: {{dialog_id: 1, caller: [\"057100000001\"], number_status_ident: true, retry_type: 0}}\n"),
                _ => format!("name: t\nvendor: volcengine\ncallees: {{file: {file}}}\nspec: {{resource: r, number_pool_no: p, start_time: 2090-01-01 09:00, end_time: 2090-01-02 09:00, concurrency: 1}}\n"),
            };
            let out = crate::manifest::load_text(
                &manifest,
                &text,
                &TimeZone::UTC,
                jiff::Timestamp::UNIX_EPOCH,
                None,
            );
            assert!(!out.has_errors(), "{:?}", out.diagnostics);
            out.tasks
                .into_iter()
                .next()
                .and_then(|t| t.callees)
                .unwrap()
        };
        let list = load("volcengine", "numbers/delivery.csv");
        assert_eq!(
            legacy_v2_digest(salt, Vendor::Volcengine, &list)
                .unwrap()
                .unwrap(),
            "hmac-sha256:a81a013b12cd85ee4214ce59c3918651d6152b43d8eb5017faf939b01e645d23"
        );
        let list = load("aliyun", "numbers/overdue-jan.txt");
        assert_eq!(
            legacy_v2_digest(salt, Vendor::Aliyun, &list)
                .unwrap()
                .unwrap(),
            "hmac-sha256:90ba17335b7cce944e7e68cb7edb5879a1370c6d268275b3a7fb3617ab04dfae"
        );
        assert!(legacy_v2_digest(salt, Vendor::Xfyeta, &list).is_none());
    }
}
