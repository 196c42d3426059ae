//! Placeholder until the aliyun driver lands.

use super::{BuildError, Context, Parsed, Request};
use crate::manifest::{aliyun::AliyunSpec, Task};

pub fn build(_task: &Task, _spec: &AliyunSpec, _cx: &Context) -> Result<Request, BuildError> {
    Err(BuildError("the aliyun driver is not built yet".into()))
}

pub fn parse(_status: u16, _body: &[u8]) -> Parsed {
    Parsed::Unreadable("the aliyun driver is not built yet".into())
}
