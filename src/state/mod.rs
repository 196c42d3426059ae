//! The state: what callform has created at the vendors, and where it is kept.
//!
//! [`model`] is the data, [`replay`] the pure rules that fold a run's journal entries into
//! it. Both are shared by every store; [`file`] is the store on disk (state file, journal,
//! lock), and what it offers is re-exported here.

pub mod error;
pub mod file;
pub mod model;
pub mod replay;

pub use file::*;
pub use model::{
    now_rfc3339, random_salt, shared_ids, Loaded, SharedId, State, StoredSpec, Superseded,
    TaskRecord, TaskStatus, FORMAT_VERSION, OLDEST_FORMAT_VERSION,
};
pub use replay::{fold, Entry, FoldError, Folded, Outcome, NO_ID_REASON, STOPPED_REASON};
