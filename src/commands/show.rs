//! `callform show [PLANFILE]`: a saved plan, or (without one) the tasks in the state.

use crate::cli::{Outcome, ShowArgs};
use crate::commands::plan::print_plan;
use crate::plan::{Plan, PLAN_FORMAT_VERSION};

/// Reads a saved plan file, refusing other files and newer formats.
pub fn read_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
    let mut bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the plan file {}: {e}", path.display()))?;
    // Checked before anything in it is believed; a plan saved before checksums has none.
    if crate::state::checksum::unseal(&mut bytes) == crate::state::checksum::Seal::Mismatch {
        anyhow::bail!(
            "{}: the plan file does not match its checksum: it was damaged or edited\nhint: make the plan again with `callform plan --out FILE` and review it",
            path.display()
        );
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not a callform plan file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if v == u64::from(PLAN_FORMAT_VERSION) => {}
        Some(v) => anyhow::bail!(
            "{}: plan format version {v}, this callform reads version {PLAN_FORMAT_VERSION}\nhint: make the plan again with this callform",
            path.display()
        ),
        None => anyhow::bail!("{}: not a callform plan file (no format_version)", path.display()),
    }
    serde_json::from_value(value)
        .map_err(|e| anyhow::anyhow!("{}: not a valid callform plan file: {e}", path.display()))
}

pub fn run(args: &ShowArgs) -> anyhow::Result<Outcome> {
    match &args.plan {
        Some(path) => {
            let plan = read_plan(path)?;
            print_plan(&plan, args.format, args.color.stdout())?;
            Ok(Outcome::Success)
        }
        None => crate::commands::state::list(&args.dir, args.state.as_deref()),
    }
}
