//! The tasks in a state as data: `callform show --format json|markdown` without a plan
//! file. (The text listing is `state list`'s.) Records hold no clear numbers; every string
//! passes the phone masker once more on the way out.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::phone::mask_phones_in_text;
use crate::state::{State, TaskStatus};

fn status(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Created => "created",
        TaskStatus::Uncertain => "uncertain",
    }
}

/// `{state: {path, exists, lineage?, serial?}, tasks: [{name, vendor, provider, status,
/// task_id, endpoint, created_at, uncertain_reason?}]}`, tasks by name.
pub fn json(path: &Path, state: Option<&State>) -> String {
    let tasks: Vec<serde_json::Value> = state
        .map(|st| {
            st.tasks
                .iter()
                .map(|(name, r)| {
                    let mut t = json!({
                        "name": name,
                        "vendor": r.vendor,
                        "provider": r.provider,
                        "status": status(r.status),
                        "task_id": r.task_id,
                        "endpoint": r.endpoint,
                        "created_at": r.created_at,
                    });
                    if let Some(why) = &r.uncertain_reason {
                        t["uncertain_reason"] = json!(why);
                    }
                    t
                })
                .collect()
        })
        .unwrap_or_default();
    let doc = json!({
        "state": {
            "path": path.display().to_string(),
            "exists": state.is_some(),
            "lineage": state.map(|s| s.lineage.clone()),
            "serial": state.map(|s| s.serial),
        },
        "tasks": tasks,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    mask_phones_in_text(&text) + "\n"
}

use super::plan::md_escape;

/// A heading and a table of the tasks.
pub fn markdown(path: &Path, state: Option<&State>) -> String {
    let mut out = String::new();
    let shown = md_escape(&path.display().to_string());
    let Some(st) = state else {
        let _ = writeln!(
            out,
            "### callform state: none yet\n\nNo state at `{shown}`: nothing has been applied yet."
        );
        return mask_phones_in_text(&out);
    };
    let uncertain = st
        .tasks
        .values()
        .filter(|r| r.status == TaskStatus::Uncertain)
        .count();
    let _ = writeln!(
        out,
        "### callform state: {} task(s){}\n\n`{shown}` (lineage {}, serial {})\n",
        st.tasks.len(),
        if uncertain > 0 {
            format!(", ⚠️ **{uncertain} uncertain**")
        } else {
            String::new()
        },
        st.lineage,
        st.serial
    );
    if !st.tasks.is_empty() {
        let _ = writeln!(
            out,
            "| task | vendor | provider | status | task id | endpoint |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for (name, r) in &st.tasks {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                md_escape(name),
                md_escape(&r.vendor),
                md_escape(&r.provider),
                status(r.status),
                md_escape(r.task_id.as_deref().unwrap_or("-")),
                md_escape(&r.endpoint)
            );
        }
    }
    mask_phones_in_text(&out)
}
