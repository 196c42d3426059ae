//! The PostgreSQL backend: the conformance suite (`conformance.rs`, the same checks the file
//! backend passes) against a real server, and what only a database has: workspaces side by
//! side, the lock's session, the lock row.

use std::path::Path;

use callform::state::{self, StateBackend};

use crate::conformance;
use crate::pg::{self, off_runtime};

/// One workspace of the shared cluster's `callform` database.
struct PgStore {
    location: String,
    workspace: String,
}

impl PgStore {
    fn new() -> PgStore {
        let workspace = pg::unique("conf");
        PgStore {
            location: format!("${{CALLFORM_STATE_URL}}?workspace={workspace}"),
            workspace,
        }
    }

    /// Runs `sql` with `$1` = the workspace; the rows it returns, as text.
    fn sql(&self, sql: &str) -> Vec<String> {
        let (sql, ws) = (sql.to_string(), self.workspace.clone());
        off_runtime(move || {
            let mut c = pg::cluster().client("callform");
            c.query(&sql, &[&ws])
                .unwrap()
                .iter()
                .map(|r| r.try_get::<_, String>(0).unwrap_or_default())
                .collect()
        })
    }
}

impl conformance::Subject for PgStore {
    fn open(&self) -> Box<dyn StateBackend> {
        let url = pg::cluster().url("callform");
        state::open_with(Path::new(&self.location), &move |name| {
            (name == "CALLFORM_STATE_URL").then(|| url.clone())
        })
        .unwrap()
    }

    fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (table, order) in [
            ("workspaces", "workspace"),
            ("tasks", "name"),
            ("journal", "run, seq"),
        ] {
            let rows = self.sql(&format!(
                "SELECT row_to_json(t)::text FROM callform.{table} t WHERE workspace = $1 ORDER BY {order}"
            ));
            out.push((table.to_string(), rows.join("\n").into_bytes()));
        }
        out
    }

    fn damage(&self) {
        self.sql(
            "UPDATE callform.tasks SET record = '{\"vendor\": 5}' WHERE workspace = $1 RETURNING ''",
        );
    }

    fn store_newer(&self) {
        self.sql(&format!(
            "UPDATE callform.workspaces SET format_version = {} WHERE workspace = $1 RETURNING ''",
            state::FORMAT_VERSION + 1
        ));
        self.sql(
            "UPDATE callform.tasks SET record = record || '{\"retention\": \"30d\"}' WHERE workspace = $1 RETURNING ''",
        );
    }

    fn log_len(&self) -> u64 {
        self.sql("SELECT count(*)::text FROM callform.journal WHERE workspace = $1")
            .first()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn cut_log(&self, len: u64) {
        self.sql(&format!(
            "DELETE FROM callform.journal WHERE workspace = $1 AND seq >= {len} RETURNING ''"
        ));
    }
}

conformance::suite!(|_dir: &Path| -> Box<dyn conformance::Subject> { Box::new(PgStore::new()) });
