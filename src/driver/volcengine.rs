//! Placeholder until the volcengine driver lands.

use super::{BuildError, Context, Parsed, Request};
use crate::manifest::{volcengine::VolcengineSpec, Task};

pub fn build(_task: &Task, _spec: &VolcengineSpec, _cx: &Context) -> Result<Request, BuildError> {
    Err(BuildError("the volcengine driver is not built yet".into()))
}

pub fn parse(_status: u16, _body: &[u8]) -> Parsed {
    Parsed::Unreadable("the volcengine driver is not built yet".into())
}
