//! The tasks the emulator created, in creation order, as `GET /_emulator/tasks` shows
//! them: vendor, task id, vendor-visible name, and the request as the vendor received
//! it (method, path, decoded query, content type, parsed body) — so tests can assert on
//! what a driver actually sent.
//!
//! Nothing secret is kept: headers are not recorded, and xfyeta's token, which travels
//! in the query, is stored as `***`.

use super::faults::random_u64;
use serde::Serialize;
use serde_json::Value;

pub(crate) use crate::manifest::Vendor;

/// The request that created a task, as received.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Decoded (name, value) pairs in the order sent; serialised as `[[name, value], …]`.
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The parsed JSON body, or `null` when the parameters travel in the query.
    pub body: Option<Value>,
}

/// One created task.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TaskRecord {
    pub vendor: Vendor,
    pub task_id: String,
    pub name: String,
    pub request: RecordedRequest,
}

/// All created tasks, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    records: Vec<TaskRecord>,
}

impl Tasks {
    /// Records a new task and returns its id, shaped like the vendor's own ids
    /// (`Vendor::emulator_task_id`).
    pub(crate) fn create(
        &mut self,
        vendor: Vendor,
        name: String,
        request: RecordedRequest,
    ) -> String {
        let n = self.records.len() as u64 + 1;
        let task_id = vendor.def().emulator_task_id(n);
        self.records.push(TaskRecord {
            vendor,
            task_id: task_id.clone(),
            name,
            request,
        });
        task_id
    }

    pub(crate) fn list(&self, vendor: Option<Vendor>) -> Vec<TaskRecord> {
        self.records
            .iter()
            .filter(|r| vendor.is_none_or(|v| r.vendor == v))
            .cloned()
            .collect()
    }
}

/// A random (version 4) UUID in its usual lowercase form.
pub(crate) fn uuid_v4() -> String {
    let (hi, lo) = (random_u64(), random_u64());
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: vec![("a".into(), "b".into())],
            content_type: None,
            body: None,
        }
    }

    #[test]
    fn ids_take_each_vendor_shape_and_records_keep_order() {
        let mut tasks = Tasks::default();
        let x = tasks.create(Vendor::Xfyeta, "one".into(), request());
        let l = tasks.create(Vendor::Longlonglong, "two".into(), request());
        let a = tasks.create(Vendor::Aliyun, "three".into(), request());
        let v = tasks.create(Vendor::Volcengine, "four".into(), request());
        assert!(x.bytes().all(|b| b.is_ascii_digit()));
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(l.len(), 36);
        assert_eq!(&l[14..15], "4");
        assert!(!v.is_empty());
        let names: Vec<_> = tasks.list(None).into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["one", "two", "three", "four"]);
        assert_eq!(tasks.list(Some(Vendor::Aliyun))[0].task_id, a);
    }

    #[test]
    fn records_serialise_as_documented() {
        let mut tasks = Tasks::default();
        tasks.create(Vendor::Aliyun, "n".into(), request());
        let json = serde_json::to_value(tasks.list(None)).unwrap();
        assert_eq!(json[0]["vendor"], "aliyun");
        assert_eq!(json[0]["request"]["query"], serde_json::json!([["a", "b"]]));
        assert_eq!(json[0]["request"]["body"], Value::Null);
    }

    #[test]
    fn vendor_keys_round_trip() {
        for v in Vendor::ALL {
            assert_eq!(Vendor::from_key(v.key()), Some(v));
        }
        assert_eq!(Vendor::from_key("aws"), None);
    }
}
