//! Placeholder until the longlonglong driver lands.

use super::{BuildError, Context, Parsed, Request};
use crate::manifest::{longlonglong::LonglonglongSpec, Task};

pub fn build(_task: &Task, _spec: &LonglonglongSpec, _cx: &Context) -> Result<Request, BuildError> {
    Err(BuildError("the longlonglong driver is not built yet".into()))
}

pub fn parse(_status: u16, _body: &[u8]) -> Parsed {
    Parsed::Unreadable("the longlonglong driver is not built yet".into())
}
