//! `callform show PLANFILE`: a saved plan. (Without one, `lib.rs` runs `state list`.)

use std::path::Path;

use crate::cli::{Outcome, ShowArgs};
use crate::error::WithHint;
use crate::output::plan as render;
use crate::output::Printer;
use crate::workspace;

pub fn run(path: &Path, args: &ShowArgs, out: &Printer) -> anyhow::Result<Outcome> {
    let plan = workspace::read_plan(path).map_err(|e| WithHint::new(&e))?;
    out.data(&render::format(&plan, args.format, out.stdout_palette().on))?;
    Ok(Outcome::Success)
}
