//! The integration tests: one binary, one harness (`harness`), one shared emulator.
//!
//! Each module is one area; tests run in parallel and share the emulator, so every test
//! uses task names of its own (a prefix) and fault rules that match those names only.

mod harness;

mod apply;
mod crash;
mod drivers;
mod emulator;
mod fuzz_regressions;
mod human;
mod plan;
mod schema;
mod signing;
mod state;
mod validate;
