//! `callform show [PLANFILE]`: a saved plan, or (without one) the tasks in the state.

use crate::cli::{Outcome, ShowArgs};
use crate::error::WithHint;
use crate::output::plan as render;
use crate::output::Printer;
use crate::workspace;

pub fn run(args: &ShowArgs, out: &Printer) -> anyhow::Result<Outcome> {
    match &args.plan {
        Some(path) => {
            let plan = workspace::read_plan(path).map_err(|e| WithHint::new(&e))?;
            out.data(&render::format(&plan, args.format, out.stdout_palette().on))?;
            Ok(Outcome::Success)
        }
        None => crate::commands::state::list(&args.dir, args.state.as_deref()),
    }
}
