//! Placeholder until the xfyeta driver lands.

use super::{BuildError, Context, Parsed, Request};
use crate::manifest::{xfyeta::XfyetaSpec, Task};

pub fn build(_task: &Task, _spec: &XfyetaSpec, _cx: &Context) -> Result<Request, BuildError> {
    Err(BuildError("the xfyeta driver is not built yet".into()))
}

pub fn parse(_status: u16, _body: &[u8]) -> Parsed {
    Parsed::Unreadable("the xfyeta driver is not built yet".into())
}
